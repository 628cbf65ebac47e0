package cli

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/multinic/multinic/multinic"
	"github.com/multinic/multinic/operator/crconfig"
)

// names are this tool's names of the library's settings: the CR's, and
// its own flags where they stand in for the operator's environment.
var names = func() multinic.Names {
	n := multinic.Names{}
	for setting, name := range crconfig.Names {
		n[setting] = name
	}
	n[multinic.SettingViolaEndpoint] = "settings.violaEndpoint, the operator's VIOLA_ENDPOINT or this tool's --viola-endpoint"
	n[multinic.SettingViolaInsecureTLS] = "the operator's VIOLA_INSECURE_TLS or this tool's --viola-insecure-tls"
	n[multinic.SettingEncryptKey] += ", or this tool's --encrypt-key-file"
	n[multinic.SettingContrabassBearerToken] += ", or this tool's --contrabass-token-file"
	return n
}()

// message is err's message in this tool's terms.
func message(err error) string { return crconfig.MessageWith(err, names) }

// kindKeyFileNeeded: without a cluster, the key the CR names cannot be read.
const kindKeyFileNeeded multinic.Kind = "KeyFileNeeded"

// keyFileNeeded is the ConfigError for a key this tool cannot read without
// a cluster.
func keyFileNeeded(format string, args ...any) error {
	return &multinic.Error{Reason: multinic.ReasonConfig, Setting: multinic.SettingEncryptKey, Kind: kindKeyFileNeeded, Err: fmt.Errorf(format, args...)}
}

// fix is one row of the README's troubleshooting table: it applies to a
// problem whose reason, setting and kind match those of the row that are
// set. A test keeps each fix word for word in README.md.
type fix struct {
	reason  multinic.Reason
	setting multinic.Setting
	kind    multinic.Kind
	fix     string
}

const (
	passDeadlineFix = "the dependency of that reason did not answer in time; check it, or raise `passTimeout` (max 10m)"
	keySecretFix    = "create the key Secret, or set the reference or the setting; the message says whether the Secret is missing, lacks the key, or the key is empty"
)

// fixes are tried in order; the first match wins, so specific rows come
// before the general one of their reason. The general row of a reason
// (no setting, no kind) is what status prints for a condition, which
// carries the reason only: it says what the operator's own failure of that
// reason means, not what only check reports.
var fixes = []fix{
	{kind: multinic.KindUntrusted, fix: "trust the CA, or set the named `*InsecureTLS` setting"},
	{kind: multinic.KindPlainHTTP, fix: "the server speaks plain HTTP: use `http://` in the named setting, or enable TLS on the server"},
	{kind: multinic.KindUnreachable, fix: "fix the URL in the named setting, or the network/DNS path to it"},
	{kind: multinic.KindDeadline, fix: passDeadlineFix},
	{reason: multinic.ReasonConfig, setting: multinic.SettingContrabassEndpoint, kind: multinic.KindMissing, fix: "add `settings.contrabassEndpoint`"},
	{reason: multinic.ReasonConfig, setting: multinic.SettingViolaEndpoint, kind: multinic.KindMissing, fix: "set `settings.violaEndpoint`, or the operator's `VIOLA_ENDPOINT` (`--viola-endpoint` for this tool)"},
	{reason: multinic.ReasonConfig, setting: multinic.SettingEncryptKey, kind: kindKeyFileNeeded, fix: "without a cluster, pass the key with `--encrypt-key-file` (the file holds the key only)"},
	{reason: multinic.ReasonConfig, setting: multinic.SettingEncryptKey, kind: multinic.KindMissing, fix: keySecretFix},
	{reason: multinic.ReasonConfig, setting: multinic.SettingEncryptKey, kind: multinic.KindInvalid, fix: "fix the key in the named Secret or setting"},
	{reason: multinic.ReasonConfig, kind: crconfig.KindNotDuration, fix: "a value stored before the schema's bounds; set it to e.g. `30s`"},
	{reason: multinic.ReasonContrabass, setting: multinic.SettingEncryptKey, fix: "the encrypt key does not match the provider's"},
	{reason: multinic.ReasonContrabass, kind: multinic.KindMissing, fix: "the provider record lacks a field Keystone needs (the message names it): complete the provider in Contrabass"},
	{reason: multinic.ReasonContrabass, fix: "Contrabass's answer is in the message; check `credentials.openstackProviderID` and `settings.contrabassEndpoint` (and `CONTRABASS_BEARER_TOKEN` or `contrabassBearerTokenSecretRef` if it wants a token)"},
	{reason: multinic.ReasonKeystone, fix: "the provider's admin user, domain or password, or Keystone itself"},
	{reason: multinic.ReasonNeutronEndpoint, fix: "check the catalog, or set `settings.openstackNeutronEndpoint`"},
	{reason: multinic.ReasonSubnetNotFound, setting: multinic.SettingSubnetName, fix: "correct `subnetName`: no subnet of the project has that name (the message lists its subnets)"},
	{reason: multinic.ReasonSubnetNotFound, setting: multinic.SettingSubnetIDs, fix: "correct the ID in `subnetIDs` (the message lists the project's subnets with their IDs); the other target subnets are still used"},
	{reason: multinic.ReasonSubnetNotFound, setting: multinic.SettingSubnetID, fix: "correct `subnetID` (the message lists the project's subnets with their IDs)"},
	{reason: multinic.ReasonSubnetNotFound, fix: "correct the subnet selector (`subnetIDs`, `subnetID` or `subnetName`); the message lists the project's subnets"},
	{reason: multinic.ReasonSubnetNotUnique, fix: "several subnets of the project have that `subnetName`: rename one in Neutron, or select by `subnetIDs`"},
	{reason: multinic.ReasonNeutronSubnet, kind: multinic.KindUnusableMTU, fix: "give the network an MTU of 68-9000 in Neutron, or drop the subnet from the config"},
	{reason: multinic.ReasonNeutronSubnet, kind: multinic.KindUnreadable, fix: "Neutron's answer for that subnet is in the message; the other target subnets are still used, and VMs with a port on it wait until it can be read"},
	{reason: multinic.ReasonNeutronSubnet, fix: "Neutron's answer is in the message: no target subnet, or none of their networks, could be read"},
	{reason: multinic.ReasonNeutronPort, setting: multinic.SettingPortAllowedStatuses, fix: "adjust `openstackPortAllowedStatuses`, or check the ports' status"},
	{reason: multinic.ReasonNeutronPort, kind: multinic.KindAgentLimit, fix: "the node agent cannot configure that address (IPv6, or a port's further fixed IP), so it is left out: give the port one IPv4 address on the target subnets, or drop an IPv6 subnet from the config"},
	{reason: multinic.ReasonNeutronPort, kind: multinic.KindLeftOut, fix: "the reason says which: no port on a target subnet, only subnets without a usable MTU (fix the network's MTU), a port beyond multinic9, or a node config the agent would refuse"},
	{reason: multinic.ReasonNeutronPort, fix: "Neutron's answer is in the message: the VMs' ports could not be listed"},
	{reason: multinic.ReasonNova, setting: multinic.SettingNovaEndpoint, fix: "check the catalog, or set `settings.openstackNovaEndpoint`"},
	{reason: multinic.ReasonNova, setting: multinic.SettingVMIDs, fix: "Nova does not know that VM in this project: correct `vmNames` (Nova server UUIDs), or remove the VM"},
	{reason: multinic.ReasonNova, kind: multinic.KindAgentLimit, fix: "the node name is longer than the node agent can serve (42 characters): give the guest a shorter host name in Nova, or a shorter name under `openstackNodeNameMetadataKey`"},
	{reason: multinic.ReasonNova, kind: multinic.KindLeftOut, fix: "the message names the VM and where its name came from: make that a lower-case RFC 1123 name (the guest's host name in Nova, or its `openstackNodeNameMetadataKey` value), one per VM"},
	{reason: multinic.ReasonNova, fix: "Nova's answer is in the message: it named none of the VMs, or no `compute` endpoint was found"},
	{reason: multinic.ReasonInternal, fix: "a bug: the pass failed, the process did not; please report it with the log line"},
	{reason: multinic.ReasonViolaPost, fix: "Viola's answer is in the message; check `violaEndpoint` and the Viola service"},
	{reason: multinic.ReasonViola, fix: "nothing was posted: Viola could not be reached or its `GET /healthz` failed (the message says which); check `violaEndpoint` and the Viola service"},
	{reason: multinic.ReasonInventory, fix: "check `--inventory-url` or the operator's inventory Service (`--operator`); a disabled inventory answers 503"},
}

func (f fix) applies(reason multinic.Reason, setting multinic.Setting, kind multinic.Kind) bool {
	return (f.reason == "" || f.reason == reason) && (f.setting == "" || f.setting == setting) && (f.kind == "" || f.kind == kind)
}

// fixFor returns the troubleshooting advice for a failure, without the
// README's backquotes, or "" when no row applies: the fix of each of its
// problems, once, from their reason, setting and kind. An error that is no
// *multinic.Error is a ConfigError that names no setting.
func fixFor(err error) string {
	var e *multinic.Error
	if !errors.As(err, &e) {
		return fixForReason(multinic.ReasonConfig)
	}
	var found []string
	for _, p := range append([]*multinic.Error{e}, e.Also...) {
		for _, f := range fixes {
			if f.applies(p.Reason, p.Setting, p.Kind) {
				if !slices.Contains(found, f.fix) {
					found = append(found, f.fix)
				}
				break
			}
		}
	}
	return strings.ReplaceAll(strings.Join(found, "; "), "`", "")
}

// fixForReason is the advice for a failure known only by its reason, as
// in a status condition: the row of the reason that names no setting and
// no kind, or "".
func fixForReason(reason multinic.Reason) string {
	for _, f := range fixes {
		if f.setting == "" && f.kind == "" && f.reason == reason {
			return strings.ReplaceAll(f.fix, "`", "")
		}
	}
	return ""
}
