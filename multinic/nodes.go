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

// candidate is a port chosen for a node before it is given a name; mac is
// its MAC lower-cased, the key of naming and ordering.
type candidate struct {
	port   *openstack.Port // in the caller's slice, not copied
	mac    string
	ip     string
	target *target
}

// selectPorts applies SPEC §5 to one VM's ports: allowed status, a fixed IP
// on a usable target subnet (the earliest target wins), one port per MAC.
// The result is in subnet-priority then MAC order. blocked describes the
// unusable subnets of the ports that had no usable one, so a VM left without
// interfaces can say why.
func selectPorts(ports []openstack.Port, targets map[string]*target, allowed statusFilter) (out []candidate, blocked []string) {
	// A VM has a handful of ports: a slice beats a map per VM, which a
	// 10,000-VM pass would otherwise allocate 10,000 of.
	var seenMAC []string
	for i := range ports {
		p := &ports[i]
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
		if best.target == nil || slices.Contains(seenMAC, mac) {
			continue
		}
		if out == nil {
			out = make([]candidate, 0, len(ports))
			seenMAC = make([]string, 0, len(ports))
		}
		seenMAC = append(seenMAC, mac)
		best.mac = mac
		out = append(out, best)
	}
	slices.SortStableFunc(out, func(a, b candidate) int {
		return cmp.Or(cmp.Compare(a.target.priority, b.target.priority), cmp.Compare(a.mac, b.mac))
	})
	return out, blocked
}

// assignNames gives each candidate an interface index. A MAC that previous
// sent as multinicK keeps K, because the node agent renames live links by
// these names; the rest take the lowest free index in candidate order.
// Candidates beyond the ten names are returned as dropped.
func assignNames(instanceID string, cands []candidate, previous *viola.NodeConfig) ([]viola.Interface, []DroppedPort) {
	var used [viola.MaxInterfaces]bool
	index := make([]int, len(cands))
	for i, c := range cands {
		index[i] = -1
		if k := previousIndex(previous, c.mac); k >= 0 && !used[k] {
			index[i], used[k] = k, true
		}
	}
	next, named := 0, 0
	var dropped []DroppedPort
	for i, c := range cands {
		if index[i] >= 0 {
			named++
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
		named++
	}
	ifaces := make([]viola.Interface, 0, named)
	for i, c := range cands {
		if index[i] < 0 {
			continue
		}
		ifaces = append(ifaces, viola.Interface{
			ID:         index[i],
			Name:       interfaceNames[index[i]],
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

// previousIndex is the index previous sent the MAC (lower-cased) under, or
// -1; of a MAC recorded twice (a hand-edited inventory), the last. Ten
// interfaces at most: a scan is cheaper than a map per node.
func previousIndex(previous *viola.NodeConfig, mac string) int {
	if previous == nil {
		return -1
	}
	for i := len(previous.Interfaces) - 1; i >= 0; i-- {
		iface := previous.Interfaces[i]
		if iface.ID >= 0 && iface.ID < viola.MaxInterfaces && len(iface.MACAddress) == len(mac) && strings.EqualFold(iface.MACAddress, mac) {
			return iface.ID
		}
	}
	return -1
}

// interfaceNames are viola.InterfaceName(0..9), named once rather than
// formatted for every interface of every pass.
var interfaceNames = func() (names [viola.MaxInterfaces]string) {
	for i := range names {
		names[i] = viola.InterfaceName(i)
	}
	return names
}()
