package cli

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/multinic/multinic/inventory"
	"github.com/multinic/multinic/multinic"
	"github.com/multinic/multinic/operator/api/v1alpha1"
	"github.com/multinic/multinic/operator/crconfig"
	"github.com/multinic/multinic/viola"
)

// planReport is the plan as -o json/yaml emits it.
type planReport struct {
	Config     string `json:"config"`
	DryRun     bool   `json:"dryRun"`
	RoutingKey string `json:"routingKey,omitempty"`
	// Inventory names the source the diff is against; InventoryError says
	// why it could not be read (the diff then treats every node as new).
	Inventory      string `json:"inventory"`
	InventoryError string `json:"inventoryError,omitempty"`
	// Payload is exactly what the POST would carry (the nodes that are due),
	// in batches of at most 250, with x-provider-id: RoutingKey.
	Payload      []viola.NodeConfig `json:"payload"`
	Nodes        []viola.NodeConfig `json:"nodes"`
	PortStatuses map[string]string  `json:"portStatuses,omitempty"`
	// NodeNameSources say where each node's name came from: metadata,
	// hostname (Nova's OS-EXT-SRV-ATTR:hostname) or name (the server name
	// by Nova's host-name rules).
	NodeNameSources  map[string]string          `json:"nodeNameSources,omitempty"`
	Diff             []multinic.NodeDiff        `json:"diff"`
	SkippedVMs       []v1alpha1.SkippedVM       `json:"skippedVMs,omitempty"`
	RejectedNodes    []v1alpha1.RejectedNode    `json:"rejectedNodes,omitempty"`
	DroppedPorts     []v1alpha1.DroppedPort     `json:"droppedPorts,omitempty"`
	SkippedSubnets   []v1alpha1.SkippedSubnet   `json:"skippedSubnets,omitempty"`
	LeftOutAddresses []v1alpha1.LeftOutAddress  `json:"leftOutAddresses,omitempty"`
	NodeNameWarnings []v1alpha1.NodeNameWarning `json:"nodeNameWarnings,omitempty"`
	HeldPorts        []v1alpha1.HeldPort        `json:"heldPorts,omitempty"`
	RemovalPolicy    string                     `json:"removalPolicy,omitempty"`
	Warnings         []string                   `json:"warnings,omitempty"`
	Error            *failure                   `json:"error,omitempty"`
}

// failure is an error with its typed reason and the README's fix.
type failure struct {
	Reason  multinic.Reason `json:"reason"`
	Message string          `json:"message"`
	Fix     string          `json:"fix,omitempty"`
}

func newFailure(err error) *failure {
	return &failure{Reason: reasonOf(err), Message: message(err), Fix: fixFor(err)}
}

func newPlan(g *globals) *cobra.Command {
	var in inputFlags
	cmd := &cobra.Command{
		Use:   "plan [NAME]",
		Short: "Show what a pass would send, and how it differs from the inventory",
		Long: `Run a pass that stops where it would POST (multinic's Config.DryRun): nothing
is sent to Viola and nothing is written to the inventory, but the node configs,
skipped VMs, rejected nodes and dropped ports are those of a real pass.

Prints each node, where its name came from (metadata, Nova's hostname, or
the server name by Nova's rules) and its interfaces (name, MAC, address,
CIDR, MTU, port and its status), what is left out (VMs, target subnets,
addresses the node agent cannot serve, DOWN ports held back), then the
difference against the inventory: new, changed (with the changed fields),
unchanged, removed or orphaned (the node leaves: its VM left vmNames or Nova,
lost its last port on a target subnet, or was renamed; removalPolicy Delete
removes it through Viola, Orphan leaves it in the Biz cluster) and kept (VM
produced no node this pass, another OpenstackConfig selects it, or the record
is already orphaned). -o json or -o yaml adds "payload": exactly
the POST body the pass would send.

The inventory is read, never written: --inventory-file, --inventory-url, or on
a cluster the operator's inventory Service through the API server. Re-sends of
unchanged nodes (DOWN ports, resyncInterval) depend on the operator's timers
and are not shown; they keep Viola's copy current and never make the node
agent configure a node again (it acts once per spec change: see rerun).`,
		Example: fmt.Sprintf(`  %[1]s plan -n multinic-system biz-cluster-1
  %[1]s plan -n multinic-system biz-cluster-1 -o json | jq .payload
  %[1]s plan -f biz-cluster-1.yaml --encrypt-key-file ./key --inventory-file ./inventory.json`, g.opts.Name),
		Args: optionalName,
		RunE: func(cmd *cobra.Command, args []string) error {
			t, src, err := g.prepare(cmd.Context(), &in, args)
			if err != nil {
				return err
			}
			report := runPlan(cmd.Context(), g, t, &in, src)
			if in.output == "text" {
				printPlan(cmd.OutOrStdout(), report)
			} else if err := write(cmd.OutOrStdout(), in.output, report); err != nil {
				return err
			}
			if report.Error != nil || report.InventoryError != "" {
				return exitError(ExitFailed)
			}
			return nil
		},
	}
	in.bind(cmd.Flags())
	return cmd
}

// readOnly gives the pass the inventory's records and refuses writes, which
// a dry run never makes.
type readOnly []inventory.Record

func (r readOnly) List(inventory.Filter) []inventory.Record { return slices.Clone(r) }

func (readOnly) Upsert(string, ...viola.NodeConfig) (int, error) {
	return 0, errors.New("multinicctl never writes the inventory")
}

func (readOnly) PruneNodes(string, func(string, string) bool) (int, error) {
	return 0, errors.New("multinicctl never writes the inventory")
}

func runPlan(ctx context.Context, g *globals, t *target, in *inputFlags, src inventorySource) planReport {
	report := planReport{Config: t.ref, DryRun: true, Inventory: "none", Payload: []viola.NodeConfig{}, Nodes: []viola.NodeConfig{}, Diff: []multinic.NodeDiff{}}
	s := g.resolve(ctx, t, in, false)
	report.Warnings = s.warnings
	// One failure for both, so one edit can fix them.
	if err := crconfig.Join(s.err, s.keyErr); err != nil {
		report.Error = newFailure(err)
		return report
	}
	cfg := s.cfg
	cfg.DryRun = true
	report.RoutingKey = cfg.RoutingKey()
	if src == nil {
		report.Warnings = append(report.Warnings, "no inventory source (without a cluster pass --inventory-url or --inventory-file): every node shows as new")
	} else {
		report.Inventory = src.String()
		records, disabled, err := src.records(ctx, cfg.RoutingKey())
		switch {
		case err != nil:
			report.InventoryError = err.Error()
			report.Warnings = append(report.Warnings, "the inventory could not be read, so every node shows as new: "+err.Error())
		case disabled:
			report.Warnings = append(report.Warnings, "the inventory is disabled (INVENTORY_ENABLED=false): the operator compares with what it sent since it started, unknown here; every node shows as new")
		default:
			cfg.Inventory = readOnly(records)
		}
	}
	// What the operator adds from other CRs and from the status: the peers
	// (who owns a VM, which records are shared) and when held DOWN ports
	// were first seen.
	cfg.DownPortsFirstSeen = map[string]time.Time{}
	for _, h := range t.oc.Status.HeldPorts {
		cfg.DownPortsFirstSeen[h.PortID] = h.FirstSeen.Time
	}
	unseen := peersOf(ctx, t, &cfg)
	res, err := multinic.Sync(ctx, cfg)
	if err != nil {
		report.Error = newFailure(err)
		return report
	}
	if unseen != "" && slices.ContainsFunc(res.Diff, func(d multinic.NodeDiff) bool {
		return d.Change == multinic.ChangeRemoved || d.Change == multinic.ChangeOrphaned
	}) {
		report.Warnings = append(report.Warnings, unseen)
	}
	report.RemovalPolicy = string(cmp.Or(cfg.RemovalPolicy, multinic.RemovalOrphan))
	for _, h := range res.HeldPorts {
		report.HeldPorts = append(report.HeldPorts, v1alpha1.HeldPort{PortID: h.PortID, NodeName: h.NodeName, InstanceID: h.InstanceID,
			FirstSeen: metav1.NewTime(h.FirstSeen), Until: metav1.NewTime(h.Until)})
	}
	report.Nodes = append(report.Nodes, res.Nodes...)
	report.PortStatuses = res.PortStatuses
	for _, n := range res.Nodes {
		if report.NodeNameSources == nil {
			report.NodeNameSources = make(map[string]string, len(res.Nodes))
		}
		report.NodeNameSources[n.NodeName] = n.NodeNameSource
	}
	report.Diff = append(report.Diff, res.Diff...)
	due := map[string]bool{}
	for _, d := range res.Diff {
		due[d.NodeName] = d.Due
	}
	for _, n := range res.Nodes {
		if due[n.NodeName] {
			report.Payload = append(report.Payload, n)
		}
	}
	for _, vm := range res.Skipped {
		report.SkippedVMs = append(report.SkippedVMs, v1alpha1.SkippedVM{InstanceID: vm.InstanceID, NodeName: vm.NodeName, Reason: vm.Reason})
	}
	for _, n := range res.RejectedNodes {
		report.RejectedNodes = append(report.RejectedNodes, v1alpha1.RejectedNode{NodeName: n.NodeName, InstanceID: n.InstanceID, Reason: n.Reason})
	}
	for _, p := range res.DroppedPorts {
		report.DroppedPorts = append(report.DroppedPorts, v1alpha1.DroppedPort{InstanceID: p.InstanceID, PortID: p.PortID, MACAddress: p.MACAddress})
	}
	for _, sn := range res.SkippedSubnets {
		report.SkippedSubnets = append(report.SkippedSubnets, v1alpha1.SkippedSubnet{SubnetID: sn.SubnetID, NetworkID: sn.NetworkID, Reason: sn.Reason})
	}
	for _, a := range res.LeftOutAddresses {
		report.LeftOutAddresses = append(report.LeftOutAddresses, v1alpha1.LeftOutAddress{InstanceID: a.InstanceID, NodeName: a.NodeName, PortID: a.PortID, SubnetID: a.SubnetID, Address: a.Address, Reason: a.Reason})
	}
	for _, w := range res.NodeNameWarnings {
		report.NodeNameWarnings = append(report.NodeNameWarnings, v1alpha1.NodeNameWarning{NodeName: w.NodeName, InstanceID: w.InstanceID, Reason: w.Reason})
	}
	return report
}

// peersOf gives cfg the other OpenstackConfigs of its routing key, as the
// operator does (crconfig.Peers), or says why it cannot.
func peersOf(ctx context.Context, t *target, cfg *multinic.Config) string {
	if t.kube == nil {
		return "without a cluster this tool cannot see other OpenstackConfigs of routing key " + cfg.RoutingKey() +
			": a node whose VM another one selects is kept, not removed or orphaned"
	}
	var list v1alpha1.OpenstackConfigList
	if err := t.kube.client.List(ctx, &list); err != nil {
		return "other OpenstackConfigs could not be listed, so VMs they own or share are not shown as such: " + err.Error()
	}
	cfg.Peers = crconfig.Peers(t.oc, list.Items)
	return ""
}

var changeMarks = map[multinic.Change]string{
	multinic.ChangeNew: "+", multinic.ChangeChanged: "~", multinic.ChangeUnchanged: "=", multinic.ChangeRemoved: "-", multinic.ChangeKept: "·",
	multinic.ChangeOrphaned: "o",
}

func printPlan(out io.Writer, r planReport) {
	fmt.Fprintf(out, "Plan for OpenstackConfig %s: a dry run; nothing was sent, the inventory was not written\n", r.Config)
	for _, w := range r.Warnings {
		fmt.Fprintf(out, "! %s\n", w)
	}
	if r.Error != nil {
		fmt.Fprintf(out, "✗ %s\n", r.Error.Message)
		if r.Error.Fix != "" {
			fmt.Fprintf(out, "  fix: %s\n", r.Error.Fix)
		}
		return
	}
	fmt.Fprintf(out, "Routing key (x-provider-id): %s\n\n", r.RoutingKey)
	if len(r.Nodes) == 0 {
		fmt.Fprintln(out, "No node config would be sent.")
	} else {
		tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "NODE\tNAME FROM\tINSTANCE\tINTERFACE\tMAC\tADDRESS\tCIDR\tMTU\tPORT\tSTATUS")
		for _, n := range r.Nodes {
			for i, iface := range n.Interfaces {
				node, from, instance := n.NodeName, cmp.Or(r.NodeNameSources[n.NodeName], "-"), n.InstanceID
				if i > 0 {
					node, from, instance = "", "", ""
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", node, from, instance, iface.Name, iface.MACAddress, iface.Address, iface.CIDR, iface.MTU, iface.PortID, r.PortStatuses[iface.PortID])
			}
		}
		_ = tw.Flush()
	}
	section := func(title string, rows [][]string) {
		if len(rows) == 0 {
			return
		}
		fmt.Fprintf(out, "\n%s (%d):\n", title, len(rows))
		tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
		for _, row := range rows {
			fmt.Fprintf(tw, "  %s\n", strings.Join(row, "\t"))
		}
		_ = tw.Flush()
	}
	var rows [][]string
	for _, vm := range r.SkippedVMs {
		rows = append(rows, []string{vm.InstanceID, vm.Reason})
	}
	section("Skipped VMs", rows)
	rows = nil
	for _, n := range r.RejectedNodes {
		rows = append(rows, []string{n.NodeName, n.InstanceID, n.Reason})
	}
	section("Rejected node configs (left out of the POST)", rows)
	rows = nil
	for _, p := range r.DroppedPorts {
		rows = append(rows, []string{p.InstanceID, p.PortID, p.MACAddress})
	}
	section("Ports beyond multinic9 (dropped)", rows)
	rows = nil
	for _, sn := range r.SkippedSubnets {
		rows = append(rows, []string{sn.SubnetID, sn.Reason})
	}
	section("Target subnets left out (not found, unreadable, or without usable MTU)", rows)
	rows = nil
	for _, a := range r.LeftOutAddresses {
		rows = append(rows, []string{cmp.Or(a.NodeName, a.InstanceID), a.PortID, a.Address, a.Reason})
	}
	section("Addresses left out (the node agent cannot serve them)", rows)
	rows = nil
	for _, w := range r.NodeNameWarnings {
		rows = append(rows, []string{w.NodeName, w.Reason})
	}
	section("Node names the agent serves only in part (sent)", rows)
	rows = nil
	for _, h := range r.HeldPorts {
		rows = append(rows, []string{h.PortID, h.NodeName, fmt.Sprintf("DOWN and never sent: held until it is ACTIVE, at most %s from when it was first seen DOWN", h.Until.Sub(h.FirstSeen.Time))})
	}
	section("DOWN ports held back (downPortGracePeriod)", rows)

	fmt.Fprintf(out, "\nAgainst the inventory (%s):\n", r.Inventory)
	nameWidth, changeWidth := 0, 0
	for _, d := range r.Diff {
		nameWidth, changeWidth = max(nameWidth, len(d.NodeName)), max(changeWidth, len(d.Change))
	}
	counts := map[multinic.Change]int{}
	sending := 0
	for _, d := range r.Diff {
		counts[d.Change]++
		note := d.Note
		if d.Due {
			sending++
			note = "would be sent"
		}
		line := fmt.Sprintf("  %s %-*s  %-*s  %s", changeMarks[d.Change], nameWidth, d.NodeName, changeWidth, d.Change, note)
		fmt.Fprintln(out, strings.TrimRight(line, " "))
		for _, f := range d.Fields {
			fmt.Fprintf(out, "      %s\n", describeField(f))
		}
	}
	fmt.Fprintf(out, "\nWould send %s (%d new, %d changed); %d unchanged; %s would be removed through Viola, %d orphaned (left in the Biz cluster), %d kept. Removal policy: %s.\n",
		plural(sending, "node config", "node configs"), counts[multinic.ChangeNew], counts[multinic.ChangeChanged], counts[multinic.ChangeUnchanged],
		plural(counts[multinic.ChangeRemoved], "node", "nodes"), counts[multinic.ChangeOrphaned], counts[multinic.ChangeKept], r.RemovalPolicy)
}

func describeField(f multinic.FieldChange) string {
	switch {
	case f.Old == "":
		return f.Field + ": added " + f.New
	case f.New == "":
		return f.Field + ": removed " + f.Old
	}
	return f.Field + ": " + f.Old + " → " + f.New
}
