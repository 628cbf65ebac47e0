package controller_test

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/multinic/multinic/multinic"
	"github.com/multinic/multinic/multinic/multinictest"
	"github.com/multinic/multinic/openstack/openstacktest"
	"github.com/multinic/multinic/operator/api/v1alpha1"
	"github.com/multinic/multinic/viola"
)

// A pass that would change nothing in status but lastSyncedAt writes
// nothing while the stored time is within the fast window; anything else,
// and a lastSyncedAt that old, is written at once.
func TestUnchangedPassWritesStatusOncePerFastWindow(t *testing.T) {
	f := newFixture(t)
	f.env.OpenStack.UpdatePort(f.sample.DownPort, func(p *openstacktest.Port) { p.Status = "ACTIVE" })
	oc := f.create(f.config("quiet"))
	f.reconcile(oc) // Synced at t0

	f.clock.Step(20 * time.Second)
	f.reconcile(oc)
	got := f.get(oc)
	assert.Equal(t, v1alpha1.ReasonNoChange, meta.FindStatusCondition(got.Status.Conditions, v1alpha1.ConditionReady).Reason,
		"Ready's reason changed, so this pass is written")
	assert.True(t, got.Status.LastSyncedAt.Time.Equal(t0.Add(20*time.Second)))
	version := got.ResourceVersion

	for range 8 { // the rest of the 3m fast window, every 20s
		f.clock.Step(20 * time.Second)
		f.reconcile(oc)
		assert.Equal(t, version, f.get(oc).ResourceVersion, "nothing but the time changed: no write at %s", f.clock.Now().Sub(t0))
	}
	f.clock.Step(20 * time.Second) // lastSyncedAt is now 3m old
	f.reconcile(oc)
	got = f.get(oc)
	assert.NotEqual(t, version, got.ResourceVersion)
	assert.True(t, got.Status.LastSyncedAt.Time.Equal(f.clock.Now()), "lastSyncedAt refreshed once it is a fast window old")
	version = got.ResourceVersion

	// A failure is news however recent the last write.
	f.clock.Step(20 * time.Second)
	f.env.Contrabass.Fail(http.StatusBadGateway, -1)
	f.reconcile(oc)
	got = f.get(oc)
	require.NotEqual(t, version, got.ResourceVersion)
	assert.False(t, meta.IsStatusConditionTrue(got.Status.Conditions, v1alpha1.ConditionReady))
	version = got.ResourceVersion

	// The same failure again changes nothing, so nothing is written.
	f.clock.Step(30 * time.Second)
	f.reconcile(oc)
	assert.Equal(t, version, f.get(oc).ResourceVersion, "a repeated identical failure writes nothing")

	f.env.Contrabass.ClearFaults()
	f.clock.Step(30 * time.Second)
	f.reconcile(oc)
	assert.True(t, meta.IsStatusConditionTrue(f.get(oc).Status.Conditions, v1alpha1.ConditionReady), "recovery is written at once")
}

// A dependency answering with a 100 KiB page must still leave a Ready=False
// condition on the real API server (a condition message over 32768 bytes
// is refused, and with it the whole status), and a bounded event.
func TestHugeDependencyErrorStillYieldsACondition(t *testing.T) {
	f := newFixture(t)
	page := "<html><body>" + strings.Repeat("<p>Internal Server Error\n</p>", 4000) + "</body></html>"
	require.Greater(t, len(page), 100<<10)
	f.pointKeystoneAt(hostileKeystone(t, http.StatusInternalServerError, page, false))
	oc := f.create(f.config("huge-error"))
	f.reconcile(oc)

	got := f.get(oc)
	ready, degraded := readyCondition(t, got)
	assert.Equal(t, metav1.ConditionFalse, ready.Status)
	assert.Equal(t, "KeystoneError", ready.Reason)
	assert.Equal(t, metav1.ConditionTrue, degraded.Status)
	for name, msg := range map[string]string{"lastError": got.Status.LastError, "Ready": ready.Message, "Degraded": degraded.Message} {
		assert.LessOrEqual(t, len(msg), v1alpha1.MaxMessageLength+len("…"), name)
		assert.NotContains(t, msg, "\n", name)
		assert.Contains(t, msg, "KeystoneError", name)
	}
	evs := f.drainEvents()
	require.Len(t, evs, 1)
	assert.Less(t, len(evs[0]), 1100, "events.k8s.io refuses notes over 1 KiB")
}

// stubSyncer returns a canned pass, standing in for the library where a
// test needs a result the fakes cannot produce.
type stubSyncer struct {
	res multinic.Result
	err error
}

func (s stubSyncer) Sync(context.Context, multinic.Config) (multinic.Result, error) {
	return s.res, s.err
}

// However much the pass left out and however long the reasons, the status
// write fits: lists are capped (the Degraded message counts everything)
// and every string is cut.
func TestStatusWriteAlwaysFits(t *testing.T) {
	f := newFixture(t)
	huge := strings.Repeat("x", 100<<10)
	var res multinic.Result
	for i := range 5000 {
		id := fmt.Sprintf("vm-%04d", i)
		res.Skipped = append(res.Skipped, multinic.SkippedVM{InstanceID: id, NodeName: huge, Reason: huge})
		res.DroppedPorts = append(res.DroppedPorts, multinic.DroppedPort{InstanceID: id, PortID: huge, MACAddress: huge})
		res.SkippedSubnets = append(res.SkippedSubnets, multinic.SkippedSubnet{SubnetID: huge, NetworkID: huge, Reason: huge})
		res.RejectedNodes = append(res.RejectedNodes, multinic.RejectedNode{NodeName: huge, InstanceID: id, Reason: huge})
		res.LeftOutAddresses = append(res.LeftOutAddresses, multinic.LeftOutAddress{NodeName: huge, InstanceID: id, PortID: huge, SubnetID: huge, Address: huge, Reason: huge})
		res.NodeNameWarnings = append(res.NodeNameWarnings, multinic.NodeNameWarning{NodeName: huge, InstanceID: id, Reason: huge})
	}
	f.reconciler.Syncer = stubSyncer{res: res}
	oc := f.create(f.config("overflowing"))
	f.reconcile(oc)

	got := f.get(oc)
	ready, degraded := readyCondition(t, got)
	assert.Equal(t, metav1.ConditionTrue, ready.Status, "the pass completed")
	assert.Equal(t, metav1.ConditionTrue, degraded.Status)
	assert.Equal(t, v1alpha1.ReasonPartialSync, degraded.Reason)
	assert.Contains(t, degraded.Message, "5000 VMs skipped")
	assert.Contains(t, degraded.Message, "status.skippedVMs lists 20, and 4980 more")
	assert.Len(t, got.Status.SkippedVMs, v1alpha1.MaxStatusListItems)
	assert.Len(t, got.Status.DroppedPorts, v1alpha1.MaxStatusListItems)
	assert.Len(t, got.Status.SkippedSubnets, v1alpha1.MaxStatusListItems)
	assert.Len(t, got.Status.RejectedNodes, v1alpha1.MaxStatusListItems)
	assert.Len(t, got.Status.LeftOutAddresses, v1alpha1.MaxStatusListItems)
	assert.Len(t, got.Status.NodeNameWarnings, v1alpha1.MaxStatusListItems)
	assert.Contains(t, degraded.Message, "5000 addresses left out")
	assert.Contains(t, degraded.Message, "status.nodeNameWarnings lists 20, and 4980 more")
	assert.LessOrEqual(t, len(got.Status.SkippedVMs[0].Reason), v1alpha1.MaxReasonLength+len("…"))

	// A failure with a 100 KiB message, after all that.
	f.reconciler.Syncer = stubSyncer{err: &multinic.Error{Reason: multinic.ReasonNeutronPort, Err: fmt.Errorf("list ports: %s", huge)}}
	f.reconcile(oc)
	ready, _ = readyCondition(t, f.get(oc))
	assert.Equal(t, "NeutronPortError", ready.Reason)
	assert.LessOrEqual(t, len(ready.Message), v1alpha1.MaxMessageLength+len("…"))

	// An error that is not the library's is an InternalError, never blank.
	f.reconciler.Syncer = stubSyncer{err: fmt.Errorf("boom")}
	f.reconcile(oc)
	ready, _ = readyCondition(t, f.get(oc))
	assert.Equal(t, string(multinic.ReasonInternal), ready.Reason)
}

// Degraded says whether everything went through (Kubernetes conventions),
// not whether Ready is False: a pass that skipped a VM is Ready and Degraded.
func TestDegradedWhenThePassLeavesSomethingOut(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	oc := f.config("partial")
	const unknownVM = "0b0e0e0e-0000-4000-8000-00000000dead"
	oc.Spec.VMNames = append(oc.Spec.VMNames, unknownVM)
	f.create(oc)
	f.reconcile(oc)

	got := f.get(oc)
	ready, degraded := readyCondition(t, got)
	assert.Equal(t, metav1.ConditionTrue, ready.Status)
	assert.Equal(t, v1alpha1.ReasonSynced, ready.Reason)
	assert.Contains(t, ready.Message, "1 VM skipped")
	assert.Equal(t, metav1.ConditionTrue, degraded.Status)
	assert.Equal(t, v1alpha1.ReasonPartialSync, degraded.Reason)
	assert.Equal(t, "1 VM skipped", degraded.Message)
	require.Len(t, got.Status.SkippedVMs, 1)
	assert.Equal(t, unknownVM, got.Status.SkippedVMs[0].InstanceID)
	assert.Equal(t, "VM "+unknownVM+" is unknown to Nova (it answered 404): deleted, or not a server of project project-1", got.Status.SkippedVMs[0].Reason,
		"says what is wrong, not that the VM has no port")
	evs := f.drainEvents()
	assert.Len(t, evs, 2, "Synced, and a warning for what was left out: %v", evs)
	assert.Contains(t, strings.Join(evs, "\n"), "Warning PartialSync 1 VM skipped")

	f.clock.Step(time.Minute)
	f.reconcile(oc)
	for _, e := range f.drainEvents() {
		assert.NotContains(t, e, "PartialSync", "no repeat while nothing new is left out")
	}

	latest := f.get(oc)
	latest.Spec.VMNames = f.sample.VMIDs
	require.NoError(t, k8s.Update(ctx, latest))
	f.reconcile(oc)
	got = f.get(oc)
	_, degraded = readyCondition(t, got)
	assert.Equal(t, metav1.ConditionFalse, degraded.Status, degraded.Message)
	assert.Equal(t, v1alpha1.ReasonComplete, degraded.Reason)
	assert.Empty(t, got.Status.SkippedVMs)
}

// Issue 9 item 4: what the agent would ignore silently shows on the MGMT
// side: subnets without a usable MTU and rejected node configs.
func TestSkippedSubnetsAndRejectedNodesShowInStatus(t *testing.T) {
	f := newFixture(t)
	f.reconciler.Syncer = stubSyncer{res: multinic.Result{
		Nodes:          []viola.NodeConfig{{NodeName: "worker-1"}},
		Sent:           []string{"worker-1"},
		Changed:        []string{"worker-1"},
		SkippedSubnets: []multinic.SkippedSubnet{{SubnetID: "subnet-b", NetworkID: "net-b", Reason: "network net-b reports no MTU"}},
		RejectedNodes:  []multinic.RejectedNode{{NodeName: "worker-2", InstanceID: "vm-2", Reason: "interface multinic0: mtu 9100 is above 9000"}},
	}}
	oc := f.create(f.config("agent-facts"))
	f.reconcile(oc)
	got := f.get(oc)
	assert.Equal(t, []v1alpha1.SkippedSubnet{{SubnetID: "subnet-b", NetworkID: "net-b", Reason: "network net-b reports no MTU"}}, got.Status.SkippedSubnets)
	assert.Equal(t, []v1alpha1.RejectedNode{{NodeName: "worker-2", InstanceID: "vm-2", Reason: "interface multinic0: mtu 9100 is above 9000"}}, got.Status.RejectedNodes)
	_, degraded := readyCondition(t, got)
	assert.Equal(t, "1 node config rejected, 1 subnet without usable MTU", degraded.Message)
}

// SPEC §5, §7 on the real flow: what the node agent cannot serve, a target
// subnet that is gone, and a dotted node name show in status with counts
// (Degraded=PartialSync), while everything else goes out.
func TestAgentLimitsAndABadSubnetShowInStatus(t *testing.T) {
	f := newFixture(t)
	cloud := f.env.OpenStack
	// worker-1's port on A also has a second address; worker-3's guest is
	// called by an FQDN (an older Nova kept the dots).
	require.True(t, cloud.UpdatePort("port-a-1", func(p *openstacktest.Port) {
		p.FixedIPs = append(p.FixedIPs, openstacktest.FixedIP{SubnetID: f.sample.SubnetA, IPAddress: "10.10.0.31"})
	}))
	require.True(t, cloud.UpdateVM(f.sample.VMIDs[2], func(v *openstacktest.VM) { v.Hostname = "worker-3.biz.example" }))
	oc := f.config("agent-limits")
	oc.Spec.SubnetIDs = []string{f.sample.SubnetA, "subnet-deleted", f.sample.SubnetB}
	f.create(oc)
	f.reconcile(oc)

	got := f.get(oc)
	ready, degraded := readyCondition(t, got)
	assert.Equal(t, metav1.ConditionTrue, ready.Status, ready.Message)
	assert.Equal(t, v1alpha1.ReasonPartialSync, degraded.Reason)
	assert.Equal(t, "1 target subnet not found, 1 address left out (IPv6 or a port's extra fixed IP), 1 node name the agent serves only in part", degraded.Message)
	require.Len(t, got.Status.SkippedSubnets, 1)
	assert.Equal(t, "subnet-deleted", got.Status.SkippedSubnets[0].SubnetID)
	assert.Contains(t, got.Status.SkippedSubnets[0].Reason, `no subnet with ID "subnet-deleted"`)
	require.Len(t, got.Status.LeftOutAddresses, 1)
	assert.Equal(t, v1alpha1.LeftOutAddress{InstanceID: f.sample.VMIDs[0], NodeName: "worker-1", PortID: "port-a-1", SubnetID: f.sample.SubnetA, Address: "10.10.0.31",
		Reason: got.Status.LeftOutAddresses[0].Reason}, got.Status.LeftOutAddresses[0])
	assert.Contains(t, got.Status.LeftOutAddresses[0].Reason, "10.10.0.11 (subnet subnet-a) is sent")
	require.Len(t, got.Status.NodeNameWarnings, 1)
	assert.Equal(t, "worker-3.biz.example", got.Status.NodeNameWarnings[0].NodeName)
	assert.Equal(t, int32(3), got.Status.Nodes)
	assert.ElementsMatch(t, []string{"worker-1", "worker-2", "worker-3.biz.example"}, slices.Collect(maps.Keys(f.env.Viola.Nodes(multinictest.ProviderID))))
	rec, ok := f.store.Get(multinictest.ProviderID, "worker-1")
	require.True(t, ok)
	assert.Equal(t, "hostname", rec.NodeNameSource, "the inventory says where the name came from")
}
