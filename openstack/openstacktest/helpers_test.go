package openstacktest

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack"
	"github.com/stretchr/testify/require"
)

func authOptions(s *Server) gophercloud.AuthOptions {
	return gophercloud.AuthOptions{
		IdentityEndpoint: s.URL + "/v3",
		Username:         DefaultUserName,
		Password:         DefaultPassword,
		DomainName:       DefaultUserDomainName,
		Scope:            &gophercloud.AuthScope{ProjectID: DefaultProjectID},
	}
}

// clients authenticates with gophercloud and resolves both services from the
// catalog, the way a plain gophercloud user would.
func clients(t testing.TB, s *Server) (*gophercloud.ProviderClient, *gophercloud.ServiceClient, *gophercloud.ServiceClient) {
	t.Helper()
	ctx := context.Background()
	provider, err := openstack.AuthenticatedClient(ctx, authOptions(s))
	require.NoError(t, err)
	network, err := openstack.NewNetworkV2(provider, gophercloud.EndpointOpts{})
	require.NoError(t, err)
	compute, err := openstack.NewComputeV2(provider, gophercloud.EndpointOpts{})
	require.NoError(t, err)
	return provider, network, compute
}

// rawGet sends a GET with a token and decodes the JSON body, for checks that
// gophercloud's typed results would hide.
func rawGet(t testing.TB, url, token string) (int, http.Header, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("X-Auth-Token", token)
	}
	return do(t, req)
}

func do(t testing.TB, req *http.Request) (int, http.Header, map[string]any) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var body map[string]any
	if len(data) > 0 {
		require.NoError(t, json.Unmarshal(data, &body), "body: %s", data)
	}
	return resp.StatusCode, resp.Header, body
}

// issueToken gets a token over plain HTTP.
func issueToken(t testing.TB, s *Server) string {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.URL+"/v3/auth/tokens", strings.NewReader(passwordBody("admin", "default", "secret", `{"project":{"id":"project-1"}}`)))
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	return resp.Header.Get("X-Subject-Token")
}

func passwordBody(user, domain, password, scope string) string {
	b := `{"auth":{"identity":{"methods":["password"],"password":{"user":{"name":"` + user +
		`","domain":{"name":"` + domain + `"},"password":"` + password + `"}}}`
	if scope != "" {
		b += `,"scope":` + scope
	}
	return b + `}}`
}

func responseBody(t testing.TB, err error) string {
	t.Helper()
	var e gophercloud.ErrUnexpectedResponseCode
	require.ErrorAs(t, err, &e, "not a response-code error")
	return string(e.Body)
}

// fakeClock lets tests move token expiry without sleeping.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func withClock(s *Server) *fakeClock {
	c := &fakeClock{t: time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)}
	s.mu.Lock()
	s.now = c.now
	s.mu.Unlock()
	return c
}
