package retryhttp_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/hashicorp/go-retryablehttp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/multinic/multinic/internal/retryhttp"
)

const (
	testToken    = "gAAAAAB-token-that-must-stay-home"
	testPassword = "Adm1n-password-that-must-stay-home"
)

// foreign is a server that must never be reached: it records what it got.
type foreign struct {
	*httptest.Server
	mu   sync.Mutex
	seen []string
}

func newForeign(t *testing.T) *foreign {
	f := &foreign{}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		f.seen = append(f.seen, r.Method+" "+r.URL.String()+" "+r.Header.Get("X-Auth-Token")+" "+string(body))
		f.mu.Unlock()
		_, _ = io.WriteString(w, `<html>login</html>`)
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *foreign) requests() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.seen...)
}

func send(t *testing.T, client *retryablehttp.Client, method, target string) (*http.Response, error) {
	t.Helper()
	var body []byte
	if method == http.MethodPost {
		body = []byte(`{"auth":{"password":"` + testPassword + `"}}`)
	}
	req, err := retryablehttp.NewRequestWithContext(context.Background(), method, target, body)
	require.NoError(t, err)
	req.Header.Set("X-Auth-Token", testToken)
	resp, err := client.Do(req)
	if resp != nil {
		_ = resp.Body.Close()
	}
	return resp, err
}

// Issue 20.1/20.2: a redirect answer is never followed, whatever its status
// and method: the token or password would go with it, and a POST followed
// as a GET would take a login page's 200 for success.
func TestRedirectsAreNeverFollowed(t *testing.T) {
	away := newForeign(t)
	for _, status := range []int{301, 302, 303, 307, 308} {
		for _, method := range []string{http.MethodGet, http.MethodPost, http.MethodDelete} {
			var requests atomic.Int32
			home := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				requests.Add(1)
				http.Redirect(w, r, away.URL+"/login?next=%2Fapi", status)
			}))
			for _, pass := range []bool{false, true} {
				requests.Store(0)
				client := newFast(t, retryhttp.Options{Dependency: "viola", PassLastResponse: pass})
				resp, err := send(t, client, method, home.URL+"/v1/things?id=1")
				var redirect *retryhttp.RedirectError
				require.ErrorAs(t, err, &redirect, "%d %s", status, method)
				assert.Nil(t, resp, "no response alongside the error")
				assert.Equal(t, status, redirect.Status)
				msg := err.Error()
				assert.Contains(t, msg, "viola")
				assert.Contains(t, msg, away.URL, "names the host it pointed at")
				assert.NotContains(t, msg, "login?next", "only the host of the target, not its path and query")
				assert.NotContains(t, msg, "id=1", "the request URL without its query")
				assert.EqualValues(t, 1, requests.Load(), "a refused redirect is not retried")
			}
			home.Close()
		}
	}
	assert.Empty(t, away.requests(), "the other host never got a request")
}

func TestOriginsRefuseOtherHostsAndDowngrades(t *testing.T) {
	away := newForeign(t)
	home := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "{}") }))
	defer home.Close()
	homeURL, _ := url.Parse(home.URL)

	var origins retryhttp.Origins
	require.NoError(t, origins.Allow(home.URL+"/neutron"))
	var sent []string
	var mu sync.Mutex
	record := roundTripperFunc(func(r *http.Request) (*http.Response, error) {
		mu.Lock()
		sent = append(sent, r.URL.Scheme+"://"+r.URL.Host)
		mu.Unlock()
		return home.Client().Transport.RoundTrip(r)
	})
	client := newFast(t, retryhttp.Options{Dependency: "openstack", Origins: &origins, HTTPClient: &http.Client{Transport: record}})

	resp, err := send(t, client, http.MethodGet, home.URL+"/neutron/v2.0/ports")
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, resp.StatusCode)

	for name, target := range map[string]string{
		"other host":              away.URL + "/v2.0/ports?marker=x",
		"other port":              "https://" + homeURL.Hostname() + ":1/v2.0/ports",
		"downgrade to plain http": "http://" + homeURL.Host + "/neutron/v2.0/ports?marker=x",
	} {
		_, err := send(t, client, http.MethodGet, target)
		var refused *retryhttp.OriginError
		require.ErrorAs(t, err, &refused, name)
		assert.Contains(t, err.Error(), "openstack", name)
		u, _ := url.Parse(target)
		assert.Contains(t, err.Error(), u.Scheme+"://"+u.Host, "%s: names the refused host", name)
		assert.NotContains(t, err.Error(), "marker=x", name)
		if strings.HasPrefix(name, "downgrade") {
			assert.Contains(t, err.Error(), "downgrade", name)
		}
	}
	assert.Equal(t, []string{"https://" + homeURL.Host}, sent, "nothing left for another host or in clear text")
	assert.Empty(t, away.requests())

	require.NoError(t, origins.Allow(away.URL))
	_, err = send(t, client, http.MethodGet, away.URL+"/x")
	assert.NoError(t, err, "an origin allowed later (the catalog's) is reachable")
	assert.Len(t, away.requests(), 1)
}

func TestOriginsAllowParsesEndpoints(t *testing.T) {
	var o retryhttp.Origins
	require.NoError(t, o.Allow("HTTPS://Keystone.Example/v3/"))
	for target, want := range map[string]bool{
		"https://keystone.example:443/v3/auth/tokens": true,
		"https://KEYSTONE.example/v3":                 true,
		"http://keystone.example/v3":                  false,
		"https://keystone.example:5000/v3":            false,
		"https://keystone.example.evil/v3":            false,
	} {
		u, err := url.Parse(target)
		require.NoError(t, err)
		assert.Equal(t, want, o.Allows(u), target)
	}
	for _, bad := range []string{"", "keystone:5000", "ftp://keystone/", "http://"} {
		assert.Error(t, o.Allow(bad), bad)
	}
	require.NoError(t, o.Allow("http://[::1]:9696"))
	assert.True(t, o.Allows(&url.URL{Scheme: "http", Host: "[::1]:9696"}))
	assert.Equal(t, []string{"https://keystone.example:443", "http://[::1]:9696"}, o.List())
}
