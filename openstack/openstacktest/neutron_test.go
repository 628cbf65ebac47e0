package openstacktest

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/mtu"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/networks"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/ports"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/subnets"
	"github.com/gophercloud/gophercloud/v2/pagination"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/multinic/multinic/internal/fault"
)

// deviceQuery repeats device_id, which gophercloud's ListOpts cannot; it is
// how multinic asks for the ports of many VMs at once.
type deviceQuery struct {
	projectID string
	devices   []string
	fields    []string
	limit     int
}

func (q deviceQuery) ToPortListQuery() (string, error) {
	v := url.Values{}
	if q.projectID != "" {
		v.Set("project_id", q.projectID)
	}
	v["device_id"] = q.devices
	v["fields"] = q.fields
	if q.limit > 0 {
		v.Set("limit", fmt.Sprint(q.limit))
	}
	return "?" + v.Encode(), nil
}

// portWorld is five VMs with three ports each in project-1, plus ports that
// must not match: another VM's and another project's.
func portWorld(s *Server) (vms []string, want []string) {
	created := time.Date(2025, 11, 12, 13, 14, 15, 0, time.UTC)
	s.AddNetwork(Network{ID: "net-a", Name: "a"})
	s.AddSubnet(Subnet{ID: "sub-a", Name: "a", NetworkID: "net-a", CIDR: "10.1.0.0/24"})
	for i := range 5 {
		vm := fmt.Sprintf("vm-%d", i)
		vms = append(vms, vm)
		for j := range 3 {
			id := fmt.Sprintf("port-%d-%d", i, j)
			s.AddPort(Port{ID: id, NetworkID: "net-a", DeviceID: vm, CreatedAt: created,
				FixedIPs: []FixedIP{{SubnetID: "sub-a", IPAddress: fmt.Sprintf("10.1.0.%d", 10+i*3+j)}}})
			want = append(want, id)
		}
	}
	s.AddPort(Port{ID: "port-x", NetworkID: "net-a", DeviceID: "vm-x"})
	s.AddPort(Port{ID: "port-0-other-project", NetworkID: "net-a", DeviceID: "vm-0", ProjectID: "project-2"})
	slices.Sort(want)
	return vms, want
}

func TestPortsByDeviceIDsFollowPagesLinks(t *testing.T) {
	s := NewServer()
	defer s.Close()
	vms, want := portWorld(s)
	s.SetPageSize(4)
	_, network, _ := clients(t, s)

	fields := []string{"id", "network_id", "status", "mac_address", "device_id", "created_at", "fixed_ips"}
	s.ResetCounters()
	var pages int
	var got []ports.Port
	err := ports.List(network, deviceQuery{projectID: DefaultProjectID, devices: vms, fields: fields}).EachPage(context.Background(), func(_ context.Context, page pagination.Page) (bool, error) {
		pages++
		var raw []map[string]any
		require.NoError(t, ports.ExtractPortsInto(page, &raw))
		for _, p := range raw {
			keys := slices.Sorted(maps.Keys(p))
			assert.Equal(t, slices.Sorted(slices.Values(fields)), keys, "?fields= limits the attributes")
		}
		ps, err := ports.ExtractPorts(page)
		got = append(got, ps...)
		return true, err
	})
	require.NoError(t, err)

	var ids []string
	for _, p := range got {
		ids = append(ids, p.ID)
		assert.Equal(t, time.Date(2025, 11, 12, 13, 14, 15, 0, time.UTC), p.CreatedAt)
		assert.Regexp(t, `^fa:16:3e(:[0-9a-f]{2}){3}$`, p.MACAddress)
		assert.Equal(t, "ACTIVE", p.Status)
		require.Len(t, p.FixedIPs, 1)
		assert.Equal(t, "sub-a", p.FixedIPs[0].SubnetID)
	}
	assert.Equal(t, want, ids, "every port of the five VMs, in id order, nothing else")
	assert.Equal(t, 4, pages, "15 ports at 4 per page")
	assert.Equal(t, 4, s.Requests(RoutePorts))
	assert.Equal(t, 4, s.Requests(RouteAll))
}

func TestPortsNextLinkKeepsFiltersAndLimit(t *testing.T) {
	s := NewServer()
	defer s.Close()
	vms, _ := portWorld(s)
	token := issueToken(t, s)

	q := url.Values{"device_id": vms[:2], "limit": {"2"}, "status": {"ACTIVE"}}
	status, _, body := rawGet(t, s.NeutronURL()+"/v2.0/ports?"+q.Encode(), token)
	require.Equal(t, http.StatusOK, status)
	require.Len(t, body["ports"], 2)
	links := body["ports_links"].([]any)
	require.Len(t, links, 1, "no previous link on the first page")
	next := links[0].(map[string]any)
	assert.Equal(t, "next", next["rel"])
	u, err := url.Parse(next["href"].(string))
	require.NoError(t, err)
	assert.Equal(t, s.URL+"/neutron/v2.0/ports", u.Scheme+"://"+u.Host+u.Path)
	assert.Equal(t, url.Values{"device_id": vms[:2], "limit": {"2"}, "status": {"ACTIVE"}, "marker": {"port-0-1"}}, u.Query())

	// The last page carries no next link, only the way back.
	status, _, body = rawGet(t, s.NeutronURL()+"/v2.0/ports?"+q.Encode()+"&marker=port-1-1", token)
	require.Equal(t, http.StatusOK, status)
	require.Len(t, body["ports"], 1)
	for _, l := range body["ports_links"].([]any) {
		assert.NotEqual(t, "next", l.(map[string]any)["rel"])
	}

	// Without a limit and without pagination_max_limit, one page holds all.
	status, _, body = rawGet(t, s.NeutronURL()+"/v2.0/ports?device_id="+vms[0], token)
	require.Equal(t, http.StatusOK, status)
	assert.Len(t, body["ports"], 4, "three in project-1, one in project-2: admin sees every project")
	assert.NotContains(t, body, "ports_links")
}

func TestPortFilters(t *testing.T) {
	s := NewServer()
	defer s.Close()
	portWorld(s)
	s.AddSubnet(Subnet{ID: "sub-b", NetworkID: "net-a", CIDR: "10.2.0.0/24"})
	s.AddPort(Port{ID: "port-b", NetworkID: "net-a", DeviceID: "vm-1", Status: "DOWN",
		FixedIPs: []FixedIP{{SubnetID: "sub-a", IPAddress: "10.1.0.99"}, {SubnetID: "sub-b", IPAddress: "10.2.0.5"}}})
	_, network, _ := clients(t, s)

	list := func(opts ports.ListOptsBuilder) []string {
		t.Helper()
		pages, err := ports.List(network, opts).AllPages(context.Background())
		require.NoError(t, err)
		got, err := ports.ExtractPorts(pages)
		require.NoError(t, err)
		var ids []string
		for _, p := range got {
			ids = append(ids, p.ID)
		}
		return ids
	}
	assert.Equal(t, []string{"port-b"}, list(ports.ListOpts{FixedIPs: []ports.FixedIPOpts{{SubnetID: "sub-b"}}}))
	assert.Equal(t, []string{"port-b"}, list(ports.ListOpts{Status: "DOWN"}))
	assert.Equal(t, []string{"port-1-0", "port-1-1", "port-1-2", "port-b"}, list(ports.ListOpts{DeviceID: "vm-1", ProjectID: DefaultProjectID}))
	assert.Equal(t, []string{"port-0-other-project"}, list(ports.ListOpts{TenantID: "project-2"}))
	assert.Empty(t, list(ports.ListOpts{FixedIPs: []ports.FixedIPOpts{{SubnetID: "sub-b", IPAddress: "10.1.0.99"}}}),
		"both keys must hold for the same fixed IP")
	assert.Equal(t, []string{"port-b"}, list(ports.ListOpts{FixedIPs: []ports.FixedIPOpts{{IPAddressSubstr: "10.2.0"}}}))

	s.AddPort(Port{ID: "port-unbound", NetworkID: "net-a"})
	status, _, body := rawGet(t, s.NeutronURL()+"/v2.0/ports?device_id=&fields=id", issueToken(t, s))
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, []any{map[string]any{"id": "port-unbound"}}, body["ports"], "an empty device_id finds unattached ports")
}

func TestPortListErrors(t *testing.T) {
	s := NewServer()
	defer s.Close()
	portWorld(s)
	token := issueToken(t, s)

	status, _, body := rawGet(t, s.NeutronURL()+"/v2.0/ports?devices_id=vm-1", token)
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Equal(t, "['devices_id'] is invalid attribute for filtering", body["NeutronError"].(map[string]any)["message"])

	status, _, _ = rawGet(t, s.NeutronURL()+"/v2.0/ports?limit=-1", token)
	assert.Equal(t, http.StatusBadRequest, status)
	status, _, _ = rawGet(t, s.NeutronURL()+"/v2.0/ports?admin_state_up=maybe", token)
	assert.Equal(t, http.StatusBadRequest, status)

	status, _, body = rawGet(t, s.NeutronURL()+"/v2.0/ports?limit=2&marker=gone", token)
	assert.Equal(t, http.StatusNotFound, status)
	assert.Equal(t, map[string]any{"type": "PortNotFound", "message": "Port gone could not be found.", "detail": ""}, body["NeutronError"])
}

func TestPortRemovedWhilePagingFailsLikeNeutron(t *testing.T) {
	s := NewServer()
	defer s.Close()
	vms, _ := portWorld(s)
	s.SetPageSize(5)
	_, network, _ := clients(t, s)

	// Neutron resolves the marker before paging on, so a port deleted
	// between two pages breaks the walk; clients have to start over.
	pages := 0
	err := ports.List(network, deviceQuery{devices: vms}).EachPage(context.Background(), func(_ context.Context, page pagination.Page) (bool, error) {
		pages++
		got, err := ports.ExtractPorts(page)
		require.NoError(t, err)
		require.True(t, s.RemovePort(got[len(got)-1].ID))
		return true, nil
	})
	require.Error(t, err)
	assert.True(t, gophercloud.ResponseCodeIs(err, http.StatusNotFound), "%v", err)
	assert.Equal(t, 1, pages)
}

func TestShowPortAndUpdatePort(t *testing.T) {
	s := NewServer()
	defer s.Close()
	s.AddPort(Port{ID: "p1", DeviceID: "vm-1", Status: "DOWN", CreatedAt: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)})
	_, network, _ := clients(t, s)
	ctx := context.Background()

	p, err := ports.Get(ctx, network, "p1").Extract()
	require.NoError(t, err)
	assert.Equal(t, "DOWN", p.Status)
	assert.Equal(t, DefaultProjectID, p.ProjectID)
	assert.Equal(t, DefaultProjectID, p.TenantID)
	assert.Equal(t, "compute:nova", p.DeviceOwner)
	assert.Equal(t, 1, p.RevisionNumber)

	clock := withClock(s)
	require.True(t, s.UpdatePort("p1", func(p *Port) { p.Status = "ACTIVE"; p.ID = "ignored" }))
	p, err = ports.Get(ctx, network, "p1").Extract()
	require.NoError(t, err)
	assert.Equal(t, "ACTIVE", p.Status)
	assert.Equal(t, 2, p.RevisionNumber)
	assert.Equal(t, clock.now(), p.UpdatedAt)
	assert.False(t, s.UpdatePort("nope", func(*Port) {}))

	_, err = ports.Get(ctx, network, "nope").Extract()
	assert.True(t, gophercloud.ResponseCodeIs(err, http.StatusNotFound))
	assert.Contains(t, responseBody(t, err), `"type":"PortNotFound"`)
}

func TestSubnetsGetAndListByName(t *testing.T) {
	s := NewServer()
	defer s.Close()
	s.AddNetwork(Network{ID: "net-1"})
	s.AddSubnet(Subnet{ID: "sub-1", Name: "workers", NetworkID: "net-1", CIDR: "192.168.10.0/24"})
	s.AddSubnet(Subnet{ID: "sub-2", Name: "workers", NetworkID: "net-1", CIDR: "192.168.11.0/24", ProjectID: "project-2"})
	s.AddSubnet(Subnet{ID: "sub-3", Name: "storage", NetworkID: "net-1", CIDR: "fd00:1::/64"})
	_, network, _ := clients(t, s)
	ctx := context.Background()

	sn, err := subnets.Get(ctx, network, "sub-1").Extract()
	require.NoError(t, err)
	assert.Equal(t, "192.168.10.0/24", sn.CIDR)
	assert.Equal(t, "net-1", sn.NetworkID)
	assert.Equal(t, 4, sn.IPVersion)
	assert.Equal(t, "192.168.10.1", sn.GatewayIP)
	assert.Equal(t, []subnets.AllocationPool{{Start: "192.168.10.2", End: "192.168.10.254"}}, sn.AllocationPools)
	assert.Equal(t, DefaultCreatedAt, sn.CreatedAt)

	v6, err := subnets.Get(ctx, network, "sub-3").Extract()
	require.NoError(t, err)
	assert.Equal(t, 6, v6.IPVersion)
	assert.Equal(t, []subnets.AllocationPool{{Start: "fd00:1::2", End: "fd00:1::ffff:ffff:ffff:ffff"}}, v6.AllocationPools)

	_, err = subnets.Get(ctx, network, "missing").Extract()
	require.True(t, gophercloud.ResponseCodeIs(err, http.StatusNotFound), "%v", err)
	assert.JSONEq(t, `{"NeutronError":{"type":"SubnetNotFound","message":"Subnet missing could not be found.","detail":""}}`, responseBody(t, err))

	byName := func(opts subnets.ListOpts) []string {
		pages, err := subnets.List(network, opts).AllPages(ctx)
		require.NoError(t, err)
		got, err := subnets.ExtractSubnets(pages)
		require.NoError(t, err)
		var ids []string
		for _, sn := range got {
			ids = append(ids, sn.ID)
		}
		return ids
	}
	assert.Equal(t, []string{"sub-1"}, byName(subnets.ListOpts{Name: "workers", ProjectID: DefaultProjectID}))
	assert.Equal(t, []string{"sub-1", "sub-2"}, byName(subnets.ListOpts{Name: "workers"}))
	assert.Empty(t, byName(subnets.ListOpts{Name: "work", ProjectID: DefaultProjectID}), "name filters are exact")

	s.SetPageSize(1)
	s.ResetCounters()
	assert.Equal(t, []string{"sub-1", "sub-2", "sub-3"}, byName(subnets.ListOpts{}))
	assert.Equal(t, 3, s.Requests(RouteSubnets), "subnets paginate like ports")
}

func TestNetworkMTU(t *testing.T) {
	s := NewServer()
	defer s.Close()
	s.AddNetwork(Network{ID: "jumbo", Name: "storage", MTU: 8950})
	s.AddNetwork(Network{ID: "plain"})
	s.AddSubnet(Subnet{ID: "sub-j", NetworkID: "jumbo", CIDR: "10.9.0.0/24"})
	_, network, _ := clients(t, s)
	ctx := context.Background()

	var n struct {
		networks.Network
		mtu.NetworkMTUExt
	}
	require.NoError(t, networks.Get(ctx, network, "jumbo").ExtractInto(&n))
	assert.Equal(t, 8950, n.MTU)
	assert.Equal(t, "storage", n.Name)
	assert.Equal(t, []string{"sub-j"}, n.Subnets)
	assert.Equal(t, DefaultCreatedAt, n.CreatedAt)

	require.NoError(t, networks.Get(ctx, network, "plain").ExtractInto(&n))
	assert.Equal(t, DefaultMTU, n.MTU)

	err := networks.Get(ctx, network, "gone").ExtractInto(&n)
	require.True(t, gophercloud.ResponseCodeIs(err, http.StatusNotFound), "%v", err)
	assert.JSONEq(t, `{"NeutronError":{"type":"NetworkNotFound","message":"Network gone could not be found.","detail":""}}`, responseBody(t, err))

	status, _, body := rawGet(t, s.NeutronURL()+"/v2.0/networks/jumbo?fields=mtu", issueToken(t, s))
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, map[string]any{"network": map[string]any{"mtu": float64(8950)}}, body)
}

// A network whose plugin reports no MTU has no mtu attribute at all, in the
// whole document and in a ?fields= selection; odd values are served as set.
func TestNetworkWithoutOrWithOddMTU(t *testing.T) {
	s := NewServer()
	defer s.Close()
	s.AddNetwork(Network{ID: "no-mtu", NoMTU: true})
	s.AddNetwork(Network{ID: "too-big", MTU: 9100})
	token := issueToken(t, s)

	status, _, body := rawGet(t, s.NeutronURL()+"/v2.0/networks/no-mtu", token)
	require.Equal(t, http.StatusOK, status)
	assert.NotContains(t, body["network"], "mtu")
	assert.Equal(t, "no-mtu", body["network"].(map[string]any)["id"])

	status, _, body = rawGet(t, s.NeutronURL()+"/v2.0/networks/no-mtu?fields=id&fields=mtu", token)
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, map[string]any{"network": map[string]any{"id": "no-mtu"}}, body)

	status, _, body = rawGet(t, s.NeutronURL()+"/v2.0/networks/too-big?fields=mtu", token)
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, map[string]any{"network": map[string]any{"mtu": float64(9100)}}, body)

	status, _, body = rawGet(t, s.NeutronURL()+"/v2.0/networks?mtu=9100&fields=id", token)
	require.Equal(t, http.StatusOK, status, "mtu stays a filter")
	assert.Equal(t, []any{map[string]any{"id": "too-big"}}, body["networks"])
}

func TestNeutronVersionDocuments(t *testing.T) {
	s := NewServer()
	defer s.Close()
	status, _, body := rawGet(t, s.NeutronURL()+"/", "")
	require.Equal(t, http.StatusOK, status, "the root is public")
	v := body["versions"].([]any)[0].(map[string]any)
	assert.Equal(t, "v2.0", v["id"])
	assert.Equal(t, "CURRENT", v["status"])

	status, _, _ = rawGet(t, s.NeutronURL()+"/v2.0/", "")
	assert.Equal(t, http.StatusUnauthorized, status)
	status, _, body = rawGet(t, s.NeutronURL()+"/v2.0/", issueToken(t, s))
	assert.Equal(t, http.StatusOK, status)
	var collections []string
	for _, r := range body["resources"].([]any) {
		collections = append(collections, r.(map[string]any)["collection"].(string))
	}
	assert.ElementsMatch(t, []string{"ports", "subnets", "networks"}, collections)
}

// fault.NextLinksTo: the answer is the usual page, only its pagination
// links point at another base, as behind a misconfigured proxy.
func TestNextLinksToAnotherBase(t *testing.T) {
	s := NewServer()
	defer s.Close()
	vms, _ := portWorld(s)
	token := issueToken(t, s)
	s.Inject(RoutePorts, fault.NextLinksTo("http://elsewhere.example:8080"), 1)

	q := url.Values{"device_id": vms[:2], "limit": {"2"}}
	status, _, body := rawGet(t, s.NeutronURL()+"/v2.0/ports?"+q.Encode(), token)
	require.Equal(t, http.StatusOK, status)
	require.Len(t, body["ports"], 2, "the page itself as always")
	next := body["ports_links"].([]any)[0].(map[string]any)["href"].(string)
	assert.True(t, strings.HasPrefix(next, "http://elsewhere.example:8080/neutron/v2.0/ports?"), next)

	status, _, body = rawGet(t, s.NeutronURL()+"/v2.0/ports?"+q.Encode(), token)
	require.Equal(t, http.StatusOK, status)
	next = body["ports_links"].([]any)[0].(map[string]any)["href"].(string)
	assert.True(t, strings.HasPrefix(next, s.URL+"/neutron/"), "one fault, then links are home again: %s", next)
}
