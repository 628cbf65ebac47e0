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

// RemoveRecords removes the inventory records of cfg's VMs under its
// routing key, except those of VMs another config selects (cfg.Peers,
// cfg.HeldByOthers), and says how many went. It only forgets: the Biz
// cluster keeps the configs, so the inventory no longer says what it holds.
// A caller that stops syncing cfg for good wants Release, which follows the
// removal policy. Only cfg's ProviderID, K8sProviderID, VMIDs, peers and
// Inventory matter; without an Inventory it removes nothing.
func RemoveRecords(cfg Config) (int, error) {
	if cfg.Inventory == nil {
		return 0, nil
	}
	mine, others := set(cfg.VMIDs), cfg.owners().shared
	n, err := cfg.Inventory.PruneNodes(cfg.RoutingKey(), func(instanceID, _ string) bool {
		return !mine[instanceID] || others[instanceID] != ""
	})
	if err != nil {
		return n, fail(ReasonInventory, err, cfg.secrets()...)
	}
	return n, nil
}
