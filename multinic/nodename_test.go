package multinic_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/multinic/multinic/inventory"
	"github.com/multinic/multinic/multinic"
	"github.com/multinic/multinic/multinic/multinictest"
	"github.com/multinic/multinic/openstack/openstacktest"
)

// SPEC §5: the node name is the guest's host name: the metadata value under
// the configured key, else Nova's OS-EXT-SRV-ATTR:hostname, else the server
// name by Nova's own rules; each server name here is tried with the
// attribute shown (the admin the library authenticates as), without it (a
// user without the admin role, on a Nova before 2.90), and with a metadata
// key that wins over both. Result, Viola and the inventory agree on name
// and source.
func TestSyncNodeNameSources(t *testing.T) {
	long := strings.Repeat("a", 70)
	tests := []struct {
		server string
		node   string // "" when the VM must be skipped
		reason string // part of the skip reason
	}{
		{"Worker_2", "worker-2", ""},
		{"Worker 3", "worker-3", ""},
		{"node.example.com", "node-example-com", ""},
		{"ABC-1", "abc-1", ""},
		// Nova cuts to 63; the node agent's Job name leaves room for 42.
		{long, "", `"` + long[:63] + `" is 63 characters long: the node agent names its Job multinic-agent-<node>-g<generation>, which must stay within 63 characters, so at most 42 are allowed`},
	}
	variants := []struct {
		name   string
		source string
		setup  func(env *multinictest.Env, cfg *multinic.Config)
	}{
		{"hostname attribute", "hostname", func(*multinictest.Env, *multinic.Config) {}},
		{"no hostname attribute", "name", func(env *multinictest.Env, _ *multinic.Config) {
			env.OpenStack.SetCredentials(openstacktest.Credentials{Password: multinictest.AdminPassword, ProjectID: multinictest.ProjectID, Roles: []string{"member", "reader"}})
		}},
		{"metadata key wins", "metadata", func(env *multinictest.Env, cfg *multinic.Config) {
			cfg.NodeNameMetadataKey = "k8s-node"
		}},
	}
	for _, v := range variants {
		for _, tt := range tests {
			t.Run(v.name+"/"+tt.server, func(t *testing.T) {
				env, sample := newEnv(t)
				vm := sample.VMIDs[0]
				// Created under these names, so Nova's hostnames are made from them.
				env.OpenStack.AddVM(openstacktest.VM{ID: vm, Name: tt.server, Metadata: map[string]string{"k8s-node": " Biz-Node-A "}})
				env.OpenStack.AddVM(openstacktest.VM{ID: sample.VMIDs[1], Name: "other-2"})
				env.OpenStack.AddVM(openstacktest.VM{ID: sample.VMIDs[2], Name: "other-3"})
				cfg := env.Config(sample.VMIDs, sample.SubnetA)
				cfg.Inventory = openInventory(t)
				v.setup(env, &cfg)
				res, err := multinic.Sync(context.Background(), cfg)
				require.NoError(t, err, "one bad name does not fail the pass")

				want, reason := tt.node, tt.reason
				if v.source == "metadata" {
					want, reason = "biz-node-a", ""
				}
				if want == "" {
					require.Len(t, res.Skipped, 1)
					assert.Equal(t, vm, res.Skipped[0].InstanceID)
					assert.Contains(t, res.Skipped[0].Reason, reason)
					assert.ElementsMatch(t, []string{"other-2", "other-3"}, sentNames(env), "the others still go out, nothing under a cut name")
					assert.Equal(t, "1 VM skipped", res.Degradation())
					return
				}
				assert.Empty(t, res.Skipped)
				got := node(t, res.Nodes, want)
				assert.Equal(t, vm, got.InstanceID)
				assert.Equal(t, v.source, got.NodeNameSource)
				assert.Contains(t, sentNames(env), want)
				recs := cfg.Inventory.List(inventory.Filter{NodeName: want})
				require.Len(t, recs, 1)
				assert.Equal(t, v.source, recs[0].NodeNameSource, "the inventory says where the name came from")
			})
		}
	}
}

// An older Nova (before 23.0.0) kept dots in the hostname, and 2.94 lets a
// user ask for an FQDN: such a node is sent as the guest has it, with the
// node agent's limit reported (its cleanup cuts the host name at the dot).
func TestSyncDottedHostnameIsSentWithAWarning(t *testing.T) {
	env, sample := newEnv(t)
	env.OpenStack.AddVM(openstacktest.VM{ID: sample.VMIDs[0], Name: "node.example.com", Hostname: "node.example.com"})
	res, err := multinic.Sync(context.Background(), env.Config(sample.VMIDs, sample.SubnetA))
	require.NoError(t, err)
	assert.Contains(t, sentNames(env), "node.example.com")
	require.Len(t, res.NodeNameWarnings, 1)
	assert.Equal(t, "node.example.com", res.NodeNameWarnings[0].NodeName)
	assert.Contains(t, res.NodeNameWarnings[0].Reason, `the node agent looks its config up as "node"`)
	assert.Equal(t, "1 node name the agent serves only in part", res.Degradation())
}

// A renamed server keeps its guest's host name, in Nova and so here: the
// node is not renamed under the agent's feet.
func TestSyncRenamedServerKeepsItsNodeName(t *testing.T) {
	env, sample := newEnv(t)
	env.OpenStack.UpdateVM(sample.VMIDs[0], func(vm *openstacktest.VM) { vm.Name = "Renamed In Horizon" })
	res, err := multinic.Sync(context.Background(), env.Config(sample.VMIDs, sample.SubnetA))
	require.NoError(t, err)
	assert.Equal(t, []string{"worker-1", "worker-2", "worker-3"}, res.Sent)
}

// What the name checks refuse, whatever the source: a name is trimmed and
// lower-cased, and one that is still no RFC 1123 subdomain skips the VM
// with a reason naming the VM, the name, its source and why, and is never
// sent under a mangled name. Metadata is the source that can hold anything.
func TestSyncNodeNameChecks(t *testing.T) {
	tests := []struct {
		raw     string
		sent    string // "" when the VM must be skipped
		skipped string // part of the reason
	}{
		{"Worker-1", "worker-1", ""},
		{" worker-1 ", "worker-1", ""},
		{"node.example.com", "node.example.com", ""},
		{"worker_1", "", `node name "worker_1" of VM 00000000-0000-4000-8000-000000000001 (Nova metadata "k8s-node") cannot be a Kubernetes node name: after trimming and lower-casing, "worker_1" is not a lower-case RFC 1123 subdomain`},
		{"a..b", "", `node name "a..b" of VM 00000000-0000-4000-8000-000000000001`},
		{"Ünïcode", "", "is not a lower-case RFC 1123 subdomain"},
		{strings.Repeat("n", 254), "", "is 254 characters long, at most 253 allowed"},
		{strings.Repeat("n", 43), "", "is 43 characters long: the node agent names its Job"},
		{"   ", "worker-1", ""}, // blank: Nova's hostname
	}
	for _, tt := range tests {
		t.Run(tt.raw, func(t *testing.T) {
			env, sample := newEnv(t)
			env.OpenStack.UpdateVM(sample.VMIDs[0], func(vm *openstacktest.VM) { vm.Metadata = map[string]string{"k8s-node": tt.raw} })
			cfg := env.Config(sample.VMIDs, sample.SubnetA)
			cfg.NodeNameMetadataKey = "k8s-node"
			res, err := multinic.Sync(context.Background(), cfg)
			require.NoError(t, err, "one bad name does not fail the pass")
			if tt.sent != "" {
				assert.Equal(t, sample.VMIDs[0], node(t, res.Nodes, tt.sent).InstanceID)
				assert.Contains(t, sentNames(env), tt.sent)
				assert.Empty(t, res.Skipped)
				return
			}
			require.Len(t, res.Skipped, 1)
			assert.Equal(t, sample.VMIDs[0], res.Skipped[0].InstanceID)
			assert.Contains(t, res.Skipped[0].Reason, tt.skipped)
			assert.ElementsMatch(t, []string{"worker-2", "worker-3"}, sentNames(env), "the others still go out, nothing under a mangled name")
			assert.Contains(t, res.Degradation(), "1 VM skipped")
		})
	}
}

// Without the hostname attribute and with a blank server name there is no
// name to send: the VM is skipped, never named after a guess.
func TestSyncServerWithoutAnyName(t *testing.T) {
	env, sample := newEnv(t)
	env.OpenStack.SetCredentials(openstacktest.Credentials{Password: multinictest.AdminPassword, ProjectID: multinictest.ProjectID, Roles: []string{"member"}})
	env.OpenStack.UpdateVM(sample.VMIDs[0], func(vm *openstacktest.VM) { vm.Name = "  " })
	res, err := multinic.Sync(context.Background(), env.Config(sample.VMIDs, sample.SubnetA))
	require.NoError(t, err)
	require.Len(t, res.Skipped, 1)
	assert.Equal(t, `nova: server "`+sample.VMIDs[0]+`" has no name`, res.Skipped[0].Reason)
}

func TestSyncNodeNameFromMetadataIsNormalisedAndBlankFallsBack(t *testing.T) {
	env, sample := newEnv(t)
	env.OpenStack.UpdateVM(sample.VMIDs[0], func(vm *openstacktest.VM) { vm.Metadata = map[string]string{"k8s-node": " Biz-Node-A "} })
	env.OpenStack.UpdateVM(sample.VMIDs[1], func(vm *openstacktest.VM) { vm.Metadata = map[string]string{"k8s-node": "  "} })
	env.OpenStack.UpdateVM(sample.VMIDs[2], func(vm *openstacktest.VM) { vm.Metadata = map[string]string{"k8s-node": "bad_name"} })
	cfg := env.Config(sample.VMIDs, sample.SubnetA)
	cfg.NodeNameMetadataKey = "k8s-node"
	res, err := multinic.Sync(context.Background(), cfg)
	require.NoError(t, err)
	assert.Equal(t, []string{"biz-node-a", "worker-2"}, res.Sent, "a blank metadata value falls back to the hostname")
	assert.Equal(t, "hostname", node(t, res.Nodes, "worker-2").NodeNameSource)
	require.Len(t, res.Skipped, 1)
	assert.Contains(t, res.Skipped[0].Reason, `node name "bad_name" of VM `+sample.VMIDs[2]+` (Nova metadata "k8s-node")`)
}

// Duplicates are found on the name that would be sent.
func TestSyncDuplicateNodeNamesAfterNormalising(t *testing.T) {
	env, sample := newEnv(t)
	env.OpenStack.AddVM(openstacktest.VM{ID: sample.VMIDs[0], Name: "Worker-X"})
	env.OpenStack.AddVM(openstacktest.VM{ID: sample.VMIDs[1], Name: " worker_x"})
	res, err := multinic.Sync(context.Background(), env.Config(sample.VMIDs, sample.SubnetA))
	require.NoError(t, err)
	assert.Equal(t, []string{"worker-3", "worker-x"}, res.Sent)
	require.Len(t, res.Skipped, 1)
	assert.Equal(t, sample.VMIDs[1], res.Skipped[0].InstanceID)
	assert.Equal(t, `node name "worker-x" is already used by VM `+sample.VMIDs[0], res.Skipped[0].Reason)
}

func TestSyncNodeNameFromMetadata(t *testing.T) {
	env, sample := newEnv(t)
	env.OpenStack.UpdateVM(sample.VMIDs[0], func(vm *openstacktest.VM) {
		vm.Metadata = map[string]string{"k8s-node": "biz-node-a"}
	})
	cfg := env.Config(sample.VMIDs, sample.SubnetA)
	cfg.NodeNameMetadataKey = "k8s-node"
	res, err := multinic.Sync(context.Background(), cfg)
	require.NoError(t, err)
	assert.Equal(t, []string{"biz-node-a", "worker-2", "worker-3"}, res.Sent, "metadata wins, the hostname otherwise")
}
