package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/multinic/multinic/operator/testenv"
)

// TestGeneratedFilesAreCurrent fails when the markers changed but
// `make manifests generate` was not run, so the CRD the cluster gets always
// matches the Go types.
func TestGeneratedFilesAreCurrent(t *testing.T) {
	root, err := testenv.RepoRoot()
	require.NoError(t, err)
	out, err := exec.Command("bash", filepath.Join(root, "operator/hack/tool.sh"), "controller-gen").Output()
	require.NoError(t, err)
	controllerGen := strings.TrimSpace(string(out))

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

// sameOrStale reports the first differing line rather than two whole files.
func sameOrStale(t *testing.T, name, got, want string) {
	t.Helper()
	if got == want {
		return
	}
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
