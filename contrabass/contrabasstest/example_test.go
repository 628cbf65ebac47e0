package contrabasstest_test

import (
	"context"
	"fmt"
	"net/http"

	"github.com/multinic/multinic/contrabass"
	"github.com/multinic/multinic/contrabass/contrabasstest"
)

// The fake encrypts passwords as Contrabass does and can fail on demand,
// so a test sees the client's retries.
func Example() {
	fake := contrabasstest.NewServer("conbaEncrypt2025")
	defer fake.Close()
	fake.AddProvider("provider-1", contrabasstest.ProviderSpec{AdminID: "admin", AdminPassword: "pw", Domain: "default", KeystoneURL: "http://keystone"})
	fake.Fail(http.StatusServiceUnavailable, 2) // the next two requests answer 503

	client, _ := contrabass.NewClient(contrabass.Options{Endpoint: fake.URL, RetryWaitMin: 1, RetryWaitMax: 1})
	p, err := client.GetProvider(context.Background(), "provider-1")
	fmt.Println(p.Attributes.AdminID, err, fake.Requests())
	// Output: admin <nil> 3
}
