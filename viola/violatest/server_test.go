package violatest_test

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/multinic/multinic/internal/fault"
	"github.com/multinic/multinic/viola"
	"github.com/multinic/multinic/viola/violatest"
)

const nodeConfigsURL = "/v1/k8s/multinic/node-configs"

const validBody = `[{"nodeName":"worker-1","instanceId":"vm-1","interfaces":[
  {"id":0,"name":"multinic0","portId":"port-a","macAddress":"fa:16:3e:aa:bb:cc","address":"10.0.0.10","cidr":"10.0.0.0/24","mtu":1450}]},
 {"nodeName":"worker-2","instanceId":"vm-2","interfaces":[
  {"id":3,"name":"multinic3","macAddress":"FA:16:3E:AA:BB:DD","mtu":9000}]}]`

type response struct {
	status int
	body   string
}

func send(t *testing.T, method, url string, header http.Header, body string) response {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	require.NoError(t, err)
	for name, values := range header {
		req.Header[name] = values
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return response{status: resp.StatusCode, body: string(raw)}
}

func jsonHeaders(providerID string) http.Header {
	return http.Header{"Content-Type": {"application/json"}, "X-Provider-Id": {providerID}}
}

func TestAcceptsValidPost(t *testing.T) {
	server := violatest.NewServer()
	defer server.Close()

	before := time.Now()
	resp := send(t, http.MethodPost, server.URL+nodeConfigsURL, jsonHeaders("p1"), validBody)
	require.Equal(t, http.StatusOK, resp.status, resp.body)

	var body struct {
		Applied int    `json:"applied"`
		Output  string `json:"output"`
	}
	require.NoError(t, json.Unmarshal([]byte(resp.body), &body))
	assert.Equal(t, 2, body.Applied)
	assert.Equal(t, "multinicnodeconfig.multinic.io/worker-1 configured\nmultinicnodeconfig.multinic.io/worker-2 configured\n", body.Output)

	posts := server.Posts()
	require.Len(t, posts, 1)
	assert.Equal(t, "p1", posts[0].ProviderID)
	assert.False(t, posts[0].Received.Before(before))
	require.Len(t, posts[0].Configs, 2)
	assert.Equal(t, viola.Interface{ID: 0, Name: "multinic0", PortID: "port-a", MACAddress: "fa:16:3e:aa:bb:cc", Address: "10.0.0.10", CIDR: "10.0.0.0/24", MTU: 1450}, posts[0].Configs[0].Interfaces[0])

	nodes := server.Nodes("p1")
	assert.Equal(t, []string{"worker-1", "worker-2"}, slices.Sorted(maps.Keys(nodes)))
	assert.Equal(t, "vm-2", nodes["worker-2"].InstanceID)
	assert.Equal(t, 1, server.Requests())
	assert.Equal(t, 0, server.Rejected())
}

func TestNodesKeepsLatestConfigPerProvider(t *testing.T) {
	server := violatest.NewServer()
	defer server.Close()
	post := func(providerID, nodeName, mac string) {
		body := fmt.Sprintf(`[{"nodeName":%q,"interfaces":[{"id":0,"name":"multinic0","macAddress":%q,"mtu":1450}]}]`, nodeName, mac)
		require.Equal(t, http.StatusOK, send(t, http.MethodPost, server.URL+nodeConfigsURL, jsonHeaders(providerID), body).status)
	}
	post("p1", "w1", "fa:16:3e:00:00:01")
	post("p1", "w1", "fa:16:3e:00:00:02")
	post("p2", "w1", "fa:16:3e:00:00:03")

	assert.Equal(t, "fa:16:3e:00:00:02", server.Nodes("p1")["w1"].Interfaces[0].MACAddress)
	assert.Equal(t, "fa:16:3e:00:00:03", server.Nodes("p2")["w1"].Interfaces[0].MACAddress)
	assert.Len(t, server.Posts(), 3)
}

func TestReturnedStateIsACopy(t *testing.T) {
	server := violatest.NewServer()
	defer server.Close()
	require.Equal(t, http.StatusOK, send(t, http.MethodPost, server.URL+nodeConfigsURL, jsonHeaders("p1"), validBody).status)

	server.Posts()[0].Configs[0].Interfaces[0].MACAddress = "changed"
	server.Nodes("p1")["worker-2"].Interfaces[0].MACAddress = "changed"

	assert.Equal(t, "fa:16:3e:aa:bb:cc", server.Posts()[0].Configs[0].Interfaces[0].MACAddress)
	assert.Equal(t, "FA:16:3E:AA:BB:DD", server.Nodes("p1")["worker-2"].Interfaces[0].MACAddress)
}

func TestRejectsInvalidRequests(t *testing.T) {
	tests := []struct {
		name        string
		method      string
		path        string
		header      http.Header
		body        string
		wantStatus  int
		wantMessage string
	}{
		{"GET node-configs", http.MethodGet, nodeConfigsURL, nil, "", 405, "method not allowed"},
		{"PUT node-configs", http.MethodPut, nodeConfigsURL, jsonHeaders("p1"), validBody, 405, "method not allowed"},
		{"unknown path", http.MethodPost, "/v1/k8s/multinic/node-config", jsonHeaders("p1"), validBody, 404, "not found"},
		{"POST healthz", http.MethodPost, "/healthz", nil, "", 405, "method not allowed"},
		{"missing provider header", http.MethodPost, nodeConfigsURL, http.Header{"Content-Type": {"application/json"}}, validBody, 400, "missing x-provider-id header"},
		{"form content type", http.MethodPost, nodeConfigsURL, http.Header{"X-Provider-Id": {"p1"}, "Content-Type": {"application/x-www-form-urlencoded"}}, validBody, 400, "Content-Type must be application/json"},
		{"bad JSON", http.MethodPost, nodeConfigsURL, jsonHeaders("p1"), `[{"nodeName":`, 400, "body is not valid JSON"},
		{"empty body", http.MethodPost, nodeConfigsURL, jsonHeaders("p1"), "", 400, "body must be a JSON array of node configs"},
		{"single object", http.MethodPost, nodeConfigsURL, jsonHeaders("p1"), `{"nodeName":"w1","interfaces":[]}`, 400, "body must be a JSON array of node configs"},
		{"wrapped array", http.MethodPost, nodeConfigsURL, jsonHeaders("p1"), `{"nodeConfigs":[]}`, 400, "body must be a JSON array of node configs"},
		{"array of strings", http.MethodPost, nodeConfigsURL, jsonHeaders("p1"), `["w1"]`, 400, "configs[0] must be a JSON object"},
		{"null item", http.MethodPost, nodeConfigsURL, jsonHeaders("p1"), `[null]`, 400, "configs[0] must be a JSON object"},
		{"trailing data", http.MethodPost, nodeConfigsURL, jsonHeaders("p1"), `[] []`, 400, "body is not valid JSON"},
		{"wrong field type", http.MethodPost, nodeConfigsURL, jsonHeaders("p1"), `[{"nodeName":"w1","interfaces":[{"id":"zero"}]}]`, 400, "configs[0]: json: cannot unmarshal"},
		{"no nodeName", http.MethodPost, nodeConfigsURL, jsonHeaders("p1"), `[{"interfaces":[{"id":0,"name":"multinic0","macAddress":"fa:16:3e:00:00:01"}]}]`, 400, "nodeName is required"},
		{"no interfaces", http.MethodPost, nodeConfigsURL, jsonHeaders("p1"), `[{"nodeName":"w1","interfaces":[]}]`, 400, "interfaces must hold at least one interface"},
		{"bad MAC", http.MethodPost, nodeConfigsURL, jsonHeaders("p1"), `[{"nodeName":"w1","interfaces":[{"id":0,"name":"multinic0","macAddress":"fa16.3e00.0001"}]}]`, 400, `interfaces[0].macAddress \"fa16.3e00.0001\" is not six colon-separated hex pairs`},
		{"MTU out of range", http.MethodPost, nodeConfigsURL, jsonHeaders("p1"), `[{"nodeName":"w1","interfaces":[{"id":0,"name":"multinic0","macAddress":"fa:16:3e:00:00:01","mtu":9001}]}]`, 400, "mtu 9001 is outside 68-9000"},
		{"name not multinic<id>", http.MethodPost, nodeConfigsURL, jsonHeaders("p1"), `[{"nodeName":"w1","interfaces":[{"id":2,"name":"multinic0","macAddress":"fa:16:3e:00:00:01","mtu":1450}]}]`, 400, `interfaces[0].name \"multinic0\" must be \"multinic2\"`},
		{"no mtu", http.MethodPost, nodeConfigsURL, jsonHeaders("p1"), `[{"nodeName":"w1","interfaces":[{"id":0,"name":"multinic0","macAddress":"fa:16:3e:00:00:01"}]}]`, 400, `interfaces[0].mtu is required (68-9000): the node agent skips an interface without one`},
		{"not a node name", http.MethodPost, nodeConfigsURL, jsonHeaders("p1"), `[{"nodeName":"Worker_1","interfaces":[{"id":0,"name":"multinic0","macAddress":"fa:16:3e:00:00:01","mtu":1450}]}]`, 400, `nodeName: \"Worker_1\" is not a lower-case RFC 1123 subdomain`},
		{"second config invalid", http.MethodPost, nodeConfigsURL, jsonHeaders("p1"), `[{"nodeName":"w1","interfaces":[{"id":0,"name":"multinic0","macAddress":"fa:16:3e:00:00:01","mtu":1450}]},{"nodeName":"w2","interfaces":[]}]`, 400, "configs[1]: node config \\\"w2\\\""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			server := violatest.NewServer()
			defer server.Close()

			resp := send(t, tt.method, server.URL+tt.path, tt.header, tt.body)
			assert.Equal(t, tt.wantStatus, resp.status)
			assert.Contains(t, resp.body, tt.wantMessage)
			assert.Empty(t, server.Posts(), "a rejected request must not be recorded")
			assert.Empty(t, server.Nodes("p1"))
			assert.Equal(t, 1, server.Requests())
			assert.Equal(t, 1, server.Rejected())
		})
	}
}

func TestAcceptsEmptyArray(t *testing.T) {
	server := violatest.NewServer()
	defer server.Close()

	resp := send(t, http.MethodPost, server.URL+nodeConfigsURL, jsonHeaders("p1"), ` [] `)
	assert.Equal(t, http.StatusOK, resp.status)
	assert.JSONEq(t, `{"applied":0,"output":""}`, resp.body)
}

func TestHealthz(t *testing.T) {
	server := violatest.NewServer()
	defer server.Close()
	server.Fail(http.StatusInternalServerError, -1)

	resp := send(t, http.MethodGet, server.URL+"/healthz", nil, "")
	assert.Equal(t, http.StatusOK, resp.status)
	assert.Equal(t, "ok", resp.body)
	assert.Equal(t, 0, server.Rejected(), "injected failures must leave /healthz alone")
}

func TestFailAndClearFaults(t *testing.T) {
	server := violatest.NewServer()
	defer server.Close()
	post := func() int {
		return send(t, http.MethodPost, server.URL+nodeConfigsURL, jsonHeaders("p1"), validBody).status
	}

	server.Fail(http.StatusServiceUnavailable, 2)
	assert.Equal(t, 503, post())
	assert.Equal(t, 503, post())
	assert.Equal(t, 200, post())

	server.Fail(http.StatusInternalServerError, -1)
	for range 4 {
		assert.Equal(t, 500, post())
	}
	server.ClearFaults()
	assert.Equal(t, 200, post())

	assert.Equal(t, 8, server.Requests())
	assert.Equal(t, 6, server.Rejected())
	assert.Len(t, server.Posts(), 2)
}

func TestCloseCutsLatencyShort(t *testing.T) {
	server := violatest.NewServer()
	server.SetLatency(time.Hour)

	done := make(chan int, 1)
	go func() {
		resp, err := http.Post(server.URL+"/healthz", "text/plain", nil)
		if err != nil {
			done <- 0
			return
		}
		_ = resp.Body.Close()
		done <- resp.StatusCode
	}()
	// Close must only run once the request is waiting in the handler.
	for server.Requests() == 0 {
		runtime.Gosched()
	}
	server.Close()
	assert.Equal(t, http.StatusServiceUnavailable, <-done)
}

func TestConcurrentPosts(t *testing.T) {
	server := violatest.NewServer()
	defer server.Close()

	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			body := fmt.Sprintf(`[{"nodeName":"w%d","interfaces":[{"id":0,"name":"multinic0","macAddress":"fa:16:3e:00:00:%02x","mtu":1450}]}]`, i, i)
			req, err := http.NewRequest(http.MethodPost, server.URL+nodeConfigsURL, strings.NewReader(body))
			if !assert.NoError(t, err) {
				return
			}
			req.Header = jsonHeaders("p1")
			resp, err := http.DefaultClient.Do(req)
			if assert.NoError(t, err) {
				assert.Equal(t, http.StatusOK, resp.StatusCode)
				_ = resp.Body.Close()
			}
			_ = server.Posts()
			_ = server.Nodes("p1")
		})
	}
	wg.Wait()
	assert.Len(t, server.Nodes("p1"), 16)
	assert.Equal(t, 16, server.Requests())
}

func TestInjectBrokenAnswers(t *testing.T) {
	server := violatest.NewServer()
	defer server.Close()
	url := server.URL + nodeConfigsURL

	server.Inject(fault.Status(http.StatusTooManyRequests).WithHeader("Retry-After", "3600"), 1)
	resp := send(t, http.MethodPost, url, jsonHeaders("p1"), validBody)
	assert.Equal(t, http.StatusTooManyRequests, resp.status)
	assert.JSONEq(t, `{"error":"injected failure"}`, resp.body)

	server.Inject(fault.Body(http.StatusOK, "not json"), 1)
	resp = send(t, http.MethodPost, url, jsonHeaders("p1"), validBody)
	assert.Equal(t, http.StatusOK, resp.status)
	assert.Equal(t, "not json", resp.body)

	server.Inject(fault.ResetDuringBody(http.StatusOK), 1)
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(validBody))
	require.NoError(t, err)
	req.Header = jsonHeaders("p1")
	if r, err := http.DefaultClient.Do(req); err == nil {
		_, err = io.ReadAll(r.Body)
		_ = r.Body.Close()
		assert.Error(t, err, "the body is cut off")
	}

	assert.Empty(t, server.Posts(), "no injected fault applies anything")
	assert.Equal(t, 3, server.Rejected())
	assert.Equal(t, http.StatusOK, send(t, http.MethodGet, server.URL+"/healthz", nil, "").status, "/healthz is never faulted")
	assert.Equal(t, http.StatusOK, send(t, http.MethodPost, url, jsonHeaders("p1"), validBody).status)
	assert.Len(t, server.Posts(), 1)
}
