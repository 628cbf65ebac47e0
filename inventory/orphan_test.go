package inventory

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMarkOrphanedKeepsTheRecordAndSaysWhy(t *testing.T) {
	clk := newClock()
	s, path := openTemp(t, WithClock(clk.Now))
	_, err := s.Upsert("prov", node("worker-1", "vm-1", "fa:16:3e:00:00:01"), node("worker-2", "vm-2", "fa:16:3e:00:00:02"))
	require.NoError(t, err)
	before, _ := s.Get("prov", "worker-1")
	clk.Advance(time.Minute)

	n, err := s.MarkOrphaned("prov", OrphanMark{NodeName: "worker-1", InstanceID: "vm-1", Reason: "VM vm-1 left vmNames"}, OrphanMark{NodeName: "absent", Reason: "no record"},
		OrphanMark{NodeName: "worker-2", InstanceID: "vm-other", Reason: "replaced meanwhile"})
	require.NoError(t, err)
	assert.Equal(t, 1, n, "only an existing record of the named instance is marked")

	rec, ok := s.Get("prov", "worker-1")
	require.True(t, ok, "an orphaned record is kept: the Biz cluster still holds the config")
	require.NotNil(t, rec.Orphaned)
	assert.Equal(t, Orphan{Since: clk.Now().UTC(), Reason: "VM vm-1 left vmNames"}, *rec.Orphaned)
	assert.Equal(t, before.Config, rec.Config)
	assert.Equal(t, before.UpdatedAt, rec.UpdatedAt, "the config did not change")
	other, _ := s.Get("prov", "worker-2")
	assert.Nil(t, other.Orphaned)

	// Marking again keeps the first reason and time.
	clk.Advance(time.Minute)
	n, err = s.MarkOrphaned("prov", OrphanMark{NodeName: "worker-1", Reason: "another reason"})
	require.NoError(t, err)
	assert.Zero(t, n)
	rec, _ = s.Get("prov", "worker-1")
	assert.Equal(t, "VM vm-1 left vmNames", rec.Orphaned.Reason)

	// The mark is on disk.
	require.NoError(t, s.Close())
	reopened, err := Open(path)
	require.NoError(t, err)
	rec, _ = reopened.Get("prov", "worker-1")
	require.NotNil(t, rec.Orphaned, "the mark survives a restart")
	assert.Equal(t, "VM vm-1 left vmNames", rec.Orphaned.Reason)
}

func TestUpsertAdoptsAnOrphan(t *testing.T) {
	s, _ := openTemp(t)
	cfg := node("worker-1", "vm-1", "fa:16:3e:00:00:01")
	_, err := s.Upsert("prov", cfg)
	require.NoError(t, err)
	_, err = s.MarkOrphaned("prov", OrphanMark{NodeName: "worker-1", Reason: "left"})
	require.NoError(t, err)

	// The same config sent again: the node is a config's again.
	n, err := s.Upsert("prov", cfg)
	require.NoError(t, err)
	assert.Equal(t, 1, n, "an orphan counts as changed, so the mark goes")
	rec, _ := s.Get("prov", "worker-1")
	assert.Nil(t, rec.Orphaned)

	n, err = s.Upsert("prov", cfg)
	require.NoError(t, err)
	assert.Zero(t, n, "and then it is unchanged again")
}

func TestMarkOrphanedBoundsTheReasonAndChecksArguments(t *testing.T) {
	s, _ := openTemp(t)
	_, err := s.Upsert("prov", node("worker-1", "vm-1", "fa:16:3e:00:00:01"))
	require.NoError(t, err)
	_, err = s.MarkOrphaned("prov", OrphanMark{NodeName: "worker-1", Reason: strings.Repeat("é", 1000)})
	require.NoError(t, err)
	rec, _ := s.Get("prov", "worker-1")
	assert.LessOrEqual(t, len(rec.Orphaned.Reason), maxOrphanReason+len("…"))
	assert.True(t, strings.HasSuffix(rec.Orphaned.Reason, "é…"), "cut between characters, not inside one")

	_, err = s.MarkOrphaned("", OrphanMark{NodeName: "worker-1", Reason: "x"})
	assert.EqualError(t, err, "inventory mark orphaned: providerId is required")
	n, err := s.MarkOrphaned("unknown", OrphanMark{NodeName: "worker-1", Reason: "x"})
	require.NoError(t, err)
	assert.Zero(t, n)

	var disabled *Store
	n, err = disabled.MarkOrphaned("prov", OrphanMark{NodeName: "worker-1", Reason: "x"})
	assert.NoError(t, err)
	assert.Zero(t, n)
}

func TestOrphanedRecordsAreCopies(t *testing.T) {
	s, _ := openTemp(t)
	_, err := s.Upsert("prov", node("worker-1", "vm-1", "fa:16:3e:00:00:01"))
	require.NoError(t, err)
	_, err = s.MarkOrphaned("prov", OrphanMark{NodeName: "worker-1", Reason: "left"})
	require.NoError(t, err)
	rec, _ := s.Get("prov", "worker-1")
	rec.Orphaned.Reason = "changed by a caller"
	again := s.List(Filter{ProviderID: "prov"})
	assert.Equal(t, "left", again[0].Orphaned.Reason)
}
