package contrabasstest_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/multinic/multinic/contrabass"
	"github.com/multinic/multinic/contrabass/contrabasstest"
	"github.com/multinic/multinic/internal/fault"
)

const key = "Test0nlyKey16chr"

const providerURL = "/v1/contrabass/admin/infra/provider/"

type rawResponse struct {
	status int
	header http.Header
	body   string
}

func do(t *testing.T, method, url string, header http.Header) rawResponse {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	require.NoError(t, err)
	for name, values := range header {
		req.Header[name] = values
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return rawResponse{status: resp.StatusCode, header: resp.Header, body: string(body)}
}

func TestServesSpecEnvelopeWithEncryptedPasswords(t *testing.T) {
	server := contrabasstest.NewServer(key)
	defer server.Close()
	server.AddProvider("p1", contrabasstest.ProviderSpec{
		AdminID: "admin", AdminPassword: "admin-pw", Domain: "default", KeystoneURL: "https://ks:15000",
		PrometheusURL: "http://prom", VIP: "10.0.0.5", RabbitMQID: "openstack", RabbitMQPassword: "rabbit-pw",
		RabbitMQURLs: []string{"h:5672"},
	})

	resp := do(t, http.MethodGet, server.URL+providerURL+"p1", nil)
	require.Equal(t, http.StatusOK, resp.status)
	assert.Equal(t, "application/json", resp.header.Get("Content-Type"))

	// Decoded generically so the test checks the wire names, not our structs.
	var body struct {
		ReturnCode    string `json:"returnCode"`
		ReturnMessage string `json:"returnMessage"`
		Data          struct {
			UUID       string         `json:"uuid"`
			URL        string         `json:"url"`
			Attributes map[string]any `json:"attributes"`
		} `json:"data"`
	}
	require.NoError(t, json.Unmarshal([]byte(resp.body), &body))
	assert.Equal(t, "200", body.ReturnCode)
	assert.Equal(t, "COMMON_OK", body.ReturnMessage)
	assert.Equal(t, "p1", body.Data.UUID)
	assert.Equal(t, "https://ks:15000", body.Data.URL)
	attrs := body.Data.Attributes
	assert.Equal(t, "admin", attrs["adminId"])
	assert.Equal(t, "default", attrs["domain"])
	assert.Equal(t, "http://prom", attrs["prometheusUrl"])
	assert.Equal(t, "10.0.0.5", attrs["vIp"])
	assert.Equal(t, "openstack", attrs["rabbitMQId"])
	assert.Equal(t, []any{"h:5672"}, attrs["rabbitMQUrls"])
	assert.NotContains(t, resp.body, "admin-pw")
	assert.NotContains(t, resp.body, "rabbit-pw")

	adminPw, err := contrabass.Decrypt(key, attrs["adminPw"].(string))
	require.NoError(t, err)
	assert.Equal(t, "admin-pw", adminPw)
	rabbitPw, err := contrabass.Decrypt(key, attrs["rabbitMQPw"].(string))
	require.NoError(t, err)
	assert.Equal(t, "rabbit-pw", rabbitPw)
}

func TestErrorResponses(t *testing.T) {
	server := contrabasstest.NewServer(key)
	defer server.Close()
	server.AddProvider("p1", contrabasstest.ProviderSpec{AdminPassword: "pw", KeystoneURL: "https://ks"})

	tests := []struct {
		name, method, path string
		wantStatus         int
		wantMessage        string
	}{
		{"unknown provider", http.MethodGet, providerURL + "nope", 404, "provider not found"},
		{"empty id", http.MethodGet, providerURL, 404, "provider not found"},
		{"escaped slash is one id", http.MethodGet, providerURL + "p1%2Fx", 404, "provider not found"},
		{"nested path", http.MethodGet, providerURL + "p1/extra", 404, "no such endpoint"},
		{"other path", http.MethodGet, "/healthz", 404, "no such endpoint"},
		{"wrong method", http.MethodPost, providerURL + "p1", 405, "method not allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := do(t, tt.method, server.URL+tt.path, nil)
			assert.Equal(t, tt.wantStatus, resp.status)
			var envelope map[string]any
			require.NoError(t, json.Unmarshal([]byte(resp.body), &envelope), resp.body)
			assert.Equal(t, map[string]any{"returnCode": strconv.Itoa(tt.wantStatus), "returnMessage": tt.wantMessage}, envelope)
		})
	}
}

func TestBadEncryptKeyIsReportedPerProvider(t *testing.T) {
	server := contrabasstest.NewServer("short-key")
	defer server.Close()
	server.AddProvider("p1", contrabasstest.ProviderSpec{AdminPassword: "pw"})

	resp := do(t, http.MethodGet, server.URL+providerURL+"p1", nil)
	assert.Equal(t, http.StatusInternalServerError, resp.status)
	assert.Contains(t, resp.body, `cannot encrypt provider \"p1\": encrypt key must be 16, 24 or 32 bytes`)
}

func TestRequireBearer(t *testing.T) {
	server := contrabasstest.NewServer(key)
	defer server.Close()
	server.AddProvider("p1", contrabasstest.ProviderSpec{AdminPassword: "pw", KeystoneURL: "https://ks"})
	server.RequireBearer("tok")

	assert.Equal(t, 401, do(t, http.MethodGet, server.URL+providerURL+"p1", nil).status)
	assert.Equal(t, 401, do(t, http.MethodGet, server.URL+providerURL+"p1", http.Header{"Authorization": {"Bearer other"}}).status)
	assert.Equal(t, 200, do(t, http.MethodGet, server.URL+providerURL+"p1", http.Header{"Authorization": {"Bearer tok"}}).status)

	server.RequireBearer("")
	assert.Equal(t, 200, do(t, http.MethodGet, server.URL+providerURL+"p1", nil).status)
	assert.Equal(t, 4, server.Requests())
}

func TestFailCountsDown(t *testing.T) {
	server := contrabasstest.NewServer(key)
	defer server.Close()
	server.AddProvider("p1", contrabasstest.ProviderSpec{AdminPassword: "pw", KeystoneURL: "https://ks"})
	url := server.URL + providerURL + "p1"

	server.Fail(http.StatusBadGateway, 2)
	assert.Equal(t, 502, do(t, http.MethodGet, url, nil).status)
	assert.Equal(t, 502, do(t, http.MethodGet, url, nil).status)
	assert.Equal(t, 200, do(t, http.MethodGet, url, nil).status)

	server.Fail(http.StatusServiceUnavailable, -1)
	for range 5 {
		assert.Equal(t, 503, do(t, http.MethodGet, url, nil).status)
	}
	server.ClearFaults()
	assert.Equal(t, 200, do(t, http.MethodGet, url, nil).status)
	assert.Equal(t, 9, server.Requests())
}

func TestConcurrentUse(t *testing.T) {
	server := contrabasstest.NewServer(key)
	defer server.Close()

	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			id := strings.Repeat("p", i+1)
			server.AddProvider(id, contrabasstest.ProviderSpec{AdminPassword: "pw", KeystoneURL: "https://ks"})
			server.Fail(http.StatusInternalServerError, 1)
			server.SetLatency(0)
			resp, err := http.Get(server.URL + providerURL + id)
			if assert.NoError(t, err) {
				_ = resp.Body.Close()
			}
			server.ClearFaults()
		})
	}
	wg.Wait()
	assert.Equal(t, 8, server.Requests())
}

func TestInjectBrokenAnswers(t *testing.T) {
	server := contrabasstest.NewServer(key)
	defer server.Close()
	server.AddProvider("p1", contrabasstest.ProviderSpec{AdminPassword: "pw", KeystoneURL: "https://ks"})
	url := server.URL + providerURL + "p1"

	server.Inject(fault.Status(http.StatusServiceUnavailable).WithHeader("Retry-After", "3600"), 1)
	resp := do(t, http.MethodGet, url, nil)
	assert.Equal(t, 503, resp.status)
	assert.Equal(t, "3600", resp.header.Get("Retry-After"))
	assert.JSONEq(t, `{"returnCode":"503","returnMessage":"injected failure"}`, resp.body, "a status fault carries Contrabass's envelope")

	server.Inject(fault.Body(http.StatusOK, `{"returnCode":"200","data":"not an object"}`), 1)
	resp = do(t, http.MethodGet, url, nil)
	assert.Equal(t, 200, resp.status)
	assert.Equal(t, `{"returnCode":"200","data":"not an object"}`, resp.body) //nolint:testifylint // byte for byte: a body fault is sent verbatim

	resp = do(t, http.MethodGet, url, nil)
	assert.Contains(t, resp.body, `"COMMON_OK"`, "the fault was used up")

	server.Inject(fault.ResetBeforeResponse(), -1)
	_, err := (&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}).Get(url)
	assert.Error(t, err)
	assert.Equal(t, 4, server.Requests())
}
