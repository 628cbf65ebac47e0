package openstacktest

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servers"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/networks"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/ports"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/multinic/multinic/internal/fault"
)

func TestFailUsesServiceEnvelopeAndCounts(t *testing.T) {
	s := NewServer()
	defer s.Close()
	s.AddNetwork(Network{ID: "net-1"})
	s.AddVM(VM{ID: "vm-1"})
	_, network, compute := clients(t, s)
	ctx := context.Background()

	s.ResetCounters()
	s.Fail(RouteNetworks, http.StatusServiceUnavailable, 2)
	for range 2 {
		_, err := networks.Get(ctx, network, "net-1").Extract()
		require.True(t, gophercloud.ResponseCodeIs(err, http.StatusServiceUnavailable), "%v", err)
		assert.JSONEq(t, `{"NeutronError":{"type":"HTTPServiceUnavailable","message":"Service Unavailable","detail":""}}`, responseBody(t, err))
	}
	_, err := networks.Get(ctx, network, "net-1").Extract()
	require.NoError(t, err, "the fault was used up")
	assert.Equal(t, 3, s.Requests(RouteNetworks))
	assert.Equal(t, 0, s.Requests(RoutePorts))
	assert.Equal(t, 3, s.Requests(RouteAll))

	s.Fail(RouteServers, http.StatusInternalServerError, -1)
	for range 3 {
		_, err = servers.Get(ctx, compute, "vm-1").Extract()
		require.True(t, gophercloud.ResponseCodeIs(err, http.StatusInternalServerError))
		assert.Contains(t, responseBody(t, err), `"computeFault":{"code":500`)
	}
	_, err = networks.Get(ctx, network, "net-1").Extract()
	assert.NoError(t, err, "other routes are unaffected")
	s.ClearFaults()
	_, err = servers.Get(ctx, compute, "vm-1").Extract()
	assert.NoError(t, err)

	s.Fail(RouteAll, http.StatusInternalServerError, 1)
	_, err = openstack.AuthenticatedClient(ctx, authOptions(s))
	require.True(t, gophercloud.ResponseCodeIs(err, http.StatusInternalServerError), "%v", err)
	assert.Contains(t, responseBody(t, err), `"title":"Internal Server Error"`)

	s.ResetCounters()
	assert.Equal(t, 0, s.Requests(RouteAll))
}

func TestRouteFaultTakesPrecedenceOverRouteAll(t *testing.T) {
	s := NewServer()
	defer s.Close()
	token := issueToken(t, s)
	s.Fail(RouteAll, http.StatusBadGateway, -1)
	s.Fail(RoutePorts, http.StatusTooManyRequests, 1)
	status, _, _ := rawGet(t, s.NeutronURL()+"/v2.0/ports", token)
	assert.Equal(t, http.StatusTooManyRequests, status)
	status, _, body := rawGet(t, s.NeutronURL()+"/v2.0/ports", token)
	assert.Equal(t, http.StatusBadGateway, status)
	assert.Equal(t, "HTTPBadGateway", body["NeutronError"].(map[string]any)["type"])
	s.Fail(RouteAll, 0, 0)
	status, _, _ = rawGet(t, s.NeutronURL()+"/v2.0/ports", token)
	assert.Equal(t, http.StatusOK, status, "times 0 removes a fault")
}

func TestInjected401TriggersReauth(t *testing.T) {
	s := NewServer()
	defer s.Close()
	s.AddNetwork(Network{ID: "net-1"})
	opts := authOptions(s)
	opts.AllowReauth = true
	provider, err := openstack.AuthenticatedClient(context.Background(), opts)
	require.NoError(t, err)
	network, err := openstack.NewNetworkV2(provider, gophercloud.EndpointOpts{})
	require.NoError(t, err)

	s.Fail(RouteNetworks, http.StatusUnauthorized, 1)
	_, err = networks.Get(context.Background(), network, "net-1").Extract()
	require.NoError(t, err)
	assert.Equal(t, 2, s.Requests(RouteTokens), "the 401 made gophercloud fetch a new token")
	assert.Equal(t, 2, s.Requests(RouteNetworks))
}

func TestTooLongURLIs414(t *testing.T) {
	s := NewServer()
	defer s.Close()
	_, network, _ := clients(t, s)
	devices := make([]string, 300)
	for i := range devices {
		devices[i] = fmt.Sprintf("%08d-0000-4000-8000-000000000000", i)
	}
	list := func() error {
		_, err := ports.List(network, deviceQuery{projectID: DefaultProjectID, devices: devices}).AllPages(context.Background())
		return err
	}
	err := list()
	require.Error(t, err)
	assert.True(t, gophercloud.ResponseCodeIs(err, http.StatusRequestURITooLong), "%v", err)
	assert.Equal(t, 1, s.Requests(RoutePorts), "rejected requests are counted")

	s.SetMaxURLLength(0)
	assert.NoError(t, list())
	s.SetMaxURLLength(100)
	status, _, _ := rawGet(t, s.NeutronURL()+"/v2.0/ports?device_id="+strings.Repeat("x", 80), issueToken(t, s))
	assert.Equal(t, http.StatusRequestURITooLong, status)
}

func TestLatencyRespectsCancellation(t *testing.T) {
	s := NewServer()
	defer s.Close()
	token := issueToken(t, s)
	// The handler is called directly so the test controls the request
	// context; an hour of latency would hang the test if it were ignored.
	serve := func() *httptest.ResponseRecorder {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		req := httptest.NewRequestWithContext(ctx, http.MethodGet, s.NeutronURL()+"/v2.0/ports", nil)
		req.Header.Set("X-Auth-Token", token)
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		return rec
	}

	s.SetLatency(RoutePorts, time.Hour)
	rec := serve()
	assert.Empty(t, rec.Body.String(), "the delayed request was abandoned, not answered")
	assert.Empty(t, rec.Header().Get("Content-Type"))

	s.SetLatency(RoutePorts, 0)
	s.SetLatency(RouteAll, time.Hour)
	assert.Empty(t, serve().Body.String(), "RouteAll latency applies when the route has none")

	s.SetLatency(RouteAll, 0)
	rec = serve()
	assert.Equal(t, http.StatusOK, rec.Code)
	assert.JSONEq(t, `{"ports":[]}`, rec.Body.String(), "without latency the handler answers at once")
}

func TestUnknownPathsAndMethods(t *testing.T) {
	s := NewServer()
	defer s.Close()
	token := issueToken(t, s)

	status, _, body := rawGet(t, s.NeutronURL()+"/v2.0/routers", token)
	assert.Equal(t, http.StatusNotFound, status)
	assert.Contains(t, body, "NeutronError")
	status, _, body = rawGet(t, s.NovaURL()+"/flavors/detail", token)
	assert.Equal(t, http.StatusNotFound, status)
	assert.Contains(t, body, "itemNotFound")
	status, _, body = rawGet(t, s.URL+"/v3/projects", token)
	assert.Equal(t, http.StatusNotFound, status)
	assert.Contains(t, body, "error")
	status, _, _ = rawGet(t, s.URL+"/nowhere", "")
	assert.Equal(t, http.StatusNotFound, status)
	assert.Equal(t, 4, s.Requests(RouteAll)-1, "unknown paths still count towards RouteAll (plus the token)")

	for _, url := range []string{s.NeutronURL() + "/v2.0/ports", s.NovaURL() + "/servers/detail"} {
		req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(`{}`))
		req.Header.Set("X-Auth-Token", token)
		status, hdr, _ := do(t, req)
		assert.Equal(t, http.StatusMethodNotAllowed, status, url)
		assert.Equal(t, "GET", hdr.Get("Allow"), url)
	}
	req, _ := http.NewRequest(http.MethodPut, s.URL+"/v3/auth/tokens", nil)
	status, _, _ = do(t, req)
	assert.Equal(t, http.StatusMethodNotAllowed, status)
}

func TestConcurrentReadsAndWrites(t *testing.T) {
	s := NewServer()
	defer s.Close()
	info := s.AddFleet(Fleet{VMs: 20, TargetPortsPerVM: 2, OtherPortsPerVM: 1})
	s.SetPageSize(7)
	_, network, compute := clients(t, s)
	ctx := context.Background()

	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 3 {
		wg.Go(func() {
			for range 3 {
				if _, err := ports.List(network, deviceQuery{devices: info.VMIDs}).AllPages(ctx); err != nil {
					errs <- err
					return
				}
				if _, err := servers.List(compute, nil).AllPages(ctx); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Go(func() {
		for i, p := range info.Ports {
			s.UpdatePort(p.ID, func(p *Port) { p.Status = "DOWN" })
			s.AddPort(Port{ID: fmt.Sprintf("zz-extra-%d", i), DeviceID: info.VMIDs[i%len(info.VMIDs)]})
			s.UpdateVM(info.VMIDs[i%len(info.VMIDs)], func(v *VM) { v.Metadata = map[string]string{"i": fmt.Sprint(i)} })
			_ = s.Requests(RouteAll)
		}
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	pages, err := ports.List(network, ports.ListOpts{Status: "DOWN"}).AllPages(ctx)
	require.NoError(t, err)
	down, err := ports.ExtractPorts(pages)
	require.NoError(t, err)
	assert.Len(t, down, len(info.Ports))
}

func TestClassify(t *testing.T) {
	cases := map[string]Route{
		"/":                               RouteVersions,
		"/v3":                             RouteVersions,
		"/v3/":                            RouteVersions,
		"/v3/auth/tokens":                 RouteTokens,
		"/identity-admin/v3/auth/tokens":  RouteTokens,
		"/v3/auth":                        routeOther,
		"/neutron":                        RouteVersions,
		"/neutron/":                       RouteVersions,
		"/neutron/v2.0":                   RouteVersions,
		"/neutron/v2.0/ports":             RoutePorts,
		"/neutron-internal/v2.0/ports/p1": RoutePorts,
		"/neutron/v2.0/subnets/s1":        RouteSubnets,
		"/neutron/v2.0/networks":          RouteNetworks,
		"/neutron/v2.0/ports/p1/extra":    routeOther,
		"/neutron/v2.0/routers":           routeOther,
		"/neutron/foo":                    routeOther,
		"/nova":                           RouteVersions,
		"/nova/v2.1/":                     RouteVersions,
		"/nova/v2.1/servers":              RouteServers,
		"/nova-admin/v2.1/servers/detail": RouteServers,
		"/nova/v2.1/servers/a/b":          routeOther,
		"/nova/v2.1/flavors":              routeOther,
		"/nova/foo":                       routeOther,
		"/nowhere":                        routeOther,
	}
	for path, want := range cases {
		assert.Equal(t, want, classify(path).route, path)
	}
	assert.Panics(t, func() { NewServer().Fail(RoutePorts, 0, 1) }, "a zero status would only fail later, inside a handler")
}

func TestInjectBrokenAnswers(t *testing.T) {
	s := NewServer()
	defer s.Close()
	s.AddNetwork(Network{ID: "net-1"})
	s.AddSubnet(Subnet{ID: "subnet-1", NetworkID: "net-1", CIDR: "10.0.0.0/24"})
	token := issueToken(t, s)
	get := func(path string) (int, http.Header, string) {
		req, err := http.NewRequest(http.MethodGet, s.NeutronURL()+path, nil)
		require.NoError(t, err)
		req.Header.Set("X-Auth-Token", token)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, resp.Header, string(body)
	}

	s.Inject(RoutePorts, fault.Status(http.StatusServiceUnavailable).WithHeader("Retry-After", "3600"), 1)
	status, header, body := get("/v2.0/ports")
	assert.Equal(t, http.StatusServiceUnavailable, status)
	assert.Equal(t, "3600", header.Get("Retry-After"))
	assert.NotEmpty(t, header.Get("X-Openstack-Request-Id"))
	assert.JSONEq(t, `{"NeutronError":{"type":"HTTPServiceUnavailable","message":"Service Unavailable","detail":""}}`, body, "a status fault carries Neutron's envelope")

	s.Inject(RouteSubnets, fault.Body(http.StatusOK, `{"subnet":null}`), 1)
	status, _, body = get("/v2.0/subnets/subnet-1")
	assert.Equal(t, http.StatusOK, status)
	assert.Equal(t, `{"subnet":null}`, body)
	_, _, body = get("/v2.0/subnets/subnet-1")
	assert.Contains(t, body, `"cidr":"10.0.0.0/24"`, "the fault was used up")
	assert.Equal(t, 2, s.Requests(RouteSubnets))
}

func TestCloseEndsInjectedHangs(t *testing.T) {
	s := NewServer()
	token := issueToken(t, s)
	s.Inject(RouteNetworks, fault.Hang(), -1)
	done := make(chan error, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodGet, s.NeutronURL()+"/v2.0/networks", nil)
		req.Header.Set("X-Auth-Token", token)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	require.Eventually(t, func() bool { return s.Requests(RouteNetworks) == 1 }, 30*time.Second, time.Millisecond)
	s.Close() // must not wait for a client that never gives up
	select {
	case err := <-done:
		assert.Error(t, err, "the hanging request gets no answer")
	case <-time.After(30 * time.Second):
		t.Fatal("the request still hangs after Close")
	}
}
