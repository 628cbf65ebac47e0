package testapi_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/multinic/multinic/viola"
	"github.com/multinic/multinic/viola/testapi"
	"github.com/multinic/multinic/viola/testapi/api/v1alpha1"
)

func TestPostCreatesObjects(t *testing.T) {
	h := newHandler(t, testapi.Options{Router: routerTo(t, clusterA)})
	provider := "openstack:///" + uniqueName(t)
	prefix := uniqueName(t)
	plain := nodeConfig(prefix+"-worker-1", iface(0, "fa:16:3e:aa:bb:cc", 1450), iface(3, "FA:16:3E:AA:BB:DD", 9000))
	dotted := nodeConfig(prefix+".example.com", iface(1, "fa:16:3e:00:00:02", 68))
	dotted.InstanceID = ""

	status, resp := postConfigs(t, h, provider, plain, dotted)

	require.Equal(t, http.StatusOK, status, resp.Error)
	assert.Equal(t, testapi.Response{
		Applied: 2,
		Output: "multinicnodeconfig.multinic.io/" + prefix + "-worker-1 serverside-applied\n" +
			"multinicnodeconfig.multinic.io/" + prefix + ".example.com serverside-applied\n",
		Cluster: "cluster-a",
	}, resp)

	got := clusterA.getObject(t, prefix+"-worker-1")
	assert.Equal(t, map[string]string{
		testapi.LabelNodeName:   prefix + "-worker-1",
		testapi.LabelInstanceID: "vm-" + prefix + "-worker-1",
		testapi.LabelProviderID: "openstack----" + prefix,
	}, got.Labels)
	assert.Equal(t, v1alpha1.MultiNicNodeConfigSpec{
		NodeName:   prefix + "-worker-1",
		InstanceID: "vm-" + prefix + "-worker-1",
		Interfaces: []v1alpha1.Interface{
			{ID: ptr.To[int64](0), Name: "multinic0", PortID: "port-fa:16:3e:aa:bb:cc", MACAddress: "fa:16:3e:aa:bb:cc", Address: "10.0.0.10", CIDR: "10.0.0.0/24", MTU: 1450},
			{ID: ptr.To[int64](3), Name: "multinic3", PortID: "port-FA:16:3E:AA:BB:DD", MACAddress: "FA:16:3E:AA:BB:DD", Address: "10.0.0.10", CIDR: "10.0.0.0/24", MTU: 9000},
		},
	}, got.Spec, "the stored spec carries every field of the payload, id 0 and names included")

	gotDotted := clusterA.getObject(t, prefix+".example.com")
	assert.Equal(t, prefix+".example.com", gotDotted.Spec.NodeName, "object name = spec.nodeName")
	assert.Equal(t, prefix+".example.com", gotDotted.Labels[testapi.LabelNodeName])
	assert.NotContains(t, gotDotted.Labels, testapi.LabelInstanceID, "an empty instance ID gets no label")
	assert.Equal(t, "multinic1", gotDotted.Spec.Interfaces[0].Name)
	assert.Equal(t, int32(68), gotDotted.Spec.Interfaces[0].MTU)

	assert.Len(t, clusterA.objectsOf(t, provider), 2, "the provider label selects exactly this POST's objects")
}

// TestPostRefusesNodeNamesTheAgentCannotFind: the agent looks its object
// up by its Kubernetes node name, so a name that is not one is refused,
// naming the node, rather than stored under a mangled name.
func TestPostRefusesNodeNamesTheAgentCannotFind(t *testing.T) {
	h := newHandler(t, testapi.Options{Router: routerTo(t, clusterA)})
	provider := uniqueName(t)
	for _, node := range []string{"Worker-1", " worker-1 ", "worker_1", "a..b"} {
		t.Run(node, func(t *testing.T) {
			status, resp := postConfigs(t, h, provider, nodeConfig(node))
			assert.Equal(t, http.StatusBadRequest, status)
			assert.Contains(t, resp.Error, fmt.Sprintf("configs[0]: node config %q: nodeName: %q is not a lower-case RFC 1123 subdomain", node, node))
		})
	}
	assert.Empty(t, clusterA.objectsOf(t, provider), "nothing is applied under any name")
}

func TestRePostIsIdempotent(t *testing.T) {
	h := newHandler(t, testapi.Options{Router: routerTo(t, clusterA)})
	config := nodeConfig(uniqueName(t))
	status, resp := postConfigs(t, h, "biz", config)
	require.Equal(t, http.StatusOK, status, resp.Error)
	first := clusterA.getObject(t, config.NodeName)

	status, resp = postConfigs(t, h, "biz", config)

	require.Equal(t, http.StatusOK, status, resp.Error)
	again := clusterA.getObject(t, config.NodeName)
	assert.Equal(t, first.ResourceVersion, again.ResourceVersion, "an unchanged apply must not write")
	assert.Equal(t, int64(1), again.Generation)
	assert.Equal(t, first.Spec, again.Spec)
}

func TestChangedPostUpdatesAndKeepsOthersFields(t *testing.T) {
	ctx := context.Background()
	h := newHandler(t, testapi.Options{Router: routerTo(t, clusterA)})
	name := uniqueName(t)
	before := nodeConfig(name, iface(0, "fa:16:3e:00:00:01", 1450), iface(1, "fa:16:3e:00:00:02", 1450))
	status, resp := postConfigs(t, h, "biz", before)
	require.Equal(t, http.StatusOK, status, resp.Error)

	// The node agent's status and a label someone added by hand are not
	// Viola's fields, so a new apply must leave them alone.
	obj := clusterA.getObject(t, name)
	obj.Status = v1alpha1.MultiNicNodeConfigStatus{State: v1alpha1.StateConfigured, ObservedGeneration: 1, LastJobName: "agent-job-1"}
	require.NoError(t, clusterA.client.Status().Update(ctx, obj))
	obj = clusterA.getObject(t, name)
	obj.Labels["team"] = "network"
	require.NoError(t, clusterA.client.Update(ctx, obj, client.FieldOwner("kubectl-edit")))

	after := nodeConfig(name, iface(1, "fa:16:3e:00:00:02", 9000))
	after.InstanceID = "vm-replaced"
	status, resp = postConfigs(t, h, "biz", after)

	require.Equal(t, http.StatusOK, status, resp.Error)
	got := clusterA.getObject(t, name)
	assert.Equal(t, []v1alpha1.Interface{
		{ID: ptr.To[int64](1), Name: "multinic1", PortID: "port-fa:16:3e:00:00:02", MACAddress: "fa:16:3e:00:00:02", Address: "10.0.0.10", CIDR: "10.0.0.0/24", MTU: 9000},
	}, got.Spec.Interfaces, "interface 0 is gone from the payload: the apply replaces the atomic list")
	assert.Equal(t, "vm-replaced", got.Spec.InstanceID)
	assert.Equal(t, "vm-replaced", got.Labels[testapi.LabelInstanceID])
	assert.Equal(t, "network", got.Labels["team"])
	assert.Equal(t, int64(2), got.Generation)
	assert.Equal(t, v1alpha1.StateConfigured, got.Status.State, "status is the agent's")
	assert.Equal(t, "agent-job-1", got.Status.LastJobName)
}

func TestRePostTakesBackHandEdits(t *testing.T) {
	ctx := context.Background()
	h := newHandler(t, testapi.Options{Router: routerTo(t, clusterA)})
	config := nodeConfig(uniqueName(t), iface(0, "fa:16:3e:00:00:01", 1450))
	status, resp := postConfigs(t, h, "biz", config)
	require.Equal(t, http.StatusOK, status, resp.Error)

	obj := clusterA.getObject(t, config.NodeName)
	obj.Spec.Interfaces[0].MTU = 1200
	require.NoError(t, clusterA.client.Update(ctx, obj, client.FieldOwner("kubectl-edit")))
	require.Equal(t, int32(1200), clusterA.getObject(t, config.NodeName).Spec.Interfaces[0].MTU)

	status, resp = postConfigs(t, h, "biz", config)

	require.Equal(t, http.StatusOK, status, "the payload wins over a hand edit instead of a conflict: %s", resp.Error)
	assert.Equal(t, int32(1450), clusterA.getObject(t, config.NodeName).Spec.Interfaces[0].MTU)
}

func TestPostRejectsBadRequests(t *testing.T) {
	h := newHandler(t, testapi.Options{Router: routerTo(t, clusterA)})
	const iface0 = `{"id":0,"name":"multinic0","macAddress":"fa:16:3e:aa:bb:cc","mtu":1450}`
	valid := `{"nodeName":"n","interfaces":[` + iface0 + `]}`
	for _, tc := range []struct {
		name       string
		providerID string
		body       string
		wantStatus int
		wantError  string
	}{
		{"missing provider header", "", "[" + valid + "]", 400, "missing or empty x-provider-id header"},
		{"not JSON", "p", "nodes please", 400, "body must be a JSON array of node configs"},
		{"object instead of array", "p", valid, 400, "body must be a JSON array of node configs"},
		{"truncated array", "p", "[" + valid, 400, "body is not a valid JSON array"},
		{"trailing garbage", "p", "[" + valid + "] x", 400, "body is not a valid JSON array"},
		{"empty array", "p", "[]", 400, "body holds no node configs"},
		{"element not an object", "p", "[" + valid + ", null]", 400, "configs[1] must be a JSON object, got null"},
		{"wrong type", "p", `[{"nodeName":"n","interfaces":[{"id":"zero"}]}]`, 400, "configs[0]: json: cannot unmarshal string"},
		{"missing node name", "p", `[{"interfaces":[` + iface0 + `]}]`, 400, "configs[0]: node config \"\": nodeName is required"},
		{"no interfaces", "p", `[{"nodeName":"n","interfaces":[]}]`, 400, "configs[0]: node config \"n\": interfaces must hold at least one interface"},
		{"bad MAC", "p", `[` + valid + `,{"nodeName":"m","interfaces":[{"id":0,"name":"multinic0","macAddress":"fa:16:3e","mtu":1450}]}]`, 400, `configs[1]: node config "m": interfaces[0].macAddress "fa:16:3e" is not six colon-separated hex pairs`},
		{"MTU out of range", "p", `[{"nodeName":"n","interfaces":[{"id":0,"name":"multinic0","macAddress":"fa:16:3e:aa:bb:cc","mtu":10000}]}]`, 400, "interfaces[0].mtu 10000 is outside 68-9000"},
		{"missing MTU", "p", `[{"nodeName":"n","interfaces":[{"id":0,"name":"multinic0","macAddress":"fa:16:3e:aa:bb:cc"}]}]`, 400, `node config "n": interfaces[0].mtu is required (68-9000): the node agent skips an interface without one`},
		{"missing interface name", "p", `[{"nodeName":"n","interfaces":[{"id":4,"macAddress":"fa:16:3e:aa:bb:cc","mtu":1450}]}]`, 400, `node config "n": interfaces[0].name is required ("multinic4" for id 4)`},
		{"wrong interface name", "p", `[{"nodeName":"n","interfaces":[{"id":2,"name":"eth2","macAddress":"fa:16:3e:aa:bb:cc","mtu":1450}]}]`, 400, `interfaces[0].name "eth2" must be "multinic2"`},
		{"duplicate interface id", "p", `[{"nodeName":"n","interfaces":[` + iface0 + `,{"id":0,"name":"multinic0","macAddress":"fa:16:3e:aa:bb:cd","mtu":1450}]}]`, 400, "interfaces[1].id 0 is used twice"},
		{"upper-case node name", "p", `[{"nodeName":"Node-A","interfaces":[` + iface0 + `]}]`, 400, `configs[0]: node config "Node-A": nodeName: "Node-A" is not a lower-case RFC 1123 subdomain`},
		{"one node twice", "p", `[` + valid + `,` + valid + `]`, 400, `configs[1]: node "n" is also configs[0]; send one config per node`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, resp := post(t, h, tc.providerID, []byte(tc.body))
			assert.Equal(t, tc.wantStatus, status)
			assert.Contains(t, resp.Error, tc.wantError)
			assert.Zero(t, resp.Applied)
		})
	}
	assert.Empty(t, clusterA.objectsOf(t, "p"), "a rejected payload applies nothing")
}

func TestPostReportsEveryInvalidConfig(t *testing.T) {
	h := newHandler(t, testapi.Options{Router: routerTo(t, clusterA)})
	good := nodeConfig(uniqueName(t))
	badMAC := nodeConfig(uniqueName(t)+"-mac", iface(0, "nope", 1450))
	badName := nodeConfig(uniqueName(t)+"-name", viola.Interface{ID: 1, Name: "multinic0", MACAddress: "fa:16:3e:00:00:09", MTU: 1450})

	status, resp := postConfigs(t, h, "biz", good, badMAC, badName)

	require.Equal(t, http.StatusBadRequest, status)
	assert.Contains(t, resp.Error, `configs[1]: node config "`+badMAC.NodeName+`": interfaces[0].macAddress "nope"`)
	assert.Contains(t, resp.Error, `configs[2]: node config "`+badName.NodeName+`": interfaces[0].name "multinic0" must be "multinic1"`)
	assert.NotContains(t, resp.Error, "\n", "the message fits one log line")
	var list v1alpha1.MultiNicNodeConfigList
	require.NoError(t, clusterA.client.List(context.Background(), &list, client.InNamespace(testapi.DefaultNamespace),
		client.MatchingLabels{testapi.LabelNodeName: good.NodeName}))
	assert.Empty(t, list.Items, "the valid config is not applied when another one is bad")
}

func TestProtocolErrors(t *testing.T) {
	h := newHandler(t, testapi.Options{Router: routerTo(t, clusterA), MaxBodyBytes: 64})
	body := `[{"nodeName":"n","interfaces":[{"id":0,"name":"multinic0","macAddress":"fa:16:3e:aa:bb:cc","mtu":1450}]}]`

	t.Run("wrong method", func(t *testing.T) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, viola.NodeConfigsPath, nil))
		assert.Equal(t, http.StatusMethodNotAllowed, rec.Code)
		assert.Equal(t, http.MethodPost, rec.Header().Get("Allow"))
		assert.Contains(t, rec.Body.String(), "method GET not allowed: use POST")
	})
	t.Run("wrong content type", func(t *testing.T) {
		req := httptest.NewRequest(http.MethodPost, viola.NodeConfigsPath, strings.NewReader(body))
		req.Header.Set(viola.ProviderIDHeader, "p")
		req.Header.Set("Content-Type", "text/plain")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		assert.Equal(t, http.StatusUnsupportedMediaType, rec.Code)
		assert.Contains(t, rec.Body.String(), `Content-Type must be application/json, got \"text/plain\"`)
	})
	t.Run("JSON with a charset is accepted up to the body limit", func(t *testing.T) {
		req := httptest.NewRequest(http.MethodPost, viola.NodeConfigsPath, strings.NewReader(body))
		req.Header.Set(viola.ProviderIDHeader, "p")
		req.Header.Set("Content-Type", "application/json; charset=utf-8")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		assert.Equal(t, http.StatusRequestEntityTooLarge, rec.Code, "the media type passed; the 64-byte limit did not")
		assert.Contains(t, rec.Body.String(), "body exceeds 64 bytes")
	})
	t.Run("healthz", func(t *testing.T) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, testapi.HealthzPath, nil))
		assert.Equal(t, http.StatusOK, rec.Code)
		assert.Equal(t, "ok\n", rec.Body.String())

		rec = httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, testapi.HealthzPath, nil))
		assert.Equal(t, http.StatusMethodNotAllowed, rec.Code)
	})
	t.Run("unknown path", func(t *testing.T) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/v1/k8s/multinic/other", bytes.NewReader(nil)))
		assert.Equal(t, http.StatusNotFound, rec.Code)
	})
}

func TestApplyFailureIntoMissingNamespaceIs500(t *testing.T) {
	h := newHandler(t, testapi.Options{Router: routerTo(t, clusterA), Namespace: "no-such-namespace"})
	first, second := nodeConfig(uniqueName(t)+"-1"), nodeConfig(uniqueName(t)+"-2")

	status, resp := postConfigs(t, h, "biz", first, second)

	require.Equal(t, http.StatusInternalServerError, status)
	assert.Contains(t, resp.Error, `apply MultiNicNodeConfig no-such-namespace/`+first.NodeName+` (node "`+first.NodeName+`") to cluster "cluster-a": namespaces "no-such-namespace" not found`)
	assert.Contains(t, resp.Error, "0 of 2 applied before it, 1 not attempted")
	assert.Equal(t, "no-such-namespace/"+first.NodeName, resp.Failed)
	assert.Equal(t, []string{"no-such-namespace/" + second.NodeName}, resp.NotAttempted)
	assert.Zero(t, resp.Applied)
}

func TestNewHandlerChecksOptions(t *testing.T) {
	_, err := testapi.NewHandler(testapi.Options{})
	assert.ErrorContains(t, err, "Options.Router is required")
	_, err = testapi.NewHandler(testapi.Options{Router: routerTo(t, clusterA), MaxBodyBytes: -1})
	assert.ErrorContains(t, err, "Options.MaxBodyBytes must not be negative")
}

// exists reports whether c holds the object name.
func exists(t *testing.T, c *testCluster, name string) bool {
	t.Helper()
	err := c.client.Get(context.Background(), client.ObjectKey{Namespace: testapi.DefaultNamespace, Name: name}, &v1alpha1.MultiNicNodeConfig{})
	if err == nil {
		return true
	}
	require.NoError(t, client.IgnoreNotFound(err), "%s: get %s", c.name, name)
	return false
}
