package testapi_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/multinic/multinic/internal/testenv"
)

const crdFile = "multinic.io_multinicnodeconfigs.yaml"

// TestGeneratedFilesAreCurrent fails when the API markers changed but
// `make manifests generate` was not run, so the CRD a cluster gets and the
// deepcopy code always match the Go types.
func TestGeneratedFilesAreCurrent(t *testing.T) {
	root, err := testenv.RepoRoot()
	require.NoError(t, err)
	controllerGen, err := testenv.Tool("controller-gen")
	require.NoError(t, err)

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

// sameOrStale fails with the first line where a committed file differs
// from what the generator produces now.
func sameOrStale(t *testing.T, name, got, want string) {
	t.Helper()
	if diff := testenv.FirstDifference(got, want); diff != "" {
		t.Errorf("%s is stale (run `make manifests generate`); %s", name, diff)
	}
}
