package hack

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/multinic/multinic/internal/testenv"
)

// TestGeneratedFilesAreCurrent fails when the markers changed but
// `make manifests generate` was not run, so the CRD the cluster gets always
// matches the Go types.
func TestGeneratedFilesAreCurrent(t *testing.T) {
	root, err := testenv.RepoRoot()
	require.NoError(t, err)
	controllerGen, err := testenv.Tool("controller-gen")
	require.NoError(t, err)

	tmp := t.TempDir()
	gen := exec.Command(controllerGen, "object", "rbac:roleName=manager-role", "crd", "paths=./operator/...",
		"output:object:stdout", // deepcopy is compared below
		"output:crd:artifacts:config="+filepath.Join(tmp, "crd"),
		"output:rbac:artifacts:config="+filepath.Join(tmp, "rbac"))
	gen.Dir = root
	deepcopy, err := gen.Output()
	require.NoError(t, err)

	committed := func(rel string) string {
		data, err := os.ReadFile(filepath.Join(root, rel))
		require.NoError(t, err)
		return string(data)
	}
	fresh := func(path string) string {
		data, err := os.ReadFile(path)
		require.NoError(t, err)
		return string(data)
	}
	crd := "multinic.example.com_openstackconfigs.yaml"
	sameOrStale(t, "operator/api/v1alpha1/zz_generated.deepcopy.go", committed("operator/api/v1alpha1/zz_generated.deepcopy.go"), string(deepcopy))
	sameOrStale(t, "operator/config/crd/bases/"+crd, committed("operator/config/crd/bases/"+crd), fresh(filepath.Join(tmp, "crd", crd)))
	sameOrStale(t, "operator/config/rbac/role.yaml", committed("operator/config/rbac/role.yaml"), fresh(filepath.Join(tmp, "rbac", "role.yaml")))
	if _, err := os.Stat(filepath.Join(root, "operator/chart/crds")); err == nil {
		sameOrStale(t, "operator/chart/crds/"+crd, committed("operator/chart/crds/"+crd), committed("operator/config/crd/bases/"+crd))
	}
}

// sameOrStale fails with the first line where a committed file differs
// from what the generator produces now.
func sameOrStale(t *testing.T, name, got, want string) {
	t.Helper()
	if diff := testenv.FirstDifference(got, want); diff != "" {
		t.Errorf("%s is stale (run `make manifests generate`); %s", name, diff)
	}
}
