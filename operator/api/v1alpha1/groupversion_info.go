// Package v1alpha1 holds the OpenstackConfig API of the multinic operator.
// +kubebuilder:object:generate=true
// +groupName=multinic.example.com
package v1alpha1

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
)

var (
	// GroupVersion is the API group and version of OpenstackConfig.
	GroupVersion = schema.GroupVersion{Group: "multinic.example.com", Version: "v1alpha1"}
	// SchemeBuilder registers the types with a runtime scheme.
	SchemeBuilder = &scheme.Builder{GroupVersion: GroupVersion}
	// AddToScheme adds the types of this group-version to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)
