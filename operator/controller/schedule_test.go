package controller

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/multinic/multinic/multinic"
	"github.com/multinic/multinic/operator/api/v1alpha1"
	"github.com/multinic/multinic/operator/crconfig"
)

var (
	t0   = time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)
	poll = polling{Fast: 20 * time.Second, Slow: 2 * time.Minute, Error: 30 * time.Second, FastWindow: 3 * time.Minute, Resync: 30 * time.Minute, DownPortFastRetryMax: 2}
)

func downResult(ports ...multinic.DownPort) multinic.Result { return multinic.Result{DownPorts: ports} }

// sentResult is a pass that sent nodes and saw ports DOWN.
func sentResult(sent []string, ports ...multinic.DownPort) multinic.Result {
	return multinic.Result{Sent: sent, DownPorts: ports}
}

func resendOf(state *v1alpha1.DownPortRetry, now time.Time) []string {
	nodes, _ := poll.downPortResend(state, now)
	return nodes
}

func TestRequeueAfter(t *testing.T) {
	tests := []struct {
		name   string
		status v1alpha1.OpenstackConfigStatus
		failed bool
		now    time.Duration
		want   time.Duration
	}{
		{"error uses the error interval", v1alpha1.OpenstackConfigStatus{LastChangeAt: ptrTime(t0)}, true, 0, 30 * time.Second},
		{"just after a send polls fast", v1alpha1.OpenstackConfigStatus{LastChangeAt: ptrTime(t0)}, false, time.Minute, 20 * time.Second},
		{"after the fast window polls slow", v1alpha1.OpenstackConfigStatus{LastChangeAt: ptrTime(t0)}, false, 3 * time.Minute, 2 * time.Minute},
		{"never sent polls slow", v1alpha1.OpenstackConfigStatus{}, false, 0, 2 * time.Minute},
		{"a due DOWN-port resend comes first", v1alpha1.OpenstackConfigStatus{DownPortRetry: &v1alpha1.DownPortRetry{LastAttempt: ptrTime(t0), Nodes: []string{"n"}}}, false, 5 * time.Second, 15 * time.Second},
		{"after the fast attempts DOWN ports wait slow", v1alpha1.OpenstackConfigStatus{DownPortRetry: &v1alpha1.DownPortRetry{LastAttempt: ptrTime(t0), FastAttempts: 2, Nodes: []string{"n"}}}, false, 0, 2 * time.Minute},
		{"an overdue resend is not scheduled in the past", v1alpha1.OpenstackConfigStatus{DownPortRetry: &v1alpha1.DownPortRetry{LastAttempt: ptrTime(t0), Nodes: []string{"n"}}}, false, time.Hour, time.Second},
		{"a DOWN port never sent is due at once", v1alpha1.OpenstackConfigStatus{DownPortRetry: &v1alpha1.DownPortRetry{Nodes: []string{"n"}}}, false, 0, time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, poll.requeueAfter(&tt.status, tt.failed, t0.Add(tt.now)))
		})
	}
}

// Settings stored before the schema had its minimums (0s, 1ns) must
// neither stop polling (a zero requeue means never) nor hot-loop.
func TestClampedPollingNeverHotLoops(t *testing.T) {
	clamped, bad := crconfig.PollingOf(v1alpha1.Settings{PollFastInterval: "1ns", PollSlowInterval: "0s", PollErrorInterval: "0s", PollFastWindow: "1ns"})
	require.Empty(t, bad)
	for _, failed := range []bool{false, true} {
		assert.Equal(t, time.Second, polling(clamped).requeueAfter(&v1alpha1.OpenstackConfigStatus{LastChangeAt: ptrTime(t0)}, failed, t0), "failed=%v", failed)
	}
}

// TestDownPortResendCycle walks a port that stays DOWN through the first
// send at detection, fast re-sends, then slow ones, then a change of the
// DOWN set and recovery.
func TestDownPortResendCycle(t *testing.T) {
	p1 := multinic.DownPort{NodeName: "worker-1", InstanceID: "vm-1", PortID: "port-1"}
	p2 := multinic.DownPort{NodeName: "worker-2", InstanceID: "vm-2", PortID: "port-2"}

	// Seen DOWN by a pass that did not send the node: due at once.
	state := nextDownPortState(nil, downResult(p1), false, t0)
	assert.Equal(t, []string{"worker-1"}, state.Nodes)
	assert.Nil(t, state.LastAttempt, "detection is not a send")
	assert.Equal(t, []string{"worker-1"}, resendOf(state, t0), "the first re-send is due at detection")

	// That first send is the at-once send, not a fast retry.
	now := t0.Add(time.Second)
	state = nextDownPortState(state, downResult(p1), true, now)
	assert.Zero(t, state.FastAttempts)
	assert.Nil(t, resendOf(state, now.Add(19*time.Second)), "not yet due")
	for i := range 2 { // fast attempts every 20s
		now = now.Add(20 * time.Second)
		assert.Equal(t, []string{"worker-1"}, resendOf(state, now), "fast attempt %d", i+1)
		state = nextDownPortState(state, downResult(p1), true, now)
	}
	assert.Equal(t, int32(2), state.FastAttempts)
	afterFast := now
	assert.Nil(t, resendOf(state, afterFast.Add(time.Minute)), "slow interval now applies")
	assert.Equal(t, []string{"worker-1"}, resendOf(state, afterFast.Add(2*time.Minute)))

	// A pass that did not re-send keeps the count and the last attempt.
	same := nextDownPortState(state, downResult(p1), false, afterFast.Add(time.Minute))
	assert.Equal(t, state, same)

	// A new DOWN port restarts the cycle for the new set: the earlier
	// re-send of worker-1 did not cover worker-2, so it is due at once.
	changed := nextDownPortState(state, downResult(p1, p2), true, afterFast.Add(2*time.Minute))
	assert.NotEqual(t, state.Hash, changed.Hash)
	assert.Zero(t, changed.FastAttempts)
	assert.Nil(t, changed.LastAttempt)
	assert.Equal(t, []string{"worker-1", "worker-2"}, changed.Nodes)

	// No DOWN ports clears the state.
	assert.Nil(t, nextDownPortState(changed, downResult(), false, afterFast.Add(3*time.Minute)))
	assert.Nil(t, resendOf(nil, t0))
}

// A pass that sent the node anyway (a change, a resync) made the at-once
// send: the next one waits a fast interval.
func TestDownPortSeenBySendingPass(t *testing.T) {
	p1 := multinic.DownPort{NodeName: "worker-1", InstanceID: "vm-1", PortID: "port-1"}
	state := nextDownPortState(nil, sentResult([]string{"worker-1", "worker-2"}, p1), false, t0)
	require.NotNil(t, state.LastAttempt)
	assert.True(t, state.LastAttempt.Time.Equal(t0))
	assert.Zero(t, state.FastAttempts)
	assert.Nil(t, resendOf(state, t0.Add(19*time.Second)))
	assert.Equal(t, []string{"worker-1"}, resendOf(state, t0.Add(20*time.Second)))
}

// More DOWN nodes than status may list: the list is cut and every node is
// re-sent when due, so nobody is forgotten and the status write fits.
func TestDownPortNodesAreBounded(t *testing.T) {
	var ports []multinic.DownPort
	for i := range v1alpha1.MaxDownPortNodes + 5 {
		ports = append(ports, multinic.DownPort{NodeName: fmt.Sprintf("worker-%04d", i), InstanceID: fmt.Sprintf("vm-%d", i), PortID: fmt.Sprintf("port-%d", i)})
	}
	state := nextDownPortState(nil, downResult(ports...), false, t0)
	assert.Len(t, state.Nodes, v1alpha1.MaxDownPortNodes)
	assert.Equal(t, int32(5), state.MoreNodes)
	nodes, all := poll.downPortResend(state, t0)
	assert.Len(t, nodes, v1alpha1.MaxDownPortNodes)
	assert.True(t, all, "the unlisted nodes are re-sent with everything")
}

func TestDownPortsHashIgnoresOrder(t *testing.T) {
	a := multinic.DownPort{InstanceID: "vm-1", PortID: "a"}
	b := multinic.DownPort{InstanceID: "vm-2", PortID: "b"}
	assert.Equal(t, downPortsHash([]multinic.DownPort{a, b}), downPortsHash([]multinic.DownPort{b, a}))
	assert.NotEqual(t, downPortsHash([]multinic.DownPort{a}), downPortsHash([]multinic.DownPort{a, b}))
}

func TestResyncDue(t *testing.T) {
	assert.True(t, poll.resyncDue(&v1alpha1.OpenstackConfigStatus{}, t0), "never resynced")
	assert.False(t, poll.resyncDue(&v1alpha1.OpenstackConfigStatus{LastResyncAt: ptrTime(t0)}, t0.Add(29*time.Minute)))
	assert.True(t, poll.resyncDue(&v1alpha1.OpenstackConfigStatus{LastResyncAt: ptrTime(t0)}, t0.Add(30*time.Minute)))
	off := poll
	off.Resync = 0
	assert.False(t, off.resyncDue(&v1alpha1.OpenstackConfigStatus{}, t0), "zero disables resync")
}
