package controller_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/multinic/multinic/multinic/multinictest"
	"github.com/multinic/multinic/operator/api/v1alpha1"
)

// TestSecretWatchTriggersReconcile runs the real manager: creating the
// missing key Secret must bring the CR to Ready well before the 30s error
// poll would, so the reconcile came from the Secret watch.
func TestSecretWatchTriggersReconcile(t *testing.T) {
	f := newFixture(t)
	mgr, err := ctrl.NewManager(restConfig, ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		// Controller names are process-global; -count=N runs this again.
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
	})
	require.NoError(t, err)
	f.reconciler.Client = mgr.GetClient()
	f.reconciler.APIReader = mgr.GetAPIReader()
	require.NoError(t, f.reconciler.SetupWithManager(mgr))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	t.Cleanup(func() { cancel(); require.NoError(t, <-done) })

	oc := f.config("watched")
	oc.Spec.Settings.ContrabassEncryptKey = ""
	f.create(oc)
	readyReason := func() string {
		var got v1alpha1.OpenstackConfig
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(oc), &got); err != nil {
			return ""
		}
		if c := meta.FindStatusCondition(got.Status.Conditions, v1alpha1.ConditionReady); c != nil {
			return c.Reason
		}
		return ""
	}
	require.Eventually(t, func() bool { return readyReason() == "ConfigError" }, 15*time.Second, 50*time.Millisecond)

	f.secret("contrabass-encrypt-key", "CONTRABASS_ENCRYPT_KEY", multinictest.EncryptKey)
	assert.Eventually(t, func() bool { return readyReason() == v1alpha1.ReasonSynced }, 15*time.Second, 50*time.Millisecond,
		"the Secret watch re-queues the CR")
}
