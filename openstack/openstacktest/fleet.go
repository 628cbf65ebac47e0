package openstacktest

import (
	"fmt"
	"net/netip"
	"time"
)

// Fleet describes a generated topology of Kubernetes node VMs: each VM gets
// TargetPortsPerVM ports spread round-robin over the target subnets and
// OtherPortsPerVM ports on one further subnet multinic must ignore.
// Everything generated (IDs, names, MACs, IPs, times) is deterministic.
type Fleet struct {
	// Name seeds IDs and names; give fleets on one Server distinct names.
	// Default "fleet".
	Name string
	VMs  int
	// TargetSubnets is how many target subnets (each on its own network) to
	// create; default 1, at most 200.
	TargetSubnets int
	// TargetPortsPerVM defaults to 1.
	TargetPortsPerVM int
	OtherPortsPerVM  int
	// MTU of the target networks; DefaultMTU when 0. The other network has 1500.
	MTU int
	// ProjectID of everything generated; the credentials' project when empty.
	ProjectID string
	// NodeNameMetadataKey, when set, puts the node name under this metadata
	// key of each VM ("<name>-node-0000"), which then differs from the VM
	// name ("<name>-vm-0000").
	NodeNameMetadataKey string
	// PortStatus of every port; ACTIVE when empty.
	PortStatus string
}

// FleetInfo is what AddFleet created.
type FleetInfo struct {
	VMIDs             []string // in creation order
	TargetNetworkIDs  []string
	TargetSubnetIDs   []string
	TargetSubnetNames []string
	TargetSubnetCIDRs []string
	OtherNetworkID    string
	OtherSubnetID     string
	// Ports are all generated ports: per VM its target ports, then its other ports.
	Ports []Port
}

// AddFleet adds the networks, subnets, VMs and ports of f. Target subnet k is
// 10.(k+1).0.0/16 and the other subnet 10.0.0.0/16, which fits 65,000 ports
// per subnet; it panics beyond that, a bug in the test.
func (s *Server) AddFleet(f Fleet) FleetInfo {
	if f.Name == "" {
		f.Name = "fleet"
	}
	if f.TargetSubnets <= 0 {
		f.TargetSubnets = 1
	}
	if f.TargetPortsPerVM <= 0 {
		f.TargetPortsPerVM = 1
	}
	if f.MTU == 0 {
		f.MTU = DefaultMTU
	}
	if f.PortStatus == "" {
		f.PortStatus = "ACTIVE"
	}
	perSubnet := f.VMs * ((f.TargetPortsPerVM + f.TargetSubnets - 1) / f.TargetSubnets)
	if f.TargetSubnets > 200 || perSubnet > 65000 || f.VMs*f.OtherPortsPerVM > 65000 {
		panic(fmt.Sprintf("openstacktest: fleet %q is too large for /16 subnets", f.Name))
	}

	var info FleetInfo
	type subnetAlloc struct {
		id   string
		base netip.Addr
		next uint32
	}
	var targets []*subnetAlloc
	for k := range f.TargetSubnets {
		n := s.AddNetwork(Network{ID: stableUUID(f.Name, "network", fmt.Sprint(k)), Name: fmt.Sprintf("%s-net-%d", f.Name, k), MTU: f.MTU, ProjectID: f.ProjectID})
		sn := s.AddSubnet(Subnet{
			ID: stableUUID(f.Name, "subnet", fmt.Sprint(k)), Name: fmt.Sprintf("%s-target-%d", f.Name, k),
			NetworkID: n.ID, CIDR: fmt.Sprintf("10.%d.0.0/16", k+1), ProjectID: f.ProjectID,
		})
		info.TargetNetworkIDs = append(info.TargetNetworkIDs, n.ID)
		info.TargetSubnetIDs = append(info.TargetSubnetIDs, sn.ID)
		info.TargetSubnetNames = append(info.TargetSubnetNames, sn.Name)
		info.TargetSubnetCIDRs = append(info.TargetSubnetCIDRs, sn.CIDR)
		targets = append(targets, &subnetAlloc{id: sn.ID, base: netip.MustParsePrefix(sn.CIDR).Addr()})
	}
	other := s.AddNetwork(Network{ID: stableUUID(f.Name, "network", "other"), Name: f.Name + "-other-net", MTU: 1500, ProjectID: f.ProjectID})
	otherSubnet := s.AddSubnet(Subnet{ID: stableUUID(f.Name, "subnet", "other"), Name: f.Name + "-other", NetworkID: other.ID, CIDR: "10.0.0.0/16", ProjectID: f.ProjectID})
	info.OtherNetworkID, info.OtherSubnetID = other.ID, otherSubnet.ID
	otherAlloc := &subnetAlloc{id: otherSubnet.ID, base: netip.MustParsePrefix(otherSubnet.CIDR).Addr()}

	// Addresses start at .10 of the /16, clear of gateway and DHCP ports.
	allocate := func(a *subnetAlloc) FixedIP {
		a.next++
		b := a.base.As4()
		n := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3]) + 9 + a.next
		return FixedIP{SubnetID: a.id, IPAddress: netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}).String()}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range f.VMs {
		vm := VM{
			ID:        stableUUID(f.Name, "vm", fmt.Sprint(i)),
			Name:      fmt.Sprintf("%s-vm-%04d", f.Name, i),
			ProjectID: f.ProjectID,
			CreatedAt: DefaultCreatedAt.Add(time.Duration(i) * time.Minute),
		}
		if f.NodeNameMetadataKey != "" {
			vm.Metadata = map[string]string{f.NodeNameMetadataKey: fmt.Sprintf("%s-node-%04d", f.Name, i)}
		}
		vm = s.addVMLocked(vm)
		info.VMIDs = append(info.VMIDs, vm.ID)
		for j := range f.TargetPortsPerVM + f.OtherPortsPerVM {
			alloc, netID := otherAlloc, other.ID
			if j < f.TargetPortsPerVM {
				k := j % f.TargetSubnets
				alloc, netID = targets[k], info.TargetNetworkIDs[k]
			}
			p := s.addPortLocked(Port{
				ID:        stableUUID(f.Name, "port", fmt.Sprint(i), fmt.Sprint(j)),
				NetworkID: netID,
				DeviceID:  vm.ID,
				Status:    f.PortStatus,
				ProjectID: vm.ProjectID,
				CreatedAt: vm.CreatedAt.Add(time.Duration(j+1) * time.Second),
				FixedIPs:  []FixedIP{allocate(alloc)},
			})
			info.Ports = append(info.Ports, clonePort(p))
		}
	}
	return info
}
