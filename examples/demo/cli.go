package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/multinic/multinic/multinic/multinictest"
	"github.com/multinic/multinic/operator/cli"
)

// cliTarget is what the CLI needs to reach the demo: the MGMT plane's
// kubeconfig, and the Viola endpoint and inventory of the operator the demo
// runs in process. A deployed operator has no such flags: the CLI reads
// them from its Deployment and inventory Service (--operator).
type cliTarget struct {
	kubeconfig, violaURL, inventoryURL, name string
}

// args are the command's arguments after "kubectl multinic" or
// "multinicctl"; status reads no Viola endpoint.
func (c cliTarget) args(command string) []string {
	args := []string{command, "-n", namespace, c.name, "--kubeconfig", c.kubeconfig}
	if command != "status" {
		args = append(args, "--viola-endpoint", c.violaURL)
	}
	return append(args, "--inventory-url", c.inventoryURL)
}

// commandLine is a command as a shell line that works as printed.
func commandLine(program string, args []string) string {
	quoted := make([]string, len(args))
	for i, a := range args {
		quoted[i] = shellQuote(a)
	}
	return program + " " + strings.Join(quoted, " ")
}

var shellSafe = regexp.MustCompile(`^[A-Za-z0-9_./:@%+=,-]+$`)

func shellQuote(s string) string {
	if shellSafe.MatchString(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// printCheckAndPlan runs "kubectl multinic check" and "plan" on the sample
// CR, as an operator on call would, with the arguments it prints: check
// walks every step and sends nothing, plan shows that right after the
// operator's pass nothing is due. The sample has a VM whose name is too
// long for the node agent, so check's nova step fails, as it should: that
// is the one failure allowed.
func printCheckAndPlan(ctx context.Context, out io.Writer, target cliTarget) error {
	for _, command := range []string{"check", "plan"} {
		args := target.args(command)
		fmt.Fprintf(out, "==> %s\n", commandLine("kubectl multinic", args))
		var text strings.Builder
		code := cli.Run(ctx, cli.Options{Name: "kubectl multinic", Stdout: io.MultiWriter(out, &text), Stderr: out}, args)
		switch {
		case code == cli.ExitOK:
		case command == "check" && code == cli.ExitFailed && strings.Contains(text.String(), "FAILED: 1 of 12 steps (nova)."):
			fmt.Fprintf(out, "==> check fails on purpose: the guest host name %s is longer than the node agent serves (42 characters), so a pass skips its VM\n", multinictest.LongHostname)
		default:
			return fmt.Errorf("kubectl multinic %s exited with status %d; see above", command, code)
		}
	}
	return nil
}

// printCLICommands lists what to try while the demo serves; each line works
// as printed, multinicctl's from the repository root.
func printCLICommands(out io.Writer, target cliTarget) {
	commands := []string{"status", "check", "plan"}
	fmt.Fprintln(out, "==> the CLI on the sample CR while the demo serves (kubectl finds the plugin on PATH: make build && export PATH=$PWD/bin:$PATH)")
	for _, command := range commands {
		fmt.Fprintf(out, "  %s\n", commandLine("kubectl multinic", target.args(command)))
	}
	fmt.Fprintln(out, "==> or without the plugin, from the repository root")
	for _, command := range commands {
		fmt.Fprintf(out, "  %s\n", commandLine("go run ./operator/cmd/multinicctl", target.args(command)))
	}
}

// writeKubeconfig gives an administrator's kubeconfig for a control plane,
// valid while the demo runs.
func writeKubeconfig(env *envtest.Environment, path string) error {
	user, err := env.AddUser(envtest.User{Name: "demo", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return err
	}
	data, err := user.KubeConfig()
	if err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o600)
}

// writeKubeconfigs writes mgmt.kubeconfig and biz.kubeconfig under dir.
func writeKubeconfigs(dir string, mgmt, biz *envtest.Environment) (mgmtPath, bizPath string, err error) {
	mgmtPath, bizPath = filepath.Join(dir, "mgmt.kubeconfig"), filepath.Join(dir, "biz.kubeconfig")
	if err := writeKubeconfig(mgmt, mgmtPath); err != nil {
		return "", "", fmt.Errorf("kubeconfig for the MGMT plane: %w", err)
	}
	if err := writeKubeconfig(biz, bizPath); err != nil {
		return "", "", fmt.Errorf("kubeconfig for the Biz plane: %w", err)
	}
	return mgmtPath, bizPath, nil
}
