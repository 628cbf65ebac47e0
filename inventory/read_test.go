package inventory_test

import (
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
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
	before := tree(t, filepath.Dir(path))

	records, err := inventory.ReadFile(path)
	require.NoError(t, err)
	require.Len(t, records, 1)
	assert.Equal(t, "n1", records[0].NodeName)
	assert.Equal(t, inventory.ConfigHash(records[0].Config), records[0].LastConfigHash)
	assert.Equal(t, before, tree(t, filepath.Dir(path)), "no file created, changed or removed")

	// A single file of an earlier version is read as it is, not migrated.
	single := filepath.Join(t.TempDir(), "inventory.json")
	content := `{"version":1,"records":[{"providerId":"p","nodeName":"n2","config":{"nodeName":"n2"}},{"providerId":"p","nodeName":"n1"}]}`
	require.NoError(t, os.WriteFile(single, []byte(content), 0o600))
	records, err = inventory.ReadFile(single)
	require.NoError(t, err)
	require.Len(t, records, 2)
	assert.Equal(t, []string{"n1", "n2"}, []string{records[0].NodeName, records[1].NodeName}, "sorted like a store's")
	data, _ := os.ReadFile(single)
	assert.Equal(t, content, string(data))
	assert.Equal(t, []string{single}, mapKeys(tree(t, filepath.Dir(single))))

	missing := filepath.Join(t.TempDir(), "missing.json")
	_, err = inventory.ReadFile(missing)
	assert.ErrorIs(t, err, os.ErrNotExist)
	_, statErr := os.Stat(missing)
	assert.ErrorIs(t, statErr, os.ErrNotExist, "nothing was created")

	corrupt := filepath.Join(t.TempDir(), "corrupt.json")
	require.NoError(t, os.WriteFile(corrupt, []byte("{not json"), 0o600))
	_, err = inventory.ReadFile(corrupt)
	assert.ErrorIs(t, err, inventory.ErrCorrupt)
	data, _ = os.ReadFile(corrupt)
	assert.Equal(t, "{not json", string(data), "a corrupt file is left as it is")
}

// tree maps every file and directory under dir to its modification time and
// size.
func tree(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	require.NoError(t, filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || path == dir {
			return err
		}
		info, err := d.Info()
		if err == nil {
			out[path] = fmt.Sprint(info.ModTime().UnixNano(), info.Size(), info.Mode())
		}
		return err
	}))
	return out
}

func mapKeys(m map[string]string) []string {
	return slices.Sorted(maps.Keys(m))
}
