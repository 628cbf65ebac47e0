// Command multinicctl checks, plans and shows multinic OpenstackConfigs, and
// re-runs the node agent for one node: the operations checklist as
// commands. See "multinicctl --help".
package main

import (
	"os"

	"github.com/multinic/multinic/operator/cli"
)

func main() { os.Exit(cli.Main("multinicctl")) }
