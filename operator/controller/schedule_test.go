package controller

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/multinic/multinic/multinic"
	"github.com/multinic/multinic/operator/api/v1alpha1"
)

var (
	t0   = time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)
	poll = polling{fast: 20 * time.Second, slow: 2 * time.Minute, errorInterval: 30 * time.Second, fastWindow: 3 * time.Minute, resync: 30 * time.Minute, downPortFastRetryMax: 2}
)

func at(d time.Duration) *metav1.Time { return ptrTime(t0.Add(d)) }

func downResult(ports ...multinic.DownPort) multinic.Result { return multinic.Result{DownPorts: ports} }

func TestRequeueAfter(t *testing.T) {
	tests := []struct {
		name   string
		status v1alpha1.OpenstackConfigStatus
		failed bool
		now    time.Duration
		want   time.Duration
	}{
		{"error uses the error interval", v1alpha1.OpenstackConfigStatus{LastChangeAt: at(0)}, true, 0, 30 * time.Second},
		{"just after a change polls fast", v1alpha1.OpenstackConfigStatus{LastChangeAt: at(0)}, false, time.Minute, 20 * time.Second},
		{"after the fast window polls slow", v1alpha1.OpenstackConfigStatus{LastChangeAt: at(0)}, false, 3 * time.Minute, 2 * time.Minute},
		{"never changed polls slow", v1alpha1.OpenstackConfigStatus{}, false, 0, 2 * time.Minute},
		{"a due DOWN-port resend comes first", v1alpha1.OpenstackConfigStatus{DownPortRetry: &v1alpha1.DownPortRetry{LastAttempt: at(0), Nodes: []string{"n"}}}, false, 5 * time.Second, 15 * time.Second},
		{"after the fast attempts DOWN ports wait slow", v1alpha1.OpenstackConfigStatus{DownPortRetry: &v1alpha1.DownPortRetry{LastAttempt: at(0), FastAttempts: 2, Nodes: []string{"n"}}}, false, 0, 2 * time.Minute},
		{"an overdue resend is not scheduled in the past", v1alpha1.OpenstackConfigStatus{DownPortRetry: &v1alpha1.DownPortRetry{LastAttempt: at(0), Nodes: []string{"n"}}}, false, time.Hour, time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, poll.requeueAfter(&tt.status, tt.failed, t0.Add(tt.now)))
		})
	}
}

// TestDownPortResendCycle walks a port that stays DOWN through fast
// re-sends, then slow ones, then a change of the DOWN set and recovery.
func TestDownPortResendCycle(t *testing.T) {
	p1 := multinic.DownPort{NodeName: "worker-1", InstanceID: "vm-1", PortID: "port-1"}
	p2 := multinic.DownPort{NodeName: "worker-2", InstanceID: "vm-2", PortID: "port-2"}

	state := nextDownPortState(nil, downResult(p1), false, t0)
	assert.Equal(t, []string{"worker-1"}, state.Nodes)
	assert.Zero(t, state.FastAttempts)

	assert.Nil(t, poll.downPortResend(state, t0.Add(19*time.Second)), "not yet due")
	for i := range 2 { // fast attempts every 20s
		now := t0.Add(time.Duration(i+1) * 20 * time.Second)
		assert.Equal(t, []string{"worker-1"}, poll.downPortResend(state, now), "fast attempt %d", i+1)
		state = nextDownPortState(state, downResult(p1), true, now)
	}
	assert.Equal(t, int32(2), state.FastAttempts)
	afterFast := t0.Add(40 * time.Second)
	assert.Nil(t, poll.downPortResend(state, afterFast.Add(time.Minute)), "slow interval now applies")
	assert.Equal(t, []string{"worker-1"}, poll.downPortResend(state, afterFast.Add(2*time.Minute)))

	// A pass that did not re-send keeps the count and the last attempt.
	same := nextDownPortState(state, downResult(p1), false, afterFast.Add(time.Minute))
	assert.Equal(t, state, same)

	// A new DOWN port restarts fast retries for the new set.
	changed := nextDownPortState(state, downResult(p1, p2), true, afterFast.Add(2*time.Minute))
	assert.NotEqual(t, state.Hash, changed.Hash)
	assert.Zero(t, changed.FastAttempts)
	assert.Equal(t, []string{"worker-1", "worker-2"}, changed.Nodes)

	// No DOWN ports clears the state.
	assert.Nil(t, nextDownPortState(changed, downResult(), false, afterFast.Add(3*time.Minute)))
	assert.Nil(t, poll.downPortResend(nil, t0))
}

func TestDownPortsHashIgnoresOrder(t *testing.T) {
	a := multinic.DownPort{InstanceID: "vm-1", PortID: "a"}
	b := multinic.DownPort{InstanceID: "vm-2", PortID: "b"}
	assert.Equal(t, downPortsHash([]multinic.DownPort{a, b}), downPortsHash([]multinic.DownPort{b, a}))
	assert.NotEqual(t, downPortsHash([]multinic.DownPort{a}), downPortsHash([]multinic.DownPort{a, b}))
}

func TestResyncDue(t *testing.T) {
	assert.True(t, poll.resyncDue(&v1alpha1.OpenstackConfigStatus{}, t0), "never resynced")
	assert.False(t, poll.resyncDue(&v1alpha1.OpenstackConfigStatus{LastResyncAt: at(0)}, t0.Add(29*time.Minute)))
	assert.True(t, poll.resyncDue(&v1alpha1.OpenstackConfigStatus{LastResyncAt: at(0)}, t0.Add(30*time.Minute)))
	off := poll
	off.resync = 0
	assert.False(t, off.resyncDue(&v1alpha1.OpenstackConfigStatus{}, t0), "zero disables resync")
}
