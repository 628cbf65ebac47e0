package testapi_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/multinic/multinic/viola"
	"github.com/multinic/multinic/viola/testapi"
)

func TestObjectName(t *testing.T) {
	for _, tc := range []struct{ node, want string }{
		{"worker-1", "worker-1"},
		{"Worker_1.EXAMPLE", "worker-1.example"},
		{"node 7 (gpu)", "node-7--gpu"},
		{"-edge-", "edge"},
		{"a..b", "a.b"},
		{"_a_.-b-.", "a.b"},
		{"노드-1", "1"}, // non-ASCII letters are outside [a-z0-9.-]
	} {
		got, err := testapi.ObjectName(tc.node)
		require.NoError(t, err, tc.node)
		assert.Equal(t, tc.want, got, tc.node)
		assert.Empty(t, validation.IsDNS1123Subdomain(got), "%q → %q", tc.node, got)
	}

	// 23 groups of 11 end exactly at character 253 with a dash.
	long, err := testapi.ObjectName(strings.Repeat("abcdefghij-", 30))
	require.NoError(t, err)
	assert.Len(t, long, 252, "cut to 253 characters, then the dangling dash trimmed")
	assert.Empty(t, validation.IsDNS1123Subdomain(long))

	for _, node := range []string{"", "___", ".-."} {
		_, err := testapi.ObjectName(node)
		assert.ErrorContains(t, err, "yields no valid object name", "%q", node)
	}
}

func TestLabelValue(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"worker-1", "worker-1"},
		{"Worker_1.EXAMPLE", "Worker_1.EXAMPLE"},
		{"openstack:///9b3c", "openstack----9b3c"},
		{"_edge_", "edge"},
		{"", ""},
	} {
		assert.Equal(t, tc.want, testapi.LabelValue(tc.in), tc.in)
	}

	prefix := strings.Repeat("x", 70)
	a, b := testapi.LabelValue(prefix+"-a"), testapi.LabelValue(prefix+"-b")
	assert.Len(t, a, validation.LabelValueMaxLength)
	assert.NotEqual(t, a, b, "a hash keeps long values with one prefix apart")
	assert.Equal(t, a, testapi.LabelValue(prefix+"-a"), "the same input gives the same label")

	for _, in := range []string{prefix + "-a", strings.Repeat("é", 40), strings.Repeat("a", 54) + "....--" + strings.Repeat("b", 20), "x" + strings.Repeat("_", 70)} {
		got := testapi.LabelValue(in)
		assert.Empty(t, validation.IsValidLabelValue(got), "%q → %q", in, got)
	}
}

func TestNewObject(t *testing.T) {
	config := viola.NodeConfig{NodeName: "Worker_1", InstanceID: "vm-1", Interfaces: []viola.Interface{
		{ID: 2, Name: "multinic2", PortID: "port-2", MACAddress: "fa:16:3e:00:00:02", Address: "10.0.0.2", CIDR: "10.0.0.0/24", MTU: 1400},
	}}

	obj, err := testapi.NewObject(config, "biz-a", "ns")

	require.NoError(t, err)
	assert.Equal(t, "multinic.io/v1alpha1", obj.APIVersion)
	assert.Equal(t, "MultiNicNodeConfig", obj.Kind)
	assert.Equal(t, "ns", obj.Namespace)
	assert.Equal(t, "worker-1", obj.Name)
	assert.Equal(t, "Worker_1", obj.Spec.NodeName)
	assert.Equal(t, int32(2), obj.Spec.Interfaces[0].ID)
	assert.Equal(t, int32(1400), obj.Spec.Interfaces[0].MTU)
	assert.Equal(t, "biz-a", obj.Labels[testapi.LabelProviderID])

	config.Interfaces[0].Name = "multinic3"
	_, err = testapi.NewObject(config, "biz-a", "ns")
	assert.ErrorContains(t, err, `interfaces[0].name "multinic3" must be "multinic2"`)

	config.Interfaces[0] = viola.Interface{ID: 1 << 31, Name: viola.InterfaceName(1 << 31), MACAddress: "fa:16:3e:00:00:02"}
	_, err = testapi.NewObject(config, "biz-a", "ns")
	assert.ErrorContains(t, err, "interfaces[0].id 2147483648 exceeds 2147483647")
}
