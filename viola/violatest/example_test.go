package violatest_test

import (
	"context"
	"fmt"
	"net/http"

	"github.com/multinic/multinic/viola"
	"github.com/multinic/multinic/viola/violatest"
)

// The fake validates POSTs like the Viola test API, records what it
// accepted per provider, and can fail on demand.
func Example() {
	fake := violatest.NewServer()
	defer fake.Close()
	fake.Fail(http.StatusInternalServerError, 1)

	client, _ := viola.NewClient(viola.Options{Endpoint: fake.URL, RetryWaitMin: 1, RetryWaitMax: 1})
	node := viola.NodeConfig{NodeName: "worker-1", InstanceID: "vm-1", Interfaces: []viola.Interface{
		{ID: 0, Name: "multinic0", MACAddress: "fa:16:3e:00:00:01", Address: "10.0.0.11", CIDR: "10.0.0.0/24", MTU: 1450},
	}}
	_, err := client.Post(context.Background(), "provider-1", []viola.NodeConfig{node})
	fmt.Println(err, fake.Rejected(), len(fake.Posts()), fake.Posts()[0].ProviderID)
	// Output: <nil> 1 1 provider-1
}
