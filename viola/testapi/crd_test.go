package testapi_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/multinic/multinic/viola/testapi"
	"github.com/multinic/multinic/viola/testapi/api/v1alpha1"
)

// rawObject is a MultiNicNodeConfig as plain JSON values, so a test can
// send what the Go types cannot express (a missing field, a wrong type).
func rawObject(name string, spec map[string]any) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": v1alpha1.GroupVersion.String(),
		"kind":       v1alpha1.Kind,
		"metadata":   map[string]any{"name": name, "namespace": testapi.DefaultNamespace},
		"spec":       spec,
	}}
}

func rawInterface(fields map[string]any) map[string]any {
	iface := map[string]any{"id": int64(0), "name": "multinic0", "macAddress": "fa:16:3e:00:00:01", "mtu": int64(1450)}
	for k, v := range fields {
		if v == nil {
			delete(iface, k)
		} else {
			iface[k] = v
		}
	}
	return iface
}

// TestCRDRejectsInvalidObjects checks the schema on the API server itself,
// for objects written by anything other than the test API. It refuses only
// what the node agent's CRD refuses (contract_test.go holds the other side).
func TestCRDRejectsInvalidObjects(t *testing.T) {
	ctx := context.Background()
	spec := func(ifaces ...any) map[string]any {
		return map[string]any{"nodeName": "n", "interfaces": ifaces}
	}
	valid := rawObject("crd-valid", spec(rawInterface(nil)))
	require.NoError(t, clusterA.client.Create(ctx, valid), "the baseline object must be accepted")
	deleteAtEnd(t, clusterA, valid)

	for _, tc := range []struct {
		name      string
		spec      map[string]any
		wantField string
	}{
		{"bad MAC", spec(rawInterface(map[string]any{"macAddress": "fa:16:3e:00:00"})), "spec.interfaces[0].macAddress"},
		{"missing MAC", spec(rawInterface(map[string]any{"macAddress": nil})), "spec.interfaces[0].macAddress: Required value"},
		{"MTU 10000", spec(rawInterface(map[string]any{"mtu": int64(10000)})), "spec.interfaces[0].mtu: Invalid value: 10000: spec.interfaces[0].mtu in body should be less than or equal to 9000"},
		{"MTU 67", spec(rawInterface(map[string]any{"mtu": int64(67)})), "spec.interfaces[0].mtu in body should be greater than or equal to 68"},
		{"negative id", spec(rawInterface(map[string]any{"id": int64(-1)})), "spec.interfaces[0].id in body should be greater than or equal to 0"},
		{"empty interfaces", map[string]any{"nodeName": "n", "interfaces": []any{}}, "spec.interfaces: Invalid value: 0: spec.interfaces in body should have at least 1 items"},
		{"missing interfaces", map[string]any{"nodeName": "n"}, "spec.interfaces: Required value"},
		{"missing nodeName", map[string]any{"interfaces": []any{rawInterface(nil)}}, "spec.nodeName: Required value"},
		{"name not multinicK", spec(rawInterface(map[string]any{"name": "eth0"})), `spec.interfaces[0].name: Invalid value: "eth0": spec.interfaces[0].name in body should match '^multinic[0-9]+$'`},
		{"MAC with dashes", spec(rawInterface(map[string]any{"macAddress": "fa-16-3e-00-00-01"})), "spec.interfaces[0].macAddress in body should match"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := clusterA.client.Create(ctx, rawObject("crd-invalid", tc.spec))
			require.Error(t, err)
			assert.True(t, apierrors.IsInvalid(err), "want 422 Invalid, got %v", err)
			assert.Contains(t, err.Error(), tc.wantField)
		})
	}
}

func TestCRDRejectsInvalidStatusState(t *testing.T) {
	ctx := context.Background()
	obj := rawObject("crd-status", map[string]any{"nodeName": "n", "interfaces": []any{rawInterface(nil)}})
	require.NoError(t, clusterA.client.Create(ctx, obj))
	deleteAtEnd(t, clusterA, obj)

	require.NoError(t, unstructured.SetNestedField(obj.Object, "Done", "status", "state"))
	err := clusterA.client.Status().Update(ctx, obj)

	require.Error(t, err)
	assert.True(t, apierrors.IsInvalid(err), "want 422 Invalid, got %v", err)
	assert.Contains(t, err.Error(), `status.state: Unsupported value: "Done"`)

	require.NoError(t, unstructured.SetNestedField(obj.Object, "Configured", "status", "state"))
	assert.NoError(t, clusterA.client.Status().Update(ctx, obj), "a state from the enum is accepted")
}
