package controller_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/multinic/multinic/internal/syncbuf"
	"github.com/multinic/multinic/operator/api/v1alpha1"
)

// relaxedDurations installs the CRD as an older operator shipped it, with
// neither the duration rules nor their pattern, and returns the function
// that puts today's CRD back and waits until it is enforced again.
func relaxedDurations(t *testing.T, f *fixture) (restore func()) {
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
		probe := f.config("probe")
		probe.Spec.Settings.PollSlowInterval = "1d"
		return apierrors.IsInvalid(k8s.Create(ctx, probe, client.DryRunAll))
	}
	require.Eventually(t, func() bool { return !refused() }, 30*time.Second, 50*time.Millisecond, "the relaxed CRD is in force")
	done := false
	restore = func() {
		if done {
			return
		}
		done = true
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

// Issue 20.4: a CR holding a duration an older CRD stored ("9999999999h",
// or "1d", which is none) never got a condition under today's CRD: every
// status write (and the finalizer's patch) was refused by the rule, and the
// operator logged "Reconciler error" forever while other CRs were fine.
// Under today's CRD it gets its ConfigError naming the field, once.
func TestStoredValueBreakingTodaysRulesStillGetsAStatus(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	stored := map[string]string{"pollFastInterval": "9999999999h", "pollSlowInterval": "1d"}

	restore := relaxedDurations(t, f)
	for field, value := range stored {
		raw, err := runtime.DefaultUnstructuredConverter.ToUnstructured(f.config("stored-" + strings.ToLower(field)))
		require.NoError(t, err)
		require.NoError(t, unstructured.SetNestedField(raw, value, "spec", "settings", field))
		u := &unstructured.Unstructured{Object: raw}
		u.SetGroupVersionKind(v1alpha1.GroupVersion.WithKind("OpenstackConfig"))
		require.NoError(t, k8s.Create(ctx, u), field)
		cleanupConfig(t, client.ObjectKeyFromObject(u))
	}
	restore()

	var logs syncbuf.Buffer
	f.runManager(verboseLogger(&logs))
	good := f.create(f.config("good-neighbour"))
	require.Eventually(t, func() bool {
		c := f.ready(good.Name)
		return c != nil && c.Status == "True"
	}, 60*time.Second, 50*time.Millisecond, "a good CR syncs next to them")
	for field, value := range stored {
		name := "stored-" + strings.ToLower(field)
		require.Eventually(t, func() bool { return f.ready(name) != nil }, 60*time.Second, 50*time.Millisecond,
			"%s %q gets a condition under today's CRD; logs:\n%.3000s", field, value, logs.String())
		cond := f.ready(name)
		assert.Equal(t, "ConfigError", cond.Reason, field)
		assert.Contains(t, cond.Message, fmt.Sprintf("spec.settings.%s %q is not a Go duration", field, value))
		got := f.get(f.config(name))
		assert.Contains(t, got.Finalizers, "multinic.example.com/inventory", "the finalizer patch went through too")
	}
	assert.NotContains(t, logs.String(), "Reconciler error")
}

// A status write the API server refuses as invalid (a rule that does not
// ratchet, a webhook) cannot succeed by retrying at once: the reconcile
// reports it where the user looks (an event, a log line) and comes back at
// the error interval, instead of failing into controller-runtime's
// "Reconciler error" back-off loop.
func TestRefusedStatusWriteIsReportedNotRetriedInALoop(t *testing.T) {
	f := newFixture(t)
	refusal := apierrors.NewInvalid(v1alpha1.GroupVersion.WithKind("OpenstackConfig").GroupKind(), "refused",
		field.ErrorList{field.Invalid(field.NewPath("spec", "settings", "pollFastInterval"), "9999999999h", "type conversion error evaluating rule")})
	writes := 0
	watching, err := client.NewWithWatch(restConfig, client.Options{Scheme: scheme})
	require.NoError(t, err)
	f.reconciler.Client = interceptor.NewClient(watching, interceptor.Funcs{
		SubResourceUpdate: func(ctx context.Context, c client.Client, sub string, obj client.Object, opts ...client.SubResourceUpdateOption) error {
			writes++
			return refusal
		},
	})
	oc := f.create(f.config("refused"))
	res := f.reconcile(oc) // require.NoError inside: no error for the work queue
	assert.Equal(t, 30*time.Second, res.RequeueAfter, "back at pollErrorInterval")
	assert.Equal(t, 1, writes, "tried once")
	evs := strings.Join(f.drainEvents(), "\n")
	assert.Contains(t, evs, "Warning StatusRefused")
	assert.Contains(t, evs, "spec.settings.pollFastInterval")
}
