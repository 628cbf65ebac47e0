package viola_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/multinic/multinic/viola"
	"github.com/multinic/multinic/viola/violatest"
)

func nodeConfig(i int) viola.NodeConfig {
	return viola.NodeConfig{
		NodeName:   fmt.Sprintf("worker-%d", i),
		InstanceID: fmt.Sprintf("vm-%d", i),
		Interfaces: []viola.Interface{
			{ID: 0, Name: "multinic0", PortID: fmt.Sprintf("port-%d-0", i), MACAddress: fmt.Sprintf("fa:16:3e:00:%02x:00", i), Address: "10.0.0.10", CIDR: "10.0.0.0/24", MTU: 1450},
			{ID: 1, Name: "multinic1", MACAddress: fmt.Sprintf("fa:16:3e:00:%02x:01", i), Address: "10.1.0.10", CIDR: "10.1.0.0/24", MTU: 9000},
		},
	}
}

func nodeConfigs(n int) []viola.NodeConfig {
	configs := make([]viola.NodeConfig, n)
	for i := range configs {
		configs[i] = nodeConfig(i)
	}
	return configs
}

func names(configs []viola.NodeConfig) []string {
	out := make([]string, len(configs))
	for i, c := range configs {
		out[i] = c.NodeName
	}
	return out
}

// newTestClient keeps back-off waits tiny so retry tests run fast.
func newTestClient(t *testing.T, opts viola.Options) *viola.Client {
	t.Helper()
	if opts.RetryWaitMin == 0 {
		opts.RetryWaitMin = time.Millisecond
	}
	if opts.RetryWaitMax == 0 {
		opts.RetryWaitMax = 5 * time.Millisecond
	}
	client, err := viola.NewClient(opts)
	require.NoError(t, err)
	return client
}

func TestPost(t *testing.T) {
	server := violatest.NewServer()
	defer server.Close()
	configs := nodeConfigs(3)

	client := newTestClient(t, viola.Options{Endpoint: server.URL + "/"})
	result, err := client.Post(context.Background(), "k8s-prov", configs)
	require.NoError(t, err)

	assert.Equal(t, []string{"worker-0", "worker-1", "worker-2"}, result.Accepted)
	posts := server.Posts()
	require.Len(t, posts, 1)
	assert.Equal(t, "k8s-prov", posts[0].ProviderID)
	assert.Equal(t, configs, posts[0].Configs, "every field, portId included, must survive the wire")
	assert.Len(t, server.Nodes("k8s-prov"), 3)
	assert.Empty(t, server.Nodes("other-prov"))
	assert.Equal(t, 1, server.Requests())
	assert.Equal(t, 0, server.Rejected())
}

func TestPostSendsSpecRequest(t *testing.T) {
	type seen struct {
		method, path, contentType, providerID string
		body                                  []map[string]any
	}
	requests := make(chan seen, 1)
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got := seen{method: r.Method, path: r.URL.Path, contentType: r.Header.Get("Content-Type"), providerID: r.Header.Get("x-provider-id")}
		_ = json.NewDecoder(r.Body).Decode(&got.body)
		requests <- got
	}))
	defer server.Close()

	client := newTestClient(t, viola.Options{Endpoint: server.URL})
	_, err := client.Post(context.Background(), "p1", nodeConfigs(1))
	require.NoError(t, err)

	got := <-requests
	assert.Equal(t, http.MethodPost, got.method)
	assert.Equal(t, "/v1/k8s/multinic/node-configs", got.path)
	assert.Equal(t, "application/json", got.contentType)
	assert.Equal(t, "p1", got.providerID)
	require.Len(t, got.body, 1)
	assert.Equal(t, "worker-0", got.body[0]["nodeName"])
	assert.Equal(t, "vm-0", got.body[0]["instanceId"])
	first := got.body[0]["interfaces"].([]any)[0].(map[string]any)
	assert.Equal(t, map[string]any{
		"id": 0.0, "name": "multinic0", "portId": "port-0-0", "macAddress": "fa:16:3e:00:00:00",
		"address": "10.0.0.10", "cidr": "10.0.0.0/24", "mtu": 1450.0,
	}, first)
}

func TestPostAccepts202WithoutBody(t *testing.T) {
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusAccepted)
	}))
	defer server.Close()

	client := newTestClient(t, viola.Options{Endpoint: server.URL})
	result, err := client.Post(context.Background(), "p1", nodeConfigs(2))
	require.NoError(t, err)
	assert.Equal(t, []string{"worker-0", "worker-1"}, result.Accepted)
}

func TestPostSplitsIntoBatches(t *testing.T) {
	server := violatest.NewServer()
	defer server.Close()
	configs := nodeConfigs(7)

	client := newTestClient(t, viola.Options{Endpoint: server.URL, MaxBatch: 3})
	result, err := client.Post(context.Background(), "p1", configs)
	require.NoError(t, err)
	assert.Equal(t, names(configs), result.Accepted, "accepted nodes keep the caller's order")

	// Batches go out concurrently, so compare them as a set.
	var batches [][]string
	for _, post := range server.Posts() {
		batches = append(batches, names(post.Configs))
	}
	slices.SortFunc(batches, func(a, b []string) int { return strings.Compare(a[0], b[0]) })
	assert.Equal(t, [][]string{
		{"worker-0", "worker-1", "worker-2"},
		{"worker-3", "worker-4", "worker-5"},
		{"worker-6"},
	}, batches)
	assert.Len(t, server.Nodes("p1"), 7)
}

func TestPostDefaultBatchIs250(t *testing.T) {
	server := violatest.NewServer()
	defer server.Close()

	client := newTestClient(t, viola.Options{Endpoint: server.URL})
	_, err := client.Post(context.Background(), "p1", nodeConfigs(251))
	require.NoError(t, err)

	sizes := []int{}
	for _, post := range server.Posts() {
		sizes = append(sizes, len(post.Configs))
	}
	slices.Sort(sizes)
	assert.Equal(t, []int{1, 250}, sizes)
}

func TestPostBoundsConcurrentBatches(t *testing.T) {
	var inFlight, maxInFlight atomic.Int32
	arrived := make(chan struct{}, 10)
	release := make(chan struct{})
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		for {
			seen := maxInFlight.Load()
			if n <= seen || maxInFlight.CompareAndSwap(seen, n) {
				break
			}
		}
		arrived <- struct{}{}
		<-release
		inFlight.Add(-1)
	}))
	defer server.Close()

	client := newTestClient(t, viola.Options{Endpoint: server.URL, MaxBatch: 1})
	done := make(chan error, 1)
	go func() {
		_, err := client.Post(context.Background(), "p1", nodeConfigs(10))
		done <- err
	}()

	// Fill every slot, then let one batch finish at a time: an unbounded
	// client would have all ten in flight before the first release.
	for range 4 {
		<-arrived
	}
	for range 6 {
		release <- struct{}{}
		<-arrived
	}
	for range 4 {
		release <- struct{}{}
	}
	require.NoError(t, <-done)
	assert.EqualValues(t, 4, maxInFlight.Load())
}

func TestPostRetriesServerErrors(t *testing.T) {
	server := violatest.NewServer()
	defer server.Close()
	server.Fail(http.StatusInternalServerError, 1)

	client := newTestClient(t, viola.Options{Endpoint: server.URL})
	result, err := client.Post(context.Background(), "p1", nodeConfigs(2))
	require.NoError(t, err)
	assert.Equal(t, []string{"worker-0", "worker-1"}, result.Accepted)
	assert.Equal(t, 2, server.Requests())
	assert.Equal(t, 1, server.Rejected())
	assert.Len(t, server.Posts(), 1)
}

func TestPostRetries429(t *testing.T) {
	server := violatest.NewServer()
	defer server.Close()
	server.Fail(http.StatusTooManyRequests, 2)

	client := newTestClient(t, viola.Options{Endpoint: server.URL})
	_, err := client.Post(context.Background(), "p1", nodeConfigs(1))
	require.NoError(t, err)
	assert.Equal(t, 3, server.Requests())
}

func TestPostGivesUpAfterRetryMax(t *testing.T) {
	server := violatest.NewServer()
	defer server.Close()
	server.Fail(http.StatusInternalServerError, -1)

	client := newTestClient(t, viola.Options{Endpoint: server.URL, RetryMax: 2})
	result, err := client.Post(context.Background(), "p1", nodeConfigs(2))
	require.Error(t, err)
	assert.Empty(t, result.Accepted)
	assert.Equal(t, `viola: POST node-configs (provider "p1", 2 nodes): HTTP 500 after 3 attempts: {"error":"injected failure"}`, err.Error())
	assert.Equal(t, 3, server.Requests())
}

func TestPostFailsFastOnClientError(t *testing.T) {
	server := violatest.NewServer()
	defer server.Close()
	server.Fail(http.StatusBadRequest, 1)

	client := newTestClient(t, viola.Options{Endpoint: server.URL})
	result, err := client.Post(context.Background(), "p1", nodeConfigs(2))
	require.Error(t, err)
	assert.Empty(t, result.Accepted)
	assert.Equal(t, `viola: POST node-configs (provider "p1", 2 nodes): HTTP 400: {"error":"injected failure"}`, err.Error())
	assert.Equal(t, 1, server.Requests())
	assert.Empty(t, server.Posts())
}

func TestPostPartialBatchFailure(t *testing.T) {
	// Rejects exactly the batch holding worker-2, whatever order batches arrive in.
	var mu sync.Mutex
	var accepted []string
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var batch []viola.NodeConfig
		if err := json.NewDecoder(r.Body).Decode(&batch); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if slices.Contains(names(batch), "worker-2") {
			http.Error(w, "apply failed:\nadmission webhook denied worker-2", http.StatusUnprocessableEntity)
			return
		}
		mu.Lock()
		accepted = append(accepted, names(batch)...)
		mu.Unlock()
		_, _ = io.WriteString(w, `{"applied":2,"output":"ok"}`)
	}))
	defer server.Close()

	client := newTestClient(t, viola.Options{Endpoint: server.URL, MaxBatch: 2})
	result, err := client.Post(context.Background(), "p1", nodeConfigs(5))
	require.Error(t, err)
	assert.Equal(t, []string{"worker-0", "worker-1", "worker-4"}, result.Accepted)
	assert.Equal(t, `viola: POST node-configs (provider "p1", batch 2 of 3, 2 nodes): HTTP 422: apply failed: admission webhook denied worker-2`, err.Error())

	mu.Lock()
	defer mu.Unlock()
	assert.ElementsMatch(t, accepted, result.Accepted)
}

func TestPostPartialFailureMatchesServerState(t *testing.T) {
	server := violatest.NewServer()
	defer server.Close()
	server.Fail(http.StatusBadRequest, 2)
	configs := nodeConfigs(6)

	client := newTestClient(t, viola.Options{Endpoint: server.URL, MaxBatch: 1})
	result, err := client.Post(context.Background(), "p1", configs)
	require.Error(t, err)
	assert.Equal(t, 2, strings.Count(err.Error(), "HTTP 400"), err.Error())

	stored := server.Nodes("p1")
	assert.Len(t, result.Accepted, 4)
	for _, name := range result.Accepted {
		assert.Contains(t, stored, name)
	}
	assert.Len(t, stored, 4)
	assert.Equal(t, 6, server.Requests())
}

func TestPostValidatesBeforeSending(t *testing.T) {
	badMAC := nodeConfigs(3)
	badMAC[2].Interfaces[0].MACAddress = "fa:16:3e"

	badName := nodeConfigs(2)
	badName[1].Interfaces[1].Name = "eth1"

	duplicate := nodeConfigs(2)
	duplicate[1].NodeName = duplicate[0].NodeName

	noInterfaces := nodeConfigs(1)
	noInterfaces[0].Interfaces = nil

	noMTU := nodeConfigs(2)
	noMTU[1].Interfaces[0].MTU = 0

	upperCase := nodeConfigs(1)
	upperCase[0].NodeName = "Worker-0"

	tests := []struct {
		name       string
		providerID string
		configs    []viola.NodeConfig
		wantErr    string
	}{
		{"empty provider", "", nodeConfigs(1), "provider ID (x-provider-id) is empty"},
		{"provider with newline", "p1\nInjected: yes", nodeConfigs(1), "contains control characters"},
		{"no configs", "p1", nil, "no node configs to send"},
		{"bad MAC in last config", "p1", badMAC, `configs[2]: node config "worker-2": interfaces[0].macAddress "fa:16:3e" is not six colon-separated hex pairs`},
		{"interface name not multinic<id>", "p1", badName, `configs[1]: node config "worker-1": interfaces[1].name "eth1" must be "multinic1"`},
		{"duplicate node", "p1", duplicate, `configs[1]: node "worker-0" appears more than once`},
		{"no interfaces", "p1", noInterfaces, "interfaces must hold at least one interface"},
		{"interface without mtu", "p1", noMTU, `configs[1]: node config "worker-1": interfaces[0].mtu is required`},
		{"node name the agent never finds", "p1", upperCase, `configs[0]: node config "Worker-0": nodeName: "Worker-0" is not a lower-case RFC 1123 subdomain`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			server := violatest.NewServer()
			defer server.Close()

			// MaxBatch 1 puts the valid configs in batches of their own, which
			// must not be sent either.
			client := newTestClient(t, viola.Options{Endpoint: server.URL, MaxBatch: 1})
			result, err := client.Post(context.Background(), tt.providerID, tt.configs)
			require.Error(t, err)
			assert.True(t, strings.HasPrefix(err.Error(), "viola: POST node-configs: "), err.Error())
			assert.Contains(t, err.Error(), tt.wantErr)
			assert.Empty(t, result.Accepted)
			assert.Equal(t, 0, server.Requests())
		})
	}
}

func TestPostCancelledContext(t *testing.T) {
	server := violatest.NewServer()
	defer server.Close()
	server.SetLatency(time.Hour)

	client := newTestClient(t, viola.Options{Endpoint: server.URL})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	result, err := client.Post(ctx, "p1", nodeConfigs(1))
	require.Error(t, err)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Empty(t, result.Accepted)
	assert.Equal(t, 1, server.Requests(), "an expired context must stop retries")
	assert.Empty(t, server.Posts())
}

func TestPostTimeoutOption(t *testing.T) {
	server := violatest.NewServer()
	defer server.Close()
	server.SetLatency(time.Hour)

	client := newTestClient(t, viola.Options{Endpoint: server.URL, Timeout: 20 * time.Millisecond, RetryMax: -1})
	_, err := client.Post(context.Background(), "p1", nodeConfigs(1))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "no answer within 20ms (timeout)")
}

func TestPostUnreachable(t *testing.T) {
	server := violatest.NewServer()
	server.Close()

	client := newTestClient(t, viola.Options{Endpoint: server.URL, RetryMax: 1})
	_, err := client.Post(context.Background(), "p1", nodeConfigs(1))
	require.Error(t, err)
	assert.Contains(t, err.Error(), `viola: POST node-configs (provider "p1", 1 nodes): giving up after 2 attempt(s): `)
}

func TestPostInsecureTLS(t *testing.T) {
	server := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	// The rejected handshake is the point of the first half; do not log it.
	server.Config.ErrorLog = log.New(io.Discard, "", 0)
	server.StartTLS()
	defer server.Close()

	strict := newTestClient(t, viola.Options{Endpoint: server.URL})
	_, err := strict.Post(context.Background(), "p1", nodeConfigs(1))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "certificate")

	insecure := newTestClient(t, viola.Options{Endpoint: server.URL, InsecureTLS: true})
	_, err = insecure.Post(context.Background(), "p1", nodeConfigs(1))
	require.NoError(t, err)
}

func TestNewClientRejectsBadOptions(t *testing.T) {
	tests := []struct {
		name    string
		opts    viola.Options
		wantErr string
	}{
		{"empty endpoint", viola.Options{}, "viola: violaEndpoint is required"},
		{"relative endpoint", viola.Options{Endpoint: "viola:8080"}, "viola: violaEndpoint \"viola:8080\" must be an absolute http:// or https:// URL"},
		{"no host", viola.Options{Endpoint: "https:///x"}, "must be an absolute http:// or https:// URL"},
		{"fragment", viola.Options{Endpoint: "http://viola#x"}, "must not carry a query or fragment"},
		{"negative batch", viola.Options{Endpoint: "http://viola", MaxBatch: -1}, "MaxBatch must not be negative"},
		{"negative timeout", viola.Options{Endpoint: "http://viola", Timeout: -1}, "timeout must not be negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client, err := viola.NewClient(tt.opts)
			require.Error(t, err)
			assert.Nil(t, client)
			assert.Contains(t, err.Error(), tt.wantErr)
		})
	}
}

// A panic in a batch's goroutine (here the caller's transport) fails that
// batch; the process and the other batches carry on.
func TestPostRecoversAPanicInABatch(t *testing.T) {
	server := violatest.NewServer()
	defer server.Close()
	var calls atomic.Int32
	transport := roundTripper(func(r *http.Request) (*http.Response, error) {
		if calls.Add(1) == 1 {
			panic("transport bug")
		}
		return http.DefaultTransport.RoundTrip(r)
	})
	client := newTestClient(t, viola.Options{Endpoint: server.URL, MaxBatch: 1, RetryMax: -1, HTTPClient: &http.Client{Transport: transport}})
	result, err := client.Post(context.Background(), "p1", nodeConfigs(3))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "recovered panic: transport bug")
	assert.NotContains(t, err.Error(), "goroutine", "no stack in the message")
	assert.Len(t, result.Accepted, 2)
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
