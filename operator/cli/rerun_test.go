package cli_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/multinic/multinic/inventory"
	"github.com/multinic/multinic/multinic"
	"github.com/multinic/multinic/operator/api/v1alpha1"
	"github.com/multinic/multinic/viola"
)

type rerunJSON struct {
	Node       string            `json:"node"`
	InstanceID string            `json:"instanceId"`
	Deleted    string            `json:"deleted"`
	Posted     bool              `json:"posted"`
	Interfaces []viola.Interface `json:"interfaces"`
	Error      string            `json:"error"`
}

// rerunWorld is a world whose inventory holds what a pass sent for the
// sample under a routing key of its own, with the CR biz-cluster-1 for it.
func rerunWorld(t *testing.T, mutate func(*v1alpha1.OpenstackConfig)) (*world, multinic.Config) {
	t.Helper()
	w := newWorld(t)
	cfg := w.env.Config(w.sample.VMIDs, w.sample.SubnetA, w.sample.SubnetB)
	cfg.K8sProviderID = "biz-" + w.namespace
	cfg.Inventory = w.store
	_, err := multinic.Sync(context.Background(), cfg)
	require.NoError(t, err)
	w.createCR(t, func(oc *v1alpha1.OpenstackConfig) {
		oc.Spec.Credentials.K8sProviderID = cfg.K8sProviderID
		if mutate != nil {
			mutate(oc)
		}
	})
	return w, cfg
}

func TestRerunDeletesAndRecreatesOneNode(t *testing.T) {
	w, cfg := rerunWorld(t, nil)
	posts := len(w.env.Viola.Posts())
	got := run(t, w.kube("rerun", "-n", w.namespace, "biz-cluster-1", "--node", "worker-2", "--pause", "0", "--inventory-url", w.inventoryURL)...)
	require.Equal(t, 0, got.code, got.stdout+got.stderr)
	out := w.normalize(got.stdout)
	assert.Contains(t, out, "Re-running the node agent for node worker-2 of OpenstackConfig {{ns}}/biz-cluster-1 (VM "+w.sample.VMIDs[1]+"), routing key biz-{{ns}}, Viola {{viola}}\n")
	assert.Contains(t, out, "✓ DELETE /v1/k8s/multinic/node-configs/worker-2: removed; the agent runs its cleanup Job for the node\n")
	assert.Contains(t, out, "✓ POST the config the operator last sent (multinic0, multinic1): accepted; the agent configures the node with a new Job\n")

	deletes := w.env.Viola.Deletes()
	require.Len(t, deletes, 1)
	assert.Equal(t, "worker-2", deletes[0].NodeName)
	assert.Equal(t, cfg.RoutingKey(), deletes[0].ProviderID)
	all := w.env.Viola.Posts()
	require.Len(t, all, posts+1)
	last := all[len(all)-1]
	rec, ok := w.store.Get(cfg.RoutingKey(), "worker-2")
	require.True(t, ok)
	assert.Equal(t, []viola.NodeConfig{rec.Config}, last.Configs, "the config the operator last sent, exactly")
	assert.Equal(t, rec.Config, w.env.Viola.Nodes(cfg.RoutingKey())["worker-2"])

	// -o json says the same.
	report := decode[rerunJSON](t, run(t, w.kube("rerun", "biz-cluster-1", "--node", "worker-1", "--pause", "0", "--inventory-url", w.inventoryURL, "-o", "json")...).stdout)
	assert.Equal(t, rerunJSON{Node: "worker-1", InstanceID: w.sample.VMIDs[0], Deleted: "removed", Posted: true, Interfaces: report.Interfaces}, report)
	assert.Len(t, report.Interfaces, 2)
}

func TestRerunRefusesNodesThatAreNotTheConfigs(t *testing.T) {
	w, cfg := rerunWorld(t, func(oc *v1alpha1.OpenstackConfig) { oc.Spec.VMNames = oc.Spec.VMNames[:2] })
	_, err := w.store.MarkOrphaned(cfg.RoutingKey(), inventory.OrphanMark{NodeName: "worker-1", Reason: "VM left"})
	require.NoError(t, err)
	w.createCR(t, func(oc *v1alpha1.OpenstackConfig) {
		oc.Name = "biz-cluster-0"
		oc.Spec.VMNames = oc.Spec.VMNames[1:2]
		oc.Spec.Credentials.K8sProviderID = cfg.K8sProviderID
	})
	for _, tc := range []struct{ node, message string }{
		{"worker-9", "holds no node worker-9 under routing key biz-{{ns}}: it is not a node of {{ns}}/biz-cluster-1 (see its status or plan); nothing was changed"},
		{"worker-3", "node worker-3 is VM " + w.sample.VMIDs[2] + "'s, which {{ns}}/biz-cluster-1 does not list in vmNames; nothing was changed"},
		{"worker-1", "node worker-1 was orphaned (VM left (since "},
	} {
		got := run(t, w.kube("rerun", "-n", w.namespace, "biz-cluster-1", "--node", tc.node, "--pause", "0", "--inventory-url", w.inventoryURL)...)
		assert.Equal(t, 1, got.code, tc.node)
		assert.Contains(t, w.normalize(got.stdout), tc.message, tc.node)
	}
	assert.Empty(t, w.env.Viola.Deletes(), "nothing was deleted")

	// worker-2's VM is also biz-cluster-0's. Which is older depends on the
	// second both were created in; either way one of them refuses.
	a := run(t, w.kube("rerun", "-n", w.namespace, "biz-cluster-1", "--node", "worker-2", "--pause", "0", "--inventory-url", w.inventoryURL)...)
	b := run(t, w.kube("rerun", "-n", w.namespace, "biz-cluster-0", "--node", "worker-2", "--pause", "0", "--inventory-url", w.inventoryURL)...)
	assert.ElementsMatch(t, []int{0, 1}, []int{a.code, b.code}, "exactly one of the two owns worker-2:\n%s\n%s", a.stdout, b.stdout)
	refused := a.stdout + b.stdout
	assert.Contains(t, w.normalize(refused), "is claimed by {{ns}}/biz-cluster-")
	assert.Len(t, w.env.Viola.Deletes(), 1)
}

func TestRerunNeedsAViolaThatCanDelete(t *testing.T) {
	w, _ := rerunWorld(t, nil)
	w.env.Viola.SetDeleteStatus(http.StatusMethodNotAllowed)
	posts := len(w.env.Viola.Posts())
	got := run(t, w.kube("rerun", "-n", w.namespace, "biz-cluster-1", "--node", "worker-2", "--pause", "0", "--inventory-url", w.inventoryURL)...)
	assert.Equal(t, 1, got.code)
	assert.Contains(t, got.stdout, "this Viola cannot remove node configs: HTTP 405")
	assert.Contains(t, got.stdout, "rerun needs a Viola that can remove node configs; nothing was changed")
	assert.Len(t, w.env.Viola.Posts(), posts, "nothing posted")
}

func TestRerunUsage(t *testing.T) {
	w := newWorld(t)
	got := run(t, w.kube("rerun", "-n", w.namespace, "biz-cluster-1")...)
	assert.Equal(t, 2, got.code)
	assert.Contains(t, got.stderr, "--node is required")
	got = run(t, w.kube("rerun", "biz-cluster-1", "--node", "worker-1", "--pause", "-1s")...)
	assert.Equal(t, 2, got.code)
	assert.Contains(t, got.stderr, "--pause must not be negative")
}
