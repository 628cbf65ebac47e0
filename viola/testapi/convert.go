package testapi

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/utils/ptr"

	"github.com/multinic/multinic/viola"
	"github.com/multinic/multinic/viola/testapi/api/v1alpha1"
)

// Labels every MultiNicNodeConfig carries (SPEC §7), so the node agent and
// people can select objects by node, VM or Biz cluster.
const (
	LabelNodeName   = "multinic.io/node-name"
	LabelInstanceID = "multinic.io/instance-id"
	LabelProviderID = "multinic.io/provider-id"
)

// ObjectName is the MultiNicNodeConfig name for a node (SPEC §7): the node
// name itself, because the node agent looks its object up by its Kubernetes
// node name. A name that is not a valid Kubernetes node name (a lower-case
// RFC 1123 subdomain, viola.CheckNodeName) is refused rather than mangled:
// the agent would never find an object stored under another name.
func ObjectName(nodeName string) (string, error) {
	if err := viola.CheckNodeName(nodeName); err != nil {
		return "", fmt.Errorf("nodeName %q is not a Kubernetes node name (a lower-case RFC 1123 subdomain), so the node agent could never find its object: %w", nodeName, err)
	}
	return nodeName, nil
}

var labelValueUnsafe = regexp.MustCompile(`[^A-Za-z0-9._-]`)

// labelHashLen is how many hex digits of a SHA-256 end a shortened label
// value, so two long values that share a prefix still differ.
const labelHashLen = 8

// LabelValue makes s a valid label value: characters outside [A-Za-z0-9._-]
// become "-", the ends are trimmed to alphanumerics, and a value longer than
// 63 characters is cut and suffixed with a hash of s. Case is kept: label
// values allow it, and provider IDs may carry it.
func LabelValue(s string) string {
	value := strings.TrimFunc(labelValueUnsafe.ReplaceAllString(s, "-"), notAlphanumeric)
	if len(value) <= validation.LabelValueMaxLength {
		return value
	}
	sum := sha256.Sum256([]byte(s))
	prefix := strings.TrimRightFunc(value[:validation.LabelValueMaxLength-labelHashLen-1], notAlphanumeric)
	return prefix + "-" + hex.EncodeToString(sum[:])[:labelHashLen]
}

func notAlphanumeric(r rune) bool {
	return !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9')
}

// NewObject turns a node config into the MultiNicNodeConfig that Viola
// applies for providerID in namespace. Every field of the payload is kept.
// A config is checked as Viola checks it (viola.NodeConfig.ValidateReceived):
// the schema, and what the node agent needs to act on it, so an object the
// agent would skip is never stored.
func NewObject(config viola.NodeConfig, providerID, namespace string) (*v1alpha1.MultiNicNodeConfig, error) {
	if err := config.ValidateReceived(); err != nil {
		return nil, err
	}
	name := config.NodeName // ValidateReceived made sure it is an object name
	labels := map[string]string{
		LabelNodeName:   LabelValue(name),
		LabelProviderID: LabelValue(providerID),
	}
	// An empty label value is legal but selects nothing useful; leaving the
	// label out also lets server-side apply remove it when the ID goes away.
	if instance := LabelValue(config.InstanceID); instance != "" {
		labels[LabelInstanceID] = instance
	}
	obj := &v1alpha1.MultiNicNodeConfig{
		TypeMeta:   metav1.TypeMeta{APIVersion: v1alpha1.GroupVersion.String(), Kind: v1alpha1.Kind},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: labels},
		Spec: v1alpha1.MultiNicNodeConfigSpec{
			NodeName:   config.NodeName,
			InstanceID: config.InstanceID,
			Interfaces: make([]v1alpha1.Interface, len(config.Interfaces)),
		},
	}
	for i, iface := range config.Interfaces {
		obj.Spec.Interfaces[i] = v1alpha1.Interface{
			ID:         ptr.To(int64(iface.ID)),
			Name:       iface.Name,
			PortID:     iface.PortID,
			MACAddress: iface.MACAddress,
			Address:    iface.Address,
			CIDR:       iface.CIDR,
			MTU:        int32(iface.MTU),
		}
	}
	return obj, nil
}

// applyObject is obj as a server-side apply body. Only the fields Viola owns
// are sent: status belongs to the node agent, and the zero creationTimestamp
// that the typed object serialises as null is not a field anyone sets.
func applyObject(obj *v1alpha1.MultiNicNodeConfig) (*unstructured.Unstructured, error) {
	content, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return nil, fmt.Errorf("convert %s %s/%s to unstructured: %w", v1alpha1.Kind, obj.Namespace, obj.Name, err)
	}
	unstructured.RemoveNestedField(content, "status")
	unstructured.RemoveNestedField(content, "metadata", "creationTimestamp")
	return &unstructured.Unstructured{Object: content}, nil
}
