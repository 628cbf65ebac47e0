package multinic_test

import (
	"context"
	"fmt"

	"github.com/multinic/multinic/inventory"
	"github.com/multinic/multinic/multinic"
	"github.com/multinic/multinic/multinic/multinictest"
)

// Sync needs no Kubernetes: point it at Contrabass and Viola, name the VMs
// and subnets, and it sends one node config per VM. Here the services are
// the in-process fakes of multinictest.
func ExampleSync() {
	env := multinictest.NewEnv()
	defer env.Close()
	sample := env.AddSample()

	cfg := env.Config(sample.VMIDs, sample.SubnetA, sample.SubnetB)
	cfg.Inventory, _ = inventory.Open("") // remembers what was sent, so the second pass sends nothing

	for pass := 1; pass <= 2; pass++ {
		res, err := multinic.Sync(context.Background(), cfg)
		if err != nil {
			fmt.Println(multinic.ReasonOf(err), err)
			return
		}
		fmt.Printf("pass %d: sent %v, unchanged %v, DOWN on %v\n", pass, res.Sent, res.Unchanged, res.DownNodes())
	}
	for _, iface := range env.Viola.Nodes(multinictest.ProviderID)["worker-1"].Interfaces {
		fmt.Printf("worker-1 %s %s %s/%s mtu %d\n", iface.Name, iface.MACAddress, iface.Address, iface.CIDR[len(iface.CIDR)-2:], iface.MTU)
	}
	// Output:
	// pass 1: sent [worker-1 worker-2 worker-3], unchanged [], DOWN on [worker-2]
	// pass 2: sent [], unchanged [worker-1 worker-2 worker-3], DOWN on [worker-2]
	// worker-1 multinic0 fa:16:3e:0a:00:01 10.10.0.11/24 mtu 1450
	// worker-1 multinic1 fa:16:3e:0b:00:01 10.20.0.11/24 mtu 9000
}
