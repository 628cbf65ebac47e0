package controller_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/multinic/multinic/multinic/multinictest"
	"github.com/multinic/multinic/openstack/openstacktest"
	"github.com/multinic/multinic/operator/api/v1alpha1"
)

// Two CRs with one routing key select the same VM. Polled alternately for
// many rounds, the younger never sends it: one POST of the node in all,
// with the older CR's interface list. When the older CR goes away, the
// younger takes the VM over.
func TestOneOwnerPerVMAcrossCRs(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.env.OpenStack.UpdatePort(f.sample.DownPort, func(p *openstacktest.Port) { p.Status = "ACTIVE" })
	first := f.config("first") // worker-1..3 on A and B
	first.Spec.Settings.ResyncInterval = "0s"
	f.create(first)
	second := f.config("second") // worker-2 on A only
	second.Spec.VMNames = f.sample.VMIDs[1:2]
	second.Spec.SubnetIDs = []string{f.sample.SubnetA}
	second.Spec.Settings.ResyncInterval = "0s"
	f.create(second)
	require.False(t, f.get(second).CreationTimestamp.Before(ptrTime(f.get(first).CreationTimestamp)), "first is the older (or, same second, first by name)")

	worker2Posts := func() int {
		n := 0
		for _, p := range f.env.Viola.Posts() {
			for _, c := range p.Configs {
				if c.NodeName == "worker-2" {
					n++
				}
			}
		}
		return n
	}
	for round := range 30 {
		f.reconcile(second)
		f.reconcile(first)
		f.clock.Step(time.Minute)
		require.Equal(t, 1, worker2Posts(), "round %d: the contested node is posted once", round)
	}
	owned := f.env.Viola.Nodes(multinictest.ProviderID)["worker-2"]
	assert.Len(t, owned.Interfaces, 2, "the owner's interface list (A and B)")
	got := f.get(second)
	require.Len(t, got.Status.SkippedVMs, 1)
	assert.Equal(t, v1alpha1.SkippedVM{InstanceID: f.sample.VMIDs[1], Reason: "claimed by " + f.ns + "/first"}, got.Status.SkippedVMs[0])
	_, degraded := readyCondition(t, got)
	assert.Equal(t, metav1.ConditionTrue, degraded.Status)
	assert.Equal(t, v1alpha1.ReasonPartialSync, degraded.Reason)
	assert.Equal(t, "1 VM skipped", degraded.Message)

	// The owner goes away; its finalizer hands worker-2 over.
	require.NoError(t, k8s.Delete(ctx, f.get(first)))
	f.reconcile(first)
	assert.Empty(t, f.records()["worker-2"], "a node another CR selects is never orphaned")
	f.reconcile(second)
	assert.Equal(t, 2, worker2Posts(), "the other CR takes it over")
	assert.Len(t, f.env.Viola.Nodes(multinictest.ProviderID)["worker-2"].Interfaces, 1, "with its own list")
	got = f.get(second)
	assert.Empty(t, got.Status.SkippedVMs)
	assert.Empty(t, got.Status.OrphanedNodes)
}

func ptrTime(t metav1.Time) *metav1.Time { return &t }
