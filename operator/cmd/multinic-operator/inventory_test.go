package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestInventorySettingsDefaults(t *testing.T) {
	got, err := inventorySettingsFromEnv(env(nil))

	require.NoError(t, err)
	assert.Equal(t, inventorySettings{Enabled: true, Addr: ":18081", Path: "/var/lib/multinic-operator/inventory.json"}, got)
}

func TestInventorySettingsBlankValuesTakeDefaults(t *testing.T) {
	got, err := inventorySettingsFromEnv(env(map[string]string{envInventoryEnabled: " ", envInventoryAddr: "", envInventoryPath: ""}))

	require.NoError(t, err)
	assert.Equal(t, inventorySettings{Enabled: true, Addr: defaultInventoryAddr, Path: defaultInventoryPath}, got)
}

func TestInventorySettingsOverrides(t *testing.T) {
	got, err := inventorySettingsFromEnv(env(map[string]string{
		envInventoryEnabled: "false",
		envInventoryAddr:    "127.0.0.1:9000",
		envInventoryPath:    "/data/inv.json",
	}))

	require.NoError(t, err)
	assert.Equal(t, inventorySettings{Enabled: false, Addr: "127.0.0.1:9000", Path: "/data/inv.json"}, got)
}

func TestInventorySettingsRejectBadValuesNamingTheVariable(t *testing.T) {
	tests := []struct {
		vars      map[string]string
		wantInErr []string
	}{
		{map[string]string{envInventoryEnabled: "yes"}, []string{"INVENTORY_ENABLED", `"yes"`}},
		{map[string]string{envInventoryAddr: "18081"}, []string{"INVENTORY_ADDR", `"18081"`}},
		{map[string]string{envInventoryAddr: "localhost:"}, []string{"INVENTORY_ADDR"}},
		{map[string]string{envInventoryPath: "/var/lib/multinic-operator/"}, []string{"INVENTORY_DB_PATH", "directory"}},
		{map[string]string{envInventoryEnabled: "on", envInventoryAddr: "x"}, []string{"INVENTORY_ENABLED", "INVENTORY_ADDR"}},
	}
	for _, tt := range tests {
		_, err := inventorySettingsFromEnv(env(tt.vars))
		require.Error(t, err, tt.vars)
		for _, want := range tt.wantInErr {
			assert.Contains(t, err.Error(), want, tt.vars)
		}
	}
}
