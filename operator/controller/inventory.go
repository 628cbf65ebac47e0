package controller

import (
	"context"
	"fmt"

	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/multinic/multinic/multinic"
	"github.com/multinic/multinic/operator/api/v1alpha1"
	"github.com/multinic/multinic/operator/crconfig"
)

func routingKey(oc *v1alpha1.OpenstackConfig) string {
	return multinic.Config{ProviderID: oc.Spec.Credentials.OpenstackProviderID, K8sProviderID: oc.Spec.Credentials.K8sProviderID}.RoutingKey()
}

// routingKeyField indexes the cached CRs by routing key, so a pass looks at
// the CRs that share its inventory records and not at the whole fleet.
const routingKeyField = "multinic.routingKey"

func indexRoutingKey(obj client.Object) []string {
	if oc, ok := obj.(*v1alpha1.OpenstackConfig); ok {
		return []string{routingKey(oc)}
	}
	return nil
}

// shareInventory tells the pass which of its routing key's records other CRs
// share (Config.HeldByOthers), so that it never removes them.
func (r *Reconciler) shareInventory(ctx context.Context, oc *v1alpha1.OpenstackConfig, cfg *multinic.Config) {
	var err error
	if cfg.HeldByOthers, err = r.vmsOfOtherConfigs(ctx, oc); err != nil {
		// Without knowing which records other CRs share, none is removed
		// this pass; the pass itself goes on.
		cfg.Inventory = keepAll{Inventory: cfg.Inventory, why: err}
	}
}

// vmsOfOtherConfigs are the VMs that other CRs with the same routing key
// sync (the library's Config.HeldByOthers): their records are shared ground
// and never removed on oc's behalf.
func (r *Reconciler) vmsOfOtherConfigs(ctx context.Context, oc *v1alpha1.OpenstackConfig) ([]string, error) {
	key := routingKey(oc)
	// Read only, once per pass: copying every cached CR made this a fifth
	// of the operator's CPU at 1000 CRs.
	opts := []client.ListOption{client.UnsafeDisableDeepCopy}
	if r.routingKeyIndexed {
		opts = append(opts, client.MatchingFields{routingKeyField: key})
	}
	var list v1alpha1.OpenstackConfigList
	if err := r.Client.List(ctx, &list, opts...); err != nil {
		return nil, fmt.Errorf("list OpenstackConfigs: %w", err)
	}
	var claimed []string
	for _, other := range list.Items {
		if other.UID == oc.UID || !other.DeletionTimestamp.IsZero() || routingKey(&other) != key {
			continue
		}
		claimed = append(claimed, other.Spec.VMNames...)
	}
	return claimed, nil
}

// finalize removes the records of the CR's VMs that no other CR syncs
// (multinic.RemoveRecords), then lets the CR go.
func (r *Reconciler) finalize(ctx context.Context, oc *v1alpha1.OpenstackConfig) error {
	if !controllerutil.ContainsFinalizer(oc, Finalizer) {
		return nil
	}
	others, err := r.vmsOfOtherConfigs(ctx, oc)
	if err != nil {
		return err
	}
	cfg := multinic.Config{
		ProviderID:    oc.Spec.Credentials.OpenstackProviderID,
		K8sProviderID: oc.Spec.Credentials.K8sProviderID,
		VMIDs:         oc.Spec.VMNames,
		HeldByOthers:  others,
		Inventory:     r.Inventory,
	}
	if _, err := multinic.RemoveRecords(cfg); err != nil {
		return fmt.Errorf("remove inventory records of %s/%s: %s", oc.Namespace, oc.Name, crconfig.Message(err))
	}
	orig := oc.DeepCopy()
	controllerutil.RemoveFinalizer(oc, Finalizer)
	return client.IgnoreNotFound(r.Client.Patch(ctx, oc, client.MergeFromWithOptions(orig, client.MergeFromWithOptimisticLock{})))
}

// keepAll records but removes nothing, saying why.
type keepAll struct {
	multinic.Inventory
	why error
}

func (k keepAll) PruneNodes(string, func(string, string) bool) (int, error) { return 0, k.why }
