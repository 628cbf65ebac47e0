package inventory

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// writeSingleFile writes a version 1 inventory (one file, every record) of
// providers × nodes records, each node's port IDs carrying gen.
func writeSingleFile(t *testing.T, path string, gen int, providers ...string) []string {
	t.Helper()
	var records []Record
	var keys []string
	for _, p := range providers {
		for i, cfg := range crashBatch(gen)[:3] {
			records = append(records, Record{ProviderID: p, NodeName: cfg.NodeName, InstanceID: cfg.InstanceID, Config: cfg,
				LastConfigHash: fmt.Sprint("old-hash-", i), UpdatedAt: newClock().Now()})
			keys = append(keys, p+"/"+cfg.NodeName)
		}
	}
	data, err := json.Marshal(markerContent{Version: singleFileVersion, Records: records})
	require.NoError(t, err)
	require.NoError(t, replaceFile(path, data))
	return keys
}

// requireMigrated opens the inventory at path and checks it is then a
// marker and the shards of exactly providers, holding want at generation gen.
func requireMigrated(t *testing.T, path string, want []string, gen int, providers ...string) {
	t.Helper()
	s, err := Open(path)
	require.NoError(t, err)
	defer func() { require.NoError(t, s.Close()) }() // the next migration's child opens it
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.JSONEq(t, `{"version":2,"shards":"inventory.json.d"}`, string(data))
	var names []string
	for _, p := range providers {
		names = append(names, shardFileName(p))
	}
	assert.ElementsMatch(t, names, dirNames(t, shardDirFor(path)), "a shard per provider, nothing else")
	recs := s.List(Filter{})
	assert.ElementsMatch(t, want, keysOf(recs))
	for _, rec := range recs {
		g, err := recordGeneration(rec)
		require.NoError(t, err)
		assert.Equal(t, gen, g, rec.NodeName)
		assert.Equal(t, ConfigHash(rec.Config), rec.LastConfigHash)
		assert.Equal(t, newClock().Now(), rec.UpdatedAt, "migration keeps when a config last changed")
	}
}

func TestOpenMigratesSingleFileToShards(t *testing.T) {
	path := filepath.Join(t.TempDir(), "inventory.json")
	providers := []string{"prov-a", "prov-b", "prov/../c"}
	want := writeSingleFile(t, path, 7, providers...)

	s, err := Open(path)
	require.NoError(t, err)
	require.NoError(t, s.Close(), "requireMigrated opens it again")

	assert.Equal(t, WriteStats{}, s.WriteStats(), "what Open writes is not counted")
	assert.Equal(t, os.FileMode(0o700), stat(t, shardDirFor(path)).Mode().Perm())
	for _, p := range providers {
		assert.Equal(t, os.FileMode(0o600), stat(t, shardPath(path, p)).Mode().Perm())
	}
	requireMigrated(t, path, want, 7, providers...)
	recs, err := ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, s.List(Filter{}), recs)
}

// A crash at any step of a migration leaves the single file in place, which
// still reads whole; the next Open migrates again, rewriting the shards it
// finds and removing those an earlier migration of other content left.
func TestMigrationSurvivesACrashAtEveryStep(t *testing.T) {
	providers := []string{"prov-a", "prov-b", "prov-c"}
	steps := len(providers) + 2 // directory, each shard, shards durable
	for crashAt := range steps {
		t.Run(fmt.Sprint("crash after step ", crashAt+1), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "inventory.json")
			// An earlier migration, interrupted, of an older file that had
			// a provider since removed.
			writeSingleFile(t, path, 1, "prov-a", "prov-gone")
			_, err := Open(path, crashMigrationAt(3)) // directory, both shards
			require.Error(t, err)
			require.FileExists(t, shardPath(path, "prov-gone"))
			want := writeSingleFile(t, path, 2, providers...)

			var done []string
			_, err = Open(path, func(s *Store) {
				s.migrationSteps = func(step string) error {
					done = append(done, step)
					if len(done) > crashAt {
						return errors.New("simulated crash")
					}
					return nil
				}
			})
			require.ErrorContains(t, err, "simulated crash")
			require.Len(t, done, crashAt+1)

			recs, err := ReadFile(path)
			require.NoError(t, err)
			assert.ElementsMatch(t, want, keysOf(recs), "until the marker replaces it, the single file is the inventory")
			requireMigrated(t, path, want, 2, providers...)
		})
	}
}

// crashMigrationAt stops a migration after its nth step.
func crashMigrationAt(n int) Option {
	return func(s *Store) {
		s.migrationSteps = func(string) error {
			if n--; n == 0 {
				return errors.New("simulated crash")
			}
			return nil
		}
	}
}

func TestCorruptShardIsRefusedOrQuarantinedAlone(t *testing.T) {
	for name, corrupt := range map[string]func(t *testing.T, path string) string{
		"garbage": func(t *testing.T, path string) string {
			shard := shardPath(path, "prov-b")
			require.NoError(t, os.WriteFile(shard, []byte(`{"version":2,"providerId":"prov-b","records":[{"provi`), 0o600))
			return shard
		},
		"another key's name": func(t *testing.T, path string) string {
			shard := shardPath(path, "prov-b")
			require.NoError(t, os.Rename(shard, shardPath(path, "prov-x")))
			return shardPath(path, "prov-x")
		},
		"a record of another key": func(t *testing.T, path string) string {
			shard := shardPath(path, "prov-b")
			data, err := os.ReadFile(shard)
			require.NoError(t, err)
			data = []byte(strings.Replace(string(data), `"records":[{"providerId":"prov-b"`, `"records":[{"providerId":"prov-a"`, 1))
			require.NoError(t, os.WriteFile(shard, data, 0o600))
			return shard
		},
	} {
		t.Run(name, func(t *testing.T) {
			clk := newClock()
			s, path := prunable(t)
			_, err := s.Upsert("prov-c", node("worker-1", "vm-c1", "fa:16:3e:00:00:05"))
			require.NoError(t, err)
			_, err = s.Upsert("prov-b", node("worker-2", "vm-b2", "fa:16:3e:00:00:06"))
			require.NoError(t, err)
			bad := corrupt(t, path)
			content, err := os.ReadFile(bad)
			require.NoError(t, err)
			require.NoError(t, s.Close())

			_, err = Open(path)
			require.ErrorIs(t, err, ErrCorrupt)
			assert.Contains(t, err.Error(), bad, "the error names the shard")
			recs, err := ReadFile(path)
			require.ErrorIs(t, err, ErrCorrupt, "ReadFile refuses it too")
			assert.Contains(t, err.Error(), bad)
			assert.Nil(t, recs)

			s, err = Open(path, QuarantineCorrupt(), WithClock(clk.Now))
			require.NoError(t, err)
			moved := bad + ".corrupt-20260102T030405.000000000Z"
			assert.Equal(t, []string{moved}, s.Quarantined())
			kept, err := os.ReadFile(moved)
			require.NoError(t, err)
			assert.Equal(t, string(content), string(kept), "the bad shard is kept byte for byte")
			assert.Equal(t, []string{"prov-a/worker-1", "prov-a/worker-2", "prov-a/worker-3", "prov-c/worker-1"}, keysOf(s.List(Filter{})),
				"every other key loads")

			_, err = s.Upsert("prov-b", node("worker-1", "vm-b1", "fa:16:3e:00:00:04"))
			require.NoError(t, err)
			reopened := reopen(t, s, QuarantineCorrupt())
			assert.Empty(t, reopened.Quarantined(), "the quarantined shard is no longer read")
			assert.Len(t, reopened.List(Filter{}), 5)
		})
	}
}

// The marker holds no records: a corrupt one is moved aside like the single
// file was, and the shards beside it still load.
func TestCorruptMarkerIsQuarantinedAndShardsLoad(t *testing.T) {
	first, path := prunable(t)
	require.NoError(t, first.Close())
	require.NoError(t, os.WriteFile(path, []byte(`{"version":2,"shar`), 0o600))

	_, err := Open(path)
	require.ErrorIs(t, err, ErrCorrupt)
	assert.Contains(t, err.Error(), path)

	s, err := Open(path, QuarantineCorrupt())
	require.NoError(t, err)
	require.Len(t, s.Quarantined(), 1)
	assert.True(t, strings.HasPrefix(s.Quarantined()[0], path+".corrupt-"))
	assert.Len(t, s.List(Filter{}), 4)
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.JSONEq(t, `{"version":2,"shards":"inventory.json.d"}`, string(data))
}

// Shards are named from any routing key without escaping the directory,
// hiding, clashing or outgrowing a file name, and each key reads back.
func TestHostileRoutingKeys(t *testing.T) {
	keys := []string{
		"a/b", "../../etc/passwd", "..", ".", ".hidden", "-", "x y\tz\n", "ünïcödé", "日本", "a\x00b", `C:\win`,
		strings.Repeat("long", 300), strings.Repeat(".", 80), "Prov", "prov", "prov.json", "prov-" + strings.Repeat("0", 32),
	}
	s, path := openTemp(t)
	for i, key := range keys {
		_, err := s.Upsert(key, node(fmt.Sprintf("worker-%d", i), "vm", "fa:16:3e:00:00:01"))
		require.NoError(t, err, "%q", key)
	}
	names := dirNames(t, shardDirFor(path))
	require.Len(t, names, len(keys), "one distinct file per key")
	for _, name := range names {
		assert.LessOrEqual(t, len(name), 100)
		assert.True(t, isShardFileName(name), name)
		assert.NotContains(t, name, "/")
		assert.NotContains(t, name, "\x00")
	}
	reopened := reopen(t, s)
	for i, key := range keys {
		rec, ok := reopened.Get(key, fmt.Sprintf("worker-%d", i))
		require.True(t, ok, "%q", key)
		assert.Equal(t, key, rec.ProviderID)
		assert.Len(t, reopened.List(Filter{ProviderID: key}), 1)
	}
	for _, key := range keys {
		_, err := reopened.DeleteNodes(key, reopened.List(Filter{ProviderID: key})[0].NodeName)
		require.NoError(t, err)
	}
	assert.Empty(t, dirNames(t, shardDirFor(path)), "a key that loses its last record loses its shard")
}

// The marker names the shard directory, so an inventory copied under
// another name (marker and directory) still reads; a marker without its
// directory reads as missing, and opens empty.
func TestMarkerNamesItsShardDirectory(t *testing.T) {
	_, path := prunable(t)
	copyDir := t.TempDir()
	copied := filepath.Join(copyDir, "copy.json")
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(copied, data, 0o600))
	require.NoError(t, os.CopyFS(filepath.Join(copyDir, "inventory.json.d"), os.DirFS(shardDirFor(path))))

	recs, err := ReadFile(copied)
	require.NoError(t, err)
	assert.Len(t, recs, 4)

	require.NoError(t, os.RemoveAll(filepath.Join(copyDir, "inventory.json.d")))
	_, err = ReadFile(copied)
	require.ErrorIs(t, err, os.ErrNotExist)
	assert.Equal(t, []string{"copy.json"}, dirNames(t, copyDir), "ReadFile creates nothing")
	s, err := Open(copied)
	require.NoError(t, err)
	assert.Empty(t, s.List(Filter{}))
	assert.Equal(t, []string{"copy.json", "copy.json.lock", "inventory.json.d"}, dirNames(t, copyDir))
}

// Shards without a marker (it was deleted by hand) are still the
// inventory: Open loads them and writes a new marker rather than losing them.
func TestShardsWithoutMarkerLoad(t *testing.T) {
	first, path := prunable(t)
	require.NoError(t, first.Close())
	require.NoError(t, os.Remove(path))

	s, err := Open(path)
	require.NoError(t, err)
	assert.Len(t, s.List(Filter{}), 4)
	_, err = os.Stat(path)
	assert.NoError(t, err)
}

// Removing a key's last record when its shard is already gone succeeds;
// when the whole directory is gone (the volume went away) it fails.
func TestRemovingAMissingShard(t *testing.T) {
	s, path := prunable(t)
	require.NoError(t, os.Remove(shardPath(path, "prov-b")))
	n, err := s.DeleteNodes("prov-b", "worker-1")
	require.NoError(t, err)
	assert.Equal(t, 1, n)

	require.NoError(t, os.RemoveAll(shardDirFor(path)))
	_, err = s.Prune("prov-a", func(Record) bool { return false })
	require.ErrorContains(t, err, shardDirFor(path))
	assert.Len(t, s.List(Filter{ProviderID: "prov-a"}), 3, "a failed removal removes nothing")
}
