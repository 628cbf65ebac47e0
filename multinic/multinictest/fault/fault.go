// Package fault is the failure and latency injection the single-route fakes
// (contrabasstest, violatest) share: embed an Injector and its Fail,
// SetLatency, ClearFaults and Requests become the fake's own.
package fault

import (
	"context"
	"sync"
	"time"
)

// Injector counts requests and hands out injected failures and latency.
// The zero value injects nothing; it is safe for concurrent use.
type Injector struct {
	mu        sync.Mutex
	requests  int
	failWith  int
	failTimes int // remaining injected failures; negative = until ClearFaults
	latency   time.Duration
}

// Fail makes the next times requests answer status. A negative times keeps
// failing until ClearFaults.
func (i *Injector) Fail(status, times int) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.failWith, i.failTimes = status, times
}

// SetLatency delays every response by d, or until the client gives up.
func (i *Injector) SetLatency(d time.Duration) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.latency = d
}

// ClearFaults removes injected failures and latency; counters stay.
func (i *Injector) ClearFaults() {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.failWith, i.failTimes, i.latency = 0, 0, 0
}

// Requests is how many requests have arrived.
func (i *Injector) Requests() int {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.requests
}

// Arrive counts a request and returns the latency to inject for it.
func (i *Injector) Arrive() time.Duration {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.requests++
	return i.latency
}

// TakeFailure returns the status an injected failure asks for, using up one
// of them, or 0 when the request should be served normally.
func (i *Injector) TakeFailure() int {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.failTimes == 0 {
		return 0
	}
	if i.failTimes > 0 {
		i.failTimes--
	}
	return i.failWith
}

// Wait sleeps for d unless ctx ends or closing is closed first; it reports
// whether the whole delay passed.
func Wait(ctx context.Context, closing <-chan struct{}, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-ctx.Done():
	case <-closing:
	}
	return false
}
