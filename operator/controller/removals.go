package controller

import (
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/multinic/multinic/multinic"
	"github.com/multinic/multinic/operator/api/v1alpha1"
)

// recordRemovals tells, in one Event each, which nodes a pass (or the
// finalizer) removed through Viola and which it left in the Biz cluster.
// Each node is in the Result of the pass that lets it go only, so each is
// told once.
func (r *Reconciler) recordRemovals(oc *v1alpha1.OpenstackConfig, res multinic.Result, policy multinic.RemovalPolicy) {
	if policy == "" {
		policy = multinic.RemovalOrphan
	}
	if len(res.RemovedNodes) > 0 {
		r.Recorder.Eventf(oc, nil, corev1.EventTypeNormal, ReasonNodesRemoved, "Remove", "%s",
			brief(fmt.Sprintf("removed %d node configs through Viola (removalPolicy %s): %s", len(res.RemovedNodes), policy, describeRemovals(res.RemovedNodes))))
	}
	var orphaned, unremovable []multinic.NodeRemoval
	for _, n := range res.OrphanedNodes {
		if n.Unremovable {
			unremovable = append(unremovable, n)
		} else {
			orphaned = append(orphaned, n)
		}
	}
	if len(orphaned) > 0 {
		r.Recorder.Eventf(oc, nil, corev1.EventTypeNormal, ReasonNodesOrphaned, "Remove", "%s",
			brief(fmt.Sprintf("left %d node configs in the Biz cluster (removalPolicy %s; the node agent keeps their interfaces): %s", len(orphaned), policy, describeRemovals(orphaned))))
	}
	if len(unremovable) > 0 {
		r.Recorder.Eventf(oc, nil, corev1.EventTypeWarning, ReasonViolaCannotRemove, "Remove", "%s",
			brief(fmt.Sprintf("Viola cannot remove node configs (%s), so %d nodes are left in the Biz cluster, marked orphaned, and not tried again: %s",
				unremovable[0].Detail, len(unremovable), describeRemovals(unremovable))))
	}
}

// Event reasons of removals. A node removal that fails shows as
// Degraded=PartialSync ("node removals failed") and is tried every pass.
const (
	ReasonNodesRemoved      = "NodesRemoved"
	ReasonNodesOrphaned     = "NodesOrphaned"
	ReasonViolaCannotRemove = "ViolaCannotRemove"
)

// describeRemovals is "worker-3 (VM x is gone from Nova), ...", cut by brief.
func describeRemovals(ns []multinic.NodeRemoval) string {
	parts := make([]string, 0, min(len(ns), v1alpha1.MaxStatusListItems))
	for _, n := range ns[:min(len(ns), v1alpha1.MaxStatusListItems)] {
		parts = append(parts, fmt.Sprintf("%s (%s)", n.NodeName, n.Reason))
	}
	if more := len(ns) - len(parts); more > 0 {
		parts = append(parts, fmt.Sprintf("and %d more", more))
	}
	return strings.Join(parts, ", ")
}

// mergeRemovals puts the nodes a pass let go at the head of the status
// lists, newest first and bounded, and drops the entries of nodes the pass
// sends again (an orphan taken back, a removed node that came back).
func mergeRemovals(list []v1alpha1.NodeRemoval, fresh []multinic.NodeRemoval, nodes map[string]bool, now time.Time) []v1alpha1.NodeRemoval {
	if len(fresh) == 0 && !slices.ContainsFunc(list, func(n v1alpha1.NodeRemoval) bool { return nodes[n.NodeName] }) {
		return list
	}
	at := metav1.NewTime(now)
	out := make([]v1alpha1.NodeRemoval, 0, min(len(fresh)+len(list), v1alpha1.MaxStatusListItems))
	seen := map[string]bool{}
	add := func(n v1alpha1.NodeRemoval) {
		if len(out) < v1alpha1.MaxStatusListItems && !seen[n.NodeName] && !nodes[n.NodeName] {
			seen[n.NodeName] = true
			out = append(out, n)
		}
	}
	for _, n := range fresh {
		text := n.Reason
		if n.Detail != "" {
			text += "; " + n.Detail
		}
		add(v1alpha1.NodeRemoval{NodeName: oneLine(n.NodeName, maxNameLength), InstanceID: oneLine(n.InstanceID, maxIDLength), Reason: reason(text), At: at})
	}
	for _, n := range list {
		add(n)
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// heldPorts is the status list of held DOWN ports: those first seen
// longest ago first, so that a port beyond the bound is the one with the
// most grace left.
func heldPorts(held []multinic.HeldPort) []v1alpha1.HeldPort {
	if len(held) == 0 {
		return nil
	}
	sorted := slices.Clone(held)
	slices.SortStableFunc(sorted, func(a, b multinic.HeldPort) int { return a.FirstSeen.Compare(b.FirstSeen) })
	out := make([]v1alpha1.HeldPort, 0, min(len(sorted), v1alpha1.MaxHeldPorts))
	for _, h := range sorted[:min(len(sorted), v1alpha1.MaxHeldPorts)] {
		out = append(out, v1alpha1.HeldPort{
			PortID: oneLine(h.PortID, maxIDLength), NodeName: oneLine(h.NodeName, maxNameLength), InstanceID: oneLine(h.InstanceID, maxIDLength),
			FirstSeen: metav1.NewTime(h.FirstSeen), Until: metav1.NewTime(h.Until),
		})
	}
	return out
}

// firstSeenDown hands the held ports of the last pass back to the next, so
// a grace period runs from the first sighting across passes and restarts.
func firstSeenDown(held []v1alpha1.HeldPort) map[string]time.Time {
	if len(held) == 0 {
		return nil
	}
	out := make(map[string]time.Time, len(held))
	for _, h := range held {
		out[h.PortID] = h.FirstSeen.Time
	}
	return out
}

// nextHeldDue is when the next pass should look at held ports: soon, to
// send a port as soon as it is ACTIVE, and no later than the first grace
// period ends.
func (p polling) nextHeldDue(status *v1alpha1.OpenstackConfigStatus, now time.Time) (time.Duration, bool) {
	if len(status.HeldPorts) == 0 {
		return 0, false
	}
	after := p.Fast
	for _, h := range status.HeldPorts {
		after = min(after, h.Until.Sub(now))
	}
	return after, true
}
