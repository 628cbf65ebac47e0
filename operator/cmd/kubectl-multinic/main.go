// Command kubectl-multinic is multinicctl as a kubectl plugin: with this
// binary on the PATH, "kubectl multinic check|plan|status|rerun" runs it, and
// kubectl's --kubeconfig, --context and -n mean what they mean to kubectl.
package main

import (
	"os"

	"github.com/multinic/multinic/operator/cli"
)

func main() { os.Exit(cli.Main("kubectl multinic")) }
