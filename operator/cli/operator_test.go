package cli_test

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/multinic/multinic/multinic"
	"github.com/multinic/multinic/multinic/multinictest"
	"github.com/multinic/multinic/operator/api/v1alpha1"
	"github.com/multinic/multinic/operator/controller"
	"github.com/multinic/multinic/operator/crconfig"
	"github.com/multinic/multinic/viola"
)

// TestAgainstTheOperator runs the real operator (controller.AddToManager,
// as main does) on the test API server and the fakes, and checks the
// commands against what it did: the plan finds nothing to send, status
// shows its conditions and events, check passes.
func TestAgainstTheOperator(t *testing.T) {
	w := newWorld(t)
	scheme, err := crconfig.NewScheme()
	require.NoError(t, err)
	mgr, err := ctrl.NewManager(restConfig, ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		// Only this test's namespace: other tests' CRs point at closed fakes.
		Cache:      cache.Options{DefaultNamespaces: map[string]cache.Config{w.namespace: {}}},
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
	})
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	_, err = controller.AddToManager(mgr, controller.OperatorOptions{
		Viola:             viola.Options{Endpoint: w.env.Viola.URL},
		Inventory:         w.store,
		InventoryListener: ln,
		Registerer:        prometheus.NewRegistry(),
	})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() { defer close(stopped); _ = mgr.Start(ctx) }()
	t.Cleanup(func() { cancel(); <-stopped })
	operatorInventory := "http://" + ln.Addr().String()
	w.placeholders = map[string]string{operatorInventory: "{{operator-inventory}}"}

	w.createSecret(t, crconfig.DefaultEncryptKeySecret, map[string]string{crconfig.DefaultEncryptKeyField: multinictest.EncryptKey})
	oc := w.createCR(t, func(oc *v1alpha1.OpenstackConfig) { oc.Spec.Settings.ViolaEndpoint = "" })
	require.Eventually(t, func() bool {
		var got v1alpha1.OpenstackConfig
		if k8s.Get(context.Background(), client.ObjectKeyFromObject(oc), &got) != nil {
			return false
		}
		return meta.IsStatusConditionTrue(got.Status.Conditions, v1alpha1.ConditionReady)
	}, time.Minute, 50*time.Millisecond, "the operator syncs the CR")
	require.NotEmpty(t, w.env.Viola.Posts())

	// The operator's Viola endpoint is its environment; here, the flag.
	flags := []string{"-n", w.namespace, "biz-cluster-1", "--inventory-url", operatorInventory}
	plan := decodePlan(t, run(t, w.kube(append([]string{"plan", "--viola-endpoint", w.env.Viola.URL, "-o", "json"}, flags...)...)...).stdout)
	assert.Empty(t, plan.Payload, "right after a pass, nothing is due")
	require.Len(t, plan.Diff, 3)
	for _, d := range plan.Diff {
		assert.Equal(t, multinic.ChangeUnchanged, d.Change, d.NodeName)
	}

	status := run(t, w.kube(append([]string{"status", "-o", "json"}, flags...)...)...)
	require.Equal(t, 0, status.code, status.stderr)
	report := decodeStatus(t, status.stdout)
	assert.Equal(t, int32(3), report.Status.Nodes)
	assert.Len(t, report.Nodes, 3, "the nodes come from the operator's inventory")
	assert.Contains(t, reasons(report.Events), v1alpha1.ReasonSynced, "the operator's events.k8s.io event is shown")
	text := run(t, w.kube(append([]string{"status"}, flags...)...)...)
	// The default grace period holds worker-2's DOWN port, never sent.
	assert.Contains(t, text.stdout, "DOWN ports held back until ACTIVE or the grace period ends (1 listed):\n  PORT      NODE      FIRST SEEN DOWN")
	assert.Contains(t, text.stdout, "  port-b-2  worker-2  ")
	assert.Contains(t, text.stdout, "Removal policy    Orphan (")

	check := run(t, w.kube(append([]string{"check", "--viola-endpoint", w.env.Viola.URL}, flags...)...)...)
	assert.Equal(t, 0, check.code, check.stdout)
	assert.Contains(t, check.stdout, "3 records for provider provider-1")
}

type statusJSON struct {
	Status v1alpha1.OpenstackConfigStatus `json:"status"`
	Nodes  []struct {
		NodeName string `json:"nodeName"`
	} `json:"nodes"`
	Events []struct {
		Reason   string      `json:"reason"`
		LastSeen metav1.Time `json:"lastSeen"`
	} `json:"events"`
}

func decodeStatus(t *testing.T, out string) statusJSON { return decode[statusJSON](t, out) }

func reasons(events []struct {
	Reason   string      `json:"reason"`
	LastSeen metav1.Time `json:"lastSeen"`
}) []string {
	var out []string
	for _, e := range events {
		out = append(out, e.Reason)
	}
	return out
}
