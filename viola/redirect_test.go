package viola_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/multinic/multinic/internal/fault"
	"github.com/multinic/multinic/internal/retryhttp"
	"github.com/multinic/multinic/viola"
	"github.com/multinic/multinic/viola/violatest"
)

// Issue 20.2: a 3xx answer to a POST is not "applied". Followed as a GET,
// the login page it pointed at answered 200, which counted as success: the
// nodes went into the inventory and were not sent again for 30 minutes.
// Every 3xx is an error now, and nothing goes to where it points.
func TestPostRedirectIsAnErrorNeverFollowed(t *testing.T) {
	login := fault.NewRecorder() // answers 200 to anything, as a login page does
	defer login.Close()
	for _, status := range []int{301, 302, 303, 307, 308} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			server := violatest.NewServer()
			defer server.Close()
			server.Inject(fault.Redirect(status, login.URL+"/login?return=/v1/k8s"), -1)
			client := newTestClient(t, viola.Options{Endpoint: server.URL, RetryMax: 3})

			result, err := client.Post(context.Background(), "k8s-prov", nodeConfigs(3))
			require.Error(t, err)
			t.Log(err)
			assert.Empty(t, result.Accepted, "no node counts as applied")
			var redirect *retryhttp.RedirectError
			assert.ErrorAs(t, err, &redirect)
			assert.Contains(t, err.Error(), "viola")
			assert.Contains(t, err.Error(), login.URL, "names where it pointed")
			assert.Equal(t, 1, server.Requests(), "an answer, not retried")
			assert.Empty(t, server.Posts(), "the fake applied nothing")
		})
	}
	assert.Empty(t, login.Requests(), "the login page was never asked")

	// A 3xx without a Location is no redirect to follow, and still not success.
	server := violatest.NewServer()
	defer server.Close()
	server.Inject(fault.Body(http.StatusNotModified, ""), -1)
	result, err := newTestClient(t, viola.Options{Endpoint: server.URL}).Post(context.Background(), "k8s-prov", nodeConfigs(1))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "HTTP 304")
	assert.Empty(t, result.Accepted)
}
