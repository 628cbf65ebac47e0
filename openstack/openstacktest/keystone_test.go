package openstacktest

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack"
	"github.com/gophercloud/gophercloud/v2/openstack/identity/v3/tokens"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/networks"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAuthenticateResolvesCatalogEndpoints(t *testing.T) {
	s := NewServer()
	defer s.Close()

	provider, network, compute := clients(t, s)
	assert.Equal(t, s.NeutronURL()+"/", network.Endpoint)
	assert.Equal(t, s.NeutronURL()+"/v2.0/", network.ResourceBase)
	assert.Equal(t, s.NovaURL()+"/", compute.Endpoint)
	assert.Equal(t, 1, s.Requests(RouteTokens))
	assert.NotEmpty(t, provider.Token())

	result, ok := provider.GetAuthResult().(tokens.CreateResult)
	require.True(t, ok)
	token, err := result.ExtractToken()
	require.NoError(t, err)
	assert.Equal(t, provider.Token(), token.ID)
	assert.True(t, token.ExpiresAt.After(time.Now().Add(30*time.Minute)), "default TTL is an hour: %v", token.ExpiresAt)
	project, err := result.ExtractProject()
	require.NoError(t, err)
	assert.Equal(t, DefaultProjectID, project.ID)
	assert.Equal(t, "default", project.Domain.ID)
	user, err := result.ExtractUser()
	require.NoError(t, err)
	assert.Equal(t, DefaultUserName, user.Name)
	assert.Len(t, user.ID, 32)

	catalog, err := result.ExtractServiceCatalog()
	require.NoError(t, err)
	types := map[string]string{}
	for _, e := range catalog.Entries {
		types[e.Type] = e.Name
		require.Len(t, e.Endpoints, 3, e.Type)
		seen := map[string]string{}
		for _, ep := range e.Endpoints {
			assert.Equal(t, DefaultRegion, ep.Region)
			assert.Equal(t, DefaultRegion, ep.RegionID)
			assert.Len(t, ep.ID, 32)
			seen[ep.Interface] = ep.URL
		}
		assert.Len(t, seen, 3, "one endpoint per interface for %s", e.Type)
		assert.NotEqual(t, seen["public"], seen["internal"])
		assert.NotEqual(t, seen["public"], seen["admin"])
	}
	assert.Equal(t, map[string]string{"identity": "keystone", "network": "neutron", "compute": "nova"}, types)
}

func TestCatalogInterfacesAndRegionsAreServed(t *testing.T) {
	s := NewServer()
	defer s.Close()
	s.SetRegion("RegionTwo")
	s.AddNetwork(Network{ID: "net-1", MTU: 9000})
	provider, err := openstack.AuthenticatedClient(context.Background(), authOptions(s))
	require.NoError(t, err)

	for _, iface := range []gophercloud.Availability{gophercloud.AvailabilityInternal, gophercloud.AvailabilityAdmin} {
		network, err := openstack.NewNetworkV2(provider, gophercloud.EndpointOpts{Availability: iface, Region: "RegionTwo"})
		require.NoError(t, err)
		assert.Equal(t, s.EndpointURL("network", string(iface))+"/", network.Endpoint)
		assert.Contains(t, network.Endpoint, "/neutron-"+string(iface)+"/")
		n, err := networks.Get(context.Background(), network, "net-1").Extract()
		require.NoError(t, err, "the %s endpoint must serve Neutron too", iface)
		assert.Equal(t, "net-1", n.ID)

		compute, err := openstack.NewComputeV2(provider, gophercloud.EndpointOpts{Availability: iface})
		require.NoError(t, err)
		assert.Equal(t, s.EndpointURL("compute", string(iface))+"/", compute.Endpoint)
	}

	_, err = openstack.NewNetworkV2(provider, gophercloud.EndpointOpts{Region: "RegionOne"})
	var notFound *gophercloud.ErrEndpointNotFound
	assert.ErrorAs(t, err, &notFound, "the catalog only has RegionTwo")
}

func TestOmitFromCatalogKeepsServiceReachable(t *testing.T) {
	s := NewServer()
	defer s.Close()
	s.OmitFromCatalog("network")
	provider, err := openstack.AuthenticatedClient(context.Background(), authOptions(s))
	require.NoError(t, err)
	_, err = openstack.NewNetworkV2(provider, gophercloud.EndpointOpts{})
	var notFound *gophercloud.ErrEndpointNotFound
	require.ErrorAs(t, err, &notFound)
	_, err = openstack.NewComputeV2(provider, gophercloud.EndpointOpts{})
	require.NoError(t, err)

	status, _, _ := rawGet(t, s.NeutronURL()+"/v2.0/ports", provider.Token())
	assert.Equal(t, http.StatusOK, status, "an explicit endpoint override still works")
}

func TestUnversionedIdentityURLUsesVersionDiscovery(t *testing.T) {
	s := NewServer()
	defer s.Close()
	opts := authOptions(s)
	opts.IdentityEndpoint = s.URL
	provider, err := openstack.AuthenticatedClient(context.Background(), opts)
	require.NoError(t, err)
	assert.NotEmpty(t, provider.Token())
	assert.Equal(t, 1, s.Requests(RouteTokens))
	assert.GreaterOrEqual(t, s.Requests(RouteVersions), 1, "gophercloud asked the root for versions")

	status, _, body := rawGet(t, s.URL+"/", "")
	assert.Equal(t, http.StatusMultipleChoices, status)
	values := body["versions"].(map[string]any)["values"].([]any)
	require.Len(t, values, 1)
	assert.Equal(t, "stable", values[0].(map[string]any)["status"])
}

func TestAuthenticateWithDomainIDAndProjectName(t *testing.T) {
	s := NewServer()
	defer s.Close()
	s.SetCredentials(Credentials{UserName: "ops", UserDomainName: "corp", Password: "pw", ProjectID: "p-9", ProjectName: "infra"})

	opts := gophercloud.AuthOptions{
		IdentityEndpoint: s.URL + "/v3", Username: "ops", Password: "pw", DomainID: hexID("domain", "corp"),
		Scope: &gophercloud.AuthScope{ProjectName: "infra", DomainName: "corp"},
	}
	provider, err := openstack.AuthenticatedClient(context.Background(), opts)
	require.NoError(t, err)
	project, err := provider.GetAuthResult().(tokens.CreateResult).ExtractProject()
	require.NoError(t, err)
	assert.Equal(t, "p-9", project.ID)
	assert.Equal(t, "infra", project.Name)
}

func TestWrongCredentialsAre401(t *testing.T) {
	s := NewServer()
	defer s.Close()
	cases := map[string]func(*gophercloud.AuthOptions){
		"password": func(o *gophercloud.AuthOptions) { o.Password = "hunter2-wrong" },
		"user":     func(o *gophercloud.AuthOptions) { o.Username = "nobody" },
		"domain":   func(o *gophercloud.AuthOptions) { o.DomainName = "other" },
		"project":  func(o *gophercloud.AuthOptions) { o.Scope = &gophercloud.AuthScope{ProjectID: "project-2"} },
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			opts := authOptions(s)
			mutate(&opts)
			_, err := openstack.AuthenticatedClient(context.Background(), opts)
			require.Error(t, err)
			assert.True(t, gophercloud.ResponseCodeIs(err, http.StatusUnauthorized), "%v", err)
			body := responseBody(t, err)
			assert.JSONEq(t, `{"error":{"code":401,"message":"The request you have made requires authentication.","title":"Unauthorized"}}`, body)
			assert.NotContains(t, err.Error(), "hunter2")
		})
	}
}

func TestMalformedTokenRequestIs400(t *testing.T) {
	s := NewServer()
	defer s.Close()
	for _, body := range []string{`{`, `{"auth":{}}`, `{"auth":{"identity":{"methods":[]}}}`, `{"auth":{"identity":{"methods":["password"],"password":{"user":{"name":"admin","password":"secret"}}}}}`} {
		req, err := http.NewRequest(http.MethodPost, s.URL+"/v3/auth/tokens", strings.NewReader(body))
		require.NoError(t, err)
		status, _, resp := do(t, req)
		assert.Equal(t, http.StatusBadRequest, status, body)
		assert.Equal(t, "Bad Request", resp["error"].(map[string]any)["title"], body)
	}
}

func TestExpireTokensGives401AndReauthRecovers(t *testing.T) {
	s := NewServer()
	defer s.Close()
	s.AddNetwork(Network{ID: "net-1"})
	provider, network, _ := clients(t, s)
	ctx := context.Background()
	_, err := networks.Get(ctx, network, "net-1").Extract()
	require.NoError(t, err)

	s.ExpireTokens()
	_, err = networks.Get(ctx, network, "net-1").Extract()
	require.Error(t, err)
	assert.True(t, gophercloud.ResponseCodeIs(err, http.StatusUnauthorized), "%v", err)
	assert.NotContains(t, responseBody(t, err), provider.Token(), "a token must never be echoed")

	opts := authOptions(s)
	opts.AllowReauth = true
	provider2, err := openstack.AuthenticatedClient(ctx, opts)
	require.NoError(t, err)
	network2, err := openstack.NewNetworkV2(provider2, gophercloud.EndpointOpts{})
	require.NoError(t, err)
	before := s.Requests(RouteTokens)
	s.ExpireTokens()
	_, err = networks.Get(ctx, network2, "net-1").Extract()
	require.NoError(t, err, "gophercloud re-authenticates once on 401")
	assert.Equal(t, before+1, s.Requests(RouteTokens))
}

func TestTokenTTLExpiresOnTheServerClock(t *testing.T) {
	s := NewServer()
	defer s.Close()
	clock := withClock(s)
	s.SetTokenTTL(time.Minute)
	provider, err := openstack.AuthenticatedClient(context.Background(), authOptions(s))
	require.NoError(t, err)
	token, err := provider.GetAuthResult().(tokens.CreateResult).ExtractToken()
	require.NoError(t, err)
	assert.Equal(t, clock.now().Add(time.Minute), token.ExpiresAt)

	status, _, _ := rawGet(t, s.NeutronURL()+"/v2.0/networks", provider.Token())
	require.Equal(t, http.StatusOK, status)
	clock.advance(59 * time.Second)
	status, _, _ = rawGet(t, s.NeutronURL()+"/v2.0/networks", provider.Token())
	require.Equal(t, http.StatusOK, status)
	clock.advance(time.Second)
	status, hdr, body := rawGet(t, s.NeutronURL()+"/v2.0/networks", provider.Token())
	assert.Equal(t, http.StatusUnauthorized, status)
	assert.Equal(t, `Keystone uri="`+s.URL+`/v3"`, hdr.Get("WWW-Authenticate"))
	assert.Equal(t, "Unauthorized", body["error"].(map[string]any)["title"])
}

func TestMissingOrUnscopedTokenIsRefusedByServices(t *testing.T) {
	s := NewServer()
	defer s.Close()
	for _, url := range []string{s.NeutronURL() + "/v2.0/ports", s.NovaURL() + "/servers/detail"} {
		status, _, _ := rawGet(t, url, "")
		assert.Equal(t, http.StatusUnauthorized, status, url)
		status, _, _ = rawGet(t, url, "not-a-token")
		assert.Equal(t, http.StatusUnauthorized, status, url)
	}

	req, err := http.NewRequest(http.MethodPost, s.URL+"/v3/auth/tokens", strings.NewReader(passwordBody("admin", "default", "secret", "")))
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusCreated, resp.StatusCode, "Keystone issues unscoped tokens")
	unscoped := resp.Header.Get("X-Subject-Token")
	status, _, _ := rawGet(t, s.NeutronURL()+"/v2.0/ports", unscoped)
	assert.Equal(t, http.StatusUnauthorized, status)
}

func TestValidateAndRevokeToken(t *testing.T) {
	s := NewServer()
	defer s.Close()
	token := issueToken(t, s)
	other := issueToken(t, s)

	req, _ := http.NewRequest(http.MethodGet, s.URL+"/v3/auth/tokens", nil)
	req.Header.Set("X-Auth-Token", token)
	req.Header.Set("X-Subject-Token", other)
	status, hdr, body := do(t, req)
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, other, hdr.Get("X-Subject-Token"))
	assert.Contains(t, body["token"], "catalog")

	req, _ = http.NewRequest(http.MethodDelete, s.URL+"/v3/auth/tokens", nil)
	req.Header.Set("X-Auth-Token", token)
	req.Header.Set("X-Subject-Token", other)
	status, _, _ = do(t, req)
	require.Equal(t, http.StatusNoContent, status)

	status, _, _ = rawGet(t, s.NeutronURL()+"/v2.0/ports", other)
	assert.Equal(t, http.StatusUnauthorized, status, "revoked")
	status, _, _ = rawGet(t, s.NeutronURL()+"/v2.0/ports", token)
	assert.Equal(t, http.StatusOK, status, "the caller's token is untouched")
}

func TestTLSServer(t *testing.T) {
	s := NewTLSServer()
	defer s.Close()
	require.True(t, strings.HasPrefix(s.URL, "https://"))
	provider, err := openstack.NewClient(s.URL + "/v3")
	require.NoError(t, err)
	provider.HTTPClient = *s.Client()
	require.NoError(t, openstack.Authenticate(context.Background(), provider, authOptions(s)))
	network, err := openstack.NewNetworkV2(provider, gophercloud.EndpointOpts{})
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(network.Endpoint, "https://"), network.Endpoint)
}
