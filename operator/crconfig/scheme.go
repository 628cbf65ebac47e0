package crconfig

import (
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"

	"github.com/multinic/multinic/operator/api/v1alpha1"
)

// NewScheme holds the types the operator and its tools read and write:
// OpenstackConfigs, and client-go's built-in types (Secrets, Events,
// Deployments, Services).
func NewScheme() (*runtime.Scheme, error) {
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return nil, err
	}
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		return nil, err
	}
	return scheme, nil
}
