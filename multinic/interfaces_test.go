package multinic_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/multinic/multinic/multinic"
	"github.com/multinic/multinic/openstack/openstacktest"
)

// A target subnet whose network has no usable MTU yields no interfaces and
// is reported; the other subnet and the other nodes still go out.
func TestSyncSubnetWithoutUsableMTU(t *testing.T) {
	tests := []struct {
		name    string
		network openstacktest.Network
		reason  string
	}{
		{"no mtu attribute", openstacktest.Network{ID: "net-b", Name: "biz-b", NoMTU: true}, "network net-b reports no MTU"},
		{"mtu above 9000", openstacktest.Network{ID: "net-b", Name: "biz-b", MTU: 9100}, "network net-b reports MTU 9100, outside 68-9000"},
		{"mtu below 68", openstacktest.Network{ID: "net-b", Name: "biz-b", MTU: 60}, "network net-b reports MTU 60, outside 68-9000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, sample := newEnv(t)
			env.OpenStack.AddNetwork(tt.network)
			// worker-6 has a port on subnet B only.
			vm4 := "00000000-0000-4000-8000-000000000006" // not one of the sample's
			env.OpenStack.AddVM(openstacktest.VM{ID: vm4, Name: "worker-6"})
			env.OpenStack.AddPort(openstacktest.Port{ID: "port-b-6", NetworkID: "net-b", DeviceID: vm4, MACAddress: "fa:16:3e:0b:00:06",
				FixedIPs: []openstacktest.FixedIP{{SubnetID: "subnet-b", IPAddress: "10.20.0.16"}}})
			res, err := multinic.Sync(context.Background(), env.Config(append(sample.VMIDs, vm4), sample.SubnetA, sample.SubnetB))
			require.NoError(t, err)

			assert.Equal(t, []multinic.SkippedSubnet{{SubnetID: "subnet-b", NetworkID: "net-b", Reason: tt.reason, Kind: multinic.KindUnusableMTU}}, res.SkippedSubnets)
			assert.Equal(t, []string{"worker-1", "worker-2", "worker-3"}, res.Sent)
			for _, n := range res.Nodes {
				for _, iface := range n.Interfaces {
					assert.Equal(t, "10.10.0.0/24", iface.CIDR, "%s: only subnet A interfaces", n.NodeName)
					assert.Equal(t, 1450, iface.MTU)
				}
			}
			require.Len(t, res.Skipped, 1)
			assert.Equal(t, vm4, res.Skipped[0].InstanceID)
			assert.Equal(t, "its ports on target subnets are all on subnets without a usable MTU (subnet-b: "+tt.reason+")", res.Skipped[0].Reason)
			assert.Equal(t, "1 VM skipped, 1 subnet without usable MTU", res.Degradation())
			assert.Empty(t, res.DownPorts, "worker-2's DOWN port was on subnet B")
		})
	}
}

// Every interface that reaches Viola carries what the node agent needs.
func TestSyncSendsCompleteInterfaces(t *testing.T) {
	env, sample := newEnv(t)
	_, err := multinic.Sync(context.Background(), env.Config(sample.VMIDs, sample.SubnetA, sample.SubnetB))
	require.NoError(t, err)
	require.NotEmpty(t, env.Viola.Posts())
	for _, post := range env.Viola.Posts() {
		for _, c := range post.Configs {
			assert.NoError(t, c.ValidatePayload())
		}
	}
}

// A node whose config the agent could not use (here Neutron reports a
// malformed MAC) is left out of the POST and reported; the rest is sent.
func TestSyncRejectsInvalidNodeConfigsAndSendsTheRest(t *testing.T) {
	env, sample := newEnv(t)
	env.OpenStack.UpdatePort("port-a-2", func(p *openstacktest.Port) { p.MACAddress = "fa:16:3e:0a:00" })
	res, err := multinic.Sync(context.Background(), env.Config(sample.VMIDs, sample.SubnetA))
	require.NoError(t, err)
	assert.Equal(t, []string{"worker-1", "worker-3"}, res.Sent)
	assert.ElementsMatch(t, []string{"worker-1", "worker-3"}, sentNames(env))
	require.Len(t, res.RejectedNodes, 1)
	assert.Equal(t, "worker-2", res.RejectedNodes[0].NodeName)
	assert.Equal(t, sample.VMIDs[1], res.RejectedNodes[0].InstanceID)
	assert.Contains(t, res.RejectedNodes[0].Reason, `interfaces[0].macAddress "fa:16:3e:0a:00" is not six colon-separated hex pairs`)
	assert.Equal(t, "1 node config rejected", res.Degradation())
	for _, n := range res.Nodes {
		assert.NotEqual(t, "worker-2", n.NodeName, "Nodes holds what can be sent")
	}
}

func TestSyncPortStatusNA(t *testing.T) {
	env, sample := newEnv(t)
	env.OpenStack.UpdatePort("port-a-1", func(p *openstacktest.Port) { p.Status = "N/A" })
	cfg := env.Config(sample.VMIDs[:1], sample.SubnetA)
	res, err := multinic.Sync(context.Background(), cfg)
	require.NoError(t, err)
	assert.Empty(t, res.Sent, "N/A is not allowed by default")

	cfg.PortAllowedStatuses = []string{"ACTIVE", "DOWN", "N/A"}
	res, err = multinic.Sync(context.Background(), cfg)
	require.NoError(t, err)
	assert.Equal(t, []string{"worker-1"}, res.Sent)
}
