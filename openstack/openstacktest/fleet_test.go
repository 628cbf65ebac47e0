package openstacktest

import (
	"context"
	"regexp"
	"testing"

	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servers"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/ports"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/subnets"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAddFleet(t *testing.T) {
	s := NewServer()
	defer s.Close()
	f := Fleet{VMs: 50, TargetSubnets: 2, TargetPortsPerVM: 3, OtherPortsPerVM: 1, MTU: 9000, NodeNameMetadataKey: "node"}
	info := s.AddFleet(f)

	require.Len(t, info.VMIDs, 50)
	require.Len(t, info.Ports, 200)
	require.Len(t, info.TargetSubnetIDs, 2)
	assert.Equal(t, []string{"10.1.0.0/16", "10.2.0.0/16"}, info.TargetSubnetCIDRs)
	uuid := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	mac := regexp.MustCompile(`^fa:16:3e(:[0-9a-f]{2}){3}$`)
	macs, ips := map[string]bool{}, map[string]bool{}
	perSubnet := map[string]int{}
	for i, p := range info.Ports {
		assert.Regexp(t, uuid, p.ID)
		assert.Regexp(t, mac, p.MACAddress)
		assert.False(t, macs[p.MACAddress], "duplicate MAC %s", p.MACAddress)
		macs[p.MACAddress] = true
		require.Len(t, p.FixedIPs, 1)
		assert.False(t, ips[p.FixedIPs[0].IPAddress], "duplicate IP %s", p.FixedIPs[0].IPAddress)
		ips[p.FixedIPs[0].IPAddress] = true
		perSubnet[p.FixedIPs[0].SubnetID]++
		assert.Equal(t, info.VMIDs[i/4], p.DeviceID)
	}
	assert.Equal(t, map[string]int{info.TargetSubnetIDs[0]: 100, info.TargetSubnetIDs[1]: 50, info.OtherSubnetID: 50}, perSubnet,
		"target ports go round-robin over the target subnets")

	again := NewServer()
	defer again.Close()
	assert.Equal(t, info, again.AddFleet(f), "fleets are deterministic")

	_, network, compute := clients(t, s)
	ctx := context.Background()
	pages, err := ports.List(network, deviceQuery{projectID: DefaultProjectID, devices: info.VMIDs[:10]}).AllPages(ctx)
	require.NoError(t, err)
	got, err := ports.ExtractPorts(pages)
	require.NoError(t, err)
	assert.Len(t, got, 40)

	sn, err := subnets.Get(ctx, network, info.TargetSubnetIDs[1]).Extract()
	require.NoError(t, err)
	assert.Equal(t, info.TargetSubnetNames[1], sn.Name)

	srv, err := servers.Get(ctx, compute, info.VMIDs[7]).Extract()
	require.NoError(t, err)
	assert.Equal(t, "fleet-vm-0007", srv.Name)
	assert.Equal(t, "fleet-node-0007", srv.Metadata["node"])

	other := s.AddFleet(Fleet{Name: "second", VMs: 5})
	assert.NotEqual(t, info.VMIDs[0], other.VMIDs[0])
	assert.False(t, macs[other.Ports[0].MACAddress], "MACs stay unique across fleets")
}

// BenchmarkFleetPortsByDevice is the fake's cost of one multinic pass over
// 1000 VMs (3 target + 1 other port each) in batches of 100 device IDs.
func BenchmarkFleetPortsByDevice(b *testing.B) {
	s := NewServer()
	defer s.Close()
	info := s.AddFleet(Fleet{VMs: 1000, TargetSubnets: 2, TargetPortsPerVM: 3, OtherPortsPerVM: 1})
	_, network, _ := clients(b, s)
	fields := []string{"id", "network_id", "status", "mac_address", "device_id", "created_at", "fixed_ips"}
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		n := 0
		for start := 0; start < len(info.VMIDs); start += 100 {
			pages, err := ports.List(network, deviceQuery{projectID: DefaultProjectID, devices: info.VMIDs[start : start+100], fields: fields}).AllPages(ctx)
			if err != nil {
				b.Fatal(err)
			}
			got, err := ports.ExtractPorts(pages)
			if err != nil {
				b.Fatal(err)
			}
			n += len(got)
		}
		if n != 4000 {
			b.Fatalf("got %d ports", n)
		}
	}
}

// BenchmarkFleetServersDetail lists 1000 servers in Nova's default 1000-item page.
func BenchmarkFleetServersDetail(b *testing.B) {
	s := NewServer()
	defer s.Close()
	s.AddFleet(Fleet{VMs: 1000, TargetSubnets: 2, TargetPortsPerVM: 3, OtherPortsPerVM: 1})
	_, _, compute := clients(b, s)
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		pages, err := servers.List(compute, nil).AllPages(ctx)
		if err != nil {
			b.Fatal(err)
		}
		got, err := servers.ExtractServers(pages)
		if err != nil || len(got) != 1000 {
			b.Fatalf("got %d servers, %v", len(got), err)
		}
	}
}

func TestGeneratedMACsAvoidMACsInUse(t *testing.T) {
	s := NewServer()
	defer s.Close()
	const taken = "fa:16:3e:00:00:01" // the first MAC the server would hand out
	s.AddPort(Port{ID: "a", MACAddress: taken})
	s.AddPort(Port{ID: "b", MACAddress: taken})
	require.True(t, s.RemovePort("a"))
	p := s.AddPort(Port{ID: "c"})
	assert.Equal(t, "fa:16:3e:00:00:02", p.MACAddress, "b still holds the first one")
}
