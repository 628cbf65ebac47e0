package openstacktest_test

import (
	"context"
	"fmt"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/ports"
	"github.com/multinic/multinic/openstack/openstacktest"
)

func Example() {
	s := openstacktest.NewServer()
	defer s.Close()
	fleet := s.AddFleet(openstacktest.Fleet{VMs: 3, TargetPortsPerVM: 2})
	s.SetPageSize(4) // force Neutron to paginate

	ctx := context.Background()
	provider, err := openstack.AuthenticatedClient(ctx, gophercloud.AuthOptions{
		IdentityEndpoint: s.URL + "/v3",
		Username:         "admin",
		Password:         "secret",
		DomainName:       "default",
		Scope:            &gophercloud.AuthScope{ProjectID: "project-1"},
	})
	if err != nil {
		panic(err)
	}
	network, err := openstack.NewNetworkV2(provider, gophercloud.EndpointOpts{})
	if err != nil {
		panic(err)
	}
	pages, err := ports.List(network, ports.ListOpts{NetworkID: fleet.TargetNetworkIDs[0]}).AllPages(ctx)
	if err != nil {
		panic(err)
	}
	got, _ := ports.ExtractPorts(pages)
	fmt.Println(network.Endpoint == s.NeutronURL()+"/", len(got), s.Requests(openstacktest.RoutePorts))
	// Output: true 6 2
}
