package openstacktest

import (
	"bytes"
	"io"
	"net/http"
	"net/url"
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
