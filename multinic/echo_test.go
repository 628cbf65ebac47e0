package multinic_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/multinic/multinic/contrabass/contrabasstest"
	"github.com/multinic/multinic/internal/fault"
	"github.com/multinic/multinic/multinic"
	"github.com/multinic/multinic/multinic/multinictest"
	"github.com/multinic/multinic/openstack/openstacktest"
)

// hardPassword has what encodings change: JSON escapes its quote,
// backslash, <, > and &, URLs most of it, Python's json the é.
const hardPassword = `Adm1n"pa\ss/w<0>r&d é%`

// withPassword makes the environment's admin password p.
func withPassword(env *multinictest.Env, p string) {
	env.OpenStack.SetCredentials(openstacktest.Credentials{Password: p, ProjectID: multinictest.ProjectID})
	env.Contrabass.AddProvider(multinictest.ProviderID, contrabasstest.ProviderSpec{
		AdminID: openstacktest.DefaultUserName, AdminPassword: p,
		Domain: openstacktest.DefaultUserDomainName, KeystoneURL: env.OpenStack.URL,
	})
}

// secretForms are the ways a secret shows in text that echoes a request.
func secretForms(t *testing.T, secret string) []string {
	t.Helper()
	js, err := json.Marshal(secret)
	require.NoError(t, err)
	return []string{secret, string(js[1 : len(js)-1]), url.QueryEscape(secret), url.PathEscape(secret),
		base64.StdEncoding.EncodeToString([]byte(secret))}
}

func assertNoSecret(t *testing.T, text string, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		for _, form := range secretForms(t, s) {
			assert.NotContains(t, text, form, "a form of a secret")
		}
	}
}

// Issue 20.6: a Keystone that echoes the request body put the JSON-escaped
// password into lastError, events and logs; the mask matched only the
// literal password.
func TestKeystoneEchoingTheRequestLeaksNoPassword(t *testing.T) {
	env := multinictest.NewEnv()
	defer env.Close()
	sample := env.AddSample()
	withPassword(env, hardPassword)
	cfg := env.Config(sample.VMIDs, sample.SubnetA, sample.SubnetB)
	_, err := multinic.Sync(context.Background(), cfg)
	require.NoError(t, err, "the password works")

	env.OpenStack.Inject(openstacktest.RouteTokens, fault.Echo(http.StatusBadRequest), -1)
	_, err = multinic.Sync(context.Background(), cfg)
	require.Error(t, err)
	t.Log(err)
	assert.Equal(t, multinic.ReasonKeystone, multinic.ReasonOf(err))
	assert.Contains(t, err.Error(), "echo of the refused request", "the answer is quoted")
	assertNoSecret(t, err.Error(), hardPassword)

	env.OpenStack.ClearFaults()
	env.OpenStack.Inject(openstacktest.RoutePorts, fault.Echo(http.StatusBadRequest), -1)
	_, err = multinic.Sync(context.Background(), cfg)
	require.Error(t, err)
	t.Log(err)
	assert.Contains(t, err.Error(), "X-Auth-Token: [REDACTED]", "Neutron's echo of the token")
}

// A proxy in front of Viola that echoes the request quotes the basic-auth
// pair of the endpoint's user info and its own Proxy-Authorization.
func TestProxyEchoingTheAuthorizationHeaderLeaksNoPassword(t *testing.T) {
	env := multinictest.NewEnv()
	defer env.Close()
	sample := env.AddSample()
	withPassword(env, hardPassword)
	var proxied int
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		proxied++
		// A proxy's error page that lists the request's headers.
		var page strings.Builder
		page.WriteString("upstream unreachable; request headers:\n")
		_ = r.Header.Write(&page)
		http.Error(w, page.String(), http.StatusBadGateway)
	}))
	defer proxy.Close()
	const violaPassword, proxyPassword = `v1ola"pw/&`, `pr0xy"pw`
	viola, err := url.Parse(env.Viola.URL)
	require.NoError(t, err)
	viola.User = url.UserPassword("ops", violaPassword)
	proxyURL, err := url.Parse(proxy.URL)
	require.NoError(t, err)
	proxyURL.User = url.UserPassword("egress", proxyPassword)

	cfg := env.Config(sample.VMIDs, sample.SubnetA, sample.SubnetB)
	cfg.Viola.Endpoint = viola.String()
	cfg.Viola.HTTPClient = &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(proxyURL)}}
	_, err = multinic.Sync(context.Background(), cfg)
	require.Error(t, err)
	t.Log(err)
	require.Positive(t, proxied, "the request went through the proxy")
	assert.Equal(t, multinic.ReasonViolaPost, multinic.ReasonOf(err))
	assert.Contains(t, err.Error(), "Authorization: Basic [REDACTED]")
	assertNoSecret(t, err.Error(), hardPassword, violaPassword, proxyPassword,
		"ops:"+violaPassword, "egress:"+proxyPassword)
	assert.NotContains(t, err.Error(), base64.StdEncoding.EncodeToString([]byte("egress:"+proxyPassword)))
}
