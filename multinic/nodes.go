package multinic

import (
	"cmp"
	"slices"
	"strings"

	"github.com/multinic/multinic/openstack"
	"github.com/multinic/multinic/viola"
)

// target is a subnet the CR wants NICs on; priority is its place in the
// CR's ordered subnet list, which decides both ties and naming order.
type target struct {
	priority int
	subnet   openstack.Subnet
	mtu      int
	// unusable says why the subnet contributes no interfaces (its network
	// has no usable MTU); "" for a usable target.
	unusable string
}

// statusFilter holds the allowed port statuses, upper-cased; nil means any.
type statusFilter map[string]bool

func newStatusFilter(statuses []string) statusFilter {
	f := statusFilter{}
	for _, s := range statuses {
		s = strings.ToUpper(strings.TrimSpace(s))
		if s == "*" {
			return nil
		}
		if s != "" {
			f[s] = true
		}
	}
	return f
}

func (f statusFilter) allows(status string) bool {
	return f == nil || f[strings.ToUpper(status)]
}

// candidate is a port chosen for a node before it is given a name.
type candidate struct {
	port   openstack.Port
	ip     string
	target *target
}

// DroppedPort is a selected port that did not fit into the ten interface
// names of its node.
type DroppedPort struct {
	InstanceID string
	PortID     string
	MACAddress string
}

// selectPorts applies SPEC §5 to one VM's ports: allowed status, a fixed IP
// on a usable target subnet (the earliest target wins), one port per MAC.
// The result is in subnet-priority then MAC order. blocked describes the
// unusable subnets of the ports that had no usable one, so a VM left without
// interfaces can say why.
func selectPorts(ports []openstack.Port, targets map[string]*target, allowed statusFilter) (out []candidate, blocked []string) {
	seenMAC := map[string]bool{}
	for _, p := range ports {
		if !allowed.allows(p.Status) {
			continue
		}
		var best candidate
		var unusable *target
		for _, ip := range p.FixedIPs {
			t := targets[ip.SubnetID]
			switch {
			case t == nil:
			case t.unusable != "":
				unusable = t
			case best.target == nil || t.priority < best.target.priority:
				best = candidate{port: p, ip: ip.IPAddress, target: t}
			}
		}
		if best.target == nil && unusable != nil {
			reason := unusable.subnet.ID + ": " + unusable.unusable
			if !slices.Contains(blocked, reason) {
				blocked = append(blocked, reason)
			}
		}
		mac := strings.ToLower(p.MACAddress)
		if best.target == nil || seenMAC[mac] {
			continue
		}
		seenMAC[mac] = true
		out = append(out, best)
	}
	slices.SortStableFunc(out, func(a, b candidate) int {
		return cmp.Or(cmp.Compare(a.target.priority, b.target.priority),
			cmp.Compare(strings.ToLower(a.port.MACAddress), strings.ToLower(b.port.MACAddress)))
	})
	return out, blocked
}

// assignNames gives each candidate an interface index. A MAC that previous
// sent as multinicK keeps K, because the node agent renames live links by
// these names; the rest take the lowest free index in candidate order.
// Candidates beyond the ten names are returned as dropped.
func assignNames(instanceID string, cands []candidate, previous *viola.NodeConfig) ([]viola.Interface, []DroppedPort) {
	prevIndex := map[string]int{}
	if previous != nil {
		for _, iface := range previous.Interfaces {
			if iface.ID >= 0 && iface.ID < viola.MaxInterfaces {
				prevIndex[strings.ToLower(iface.MACAddress)] = iface.ID
			}
		}
	}
	var used [viola.MaxInterfaces]bool
	index := make([]int, len(cands))
	for i, c := range cands {
		index[i] = -1
		if k, ok := prevIndex[strings.ToLower(c.port.MACAddress)]; ok && !used[k] {
			index[i], used[k] = k, true
		}
	}
	next := 0
	var dropped []DroppedPort
	for i, c := range cands {
		if index[i] >= 0 {
			continue
		}
		for next < viola.MaxInterfaces && used[next] {
			next++
		}
		if next == viola.MaxInterfaces {
			dropped = append(dropped, DroppedPort{InstanceID: instanceID, PortID: c.port.ID, MACAddress: c.port.MACAddress})
			continue
		}
		index[i], used[next] = next, true
	}
	var ifaces []viola.Interface
	for i, c := range cands {
		if index[i] < 0 {
			continue
		}
		ifaces = append(ifaces, viola.Interface{
			ID:         index[i],
			Name:       viola.InterfaceName(index[i]),
			PortID:     c.port.ID,
			MACAddress: c.port.MACAddress,
			Address:    c.ip,
			CIDR:       c.target.subnet.CIDR,
			MTU:        c.target.mtu,
		})
	}
	slices.SortFunc(ifaces, func(a, b viola.Interface) int { return cmp.Compare(a.ID, b.ID) })
	return ifaces, dropped
}
