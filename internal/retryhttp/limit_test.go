package retryhttp_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-retryablehttp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/multinic/multinic/internal/retryhttp"
)

// streamingServer answers with a JSON object of size bytes, written in small
// chunks from one buffer, so neither side holds the whole body. With
// announce, Content-Length is sent; without, the body is chunked.
func streamingServer(t *testing.T, status int, size int64, announce bool) *httptest.Server {
	t.Helper()
	chunk := bytes.Repeat([]byte("x"), 32<<10)
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if announce {
			w.Header().Set("Content-Length", strconv.FormatInt(size, 10))
		}
		w.WriteHeader(status)
		const open, end = `{"padding":"`, `"}`
		if _, err := io.WriteString(w, open); err != nil {
			return
		}
		for left := size - int64(len(open)+len(end)); left > 0; left -= int64(len(chunk)) {
			if _, err := w.Write(chunk[:min(left, int64(len(chunk)))]); err != nil {
				return // the client gave up, as it should
			}
		}
		_, _ = io.WriteString(w, end)
	}))
	t.Cleanup(server.Close)
	return server
}

func TestMaxResponseBytes(t *testing.T) {
	const limit = 64 << 10
	tests := []struct {
		name     string
		size     int64
		announce bool
		wantErr  bool
	}{
		{"exactly the limit, streamed", limit, false, false},
		{"exactly the limit, announced", limit, true, false},
		{"one byte over, streamed", limit + 1, false, true},
		{"one byte over, announced", limit + 1, true, true},
		{"far over, streamed", 8 << 20, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			server := streamingServer(t, http.StatusOK, tt.size, tt.announce)
			client := newFast(t, retryhttp.Options{MaxResponseBytes: limit, Dependency: "neutron"})
			resp, err := get(t, client, server.URL+"/v2.0/ports?device_id=a")
			require.NoError(t, err)
			body, err := io.ReadAll(resp.Body)
			if !tt.wantErr {
				require.NoError(t, err)
				assert.Len(t, body, int(tt.size))
				return
			}
			var tooLarge *retryhttp.BodyTooLargeError
			require.ErrorAs(t, err, &tooLarge)
			assert.EqualError(t, err, "response of neutron to GET /v2.0/ports is larger than the limit of 64 KiB (MaxResponseBytes); the answer is not read any further")
			assert.LessOrEqual(t, len(body), limit, "nothing past the limit is handed out")
			if tt.announce {
				assert.Empty(t, body, "an announced oversized body is not read at all")
			}
			_, err = resp.Body.Read(make([]byte, 10))
			assert.ErrorAs(t, err, &tooLarge, "the error sticks")
		})
	}
}

func TestMaxResponseBytesDefaultAndValidation(t *testing.T) {
	server := streamingServer(t, http.StatusOK, retryhttp.DefaultMaxResponseBytes+1, false)
	resp, err := get(t, newFast(t, retryhttp.Options{}), server.URL)
	require.NoError(t, err)
	n, err := io.Copy(io.Discard, resp.Body)
	assert.ErrorContains(t, err, "larger than the limit of 8 MiB")
	assert.EqualValues(t, retryhttp.DefaultMaxResponseBytes, n)

	_, err = retryhttp.New(retryhttp.Options{MaxResponseBytes: -1})
	assert.EqualError(t, err, "MaxResponseBytes must not be negative, got -1")
}

// A failed response is only quoted, so its body is cut short without an
// error; gophercloud reads such bodies whole.
func TestErrorBodiesAreCut(t *testing.T) {
	server := streamingServer(t, http.StatusNotFound, 4<<20, false)
	resp, err := get(t, newFast(t, retryhttp.Options{}), server.URL)
	require.NoError(t, err)
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	assert.Len(t, body, 64<<10)
	assert.True(t, strings.HasPrefix(string(body), `{"padding":"xxx`))
}

// The issue this bounds: a 50 MB answer decoded as JSON took the heap to
// 0.5-1.1 GB. Decoding through the limit allocates a small multiple of the
// limit, whatever the server sends.
func TestOversizedBodyKeepsAllocationBounded(t *testing.T) {
	const limit = 2 << 20
	server := streamingServer(t, http.StatusOK, 50<<20, false)
	client := newFast(t, retryhttp.Options{MaxResponseBytes: limit, Dependency: "nova"})

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	resp, err := get(t, client, server.URL+"/servers/detail")
	require.NoError(t, err)
	var decoded map[string]any
	err = json.NewDecoder(resp.Body).Decode(&decoded)
	runtime.ReadMemStats(&after)

	var tooLarge *retryhttp.BodyTooLargeError
	require.ErrorAs(t, err, &tooLarge)
	assert.Contains(t, err.Error(), "response of nova to GET /servers/detail is larger than the limit of 2 MiB")
	allocated := after.TotalAlloc - before.TotalAlloc
	t.Logf("allocated %d KiB while refusing a 50 MiB body with a 2 MiB limit", allocated>>10)
	// json.Decoder doubles its buffer as the value grows, so the buffers it
	// goes through add up to about four times the limit. Without the limit
	// this is over 100 MiB.
	assert.Less(t, allocated, uint64(6*limit), "allocation must follow the limit, not the body")
}

func TestTimeoutNamesTheSetting(t *testing.T) {
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	}))
	defer server.Close()
	client := newFast(t, retryhttp.Options{Timeout: 20 * time.Millisecond, TimeoutName: "openstackTimeout", RetryMax: -1})
	_, err := get(t, client, server.URL)
	require.Error(t, err)
	assert.EqualError(t, err, fmt.Sprintf(`giving up after 1 attempt(s): Get %q: no answer within 20ms (openstackTimeout)`, server.URL))
	var timeout *retryhttp.TimeoutError
	require.ErrorAs(t, err, &timeout)
	assert.ErrorIs(t, err, context.DeadlineExceeded, "the cause stays reachable")

	// As a RoundTripper of an http.Client, which names the request itself.
	passing := newFast(t, retryhttp.Options{Timeout: 20 * time.Millisecond, TimeoutName: "openstackTimeout", RetryMax: -1, PassLastResponse: true})
	_, err = passing.StandardClient().Get(server.URL)
	require.Error(t, err)
	var exhausted *retryhttp.AttemptsError
	assert.NotErrorAs(t, err, &exhausted, "PassLastResponse hands the error back as it is")
	assert.EqualError(t, err, fmt.Sprintf(`Get %q: no answer within 20ms (openstackTimeout)`, server.URL), "named once, with the setting")
}

func TestErrorsNeverQuoteURLPasswords(t *testing.T) {
	hanging := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	}))
	defer hanging.Close()
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	// A transport of the caller's that quotes the request URL whole.
	quoting := &http.Client{Transport: roundTripperFunc(func(r *http.Request) (*http.Response, error) {
		return nil, fmt.Errorf("proxy refused %s", r.URL.String())
	})}

	withCredentials := func(base string) string {
		return strings.Replace(base, "http://", "http://operator:s3cr3t-pw@", 1) + "/v1/x"
	}
	tests := []struct {
		name   string
		opts   retryhttp.Options
		target string
	}{
		{"timeout", retryhttp.Options{Timeout: 20 * time.Millisecond}, withCredentials(hanging.URL)},
		{"connection refused", retryhttp.Options{}, withCredentials(closed.URL)},
		{"transport quoting the URL", retryhttp.Options{HTTPClient: quoting}, "http://operator:s3cr3t-pw@viola.invalid/v1/x"},
		{"passed on as it is", retryhttp.Options{HTTPClient: quoting, PassLastResponse: true}, "http://operator:s3cr3t-pw@viola.invalid/v1/x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.RetryMax = 1
			_, err := get(t, newFast(t, tt.opts), tt.target)
			require.Error(t, err)
			t.Log(err)
			assert.NotContains(t, err.Error(), "s3cr3t-pw")
		})
	}
}

type closeRecorder struct {
	io.Reader
	closed bool
}

func (c *closeRecorder) Close() error { c.closed = true; return nil }

// As a RoundTripper, the client returns a response or an error: when the
// caller's context ends just as an answer arrives, the answer is closed, so
// net/http neither logs it nor leaks its connection.
func TestPassLastResponseNeverReturnsBoth(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	body := &closeRecorder{Reader: strings.NewReader("busy")}
	cancelling := &http.Client{Transport: roundTripperFunc(func(r *http.Request) (*http.Response, error) {
		cancel()
		return &http.Response{StatusCode: http.StatusServiceUnavailable, Body: body, Request: r}, nil
	})}
	client := newFast(t, retryhttp.Options{HTTPClient: cancelling, PassLastResponse: true})
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://neutron.invalid/v2.0/ports", nil)
	require.NoError(t, err)
	resp, err := (&retryablehttp.RoundTripper{Client: client}).RoundTrip(req)
	assert.Nil(t, resp)
	assert.ErrorIs(t, err, context.Canceled)
	assert.True(t, body.closed, "the answer nobody gets is closed")
}
