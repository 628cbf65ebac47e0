package cli_test

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/multinic/multinic/contrabass"
	"github.com/multinic/multinic/internal/testenv"
	"github.com/multinic/multinic/inventory"
	"github.com/multinic/multinic/multinic/multinictest"
	"github.com/multinic/multinic/openstack"
	"github.com/multinic/multinic/operator/cli"
	"github.com/multinic/multinic/operator/crconfig"
	"github.com/multinic/multinic/viola"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

var (
	restConfig *rest.Config
	k8s        client.Client
	clientset  kubernetes.Interface
	nsCounter  atomic.Int32
)

func TestMain(m *testing.M) {
	flag.Parse()
	crds, err := testenv.CRDDir()
	if err != nil {
		panic(err)
	}
	env, cfg, err := testenv.Start(crds)
	if err != nil {
		panic(err)
	}
	restConfig = cfg
	scheme, err := crconfig.NewScheme()
	if err != nil {
		panic(err)
	}
	if k8s, err = client.New(cfg, client.Options{Scheme: scheme}); err != nil {
		panic(err)
	}
	if clientset, err = kubernetes.NewForConfig(cfg); err != nil {
		panic(err)
	}
	code := m.Run()
	_ = env.Stop()
	os.Exit(code)
}

// fixedNow is the clock of status output; storeTime the inventory's.
var (
	fixedNow  = time.Date(2030, 1, 1, 0, 10, 0, 0, time.UTC)
	storeTime = time.Date(2030, 1, 1, 0, 2, 0, 0, time.UTC)
)

// result is one run of the command line.
type result struct {
	stdout, stderr string
	code           int
}

// run executes the command line with short retries, so failure cases stay
// quick, and checks that no secret of the fakes is ever printed.
func run(t *testing.T, args ...string) result {
	t.Helper()
	return runAs(t, "multinicctl", args...)
}

func runAs(t *testing.T, name string, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	const wait = time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	code := cli.Run(ctx, cli.Options{
		Name:   name,
		Stdout: &stdout,
		Stderr: &stderr,
		Now:    func() time.Time { return fixedNow },
		Defaults: crconfig.Defaults{
			Contrabass: contrabass.Options{RetryWaitMin: wait, RetryWaitMax: wait},
			OpenStack:  openstack.Options{RetryWaitMin: wait, RetryWaitMax: wait},
			Viola:      viola.Options{RetryWaitMin: wait, RetryWaitMax: wait},
		},
	}, args)
	for _, secret := range []string{multinictest.AdminPassword, multinictest.EncryptKey} {
		assert.NotContains(t, stdout.String(), secret, "a secret reached stdout")
		assert.NotContains(t, stderr.String(), secret, "a secret reached stderr")
	}
	return result{stdout: stdout.String(), stderr: stderr.String(), code: code}
}

// world is the fakes, an inventory served over HTTP, a namespace on the
// API server and a kubeconfig for it: everything a command line needs.
type world struct {
	env          *multinictest.Env
	sample       multinictest.Sample
	store        *inventory.Store
	inventoryURL string
	namespace    string
	kubeconfig   string
	dir          string
	// placeholders are more values to normalise, e.g. refused addresses.
	placeholders map[string]string
}

func newWorld(t *testing.T) *world {
	t.Helper()
	w := &world{env: multinictest.NewEnv(), dir: t.TempDir()}
	t.Cleanup(w.env.Close)
	w.sample = w.env.AddSample()
	var err error
	w.store, err = inventory.Open(filepath.Join(w.dir, "inventory.json"), inventory.WithClock(func() time.Time { return storeTime }))
	require.NoError(t, err)
	srv := httptest.NewServer(inventory.NewHandler(w.store))
	t.Cleanup(srv.Close)
	w.inventoryURL = srv.URL
	w.namespace = fmt.Sprintf("cli-%d", nsCounter.Add(1))
	require.NoError(t, k8s.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: w.namespace}}))
	w.kubeconfig = writeKubeconfig(t, w.dir, w.namespace)
	return w
}

// writeKubeconfig writes a kubeconfig whose current context points nowhere
// and whose "envtest" context is the test API server with namespace as its
// default: a command works only if --context is honoured.
func writeKubeconfig(t *testing.T, dir, namespace string) string {
	t.Helper()
	config := clientcmdapi.NewConfig()
	config.Clusters["envtest"] = &clientcmdapi.Cluster{Server: restConfig.Host, CertificateAuthorityData: restConfig.CAData}
	config.Clusters["nowhere"] = &clientcmdapi.Cluster{Server: "https://127.0.0.1:1"}
	config.AuthInfos["admin"] = &clientcmdapi.AuthInfo{ClientCertificateData: restConfig.CertData, ClientKeyData: restConfig.KeyData, Token: restConfig.BearerToken}
	config.Contexts["envtest"] = &clientcmdapi.Context{Cluster: "envtest", AuthInfo: "admin", Namespace: namespace}
	config.Contexts["nowhere"] = &clientcmdapi.Context{Cluster: "nowhere", AuthInfo: "admin"}
	config.CurrentContext = "nowhere"
	path := filepath.Join(dir, "kubeconfig")
	require.NoError(t, clientcmd.WriteToFile(*config, path))
	return path
}

// kube are the connection flags for the test API server.
func (w *world) kube(args ...string) []string {
	return append([]string{"--kubeconfig", w.kubeconfig, "--context", "envtest"}, args...)
}

// file writes content under the world's directory and returns its path.
func (w *world) file(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(w.dir, name)
	require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
	return path
}

// crYAML is the sample CR pointing at the fakes: spec lines go under spec,
// settings lines under spec.settings; violaEndpoint is set unless noViola.
func (w *world) crYAML(spec, settings string, noViola bool) string {
	if !noViola {
		settings = "    violaEndpoint: " + w.env.Viola.URL + "\n" + settings
	}
	return fmt.Sprintf(`apiVersion: multinic.example.com/v1alpha1
kind: OpenstackConfig
metadata:
  name: biz-cluster-1
  namespace: %s
spec:
  credentials:
    openstackProviderID: %s
    projectID: %s
  vmNames: [%s]
%s  settings:
    contrabassEndpoint: %s
%s`, w.namespace, multinictest.ProviderID, multinictest.ProjectID, strings.Join(w.sample.VMIDs, ", "), spec, w.env.Contrabass.URL, settings)
}

const subnetsAB = "  subnetIDs: [subnet-a, subnet-b]\n"

// normalize replaces what differs between runs (ports, namespaces,
// durations) so output can be compared with a golden file.
func (w *world) normalize(s string) string {
	for _, r := range []struct{ from, to string }{
		{w.env.Contrabass.URL, "{{contrabass}}"},
		{w.env.OpenStack.URL, "{{openstack}}"},
		{w.env.Viola.URL, "{{viola}}"},
		{w.inventoryURL, "{{inventory}}"},
		{strings.TrimPrefix(w.env.Contrabass.URL, "http://"), "{{contrabass-address}}"},
		{strings.TrimPrefix(w.env.Viola.URL, "http://"), "{{viola-address}}"},
		{w.dir, "{{dir}}"},
		{w.namespace, "{{ns}}"},
	} {
		s = strings.ReplaceAll(s, r.from, r.to)
	}
	for from, to := range w.placeholders {
		s = strings.ReplaceAll(s, from, to)
	}
	s = stepDuration.ReplaceAllString(s, "$1 $2     Xms  ")
	s = jsonDuration.ReplaceAllString(s, `${1}0`)
	return s
}

var (
	stepDuration = regexp.MustCompile(`(?m)^([✓✗]) (.{12}) +\d+(?:ms|\.\ds)  `)
	jsonDuration = regexp.MustCompile(`("durationMs": |durationMs: )\d+`)
)

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		require.NoError(t, os.MkdirAll("testdata", 0o755))
		require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "missing golden file; run go test ./operator/cli/ -update")
	if diff := testenv.FirstDifference(string(want), got); diff != "" {
		t.Errorf("%s differs from the output (rewrite with -update if the change is intended): %s\n--- got:\n%s", path, diff, got)
	}
}
