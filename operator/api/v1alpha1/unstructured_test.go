package v1alpha1_test

import (
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/multinic/multinic/operator/api/v1alpha1"
)

type unstructuredConfig struct {
	name string
	spec map[string]any
}

func (u *unstructuredConfig) toUnstructured() *unstructured.Unstructured {
	obj := &unstructured.Unstructured{Object: map[string]any{"spec": u.spec}}
	obj.SetGroupVersionKind(v1alpha1.GroupVersion.WithKind("OpenstackConfig"))
	obj.SetName(u.name)
	obj.SetNamespace("default")
	return obj
}
