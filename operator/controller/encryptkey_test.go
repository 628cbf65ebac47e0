package controller_test

import (
	"context"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/multinic/multinic/multinic/multinictest"
	"github.com/multinic/multinic/operator/api/v1alpha1"
	"github.com/multinic/multinic/operator/controller"
)

// A key Secret made with `kubectl create secret --from-file` ends in a
// newline; the operator trims it rather than failing every pass at
// Contrabass.
func TestEncryptKeyFromFileIsTrimmed(t *testing.T) {
	f := newFixture(t)
	oc := f.config("from-file")
	oc.Spec.Settings.ContrabassEncryptKey = ""
	oc.Spec.Secrets.ContrabassEncryptKeySecretRef = &v1alpha1.SecretKeyRef{Name: "key-file", Key: "key"}
	f.create(oc)
	f.secret("key-file", "key", multinictest.EncryptKey+"\n")
	f.reconcile(oc)
	ready, _ := readyCondition(t, f.get(oc))
	assert.Equal(t, v1alpha1.ReasonSynced, ready.Reason, ready.Message)
}

// Each way the key can be missing gets its own message naming what to fix,
// and a key of the wrong length is refused before any request.
func TestEncryptKeyProblemsAreToldApart(t *testing.T) {
	tests := []struct {
		name    string
		ref     *v1alpha1.SecretKeyRef
		secret  map[string][]byte // Secret "k" when not nil
		plain   string
		message string
	}{
		{"referenced Secret missing", &v1alpha1.SecretKeyRef{Name: "k", Key: "key"}, nil, "",
			"spec.secrets.contrabassEncryptKeySecretRef: Secret {ns}/k does not exist"},
		{"referenced key missing", &v1alpha1.SecretKeyRef{Name: "k", Key: "key"}, map[string][]byte{"other": []byte("x")}, "",
			`spec.secrets.contrabassEncryptKeySecretRef: Secret {ns}/k has no key "key" (it has "other")`},
		{"referenced key empty", &v1alpha1.SecretKeyRef{Name: "k", Key: "key"}, map[string][]byte{"key": []byte(" \n")}, "",
			`spec.secrets.contrabassEncryptKeySecretRef: key "key" of Secret {ns}/k is empty`},
		{"referenced key too short", &v1alpha1.SecretKeyRef{Name: "k", Key: "key"}, map[string][]byte{"key": []byte("short\n")}, "",
			`spec.secrets.contrabassEncryptKeySecretRef: key "key" of Secret {ns}/k is 5 bytes long; the Contrabass encrypt key must be 16, 24 or 32 bytes`},
		{"nothing anywhere", nil, nil, "",
			"create Secret {ns}/contrabass-encrypt-key with key CONTRABASS_ENCRYPT_KEY (Secret {ns}/contrabass-encrypt-key does not exist)"},
		{"plain key of wrong length", nil, nil, "seventeen-chars!!",
			"spec.settings.contrabassEncryptKey is 17 bytes long"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			reg := prometheus.NewRegistry()
			f.reconciler.Metrics = controller.NewMetrics(reg)
			oc := f.config("keys")
			oc.Spec.Settings.ContrabassEncryptKey = tt.plain
			oc.Spec.Secrets.ContrabassEncryptKeySecretRef = tt.ref
			f.create(oc)
			if tt.secret != nil {
				require.NoError(t, k8s.Create(context.Background(), &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "k", Namespace: f.ns}, Data: tt.secret}))
			}
			f.reconcile(oc)
			got := f.get(oc)
			ready, _ := readyCondition(t, got)
			assert.Equal(t, "ConfigError", ready.Reason)
			assert.Contains(t, ready.Message, strings.ReplaceAll(tt.message, "{ns}", f.ns))
			assert.Zero(t, f.env.Contrabass.Requests(), "refused before any request")
			assert.NotContains(t, got.Status.LastError, "seventeen")
			assert.Equal(t, 1.0, syncErrors(t, reg, "ConfigError"), "a CR stuck on its config is a failing CR for the alerts")
		})
	}
}

func TestEncryptKeyResolutionOrder(t *testing.T) {
	const wrong = "wrongKeyWrongKey"
	ctx := context.Background()
	f := newFixture(t)
	oc := f.config("keys")
	oc.Spec.Settings.ContrabassEncryptKey = wrong
	oc.Spec.Secrets.ContrabassEncryptKeySecretRef = &v1alpha1.SecretKeyRef{Name: "my-key", Key: "k"}
	f.create(oc)
	f.secret("contrabass-encrypt-key", "CONTRABASS_ENCRYPT_KEY", wrong)
	f.secret("my-key", "k", multinictest.EncryptKey)

	reason := func() string {
		f.reconcile(oc)
		ready, _ := readyCondition(t, f.get(oc))
		if ready.Reason == v1alpha1.ReasonNoChange {
			return v1alpha1.ReasonSynced // a success either way
		}
		return ready.Reason
	}
	assert.Equal(t, v1alpha1.ReasonSynced, reason(), "the referenced Secret wins")

	// A dangling reference is an error, not a silent fall-through.
	latest := f.get(oc)
	latest.Spec.Secrets.ContrabassEncryptKeySecretRef = &v1alpha1.SecretKeyRef{Name: "gone", Key: "k"}
	require.NoError(t, k8s.Update(ctx, latest))
	assert.Equal(t, "ConfigError", reason())

	// Without a reference the namespace's default Secret comes before settings.
	latest = f.get(oc)
	latest.Spec.Secrets.ContrabassEncryptKeySecretRef = nil
	latest.Spec.Settings.ContrabassEncryptKey = multinictest.EncryptKey
	require.NoError(t, k8s.Update(ctx, latest))
	assert.Equal(t, "ContrabassError", reason(), "the default Secret (wrong key) beats the settings")

	var def corev1.Secret
	require.NoError(t, k8s.Get(ctx, client.ObjectKey{Namespace: f.ns, Name: "contrabass-encrypt-key"}, &def))
	require.NoError(t, k8s.Delete(ctx, &def))
	assert.Equal(t, v1alpha1.ReasonSynced, reason(), "settings are the last resort")
}

// syncErrors reads multinic_sync_errors_total{reason} from reg.
func syncErrors(t *testing.T, reg *prometheus.Registry, reason string) float64 {
	t.Helper()
	families, err := reg.Gather()
	require.NoError(t, err)
	for _, family := range families {
		if family.GetName() != "multinic_sync_errors_total" {
			continue
		}
		for _, m := range family.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "reason" && l.GetValue() == reason {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}
