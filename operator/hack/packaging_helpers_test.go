package hack

// Helpers shared by the Helm chart and kustomize tests: running the pinned
// helm/kustomize binaries and decoding what they print.

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/multinic/multinic/internal/testenv"
)

// pkgRepoRoot is the module root; every path in these tests is relative to
// it so they do not depend on the directory `go test` runs in.
func pkgRepoRoot(t *testing.T) string {
	t.Helper()
	root, err := testenv.RepoRoot()
	require.NoError(t, err)
	return root
}

// pkgTool returns the pinned binary operator/hack/tool.sh prints, the same
// one the Makefile uses, so the tests exercise the versions users get.
func pkgTool(t *testing.T, name string) string {
	t.Helper()
	path, err := testenv.Tool(name)
	require.NoError(t, err)
	return path
}

// pkgToolResult is what one helm/kustomize run printed.
type pkgToolResult struct {
	stdout, stderr string
	err            error
}

// pkgRun runs bin with args in the module root, see pkgRunIn.
func pkgRun(t *testing.T, bin string, args ...string) pkgToolResult {
	t.Helper()
	return pkgRunIn(t, pkgRepoRoot(t), bin, args...)
}

// pkgRunIn runs bin with args in dir. Helm's config, cache and
// data directories point into a temporary directory so the tests neither
// read nor write the user's helm repositories and plugins.
func pkgRunIn(t *testing.T, dir, bin string, args ...string) pkgToolResult {
	t.Helper()
	home := t.TempDir()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"HELM_CONFIG_HOME="+filepath.Join(home, "config"),
		"HELM_CACHE_HOME="+filepath.Join(home, "cache"),
		"HELM_DATA_HOME="+filepath.Join(home, "data"),
		"KUBECONFIG="+filepath.Join(home, "no-kubeconfig"), // only an explicit --kubeconfig reaches a cluster
	)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return pkgToolResult{stdout: stdout.String(), stderr: stderr.String(), err: err}
}

// pkgMustRun is pkgRun that fails the test, showing stderr, when the tool fails.
func pkgMustRun(t *testing.T, bin string, args ...string) string {
	t.Helper()
	res := pkgRun(t, bin, args...)
	require.NoError(t, res.err, "%s %s\nstderr:\n%s", filepath.Base(bin), strings.Join(args, " "), res.stderr)
	return res.stdout
}

// pkgDecode splits a multi-document YAML stream into objects, skipping
// empty documents (helm separates templates with comment-only ones).
func pkgDecode(t *testing.T, data string) []*unstructured.Unstructured {
	t.Helper()
	dec := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(data), 4096)
	var objs []*unstructured.Unstructured
	for {
		var m map[string]any
		err := dec.Decode(&m)
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		if len(m) == 0 {
			continue
		}
		objs = append(objs, &unstructured.Unstructured{Object: m})
	}
	require.NotEmpty(t, objs, "no objects in:\n%s", data)
	return objs
}

// pkgFind returns the one object of this kind and name, failing the test
// when there is none or more than one.
func pkgFind(t *testing.T, objs []*unstructured.Unstructured, kind, name string) *unstructured.Unstructured {
	t.Helper()
	var found []*unstructured.Unstructured
	for _, o := range objs {
		if o.GetKind() == kind && o.GetName() == name {
			found = append(found, o)
		}
	}
	require.Len(t, found, 1, "%s %q among %s", kind, name, pkgNames(objs))
	return found[0]
}

// pkgHas reports whether an object of this kind and name is present.
func pkgHas(objs []*unstructured.Unstructured, kind, name string) bool {
	for _, o := range objs {
		if o.GetKind() == kind && o.GetName() == name {
			return true
		}
	}
	return false
}

// pkgNames lists kind/name of every object, for failure messages.
func pkgNames(objs []*unstructured.Unstructured) string {
	names := make([]string, len(objs))
	for i, o := range objs {
		names[i] = o.GetKind() + "/" + o.GetName()
	}
	return strings.Join(names, ", ")
}

// pkgTyped converts a decoded object into its Go type for readable assertions.
func pkgTyped[T any](t *testing.T, u *unstructured.Unstructured) *T {
	t.Helper()
	out := new(T)
	require.NoError(t, runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, out), "%s/%s", u.GetKind(), u.GetName())
	return out
}

// pkgEnv returns the value of the container's env var and whether it is set.
func pkgEnv(env []corev1.EnvVar, name string) (string, bool) {
	for _, e := range env {
		if e.Name == name {
			return e.Value, true
		}
	}
	return "", false
}

// pkgContainerPort returns the container port of this name, or 0.
func pkgContainerPort(c corev1.Container, name string) int32 {
	for _, p := range c.Ports {
		if p.Name == name {
			return p.ContainerPort
		}
	}
	return 0
}

// pkgMetricsAuthRules are what controller-runtime's metrics filter needs
// to check a scrape's token (its doc comment lists them).
var pkgMetricsAuthRules = []rbacv1.PolicyRule{
	{APIGroups: []string{"authentication.k8s.io"}, Resources: []string{"tokenreviews"}, Verbs: []string{"create"}},
	{APIGroups: []string{"authorization.k8s.io"}, Resources: []string{"subjectaccessreviews"}, Verbs: []string{"create"}},
}

// pkgMetricsReaderRules are what a scraper needs, and nothing more.
var pkgMetricsReaderRules = []rbacv1.PolicyRule{{NonResourceURLs: []string{"/metrics"}, Verbs: []string{"get"}}}

// pkgGeneratedRules are the rules of the ClusterRole `make manifests`
// generates from the +kubebuilder:rbac markers: what the operator needs.
func pkgGeneratedRules(t *testing.T) []rbacv1.PolicyRule {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(pkgRepoRoot(t), "operator", "config", "rbac", "role.yaml"))
	require.NoError(t, err)
	role := pkgTyped[rbacv1.ClusterRole](t, pkgFind(t, pkgDecode(t, string(data)), "ClusterRole", "manager-role"))
	require.NotEmpty(t, role.Rules)
	return role.Rules
}
