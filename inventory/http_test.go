package inventory

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// seeded returns a handler over a store holding worker-1 under two providers
// and worker-2 under one.
func seeded(t *testing.T) (http.Handler, *Store) {
	t.Helper()
	s, _ := openTemp(t, WithClock(newClock().Now))
	_, err := s.Upsert("prov-a", node("worker-1", "vm-a1", "fa:16:3e:00:00:01"), node("worker-2", "vm-a2", "fa:16:3e:00:00:02"))
	require.NoError(t, err)
	_, err = s.Upsert("prov-b", node("worker-1", "vm-b1", "fa:16:3e:00:00:03"))
	require.NoError(t, err)
	return NewHandler(s), s
}

func serve(h http.Handler, method, target string) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, target, nil))
	return rec
}

func decodeRecords(t *testing.T, rec *httptest.ResponseRecorder) []Record {
	t.Helper()
	assert.Equal(t, "application/json", rec.Header().Get("Content-Type"))
	var out []Record
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &out), rec.Body.String())
	return out
}

func decodeError(t *testing.T, rec *httptest.ResponseRecorder) string {
	t.Helper()
	assert.Equal(t, "application/json", rec.Header().Get("Content-Type"))
	var body struct{ Error string }
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body), rec.Body.String())
	return body.Error
}

func TestListServesStoredRecords(t *testing.T) {
	h, s := seeded(t)

	rec := serve(h, http.MethodGet, "/v1/inventory/node-configs")

	require.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, s.List(Filter{}), decodeRecords(t, rec))
	assert.Contains(t, rec.Body.String(), `"lastConfigHash"`)
	assert.Contains(t, rec.Body.String(), `"macAddress":"fa:16:3e:00:00:01"`)
}

func TestListAppliesQueryFilters(t *testing.T) {
	h, s := seeded(t)
	tests := map[string]Filter{
		"?providerId=prov-a":                   {ProviderID: "prov-a"},
		"?nodeName=worker-1":                   {NodeName: "worker-1"},
		"?instanceId=vm-b1":                    {InstanceID: "vm-b1"},
		"?providerId=prov-a&nodeName=worker-1": {ProviderID: "prov-a", NodeName: "worker-1"},
		"?providerId=":                         {},
		"?providerId=prov-b&instanceId=vm-a1":  {ProviderID: "prov-b", InstanceID: "vm-a1"},
	}
	for query, f := range tests {
		t.Run(query, func(t *testing.T) {
			rec := serve(h, http.MethodGet, "/v1/inventory/node-configs"+query)
			require.Equal(t, http.StatusOK, rec.Code)
			assert.Equal(t, s.List(f), decodeRecords(t, rec))
		})
	}
}

func TestListWithNoMatchIsAnEmptyArray(t *testing.T) {
	h, _ := seeded(t)

	rec := serve(h, http.MethodGet, "/v1/inventory/node-configs?providerId=nobody")

	require.Equal(t, http.StatusOK, rec.Code)
	assert.JSONEq(t, `[]`, rec.Body.String())
}

func TestByNodeReturnsEveryProvidersRecord(t *testing.T) {
	h, s := seeded(t)

	rec := serve(h, http.MethodGet, "/v1/inventory/node-configs/worker-1")

	require.Equal(t, http.StatusOK, rec.Code)
	got := decodeRecords(t, rec)
	assert.Equal(t, s.List(Filter{NodeName: "worker-1"}), got)
	assert.Len(t, got, 2)
}

func TestByNodeFiltersByProvider(t *testing.T) {
	h, _ := seeded(t)

	rec := serve(h, http.MethodGet, "/v1/inventory/node-configs/worker-1?providerId=prov-b")

	require.Equal(t, http.StatusOK, rec.Code)
	got := decodeRecords(t, rec)
	require.Len(t, got, 1)
	assert.Equal(t, "vm-b1", got[0].InstanceID)
}

func TestByNodeAnswers404WhenNothingMatches(t *testing.T) {
	h, _ := seeded(t)

	for target, wantInErr := range map[string]string{
		"/v1/inventory/node-configs/worker-9":                   `"worker-9"`,
		"/v1/inventory/node-configs/worker-2?providerId=prov-b": `"prov-b"`,
	} {
		rec := serve(h, http.MethodGet, target)
		require.Equal(t, http.StatusNotFound, rec.Code, target)
		assert.Contains(t, decodeError(t, rec), wantInErr)
	}
}

func TestBadQueryParametersAreRejected(t *testing.T) {
	h, _ := seeded(t)
	tests := map[string]string{
		"/v1/inventory/node-configs?providerID=prov-a":               `"providerID"`,
		"/v1/inventory/node-configs?providerId=a&providerId=b":       `"providerId" is given 2 times`,
		"/v1/inventory/node-configs/worker-1?nodeName=worker-2":      `"nodeName"`,
		"/v1/inventory/node-configs/worker-1?instanceId=vm-a1&extra": `unknown query parameter`,
	}
	for target, wantInErr := range tests {
		t.Run(target, func(t *testing.T) {
			rec := serve(h, http.MethodGet, target)
			require.Equal(t, http.StatusBadRequest, rec.Code)
			assert.Contains(t, decodeError(t, rec), wantInErr)
		})
	}
}

func TestHealthz(t *testing.T) {
	h, _ := seeded(t)

	rec := serve(h, http.MethodGet, "/healthz")

	assert.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, "ok", rec.Body.String())
}

func TestDisabledInventoryAnswers503(t *testing.T) {
	h := NewHandler(nil)

	for _, target := range []string{"/healthz", "/v1/inventory/node-configs", "/v1/inventory/node-configs/worker-1"} {
		rec := serve(h, http.MethodGet, target)
		assert.Equal(t, http.StatusServiceUnavailable, rec.Code, target)
		assert.Contains(t, rec.Body.String(), "INVENTORY_ENABLED", target)
	}
}

func TestOnlyReadMethodsAreAllowed(t *testing.T) {
	h, _ := seeded(t)

	for _, target := range []string{"/healthz", "/v1/inventory/node-configs", "/v1/inventory/node-configs/worker-1"} {
		for _, method := range []string{http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch} {
			rec := serve(h, method, target)
			assert.Equal(t, http.StatusMethodNotAllowed, rec.Code, method+" "+target)
			assert.Contains(t, rec.Header().Get("Allow"), http.MethodGet, method+" "+target)
		}
		assert.Equal(t, http.StatusOK, serve(h, http.MethodHead, target).Code, "HEAD "+target)
	}
}

func TestUnknownPathsAre404(t *testing.T) {
	h, _ := seeded(t)

	for _, target := range []string{"/", "/v1/inventory", "/v1/inventory/node-configs/worker-1/extra"} {
		assert.Equal(t, http.StatusNotFound, serve(h, http.MethodGet, target).Code, target)
	}
}

func TestHandlerSeesLaterUpserts(t *testing.T) {
	h, s := seeded(t)
	_, err := s.Upsert("prov-c", node("worker-3", "vm-c3", "fa:16:3e:00:00:04"))
	require.NoError(t, err)

	rec := serve(h, http.MethodGet, "/v1/inventory/node-configs/worker-3")

	require.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, "prov-c", decodeRecords(t, rec)[0].ProviderID)
}

func TestNewServerServesTheHandlerWithTimeouts(t *testing.T) {
	s, _ := openTemp(t)

	srv := NewServer(":18081", s)

	assert.Equal(t, ":18081", srv.Addr)
	assert.Positive(t, srv.ReadHeaderTimeout, "without it a slow client can hold a connection forever")
	assert.Positive(t, srv.WriteTimeout)
	assert.Positive(t, srv.MaxHeaderBytes, "zero would mean the 1 MiB default")
	assert.LessOrEqual(t, srv.MaxHeaderBytes, 64<<10)
	assert.Equal(t, http.StatusOK, serve(srv.Handler, http.MethodGet, "/healthz").Code)
}

func TestOpenAPIDocumentIsServed(t *testing.T) {
	for name, h := range map[string]http.Handler{"enabled": NewHandler(mustMemory(t)), "disabled": NewHandler(nil)} {
		rec := serve(h, http.MethodGet, "/openapi.yaml")

		require.Equal(t, http.StatusOK, rec.Code, name)
		assert.Equal(t, "application/yaml", rec.Header().Get("Content-Type"), name)
		assert.Equal(t, openAPIDocument, rec.Body.Bytes(), name)
		assert.True(t, strings.HasPrefix(rec.Body.String(), "openapi: 3."), name)
	}
}

func mustMemory(t *testing.T) *Store {
	t.Helper()
	s, err := Open("")
	require.NoError(t, err)
	return s
}

func TestEveryAnswerIsNosniffAndErrorsAreJSON(t *testing.T) {
	h, _ := seeded(t)
	tests := []struct {
		method, target string
		status         int
	}{
		{http.MethodGet, "/v1/inventory/node-configs", http.StatusOK},
		{http.MethodGet, "/healthz", http.StatusOK},
		{http.MethodGet, "/nowhere", http.StatusNotFound},
		{http.MethodPost, "/v1/inventory/node-configs", http.StatusMethodNotAllowed},
		{http.MethodOptions, "/healthz", http.StatusMethodNotAllowed},
		{http.MethodGet, "/v1/inventory/node-configs?bogus=1", http.StatusBadRequest},
	}
	for _, tt := range tests {
		rec := serve(h, tt.method, tt.target)
		require.Equal(t, tt.status, rec.Code, tt.method+" "+tt.target)
		assert.Equal(t, "nosniff", rec.Header().Get("X-Content-Type-Options"), tt.target)
		if tt.status != http.StatusOK {
			assert.NotEmpty(t, decodeError(t, rec), tt.method+" "+tt.target)
		}
	}
	rec := serve(h, http.MethodPut, "/openapi.yaml")
	assert.Equal(t, http.StatusMethodNotAllowed, rec.Code)
	assert.Equal(t, "GET, HEAD", rec.Header().Get("Allow"))
}

func TestOversizedRequestsAreRejected(t *testing.T) {
	h, _ := seeded(t)
	long := strings.Repeat("x", MaxValueBytes+1)
	tests := []struct {
		target    string
		status    int
		wantInErr string
	}{
		{"/v1/inventory/node-configs?providerId=" + strings.Repeat("x", MaxQueryBytes), http.StatusRequestURITooLong, "query string"},
		{"/v1/inventory/node-configs/" + strings.Repeat("x", MaxPathBytes), http.StatusRequestURITooLong, "path"},
		{"/v1/inventory/node-configs?nodeName=" + long, http.StatusBadRequest, "nodeName"},
		{"/v1/inventory/node-configs/" + long, http.StatusBadRequest, "nodeName"},
		{"/v1/inventory/node-configs/worker-1?providerId=" + long, http.StatusBadRequest, "providerId"},
	}
	for _, tt := range tests {
		rec := serve(h, http.MethodGet, tt.target)
		require.Equal(t, tt.status, rec.Code, tt.target[:60])
		msg := decodeError(t, rec)
		assert.Contains(t, msg, tt.wantInErr)
		assert.Less(t, len(msg), 600, "an error must not echo oversized input")
	}
	// At the limit is still served.
	rec := serve(h, http.MethodGet, "/v1/inventory/node-configs?nodeName="+strings.Repeat("x", MaxValueBytes))
	assert.Equal(t, http.StatusOK, rec.Code)
}

func TestOddPathsAndEncodings(t *testing.T) {
	h, s := seeded(t)
	_, err := s.Upsert("prov-a", node("a b", "vm-ab", "fa:16:3e:00:00:09"))
	require.NoError(t, err)
	tests := []struct {
		target string
		status int
	}{
		// Percent-encoding decodes within a segment, so a node name is never
		// split or joined with a neighbouring path segment.
		{"/v1/inventory/node-configs/a%20b", http.StatusOK},
		{"/v1/inventory/node-configs/worker%2D1", http.StatusOK},
		{"/v1/inventory/node-configs/worker-1%2Fextra", http.StatusNotFound},
		{"/v1/inventory/node-configs/%2E%2E", http.StatusBadRequest},
		{"/v1/inventory/node-configs/../../healthz", http.StatusBadRequest},
		{"/v1/inventory/./node-configs", http.StatusBadRequest},
		{"/v1//inventory/node-configs", http.StatusBadRequest},
		{"/healthz/", http.StatusNotFound},
		{"/v1/inventory/node-configs/", http.StatusNotFound},
		{"/v1/inventory/node-configs/%ff", http.StatusBadRequest},
		{"/v1/inventory/node-configs?nodeName=%ff", http.StatusBadRequest},
		{"/v1/inventory/node-configs?nodeName=%zz", http.StatusBadRequest},
		{"/v1/inventory/node-configs?nodeName=worker-1;providerId=prov-a", http.StatusBadRequest},
		{"/v1/inventory/node-configs?nodeName=worker-1&", http.StatusOK},
		{"/v1/inventory/node-configs?=x", http.StatusBadRequest},
	}
	for _, tt := range tests {
		rec := serve(h, http.MethodGet, tt.target)
		assert.Equal(t, tt.status, rec.Code, tt.target)
		assert.Empty(t, rec.Header().Get("Location"), "the handler must never redirect: %s", tt.target)
	}
}

func TestMalformedQueryIsNotIgnored(t *testing.T) {
	h, _ := seeded(t)

	// r.URL.Query() would drop the bad pair and list every record.
	rec := serve(h, http.MethodGet, "/v1/inventory/node-configs?providerId=prov-%zz")

	require.Equal(t, http.StatusBadRequest, rec.Code)
	assert.Contains(t, decodeError(t, rec), "malformed query")
}

func TestPathsOutsideTheMountAreNotFound(t *testing.T) {
	h, _ := seeded(t)
	// What http.StripPrefix hands on for "/inv" itself or for a prefix that
	// does not end at a segment boundary.
	for _, p := range []string{"", "healthz", "v/healthz"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, &http.Request{Method: http.MethodGet, URL: &url.URL{Path: p}})
		assert.Equal(t, http.StatusNotFound, rec.Code, "%q", p)
	}
}

func TestHandlerMountedUnderAPrefix(t *testing.T) {
	inv, s := seeded(t)
	outer := http.NewServeMux()
	outer.Handle("/inv/", http.StripPrefix("/inv", inv))
	outer.HandleFunc("GET /own", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("own")) })
	srv := httptest.NewServer(outer)
	t.Cleanup(srv.Close)

	get := func(method, path string) (*http.Response, []byte) {
		t.Helper()
		req, err := http.NewRequest(method, srv.URL+path, nil)
		require.NoError(t, err)
		client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := client.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp, body
	}

	resp, body := get(http.MethodGet, "/inv/healthz")
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "ok", string(body))

	resp, body = get(http.MethodGet, "/inv/v1/inventory/node-configs?providerId=prov-a")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var recs []Record
	require.NoError(t, json.Unmarshal(body, &recs))
	assert.Equal(t, s.List(Filter{ProviderID: "prov-a"}), recs)

	resp, body = get(http.MethodGet, "/inv/v1/inventory/node-configs/worker-1?providerId=prov-b")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.NoError(t, json.Unmarshal(body, &recs))
	assert.Equal(t, s.List(Filter{ProviderID: "prov-b", NodeName: "worker-1"}), recs)

	resp, _ = get(http.MethodGet, "/inv/v1/inventory/node-configs/worker-9")
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)

	resp, body = get(http.MethodGet, "/inv/openapi.yaml")
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, openAPIDocument, body)

	resp, _ = get(http.MethodDelete, "/inv/v1/inventory/node-configs/worker-1")
	assert.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
	assert.Len(t, s.List(Filter{}), 3)

	resp, _ = get(http.MethodGet, "/inv/v1/inventory/node-configs?nope=1")
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)

	resp, body = get(http.MethodGet, "/own")
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "own", string(body), "the outer server's own routes must keep working")
	resp, _ = get(http.MethodGet, "/healthz")
	assert.Equal(t, http.StatusNotFound, resp.StatusCode, "the inventory must answer only under its prefix")
}
