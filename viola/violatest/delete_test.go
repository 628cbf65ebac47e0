package violatest_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/multinic/multinic/viola/violatest"
)

func TestDeleteRemovesAndRecords(t *testing.T) {
	server := violatest.NewServer()
	defer server.Close()
	require.Equal(t, http.StatusOK, send(t, http.MethodPost, server.URL+nodeConfigsURL, jsonHeaders("p1"), validBody).status)

	resp := send(t, http.MethodDelete, server.URL+nodeConfigsURL+"/worker-1", http.Header{"X-Provider-Id": {"p1"}}, "")
	assert.Equal(t, http.StatusNoContent, resp.status)
	assert.NotContains(t, server.Nodes("p1"), "worker-1")
	assert.Contains(t, server.Nodes("p1"), "worker-2")

	resp = send(t, http.MethodDelete, server.URL+nodeConfigsURL+"/worker-1", http.Header{"X-Provider-Id": {"p1"}}, "")
	assert.Equal(t, http.StatusNotFound, resp.status)
	assert.Contains(t, resp.body, `no node config \"worker-1\"`)

	deletes := server.Deletes()
	require.Len(t, deletes, 2)
	assert.Equal(t, violatest.Delete{ProviderID: "p1", NodeName: "worker-1", Found: true, Received: deletes[0].Received}, deletes[0])
	assert.False(t, deletes[1].Found)
	assert.Len(t, server.Posts(), 1, "a DELETE is not a POST")
}

func TestDeleteRejectsBadRequests(t *testing.T) {
	server := violatest.NewServer()
	defer server.Close()
	for _, tc := range []struct {
		name, method, path string
		header             http.Header
		status             int
	}{
		{"no provider", http.MethodDelete, "/worker-1", nil, http.StatusBadRequest},
		{"not a node name", http.MethodDelete, "/Worker_1", http.Header{"X-Provider-Id": {"p1"}}, http.StatusBadRequest},
		{"escaped slash", http.MethodDelete, "/a%2Fb", http.Header{"X-Provider-Id": {"p1"}}, http.StatusBadRequest},
		{"GET one", http.MethodGet, "/worker-1", http.Header{"X-Provider-Id": {"p1"}}, http.StatusMethodNotAllowed},
		{"DELETE all", http.MethodDelete, "", http.Header{"X-Provider-Id": {"p1"}}, http.StatusMethodNotAllowed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.status, send(t, tc.method, server.URL+nodeConfigsURL+tc.path, tc.header, "").status)
		})
	}
	assert.Empty(t, server.Deletes())
	assert.Equal(t, 5, server.Rejected())
}

func TestSetDeleteStatus(t *testing.T) {
	server := violatest.NewServer()
	defer server.Close()
	require.Equal(t, http.StatusOK, send(t, http.MethodPost, server.URL+nodeConfigsURL, jsonHeaders("p1"), validBody).status)

	server.SetDeleteStatus(http.StatusMethodNotAllowed)
	resp := send(t, http.MethodDelete, server.URL+nodeConfigsURL+"/worker-1", http.Header{"X-Provider-Id": {"p1"}}, "")
	assert.Equal(t, http.StatusMethodNotAllowed, resp.status)
	assert.Contains(t, server.Nodes("p1"), "worker-1", "a refused DELETE removes nothing")
	assert.Empty(t, server.Deletes())

	server.SetDeleteStatus(0)
	resp = send(t, http.MethodDelete, server.URL+nodeConfigsURL+"/worker-1", http.Header{"X-Provider-Id": {"p1"}}, "")
	assert.Equal(t, http.StatusNoContent, resp.status)
}
