package testapi_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/multinic/multinic/operator/testenv"
)

const crdFile = "multinic.io_multinicnodeconfigs.yaml"

// TestGeneratedFilesAreCurrent fails when the API markers changed but
// `make manifests generate` was not run, so the CRD a cluster gets and the
// deepcopy code always match the Go types.
func TestGeneratedFilesAreCurrent(t *testing.T) {
	root, err := testenv.RepoRoot()
	require.NoError(t, err)
	out, err := exec.Command("bash", filepath.Join(root, "operator/hack/tool.sh"), "controller-gen").Output()
	require.NoError(t, err)
	controllerGen := strings.TrimSpace(string(out))

	tmp := t.TempDir()
	gen := exec.Command(controllerGen, "object", "crd", "paths=./viola/testapi/api/...",
		"output:object:stdout",
		"output:crd:artifacts:config="+tmp)
	gen.Dir = root
	deepcopy, err := gen.Output()
	require.NoError(t, err)

	read := func(path string) string {
		data, err := os.ReadFile(path)
		require.NoError(t, err)
		return string(data)
	}
	sameOrStale(t, "viola/testapi/api/v1alpha1/zz_generated.deepcopy.go",
		read(filepath.Join(root, "viola/testapi/api/v1alpha1/zz_generated.deepcopy.go")), string(deepcopy))
	sameOrStale(t, "viola/testapi/config/crd/"+crdFile,
		read(filepath.Join(root, "viola/testapi/config/crd", crdFile)), read(filepath.Join(tmp, crdFile)))
}

// sameOrStale reports the first differing line rather than two whole files.
func sameOrStale(t *testing.T, name, got, want string) {
	t.Helper()
	gotLines, wantLines := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := range max(len(gotLines), len(wantLines)) {
		var g, w string
		if i < len(gotLines) {
			g = gotLines[i]
		}
		if i < len(wantLines) {
			w = wantLines[i]
		}
		if g != w {
			t.Errorf("%s is stale (run `make manifests generate`); line %d is %q, generated %q", name, i+1, g, w)
			return
		}
	}
}
