package openstack

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/multinic/multinic/openstack/openstacktest"
)

// novaCloud has n servers vm-000.. named worker-000.. in the default project.
func novaCloud(t *testing.T, n int) (*openstacktest.Server, []string) {
	t.Helper()
	s := openstacktest.NewServer()
	t.Cleanup(s.Close)
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("00000000-0000-4000-8000-%012d", i)
		s.AddVM(openstacktest.VM{ID: ids[i], Name: fmt.Sprintf("worker-%03d", i)})
	}
	return s, ids
}

// The passes of many CRs of one project share one listing while it is
// fresh; a rename in Nova shows once the window has passed, never later.
func TestServerListingIsSharedWithinItsMaxAge(t *testing.T) {
	s, ids := novaCloud(t, 60)
	sess := session(t, s, nil)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ctx := context.Background()
	crs := [][]string{ids[0:20], ids[20:40], ids[40:60]}

	for _, vms := range crs {
		found, failed, err := sess.ServersAt(ctx, vms, now)
		require.NoError(t, err)
		assert.Empty(t, failed)
		assert.Len(t, found, 20)
	}
	assert.Equal(t, 1, s.Requests(openstacktest.RouteServers), "three CRs, one listing")
	assert.Equal(t, 60, s.ServersServed(), "each server decoded once, not once per CR")

	s.UpdateVM(ids[5], func(v *openstacktest.VM) { v.Name = "renamed" })
	found, _, err := sess.ServersAt(ctx, crs[0], now.Add(DefaultServerListMaxAge-time.Second))
	require.NoError(t, err)
	assert.Equal(t, "worker-005", found[ids[5]].Name, "within the window the listing is reused")

	found, _, err = sess.ServersAt(ctx, crs[0], now.Add(DefaultServerListMaxAge))
	require.NoError(t, err)
	assert.Equal(t, "renamed", found[ids[5]].Name, "at the end of the window Nova is asked again")
	assert.Equal(t, 2, s.Requests(openstacktest.RouteServers))
}

// A small CR uses a fresh listing when there is one and asks for its VMs
// one by one when there is none; a VM the listing does not hold (created
// since) is asked for on its own either way.
func TestSmallSetsUseAFreshListingOrGetEachVM(t *testing.T) {
	s, ids := novaCloud(t, 30)
	sess := session(t, s, nil)
	now := time.Now()
	ctx := context.Background()

	_, _, err := sess.ServersAt(ctx, ids[:3], now)
	require.NoError(t, err)
	assert.Equal(t, 3, s.Requests(openstacktest.RouteServers), "no listing yet: one GET per VM")

	_, _, err = sess.ServersAt(ctx, ids, now)
	require.NoError(t, err)
	s.ResetCounters()
	found, failed, err := sess.ServersAt(ctx, ids[:3], now)
	require.NoError(t, err)
	assert.Len(t, found, 3)
	assert.Empty(t, failed)
	assert.Zero(t, s.Requests(openstacktest.RouteServers), "the fresh listing answers")

	late := "00000000-0000-4000-8000-999999999999"
	s.AddVM(openstacktest.VM{ID: late, Name: "late-worker"})
	found, failed, err = sess.ServersAt(ctx, append(ids[:3:3], late, "00000000-0000-4000-8000-000000000404"), now)
	require.NoError(t, err)
	assert.Equal(t, "late-worker", found[late].Name)
	require.ErrorIs(t, failed["00000000-0000-4000-8000-000000000404"], ErrServerNotFound)
	assert.Equal(t, 2, s.Requests(openstacktest.RouteServers), "only the VMs the listing lacks are asked for")

	s.ResetCounters()
	_, _, err = sess.ServersAt(ctx, ids[:3], now.Add(DefaultServerListMaxAge))
	require.NoError(t, err)
	assert.Equal(t, 3, s.Requests(openstacktest.RouteServers), "a stale listing is not used")
}

// Concurrent passes wait for the listing in flight instead of each asking.
func TestConcurrentCallsShareTheListingInFlight(t *testing.T) {
	s, ids := novaCloud(t, 40)
	s.SetLatency(openstacktest.RouteServers, 50*time.Millisecond)
	sess := session(t, s, nil)
	var wg sync.WaitGroup
	var named atomic.Int32
	for range 8 {
		wg.Go(func() {
			found, _, err := sess.Servers(context.Background(), ids)
			assert.NoError(t, err)
			named.Add(int32(len(found)))
		})
	}
	wg.Wait()
	assert.EqualValues(t, 8*40, named.Load())
	assert.Equal(t, 1, s.Requests(openstacktest.RouteServers))
}

// A failed listing is not kept: the next call asks Nova again.
func TestAFailedListingIsNotShared(t *testing.T) {
	s, ids := novaCloud(t, 20)
	sess := session(t, s, nil) // RetryMax -1: the 500 is the answer
	s.Fail(openstacktest.RouteServers, http.StatusInternalServerError, 1)
	_, _, err := sess.Servers(context.Background(), ids)
	require.Error(t, err)
	found, _, err := sess.Servers(context.Background(), ids)
	require.NoError(t, err)
	assert.Len(t, found, 20)
	assert.Equal(t, 2, s.Requests(openstacktest.RouteServers))
}

// A negative ServerListMaxAge shares nothing: every call lists.
func TestServerListSharingCanBeTurnedOff(t *testing.T) {
	s, ids := novaCloud(t, 20)
	sess, err := Authenticate(context.Background(), Credentials{
		IdentityURL: s.URL, UserName: openstacktest.DefaultUserName, UserDomainName: openstacktest.DefaultUserDomainName,
		Password: openstacktest.DefaultPassword, ProjectID: openstacktest.DefaultProjectID,
	}, Options{RetryMax: -1, ServerListMaxAge: -1})
	require.NoError(t, err)
	for range 2 {
		_, _, err := sess.Servers(context.Background(), ids)
		require.NoError(t, err)
	}
	assert.Equal(t, 2, s.Requests(openstacktest.RouteServers))
}

// A cloud whose Nova max_limit was raised (or removed) still answers in
// pages of 1000, which keeps every page far below the body limit.
func TestServerListPagesAreBounded(t *testing.T) {
	s, ids := novaCloud(t, 2500)
	s.SetPageSize(0) // no server-side cap
	sess := session(t, s, nil)
	found, failed, err := sess.Servers(context.Background(), ids)
	require.NoError(t, err)
	assert.Len(t, found, 2500)
	assert.Empty(t, failed)
	assert.Equal(t, 3, s.Requests(openstacktest.RouteServers), "pages of 1000, links followed")
}

// orderByVM is a stable counting sort applied in place; it must agree with
// a plain stable sort by VM rank, dropping ports of VMs outside the batch.
func TestOrderByVM(t *testing.T) {
	rank := map[string]int{"vm-a": 0, "vm-b": 1, "vm-c": 2, "vm-d": 3, "vm-x": 7}
	var ports []Port
	for i, dev := range []string{"vm-c", "vm-a", "vm-b", "vm-c", "vm-x", "vm-a", "unknown", "vm-b", "vm-a", "vm-d", "vm-c"} {
		ports = append(ports, Port{ID: fmt.Sprintf("p%02d", i), DeviceID: dev})
	}
	var want []Port
	for _, p := range ports {
		if k, ok := rank[p.DeviceID]; ok && k < 3 {
			want = append(want, p)
		}
	}
	slices.SortStableFunc(want, func(a, b Port) int { return rank[a.DeviceID] - rank[b.DeviceID] })
	got := orderByVM(slices.Clone(ports), rank, 0, 3)
	assert.Equal(t, want, got)
	assert.Empty(t, orderByVM(nil, rank, 0, 3))
}

// PortsByVM groups exactly what Ports lists, without copying it.
func TestPortsByVMGroupsPorts(t *testing.T) {
	s := openstacktest.NewServer()
	t.Cleanup(s.Close)
	fleet := s.AddFleet(openstacktest.Fleet{VMs: 250, TargetSubnets: 2, TargetPortsPerVM: 3, OtherPortsPerVM: 1})
	sess := session(t, s, nil)
	vms := append(slices.Clone(fleet.VMIDs[100:]), fleet.VMIDs[:100]...) // another order than Neutron's
	vms = append(vms, vms[5], "00000000-0000-4000-8000-00000000dead")
	list, err := sess.Ports(context.Background(), vms)
	require.NoError(t, err)
	require.Len(t, list, 1000)
	grouped, err := sess.PortsByVM(context.Background(), vms)
	require.NoError(t, err)
	require.Len(t, grouped, 250)
	var regrouped []Port
	for _, id := range vms[:250] {
		regrouped = append(regrouped, grouped[id]...)
	}
	assert.Equal(t, list, regrouped, "by VM as given, then by port ID")
	assert.True(t, slices.IsSortedFunc(grouped[vms[0]], func(a, b Port) int { return strings.Compare(a.ID, b.ID) }))
}

// SPEC §5: metadata (when the key is set and the value not blank), then
// Nova's hostname, then the server name by Nova's own rules.
func TestServerNodeName(t *testing.T) {
	host := func(s string) *string { return &s }
	for _, tt := range []struct {
		name       string
		srv        Server
		key        string
		want, from string
	}{
		{"metadata wins", Server{ID: "v", Name: "Worker_2", Hostname: host("worker-2"), Metadata: map[string]string{"k8s": "biz-a"}}, "k8s", "biz-a", NodeNameFromMetadata},
		{"blank metadata", Server{ID: "v", Name: "Worker_2", Hostname: host("worker-2"), Metadata: map[string]string{"k8s": " "}}, "k8s", "worker-2", NodeNameFromHostname},
		{"no key set", Server{ID: "v", Name: "Worker_2", Hostname: host("Custom"), Metadata: map[string]string{"k8s": "biz-a"}}, "", "Custom", NodeNameFromHostname},
		{"hostname as Nova has it", Server{ID: "v", Name: "node.example.com", Hostname: host("node.example.com")}, "", "node.example.com", NodeNameFromHostname},
		{"no hostname shown", Server{ID: "v", Name: "Worker_2"}, "", "worker-2", NodeNameFromServerName},
		{"blank hostname", Server{ID: "v", Name: "Worker 3", Hostname: host("")}, "", "worker-3", NodeNameFromServerName},
		{"nothing left of the name", Server{ID: "v", Name: "!!!"}, "", "Server-v", NodeNameFromServerName},
		{"no name", Server{ID: "v", Name: " "}, "", "", NodeNameFromServerName},
	} {
		t.Run(tt.name, func(t *testing.T) {
			name, from := tt.srv.NodeName(tt.key)
			assert.Equal(t, tt.want, name)
			assert.Equal(t, tt.from, from)
		})
	}
}

// Nova shows the hostname to the admin the library authenticates as, on
// one server and in the listing, because every request asks for 2.3; a
// user without the admin role gets none, and the name rule applies.
func TestServersCarryNovasHostname(t *testing.T) {
	s, ids := novaCloud(t, listServersThreshold+1)
	s.UpdateVM(ids[0], func(v *openstacktest.VM) { v.Name, v.Hostname = "Renamed", "worker-000" })
	for _, tt := range []struct {
		name string
		vms  []string
	}{{"one GET", ids[:1]}, {"listing", ids}} {
		t.Run(tt.name, func(t *testing.T) {
			found, failed, err := session(t, s, nil).Servers(context.Background(), tt.vms)
			require.NoError(t, err)
			require.Empty(t, failed)
			require.NotNil(t, found[ids[0]].Hostname)
			name, from := found[ids[0]].NodeName("")
			assert.Equal(t, "worker-000", name)
			assert.Equal(t, NodeNameFromHostname, from)
		})
	}
	s.SetCredentials(openstacktest.Credentials{Roles: []string{"member"}})
	found, _, err := session(t, s, nil).Servers(context.Background(), ids[:1])
	require.NoError(t, err)
	assert.Nil(t, found[ids[0]].Hostname)
	name, from := found[ids[0]].NodeName("")
	assert.Equal(t, "renamed", name, "the renamed server's name, by Nova's rules")
	assert.Equal(t, NodeNameFromServerName, from)
}
