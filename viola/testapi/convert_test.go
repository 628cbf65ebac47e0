package testapi_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/utils/ptr"

	"github.com/multinic/multinic/viola"
	"github.com/multinic/multinic/viola/testapi"
	"github.com/multinic/multinic/viola/testapi/api/v1alpha1"
)

// TestObjectName: the object name is the node name, never a mangled form
// of it, because the node agent looks its object up by its node name.
func TestObjectName(t *testing.T) {
	longest := strings.Repeat(strings.Repeat("a", 62)+".", 4) + "a" // 253 characters
	for _, node := range []string{"worker-1", "node.example.com", "1", longest} {
		got, err := testapi.ObjectName(node)
		require.NoError(t, err, node)
		assert.Equal(t, node, got)
	}
	for _, node := range []string{"Worker-1", " worker-1 ", "worker_1", "a..b", "-edge-", "node.", "노드-1", "", longest + "a"} {
		_, err := testapi.ObjectName(node)
		assert.ErrorContains(t, err, fmt.Sprintf("nodeName %q is not a Kubernetes node name (a lower-case RFC 1123 subdomain)", node))
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
	config := viola.NodeConfig{NodeName: "worker-1", InstanceID: "vm-1", Interfaces: []viola.Interface{
		{ID: 0, Name: "multinic0", PortID: "port-0", MACAddress: "fa:16:3e:00:00:01", Address: "10.0.0.1", CIDR: "10.0.0.0/24", MTU: 1450},
		{ID: 2, Name: "multinic2", PortID: "port-2", MACAddress: "FA:16:3E:00:00:02", Address: "10.1.0.2", CIDR: "10.1.0.0/24", MTU: 9000},
	}}

	obj, err := testapi.NewObject(config, "openstack:///Biz-A", "ns")

	require.NoError(t, err)
	assert.Equal(t, "multinic.io/v1alpha1", obj.APIVersion)
	assert.Equal(t, "MultiNicNodeConfig", obj.Kind)
	assert.Equal(t, "ns", obj.Namespace)
	assert.Equal(t, "worker-1", obj.Name)
	assert.Equal(t, map[string]string{
		testapi.LabelNodeName:   "worker-1",
		testapi.LabelInstanceID: "vm-1",
		testapi.LabelProviderID: "openstack----Biz-A",
	}, obj.Labels)
	assert.Equal(t, v1alpha1.MultiNicNodeConfigSpec{NodeName: "worker-1", InstanceID: "vm-1", Interfaces: []v1alpha1.Interface{
		{ID: ptr.To[int64](0), Name: "multinic0", PortID: "port-0", MACAddress: "fa:16:3e:00:00:01", Address: "10.0.0.1", CIDR: "10.0.0.0/24", MTU: 1450},
		{ID: ptr.To[int64](2), Name: "multinic2", PortID: "port-2", MACAddress: "FA:16:3E:00:00:02", Address: "10.1.0.2", CIDR: "10.1.0.0/24", MTU: 9000},
	}}, obj.Spec, "every field of the payload, id 0 and name included")

	for _, tc := range []struct {
		edit func(*viola.Interface)
		want string
	}{
		{func(i *viola.Interface) { i.Name = "multinic3" }, `interfaces[1].name "multinic3" must be "multinic2", the name for id 2`},
		{func(i *viola.Interface) { i.Name = "" }, `interfaces[1].name is required ("multinic2" for id 2)`},
		{func(i *viola.Interface) { i.MTU = 0 }, "interfaces[1].mtu is required (68-9000): the node agent skips an interface without one"},
	} {
		bad := config
		bad.Interfaces = slices.Clone(config.Interfaces)
		tc.edit(&bad.Interfaces[1])
		_, err = testapi.NewObject(bad, "biz-a", "ns")
		assert.ErrorContains(t, err, `node config "worker-1": `+tc.want)
	}
}

// A node name longer than a label value keeps its full name as the object
// name and spec.nodeName; only the label is shortened, still lower-case.
func TestNewObjectWithALongNodeName(t *testing.T) {
	node := strings.Repeat("worker-", 20) + "1.example.com"
	config := viola.NodeConfig{NodeName: node, Interfaces: []viola.Interface{
		{ID: 0, Name: "multinic0", MACAddress: "fa:16:3e:00:00:01", MTU: 1450},
	}}

	obj, err := testapi.NewObject(config, "biz-a", "ns")

	require.NoError(t, err)
	assert.Equal(t, node, obj.Name)
	assert.Equal(t, node, obj.Spec.NodeName)
	label := obj.Labels[testapi.LabelNodeName]
	assert.Len(t, label, validation.LabelValueMaxLength)
	assert.Equal(t, strings.ToLower(label), label)
	assert.Empty(t, validation.IsValidLabelValue(label))
	assert.NotContains(t, obj.Labels, testapi.LabelInstanceID, "an empty instance ID gets no label")
}
