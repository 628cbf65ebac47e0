package openstack_test

import (
	"context"
	"fmt"

	"github.com/multinic/multinic/openstack"
	"github.com/multinic/multinic/openstack/openstacktest"
)

// Authenticate gets a project-scoped token and the catalog; the Session
// then lists the VMs' ports (batched and paged) and reads subnets.
func Example() {
	fake := openstacktest.NewServer()
	defer fake.Close()
	fleet := fake.AddFleet(openstacktest.Fleet{VMs: 2, TargetPortsPerVM: 2, OtherPortsPerVM: 1})

	ctx := context.Background()
	session, err := openstack.Authenticate(ctx, openstack.Credentials{
		IdentityURL: fake.URL, UserName: "admin", UserDomainName: "default", Password: "secret", ProjectID: "project-1",
	}, openstack.Options{})
	if err != nil {
		panic(err)
	}
	ports, err := session.Ports(ctx, fleet.VMIDs)
	if err != nil {
		panic(err)
	}
	subnet, err := session.Subnet(ctx, fleet.TargetSubnetIDs[0])
	if err != nil {
		panic(err)
	}
	mtu, err := session.NetworkMTU(ctx, subnet.NetworkID)
	fmt.Println(len(ports), "ports;", subnet.CIDR, "MTU", mtu, err)
	// Output: 6 ports; 10.1.0.0/16 MTU 1450 <nil>
}
