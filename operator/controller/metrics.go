package controller

import (
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/multinic/multinic/inventory"
	"github.com/multinic/multinic/multinic"
	"github.com/multinic/multinic/operator/api/v1alpha1"
	"github.com/multinic/multinic/viola"
)

// Metrics are the operator's own Prometheus series, registered next to
// controller-runtime's.
//
// The per-OpenstackConfig gauges carry only namespace and name, so their
// number is a handful per CR and bounded by the CRs that exist: forget drops
// a CR's series when it is deleted. The pass-duration histogram has no CR
// labels (a dozen buckets per CR would be the largest series set for the
// least insight); the per-CR gauge of the last pass covers "which CR is slow".
type Metrics struct {
	passDuration         prometheus.Histogram
	passErrors           *prometheus.CounterVec
	nodesSent            prometheus.Counter
	requests             *prometheus.CounterVec
	inventoryWriteErrors *prometheus.CounterVec

	created, lastSync, lastPassDuration *prometheus.GaugeVec
	nodes, nodesSentLast, nodesSkipped  *prometheus.GaugeVec
	nodesDown                           *prometheus.GaugeVec

	mu sync.Mutex
	// seen are the CRs whose last-sync gauge is set; only an unseen one is
	// seeded from status, so a stale cached status never moves it back.
	seen map[crKey]bool
}

type crKey struct{ namespace, name string }

// Inventory write operations counted by multinic_inventory_write_errors_total.
const (
	inventoryUpsert = "upsert"
	inventoryPrune  = "prune"
)

// knownReasons are created at zero so that rate() and increase() see the
// first failure of each reason instead of a series that merely appears.
var knownReasons = []multinic.Reason{
	multinic.ReasonConfig, multinic.ReasonContrabass, multinic.ReasonKeystone,
	multinic.ReasonNeutronEndpoint, multinic.ReasonNeutronPort, multinic.ReasonNeutronSubnet,
	multinic.ReasonSubnetRequired, multinic.ReasonSubnetNotFound, multinic.ReasonSubnetNotUnique,
	multinic.ReasonViolaPost, multinic.ReasonNova, multinic.ReasonInventory, multinic.ReasonInternal,
}

// NewMetrics registers the series with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	perCR := func(name, help string) *prometheus.GaugeVec {
		return prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, []string{"namespace", "name"})
	}
	m := &Metrics{
		passDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "multinic_sync_pass_duration_seconds",
			Help:    "Duration of one sync pass, Contrabass to Viola.",
			Buckets: prometheus.ExponentialBuckets(0.01, 2, 12),
		}),
		passErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "multinic_sync_errors_total",
			Help: "Failed sync passes by reason.",
		}, []string{"reason"}),
		nodesSent: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "multinic_nodes_sent_total",
			Help: "Node configs accepted by Viola.",
		}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "multinic_dependency_requests_total",
			Help: "HTTP requests to each dependency, by status code class.",
		}, []string{"dependency", "code"}),
		inventoryWriteErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "multinic_inventory_write_errors_total",
			Help: "Failed writes of the inventory file: upsert after a send, prune of removed VMs.",
		}, []string{"operation"}),
		created: perCR("multinic_openstackconfig_created_timestamp_seconds",
			"Unix time the OpenstackConfig was created."),
		lastSync: perCR("multinic_openstackconfig_last_sync_timestamp_seconds",
			"Unix time of the last successful sync pass (status.lastSyncedAt); absent until the first."),
		lastPassDuration: perCR("multinic_openstackconfig_last_pass_duration_seconds",
			"Duration of the last sync pass, successful or not."),
		nodes: perCR("multinic_openstackconfig_nodes",
			"Node configs the last successful pass built."),
		nodesSentLast: perCR("multinic_openstackconfig_nodes_sent",
			"Node configs Viola accepted in the last successful pass (changes, DOWN-port re-sends, resyncs)."),
		nodesSkipped: perCR("multinic_openstackconfig_nodes_skipped",
			"VMs that gave no node config plus node configs left out of the POST, in the last successful pass."),
		nodesDown: perCR("multinic_openstackconfig_nodes_down",
			"Nodes with at least one selected port DOWN in the last successful pass."),
		seen: map[crKey]bool{},
	}
	reg.MustRegister(m.passDuration, m.passErrors, m.nodesSent, m.requests, m.inventoryWriteErrors,
		m.created, m.lastSync, m.lastPassDuration, m.nodes, m.nodesSentLast, m.nodesSkipped, m.nodesDown)
	for _, r := range knownReasons {
		m.passErrors.WithLabelValues(string(r))
	}
	m.inventoryWriteErrors.WithLabelValues(inventoryUpsert)
	m.inventoryWriteErrors.WithLabelValues(inventoryPrune)
	return m
}

func (m *Metrics) perCR() []*prometheus.GaugeVec {
	return []*prometheus.GaugeVec{m.created, m.lastSync, m.lastPassDuration, m.nodes, m.nodesSentLast, m.nodesSkipped, m.nodesDown}
}

// observeConfig gives every reconciled CR its series, also one whose passes
// never start (a ConfigError): the creation time stands in for the last sync
// in the "not synced" alert. After a restart the last sync comes from status.
func (m *Metrics) observeConfig(oc *v1alpha1.OpenstackConfig) {
	if m == nil {
		return
	}
	m.created.WithLabelValues(oc.Namespace, oc.Name).Set(float64(oc.CreationTimestamp.Unix()))
	m.mu.Lock()
	defer m.mu.Unlock()
	key := crKey{oc.Namespace, oc.Name}
	if !m.seen[key] && oc.Status.LastSyncedAt != nil {
		m.lastSync.WithLabelValues(oc.Namespace, oc.Name).Set(float64(oc.Status.LastSyncedAt.Unix()))
		m.seen[key] = true
	}
}

// observePass records one pass of oc. The node gauges describe the last
// successful pass; a failed one leaves them and counts its reason.
func (m *Metrics) observePass(oc *v1alpha1.OpenstackConfig, d time.Duration, res multinic.Result, err error) {
	if m == nil {
		return
	}
	m.passDuration.Observe(d.Seconds())
	m.nodesSent.Add(float64(len(res.Sent)))
	ns, name := oc.Namespace, oc.Name
	m.lastPassDuration.WithLabelValues(ns, name).Set(d.Seconds())
	if err != nil {
		reason := multinic.ReasonOf(err)
		if reason == "" {
			reason = multinic.ReasonInternal // as the reconciler reports it
		}
		m.passErrors.WithLabelValues(string(reason)).Inc()
		return
	}
	m.nodes.WithLabelValues(ns, name).Set(float64(len(res.Nodes)))
	m.nodesSentLast.WithLabelValues(ns, name).Set(float64(len(res.Sent)))
	m.nodesSkipped.WithLabelValues(ns, name).Set(float64(len(res.Skipped) + len(res.RejectedNodes)))
	m.nodesDown.WithLabelValues(ns, name).Set(float64(len(res.DownNodes())))
	m.mu.Lock()
	defer m.mu.Unlock()
	m.lastSync.WithLabelValues(ns, name).SetToCurrentTime()
	m.seen[crKey{ns, name}] = true
}

// forget drops the series of a deleted CR, so they neither linger in
// dashboards nor keep a "not synced" alert firing for something gone.
func (m *Metrics) forget(namespace, name string) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, g := range m.perCR() {
		g.DeleteLabelValues(namespace, name)
	}
	delete(m.seen, crKey{namespace, name})
}

// ObserveAttempt counts one HTTP attempt to a dependency by status class;
// the Metrics is the Observer of every client the operator builds.
func (m *Metrics) ObserveAttempt(dependency string, resp *http.Response, err error) {
	if m == nil {
		return
	}
	code := "error"
	if err == nil && resp != nil {
		code = fmt.Sprintf("%dxx", resp.StatusCode/100)
	}
	m.requests.WithLabelValues(dependency, code).Inc()
}

// instrument counts the failed writes of inv. An upsert failure also fails
// the pass (InventoryError); a prune failure is only logged, so without this
// counter a full or read-only volume could go unnoticed.
func (m *Metrics) instrument(inv multinic.Inventory) multinic.Inventory {
	if m == nil {
		return inv
	}
	return countingInventory{Inventory: inv, errors: m.inventoryWriteErrors}
}

type countingInventory struct {
	multinic.Inventory
	errors *prometheus.CounterVec
}

func (c countingInventory) Upsert(providerID string, configs ...viola.NodeConfig) (int, error) {
	n, err := c.Inventory.Upsert(providerID, configs...)
	if err != nil {
		c.errors.WithLabelValues(inventoryUpsert).Inc()
	}
	return n, err
}

func (c countingInventory) PruneNodes(providerID string, keep func(instanceID, nodeName string) bool) (int, error) {
	n, err := c.Inventory.PruneNodes(providerID, keep)
	if err != nil {
		c.errors.WithLabelValues(inventoryPrune).Inc()
	}
	return n, err
}

// MarkOrphaned passes the mark on, counted as a prune (both are the
// removal side of a pass). An inventory that cannot mark forgets the
// records instead, as the library does without a marker.
func (c countingInventory) MarkOrphaned(providerID string, marks ...inventory.OrphanMark) (int, error) {
	marker, ok := c.Inventory.(multinic.OrphanMarker)
	if !ok {
		forget := make(map[string]string, len(marks))
		for _, m := range marks {
			forget[m.NodeName] = m.InstanceID
		}
		return c.PruneNodes(providerID, func(instanceID, nodeName string) bool {
			vm, orphaned := forget[nodeName]
			return !orphaned || (vm != "" && vm != instanceID)
		})
	}
	n, err := marker.MarkOrphaned(providerID, marks...)
	if err != nil {
		c.errors.WithLabelValues(inventoryPrune).Inc()
	}
	return n, err
}
