// Package inventory keeps the latest node config sent to Viola for every
// (providerId, nodeName) in a JSON file and serves it over a read-only HTTP
// API, so people and tools can see what the operator last asked the Biz
// clusters to configure without access to those clusters.
//
// The file is rewritten atomically on every change, so a crash leaves either
// the old or the new content, never a torn file. Only one process may own the
// file at a time; run a single operator replica.
package inventory

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/multinic/multinic/viola"
)

// Record is the latest node config stored for one (ProviderID, NodeName).
type Record struct {
	ProviderID string           `json:"providerId"`
	NodeName   string           `json:"nodeName"`
	InstanceID string           `json:"instanceId"`
	Config     viola.NodeConfig `json:"config"`
	// LastConfigHash is ConfigHash(Config); readers compare hashes instead of
	// whole configs to tell whether a node changed.
	LastConfigHash string `json:"lastConfigHash"`
	// UpdatedAt is when Config last changed, not when it was last re-sent:
	// an upsert of an identical config leaves the record untouched.
	UpdatedAt time.Time `json:"updatedAt"`

	// encoded is the record's JSON in a file-backed store, made before the
	// record is published and never changed, so a write encodes only
	// records that changed. Copies handed out never carry it.
	encoded []byte
}

// Filter selects records; an empty field matches everything.
type Filter struct {
	ProviderID string
	NodeName   string
	InstanceID string
}

func (f Filter) matches(r *Record) bool {
	return (f.ProviderID == "" || f.ProviderID == r.ProviderID) &&
		(f.NodeName == "" || f.NodeName == r.NodeName) &&
		(f.InstanceID == "" || f.InstanceID == r.InstanceID)
}

// ErrCorrupt marks an inventory file that exists but cannot be read as an
// inventory. The caller decides whether to stop or to move the file aside.
var ErrCorrupt = errors.New("inventory file is corrupt")

// Store is the file-backed inventory. A nil *Store is a disabled inventory:
// writes do nothing and reads find nothing, so callers need no special case
// when INVENTORY_ENABLED is false. Open("") gives a Store that keeps records
// in memory only.
type Store struct {
	path string
	now  func() time.Time
	// opened tells a Store made by Open from a zero Store{}, which has no
	// state to write to; path cannot, since "" means in-memory.
	opened bool

	quarantine  bool
	quarantined string

	// Writers queue their change and commit under commitMu: whoever holds
	// it applies every queued change to the published snapshot and writes
	// the file once for all of them (group commit), so writers that arrive
	// during a write share the next one. Each still returns only after its
	// change is on disk. Readers never take a lock; they read the published
	// snapshot, which is never modified once stored.
	queueMu  sync.Mutex
	queue    []*change
	commitMu sync.Mutex
	current  atomic.Pointer[snapshot]

	fileWrites, bytesWritten atomic.Int64
}

// WriteStats counts the durable writes of a Store since Open.
type WriteStats struct {
	// Files is how many times the file was replaced.
	Files int64
	// Bytes is the content written by those replacements.
	Bytes int64
}

// WriteStats reports what the store has written to disk since Open (not
// counting the file Open may create), so write amplification is measurable.
func (s *Store) WriteStats() WriteStats {
	if s == nil {
		return WriteStats{}
	}
	return WriteStats{Files: s.fileWrites.Load(), Bytes: s.bytesWritten.Load()}
}

// Option adjusts a Store at Open.
type Option func(*Store)

// WithClock sets the source of UpdatedAt; tests use it to get exact times.
func WithClock(now func() time.Time) Option {
	return func(s *Store) { s.now = now }
}

// QuarantineCorrupt makes Open move a corrupt inventory file aside and start
// empty instead of failing with ErrCorrupt. The inventory can be rebuilt by
// the next sync, so an operator may prefer running to crash-looping; the file
// is renamed to "<path>.corrupt-<UTC time>", never deleted, so it can still be
// inspected. Quarantined reports where it went.
//
// Only ErrCorrupt triggers it. A file that cannot be read at all (permissions,
// I/O errors) or was written by a newer operator still fails Open: moving it
// would not fix the cause, and the newer file is not damaged.
func QuarantineCorrupt() Option {
	return func(s *Store) { s.quarantine = true }
}

// Open loads the inventory at path, creating the file (and its directory)
// when it does not exist yet. Creating it here rather than on the first change
// makes an unwritable path fail at startup instead of minutes later.
//
// An empty path gives an in-memory store: it behaves like a file store,
// including change detection across Upserts, but keeps nothing across
// restarts. The operator uses it when INVENTORY_ENABLED is false, so Sync
// still skips unchanged nodes. SettingsFromEnv never yields an empty path, so
// persistence cannot be turned off by a blank variable.
func Open(path string, opts ...Option) (*Store, error) {
	s := &Store{path: path, now: time.Now, opened: true}
	for _, opt := range opts {
		opt(s)
	}
	if path == "" {
		s.current.Store(emptySnapshot)
		return s, nil
	}
	removeStaleTempFiles(path)
	records, err := readFile(path)
	if errors.Is(err, ErrCorrupt) && s.quarantine {
		moved, qerr := quarantineFile(path, s.now())
		if qerr != nil {
			return nil, fmt.Errorf("%w; moving it aside failed: %w", err, qerr)
		}
		s.quarantined = moved
		err = os.ErrNotExist
	}
	switch {
	case errors.Is(err, os.ErrNotExist):
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return nil, fmt.Errorf("create inventory directory: %w", err)
		}
		snap := newSnapshot(nil)
		if _, err := writeSnapshot(path, snap); err != nil {
			if s.quarantined != "" {
				// No Store is returned, so the error is the only place
				// the caller can learn where the corrupt file went.
				return nil, fmt.Errorf("corrupt inventory file moved to %s, but starting empty failed: %w", s.quarantined, err)
			}
			return nil, err
		}
		s.current.Store(snap)
	case err != nil:
		return nil, err
	default:
		for i := range records {
			if err := s.encode(&records[i]); err != nil {
				return nil, err
			}
		}
		s.current.Store(newSnapshot(records))
	}
	return s, nil
}

// Path is the file the store persists to; "" for an in-memory store.
func (s *Store) Path() string {
	if s == nil {
		return ""
	}
	return s.path
}

// Quarantined is where Open moved a corrupt file under QuarantineCorrupt, or
// "" when it moved nothing. Callers log it: the store silently started empty.
func (s *Store) Quarantined() string {
	if s == nil {
		return ""
	}
	return s.quarantined
}

// Upsert stores configs as the latest state of their nodes under providerID
// and reports how many records were added or changed. Configs identical to
// what is stored are skipped, and when nothing changed the file is not
// rewritten, so calling Upsert after every sync is cheap.
//
// The batch is all or nothing: any invalid config, a node named twice, or a
// failed write leaves both the file and the in-memory state as they were.
func (s *Store) Upsert(providerID string, configs ...viola.NodeConfig) (int, error) {
	if s == nil {
		return 0, nil
	}
	if !s.opened {
		return 0, errNotOpened
	}
	if providerID == "" {
		return 0, errors.New("inventory upsert: providerId is required")
	}
	inBatch := make(map[string]bool, len(configs))
	for _, cfg := range configs {
		if err := cfg.Validate(); err != nil {
			return 0, fmt.Errorf("inventory upsert for provider %q: %w", providerID, err)
		}
		if inBatch[cfg.NodeName] {
			return 0, fmt.Errorf("inventory upsert for provider %q: node %q appears more than once", providerID, cfg.NodeName)
		}
		inBatch[cfg.NodeName] = true
	}

	// Everything that can be done outside the serial commit is: hashing,
	// encoding, and leaving out what the published state already holds.
	current := s.snapshot()
	now := s.now().UTC()
	fresh := make([]Record, 0, len(configs))
	for _, cfg := range configs {
		hash := ConfigHash(cfg)
		if rec := current.get(providerID, cfg.NodeName); rec != nil && rec.LastConfigHash == hash {
			continue
		}
		rec := Record{
			ProviderID:     providerID,
			NodeName:       cfg.NodeName,
			InstanceID:     cfg.InstanceID,
			Config:         cloneConfig(cfg),
			LastConfigHash: hash,
			UpdatedAt:      now,
		}
		if err := s.encode(&rec); err != nil {
			return 0, err
		}
		fresh = append(fresh, rec)
	}
	if len(fresh) == 0 {
		return 0, nil
	}
	return s.commit(func(old *snapshot) (*snapshot, int) {
		prev := old.byID[providerID]
		var records []Record // copy-on-write: allocated only once something changed
		added := false
		changed := 0
		for _, rec := range fresh {
			i, exists := 0, false
			if prev != nil {
				i, exists = prev.index[rec.NodeName]
				if exists && prev.records[i].LastConfigHash == rec.LastConfigHash {
					continue // a writer committed just before us stored the same
				}
			}
			if changed == 0 && prev != nil {
				records = slices.Clone(prev.records)
			}
			if exists {
				records[i] = rec
			} else {
				records = append(records, rec)
				added = true
			}
			changed++
		}
		if changed == 0 {
			return old, 0
		}
		if added {
			return old.withShard(providerID, newShard(records)), changed
		}
		return old.withShard(providerID, &shard{records: records, index: prev.index}), changed
	})
}

// encode gives rec its JSON for the file; an in-memory store needs none.
func (s *Store) encode(rec *Record) error {
	if s.path == "" {
		return nil
	}
	rec.encoded = nil
	data, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("encode inventory record %s/%s: %w", rec.ProviderID, rec.NodeName, err)
	}
	rec.encoded = data
	return nil
}

// Delete removes the record of nodeName under providerID, for nodes that no
// longer carry any selected port or left the OpenstackConfig. It reports
// whether a record was removed; removing a missing record is not an error.
func (s *Store) Delete(providerID, nodeName string) (bool, error) {
	n, err := s.DeleteNodes(providerID, nodeName)
	return n > 0, err
}

// DeleteNodes removes the records of nodeNames under providerID in one write
// and reports how many existed. Missing records are not an error.
func (s *Store) DeleteNodes(providerID string, nodeNames ...string) (int, error) {
	if s == nil {
		return 0, nil
	}
	if !s.opened {
		return 0, errNotOpened
	}
	return s.commit(func(old *snapshot) (*snapshot, int) {
		drop := make(map[string]bool, len(nodeNames))
		for _, name := range nodeNames {
			if old.get(providerID, name) != nil {
				drop[name] = true
			}
		}
		return old.without(providerID, func(r *Record) bool { return drop[r.NodeName] })
	})
}

// Prune removes the records of providerID for which keep returns false, in
// one write, and reports how many it removed. A sync pass calls it with the
// nodes it just saw, so nodes that left the cluster or lost their last
// selected port disappear from the inventory.
//
// keep gets a copy of each record of providerID and nothing else. It runs
// while the store commits, possibly on another writer's goroutine, so it
// must not write to the same store (that would deadlock); reading from it is
// fine. A nil keep is an error rather than "keep nothing", so a forgotten
// argument cannot wipe a provider. A keep that panics fails this Prune only.
func (s *Store) Prune(providerID string, keep func(Record) bool) (int, error) {
	if keep == nil {
		return s.prune(providerID, nil)
	}
	return s.prune(providerID, func(r *Record) bool { return keep(cloneRecord(*r)) })
}

// PruneNodes is Prune for callers that decide by a record's identity alone:
// keep gets the instance ID and node name of each record of providerID, so
// nothing is copied however many records the provider has. The rules of
// Prune's keep apply.
func (s *Store) PruneNodes(providerID string, keep func(instanceID, nodeName string) bool) (int, error) {
	if keep == nil {
		return s.prune(providerID, nil)
	}
	return s.prune(providerID, func(r *Record) bool { return keep(r.InstanceID, r.NodeName) })
}

func (s *Store) prune(providerID string, keep func(*Record) bool) (int, error) {
	if s == nil {
		return 0, nil
	}
	if !s.opened {
		return 0, errNotOpened
	}
	if providerID == "" {
		return 0, errors.New("inventory prune: providerId is required")
	}
	if keep == nil {
		return 0, fmt.Errorf("inventory prune for provider %q: keep func is nil", providerID)
	}
	return s.commit(func(old *snapshot) (*snapshot, int) {
		return old.without(providerID, func(r *Record) bool { return !keep(r) })
	})
}

// without returns snap minus the records of providerID that drop selects,
// and how many those were.
func (snap *snapshot) without(providerID string, drop func(*Record) bool) (*snapshot, int) {
	old := snap.records(providerID)
	var kept []Record
	for i := range old {
		if drop(&old[i]) {
			if kept == nil {
				kept = append(make([]Record, 0, len(old)-1), old[:i]...)
			}
		} else if kept != nil {
			kept = append(kept, old[i])
		}
	}
	if kept == nil {
		return snap, 0
	}
	return snap.withShard(providerID, newShard(kept)), len(old) - len(kept)
}

// change is one writer's change waiting to be committed: apply returns the
// snapshot with the change made (the same snapshot when it changes nothing)
// and the count its caller reports.
type change struct {
	apply func(*snapshot) (*snapshot, int)
	n     int
	err   error
	done  bool // set under commitMu
}

// commit queues apply and returns once it is durable. Whoever holds
// commitMu applies every queued change in order to the published snapshot
// and writes the file once; a failed write fails every change of that
// batch and publishes none, so each is all or nothing.
func (s *Store) commit(apply func(*snapshot) (*snapshot, int)) (int, error) {
	mine := &change{apply: apply}
	s.queueMu.Lock()
	s.queue = append(s.queue, mine)
	s.queueMu.Unlock()

	s.commitMu.Lock()
	defer s.commitMu.Unlock()
	if mine.done { // a writer before us committed it
		return mine.n, mine.err
	}
	s.queueMu.Lock()
	batch := s.queue
	s.queue = nil
	s.queueMu.Unlock()

	old := s.snapshot()
	next := old
	for _, c := range batch {
		c.n, c.err = applyChange(c.apply, &next)
	}
	if next != old {
		if err := s.publish(next); err != nil {
			for _, c := range batch {
				if c.err == nil {
					c.n, c.err = 0, err
				}
			}
		}
	}
	for _, c := range batch {
		c.done = true
	}
	return mine.n, mine.err
}

// applyChange applies one change to *snap; a panic (a Prune keep func) fails
// that change alone instead of the writer that happens to commit it.
func applyChange(apply func(*snapshot) (*snapshot, int), snap **snapshot) (n int, err error) {
	defer func() {
		if p := recover(); p != nil {
			n, err = 0, fmt.Errorf("inventory change panicked: %v", p)
		}
	}()
	next, n := apply(*snap)
	*snap = next
	return n, nil
}

// publish makes next the current state once it is on disk, so readers never
// see a change that a crash would undo. The caller holds commitMu.
func (s *Store) publish(next *snapshot) error {
	if s.path != "" {
		n, err := writeSnapshot(s.path, next)
		if err != nil {
			return err
		}
		s.fileWrites.Add(1)
		s.bytesWritten.Add(int64(n))
	}
	s.current.Store(next)
	return nil
}

var errNotOpened = errors.New("inventory store was not created by inventory.Open")

// snapshot returns the published state; a Store not made by Open has none
// and reads as empty rather than panicking.
func (s *Store) snapshot() *snapshot {
	if snap := s.current.Load(); snap != nil {
		return snap
	}
	return emptySnapshot
}

// Get returns the record of nodeName under providerID.
func (s *Store) Get(providerID, nodeName string) (Record, bool) {
	if s == nil {
		return Record{}, false
	}
	rec := s.snapshot().get(providerID, nodeName)
	if rec == nil {
		return Record{}, false
	}
	return cloneRecord(*rec), true
}

// List returns the records matching f, ordered by provider then node name.
// The result is never nil, so it encodes as a JSON array even when empty.
func (s *Store) List(f Filter) []Record {
	if s == nil {
		return []Record{}
	}
	candidates := s.snapshot().candidates(f)
	out := []Record{}
	if f.NodeName == "" && f.InstanceID == "" {
		out = make([]Record, 0, len(candidates)) // every candidate matches
	}
	for i := range candidates {
		if f.matches(&candidates[i]) {
			out = append(out, cloneRecord(candidates[i]))
		}
	}
	return out
}

// ConfigHash fingerprints a node config. Interfaces are hashed in ID order
// because the node agent keys interfaces by ID, so the order a caller happened
// to build them in must not make an unchanged config look changed.
func ConfigHash(cfg viola.NodeConfig) string {
	if !slices.IsSortedFunc(cfg.Interfaces, compareInterfaces) {
		cfg.Interfaces = slices.SortedStableFunc(slices.Values(cfg.Interfaces), compareInterfaces)
	}
	// Marshalling a struct of strings and ints cannot fail.
	data, _ := json.Marshal(cfg)
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

func compareInterfaces(a, b viola.Interface) int { return cmp.Compare(a.ID, b.ID) }

// cloneConfig detaches a config from the caller's (or the store's) slice so
// neither side can change the other's data afterwards.
func cloneConfig(cfg viola.NodeConfig) viola.NodeConfig {
	cfg.Interfaces = slices.Clone(cfg.Interfaces)
	return cfg
}

func cloneRecord(r Record) Record {
	r.Config = cloneConfig(r.Config)
	r.encoded = nil
	return r
}
