package controller_test

import (
	corev1 "k8s.io/api/core/v1"

	"github.com/multinic/multinic/viola"
)

type (
	viola_NodeConfig = viola.NodeConfig
	viola_Interface  = viola.Interface
	corev1Secret     = corev1.Secret
)
