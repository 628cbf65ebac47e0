package openstacktest

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// referencePortList is a port list body built the way listNeutron did before
// it cached encodings: render every port now, select fields, encode the map.
func referencePortList(t *testing.T, s *Server, ids []string, fields []string) []byte {
	t.Helper()
	s.mu.RLock()
	items := []any{}
	for _, id := range ids {
		items = append(items, selectFields(renderPort(s.ports[id]), fields))
	}
	s.mu.RUnlock()
	var buf bytes.Buffer
	require.NoError(t, appendJSON(&buf, map[string]any{"ports": items}))
	return append(buf.Bytes(), '\n')
}

func getBody(t *testing.T, url, token string) []byte {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	require.NoError(t, err)
	req.Header.Set("X-Auth-Token", token)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return body
}

// Port lists are assembled from documents and encodings cached on the port
// records; every change to a port must show in the next list, byte for byte
// what rendering from scratch gives.
func TestPortListCacheFollowsChanges(t *testing.T) {
	s := NewServer()
	defer s.Close()
	clock := withClock(s)
	vms, _ := portWorld(s)
	token := issueToken(t, s)
	fields := []string{"id", "status", "fixed_ips", "revision_number", "updated_at", "network_id", "id", "unknown"}
	q := url.Values{"device_id": vms[:2], "fields": fields}
	check := func(want []string) {
		t.Helper()
		for _, f := range [][]string{fields, nil} {
			q := url.Values{"device_id": q["device_id"], "fields": f}
			got := getBody(t, s.NeutronURL()+"/v2.0/ports?"+q.Encode(), token)
			assert.Equal(t, string(referencePortList(t, s, want, f)), string(got))
		}
	}
	check([]string{"port-0-0", "port-0-1", "port-0-2", "port-0-other-project", "port-1-0", "port-1-1", "port-1-2"})

	clock.advance(90 * time.Second)
	require.True(t, s.UpdatePort("port-0-1", func(p *Port) {
		p.Status = "DOWN"
		p.FixedIPs = append(p.FixedIPs, FixedIP{SubnetID: "sub-a", IPAddress: "10.1.0.99"})
	}))
	s.AddPort(Port{ID: "port-1-0", NetworkID: "net-b", DeviceID: vms[1]})
	require.True(t, s.RemovePort("port-0-2"))
	s.AddPort(Port{ID: "port-1-9", NetworkID: "net-a", DeviceID: vms[1]})
	require.True(t, s.UpdatePort("port-0-other-project", func(p *Port) { p.DeviceID = "elsewhere" }))
	check([]string{"port-0-0", "port-0-1", "port-1-0", "port-1-1", "port-1-2", "port-1-9"})
}

// Lists fill the per-port caches under the read lock while ports change;
// run with -race.
func TestPortListCacheConcurrent(t *testing.T) {
	s := NewServer()
	defer s.Close()
	vms, _ := portWorld(s)
	token := issueToken(t, s)
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			for j := range 10 {
				q := url.Values{"device_id": vms}
				if (i+j)%2 == 0 {
					q["fields"] = []string{"id", "status"}
				}
				getBody(t, s.NeutronURL()+"/v2.0/ports?"+q.Encode(), token)
			}
		})
	}
	wg.Go(func() {
		for j := range 20 {
			s.UpdatePort("port-0-0", func(p *Port) { p.Name = string(rune('a' + j)) })
		}
	})
	wg.Wait()
}

// referenceServerList is a short server listing built the way listServers
// did before it cached entries and Nova's order: sort the project's VMs,
// render each entry, encode the map.
func referenceServerList(t *testing.T, s *Server, base string, limit int, marker string) []byte {
	t.Helper()
	s.mu.RLock()
	var list []*VM
	for _, v := range s.vms {
		if v.ProjectID == DefaultProjectID {
			list = append(list, v)
		}
	}
	s.mu.RUnlock()
	slices.SortFunc(list, func(a, b *VM) int {
		return cmp.Or(b.CreatedAt.Compare(a.CreatedAt), strings.Compare(b.ID, a.ID))
	})
	if marker != "" {
		i := slices.IndexFunc(list, func(v *VM) bool { return v.ID == marker })
		list = list[i+1:]
	}
	items := []any{}
	for i, v := range list {
		if i == limit {
			break
		}
		items = append(items, serverRef{ID: v.ID, Links: serverLinks(base, v.ID), Name: v.Name})
	}
	body := map[string]any{"servers": items}
	if len(list) > limit {
		q := url.Values{"limit": {strconv.Itoa(limit)}, "marker": {list[limit-1].ID}}
		body["servers_links"] = []any{map[string]any{"rel": "next", "href": base + "/v2.1/servers?" + q.Encode()}}
	}
	var buf bytes.Buffer
	require.NoError(t, appendJSON(&buf, body))
	return append(buf.Bytes(), '\n')
}

// The short listing is assembled from entries cached per VM record and an
// order sorted once per change; every change must show in the next page,
// byte for byte what rendering from scratch gives, under every mount prefix.
func TestServerListCacheFollowsChanges(t *testing.T) {
	s := NewServer()
	defer s.Close()
	for i := range 7 {
		s.AddVM(VM{ID: fmt.Sprintf("vm-%d", i), Name: fmt.Sprintf("worker-%d", i), CreatedAt: DefaultCreatedAt.Add(time.Duration(i%3) * time.Minute)})
	}
	s.AddVM(VM{ID: "vm-other", Name: "other", ProjectID: "project-2"})
	token := issueToken(t, s)
	check := func() {
		t.Helper()
		for _, base := range []string{s.URL + "/nova", s.URL + "/nova-internal"} {
			marker := ""
			for page := 0; page < 3; page++ {
				q := url.Values{"limit": {"3"}}
				if marker != "" {
					q.Set("marker", marker)
				}
				got := getBody(t, base+"/v2.1/servers?"+q.Encode(), token)
				assert.Equal(t, string(referenceServerList(t, s, base, 3, marker)), string(got), "page %d under %s", page, base)
				var decoded struct{ Servers []struct{ ID string } }
				require.NoError(t, json.Unmarshal(got, &decoded))
				if len(decoded.Servers) == 0 {
					break
				}
				marker = decoded.Servers[len(decoded.Servers)-1].ID
			}
		}
	}
	check()
	for _, change := range []func(){
		func() { require.True(t, s.UpdateVM("vm-4", func(v *VM) { v.Name = "renamed" })) },
		func() {
			require.True(t, s.UpdateVM("vm-0", func(v *VM) { v.CreatedAt = DefaultCreatedAt.Add(time.Hour) }))
		},
		func() { require.True(t, s.RemoveVM("vm-2")) },
		func() { s.AddVM(VM{ID: "vm-9", Name: "late"}) },
		func() { s.AddVM(VM{ID: "vm-5", Name: "replaced", CreatedAt: DefaultCreatedAt.Add(-time.Hour)}) },
	} {
		change()
		check()
	}
}

// Listings fill the order and entry caches under the read lock while VMs
// change; run with -race.
func TestServerListCacheConcurrent(t *testing.T) {
	s := NewServer()
	defer s.Close()
	for i := range 20 {
		s.AddVM(VM{ID: fmt.Sprintf("vm-%02d", i), Name: fmt.Sprintf("worker-%02d", i)})
	}
	token := issueToken(t, s)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 10 {
				getBody(t, s.NovaURL()+"/servers?limit=7", token)
			}
		})
	}
	wg.Go(func() {
		for j := range 20 {
			s.UpdateVM("vm-03", func(v *VM) { v.Name = fmt.Sprintf("renamed-%d", j) })
		}
	})
	wg.Wait()
}

// The detailed listing serves entries cached per VM record and view; each
// must be what rendering afresh gives after every change it shows: the
// server, its ports' addresses, a network's name, the microversion and
// whether the token is an admin's.
func TestServerDetailCacheFollowsChanges(t *testing.T) {
	s := NewServer()
	defer s.Close()
	s.AddNetwork(Network{ID: "net-1", Name: "biz"})
	s.AddVM(VM{ID: "vm-1", Name: "worker-1"})
	s.AddPort(Port{ID: "p1", NetworkID: "net-1", DeviceID: "vm-1", FixedIPs: []FixedIP{{SubnetID: "s", IPAddress: "10.0.0.5"}}})
	check := func(micro string) {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, s.NovaURL()+"/servers/detail", nil)
		require.NoError(t, err)
		req.Header.Set("X-Auth-Token", issueToken(t, s))
		req.Header.Set("OpenStack-API-Version", "compute "+micro)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		var got struct{ Servers []map[string]any }
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&got))
		require.Len(t, got.Servers, 1)

		s.mu.RLock()
		n, _ := strconv.Atoi(strings.TrimPrefix(micro, "2."))
		fresh := s.renderServer(req, classify(req.URL.Path), s.vms["vm-1"], serverView{micro: n, admin: slices.Contains(s.creds.Roles, "admin")})
		s.mu.RUnlock()
		data, err := json.Marshal(fresh)
		require.NoError(t, err)
		var want map[string]any
		require.NoError(t, json.Unmarshal(data, &want))
		assert.Equal(t, want, got.Servers[0], "microversion %s", micro)
	}
	for _, change := range []func(){
		func() {},
		func() { s.UpdatePort("p1", func(p *Port) { p.FixedIPs[0].IPAddress = "10.0.0.6" }) },
		func() {
			s.AddPort(Port{ID: "p2", NetworkID: "net-1", DeviceID: "vm-1", FixedIPs: []FixedIP{{SubnetID: "s", IPAddress: "10.0.0.7"}}})
		},
		func() { s.RemovePort("p1") },
		func() { s.AddNetwork(Network{ID: "net-1", Name: "renamed"}) },
		func() { s.UpdateVM("vm-1", func(v *VM) { v.Metadata = map[string]string{"k": "v"} }) },
		func() { s.SetCredentials(Credentials{Roles: []string{"member"}}) },
	} {
		change()
		check("2.3")
		check("2.90")
	}
}
