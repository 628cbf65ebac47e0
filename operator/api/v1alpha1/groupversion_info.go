// Package v1alpha1 holds the OpenstackConfig API of the multinic operator.
// +kubebuilder:object:generate=true
// +groupName=multinic.example.com
package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// The builder is apimachinery's, not controller-runtime's (deprecated), so
// importing the API types brings in no controller-runtime.
var (
	// GroupVersion is the API group and version of OpenstackConfig.
	GroupVersion = schema.GroupVersion{Group: "multinic.example.com", Version: "v1alpha1"}
	// SchemeBuilder registers the types with a runtime scheme.
	SchemeBuilder = runtime.NewSchemeBuilder(addKnownTypes)
	// AddToScheme adds the types of this group-version to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)

// addKnownTypes registers the types, and the meta/v1 options types clients
// send with them (ListOptions and so on), under GroupVersion.
func addKnownTypes(scheme *runtime.Scheme) error {
	scheme.AddKnownTypes(GroupVersion, &OpenstackConfig{}, &OpenstackConfigList{})
	metav1.AddToGroupVersion(scheme, GroupVersion)
	return nil
}
