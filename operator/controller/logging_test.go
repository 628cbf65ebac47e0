package controller_test

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zapcore"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/multinic/multinic/internal/syncbuf"
	"github.com/multinic/multinic/multinic/multinictest"
	"github.com/multinic/multinic/operator/api/v1alpha1"
	"github.com/multinic/multinic/operator/controller"
)

// verboseLogger is what --zap-log-level=10 gives: every V level enabled.
func verboseLogger(w *syncbuf.Buffer) logr.Logger {
	return zap.New(zap.WriteTo(w), zap.Level(zapcore.Level(-10)))
}

func TestSafeLoggerMasksAndCuts(t *testing.T) {
	var out syncbuf.Buffer
	logger := controller.SafeLogger(verboseLogger(&out))
	const secretURL = "https://viola:s3cr3t-pw@viola.example.com:8443/v1"
	logger.Info("starting manager "+secretURL, "violaEndpoint", secretURL, "endpoints", []string{secretURL})
	logger.Error(errors.New("post "+secretURL+": 500\n"+strings.Repeat("<html>", 20000)), "sync failed")
	logger.WithValues("endpoint", secretURL).Info("with values")
	logger.V(8).Info("request body", "body", "a whole CR")

	logs := out.String()
	assert.NotContains(t, logs, "s3cr3t-pw")
	assert.Contains(t, logs, "https://viola:xxxxx@viola.example.com:8443/v1", "the URL stays readable")
	assert.NotContains(t, logs, "a whole CR", "V(8) and above are off whatever the level")
	for _, line := range strings.Split(strings.TrimSpace(logs), "\n") {
		assert.Less(t, len(line), 4*v1alpha1.MaxMessageLength, "every line is bounded: %.200s", line)
	}
	assert.True(t, logger.V(controller.MaxLogVerbosity).Enabled())
	assert.False(t, logger.V(controller.MaxLogVerbosity+1).Enabled())
}

// client-go logs request and response bodies at V(8) and above through the
// reconcile context's logger: whole CRs (settings.contrabassEncryptKey) and,
// through the API reader, Secrets. At --zap-log-level=10 the operator's
// logger must print neither, while the same run without it does.
func TestVerboseLoggingNeverPrintsCRsOrSecrets(t *testing.T) {
	for _, tc := range []struct {
		name string
		safe bool
	}{{"raw zap logger leaks (control)", false}, {"SafeLogger", true}} {
		t.Run(tc.name, func(t *testing.T) {
			var out syncbuf.Buffer
			logger := verboseLogger(&out)
			if tc.safe {
				logger = controller.SafeLogger(logger)
			}
			f := newFixture(t)
			f.runManager(logger)

			oc := f.config("verbose") // the key is in settings.contrabassEncryptKey
			f.create(oc)
			f.secret("contrabass-encrypt-key", "CONTRABASS_ENCRYPT_KEY", multinictest.EncryptKey) // read through the API reader
			require.Eventually(t, func() bool {
				c := f.ready(oc.Name)
				return c != nil && c.Status == "True"
			}, 30*time.Second, 50*time.Millisecond)
			logs := out.String()
			require.Contains(t, logs, "synced node configs to viola", "the operator logs at all")
			leaked := strings.Contains(logs, multinictest.EncryptKey) ||
				strings.Contains(logs, base64.StdEncoding.EncodeToString([]byte(multinictest.EncryptKey)))
			assert.Equal(t, !tc.safe, leaked, "key in logs")
		})
	}
}
