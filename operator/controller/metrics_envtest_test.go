package controller_test

import (
	"context"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/multinic/multinic/operator/controller"
)

// crSeries returns the per-OpenstackConfig series of namespace/name by
// metric name.
func crSeries(t *testing.T, reg prometheus.Gatherer, namespace, name string) map[string]float64 {
	t.Helper()
	families, err := reg.Gather()
	require.NoError(t, err)
	out := map[string]float64{}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["namespace"] == namespace && labels["name"] == name {
				out[f.GetName()] = m.GetGauge().GetValue()
			}
		}
	}
	return out
}

// The reconciler gives a CR its series on its passes and drops them once
// the CR is gone, so deleted CRs neither fill dashboards nor fire alerts.
func TestReconcilerKeepsPerConfigSeries(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	reg := prometheus.NewRegistry()
	f.reconciler.Metrics = controller.NewMetrics(reg)

	// A CR that cannot start a pass still gets the series the alert reads.
	broken := f.config("broken")
	broken.Spec.Settings.ContrabassEncryptKey = ""
	broken.Spec.Credentials.K8sProviderID = "broken" // else, older, it would own the VMs
	f.create(broken)
	f.reconcile(broken)
	got := crSeries(t, reg, f.ns, "broken")
	assert.Equal(t, float64(f.get(broken).CreationTimestamp.Unix()), got["multinic_openstackconfig_created_timestamp_seconds"])
	assert.NotContains(t, got, "multinic_openstackconfig_last_sync_timestamp_seconds")

	oc := f.create(f.config("measured"))
	f.reconcile(oc)
	got = crSeries(t, reg, f.ns, "measured")
	assert.Equal(t, 3.0, got["multinic_openstackconfig_nodes"])
	assert.Equal(t, 3.0, got["multinic_openstackconfig_nodes_sent"])
	assert.Equal(t, 1.0, got["multinic_openstackconfig_nodes_down"], "the sample's worker-2 has a DOWN port")
	assert.Equal(t, 0.0, got["multinic_openstackconfig_nodes_skipped"])
	assert.Positive(t, got["multinic_openstackconfig_last_sync_timestamp_seconds"])
	assert.Positive(t, got["multinic_openstackconfig_last_pass_duration_seconds"])

	require.NoError(t, k8s.Delete(ctx, f.get(oc)))
	f.reconcile(oc) // finalizer: the object goes
	f.reconcile(oc) // the delete event's reconcile finds nothing
	assert.Empty(t, crSeries(t, reg, f.ns, "measured"))
	assert.NotEmpty(t, crSeries(t, reg, f.ns, "broken"), "other CRs keep theirs")
}
