package multinic_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/multinic/multinic/inventory"
	"github.com/multinic/multinic/multinic"
	"github.com/multinic/multinic/openstack/openstacktest"
)

func recordedNodes(store *inventory.Store, routingKey string) []string {
	var names []string
	for _, rec := range store.List(inventory.Filter{ProviderID: routingKey}) {
		names = append(names, rec.NodeName)
	}
	slices.Sort(names)
	return names
}

// Sync owns the inventory: after a pass that succeeded it removes exactly
// the records its Diff calls removed, and keeps those of VMs another config
// holds and of VMs that merely produced no node this time.
func TestSyncRemovesTheRecordsItsDiffCallsRemoved(t *testing.T) {
	const vm4, vm5 = "00000000-0000-4000-8000-000000000004", "00000000-0000-4000-8000-000000000005"
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
	ctx := context.Background()
	first, err := multinic.Sync(ctx, cfg)
	require.NoError(t, err)
	assert.Zero(t, first.Removed)
	require.Equal(t, []string{"worker-1", "worker-2", "worker-3", "worker-4", "worker-5"}, recordedNodes(store, cfg.RoutingKey()))

	// worker-2 is renamed (server and guest), worker-3 unknown to Nova for now, worker-4 and
	// worker-5 leave the config, but another config holds worker-5.
	require.True(t, cloud.UpdateVM(sample.VMIDs[1], func(v *openstacktest.VM) { v.Name, v.Hostname = "worker-2b", "worker-2b" }))
	require.True(t, cloud.RemoveVM(sample.VMIDs[2]))
	cfg.VMIDs = sample.VMIDs
	cfg.HeldByOthers = []string{vm5}
	cfg.DryRun = true
	plan, err := multinic.Sync(ctx, cfg)
	require.NoError(t, err)
	assert.Equal(t, map[string]multinic.Change{
		"worker-1": multinic.ChangeUnchanged, "worker-2": multinic.ChangeRemoved, "worker-2b": multinic.ChangeNew,
		"worker-3": multinic.ChangeKept, "worker-4": multinic.ChangeRemoved, "worker-5": multinic.ChangeKept,
	}, changesOf(plan.Diff))

	cfg.DryRun = false
	res, err := multinic.Sync(ctx, cfg)
	require.NoError(t, err)
	assert.Equal(t, 2, res.Removed, "worker-2's old name and worker-4")
	assert.NoError(t, res.RemoveErr)
	assert.Equal(t, []string{"worker-1", "worker-2b", "worker-3", "worker-5"}, recordedNodes(store, cfg.RoutingKey()))

	// The config goes away: its VMs' records go, but not the one another
	// config holds.
	n, err := multinic.RemoveRecords(cfg)
	require.NoError(t, err)
	assert.Equal(t, 3, n)
	assert.Equal(t, []string{"worker-5"}, recordedNodes(store, cfg.RoutingKey()))
}

// brokenRemoval records as a store does but cannot remove.
type brokenRemoval struct{ *inventory.Store }

func (brokenRemoval) PruneNodes(string, func(string, string) bool) (int, error) {
	return 0, errors.New("read-only file system")
}

// A removal that fails leaves the pass a success: the nodes were sent and
// recorded, and the next pass removes the records.
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
