// Package cli is multinicctl, which is also the kubectl plugin
// kubectl-multinic: the operations checklist of an OpenstackConfig as
// commands. check walks every step of the flow and sends nothing, plan shows
// what a pass would send and how it differs from the inventory, status puts
// a CR's state and events on one screen. Both main packages
// (operator/cmd/multinicctl, operator/cmd/kubectl-multinic) are this
// package under another name.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/multinic/multinic/internal/version"
	"github.com/multinic/multinic/operator/crconfig"
)

// Exit statuses, documented in --help.
const (
	ExitOK     = 0 // every check step passed; the plan or status was shown
	ExitFailed = 1 // a check step failed, or the command could not do its job
	ExitUsage  = 2 // bad flags or arguments
)

// Options are what a caller (a main, a test, the demo) sets around the
// command line.
type Options struct {
	// Name is how the user invokes the command, for usage and examples:
	// "multinicctl" or "kubectl multinic".
	Name           string
	Stdout, Stderr io.Writer
	// Defaults are the client settings a CR does not carry; the zero value
	// means the operator's defaults. Tests shorten retries here.
	Defaults crconfig.Defaults
	// Now is the clock for ages in status; time.Now when nil.
	Now func() time.Time
	// RESTConfig, when set, is the cluster to use instead of a kubeconfig
	// (a program embedding the command, like the demo); -n still applies.
	RESTConfig *rest.Config
}

// Main runs the command with the process's arguments, streams and signals
// and returns the exit status.
func Main(name string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return Run(ctx, Options{Name: name, Stdout: os.Stdout, Stderr: os.Stderr}, os.Args[1:])
}

// Run executes one command line and returns the exit status.
func Run(ctx context.Context, opts Options, args []string) int {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	cmd := newRoot(&opts)
	cmd.SetArgs(args)
	cmd.SetOut(opts.Stdout)
	cmd.SetErr(opts.Stderr)
	err := cmd.ExecuteContext(ctx)
	var exit exitError
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &exit):
		return int(exit)
	case errors.As(err, new(usageError)):
		fmt.Fprintf(opts.Stderr, "%s: %v\nRun '%s --help' for usage.\n", opts.Name, err, cmd.CommandPath())
		return ExitUsage
	default:
		fmt.Fprintf(opts.Stderr, "%s: %v\n", opts.Name, err)
		return ExitFailed
	}
}

// exitError ends a command whose output already said what went wrong.
type exitError int

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

// usageError is a mistake on the command line.
type usageError struct{ error }

// globals are the flags every command shares: kubectl's connection flags.
type globals struct {
	opts      *Options
	kubeFlags clientcmd.ConfigOverrides
	rules     *clientcmd.ClientConfigLoadingRules
}

func newRoot(opts *Options) *cobra.Command {
	g := &globals{opts: opts, rules: clientcmd.NewDefaultClientConfigLoadingRules()}
	root := &cobra.Command{
		// The binary's name; usage lines show opts.Name ("kubectl
		// multinic" for the plugin) through the display-name annotation.
		Use:         strings.ReplaceAll(opts.Name, " ", "-"),
		Annotations: map[string]string{cobra.CommandDisplayNameAnnotation: opts.Name},
		Short:       "Check, plan, inspect and re-run multinic OpenstackConfigs",
		Long: `The operations checklist of an OpenstackConfig as commands.

  check   walk every step of the flow (Contrabass, Keystone, Neutron, Nova,
          Viola, inventory) and send nothing; exit status 0 only when every
          step passes
  plan    run a pass that posts nothing and writes nothing, and show the node
          configs and how they differ from the inventory
  status  conditions, last sync, skipped VMs, DOWN ports and recent events
  rerun   re-run the node agent for one node: DELETE and re-create its config
          through Viola (the agent acts once per spec change, never on a
          re-send)

A CR is read from the cluster (NAME, with kubectl's --kubeconfig, --context
and -n) or from a file (-f) with no cluster at all. kubectl's other
connection flags (--cluster, --user, --server, --token, --as, ...) work too.

Exit status: 0 success, 1 a check failed or the command could not run,
2 bad usage.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		// The plugin convention: kubectl passes its own flags through, so
		// the same flags mean the same things.
		CompletionOptions: cobra.CompletionOptions{HiddenDefaultCmd: true},
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	// The operator's --version line. Declared here so cobra adds no -v,
	// which kubectl users know as log verbosity.
	root.Version = version.Get().String(root.Name())
	root.SetVersionTemplate("{{.Version}}\n")
	root.Flags().Bool("version", false, "print version, commit and build date, then exit")
	flags := root.PersistentFlags()
	flags.StringVar(&g.rules.ExplicitPath, clientcmd.RecommendedConfigPathFlag, "", "path to the kubeconfig file (default $KUBECONFIG or ~/.kube/config)")
	clientcmd.BindOverrideFlags(&g.kubeFlags, flags, clientcmd.RecommendedConfigOverrideFlags(""))
	// Shown in every command's help: the flags people pass daily. The rest
	// of kubectl's connection flags work but would bury the command's own.
	shown := map[string]bool{clientcmd.RecommendedConfigPathFlag: true, clientcmd.FlagContext: true, clientcmd.FlagNamespace: true, clientcmd.FlagTimeout: true}
	flags.VisitAll(func(f *pflag.Flag) {
		if !shown[f.Name] {
			f.Hidden = true
		}
	})
	root.AddCommand(newCheck(g), newPlan(g), newStatus(g), newRerun(g))
	return root
}

// optionalName accepts at most one argument, the OpenstackConfig name, and
// reports more as a usage error.
func optionalName(_ *cobra.Command, args []string) error {
	if len(args) > 1 {
		return usageError{fmt.Errorf("expected at most 1 argument (the OpenstackConfig name), got %d: %q", len(args), args)}
	}
	return nil
}
