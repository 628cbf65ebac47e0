package cli_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/multinic/multinic/multinic"
	"github.com/multinic/multinic/multinic/multinictest"
	"github.com/multinic/multinic/openstack/openstacktest"
	"github.com/multinic/multinic/operator/api/v1alpha1"
	"github.com/multinic/multinic/operator/crconfig"
	"github.com/multinic/multinic/viola"
)

type planJSON struct {
	DryRun     bool                `json:"dryRun"`
	RoutingKey string              `json:"routingKey"`
	Payload    []viola.NodeConfig  `json:"payload"`
	Nodes      []viola.NodeConfig  `json:"nodes"`
	Diff       []multinic.NodeDiff `json:"diff"`
	// RemovalPolicy is the policy the plan applied.
	RemovalPolicy string `json:"removalPolicy"`
	// NodeNameSources are where each node's name came from, by node.
	NodeNameSources map[string]string `json:"nodeNameSources"`
	Error           *struct {
		Reason multinic.Reason `json:"reason"`
		Fix    string          `json:"fix"`
	} `json:"error"`
}

// decode reads a command's -o json output.
func decode[T any](t *testing.T, out string) T {
	t.Helper()
	var v T
	require.NoError(t, json.Unmarshal([]byte(out), &v), out)
	return v
}

func decodePlan(t *testing.T, out string) planJSON { return decode[planJSON](t, out) }

func TestPlanWithoutInventory(t *testing.T) {
	w := newWorld(t)
	args := []string{"plan", "-f", w.file(t, "cr.yaml", w.crYAML(subnetsAB, "", false)), "--encrypt-key-file", w.file(t, "key", multinictest.EncryptKey)}
	got := run(t, args...)
	require.Equal(t, 0, got.code, got.stderr)
	golden(t, "plan-file-new.txt", w.normalize(got.stdout))
	assert.Empty(t, w.env.Viola.Posts())
}

// The plan shows what a pass leaves out for the node agent's sake and where
// each name came from, with no Viola endpoint at all (nothing is posted).
func TestPlanShowsAgentLimitsWithoutViola(t *testing.T) {
	w := newWorld(t)
	require.True(t, w.env.OpenStack.UpdatePort("port-a-1", func(p *openstacktest.Port) {
		p.FixedIPs = append(p.FixedIPs, openstacktest.FixedIP{SubnetID: "subnet-a", IPAddress: "10.10.0.31"})
	}))
	require.True(t, w.env.OpenStack.UpdateVM(w.sample.VMIDs[2], func(v *openstacktest.VM) { v.Hostname = "worker-3.biz.example" }))
	got := run(t, "plan", "-f", w.file(t, "cr.yaml", w.crYAML("  subnetIDs: [subnet-a, subnet-gone]\n", "", true)), "--encrypt-key-file", w.file(t, "key", multinictest.EncryptKey))
	require.Equal(t, 0, got.code, got.stdout+got.stderr)
	golden(t, "plan-file-agent-limits.txt", w.normalize(got.stdout))
}

// TestPlanPredictsThePass syncs once for real, changes the cloud, and
// checks that the plan (against the inventory file and against the
// inventory API) names every change, writes nothing, and that the next real
// pass sends exactly the plan's payload.
func TestPlanPredictsThePass(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	cfg := w.env.Config(append(append([]string{}, w.sample.VMIDs...), "00000000-0000-4000-8000-000000000004"), w.sample.SubnetA, w.sample.SubnetB)
	w.env.OpenStack.AddVM(openstacktest.VM{ID: "00000000-0000-4000-8000-000000000004", Name: "worker-4"})
	w.env.OpenStack.AddPort(openstacktest.Port{ID: "port-a-4", NetworkID: "net-a", DeviceID: "00000000-0000-4000-8000-000000000004", Status: "ACTIVE",
		MACAddress: "fa:16:3e:0a:00:04", FixedIPs: []openstacktest.FixedIP{{SubnetID: "subnet-a", IPAddress: "10.10.0.14"}}})
	cfg.Inventory = w.store
	_, err := multinic.Sync(ctx, cfg)
	require.NoError(t, err)
	posts := len(w.env.Viola.Posts())

	// worker-1's B address moves, worker-2 is renamed, worker-3 stays,
	// worker-4 is not in the CR (vmNames lists worker-1..3).
	require.True(t, w.env.OpenStack.UpdatePort("port-b-1", func(p *openstacktest.Port) { p.FixedIPs[0].IPAddress = "10.20.0.21" }))
	require.True(t, w.env.OpenStack.UpdateVM(w.sample.VMIDs[1], func(v *openstacktest.VM) { v.Name, v.Hostname = "worker-2b", "worker-2b" }))
	before := inventoryFiles(t, w.store.Path())
	// A copy as an operator would take it: the file and its shard directory.
	copied := filepath.Join(w.dir, "copy", "inventory.json")
	require.NoError(t, os.CopyFS(copied+".d", os.DirFS(w.store.Path()+".d")))
	require.NoError(t, os.WriteFile(copied, []byte(before["inventory.json"]), 0o600))

	base := []string{"plan", "-f", w.file(t, "cr.yaml", w.crYAML(subnetsAB, "", false)), "--encrypt-key-file", w.file(t, "key", multinictest.EncryptKey)}
	fromFile := run(t, append(base, "--inventory-file", copied)...)
	require.Equal(t, 0, fromFile.code, fromFile.stderr)
	golden(t, "plan-file-changes.txt", w.normalize(fromFile.stdout))
	fromAPI := run(t, append(base, "--inventory-url", w.inventoryURL, "-o", "json")...)
	require.Equal(t, 0, fromAPI.code, fromAPI.stderr)
	golden(t, "plan-file-changes.json", w.normalize(fromAPI.stdout))
	yamlRun := run(t, append(base, "--inventory-url", w.inventoryURL, "-o", "yaml")...)
	require.Equal(t, 0, yamlRun.code)
	assert.Contains(t, yamlRun.stdout, "payload:\n- instanceId: 00000000-0000-4000-8000-000000000001\n")

	assert.Equal(t, before, inventoryFiles(t, w.store.Path()), "plan never writes the inventory")
	assert.Equal(t, before, inventoryFiles(t, copied), "nor the copy it read")
	assert.Len(t, w.env.Viola.Posts(), posts, "plan never posts")

	plan := decodePlan(t, fromAPI.stdout)
	assert.True(t, plan.DryRun)
	cfg.VMIDs = w.sample.VMIDs
	res, err := multinic.Sync(ctx, cfg)
	require.NoError(t, err)
	require.Len(t, w.env.Viola.Posts(), posts+1)
	assert.Equal(t, plan.Payload, w.env.Viola.Posts()[posts].Configs, "the payload is exactly what the next pass posts")
	for i := range res.Nodes {
		assert.Equal(t, res.Nodes[i].NodeNameSource, plan.NodeNameSources[res.Nodes[i].NodeName], "the plan says where each name came from")
		res.Nodes[i].NodeNameSource = "" // a note of the library's, not in the JSON
	}
	assert.Equal(t, plan.Nodes, res.Nodes)
}

// TestPlanCluster reads the CR, its Secret and the other CRs from the API
// server: a record of a VM that another CR of the same provider lists is
// kept, as the operator keeps it.
func TestPlanCluster(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	// Other tests' CRs on this API server list the same VMs: a routing
	// key of this test's own keeps them apart, as distinct Biz clusters are.
	cfg := w.env.Config(w.sample.VMIDs, w.sample.SubnetA, w.sample.SubnetB)
	cfg.K8sProviderID = "biz-" + w.namespace
	cfg.Inventory = w.store
	_, err := multinic.Sync(ctx, cfg)
	require.NoError(t, err)

	w.createSecret(t, crconfig.DefaultEncryptKeySecret, map[string]string{crconfig.DefaultEncryptKeyField: multinictest.EncryptKey})
	w.createCR(t, func(oc *v1alpha1.OpenstackConfig) {
		oc.Spec.VMNames = w.sample.VMIDs[:1]
		oc.Spec.Credentials.K8sProviderID = cfg.K8sProviderID
	})
	other := w.createCR(t, func(oc *v1alpha1.OpenstackConfig) {
		oc.Name = "biz-cluster-2"
		oc.Spec.VMNames = w.sample.VMIDs[2:]
		oc.Spec.Credentials.K8sProviderID = cfg.K8sProviderID
	})
	// Same VM, other routing key: not a claim.
	w.createCR(t, func(oc *v1alpha1.OpenstackConfig) {
		oc.Name = "elsewhere"
		oc.Spec.VMNames = w.sample.VMIDs[1:2]
	})
	got := run(t, w.kube("plan", "-n", w.namespace, "biz-cluster-1", "--inventory-url", w.inventoryURL)...)
	require.Equal(t, 0, got.code, got.stderr)
	golden(t, "plan-cluster.txt", w.normalize(got.stdout))

	plan := decodePlan(t, run(t, w.kube("plan", "biz-cluster-1", "--inventory-url", w.inventoryURL, "-o", "json")...).stdout)
	changes := map[string]multinic.NodeDiff{}
	for _, d := range plan.Diff {
		changes[d.NodeName] = d
	}
	assert.Equal(t, multinic.ChangeUnchanged, changes["worker-1"].Change)
	assert.Equal(t, multinic.ChangeOrphaned, changes["worker-2"].Change, "no CR lists worker-2's VM; the default policy leaves it")
	assert.Equal(t, multinic.ChangeKept, changes["worker-3"].Change)
	assert.Equal(t, "VM "+w.sample.VMIDs[2]+" is also selected by "+w.namespace+"/"+other.Name, changes["worker-3"].Note)
	assert.Equal(t, "Orphan", plan.RemovalPolicy)
	assert.Empty(t, plan.Payload)
}

func TestPlanFailures(t *testing.T) {
	t.Run("settings", func(t *testing.T) {
		w := newWorld(t)
		got := run(t, "plan", "-f", w.file(t, "cr.yaml", w.crYAML(subnetsAB, "", true)), "-o", "json")
		assert.Equal(t, 1, got.code)
		plan := decodePlan(t, got.stdout)
		require.NotNil(t, plan.Error)
		assert.Equal(t, multinic.ReasonConfig, plan.Error.Reason)
		assert.Equal(t, "without a cluster, pass the key with --encrypt-key-file (the file holds the key only)", plan.Error.Fix, "a plan posts nothing, so needs no Viola endpoint")
		assert.Equal(t, []viola.NodeConfig{}, plan.Payload)
	})
	t.Run("subnet-not-found", func(t *testing.T) {
		w := newWorld(t)
		got := run(t, "plan", "-f", w.file(t, "cr.yaml", w.crYAML("  subnetName: nope\n", "", false)), "--encrypt-key-file", w.file(t, "key", multinictest.EncryptKey))
		assert.Equal(t, 1, got.code)
		golden(t, "plan-subnet-not-found.txt", w.normalize(got.stdout))
	})
	t.Run("inventory-unreachable", func(t *testing.T) {
		w := newWorld(t)
		got := run(t, "plan", "-f", w.file(t, "cr.yaml", w.crYAML(subnetsAB, "", false)), "--encrypt-key-file", w.file(t, "key", multinictest.EncryptKey),
			"--inventory-url", w.refusedURL(t, "refused-inventory"))
		assert.Equal(t, 1, got.code, "the plan is shown, but its diff is not to be trusted")
		assert.Contains(t, got.stdout, "! the inventory could not be read, so every node shows as new: ")
		assert.Contains(t, got.stdout, "worker-1  hostname   00000000-0000-4000-8000-000000000001  multinic0")
	})
}

// inventoryFiles is the content of the inventory at path: its file and every
// file of the shard directory beside it, by name.
func inventoryFiles(t *testing.T, path string) map[string]string {
	t.Helper()
	files := map[string]string{}
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	files[filepath.Base(path)] = string(data)
	entries, err := os.ReadDir(path + ".d")
	require.NoError(t, err)
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(path+".d", e.Name()))
		require.NoError(t, err)
		files[e.Name()] = string(data)
	}
	return files
}
