// Package v1alpha1 holds the MultiNicNodeConfig API (SPEC §7): the per-node
// NIC layout that Viola writes into a Biz cluster and the node agent reads.
// The Viola test API applies these objects; the agent owns their status.
// +kubebuilder:object:generate=true
// +groupName=multinic.io
package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// The builder is apimachinery's, not controller-runtime's (deprecated), as
// in operator/api/v1alpha1.
var (
	// GroupVersion is the API group and version of MultiNicNodeConfig.
	GroupVersion = schema.GroupVersion{Group: "multinic.io", Version: "v1alpha1"}
	// Resource is the plural resource the dynamic client addresses.
	Resource = GroupVersion.WithResource("multinicnodeconfigs")
	// SchemeBuilder registers the types with a runtime scheme.
	SchemeBuilder = runtime.NewSchemeBuilder(addKnownTypes)
	// AddToScheme adds the types of this group-version to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)

// addKnownTypes registers the types, and the meta/v1 options types clients
// send with them (ListOptions and so on), under GroupVersion.
func addKnownTypes(scheme *runtime.Scheme) error {
	scheme.AddKnownTypes(GroupVersion, &MultiNicNodeConfig{}, &MultiNicNodeConfigList{})
	metav1.AddToGroupVersion(scheme, GroupVersion)
	return nil
}

// Kind is the kind of MultiNicNodeConfig objects.
const Kind = "MultiNicNodeConfig"
