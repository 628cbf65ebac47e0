package openstacktest

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servers"
	"github.com/gophercloud/gophercloud/v2/openstack/utils"
	"github.com/gophercloud/gophercloud/v2/pagination"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestGetServer(t *testing.T) {
	s := NewServer()
	defer s.Close()
	created := time.Date(2025, 6, 7, 8, 9, 10, 0, time.UTC)
	s.AddNetwork(Network{ID: "net-1", Name: "tenant-net"})
	s.AddVM(VM{ID: "vm-1", Name: "worker-1", Metadata: map[string]string{"k8s-node": "node-a"}, CreatedAt: created})
	s.AddPort(Port{ID: "p1", NetworkID: "net-1", DeviceID: "vm-1", MACAddress: "fa:16:3e:00:00:01", FixedIPs: []FixedIP{{SubnetID: "s", IPAddress: "10.0.0.5"}}})
	_, _, compute := clients(t, s)
	ctx := context.Background()

	srv, err := servers.Get(ctx, compute, "vm-1").Extract()
	require.NoError(t, err)
	assert.Equal(t, "worker-1", srv.Name)
	assert.Equal(t, map[string]string{"k8s-node": "node-a"}, srv.Metadata)
	assert.Equal(t, "ACTIVE", srv.Status)
	assert.Equal(t, DefaultProjectID, srv.TenantID)
	assert.Equal(t, created, srv.Created)
	assert.Equal(t, created.Add(10*time.Second), srv.LaunchedAt)
	assert.True(t, srv.TerminatedAt.IsZero())
	addrs := srv.Addresses["tenant-net"].([]any)
	require.Len(t, addrs, 1)
	assert.Equal(t, "fa:16:3e:00:00:01", addrs[0].(map[string]any)["OS-EXT-IPS-MAC:mac_addr"])
	assert.Equal(t, "10.0.0.5", addrs[0].(map[string]any)["addr"])
	require.Len(t, srv.Links, 2)
	assert.Equal(t, s.NovaURL()+"/servers/vm-1", srv.Links[0].(map[string]any)["href"])

	// A caller's own struct. ExtractInto already unwraps the "server" key,
	// so a struct that wraps it again silently decodes nothing.
	var own struct {
		Name     string            `json:"name"`
		Metadata map[string]string `json:"metadata"`
	}
	require.NoError(t, servers.Get(ctx, compute, "vm-1").ExtractInto(&own))
	assert.Equal(t, "node-a", own.Metadata["k8s-node"])
	var wrapped struct {
		Server struct {
			Name string `json:"name"`
		} `json:"server"`
	}
	require.NoError(t, servers.Get(ctx, compute, "vm-1").ExtractInto(&wrapped))
	assert.Empty(t, wrapped.Server.Name, "the trap described above")

	_, err = servers.Get(ctx, compute, "vm-404").Extract()
	require.True(t, gophercloud.ResponseCodeIs(err, http.StatusNotFound), "%v", err)
	assert.JSONEq(t, `{"itemNotFound":{"code":404,"message":"Instance vm-404 could not be found."}}`, responseBody(t, err))

	assert.True(t, s.RemoveVM("vm-1"))
	_, err = servers.Get(ctx, compute, "vm-1").Extract()
	assert.True(t, gophercloud.ResponseCodeIs(err, http.StatusNotFound))
}

func TestListServersDetailPages(t *testing.T) {
	s := NewServer()
	defer s.Close()
	var mine []string
	for i := range 7 {
		v := s.AddVM(VM{ID: fmt.Sprintf("vm-%d", i), Name: fmt.Sprintf("w-%d", i), CreatedAt: DefaultCreatedAt.Add(time.Duration(i%3) * time.Hour)})
		mine = append(mine, v.ID)
	}
	s.AddVM(VM{ID: "vm-foreign", ProjectID: "project-2"})
	s.SetPageSize(3)
	_, _, compute := clients(t, s)

	s.ResetCounters()
	pages, err := servers.List(compute, servers.ListOpts{}).AllPages(context.Background())
	require.NoError(t, err)
	got, err := servers.ExtractServers(pages)
	require.NoError(t, err)
	var ids []string
	for _, srv := range got {
		ids = append(ids, srv.ID)
	}
	// Nova's order: created_at descending, then id descending.
	assert.Equal(t, []string{"vm-5", "vm-2", "vm-4", "vm-1", "vm-6", "vm-3", "vm-0"}, ids)
	assert.ElementsMatch(t, mine, ids, "only the token's project")
	assert.Equal(t, 3, s.Requests(RouteServers), "7 servers at 3 per page")

	simple, err := servers.ListSimple(compute, servers.ListOpts{Limit: 2}).AllPages(context.Background())
	require.NoError(t, err)
	names, err := servers.ExtractServers(simple)
	require.NoError(t, err)
	assert.Len(t, names, 7)
	assert.Equal(t, "w-5", names[0].Name)
}

func TestListServersNextLinkAndFilters(t *testing.T) {
	s := NewServer()
	defer s.Close()
	for i := range 4 {
		s.AddVM(VM{ID: fmt.Sprintf("vm-%d", i), Name: fmt.Sprintf("w-%d", i)})
	}
	s.AddVM(VM{ID: "vm-foreign", ProjectID: "project-2"})
	token := issueToken(t, s)

	status, _, body := rawGet(t, s.NovaURL()+"/servers/detail?limit=2&status=ACTIVE", token)
	require.Equal(t, http.StatusOK, status)
	require.Len(t, body["servers"], 2)
	next := body["servers_links"].([]any)[0].(map[string]any)
	assert.Equal(t, "next", next["rel"])
	u, err := url.Parse(next["href"].(string))
	require.NoError(t, err)
	assert.Equal(t, s.NovaURL()+"/servers/detail", u.Scheme+"://"+u.Host+u.Path)
	assert.Equal(t, url.Values{"limit": {"2"}, "status": {"ACTIVE"}, "marker": {"vm-2"}}, u.Query())

	status, _, body = rawGet(t, next["href"].(string), token)
	require.Equal(t, http.StatusOK, status)
	assert.Len(t, body["servers"], 2)
	assert.NotContains(t, body, "servers_links", "no next link after the last page")

	status, _, body = rawGet(t, s.NovaURL()+"/servers/detail?uuid=vm-1&uuid=vm-foreign", token)
	require.Equal(t, http.StatusOK, status)
	assert.Len(t, body["servers"], 1, "uuid filters within the project")
	status, _, body = rawGet(t, s.NovaURL()+"/servers/detail?all_tenants=1&uuid=vm-1&uuid=vm-foreign", token)
	require.Equal(t, http.StatusOK, status)
	assert.Len(t, body["servers"], 2, "all_tenants widens to every project")

	status, _, body = rawGet(t, s.NovaURL()+"/servers/detail?marker=nope", token)
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Equal(t, map[string]any{"code": float64(400), "message": "marker [nope] not found"}, body["badRequest"])
	status, _, _ = rawGet(t, s.NovaURL()+"/servers?limit=x", token)
	assert.Equal(t, http.StatusBadRequest, status)
}

func TestNovaMicroversions(t *testing.T) {
	s := NewServer()
	defer s.Close()
	s.AddVM(VM{ID: "vm-1", Name: "w"})
	_, _, compute := clients(t, s)
	ctx := context.Background()

	mv, err := utils.GetSupportedMicroversions(ctx, compute)
	require.NoError(t, err)
	assert.Equal(t, utils.SupportedMicroversions{MinMajor: 2, MinMinor: 1, MaxMajor: 2, MaxMinor: 96}, mv)

	compute.Microversion = "2.60"
	res := servers.Get(ctx, compute, "vm-1")
	require.NoError(t, res.Err)
	assert.Equal(t, "compute 2.60", res.Header.Get("OpenStack-API-Version"))
	srv, err := res.Extract()
	require.NoError(t, err)
	assert.Equal(t, "m1.medium", srv.Flavor["original_name"], "2.47+ embeds the flavor")

	compute.Microversion = "2.200"
	_, err = servers.Get(ctx, compute, "vm-1").Extract()
	assert.True(t, gophercloud.ResponseCodeIs(err, http.StatusNotAcceptable), "%v", err)
}

func TestServersPagerStopsOnMissingMarker(t *testing.T) {
	s := NewServer()
	defer s.Close()
	for i := range 4 {
		s.AddVM(VM{ID: fmt.Sprintf("vm-%d", i)})
	}
	s.SetPageSize(2)
	_, _, compute := clients(t, s)
	err := servers.List(compute, nil).EachPage(context.Background(), func(_ context.Context, page pagination.Page) (bool, error) {
		got, err := servers.ExtractServers(page)
		require.NoError(t, err)
		s.RemoveVM(got[len(got)-1].ID)
		return true, nil
	})
	assert.True(t, gophercloud.ResponseCodeIs(err, http.StatusBadRequest), "Nova refuses a marker it cannot find: %v", err)
}

// OS-EXT-SRV-ATTR:hostname is Nova's host name of the guest: computed from
// the name at create by Nova's rules, kept on rename, shown from 2.3 to an
// admin token and from 2.90 to anyone, in the server and the detailed list.
func TestServerHostnameLikeNova(t *testing.T) {
	s := NewServer()
	defer s.Close()
	s.AddVM(VM{ID: "vm-1", Name: "Worker_2"})
	s.AddVM(VM{ID: "vm-2", Name: "node.example.com"})
	s.AddVM(VM{ID: "vm-3", Name: "!!!"})
	s.AddVM(VM{ID: "vm-4", Name: "renamed-later", Hostname: "asked-for.example.com"})
	s.UpdateVM("vm-1", func(v *VM) { v.Name = "Another Name" })
	_, _, compute := clients(t, s)
	ctx := context.Background()

	hostname := func(c *gophercloud.ServiceClient, id string) *string {
		t.Helper()
		srv, err := servers.Get(ctx, c, id).Extract()
		require.NoError(t, err)
		return srv.Hostname
	}
	assert.Nil(t, hostname(compute, "vm-1"), "without a microversion (2.1) Nova shows no hostname")
	compute.Microversion = "2.3"
	assert.Equal(t, "worker-2", *hostname(compute, "vm-1"), "made from the name at create; a rename keeps it")
	assert.Equal(t, "node-example-com", *hostname(compute, "vm-2"))
	assert.Equal(t, "Server-vm-3", *hostname(compute, "vm-3"))
	assert.Equal(t, "asked-for.example.com", *hostname(compute, "vm-4"))

	pages, err := servers.List(compute, servers.ListOpts{}).AllPages(ctx)
	require.NoError(t, err)
	listed, err := servers.ExtractServers(pages)
	require.NoError(t, err)
	byID := map[string]string{}
	for _, srv := range listed {
		require.NotNil(t, srv.Hostname, "the detailed list carries it too")
		byID[srv.ID] = *srv.Hostname
	}
	assert.Equal(t, map[string]string{"vm-1": "worker-2", "vm-2": "node-example-com", "vm-3": "Server-vm-3", "vm-4": "asked-for.example.com"}, byID)

	// A user without the admin role: no extended attributes until 2.90.
	s.SetCredentials(Credentials{Roles: []string{"member", "reader"}})
	_, _, member := clients(t, s)
	member.Microversion = "2.3"
	res := servers.Get(ctx, member, "vm-1")
	srv, err := res.Extract()
	require.NoError(t, err)
	assert.Nil(t, srv.Hostname)
	assert.Empty(t, srv.Host, "OS-EXT-SRV-ATTR:host is admin-only as well")
	member.Microversion = "2.90"
	assert.Equal(t, "worker-2", *hostname(member, "vm-1"))
}

func TestTokenCarriesTheUsersRoles(t *testing.T) {
	s := NewServer()
	defer s.Close()
	roles := func() []any {
		token := issueToken(t, s)
		req, err := http.NewRequest(http.MethodGet, s.URL+"/v3/auth/tokens", nil)
		require.NoError(t, err)
		req.Header.Set("X-Auth-Token", token)
		req.Header.Set("X-Subject-Token", token)
		status, _, body := do(t, req)
		require.Equal(t, http.StatusOK, status)
		return body["token"].(map[string]any)["roles"].([]any)
	}
	assert.Len(t, roles(), 3, "admin, member and reader by default")
	s.SetCredentials(Credentials{Roles: []string{"reader"}})
	got := roles()
	require.Len(t, got, 1)
	assert.Equal(t, "reader", got[0].(map[string]any)["name"])
}
