package testapi_test

import (
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/multinic/multinic/viola/testapi"
)

func TestRoutingPicksTheClusterOfTheProvider(t *testing.T) {
	router, err := testapi.NewRouter(testapi.Routes{
		Default:   clusterA.clusterConfig(),
		Providers: map[string]testapi.ClusterConfig{"biz-b": *clusterB.clusterConfig()},
	})
	require.NoError(t, err)
	h := newHandler(t, testapi.Options{Router: router})
	toB, toDefault := nodeConfig(uniqueName(t)+"-b"), nodeConfig(uniqueName(t)+"-other")

	status, resp := postConfigs(t, h, "biz-b", toB)
	require.Equal(t, http.StatusOK, status, resp.Error)
	assert.Equal(t, "cluster-b", resp.Cluster)

	status, resp = postConfigs(t, h, "biz-unlisted", toDefault)
	require.Equal(t, http.StatusOK, status, resp.Error)
	assert.Equal(t, "cluster-a", resp.Cluster, "an unlisted provider goes to the default cluster when not strict")

	assert.True(t, exists(t, clusterB, toB.NodeName))
	assert.False(t, exists(t, clusterA, toB.NodeName))
	assert.True(t, exists(t, clusterA, toDefault.NodeName))
	assert.False(t, exists(t, clusterB, toDefault.NodeName))
}

func TestStrictRoutingRefusesUnknownProviders(t *testing.T) {
	router, err := testapi.NewRouter(testapi.Routes{
		Providers: map[string]testapi.ClusterConfig{"biz-b": *clusterB.clusterConfig()},
		Strict:    true,
	})
	require.NoError(t, err, "strict routing needs no default cluster")
	h := newHandler(t, testapi.Options{Router: router})
	known, unknown := nodeConfig(uniqueName(t)+"-known"), nodeConfig(uniqueName(t)+"-unknown")

	status, resp := postConfigs(t, h, "biz-typo", unknown)

	assert.Equal(t, http.StatusBadRequest, status)
	assert.Equal(t, `x-provider-id "biz-typo" is not in the routing file, and strict routing refuses unknown provider IDs`, resp.Error)
	assert.False(t, exists(t, clusterA, unknown.NodeName))
	assert.False(t, exists(t, clusterB, unknown.NodeName))

	status, resp = postConfigs(t, h, "biz-b", known)
	require.Equal(t, http.StatusOK, status, resp.Error)
	assert.True(t, exists(t, clusterB, known.NodeName))
}

func TestNewRouterNeedsADefaultUnlessStrict(t *testing.T) {
	_, err := testapi.NewRouter(testapi.Routes{Providers: map[string]testapi.ClusterConfig{"biz-b": *clusterB.clusterConfig()}})
	assert.ErrorContains(t, err, "a default cluster is required unless routing is strict")

	_, err = testapi.NewRouter(testapi.Routes{Default: clusterA.clusterConfig(), Providers: map[string]testapi.ClusterConfig{"biz-b": {Name: "empty"}}})
	assert.ErrorContains(t, err, `routing: provider "biz-b": cluster "empty" has no rest config`)
}

// writeKubeconfig stores a kubeconfig for a cluster-admin of c in dir.
func writeKubeconfig(t *testing.T, c *testCluster, dir, file string) string {
	t.Helper()
	user, err := c.env.AddUser(envtest.User{Name: "viola-routing-" + c.name, Groups: []string{"system:masters"}}, nil)
	require.NoError(t, err)
	kubeconfig, err := user.KubeConfig()
	require.NoError(t, err)
	path := filepath.Join(dir, file)
	require.NoError(t, os.WriteFile(path, kubeconfig, 0o600))
	return path
}

func TestRoutingFileRoutesThroughKubeconfigs(t *testing.T) {
	dir := t.TempDir()
	writeKubeconfig(t, clusterB, dir, "biz-b.kubeconfig")
	routingPath := filepath.Join(dir, "routing.yaml")
	require.NoError(t, os.WriteFile(routingPath, []byte("strict: true\nproviders:\n  biz-b: biz-b.kubeconfig # relative to this file\n"), 0o600))

	file, err := testapi.LoadRoutingFile(routingPath)
	require.NoError(t, err)
	routes, err := file.Routes(nil, nil)
	require.NoError(t, err)
	assert.True(t, routes.Strict, "strict comes from the file")
	router, err := testapi.NewRouter(routes)
	require.NoError(t, err)
	h := newHandler(t, testapi.Options{Router: router})
	config := nodeConfig(uniqueName(t))

	status, resp := postConfigs(t, h, "biz-b", config)

	require.Equal(t, http.StatusOK, status, resp.Error)
	assert.Equal(t, "kubeconfig "+filepath.Join(dir, "biz-b.kubeconfig"), resp.Cluster)
	assert.True(t, exists(t, clusterB, config.NodeName))
	assert.False(t, exists(t, clusterA, config.NodeName))

	status, resp = postConfigs(t, h, "biz-a", config)
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Contains(t, resp.Error, `x-provider-id "biz-a" is not in the routing file`)

	notStrict := false
	routes, err = file.Routes(clusterA.clusterConfig(), &notStrict)
	require.NoError(t, err)
	assert.False(t, routes.Strict, "an explicit setting overrides the file")
}

func TestLoadRoutingFileErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ name, content, wantErr string }{
		{"misspelt key", "provider:\n  biz-a: a.kubeconfig\n", `unknown field "provider"`},
		{"empty kubeconfig path", "providers:\n  biz-a: \"\"\n", "providers.biz-a has no kubeconfig path"},
		{"empty provider ID", "providers:\n  \"\": a.kubeconfig\n", "providers has an empty provider ID"},
		{"not YAML", "providers: [", "routing file " + filepath.Join(dir, "not YAML.yaml")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, tc.name+".yaml")
			require.NoError(t, os.WriteFile(path, []byte(tc.content), 0o600))
			_, err := testapi.LoadRoutingFile(path)
			assert.ErrorContains(t, err, tc.wantErr)
		})
	}

	_, err := testapi.LoadRoutingFile(filepath.Join(dir, "absent.yaml"))
	assert.ErrorContains(t, err, "absent.yaml: no such file")

	path := filepath.Join(dir, "missing-kubeconfig.yaml")
	require.NoError(t, os.WriteFile(path, []byte("providers:\n  biz-a: nowhere.kubeconfig\n"), 0o600))
	file, err := testapi.LoadRoutingFile(path)
	require.NoError(t, err)
	_, err = file.Routes(clusterA.clusterConfig(), nil)
	assert.ErrorContains(t, err, `routing file: provider "biz-a": kubeconfig `+filepath.Join(dir, "nowhere.kubeconfig"))
}
