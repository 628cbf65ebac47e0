// Package v1alpha1 holds the MultiNicNodeConfig API (SPEC §7): the per-node
// NIC layout that Viola writes into a Biz cluster and the node agent reads.
// The Viola test API applies these objects; the agent owns their status.
// +kubebuilder:object:generate=true
// +groupName=multinic.io
package v1alpha1

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
)

var (
	// GroupVersion is the API group and version of MultiNicNodeConfig.
	GroupVersion = schema.GroupVersion{Group: "multinic.io", Version: "v1alpha1"}
	// Resource is the plural resource the dynamic client addresses.
	Resource = GroupVersion.WithResource("multinicnodeconfigs")
	// SchemeBuilder registers the types with a runtime scheme.
	SchemeBuilder = &scheme.Builder{GroupVersion: GroupVersion}
	// AddToScheme adds the types of this group-version to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)

// Kind is the kind of MultiNicNodeConfig objects.
const Kind = "MultiNicNodeConfig"
