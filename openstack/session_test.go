package openstack

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-retryablehttp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// retrying digs the retryablehttp client out of what gophercloud is given.
func retrying(t *testing.T, client http.Client) *retryablehttp.Client {
	t.Helper()
	rt, ok := client.Transport.(*retryablehttp.RoundTripper)
	require.True(t, ok, "got %T", client.Transport)
	return rt.Client
}

// baseTransport is the transport under retryhttp's own wrappers.
func baseTransport(rc *retryablehttp.Client) http.RoundTripper {
	rt := rc.HTTPClient.Transport
	for {
		wrapper, ok := rt.(interface{ Unwrap() http.RoundTripper })
		if !ok {
			return rt
		}
		rt = wrapper.Unwrap()
	}
}

func TestHTTPClientHandsFinalResponseToGophercloud(t *testing.T) {
	var requests atomic.Int32
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, `{"NeutronError":{"message":"busy"}}`)
	}))
	defer server.Close()

	client, err := newHTTPClient(Options{RetryMax: 2, RetryWaitMin: time.Millisecond, RetryWaitMax: time.Millisecond}.withDefaults(), nil)
	require.NoError(t, err)
	resp, err := client.Get(server.URL)
	require.NoError(t, err, "gophercloud must see the service's answer, not a retry error")
	defer func() { _ = resp.Body.Close() }()
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	assert.JSONEq(t, `{"NeutronError":{"message":"busy"}}`, string(body))
	assert.EqualValues(t, 3, requests.Load())
}

func TestHTTPClientSettings(t *testing.T) {
	client, err := newHTTPClient(Options{Concurrency: 20, InsecureTLS: true}.withDefaults(), nil)
	require.NoError(t, err)
	rc := retrying(t, client)
	assert.Equal(t, 30*time.Second, rc.HTTPClient.Timeout)
	assert.Equal(t, 3, rc.RetryMax)
	assert.Equal(t, 100*time.Millisecond, rc.RetryWaitMin)
	assert.Equal(t, 2*time.Second, rc.RetryWaitMax)
	transport, ok := baseTransport(rc).(*http.Transport)
	require.True(t, ok, "got %T", baseTransport(rc))
	assert.Equal(t, 40, transport.MaxIdleConnsPerHost, "twice the concurrency")
	assert.True(t, transport.TLSClientConfig.InsecureSkipVerify)

	client, err = newHTTPClient(Options{RetryMax: -1}.withDefaults(), nil)
	require.NoError(t, err)
	rc = retrying(t, client)
	assert.Equal(t, 0, rc.RetryMax)
	transport = baseTransport(rc).(*http.Transport)
	assert.Equal(t, 32, transport.MaxIdleConnsPerHost, "twice the default concurrency")
	assert.False(t, transport.TLSClientConfig != nil && transport.TLSClientConfig.InsecureSkipVerify, "certificates are verified unless InsecureTLS is set")
}

// A 429 asking for a minute must not stall a reconcile: the wait is capped
// like the Contrabass and Viola clients'.
func TestHTTPClientCapsRetryAfter(t *testing.T) {
	client, err := newHTTPClient(Options{RetryWaitMin: time.Millisecond, RetryWaitMax: 5 * time.Millisecond}.withDefaults(), nil)
	require.NoError(t, err)
	rc := retrying(t, client)
	resp := &http.Response{StatusCode: http.StatusTooManyRequests, Header: http.Header{"Retry-After": {"60"}}}
	assert.Equal(t, 5*time.Millisecond, rc.Backoff(rc.RetryWaitMin, rc.RetryWaitMax, 0, resp))
	assert.Equal(t, 4*time.Millisecond, rc.Backoff(rc.RetryWaitMin, rc.RetryWaitMax, 2, nil))
}

func TestHTTPClientUsesTransportAsGiven(t *testing.T) {
	var used atomic.Int32
	transport := roundTripperFunc(func(r *http.Request) (*http.Response, error) {
		used.Add(1)
		return &http.Response{StatusCode: http.StatusOK, Body: http.NoBody, Request: r}, nil
	})

	// InsecureTLS would need an *http.Transport; with a Transport given it is ignored.
	client, err := newHTTPClient(Options{Transport: transport, InsecureTLS: true}.withDefaults(), nil)
	require.NoError(t, err)
	resp, err := client.Get("http://neutron.invalid/v2.0/ports")
	require.NoError(t, err)
	_ = resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.EqualValues(t, 1, used.Load())
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
