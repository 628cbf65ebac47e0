package docs

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/multinic/multinic/multinic"
	"github.com/multinic/multinic/operator/api/v1alpha1"
)

// statusReasons are the condition reasons an OpenstackConfig can carry.
// Naming the constants (not their values) makes a renamed reason fail to
// compile here, which is the point: the docs list them.
var statusReasons = []string{
	v1alpha1.ReasonSynced, v1alpha1.ReasonNoChange, v1alpha1.ReasonPartialSync, v1alpha1.ReasonComplete,
	string(multinic.ReasonConfig), string(multinic.ReasonContrabass), string(multinic.ReasonKeystone),
	string(multinic.ReasonNeutronEndpoint), string(multinic.ReasonNeutronPort), string(multinic.ReasonNeutronSubnet),
	string(multinic.ReasonSubnetRequired), string(multinic.ReasonSubnetNotFound), string(multinic.ReasonSubnetNotUnique),
	string(multinic.ReasonNova), string(multinic.ReasonViolaPost), string(multinic.ReasonInventory),
	string(multinic.ReasonInternal),
}

// checkReasons are reasons only multinicctl's check reports; the
// troubleshooting table lists them, the status reasons do not.
var checkReasons = []string{string(multinic.ReasonViola)}

var reasonLike = regexp.MustCompile("`([A-Z][a-z]+(?:[A-Z][a-z]+)+|Complete|Synced)`")

// TestDocumentedReasonsExist keeps the lists of status reasons (the Korean
// section of the README, the reasons table of troubleshooting.md) to the
// reasons the code has, and complete.
func TestDocumentedReasonsExist(t *testing.T) {
	root, err := filepath.Abs("..")
	require.NoError(t, err)
	for _, c := range []struct{ file, from, to string }{
		{"README.md", "\n### 상태와 Reason\n", "\n#"},
		{"docs/troubleshooting.md", "\n| reason | what failed |\n", "\n\n"},
	} {
		data, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(c.file)))
		require.NoError(t, err)
		text := string(data)
		start := strings.Index(text, c.from)
		require.NotEqual(t, -1, start, "%s has the section %q", c.file, strings.TrimSpace(c.from))
		section := text[start+len(c.from):]
		if end := strings.Index(section, c.to); end >= 0 {
			section = section[:end]
		}
		var listed []string
		for _, m := range reasonLike.FindAllStringSubmatch(section, -1) {
			listed = append(listed, m[1])
			if c.file == "docs/troubleshooting.md" && slices.Contains(checkReasons, m[1]) {
				continue
			}
			assert.Contains(t, statusReasons, m[1], "%s lists %s, which is no status reason", c.file, m[1])
		}
		required := statusReasons
		if c.file == "docs/troubleshooting.md" {
			required = append(slices.Clip(statusReasons), checkReasons...)
		}
		for _, r := range required {
			if c.file == "docs/troubleshooting.md" && slices.Contains([]string{v1alpha1.ReasonSynced, v1alpha1.ReasonNoChange, v1alpha1.ReasonPartialSync, v1alpha1.ReasonComplete}, r) {
				continue // the failure table: reasons of a failed pass only
			}
			assert.Contains(t, listed, r, "%s does not list the reason %s", c.file, r)
		}
	}
}
