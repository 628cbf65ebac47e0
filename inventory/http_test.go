package inventory

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
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
	assert.Equal(t, http.StatusOK, serve(srv.Handler, http.MethodGet, "/healthz").Code)
}
