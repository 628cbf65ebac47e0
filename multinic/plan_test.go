package multinic_test

import (
	"context"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/multinic/multinic/inventory"
	"github.com/multinic/multinic/multinic"
	"github.com/multinic/multinic/multinic/multinictest"
	"github.com/multinic/multinic/openstack/openstacktest"
	"github.com/multinic/multinic/viola"
)

// readOnly is an inventory that fails the test when written to.
type readOnly struct {
	t       *testing.T
	records []inventory.Record
}

func (r readOnly) List(f inventory.Filter) []inventory.Record {
	var out []inventory.Record
	for _, rec := range r.records {
		if f.ProviderID == "" || rec.ProviderID == f.ProviderID {
			out = append(out, rec)
		}
	}
	return out
}

func (r readOnly) Upsert(string, ...viola.NodeConfig) (int, error) {
	r.t.Error("a dry run wrote to the inventory")
	return 0, nil
}

func (r readOnly) PruneNodes(string, func(string, string) bool) (int, error) {
	r.t.Error("a dry run removed records from the inventory")
	return 0, nil
}

func changesOf(diff []multinic.NodeDiff) map[string]multinic.Change {
	out := map[string]multinic.Change{}
	for _, d := range diff {
		out[d.NodeName] = d.Change
	}
	return out
}

func dueOf(diff []multinic.NodeDiff) []string {
	var out []string
	for _, d := range diff {
		if d.Due {
			out = append(out, d.NodeName)
		}
	}
	return out
}

func TestDryRunSendsAndWritesNothingButBuildsTheSameNodes(t *testing.T) {
	env, sample := newEnv(t)
	store := openInventory(t)
	before, err := os.ReadFile(store.Path())
	require.NoError(t, err)
	cfg := env.Config(sample.VMIDs, sample.SubnetA, sample.SubnetB)
	cfg.Inventory = store
	cfg.DryRun = true
	ctx := context.Background()

	plan, err := multinic.Sync(ctx, cfg)
	require.NoError(t, err)
	assert.Empty(t, env.Viola.Posts(), "a dry run never POSTs")
	after, err := os.ReadFile(store.Path())
	require.NoError(t, err)
	assert.Equal(t, string(before), string(after), "a dry run never writes the inventory")
	assert.Empty(t, plan.Sent)
	assert.Empty(t, plan.Changed)
	assert.Equal(t, map[string]multinic.Change{"worker-1": multinic.ChangeNew, "worker-2": multinic.ChangeNew, "worker-3": multinic.ChangeNew}, changesOf(plan.Diff))
	assert.Equal(t, "DOWN", plan.PortStatuses[sample.DownPort])
	assert.Equal(t, "ACTIVE", plan.PortStatuses["port-a-1"])

	cfg.DryRun = false
	pass, err := multinic.Sync(ctx, cfg)
	require.NoError(t, err)
	assert.Equal(t, pass.Nodes, plan.Nodes, "the plan shows exactly what the pass then sends")
	assert.Equal(t, pass.Sent, dueOf(plan.Diff))
	assert.Equal(t, pass.Diff, plan.Diff)
}

// TestPlanPredictsThePass changes the cloud after a pass and checks that a
// dry run names each change, and that the next real pass sends exactly the
// nodes the plan said it would.
func TestPlanPredictsThePass(t *testing.T) {
	env, sample := newEnv(t)
	cloud := env.OpenStack
	// A fourth VM synced once, then dropped from the config.
	cloud.AddVM(openstacktest.VM{ID: "00000000-0000-4000-8000-000000000004", Name: "worker-4"})
	cloud.AddPort(openstacktest.Port{ID: "port-a-4", NetworkID: "net-a", DeviceID: "00000000-0000-4000-8000-000000000004", Status: "ACTIVE",
		MACAddress: "fa:16:3e:0a:00:04", FixedIPs: []openstacktest.FixedIP{{SubnetID: "subnet-a", IPAddress: "10.10.0.14"}}})
	store := openInventory(t)
	cfg := env.Config(append(append([]string{}, sample.VMIDs...), "00000000-0000-4000-8000-000000000004"), sample.SubnetA, sample.SubnetB)
	cfg.Inventory = store
	ctx := context.Background()
	_, err := multinic.Sync(ctx, cfg)
	require.NoError(t, err)

	// worker-1: its B address moves; worker-2: renamed in Nova, guest too (2.90's hostname);
	// worker-3: unchanged; worker-4: no longer in vmNames.
	require.True(t, cloud.UpdatePort("port-b-1", func(p *openstacktest.Port) { p.FixedIPs[0].IPAddress = "10.20.0.21" }))
	require.True(t, cloud.UpdateVM(sample.VMIDs[1], func(v *openstacktest.VM) { v.Name, v.Hostname = "worker-2b", "worker-2b" }))
	cfg.VMIDs = sample.VMIDs
	cfg.DryRun = true
	plan, err := multinic.Sync(ctx, cfg)
	require.NoError(t, err)

	assert.Equal(t, map[string]multinic.Change{
		"worker-1":  multinic.ChangeChanged,
		"worker-2":  multinic.ChangeOrphaned,
		"worker-2b": multinic.ChangeNew,
		"worker-3":  multinic.ChangeUnchanged,
		"worker-4":  multinic.ChangeOrphaned,
	}, changesOf(plan.Diff), "the default removal policy leaves nodes in the Biz cluster")
	for _, d := range plan.Diff {
		switch d.NodeName {
		case "worker-1":
			assert.Equal(t, []multinic.FieldChange{{Field: "interfaces[multinic1].address", Old: "10.20.0.11", New: "10.20.0.21"}}, d.Fields)
		case "worker-2":
			assert.Equal(t, "VM "+sample.VMIDs[1]+" is now node worker-2b", d.Note)
			assert.False(t, d.Due)
		case "worker-4":
			assert.Equal(t, "VM 00000000-0000-4000-8000-000000000004 is no longer listed", d.Note)
		}
	}
	assert.Equal(t, []string{"worker-1", "worker-2b"}, dueOf(plan.Diff))
	assert.Equal(t, []string{"worker-3"}, plan.Unchanged)
	assert.Len(t, env.Viola.Posts(), 1, "only the first, real pass posted")

	cfg.DryRun = false
	pass, err := multinic.Sync(ctx, cfg)
	require.NoError(t, err)
	assert.Equal(t, dueOf(plan.Diff), pass.Sent)
	assert.Equal(t, plan.Nodes, pass.Nodes)
	var orphaned []string
	for _, n := range pass.OrphanedNodes {
		orphaned = append(orphaned, n.NodeName)
	}
	assert.Equal(t, []string{"worker-2", "worker-4"}, orphaned, "the pass orphans what the plan said")
}

// synced is the sample after one real pass recorded in a fresh inventory.
func synced(t *testing.T) (*multinictest.Env, multinictest.Sample, *inventory.Store, multinic.Config) {
	t.Helper()
	env, sample := newEnv(t)
	store := openInventory(t)
	cfg := env.Config(sample.VMIDs, sample.SubnetA, sample.SubnetB)
	cfg.Inventory = store
	_, err := multinic.Sync(context.Background(), cfg)
	require.NoError(t, err)
	return env, sample, store, cfg
}

func TestDiffKeepsRecordsOfSkippedVMsAndHonoursResends(t *testing.T) {
	env, _, store, cfg := synced(t)
	ctx := context.Background()

	// worker-3's port is on a target subnet still, but not ACTIVE or DOWN.
	require.True(t, env.OpenStack.UpdatePort("port-a-3", func(p *openstacktest.Port) { p.Status = "BUILD" }))
	cfg.Inventory = readOnly{t: t, records: store.List(inventory.Filter{})}
	cfg.DryRun = true
	cfg.Resend = []string{"worker-2"}
	plan, err := multinic.Sync(ctx, cfg)
	require.NoError(t, err)
	require.Len(t, plan.Skipped, 1)
	assert.Equal(t, map[string]multinic.Change{"worker-1": multinic.ChangeUnchanged, "worker-2": multinic.ChangeUnchanged, "worker-3": multinic.ChangeKept}, changesOf(plan.Diff))
	assert.Equal(t, []string{"worker-2"}, dueOf(plan.Diff), "a requested re-send is due though unchanged")
	assert.Equal(t, []string{"worker-1"}, plan.Unchanged)

	cfg.Resend, cfg.ResendAll = nil, true
	plan, err = multinic.Sync(ctx, cfg)
	require.NoError(t, err)
	assert.Equal(t, []string{"worker-1", "worker-2"}, dueOf(plan.Diff))
	assert.Empty(t, plan.Unchanged)
	assert.Empty(t, env.Viola.Posts()[1:], "no dry run posted")
}

func TestFieldChangesNameEveryDifference(t *testing.T) {
	env, sample, _, cfg := synced(t)
	ctx := context.Background()

	cloud := env.OpenStack
	port := func(id string, vm int, subnet, mac, ip string) {
		cloud.AddPort(openstacktest.Port{ID: id, NetworkID: "net-" + subnet[len("subnet-"):], DeviceID: sample.VMIDs[vm], Status: "ACTIVE",
			MACAddress: mac, FixedIPs: []openstacktest.FixedIP{{SubnetID: subnet, IPAddress: ip}}})
	}
	cloud.AddNetwork(openstacktest.Network{ID: "net-b", Name: "biz-b", MTU: 8950}) // worker-1: multinic1's MTU
	require.True(t, cloud.RemovePort(sample.DownPort))                             // worker-2: loses multinic1
	require.True(t, cloud.RemovePort("port-a-3"))                                  // worker-3: another port on A takes multinic0 ...
	port("port-a-33", 2, "subnet-a", "fa:16:3e:0a:00:33", "10.10.0.33")
	port("port-b-3", 2, "subnet-b", "fa:16:3e:0b:00:03", "10.20.0.13") // ... and one on B adds multinic1
	cfg.DryRun = true
	plan, err := multinic.Sync(ctx, cfg)
	require.NoError(t, err)
	fields := map[string][]multinic.FieldChange{}
	for _, d := range plan.Diff {
		fields[d.NodeName] = d.Fields
	}
	assert.Equal(t, []multinic.FieldChange{{Field: "interfaces[multinic1].mtu", Old: "9000", New: "8950"}}, fields["worker-1"])
	assert.Equal(t, []multinic.FieldChange{{Field: "interfaces[multinic1]", Old: "fa:16:3e:0b:00:02 10.20.0.12 10.20.0.0/24 mtu 9000"}}, fields["worker-2"])
	assert.Equal(t, []multinic.FieldChange{
		{Field: "interfaces[multinic0].macAddress", Old: "fa:16:3e:0a:00:03", New: "fa:16:3e:0a:00:33"},
		{Field: "interfaces[multinic0].address", Old: "10.10.0.13", New: "10.10.0.33"},
		{Field: "interfaces[multinic0].portId", Old: "port-a-3", New: "port-a-33"},
		{Field: "interfaces[multinic1]", New: "fa:16:3e:0b:00:03 10.20.0.13 10.20.0.0/24 mtu 8950"},
	}, fields["worker-3"])
}

// A dry run posts nothing, so it needs no Viola endpoint; a real pass does.
func TestDryRunNeedsNoViolaEndpoint(t *testing.T) {
	env, sample := newEnv(t)
	cfg := env.Config(sample.VMIDs, sample.SubnetA)
	cfg.Viola.Endpoint = ""
	cfg.DryRun = true
	res, err := multinic.Sync(context.Background(), cfg)
	require.NoError(t, err)
	assert.Len(t, res.Nodes, 3)
	cfg.DryRun = false
	_, err = multinic.Sync(context.Background(), cfg)
	assert.Equal(t, multinic.ReasonConfig, multinic.ReasonOf(err))
}
