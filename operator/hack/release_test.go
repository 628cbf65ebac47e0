package hack

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"sigs.k8s.io/yaml"
)

// TestReleaseConventions guards what the README's Release section relies
// on: the chart's appVersion is a tag that make images can produce, and
// the changelog keeps the Keep a Changelog shape.
func TestReleaseConventions(t *testing.T) {
	root, err := filepath.Abs("../..")
	require.NoError(t, err)
	raw, err := os.ReadFile(filepath.Join(root, "operator", "chart", "Chart.yaml"))
	require.NoError(t, err)
	var chart struct{ AppVersion string }
	require.NoError(t, yaml.Unmarshal(raw, &chart))
	assert.Regexp(t, `^v\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$`, chart.AppVersion, "appVersion is the git tag and default image tag, e.g. v0.1.0")

	changelog, err := os.ReadFile(filepath.Join(root, "CHANGELOG.md"))
	require.NoError(t, err)
	assert.Regexp(t, `(?m)^## \[Unreleased\]$`, string(changelog))
	for _, heading := range regexp.MustCompile(`(?m)^## \[(.*)\].*$`).FindAllStringSubmatch(string(changelog), -1) {
		if heading[1] != "Unreleased" {
			assert.Regexp(t, `^## \[\d+\.\d+\.\d+\] - \d{4}-\d{2}-\d{2}$`, heading[0], "a released version has its date")
		}
	}
}
