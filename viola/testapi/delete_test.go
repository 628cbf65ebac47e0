package testapi_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/multinic/multinic/viola"
	"github.com/multinic/multinic/viola/testapi"
)

// TestViolaDeleteRemovesTheObject runs the operator's Viola client
// against the test API: a DELETE removes the node's MultiNicNodeConfig (which
// the node agent answers with its cleanup Job), a second finds it gone, and
// another provider's object of the same name is never touched.
func TestViolaDeleteRemovesTheObject(t *testing.T) {
	server := httptest.NewServer(newHandler(t, testapi.Options{Router: routerTo(t, clusterA)}))
	defer server.Close()
	client, err := viola.NewClient(viola.Options{Endpoint: server.URL, RetryMax: -1})
	require.NoError(t, err)
	provider := uniqueName(t)
	keep, remove := nodeConfig(provider+"-keep"), nodeConfig(provider+"-remove")
	_, err = client.Post(context.Background(), provider, []viola.NodeConfig{keep, remove})
	require.NoError(t, err)
	require.Len(t, clusterA.objectsOf(t, provider), 2)

	outcome, err := client.Delete(context.Background(), provider, remove.NodeName)
	require.NoError(t, err)
	assert.Equal(t, viola.Removed, outcome)
	objects := clusterA.objectsOf(t, provider)
	require.Len(t, objects, 1)
	assert.Equal(t, keep.NodeName, objects[0].Name)

	outcome, err = client.Delete(context.Background(), provider, remove.NodeName)
	require.NoError(t, err)
	assert.Equal(t, viola.AlreadyGone, outcome, "404: already gone is success")

	outcome, err = client.Delete(context.Background(), "another-"+provider, keep.NodeName)
	require.NoError(t, err)
	assert.Equal(t, viola.AlreadyGone, outcome, "another provider holds no such node")
	assert.True(t, exists(t, clusterA, keep.NodeName), "another provider's DELETE leaves the object")
}

func TestDeleteRejectsBadRequests(t *testing.T) {
	h := newHandler(t, testapi.Options{Router: routerTo(t, clusterA)})
	for _, tc := range []struct {
		name, method, path, provider string
		status                       int
	}{
		{"no provider", http.MethodDelete, "/worker-1", "", http.StatusBadRequest},
		{"not a node name", http.MethodDelete, "/Worker_1", "p1", http.StatusBadRequest},
		{"GET", http.MethodGet, "/worker-1", "p1", http.StatusMethodNotAllowed},
		{"DELETE every node", http.MethodDelete, "", "p1", http.StatusMethodNotAllowed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(tc.method, viola.NodeConfigsPath+tc.path, nil)
			if tc.provider != "" {
				req.Header.Set(viola.ProviderIDHeader, tc.provider)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			assert.Equal(t, tc.status, rec.Code, rec.Body.String())
		})
	}
}
