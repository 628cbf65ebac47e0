package fakes

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/multinic/multinic/multinic"
	"github.com/multinic/multinic/multinic/multinictest"
	"github.com/multinic/multinic/openstack/openstacktest"
)

func TestNICReport(t *testing.T) {
	env := multinictest.NewEnv() // fake Contrabass, OpenStack and Viola, wired together
	defer env.Close()
	// Build exactly the topology the test needs.
	env.OpenStack.AddNetwork(openstacktest.Network{ID: "net-1", MTU: 1500})
	env.OpenStack.AddSubnet(openstacktest.Subnet{ID: "sub-1", NetworkID: "net-1", CIDR: "172.16.0.0/24"})
	env.OpenStack.AddVM(openstacktest.VM{ID: "vm-1", Name: "node-a"})
	for _, ip := range []string{"172.16.0.5", "172.16.0.6"} {
		env.OpenStack.AddPort(openstacktest.Port{NetworkID: "net-1", DeviceID: "vm-1",
			FixedIPs: []openstacktest.FixedIP{{SubnetID: "sub-1", IPAddress: ip}}})
	}

	lines, err := NICReport(context.Background(), env.Config([]string{"vm-1"}, "sub-1"))
	require.NoError(t, err)
	assert.Equal(t, []string{"node-a: 2 NICs"}, lines)
	assert.Len(t, env.Viola.Posts(), 1, "the Viola fake recorded the POST")

	// Fault injection: Neutron answers 503 to every ports request.
	env.OpenStack.Fail(openstacktest.RoutePorts, http.StatusServiceUnavailable, -1)
	_, err = NICReport(context.Background(), env.Config([]string{"vm-1"}, "sub-1"))
	assert.Equal(t, multinic.ReasonNeutronPort, multinic.ReasonOf(err))
}
