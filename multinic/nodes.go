package multinic

import (
	"cmp"
	"context"
	"fmt"
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
	// unreadable is why the subnet (or its network) could not be read; ""
	// when it was. Such a target is known by its ID only: a VM with a port
	// on it is held back rather than sent without that interface.
	unreadable string
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
//
// It is linear in the ports and stops when ctx ends: a VM that Neutron
// lists with thousands of ports (anyone can create ports with its
// device_id) once cost a quadratic MAC de-duplication 36 s past the pass
// deadline (issue 20.3). openstack.MaxPortsPerVM bounds the listing too.
func selectPorts(ctx context.Context, ports []openstack.Port, targets map[string]*target, allowed statusFilter) (out []candidate, blocked []string, err error) {
	var seen macSet
	for i := range ports {
		if i%selectCheckEvery == selectCheckEvery-1 && ctx.Err() != nil {
			return nil, nil, context.Cause(ctx)
		}
		p := &ports[i]
		if !allowed.allows(p.Status) {
			continue
		}
		var best candidate
		var unusable *target
		for _, ip := range p.FixedIPs {
			t := targets[ip.SubnetID]
			switch {
			case t == nil, t.unreadable != "":
				// reviewAddresses holds the VM back for the latter
			case t.unusable != "":
				unusable = t
			case viola.IsIPv6(ip.IPAddress):
				// the agent routes IPv4 only; reviewAddresses reports it
			case best.target == nil || t.priority < best.target.priority:
				// The first IPv4 address on the earliest target subnet.
				best = candidate{port: p, ip: ip.IPAddress, target: t}
			}
		}
		if best.target == nil && unusable != nil {
			reason := unusable.subnet.ID + ": " + unusable.unusable
			if !slices.Contains(blocked, reason) { // one per unusable target at most
				blocked = append(blocked, reason)
			}
		}
		if best.target == nil {
			continue
		}
		if out == nil {
			out = make([]candidate, 0, len(ports)-i)
			seen.few = make([]string, 0, min(len(ports)-i, macSetSmall))
		}
		mac := strings.ToLower(p.MACAddress)
		if !seen.add(mac) {
			continue
		}
		best.mac = mac
		out = append(out, best)
	}
	slices.SortStableFunc(out, func(a, b candidate) int {
		return cmp.Or(cmp.Compare(a.target.priority, b.target.priority), cmp.Compare(a.mac, b.mac))
	})
	return out, blocked, nil
}

// selectCheckEvery is how many ports selectPorts handles between looks at
// its context: a look costs more than a port.
const selectCheckEvery = 1024

// macSet holds the MACs seen of one VM. A VM has a handful of ports, for
// which a short slice beats a map (a 10,000-VM pass would allocate 10,000
// maps); beyond macSetSmall the slice becomes a map, so a VM listed with
// thousands of ports costs linear time, not quadratic.
type macSet struct {
	few  []string
	many map[string]struct{}
}

const macSetSmall = 16

// add reports whether mac is new, and remembers it.
func (s *macSet) add(mac string) bool {
	if s.many != nil {
		if _, dup := s.many[mac]; dup {
			return false
		}
		s.many[mac] = struct{}{}
		return true
	}
	if slices.Contains(s.few, mac) {
		return false
	}
	if len(s.few) < macSetSmall {
		s.few = append(s.few, mac)
		return true
	}
	s.many = make(map[string]struct{}, 4*macSetSmall)
	for _, m := range s.few {
		s.many[m] = struct{}{}
	}
	s.many[mac] = struct{}{}
	s.few = nil
	return true
}

// review is what reviewAddresses finds about one VM's ports beyond the
// candidates: addresses that are not sent, and why the VM must be held back.
type review struct {
	leftOut  []LeftOutAddress
	held     []string
	onlyIPv6 bool // its allowed ports have addresses on usable targets, all IPv6
}

// reviewAddresses looks again at the fixed IPs on target subnets of a VM's
// ports of allowed status, once selectPorts chose cands (SPEC §5): an IPv6
// address, or a further address of a chosen port, is left out and reported;
// an address on a target subnet that could not be read, where it could have
// been the one sent, holds the VM back, because sending it without that
// interface would make the agent drop a NIC it configured.
func reviewAddresses(instanceID string, ports []openstack.Port, targets map[string]*target, allowed statusFilter, cands []candidate) (r review) {
	ipv4, ipv6 := 0, 0
	for i := range ports {
		p := &ports[i]
		if !allowed.allows(p.Status) {
			continue
		}
		chosen := slices.IndexFunc(cands, func(c candidate) bool { return c.port == p })
		if chosen < 0 && slices.ContainsFunc(cands, func(c candidate) bool { return strings.EqualFold(c.port.MACAddress, p.MACAddress) }) {
			continue // a second port of a MAC already chosen: not this VM's NIC
		}
		for _, ip := range p.FixedIPs {
			t := targets[ip.SubnetID]
			switch {
			case t == nil, t.unusable != "":
			case t.unreadable != "":
				if chosen < 0 || t.priority < cands[chosen].target.priority {
					r.held = append(r.held, fmt.Sprintf("port %s has address %s on target subnet %s, which could not be read (%s)", p.ID, ip.IPAddress, ip.SubnetID, t.unreadable))
				}
			case chosen >= 0 && cands[chosen].ip == ip.IPAddress && cands[chosen].target == t:
				ipv4++
			case viola.IsIPv6(ip.IPAddress):
				ipv6++
				r.leftOut = append(r.leftOut, LeftOutAddress{InstanceID: instanceID, PortID: p.ID, SubnetID: ip.SubnetID, Address: ip.IPAddress,
					Reason: "IPv6 address: " + viola.IPv6Limit})
			case chosen >= 0:
				r.leftOut = append(r.leftOut, LeftOutAddress{InstanceID: instanceID, PortID: p.ID, SubnetID: ip.SubnetID, Address: ip.IPAddress,
					Reason: fmt.Sprintf("the port has several fixed IPs on target subnets; the node agent configures one address per interface, and %s (subnet %s) is sent", cands[chosen].ip, cands[chosen].target.subnet.ID)})
			}
		}
	}
	r.onlyIPv6 = ipv6 > 0 && ipv4 == 0
	return r
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
