package openstack

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"

	"github.com/gophercloud/gophercloud/v2"

	"github.com/multinic/multinic/internal/recovered"
	"github.com/multinic/multinic/internal/safetext"
)

// Port is the part of a Neutron port multinic uses; the tags are Neutron's
// attribute names, so a page decodes straight into it.
type Port struct {
	ID         string    `json:"id"`
	NetworkID  string    `json:"network_id"`
	Status     string    `json:"status"`
	MACAddress string    `json:"mac_address"`
	DeviceID   string    `json:"device_id"`
	FixedIPs   []FixedIP `json:"fixed_ips"`
}

// FixedIP is one address of a port.
type FixedIP struct {
	SubnetID  string `json:"subnet_id"`
	IPAddress string `json:"ip_address"`
}

// Subnet is the part of a Neutron subnet multinic uses.
type Subnet struct {
	ID        string
	Name      string
	NetworkID string
	CIDR      string
}

// ErrSubnetNotFound and ErrSubnetNotUnique classify a failed lookup by name.
var (
	ErrSubnetNotFound  = errors.New("subnet not found")
	ErrSubnetNotUnique = errors.New("subnet name is not unique")
)

// portFields asks Neutron for only the attributes the flow reads (SPEC §5);
// a fleet's ports otherwise carry security groups, bindings, timestamps and
// tags we would discard, and every attribute decoded is one more that a
// quirky server could fail the whole list with.
var portFields = []string{"id", "network_id", "status", "mac_address", "device_id", "fixed_ips"}

// MaxPortsPerVM bounds what a ports listing may hold: this many for each
// VM asked for (one VM may hold the others' share). A VM's ports are its NICs, and a KVM guest has few: its PCI bus has
// 32 slots, some taken by other devices, and Nova's libvirt driver gives a
// q35 guest at most 28 PCIe root ports (num_pcie_ports), so about 30 NICs
// is the practical ceiling. Twice that leaves room for ports Neutron lists
// for a device without their being plugged (unbound, or DOWN while being
// attached). A listing beyond it is not the VMs' own ports: anyone in the
// project can create ports with a VM's device_id, and a broken or hostile
// Neutron can page on forever. Reading on would cost memory and time that
// the pass does not have, so the listing is cut there and the pass fails,
// naming the VM that holds the most.
const MaxPortsPerVM = 64

// ErrTooManyPorts marks a ports listing cut at MaxPortsPerVM per VM.
var ErrTooManyPorts = errors.New("more ports than the VMs can have")

// portQuery lists the ports of several VMs in one request: Neutron ORs a
// repeated device_id filter, which gophercloud's ListOpts cannot express.
type portQuery struct {
	projectID string
	deviceIDs []string
}

func (q portQuery) ToPortListQuery() (string, error) {
	v := url.Values{}
	if q.projectID != "" {
		v.Set("project_id", q.projectID)
	}
	v["device_id"] = q.deviceIDs
	v["fields"] = portFields
	return "?" + v.Encode(), nil
}

// Ports lists the ports of the given VMs in the session's project. VM IDs are
// split into batches that keep each URL short, the batches run concurrently,
// and every page of each batch is followed. The order is by VM, as given,
// then by port ID; a VM listed twice contributes its ports once, and a port
// of a device that its batch did not ask for is left out.
func (s *Session) Ports(ctx context.Context, vmIDs []string) ([]Port, error) {
	batches, err := s.portBatches(ctx, vmIDs)
	if err != nil {
		return nil, err
	}
	total := 0
	for _, batch := range batches {
		total += len(batch)
	}
	out := make([]Port, 0, total)
	for _, batch := range batches {
		out = append(out, batch...)
	}
	return out, nil
}

// PortsByVM is Ports grouped by VM: each VM that has ports maps to them, in
// port ID order. It spares a fleet pass the copy of every port into one
// list (4 MB for 10,000 VMs): the groups are parts of the decoded pages.
func (s *Session) PortsByVM(ctx context.Context, vmIDs []string) (map[string][]Port, error) {
	batches, err := s.portBatches(ctx, vmIDs)
	if err != nil {
		return nil, err
	}
	out := make(map[string][]Port, len(vmIDs))
	for _, batch := range batches {
		for i := 0; i < len(batch); {
			j := i + 1
			for j < len(batch) && batch[j].DeviceID == batch[i].DeviceID {
				j++
			}
			out[batch[i].DeviceID] = batch[i:j:j]
			i = j
		}
	}
	return out, nil
}

// portBatches reads the ports of vmIDs batch by batch. Each batch comes
// back holding only ports of its own VMs, ordered by the VM's place in
// vmIDs and then as Neutron listed them (port ID), so the batches in order
// are the whole answer in order.
func (s *Session) portBatches(ctx context.Context, vmIDs []string) ([][]Port, error) {
	if s.networkErr != nil {
		return nil, s.networkErr
	}
	rank := make(map[string]int, len(vmIDs)) // VM ID → place in the answer
	unique := make([]string, 0, len(vmIDs))
	for _, id := range vmIDs {
		if _, dup := rank[id]; !dup {
			rank[id] = len(unique)
			unique = append(unique, id)
		}
	}
	batches := chunk(unique, s.opts.DeviceIDBatchSize)
	results := make([][]Port, len(batches))
	err := forEach(ctx, len(batches), s.opts.Concurrency, func(ctx context.Context, i int) error {
		query, _ := portQuery{projectID: s.projectID, deviceIDs: batches[i]}.ToPortListQuery()
		limit := len(batches[i]) * MaxPortsPerVM
		pages := 0
		err := eachPage(ctx, s, s.network, s.network.ServiceURL("ports")+query, func(page portPage) error {
			pages++
			if results[i] == nil {
				results[i] = page.Ports // one page per batch is the rule: no copy
			} else {
				results[i] = append(results[i], page.Ports...)
			}
			if len(results[i]) > limit {
				return tooManyPorts(results[i], len(batches[i]), pages)
			}
			return nil
		})
		first := rank[batches[i][0]]
		results[i] = orderByVM(results[i], rank, first, first+len(batches[i]))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("neutron: list ports: %w", describe(err))
	}
	return results, nil
}

// tooManyPorts reports a listing of vms VMs cut after pages pages holding
// ports, with the device that claims the most of them.
func tooManyPorts(ports []Port, vms, pages int) error {
	perDevice := map[string]int{}
	top := ""
	for _, p := range ports {
		perDevice[p.DeviceID]++
		if n := perDevice[p.DeviceID]; n > perDevice[top] || (n == perDevice[top] && p.DeviceID < top) {
			top = p.DeviceID
		}
	}
	return fmt.Errorf("%w: the listing holds more than %d ports for %d VMs (%d per VM at most, MaxPortsPerVM) and was cut after %d page(s); %d of them name device %q: someone may have created ports with its device_id",
		ErrTooManyPorts, vms*MaxPortsPerVM, vms, MaxPortsPerVM, pages, perDevice[top], safetext.OneLine(top, 80))
}

// orderByVM keeps the ports whose VM ranks in [lo, hi) and orders them by
// that rank, stably, in place: a counting sort gives each port its place
// and the permutation is applied by swaps, so 40,000 ports of a 10,000-VM
// fleet are neither copied nor sorted by comparison (which was a tenth of
// the pass).
func orderByVM(ports []Port, rank map[string]int, lo, hi int) []Port {
	keys := make([]int32, 0, len(ports))
	kept := ports[:0]
	for _, p := range ports {
		if k, ok := rank[p.DeviceID]; ok && k >= lo && k < hi {
			kept = append(kept, p)
			keys = append(keys, int32(k-lo))
		}
	}
	clear(ports[len(kept):]) // nothing of the dropped ports stays reachable
	starts := make([]int32, hi-lo+1)
	for _, k := range keys {
		starts[k+1]++
	}
	for k := range hi - lo {
		starts[k+1] += starts[k]
	}
	dest := keys // each key becomes its port's place
	for i, k := range keys {
		dest[i] = starts[k]
		starts[k]++
	}
	for i := range kept {
		for int(dest[i]) != i {
			j := dest[i]
			kept[i], kept[j] = kept[j], kept[i]
			dest[i], dest[j] = dest[j], dest[i]
		}
	}
	return kept
}

// portPage is one page of GET /v2.0/ports, limited to portFields.
type portPage struct {
	Ports []Port             `json:"ports"`
	Links []gophercloud.Link `json:"ports_links"`
}

func (p portPage) next() string { return nextLink(p.Links) }

// presize: limited to portFields, a port's only array is its fixed_ips.
func (p *portPage) presize(body []byte) { p.Ports = make([]Port, 0, arraysIn(body, len(body))) }
func (p *portPage) listed() int         { return len(p.Ports) }

// check refuses a page that is not a port list: an empty list decodes to an
// empty slice, only a missing or null "ports" to nil. A port without the
// attributes that tie it to a VM and a NIC means the answer is not what we
// asked for, so the list is refused rather than half used.
func (p portPage) check() error {
	if p.Ports == nil {
		return errors.New(`the answer has no "ports" list`)
	}
	for i, port := range p.Ports {
		if missing := missingFields("id", port.ID, "device_id", port.DeviceID, "mac_address", port.MACAddress); missing != "" {
			return fmt.Errorf("ports[%d] (id %q) has no %s", i, port.ID, missing)
		}
	}
	return nil
}

// subnetFields are the subnet attributes the flow reads.
var subnetFields = []string{"id", "name", "network_id", "cidr"}

type subnetJSON struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	NetworkID string `json:"network_id"`
	CIDR      string `json:"cidr"`
}

func (sn *subnetJSON) check() error {
	if sn == nil {
		return errors.New(`the answer has no "subnet" object`)
	}
	if missing := missingFields("id", sn.ID, "network_id", sn.NetworkID, "cidr", sn.CIDR); missing != "" {
		return fmt.Errorf("subnet %q has no %s", sn.ID, missing)
	}
	return nil
}

func (sn *subnetJSON) subnet() Subnet {
	return Subnet{ID: sn.ID, Name: sn.Name, NetworkID: sn.NetworkID, CIDR: sn.CIDR}
}

// Subnet reads one subnet by ID.
func (s *Session) Subnet(ctx context.Context, id string) (Subnet, error) {
	if s.networkErr != nil {
		return Subnet{}, s.networkErr
	}
	var body struct {
		Subnet *subnetJSON `json:"subnet"`
	}
	err := s.getJSON(ctx, s.network, s.network.ServiceURL("subnets", url.PathEscape(id))+fieldsQuery(subnetFields), &body)
	if err != nil {
		if gophercloud.ResponseCodeIs(err, 404) {
			return Subnet{}, fmt.Errorf("neutron: no subnet with ID %q (Neutron answered 404; project %q: %s): %w", id, s.projectID, s.projectSubnets(ctx, true), ErrSubnetNotFound)
		}
		return Subnet{}, fmt.Errorf("neutron: get subnet %q: %w", id, describe(err))
	}
	if err := body.Subnet.check(); err != nil {
		return Subnet{}, fmt.Errorf("neutron: get subnet %q: %w", id, err)
	}
	return body.Subnet.subnet(), nil
}

// subnetPage is one page of GET /v2.0/subnets.
type subnetPage struct {
	Subnets []*subnetJSON      `json:"subnets"`
	Links   []gophercloud.Link `json:"subnets_links"`
}

func (p subnetPage) next() string { return nextLink(p.Links) }

func (p subnetPage) check() error {
	if p.Subnets == nil {
		return errors.New(`the answer has no "subnets" list`)
	}
	for i, sn := range p.Subnets {
		if err := sn.check(); err != nil {
			return fmt.Errorf("subnets[%d]: %w", i, err)
		}
	}
	return nil
}

// SubnetByName finds the one subnet of the project with exactly this name.
func (s *Session) SubnetByName(ctx context.Context, name string) (Subnet, error) {
	if s.networkErr != nil {
		return Subnet{}, s.networkErr
	}
	q := url.Values{"name": {name}, "project_id": {s.projectID}, "fields": subnetFields}
	var matches []Subnet
	err := eachPage(ctx, s, s.network, s.network.ServiceURL("subnets")+"?"+q.Encode(), func(page subnetPage) error {
		for _, sn := range page.Subnets {
			if sn.Name == name { // Neutron's name filter is exact, but be sure
				matches = append(matches, sn.subnet())
			}
		}
		return nil
	})
	if err != nil {
		return Subnet{}, fmt.Errorf("neutron: list subnets named %q: %w", name, describe(err))
	}
	switch len(matches) {
	case 0:
		return Subnet{}, fmt.Errorf("neutron: no subnet named %q in project %q (%s): %w", name, s.projectID, s.projectSubnets(ctx, false), ErrSubnetNotFound)
	case 1:
		return matches[0], nil
	default:
		return Subnet{}, fmt.Errorf("neutron: %d subnets named %q in project %q: %w", len(matches), name, s.projectID, ErrSubnetNotUnique)
	}
}

// maxListedSubnets bounds the names a SubnetNotFound message lists.
const maxListedSubnets = 10

// projectSubnets describes the project's subnets for a failed lookup, so
// the user sees what to write instead: the first names (or IDs of unnamed
// subnets) of one short page, withIDs each name with its ID (for a lookup
// by ID). It is a hint, so a failure to list only says so.
func (s *Session) projectSubnets(ctx context.Context, withIDs bool) string {
	q := url.Values{"project_id": {s.projectID}, "fields": {"id", "name"}, "limit": {fmt.Sprint(maxListedSubnets + 1)}}
	var page subnetPage
	if err := s.getJSON(ctx, s.network, s.network.ServiceURL("subnets")+"?"+q.Encode(), &page); err != nil || page.Subnets == nil {
		return "its subnets could not be listed"
	}
	var names []string
	for _, sn := range page.Subnets {
		if sn == nil {
			continue
		}
		label := sn.Name
		switch {
		case label == "":
			label = fmt.Sprintf("%q", "ID "+safetext.OneLine(sn.ID, 80))
		case withIDs:
			label = fmt.Sprintf("%q (ID %s)", safetext.OneLine(label, 80), safetext.OneLine(sn.ID, 80))
		default:
			label = fmt.Sprintf("%q", safetext.OneLine(label, 80))
		}
		names = append(names, label)
	}
	switch {
	case len(names) == 0:
		return "the project has no subnets"
	case len(names) > maxListedSubnets || nextLink(page.Links) != "":
		return "its subnets include " + strings.Join(names[:min(len(names), maxListedSubnets)], ", ") + ", …"
	default:
		return "its subnets: " + strings.Join(names, ", ")
	}
}

// NetworkMTU reads a network's MTU; 0 means Neutron reports none (the
// attribute is missing or null), which the caller must not guess around.
func (s *Session) NetworkMTU(ctx context.Context, networkID string) (int, error) {
	if s.networkErr != nil {
		return 0, s.networkErr
	}
	var body struct {
		Network *struct {
			ID  string `json:"id"`
			MTU *int   `json:"mtu"`
		} `json:"network"`
	}
	err := s.getJSON(ctx, s.network, s.network.ServiceURL("networks", url.PathEscape(networkID))+fieldsQuery([]string{"id", "mtu"}), &body)
	switch {
	case err != nil:
		return 0, fmt.Errorf("neutron: get network %q: %w", networkID, describe(err))
	case body.Network == nil:
		return 0, fmt.Errorf(`neutron: get network %q: the answer has no "network" object`, networkID)
	case body.Network.MTU == nil:
		return 0, nil
	}
	return *body.Network.MTU, nil
}

// ProjectNetworkMTUs lists the MTUs of the project's own networks (not those
// shared with it by other projects), by network ID; 0 means the network
// reports none, as for NetworkMTU. One request answers for every network a
// project's subnets are usually on, where NetworkMTU needs the subnet's
// answer first.
func (s *Session) ProjectNetworkMTUs(ctx context.Context) (map[string]int, error) {
	if s.networkErr != nil {
		return nil, s.networkErr
	}
	q := url.Values{"project_id": {s.projectID}, "fields": {"id", "mtu"}}
	mtus := map[string]int{}
	err := eachPage(ctx, s, s.network, s.network.ServiceURL("networks")+"?"+q.Encode(), func(page networkPage) error {
		for _, n := range page.Networks {
			mtus[n.ID] = 0
			if n.MTU != nil {
				mtus[n.ID] = *n.MTU
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("neutron: list networks of project %q: %w", s.projectID, describe(err))
	}
	return mtus, nil
}

// networkPage is one page of GET /v2.0/networks?fields=id&fields=mtu.
type networkPage struct {
	Networks []struct {
		ID  string `json:"id"`
		MTU *int   `json:"mtu"`
	} `json:"networks"`
	Links []gophercloud.Link `json:"networks_links"`
}

func (p networkPage) next() string { return nextLink(p.Links) }

func (p networkPage) check() error {
	if p.Networks == nil {
		return errors.New(`the answer has no "networks" list`)
	}
	for i, n := range p.Networks {
		if n.ID == "" {
			return fmt.Errorf("networks[%d] has no id", i)
		}
	}
	return nil
}

func fieldsQuery(fields []string) string {
	return "?" + url.Values{"fields": fields}.Encode()
}

// missingFields names the empty ones among name/value pairs, e.g. "id, cidr".
func missingFields(pairs ...string) string {
	var missing []string
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i+1] == "" {
			missing = append(missing, pairs[i])
		}
	}
	return strings.Join(missing, ", ")
}

func chunk(ids []string, size int) [][]string {
	var out [][]string
	for len(ids) > size {
		out = append(out, ids[:size:size])
		ids = ids[size:]
	}
	if len(ids) > 0 {
		out = append(out, ids)
	}
	return out
}

// forEach runs fn for 0..n-1 with at most limit in flight and returns the
// first error; the others are cancelled through ctx. A panic in fn becomes
// its error, so no goroutine started here can take the process down.
func forEach(ctx context.Context, n, limit int, fn func(context.Context, int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	sem := make(chan struct{}, max(limit, 1))
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	for i := range n {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := recovered.Call(func() error { return fn(ctx, i) }); err != nil {
				once.Do(func() { first = err; cancel(err) })
			}
		})
	}
	wg.Wait()
	if first != nil {
		return first
	}
	return context.Cause(ctx)
}
