package multinic

import (
	"fmt"
	"slices"
	"strings"

	"github.com/multinic/multinic/viola"
)

// Result is what one pass found and did.
type Result struct {
	// RoutingKey is the x-provider-id the nodes were sent under.
	RoutingKey string
	// Nodes are every node config that can be sent (whether or not it was),
	// by node name; RejectedNodes are not among them.
	Nodes []viola.NodeConfig
	// Sent are the nodes Viola accepted in this pass; Changed are those of
	// them whose config was new or different, as opposed to re-sent on
	// request. Unchanged were not sent.
	Sent      []string
	Changed   []string
	Unchanged []string
	// Skipped are VMs that produced no node config, with the reason.
	Skipped []SkippedVM
	// DownPorts are selected ports whose status is DOWN.
	DownPorts []DownPort
	// DroppedPorts did not fit into the ten interface names of their node.
	DroppedPorts []DroppedPort
	// SkippedSubnets are target subnets that contributed no interfaces:
	// their network reports no usable MTU, or the subnet does not exist or
	// could not be read (SPEC §5); Kind says which.
	SkippedSubnets []SkippedSubnet
	// LeftOutAddresses are fixed IPs on target subnets that were not sent
	// because the node agent cannot serve them: IPv6 addresses, and the
	// further addresses of a port with several (SPEC §5).
	LeftOutAddresses []LeftOutAddress
	// NodeNameWarnings are nodes sent under a name the node agent serves
	// only in part, e.g. a dotted one, whose removed interfaces it does not
	// clean up (SPEC §7).
	NodeNameWarnings []NodeNameWarning
	// RejectedNodes are node configs left out of the POST because they are
	// invalid (SPEC §5: one bad node never blocks the others).
	RejectedNodes []RejectedNode
	// PortStatuses are the Neutron statuses of the ports in Nodes, by port
	// ID, so a reader can tell which interfaces are not up yet.
	PortStatuses map[string]string
	// Diff compares each node with the inventory's record of what was last
	// sent, and names the records of the routing key that match no node.
	// Without an Inventory every node is new. A dry run fills it the same way.
	Diff []NodeDiff
	// HeldPorts are DOWN ports never sent before that the grace period
	// holds back (Config.DownPortGracePeriod); they are sent once ACTIVE,
	// or when Until passes.
	HeldPorts []HeldPort
	// RemovedNodes are the nodes this pass let go and removed at Viola
	// (RemovalDelete); OrphanedNodes those it let go and left in the Biz
	// cluster (RemovalOrphan, or a Viola that cannot remove), their records
	// kept and marked. RemovalFailures are DELETEs that failed: their
	// records stay, and the next pass tries again. Each node is reported by
	// the pass that lets it go, not again.
	RemovedNodes    []NodeRemoval
	OrphanedNodes   []NodeRemoval
	RemovalFailures []NodeRemoval
	// Removed counts the inventory records the pass removed (those of
	// RemovedNodes, and of OrphanedNodes when the Inventory cannot mark
	// orphans). RemoveErr is why the inventory could not be updated
	// for RemovedNodes or OrphanedNodes; the pass still succeeded (the nodes
	// were sent and recorded), and the next pass tries again.
	Removed   int
	RemoveErr error
}

// Change is how a node config compares with the inventory.
type Change string

const (
	// ChangeNew means the inventory has no record of this node name.
	ChangeNew Change = "new"
	// ChangeChanged means the record differs; NodeDiff.Fields says where.
	ChangeChanged Change = "changed"
	// ChangeUnchanged means the record is identical.
	ChangeUnchanged Change = "unchanged"
	// ChangeRemoved marks a record whose node this config lets go (its VM
	// left VMIDs or Nova, lost its last port on a target subnet, or is now
	// another node) under RemovalDelete: a pass that succeeds DELETEs it at
	// Viola and removes the record. Note says why.
	ChangeRemoved Change = "removed"
	// ChangeOrphaned marks such a record under RemovalOrphan: a pass that
	// succeeds leaves the node in the Biz cluster and marks the record
	// orphaned.
	ChangeOrphaned Change = "orphaned"
	// ChangeKept marks a record of a VM in VMIDs that produced no node config
	// in this pass (skipped or claimed, say), of a VM another config selects,
	// or one already orphaned; it is left as it is.
	ChangeKept Change = "kept"
)

// NodeDiff is one line of Result.Diff.
type NodeDiff struct {
	NodeName   string `json:"nodeName"`
	InstanceID string `json:"instanceId"`
	Change     Change `json:"change"`
	// Fields are the differences of a changed node, in interface order.
	Fields []FieldChange `json:"fields,omitempty"`
	// Due means the pass sends the node (in a dry run: would send it),
	// because it changed, a re-send was asked for, or its record was
	// orphaned (sending it makes it this config's again).
	Due bool `json:"due"`
	// Note says why a record is removed, orphaned or kept, or that an
	// orphaned node is taken back.
	Note string `json:"note,omitempty"`
}

// FieldChange is one difference between the recorded and the new config,
// e.g. {"interfaces[multinic1].mtu", "1450", "9000"}. Old is empty for
// something added, New for something removed.
type FieldChange struct {
	Field string `json:"field"`
	Old   string `json:"old,omitempty"`
	New   string `json:"new,omitempty"`
}

// SkippedSubnet is a target subnet whose ports gave no interfaces.
type SkippedSubnet struct {
	SubnetID  string
	NetworkID string // empty when the subnet could not be read
	Reason    string
	// Kind is KindUnusableMTU (its network's MTU), KindMissing (Neutron
	// does not know the subnet) or KindUnreadable (it could not be read).
	Kind Kind
}

// LeftOutAddress is a fixed IP of a VM's port on a target subnet that is
// not sent.
type LeftOutAddress struct {
	NodeName   string // empty when the VM was skipped
	InstanceID string
	PortID     string
	SubnetID   string
	Address    string
	Reason     string
}

// NodeNameWarning is a node that was sent, under a name the node agent
// serves only in part.
type NodeNameWarning struct {
	NodeName   string
	InstanceID string
	Reason     string
}

// RejectedNode is a node config that was built but not sent.
type RejectedNode struct {
	NodeName   string
	InstanceID string
	Reason     string
}

// Degradation summarises what the pass had to leave out, e.g.
// "2 VMs skipped, 1 subnet without usable MTU", or "" when nothing was: a
// pass that succeeded only in part is Degraded, not healthy.
func (r Result) Degradation() string {
	var parts []string
	add := func(n int, one, many string) {
		switch {
		case n == 1:
			parts = append(parts, "1 "+one)
		case n > 1:
			parts = append(parts, fmt.Sprintf("%d %s", n, many))
		}
	}
	subnets := map[Kind]int{}
	for _, sn := range r.SkippedSubnets {
		subnets[sn.Kind]++
	}
	add(len(r.Skipped), "VM skipped", "VMs skipped")
	add(len(r.RejectedNodes), "node config rejected", "node configs rejected")
	add(len(r.DroppedPorts), "port beyond multinic9 dropped", "ports beyond multinic9 dropped")
	add(subnets[KindMissing], "target subnet not found", "target subnets not found")
	add(subnets[KindUnreadable], "target subnet unreadable", "target subnets unreadable")
	add(len(r.SkippedSubnets)-subnets[KindMissing]-subnets[KindUnreadable], "subnet without usable MTU", "subnets without usable MTU")
	add(len(r.LeftOutAddresses), "address left out (IPv6 or a port's extra fixed IP)", "addresses left out (IPv6 or a port's extra fixed IPs)")
	add(len(r.NodeNameWarnings), "node name the agent serves only in part", "node names the agent serves only in part")
	add(len(r.RemovalFailures), "node removal failed", "node removals failed")
	return strings.Join(parts, ", ")
}

// DroppedPort is a selected port that did not fit into the ten interface
// names of its node.
type DroppedPort struct {
	InstanceID string
	PortID     string
	MACAddress string
}

// SkippedVM is a VM that produced no node config.
type SkippedVM struct {
	InstanceID string
	NodeName   string // empty when Nova could not name it
	Reason     string
}

// DownPort is a selected port that Neutron reports DOWN.
type DownPort struct {
	NodeName   string
	InstanceID string
	PortID     string
	MACAddress string
}

// DownNodes are the names of nodes with at least one DOWN port, sorted.
func (r Result) DownNodes() []string {
	var names []string
	for _, p := range r.DownPorts {
		names = append(names, p.NodeName)
	}
	slices.Sort(names)
	return slices.Compact(names)
}
