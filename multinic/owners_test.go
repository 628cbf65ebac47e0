package multinic_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/multinic/multinic/multinic"
	"github.com/multinic/multinic/openstack/openstacktest"
)

func postsOf(names []string, name string) int {
	n := 0
	for _, s := range names {
		if s == name {
			n++
		}
	}
	return n
}

// Two configs of one routing key select the same VM: the older keeps it,
// the younger leaves it out with the owner's name, and passes of the two,
// alternating, never take turns sending it.
func TestOneOwnerPerVM(t *testing.T) {
	env, sample := newEnv(t)
	store := openInventory(t)
	ctx := context.Background()
	older := env.Config(sample.VMIDs[:2], sample.SubnetA, sample.SubnetB) // worker-1 and 2, A and B
	older.Inventory = store
	younger := env.Config(sample.VMIDs[1:], sample.SubnetA) // worker-2 and 3, A only
	younger.Inventory = store
	older.Peers = []multinic.Peer{{Name: "ns/younger", VMIDs: younger.VMIDs}}
	younger.Peers = []multinic.Peer{{Name: "ns/older", Prior: true, VMIDs: older.VMIDs}}

	syncer := new(multinic.Syncer)
	for round := range 10 {
		res, err := syncer.Sync(ctx, younger)
		require.NoError(t, err)
		require.Len(t, res.Skipped, 1, "round %d", round)
		assert.Equal(t, multinic.SkippedVM{InstanceID: sample.VMIDs[1], Reason: "claimed by ns/older"}, res.Skipped[0])
		_, err = syncer.Sync(ctx, older)
		require.NoError(t, err)
	}
	sent := sentNames(env)
	assert.Equal(t, 1, postsOf(sent, "worker-2"), "one POST of the contested node in 20 passes: %v", sent)
	assert.Equal(t, 1, postsOf(sent, "worker-1"))
	assert.Equal(t, 1, postsOf(sent, "worker-3"))
	held := env.Viola.Nodes(older.RoutingKey())["worker-2"]
	assert.Len(t, held.Interfaces, 2, "the owner's interface list (A and B), not the other's")

	// The owner goes away: its own node is orphaned, the shared one handed
	// over, and the other config takes it, sending its own list.
	older.Peers = []multinic.Peer{{Name: "ns/younger", VMIDs: younger.VMIDs}}
	rel, err := syncer.Release(ctx, older, "ns/older was deleted")
	require.NoError(t, err)
	assert.Equal(t, []string{"worker-1"}, removalNames(rel.OrphanedNodes))
	younger.Peers = nil
	res, err := syncer.Sync(ctx, younger)
	require.NoError(t, err)
	assert.Equal(t, []string{"worker-2"}, res.Changed)
	assert.Len(t, env.Viola.Nodes(older.RoutingKey())["worker-2"].Interfaces, 1)
	assert.Empty(t, res.OrphanedNodes, "worker-1 was orphaned by its own config, not again")
}

// When the owner goes away with an unchanged node, the other config takes
// it over without a POST: the Biz side already holds that config.
func TestTakeoverOfAnIdenticalNodeSendsNothing(t *testing.T) {
	env, sample := newEnv(t)
	store := openInventory(t)
	ctx := context.Background()
	older := env.Config(sample.VMIDs, sample.SubnetA, sample.SubnetB)
	older.Inventory = store
	younger := older
	younger.Peers = []multinic.Peer{{Name: "ns/older", Prior: true, VMIDs: older.VMIDs}}
	older.Peers = []multinic.Peer{{Name: "ns/younger", VMIDs: younger.VMIDs}}
	_, err := multinic.Sync(ctx, older)
	require.NoError(t, err)
	res, err := multinic.Sync(ctx, younger)
	require.NoError(t, err)
	assert.Len(t, res.Skipped, 3)

	// The owner is deleted: Release leaves the shared nodes for the other.
	older.RemovalPolicy = multinic.RemovalDelete
	rel, err := multinic.Release(ctx, older, "ns/older was deleted")
	require.NoError(t, err)
	assert.Empty(t, rel.RemovedNodes, "nodes another config selects are handed over, never deleted")
	assert.Empty(t, env.Viola.Deletes())

	younger.Peers = nil
	res, err = multinic.Sync(ctx, younger)
	require.NoError(t, err)
	assert.Empty(t, res.Sent, "the other config's nodes are what the Biz side holds")
	assert.Len(t, res.Nodes, 3)
	assert.Len(t, env.Viola.Posts(), 1)
}

// Two configs whose different VMs yield the same node name: the node is the
// older config's, and the younger leaves its VM out.
func TestOneOwnerPerNodeName(t *testing.T) {
	env, sample := newEnv(t)
	const other = "00000000-0000-4000-8000-0000000000aa"
	env.OpenStack.AddVM(openstacktest.VM{ID: other, Name: "worker-1"})
	env.OpenStack.AddPort(openstacktest.Port{ID: "port-other", NetworkID: "net-a", DeviceID: other, Status: "ACTIVE",
		MACAddress: "fa:16:3e:0a:00:aa", FixedIPs: []openstacktest.FixedIP{{SubnetID: "subnet-a", IPAddress: "10.10.0.99"}}})
	store := openInventory(t)
	ctx := context.Background()
	older := env.Config(sample.VMIDs[:1], sample.SubnetA)
	older.Inventory = store
	younger := env.Config([]string{other}, sample.SubnetA)
	younger.Inventory = store
	older.Peers = []multinic.Peer{{Name: "ns/younger", VMIDs: younger.VMIDs}}
	younger.Peers = []multinic.Peer{{Name: "ns/older", Prior: true, VMIDs: older.VMIDs}}

	for range 5 {
		_, err := multinic.Sync(ctx, older)
		require.NoError(t, err)
		res, err := multinic.Sync(ctx, younger)
		require.NoError(t, err)
		require.Len(t, res.Skipped, 1)
		assert.Equal(t, `claimed by ns/older (node name "worker-1" is its VM `+sample.VMIDs[0]+`'s)`, res.Skipped[0].Reason)
	}
	assert.Equal(t, []string{"worker-1"}, sentNames(env))
	assert.Equal(t, sample.VMIDs[0], env.Viola.Nodes(older.RoutingKey())["worker-1"].InstanceID)
}

// A DOWN port never sent is held for the grace period and sent once it is
// ACTIVE; after the grace period it is sent anyway. A port sent before that
// goes DOWN is not held.
func TestDownPortGracePeriod(t *testing.T) {
	env, sample := newEnv(t)
	store := openInventory(t)
	ctx := context.Background()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	cfg := env.Config(sample.VMIDs, sample.SubnetA, sample.SubnetB)
	cfg.Inventory = store
	cfg.DownPortGracePeriod = 2 * time.Minute
	cfg.Now = func() time.Time { return now }

	first, err := multinic.Sync(ctx, cfg)
	require.NoError(t, err)
	require.Len(t, first.HeldPorts, 1)
	held := first.HeldPorts[0]
	assert.Equal(t, multinic.HeldPort{NodeName: "worker-2", InstanceID: sample.VMIDs[1], PortID: sample.DownPort, MACAddress: "fa:16:3e:0b:00:02",
		FirstSeen: now, Until: now.Add(2 * time.Minute)}, held)
	assert.Len(t, node(t, first.Nodes, "worker-2").Interfaces, 1, "worker-2 goes out with its ACTIVE port only")
	assert.Empty(t, first.DownPorts, "a held port is not sent")
	assert.Empty(t, first.Degradation(), "holding is not a failure")

	// A minute later, still DOWN: still held, from the first sighting.
	now = now.Add(time.Minute)
	cfg.DownPortsFirstSeen = map[string]time.Time{held.PortID: held.FirstSeen}
	res, err := multinic.Sync(ctx, cfg)
	require.NoError(t, err)
	require.Len(t, res.HeldPorts, 1)
	assert.Equal(t, held.FirstSeen, res.HeldPorts[0].FirstSeen)
	assert.Empty(t, res.Sent)

	// ACTIVE now: sent at once, a spec change the agent acts on.
	require.True(t, env.OpenStack.UpdatePort(sample.DownPort, func(p *openstacktest.Port) { p.Status = "ACTIVE" }))
	res, err = multinic.Sync(ctx, cfg)
	require.NoError(t, err)
	assert.Empty(t, res.HeldPorts)
	assert.Equal(t, []string{"worker-2"}, res.Changed)
	assert.Len(t, node(t, res.Nodes, "worker-2").Interfaces, 2)

	// Sent before, it goes DOWN: not held, the node keeps its interface.
	require.True(t, env.OpenStack.UpdatePort(sample.DownPort, func(p *openstacktest.Port) { p.Status = "DOWN" }))
	res, err = multinic.Sync(ctx, cfg)
	require.NoError(t, err)
	assert.Empty(t, res.HeldPorts)
	assert.Empty(t, res.Changed)
	assert.Len(t, res.DownPorts, 1)
}

func TestDownPortGracePeriodEnds(t *testing.T) {
	env, sample := newEnv(t)
	ctx := context.Background()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	cfg := env.Config(sample.VMIDs, sample.SubnetA, sample.SubnetB)
	cfg.Inventory = openInventory(t)
	cfg.DownPortGracePeriod = 2 * time.Minute
	cfg.Now = func() time.Time { return now }
	cfg.DownPortsFirstSeen = map[string]time.Time{sample.DownPort: now.Add(-2 * time.Minute)}
	res, err := multinic.Sync(ctx, cfg)
	require.NoError(t, err)
	assert.Empty(t, res.HeldPorts, "the grace period is over: sent though DOWN")
	assert.Len(t, node(t, res.Nodes, "worker-2").Interfaces, 2)
	assert.Len(t, res.DownPorts, 1)

	// A VM whose only port is held sends nothing yet, and is not skipped.
	require.True(t, env.OpenStack.RemovePort("port-a-3"))
	env.OpenStack.AddPort(openstacktest.Port{ID: "port-new-3", NetworkID: "net-a", DeviceID: sample.VMIDs[2], Status: "DOWN",
		MACAddress: "fa:16:3e:0a:00:77", FixedIPs: []openstacktest.FixedIP{{SubnetID: "subnet-a", IPAddress: "10.10.0.77"}}})
	cfg.VMIDs = sample.VMIDs[2:]
	cfg.Inventory = openInventory(t)
	res, err = multinic.Sync(ctx, cfg)
	require.NoError(t, err)
	assert.Empty(t, res.Nodes)
	assert.Empty(t, res.Skipped)
	require.Len(t, res.HeldPorts, 1)
	assert.Equal(t, "worker-3", res.HeldPorts[0].NodeName)

	// Zero sends at once.
	cfg.DownPortGracePeriod = 0
	res, err = multinic.Sync(ctx, cfg)
	require.NoError(t, err)
	assert.Empty(t, res.HeldPorts)
	assert.Len(t, res.Nodes, 1)
}

// Release follows the policy for the config's own nodes, and hands the
// nodes of VMs other configs select over to them.
func TestRelease(t *testing.T) {
	for _, policy := range []multinic.RemovalPolicy{multinic.RemovalOrphan, multinic.RemovalDelete} {
		t.Run(string(policy), func(t *testing.T) {
			env, sample, store, cfg := synced(t)
			cfg.RemovalPolicy = policy
			cfg.Peers = []multinic.Peer{{Name: "ns/other", VMIDs: sample.VMIDs[2:]}}
			res, err := multinic.Release(context.Background(), cfg, "OpenstackConfig ns/cfg was deleted")
			require.NoError(t, err)
			var want []string
			if policy == multinic.RemovalDelete {
				want = removalNames(res.RemovedNodes)
				assert.Empty(t, res.OrphanedNodes)
				assert.Len(t, env.Viola.Deletes(), 2)
				assert.Equal(t, []string{"worker-3"}, recordedNodes(store, cfg.RoutingKey()))
			} else {
				want = removalNames(res.OrphanedNodes)
				assert.Empty(t, env.Viola.Deletes())
				assert.Equal(t, map[string]string{"worker-1": "OpenstackConfig ns/cfg was deleted", "worker-2": "OpenstackConfig ns/cfg was deleted"},
					orphanedNodes(store, cfg.RoutingKey()))
			}
			assert.Equal(t, []string{"worker-1", "worker-2"}, want)

			again, err := multinic.Release(context.Background(), cfg, "again")
			require.NoError(t, err)
			assert.Empty(t, again.RemovedNodes)
			assert.Empty(t, again.OrphanedNodes, "a second Release finds nothing left to do")
		})
	}
}

func TestReleaseFailsWhileViolaFails(t *testing.T) {
	env, _, store, cfg := synced(t)
	cfg.RemovalPolicy = multinic.RemovalDelete
	env.Viola.SetDeleteStatus(http.StatusServiceUnavailable)
	res, err := multinic.Release(context.Background(), cfg, "deleted")
	require.Error(t, err)
	assert.Equal(t, multinic.ReasonViolaDelete, multinic.ReasonOf(err))
	assert.Contains(t, err.Error(), "remove node worker-1 at Viola (3 of 3 removals failed): viola: DELETE node-config")
	assert.Len(t, res.RemovalFailures, 3)
	assert.Len(t, recordedNodes(store, cfg.RoutingKey()), 3, "kept for the next try")

	env.Viola.SetDeleteStatus(http.StatusNotImplemented)
	res, err = multinic.Release(context.Background(), cfg, "deleted")
	require.NoError(t, err, "a Viola that cannot remove leaves the nodes orphaned")
	assert.Len(t, res.OrphanedNodes, 3)
}

func TestConfigRefusesABadRemovalPolicyAndGracePeriod(t *testing.T) {
	env, sample := newEnv(t)
	cfg := env.Config(sample.VMIDs, sample.SubnetA)
	cfg.RemovalPolicy = "Remove"
	cfg.DownPortGracePeriod = -time.Second
	err := cfg.ValidateSettings()
	require.Error(t, err)
	assert.Contains(t, err.Error(), `Config.RemovalPolicy must be Orphan or Delete, got "Remove"`)
	assert.Contains(t, err.Error(), "Config.DownPortGracePeriod must not be negative, got -1s")
}
