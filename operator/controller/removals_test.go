package controller_test

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/multinic/multinic/inventory"
	"github.com/multinic/multinic/multinic/multinictest"
	"github.com/multinic/multinic/operator/api/v1alpha1"
	"github.com/multinic/multinic/viola"
)

// records are the inventory's records of the sample's provider by node
// name, each with its orphan reason ("" for none).
func (f *fixture) records() map[string]string {
	out := map[string]string{}
	for _, rec := range f.store.List(inventory.Filter{ProviderID: multinictest.ProviderID}) {
		out[rec.NodeName] = ""
		if rec.Orphaned != nil {
			out[rec.NodeName] = rec.Orphaned.Reason
		}
	}
	return out
}

func (f *fixture) violaNodes() []string {
	var names []string
	for name := range f.env.Viola.Nodes(multinictest.ProviderID) {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

func removalNames(list []v1alpha1.NodeRemoval) []string {
	var out []string
	for _, n := range list {
		out = append(out, n.NodeName)
	}
	return out
}

func eventsWith(events []string, part string) []string {
	var out []string
	for _, e := range events {
		if strings.Contains(e, part) {
			out = append(out, e)
		}
	}
	return out
}

// By default a VM dropped from vmNames leaves its node in the Biz cluster:
// the record stays, marked orphaned, status and one Event say so, and a VM
// another CR still selects is handed over instead.
func TestDroppedVMsAreOrphanedByDefault(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	oc := f.create(f.config("owner"))
	f.reconcile(oc)
	sharing := f.config("sharing") // also selects worker-3; younger, so it leaves it to owner
	sharing.Spec.VMNames = f.sample.VMIDs[2:]
	f.create(sharing)
	f.reconcile(sharing)
	f.drainEvents()

	latest := f.get(oc)
	assert.Equal(t, v1alpha1.RemovalPolicyOrphan, latest.Spec.Settings.RemovalPolicy, "the API server defaults the policy")
	latest.Spec.VMNames = f.sample.VMIDs[:1] // drop worker-2 and worker-3
	require.NoError(t, k8s.Update(ctx, latest))
	f.clock.Step(time.Minute)
	f.reconcile(oc)

	got := f.get(oc)
	require.Len(t, got.Status.OrphanedNodes, 1)
	orphan := got.Status.OrphanedNodes[0]
	assert.Equal(t, "worker-2", orphan.NodeName)
	assert.Equal(t, "VM "+f.sample.VMIDs[1]+" is no longer listed", orphan.Reason)
	assert.True(t, orphan.At.Time.Equal(f.clock.Now()))
	assert.Empty(t, got.Status.RemovedNodes)
	assert.Equal(t, map[string]string{"worker-1": "", "worker-2": "VM " + f.sample.VMIDs[1] + " is no longer listed", "worker-3": ""}, f.records(),
		"worker-2 is kept and marked, worker-3 handed to the other CR")
	assert.Equal(t, []string{"worker-1", "worker-2", "worker-3"}, f.violaNodes(), "nothing torn down")
	orphaned := eventsWith(f.drainEvents(), "NodesOrphaned")
	require.Len(t, orphaned, 1)
	assert.Contains(t, orphaned[0], "left 1 node configs in the Biz cluster (removalPolicy Orphan; the node agent keeps their interfaces): worker-2 (VM")

	f.clock.Step(time.Minute)
	f.reconcile(oc)
	assert.Empty(t, eventsWith(f.drainEvents(), "NodesOrphaned"), "told once")
	assert.Equal(t, []string{"worker-2"}, removalNames(f.get(oc).Status.OrphanedNodes), "the status keeps the latest")

	// The other CR, now alone with worker-3, takes it over: same config, no POST.
	posts := len(f.env.Viola.Posts())
	f.reconcile(sharing)
	assert.Len(t, f.env.Viola.Posts(), posts)
	assert.Empty(t, f.get(sharing).Status.SkippedVMs)

	// worker-2 is listed again: sent, it leaves the orphan list and its mark.
	latest = f.get(oc)
	latest.Spec.VMNames = f.sample.VMIDs[:2]
	require.NoError(t, k8s.Update(ctx, latest))
	f.reconcile(oc)
	assert.Empty(t, f.get(oc).Status.OrphanedNodes)
	assert.Empty(t, f.records()["worker-2"])
}

// Under Delete a dropped VM's node is removed through Viola.
func TestDroppedVMsAreDeletedUnderDelete(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	oc := f.config("deleting")
	oc.Spec.Settings.RemovalPolicy = v1alpha1.RemovalPolicyDelete
	f.create(oc)
	f.reconcile(oc)
	f.drainEvents()

	latest := f.get(oc)
	latest.Spec.VMNames = f.sample.VMIDs[:2]
	require.NoError(t, k8s.Update(ctx, latest))
	f.reconcile(oc)
	got := f.get(oc)
	assert.Equal(t, []string{"worker-3"}, removalNames(got.Status.RemovedNodes))
	assert.Empty(t, got.Status.OrphanedNodes)
	assert.Equal(t, []string{"worker-1", "worker-2"}, f.violaNodes())
	assert.Equal(t, map[string]string{"worker-1": "", "worker-2": ""}, f.records(), "the inventory matches the Biz side")
	removed := eventsWith(f.drainEvents(), "NodesRemoved")
	require.Len(t, removed, 1)
	assert.Contains(t, removed[0], "removed 1 node configs through Viola (removalPolicy Delete): worker-3 (VM")
}

// A Viola that cannot remove configs leaves the node orphaned, with one
// Warning, and is not asked again every pass.
func TestViolaThatCannotRemoveIsReportedOnce(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	oc := f.config("old-viola")
	oc.Spec.Settings.RemovalPolicy = v1alpha1.RemovalPolicyDelete
	f.create(oc)
	f.reconcile(oc)
	f.drainEvents()
	f.env.Viola.SetDeleteStatus(http.StatusNotImplemented)

	latest := f.get(oc)
	latest.Spec.VMNames = f.sample.VMIDs[:2]
	require.NoError(t, k8s.Update(ctx, latest))
	f.reconcile(oc)
	got := f.get(oc)
	require.Len(t, got.Status.OrphanedNodes, 1)
	assert.Contains(t, got.Status.OrphanedNodes[0].Reason, "this Viola cannot remove node configs: HTTP 501")
	warnings := eventsWith(f.drainEvents(), "ViolaCannotRemove")
	require.Len(t, warnings, 1)
	assert.Contains(t, warnings[0], "Warning ViolaCannotRemove Viola cannot remove node configs")
	assert.Contains(t, f.records()["worker-3"], "Viola cannot remove node configs")
	rejected := f.env.Viola.Rejected()

	for range 3 {
		f.clock.Step(time.Minute)
		f.reconcile(oc)
	}
	assert.Equal(t, rejected, f.env.Viola.Rejected(), "no DELETE every pass")
	assert.Empty(t, eventsWith(f.drainEvents(), "ViolaCannotRemove"))
}

// Deleting a CR follows its policy: Orphan leaves its nodes (records kept,
// marked); another CR's record is never touched.
func TestDeletionOrphansByDefault(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	oc := f.create(f.config("doomed"))
	f.reconcile(oc)
	_, err := f.store.Upsert(multinictest.ProviderID, viola.NodeConfig{NodeName: "other", InstanceID: "vm-other",
		Interfaces: []viola.Interface{{ID: 0, Name: "multinic0", MACAddress: "fa:16:3e:00:00:99"}}})
	require.NoError(t, err)
	f.drainEvents()

	require.NoError(t, k8s.Delete(ctx, f.get(oc)))
	f.reconcile(oc)
	reason := "OpenstackConfig " + f.ns + "/doomed was deleted"
	assert.Equal(t, map[string]string{"other": "", "worker-1": reason, "worker-2": reason, "worker-3": reason}, f.records())
	assert.Equal(t, []string{"worker-1", "worker-2", "worker-3"}, f.violaNodes())
	assert.Len(t, eventsWith(f.drainEvents(), "NodesOrphaned"), 1)
	err = k8s.Get(ctx, client.ObjectKeyFromObject(oc), &v1alpha1.OpenstackConfig{})
	assert.True(t, client.IgnoreNotFound(err) == nil && err != nil, "object is gone once the finalizer is removed")
}

// Under Delete the CR stays until Viola removed its nodes.
func TestDeletionWaitsForViolaUnderDelete(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	oc := f.config("doomed")
	oc.Spec.Settings.RemovalPolicy = v1alpha1.RemovalPolicyDelete
	f.create(oc)
	f.reconcile(oc)
	f.drainEvents()
	f.env.Viola.SetDeleteStatus(http.StatusServiceUnavailable)

	require.NoError(t, k8s.Delete(ctx, f.get(oc)))
	_, err := f.reconciler.Reconcile(ctx, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(oc)})
	require.Error(t, err, "requeued with back-off")
	assert.Contains(t, err.Error(), "ViolaDeleteError")
	warnings := eventsWith(f.drainEvents(), "ViolaDeleteError")
	require.Len(t, warnings, 1)
	assert.Contains(t, warnings[0], "set settings.removalPolicy to Orphan to leave them instead")
	assert.Contains(t, f.get(oc).Finalizers, "multinic.example.com/inventory")
	assert.Len(t, f.records(), 3)

	f.env.Viola.SetDeleteStatus(0)
	f.reconcile(oc)
	assert.Empty(t, f.records())
	assert.Empty(t, f.violaNodes())
	assert.Len(t, eventsWith(f.drainEvents(), "NodesRemoved"), 1)
	err = k8s.Get(ctx, client.ObjectKeyFromObject(oc), &v1alpha1.OpenstackConfig{})
	assert.True(t, client.IgnoreNotFound(err) == nil && err != nil)
}
