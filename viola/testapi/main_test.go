package testapi_test

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/multinic/multinic/internal/testenv"
	"github.com/multinic/multinic/viola/testapi"
	"github.com/multinic/multinic/viola/testapi/api/v1alpha1"
)

// testCluster is one real API server with the MultiNicNodeConfig CRD.
type testCluster struct {
	name   string
	env    *envtest.Environment
	config *rest.Config
	client client.Client
}

// clusterA is the default cluster of most tests; clusterB is the second
// Biz cluster the routing tests send provider IDs to.
var clusterA, clusterB *testCluster

func TestMain(m *testing.M) {
	code, err := runTests(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, "viola/testapi tests:", err)
		code = 1
	}
	os.Exit(code)
}

func runTests(m *testing.M) (int, error) {
	// A fuzz worker only runs the fuzz target, which needs no cluster;
	// starting two per worker would stall `go test -fuzz` for minutes.
	flag.Parse()
	if worker := flag.Lookup("test.fuzzworker"); worker != nil && worker.Value.String() == "true" {
		return m.Run(), nil
	}
	root, err := testenv.RepoRoot()
	if err != nil {
		return 0, err
	}
	crdDir := filepath.Join(root, "viola", "testapi", "config", "crd")
	clusterA, err = startCluster("cluster-a", crdDir)
	if clusterA != nil {
		defer func() { _ = clusterA.env.Stop() }()
	}
	if err != nil {
		return 0, err
	}
	clusterB, err = startCluster("cluster-b", crdDir)
	if clusterB != nil {
		defer func() { _ = clusterB.env.Stop() }()
	}
	if err != nil {
		return 0, err
	}
	return m.Run(), nil
}

func startCluster(name, crdDir string) (*testCluster, error) {
	env, config, err := testenv.Start(crdDir)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	c := &testCluster{name: name, env: env, config: config}
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return c, err
	}
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		return c, err
	}
	if c.client, err = client.New(config, client.Options{Scheme: scheme}); err != nil {
		return c, fmt.Errorf("%s: client: %w", name, err)
	}
	namespace := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: testapi.DefaultNamespace}}
	if err := c.client.Create(context.Background(), namespace); err != nil {
		return c, fmt.Errorf("%s: create namespace %s: %w", name, testapi.DefaultNamespace, err)
	}
	return c, nil
}

// clusterConfig names c for a router.
func (c *testCluster) clusterConfig() *testapi.ClusterConfig {
	return &testapi.ClusterConfig{Name: c.name, Config: c.config}
}
