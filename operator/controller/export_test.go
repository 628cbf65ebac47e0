package controller

import (
	"context"
	"time"

	"github.com/multinic/multinic/multinic"
	"github.com/multinic/multinic/operator/api/v1alpha1"
)

// SyncConfig exposes syncConfig to the external tests, with the resolved
// polling as fast, slow, error, fast window and resync intervals.
func SyncConfig(ctx context.Context, r *Reconciler, oc *v1alpha1.OpenstackConfig) (multinic.Config, [5]time.Duration, error) {
	cfg, p, err := r.syncConfig(ctx, oc)
	return cfg, [5]time.Duration{p.Fast, p.Slow, p.Error, p.FastWindow, p.Resync}, err
}

// Brief exposes how messages are cut for status, events and logs.
var Brief = brief
