package testapi

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"regexp"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"

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

var objectNameUnsafe = regexp.MustCompile(`[^a-z0-9.-]`)

// ObjectName is the MultiNicNodeConfig name for a node (SPEC §7): lower-cased,
// characters outside [a-z0-9.-] replaced by "-", then trimmed into a valid
// DNS subdomain (no empty or dash-edged dot-separated parts, at most 253
// characters). Node names are normally DNS subdomains already, so this only
// changes odd ones such as "Worker_1.EXAMPLE" → "worker-1.example". It fails
// when nothing usable is left, e.g. for "___".
func ObjectName(nodeName string) (string, error) {
	replaced := objectNameUnsafe.ReplaceAllString(strings.ToLower(nodeName), "-")
	var parts []string
	for part := range strings.SplitSeq(replaced, ".") {
		if part = strings.Trim(part, "-"); part != "" {
			parts = append(parts, part)
		}
	}
	name := strings.Join(parts, ".")
	if len(name) > validation.DNS1123SubdomainMaxLength {
		name = strings.TrimRight(name[:validation.DNS1123SubdomainMaxLength], "-.")
	}
	if name == "" {
		return "", fmt.Errorf("nodeName %q yields no valid object name: it has no letter or digit", nodeName)
	}
	// The steps above always give a DNS subdomain; checking again keeps a
	// future change from sending the API server a name it will refuse.
	if errs := validation.IsDNS1123Subdomain(name); len(errs) > 0 {
		return "", fmt.Errorf("nodeName %q yields invalid object name %q: %s", nodeName, name, strings.Join(errs, "; "))
	}
	return name, nil
}

var labelValueUnsafe = regexp.MustCompile(`[^A-Za-z0-9._-]`)

// labelHashLen is how many hex digits of a SHA-256 end a shortened label
// value, so two long values that share a prefix still differ.
const labelHashLen = 8

// LabelValue makes s a valid label value: characters outside [A-Za-z0-9._-]
// become "-", the ends are trimmed to alphanumerics, and a value longer than
// 63 characters is cut and suffixed with a hash of s. Case is kept, because
// label values allow it and the label should show the real node name.
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
// applies for providerID in namespace. It checks what Validate does not:
// the interface names and that the object name can be formed.
func NewObject(config viola.NodeConfig, providerID, namespace string) (*v1alpha1.MultiNicNodeConfig, error) {
	if err := config.Validate(); err != nil {
		return nil, err
	}
	name, err := ObjectName(config.NodeName)
	if err != nil {
		return nil, err
	}
	labels := map[string]string{
		LabelNodeName:   LabelValue(config.NodeName),
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
		if want := viola.InterfaceName(iface.ID); iface.Name != want {
			return nil, fmt.Errorf("node config %q: interfaces[%d].name %q must be %q", config.NodeName, i, iface.Name, want)
		}
		// Validate bounds mtu to 68-9000 but not id from above; the CRD
		// stores both as int32.
		if iface.ID > math.MaxInt32 {
			return nil, fmt.Errorf("node config %q: interfaces[%d].id %d exceeds %d", config.NodeName, i, iface.ID, math.MaxInt32)
		}
		obj.Spec.Interfaces[i] = v1alpha1.Interface{
			ID:         int32(iface.ID),
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
