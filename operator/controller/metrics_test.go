package controller

import (
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/multinic/multinic/inventory"
	"github.com/multinic/multinic/multinic"
	"github.com/multinic/multinic/operator/api/v1alpha1"
	"github.com/multinic/multinic/viola"
)

func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	m.ObserveAttempt("viola", &http.Response{StatusCode: http.StatusAccepted}, nil)
	m.ObserveAttempt("viola", &http.Response{StatusCode: http.StatusServiceUnavailable}, nil)
	m.ObserveAttempt("openstack", nil, errors.New("refused"))
	assert.Equal(t, 1.0, testutil.ToFloat64(m.requests.WithLabelValues("viola", "2xx")))
	assert.Equal(t, 1.0, testutil.ToFloat64(m.requests.WithLabelValues("viola", "5xx")))
	assert.Equal(t, 1.0, testutil.ToFloat64(m.requests.WithLabelValues("openstack", "error")))

	oc := testConfig("team-a", "prod")
	m.observePass(oc, time.Second, multinic.Result{Sent: []string{"a", "b"}}, nil)
	m.observePass(oc, time.Second, multinic.Result{}, &multinic.Error{Reason: multinic.ReasonKeystone, Err: errors.New("x")})
	m.observePass(oc, time.Second, multinic.Result{}, errors.New("not classified"))
	assert.Equal(t, 2.0, testutil.ToFloat64(m.nodesSent))
	assert.Equal(t, 1.0, testutil.ToFloat64(m.passErrors.WithLabelValues("KeystoneError")))
	assert.Equal(t, 1.0, testutil.ToFloat64(m.passErrors.WithLabelValues("InternalError")), "as the reconciler names an unclassified failure")
	assert.Equal(t, 0.0, testutil.ToFloat64(m.passErrors.WithLabelValues("")))
	var h dto.Metric
	require.NoError(t, m.passDuration.Write(&h))
	assert.Equal(t, uint64(3), h.GetHistogram().GetSampleCount())

	var none *Metrics // a reconciler without metrics must not panic
	none.ObserveAttempt("viola", nil, nil)
	none.observePass(oc, 0, multinic.Result{}, nil)
	none.observeConfig(oc)
	none.forget("a", "b")
	store, err := inventory.Open("")
	require.NoError(t, err)
	assert.Equal(t, multinic.Inventory(store), none.instrument(store))
}

// Counters of every known reason and write operation exist at zero before
// the first failure, so increase() in the alerts sees that failure.
func TestMetricsStartAtZero(t *testing.T) {
	reg := prometheus.NewRegistry()
	NewMetrics(reg)
	assert.Equal(t, len(knownReasons), testutil.CollectAndCount(reg, "multinic_sync_errors_total"))
	assert.Equal(t, 2, testutil.CollectAndCount(reg, "multinic_inventory_write_errors_total"))
	assert.Zero(t, testutil.CollectAndCount(reg, "multinic_openstackconfig_nodes"), "no CR, no per-CR series")
}

func testConfig(namespace, name string) *v1alpha1.OpenstackConfig {
	return &v1alpha1.OpenstackConfig{ObjectMeta: metav1.ObjectMeta{
		Namespace: namespace, Name: name, CreationTimestamp: metav1.NewTime(time.Unix(1700000000, 0)),
	}}
}

func TestMetricsPerConfig(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	a, b := testConfig("team-a", "prod"), testConfig("team-b", "prod")
	gauge := func(g *prometheus.GaugeVec, oc *v1alpha1.OpenstackConfig) float64 {
		return testutil.ToFloat64(g.WithLabelValues(oc.Namespace, oc.Name))
	}

	// A CR whose passes never start still has a series for the alert.
	m.observeConfig(a)
	assert.Equal(t, 1700000000.0, gauge(m.created, a))
	assert.Zero(t, testutil.CollectAndCount(m.lastSync), "never synced: no last-sync series")

	// After a restart the last sync is seeded from status, once.
	synced := metav1.NewTime(time.Unix(1700000500, 0))
	b.Status.LastSyncedAt = &synced
	m.observeConfig(b)
	assert.Equal(t, 1700000500.0, gauge(m.lastSync, b))

	before := float64(time.Now().Unix())
	m.observePass(b, 1500*time.Millisecond, multinic.Result{
		Nodes:         make([]viola.NodeConfig, 4),
		Sent:          []string{"w1"},
		Skipped:       []multinic.SkippedVM{{InstanceID: "vm-9"}},
		RejectedNodes: []multinic.RejectedNode{{NodeName: "Bad_Name"}},
		DownPorts:     []multinic.DownPort{{NodeName: "w1", PortID: "p1"}, {NodeName: "w1", PortID: "p2"}, {NodeName: "w2", PortID: "p3"}},
	}, nil)
	assert.GreaterOrEqual(t, gauge(m.lastSync, b), before)
	assert.Equal(t, 1.5, gauge(m.lastPassDuration, b))
	assert.Equal(t, 4.0, gauge(m.nodes, b))
	assert.Equal(t, 1.0, gauge(m.nodesSentLast, b))
	assert.Equal(t, 2.0, gauge(m.nodesSkipped, b), "a skipped VM and a rejected node config")
	assert.Equal(t, 2.0, gauge(m.nodesDown, b), "nodes, not ports")

	// A stale status read from the cache must not move the gauge back.
	m.observeConfig(b)
	assert.GreaterOrEqual(t, gauge(m.lastSync, b), before)

	// A failed pass keeps the last successful pass's gauges.
	m.observePass(b, 3*time.Second, multinic.Result{}, &multinic.Error{Reason: multinic.ReasonViolaPost, Err: errors.New("500")})
	assert.Equal(t, 3.0, gauge(m.lastPassDuration, b))
	assert.Equal(t, 4.0, gauge(m.nodes, b))
	assert.GreaterOrEqual(t, gauge(m.lastSync, b), before)

	// Deleting b leaves a alone and no series of b behind.
	m.forget(b.Namespace, b.Name)
	families, err := reg.Gather()
	require.NoError(t, err)
	for _, f := range families {
		if !strings.HasPrefix(f.GetName(), "multinic_openstackconfig_") {
			continue
		}
		for _, s := range f.GetMetric() {
			for _, l := range s.GetLabel() {
				assert.False(t, l.GetName() == "namespace" && l.GetValue() == "team-b", "%s kept a series of the deleted CR", f.GetName())
			}
		}
	}
	assert.Equal(t, 1700000000.0, gauge(m.created, a))
	// Re-created under the same name, it is seeded from its status again.
	m.observeConfig(b)
	assert.Equal(t, 1700000500.0, gauge(m.lastSync, b))
}

// Writes that fail are counted by operation; reads and successes are not.
func TestMetricsCountInventoryWriteErrors(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	dir := t.TempDir()
	store, err := inventory.Open(filepath.Join(dir, "inventory.json"))
	require.NoError(t, err)
	inv := m.instrument(store)
	node := viola.NodeConfig{NodeName: "w1", InstanceID: "vm-1", Interfaces: []viola.Interface{{ID: 0, Name: "multinic0", MACAddress: "fa:16:3e:00:00:01", Address: "10.0.0.1", CIDR: "10.0.0.0/24", MTU: 1450}}}
	_, err = inv.Upsert("p", node)
	require.NoError(t, err)
	assert.Equal(t, 0.0, testutil.ToFloat64(m.inventoryWriteErrors.WithLabelValues(inventoryUpsert)))

	// The file's directory disappears: every write fails from now on.
	require.NoError(t, os.RemoveAll(dir))
	node.Interfaces[0].MTU = 9000
	_, err = inv.Upsert("p", node)
	require.Error(t, err)
	_, err = inv.PruneNodes("p", func(string, string) bool { return false })
	require.Error(t, err)
	assert.Equal(t, 1.0, testutil.ToFloat64(m.inventoryWriteErrors.WithLabelValues(inventoryUpsert)))
	assert.Equal(t, 1.0, testutil.ToFloat64(m.inventoryWriteErrors.WithLabelValues(inventoryPrune)))
	assert.Len(t, inv.List(inventory.Filter{ProviderID: "p"}), 1, "reads pass through")
	_, err = inv.(multinic.OrphanMarker).MarkOrphaned("p", inventory.OrphanMark{NodeName: "w1", Reason: "left"})
	require.Error(t, err)
	assert.Equal(t, 2.0, testutil.ToFloat64(m.inventoryWriteErrors.WithLabelValues(inventoryPrune)), "a failed mark counts as a prune")
}

// The instrumented inventory marks orphans through the store, and forgets
// them (as the library does) when the inventory beneath cannot mark.
func TestMetricsInventoryMarksOrphans(t *testing.T) {
	store, err := inventory.Open("")
	require.NoError(t, err)
	node := viola.NodeConfig{NodeName: "w1", InstanceID: "vm-1", Interfaces: []viola.Interface{{ID: 0, Name: "multinic0", MACAddress: "fa:16:3e:00:00:01", Address: "10.0.0.1", CIDR: "10.0.0.0/24", MTU: 1450}}}
	other := node
	other.NodeName, other.InstanceID = "w2", "vm-2"
	_, err = store.Upsert("p", node, other)
	require.NoError(t, err)

	m := NewMetrics(prometheus.NewRegistry())
	n, err := m.instrument(store).(multinic.OrphanMarker).MarkOrphaned("p", inventory.OrphanMark{NodeName: "w1", InstanceID: "vm-1", Reason: "left"})
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	rec, _ := store.Get("p", "w1")
	require.NotNil(t, rec.Orphaned)

	n, err = m.instrument(listOnly{store}).(multinic.OrphanMarker).MarkOrphaned("p", inventory.OrphanMark{NodeName: "w2", InstanceID: "vm-other", Reason: "left"},
		inventory.OrphanMark{NodeName: "w1", InstanceID: "vm-1", Reason: "left"})
	require.NoError(t, err)
	assert.Equal(t, 1, n, "w1 is forgotten; w2 belongs to another VM now and stays")
	_, kept := store.Get("p", "w2")
	assert.True(t, kept)
}

// listOnly is an Inventory that cannot mark orphans.
type listOnly struct{ s *inventory.Store }

func (l listOnly) List(f inventory.Filter) []inventory.Record { return l.s.List(f) }
func (l listOnly) Upsert(p string, c ...viola.NodeConfig) (int, error) {
	return l.s.Upsert(p, c...)
}
func (l listOnly) PruneNodes(p string, keep func(string, string) bool) (int, error) {
	return l.s.PruneNodes(p, keep)
}
