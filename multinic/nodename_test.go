package multinic_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/multinic/multinic/multinic"
	"github.com/multinic/multinic/openstack/openstacktest"
)

// SPEC §5: the node name is trimmed and lower-cased; a name that is still
// not an RFC 1123 subdomain skips the VM with a reason naming the VM, the
// name and why, and is never sent under a mangled name.
func TestSyncNodeNames(t *testing.T) {
	tests := []struct {
		raw     string
		sent    string // "" when the VM must be skipped
		skipped string // part of the reason
	}{
		{"Worker-1", "worker-1", ""},
		{" worker-1 ", "worker-1", ""},
		{"node.example.com", "node.example.com", ""},
		{"worker_1", "", `node name "worker_1" of VM 00000000-0000-4000-8000-000000000001 (Nova server name) cannot be a Kubernetes node name: after trimming and lower-casing, "worker_1" is not a lower-case RFC 1123 subdomain`},
		{"a..b", "", `node name "a..b" of VM 00000000-0000-4000-8000-000000000001`},
		{"Ünïcode", "", "is not a lower-case RFC 1123 subdomain"},
		{strings.Repeat("n", 254), "", "is 254 characters long, at most 253 allowed"},
		{"", "", `nova: server "00000000-0000-4000-8000-000000000001" has no name`},
		{"   ", "", "has no name"},
	}
	for _, tt := range tests {
		t.Run(tt.raw, func(t *testing.T) {
			env, sample := newEnv(t)
			env.OpenStack.UpdateVM(sample.VMIDs[0], func(vm *openstacktest.VM) { vm.Name = tt.raw })
			res, err := multinic.Sync(context.Background(), env.Config(sample.VMIDs, sample.SubnetA))
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

func TestSyncNodeNameFromMetadataIsNormalisedAndBlankFallsBack(t *testing.T) {
	env, sample := newEnv(t)
	env.OpenStack.UpdateVM(sample.VMIDs[0], func(vm *openstacktest.VM) { vm.Metadata = map[string]string{"k8s-node": " Biz-Node-A "} })
	env.OpenStack.UpdateVM(sample.VMIDs[1], func(vm *openstacktest.VM) { vm.Metadata = map[string]string{"k8s-node": "  "} })
	env.OpenStack.UpdateVM(sample.VMIDs[2], func(vm *openstacktest.VM) { vm.Metadata = map[string]string{"k8s-node": "bad_name"} })
	cfg := env.Config(sample.VMIDs, sample.SubnetA)
	cfg.NodeNameMetadataKey = "k8s-node"
	res, err := multinic.Sync(context.Background(), cfg)
	require.NoError(t, err)
	assert.Equal(t, []string{"biz-node-a", "worker-2"}, res.Sent, "a blank metadata value falls back to the server name")
	require.Len(t, res.Skipped, 1)
	assert.Contains(t, res.Skipped[0].Reason, `node name "bad_name" of VM `+sample.VMIDs[2]+` (Nova metadata "k8s-node")`)
}

// Duplicates are found on the name that would be sent.
func TestSyncDuplicateNodeNamesAfterNormalising(t *testing.T) {
	env, sample := newEnv(t)
	env.OpenStack.UpdateVM(sample.VMIDs[0], func(vm *openstacktest.VM) { vm.Name = "Worker-X" })
	env.OpenStack.UpdateVM(sample.VMIDs[1], func(vm *openstacktest.VM) { vm.Name = " worker-x" })
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
	assert.Equal(t, []string{"biz-node-a", "worker-2", "worker-3"}, res.Sent, "metadata wins, server name otherwise")
}
