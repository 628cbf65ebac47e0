package main

import (
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"path/filepath"

	"sigs.k8s.io/controller-runtime/pkg/certwatcher"
	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
)

// metricsFlags configure the metrics endpoint the way kubebuilder scaffolds
// it: HTTPS, and only for clients whose bearer token the API server
// authenticates (TokenReview) and authorizes for GET /metrics
// (SubjectAccessReview), so the per-OpenstackConfig series are not open to
// every pod that can reach the port.
type metricsFlags struct {
	addr              string
	secure            bool
	certDir           string
	certName, certKey string
}

func (m *metricsFlags) bind(fs *flag.FlagSet) {
	fs.StringVar(&m.addr, "metrics-bind-address", ":8443", "address of the Prometheus metrics endpoint (:8443 for HTTPS, :8080 with --metrics-secure=false); 0 disables it")
	fs.BoolVar(&m.secure, "metrics-secure", true, "serve metrics over HTTPS, only to bearer tokens the API server allows GET on /metrics; false serves plain HTTP to anyone who reaches the port")
	fs.StringVar(&m.certDir, "metrics-cert-path", "", "directory holding the metrics server's certificate and key, reloaded when they change; empty uses a self-signed certificate made at start")
	fs.StringVar(&m.certName, "metrics-cert-name", "tls.crt", "certificate file in --metrics-cert-path")
	fs.StringVar(&m.certKey, "metrics-cert-key", "tls.key", "key file in --metrics-cert-path")
}

// serverOptions builds the manager's metrics options. A certificate watcher,
// when --metrics-cert-path is set, must be added to the manager so that it
// reloads a renewed certificate (cert-manager rotates it in place).
func (m metricsFlags) serverOptions() (metricsserver.Options, *certwatcher.CertWatcher, error) {
	opts := metricsserver.Options{
		BindAddress:   m.addr,
		SecureServing: m.secure,
		// HTTP/1.1 only: HTTP/2's stream reset and CONTINUATION floods
		// (CVE-2023-44487, CVE-2023-39325) need no credentials, and a
		// scrape gains nothing from HTTP/2.
		TLSOpts: []func(*tls.Config){func(c *tls.Config) { c.NextProtos = []string{"http/1.1"} }},
	}
	if !m.secure {
		if m.certDir != "" {
			return opts, nil, errors.New("--metrics-cert-path needs --metrics-secure: plain HTTP uses no certificate")
		}
		return opts, nil, nil
	}
	opts.FilterProvider = filters.WithAuthenticationAndAuthorization
	if m.certDir == "" {
		return opts, nil, nil
	}
	// controller-runtime would fall back to a self-signed certificate when
	// the files are missing; a mounted certificate that is not there is a
	// mistake to report, not to paper over.
	watcher, err := certwatcher.New(filepath.Join(m.certDir, m.certName), filepath.Join(m.certDir, m.certKey))
	if err != nil {
		return opts, nil, fmt.Errorf("metrics certificate (--metrics-cert-path=%s, --metrics-cert-name=%s, --metrics-cert-key=%s): %w", m.certDir, m.certName, m.certKey, err)
	}
	opts.TLSOpts = append(opts.TLSOpts, func(c *tls.Config) { c.GetCertificate = watcher.GetCertificate })
	return opts, watcher, nil
}
