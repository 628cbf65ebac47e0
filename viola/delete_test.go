package viola_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/multinic/multinic/viola"
	"github.com/multinic/multinic/viola/violatest"
)

func TestDeleteRemovesANodeConfig(t *testing.T) {
	server := violatest.NewServer()
	defer server.Close()
	client := newTestClient(t, viola.Options{Endpoint: server.URL})
	_, err := client.Post(context.Background(), "p1", nodeConfigs(2))
	require.NoError(t, err)

	outcome, err := client.Delete(context.Background(), "p1", "worker-0")
	require.NoError(t, err)
	assert.Equal(t, viola.Removed, outcome)
	assert.NotContains(t, server.Nodes("p1"), "worker-0")
	assert.Contains(t, server.Nodes("p1"), "worker-1", "only the named node goes")

	// A second DELETE finds nothing: 404 is success, the config is gone.
	outcome, err = client.Delete(context.Background(), "p1", "worker-0")
	require.NoError(t, err)
	assert.Equal(t, viola.AlreadyGone, outcome)

	deletes := server.Deletes()
	require.Len(t, deletes, 2)
	assert.Equal(t, "p1", deletes[0].ProviderID)
	assert.Equal(t, "worker-0", deletes[0].NodeName)
	assert.True(t, deletes[0].Found)
	assert.False(t, deletes[1].Found)
}

func TestDeleteIsScopedToTheProvider(t *testing.T) {
	server := violatest.NewServer()
	defer server.Close()
	client := newTestClient(t, viola.Options{Endpoint: server.URL})
	_, err := client.Post(context.Background(), "p1", nodeConfigs(1))
	require.NoError(t, err)

	outcome, err := client.Delete(context.Background(), "p2", "worker-0")
	require.NoError(t, err)
	assert.Equal(t, viola.AlreadyGone, outcome)
	assert.Contains(t, server.Nodes("p1"), "worker-0", "another Biz cluster's node stays")
}

func TestDeleteStatuses(t *testing.T) {
	for _, tc := range []struct {
		status      int
		outcome     viola.DeleteOutcome
		unsupported bool
		message     string
	}{
		{status: http.StatusOK, outcome: viola.Removed},
		{status: http.StatusAccepted, outcome: viola.Removed},
		{status: http.StatusNoContent, outcome: viola.Removed},
		{status: http.StatusNotFound, outcome: viola.AlreadyGone},
		{status: http.StatusMethodNotAllowed, unsupported: true, message: `viola: DELETE node-config "worker-0" (provider "p1"): this Viola cannot remove node configs: HTTP 405: nope`},
		{status: http.StatusNotImplemented, unsupported: true, message: `viola: DELETE node-config "worker-0" (provider "p1"): this Viola cannot remove node configs: HTTP 501: nope`},
		{status: http.StatusBadRequest, message: `viola: DELETE node-config "worker-0" (provider "p1"): HTTP 400: nope`},
		// The shared client refuses every redirect (docs/security.md); its
		// message names the status and where it pointed, without a path.
		{status: http.StatusFound, message: `with HTTP 302 Found, a redirect to http://127.0.0.1:`},
		{status: http.StatusPermanentRedirect, message: `with HTTP 308 Permanent Redirect, a redirect to http://127.0.0.1:`},
	} {
		t.Run(http.StatusText(tc.status), func(t *testing.T) {
			var calls, followed atomic.Int32
			server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/v2/elsewhere" {
					followed.Add(1) // a followed redirect arrives here, as a GET
					return
				}
				calls.Add(1)
				assert.Equal(t, http.MethodDelete, r.Method)
				assert.Equal(t, "/v1/k8s/multinic/node-configs/worker-0", r.URL.Path)
				assert.Equal(t, "p1", r.Header.Get("X-Provider-Id"))
				if tc.status >= 300 && tc.status < 400 {
					w.Header().Set("Location", "/v2/elsewhere")
				}
				w.WriteHeader(tc.status)
				if tc.status != http.StatusNoContent {
					_, _ = w.Write([]byte("nope"))
				}
			}))
			defer server.Close()
			client := newTestClient(t, viola.Options{Endpoint: server.URL})
			outcome, err := client.Delete(context.Background(), "p1", "worker-0")
			assert.Equal(t, tc.outcome, outcome)
			if tc.message == "" {
				require.NoError(t, err)
			} else {
				require.Error(t, err)
				if tc.status >= 300 && tc.status < 400 {
					assert.Contains(t, err.Error(), tc.message)
					assert.Contains(t, err.Error(), "which is not followed")
				} else {
					assert.Equal(t, tc.message, err.Error())
				}
			}
			assert.Equal(t, tc.unsupported, errors.Is(err, viola.ErrDeleteUnsupported))
			assert.EqualValues(t, 1, calls.Load(), "405, 501 and 4xx are never retried")
			assert.Zero(t, followed.Load(), "a redirect is never followed")
		})
	}
}

func TestDeleteRetriesServerErrors(t *testing.T) {
	server := violatest.NewServer()
	defer server.Close()
	client := newTestClient(t, viola.Options{Endpoint: server.URL, RetryMax: 2})
	server.SetDeleteStatus(http.StatusInternalServerError)
	_, err := client.Delete(context.Background(), "p1", "worker-0")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "HTTP 500 after 3 attempts")
	assert.Equal(t, 3, server.Requests())
	assert.Empty(t, server.Deletes())
}

func TestDeleteRefusesBadArguments(t *testing.T) {
	server := violatest.NewServer()
	defer server.Close()
	client := newTestClient(t, viola.Options{Endpoint: server.URL})
	for _, tc := range []struct{ provider, node, message string }{
		{"", "worker-0", "provider ID (x-provider-id) is empty"},
		{"p1", "", `nodeName: is empty`},
		{"p1", "../../healthz", `nodeName: "../../healthz" is not a lower-case RFC 1123 subdomain`},
		{"p1", "Worker_2", `is not a lower-case RFC 1123 subdomain`},
	} {
		_, err := client.Delete(context.Background(), tc.provider, tc.node)
		require.Error(t, err, "%q %q", tc.provider, tc.node)
		assert.Contains(t, err.Error(), tc.message)
	}
	assert.Zero(t, server.Requests(), "nothing is sent for a bad argument")
}
