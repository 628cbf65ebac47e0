package controller_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/multinic/multinic/multinic"
	"github.com/multinic/multinic/multinic/multinictest"
	"github.com/multinic/multinic/openstack/openstacktest"
	"github.com/multinic/multinic/operator/api/v1alpha1"
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

// With the default grace period the sample's DOWN port, never sent, is held
// back: status says since when; the next poll comes within the fast
// interval; a restart does not start the period again; ACTIVE sends it.
func TestDownPortIsHeldUntilActive(t *testing.T) {
	f := newFixture(t)
	oc := f.config("grace")
	oc.Spec.Settings.DownPortGracePeriod = "" // the API server's default, 2m
	f.create(oc)
	assert.Equal(t, v1alpha1.Duration("2m"), f.get(oc).Spec.Settings.DownPortGracePeriod)

	res := f.reconcile(oc)
	got := f.get(oc)
	require.Len(t, got.Status.HeldPorts, 1)
	held := got.Status.HeldPorts[0]
	assert.Equal(t, v1alpha1.HeldPort{PortID: f.sample.DownPort, NodeName: "worker-2", InstanceID: f.sample.VMIDs[1],
		FirstSeen: held.FirstSeen, Until: held.Until}, held)
	assert.True(t, held.FirstSeen.Time.Equal(t0))
	assert.True(t, held.Until.Time.Equal(t0.Add(2*time.Minute)))
	assert.Len(t, f.env.Viola.Nodes(multinictest.ProviderID)["worker-2"].Interfaces, 1, "sent without the held port")
	assert.Nil(t, got.Status.DownPortRetry, "nothing DOWN was sent")
	assert.Equal(t, 20*time.Second, res.RequeueAfter)
	_, degraded := readyCondition(t, got)
	assert.Equal(t, metav1.ConditionFalse, degraded.Status, "holding a port is no failure")

	// A new operator pod (a fresh reconciler) keeps the first sighting.
	f.clock.Step(100 * time.Second)
	f.reconciler.Syncer = new(multinic.Syncer)
	res = f.reconcile(oc)
	assert.True(t, f.get(oc).Status.HeldPorts[0].FirstSeen.Time.Equal(t0))
	assert.Equal(t, 20*time.Second, res.RequeueAfter, "the grace period ends in 20s")

	f.env.OpenStack.UpdatePort(f.sample.DownPort, func(p *openstacktest.Port) { p.Status = "ACTIVE" })
	f.clock.Step(5 * time.Second)
	f.reconcile(oc)
	got = f.get(oc)
	assert.Empty(t, got.Status.HeldPorts)
	assert.Len(t, f.env.Viola.Nodes(multinictest.ProviderID)["worker-2"].Interfaces, 2, "sent as soon as ACTIVE: a spec change the agent acts on")
}

func TestDownPortIsSentWhenTheGracePeriodEnds(t *testing.T) {
	f := newFixture(t)
	oc := f.config("grace-ends")
	oc.Spec.Settings.DownPortGracePeriod = "30s"
	f.create(oc)
	res := f.reconcile(oc)
	assert.Equal(t, 20*time.Second, res.RequeueAfter)
	f.clock.Step(20 * time.Second)
	res = f.reconcile(oc)
	assert.Equal(t, 10*time.Second, res.RequeueAfter, "polled when the grace period ends")
	assert.Len(t, f.env.Viola.Nodes(multinictest.ProviderID)["worker-2"].Interfaces, 1)
	f.clock.Step(10 * time.Second)
	f.reconcile(oc)
	got := f.get(oc)
	assert.Empty(t, got.Status.HeldPorts)
	assert.Len(t, f.env.Viola.Nodes(multinictest.ProviderID)["worker-2"].Interfaces, 2, "sent though still DOWN")
	require.NotNil(t, got.Status.DownPortRetry, "and from now on re-sent like any DOWN port")
}
