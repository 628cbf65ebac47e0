package main

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestVersionIsStamped builds the binary as make build does and checks that
// --version prints what the -ldflags stamped.
func TestVersionIsStamped(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	const pkg = "github.com/multinic/multinic/internal/version"
	bin := filepath.Join(t.TempDir(), "kubectl-multinic")
	build := exec.Command("go", "build", "-buildvcs=false", "-o", bin, "-ldflags",
		"-X "+pkg+".version=v9.8.7 -X "+pkg+".revision=0123456789abcdef0123456789abcdef01234567 -X "+pkg+".buildDate=2030-01-02T03:04:05Z", ".")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "%s", out)
	out, err = exec.Command(bin, "--version").Output()
	require.NoError(t, err)
	assert.Equal(t, "kubectl-multinic v9.8.7 (commit 0123456789abcdef0123456789abcdef01234567, built 2030-01-02T03:04:05Z, "+runtime.Version()+" "+runtime.GOOS+"/"+runtime.GOARCH+")\n", string(out))
}
