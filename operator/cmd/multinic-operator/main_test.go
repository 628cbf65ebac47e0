package main

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

func TestParseOptionsDefaults(t *testing.T) {
	o, err := parseOptions(nil, env(nil))
	require.NoError(t, err)
	assert.Equal(t, metricsFlags{addr: ":8443", secure: true, certName: "tls.crt", certKey: "tls.key"}, o.metrics,
		"HTTPS behind the API server's authentication and authorization, as kubebuilder scaffolds it")
	assert.Equal(t, ":8081", o.probeAddr)
	assert.False(t, o.leaderElection)
	assert.Equal(t, 16, o.maxConcurrentReconciles)
	assert.Empty(t, o.viola.Endpoint, "no default Viola: each CR must name one then")
	assert.Equal(t, inventorySettings{Enabled: true, Addr: ":18081", Path: "/var/lib/multinic-operator/inventory.json"}, o.inventory)
}

func TestParseOptionsFromFlagsAndEnv(t *testing.T) {
	o, err := parseOptions([]string{"--leader-elect", "--metrics-bind-address=0"}, env(map[string]string{
		"VIOLA_ENDPOINT":          " http://viola:8080 ",
		"VIOLA_TIMEOUT":           "5s",
		"VIOLA_INSECURE_TLS":      "true",
		"INVENTORY_ENABLED":       "false",
		"CONTRABASS_BEARER_TOKEN": "t0ken\n",
	}))
	require.NoError(t, err)
	assert.Equal(t, "t0ken", o.contrabassBearerToken, "a value from a Secret file may end in a newline")
	assert.True(t, o.leaderElection)
	assert.Equal(t, "0", o.metrics.addr)
	assert.Equal(t, "http://viola:8080", o.viola.Endpoint)
	assert.Equal(t, 5*time.Second, o.viola.Timeout)
	assert.True(t, o.viola.InsecureTLS)
	assert.False(t, o.inventory.Enabled)
}

// Every bad variable is named at once, so one restart fixes them all.
func TestParseOptionsNamesEveryBadVariable(t *testing.T) {
	_, err := parseOptions(nil, env(map[string]string{
		"VIOLA_TIMEOUT":      "soon",
		"VIOLA_INSECURE_TLS": "maybe",
		"INVENTORY_ENABLED":  "perhaps",
	}))
	require.Error(t, err)
	for _, name := range []string{"VIOLA_TIMEOUT", "VIOLA_INSECURE_TLS", "INVENTORY_ENABLED"} {
		assert.Contains(t, err.Error(), name)
	}
	_, err = parseOptions([]string{"--no-such-flag"}, env(nil))
	assert.Error(t, err)
}

// An inventory path the operator cannot write names the setting to change.
func TestOpenInventoryNamesTheSetting(t *testing.T) {
	notADir := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(notADir, nil, 0o600))
	_, err := openInventory(inventorySettings{Enabled: true, Path: filepath.Join(notADir, "inventory.json")}, logr.Discard())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "INVENTORY_DB_PATH="+filepath.Join(notADir, "inventory.json"))

	// An existing file on a read-only volume opens, but nothing could be
	// recorded: refused at startup too (root ignores file modes, /proc not).
	assert.ErrorContains(t, probeWritable("/proc"), "directory /proc is not writable")
	assert.NoError(t, probeWritable(t.TempDir()))

	store, err := openInventory(inventorySettings{Enabled: true, Path: filepath.Join(t.TempDir(), "inv.json")}, logr.Discard())
	require.NoError(t, err)
	assert.NotNil(t, store)
}
