package testapi_test

import (
	"context"
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/multinic/multinic/internal/testenv"
	"github.com/multinic/multinic/viola/testapi/api/v1alpha1"
)

// The node agent's status fields (SPEC §7). The agent writes status, so our
// CRD copy must hold exactly these, none required.
var (
	agentStatusFields          = []string{"state", "observedGeneration", "observedSpecHash", "lastProcessed", "lastJobName", "lastUpdated", "lastInterfaceCheck", "nodeReady", "conditions", "interfaceStatuses"}
	agentConditionFields       = []string{"type", "status", "reason", "message", "lastTransitionTime"}
	agentInterfaceStatusFields = []string{"name", "interfaceIndex", "id", "macAddress", "address", "cidr", "mtu", "status", "reason", "actualState", "lastUpdated", "lastChecked", "lastConfigured", "message"}
	agentInterfaceFields       = []string{"id", "name", "portId", "macAddress", "address", "cidr", "mtu"}
)

// agentObjects reads testdata/agent: objects shaped as the node agent reads
// and writes them.
func agentObjects(t *testing.T) map[string]*unstructured.Unstructured {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "agent", "*.yaml"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	objects := make(map[string]*unstructured.Unstructured, len(files))
	for _, file := range files {
		data, err := os.ReadFile(file)
		require.NoError(t, err)
		obj := &unstructured.Unstructured{}
		require.NoError(t, yaml.Unmarshal(data, &obj.Object), file)
		objects[filepath.Base(file)] = obj
	}
	return objects
}

// TestAgentObjectsRoundTrip is the contract with the node agent's CRD, on a
// real API server with our copy of it: the agent's sample objects (names, no
// ids, more than ten interfaces, interfaces without mtu) and a status carrying
// every field the agent writes are accepted and read back unchanged. Pruning
// of an unknown field or a refused value fails it.
func TestAgentObjectsRoundTrip(t *testing.T) {
	ctx := context.Background()
	for file, want := range agentObjects(t) {
		t.Run(file, func(t *testing.T) {
			obj := want.DeepCopy()
			status, hasStatus := obj.Object["status"]
			delete(obj.Object, "status")
			require.NoError(t, clusterA.client.Create(ctx, obj), "the agent's CRD accepts this object, so ours must")
			deleteAtEnd(t, clusterA, obj)
			if hasStatus {
				obj.Object["status"] = status
				require.NoError(t, clusterA.client.Status().Update(ctx, obj), "the agent writes this status, so our CRD must accept it")
			}

			got := &unstructured.Unstructured{}
			got.SetGroupVersionKind(v1alpha1.GroupVersion.WithKind(v1alpha1.Kind))
			require.NoError(t, clusterA.client.Get(ctx, client.ObjectKeyFromObject(obj), got))
			for _, field := range []string{"spec", "status"} {
				assert.JSONEq(t, jsonOf(t, want.Object[field]), jsonOf(t, got.Object[field]), "%s reads back unchanged", field)
			}
			assert.Equal(t, want.GetLabels(), got.GetLabels())
		})
	}
}

// TestGoTypesCarryEveryAgentField: the Go types the test API and the demo
// use drop nothing the agent writes, so reading and writing back an agent's
// object through them changes nothing.
func TestGoTypesCarryEveryAgentField(t *testing.T) {
	for file, obj := range agentObjects(t) {
		data := jsonOf(t, obj.Object)
		var typed v1alpha1.MultiNicNodeConfig
		require.NoError(t, json.Unmarshal([]byte(data), &typed), file)
		again, err := json.Marshal(&typed)
		require.NoError(t, err)
		var roundTripped map[string]any
		require.NoError(t, json.Unmarshal(again, &roundTripped))
		for _, field := range []string{"spec", "status"} {
			if _, ok := obj.Object[field]; ok {
				assert.JSONEq(t, jsonOf(t, obj.Object[field]), jsonOf(t, roundTripped[field]), "%s: %s", file, field)
			}
		}
	}
}

// TestAgentTestdataCoversEveryStatusField keeps the testdata honest: the
// round trip above only proves what the files carry, so they must carry
// every status field the agent writes.
func TestAgentTestdataCoversEveryStatusField(t *testing.T) {
	seen := map[string]map[string]bool{"status": {}, "conditions": {}, "interfaceStatuses": {}, "interfaces": {}}
	for _, obj := range agentObjects(t) {
		if status, ok := obj.Object["status"].(map[string]any); ok {
			addKeys(seen["status"], status)
			for _, list := range []string{"conditions", "interfaceStatuses"} {
				items, _ := status[list].([]any)
				for _, item := range items {
					addKeys(seen[list], item.(map[string]any))
				}
			}
		}
		items, _, err := unstructured.NestedSlice(obj.Object, "spec", "interfaces")
		require.NoError(t, err)
		for _, item := range items {
			addKeys(seen["interfaces"], item.(map[string]any))
		}
	}
	assert.ElementsMatch(t, agentStatusFields, slices.Collect(maps.Keys(seen["status"])))
	assert.ElementsMatch(t, agentConditionFields[:4], slices.Collect(maps.Keys(seen["conditions"])), "no condition has lastTransitionTime: the agent writes some without")
	assert.ElementsMatch(t, agentInterfaceStatusFields, slices.Collect(maps.Keys(seen["interfaceStatuses"])))
	assert.ElementsMatch(t, agentInterfaceFields, slices.Collect(maps.Keys(seen["interfaces"])))
}

func addKeys(set map[string]bool, m map[string]any) {
	for k := range m {
		set[k] = true
	}
}

// TestCRDNeverNarrowsTheAgent walks the generated CRD: whatever the markers
// say, it must hold the agent's names and fields, no required status field
// anywhere, no keyed (map/set) list anywhere, and no bound the agent lacks.
func TestCRDNeverNarrowsTheAgent(t *testing.T) {
	crd := loadCRD(t)
	assert.Equal(t, "multinic.io", crd.Spec.Group)
	assert.Equal(t, apiextensionsv1.CustomResourceDefinitionNames{
		Plural: "multinicnodeconfigs", Singular: "multinicnodeconfig", Kind: "MultiNicNodeConfig",
		ListKind: "MultiNicNodeConfigList", ShortNames: []string{"mnnc"},
	}, crd.Spec.Names)
	assert.Equal(t, apiextensionsv1.NamespaceScoped, crd.Spec.Scope)
	require.Len(t, crd.Spec.Versions, 1)
	version := crd.Spec.Versions[0]
	assert.Equal(t, "v1alpha1", version.Name)
	require.NotNil(t, version.Subresources)
	assert.NotNil(t, version.Subresources.Status, "the agent writes status through the subresource")
	var columns []string
	for _, c := range version.AdditionalPrinterColumns {
		columns = append(columns, c.Name+"="+c.JSONPath)
	}
	assert.Equal(t, []string{"Node=.spec.nodeName", "State=.status.state", "Age=.metadata.creationTimestamp"}, columns)

	root := version.Schema.OpenAPIV3Schema
	assert.Empty(t, root.Required, "the agent's schema requires no top-level field")
	walkSchema(root, "", func(path string, s *apiextensionsv1.JSONSchemaProps) {
		if s.XListType != nil {
			assert.Equal(t, "atomic", *s.XListType, "%s: a keyed list makes the API server refuse the agent's items", path)
		}
		assert.Empty(t, s.XListMapKeys, path)
		assert.Empty(t, s.XValidations, "%s: no rule the agent's schema lacks", path)
		if strings.HasPrefix(path, ".status") {
			assert.Empty(t, s.Required, "%s: the agent writes status with any field left out", path)
			assert.Nil(t, s.MaxLength, path)
			assert.Nil(t, s.MinLength, path)
			assert.Empty(t, s.Pattern, path)
			assert.Nil(t, s.Minimum, path)
			assert.Nil(t, s.Maximum, path)
			if path != ".status.state" {
				assert.Empty(t, s.Enum, path)
			}
		}
	})

	spec := root.Properties["spec"]
	assert.ElementsMatch(t, []string{"nodeName", "interfaces"}, spec.Required)
	assert.ElementsMatch(t, []string{"nodeName", "instanceId", "interfaces"}, slices.Collect(maps.Keys(spec.Properties)))
	assert.Nil(t, spec.Properties["nodeName"].MaxLength)
	assert.Empty(t, spec.Properties["nodeName"].Pattern)
	interfaces := spec.Properties["interfaces"]
	require.NotNil(t, interfaces.MinItems)
	assert.Equal(t, int64(1), *interfaces.MinItems)
	assert.Nil(t, interfaces.MaxItems, "the agent's schema has no upper bound on interfaces")
	item := interfaces.Items.Schema
	assert.Equal(t, []string{"macAddress"}, item.Required)
	assert.ElementsMatch(t, agentInterfaceFields, slices.Collect(maps.Keys(item.Properties)))
	assert.Equal(t, `^([0-9A-Fa-f]{2}[:]){5}([0-9A-Fa-f]{2})$`, item.Properties["macAddress"].Pattern)
	assert.Equal(t, `^multinic[0-9]+$`, item.Properties["name"].Pattern)
	assert.Equal(t, 0.0, *item.Properties["id"].Minimum)
	assert.Nil(t, item.Properties["id"].Maximum)
	assert.Equal(t, 68.0, *item.Properties["mtu"].Minimum)
	assert.Equal(t, 9000.0, *item.Properties["mtu"].Maximum)

	status := root.Properties["status"]
	assert.ElementsMatch(t, agentStatusFields, slices.Collect(maps.Keys(status.Properties)))
	assert.ElementsMatch(t, agentConditionFields, slices.Collect(maps.Keys(status.Properties["conditions"].Items.Schema.Properties)))
	assert.ElementsMatch(t, agentInterfaceStatusFields, slices.Collect(maps.Keys(status.Properties["interfaceStatuses"].Items.Schema.Properties)))
	assert.Equal(t, []string{`"Pending"`, `"InProgress"`, `"Configured"`, `"Failed"`}, enumValues(status.Properties["state"]))
	assert.Equal(t, "boolean", status.Properties["nodeReady"].Type)
}

func walkSchema(s *apiextensionsv1.JSONSchemaProps, path string, visit func(string, *apiextensionsv1.JSONSchemaProps)) {
	visit(path, s)
	for name, prop := range s.Properties {
		walkSchema(&prop, path+"."+name, visit)
	}
	if s.Items != nil && s.Items.Schema != nil {
		walkSchema(s.Items.Schema, path+"[]", visit)
	}
}

func enumValues(s apiextensionsv1.JSONSchemaProps) []string {
	var out []string
	for _, v := range s.Enum {
		out = append(out, string(v.Raw))
	}
	return out
}

func loadCRD(t *testing.T) *apiextensionsv1.CustomResourceDefinition {
	t.Helper()
	root, err := testenv.RepoRoot()
	require.NoError(t, err)
	data, err := os.ReadFile(filepath.Join(root, "viola", "testapi", "config", "crd", crdFile))
	require.NoError(t, err)
	crd := &apiextensionsv1.CustomResourceDefinition{}
	require.NoError(t, yaml.UnmarshalStrict(data, crd))
	return crd
}

func jsonOf(t *testing.T, v any) string {
	t.Helper()
	data, err := json.Marshal(v)
	require.NoError(t, err)
	return string(data)
}
