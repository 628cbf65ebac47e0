package cli

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/multinic/multinic/internal/testenv"
	"github.com/multinic/multinic/multinic"
	"github.com/multinic/multinic/operator/crconfig"
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
		assert.Contains(t, table, " | "+f.fix+" |", "the fix for %s %s %s is not a row of the README's troubleshooting table", f.reason, f.setting, f.kind)
	}
}

func TestFixFor(t *testing.T) {
	problem := func(reason multinic.Reason, setting multinic.Setting, kind multinic.Kind) *multinic.Error {
		return &multinic.Error{Reason: reason, Setting: setting, Kind: kind, Err: errors.New("whatever the message says")}
	}
	joined := problem(multinic.ReasonConfig, multinic.SettingContrabassEndpoint, multinic.KindMissing)
	joined.Also = []*multinic.Error{
		problem(multinic.ReasonConfig, multinic.SettingViolaEndpoint, multinic.KindMissing),
		problem(multinic.ReasonConfig, multinic.SettingViolaEndpoint, multinic.KindMissing),
	}
	for _, tt := range []struct {
		err  error
		want string
	}{
		{problem(multinic.ReasonContrabass, multinic.SettingContrabassEndpoint, multinic.KindUnreachable),
			"fix the URL in the named setting, or the network/DNS path to it"},
		{problem(multinic.ReasonViolaPost, multinic.SettingViolaInsecureTLS, multinic.KindUntrusted),
			"trust the CA, or set the named *InsecureTLS setting"},
		{problem(multinic.ReasonKeystone, multinic.SettingPassTimeout, multinic.KindDeadline),
			"the dependency of that reason did not answer in time; check it, or raise passTimeout (max 10m)"},
		{problem(multinic.ReasonContrabass, multinic.SettingEncryptKey, multinic.KindInvalid), "the encrypt key does not match the provider's"},
		{problem(multinic.ReasonContrabass, "", ""),
			"Contrabass's answer is in the message; check credentials.openstackProviderID and settings.contrabassEndpoint (and CONTRABASS_BEARER_TOKEN or contrabassBearerTokenSecretRef if it wants a token)"},
		{problem(multinic.ReasonContrabass, "", multinic.KindMissing),
			"the provider record lacks a field Keystone needs (the message names it): complete the provider in Contrabass"},
		{problem(multinic.ReasonViola, multinic.SettingViolaEndpoint, multinic.KindPlainHTTP),
			"the server speaks plain HTTP: use http:// in the named setting, or enable TLS on the server"},
		{problem(multinic.ReasonSubnetNotFound, multinic.SettingSubnetName, multinic.KindMissing),
			"correct subnetName: no subnet of the project has that name (the message lists its subnets)"},
		{problem(multinic.ReasonSubnetNotFound, multinic.SettingSubnetIDs, multinic.KindMissing),
			"correct the ID in subnetIDs (the message lists the project's subnets with their IDs); the other target subnets are still used"},
		{problem(multinic.ReasonSubnetNotUnique, multinic.SettingSubnetName, multinic.KindInvalid),
			"several subnets of the project have that subnetName: rename one in Neutron, or select by subnetIDs"},
		{problem(multinic.ReasonNova, multinic.SettingVMIDs, multinic.KindLeftOut),
			"Nova does not know that VM in this project: correct vmNames (Nova server UUIDs), or remove the VM"},
		{problem(multinic.ReasonNova, "", multinic.KindAgentLimit),
			"the node name is longer than the node agent can serve (42 characters): give the guest a shorter host name in Nova, or a shorter name under openstackNodeNameMetadataKey"},
		{problem(multinic.ReasonViola, "", ""),
			"nothing was posted: Viola could not be reached or its GET /healthz failed (the message says which); check violaEndpoint and the Viola service"},
		{problem(multinic.ReasonConfig, multinic.SettingEncryptKey, multinic.KindMissing),
			"create the key Secret, or set the reference or the setting; the message says whether the Secret is missing, lacks the key, or the key is empty"},
		{problem(multinic.ReasonConfig, multinic.SettingEncryptKey, kindKeyFileNeeded),
			"without a cluster, pass the key with --encrypt-key-file (the file holds the key only)"},
		{problem(multinic.ReasonConfig, "", crconfig.KindNotDuration), "a value stored before the schema's bounds; set it to e.g. 30s"},
		{joined, "add settings.contrabassEndpoint; set settings.violaEndpoint, or the operator's VIOLA_ENDPOINT (--viola-endpoint for this tool)"},
		{problem(multinic.ReasonNova, "", multinic.KindLeftOut),
			"the message names the VM and where its name came from: make that a lower-case RFC 1123 name (the guest's host name in Nova, or its openstackNodeNameMetadataKey value), one per VM"},
		{problem(multinic.ReasonNova, multinic.SettingNovaEndpoint, multinic.KindMissing), "check the catalog, or set settings.openstackNovaEndpoint"},
		{problem(multinic.ReasonNeutronPort, multinic.SettingPortAllowedStatuses, multinic.KindLeftOut), "adjust openstackPortAllowedStatuses, or check the ports' status"},
		{problem(multinic.ReasonNeutronSubnet, "", ""), "Neutron's answer is in the message: no target subnet, or none of their networks, could be read"},
		{problem(multinic.ReasonConfig, "", ""), ""},
		{problem("SomethingNew", "", ""), ""},
		{errors.New("not from the library"), ""},
	} {
		assert.Equal(t, tt.want, fixFor(tt.err), "%v", tt.err)
	}
}

// The fix comes from the error's structure, never from its text: a message
// that reads like a connection failure is not one.
func TestFixForIgnoresMessageText(t *testing.T) {
	looksLikeIt := &multinic.Error{Reason: multinic.ReasonViolaPost, Err: errors.New("HTTP 500: (cannot connect: check settings.violaEndpoint)")}
	assert.Equal(t, "Viola's answer is in the message; check violaEndpoint and the Viola service", fixFor(looksLikeIt))
}

func TestFixForReason(t *testing.T) {
	assert.Equal(t, "the provider's admin user, domain or password, or Keystone itself", fixForReason(multinic.ReasonKeystone))
	assert.Empty(t, fixForReason(multinic.ReasonConfig), "a ConfigError's fix depends on the setting, which a condition does not carry")
}

// The tool names the library's settings as the CR does, and its own flags
// where they stand in for the operator's environment.
func TestMessageNamesTheToolsSettings(t *testing.T) {
	_, err := multinic.Sync(t.Context(), multinic.Config{ProviderID: "p", ProjectID: "proj", VMIDs: []string{"vm"}, SubnetID: "s",
		Contrabass: crconfig.Defaults{}.Contrabass, EncryptKey: "0123456789abcdef"})
	require.Error(t, err)
	assert.Equal(t, "ConfigError: no Contrabass endpoint: set settings.contrabassEndpoint; no Viola endpoint: set settings.violaEndpoint, the operator's VIOLA_ENDPOINT or this tool's --viola-endpoint", message(err))
}
