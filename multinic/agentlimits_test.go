package multinic_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/multinic/multinic/inventory"
	"github.com/multinic/multinic/multinic"
	"github.com/multinic/multinic/openstack/openstacktest"
)

// SPEC §5: what the node agent cannot serve is left out and reported,
// never sent: an IPv6 address (its routing is IPv4-only), and a port's
// further fixed IPs (one address per interface). A port with several sends
// its first IPv4 address on the earliest target subnet.
func TestSyncLeavesOutAddressesTheAgentCannotServe(t *testing.T) {
	env, sample := newEnv(t)
	cloud := env.OpenStack
	cloud.AddSubnet(openstacktest.Subnet{ID: "subnet-v6", Name: "biz-v6", NetworkID: "net-a", CIDR: "fd00:a::/64"})
	// worker-1's port on A: an IPv6 address on the first target subnet, then
	// two IPv4 addresses on A.
	require.True(t, cloud.UpdatePort("port-a-1", func(p *openstacktest.Port) {
		p.FixedIPs = []openstacktest.FixedIP{{SubnetID: "subnet-v6", IPAddress: "fd00:a::11"}, {SubnetID: "subnet-a", IPAddress: "10.10.0.11"}, {SubnetID: "subnet-a", IPAddress: "10.10.0.21"}}
	}))
	// worker-3's port on A: IPv4 on A (second target) after one on B (third).
	require.True(t, cloud.UpdatePort("port-a-3", func(p *openstacktest.Port) {
		p.FixedIPs = []openstacktest.FixedIP{{SubnetID: "subnet-b", IPAddress: "10.20.0.33"}, {SubnetID: "subnet-a", IPAddress: "10.10.0.13"}}
	}))
	// worker-6 has an IPv6 address only.
	vm4 := "00000000-0000-4000-8000-000000000006" // not one of the sample's
	cloud.AddVM(openstacktest.VM{ID: vm4, Name: "worker-6"})
	cloud.AddPort(openstacktest.Port{ID: "port-v6-6", NetworkID: "net-a", DeviceID: vm4, MACAddress: "fa:16:3e:0c:00:06",
		FixedIPs: []openstacktest.FixedIP{{SubnetID: "subnet-v6", IPAddress: "fd00:a::14"}}})

	cfg := env.Config(append(sample.VMIDs, vm4), "subnet-v6", sample.SubnetA, sample.SubnetB)
	res, err := multinic.Sync(context.Background(), cfg)
	require.NoError(t, err)

	sent := env.Viola.Nodes("provider-1")
	assert.Equal(t, "10.10.0.11", sent["worker-1"].Interfaces[0].Address, "the first IPv4 address on the earliest usable target subnet")
	assert.Equal(t, "10.10.0.13", sent["worker-3"].Interfaces[0].Address, "subnet A comes before B in subnetIDs")
	for _, n := range sent {
		for _, iface := range n.Interfaces {
			assert.NotContains(t, iface.Address, ":", "no IPv6 address is sent")
		}
	}
	assert.NotContains(t, sent, "worker-6")
	require.Len(t, res.Skipped, 1)
	assert.Equal(t, vm4, res.Skipped[0].InstanceID)
	assert.Equal(t, "its addresses on target subnets are all IPv6, and the node agent's routing is IPv4-only (ip rule from <address>/32)", res.Skipped[0].Reason)

	type leftOut struct{ node, address, reason string }
	var got []leftOut
	for _, a := range res.LeftOutAddresses {
		got = append(got, leftOut{a.NodeName, a.Address, a.Reason[:min(len(a.Reason), 40)]})
	}
	assert.ElementsMatch(t, []leftOut{
		{"worker-1", "fd00:a::11", "IPv6 address: the node agent's routing i"},
		{"worker-1", "10.10.0.21", "the port has several fixed IPs on target"},
		{"worker-3", "10.20.0.33", "the port has several fixed IPs on target"},
		{"", "fd00:a::14", "IPv6 address: the node agent's routing i"},
	}, got)
	for _, a := range res.LeftOutAddresses {
		if a.Address == "10.10.0.21" {
			assert.Equal(t, "port-a-1", a.PortID)
			assert.Equal(t, "subnet-a", a.SubnetID)
			assert.Contains(t, a.Reason, "10.10.0.11 (subnet subnet-a) is sent")
		}
	}
	assert.Equal(t, "1 VM skipped, 4 addresses left out (IPv6 or a port's extra fixed IPs)", res.Degradation())
}

// SPEC §5: a VM whose node name is over 42 characters is skipped with the
// agent's reason; the others go out.
func TestSyncSkipsNodeNamesTooLongForTheAgent(t *testing.T) {
	env, sample := newEnv(t)
	long := "worker-" + strings.Repeat("x", 36) // 43
	env.OpenStack.AddVM(openstacktest.VM{ID: sample.VMIDs[0], Name: long})
	res, err := multinic.Sync(context.Background(), env.Config(sample.VMIDs, sample.SubnetA))
	require.NoError(t, err)
	assert.Equal(t, []string{"worker-2", "worker-3"}, res.Sent)
	require.Len(t, res.Skipped, 1)
	assert.Equal(t, "node name of VM "+sample.VMIDs[0]+` (Nova's OS-EXT-SRV-ATTR:hostname): "`+long+`" is 43 characters long: the node agent names its Job multinic-agent-<node>-g<generation>, which must stay within 63 characters, so at most 42 are allowed`, res.Skipped[0].Reason)
}

// SPEC §5: a subnet of subnetIDs that does not exist is left out and
// reported with the project's subnets; the others are used.
func TestSyncOneMissingSubnetNeverBlocksTheOthers(t *testing.T) {
	env, sample := newEnv(t)
	res, err := multinic.Sync(context.Background(), env.Config(sample.VMIDs, sample.SubnetA, "subnet-gone"))
	require.NoError(t, err)
	assert.Equal(t, []string{"worker-1", "worker-2", "worker-3"}, res.Sent)
	require.Len(t, res.SkippedSubnets, 1)
	gone := res.SkippedSubnets[0]
	assert.Equal(t, "subnet-gone", gone.SubnetID)
	assert.Equal(t, multinic.KindMissing, gone.Kind)
	assert.Contains(t, gone.Reason, `no subnet with ID "subnet-gone"`)
	assert.Contains(t, gone.Reason, `"biz-a-subnet" (ID subnet-a)`, "the project's subnets, to pick the right one")
	assert.Equal(t, "1 target subnet not found", res.Degradation())
}

// failingSubnet answers 500 for one subnet, as a Neutron whose database
// lost a row would, and passes everything else to the fake.
type failingSubnet struct{ id string }

func (f failingSubnet) RoundTrip(r *http.Request) (*http.Response, error) {
	if strings.HasSuffix(r.URL.Path, "/subnets/"+f.id) {
		return &http.Response{StatusCode: http.StatusInternalServerError, Header: http.Header{"Content-Type": {"application/json"}},
			Body: http.NoBody, Request: r}, nil
	}
	return http.DefaultTransport.RoundTrip(r)
}

// A subnet that cannot be read is left out too, but a node with a port on
// it is not sent without that interface (the agent would drop a NIC it
// configured): it is held back, its last config stays, and the rest is sent.
func TestSyncUnreadableSubnetHoldsItsNodesBack(t *testing.T) {
	env, sample := newEnv(t)
	store := openInventory(t)
	cfg := env.Config(sample.VMIDs, sample.SubnetA, sample.SubnetB)
	cfg.Inventory = store
	ctx := context.Background()
	_, err := multinic.Sync(ctx, cfg)
	require.NoError(t, err)
	before := store.List(inventory.Filter{})

	env.OpenStack.UpdatePort("port-a-3", func(p *openstacktest.Port) { p.FixedIPs[0].IPAddress = "10.10.0.99" })
	cfg.OpenStack.Transport = failingSubnet{id: sample.SubnetB}
	cfg.OpenStack.RetryMax = -1
	res, err := multinic.Sync(ctx, cfg)
	require.NoError(t, err, "subnet A is still a target")
	assert.Equal(t, []string{"worker-3"}, res.Sent, "worker-3 has no port on B")
	require.Len(t, res.SkippedSubnets, 1)
	assert.Equal(t, multinic.KindUnreadable, res.SkippedSubnets[0].Kind)
	assert.Contains(t, res.SkippedSubnets[0].Reason, "HTTP 500")
	held := map[string]string{}
	for _, s := range res.Skipped {
		held[s.InstanceID] = s.Reason
	}
	require.Len(t, held, 2)
	assert.Contains(t, held[sample.VMIDs[0]], "not sent until its target subnets can be read")
	assert.Contains(t, held[sample.VMIDs[1]], "port port-b-2 has address 10.20.0.12 on target subnet subnet-b, which could not be read")
	assert.Equal(t, "2 VMs skipped, 1 target subnet unreadable", res.Degradation())
	after := store.List(inventory.Filter{})
	for i := range before {
		if before[i].NodeName != "worker-3" {
			assert.Equal(t, before[i].Config, after[i].Config, "%s keeps what it was last sent", before[i].NodeName)
		}
	}
}
