package controller_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

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
	t.Cleanup(func() {
		var latest v1alpha1.OpenstackConfig
		if k8s.Get(ctx, client.ObjectKeyFromObject(bad), &latest) == nil {
			latest.Finalizers = nil
			_ = k8s.Update(ctx, &latest)
			_ = k8s.Delete(ctx, &latest)
		}
	})

	mgr, err := ctrl.NewManager(restConfig, ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Controller:             config.Controller{SkipNameValidation: ptr.To(true)},
	})
	require.NoError(t, err)
	f.reconciler.Client = mgr.GetClient()
	f.reconciler.APIReader = mgr.GetAPIReader()
	require.NoError(t, f.reconciler.SetupWithManager(mgr))
	mctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- mgr.Start(mctx) }()
	t.Cleanup(func() { cancel(); require.NoError(t, <-done) })

	good := f.create(f.config("good-neighbour"))
	ready := func(oc *v1alpha1.OpenstackConfig) *v1alpha1.OpenstackConfig {
		var got v1alpha1.OpenstackConfig
		if k8s.Get(ctx, client.ObjectKeyFromObject(oc), &got) != nil {
			return nil
		}
		if meta.FindStatusCondition(got.Status.Conditions, v1alpha1.ConditionReady) == nil {
			return nil
		}
		return &got
	}
	require.Eventually(t, func() bool {
		got := ready(good)
		return got != nil && meta.IsStatusConditionTrue(got.Status.Conditions, v1alpha1.ConditionReady)
	}, 30*time.Second, 50*time.Millisecond, "a good CR syncs next to the bad one")
	require.Eventually(t, func() bool { return ready(bad) != nil }, 30*time.Second, 50*time.Millisecond)
	cond := meta.FindStatusCondition(ready(bad).Status.Conditions, v1alpha1.ConditionReady)
	assert.Equal(t, "ConfigError", cond.Reason)
	assert.Contains(t, cond.Message, `spec.settings.pollFastInterval "9999999999h" is not a Go duration`)
	assert.False(t, strings.Contains(cond.Message, "\n"))
}
