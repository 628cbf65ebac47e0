package main

import (
	"context"
	"fmt"
	"io"

	"k8s.io/client-go/rest"

	"github.com/multinic/multinic/operator/cli"
)

// printCheckAndPlan runs "kubectl multinic check" and "plan" on the sample
// CR, as an operator on call would: check walks every step and sends
// nothing, plan shows that right after the operator's pass nothing is due.
// The operator's VIOLA_ENDPOINT is its option here, not a Deployment's
// environment, so it is passed as the flag.
func printCheckAndPlan(ctx context.Context, out io.Writer, mgmt *rest.Config, name, violaURL, inventoryURL string) error {
	for _, command := range []string{"check", "plan"} {
		fmt.Fprintf(out, "==> kubectl multinic %s -n %s %s\n", command, namespace, name)
		args := []string{command, "-n", namespace, name, "--viola-endpoint", violaURL, "--inventory-url", inventoryURL}
		if code := cli.Run(ctx, cli.Options{Name: "kubectl multinic", Stdout: out, Stderr: out, RESTConfig: mgmt}, args); code != cli.ExitOK {
			return fmt.Errorf("kubectl multinic %s exited with status %d; see above", command, code)
		}
	}
	return nil
}
