package multinic

import (
	"reflect"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/multinic/multinic/inventory"
	"github.com/multinic/multinic/openstack"
	"github.com/multinic/multinic/viola"
)

func port(id, mac, status string, ips ...openstack.FixedIP) openstack.Port {
	return openstack.Port{ID: id, MACAddress: mac, Status: status, DeviceID: "vm-1", FixedIPs: ips}
}

func ip(subnet, addr string) openstack.FixedIP {
	return openstack.FixedIP{SubnetID: subnet, IPAddress: addr}
}

func twoTargets() map[string]*target {
	return map[string]*target{
		"sub-a": {priority: 0, subnet: openstack.Subnet{ID: "sub-a", CIDR: "10.0.0.0/24"}, mtu: 1450},
		"sub-b": {priority: 1, subnet: openstack.Subnet{ID: "sub-b", CIDR: "10.1.0.0/24"}, mtu: 9000},
	}
}

func TestSelectPorts(t *testing.T) {
	anyStatus := newStatusFilter([]string{"*"})
	activeDown := newStatusFilter([]string{"active", " Down "})
	tests := []struct {
		name    string
		ports   []openstack.Port
		allowed statusFilter
		want    []string // "portID@ip"
	}{
		{
			name:    "status filter is case-insensitive and excludes others",
			ports:   []openstack.Port{port("p1", "fa:16:3e:00:00:01", "ACTIVE", ip("sub-a", "10.0.0.1")), port("p2", "fa:16:3e:00:00:02", "down", ip("sub-a", "10.0.0.2")), port("p3", "fa:16:3e:00:00:03", "BUILD", ip("sub-a", "10.0.0.3"))},
			allowed: activeDown,
			want:    []string{"p1@10.0.0.1", "p2@10.0.0.2"},
		},
		{
			name:    "star allows any status",
			ports:   []openstack.Port{port("p3", "fa:16:3e:00:00:03", "BUILD", ip("sub-a", "10.0.0.3"))},
			allowed: anyStatus,
			want:    []string{"p3@10.0.0.3"},
		},
		{
			name:    "ports without a fixed IP on a target subnet are ignored",
			ports:   []openstack.Port{port("mgmt", "fa:16:3e:00:00:09", "ACTIVE", ip("sub-mgmt", "192.168.0.9")), port("none", "fa:16:3e:00:00:08", "ACTIVE")},
			allowed: activeDown,
			want:    nil,
		},
		{
			name:    "earliest target subnet wins when a port has IPs on several",
			ports:   []openstack.Port{port("p1", "fa:16:3e:00:00:01", "ACTIVE", ip("sub-b", "10.1.0.1"), ip("sub-mgmt", "192.168.0.1"), ip("sub-a", "10.0.0.1"))},
			allowed: activeDown,
			want:    []string{"p1@10.0.0.1"},
		},
		{
			name: "order is subnet priority, then MAC",
			ports: []openstack.Port{
				port("b2", "fa:16:3e:00:00:02", "ACTIVE", ip("sub-b", "10.1.0.2")),
				port("a9", "FA:16:3E:00:00:09", "ACTIVE", ip("sub-a", "10.0.0.9")),
				port("b1", "fa:16:3e:00:00:01", "ACTIVE", ip("sub-b", "10.1.0.1")),
				port("a3", "fa:16:3e:00:00:03", "ACTIVE", ip("sub-a", "10.0.0.3")),
			},
			allowed: activeDown,
			want:    []string{"a3@10.0.0.3", "a9@10.0.0.9", "b1@10.1.0.1", "b2@10.1.0.2"},
		},
		{
			name:    "a MAC seen twice is taken once",
			ports:   []openstack.Port{port("p1", "fa:16:3e:00:00:01", "ACTIVE", ip("sub-a", "10.0.0.1")), port("p1-dup", "FA:16:3E:00:00:01", "ACTIVE", ip("sub-a", "10.0.0.2"))},
			allowed: activeDown,
			want:    []string{"p1@10.0.0.1"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			cands, blocked := choosePorts(t, tt.ports, twoTargets(), tt.allowed)
			assert.Empty(t, blocked)
			for _, c := range cands {
				got = append(got, c.port.ID+"@"+c.ip)
			}
			assert.Equal(t, tt.want, got)
		})
	}
}

// A subnet without usable MTU is no target: a port with an IP on it and
// on a usable target goes to the usable one; a port only on it is reported.
func TestSelectPortsSkipsSubnetsWithoutUsableMTU(t *testing.T) {
	targets := twoTargets()
	targets["sub-a"].unusable = "network net-a reports no MTU"
	cands, blocked := choosePorts(t, []openstack.Port{
		port("both", "fa:16:3e:00:00:01", "ACTIVE", ip("sub-a", "10.0.0.1"), ip("sub-b", "10.1.0.1")),
		port("only-a", "fa:16:3e:00:00:02", "ACTIVE", ip("sub-a", "10.0.0.2")),
	}, targets, newStatusFilter([]string{"*"}))
	require.Len(t, cands, 1)
	assert.Equal(t, "both", cands[0].port.ID)
	assert.Equal(t, "10.1.0.1", cands[0].ip)
	assert.Equal(t, []string{"sub-a: network net-a reports no MTU"}, blocked)
}

// N/A is a status real Neutron reports (ports of some drivers); the filter
// takes it like any other, case-insensitively.
func TestStatusFilterAcceptsNA(t *testing.T) {
	f := newStatusFilter([]string{"ACTIVE", " n/a "})
	assert.True(t, f.allows("N/A"))
	assert.True(t, f.allows("n/a"))
	assert.False(t, f.allows("DOWN"))
}

func TestSelectedInterfaceCarriesSubnetCIDRAndNetworkMTU(t *testing.T) {
	cands, _ := choosePorts(t, []openstack.Port{port("p1", "fa:16:3e:00:00:01", "ACTIVE", ip("sub-b", "10.1.0.7"))}, twoTargets(), newStatusFilter([]string{"ACTIVE"}))
	ifaces, dropped := assignNames("vm-1", cands, nil)
	require.Empty(t, dropped)
	assert.Equal(t, []viola.Interface{{ID: 0, Name: "multinic0", PortID: "p1", MACAddress: "fa:16:3e:00:00:01", Address: "10.1.0.7", CIDR: "10.1.0.0/24", MTU: 9000}}, ifaces)
}

// macs builds n ports on sub-a with MACs fa:16:3e:00:00:<start..>.
func macPorts(macs ...string) []openstack.Port {
	var out []openstack.Port
	for i, m := range macs {
		out = append(out, port("p-"+m, m, "ACTIVE", ip("sub-a", "10.0.0."+string(rune('1'+i)))))
	}
	return out
}

func namesByMAC(ifaces []viola.Interface) map[string]string {
	out := map[string]string{}
	for _, i := range ifaces {
		out[i.MACAddress] = i.Name
		if i.Name != viola.InterfaceName(i.ID) {
			panic("name and id disagree")
		}
	}
	return out
}

func TestAssignNamesIsStable(t *testing.T) {
	const (
		m1 = "fa:16:3e:00:00:01"
		m2 = "fa:16:3e:00:00:02"
		m3 = "fa:16:3e:00:00:03"
		m4 = "fa:16:3e:00:00:04"
	)
	prev := func(pairs ...any) *viola.NodeConfig {
		c := &viola.NodeConfig{}
		for i := 0; i < len(pairs); i += 2 {
			id := pairs[i+1].(int)
			c.Interfaces = append(c.Interfaces, viola.Interface{ID: id, Name: viola.InterfaceName(id), MACAddress: pairs[i].(string)})
		}
		return c
	}
	tests := []struct {
		name     string
		macs     []string
		previous *viola.NodeConfig
		want     map[string]string
	}{
		{"no history: MAC order", []string{m3, m1, m2}, nil, map[string]string{m1: "multinic0", m2: "multinic1", m3: "multinic2"}},
		{"removing a port keeps the others' names", []string{m1, m3}, prev(m1, 0, m2, 1, m3, 2), map[string]string{m1: "multinic0", m3: "multinic2"}},
		{"a new port takes the lowest free index", []string{m1, m3, m4}, prev(m1, 0, m3, 2), map[string]string{m1: "multinic0", m4: "multinic1", m3: "multinic2"}},
		{"a new port that sorts first does not shift the others", []string{m1, m2, m3}, prev(m2, 0, m3, 1), map[string]string{m2: "multinic0", m3: "multinic1", m1: "multinic2"}},
		{"MAC comparison ignores case", []string{"FA:16:3E:00:00:02"}, prev(m2, 5), map[string]string{"FA:16:3E:00:00:02": "multinic5"}},
		{"out-of-range previous ids are ignored", []string{m1}, prev(m1, 12), map[string]string{m1: "multinic0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cands, _ := choosePorts(t, macPorts(tt.macs...), twoTargets(), nil)
			ifaces, dropped := assignNames("vm-1", cands, tt.previous)
			require.Empty(t, dropped)
			assert.Equal(t, tt.want, namesByMAC(ifaces))
			for i := 1; i < len(ifaces); i++ {
				assert.Less(t, ifaces[i-1].ID, ifaces[i].ID, "interfaces are listed by id")
			}
		})
	}
}

func TestAssignNamesCapsAtTenInterfaces(t *testing.T) {
	var macs []string
	for i := range 12 {
		macs = append(macs, "fa:16:3e:00:00:"+string("0123456789ab"[i])+"0")
	}
	// The newest ports must not steal a name from a port that had one.
	previous := &viola.NodeConfig{Interfaces: []viola.Interface{{ID: 0, MACAddress: macs[11]}}}
	cands, _ := choosePorts(t, macPorts(macs...), twoTargets(), nil)
	ifaces, dropped := assignNames("vm-1", cands, previous)
	require.Len(t, ifaces, viola.MaxInterfaces)
	assert.Equal(t, "multinic0", namesByMAC(ifaces)[macs[11]])
	require.Len(t, dropped, 2)
	assert.Equal(t, []string{macs[9], macs[10]}, []string{dropped[0].MACAddress, dropped[1].MACAddress})
	assert.Equal(t, "vm-1", dropped[0].InstanceID)
}

func TestRoutingKey(t *testing.T) {
	assert.Equal(t, "prov", Config{ProviderID: "prov"}.RoutingKey())
	assert.Equal(t, "biz", Config{ProviderID: "prov", K8sProviderID: "biz"}.RoutingKey())
}

func TestSubnetSelectorPrecedence(t *testing.T) {
	assert.Equal(t, []string{"b", "a"}, Config{SubnetIDs: []string{"b", "a", "b", ""}, SubnetID: "c", SubnetName: "n"}.targetSubnetIDs())
	assert.Equal(t, []string{"c"}, Config{SubnetID: "c", SubnetName: "n"}.targetSubnetIDs())
	assert.Empty(t, Config{SubnetName: "n"}.targetSubnetIDs())
}

// sameConfig skips hashing when a record holds exactly the node; that is
// only sound while it compares every field ConfigHash covers.
func TestSameConfigComparesEveryField(t *testing.T) {
	fields := func(t reflect.Type) []string {
		var names []string
		for f := range t.Fields() {
			names = append(names, f.Name)
		}
		return names
	}
	require.Equal(t, []string{"NodeName", "InstanceID", "Interfaces", "NodeNameSource"}, fields(reflect.TypeFor[viola.NodeConfig]()),
		"a new NodeConfig field must be compared in sameConfig")

	node := viola.NodeConfig{NodeName: "w-1", InstanceID: "vm-1", Interfaces: []viola.Interface{
		{ID: 0, Name: "multinic0", PortID: "p0", MACAddress: "fa:16:3e:00:00:01", Address: "10.0.0.1", CIDR: "10.0.0.0/24", MTU: 1450},
	}}
	record := func(cfg viola.NodeConfig) inventory.Record {
		return inventory.Record{NodeName: cfg.NodeName, Config: cfg, LastConfigHash: inventory.ConfigHash(cfg)}
	}
	assert.True(t, sameConfig(record(node), node))
	// Where the name came from is no part of what Viola holds: a name that
	// is now Nova's hostname rather than its metadata value, but the same,
	// sends nothing.
	sourced := node
	sourced.NodeNameSource = "hostname"
	assert.True(t, sameConfig(record(node), sourced))
	for name, change := range map[string]func(*viola.NodeConfig){
		"instance": func(c *viola.NodeConfig) { c.InstanceID = "vm-2" },
		"mtu":      func(c *viola.NodeConfig) { c.Interfaces[0].MTU = 9000 },
		"port":     func(c *viola.NodeConfig) { c.Interfaces[0].PortID = "p9" },
		"added": func(c *viola.NodeConfig) {
			c.Interfaces = append(c.Interfaces, viola.Interface{ID: 1, Name: "multinic1", MACAddress: "fa:16:3e:00:00:02", Address: "10.0.0.2", CIDR: "10.0.0.0/24", MTU: 1450})
		},
	} {
		changed := node
		changed.Interfaces = slices.Clone(node.Interfaces)
		change(&changed)
		assert.False(t, sameConfig(record(node), changed), name)
		assert.False(t, sameConfig(record(changed), node), name)
	}
	// Interfaces recorded in another order are the same config, as by hash.
	two := node
	two.Interfaces = append(slices.Clone(node.Interfaces), viola.Interface{ID: 1, Name: "multinic1", MACAddress: "fa:16:3e:00:00:02", Address: "10.0.0.2", CIDR: "10.0.0.0/24", MTU: 1450})
	reordered := two
	reordered.Interfaces = []viola.Interface{two.Interfaces[1], two.Interfaces[0]}
	assert.True(t, sameConfig(record(reordered), two))
}

// groupByVM keeps Session.Ports' runs in place and copies a VM whose ports
// come in several runs, without writing into the caller's slice.
func TestGroupByVM(t *testing.T) {
	on := func(vm, id string) openstack.Port { return openstack.Port{ID: id, DeviceID: vm} }
	ports := []openstack.Port{on("vm-1", "a"), on("vm-1", "b"), on("vm-2", "c"), on("vm-1", "d"), on("vm-3", "e")}
	original := slices.Clone(ports)
	got := groupByVM(ports, 3)
	ids := func(ps []openstack.Port) (out []string) {
		for _, p := range ps {
			out = append(out, p.ID)
		}
		return out
	}
	assert.Equal(t, []string{"a", "b", "d"}, ids(got["vm-1"]))
	assert.Equal(t, []string{"c"}, ids(got["vm-2"]))
	assert.Equal(t, []string{"e"}, ids(got["vm-3"]))
	assert.Equal(t, original, ports, "the caller's slice is left as it was")
}
