package viola_test

import (
	"context"
	"fmt"

	"github.com/multinic/multinic/viola"
	"github.com/multinic/multinic/viola/violatest"
)

// Post sends node configs in batches under an x-provider-id and reports
// which nodes Viola accepted.
func ExampleClient_Post() {
	fake := violatest.NewServer()
	defer fake.Close()
	client, err := viola.NewClient(viola.Options{Endpoint: fake.URL})
	if err != nil {
		panic(err)
	}
	res, err := client.Post(context.Background(), "k8s-provider-1", []viola.NodeConfig{{
		NodeName: "worker-1", InstanceID: "vm-1",
		Interfaces: []viola.Interface{{ID: 0, Name: viola.InterfaceName(0), MACAddress: "fa:16:3e:00:00:01", Address: "10.0.0.11", CIDR: "10.0.0.0/24", MTU: 1450}},
	}})
	fmt.Println(res.Accepted, err)
	fmt.Println(fake.Nodes("k8s-provider-1")["worker-1"].Interfaces[0].Name)
	// Output:
	// [worker-1] <nil>
	// multinic0
}

// Delete removes one node's config; a node Viola does not hold is already
// gone, which is what a removal wants.
func ExampleClient_Delete() {
	fake := violatest.NewServer()
	defer fake.Close()
	client, err := viola.NewClient(viola.Options{Endpoint: fake.URL})
	if err != nil {
		panic(err)
	}
	_, _ = client.Post(context.Background(), "k8s-provider-1", []viola.NodeConfig{{
		NodeName: "worker-1", InstanceID: "vm-1",
		Interfaces: []viola.Interface{{ID: 0, Name: viola.InterfaceName(0), MACAddress: "fa:16:3e:00:00:01", Address: "10.0.0.11", CIDR: "10.0.0.0/24", MTU: 1450}},
	}})
	fmt.Println(client.Delete(context.Background(), "k8s-provider-1", "worker-1"))
	fmt.Println(client.Delete(context.Background(), "k8s-provider-1", "worker-1"))
	// Output:
	// removed <nil>
	// already gone <nil>
}

// Validate refuses what the node agent could not apply, naming the field.
func ExampleNodeConfig_Validate() {
	cfg := viola.NodeConfig{NodeName: "worker-1", Interfaces: []viola.Interface{{ID: 0, Name: "multinic0", MACAddress: "fa-16-3e-00-00-01", MTU: 40}}}
	fmt.Println(cfg.Validate())
	cfg.Interfaces[0].MACAddress, cfg.Interfaces[0].MTU = "fa:16:3e:00:00:01", 1450
	fmt.Println(cfg.Validate())
	// Output:
	// node config "worker-1": interfaces[0].macAddress "fa-16-3e-00-00-01" is not six colon-separated hex pairs; interfaces[0].mtu 40 is outside 68-9000
	// <nil>
}
