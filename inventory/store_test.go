package inventory

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/multinic/multinic/viola"
)

// node builds a valid config with one interface per MAC, numbered in order.
func node(name, instanceID string, macs ...string) viola.NodeConfig {
	cfg := viola.NodeConfig{NodeName: name, InstanceID: instanceID}
	for i, mac := range macs {
		cfg.Interfaces = append(cfg.Interfaces, viola.Interface{
			ID:         i,
			Name:       viola.InterfaceName(i),
			PortID:     "port-" + mac,
			MACAddress: mac,
			Address:    fmt.Sprintf("10.0.0.%d", 10+i),
			CIDR:       "10.0.0.0/24",
			MTU:        1450,
		})
	}
	return cfg
}

// clock is a settable time source so UpdatedAt can be asserted exactly.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func openTemp(t testing.TB, opts ...Option) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "inventory.json")
	s, err := Open(path, opts...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s, path
}

// reopen closes s, whose lock a second Store of its path would need, and
// opens the path again.
func reopen(t testing.TB, s *Store, opts ...Option) *Store {
	t.Helper()
	require.NoError(t, s.Close())
	reopened, err := Open(s.Path(), opts...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = reopened.Close() })
	return reopened
}

// shardPath is where the inventory at path keeps providerID's records.
func shardPath(path, providerID string) string {
	return filepath.Join(shardDirFor(path), shardFileName(providerID))
}

func stat(t *testing.T, path string) os.FileInfo {
	t.Helper()
	fi, err := os.Stat(path)
	require.NoError(t, err)
	return fi
}

func TestOpenCreatesFileAndDirectory(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a", "b", "inventory.json")

	s, err := Open(path)
	require.NoError(t, err)

	data, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.JSONEq(t, `{"version":2,"shards":"inventory.json.d"}`, string(data))
	assert.Equal(t, os.FileMode(0o600), stat(t, path).Mode().Perm())
	assert.True(t, stat(t, path+".d").IsDir())
	assert.Equal(t, os.FileMode(0o700), stat(t, path+".d").Mode().Perm(), "the records name every node: the directory is private too")
	assert.Empty(t, dirNames(t, path+".d"))
	assert.Empty(t, s.List(Filter{}))
	assert.Equal(t, path, s.Path())
}

func TestOpenFailsEarlyWhenPathIsUnusable(t *testing.T) {
	blocker := filepath.Join(t.TempDir(), "not-a-dir")
	require.NoError(t, os.WriteFile(blocker, nil, 0o600))
	path := filepath.Join(blocker, "inventory.json")

	_, err := Open(path)

	require.Error(t, err)
	assert.Contains(t, err.Error(), blocker)
}

func TestOpenWithEmptyPathKeepsRecordsInMemoryOnly(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	clk := newClock()

	s, err := Open("", WithClock(clk.Now))
	require.NoError(t, err)

	assert.Empty(t, s.Path())
	cfg := node("worker-1", "vm-1", "fa:16:3e:00:00:01")
	changed, err := s.Upsert("prov", cfg, node("worker-2", "vm-2", "fa:16:3e:00:00:02"))
	require.NoError(t, err)
	assert.Equal(t, 2, changed)
	clk.Advance(time.Hour)
	changed, err = s.Upsert("prov", cfg)
	require.NoError(t, err)
	assert.Equal(t, 0, changed, "an in-memory store must still detect unchanged configs")
	rec, ok := s.Get("prov", "worker-1")
	require.True(t, ok)
	assert.Equal(t, clk.Now().Add(-time.Hour), rec.UpdatedAt)
	removed, err := s.Delete("prov", "worker-2")
	require.NoError(t, err)
	assert.True(t, removed)
	assert.Len(t, s.List(Filter{}), 1)

	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Empty(t, entries, "an in-memory store must not write any file")
	other, err := Open("")
	require.NoError(t, err)
	assert.Empty(t, other.List(Filter{}), "in-memory stores must not share state")
}

func TestUpsertPersistsAcrossReopen(t *testing.T) {
	clk := newClock()
	s, _ := openTemp(t, WithClock(clk.Now))

	changed, err := s.Upsert("prov-b", node("worker-2", "vm-2", "fa:16:3e:00:00:02"))
	require.NoError(t, err)
	assert.Equal(t, 1, changed)
	changed, err = s.Upsert("prov-a", node("worker-1", "vm-1", "fa:16:3e:00:00:01", "fa:16:3e:00:00:11"))
	require.NoError(t, err)
	assert.Equal(t, 1, changed)

	reopened := reopen(t, s)
	want := []Record{
		{
			ProviderID: "prov-a", NodeName: "worker-1", InstanceID: "vm-1",
			Config:         node("worker-1", "vm-1", "fa:16:3e:00:00:01", "fa:16:3e:00:00:11"),
			LastConfigHash: ConfigHash(node("worker-1", "vm-1", "fa:16:3e:00:00:01", "fa:16:3e:00:00:11")),
			UpdatedAt:      clk.Now(),
		},
		{
			ProviderID: "prov-b", NodeName: "worker-2", InstanceID: "vm-2",
			Config:         node("worker-2", "vm-2", "fa:16:3e:00:00:02"),
			LastConfigHash: ConfigHash(node("worker-2", "vm-2", "fa:16:3e:00:00:02")),
			UpdatedAt:      clk.Now(),
		},
	}
	assert.Equal(t, want, reopened.List(Filter{}))
	assert.Equal(t, want, s.List(Filter{}))
}

func TestUpsertOfUnchangedConfigKeepsRecordAndFile(t *testing.T) {
	clk := newClock()
	s, path := openTemp(t, WithClock(clk.Now))
	cfg := node("worker-1", "vm-1", "fa:16:3e:00:00:01")
	_, err := s.Upsert("prov", cfg)
	require.NoError(t, err)
	before := stat(t, shardPath(path, "prov"))
	clk.Advance(time.Hour)

	changed, err := s.Upsert("prov", cfg)

	require.NoError(t, err)
	assert.Equal(t, 0, changed)
	assert.True(t, os.SameFile(before, stat(t, shardPath(path, "prov"))), "an unchanged upsert must not rewrite the shard")
	rec, ok := s.Get("prov", "worker-1")
	require.True(t, ok)
	assert.Equal(t, clk.Now().Add(-time.Hour), rec.UpdatedAt)
}

func TestUpsertOfChangedConfigReplacesRecord(t *testing.T) {
	clk := newClock()
	s, path := openTemp(t, WithClock(clk.Now))
	cfg := node("worker-1", "vm-1", "fa:16:3e:00:00:01")
	_, err := s.Upsert("prov", cfg, node("worker-2", "vm-2", "fa:16:3e:00:00:02"))
	require.NoError(t, err)
	old, _ := s.Get("prov", "worker-1")
	before := stat(t, shardPath(path, "prov"))
	clk.Advance(time.Minute)

	cfg.Interfaces[0].MTU = 9000
	changed, err := s.Upsert("prov", cfg, node("worker-2", "vm-2", "fa:16:3e:00:00:02"))

	require.NoError(t, err)
	assert.Equal(t, 1, changed, "only worker-1 changed")
	rec, ok := s.Get("prov", "worker-1")
	require.True(t, ok)
	assert.Equal(t, 9000, rec.Config.Interfaces[0].MTU)
	assert.Equal(t, ConfigHash(cfg), rec.LastConfigHash)
	assert.NotEqual(t, old.LastConfigHash, rec.LastConfigHash)
	assert.Equal(t, clk.Now(), rec.UpdatedAt)
	assert.False(t, os.SameFile(before, stat(t, shardPath(path, "prov"))), "a change must replace the shard")
	assert.Len(t, s.List(Filter{}), 2)
}

func TestUpsertTreatsReorderedInterfacesAsUnchanged(t *testing.T) {
	s, _ := openTemp(t)
	cfg := node("worker-1", "vm-1", "fa:16:3e:00:00:01", "fa:16:3e:00:00:02", "fa:16:3e:00:00:03")
	_, err := s.Upsert("prov", cfg)
	require.NoError(t, err)

	reordered := cfg
	reordered.Interfaces = []viola.Interface{cfg.Interfaces[2], cfg.Interfaces[0], cfg.Interfaces[1]}
	changed, err := s.Upsert("prov", reordered)

	require.NoError(t, err)
	assert.Equal(t, 0, changed)
}

func TestUpsertRejectsBadInputAndStoresNothing(t *testing.T) {
	badMAC := node("worker-9", "vm-9", "fa:16:3e:00:00:09")
	badMAC.Interfaces[0].MACAddress = "not-a-mac"
	noName := node("", "vm-8", "fa:16:3e:00:00:08")
	noInterfaces := node("worker-7", "vm-7")
	good := node("worker-1", "vm-1", "fa:16:3e:00:00:01")

	tests := []struct {
		name       string
		providerID string
		configs    []viola.NodeConfig
		wantInErr  []string
	}{
		{"missing provider", "", []viola.NodeConfig{good}, []string{"providerId"}},
		{"provider not UTF-8", "prov-\xff", []viola.NodeConfig{good}, []string{"providerId", "UTF-8"}},
		{"bad mac", "prov", []viola.NodeConfig{badMAC}, []string{"macAddress", "worker-9"}},
		{"missing node name", "prov", []viola.NodeConfig{noName}, []string{"nodeName"}},
		{"no interfaces", "prov", []viola.NodeConfig{noInterfaces}, []string{"interfaces", "worker-7"}},
		{"node twice", "prov", []viola.NodeConfig{good, good}, []string{"worker-1", "more than once"}},
		{"one bad in batch", "prov", []viola.NodeConfig{good, badMAC}, []string{"worker-9"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, path := openTemp(t)

			changed, err := s.Upsert(tt.providerID, tt.configs...)

			require.Error(t, err)
			for _, want := range tt.wantInErr {
				assert.Contains(t, err.Error(), want)
			}
			assert.Equal(t, 0, changed)
			assert.Empty(t, s.List(Filter{}))
			assert.Empty(t, dirNames(t, shardDirFor(path)), "a rejected batch must not write a shard")
		})
	}
}

func TestFailedWriteLeavesStoreUnchanged(t *testing.T) {
	s, path := openTemp(t)
	_, err := s.Upsert("prov", node("worker-1", "vm-1", "fa:16:3e:00:00:01"))
	require.NoError(t, err)
	// A non-empty directory at the shard's path makes the rename (and the
	// removal of the last record) fail, even for root, which ignores
	// permission bits.
	shard := shardPath(path, "prov")
	require.NoError(t, os.Remove(shard))
	require.NoError(t, os.MkdirAll(filepath.Join(shard, "child"), 0o755))

	_, err = s.Upsert("prov", node("worker-2", "vm-2", "fa:16:3e:00:00:02"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), shard)
	changedMTU := node("worker-1", "vm-1", "fa:16:3e:00:00:01")
	changedMTU.Interfaces[0].MTU = 9000
	_, err = s.Upsert("prov", changedMTU)
	require.Error(t, err)
	_, err = s.Delete("prov", "worker-1")
	require.Error(t, err)

	assert.Len(t, s.List(Filter{}), 1)
	rec, ok := s.Get("prov", "worker-1")
	assert.True(t, ok, "failed delete must keep the record")
	assert.Equal(t, 1450, rec.Config.Interfaces[0].MTU, "failed change must not be visible")
	_, ok = s.Get("prov", "worker-2")
	assert.False(t, ok, "failed upsert must not be visible")
	assert.Equal(t, []string{filepath.Base(shard)}, dirNames(t, shardDirFor(path)), "no temporary file may be left behind")
}

func TestDelete(t *testing.T) {
	s, _ := openTemp(t)
	_, err := s.Upsert("prov", node("worker-1", "vm-1", "fa:16:3e:00:00:01"), node("worker-2", "vm-2", "fa:16:3e:00:00:02"))
	require.NoError(t, err)

	removed, err := s.Delete("prov", "worker-1")
	require.NoError(t, err)
	assert.True(t, removed)
	removed, err = s.Delete("prov", "worker-1")
	require.NoError(t, err)
	assert.False(t, removed)
	removed, err = s.Delete("other-prov", "worker-2")
	require.NoError(t, err)
	assert.False(t, removed, "delete must match the provider too")

	reopened := reopen(t, s)
	names := []string{}
	for _, rec := range reopened.List(Filter{}) {
		names = append(names, rec.NodeName)
	}
	assert.Equal(t, []string{"worker-2"}, names)
	// The index must follow the shifted records after a delete.
	rec, ok := s.Get("prov", "worker-2")
	require.True(t, ok)
	assert.Equal(t, "vm-2", rec.InstanceID)
}

func TestListFiltersAndOrder(t *testing.T) {
	s, _ := openTemp(t)
	_, err := s.Upsert("prov-b", node("worker-1", "vm-b1", "fa:16:3e:00:00:01"))
	require.NoError(t, err)
	_, err = s.Upsert("prov-a", node("worker-2", "vm-a2", "fa:16:3e:00:00:02"), node("worker-1", "vm-a1", "fa:16:3e:00:00:03"))
	require.NoError(t, err)

	keys := func(recs []Record) []string {
		out := []string{}
		for _, r := range recs {
			out = append(out, r.ProviderID+"/"+r.NodeName)
		}
		return out
	}
	assert.Equal(t, []string{"prov-a/worker-1", "prov-a/worker-2", "prov-b/worker-1"}, keys(s.List(Filter{})))
	assert.Equal(t, []string{"prov-a/worker-1", "prov-a/worker-2"}, keys(s.List(Filter{ProviderID: "prov-a"})))
	assert.Equal(t, []string{"prov-a/worker-1", "prov-b/worker-1"}, keys(s.List(Filter{NodeName: "worker-1"})))
	assert.Equal(t, []string{"prov-a/worker-2"}, keys(s.List(Filter{InstanceID: "vm-a2"})))
	assert.Equal(t, []string{"prov-a/worker-2"}, keys(s.List(Filter{ProviderID: "prov-a", NodeName: "worker-2"})))
	assert.Equal(t, []string{}, keys(s.List(Filter{ProviderID: "prov-a", NodeName: "worker-9"})))
	assert.Equal(t, []string{}, keys(s.List(Filter{ProviderID: "prov-a", NodeName: "worker-1", InstanceID: "vm-b1"})))
	// Providers sorting before, between and after the stored ones.
	for _, missing := range []string{"prov-", "prov-a0", "prov-c", "prov"} {
		assert.Equal(t, []string{}, keys(s.List(Filter{ProviderID: missing})), missing)
	}
	assert.Equal(t, []string{"prov-b/worker-1"}, keys(s.List(Filter{ProviderID: "prov-b", NodeName: "worker-1", InstanceID: "vm-b1"})))
	assert.Equal(t, []string{}, keys(s.List(Filter{ProviderID: "prov-b", InstanceID: "vm-a2"})))
	assert.NotNil(t, s.List(Filter{ProviderID: "nobody"}))
}

func TestRecordsAreIsolatedFromCallers(t *testing.T) {
	s, _ := openTemp(t)
	cfg := node("worker-1", "vm-1", "fa:16:3e:00:00:01")
	_, err := s.Upsert("prov", cfg)
	require.NoError(t, err)

	cfg.Interfaces[0].MTU = 1
	s.List(Filter{})[0].Config.Interfaces[0].MTU = 2
	got, _ := s.Get("prov", "worker-1")
	got.Config.Interfaces[0].MTU = 3

	again, _ := s.Get("prov", "worker-1")
	assert.Equal(t, 1450, again.Config.Interfaces[0].MTU)
}

func TestNilStoreIsADisabledInventory(t *testing.T) {
	var s *Store

	changed, err := s.Upsert("prov", node("worker-1", "vm-1", "fa:16:3e:00:00:01"))
	assert.NoError(t, err)
	assert.Equal(t, 0, changed)
	removed, err := s.Delete("prov", "worker-1")
	assert.NoError(t, err)
	assert.False(t, removed)
	n, err := s.DeleteNodes("prov", "worker-1")
	assert.NoError(t, err)
	assert.Zero(t, n)
	n, err = s.Prune("prov", func(Record) bool { return false })
	assert.NoError(t, err)
	assert.Zero(t, n)
	assert.Empty(t, s.Quarantined())
	_, ok := s.Get("prov", "worker-1")
	assert.False(t, ok)
	assert.Equal(t, []Record{}, s.List(Filter{}))
	assert.Empty(t, s.Path())
}

func TestOpenReadsFileOfFirstOperator(t *testing.T) {
	// The first operator wrote no version and hashed configs its own way.
	path := filepath.Join(t.TempDir(), "inventory.json")
	legacy := `{"records":[{"providerId":"prov","nodeName":"worker-1","instanceId":"vm-1",
		"config":{"nodeName":"worker-1","instanceId":"vm-1","interfaces":[
			{"id":0,"name":"multinic0","macAddress":"fa:16:3e:00:00:01","address":"10.0.0.10","cidr":"10.0.0.0/24","mtu":1450}]},
		"lastConfigHash":"hash-from-old-operator","updatedAt":"2025-12-01T10:00:00Z"}]}`
	require.NoError(t, os.WriteFile(path, []byte(legacy), 0o600))

	s, err := Open(path)
	require.NoError(t, err)

	rec, ok := s.Get("prov", "worker-1")
	require.True(t, ok)
	assert.Equal(t, "fa:16:3e:00:00:01", rec.Config.Interfaces[0].MACAddress)
	assert.Equal(t, ConfigHash(rec.Config), rec.LastConfigHash)
	assert.Equal(t, time.Date(2025, 12, 1, 10, 0, 0, 0, time.UTC), rec.UpdatedAt)
}

func TestOpenTreatsEmptyFileAsEmptyInventory(t *testing.T) {
	path := filepath.Join(t.TempDir(), "inventory.json")
	require.NoError(t, os.WriteFile(path, []byte("\n"), 0o600))

	s, err := Open(path)

	require.NoError(t, err)
	assert.Empty(t, s.List(Filter{}))
}

func TestOpenRejectsCorruptFile(t *testing.T) {
	tests := map[string]string{
		"not json":          `{"records":[`,
		"wrong shape":       `{"records":{"a":1}}`,
		"missing node name": `{"version":1,"records":[{"providerId":"prov"}]}`,
		"missing provider":  `{"version":1,"records":[{"nodeName":"worker-1"}]}`,
		"duplicate record":  `{"version":1,"records":[{"providerId":"p","nodeName":"n"},{"providerId":"p","nodeName":"n"}]}`,
		"negative version":  `{"version":-1,"records":[]}`,
	}
	for name, content := range tests {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "inventory.json")
			require.NoError(t, os.WriteFile(path, []byte(content), 0o600))

			_, err := Open(path)

			require.ErrorIs(t, err, ErrCorrupt)
			assert.Contains(t, err.Error(), path)
			data, readErr := os.ReadFile(path)
			require.NoError(t, readErr)
			assert.Equal(t, content, string(data), "a corrupt file must be left for the operator to inspect")
			assert.Equal(t, []string{"inventory.json", "inventory.json.lock"}, dirNames(t, filepath.Dir(path)), "without QuarantineCorrupt nothing is moved")
		})
	}
}

func TestOpenRejectsFileFromNewerOperator(t *testing.T) {
	path := filepath.Join(t.TempDir(), "inventory.json")
	require.NoError(t, os.WriteFile(path, []byte(`{"version":3,"records":[]}`), 0o600))

	_, err := Open(path)

	require.Error(t, err)
	assert.NotErrorIs(t, err, ErrCorrupt)
	assert.Contains(t, err.Error(), "version 3")
	assert.Contains(t, err.Error(), "newer operator")
}

func TestOpenRemovesTempFilesLeftByACrash(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "inventory.json")
	for _, name := range []string{".inventory.json8437261", ".inventory.json.bak", "notes.txt"} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte("x"), 0o600))
	}
	shards := shardDirFor(path)
	require.NoError(t, os.Mkdir(shards, 0o700))
	shard := shardFileName("prov")
	for _, name := range []string{"." + shard + "4711", ".notes.txt99", "." + shard} {
		require.NoError(t, os.WriteFile(filepath.Join(shards, name), []byte("x"), 0o600))
	}

	_, err := Open(path)
	require.NoError(t, err)

	assert.ElementsMatch(t, []string{".inventory.json.bak", "inventory.json", "inventory.json.d", "inventory.json.lock", "notes.txt"}, dirNames(t, dir))
	assert.ElementsMatch(t, []string{".notes.txt99", "." + shard}, dirNames(t, shards))
}

func TestConcurrentUpsertsAndReads(t *testing.T) {
	s, _ := openTemp(t)
	const writers = 8
	const perWriter = 5

	var wg sync.WaitGroup
	errs := make(chan error, writers*perWriter)
	for w := range writers {
		wg.Go(func() {
			for i := range perWriter {
				name := fmt.Sprintf("worker-%d-%d", w, i)
				mac := fmt.Sprintf("fa:16:3e:00:%02x:%02x", w, i)
				if _, err := s.Upsert("prov", node(name, "vm-"+name, mac)); err != nil {
					errs <- err
				}
			}
		})
		wg.Go(func() {
			for range perWriter {
				for _, rec := range s.List(Filter{ProviderID: "prov"}) {
					if rec.LastConfigHash != ConfigHash(rec.Config) {
						errs <- fmt.Errorf("record %s read with a hash that does not match its config", rec.NodeName)
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	assert.Len(t, s.List(Filter{}), writers*perWriter)
	reopened := reopen(t, s)
	assert.Len(t, reopened.List(Filter{}), writers*perWriter, "every concurrent change must reach the file")
}

func TestConfigHashSeesEveryField(t *testing.T) {
	base := node("worker-1", "vm-1", "fa:16:3e:00:00:01")
	baseHash := ConfigHash(base)
	assert.Equal(t, baseHash, ConfigHash(node("worker-1", "vm-1", "fa:16:3e:00:00:01")), "hash must be deterministic")
	assert.Len(t, baseHash, 64)

	changes := map[string]func(*viola.NodeConfig){
		"nodeName":   func(c *viola.NodeConfig) { c.NodeName = "worker-2" },
		"instanceId": func(c *viola.NodeConfig) { c.InstanceID = "vm-2" },
		"id":         func(c *viola.NodeConfig) { c.Interfaces[0].ID = 1 },
		"name":       func(c *viola.NodeConfig) { c.Interfaces[0].Name = "multinic1" },
		"portId":     func(c *viola.NodeConfig) { c.Interfaces[0].PortID = "other" },
		"macAddress": func(c *viola.NodeConfig) { c.Interfaces[0].MACAddress = "fa:16:3e:00:00:02" },
		"address":    func(c *viola.NodeConfig) { c.Interfaces[0].Address = "10.0.0.99" },
		"cidr":       func(c *viola.NodeConfig) { c.Interfaces[0].CIDR = "10.0.0.0/16" },
		"mtu":        func(c *viola.NodeConfig) { c.Interfaces[0].MTU = 1500 },
	}
	for field, change := range changes {
		t.Run(field, func(t *testing.T) {
			cfg := node("worker-1", "vm-1", "fa:16:3e:00:00:01")
			change(&cfg)
			assert.NotEqual(t, baseHash, ConfigHash(cfg))
		})
	}
}

func TestConfigHashDoesNotReorderCallersInterfaces(t *testing.T) {
	cfg := node("worker-1", "vm-1", "fa:16:3e:00:00:01", "fa:16:3e:00:00:02")
	cfg.Interfaces[0], cfg.Interfaces[1] = cfg.Interfaces[1], cfg.Interfaces[0]

	ConfigHash(cfg)

	assert.Equal(t, 1, cfg.Interfaces[0].ID)
}

func TestStoreNotMadeByOpenFailsWithoutPanicking(t *testing.T) {
	s := &Store{}

	assert.Empty(t, s.List(Filter{}))
	_, ok := s.Get("prov", "worker-1")
	assert.False(t, ok)
	_, err := s.Upsert("prov", node("worker-1", "vm-1", "fa:16:3e:00:00:01"))
	assert.ErrorContains(t, err, "inventory.Open")
	_, err = s.Delete("prov", "worker-1")
	assert.ErrorContains(t, err, "inventory.Open")
	_, err = s.DeleteNodes("prov", "worker-1")
	assert.ErrorContains(t, err, "inventory.Open")
	_, err = s.Prune("prov", func(Record) bool { return false })
	assert.ErrorContains(t, err, "inventory.Open")
	assert.Empty(t, s.List(Filter{}))
	assert.Equal(t, http.StatusOK, serve(NewHandler(s), http.MethodGet, "/v1/inventory/node-configs").Code)
}

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	names := []string{}
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func TestQuarantineCorruptMovesTheFileAsideAndStartsEmpty(t *testing.T) {
	clk := newClock()
	dir := t.TempDir()
	path := filepath.Join(dir, "inventory.json")
	const corrupt = `{"version":1,"records":[{"providerId":"prov","nodeName":`
	require.NoError(t, os.WriteFile(path, []byte(corrupt), 0o600))

	s, err := Open(path, QuarantineCorrupt(), WithClock(clk.Now))

	require.NoError(t, err)
	want := path + ".corrupt-20260102T030405.000000000Z"
	assert.Equal(t, []string{want}, s.Quarantined())
	kept, err := os.ReadFile(want)
	require.NoError(t, err)
	assert.Equal(t, corrupt, string(kept), "the bad file must be kept byte for byte") //nolint:testifylint // not JSON, and byte for byte is the point
	assert.Empty(t, s.List(Filter{}))
	fresh, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.JSONEq(t, `{"version":2,"shards":"inventory.json.d"}`, string(fresh), "a valid marker must replace it at once")
	assert.Equal(t, os.FileMode(0o600), stat(t, path).Mode().Perm())

	_, err = s.Upsert("prov", node("worker-1", "vm-1", "fa:16:3e:00:00:01"))
	require.NoError(t, err)
	reopened := reopen(t, s, QuarantineCorrupt())
	assert.Empty(t, reopened.Quarantined(), "a healthy file is not moved")
	assert.Len(t, reopened.List(Filter{}), 1)
}

func TestQuarantineNeverOverwritesAnEarlierQuarantinedFile(t *testing.T) {
	clk := newClock() // fixed: both quarantines get the same timestamp
	path := filepath.Join(t.TempDir(), "inventory.json")

	var moved []string
	for _, content := range []string{"first garbage", "second garbage"} {
		require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
		s, err := Open(path, QuarantineCorrupt(), WithClock(clk.Now))
		require.NoError(t, err)
		moved = append(moved, s.Quarantined()...)
		require.NoError(t, s.Close())
	}

	require.NotEqual(t, moved[0], moved[1])
	assert.Equal(t, moved[0]+"-1", moved[1])
	for i, content := range []string{"first garbage", "second garbage"} {
		data, err := os.ReadFile(moved[i])
		require.NoError(t, err)
		assert.Equal(t, content, string(data))
	}
}

func TestQuarantineLeavesFilesThatAreNotCorruptInPlace(t *testing.T) {
	t.Run("newer version", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "inventory.json")
		require.NoError(t, os.WriteFile(path, []byte(`{"version":3,"records":[]}`), 0o600))

		_, err := Open(path, QuarantineCorrupt())

		require.ErrorContains(t, err, "version 3")
		assert.Equal(t, []string{"inventory.json", "inventory.json.lock"}, dirNames(t, dir))
	})
	t.Run("unreadable", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "inventory.json")
		// A directory cannot be read as a file, even by root.
		require.NoError(t, os.Mkdir(path, 0o755))

		_, err := Open(path, QuarantineCorrupt())

		require.ErrorContains(t, err, path)
		assert.NotErrorIs(t, err, ErrCorrupt)
		assert.Equal(t, []string{"inventory.json", "inventory.json.lock"}, dirNames(t, dir))
		assert.True(t, stat(t, path).IsDir())
	})
}

func TestFilesAreStableAndPrivate(t *testing.T) {
	a := node("worker-a", "vm-a", "fa:16:3e:00:00:01")
	b := node("worker-b", "vm-b", "fa:16:3e:00:00:02")
	c := node("worker-c", "vm-c", "fa:16:3e:00:00:03", "fa:16:3e:00:00:04")

	s1, path1 := openTemp(t, WithClock(newClock().Now))
	_, err := s1.Upsert("prov-2", c)
	require.NoError(t, err)
	_, err = s1.Upsert("prov-1", b, a)
	require.NoError(t, err)

	dir := t.TempDir()
	path2 := filepath.Join(dir, "inventory.json")
	// A file left world-readable by an older tool must come back 0600.
	require.NoError(t, os.WriteFile(path2, []byte(`{"version":1,"records":[]}`), 0o644))
	s2, err := Open(path2, WithClock(newClock().Now))
	require.NoError(t, err)
	_, err = s2.Upsert("prov-1", a)
	require.NoError(t, err)
	_, err = s2.Upsert("prov-2", c)
	require.NoError(t, err)
	_, err = s2.Upsert("prov-1", b)
	require.NoError(t, err)

	for _, p := range []string{"", "prov-1", "prov-2"} {
		f1, f2 := path1, path2
		if p != "" {
			f1, f2 = shardPath(path1, p), shardPath(path2, p)
		}
		data1, err := os.ReadFile(f1)
		require.NoError(t, err)
		data2, err := os.ReadFile(f2)
		require.NoError(t, err)
		assert.Equal(t, string(data1), string(data2), "the same records must give the same bytes, whatever the order of writes")
		assert.Equal(t, os.FileMode(0o600), stat(t, f1).Mode().Perm())
		assert.Equal(t, os.FileMode(0o600), stat(t, f2).Mode().Perm())
	}
	data, err := os.ReadFile(shardPath(path1, "prov-1"))
	require.NoError(t, err)
	assert.True(t, bytes.HasPrefix(data, []byte(`{"version":2,"providerId":"prov-1","records":[{"providerId":"prov-1","nodeName":"worker-a"`)), string(data))
}

// prunable holds worker-1..3 under prov-a and worker-1 under prov-b.
func prunable(t *testing.T) (*Store, string) {
	t.Helper()
	s, path := openTemp(t)
	_, err := s.Upsert("prov-a",
		node("worker-1", "vm-a1", "fa:16:3e:00:00:01"),
		node("worker-2", "vm-a2", "fa:16:3e:00:00:02"),
		node("worker-3", "vm-a3", "fa:16:3e:00:00:03"))
	require.NoError(t, err)
	_, err = s.Upsert("prov-b", node("worker-1", "vm-b1", "fa:16:3e:00:00:04"))
	require.NoError(t, err)
	return s, path
}

func keysOf(recs []Record) []string {
	out := []string{}
	for _, r := range recs {
		out = append(out, r.ProviderID+"/"+r.NodeName)
	}
	return out
}

func TestPruneRemovesUnwantedRecordsOfOneProvider(t *testing.T) {
	s, _ := prunable(t)
	var seen []string

	removed, err := s.Prune("prov-a", func(r Record) bool {
		seen = append(seen, r.ProviderID+"/"+r.NodeName)
		r.Config.Interfaces[0].MTU = 1 // must not reach the store
		return r.NodeName == "worker-2"
	})

	require.NoError(t, err)
	assert.Equal(t, 2, removed)
	assert.Equal(t, []string{"prov-a/worker-1", "prov-a/worker-2", "prov-a/worker-3"}, seen, "keep sees exactly the provider's records")
	assert.Equal(t, []string{"prov-a/worker-2", "prov-b/worker-1"}, keysOf(s.List(Filter{})))
	rec, _ := s.Get("prov-a", "worker-2")
	assert.Equal(t, 1450, rec.Config.Interfaces[0].MTU)
	reopened := reopen(t, s)
	assert.Equal(t, s.List(Filter{}), reopened.List(Filter{}))
}

func TestPruneThatKeepsEverythingDoesNotWrite(t *testing.T) {
	s, path := prunable(t)
	before := stat(t, shardPath(path, "prov-a"))

	removed, err := s.Prune("prov-a", func(Record) bool { return true })
	require.NoError(t, err)
	assert.Zero(t, removed)
	removed, err = s.Prune("prov-nobody", func(Record) bool { return false })
	require.NoError(t, err)
	assert.Zero(t, removed)

	assert.True(t, os.SameFile(before, stat(t, shardPath(path, "prov-a"))))
	assert.Len(t, s.List(Filter{}), 4)
}

func TestPruneRejectsMissingArguments(t *testing.T) {
	s, _ := prunable(t)

	_, err := s.Prune("prov-a", nil)
	assert.ErrorContains(t, err, `"prov-a"`)
	_, err = s.Prune("", func(Record) bool { return false })
	assert.ErrorContains(t, err, "providerId")

	assert.Len(t, s.List(Filter{}), 4)
}

func TestFailedPruneOrBatchDeleteRemovesNothing(t *testing.T) {
	s, path := prunable(t)
	shard := shardPath(path, "prov-a")
	require.NoError(t, os.Remove(shard))
	require.NoError(t, os.MkdirAll(filepath.Join(shard, "child"), 0o755))

	_, err := s.Prune("prov-a", func(r Record) bool { return r.NodeName == "worker-2" })
	require.ErrorContains(t, err, shard)
	_, err = s.DeleteNodes("prov-a", "worker-1", "worker-3")
	require.ErrorContains(t, err, shard)

	assert.Len(t, s.List(Filter{}), 4, "a failed write must remove nothing, not part of the batch")
}

func TestDeleteNodesRemovesABatchInOneCall(t *testing.T) {
	s, _ := prunable(t)

	removed, err := s.DeleteNodes("prov-a", "worker-1", "worker-3", "worker-3", "worker-9")

	require.NoError(t, err)
	assert.Equal(t, 2, removed, "a repeated or missing name counts once or not at all")
	assert.Equal(t, []string{"prov-a/worker-2", "prov-b/worker-1"}, keysOf(s.List(Filter{})))
	reopened := reopen(t, s)
	assert.Equal(t, []string{"prov-a/worker-2", "prov-b/worker-1"}, keysOf(reopened.List(Filter{})))
	removed, err = reopened.DeleteNodes("prov-a")
	require.NoError(t, err)
	assert.Zero(t, removed)
}

// TestReadersSeeWholeBatches lists, gets and serves over HTTP while a writer
// replaces every record once per generation: each read must see one whole
// generation, never part of a batch, and never an older one than it saw
// before. Run under -race it also checks readers need no lock.
func TestReadersSeeWholeBatches(t *testing.T) {
	s, _ := openTemp(t)
	_, err := s.Upsert("prov", crashBatch(0)...)
	require.NoError(t, err)
	h := NewHandler(s)
	const generations = 30
	const readers = 4

	done := make(chan struct{})
	errs := make(chan error, readers+1)
	var wg sync.WaitGroup
	wg.Go(func() {
		defer close(done)
		for gen := 1; gen <= generations; gen++ {
			if _, err := s.Upsert("prov", crashBatch(gen)...); err != nil {
				errs <- err
				return
			}
		}
	})
	for r := range readers {
		wg.Go(func() {
			last := 0
			for finished := false; !finished; {
				select {
				case <-done:
					finished = true // one more round after the last write
				default:
				}
				var recs []Record
				if r%2 == 0 {
					recs = s.List(Filter{ProviderID: "prov"})
				} else {
					rec := serve(h, http.MethodGet, "/v1/inventory/node-configs?providerId=prov")
					if err := json.Unmarshal(rec.Body.Bytes(), &recs); err != nil {
						errs <- fmt.Errorf("reader %d: %w", r, err)
						return
					}
				}
				gen, err := generationOf(recs)
				if err == nil && gen < last {
					err = fmt.Errorf("generation went back from %d to %d", last, gen)
				}
				if err == nil {
					one, ok := s.Get("prov", "worker-050")
					var g int
					if g, err = recordGeneration(one); err == nil && (!ok || g < gen) {
						err = fmt.Errorf("Get after a listing of generation %d returned generation %d (found=%v)", gen, g, ok)
					}
				}
				if err != nil {
					errs <- fmt.Errorf("reader %d: %w", r, err)
					return
				}
				last = gen
			}
			if last != generations {
				errs <- fmt.Errorf("reader %d ended at generation %d, want %d", r, last, generations)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// The record says where the node name came from, and keeps it across a
// reopen; a change of that note alone rewrites the record without moving
// UpdatedAt, which dates the config.
func TestUpsertKeepsTheNodeNameSource(t *testing.T) {
	clock := newClock()
	s, path := openTemp(t, WithClock(clock.Now))
	cfg := node("worker-1", "vm-1", "fa:16:3e:00:00:01")
	cfg.NodeNameSource = "metadata"
	_, err := s.Upsert("prov", cfg)
	require.NoError(t, err)
	first, _ := s.Get("prov", "worker-1")
	assert.Equal(t, "metadata", first.NodeNameSource)
	assert.Empty(t, first.Config.NodeNameSource, "the config is what was sent, the note is the record's")

	clock.Advance(time.Minute)
	cfg.NodeNameSource = "hostname"
	n, err := s.Upsert("prov", cfg)
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	second, _ := s.Get("prov", "worker-1")
	assert.Equal(t, "hostname", second.NodeNameSource)
	assert.Equal(t, first.UpdatedAt, second.UpdatedAt)
	n, err = s.Upsert("prov", cfg)
	require.NoError(t, err)
	assert.Zero(t, n, "nothing changed")

	require.NoError(t, s.Close())
	reopened, err := Open(path)
	require.NoError(t, err)
	got, ok := reopened.Get("prov", "worker-1")
	require.True(t, ok)
	assert.Equal(t, "hostname", got.NodeNameSource)
}
