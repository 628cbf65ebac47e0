package controller_test

import (
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/multinic/multinic/multinic/multinictest"
	"github.com/multinic/multinic/operator/api/v1alpha1"
)

// TestSecretWatchTriggersReconcile runs the real manager: creating the
// missing key Secret must bring the CR to Ready well before the 30s error
// poll would, so the reconcile came from the Secret watch.
func TestSecretWatchTriggersReconcile(t *testing.T) {
	f := newFixture(t)
	f.runManager(logr.Logger{})

	oc := f.config("watched")
	oc.Spec.Settings.ContrabassEncryptKey = ""
	f.create(oc)
	readyReason := func() string {
		if c := f.ready(oc.Name); c != nil {
			return c.Reason
		}
		return ""
	}
	require.Eventually(t, func() bool { return readyReason() == "ConfigError" }, 15*time.Second, 50*time.Millisecond)

	f.secret("contrabass-encrypt-key", "CONTRABASS_ENCRYPT_KEY", multinictest.EncryptKey)
	assert.Eventually(t, func() bool { return readyReason() == v1alpha1.ReasonSynced }, 15*time.Second, 50*time.Millisecond,
		"the Secret watch re-queues the CR")
}
