package fault

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestInjector(t *testing.T) {
	var i Injector
	assert.Zero(t, i.TakeFailure(), "nothing injected by default")
	i.Fail(503, 2)
	assert.Equal(t, 503, i.TakeFailure())
	assert.Equal(t, 503, i.TakeFailure())
	assert.Zero(t, i.TakeFailure(), "two failures, then served")

	i.Fail(500, -1)
	for range 5 {
		assert.Equal(t, 500, i.TakeFailure())
	}
	i.SetLatency(time.Second)
	assert.Equal(t, time.Second, i.Arrive())
	i.ClearFaults()
	assert.Zero(t, i.TakeFailure())
	assert.Zero(t, i.Arrive())
	assert.Equal(t, 2, i.Requests(), "ClearFaults keeps the count")
}

func TestWaitStopsEarly(t *testing.T) {
	assert.True(t, Wait(context.Background(), nil, 0))
	assert.True(t, Wait(context.Background(), nil, time.Millisecond))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	assert.False(t, Wait(ctx, nil, time.Hour), "a gone client ends the wait")
	closing := make(chan struct{})
	close(closing)
	assert.False(t, Wait(context.Background(), closing, time.Hour), "closing the server ends the wait")
}
