package controller_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/multinic/multinic/multinic"
	"github.com/multinic/multinic/operator/api/v1alpha1"
)

// A Contrabass that wants a bearer token gets the operator's
// (CONTRABASS_BEARER_TOKEN) or the CR's own, from a Secret; a reference
// that does not resolve is a ConfigError naming the field, and the token
// never shows in status or events.
func TestContrabassBearerToken(t *testing.T) {
	const operatorToken, crToken = "op-T0ken-5ecret-aa11", "cr-T0ken-5ecret-bb22"
	f := newFixture(t)
	f.env.Contrabass.RequireBearer(operatorToken)

	oc := f.create(f.config("token"))
	f.reconcile(oc)
	ready, _ := readyCondition(t, f.get(oc))
	assert.Equal(t, string(multinic.ReasonContrabass), ready.Reason, "no token: Contrabass answers 401")
	assert.Contains(t, ready.Message, "401")

	f.reconciler.Defaults.Contrabass.BearerToken = operatorToken
	f.reconcile(oc)
	ready, _ = readyCondition(t, f.get(oc))
	assert.Equal(t, metav1.ConditionTrue, ready.Status, "the operator's token: %s", ready.Message)

	f.env.Contrabass.RequireBearer(crToken)
	latest := f.get(oc)
	latest.Spec.Secrets.ContrabassBearerTokenSecretRef = &v1alpha1.SecretKeyRef{Name: "contrabass-token", Key: "token"}
	require.NoError(t, k8s.Update(t.Context(), latest))
	f.reconcile(oc)
	got := f.get(oc)
	ready, _ = readyCondition(t, got)
	assert.Equal(t, string(multinic.ReasonConfig), ready.Reason)
	assert.Equal(t, "ConfigError: spec.secrets.contrabassBearerTokenSecretRef: Secret "+f.ns+"/contrabass-token does not exist", got.Status.LastError)

	f.secret("contrabass-token", "token", crToken+"\n")
	f.reconcile(oc)
	got = f.get(oc)
	ready, _ = readyCondition(t, got)
	assert.Equal(t, metav1.ConditionTrue, ready.Status, "the CR's token wins over the operator's: %s", ready.Message)

	for _, e := range f.drainEvents() {
		assert.NotContains(t, e, operatorToken)
		assert.NotContains(t, e, crToken)
	}
	assert.NotContains(t, got.Status.LastError, crToken)
}
