package contrabass_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/multinic/multinic/contrabass"
	"github.com/multinic/multinic/contrabass/contrabasstest"
)

const (
	adminPassword = "Sup3r-Secret-Admin-Pw"
	bearerToken   = "test-bearer-token-do-not-leak"
)

var adminSpec = contrabasstest.ProviderSpec{
	AdminID:          "admin",
	AdminPassword:    adminPassword,
	Domain:           "default",
	KeystoneURL:      "https://keystone.example:15000/v3",
	RabbitMQID:       "openstack",
	RabbitMQPassword: "rabbit-pw",
	RabbitMQURLs:     []string{"10.0.0.1:5672", "10.0.0.2:5672"},
}

// newTestClient keeps back-off waits tiny so retry tests run fast.
func newTestClient(t *testing.T, opts contrabass.Options) *contrabass.Client {
	t.Helper()
	if opts.RetryWaitMin == 0 {
		opts.RetryWaitMin = time.Millisecond
	}
	if opts.RetryWaitMax == 0 {
		opts.RetryWaitMax = 5 * time.Millisecond
	}
	client, err := contrabass.NewClient(opts)
	require.NoError(t, err)
	return client
}

func TestGetProvider(t *testing.T) {
	server := contrabasstest.NewServer(key128)
	defer server.Close()
	server.AddProvider("prov-1", adminSpec)

	client := newTestClient(t, contrabass.Options{Endpoint: server.URL + "/"})
	provider, err := client.GetProvider(context.Background(), "prov-1")
	require.NoError(t, err)

	assert.Equal(t, "prov-1", provider.UUID)
	assert.Equal(t, "https://keystone.example:15000/v3", provider.URL)
	assert.Equal(t, "admin", provider.Attributes.AdminID)
	assert.Equal(t, "default", provider.Attributes.Domain)
	assert.Equal(t, "openstack", provider.Attributes.RabbitMQID)
	assert.Equal(t, []string{"10.0.0.1:5672", "10.0.0.2:5672"}, provider.Attributes.RabbitMQURLs)
	assert.NotContains(t, provider.Attributes.AdminPw, adminPassword, "the password must arrive encrypted")

	password, err := provider.AdminPassword(key128)
	require.NoError(t, err)
	assert.Equal(t, adminPassword, password)
	rabbit, err := contrabass.Decrypt(key128, provider.Attributes.RabbitMQPw)
	require.NoError(t, err)
	assert.Equal(t, "rabbit-pw", rabbit)
	assert.Equal(t, 1, server.Requests())
}

func TestGetProviderEscapesID(t *testing.T) {
	var gotPath string
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotPath = r.URL.EscapedPath()
		http.NotFound(w, r)
	}))
	defer server.Close()

	client := newTestClient(t, contrabass.Options{Endpoint: server.URL + "/base/"})
	_, err := client.GetProvider(context.Background(), "a/b c")
	require.Error(t, err)
	assert.Equal(t, "/base/v1/contrabass/admin/infra/provider/a%2Fb%20c", gotPath)
}

func TestGetProviderNotFound(t *testing.T) {
	server := contrabasstest.NewServer(key128)
	defer server.Close()

	client := newTestClient(t, contrabass.Options{Endpoint: server.URL})
	_, err := client.GetProvider(context.Background(), "missing")
	require.Error(t, err)
	assert.True(t, strings.HasPrefix(err.Error(), `contrabass: GET provider "missing": HTTP 404: `), err.Error())
	assert.Contains(t, err.Error(), "provider not found")
	assert.Equal(t, 1, server.Requests(), "404 must not be retried")
}

func TestGetProviderRetriesServerErrors(t *testing.T) {
	server := contrabasstest.NewServer(key128)
	defer server.Close()
	server.AddProvider("prov-1", adminSpec)
	server.Fail(http.StatusInternalServerError, 1)

	client := newTestClient(t, contrabass.Options{Endpoint: server.URL})
	_, err := client.GetProvider(context.Background(), "prov-1")
	require.NoError(t, err)
	assert.Equal(t, 2, server.Requests())
}

func TestGetProviderRetries429(t *testing.T) {
	server := contrabasstest.NewServer(key128)
	defer server.Close()
	server.AddProvider("prov-1", adminSpec)
	server.Fail(http.StatusTooManyRequests, 2)

	client := newTestClient(t, contrabass.Options{Endpoint: server.URL})
	_, err := client.GetProvider(context.Background(), "prov-1")
	require.NoError(t, err)
	assert.Equal(t, 3, server.Requests())
}

func TestGetProviderGivesUpAfterRetryMax(t *testing.T) {
	server := contrabasstest.NewServer(key128)
	defer server.Close()
	server.AddProvider("prov-1", adminSpec)
	server.Fail(http.StatusServiceUnavailable, -1)

	client := newTestClient(t, contrabass.Options{Endpoint: server.URL, RetryMax: 2})
	_, err := client.GetProvider(context.Background(), "prov-1")
	require.Error(t, err)
	assert.Contains(t, err.Error(), `contrabass: GET provider "prov-1": HTTP 503 after 3 attempts: `)
	assert.Contains(t, err.Error(), "injected failure")
	assert.Equal(t, 3, server.Requests())
}

func TestGetProviderNegativeRetryMaxDisablesRetries(t *testing.T) {
	server := contrabasstest.NewServer(key128)
	defer server.Close()
	server.Fail(http.StatusInternalServerError, -1)

	client := newTestClient(t, contrabass.Options{Endpoint: server.URL, RetryMax: -1})
	_, err := client.GetProvider(context.Background(), "prov-1")
	require.Error(t, err)
	assert.Equal(t, 1, server.Requests())
}

func TestGetProviderDoesNotRetryClientErrors(t *testing.T) {
	server := contrabasstest.NewServer(key128)
	defer server.Close()
	server.AddProvider("prov-1", adminSpec)
	server.Fail(http.StatusBadRequest, 1)

	client := newTestClient(t, contrabass.Options{Endpoint: server.URL})
	_, err := client.GetProvider(context.Background(), "prov-1")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "HTTP 400: ")
	assert.Equal(t, 1, server.Requests())
}

func TestGetProviderRetriesConnectionErrors(t *testing.T) {
	// A server that drops the first connection without answering.
	var requests atomic.Int32
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if requests.Add(1) == 1 {
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				_ = conn.Close()
			}
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"returnCode":"200","returnMessage":"COMMON_OK","data":{"uuid":"p","url":"https://k","attributes":{"adminId":"a","adminPw":"x"}}}`)
	}))
	defer server.Close()

	client := newTestClient(t, contrabass.Options{Endpoint: server.URL})
	provider, err := client.GetProvider(context.Background(), "p")
	require.NoError(t, err)
	assert.Equal(t, "https://k", provider.URL)
	assert.EqualValues(t, 2, requests.Load())
}

func TestGetProviderBearerToken(t *testing.T) {
	server := contrabasstest.NewServer(key128)
	defer server.Close()
	server.AddProvider("prov-1", adminSpec)
	server.RequireBearer(bearerToken)

	without := newTestClient(t, contrabass.Options{Endpoint: server.URL})
	_, err := without.GetProvider(context.Background(), "prov-1")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "HTTP 401")

	wrong := newTestClient(t, contrabass.Options{Endpoint: server.URL, BearerToken: "not-" + bearerToken})
	_, err = wrong.GetProvider(context.Background(), "prov-1")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "HTTP 401")
	assert.NotContains(t, err.Error(), bearerToken)

	with := newTestClient(t, contrabass.Options{Endpoint: server.URL, BearerToken: bearerToken})
	_, err = with.GetProvider(context.Background(), "prov-1")
	require.NoError(t, err)
}

func TestGetProviderNoAuthorizationHeaderWithoutToken(t *testing.T) {
	authorization := make(chan []string, 1)
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		authorization <- r.Header.Values("Authorization")
		http.NotFound(w, r)
	}))
	defer server.Close()

	client := newTestClient(t, contrabass.Options{Endpoint: server.URL})
	_, _ = client.GetProvider(context.Background(), "p")
	assert.Empty(t, <-authorization)
}

func TestGetProviderContextDeadline(t *testing.T) {
	server := contrabasstest.NewServer(key128)
	defer server.Close()
	server.AddProvider("prov-1", adminSpec)
	server.SetLatency(time.Hour)

	client := newTestClient(t, contrabass.Options{Endpoint: server.URL})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err := client.GetProvider(ctx, "prov-1")
	require.Error(t, err)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Equal(t, 1, server.Requests(), "a cancelled context must stop retries")
}

func TestGetProviderTimeoutOption(t *testing.T) {
	server := contrabasstest.NewServer(key128)
	defer server.Close()
	server.AddProvider("prov-1", adminSpec)
	server.SetLatency(time.Hour)

	client := newTestClient(t, contrabass.Options{Endpoint: server.URL, Timeout: 20 * time.Millisecond, RetryMax: -1})
	_, err := client.GetProvider(context.Background(), "prov-1")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "no answer within 20ms (contrabassTimeout)", "a timeout names the setting that bounds it")
}

func TestGetProviderInsecureTLS(t *testing.T) {
	server := contrabasstest.NewTLSServer(key128)
	defer server.Close()
	server.AddProvider("prov-1", adminSpec)

	strict := newTestClient(t, contrabass.Options{Endpoint: server.URL})
	_, err := strict.GetProvider(context.Background(), "prov-1")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "certificate")
	assert.Equal(t, 0, server.Requests(), "the TLS handshake must fail before any request is served")

	insecure := newTestClient(t, contrabass.Options{Endpoint: server.URL, InsecureTLS: true})
	provider, err := insecure.GetProvider(context.Background(), "prov-1")
	require.NoError(t, err)
	assert.Equal(t, "prov-1", provider.UUID)
}

func TestGetProviderInsecureTLSKeepsBaseClientTransport(t *testing.T) {
	server := contrabasstest.NewTLSServer(key128)
	defer server.Close()
	server.AddProvider("prov-1", adminSpec)

	base := &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	client := newTestClient(t, contrabass.Options{Endpoint: server.URL, InsecureTLS: true, HTTPClient: base})
	_, err := client.GetProvider(context.Background(), "prov-1")
	require.NoError(t, err)
	if tlsConfig := base.Transport.(*http.Transport).TLSClientConfig; tlsConfig != nil {
		assert.False(t, tlsConfig.InsecureSkipVerify, "the caller's transport must keep verifying certificates")
	}

	_, err = contrabass.NewClient(contrabass.Options{Endpoint: server.URL, InsecureTLS: true, HTTPClient: &http.Client{Transport: roundTripperFunc(nil)}})
	assert.ErrorContains(t, err, "contrabassInsecureTLS needs an *http.Transport")
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestGetProviderBadResponses(t *testing.T) {
	tests := []struct {
		name    string
		status  int
		body    string
		wantErr string
	}{
		{"not JSON", 200, `<html>login</html>`, `contrabass: GET provider "p": decode response body: `},
		{"returnCode not 200", 200, `{"returnCode":"500","returnMessage":"DB down"}`, `returnCode "500" (returnMessage "DB down")`},
		{"returnCode missing", 200, `{"data":{"url":"https://k","attributes":{"adminPw":"x"}}}`, `returnCode ""`},
		{"numeric returnCode", 200, `{"returnCode":404,"returnMessage":"nope"}`, `returnCode "404"`},
		{"no data", 200, `{"returnCode":"200"}`, "response has no data object"},
		{"no url", 200, `{"returnCode":"200","data":{"attributes":{"adminPw":"x"}}}`, "response has no data.url (Keystone URL)"},
		{"no adminPw", 200, `{"returnCode":"200","data":{"url":"https://k","attributes":{"adminId":"a"}}}`, "response has no data.attributes.adminPw"},
		{"multi-line error body", 502, "bad\n\tgateway\r\n   upstream", "HTTP 502: bad gateway upstream"},
		{"empty error body", 403, "", "HTTP 403: (empty body)"},
		{"long error body", 500, strings.Repeat("x", 1000), "HTTP 500: " + strings.Repeat("x", 200) + "…"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tt.status)
				_, _ = io.WriteString(w, tt.body)
			}))
			defer server.Close()

			client := newTestClient(t, contrabass.Options{Endpoint: server.URL, RetryMax: -1})
			_, err := client.GetProvider(context.Background(), "p")
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
			assert.NotContains(t, err.Error(), "\n")
		})
	}
}

func TestGetProviderAcceptsNumericReturnCode(t *testing.T) {
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, `{"returnCode":200,"data":{"url":"https://k","attributes":{"adminPw":"x"}}}`)
	}))
	defer server.Close()

	client := newTestClient(t, contrabass.Options{Endpoint: server.URL})
	provider, err := client.GetProvider(context.Background(), "p")
	require.NoError(t, err)
	assert.Equal(t, "https://k", provider.URL)
}

func TestGetProviderEmptyID(t *testing.T) {
	server := contrabasstest.NewServer(key128)
	defer server.Close()

	client := newTestClient(t, contrabass.Options{Endpoint: server.URL})
	_, err := client.GetProvider(context.Background(), "")
	assert.ErrorContains(t, err, "openstackProviderID is empty")
	assert.Equal(t, 0, server.Requests())
}

func TestNewClientRejectsBadOptions(t *testing.T) {
	tests := []struct {
		name    string
		opts    contrabass.Options
		wantErr string
	}{
		{"empty endpoint", contrabass.Options{}, "contrabass: contrabassEndpoint is required"},
		{"relative endpoint", contrabass.Options{Endpoint: "contrabass.local/api"}, "contrabassEndpoint \"contrabass.local/api\" must be an absolute http:// or https:// URL"},
		{"other scheme", contrabass.Options{Endpoint: "ftp://contrabass"}, "must be an absolute http:// or https:// URL"},
		{"no host", contrabass.Options{Endpoint: "http://"}, "must be an absolute http:// or https:// URL"},
		{"unparsable", contrabass.Options{Endpoint: "http://user:pa ss@[::1"}, "contrabassEndpoint is not a valid URL"},
		{"query", contrabass.Options{Endpoint: "http://c/?x=1"}, "must not carry a query or fragment"},
		{"negative timeout", contrabass.Options{Endpoint: "http://c", Timeout: -time.Second}, "contrabassTimeout must not be negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client, err := contrabass.NewClient(tt.opts)
			require.Error(t, err)
			assert.Nil(t, client)
			assert.Contains(t, err.Error(), tt.wantErr)
			assert.NotContains(t, err.Error(), "pa ss")
		})
	}
}

// Every failure path above is repeated here with real secrets in play to make
// sure none of them ends up in an error message.
func TestErrorsNeverContainSecrets(t *testing.T) {
	server := contrabasstest.NewServer(key128)
	defer server.Close()
	server.AddProvider("prov-1", adminSpec)
	server.RequireBearer(bearerToken)

	var errs []error
	collect := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}

	wrongToken := newTestClient(t, contrabass.Options{Endpoint: server.URL, BearerToken: bearerToken + "-old"})
	_, err := wrongToken.GetProvider(context.Background(), "prov-1")
	collect(err)

	client := newTestClient(t, contrabass.Options{Endpoint: server.URL, BearerToken: bearerToken, RetryMax: 1})
	_, err = client.GetProvider(context.Background(), "missing")
	collect(err)
	server.Fail(http.StatusInternalServerError, -1)
	_, err = client.GetProvider(context.Background(), "prov-1")
	collect(err)
	server.ClearFaults()

	provider, err := client.GetProvider(context.Background(), "prov-1")
	require.NoError(t, err)
	_, err = provider.AdminPassword("WrongKeyWrongKey")
	collect(err)
	_, err = provider.AdminPassword(key256)
	collect(err)
	_, err = provider.AdminPassword(key128[:15])
	collect(err)

	closed := contrabasstest.NewServer(key128)
	closed.Close()
	unreachable := newTestClient(t, contrabass.Options{Endpoint: closed.URL, BearerToken: bearerToken, RetryMax: -1})
	_, err = unreachable.GetProvider(context.Background(), "prov-1")
	collect(err)

	require.Len(t, errs, 7)
	for _, err := range errs {
		for _, secret := range []string{adminPassword, bearerToken, key128, key256, "rabbit-pw", provider.Attributes.AdminPw} {
			assert.NotContains(t, err.Error(), secret)
		}
	}
}
