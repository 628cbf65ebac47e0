package cli

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCLIDoesNotImportTheController: multinicctl reads a CR as the operator
// does through operator/crconfig, and needs nothing of the reconciler.
func TestCLIDoesNotImportTheController(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	require.NoError(t, err, string(out))
	deps := strings.Fields(string(out))
	assert.Contains(t, deps, "github.com/multinic/multinic/operator/crconfig")
	assert.NotContains(t, deps, "github.com/multinic/multinic/operator/controller")
}
