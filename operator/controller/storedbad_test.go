package controller_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/multinic/multinic/operator/api/v1alpha1"
)

const crdName = "openstackconfigs.multinic.example.com"

// withoutDurationRules installs the CRD as it was before the duration
// bounds existed (pattern only) until the test ends, then puts the real one
// back and waits until the API server enforces it again.
func withoutDurationRules(t *testing.T, probe func() error) {
	t.Helper()
	ctx := context.Background()
	crd := &unstructured.Unstructured{}
	crd.SetGroupVersionKind(schema.GroupVersionKind{Group: "apiextensions.k8s.io", Version: "v1", Kind: "CustomResourceDefinition"})
	require.NoError(t, k8s.Get(ctx, client.ObjectKey{Name: crdName}, crd))
	original, found, err := unstructured.NestedFieldCopy(crd.Object, "spec")
	require.NoError(t, err)
	require.True(t, found)

	versions, _, _ := unstructured.NestedSlice(crd.Object, "spec", "versions")
	settingsPath := []string{"schema", "openAPIV3Schema", "properties", "spec", "properties", "settings", "properties"}
	settings, found, err := unstructured.NestedMap(versions[0].(map[string]any), settingsPath...)
	require.NoError(t, err)
	require.True(t, found)
	stripped := 0
	for _, prop := range settings {
		if p := prop.(map[string]any); p["x-kubernetes-validations"] != nil {
			delete(p, "x-kubernetes-validations")
			stripped++
		}
	}
	require.Positive(t, stripped)
	require.NoError(t, unstructured.SetNestedMap(versions[0].(map[string]any), settings, settingsPath...))
	require.NoError(t, unstructured.SetNestedSlice(crd.Object, versions, "spec", "versions"))
	require.NoError(t, k8s.Update(ctx, crd))

	t.Cleanup(func() {
		var latest unstructured.Unstructured
		latest.SetGroupVersionKind(crd.GroupVersionKind())
		require.NoError(t, k8s.Get(ctx, client.ObjectKey{Name: crdName}, &latest))
		require.NoError(t, unstructured.SetNestedField(latest.Object, original, "spec"))
		require.NoError(t, k8s.Update(ctx, &latest))
		require.Eventually(t, func() bool { return apierrors.IsInvalid(probe()) }, 30*time.Second, 100*time.Millisecond,
			"the restored CRD refuses bad durations again")
	})
}

// SPEC §8 / issue 10.2: a duration stored before the schema bounded it
// (9999999999h matches the old pattern but overflows Go's parser) must not
// fail the informer's list, which would stop every CR. It is reported on
// its own CR as a ConfigError naming the field, and a good CR next to it
// syncs.
func TestStoredBadDurationDoesNotStallOtherConfigs(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	bad := f.config("stored-bad")
	bad.Spec.Settings.PollFastInterval = "9999999999h"
	dryRun := func() error {
		probe := f.config("probe")
		probe.Spec.Settings.PollFastInterval = "9999999999h"
		return k8s.Create(ctx, probe, client.DryRunAll)
	}
	require.True(t, apierrors.IsInvalid(dryRun()), "the schema refuses it today")

	withoutDurationRules(t, dryRun)
	// Unstructured, so that storing it does not depend on decoding it.
	raw, err := runtime.DefaultUnstructuredConverter.ToUnstructured(bad)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		u := &unstructured.Unstructured{Object: runtime.DeepCopyJSON(raw)}
		u.SetGroupVersionKind(v1alpha1.GroupVersion.WithKind("OpenstackConfig"))
		return k8s.Create(ctx, u) == nil
	}, 30*time.Second, 100*time.Millisecond, "the CRD without the rules stores the value")
	cleanupConfig(t, client.ObjectKeyFromObject(bad))

	f.runManager(logr.Logger{})

	good := f.create(f.config("good-neighbour"))
	require.Eventually(t, func() bool {
		c := f.condition(good.Name, v1alpha1.ConditionReady)
		return c != nil && c.Status == "True"
	}, 30*time.Second, 50*time.Millisecond, "a good CR syncs next to the bad one")
	require.Eventually(t, func() bool { return f.condition(bad.Name, v1alpha1.ConditionReady) != nil }, 30*time.Second, 50*time.Millisecond)
	cond := f.condition(bad.Name, v1alpha1.ConditionReady)
	assert.Equal(t, "ConfigError", cond.Reason)
	assert.Contains(t, cond.Message, `spec.settings.pollFastInterval "9999999999h" is not a Go duration`)
	assert.False(t, strings.Contains(cond.Message, "\n"))
}
