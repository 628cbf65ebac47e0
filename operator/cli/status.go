package cli

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/util/duration"

	"github.com/multinic/multinic/multinic"
	"github.com/multinic/multinic/operator/api/v1alpha1"
)

// statusReport is status as -o json/yaml emits it.
type statusReport struct {
	Config             string                         `json:"config"`
	Generation         int64                          `json:"generation"`
	Status             v1alpha1.OpenstackConfigStatus `json:"status"`
	RoutingKey         string                         `json:"routingKey"`
	Inventory          string                         `json:"inventory,omitempty"`
	InventoryError     string                         `json:"inventoryError,omitempty"`
	Nodes              []nodeLine                     `json:"nodes,omitempty"`
	Events             []eventLine                    `json:"events"`
	PollFastInterval   string                         `json:"pollFastInterval,omitempty"`
	PollSlowInterval   string                         `json:"pollSlowInterval,omitempty"`
	DownPortFastMax    int32                          `json:"downPortFastRetryMax"`
	NextDownPortResend *time.Time                     `json:"nextDownPortResend,omitempty"`
	RemovalPolicy      string                         `json:"removalPolicy"`
	DownPortGrace      string                         `json:"downPortGracePeriod"`
	// operatorLogs is the command that shows the operator's log, for a CR
	// without status.
	operatorLogs string
}

// nodeLine is a node the inventory holds for the CR's VMs.
type nodeLine struct {
	NodeName   string `json:"nodeName"`
	InstanceID string `json:"instanceId"`
	// NameFrom is where the node name came from when it was last sent.
	NameFrom   string    `json:"nameFrom,omitempty"`
	Interfaces []string  `json:"interfaces"`
	UpdatedAt  time.Time `json:"updatedAt"`
	// Orphaned says why the node was left in the Biz cluster, when it was.
	Orphaned string `json:"orphaned,omitempty"`
}

type eventLine struct {
	LastSeen time.Time `json:"lastSeen"`
	Type     string    `json:"type"`
	Reason   string    `json:"reason"`
	Count    int32     `json:"count"`
	Message  string    `json:"message"`
}

func newStatus(g *globals) *cobra.Command {
	var in inputFlags
	events := 10
	cmd := &cobra.Command{
		Use:   "status NAME",
		Short: "One screen for an OpenstackConfig: conditions, nodes, skips, DOWN ports, removals, events",
		Long: `Show an OpenstackConfig's state as the operator last wrote it: the Ready and
Degraded conditions, last sync, change and resync, the last error, the removal
policy, the nodes (from the inventory, when it can be read, with where each
name came from), skipped VMs with their reasons (a VM another OpenstackConfig
owns says "claimed by"), DOWN ports held back by the grace period, nodes with
DOWN ports and their re-send state, nodes recently removed or orphaned, dropped
ports, target subnets left out, addresses and node names the node agent cannot
fully serve, rejected node configs, and the CR's recent events.

Re-sends keep Viola's copy of a node current; they do not make the node agent
configure the node again (it acts once per spec change). To re-run the agent
for one node, use rerun.`,
		Example: fmt.Sprintf(`  %[1]s status -n multinic-system biz-cluster-1
  %[1]s status -n multinic-system biz-cluster-1 --inventory-url http://localhost:18081
  %[1]s status -n multinic-system biz-cluster-1 -o yaml`, g.opts.Name),
		Args: optionalName,
		RunE: func(cmd *cobra.Command, args []string) error {
			if in.file != "" {
				return usageError{fmt.Errorf("status reads the CR from the cluster; -f is for check and plan")}
			}
			t, src, err := g.prepare(cmd.Context(), &in, args)
			if err != nil {
				return err
			}
			report, err := buildStatus(cmd.Context(), t, src, events)
			if err != nil {
				return err
			}
			if len(report.Status.Conditions) == 0 {
				report.operatorLogs = operatorLogsCommand(cmd.Context(), t, in.operator)
			}
			if in.output == "text" {
				printStatus(cmd.OutOrStdout(), report, g.opts.Now())
				return nil
			}
			return write(cmd.OutOrStdout(), in.output, report)
		},
	}
	in.bind(cmd.Flags())
	// check's and plan's inputs that status does not use.
	for _, name := range []string{"encrypt-key-file", "viola-endpoint", "viola-insecure-tls", "filename"} {
		_ = cmd.Flags().MarkHidden(name)
	}
	cmd.Flags().IntVar(&events, "events", events, "how many of the most recent events to show")
	return cmd
}

func buildStatus(ctx context.Context, t *target, src inventorySource, maxEvents int) (statusReport, error) {
	oc := t.oc
	set := oc.Spec.Settings
	r := statusReport{
		Config:           t.ref,
		Generation:       oc.Generation,
		Status:           oc.Status,
		RoutingKey:       multinic.Config{ProviderID: oc.Spec.Credentials.OpenstackProviderID, K8sProviderID: oc.Spec.Credentials.K8sProviderID}.RoutingKey(),
		PollFastInterval: cmp.Or(string(set.PollFastInterval), "20s"),
		PollSlowInterval: cmp.Or(string(set.PollSlowInterval), "2m"),
		DownPortFastMax:  5,
		Events:           []eventLine{},
		RemovalPolicy:    cmp.Or(set.RemovalPolicy, v1alpha1.RemovalPolicyOrphan),
		DownPortGrace:    cmp.Or(string(set.DownPortGracePeriod), "2m"),
	}
	if set.DownPortFastRetryMax != nil {
		r.DownPortFastMax = *set.DownPortFastRetryMax
	}
	if d := oc.Status.DownPortRetry; d != nil && d.LastAttempt != nil {
		interval := r.PollSlowInterval
		if d.FastAttempts < r.DownPortFastMax {
			interval = r.PollFastInterval
		}
		if every, err := time.ParseDuration(interval); err == nil {
			next := d.LastAttempt.Add(every).UTC()
			r.NextDownPortResend = &next
		}
	}
	if src != nil {
		r.Inventory = src.String()
		records, disabled, err := src.records(ctx, r.RoutingKey)
		switch {
		case err != nil:
			r.InventoryError = err.Error()
		case disabled:
			r.InventoryError = "the inventory is disabled (INVENTORY_ENABLED=false)"
		}
		for _, rec := range records {
			if !slices.Contains(oc.Spec.VMNames, rec.InstanceID) {
				continue // another CR's VM under the same routing key
			}
			var ifaces []string
			for _, iface := range rec.Config.Interfaces {
				ifaces = append(ifaces, iface.Name)
			}
			line := nodeLine{NodeName: rec.NodeName, InstanceID: rec.InstanceID, NameFrom: rec.NodeNameSource, Interfaces: ifaces, UpdatedAt: rec.UpdatedAt.UTC()}
			if rec.Orphaned != nil {
				line.Orphaned = rec.Orphaned.String()
			}
			r.Nodes = append(r.Nodes, line)
		}
	}
	list, err := t.kube.clientset.CoreV1().Events(oc.Namespace).List(ctx, metav1.ListOptions{
		FieldSelector: fields.Set{"involvedObject.kind": "OpenstackConfig", "involvedObject.name": oc.Name, "involvedObject.uid": string(oc.UID)}.String(),
	})
	if err != nil {
		return r, fmt.Errorf("list the events of %s: %w", t.ref, err)
	}
	for _, e := range list.Items {
		r.Events = append(r.Events, eventLine{LastSeen: lastSeen(e).UTC(), Type: e.Type, Reason: e.Reason, Count: max(e.Count, seriesCount(e), 1), Message: e.Message})
	}
	slices.SortStableFunc(r.Events, func(a, b eventLine) int { return a.LastSeen.Compare(b.LastSeen) })
	if len(r.Events) > maxEvents {
		r.Events = r.Events[len(r.Events)-max(maxEvents, 0):]
	}
	return r, nil
}

// lastSeen is when an event last happened, whichever API wrote it: core/v1
// recorders set lastTimestamp, events.k8s.io/v1 (the operator's) eventTime
// and, when repeated, series.
func lastSeen(e corev1.Event) time.Time {
	t := e.CreationTimestamp.Time
	for _, c := range []time.Time{e.FirstTimestamp.Time, e.LastTimestamp.Time, e.EventTime.Time} {
		if c.After(t) {
			t = c
		}
	}
	if e.Series != nil && e.Series.LastObservedTime.After(t) {
		t = e.Series.LastObservedTime.Time
	}
	return t
}

func seriesCount(e corev1.Event) int32 {
	if e.Series != nil {
		return e.Series.Count
	}
	return 0
}

func printStatus(out io.Writer, r statusReport, now time.Time) {
	st := r.Status
	ago := func(t time.Time) string {
		if t.IsZero() {
			return "never"
		}
		return fmt.Sprintf("%s (%s ago)", t.UTC().Format(time.RFC3339), duration.HumanDuration(now.Sub(t)))
	}
	metaAgo := func(t *metav1.Time) string {
		if t == nil {
			return "never"
		}
		return ago(t.Time)
	}
	fmt.Fprintf(out, "OpenstackConfig %s (generation %d), routing key %s\n", r.Config, r.Generation, r.RoutingKey)
	if len(st.Conditions) == 0 {
		fmt.Fprintln(out, "! no status yet: is the operator running? "+r.operatorLogs)
	} else if st.ObservedGeneration < r.Generation {
		fmt.Fprintf(out, "! the status describes generation %d: the operator has not processed the latest spec yet\n", st.ObservedGeneration)
	}
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	if len(st.Conditions) > 0 {
		fmt.Fprintln(out)
		fmt.Fprintln(tw, "CONDITION\tSTATUS\tREASON\tSINCE\tMESSAGE")
	}
	for _, c := range st.Conditions {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", c.Type, c.Status, c.Reason, duration.HumanDuration(now.Sub(c.LastTransitionTime.Time)), c.Message)
	}
	_ = tw.Flush()
	if c := meta.FindStatusCondition(st.Conditions, v1alpha1.ConditionReady); c != nil && c.Status == metav1.ConditionFalse {
		// A condition holds a reason and a message, no structure: the
		// fix is the reason's, and the message names the setting.
		if fix := fixForReason(multinic.Reason(c.Reason)); fix != "" {
			fmt.Fprintf(out, "fix: %s\n", fix)
		}
	}
	fmt.Fprintln(out)
	tw = tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "Last synced\t%s\n", metaAgo(st.LastSyncedAt))
	fmt.Fprintf(tw, "Last change sent\t%s\n", metaAgo(st.LastChangeAt))
	fmt.Fprintf(tw, "Last resync\t%s\n", metaAgo(st.LastResyncAt))
	fmt.Fprintf(tw, "Last error\t%s\n", cmp.Or(st.LastError, "none"))
	fmt.Fprintf(tw, "Nodes\t%d\n", st.Nodes)
	fmt.Fprintf(tw, "Removal policy\t%s\n", describePolicy(r.RemovalPolicy))
	fmt.Fprintf(tw, "DOWN-port grace\t%s\n", r.DownPortGrace)
	_ = tw.Flush()

	switch {
	case r.InventoryError != "":
		fmt.Fprintf(out, "\nNodes from the inventory (%s): not available: %s\n", r.Inventory, r.InventoryError)
	case r.Inventory != "":
		fmt.Fprintf(out, "\nNodes from the inventory (%s): %d\n", r.Inventory, len(r.Nodes))
		table(out, []string{"NODE", "NAME FROM", "INSTANCE", "INTERFACES", "UPDATED", "ORPHANED"}, len(r.Nodes), func(i int) []string {
			n := r.Nodes[i]
			return []string{n.NodeName, cmp.Or(n.NameFrom, "-"), n.InstanceID, strings.Join(n.Interfaces, ","), ago(n.UpdatedAt), cmp.Or(n.Orphaned, "-")}
		})
	}

	// The status lists at most MaxStatusListItems of each; the Degraded
	// condition's message counts them all.
	list := func(title string, n int, header []string, row func(int) []string) {
		if n == 0 {
			return
		}
		fmt.Fprintf(out, "\n%s (%d listed):\n", title, n)
		table(out, header, n, row)
	}
	list("Skipped VMs", len(st.SkippedVMs), []string{"INSTANCE", "NODE", "REASON"}, func(i int) []string {
		vm := st.SkippedVMs[i]
		return []string{vm.InstanceID, cmp.Or(vm.NodeName, "-"), vm.Reason}
	})
	if d := st.DownPortRetry; d != nil {
		nodes := strings.Join(d.Nodes, ", ")
		if d.MoreNodes > 0 {
			nodes += fmt.Sprintf(" and %d more", d.MoreNodes)
		}
		fmt.Fprintf(out, "\nNodes with DOWN ports: %s\n", nodes)
		fmt.Fprintf(out, "  re-sent %d of %d times every pollFastInterval (%s), then every pollSlowInterval (%s); last attempt %s",
			d.FastAttempts, r.DownPortFastMax, r.PollFastInterval, r.PollSlowInterval, metaAgo(d.LastAttempt))
		if r.NextDownPortResend != nil {
			fmt.Fprintf(out, "; next due %s", r.NextDownPortResend.Format(time.RFC3339))
		}
		fmt.Fprintln(out)
		fmt.Fprintln(out, "  a re-send keeps Viola's copy; the node agent configures a node once per spec change and does not retry")
		fmt.Fprintln(out, "  a failed Job (a MAC not in the guest yet): re-run it with the rerun command")
	}
	list("DOWN ports held back until ACTIVE or the grace period ends", len(st.HeldPorts), []string{"PORT", "NODE", "FIRST SEEN DOWN", "SENT ANYWAY AT"}, func(i int) []string {
		p := st.HeldPorts[i]
		return []string{p.PortID, cmp.Or(p.NodeName, "-"), ago(p.FirstSeen.Time), p.Until.UTC().Format(time.RFC3339)}
	})
	list("Nodes removed through Viola (latest first)", len(st.RemovedNodes), []string{"NODE", "INSTANCE", "WHEN", "REASON"}, func(i int) []string {
		n := st.RemovedNodes[i]
		return []string{n.NodeName, cmp.Or(n.InstanceID, "-"), ago(n.At.Time), n.Reason}
	})
	list("Nodes left in the Biz cluster, orphaned (latest first)", len(st.OrphanedNodes), []string{"NODE", "INSTANCE", "WHEN", "REASON"}, func(i int) []string {
		n := st.OrphanedNodes[i]
		return []string{n.NodeName, cmp.Or(n.InstanceID, "-"), ago(n.At.Time), n.Reason}
	})
	list("Ports beyond multinic9 (dropped)", len(st.DroppedPorts), []string{"INSTANCE", "PORT", "MAC"}, func(i int) []string {
		p := st.DroppedPorts[i]
		return []string{p.InstanceID, p.PortID, p.MACAddress}
	})
	list("Target subnets left out (not found, unreadable, or without usable MTU)", len(st.SkippedSubnets), []string{"SUBNET", "NETWORK", "REASON"}, func(i int) []string {
		s := st.SkippedSubnets[i]
		return []string{s.SubnetID, cmp.Or(s.NetworkID, "-"), s.Reason}
	})
	list("Addresses left out (the node agent cannot serve them)", len(st.LeftOutAddresses), []string{"NODE", "INSTANCE", "PORT", "ADDRESS", "REASON"}, func(i int) []string {
		a := st.LeftOutAddresses[i]
		return []string{cmp.Or(a.NodeName, "-"), a.InstanceID, a.PortID, a.Address, a.Reason}
	})
	list("Node names the agent serves only in part (sent)", len(st.NodeNameWarnings), []string{"NODE", "INSTANCE", "REASON"}, func(i int) []string {
		w := st.NodeNameWarnings[i]
		return []string{w.NodeName, w.InstanceID, w.Reason}
	})
	list("Rejected node configs", len(st.RejectedNodes), []string{"NODE", "INSTANCE", "REASON"}, func(i int) []string {
		n := st.RejectedNodes[i]
		return []string{n.NodeName, n.InstanceID, n.Reason}
	})

	if len(r.Events) == 0 {
		fmt.Fprintln(out, "\nEvents: none (the API server keeps them for an hour by default)")
		return
	}
	fmt.Fprintf(out, "\nEvents (the %d most recent, oldest first):\n", len(r.Events))
	table(out, []string{"LAST SEEN", "TYPE", "REASON", "COUNT", "MESSAGE"}, len(r.Events), func(i int) []string {
		e := r.Events[i]
		return []string{duration.HumanDuration(now.Sub(e.LastSeen)) + " ago", e.Type, e.Reason, fmt.Sprint(e.Count), e.Message}
	})
}

func table(out io.Writer, header []string, n int, row func(int) []string) {
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "  %s\n", strings.Join(header, "\t"))
	for i := range n {
		fmt.Fprintf(tw, "  %s\n", strings.Join(row(i), "\t"))
	}
	_ = tw.Flush()
}

// describePolicy says what a removal policy does, for people.
func describePolicy(policy string) string {
	if policy == v1alpha1.RemovalPolicyDelete {
		return "Delete (a node the config lets go is removed through Viola; the agent cleans it up)"
	}
	return "Orphan (a node the config lets go stays in the Biz cluster, its inventory record marked orphaned)"
}

// operatorLogsCommand is the kubectl command that shows the log of the
// operator --operator names, found as check finds it (by its release's
// labels); when it cannot be found, the command with the Deployment left
// for the reader to fill in.
func operatorLogsCommand(ctx context.Context, t *target, operator string) string {
	ref, err := parseOperatorRef(operator)
	if err != nil {
		return "kubectl logs -n <operator namespace> deployment/<operator Deployment>"
	}
	if t.kube != nil {
		if d, err := t.kube.operatorDeployment(ctx, ref); err == nil {
			return fmt.Sprintf("kubectl logs -n %s deployment/%s", d.Namespace, d.Name)
		}
	}
	return fmt.Sprintf("kubectl logs -n %s -l app.kubernetes.io/instance=%s,control-plane=controller-manager", ref.namespace, ref.release)
}
