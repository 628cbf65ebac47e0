package inventory_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/multinic/multinic/inventory"
	"github.com/multinic/multinic/viola"
)

func TestReadFileReadsWithoutWriting(t *testing.T) {
	path := filepath.Join(t.TempDir(), "inventory.json")
	store, err := inventory.Open(path)
	require.NoError(t, err)
	_, err = store.Upsert("p", viola.NodeConfig{NodeName: "n1", InstanceID: "i1", Interfaces: []viola.Interface{{Name: "multinic0", MACAddress: "fa:16:3e:00:00:01", Address: "10.0.0.1", CIDR: "10.0.0.0/24", MTU: 1450}}})
	require.NoError(t, err)
	before, err := os.Stat(path)
	require.NoError(t, err)

	records, err := inventory.ReadFile(path)
	require.NoError(t, err)
	require.Len(t, records, 1)
	assert.Equal(t, "n1", records[0].NodeName)
	assert.Equal(t, inventory.ConfigHash(records[0].Config), records[0].LastConfigHash)
	after, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, before.ModTime(), after.ModTime())

	missing := filepath.Join(t.TempDir(), "missing.json")
	_, err = inventory.ReadFile(missing)
	assert.True(t, errors.Is(err, os.ErrNotExist))
	_, statErr := os.Stat(missing)
	assert.True(t, errors.Is(statErr, os.ErrNotExist), "nothing was created")

	corrupt := filepath.Join(t.TempDir(), "corrupt.json")
	require.NoError(t, os.WriteFile(corrupt, []byte("{not json"), 0o600))
	_, err = inventory.ReadFile(corrupt)
	assert.ErrorIs(t, err, inventory.ErrCorrupt)
	data, _ := os.ReadFile(corrupt)
	assert.Equal(t, "{not json", string(data), "a corrupt file is left as it is")
}
