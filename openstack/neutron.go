package openstack

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sync"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/mtu"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/networks"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/subnets"
)

// Port is the part of a Neutron port multinic uses.
type Port struct {
	ID         string
	NetworkID  string
	Status     string
	MACAddress string
	DeviceID   string
	CreatedAt  time.Time
	FixedIPs   []FixedIP
}

// FixedIP is one address of a port.
type FixedIP struct {
	SubnetID  string
	IPAddress string
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

// portFields asks Neutron for only the attributes we read; a fleet's ports
// otherwise carry security groups, bindings and tags we would discard.
var portFields = []string{"id", "network_id", "status", "mac_address", "device_id", "created_at", "fixed_ips"}

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
// then by port ID.
func (s *Session) Ports(ctx context.Context, vmIDs []string) ([]Port, error) {
	if s.networkErr != nil {
		return nil, s.networkErr
	}
	batches := chunk(vmIDs, s.opts.DeviceIDBatchSize)
	results := make([][]Port, len(batches))
	err := forEach(ctx, len(batches), s.opts.Concurrency, func(ctx context.Context, i int) error {
		query, _ := portQuery{projectID: s.projectID, deviceIDs: batches[i]}.ToPortListQuery()
		return eachPage(ctx, s.network, s.network.ServiceURL("ports")+query, func(page portPage) error {
			for _, p := range page.Ports {
				results[i] = append(results[i], p.port())
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("neutron: list ports: %w", err)
	}
	byDevice := make(map[string][]Port, len(vmIDs))
	for _, batch := range results {
		for _, p := range batch {
			byDevice[p.DeviceID] = append(byDevice[p.DeviceID], p)
		}
	}
	var out []Port
	for _, id := range vmIDs {
		out = append(out, byDevice[id]...)
		delete(byDevice, id) // a VM listed twice contributes its ports once
	}
	return out, nil
}

// portPage is one page of GET /v2.0/ports, limited to portFields.
type portPage struct {
	Ports []portJSON         `json:"ports"`
	Links []gophercloud.Link `json:"ports_links"`
}

func (p portPage) next() string { return nextLink(p.Links) }

type portJSON struct {
	ID         string        `json:"id"`
	NetworkID  string        `json:"network_id"`
	Status     string        `json:"status"`
	MACAddress string        `json:"mac_address"`
	DeviceID   string        `json:"device_id"`
	CreatedAt  openstackTime `json:"created_at"`
	FixedIPs   []struct {
		SubnetID  string `json:"subnet_id"`
		IPAddress string `json:"ip_address"`
	} `json:"fixed_ips"`
}

func (p portJSON) port() Port {
	ips := make([]FixedIP, len(p.FixedIPs))
	for i, ip := range p.FixedIPs {
		ips[i] = FixedIP{SubnetID: ip.SubnetID, IPAddress: ip.IPAddress}
	}
	return Port{ID: p.ID, NetworkID: p.NetworkID, Status: p.Status, MACAddress: p.MACAddress, DeviceID: p.DeviceID, CreatedAt: time.Time(p.CreatedAt), FixedIPs: ips}
}

// Subnet reads one subnet by ID.
func (s *Session) Subnet(ctx context.Context, id string) (Subnet, error) {
	if s.networkErr != nil {
		return Subnet{}, s.networkErr
	}
	sn, err := subnets.Get(ctx, s.network, id).Extract()
	if err != nil {
		if gophercloud.ResponseCodeIs(err, 404) {
			return Subnet{}, fmt.Errorf("neutron: subnet %q: %w", id, ErrSubnetNotFound)
		}
		return Subnet{}, fmt.Errorf("neutron: get subnet %q: %w", id, err)
	}
	return Subnet{ID: sn.ID, Name: sn.Name, NetworkID: sn.NetworkID, CIDR: sn.CIDR}, nil
}

// SubnetByName finds the one subnet of the project with exactly this name.
func (s *Session) SubnetByName(ctx context.Context, name string) (Subnet, error) {
	if s.networkErr != nil {
		return Subnet{}, s.networkErr
	}
	pages, err := subnets.List(s.network, subnets.ListOpts{Name: name, ProjectID: s.projectID}).AllPages(ctx)
	if err != nil {
		return Subnet{}, fmt.Errorf("neutron: list subnets named %q: %w", name, err)
	}
	found, err := subnets.ExtractSubnets(pages)
	if err != nil {
		return Subnet{}, fmt.Errorf("neutron: decode subnets named %q: %w", name, err)
	}
	var matches []subnets.Subnet
	for _, sn := range found {
		if sn.Name == name { // Neutron's name filter is exact, but be sure
			matches = append(matches, sn)
		}
	}
	switch len(matches) {
	case 0:
		return Subnet{}, fmt.Errorf("neutron: no subnet named %q in project %q: %w", name, s.projectID, ErrSubnetNotFound)
	case 1:
		sn := matches[0]
		return Subnet{ID: sn.ID, Name: sn.Name, NetworkID: sn.NetworkID, CIDR: sn.CIDR}, nil
	default:
		return Subnet{}, fmt.Errorf("neutron: %d subnets named %q in project %q: %w", len(matches), name, s.projectID, ErrSubnetNotUnique)
	}
}

// NetworkMTU reads a network's MTU.
func (s *Session) NetworkMTU(ctx context.Context, networkID string) (int, error) {
	if s.networkErr != nil {
		return 0, s.networkErr
	}
	var network struct {
		networks.Network
		mtu.NetworkMTUExt
	}
	if err := networks.Get(ctx, s.network, networkID).ExtractInto(&network); err != nil {
		return 0, fmt.Errorf("neutron: get network %q: %w", networkID, err)
	}
	return network.MTU, nil
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
// first error; the others are cancelled through ctx.
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
			if err := fn(ctx, i); err != nil {
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
