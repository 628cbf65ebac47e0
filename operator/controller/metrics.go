package controller

import (
	"fmt"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/multinic/multinic/multinic"
)

// Metrics are the operator's own Prometheus series, registered next to
// controller-runtime's.
type Metrics struct {
	passDuration prometheus.Histogram
	passErrors   *prometheus.CounterVec
	nodesSent    prometheus.Counter
	requests     *prometheus.CounterVec
}

// NewMetrics registers the series with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
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
	}
	reg.MustRegister(m.passDuration, m.passErrors, m.nodesSent, m.requests)
	return m
}

func (m *Metrics) observePass(d time.Duration, res multinic.Result, err error) {
	if m == nil {
		return
	}
	m.passDuration.Observe(d.Seconds())
	m.nodesSent.Add(float64(len(res.Sent)))
	if err != nil {
		m.passErrors.WithLabelValues(string(multinic.ReasonOf(err))).Inc()
	}
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
