package cli

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/multinic/multinic/internal/safetext"
	"github.com/multinic/multinic/multinic"
)

// checkStep is one line of the check, as printed and as -o json/yaml emits it.
type checkStep struct {
	Name       string               `json:"name"`
	Title      string               `json:"title"`
	Status     multinic.CheckStatus `json:"status"`
	DurationMS int64                `json:"durationMs"`
	Details    []string             `json:"details,omitempty"`
	Warnings   []string             `json:"warnings,omitempty"`
	Reason     multinic.Reason      `json:"reason,omitempty"`
	Error      string               `json:"error,omitempty"`
	Fix        string               `json:"fix,omitempty"`
}

type checkReport struct {
	Config string      `json:"config"`
	OK     bool        `json:"ok"`
	Steps  []checkStep `json:"steps"`
}

// Steps of the check besides the library's.
const (
	stepSettings  = "settings"
	stepKey       = "encrypt-key"
	stepInventory = "inventory"
)

func newCheck(g *globals) *cobra.Command {
	var in inputFlags
	cmd := &cobra.Command{
		Use:   "check [NAME]",
		Short: "Walk every step of the flow for an OpenstackConfig, sending nothing",
		Long: `Walk every step of the flow for an OpenstackConfig and send nothing: one line
per step with ✓ or ✗, the time it took and, on failure, the typed reason the
operator would report and the fix from the README's troubleshooting table.

  settings      the CR's settings, as the operator reads them
  encrypt-key   found (and where: Secret reference, default Secret, setting)
                and 16, 24 or 32 bytes
  contrabass    reachable, provider found
  decrypt       the admin password decrypts
  keystone      a token for the project
  catalog       network and compute endpoints for the interface/region, or
                the overrides
  subnets       each target subnet resolves, its network's MTU is 68-9000
  ports         ports per VM: counts, statuses, what is selected
  nova          Nova names every VM, each name a valid node name
  nodes         the node configs build and are valid
  viola         the Viola endpoint accepts a connection (TCP, and TLS for
                https); nothing is posted
  inventory     the inventory API answers (GET only)

Independent steps still run after a failure; steps that need a failed
step's result, or a setting that is missing or unusable, are skipped. Exit
status 0 only when no step failed.
Secrets (the key, the decrypted password, tokens) are never printed.`,
		Example: fmt.Sprintf(`  # a CR in the cluster, with kubectl's flags
  %[1]s check -n multinic-system biz-cluster-1
  %[1]s check biz-cluster-1 --context prod -n multinic-system -o json

  # a CR file before it is applied, with no cluster at all
  %[1]s check -f biz-cluster-1.yaml --encrypt-key-file ./key --viola-endpoint http://viola-api:8080`, g.opts.Name),
		Args: optionalName,
		RunE: func(cmd *cobra.Command, args []string) error {
			t, src, err := g.prepare(cmd.Context(), &in, args)
			if err != nil {
				return err
			}
			report := runCheck(cmd.Context(), g, t, &in, src, cmd.OutOrStdout())
			if in.output != "text" {
				if err := write(cmd.OutOrStdout(), in.output, report); err != nil {
					return err
				}
			}
			if !report.OK {
				return exitError(ExitFailed)
			}
			return nil
		},
	}
	in.bind(cmd.Flags())
	return cmd
}

// runCheck runs every step; in text mode each line is printed as soon as
// its step ends, so a hanging dependency shows where the time goes.
func runCheck(ctx context.Context, g *globals, t *target, in *inputFlags, src inventorySource, out io.Writer) checkReport {
	report := checkReport{Config: t.ref, OK: true}
	text := in.output == "text"
	if text {
		fmt.Fprintf(out, "Checking OpenstackConfig %s (nothing is sent)\n", t.ref)
	}
	add := func(st checkStep) {
		if st.Status == multinic.CheckFailed {
			report.OK = false
		}
		report.Steps = append(report.Steps, st)
		if text {
			printStep(out, st)
		}
	}
	failed := func(st *checkStep, err error) {
		st.Status, st.Reason, st.Error, st.Fix = multinic.CheckFailed, reasonOf(err), message(err), fixFor(err)
	}
	timed := func(name, title string, fn func(st *checkStep) error) {
		start := time.Now()
		st := checkStep{Name: name, Title: title, Status: multinic.CheckPassed}
		if err := fn(&st); err != nil {
			failed(&st, err)
		}
		st.DurationMS = time.Since(start).Milliseconds()
		add(st)
	}

	s := g.resolve(ctx, t, in, true)
	timed(stepSettings, "OpenstackConfig settings present", func(st *checkStep) error {
		st.Details = settingsDetails(t, s)
		st.Warnings = s.warnings
		return s.err
	})
	timed(stepKey, "Contrabass encrypt key found, 16, 24 or 32 bytes", func(st *checkStep) error {
		if s.keyErr != nil {
			return s.keyErr
		}
		st.Details = []string{fmt.Sprintf("from %s: %d bytes (AES-%d)", s.key.Source, len(s.key.Value), 8*len(s.key.Value))}
		return nil
	})
	// The flow goes on past bad settings: a step that needs one is
	// skipped, the others run. The library's config step says again what
	// the two steps above said, in its own terms, so it is left out when
	// they failed.
	_ = multinic.Check(ctx, s.cfg, func(st multinic.CheckStep) {
		if st.Name == multinic.StepConfig && (s.err != nil || s.keyErr != nil) {
			return
		}
		line := checkStep{Name: st.Name, Title: st.Title, Status: st.Status, DurationMS: st.Duration.Milliseconds(), Details: st.Details, Warnings: st.Warnings}
		if st.Err != nil {
			failed(&line, st.Err)
		}
		add(line)
	})
	if src == nil {
		add(checkStep{Name: stepInventory, Title: "inventory API answers", Status: multinic.CheckSkipped,
			Details: []string{"skipped: no inventory source without a cluster; pass --inventory-url or --inventory-file"}})
	} else {
		timed(stepInventory, "inventory API answers", func(st *checkStep) error {
			details, warnings, err := health(ctx, src, s.cfg.RoutingKey())
			st.Details, st.Warnings = details, warnings
			if err != nil {
				return &multinic.Error{Reason: multinic.ReasonInventory, Err: err}
			}
			return nil
		})
	}
	if text {
		printVerdict(out, report)
	}
	return report
}

func reasonOf(err error) multinic.Reason {
	if r := multinic.ReasonOf(err); r != "" {
		return r
	}
	return multinic.ReasonConfig
}

func settingsDetails(t *target, s settings) []string {
	cfg, spec := s.cfg, t.oc.Spec
	source := "the cluster"
	if t.kube == nil {
		source = "file " + t.ref
	}
	details := []string{
		fmt.Sprintf("OpenstackConfig %s/%s from %s", t.oc.Namespace, t.oc.Name, source),
		fmt.Sprintf("provider %s, project %s, routing key (x-provider-id) %s", cfg.ProviderID, cfg.ProjectID, cfg.RoutingKey()),
	}
	if cfg.Contrabass.Endpoint != "" {
		details = append(details, "contrabassEndpoint "+safetext.RedactURL(cfg.Contrabass.Endpoint))
	}
	if cfg.Viola.Endpoint != "" {
		details = append(details, fmt.Sprintf("violaEndpoint %s (from %s)", safetext.RedactURL(cfg.Viola.Endpoint), s.violaSource))
	}
	switch {
	case len(spec.SubnetIDs) > 0:
		details = append(details, "subnetIDs "+strings.Join(spec.SubnetIDs, ", "))
	case spec.SubnetID != "":
		details = append(details, "subnetID "+spec.SubnetID)
	case spec.SubnetName != "":
		details = append(details, "subnetName "+spec.SubnetName)
	}
	return append(details, plural(len(spec.VMNames), "VM", "VMs")+" in vmNames")
}

// maxDetailLines bounds the lines of one step in text; -o json has them all.
const maxDetailLines = 20

var marks = map[multinic.CheckStatus]string{multinic.CheckPassed: "✓", multinic.CheckFailed: "✗", multinic.CheckSkipped: "-"}

func printStep(out io.Writer, st checkStep) {
	duration := "skipped"
	if st.Status != multinic.CheckSkipped {
		duration = formatMillis(st.DurationMS)
	}
	fmt.Fprintf(out, "%s %-12s %7s  %s\n", marks[st.Status], st.Name, duration, st.Title)
	lines := st.Details
	if len(lines) > maxDetailLines {
		lines = append(lines[:maxDetailLines:maxDetailLines], fmt.Sprintf("… and %d more (-o json lists them all)", len(st.Details)-maxDetailLines))
	}
	for _, d := range lines {
		fmt.Fprintf(out, "      %s\n", d)
	}
	for _, w := range st.Warnings {
		fmt.Fprintf(out, "    ! %s\n", w)
	}
	if st.Error != "" {
		fmt.Fprintf(out, "    ✗ %s\n", st.Error)
	}
	if st.Fix != "" {
		fmt.Fprintf(out, "      fix: %s\n", st.Fix)
	}
}

func formatMillis(ms int64) string {
	if ms < 1000 {
		return fmt.Sprintf("%dms", ms)
	}
	return fmt.Sprintf("%.1fs", float64(ms)/1000)
}

func printVerdict(out io.Writer, report checkReport) {
	var failed []string
	for _, st := range report.Steps {
		if st.Status == multinic.CheckFailed {
			failed = append(failed, st.Name)
		}
	}
	if len(failed) == 0 {
		fmt.Fprintf(out, "\nOK: every step passed.\n")
		return
	}
	fmt.Fprintf(out, "\nFAILED: %d of %d steps (%s).\n", len(failed), len(report.Steps), strings.Join(failed, ", "))
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
