package crconfig_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/multinic/multinic/multinic"
	"github.com/multinic/multinic/operator/api/v1alpha1"
	"github.com/multinic/multinic/operator/crconfig"
)

func config(mutate func(*v1alpha1.OpenstackConfigSpec)) *v1alpha1.OpenstackConfig {
	oc := &v1alpha1.OpenstackConfig{Spec: v1alpha1.OpenstackConfigSpec{
		Credentials: v1alpha1.Credentials{OpenstackProviderID: "p", ProjectID: "proj"},
		VMNames:     []string{"vm-1"},
		SubnetID:    "subnet-1",
		Settings:    v1alpha1.Settings{ContrabassEndpoint: "http://contrabass", ViolaEndpoint: "http://viola"},
	}}
	if mutate != nil {
		mutate(&oc.Spec)
	}
	return oc
}

func TestSpecConfigMapsTheCR(t *testing.T) {
	cfg, err := crconfig.SpecConfig(config(func(s *v1alpha1.OpenstackConfigSpec) {
		s.Credentials.K8sProviderID = "biz"
		s.Settings.PassTimeout = "2m"
		s.Settings.OpenstackNeutronEndpoint = "http://neutron"
	}), crconfig.Defaults{})
	require.NoError(t, err)
	assert.Equal(t, "biz", cfg.RoutingKey())
	assert.Equal(t, "http://contrabass", cfg.Contrabass.Endpoint)
	assert.Equal(t, "http://neutron", cfg.OpenStack.NeutronEndpoint)
	assert.Equal(t, "2m0s", cfg.PassTimeout.String())

	var defaults crconfig.Defaults
	defaults.Viola.Endpoint = "http://viola-default"
	cfg, err = crconfig.SpecConfig(config(func(s *v1alpha1.OpenstackConfigSpec) { s.Settings.ViolaEndpoint = "" }), defaults)
	require.NoError(t, err)
	assert.Equal(t, "http://viola-default", cfg.Viola.Endpoint, "the operator's VIOLA_ENDPOINT when the CR names none")
}

// Every problem of a CR in one error, each with its setting and kind, in
// the CR's terms.
func TestSpecConfigNamesEveryProblemInTheCRsTerms(t *testing.T) {
	oc := config(func(s *v1alpha1.OpenstackConfigSpec) {
		s.Settings.ContrabassEndpoint, s.Settings.ViolaEndpoint = "", ""
		s.Settings.PollFastInterval = "soon"
	})
	cfg, err := crconfig.SpecConfig(oc, crconfig.Defaults{})
	require.Error(t, err)
	assert.Equal(t, "p", cfg.ProviderID, "the Config is filled in even so")
	assert.Equal(t, `ConfigError: spec.settings.pollFastInterval "soon" is not a Go duration such as 30s or 1h30m; `+
		`no Contrabass endpoint: set settings.contrabassEndpoint; no Viola endpoint: set settings.violaEndpoint, or the operator's VIOLA_ENDPOINT`,
		crconfig.Message(err))

	var e *multinic.Error
	require.ErrorAs(t, err, &e)
	kinds := []multinic.Kind{e.Kind}
	settings := []multinic.Setting{e.Setting}
	for _, more := range e.Also {
		kinds, settings = append(kinds, more.Kind), append(settings, more.Setting)
	}
	assert.Equal(t, []multinic.Kind{crconfig.KindNotDuration, multinic.KindMissing, multinic.KindMissing}, kinds)
	assert.Equal(t, []multinic.Setting{"", multinic.SettingContrabassEndpoint, multinic.SettingViolaEndpoint}, settings)
}

func TestJoin(t *testing.T) {
	assert.NoError(t, crconfig.Join(nil, nil))
	subnet := &multinic.Error{Reason: multinic.ReasonSubnetRequired, Err: errors.New("no subnet")}
	key := &multinic.Error{Reason: multinic.ReasonConfig, Setting: multinic.SettingEncryptKey, Err: errors.New("no key")}
	joined := crconfig.Join(subnet, nil, key, errors.New("plain"))
	assert.Equal(t, multinic.ReasonConfig, multinic.ReasonOf(joined), "a setting at fault gives the reason")
	assert.Equal(t, "ConfigError: no key; plain; no subnet", joined.Error())
}

// Every setting the library can name has a name in the CR's terms, so no
// library field name reaches an operator user.
func TestNamesCoverEveryLibrarySetting(t *testing.T) {
	for _, s := range []multinic.Setting{
		multinic.SettingProviderID, multinic.SettingProjectID, multinic.SettingVMIDs, multinic.SettingSubnetIDs,
		multinic.SettingSubnetID, multinic.SettingSubnetName, multinic.SettingEncryptKey, multinic.SettingContrabassEndpoint,
		multinic.SettingContrabassInsecureTLS, multinic.SettingOpenStackInsecureTLS, multinic.SettingNeutronEndpoint,
		multinic.SettingNovaEndpoint, multinic.SettingViolaEndpoint, multinic.SettingViolaInsecureTLS,
		multinic.SettingPortAllowedStatuses, multinic.SettingPassTimeout,
	} {
		name := crconfig.Names.Of(s)
		assert.False(t, strings.HasPrefix(name, "Config."), "%s has no CR name", s)
	}
}
