package controller

import (
	"context"
	"fmt"

	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/multinic/multinic/multinic"
	"github.com/multinic/multinic/operator/api/v1alpha1"
)

// Inventory is what the reconciler needs of the inventory store.
type Inventory interface {
	multinic.Inventory
	// PruneNodes is inventory.Store.PruneNodes: the reconciler decides by
	// instance and node name, so no record is copied.
	PruneNodes(providerID string, keep func(instanceID, nodeName string) bool) (int, error)
}

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

// vmsOfOtherConfigs are the VMs that other CRs with the same routing key
// sync: their records are shared ground and never pruned on oc's behalf.
func (r *Reconciler) vmsOfOtherConfigs(ctx context.Context, oc *v1alpha1.OpenstackConfig) (map[string]bool, error) {
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
	claimed := map[string]bool{}
	for _, other := range list.Items {
		if other.UID == oc.UID || !other.DeletionTimestamp.IsZero() || routingKey(&other) != key {
			continue
		}
		for _, vm := range other.Spec.VMNames {
			claimed[vm] = true
		}
	}
	return claimed, nil
}

// pruneInventory drops records this CR no longer stands behind: VMs removed
// from vmNames, and the old name of a node that was renamed. Records of VMs
// that merely produced no node this pass (a Nova hiccup) are kept.
func (r *Reconciler) pruneInventory(ctx context.Context, oc *v1alpha1.OpenstackConfig, res multinic.Result) (int, error) {
	others, err := r.vmsOfOtherConfigs(ctx, oc)
	if err != nil {
		return 0, err
	}
	mine := map[string]bool{}
	for _, vm := range oc.Spec.VMNames {
		mine[vm] = true
	}
	current := map[string]string{}
	for _, n := range res.Nodes {
		current[n.InstanceID] = n.NodeName
	}
	return r.Inventory.PruneNodes(routingKey(oc), func(instanceID, nodeName string) bool {
		if others[instanceID] {
			return true
		}
		if !mine[instanceID] {
			return false
		}
		name, synced := current[instanceID]
		return !synced || name == nodeName
	})
}

// finalize drops the records of the CR's VMs that no other CR syncs, then
// lets the CR go.
func (r *Reconciler) finalize(ctx context.Context, oc *v1alpha1.OpenstackConfig) error {
	if !controllerutil.ContainsFinalizer(oc, Finalizer) {
		return nil
	}
	others, err := r.vmsOfOtherConfigs(ctx, oc)
	if err != nil {
		return err
	}
	mine := map[string]bool{}
	for _, vm := range oc.Spec.VMNames {
		mine[vm] = !others[vm]
	}
	if _, err := r.Inventory.PruneNodes(routingKey(oc), func(instanceID, _ string) bool { return !mine[instanceID] }); err != nil {
		return fmt.Errorf("remove inventory records of %s/%s: %w", oc.Namespace, oc.Name, err)
	}
	orig := oc.DeepCopy()
	controllerutil.RemoveFinalizer(oc, Finalizer)
	return client.IgnoreNotFound(r.Client.Patch(ctx, oc, client.MergeFromWithOptions(orig, client.MergeFromWithOptimisticLock{})))
}
