package retryhttp_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-retryablehttp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/multinic/multinic/internal/fault"
	"github.com/multinic/multinic/internal/retryhttp"
)

// Issue 20.7: a connection reset on a kept-alive connection is replayed by
// net/http on the next idle connection, unseen by the retry loop, so a
// client with idle connections to the host sent 7 requests where the limit
// is 4 attempts. Every request that reaches the server is an attempt.
func TestConnectionResetsCountTowardTheRetryBudget(t *testing.T) {
	const idle = 3
	var (
		resetting atomic.Bool
		requests  atomic.Int32
		arrived   sync.WaitGroup
		release   = make(chan struct{})
	)
	arrived.Add(idle)
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if resetting.Load() {
			requests.Add(1)
			fault.ResetBeforeResponse().Serve(w, r, nil, nil)
			return
		}
		// Warm-up: hold every request until all have arrived, so each
		// leaves its own kept-alive connection behind.
		arrived.Done()
		<-release
		_, _ = io.WriteString(w, "ok")
	}))
	defer server.Close()

	const retryMax = 3
	client := newFast(t, retryhttp.Options{RetryMax: retryMax, MaxIdleConnsPerHost: idle})
	var warm sync.WaitGroup
	for range idle {
		warm.Go(func() {
			resp, err := get(t, client, server.URL)
			if assert.NoError(t, err) {
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
			}
		})
	}
	arrived.Wait()
	close(release)
	warm.Wait()

	resetting.Store(true)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := retryablehttp.NewRequestWithContext(ctx, http.MethodGet, server.URL, nil)
	require.NoError(t, err)
	resp, err := client.Do(req)
	if resp != nil {
		_ = resp.Body.Close()
	}
	require.Error(t, err)
	assert.EqualValues(t, retryMax+1, requests.Load(), "requests that reached the server, replays included")
	var exhausted *retryhttp.AttemptsError
	if assert.ErrorAs(t, err, &exhausted) {
		assert.Equal(t, retryMax+1, exhausted.Attempts)
	}
}
