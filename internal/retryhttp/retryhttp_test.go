package retryhttp_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"testing/iotest"
	"time"

	"github.com/hashicorp/go-retryablehttp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/multinic/multinic/internal/retryhttp"
)

// newFast builds a client whose back-off waits are tiny, so retry tests run fast.
func newFast(t *testing.T, opts retryhttp.Options) *retryablehttp.Client {
	t.Helper()
	if opts.RetryWaitMin == 0 {
		opts.RetryWaitMin = time.Millisecond
	}
	if opts.RetryWaitMax == 0 {
		opts.RetryWaitMax = 5 * time.Millisecond
	}
	client, err := retryhttp.New(opts)
	require.NoError(t, err)
	return client
}

func get(t *testing.T, client *retryablehttp.Client, url string) (*http.Response, error) {
	t.Helper()
	req, err := retryablehttp.NewRequestWithContext(context.Background(), http.MethodGet, url, nil)
	require.NoError(t, err)
	resp, err := client.Do(req)
	if resp != nil {
		t.Cleanup(func() { _ = resp.Body.Close() })
	}
	return resp, err
}

// baseTransport is the transport under retryhttp's own wrappers (body limit,
// observer).
func baseTransport(client *retryablehttp.Client) http.RoundTripper {
	rt := client.HTTPClient.Transport
	for {
		wrapper, ok := rt.(interface{ Unwrap() http.RoundTripper })
		if !ok {
			return rt
		}
		rt = wrapper.Unwrap()
	}
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestNewDefaults(t *testing.T) {
	client, err := retryhttp.New(retryhttp.Options{})
	require.NoError(t, err)

	assert.Equal(t, 30*time.Second, client.HTTPClient.Timeout)
	assert.Equal(t, 3, client.RetryMax)
	assert.Equal(t, 100*time.Millisecond, client.RetryWaitMin)
	assert.Equal(t, 2*time.Second, client.RetryWaitMax)
	assert.Nil(t, client.Logger, "errors go back to the caller; the client logs nothing")
	transport, ok := baseTransport(client).(*http.Transport)
	require.True(t, ok, "got %T", client.HTTPClient.Transport)
	assert.NotSame(t, http.DefaultTransport, transport, "the process-wide transport must not be shared")
	assert.Equal(t, http.DefaultTransport.(*http.Transport).MaxIdleConnsPerHost, transport.MaxIdleConnsPerHost)
}

func TestNewRetrySettings(t *testing.T) {
	tests := []struct {
		name                     string
		opts                     retryhttp.Options
		wantRetryMax             int
		wantWaitMin, wantWaitMax time.Duration
	}{
		{"zero RetryMax is the default", retryhttp.Options{}, 3, 100 * time.Millisecond, 2 * time.Second},
		{"negative RetryMax disables retries", retryhttp.Options{RetryMax: -1}, 0, 100 * time.Millisecond, 2 * time.Second},
		{"positive RetryMax is kept", retryhttp.Options{RetryMax: 5}, 5, 100 * time.Millisecond, 2 * time.Second},
		{"waits are kept", retryhttp.Options{RetryWaitMin: time.Millisecond, RetryWaitMax: 5 * time.Millisecond}, 3, time.Millisecond, 5 * time.Millisecond},
		{"max below min is raised to min", retryhttp.Options{RetryWaitMin: 3 * time.Second}, 3, 3 * time.Second, 3 * time.Second},
		{"max below the default min", retryhttp.Options{RetryWaitMax: 50 * time.Millisecond}, 3, 100 * time.Millisecond, 100 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client, err := retryhttp.New(tt.opts)
			require.NoError(t, err)
			assert.Equal(t, tt.wantRetryMax, client.RetryMax)
			assert.Equal(t, tt.wantWaitMin, client.RetryWaitMin)
			assert.Equal(t, tt.wantWaitMax, client.RetryWaitMax)
		})
	}
}

func TestNewRejectsNegativeSettings(t *testing.T) {
	tests := []struct {
		name    string
		opts    retryhttp.Options
		wantErr string
	}{
		{"timeout", retryhttp.Options{Timeout: -time.Second}, "Timeout must not be negative, got -1s"},
		{"timeout named by the caller", retryhttp.Options{Timeout: -time.Second, TimeoutName: "contrabassTimeout"}, "contrabassTimeout must not be negative, got -1s"},
		{"min wait", retryhttp.Options{RetryWaitMin: -1}, "retry waits must not be negative"},
		{"max wait", retryhttp.Options{RetryWaitMax: -1}, "retry waits must not be negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client, err := retryhttp.New(tt.opts)
			assert.Nil(t, client)
			assert.EqualError(t, err, tt.wantErr)
		})
	}
}

func TestNewCopiesHTTPClient(t *testing.T) {
	var used atomic.Int32
	transport := roundTripperFunc(func(r *http.Request) (*http.Response, error) {
		used.Add(1)
		return &http.Response{StatusCode: http.StatusOK, Body: io.NopCloser(strings.NewReader("ok")), Request: r}, nil
	})
	base := &http.Client{Transport: transport, Timeout: time.Hour}

	client := newFast(t, retryhttp.Options{HTTPClient: base, Timeout: 5 * time.Second})
	assert.NotSame(t, base, client.HTTPClient)
	assert.Equal(t, 5*time.Second, client.HTTPClient.Timeout, "Timeout replaces the base client's")
	assert.Equal(t, time.Hour, base.Timeout, "the caller's client must not change")

	resp, err := get(t, client, "http://example.invalid/")
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.EqualValues(t, 1, used.Load(), "the base client's transport carries the requests")

	withoutTimeout := newFast(t, retryhttp.Options{HTTPClient: &http.Client{Transport: transport}})
	assert.Equal(t, retryhttp.DefaultTimeout, withoutTimeout.HTTPClient.Timeout)
}

func TestInsecureTLSClonesTransport(t *testing.T) {
	callerTLS := &tls.Config{ServerName: "contrabass.internal", MinVersion: tls.VersionTLS12}
	callerTransport := &http.Transport{TLSClientConfig: callerTLS, MaxIdleConnsPerHost: 7}
	base := &http.Client{Transport: callerTransport}

	client := newFast(t, retryhttp.Options{HTTPClient: base, InsecureTLS: true})
	got, ok := baseTransport(client).(*http.Transport)
	require.True(t, ok)
	assert.NotSame(t, callerTransport, got)
	assert.NotSame(t, callerTLS, got.TLSClientConfig)
	assert.True(t, got.TLSClientConfig.InsecureSkipVerify)
	assert.Equal(t, "contrabass.internal", got.TLSClientConfig.ServerName, "the rest of the caller's TLS config is kept")
	assert.Equal(t, 7, got.MaxIdleConnsPerHost, "the rest of the caller's transport is kept")

	assert.Same(t, callerTransport, base.Transport)
	assert.Same(t, callerTLS, callerTransport.TLSClientConfig)
	assert.False(t, callerTLS.InsecureSkipVerify, "the caller's transport must keep verifying certificates")

	fromDefault := newFast(t, retryhttp.Options{InsecureTLS: true})
	assert.True(t, baseTransport(fromDefault).(*http.Transport).TLSClientConfig.InsecureSkipVerify)
	if defaultTLS := http.DefaultTransport.(*http.Transport).TLSClientConfig; defaultTLS != nil {
		assert.False(t, defaultTLS.InsecureSkipVerify, "the process-wide transport must keep verifying certificates")
	}
}

func TestInsecureTLSSkipsVerification(t *testing.T) {
	var requests atomic.Int32
	server := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
	}))
	// The rejected handshake is the point of the first half; do not log it.
	server.Config.ErrorLog = log.New(io.Discard, "", 0)
	server.StartTLS()
	defer server.Close()

	_, err := get(t, newFast(t, retryhttp.Options{}), server.URL)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "certificate")
	assert.Contains(t, err.Error(), "giving up after 1 attempt(s)", "certificate errors are not retried")
	assert.EqualValues(t, 0, requests.Load())

	resp, err := get(t, newFast(t, retryhttp.Options{InsecureTLS: true}), server.URL)
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.EqualValues(t, 1, requests.Load())
}

func TestInsecureTLSNeedsHTTPTransport(t *testing.T) {
	custom := &http.Client{Transport: roundTripperFunc(nil)}

	_, err := retryhttp.New(retryhttp.Options{HTTPClient: custom, InsecureTLS: true})
	assert.EqualError(t, err, "InsecureTLS needs an *http.Transport, the given HTTPClient uses retryhttp_test.roundTripperFunc")

	_, err = retryhttp.New(retryhttp.Options{HTTPClient: custom, InsecureTLS: true, InsecureTLSName: "contrabassInsecureTLS"})
	assert.ErrorContains(t, err, "contrabassInsecureTLS needs an *http.Transport")

	_, err = retryhttp.New(retryhttp.Options{HTTPClient: custom})
	assert.NoError(t, err, "any RoundTripper will do without InsecureTLS")
}

func TestMaxIdleConnsPerHost(t *testing.T) {
	tuned := newFast(t, retryhttp.Options{MaxIdleConnsPerHost: 16})
	assert.Equal(t, 16, baseTransport(tuned).(*http.Transport).MaxIdleConnsPerHost)

	insecure := newFast(t, retryhttp.Options{MaxIdleConnsPerHost: 16, InsecureTLS: true})
	assert.Equal(t, 16, baseTransport(insecure).(*http.Transport).MaxIdleConnsPerHost)

	callerTransport := &http.Transport{MaxIdleConnsPerHost: 3}
	own := newFast(t, retryhttp.Options{MaxIdleConnsPerHost: 16, HTTPClient: &http.Client{Transport: callerTransport}})
	assert.Same(t, callerTransport, baseTransport(own), "a caller's transport is not tuned")
	assert.Equal(t, 3, callerTransport.MaxIdleConnsPerHost)
}

func TestRetryPolicy(t *testing.T) {
	tests := []struct {
		status   int
		attempts int
	}{
		{http.StatusInternalServerError, 3},
		{http.StatusBadGateway, 3},
		{http.StatusServiceUnavailable, 3},
		{http.StatusGatewayTimeout, 3},
		{http.StatusTooManyRequests, 3},
		{http.StatusNotImplemented, 1},
		{http.StatusBadRequest, 1},
		{http.StatusUnauthorized, 1},
		{http.StatusForbidden, 1},
		{http.StatusNotFound, 1},
		{http.StatusConflict, 1},
		{http.StatusUnprocessableEntity, 1},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.status), func(t *testing.T) {
			var requests atomic.Int32
			server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				n := requests.Add(1)
				w.WriteHeader(tt.status)
				_, _ = fmt.Fprintf(w, "answer %d", n)
			}))
			defer server.Close()

			resp, err := get(t, newFast(t, retryhttp.Options{RetryMax: 2}), server.URL)
			assert.EqualValues(t, tt.attempts, requests.Load())
			require.NotNil(t, resp, "the final response is handed back")
			assert.Equal(t, tt.status, resp.StatusCode)
			body, readErr := io.ReadAll(resp.Body)
			require.NoError(t, readErr)
			assert.Equal(t, fmt.Sprintf("answer %d", tt.attempts), string(body), "the body is the last attempt's, unread")

			if tt.attempts == 1 {
				assert.NoError(t, err, "a status that is not retried is the caller's to judge")
				return
			}
			var exhausted *retryhttp.AttemptsError
			require.ErrorAs(t, err, &exhausted)
			assert.Equal(t, tt.attempts, exhausted.Attempts)
			assert.NoError(t, exhausted.Err)
		})
	}
}

func TestRetryRecoversFromServerErrors(t *testing.T) {
	var requests atomic.Int32
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch requests.Add(1) {
		case 1:
			w.WriteHeader(http.StatusServiceUnavailable)
		case 2:
			w.WriteHeader(http.StatusTooManyRequests)
		default:
			_, _ = io.WriteString(w, "ok")
		}
	}))
	defer server.Close()

	resp, err := get(t, newFast(t, retryhttp.Options{}), server.URL)
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.EqualValues(t, 3, requests.Load())
}

func TestNegativeRetryMaxSendsOnce(t *testing.T) {
	var requests atomic.Int32
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		w.WriteHeader(http.StatusInternalServerError)
	}))
	defer server.Close()

	resp, err := get(t, newFast(t, retryhttp.Options{RetryMax: -1}), server.URL)
	require.NotNil(t, resp)
	assert.Equal(t, http.StatusInternalServerError, resp.StatusCode)
	var exhausted *retryhttp.AttemptsError
	require.ErrorAs(t, err, &exhausted)
	assert.Equal(t, 1, exhausted.Attempts)
	assert.EqualValues(t, 1, requests.Load())
}

func TestRetriesConnectionErrors(t *testing.T) {
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
		_, _ = io.WriteString(w, "ok")
	}))
	defer server.Close()

	resp, err := get(t, newFast(t, retryhttp.Options{}), server.URL)
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.EqualValues(t, 2, requests.Load())
}

func TestConnectionErrorsExhausted(t *testing.T) {
	server := httptest.NewServer(http.NotFoundHandler())
	server.Close()

	resp, err := get(t, newFast(t, retryhttp.Options{RetryMax: 1}), server.URL)
	assert.Nil(t, resp)
	var exhausted *retryhttp.AttemptsError
	require.ErrorAs(t, err, &exhausted)
	assert.Equal(t, 2, exhausted.Attempts)
	assert.True(t, strings.HasPrefix(err.Error(), "giving up after 2 attempt(s): "), err.Error())
	var urlErr *url.Error
	assert.ErrorAs(t, err, &urlErr, "the connection error stays reachable through Unwrap")
}

func TestTimeoutBoundsEachAttempt(t *testing.T) {
	var requests atomic.Int32
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		<-r.Context().Done() // answer only once the client has given up
	}))
	defer server.Close()

	resp, err := get(t, newFast(t, retryhttp.Options{Timeout: 20 * time.Millisecond, RetryMax: 1}), server.URL)
	assert.Nil(t, resp)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "no answer within 20ms (Timeout)", "a timeout names the setting that bounds it")
	assert.Contains(t, err.Error(), "giving up after 2 attempt(s)")
	assert.EqualValues(t, 2, requests.Load(), "a timed-out attempt is retried with a fresh timeout")
}

func TestBackoffIsCapped(t *testing.T) {
	client := newFast(t, retryhttp.Options{RetryWaitMin: time.Millisecond, RetryWaitMax: 5 * time.Millisecond})
	backoff := func(attempt int, resp *http.Response) time.Duration {
		return client.Backoff(client.RetryWaitMin, client.RetryWaitMax, attempt, resp)
	}
	retryAfter := func(status int, value string) *http.Response {
		return &http.Response{StatusCode: status, Header: http.Header{"Retry-After": {value}}}
	}

	assert.Equal(t, time.Millisecond, backoff(0, nil))
	assert.Equal(t, 2*time.Millisecond, backoff(1, nil))
	assert.Equal(t, 4*time.Millisecond, backoff(2, nil))
	assert.Equal(t, 5*time.Millisecond, backoff(3, nil), "exponential growth stops at RetryWaitMax")
	assert.Equal(t, 5*time.Millisecond, backoff(0, retryAfter(http.StatusTooManyRequests, "3600")), "Retry-After cannot stall the caller")
	assert.Equal(t, 5*time.Millisecond, backoff(0, retryAfter(http.StatusServiceUnavailable, "3600")))
	assert.Equal(t, time.Duration(0), backoff(3, retryAfter(http.StatusServiceUnavailable, "0")), "a shorter Retry-After is honoured")

	// The same through a request: a server asking twice for an hour's pause.
	var requests atomic.Int32
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch requests.Add(1) {
		case 1:
			w.Header().Set("Retry-After", "3600")
			w.WriteHeader(http.StatusTooManyRequests)
		case 2:
			w.Header().Set("Retry-After", "3600")
			w.WriteHeader(http.StatusServiceUnavailable)
		default:
			_, _ = io.WriteString(w, "ok")
		}
	}))
	defer server.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := retryablehttp.NewRequestWithContext(ctx, http.MethodGet, server.URL, nil)
	require.NoError(t, err)
	resp, err := client.Do(req)
	require.NoError(t, err, "the retries must come long before the context's deadline")
	_ = resp.Body.Close()
	assert.EqualValues(t, 3, requests.Load())
}

func TestAttemptsError(t *testing.T) {
	statusOnly := &retryhttp.AttemptsError{Attempts: 4}
	assert.EqualError(t, statusOnly, "giving up after 4 attempt(s)")
	assert.NoError(t, errors.Unwrap(statusOnly))

	cause := errors.New("connection refused")
	withCause := &retryhttp.AttemptsError{Attempts: 2, Err: cause}
	assert.EqualError(t, withCause, "giving up after 2 attempt(s): connection refused")
	assert.ErrorIs(t, withCause, cause)
}

func TestStatusError(t *testing.T) {
	response := func(status int, body string) *http.Response {
		return &http.Response{StatusCode: status, Body: io.NopCloser(strings.NewReader(body))}
	}
	tests := []struct {
		name string
		resp *http.Response
		err  error
		want string
	}{
		{"not retried", response(404, "provider\n not found"), nil, "HTTP 404: provider not found"},
		{"retries ran out", response(503, "busy"), &retryhttp.AttemptsError{Attempts: 4}, "HTTP 503 after 4 attempts: busy"},
		{"wrapped attempts error", response(500, "boom"), fmt.Errorf("outer: %w", &retryhttp.AttemptsError{Attempts: 2}), "HTTP 500 after 2 attempts: boom"},
		{"retries disabled", response(500, "boom"), &retryhttp.AttemptsError{Attempts: 1}, "HTTP 500: boom"},
		{"empty body", response(403, ""), nil, "HTTP 403: (empty body)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.EqualError(t, retryhttp.StatusError(tt.resp, tt.err, 200), tt.want)
		})
	}
}

// countingReader records how many bytes were taken from it.
type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

func TestBodyExcerpt(t *testing.T) {
	tests := []struct {
		name  string
		body  io.Reader
		limit int
		want  string
	}{
		{"one line", strings.NewReader("not found"), 200, "not found"},
		{"whitespace collapsed", strings.NewReader("bad\n\tgateway\r\n   upstream\n"), 200, "bad gateway upstream"},
		{"empty", strings.NewReader(""), 200, "(empty body)"},
		{"whitespace only", strings.NewReader(" \n\t "), 200, "(empty body)"},
		{"cut at limit", strings.NewReader(strings.Repeat("x", 1000)), 200, strings.Repeat("x", 200) + "…"},
		{"exactly limit", strings.NewReader(strings.Repeat("x", 10)), 10, strings.Repeat("x", 10)},
		{"cut on a rune boundary", strings.NewReader(strings.Repeat("é", 10)), 5, "éé…"},
		{"invalid UTF-8 replaced", strings.NewReader("bad \xff byte"), 200, "bad \uFFFD byte"},
		{"unreadable", iotest.ErrReader(errors.New("connection reset")), 200, "(body unreadable: connection reset)"},
		{"read error after data", io.MultiReader(strings.NewReader("partial answer"), iotest.ErrReader(errors.New("reset"))), 200, "partial answer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, retryhttp.BodyExcerpt(tt.body, tt.limit))
		})
	}

	huge := &countingReader{r: strings.NewReader(strings.Repeat("x", 1<<20))}
	assert.Equal(t, strings.Repeat("x", 10)+"…", retryhttp.BodyExcerpt(huge, 10))
	assert.Equal(t, 40, huge.n, "at most four times the limit is read")
}

func TestParseEndpoint(t *testing.T) {
	valid := map[string]string{
		"http://viola:8080":              "http://viola:8080",
		"https://contrabass/api/":        "https://contrabass/api",
		"https://contrabass/api///":      "https://contrabass/api",
		"http://user:secret@viola/base/": "http://user:secret@viola/base",
	}
	for raw, want := range valid {
		got, err := retryhttp.ParseEndpoint(raw)
		require.NoError(t, err, raw)
		assert.Equal(t, want, got, raw)
	}

	invalid := []struct {
		raw, wantErr string
	}{
		{"", "is required"},
		{"  ", "is required"},
		{"contrabass.local/api", `"contrabass.local/api" must be an absolute http:// or https:// URL`},
		{"ftp://user:secret@contrabass", `"ftp://user:xxxxx@contrabass" must be an absolute http:// or https:// URL`},
		{"http://", `"http:" must be an absolute http:// or https:// URL`},
		{"http://user:pa ss@[::1", "is not a valid URL: "},
		{"http://c/?x=1", `"http://c/?x=1" must not carry a query or fragment`},
		{"http://viola#x", `"http://viola#x" must not carry a query or fragment`},
	}
	for _, tt := range invalid {
		t.Run(tt.raw, func(t *testing.T) {
			got, err := retryhttp.ParseEndpoint(tt.raw)
			assert.Empty(t, got)
			require.Error(t, err)
			assert.True(t, strings.HasPrefix(err.Error(), tt.wantErr), "got %q", err.Error())
			assert.NotContains(t, err.Error(), "secret")
			assert.NotContains(t, err.Error(), "pa ss")
		})
	}
}
