package crconfig

import (
	"context"
	"fmt"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/multinic/multinic/multinic"
	"github.com/multinic/multinic/operator/api/v1alpha1"
)

// ResolveBearerToken reads the Contrabass bearer token the CR names in
// spec.secrets.contrabassBearerTokenSecretRef, surrounding white space
// dropped; "" when the CR names none (the operator-wide
// CONTRABASS_BEARER_TOKEN, if any, applies). A reference that does not
// resolve is a ConfigError naming the field, never a silent fall-through to
// no token or another one.
func ResolveBearerToken(ctx context.Context, reader client.Reader, oc *v1alpha1.OpenstackConfig) (string, error) {
	ref := oc.Spec.Secrets.ContrabassBearerTokenSecretRef
	if ref == nil {
		return "", nil
	}
	const field = "spec.secrets.contrabassBearerTokenSecretRef"
	token, problem, err := secretValue(ctx, reader, oc.Namespace, ref.Name, ref.Key)
	if err != nil {
		return "", tokenError("", "%s: %w", field, err)
	}
	if problem != "" {
		return "", tokenError(multinic.KindMissing, "%s: %s", field, problem)
	}
	return token, nil
}

// tokenError is a ConfigError about the bearer token; it never quotes it.
func tokenError(kind multinic.Kind, format string, args ...any) error {
	return &multinic.Error{Reason: multinic.ReasonConfig, Setting: multinic.SettingContrabassBearerToken, Kind: kind, Err: fmt.Errorf(format, args...)}
}
