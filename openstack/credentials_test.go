package openstack

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/multinic/multinic/internal/fault"
	"github.com/multinic/multinic/internal/retryhttp"
	"github.com/multinic/multinic/openstack/openstacktest"
)

// Issue 20.1: the token and the password go only to the scheme, host and
// port they are meant for: Keystone's configured URL, the catalog's (or
// overridden) Neutron and Nova endpoints. A next link or a redirect
// elsewhere, or a downgrade to http, fails the call naming the service and
// the other host, and nothing is sent there.

// pagedCloud is a fake with three VMs of two ports each, listed one port
// per page, so every port listing follows next links.
func pagedCloud(t *testing.T, tls bool) (*openstacktest.Server, []string) {
	t.Helper()
	s := openstacktest.NewServer()
	if tls {
		s = openstacktest.NewTLSServer()
	}
	t.Cleanup(s.Close)
	s.AddNetwork(openstacktest.Network{ID: "net-a", MTU: 1450})
	s.AddSubnet(openstacktest.Subnet{ID: "subnet-a", Name: "biz-a", NetworkID: "net-a", CIDR: "10.0.0.0/24"})
	var vms []string
	for i := range 3 {
		vm := fmt.Sprintf("00000000-0000-4000-8000-00000000000%d", i)
		vms = append(vms, vm)
		s.AddVM(openstacktest.VM{ID: vm, Name: fmt.Sprintf("worker-%d", i)})
		for j := range 2 {
			s.AddPort(openstacktest.Port{NetworkID: "net-a", DeviceID: vm,
				FixedIPs: []openstacktest.FixedIP{{SubnetID: "subnet-a", IPAddress: fmt.Sprintf("10.0.0.%d", 10+2*i+j)}}})
		}
	}
	s.SetPageSize(1)
	return s, vms
}

// wire records the scheme://host of every request that left the client.
type wire struct {
	next http.RoundTripper
	mu   sync.Mutex
	sent []string
}

func (w *wire) RoundTrip(r *http.Request) (*http.Response, error) {
	w.mu.Lock()
	w.sent = append(w.sent, r.URL.Scheme+"://"+r.URL.Host)
	w.mu.Unlock()
	return w.next.RoundTrip(r)
}

func (w *wire) origins() map[string]bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := map[string]bool{}
	for _, o := range w.sent {
		out[o] = true
	}
	return out
}

func credentialsFor(s *openstacktest.Server) Credentials {
	return Credentials{IdentityURL: s.URL, UserName: openstacktest.DefaultUserName, UserDomainName: openstacktest.DefaultUserDomainName,
		Password: openstacktest.DefaultPassword, ProjectID: openstacktest.DefaultProjectID}
}

func assertNothingReached(t *testing.T, rec *fault.Recorder) {
	t.Helper()
	for _, r := range rec.Requests() {
		t.Errorf("the other host got %s %s (X-Auth-Token %q, body %q)", r.Method, r.URI, r.Header.Get("X-Auth-Token"), r.Body)
	}
}

func hostOf(raw string) string {
	u, _ := url.Parse(raw)
	return u.Host
}

func TestNextLinkToAnotherHostIsNotFollowed(t *testing.T) {
	away := fault.NewRecorder()
	defer away.Close()
	for _, route := range []openstacktest.Route{openstacktest.RoutePorts, openstacktest.RouteServers} {
		t.Run(string(route), func(t *testing.T) {
			s, vms := pagedCloud(t, false)
			if route == openstacktest.RouteServers {
				_, vms = novaCloud(t, 20) // enough VMs to be listed, not read one by one
				s = openstacktest.NewServer()
				t.Cleanup(s.Close)
				for _, vm := range vms {
					s.AddVM(openstacktest.VM{ID: vm, Name: "n-" + vm})
				}
				s.SetPageSize(5)
			}
			sess := session(t, s, nil)
			s.Inject(route, fault.NextLinksTo(away.URL), -1)
			var err error
			var service string
			if route == openstacktest.RoutePorts {
				_, err = sess.Ports(context.Background(), vms)
				service = "neutron"
			} else {
				_, _, err = sess.Servers(context.Background(), vms)
				service = "nova"
			}
			require.Error(t, err)
			t.Log(err)
			assert.Contains(t, err.Error(), service+":", "names the service")
			assert.Contains(t, err.Error(), hostOf(away.URL), "names the other host")
			assert.Contains(t, err.Error(), "next link")
			assertNothingReached(t, away)
		})
	}
}

func TestNextLinkDowngradingToHTTPIsNotFollowed(t *testing.T) {
	s, vms := pagedCloud(t, true)
	sent := &wire{next: s.Client().Transport}
	sess, err := Authenticate(context.Background(), credentialsFor(s), Options{Transport: sent, RetryMax: -1})
	require.NoError(t, err)
	s.Inject(openstacktest.RoutePorts, fault.NextLinksTo("http://"+hostOf(s.URL)), -1)

	_, err = sess.Ports(context.Background(), vms)
	require.Error(t, err)
	t.Log(err)
	assert.Contains(t, err.Error(), "neutron:")
	assert.Contains(t, err.Error(), "http://"+hostOf(s.URL))
	assert.Contains(t, err.Error(), "downgrade")
	assert.Equal(t, map[string]bool{"https://" + hostOf(s.URL): true}, sent.origins(), "the token never left in clear text")
}

func TestNeutronRedirectToAnotherHostIsNotFollowed(t *testing.T) {
	away := fault.NewRecorder()
	defer away.Close()
	for _, status := range []int{http.StatusMovedPermanently, http.StatusFound, http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			s, vms := pagedCloud(t, false)
			sess, err := Authenticate(context.Background(), credentialsFor(s), Options{RetryMax: 2})
			require.NoError(t, err)
			s.Inject(openstacktest.RoutePorts, fault.Redirect(status, away.URL+"/v2.0/ports?device_id="+vms[0]), -1)
			s.ResetCounters()

			_, err = sess.Ports(context.Background(), vms)
			require.Error(t, err)
			t.Log(err)
			assert.Contains(t, err.Error(), "neutron:")
			assert.Contains(t, err.Error(), hostOf(away.URL))
			var redirect *retryhttp.RedirectError
			assert.ErrorAs(t, err, &redirect)
			assert.Equal(t, 1, s.Requests(openstacktest.RoutePorts), "a redirect is an answer, not retried")
			assertNothingReached(t, away)
		})
	}
}

func TestKeystoneRedirectNeverReceivesThePassword(t *testing.T) {
	away := fault.NewRecorder()
	defer away.Close()
	for _, status := range []int{http.StatusTemporaryRedirect, http.StatusPermanentRedirect, http.StatusFound} {
		s := openstacktest.NewServer()
		s.Inject(openstacktest.RouteTokens, fault.Redirect(status, away.URL+"/v3/auth/tokens"), -1)
		_, err := Authenticate(context.Background(), credentialsFor(s), Options{RetryMax: 2})
		s.Close()
		require.Error(t, err)
		t.Log(err)
		var authErr *AuthError
		assert.ErrorAs(t, err, &authErr)
		assert.Contains(t, err.Error(), "keystone")
		assert.Contains(t, err.Error(), hostOf(away.URL))
		assert.NotContains(t, err.Error(), openstacktest.DefaultPassword)
	}
	assertNothingReached(t, away)
}

// A catalog endpoint is one the token may go to; one that is not an
// absolute URL is never quoted with the password in it (FuzzKeystoneToken's
// crasher: an endpoint equal to the password).
func TestCatalogEndpointsAreTheOnlyOtherHosts(t *testing.T) {
	s, vms := pagedCloud(t, false)
	sess := session(t, s, nil)
	_, err := sess.Ports(context.Background(), vms)
	require.NoError(t, err, "Keystone's own host serves Neutron here, as the catalog says")

	other := openstacktest.NewServer()
	defer other.Close()
	sess, err = Authenticate(context.Background(), credentialsFor(s), Options{NeutronEndpoint: other.NeutronURL(), RetryMax: -1})
	require.NoError(t, err)
	_, err = sess.Ports(context.Background(), vms)
	var refused *retryhttp.OriginError
	assert.NotErrorAs(t, err, &refused, "an overridden endpoint is allowed: %v", err)
	assert.Positive(t, other.Requests(openstacktest.RoutePorts))
}
