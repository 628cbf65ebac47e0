package inventory

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func env(vars map[string]string) func(string) string {
	return func(name string) string { return vars[name] }
}

func TestSettingsDefaults(t *testing.T) {
	got, err := SettingsFromEnv(env(nil))

	require.NoError(t, err)
	assert.Equal(t, Settings{Enabled: true, Addr: ":18081", Path: "/var/lib/multinic-operator/inventory.json"}, got)
}

func TestSettingsBlankValuesTakeDefaults(t *testing.T) {
	got, err := SettingsFromEnv(env(map[string]string{EnvEnabled: " ", EnvAddr: "", EnvPath: ""}))

	require.NoError(t, err)
	assert.Equal(t, Settings{Enabled: true, Addr: DefaultAddr, Path: DefaultPath}, got)
}

func TestSettingsOverrides(t *testing.T) {
	got, err := SettingsFromEnv(env(map[string]string{
		EnvEnabled: "false",
		EnvAddr:    "127.0.0.1:9000",
		EnvPath:    "/data/inv.json",
	}))

	require.NoError(t, err)
	assert.Equal(t, Settings{Enabled: false, Addr: "127.0.0.1:9000", Path: "/data/inv.json"}, got)
}

func TestSettingsRejectBadValuesNamingTheVariable(t *testing.T) {
	tests := []struct {
		vars      map[string]string
		wantInErr []string
	}{
		{map[string]string{EnvEnabled: "yes"}, []string{"INVENTORY_ENABLED", `"yes"`}},
		{map[string]string{EnvAddr: "18081"}, []string{"INVENTORY_ADDR", `"18081"`}},
		{map[string]string{EnvAddr: "localhost:"}, []string{"INVENTORY_ADDR"}},
		{map[string]string{EnvPath: "/var/lib/multinic-operator/"}, []string{"INVENTORY_DB_PATH", "directory"}},
		{map[string]string{EnvEnabled: "on", EnvAddr: "x"}, []string{"INVENTORY_ENABLED", "INVENTORY_ADDR"}},
	}
	for _, tt := range tests {
		_, err := SettingsFromEnv(env(tt.vars))
		require.Error(t, err, tt.vars)
		for _, want := range tt.wantInErr {
			assert.Contains(t, err.Error(), want, tt.vars)
		}
	}
}
