package controller_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/multinic/multinic/openstack/openstacktest"
)

// A DOWN port on a node that was already sent is re-sent at once (the next
// pass, a second later), not one fast interval after it was seen.
func TestDownPortFirstResendIsDueAtDetection(t *testing.T) {
	f := newFixture(t)
	f.env.OpenStack.UpdatePort(f.sample.DownPort, func(p *openstacktest.Port) { p.Status = "ACTIVE" })
	oc := f.create(f.config("goes-down"))
	f.reconcile(oc)
	f.clock.Step(10 * time.Minute)
	f.reconcile(oc)
	require.Len(t, f.env.Viola.Posts(), 1)

	f.env.OpenStack.UpdatePort(f.sample.DownPort, func(p *openstacktest.Port) { p.Status = "DOWN" })
	res := f.reconcile(oc)
	assert.Equal(t, time.Second, res.RequeueAfter, "the first re-send is due now")
	f.clock.Step(time.Second)
	res = f.reconcile(oc)
	require.Len(t, f.env.Viola.Posts(), 2)
	assert.Equal(t, []string{"worker-2"}, nodeNames(f.env.Viola.Posts()[1].Configs))
	assert.Equal(t, 20*time.Second, res.RequeueAfter, "then every fast interval")
	state := f.get(oc).Status.DownPortRetry
	require.NotNil(t, state)
	assert.Zero(t, state.FastAttempts, "the at-once send is not a fast retry")
}

func TestDownPortResendsFastThenSlow(t *testing.T) {
	f := newFixture(t)
	oc := f.config("down")
	fastRetries := int32(2)
	oc.Spec.Settings.DownPortFastRetryMax = &fastRetries
	f.create(oc)
	resends := func() int {
		n := 0
		for _, p := range f.env.Viola.Posts()[1:] {
			if len(p.Configs) == 1 && p.Configs[0].NodeName == "worker-2" {
				n++
			}
		}
		return n
	}

	res := f.reconcile(oc)
	state := f.get(oc).Status.DownPortRetry
	require.NotNil(t, state)
	assert.Equal(t, []string{"worker-2"}, state.Nodes)
	assert.Equal(t, 20*time.Second, res.RequeueAfter)

	for i := 1; i <= 2; i++ {
		f.clock.Step(20 * time.Second)
		f.reconcile(oc)
		assert.Equal(t, i, resends(), "fast re-send %d", i)
		assert.Equal(t, int32(i), f.get(oc).Status.DownPortRetry.FastAttempts)
	}
	f.clock.Step(3 * time.Minute) // leave the fast window too
	f.reconcile(oc)
	assert.Equal(t, 3, resends(), "due at the slow interval")
	f.clock.Step(time.Minute)
	res = f.reconcile(oc)
	assert.Equal(t, 3, resends(), "not again before the slow interval")
	assert.Equal(t, 20*time.Second, res.RequeueAfter, "the re-send opened the fast window (SPEC §8)")
	f.clock.Step(time.Minute)
	f.reconcile(oc)
	assert.Equal(t, 4, resends(), "due again at the slow interval")

	f.env.OpenStack.UpdatePort(f.sample.DownPort, func(p *openstacktest.Port) { p.Status = "ACTIVE" })
	f.clock.Step(time.Minute)
	f.reconcile(oc)
	assert.Nil(t, f.get(oc).Status.DownPortRetry, "state resets when no port is DOWN")
}
