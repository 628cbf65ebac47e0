package openstack

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sync/atomic"
	"testing"

	"github.com/gophercloud/gophercloud/v2/openstack/identity/v3/tokens"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func catalogOf(entries ...tokens.CatalogEntry) *tokens.ServiceCatalog {
	return &tokens.ServiceCatalog{Entries: entries}
}

func ep(iface, region, u string) tokens.Endpoint {
	return tokens.Endpoint{Interface: iface, Region: region, RegionID: region, URL: u}
}

func TestChooseEndpoint(t *testing.T) {
	catalog := catalogOf(
		tokens.CatalogEntry{Type: "identity", Endpoints: []tokens.Endpoint{ep("public", "r1", "https://keystone")}},
		tokens.CatalogEntry{Type: "network", Endpoints: []tokens.Endpoint{
			ep("internal", "r1", "https://neutron-r1-internal:9696/"),
			ep("public", "r1", "https://neutron-r1:9696//"),
			ep("public", "r2", "https://neutron-r2:9696"),
		}},
		tokens.CatalogEntry{Type: "compute", Endpoints: []tokens.Endpoint{ep("public", "r2", "https://nova-r2/v2.1/")}},
	)
	tests := []struct {
		name, serviceType, iface, region, want string
	}{
		{"interface picks the endpoint, slashes trimmed", "network", "public", "", "https://neutron-r1:9696"},
		{"internal interface", "network", "internal", "", "https://neutron-r1-internal:9696"},
		{"interface is case-insensitive", "network", "PUBLIC", "", "https://neutron-r1:9696"},
		{"region preferred", "network", "public", "r2", "https://neutron-r2:9696"},
		{"no endpoint in the region falls back to the first of the type", "compute", "public", "r1", "https://nova-r2/v2.1"},
		{"no endpoint with the interface", "compute", "admin", "", ""},
		{"no service of the type", "volume", "public", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, chooseEndpoint(catalog, tt.serviceType, tt.iface, tt.region))
		})
	}
}

func TestServiceClientOverrideAndErrors(t *testing.T) {
	s := &Session{opts: Options{EndpointInterface: "public", EndpointRegion: "r9"}.withDefaults()}
	empty := catalogOf()

	c, err := s.serviceClient(empty, "network", "https://neutron.example:9696/", "v2.0/", "")
	require.NoError(t, err, "an override skips the catalog")
	assert.Equal(t, "https://neutron.example:9696/v2.0/", c.ResourceBase)

	_, err = s.serviceClient(empty, "network", "", "v2.0/", "")
	var endpointErr *EndpointError
	require.ErrorAs(t, err, &endpointErr)
	assert.Equal(t, "network", endpointErr.ServiceType)
	assert.Contains(t, err.Error(), `region "r9"`)
	assert.Contains(t, err.Error(), "override")

	_, err = s.serviceClient(empty, "compute", "nova.local:8774", "", "")
	assert.ErrorContains(t, err, "not an absolute http(s) URL")
}

func TestIdentityV3URL(t *testing.T) {
	for in, want := range map[string]string{
		"https://keystone:15000":        "https://keystone:15000/v3/",
		"https://keystone:15000/":       "https://keystone:15000/v3/",
		"https://keystone:15000/v3":     "https://keystone:15000/v3/",
		"https://keystone:15000/v3/":    "https://keystone:15000/v3/",
		"http://host/identity/v3?x=1":   "http://host/identity/v3/",
		" https://keystone:15000/v3/  ": "https://keystone:15000/v3/", //nolint:gocritic // mapKey: the whitespace is the case under test
	} {
		got, err := identityV3URL(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	for _, bad := range []string{"", "keystone:5000", "ftp://keystone", "https://"} {
		_, err := identityV3URL(bad)
		assert.Error(t, err, bad)
	}
}

func TestPortQueryRepeatsDeviceID(t *testing.T) {
	q, err := portQuery{projectID: "p1", deviceIDs: []string{"a", "b"}}.ToPortListQuery()
	require.NoError(t, err)
	values, err := url.ParseQuery(q[1:])
	require.NoError(t, err)
	assert.Equal(t, []string{"a", "b"}, values["device_id"])
	assert.Equal(t, []string{"p1"}, values["project_id"])
	assert.Contains(t, values["fields"], "fixed_ips")
}

func TestChunk(t *testing.T) {
	ids := []string{"1", "2", "3", "4", "5"}
	assert.Equal(t, [][]string{{"1", "2"}, {"3", "4"}, {"5"}}, chunk(ids, 2))
	assert.Equal(t, [][]string{{"1", "2", "3", "4", "5"}}, chunk(ids, 10))
	assert.Empty(t, chunk(nil, 3))
	first := chunk(ids, 2)[0]
	_ = append(first, "x") // must not overwrite the next batch
	assert.Equal(t, "3", ids[2])
}

func TestForEachBoundsConcurrencyAndStopsOnError(t *testing.T) {
	var inFlight, peak atomic.Int32
	release := make(chan struct{})
	done := make(chan error)
	go func() {
		done <- forEach(context.Background(), 20, 3, func(ctx context.Context, i int) error {
			n := inFlight.Add(1)
			for {
				p := peak.Load()
				if n <= p || peak.CompareAndSwap(p, n) {
					break
				}
			}
			<-release
			inFlight.Add(-1)
			return nil
		})
	}()
	for range 20 {
		release <- struct{}{}
	}
	require.NoError(t, <-done)
	assert.LessOrEqual(t, peak.Load(), int32(3))

	boom := errors.New("boom")
	var calls atomic.Int32
	err := forEach(context.Background(), 100, 1, func(ctx context.Context, i int) error {
		calls.Add(1)
		if i == 2 {
			return boom
		}
		return nil
	})
	assert.ErrorIs(t, err, boom)
	assert.Less(t, calls.Load(), int32(100), "no new work after the first error")
}

func TestDescribeMasksAndKeepsTheCause(t *testing.T) {
	cause := fmt.Errorf("keystone said no to user admin with password hunter2: %w", errNoCatalog)
	got := describe(cause, "hunter2")
	assert.NotContains(t, got.Error(), "hunter2")
	assert.Contains(t, got.Error(), "[REDACTED]")
	assert.ErrorIs(t, got, errNoCatalog, "the cause stays reachable")
	assert.NoError(t, describe(nil))
}

var errNoCatalog = errors.New("no catalog")
