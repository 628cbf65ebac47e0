package controller_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/multinic/multinic/inventory"
	"github.com/multinic/multinic/operator/controller"
)

// AddToManager is what main runs: the inventory API comes up with the
// manager, answers 503 when the inventory is disabled, and stops with it.
func TestAddToManagerServesInventory(t *testing.T) {
	for _, disabled := range []bool{false, true} {
		store, err := inventory.Open("")
		require.NoError(t, err)
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		mgr, err := ctrl.NewManager(restConfig, ctrl.Options{
			Scheme:                 scheme,
			Metrics:                metricsserver.Options{BindAddress: "0"},
			HealthProbeBindAddress: "0",
			Controller:             config.Controller{SkipNameValidation: ptr.To(true)},
		})
		require.NoError(t, err)
		_, err = controller.AddToManager(mgr, controller.OperatorOptions{
			Inventory: store, InventoryListener: ln, InventoryDisabled: disabled, Registerer: prometheus.NewRegistry(),
		})
		require.NoError(t, err)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- mgr.Start(ctx) }()

		url := "http://" + ln.Addr().String() + "/healthz"
		var status int
		require.Eventually(t, func() bool {
			resp, err := http.Get(url)
			if err != nil {
				return false
			}
			defer resp.Body.Close()
			_, _ = io.Copy(io.Discard, resp.Body)
			status = resp.StatusCode
			return true
		}, 10*time.Second, 20*time.Millisecond)
		if disabled {
			assert.Equal(t, http.StatusServiceUnavailable, status)
		} else {
			assert.Equal(t, http.StatusOK, status)
		}

		cancel()
		require.NoError(t, <-done)
		_, err = http.Get(url)
		assert.Error(t, err, "the listener closes with the manager")
	}
}
