package multinictest_test

import (
	"context"
	"fmt"

	"github.com/multinic/multinic/multinic"
	"github.com/multinic/multinic/multinic/multinictest"
)

// An Env wires the Contrabass, OpenStack and Viola fakes together; the
// sample topology has three workers on two target subnets.
func Example() {
	env := multinictest.NewEnv()
	defer env.Close()
	sample := env.AddSample()

	res, err := multinic.Sync(context.Background(), env.Config(sample.VMIDs, sample.SubnetA, sample.SubnetB))
	fmt.Println(res.Sent, err)
	for _, node := range res.Sent {
		fmt.Println(node, "interfaces:", len(env.Viola.Nodes(multinictest.ProviderID)[node].Interfaces))
	}
	// Output:
	// [worker-1 worker-2 worker-3] <nil>
	// worker-1 interfaces: 2
	// worker-2 interfaces: 2
	// worker-3 interfaces: 1
}
