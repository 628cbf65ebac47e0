package retryhttp_test

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/multinic/multinic/internal/retryhttp"
)

type attempt struct {
	dependency string
	status     int
	failed     bool
}

type recordingObserver struct {
	mu       sync.Mutex
	attempts []attempt
}

func (r *recordingObserver) ObserveAttempt(dependency string, resp *http.Response, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	a := attempt{dependency: dependency, failed: err != nil}
	if resp != nil {
		a.status = resp.StatusCode
	}
	r.attempts = append(r.attempts, a)
}

// Each attempt, retries included, reaches the observer with its outcome.
func TestObserverSeesEveryAttempt(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if calls.Add(1) == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	obs := &recordingObserver{}
	client, err := retryhttp.New(retryhttp.Options{Observer: obs, Dependency: "viola", RetryWaitMin: time.Millisecond, RetryWaitMax: time.Millisecond})
	require.NoError(t, err)
	resp, err := client.Get(srv.URL)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, []attempt{{"viola", 503, false}, {"viola", 200, false}}, obs.attempts)

	srv.Close()
	obs.attempts = nil
	noRetry, err := retryhttp.New(retryhttp.Options{Observer: obs, Dependency: "viola", RetryMax: -1})
	require.NoError(t, err)
	_, err = noRetry.Get(srv.URL)
	require.Error(t, err)
	assert.Equal(t, []attempt{{"viola", 0, true}}, obs.attempts, "connection errors are observed too")
}

// The observer wraps the transport after InsecureTLS is applied, so both work.
func TestObserverWithInsecureTLS(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	defer srv.Close()
	obs := &recordingObserver{}
	client, err := retryhttp.New(retryhttp.Options{Observer: obs, Dependency: "contrabass", InsecureTLS: true})
	require.NoError(t, err)
	resp, err := client.Get(srv.URL)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, []attempt{{"contrabass", 200, false}}, obs.attempts)
}
