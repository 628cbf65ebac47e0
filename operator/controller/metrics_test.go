package controller

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/multinic/multinic/multinic"
)

func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	m.ObserveAttempt("viola", &http.Response{StatusCode: 202}, nil)
	m.ObserveAttempt("viola", &http.Response{StatusCode: 503}, nil)
	m.ObserveAttempt("openstack", nil, errors.New("refused"))
	assert.Equal(t, 1.0, testutil.ToFloat64(m.requests.WithLabelValues("viola", "2xx")))
	assert.Equal(t, 1.0, testutil.ToFloat64(m.requests.WithLabelValues("viola", "5xx")))
	assert.Equal(t, 1.0, testutil.ToFloat64(m.requests.WithLabelValues("openstack", "error")))

	m.observePass(time.Second, multinic.Result{Sent: []string{"a", "b"}}, nil)
	m.observePass(time.Second, multinic.Result{}, &multinic.Error{Reason: multinic.ReasonKeystone, Err: errors.New("x")})
	assert.Equal(t, 2.0, testutil.ToFloat64(m.nodesSent))
	assert.Equal(t, 1.0, testutil.ToFloat64(m.passErrors.WithLabelValues("KeystoneError")))
	var h dto.Metric
	require.NoError(t, m.passDuration.Write(&h))
	assert.Equal(t, uint64(2), h.GetHistogram().GetSampleCount())

	var none *Metrics // a reconciler without metrics must not panic
	none.ObserveAttempt("viola", nil, nil)
	none.observePass(0, multinic.Result{}, nil)
}
