package multinic

import (
	"context"
	"slices"

	"github.com/multinic/multinic/viola"
)

// send posts the nodes that changed (or are due) and records what Viola
// accepted, even when part of the post failed.
func (p *pass) send(ctx context.Context, vc *viola.Client, res Result) (Result, error) {
	// diff lists the nodes first, in the order of res.Nodes (by name).
	var due []viola.NodeConfig
	var dueChanged []bool
	for i, node := range res.Nodes {
		d := res.Diff[i]
		if !d.Due {
			if res.Unchanged == nil {
				res.Unchanged = make([]string, 0, len(res.Nodes)-i)
			}
			res.Unchanged = append(res.Unchanged, node.NodeName)
			continue
		}
		if due == nil {
			due = make([]viola.NodeConfig, 0, len(res.Nodes)-i)
			dueChanged = make([]bool, 0, len(res.Nodes)-i)
		}
		due = append(due, node)
		dueChanged = append(dueChanged, d.Change != ChangeUnchanged)
	}
	if len(due) == 0 {
		return res, nil
	}
	posted, postErr := vc.Post(ctx, res.RoutingKey, due)
	res.Sent = posted.Accepted
	slices.Sort(res.Sent)
	// sent are the due nodes Viola accepted, still by name: all of them
	// unless a batch failed.
	sent, sentChanged := due, dueChanged
	if len(posted.Accepted) < len(due) {
		accepted := make(map[string]bool, len(posted.Accepted))
		for _, n := range posted.Accepted {
			accepted[n] = true
		}
		sent, sentChanged = nil, nil
		for i, node := range due {
			if accepted[node.NodeName] {
				sent = append(sent, node)
				sentChanged = append(sentChanged, dueChanged[i])
			}
		}
	}
	for i, node := range sent {
		if sentChanged[i] {
			res.Changed = append(res.Changed, node.NodeName)
		}
	}
	if p.cfg.Inventory != nil && len(sent) > 0 {
		if _, err := p.cfg.Inventory.Upsert(res.RoutingKey, sent...); err != nil && postErr == nil {
			return res, fail(ReasonInventory, err, p.secrets...)
		}
	}
	if postErr != nil {
		return res, p.failAs(ctx, ReasonViolaPost, stepViola, postErr)
	}
	return res, nil
}

// prune removes the records of the routing key this config no longer stands
// behind, after a pass that succeeded: VMs that left VMIDs, and the old
// name of a node that was renamed. Records of VMs that merely produced no
// node this pass (a Nova hiccup) stay, and so do those of VMs another
// config holds. It removes what Result.Diff calls removed.
func (p *pass) prune(res *Result) {
	if p.cfg.Inventory == nil {
		return
	}
	mine, others := set(p.cfg.VMIDs), set(p.cfg.HeldByOthers)
	current := make(map[string]string, len(res.Nodes))
	for _, n := range res.Nodes {
		current[n.InstanceID] = n.NodeName
	}
	res.Removed, res.RemoveErr = p.cfg.Inventory.PruneNodes(res.RoutingKey, func(instanceID, nodeName string) bool {
		if others[instanceID] {
			return true
		}
		if !mine[instanceID] {
			return false
		}
		name, synced := current[instanceID]
		return !synced || name == nodeName
	})
	if res.RemoveErr != nil {
		res.RemoveErr = fail(ReasonInventory, res.RemoveErr, p.secrets...)
	}
}

// RemoveRecords removes the inventory records of cfg's VMs under its
// routing key, except those of VMs in cfg.HeldByOthers, and says how many
// went: what a caller does when it stops syncing cfg for good (the operator,
// when an OpenstackConfig is deleted). Only cfg's ProviderID, K8sProviderID,
// VMIDs, HeldByOthers and Inventory matter; without an Inventory it removes
// nothing.
func RemoveRecords(cfg Config) (int, error) {
	if cfg.Inventory == nil {
		return 0, nil
	}
	mine, others := set(cfg.VMIDs), set(cfg.HeldByOthers)
	n, err := cfg.Inventory.PruneNodes(cfg.RoutingKey(), func(instanceID, _ string) bool {
		return !mine[instanceID] || others[instanceID]
	})
	if err != nil {
		return n, fail(ReasonInventory, err, cfg.secrets()...)
	}
	return n, nil
}
