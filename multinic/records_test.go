package multinic_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/multinic/multinic/inventory"
	"github.com/multinic/multinic/multinic"
	"github.com/multinic/multinic/multinic/multinictest"
	"github.com/multinic/multinic/openstack/openstacktest"
	"github.com/multinic/multinic/viola"
)

func recordedNodes(store *inventory.Store, routingKey string) []string {
	var names []string
	for _, rec := range store.List(inventory.Filter{ProviderID: routingKey}) {
		names = append(names, rec.NodeName)
	}
	slices.Sort(names)
	return names
}

// orphanedNodes are the recorded nodes marked orphaned, with their reasons.
func orphanedNodes(store *inventory.Store, routingKey string) map[string]string {
	out := map[string]string{}
	for _, rec := range store.List(inventory.Filter{ProviderID: routingKey}) {
		if rec.Orphaned != nil {
			out[rec.NodeName] = rec.Orphaned.Reason
		}
	}
	return out
}

func removalNames(rs []multinic.NodeRemoval) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.NodeName)
	}
	return out
}

const vm4, vm5 = "00000000-0000-4000-8000-000000000004", "00000000-0000-4000-8000-000000000005"

// leavingSample is the sample plus worker-4 and worker-5, synced once, then
// changed so that every way a node leaves happens: worker-2 is renamed,
// worker-3 is gone from Nova, worker-4 and worker-5 leave the config but
// another config holds worker-5, and worker-1 loses its ports on the
// target subnets.
func leavingSample(t *testing.T, policy multinic.RemovalPolicy) (*multinictest.Env, *inventory.Store, multinic.Config) {
	t.Helper()
	env, sample := newEnv(t)
	cloud := env.OpenStack
	for i, vm := range []string{vm4, vm5} {
		cloud.AddVM(openstacktest.VM{ID: vm, Name: []string{"worker-4", "worker-5"}[i]})
		cloud.AddPort(openstacktest.Port{ID: "port-a-" + vm, NetworkID: "net-a", DeviceID: vm, Status: "ACTIVE",
			MACAddress: []string{"fa:16:3e:0a:00:04", "fa:16:3e:0a:00:05"}[i], FixedIPs: []openstacktest.FixedIP{{SubnetID: "subnet-a", IPAddress: []string{"10.10.0.14", "10.10.0.15"}[i]}}})
	}
	store := openInventory(t)
	cfg := env.Config(append(slices.Clone(sample.VMIDs), vm4, vm5), sample.SubnetA, sample.SubnetB)
	cfg.Inventory = store
	cfg.RemovalPolicy = policy
	first, err := multinic.Sync(context.Background(), cfg)
	require.NoError(t, err)
	require.Len(t, first.Sent, 5)
	require.Equal(t, []string{"worker-1", "worker-2", "worker-3", "worker-4", "worker-5"}, recordedNodes(store, cfg.RoutingKey()))

	require.True(t, cloud.UpdateVM(sample.VMIDs[1], func(v *openstacktest.VM) { v.Name, v.Hostname = "worker-2b", "worker-2b" }))
	require.True(t, cloud.RemoveVM(sample.VMIDs[2]))
	require.True(t, cloud.RemovePort("port-a-1"))
	require.True(t, cloud.RemovePort("port-b-1"))
	cfg.VMIDs = sample.VMIDs
	cfg.HeldByOthers = []string{vm5}
	return env, store, cfg
}

var leavingReasons = map[string]string{
	"worker-1": "VM 00000000-0000-4000-8000-000000000001 has no port on a target subnet any more",
	"worker-2": "VM 00000000-0000-4000-8000-000000000002 is now node worker-2b",
	"worker-3": "VM 00000000-0000-4000-8000-000000000003 is gone from Nova",
	"worker-4": "VM 00000000-0000-4000-8000-000000000004 is no longer listed",
}

// Under the default policy a node that leaves stays in the Biz cluster and
// its record stays, marked orphaned: the inventory keeps telling what the
// Biz side holds. The pass that lets it go reports it; later passes do not.
func TestSyncOrphansNodesThatLeave(t *testing.T) {
	env, store, cfg := leavingSample(t, "")
	ctx := context.Background()
	cfg.DryRun = true
	plan, err := multinic.Sync(ctx, cfg)
	require.NoError(t, err)
	assert.Equal(t, map[string]multinic.Change{
		"worker-1": multinic.ChangeOrphaned, "worker-2": multinic.ChangeOrphaned, "worker-2b": multinic.ChangeNew,
		"worker-3": multinic.ChangeOrphaned, "worker-4": multinic.ChangeOrphaned, "worker-5": multinic.ChangeKept,
	}, changesOf(plan.Diff))

	cfg.DryRun = false
	res, err := multinic.Sync(ctx, cfg)
	require.NoError(t, err)
	assert.Equal(t, []string{"worker-1", "worker-2", "worker-3", "worker-4"}, removalNames(res.OrphanedNodes))
	for _, n := range res.OrphanedNodes {
		assert.Equal(t, leavingReasons[n.NodeName], n.Reason)
	}
	assert.Empty(t, res.RemovedNodes)
	assert.Zero(t, res.Removed)
	assert.NoError(t, res.RemoveErr)
	assert.Empty(t, env.Viola.Deletes(), "nothing torn down")
	assert.Len(t, env.Viola.Nodes(cfg.RoutingKey()), 6, "the Biz cluster keeps every config")
	assert.Equal(t, []string{"worker-1", "worker-2", "worker-2b", "worker-3", "worker-4", "worker-5"}, recordedNodes(store, cfg.RoutingKey()),
		"the inventory matches the Biz side")
	assert.Equal(t, leavingReasons, orphanedNodes(store, cfg.RoutingKey()))

	again, err := multinic.Sync(ctx, cfg)
	require.NoError(t, err)
	assert.Empty(t, again.OrphanedNodes, "reported once")
	assert.Equal(t, leavingReasons, orphanedNodes(store, cfg.RoutingKey()))

	// worker-4 comes back: sent again (though unchanged), it is the config's again.
	cfg.VMIDs = append(cfg.VMIDs, vm4)
	back, err := multinic.Sync(ctx, cfg)
	require.NoError(t, err)
	assert.Equal(t, []string{"worker-4"}, back.Sent)
	assert.Empty(t, back.Changed, "the config is what the Biz cluster holds")
	assert.NotContains(t, orphanedNodes(store, cfg.RoutingKey()), "worker-4")
}

// Under Delete a node that leaves is removed at Viola (the agent cleans the
// node up) and its record goes.
func TestSyncDeletesNodesThatLeave(t *testing.T) {
	env, store, cfg := leavingSample(t, multinic.RemovalDelete)
	ctx := context.Background()
	cfg.DryRun = true
	plan, err := multinic.Sync(ctx, cfg)
	require.NoError(t, err)
	assert.Equal(t, map[string]multinic.Change{
		"worker-1": multinic.ChangeRemoved, "worker-2": multinic.ChangeRemoved, "worker-2b": multinic.ChangeNew,
		"worker-3": multinic.ChangeRemoved, "worker-4": multinic.ChangeRemoved, "worker-5": multinic.ChangeKept,
	}, changesOf(plan.Diff))
	assert.Empty(t, env.Viola.Deletes(), "a dry run deletes nothing")

	cfg.DryRun = false
	res, err := multinic.Sync(ctx, cfg)
	require.NoError(t, err)
	assert.Equal(t, []string{"worker-1", "worker-2", "worker-3", "worker-4"}, removalNames(res.RemovedNodes))
	assert.Empty(t, res.OrphanedNodes)
	assert.Equal(t, 4, res.Removed)
	var deleted []string
	for _, d := range env.Viola.Deletes() {
		assert.Equal(t, cfg.RoutingKey(), d.ProviderID)
		deleted = append(deleted, d.NodeName)
	}
	slices.Sort(deleted)
	assert.Equal(t, []string{"worker-1", "worker-2", "worker-3", "worker-4"}, deleted)
	assert.Equal(t, []string{"worker-2b", "worker-5"}, recordedNodes(store, cfg.RoutingKey()))
	held := slices.Sorted(func(yield func(string) bool) {
		for name := range env.Viola.Nodes(cfg.RoutingKey()) {
			if !yield(name) {
				return
			}
		}
	})
	assert.Equal(t, []string{"worker-2b", "worker-5"}, held, "the inventory matches the Biz side")

	again, err := multinic.Sync(ctx, cfg)
	require.NoError(t, err)
	assert.Empty(t, again.RemovedNodes)
	assert.Len(t, env.Viola.Deletes(), 4, "nothing is deleted twice")
}

// A Viola that cannot remove configs (405/501) leaves the node orphaned,
// reported once and not retried every pass; one that fails is retried.
func TestSyncWhenViolaCannotOrFailsToDelete(t *testing.T) {
	t.Run("405", func(t *testing.T) {
		env, store, cfg := leavingSample(t, multinic.RemovalDelete)
		env.Viola.SetDeleteStatus(http.StatusMethodNotAllowed)
		res, err := multinic.Sync(context.Background(), cfg)
		require.NoError(t, err)
		assert.Empty(t, res.RemovedNodes)
		require.Len(t, res.OrphanedNodes, 4)
		assert.Contains(t, res.OrphanedNodes[0].Detail, "this Viola cannot remove node configs: HTTP 405")
		assert.Equal(t, leavingReasons["worker-1"]+"; Viola cannot remove node configs", orphanedNodes(store, cfg.RoutingKey())["worker-1"])
		assert.Equal(t, "2 VMs skipped", res.Degradation(), "worker-1 and worker-3 are still listed; an orphan is an outcome, not a failure")
		rejected := env.Viola.Rejected()

		again, err := multinic.Sync(context.Background(), cfg)
		require.NoError(t, err)
		assert.Empty(t, again.OrphanedNodes, "reported once")
		assert.Equal(t, rejected, env.Viola.Rejected(), "not retried every pass")
	})
	t.Run("500", func(t *testing.T) {
		env, store, cfg := leavingSample(t, multinic.RemovalDelete)
		env.Viola.SetDeleteStatus(http.StatusInternalServerError)
		res, err := multinic.Sync(context.Background(), cfg)
		require.NoError(t, err, "the nodes were sent; a failed removal degrades the pass")
		assert.Equal(t, []string{"worker-1", "worker-2", "worker-3", "worker-4"}, removalNames(res.RemovalFailures))
		assert.Contains(t, res.RemovalFailures[0].Detail, "HTTP 500")
		assert.Equal(t, "2 VMs skipped, 4 node removals failed", res.Degradation())
		assert.Empty(t, orphanedNodes(store, cfg.RoutingKey()))
		assert.Contains(t, recordedNodes(store, cfg.RoutingKey()), "worker-4", "kept for the next try")

		env.Viola.SetDeleteStatus(0)
		again, err := multinic.Sync(context.Background(), cfg)
		require.NoError(t, err)
		assert.Equal(t, []string{"worker-1", "worker-2", "worker-3", "worker-4"}, removalNames(again.RemovedNodes))
		assert.Equal(t, []string{"worker-2b", "worker-5"}, recordedNodes(store, cfg.RoutingKey()))
	})
}

// A node whose port on a target subnet is merely not ACTIVE or DOWN, or
// whose subnet has no usable MTU, still has its port: it does not leave.
func TestSyncKeepsNodesThatStillHaveTargetPorts(t *testing.T) {
	env, sample, store, cfg := synced(t)
	cfg.RemovalPolicy = multinic.RemovalDelete
	require.True(t, env.OpenStack.UpdatePort("port-a-3", func(p *openstacktest.Port) { p.Status = "ERROR" }))
	env.OpenStack.AddNetwork(openstacktest.Network{ID: "net-a", Name: "biz-a", MTU: 0})
	res, err := multinic.Sync(context.Background(), cfg)
	require.NoError(t, err)
	assert.Empty(t, res.RemovedNodes)
	assert.Empty(t, res.OrphanedNodes)
	assert.Empty(t, env.Viola.Deletes())
	assert.Equal(t, sample.NodeNames, recordedNodes(store, cfg.RoutingKey()))
}

// brokenRemoval records as a store does but cannot remove.
type brokenRemoval struct{ *inventory.Store }

func (brokenRemoval) PruneNodes(string, func(string, string) bool) (int, error) {
	return 0, errors.New("read-only file system")
}

func (brokenRemoval) MarkOrphaned(string, ...inventory.OrphanMark) (int, error) {
	return 0, errors.New("read-only file system")
}

// A removal that fails leaves the pass a success: the nodes were sent and
// recorded, and the next pass tries again.
func TestSyncReportsAFailedRemovalWithoutFailing(t *testing.T) {
	env, sample, store, cfg := synced(t)
	cfg.Inventory = brokenRemoval{store}
	cfg.VMIDs = sample.VMIDs[:2]
	res, err := multinic.Sync(context.Background(), cfg)
	require.NoError(t, err)
	assert.Equal(t, multinic.ReasonInventory, multinic.ReasonOf(res.RemoveErr))
	assert.ErrorContains(t, res.RemoveErr, "read-only file system")
	assert.Len(t, env.Viola.Posts(), 1, "nothing changed for the VMs still listed")

	_, err = multinic.RemoveRecords(cfg)
	assert.Equal(t, multinic.ReasonInventory, multinic.ReasonOf(err))
}

// An inventory that cannot mark orphans forgets them, so the inventory
// never reports a node as a config's that no config keeps.
func TestSyncForgetsOrphansWithoutAMarker(t *testing.T) {
	_, sample, store, cfg := synced(t)
	cfg.Inventory = unmarked{store}
	cfg.VMIDs = sample.VMIDs[:2]
	res, err := multinic.Sync(context.Background(), cfg)
	require.NoError(t, err)
	assert.Equal(t, []string{"worker-3"}, removalNames(res.OrphanedNodes))
	assert.Equal(t, []string{"worker-1", "worker-2"}, recordedNodes(store, cfg.RoutingKey()))
}

// unmarked is an Inventory without MarkOrphaned.
type unmarked struct{ store *inventory.Store }

func (u unmarked) List(f inventory.Filter) []inventory.Record { return u.store.List(f) }
func (u unmarked) Upsert(key string, configs ...viola.NodeConfig) (int, error) {
	return u.store.Upsert(key, configs...)
}
func (u unmarked) PruneNodes(key string, keep func(string, string) bool) (int, error) {
	return u.store.PruneNodes(key, keep)
}

// RemoveRecords only forgets, keeping the records of VMs other configs hold.
func TestRemoveRecordsKeepsWhatOthersHold(t *testing.T) {
	_, sample, store, cfg := synced(t)
	cfg.Peers = []multinic.Peer{{Name: "ns/other", VMIDs: sample.VMIDs[2:]}}
	n, err := multinic.RemoveRecords(cfg)
	require.NoError(t, err)
	assert.Equal(t, 2, n)
	assert.Equal(t, []string{"worker-3"}, recordedNodes(store, cfg.RoutingKey()))
}
