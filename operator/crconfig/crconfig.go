// Package crconfig reads an OpenstackConfig the way the operator does: its
// spec into the library's multinic.Config, its polling settings and pass
// timeout, and its Contrabass encrypt key from a Secret or the spec. The
// controller and multinicctl both use it, so the tool sees a CR exactly as
// the operator does, without depending on the controller.
package crconfig

import (
	"fmt"

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

// configError marks a problem with the CR or its Secrets.
func configError(format string, args ...any) error {
	return &multinic.Error{Reason: multinic.ReasonConfig, Err: fmt.Errorf(format, args...)}
}

// SpecConfig is the part of the CR-to-Config conversion that needs nothing
// but the CR and the operator's defaults: every field except EncryptKey,
// Inventory and Now. problems name each setting that is missing or does not
// parse, worded as the operator's ConfigError words them.
func SpecConfig(oc *v1alpha1.OpenstackConfig, defaults Defaults) (cfg multinic.Config, problems []string) {
	spec, set := oc.Spec, oc.Spec.Settings
	_, problems = PollingOf(set)
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
	problems = append(problems, timeouts.bad...)

	if set.ContrabassEndpoint == "" {
		problems = append(problems, "spec.settings.contrabassEndpoint is required")
	}
	violaOpts := defaults.Viola
	if set.ViolaEndpoint != "" {
		violaOpts.Endpoint = set.ViolaEndpoint
	}
	if violaOpts.Endpoint == "" {
		problems = append(problems, "no Viola endpoint: set spec.settings.violaEndpoint or the operator's VIOLA_ENDPOINT")
	}
	cfg = multinic.Config{
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
	}
	return cfg, problems
}
