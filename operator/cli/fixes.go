package cli

import (
	"slices"
	"strings"

	"github.com/multinic/multinic/multinic"
)

// fix is one row of the README's troubleshooting table: when a failure has
// the reason (any, when empty) and its message contains every one of the
// texts, the fix applies. A test keeps each fix word for word in README.md.
type fix struct {
	reason multinic.Reason
	texts  []string
	fix    string
}

const passDeadlineFix = "the dependency of that reason did not answer in time; check it, or raise `passTimeout` (max 10m)"

// fixes are tried in order; the first match wins, so specific rows come
// before the general one of their reason.
var fixes = []fix{
	{"", []string{"its TLS certificate is not trusted"}, "trust the CA, or set the named `*InsecureTLS` setting"},
	{"", []string{"cannot connect: check"}, "fix the URL in the named setting, or the network/DNS path to it"},
	{"", []string{"pass deadline exceeded"}, passDeadlineFix},
	{"", []string{"did not finish within settings.passTimeout"}, passDeadlineFix},
	{multinic.ReasonConfig, []string{"contrabassEndpoint is required"}, "add `settings.contrabassEndpoint`"},
	{multinic.ReasonConfig, []string{"Viola endpoint"}, "set `settings.violaEndpoint`, or the operator's `VIOLA_ENDPOINT` (`--viola-endpoint` for this tool)"},
	{multinic.ReasonConfig, []string{"violaEndpoint is required"}, "set `settings.violaEndpoint`, or the operator's `VIOLA_ENDPOINT` (`--viola-endpoint` for this tool)"},
	{multinic.ReasonConfig, []string{"does not exist"}, "create the key Secret, or set the reference or the setting; the message says whether the Secret is missing, lacks the key, or the key is empty"},
	{multinic.ReasonConfig, []string{"has no key"}, "create the key Secret, or set the reference or the setting; the message says whether the Secret is missing, lacks the key, or the key is empty"},
	{multinic.ReasonConfig, []string{"no Contrabass encrypt key"}, "create the key Secret, or set the reference or the setting; the message says whether the Secret is missing, lacks the key, or the key is empty"},
	{multinic.ReasonConfig, []string{"the Contrabass encrypt key must be 16, 24 or 32 bytes"}, "fix the key in the named Secret or setting"},
	{multinic.ReasonConfig, []string{"without a cluster pass the key"}, "without a cluster, pass the key with `--encrypt-key-file` (the file holds the key only)"},
	{multinic.ReasonConfig, []string{"encrypt key", "bytes"}, "the key must be 16, 24 or 32 characters (a trailing newline is ignored)"},
	{multinic.ReasonConfig, []string{"is not a Go duration"}, "a value stored before the schema's bounds; set it to e.g. `30s`"},
	{multinic.ReasonContrabass, []string{"decrypt adminPw"}, "the encrypt key does not match the provider's"},
	{multinic.ReasonContrabass, nil, "Contrabass's answer is in the message; check `credentials.openstackProviderID` and `settings.contrabassEndpoint`"},
	{multinic.ReasonKeystone, nil, "the provider's admin user, domain or password, or Keystone itself"},
	{multinic.ReasonNeutronEndpoint, nil, "check the catalog, or set `settings.openstackNeutronEndpoint`"},
	{multinic.ReasonSubnetNotFound, nil, "fix `subnetIDs`/`subnetID` (the message lists the project's subnets), or make `subnetName` unique"},
	{multinic.ReasonSubnetNotUnique, nil, "fix `subnetIDs`/`subnetID` (the message lists the project's subnets), or make `subnetName` unique"},
	{multinic.ReasonNeutronSubnet, []string{"MTU"}, "give the network an MTU of 68-9000 in Neutron, or drop the subnet from the config"},
	{multinic.ReasonNeutronPort, []string{"openstackPortAllowedStatuses"}, "adjust `openstackPortAllowedStatuses`, or check the ports' status"},
	{multinic.ReasonNeutronPort, []string{"VM "}, "the reason says: port-to-subnet mapping, Nova, a name that is no RFC 1123 node name, or only subnets without usable MTU (fix the network's MTU)"},
	{multinic.ReasonNova, []string{`no "compute" endpoint`}, "check the catalog, or set `settings.openstackNovaEndpoint`"},
	{multinic.ReasonNova, nil, "the message names the VM: fix `vmNames`, or the Nova server's name (or its `openstackNodeNameMetadataKey` value) so it is a lower-case RFC 1123 name"},
	{multinic.ReasonInternal, nil, "a bug: the pass failed, the process did not; please report it with the log line"},
	{multinic.ReasonViolaPost, nil, "Viola's answer is in the message; check `violaEndpoint` and the Viola service"},
	{multinic.ReasonInventory, nil, "check `--inventory-url` or the operator's inventory Service (`--operator`); a disabled inventory answers 503"},
}

// fixFor returns the troubleshooting advice for a failure, without the
// README's backquotes, or "" when no row applies. A message that joins
// several problems with "; " gets the fix of each, once.
func fixFor(reason multinic.Reason, message string) string {
	var found []string
	for _, part := range strings.Split(message, "; ") {
		if advice := firstFix(reason, part); advice != "" && !slices.Contains(found, advice) {
			found = append(found, advice)
		}
	}
	return strings.ReplaceAll(strings.Join(found, "; "), "`", "")
}

func firstFix(reason multinic.Reason, message string) string {
	for _, f := range fixes {
		if f.reason != "" && f.reason != reason {
			continue
		}
		matches := true
		for _, text := range f.texts {
			matches = matches && strings.Contains(message, text)
		}
		if matches {
			return f.fix
		}
	}
	return ""
}
