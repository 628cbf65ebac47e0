package inventory

import (
	"encoding/json"
	"fmt"
	"os"
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

// waitQueued waits until n changes of provider "prov", the one these tests
// write, wait for the commit in progress.
func waitQueued(t *testing.T, s *Store, n int) {
	t.Helper()
	require.Eventually(t, func() bool {
		s.lanesMu.Lock()
		l := s.lanes["prov"]
		s.lanesMu.Unlock()
		if l == nil {
			return false
		}
		l.queueMu.Lock()
		defer l.queueMu.Unlock()
		return len(l.queue) == n
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

// Writers of one key that arrive while its shard is being written share the
// next write, and each returns only once its record is on disk.
func TestConcurrentWritersShareOneWrite(t *testing.T) {
	s, path := openTemp(t)
	_, err := s.Upsert("prov", node("worker-0", "vm-0", "fa:16:3e:00:00:00"))
	require.NoError(t, err)
	before := s.WriteStats()

	release := holdCommit(t, s, "prov")
	var results []<-chan upsertResult
	for i := range 3 {
		results = append(results, upsertAsync(s, "prov", fmt.Sprintf("worker-%d", i+1)))
	}
	waitQueued(t, s, 3)
	release()
	for i, r := range results {
		got := <-r
		require.NoError(t, got.err, "writer %d", i)
		assert.Equal(t, 1, got.n, "writer %d", i)
		// Returned, so durable: the shard already holds the record.
		recs, err := ReadFile(path)
		require.NoError(t, err)
		assert.Contains(t, keysOf(recs), fmt.Sprintf("prov/worker-%d", i+1))
	}
	after := s.WriteStats()
	assert.Equal(t, int64(1), after.Files-before.Files, "three writers, one write (the holding Prune removed nothing)")
	assert.Equal(t, stat(t, shardPath(path, "prov")).Size(), after.Bytes-before.Bytes)
	assert.Len(t, s.List(Filter{}), 4)
}

// Keys commit apart: a write of one key neither waits for another key's
// write in progress nor rewrites its shard.
func TestKeysCommitIndependently(t *testing.T) {
	s, path := openTemp(t)
	_, err := s.Upsert("held", node("worker-0", "vm-0", "fa:16:3e:00:00:00"))
	require.NoError(t, err)
	heldShard := stat(t, shardPath(path, "held"))
	before := s.WriteStats()

	release := holdCommit(t, s, "held")
	got := <-upsertAsync(s, "other", "worker-1") // would block forever behind "held" if keys shared a lane
	require.NoError(t, got.err)
	assert.Equal(t, 1, got.n)
	release()

	after := s.WriteStats()
	assert.Equal(t, int64(1), after.Files-before.Files)
	assert.Equal(t, stat(t, shardPath(path, "other")).Size(), after.Bytes-before.Bytes, "only the changed key's shard is written")
	assert.True(t, os.SameFile(heldShard, stat(t, shardPath(path, "held"))), "the other key's shard is not rewritten")
	assert.Empty(t, s.lanes, "lanes go when their last writer does")
}

// A failed write fails every change of its batch and publishes none; the
// next write starts from the state on disk.
func TestFailedSharedWriteFailsEveryWriter(t *testing.T) {
	s, path := openTemp(t)
	_, err := s.Upsert("prov", node("worker-0", "vm-0", "fa:16:3e:00:00:00"))
	require.NoError(t, err)

	release := holdCommit(t, s, "prov")
	a, b := upsertAsync(s, "prov", "worker-1"), upsertAsync(s, "prov", "worker-2")
	waitQueued(t, s, 2)
	dir := shardDirFor(path)
	require.NoError(t, os.RemoveAll(dir)) // the volume went away
	release()
	for _, r := range []<-chan upsertResult{a, b} {
		got := <-r
		require.ErrorContains(t, got.err, dir)
		assert.Zero(t, got.n)
	}
	assert.Equal(t, []string{"prov/worker-0"}, keysOf(s.List(Filter{})), "nothing of the failed batch is visible")

	require.NoError(t, os.MkdirAll(dir, 0o700))
	n, err := s.Upsert("prov", node("worker-1", "vm-worker-1", "fa:16:3e:00:00:01"))
	require.NoError(t, err)
	assert.Equal(t, 1, n, "the failed record counts as new again")
	recs, err := ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, []string{"prov/worker-0", "prov/worker-1"}, keysOf(recs))
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
	other := upsertAsync(s, "prov", "worker-1")
	waitQueued(t, s, 2)
	release()
	require.ErrorContains(t, <-pruned, "keep func bug")
	got := <-other
	require.NoError(t, got.err)
	assert.Equal(t, 1, got.n)
	assert.Equal(t, []string{"prov/worker-0", "prov/worker-1"}, keysOf(s.List(Filter{})))
}

// Each shard is written from the records' kept JSON; it must be exactly
// what encoding the key's records at once gives, and a key that loses its
// last record loses its file.
func TestShardIsItsKeyEncoded(t *testing.T) {
	s, path := openTemp(t)
	for _, p := range []string{"b", "a", "c"} {
		_, err := s.Upsert(p, node("worker-2", "vm-2", "fa:16:3e:00:00:02"), node("worker-1", "vm-1", "fa:16:3e:00:00:01"))
		require.NoError(t, err)
	}
	_, err := s.DeleteNodes("c", "worker-1", "worker-2")
	require.NoError(t, err)
	for _, p := range []string{"a", "b"} {
		want, err := json.Marshal(shardContent{Version: fileVersion, ProviderID: p, Records: s.List(Filter{ProviderID: p})})
		require.NoError(t, err)
		got, err := os.ReadFile(shardPath(path, p))
		require.NoError(t, err)
		assert.Equal(t, string(want)+"\n", string(got))
	}
	assert.ElementsMatch(t, []string{shardFileName("a"), shardFileName("b")}, dirNames(t, shardDirFor(path)))
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
	assert.Equal(t, []string{"other/worker-1", "prov/worker-1"}, keysOf(recs))

	n, err = s.PruneNodes("prov", func(string, string) bool { return true })
	require.NoError(t, err)
	assert.Zero(t, n)
	assert.Equal(t, int64(1), s.WriteStats().Files-before.Files, "nothing pruned, nothing written")
	_, err = s.PruneNodes("prov", nil)
	assert.ErrorContains(t, err, "keep func is nil")
}
