package main

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/multinic/multinic/internal/version"
)

// registerBuildInfo registers multinic_build_info{version,revision,goversion},
// always 1: the usual way to see in PromQL which build each replica runs and
// to join it to other series. It lives here, not in internal/version, so the
// Viola test API does not link the Prometheus client.
func registerBuildInfo(reg prometheus.Registerer, build version.Info) error {
	gauge := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "multinic_build_info",
		Help: "Build of the running multinic operator; always 1.",
	}, []string{"version", "revision", "goversion"})
	gauge.WithLabelValues(build.Version, build.Revision, build.GoVersion).Set(1)
	return reg.Register(gauge)
}
