package multinic

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/multinic/multinic/internal/recovered"
	"github.com/multinic/multinic/inventory"
	"github.com/multinic/multinic/openstack"
	"github.com/multinic/multinic/viola"
)

// OrphanMarker is an Inventory that can keep a record while saying its node
// was let go (see inventory.Store.MarkOrphaned): what removalPolicy Orphan
// needs for the inventory to keep matching the Biz side. An Inventory
// without it forgets an orphaned node's record instead.
type OrphanMarker interface {
	MarkOrphaned(providerID string, marks ...inventory.OrphanMark) (int, error)
}

// NodeRemoval is a node a pass let go: removed at Viola, left in the Biz
// cluster as an orphan, or whose removal failed.
type NodeRemoval struct {
	NodeName   string
	InstanceID string
	// Reason says why the node left, e.g. "VM x is no longer listed" or
	// "VM x is gone from Nova".
	Reason string
	// Detail says what happened beyond the policy: the node was already
	// gone at Viola, Viola cannot remove configs (the node is orphaned
	// instead), or why the DELETE failed.
	Detail string
	// Unremovable: the policy was RemovalDelete, but Viola cannot remove
	// node configs (it answered 405 or 501), so the node was orphaned.
	Unremovable bool
}

// leaver is an inventory record whose node this config lets go, and what
// its removal policy does with it.
type leaver struct {
	rec    *inventory.Record
	reason string
	delete bool
}

// leavers are the records of the routing key whose nodes leave this config
// (SPEC §8): the VM left VMIDs (and no other config selects it), is gone
// from Nova, lost its last port on a target subnet, or is now another node.
// A record of a VM that merely produced no node this pass (a Nova hiccup, a
// skip, a claim, held DOWN ports) stays, as does one already orphaned (its
// node is nobody's until a config sends it again) and one any other config
// selects (that config takes it over).
func (p *pass) leavers(r reads, res Result) []leaver {
	if len(p.previous) == 0 {
		return nil
	}
	var named, current map[string]string // node name → VM; VM → node name
	var mine map[string]bool
	var out []leaver
	for i := range p.previous {
		rec := &p.previous[i]
		if rec.Orphaned != nil {
			continue
		}
		if named == nil {
			named = make(map[string]string, len(res.Nodes))
			current = make(map[string]string, len(res.Nodes))
			for _, n := range res.Nodes {
				named[n.NodeName], current[n.InstanceID] = n.InstanceID, n.NodeName
			}
			mine = set(p.cfg.VMIDs)
		}
		if _, sent := named[rec.NodeName]; sent || p.owners.shared[rec.InstanceID] != "" {
			continue // sent under this name now (by whichever VM), or another config's too
		}
		id := rec.InstanceID
		l := leaver{rec: rec, delete: p.cfg.RemovalPolicy.deletes()}
		switch name, renamed := current[id]; {
		case !mine[id]:
			// Several configs of this key may have selected it before;
			// deleting a node one of them orphans would surprise it.
			l.reason, l.delete = fmt.Sprintf("VM %s is no longer listed", id), p.owners.allDelete
		case renamed:
			l.reason = fmt.Sprintf("VM %s is now node %s", id, name)
		case errors.Is(r.serverErrs[id], openstack.ErrServerNotFound):
			l.reason = fmt.Sprintf("VM %s is gone from Nova", id)
		case allTargetsRead(r) && !hasTargetPort(r.portsByVM[id], r.targets):
			l.reason = fmt.Sprintf("VM %s has no port on a target subnet any more", id)
		default:
			continue
		}
		out = append(out, l)
	}
	slices.SortFunc(out, func(a, b leaver) int { return strings.Compare(a.rec.NodeName, b.rec.NodeName) })
	return out
}

// allTargetsRead says every target subnet was read this pass: a subnet that
// could not be read leaves no usable answer on which ports are gone.
func allTargetsRead(r reads) bool {
	for _, s := range r.skippedSubnets {
		if r.targets[s.SubnetID] == nil {
			return false
		}
	}
	return len(r.targets) > 0
}

// hasTargetPort says a port of the VM, whatever its status, has a fixed IP
// on a target subnet (usable or not).
func hasTargetPort(ports []openstack.Port, targets map[string]*target) bool {
	for _, port := range ports {
		for _, ip := range port.FixedIPs {
			if targets[ip.SubnetID] != nil {
				return true
			}
		}
	}
	return false
}

// concurrentDeletes bounds parallel DELETEs, as Post bounds its batches.
const concurrentDeletes = 4

// release applies the removal policy to the leavers: DELETE at Viola (404
// counts as gone) and drop the record, or keep the record marked orphaned.
// A Viola that cannot remove (405/501) leaves the node orphaned, reported
// once, since the record is then no longer a leaver. Other DELETE failures
// keep the record, so the next pass tries again.
func (p *pass) release(ctx context.Context, vc *viola.Client, res *Result, leaving []leaver) {
	if len(leaving) == 0 {
		return
	}
	removed := map[string]string{} // node name → VM of records to drop
	var orphaned []inventory.OrphanMark
	details := make([]string, len(leaving))
	errs := make([]error, len(leaving))
	slots := make(chan struct{}, concurrentDeletes)
	var wg sync.WaitGroup
	for i, l := range leaving {
		if !l.delete {
			continue
		}
		wg.Go(func() {
			slots <- struct{}{}
			defer func() { <-slots }()
			errs[i] = recovered.Call(func() error {
				outcome, err := vc.Delete(ctx, res.RoutingKey, l.rec.NodeName)
				if outcome == viola.AlreadyGone {
					details[i] = "already gone at Viola"
				}
				return err
			})
		})
	}
	wg.Wait()
	for i, l := range leaving {
		n := NodeRemoval{NodeName: l.rec.NodeName, InstanceID: l.rec.InstanceID, Reason: l.reason, Detail: details[i]}
		switch err := errs[i]; {
		case !l.delete:
			orphaned = append(orphaned, inventory.OrphanMark{NodeName: n.NodeName, InstanceID: n.InstanceID, Reason: n.Reason})
			res.OrphanedNodes = append(res.OrphanedNodes, n)
		case err == nil:
			removed[n.NodeName] = n.InstanceID
			res.RemovedNodes = append(res.RemovedNodes, n)
		case errors.Is(err, viola.ErrDeleteUnsupported):
			n.Detail, n.Unremovable = safeText(err, p.secrets)+"; left in the Biz cluster", true
			orphaned = append(orphaned, inventory.OrphanMark{NodeName: n.NodeName, InstanceID: n.InstanceID, Reason: n.Reason + "; Viola cannot remove node configs"})
			res.OrphanedNodes = append(res.OrphanedNodes, n)
		default:
			n.Detail = safeText(err, p.secrets)
			res.RemovalFailures = append(res.RemovalFailures, n)
		}
	}
	res.Removed, res.RemoveErr = p.forget(res.RoutingKey, removed, orphaned)
}

// forget drops the records of removed nodes and marks orphaned ones, or
// drops those too when the Inventory cannot mark them. Either way a record
// that another VM's config replaced meanwhile is left alone.
func (p *pass) forget(key string, removed map[string]string, orphaned []inventory.OrphanMark) (int, error) {
	inv := p.cfg.Inventory
	if inv == nil {
		return 0, nil
	}
	var errs []error
	marker, canMark := inv.(OrphanMarker)
	if len(orphaned) > 0 && canMark {
		if _, err := marker.MarkOrphaned(key, orphaned...); err != nil {
			errs = append(errs, err)
		}
	} else {
		for _, m := range orphaned {
			removed[m.NodeName] = m.InstanceID
		}
	}
	n := 0
	if len(removed) > 0 {
		var err error
		n, err = inv.PruneNodes(key, func(instanceID, nodeName string) bool {
			vm, ok := removed[nodeName]
			return !ok || vm != instanceID
		})
		if err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return n, fail(ReasonInventory, err, p.secrets...)
	}
	return n, nil
}

// Release lets every node of cfg go as its RemovalPolicy says: what a
// caller does when it stops syncing cfg for good (the operator, when an
// OpenstackConfig is deleted). reason says why, e.g. "OpenstackConfig a/b
// was deleted". The nodes of VMs another config selects (Peers,
// HeldByOthers) stay for that config to take over, and orphaned ones stay
// as they are. It reads no OpenStack service: only cfg's routing key,
// VMIDs, peers, RemovalPolicy, Viola and Inventory matter. The error is
// the first failed DELETE or inventory write; what did succeed is in the
// Result either way, and calling Release again finishes the job.
func (s *Syncer) Release(ctx context.Context, cfg Config, reason string) (Result, error) {
	res := Result{RoutingKey: cfg.RoutingKey()}
	if cfg.Inventory == nil {
		return res, nil
	}
	if res.RoutingKey == "" {
		return res, problem(ReasonConfig, SettingProviderID, KindMissing, cfg.secrets(), func(n Names) string { return n.Of(SettingProviderID) + " is required" })
	}
	p := &pass{cfg: cfg, secrets: cfg.secrets(), owners: cfg.owners()}
	p.previous = cfg.Inventory.List(inventory.Filter{ProviderID: res.RoutingKey})
	mine := set(cfg.VMIDs)
	var leaving []leaver
	for i := range p.previous {
		rec := &p.previous[i]
		if rec.Orphaned == nil && mine[rec.InstanceID] && p.owners.shared[rec.InstanceID] == "" {
			leaving = append(leaving, leaver{rec: rec, reason: reason, delete: cfg.RemovalPolicy.deletes()})
		}
	}
	var vc *viola.Client
	if slices.ContainsFunc(leaving, func(l leaver) bool { return l.delete }) {
		var err error
		if vc, err = cached(s, &s.viola, cfg.Viola, viola.NewClient); err != nil {
			return res, fail(ReasonConfig, err, p.secrets...)
		}
	}
	p.release(ctx, vc, &res, leaving)
	if len(res.RemovalFailures) > 0 {
		f := res.RemovalFailures[0]
		return res, fail(ReasonViolaDelete, fmt.Errorf("remove node %s at Viola (%d of %d removals failed): %s", f.NodeName, len(res.RemovalFailures), len(leaving), f.Detail), p.secrets...)
	}
	return res, res.RemoveErr
}

// Release is Syncer.Release with fresh connections.
func Release(ctx context.Context, cfg Config, reason string) (Result, error) {
	return new(Syncer).Release(ctx, cfg, reason)
}
