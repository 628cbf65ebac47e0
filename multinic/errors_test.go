package multinic_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/multinic/multinic/multinic"
)

// A caller that builds Config from settings of its own renders the
// library's errors in its own terms; the structured fields say what to
// change without any text to match.
func TestErrorsNameSettingsAsTheCallerDoes(t *testing.T) {
	cfg := multinic.Config{ProviderID: "p", ProjectID: "proj", VMIDs: []string{"vm-1"}, EncryptKey: "0123456789abcdef"}
	_, err := multinic.Sync(context.Background(), cfg)
	var e *multinic.Error
	require.ErrorAs(t, err, &e)

	assert.Equal(t, "ConfigError: no Contrabass endpoint: set Config.Contrabass.Endpoint; no Viola endpoint: set Config.Viola.Endpoint; "+
		"one of Config.SubnetIDs, Config.SubnetID or Config.SubnetName is required", err.Error(), "library names by default")
	names := multinic.Names{
		multinic.SettingContrabassEndpoint: "--contrabass",
		multinic.SettingViolaEndpoint:      "--viola",
		multinic.SettingSubnetIDs:          "--subnet",
	}
	assert.Equal(t, "ConfigError: no Contrabass endpoint: set --contrabass; no Viola endpoint: set --viola; "+
		"one of --subnet, Config.SubnetID or Config.SubnetName is required", e.Message(names), "a setting without a name keeps the library's")
	assert.Equal(t, "no Contrabass endpoint: set --contrabass; no Viola endpoint: set --viola; one of --subnet, Config.SubnetID or Config.SubnetName is required", e.Detail(names))

	type problem struct {
		reason  multinic.Reason
		setting multinic.Setting
		kind    multinic.Kind
	}
	got := []problem{{e.Reason, e.Setting, e.Kind}}
	for _, more := range e.Also {
		got = append(got, problem{more.Reason, more.Setting, more.Kind})
	}
	assert.Equal(t, []problem{
		{multinic.ReasonConfig, multinic.SettingContrabassEndpoint, multinic.KindMissing},
		{multinic.ReasonConfig, multinic.SettingViolaEndpoint, multinic.KindMissing},
		{multinic.ReasonSubnetRequired, multinic.SettingSubnetIDs, multinic.KindMissing},
	}, got)
}

// An Error made outside the package (by the operator, a tool) is its cause
// and hint, whatever the names.
func TestErrorMadeElsewhere(t *testing.T) {
	e := &multinic.Error{Reason: multinic.ReasonInventory, Err: assert.AnError, Hint: "check --inventory-url"}
	assert.Equal(t, "InventoryError: "+assert.AnError.Error()+" (check --inventory-url)", e.Error())
	assert.Equal(t, e.Error(), e.Message(multinic.Names{multinic.SettingViolaEndpoint: "x"}))
	assert.ErrorIs(t, e, assert.AnError)
}
