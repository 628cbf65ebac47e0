package inventory

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// holdCommit starts a Prune whose keep func blocks, so the store stays in
// the middle of a commit until release is called; writers that arrive
// meanwhile queue up. release waits for the Prune to return.
func holdCommit(t *testing.T, s *Store, providerID string) (release func()) {
	t.Helper()
	entered, unblock, done := make(chan struct{}), make(chan struct{}), make(chan error, 1)
	go func() {
		_, err := s.Prune(providerID, func(Record) bool {
			close(entered)
			<-unblock
			return true
		})
		done <- err
	}()
	select {
	case <-entered:
	case <-time.After(30 * time.Second):
		t.Fatal("the holding Prune never ran its keep func")
	}
	return func() {
		close(unblock)
		require.NoError(t, <-done)
	}
}

// waitQueued waits until n changes wait for the commit in progress.
func waitQueued(t *testing.T, s *Store, n int) {
	t.Helper()
	require.Eventually(t, func() bool {
		s.queueMu.Lock()
		defer s.queueMu.Unlock()
		return len(s.queue) == n
	}, 30*time.Second, time.Millisecond)
}

type upsertResult struct {
	n   int
	err error
}

// upsertAsync upserts one node under providerID on its own goroutine.
func upsertAsync(s *Store, providerID, nodeName string) <-chan upsertResult {
	out := make(chan upsertResult, 1)
	go func() {
		n, err := s.Upsert(providerID, node(nodeName, "vm-"+nodeName, "fa:16:3e:00:00:01"))
		out <- upsertResult{n, err}
	}()
	return out
}

// Writers that arrive while a write is in flight share the next one, and
// each returns only once its record is in the file.
func TestConcurrentWritersShareOneWrite(t *testing.T) {
	s, path := openTemp(t)
	_, err := s.Upsert("held", node("worker-0", "vm-0", "fa:16:3e:00:00:00"))
	require.NoError(t, err)
	before := s.WriteStats()

	release := holdCommit(t, s, "held")
	var results []<-chan upsertResult
	for i := range 3 {
		results = append(results, upsertAsync(s, fmt.Sprintf("prov-%d", i), "worker-1"))
	}
	waitQueued(t, s, 3)
	release()
	for i, r := range results {
		got := <-r
		require.NoError(t, got.err, "writer %d", i)
		assert.Equal(t, 1, got.n, "writer %d", i)
		// Returned, so durable: the file already holds the record.
		recs, err := ReadFile(path)
		require.NoError(t, err)
		assert.Contains(t, providersOf(recs), fmt.Sprintf("prov-%d", i))
	}
	after := s.WriteStats()
	assert.Equal(t, int64(1), after.Files-before.Files, "three writers, one write (the holding Prune removed nothing)")
	assert.Equal(t, stat(t, path).Size(), after.Bytes-before.Bytes)
	assert.Len(t, s.List(Filter{}), 4)
}

// A failed write fails every change of its batch and publishes none; the
// next write starts from the state on disk.
func TestFailedSharedWriteFailsEveryWriter(t *testing.T) {
	s, path := openTemp(t)
	_, err := s.Upsert("held", node("worker-0", "vm-0", "fa:16:3e:00:00:00"))
	require.NoError(t, err)

	release := holdCommit(t, s, "held")
	a, b := upsertAsync(s, "prov-a", "worker-1"), upsertAsync(s, "prov-b", "worker-1")
	waitQueued(t, s, 2)
	require.NoError(t, os.RemoveAll(filepath.Dir(path))) // the volume went away
	release()
	for _, r := range []<-chan upsertResult{a, b} {
		got := <-r
		require.Error(t, got.err)
		assert.Zero(t, got.n)
	}
	assert.Equal(t, []string{"held"}, providersOf(s.List(Filter{})), "nothing of the failed batch is visible")

	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	n, err := s.Upsert("prov-a", node("worker-1", "vm-worker-1", "fa:16:3e:00:00:01"))
	require.NoError(t, err)
	assert.Equal(t, 1, n, "the failed record counts as new again")
	recs, err := ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, []string{"held", "prov-a"}, providersOf(recs))
}

// A Prune whose keep func panics fails alone, even when another writer's
// goroutine commits it together with other changes.
func TestPanickingKeepFailsOnlyItsPrune(t *testing.T) {
	s, _ := openTemp(t)
	_, err := s.Upsert("prov", node("worker-0", "vm-0", "fa:16:3e:00:00:00"))
	require.NoError(t, err)

	release := holdCommit(t, s, "prov")
	pruned := make(chan error, 1)
	go func() {
		_, err := s.Prune("prov", func(Record) bool { panic("keep func bug") })
		pruned <- err
	}()
	waitQueued(t, s, 1)
	other := upsertAsync(s, "other", "worker-1")
	waitQueued(t, s, 2)
	release()
	require.ErrorContains(t, <-pruned, "keep func bug")
	got := <-other
	require.NoError(t, got.err)
	assert.Equal(t, 1, got.n)
	assert.Equal(t, []string{"other", "prov"}, providersOf(s.List(Filter{})))
}

// The file is written from per-provider pieces; it must be exactly what
// encoding the whole inventory at once gives.
func TestFileIsTheWholeInventoryEncoded(t *testing.T) {
	s, path := openTemp(t)
	for _, p := range []string{"b", "a", "c"} {
		_, err := s.Upsert(p, node("worker-2", "vm-2", "fa:16:3e:00:00:02"), node("worker-1", "vm-1", "fa:16:3e:00:00:01"))
		require.NoError(t, err)
	}
	_, err := s.DeleteNodes("c", "worker-1", "worker-2")
	require.NoError(t, err)
	want, err := json.Marshal(fileContent{Version: fileVersion, Records: s.List(Filter{})})
	require.NoError(t, err)
	got, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, string(want)+"\n", string(got))
}

func providersOf(recs []Record) []string {
	var out []string
	for _, r := range recs {
		if len(out) == 0 || out[len(out)-1] != r.ProviderID {
			out = append(out, r.ProviderID)
		}
	}
	return out
}

// PruneNodes decides by instance ID and node name, within one provider, in
// one write, and refuses a nil keep like Prune.
func TestPruneNodes(t *testing.T) {
	s, path := openTemp(t)
	_, err := s.Upsert("prov", node("worker-1", "vm-1", "fa:16:3e:00:00:01"), node("worker-2", "vm-2", "fa:16:3e:00:00:02"),
		node("worker-3", "vm-3", "fa:16:3e:00:00:03"))
	require.NoError(t, err)
	_, err = s.Upsert("other", node("worker-1", "vm-1", "fa:16:3e:00:00:01"))
	require.NoError(t, err)
	before := s.WriteStats()

	var seen []string
	n, err := s.PruneNodes("prov", func(instanceID, nodeName string) bool {
		seen = append(seen, instanceID+"/"+nodeName)
		return instanceID != "vm-2" && nodeName != "worker-3"
	})
	require.NoError(t, err)
	assert.Equal(t, 2, n)
	assert.Equal(t, []string{"vm-1/worker-1", "vm-2/worker-2", "vm-3/worker-3"}, seen, "only the provider's records")
	assert.Equal(t, int64(1), s.WriteStats().Files-before.Files)
	recs, err := ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, []string{"other", "prov"}, providersOf(recs))
	assert.Len(t, recs, 2)

	n, err = s.PruneNodes("prov", func(string, string) bool { return true })
	require.NoError(t, err)
	assert.Zero(t, n)
	assert.Equal(t, int64(1), s.WriteStats().Files-before.Files, "nothing pruned, nothing written")
	_, err = s.PruneNodes("prov", nil)
	assert.ErrorContains(t, err, "keep func is nil")
}
