package cli

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/multinic/multinic/inventory"
	"github.com/multinic/multinic/operator/api/v1alpha1"
	"github.com/multinic/multinic/operator/crconfig"
	"github.com/multinic/multinic/viola"
)

// rerunReport is rerun as -o json/yaml emits it.
type rerunReport struct {
	Config        string `json:"config"`
	Node          string `json:"node"`
	InstanceID    string `json:"instanceId,omitempty"`
	RoutingKey    string `json:"routingKey,omitempty"`
	ViolaEndpoint string `json:"violaEndpoint,omitempty"`
	// Deleted is what the DELETE found: "removed" or "already gone"; empty
	// when it was not sent or failed.
	Deleted string `json:"deleted,omitempty"`
	// Posted says Viola accepted the node's config again.
	Posted     bool              `json:"posted"`
	Interfaces []viola.Interface `json:"interfaces,omitempty"`
	Warnings   []string          `json:"warnings,omitempty"`
	// Error says why rerun stopped, and what state it left.
	Error string `json:"error,omitempty"`
}

func newRerun(g *globals) *cobra.Command {
	var in inputFlags
	var node string
	pause := 15 * time.Second
	cmd := &cobra.Command{
		Use:   "rerun NAME --node NODE",
		Short: "Re-run the node agent for one node: DELETE and re-create its config through Viola",
		Long: `The node agent configures a node once per change of its MultiNicNodeConfig's
spec, and a Job that failed (say, a MAC that was not in the guest yet) is not
retried; re-sending the same config changes nothing. rerun makes the agent
start over for one node of an OpenstackConfig: it DELETEs the node's config
through Viola (the agent runs its cleanup Job for the node), waits --pause so
the cleanup starts first, then POSTs the config the operator last sent, taken
from the inventory (the agent configures the node with a new Job).

It refuses a node that is not the OpenstackConfig's: one the inventory does
not hold under its routing key, one whose VM it does not list, one left
orphaned, or one whose VM an older OpenstackConfig owns. It needs a Viola
that can remove node configs (DELETE). Nothing is written to the inventory.`,
		Example: fmt.Sprintf(`  %[1]s rerun -n multinic-system biz-cluster-1 --node worker-2
  %[1]s rerun -n multinic-system biz-cluster-1 --node worker-2 --inventory-url http://localhost:18081 -o json`, g.opts.Name),
		Args: optionalName,
		RunE: func(cmd *cobra.Command, args []string) error {
			if node == "" {
				return usageError{errors.New("--node is required: the node whose agent run to repeat")}
			}
			if pause < 0 {
				return usageError{fmt.Errorf("--pause must not be negative, got %s", pause)}
			}
			t, src, err := g.prepare(cmd.Context(), &in, args)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			text := in.output == "text"
			report := runRerun(cmd.Context(), g, t, &in, src, node, pause, func(format string, a ...any) {
				if text {
					fmt.Fprintf(out, format+"\n", a...)
				}
			})
			if !text {
				if err := write(out, in.output, report); err != nil {
					return err
				}
			} else if report.Error != "" {
				fmt.Fprintf(out, "✗ %s\n", report.Error)
			}
			if report.Error != "" {
				return exitError(ExitFailed)
			}
			return nil
		},
	}
	in.bind(cmd.Flags())
	_ = cmd.Flags().MarkHidden("encrypt-key-file") // rerun reads no OpenStack service
	cmd.Flags().StringVar(&node, "node", "", "the node (its MultiNicNodeConfig's name) whose agent run to repeat")
	cmd.Flags().DurationVar(&pause, "pause", pause, "wait between the DELETE and the POST, so the agent's cleanup Job for the node starts before its new configuration Job")
	return cmd
}

// runRerun does the work and says what it did through say, step by step.
func runRerun(ctx context.Context, g *globals, t *target, in *inputFlags, src inventorySource, node string, pause time.Duration, say func(string, ...any)) rerunReport {
	r := rerunReport{Config: t.ref, Node: node, RoutingKey: crconfig.RoutingKey(t.oc)}
	fail := func(format string, a ...any) rerunReport {
		r.Error = fmt.Sprintf(format, a...)
		return r
	}
	s := g.resolve(ctx, t, in, true)
	r.Warnings = s.warnings
	for _, w := range s.warnings {
		say("! %s", w)
	}
	if s.cfg.Viola.Endpoint == "" {
		return fail("no Viola endpoint: set settings.violaEndpoint or pass --viola-endpoint (the operator's VIOLA_ENDPOINT could not be found)")
	}
	r.ViolaEndpoint = s.cfg.Viola.Endpoint
	if src == nil {
		return fail("rerun re-sends the config the operator last sent, from its inventory: pass --inventory-url or --inventory-file (without a cluster)")
	}
	rec, err := nodeOfConfig(ctx, t, src, r.RoutingKey, node)
	if err != nil {
		return fail("%s; nothing was changed", err)
	}
	r.InstanceID = rec.InstanceID
	r.Interfaces = rec.Config.Interfaces
	if t.kube == nil {
		r.Warnings = append(r.Warnings, "without a cluster this tool cannot see other OpenstackConfigs: it does not know whether an older one owns this VM")
		say("! %s", r.Warnings[len(r.Warnings)-1])
	}
	say("Re-running the node agent for node %s of OpenstackConfig %s (VM %s), routing key %s, Viola %s", node, t.ref, rec.InstanceID, r.RoutingKey, r.ViolaEndpoint)

	vc, err := viola.NewClient(s.cfg.Viola)
	if err != nil {
		return fail("%s; nothing was changed", err)
	}
	outcome, err := vc.Delete(ctx, r.RoutingKey, node)
	switch {
	case errors.Is(err, viola.ErrDeleteUnsupported):
		return fail("%s: rerun needs a Viola that can remove node configs; nothing was changed", err)
	case err != nil:
		return fail("%s; nothing was changed", err)
	}
	r.Deleted = string(outcome)
	if outcome == viola.AlreadyGone {
		say("✓ DELETE %s: Viola held no config of the node (already gone)", viola.NodeConfigPath(node))
	} else {
		say("✓ DELETE %s: removed; the agent runs its cleanup Job for the node", viola.NodeConfigPath(node))
	}
	if pause > 0 {
		say("… waiting %s so the cleanup starts before the new configuration", pause)
		select {
		case <-time.After(pause):
		case <-ctx.Done():
			return fail("interrupted after the DELETE: node %s has no config in the Biz cluster now; run rerun again, or the operator puts it back at its next resync (resyncInterval)", node)
		}
	}
	if _, err := vc.Post(ctx, r.RoutingKey, []viola.NodeConfig{rec.Config}); err != nil {
		return fail("%s: node %s was deleted but not re-created; run rerun again, or the operator puts it back at its next resync (resyncInterval)", err, node)
	}
	r.Posted = true
	names := make([]string, len(rec.Config.Interfaces))
	for i, iface := range rec.Config.Interfaces {
		names[i] = iface.Name
	}
	say("✓ POST the config the operator last sent (%s): accepted; the agent configures the node with a new Job", strings.Join(names, ", "))
	say("Follow it in the Biz cluster: kubectl get multinicnodeconfigs -n multinic-system %s -w", node)
	return r
}

// nodeOfConfig is the inventory record of node, if the node is the CR's:
// recorded under its routing key, for a VM it lists, not orphaned, and not
// owned by an older OpenstackConfig.
func nodeOfConfig(ctx context.Context, t *target, src inventorySource, key, node string) (inventory.Record, error) {
	records, disabled, err := src.records(ctx, key)
	switch {
	case err != nil:
		return inventory.Record{}, fmt.Errorf("read the inventory (%s): %w", src, err)
	case disabled:
		return inventory.Record{}, errors.New("the operator's inventory is disabled (INVENTORY_ENABLED=false), so the config it last sent is unknown")
	}
	i := slices.IndexFunc(records, func(r inventory.Record) bool { return r.NodeName == node })
	if i < 0 {
		return inventory.Record{}, fmt.Errorf("the inventory (%s) holds no node %s under routing key %s: it is not a node of %s (see its status or plan)", src, node, key, t.ref)
	}
	rec := records[i]
	switch {
	case !slices.Contains(t.oc.Spec.VMNames, rec.InstanceID):
		return rec, fmt.Errorf("node %s is VM %s's, which %s does not list in vmNames", node, rec.InstanceID, t.ref)
	case rec.Orphaned != nil:
		return rec, fmt.Errorf("node %s was orphaned (%s): no OpenstackConfig keeps it; list its VM again, or delete it in the Biz cluster", node, rec.Orphaned)
	}
	if t.kube != nil {
		var list v1alpha1.OpenstackConfigList
		if err := t.kube.client.List(ctx, &list); err != nil {
			return rec, fmt.Errorf("list OpenstackConfigs to check who owns VM %s: %w", rec.InstanceID, err)
		}
		for _, peer := range crconfig.Peers(t.oc, list.Items) {
			if peer.Prior && slices.Contains(peer.VMIDs, rec.InstanceID) {
				return rec, fmt.Errorf("VM %s of node %s is claimed by %s, an older OpenstackConfig of routing key %s: rerun it there", rec.InstanceID, node, peer.Name, key)
			}
		}
	}
	return rec, nil
}
