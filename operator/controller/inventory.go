package controller

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"

	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/multinic/multinic/inventory"
	"github.com/multinic/multinic/multinic"
	"github.com/multinic/multinic/operator/api/v1alpha1"
	"github.com/multinic/multinic/operator/crconfig"
)

func routingKey(oc *v1alpha1.OpenstackConfig) string { return crconfig.RoutingKey(oc) }

// routingKeyField indexes the cached CRs by routing key, so a pass looks at
// the CRs that share its inventory records and not at the whole fleet.
const routingKeyField = "multinic.routingKey"

func indexRoutingKey(obj client.Object) []string {
	if oc, ok := obj.(*v1alpha1.OpenstackConfig); ok {
		return []string{routingKey(oc)}
	}
	return nil
}

// shareInventory tells the pass about the other CRs of its routing key
// (Config.Peers): which VMs and node names an older one owns, and which
// records are shared ground it never removes.
func (r *Reconciler) shareInventory(ctx context.Context, oc *v1alpha1.OpenstackConfig, cfg *multinic.Config) {
	var err error
	if cfg.Peers, err = r.peers(ctx, oc); err != nil {
		// Without knowing which records other CRs share, none is removed
		// or orphaned this pass (every recorded VM counts as another's);
		// the pass itself goes on.
		if cfg.Inventory != nil {
			for _, rec := range cfg.Inventory.List(inventory.Filter{ProviderID: cfg.RoutingKey()}) {
				cfg.HeldByOthers = append(cfg.HeldByOthers, rec.InstanceID)
			}
			cfg.Inventory = keepAll{Inventory: cfg.Inventory, why: err}
		}
	}
}

// peers are the other CRs with oc's routing key, oldest first (the owner
// order of SPEC §5: creationTimestamp, then namespace/name). A CR being
// deleted is no peer: its VMs are free for the others to take over.
func (r *Reconciler) peers(ctx context.Context, oc *v1alpha1.OpenstackConfig) ([]multinic.Peer, error) {
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
	return crconfig.Peers(oc, list.Items), nil
}

// finalize lets the CR's nodes go as its removal policy says
// (multinic.Release): Delete removes them through Viola, Orphan leaves them
// in the Biz cluster with their records marked orphaned; nodes of VMs
// another CR selects are handed over. Then it lets the CR go. A failed
// DELETE keeps the finalizer, and the next reconcile tries again.
func (r *Reconciler) finalize(ctx context.Context, oc *v1alpha1.OpenstackConfig) error {
	if !controllerutil.ContainsFinalizer(oc, Finalizer) {
		return nil
	}
	peers, err := r.peers(ctx, oc)
	if err != nil {
		return err
	}
	// SpecConfig's own errors (a setting stored before its rule) do not
	// stop the release: it needs the routing key, the VMs, the policy and
	// for Delete a Viola endpoint, which Release checks itself.
	cfg, _ := crconfig.SpecConfig(oc, r.Defaults)
	cfg.Peers = peers
	cfg.Inventory = r.Inventory
	res, err := r.releaser().Release(ctx, cfg, fmt.Sprintf("OpenstackConfig %s/%s was deleted", oc.Namespace, oc.Name))
	r.recordRemovals(oc, res, multinic.RemovalPolicy(oc.Spec.Settings.RemovalPolicy))
	if err != nil {
		msg := brief(crconfig.Message(err))
		r.Recorder.Eventf(oc, nil, corev1.EventTypeWarning, string(multinic.ReasonOf(err)), "Finalize",
			"%s; the OpenstackConfig stays until its nodes are removed (set settings.removalPolicy to Orphan to leave them instead)", msg)
		return fmt.Errorf("release the nodes of %s/%s: %s", oc.Namespace, oc.Name, msg)
	}
	orig := oc.DeepCopy()
	controllerutil.RemoveFinalizer(oc, Finalizer)
	return client.IgnoreNotFound(r.Client.Patch(ctx, oc, client.MergeFromWithOptions(orig, client.MergeFromWithOptimisticLock{})))
}

// releaser is the Syncer's Release when it has one (the operator's
// *multinic.Syncer keeps its Viola clients), else a fresh one.
func (r *Reconciler) releaser() interface {
	Release(context.Context, multinic.Config, string) (multinic.Result, error)
} {
	if rel, ok := r.Syncer.(interface {
		Release(context.Context, multinic.Config, string) (multinic.Result, error)
	}); ok {
		return rel
	}
	return new(multinic.Syncer)
}

// keepAll records but removes nothing, saying why.
type keepAll struct {
	multinic.Inventory
	why error
}

func (k keepAll) PruneNodes(string, func(string, string) bool) (int, error) { return 0, k.why }

// MarkOrphaned marks nothing either: the next pass finds the nodes again.
func (k keepAll) MarkOrphaned(string, ...inventory.OrphanMark) (int, error) { return 0, k.why }
