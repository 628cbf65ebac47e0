package testapi_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/multinic/multinic/viola"
	"github.com/multinic/multinic/viola/testapi"
	"github.com/multinic/multinic/viola/testapi/api/v1alpha1"
)

// newHandler serves into router, logging to the test's output.
func newHandler(t *testing.T, opts testapi.Options) http.Handler {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(t.Output(), nil))
	}
	h, err := testapi.NewHandler(opts)
	require.NoError(t, err)
	return h
}

// routerTo sends every provider ID to c.
func routerTo(t *testing.T, c *testCluster) testapi.Router {
	t.Helper()
	router, err := testapi.NewRouter(testapi.Routes{Default: c.clusterConfig()})
	require.NoError(t, err)
	return router
}

// post sends body as the operator would and decodes the JSON answer.
func post(t *testing.T, h http.Handler, providerID string, body []byte) (int, testapi.Response) {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, viola.NodeConfigsPath, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if providerID != "" {
		req.Header.Set(viola.ProviderIDHeader, providerID)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	require.Equal(t, "application/json", rec.Header().Get("Content-Type"), "body: %s", rec.Body)
	var resp testapi.Response
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &resp), "body: %s", rec.Body)
	return rec.Code, resp
}

func postConfigs(t *testing.T, h http.Handler, providerID string, configs ...viola.NodeConfig) (int, testapi.Response) {
	t.Helper()
	body, err := json.Marshal(configs)
	require.NoError(t, err)
	return post(t, h, providerID, body)
}

var nonNameChars = regexp.MustCompile(`[^a-z0-9-]+`)

// uniqueName is a node-name prefix per test, so tests sharing one API
// server never see each other's objects. The test's objects are deleted
// when it ends, so it also passes when run again (-count=2).
func uniqueName(t *testing.T) string {
	t.Helper()
	prefix := strings.Trim(nonNameChars.ReplaceAllString(strings.ToLower(t.Name()), "-"), "-")
	t.Cleanup(func() {
		for _, c := range []*testCluster{clusterA, clusterB} {
			var list v1alpha1.MultiNicNodeConfigList
			require.NoError(t, c.client.List(context.Background(), &list, client.InNamespace(testapi.DefaultNamespace)))
			for i := range list.Items {
				if strings.HasPrefix(list.Items[i].Name, prefix) {
					require.NoError(t, client.IgnoreNotFound(c.client.Delete(context.Background(), &list.Items[i])))
				}
			}
		}
	})
	return prefix
}

// deleteAtEnd removes obj from c when the test ends.
func deleteAtEnd(t *testing.T, c *testCluster, obj client.Object) {
	t.Helper()
	t.Cleanup(func() {
		require.NoError(t, client.IgnoreNotFound(c.client.Delete(context.Background(), obj)), "%s: delete %s", c.name, obj.GetName())
	})
}

func nodeConfig(node string, ifaces ...viola.Interface) viola.NodeConfig {
	if len(ifaces) == 0 {
		ifaces = []viola.Interface{iface(0, "fa:16:3e:00:00:01", 1450)}
	}
	return viola.NodeConfig{NodeName: node, InstanceID: "vm-" + node, Interfaces: ifaces}
}

func iface(id int, mac string, mtu int) viola.Interface {
	return viola.Interface{
		ID: id, Name: viola.InterfaceName(id), PortID: "port-" + mac, MACAddress: mac,
		Address: "10.0.0.10", CIDR: "10.0.0.0/24", MTU: mtu,
	}
}

// getObject reads a MultiNicNodeConfig from c, failing the test if absent.
func (c *testCluster) getObject(t *testing.T, name string) *v1alpha1.MultiNicNodeConfig {
	t.Helper()
	obj := &v1alpha1.MultiNicNodeConfig{}
	require.NoError(t, c.client.Get(context.Background(), client.ObjectKey{Namespace: testapi.DefaultNamespace, Name: name}, obj), "%s: get %s", c.name, name)
	return obj
}

// objectsOf lists the objects c holds for a provider ID.
func (c *testCluster) objectsOf(t *testing.T, providerID string) []v1alpha1.MultiNicNodeConfig {
	t.Helper()
	var list v1alpha1.MultiNicNodeConfigList
	require.NoError(t, c.client.List(context.Background(), &list, client.InNamespace(testapi.DefaultNamespace),
		client.MatchingLabels{testapi.LabelProviderID: testapi.LabelValue(providerID)}))
	return list.Items
}

// wait and poll bound require.Eventually, used only where the API server
// works asynchronously.
const (
	wait = 30 * time.Second
	poll = 100 * time.Millisecond
)

// splitYAML decodes a multi-document YAML stream, skipping documents that
// hold only comments.
func splitYAML(t *testing.T, docs string) []*unstructured.Unstructured {
	t.Helper()
	reader := utilyaml.NewYAMLReader(bufio.NewReader(strings.NewReader(docs)))
	var objects []*unstructured.Unstructured
	for {
		doc, err := reader.Read()
		if errors.Is(err, io.EOF) {
			return objects
		}
		require.NoError(t, err)
		obj := &unstructured.Unstructured{}
		require.NoError(t, yaml.Unmarshal(doc, &obj.Object))
		if len(obj.Object) > 0 {
			objects = append(objects, obj)
		}
	}
}
