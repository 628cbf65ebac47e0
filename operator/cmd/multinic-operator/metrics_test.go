package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	"github.com/multinic/multinic/internal/testenv"
)

func TestMetricsFlags(t *testing.T) {
	o, err := parseOptions([]string{"--metrics-secure=false", "--metrics-bind-address=:8080"}, env(nil))
	require.NoError(t, err)
	opts, watcher, err := o.metrics.serverOptions()
	require.NoError(t, err)
	assert.False(t, opts.SecureServing)
	assert.Nil(t, opts.FilterProvider, "plain HTTP has no token to check")
	assert.Nil(t, watcher)

	o, err = parseOptions([]string{"--metrics-secure=false", "--metrics-cert-path=/certs"}, env(nil))
	require.NoError(t, err)
	_, _, err = o.metrics.serverOptions()
	assert.ErrorContains(t, err, "--metrics-cert-path needs --metrics-secure")

	// A mounted certificate that is not there is reported, not replaced by
	// a self-signed one behind the user's back.
	dir := t.TempDir()
	o, err = parseOptions([]string{"--metrics-cert-path=" + dir, "--metrics-cert-name=server.pem"}, env(nil))
	require.NoError(t, err)
	_, _, err = o.metrics.serverOptions()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "--metrics-cert-path="+dir)
	assert.Contains(t, err.Error(), "--metrics-cert-name=server.pem")
}

// TestSecureMetricsOnAPIServer serves metrics as main does, with the manager
// running as the operator's ServiceAccount under the RBAC `make deploy`
// applies, so controller-runtime's filter asks a real API server (TokenReview,
// SubjectAccessReview) about every scrape.
func TestSecureMetricsOnAPIServer(t *testing.T) {
	env, cfg, err := testenv.Start()
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, env.Stop()) })
	ctx := t.Context()
	c, err := client.New(cfg, client.Options{})
	require.NoError(t, err)
	clientset, err := kubernetes.NewForConfig(cfg)
	require.NoError(t, err)

	const operatorNS, operatorSA = "multinic-operator-system", "multinic-operator-controller-manager"
	applyShippedMetricsRBAC(t, c)
	require.NoError(t, c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "monitoring"}}))
	for _, sa := range []string{"prometheus", "stranger"} {
		require.NoError(t, c.Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: sa, Namespace: "monitoring"}}))
	}
	require.NoError(t, c.Create(ctx, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "prometheus-reads-multinic-metrics"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "multinic-operator-metrics-reader"},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: "prometheus", Namespace: "monitoring"}},
	}))
	token := func(namespace, name string) string {
		tr, err := clientset.CoreV1().ServiceAccounts(namespace).CreateToken(ctx, name,
			&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptrTo(int64(3600))}}, metav1.CreateOptions{})
		require.NoError(t, err)
		return tr.Status.Token
	}
	asOperator := rest.AnonymousClientConfig(cfg)
	asOperator.BearerToken = token(operatorNS, operatorSA)
	reader, stranger := token("monitoring", "prometheus"), token("monitoring", "stranger")

	t.Run("self-signed", func(t *testing.T) {
		addr := startMetrics(t, asOperator, metricsFlags{secure: true, certName: "tls.crt", certKey: "tls.key"})
		scraper := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
			TLSClientConfig:   &tls.Config{InsecureSkipVerify: true}, // the certificate is self-signed by design
			ForceAttemptHTTP2: true,
		}}
		url := "https://" + addr + "/metrics"

		code, _ := scrape(t, scraper, url, "")
		assert.Equal(t, http.StatusUnauthorized, code, "a scrape without a token is refused")
		// The API server's TokenReview answers a malformed token with an
		// error, which the filter passes on as 500: refused either way.
		code, body := scrape(t, scraper, url, "not-a-token")
		assert.NotEqual(t, http.StatusOK, code, "a token the API server does not know is refused: %s", body)
		assert.NotContains(t, body, "# TYPE ")
		code, _ = scrape(t, scraper, url, stranger)
		assert.Equal(t, http.StatusForbidden, code, "a ServiceAccount without metrics-reader is refused")
		code, body = scrape(t, scraper, url, reader)
		require.Equal(t, http.StatusOK, code, body)
		assert.Contains(t, body, "# TYPE ", "Prometheus text format")

		resp, err := scraper.Do(authorized(t, url, reader))
		require.NoError(t, err)
		_ = resp.Body.Close()
		assert.Equal(t, 1, resp.ProtoMajor, "HTTP/2 is not offered")

		plain, err := (&http.Client{Timeout: 30 * time.Second}).Do(authorized(t, "http://"+addr+"/metrics", reader))
		if err == nil {
			_ = plain.Body.Close()
			assert.NotEqual(t, http.StatusOK, plain.StatusCode, "no plain HTTP on the secure port")
		}
	})

	t.Run("mounted certificate, renewed in place", func(t *testing.T) {
		dir := t.TempDir()
		firstCA := writeServingCert(t, dir, "first CA")
		flags := metricsFlags{secure: true, certDir: dir, certName: "tls.crt", certKey: "tls.key"}
		addr := startMetrics(t, asOperator, flags)
		trusting := func(ca *x509.Certificate) *http.Client {
			pool := x509.NewCertPool()
			pool.AddCert(ca)
			return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "localhost"}}}
		}
		url := "https://" + addr + "/metrics"
		code, body := scrape(t, trusting(firstCA), url, reader)
		require.Equal(t, http.StatusOK, code, "the mounted certificate is served, verified against its CA: %s", body)

		// cert-manager renews by rewriting the files; the watcher main adds
		// to the manager picks the new pair up without a restart.
		secondCA := writeServingCert(t, dir, "second CA")
		require.Eventually(t, func() bool {
			resp, err := trusting(secondCA).Do(authorized(t, url, reader))
			if err != nil {
				return false
			}
			_ = resp.Body.Close()
			return resp.StatusCode == http.StatusOK
		}, 2*time.Minute, 200*time.Millisecond, "the renewed certificate is served")
	})
}

// applyShippedMetricsRBAC applies the ServiceAccount and the metrics roles
// of `kustomize build operator/config/default`, nothing else: the manager's
// other rights are not needed to serve metrics.
func applyShippedMetricsRBAC(t *testing.T, c client.Client) {
	t.Helper()
	root, err := testenv.RepoRoot()
	require.NoError(t, err)
	kustomize, err := testenv.Tool("kustomize")
	require.NoError(t, err)
	out, err := exec.Command(kustomize, "build", filepath.Join(root, "operator", "config", "default")).Output()
	require.NoError(t, err)
	dec := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(string(out)), 4096)
	var applied []string
	for {
		var obj unstructured.Unstructured
		if err := dec.Decode(&obj.Object); err != nil {
			require.ErrorIs(t, err, io.EOF)
			break
		}
		switch kind, name := obj.GetKind(), obj.GetName(); {
		case kind == "Namespace", kind == "ServiceAccount",
			strings.HasPrefix(kind, "ClusterRole") && strings.Contains(name, "metrics"):
			require.NoError(t, c.Create(t.Context(), &obj), "%s/%s", kind, name)
			applied = append(applied, kind+"/"+name)
		}
	}
	require.ElementsMatch(t, []string{
		"Namespace/multinic-operator-system", "ServiceAccount/multinic-operator-controller-manager",
		"ClusterRole/multinic-operator-metrics-auth-role", "ClusterRoleBinding/multinic-operator-metrics-auth-rolebinding",
		"ClusterRole/multinic-operator-metrics-reader",
	}, applied)
}

// startMetrics runs a manager with main's metrics options on a free local
// port until the test ends, and returns the address once it answers.
func startMetrics(t *testing.T, cfg *rest.Config, flags metricsFlags) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	flags.addr = l.Addr().String()
	require.NoError(t, l.Close())

	opts, watcher, err := flags.serverOptions()
	require.NoError(t, err)
	mgr, err := manager.New(cfg, manager.Options{Metrics: opts, HealthProbeBindAddress: "0"})
	require.NoError(t, err)
	if watcher != nil {
		require.NoError(t, mgr.Add(watcher))
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	t.Cleanup(func() { cancel(); require.NoError(t, <-done) })
	require.Eventually(t, func() bool {
		conn, err := net.DialTimeout("tcp", flags.addr, time.Second)
		if err == nil {
			_ = conn.Close()
		}
		return err == nil
	}, time.Minute, 50*time.Millisecond, "the metrics server listens on %s", flags.addr)
	return flags.addr
}

func authorized(t *testing.T, url, token string) *http.Request {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return req
}

// scrape returns the status and body of one GET.
func scrape(t *testing.T, c *http.Client, url, token string) (int, string) {
	t.Helper()
	resp, err := c.Do(authorized(t, url, token))
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(body)
}

// writeServingCert writes tls.crt and tls.key for localhost, signed by a new
// CA, the way a cert-manager Secret is mounted, and returns the CA.
func writeServingCert(t *testing.T, dir, caName string) *x509.Certificate {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	caTemplate := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: caName},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTemplate, caTemplate, &caKey.PublicKey, caKey)
	require.NoError(t, err)
	ca, err := x509.ParseCertificate(caDER)
	require.NoError(t, err)

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	leaf := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "localhost"},
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, leaf, ca, &key.PublicKey, caKey)
	require.NoError(t, err)
	keyDER, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	// Key first: the watcher reloads on the certificate's change, and must
	// then find the matching key.
	writePEM(t, filepath.Join(dir, "tls.key"), "EC PRIVATE KEY", keyDER)
	writePEM(t, filepath.Join(dir, "tls.crt"), "CERTIFICATE", der)
	return ca
}

func writePEM(t *testing.T, path, blockType string, der []byte) {
	t.Helper()
	tmp := path + ".tmp"
	require.NoError(t, os.WriteFile(tmp, pem.EncodeToMemory(&pem.Block{Type: blockType, Bytes: der}), 0o600))
	require.NoError(t, os.Rename(tmp, path), "replace %s", path)
}

func ptrTo[T any](v T) *T { return &v }
