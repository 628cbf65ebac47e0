package cli_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/multinic/multinic/internal/version"
)

// TestVersion: both names print the operator's --version line, under the
// binary's name; -v stays free (kubectl users read it as verbosity).
func TestVersion(t *testing.T) {
	for name, binary := range map[string]string{"multinicctl": "multinicctl", "kubectl multinic": "kubectl-multinic"} {
		got := runAs(t, name, "--version")
		assert.Equal(t, 0, got.code, got.stderr)
		assert.Equal(t, version.Get().String(binary)+"\n", got.stdout)
	}
	got := run(t, "-v")
	assert.Equal(t, 2, got.code)
	assert.Contains(t, run(t, "--help").stdout, "--version")
}
