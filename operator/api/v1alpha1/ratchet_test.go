package v1alpha1_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/multinic/multinic/operator/api/v1alpha1"
)

const crdName = "openstackconfigs.multinic.example.com"

// relaxDurations installs the CRD as an older operator shipped it, without
// the duration rules and pattern, and returns a function that puts today's
// CRD back and waits until the API server enforces it again.
func relaxDurations(t *testing.T) (restore func()) {
	t.Helper()
	ctx := context.Background()
	crd := &unstructured.Unstructured{}
	crd.SetGroupVersionKind(schema.GroupVersionKind{Group: "apiextensions.k8s.io", Version: "v1", Kind: "CustomResourceDefinition"})
	require.NoError(t, k8s.Get(ctx, client.ObjectKey{Name: crdName}, crd))
	original, _, err := unstructured.NestedFieldCopy(crd.Object, "spec")
	require.NoError(t, err)
	versions, _, _ := unstructured.NestedSlice(crd.Object, "spec", "versions")
	path := []string{"schema", "openAPIV3Schema", "properties", "spec", "properties", "settings", "properties"}
	settings, _, err := unstructured.NestedMap(versions[0].(map[string]any), path...)
	require.NoError(t, err)
	for _, prop := range settings {
		p := prop.(map[string]any)
		delete(p, "x-kubernetes-validations")
		delete(p, "pattern")
	}
	require.NoError(t, unstructured.SetNestedMap(versions[0].(map[string]any), settings, path...))
	require.NoError(t, unstructured.SetNestedSlice(crd.Object, versions, "spec", "versions"))
	require.NoError(t, k8s.Update(ctx, crd))

	refused := func() bool {
		probe := &v1alpha1.OpenstackConfig{ObjectMeta: metav1.ObjectMeta{Name: "probe", Namespace: "default"}, Spec: validSpec()}
		probe.Spec.Settings.PollSlowInterval = "1d"
		return apierrors.IsInvalid(k8s.Create(ctx, probe, client.DryRunAll))
	}
	require.Eventually(t, func() bool { return !refused() }, 30*time.Second, 50*time.Millisecond, "the relaxed CRD is in force")
	restored := false
	restore = func() {
		if restored {
			return
		}
		restored = true
		var latest unstructured.Unstructured
		latest.SetGroupVersionKind(crd.GroupVersionKind())
		require.NoError(t, k8s.Get(ctx, client.ObjectKey{Name: crdName}, &latest))
		require.NoError(t, unstructured.SetNestedField(latest.Object, original, "spec"))
		require.NoError(t, k8s.Update(ctx, &latest))
		require.Eventually(t, refused, 30*time.Second, 50*time.Millisecond, "today's CRD is in force again")
	}
	t.Cleanup(restore)
	return restore
}

// Issue 20.4: a value stored before today's rules (a duration that
// overflows Go's parser, or is no duration at all) made every write of its
// object fail, status and finalizers included, since the rule's
// duration() fails on it, and CRD ratcheting spares only rules that
// evaluate to false. The rules ratchet through oldSelf: an unchanged value
// passes, a new or changed one is checked in full.
func TestStoredDurationsRatchet(t *testing.T) {
	ctx := context.Background()
	stored := map[string]string{ // field → a value only an older CRD took
		"pollFastInterval": "9999999999h",
		"pollSlowInterval": "1d",
		"resyncInterval":   "1s",
		"passTimeout":      "1h",
	}
	restore := relaxDurations(t)
	var names []string
	for field, value := range stored {
		oc := &v1alpha1.OpenstackConfig{ObjectMeta: metav1.ObjectMeta{Name: "stored-" + fmt.Sprint(len(names)), Namespace: "default"}, Spec: validSpec()}
		raw, err := runtime.DefaultUnstructuredConverter.ToUnstructured(oc)
		require.NoError(t, err)
		require.NoError(t, unstructured.SetNestedField(raw, value, "spec", "settings", field))
		u := &unstructured.Unstructured{Object: raw}
		u.SetGroupVersionKind(v1alpha1.GroupVersion.WithKind("OpenstackConfig"))
		require.NoError(t, k8s.Create(ctx, u), field)
		t.Cleanup(func() { _ = k8s.Delete(ctx, u) })
		names = append(names, field)
	}
	restore()

	for i, field := range names {
		key := client.ObjectKey{Namespace: "default", Name: fmt.Sprint("stored-", i)}
		get := func() *v1alpha1.OpenstackConfig {
			var oc v1alpha1.OpenstackConfig
			require.NoError(t, k8s.Get(ctx, key, &oc))
			return &oc
		}

		oc := get()
		oc.Status.LastError = "spec.settings." + field + " is not a Go duration"
		assert.NoError(t, k8s.Status().Update(ctx, oc), "%s %q: a status write", field, stored[field])

		oc = get()
		orig := oc.DeepCopy()
		oc.Finalizers = append(oc.Finalizers, "multinic.example.com/inventory")
		assert.NoError(t, k8s.Patch(ctx, oc, client.MergeFrom(orig)), "%s: a finalizer", field)

		oc = get()
		oc.Spec.VMNames = append(oc.Spec.VMNames, "7c6e5f9a-0000-4000-8000-000000000002")
		assert.NoError(t, k8s.Update(ctx, oc), "%s: an edit of another field keeps the stored value", field)

		oc = get()
		raw, err := runtime.DefaultUnstructuredConverter.ToUnstructured(oc)
		require.NoError(t, err)
		require.NoError(t, unstructured.SetNestedField(raw, "99999999999h", "spec", "settings", field))
		u := &unstructured.Unstructured{Object: raw}
		u.SetGroupVersionKind(v1alpha1.GroupVersion.WithKind("OpenstackConfig"))
		err = k8s.Update(ctx, u)
		if assert.True(t, apierrors.IsInvalid(err), "%s: a changed value is checked in full, got %v", field, err) {
			assert.Contains(t, err.Error(), "spec.settings."+field)
		}

		oc = get()
		oc.Spec.Settings.PollFastInterval, oc.Spec.Settings.PollSlowInterval = "20s", "2m"
		oc.Spec.Settings.ResyncInterval, oc.Spec.Settings.PassTimeout = "30m", "1m"
		assert.NoError(t, k8s.Update(ctx, oc), "%s: fixing it is accepted", field)
		oc = get()
		oc.Finalizers = nil
		require.NoError(t, k8s.Update(ctx, oc))
	}

	for _, value := range []string{"9999999999h", "1d", "0s", "11m"} {
		oc := &v1alpha1.OpenstackConfig{ObjectMeta: metav1.ObjectMeta{Name: "new-bad", Namespace: "default"}, Spec: validSpec()}
		oc.Spec.Settings.PassTimeout = v1alpha1.Duration(value)
		err := k8s.Create(ctx, oc, client.DryRunAll)
		assert.True(t, apierrors.IsInvalid(err), "%q on create is refused, got %v", value, err)
	}
}
