// Package crconfig reads an OpenstackConfig the way the operator does: its
// spec into the library's multinic.Config, its polling settings and pass
// timeout, and its Contrabass encrypt key from a Secret or the spec. The
// controller and multinicctl both use it, so the tool sees a CR exactly as
// the operator does, without depending on the controller.
package crconfig

import (
	"cmp"
	"errors"
	"slices"

	"github.com/multinic/multinic/contrabass"
	"github.com/multinic/multinic/multinic"
	"github.com/multinic/multinic/openstack"
	"github.com/multinic/multinic/operator/api/v1alpha1"
	"github.com/multinic/multinic/viola"
)

// Defaults are the operator-wide client settings; a CR overrides the fields
// it has (endpoints, timeouts, TLS) and keeps the rest (retries, transports).
type Defaults struct {
	Contrabass contrabass.Options
	OpenStack  openstack.Options
	Viola      viola.Options
}

// KindNotDuration is a ConfigError's Kind for a duration setting that does
// not parse: a value stored before the schema had its rules.
const KindNotDuration multinic.Kind = "NotADuration"

// Names are the CR's names of the library's settings, and the operator's
// environment variables where they also set them, for status, events and
// logs: a library error renders with them (Message), so it names what an
// operator user edits.
var Names = multinic.Names{
	multinic.SettingProviderID:            "credentials.openstackProviderID",
	multinic.SettingProjectID:             "credentials.projectID",
	multinic.SettingVMIDs:                 "vmNames",
	multinic.SettingSubnetIDs:             "subnetIDs",
	multinic.SettingSubnetID:              "subnetID",
	multinic.SettingSubnetName:            "subnetName",
	multinic.SettingEncryptKey:            "secrets.contrabassEncryptKeySecretRef, the Secret " + DefaultEncryptKeySecret + " (key " + DefaultEncryptKeyField + ") or settings.contrabassEncryptKey",
	multinic.SettingContrabassEndpoint:    "settings.contrabassEndpoint",
	multinic.SettingContrabassInsecureTLS: "settings.contrabassInsecureTLS",
	multinic.SettingContrabassBearerToken: "secrets.contrabassBearerTokenSecretRef, or the operator's CONTRABASS_BEARER_TOKEN",
	multinic.SettingOpenStackInsecureTLS:  "settings.openstackInsecureTLS",
	multinic.SettingNeutronEndpoint:       "settings.openstackNeutronEndpoint",
	multinic.SettingNovaEndpoint:          "settings.openstackNovaEndpoint",
	multinic.SettingViolaEndpoint:         "settings.violaEndpoint, or the operator's VIOLA_ENDPOINT",
	multinic.SettingViolaInsecureTLS:      "the operator's VIOLA_INSECURE_TLS",
	multinic.SettingPortAllowedStatuses:   "settings.openstackPortAllowedStatuses",
	multinic.SettingPassTimeout:           "settings.passTimeout",
	multinic.SettingRemovalPolicy:         "settings.removalPolicy",
	multinic.SettingDownPortGracePeriod:   "settings.downPortGracePeriod",
}

// Message is err's message for status, events and logs: a library error
// naming settings as the CR does (see Names).
func Message(err error) string {
	return MessageWith(err, Names)
}

// MessageWith is Message with other names, for a tool with settings of its
// own (multinicctl's flags).
func MessageWith(err error, names multinic.Names) string {
	var e *multinic.Error
	if errors.As(err, &e) {
		return e.Message(names)
	}
	return err.Error()
}

// Join combines errors into one *multinic.Error listing every problem, so
// one message names them all and one edit fixes them: the first, with the
// others as its Also. ConfigErrors come first, so that a setting at fault
// gives the reason. An error that is no *multinic.Error is a ConfigError.
// nil errors are dropped; Join returns nil when all are.
func Join(errs ...error) error {
	var all []*multinic.Error
	for _, err := range errs {
		if err == nil {
			continue
		}
		var e *multinic.Error
		if !errors.As(err, &e) {
			e = &multinic.Error{Reason: multinic.ReasonConfig, Err: err}
		}
		all = append(all, e)
		all = append(all, e.Also...)
	}
	if len(all) == 0 {
		return nil
	}
	slices.SortStableFunc(all, func(a, b *multinic.Error) int {
		return cmp.Compare(configFirst(a), configFirst(b))
	})
	first := *all[0]
	first.Also = all[1:]
	return &first
}

func configFirst(e *multinic.Error) int {
	if e.Reason == multinic.ReasonConfig {
		return 0
	}
	return 1
}

// SpecConfig is the part of the CR-to-Config conversion that needs nothing
// but the CR and the operator's defaults: every field except EncryptKey,
// Inventory, Now and what other CRs and the status decide (Peers,
// DownPortsFirstSeen, re-sends). err lists every problem at once: duration settings
// that do not parse (Kind KindNotDuration), and what
// multinic.Config.ValidateSettings finds (a missing endpoint, say). The
// Config is filled in even then, so a tool can go on checking what does
// not depend on the settings at fault.
func SpecConfig(oc *v1alpha1.OpenstackConfig, defaults Defaults) (multinic.Config, error) {
	spec, set := oc.Spec, oc.Spec.Settings
	_, bad := PollingOf(set)
	var timeouts durationSettings
	contrabassOpts := defaults.Contrabass
	contrabassOpts.Endpoint = set.ContrabassEndpoint
	contrabassOpts.Timeout = timeouts.get("contrabassTimeout", set.ContrabassTimeout, contrabassOpts.Timeout, timeoutBounds)
	contrabassOpts.InsecureTLS = set.ContrabassInsecureTLS
	openstackOpts := defaults.OpenStack
	openstackOpts.Timeout = timeouts.get("openstackTimeout", set.OpenstackTimeout, openstackOpts.Timeout, timeoutBounds)
	openstackOpts.InsecureTLS = set.OpenstackInsecureTLS
	openstackOpts.EndpointInterface = set.OpenstackEndpointInterface
	openstackOpts.EndpointRegion = set.OpenstackEndpointRegion
	openstackOpts.NeutronEndpoint = set.OpenstackNeutronEndpoint
	openstackOpts.NovaEndpoint = set.OpenstackNovaEndpoint
	passTimeout := timeouts.get("passTimeout", set.PassTimeout, multinic.DefaultPassTimeout, timeoutBounds)
	downGrace := timeouts.get("downPortGracePeriod", set.DownPortGracePeriod, defaultDownGrace, graceBounds)
	violaOpts := defaults.Viola
	if set.ViolaEndpoint != "" {
		violaOpts.Endpoint = set.ViolaEndpoint
	}
	cfg := multinic.Config{
		ProviderID:          spec.Credentials.OpenstackProviderID,
		K8sProviderID:       spec.Credentials.K8sProviderID,
		ProjectID:           spec.Credentials.ProjectID,
		VMIDs:               spec.VMNames,
		SubnetIDs:           spec.SubnetIDs,
		SubnetID:            spec.SubnetID,
		SubnetName:          spec.SubnetName,
		Contrabass:          contrabassOpts,
		OpenStack:           openstackOpts,
		Viola:               violaOpts,
		NodeNameMetadataKey: set.OpenstackNodeNameMetadataKey,
		PortAllowedStatuses: set.OpenstackPortAllowedStatuses,
		PassTimeout:         passTimeout,
		DownPortGracePeriod: downGrace,
		RemovalPolicy:       multinic.RemovalPolicy(set.RemovalPolicy),
	}
	var errs []error
	for _, problem := range append(bad, timeouts.bad...) {
		errs = append(errs, &multinic.Error{Reason: multinic.ReasonConfig, Kind: KindNotDuration, Err: errors.New(problem)})
	}
	return cfg, Join(append(errs, cfg.ValidateSettings())...)
}
