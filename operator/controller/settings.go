package controller

import (
	"context"

	"github.com/multinic/multinic/multinic"
	"github.com/multinic/multinic/operator/api/v1alpha1"
	"github.com/multinic/multinic/operator/crconfig"
)

// syncConfig turns a CR into the library's Config. The API server already
// applied defaults and the schema; what is checked here are values stored
// before the schema had its rules, and what needs other objects (Secrets).
// The polling it returns is usable even with an error.
func (r *Reconciler) syncConfig(ctx context.Context, oc *v1alpha1.OpenstackConfig) (multinic.Config, polling, error) {
	poll, _ := crconfig.PollingOf(oc.Spec.Settings)
	cfg, err := crconfig.SpecConfig(oc, r.Defaults)
	// The Secret is read even when something else is wrong, so that one
	// error lists every problem and one edit fixes them all.
	key, keyErr := crconfig.ResolveEncryptKey(ctx, r.APIReader, oc)
	if keyErr != nil && multinic.ReasonOf(keyErr) != multinic.ReasonConfig {
		return multinic.Config{}, polling(poll), keyErr
	}
	token, tokenErr := crconfig.ResolveBearerToken(ctx, r.APIReader, oc)
	if err := crconfig.Join(err, keyErr, tokenErr); err != nil {
		return multinic.Config{}, polling(poll), err
	}
	cfg.EncryptKey = key.Value
	if token != "" { // the CR's own, over the operator's CONTRABASS_BEARER_TOKEN
		cfg.Contrabass.BearerToken = token
	}
	cfg.Inventory = r.Inventory
	cfg.Now = r.Clock.Now
	return cfg, polling(poll), nil
}
