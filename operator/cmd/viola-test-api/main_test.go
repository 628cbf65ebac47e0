package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/multinic/multinic/internal/testenv"
	"github.com/multinic/multinic/viola"
	"github.com/multinic/multinic/viola/testapi"
	"github.com/multinic/multinic/viola/testapi/api/v1alpha1"
)

func env(vars map[string]string) func(string) string {
	return func(key string) string { return vars[key] }
}

func TestParseOptions(t *testing.T) {
	opts, err := parseOptions(nil, env(nil), io.Discard)
	require.NoError(t, err)
	assert.Equal(t, options{listen: ":8080", namespace: testapi.DefaultNamespace}, opts)

	opts, err = parseOptions(nil, env(map[string]string{
		envListen: ":9090", envKubeconfig: "/k", envNamespace: "ns", envRoutingFile: "/r.yaml", envStrict: "true",
	}), io.Discard)
	require.NoError(t, err)
	require.NotNil(t, opts.strict)
	assert.Equal(t, options{listen: ":9090", kubeconfig: "/k", namespace: "ns", routingFile: "/r.yaml", strict: opts.strict}, opts)
	assert.True(t, *opts.strict)

	opts, err = parseOptions([]string{"--listen=:7070", "--namespace=flag-ns", "--strict=false"}, env(map[string]string{envListen: ":9090", envStrict: "true"}), io.Discard)
	require.NoError(t, err)
	assert.Equal(t, ":7070", opts.listen, "a flag overrides its variable")
	assert.Equal(t, "flag-ns", opts.namespace)
	require.NotNil(t, opts.strict)
	assert.False(t, *opts.strict)

	_, err = parseOptions(nil, env(map[string]string{envStrict: "sometimes"}), io.Discard)
	assert.ErrorContains(t, err, `VIOLA_TEST_API_STRICT="sometimes" is not a boolean`)
	_, err = parseOptions([]string{"serve"}, env(nil), io.Discard)
	assert.ErrorContains(t, err, `unexpected arguments ["serve"]`)
}

func TestRunRefusesABadSetup(t *testing.T) {
	t.Setenv("KUBERNETES_SERVICE_HOST", "") // not in a pod, whatever the machine
	dir := t.TempDir()
	routing := filepath.Join(dir, "routing.yaml")
	require.NoError(t, os.WriteFile(routing, []byte("providers:\n  biz-a: missing.kubeconfig\n"), 0o600))
	for _, tc := range []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"no cluster outside a pod", nil, "in-cluster config (set --kubeconfig when running outside a pod)"},
		{"strict without a routing file", []string{"--strict"}, "strict routing (--strict) needs --routing-file"},
		{"unreadable routing file", []string{"--strict", "--routing-file", filepath.Join(dir, "absent.yaml")}, "routing file: open " + filepath.Join(dir, "absent.yaml")},
		{"routing file names a missing kubeconfig", []string{"--strict", "--routing-file", routing}, `provider "biz-a": kubeconfig ` + filepath.Join(dir, "missing.kubeconfig")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := run(context.Background(), tc.args, env(nil), io.Discard, func(net.Addr) { t.Error("must not start serving") })
			assert.ErrorContains(t, err, tc.wantErr)
		})
	}
}

// TestRunServesUntilSIGTERM runs the program in-process against a real API
// server, posts with the operator's client, then stops it the way a pod is
// stopped.
func TestRunServesUntilSIGTERM(t *testing.T) {
	root, err := testenv.RepoRoot()
	require.NoError(t, err)
	testEnv, _, err := testenv.Start(filepath.Join(root, "viola", "testapi", "config", "crd"))
	require.NoError(t, err)
	defer func() { assert.NoError(t, testEnv.Stop()) }()
	kubeClient := adminClient(t, testEnv)
	require.NoError(t, kubeClient.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "e2e"}}))
	kubeconfig := writeAdminKubeconfig(t, testEnv)

	ctx, stop := signalContext()
	defer stop()
	addrs := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"--listen", "127.0.0.1:0", "--namespace", "e2e"}, env(map[string]string{envKubeconfig: kubeconfig}), t.Output(), func(addr net.Addr) { addrs <- addr })
	}()
	var addr net.Addr
	select {
	case addr = <-addrs:
	case err := <-done:
		t.Fatalf("run returned before serving: %v", err)
	}
	endpoint := "http://" + addr.String()

	resp, err := http.Get(endpoint + testapi.HealthzPath)
	require.NoError(t, err)
	_ = resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)

	violaClient, err := viola.NewClient(viola.Options{Endpoint: endpoint, RetryMax: -1})
	require.NoError(t, err)
	// viola.Client sends only what the node agent can use (SPEC §5-7):
	// a lower-case node name and complete interfaces.
	config := viola.NodeConfig{NodeName: "worker-9.example.com", InstanceID: "vm-9", Interfaces: []viola.Interface{
		{ID: 0, Name: "multinic0", MACAddress: "fa:16:3e:00:00:09", Address: "10.0.0.9", CIDR: "10.0.0.0/24", MTU: 1500},
	}}
	_, err = violaClient.Post(context.Background(), "biz", []viola.NodeConfig{config})
	require.NoError(t, err)
	var obj v1alpha1.MultiNicNodeConfig
	require.NoError(t, kubeClient.Get(context.Background(), client.ObjectKey{Namespace: "e2e", Name: config.NodeName}, &obj))
	assert.Equal(t, config.NodeName, obj.Spec.NodeName, "object name = spec.nodeName")
	require.Len(t, obj.Spec.Interfaces, 1)
	assert.Equal(t, "multinic0", obj.Spec.Interfaces[0].Name)

	require.NoError(t, syscall.Kill(os.Getpid(), syscall.SIGTERM))
	assert.NoError(t, <-done, "SIGTERM is a clean shutdown")
	resp, err = http.Get(endpoint + testapi.HealthzPath)
	if err == nil {
		resp.Body.Close()
	}
	assert.Error(t, err, "the listener is closed after shutdown")
}

func adminClient(t *testing.T, testEnv *envtest.Environment) client.Client {
	t.Helper()
	scheme := runtime.NewScheme()
	require.NoError(t, corev1.AddToScheme(scheme))
	require.NoError(t, v1alpha1.AddToScheme(scheme))
	c, err := client.New(testEnv.Config, client.Options{Scheme: scheme})
	require.NoError(t, err)
	return c
}

func writeAdminKubeconfig(t *testing.T, testEnv *envtest.Environment) string {
	t.Helper()
	user, err := testEnv.AddUser(envtest.User{Name: "viola-test-api-e2e", Groups: []string{"system:masters"}}, nil)
	require.NoError(t, err)
	data, err := user.KubeConfig()
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "kubeconfig")
	require.NoError(t, os.WriteFile(path, data, 0o600))
	return path
}
