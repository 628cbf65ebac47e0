package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/multinic/multinic/internal/testenv"
	"github.com/multinic/multinic/multinic"
)

// TestFixesAreTheREADMEs keeps every fix the commands print word for word
// in the README's troubleshooting table, so the two never drift apart.
func TestFixesAreTheREADMEs(t *testing.T) {
	root, err := testenv.RepoRoot()
	require.NoError(t, err)
	data, err := os.ReadFile(filepath.Join(root, "docs", "troubleshooting.md"))
	require.NoError(t, err)
	readme := string(data)
	start := strings.Index(readme, "\n## Troubleshooting\n")
	require.NotEqual(t, -1, start)
	table := readme[start:]
	table = table[:strings.Index(table[1:], "\n## ")+1]
	for _, f := range fixes {
		assert.Contains(t, table, " | "+f.fix+" |", "the fix for %s %q is not a row of the README's troubleshooting table", f.reason, f.texts)
	}
}

func TestFixFor(t *testing.T) {
	for _, tt := range []struct {
		reason  multinic.Reason
		message string
		want    string
	}{
		{multinic.ReasonContrabass, `contrabass: GET provider "p": dial tcp 10.0.0.1:443: connect: connection refused (cannot connect: check settings.contrabassEndpoint)`,
			"fix the URL in the named setting, or the network/DNS path to it"},
		{multinic.ReasonContrabass, `contrabass: x509: certificate signed by unknown authority (its TLS certificate is not trusted: trust its CA, or set settings.contrabassInsecureTLS: true)`,
			"trust the CA, or set the named *InsecureTLS setting"},
		{multinic.ReasonContrabass, "decrypt adminPw: bad PKCS#7 padding", "the encrypt key does not match the provider's"},
		{multinic.ReasonConfig, "spec.secrets.contrabassEncryptKeySecretRef: Secret ns/k does not exist",
			"create the key Secret, or set the reference or the setting; the message says whether the Secret is missing, lacks the key, or the key is empty"},
		{multinic.ReasonConfig, "spec.settings.contrabassEndpoint is required; no Viola endpoint: set spec.settings.violaEndpoint or the operator's VIOLA_ENDPOINT",
			"add settings.contrabassEndpoint; set settings.violaEndpoint, or the operator's VIOLA_ENDPOINT (--viola-endpoint for this tool)"},
		{multinic.ReasonNova, `VM a: nova: server "a": server not found; VM b: nova: server "b": server not found`,
			"the message names the VM: fix vmNames, or the Nova server's name (or its openstackNodeNameMetadataKey value) so it is a lower-case RFC 1123 name"},
		{multinic.ReasonNova, `no "compute" endpoint with interface "public" in the Keystone catalog`, "check the catalog, or set settings.openstackNovaEndpoint"},
		{"SomethingNew", "whatever", ""},
	} {
		assert.Equal(t, tt.want, fixFor(tt.reason, tt.message), "%s: %s", tt.reason, tt.message)
	}
}
