// Package inventory keeps the latest node config sent to Viola for every
// (providerId, nodeName) in a JSON file and serves it over a read-only HTTP
// API, so people and tools can see what the operator last asked the Biz
// clusters to configure without access to those clusters.
//
// Each routing key's records live in a file of their own, rewritten
// atomically when they change, so a crash leaves either the old or the new
// content, never a torn file. Only one Store, in one process, may own an
// inventory path at a time: Open takes an exclusive lock, and a second Open
// fails with ErrLocked naming the holder.
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
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

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
	// Orphaned is set when the config that sent the node let it go and
	// left its MultiNicNodeConfig in the Biz cluster (removalPolicy Orphan,
	// or a Viola that cannot remove): the record still says what the Biz
	// side holds, and that no config keeps it up to date. Sending the node
	// again clears it.
	Orphaned *Orphan `json:"orphaned,omitempty"`
	// NodeNameSource is where the sender took the node name from when it
	// last sent the config (multinic: "metadata", "hostname" or "name");
	// empty in records written before it was kept.
	NodeNameSource string `json:"nodeNameSource,omitempty"`

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

// ErrCorrupt marks an inventory file (the file at the inventory's path or a
// shard) that exists but cannot be read as one. The caller decides whether
// to stop or to move the file aside.
var ErrCorrupt = errors.New("inventory file is corrupt")

// Store is the file-backed inventory. A nil *Store is a disabled inventory:
// writes do nothing and reads find nothing, so callers need no special case
// when INVENTORY_ENABLED is false. Open("") gives a Store that keeps records
// in memory only.
type Store struct {
	path     string
	shardDir string
	now      func() time.Time
	// opened tells a Store made by Open from a zero Store{}, which has no
	// state to write to; path cannot, since "" means in-memory.
	opened bool

	quarantine     bool
	quarantined    []string
	salvaged       []Salvage
	migrationSteps func(string) error // set by tests to crash a migration

	// lock is held from Open to Close. Writes share closeMu, Close takes it
	// alone, so no write lands after the lock is released.
	lock    *lockFile
	closeMu sync.RWMutex
	closed  bool

	// Writers of one routing key queue their change in its lane and commit
	// under the lane's commitMu: whoever holds it applies every queued
	// change of that key and writes its shard once for all of them (group
	// commit), so writers that arrive during a write share the next one.
	// Each still returns only after its change is on disk. Keys commit in
	// parallel; publishMu only orders the swaps of the published snapshot.
	// Readers never take a lock; they read the published snapshot, which is
	// never modified once stored.
	lanesMu   sync.Mutex
	lanes     map[string]*lane
	publishMu sync.Mutex
	current   atomic.Pointer[snapshot]

	fileWrites, bytesWritten atomic.Int64
}

// lane is the commit queue of one routing key, kept while someone uses it.
type lane struct {
	users    int // under Store.lanesMu
	queueMu  sync.Mutex
	queue    []*change
	commitMu sync.Mutex
}

// WriteStats counts the durable writes of a Store since Open.
type WriteStats struct {
	// Files is how many times a shard file was replaced or removed.
	Files int64
	// Bytes is the content written by those replacements.
	Bytes int64
}

// WriteStats reports what the store has written to disk since Open (not
// counting what Open itself writes: the marker, a migration), so write
// amplification is measurable.
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

// QuarantineCorrupt makes Open move corrupt inventory files aside instead of
// failing with ErrCorrupt. The inventory can be rebuilt by the next sync, so
// an operator may prefer running to crash-looping; a file is renamed to
// "<file>.corrupt-<UTC time>", never deleted, so it can still be inspected.
// A corrupt shard is moved alone: its routing key starts empty and every
// other key keeps its records. A damaged single file of an earlier version
// is copied aside whole and migrated with every record that can be read
// (see Salvaged): one bad record costs itself, not the file. A corrupt file at the inventory's path (the
// marker) is moved and replaced by a new one, and the shards beside it load
// as usual: the marker holds no records. Quarantined reports what moved.
//
// Only ErrCorrupt triggers it. A file that cannot be read at all (permissions,
// I/O errors) or was written by a newer operator still fails Open: moving it
// would not fix the cause, and the newer file is not damaged.
func QuarantineCorrupt() Option {
	return func(s *Store) { s.quarantine = true }
}

// Open loads the inventory at path, creating it (and its directory) when it
// does not exist yet. Creating it here rather than on the first change makes
// an unwritable path fail at startup instead of minutes later. An inventory
// in the single file of earlier versions is split into shards first (see
// the layout in file.go); a crash during that leaves the single file, and
// the next Open migrates it again.
//
// An empty path gives an in-memory store: it behaves like a file store,
// including change detection across Upserts, but keeps nothing across
// restarts. The operator uses it when its inventory is disabled, so Sync
// still skips unchanged nodes; it never turns a blank variable into an
// empty path, so persistence cannot be turned off by one.
func Open(path string, opts ...Option) (*Store, error) {
	s := &Store{path: path, now: time.Now, opened: true, lanes: map[string]*lane{}}
	for _, opt := range opts {
		opt(s)
	}
	if path == "" {
		s.current.Store(emptySnapshot)
		return s, nil
	}
	// The lock comes before anything is read or touched: what looks like a
	// crash's leftover temporary file may be another writer's, in flight.
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("create inventory directory: %w", err)
	}
	held, err := lock(path)
	if err != nil {
		return nil, err
	}
	if err := s.open(); err != nil {
		_ = held.unlock()
		return nil, err
	}
	s.lock = held
	return s, nil
}

// Close releases the inventory's lock, so another process may open it.
// What was loaded can still be read; writes fail with ErrClosed. It waits
// for writes in progress. Closing a nil, in-memory or closed Store does
// nothing.
func (s *Store) Close() error {
	if s == nil {
		return nil
	}
	s.closeMu.Lock()
	defer s.closeMu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	return s.lock.unlock()
}

// open loads the inventory at s.path, which s holds the lock of.
func (s *Store) open() error {
	path := s.path
	base := filepath.Base(path)
	removeStaleTempFiles(filepath.Dir(path), func(name string) bool { return name == base })
	lay, err := readLayout(path)
	if errors.Is(err, ErrCorrupt) && s.quarantine {
		if salvaged, serr := s.salvage(path); serr != nil {
			return serr
		} else if salvaged != nil {
			lay, err = *salvaged, nil
		}
	}
	if errors.Is(err, ErrCorrupt) && s.quarantine {
		moved, qerr := quarantineFile(path, s.now())
		if qerr != nil {
			return fmt.Errorf("%w; moving it aside failed: %w", err, qerr)
		}
		s.quarantined = append(s.quarantined, moved)
		err = os.ErrNotExist
	}
	switch {
	case errors.Is(err, os.ErrNotExist):
		s.shardDir = shardDirFor(path)
		err = s.create()
	case err != nil:
		return err
	case lay.version == singleFileVersion:
		err = s.migrate(lay.records)
	default:
		s.shardDir = lay.shardDir
		// A marker whose directory is gone (removed by hand) is an
		// inventory without records, as a missing file is.
		err = makeShardDir(s.shardDir)
	}
	if err == nil {
		err = s.load()
	}
	if err != nil && len(s.quarantined) > 0 {
		// No Store is returned, so the error is the only place the caller
		// can learn where the corrupt files went.
		return fmt.Errorf("corrupt inventory files moved to %s, but opening failed: %w", strings.Join(s.quarantined, ", "), err)
	}
	return err
}

// salvage keeps what it can of a damaged single file at path: the file is
// copied aside whole and its good records become the layout to migrate.
// It returns nil when the file is not a single file it can read record by
// record.
func (s *Store) salvage(path string) (*layout, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read inventory file: %w", err)
	}
	records, problems, ok := salvageSingleFile(data)
	if !ok {
		return nil, nil
	}
	copied, err := copyAside(path, data, s.now())
	if err != nil {
		return nil, err
	}
	s.quarantined = append(s.quarantined, copied)
	s.salvaged = append(s.salvaged, Salvage{File: path, CopiedTo: copied, Kept: len(records), Problems: problems})
	return &layout{version: singleFileVersion, records: records}, nil
}

// Salvaged reports the damaged single-file inventories Open migrated under
// QuarantineCorrupt keeping their good records. Callers log it: the records
// it left out are gone until the next sync rebuilds them.
func (s *Store) Salvaged() []Salvage {
	if s == nil {
		return nil
	}
	return slices.Clone(s.salvaged)
}

// create makes a new inventory: the shard directory, then the marker.
// Open made the directory they go into.
func (s *Store) create() error {
	if err := makeShardDir(s.shardDir); err != nil {
		return err
	}
	return writeMarker(s.path, s.shardDir)
}

// migrate splits a single-file inventory into shards.
func (s *Store) migrate(records []Record) error {
	for i := range records {
		if err := s.encode(&records[i]); err != nil {
			return err
		}
	}
	dir, err := migrate(s.path, newSnapshot(records), s.migrationSteps)
	s.shardDir = dir
	return err
}

// load reads every shard into the published snapshot; a corrupt one is
// moved aside under QuarantineCorrupt.
func (s *Store) load() error {
	removeStaleTempFiles(s.shardDir, isShardFileName)
	records, err := readShards(s.shardDir, func(path string, err error) error {
		if !s.quarantine {
			return err
		}
		moved, qerr := quarantineFile(path, s.now())
		if qerr != nil {
			return fmt.Errorf("%w; moving it aside failed: %w", err, qerr)
		}
		s.quarantined = append(s.quarantined, moved)
		return nil
	})
	if err != nil {
		return err
	}
	for i := range records {
		if err := s.encode(&records[i]); err != nil {
			return err
		}
	}
	s.current.Store(newSnapshot(records))
	return nil
}

// Path is the inventory's file (its marker); "" for an in-memory store.
func (s *Store) Path() string {
	if s == nil {
		return ""
	}
	return s.path
}

// ShardDir is the directory holding one file per routing key; "" for an
// in-memory store.
func (s *Store) ShardDir() string {
	if s == nil {
		return ""
	}
	return s.shardDir
}

// Quarantined lists where Open moved corrupt files under QuarantineCorrupt:
// the marker, shards, or both. Callers log it: the records of those files
// are gone until the next sync rebuilds them.
func (s *Store) Quarantined() []string {
	if s == nil {
		return nil
	}
	return slices.Clone(s.quarantined)
}

// Upsert stores configs as the latest state of their nodes under providerID
// and reports how many records were added or changed. Configs identical to
// what is stored are skipped, and when nothing changed no file is
// rewritten, so calling Upsert after every sync is cheap. An orphaned
// record (see MarkOrphaned) counts as changed: the node is sent again, so it
// is no longer an orphan.
//
// The batch is all or nothing: any invalid config, a node named twice, or a
// failed write leaves both the files and the in-memory state as they were.
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
	// JSON would store invalid UTF-8 as U+FFFD, so the key read back would
	// not be the key written, nor match its shard's name.
	if !utf8.ValidString(providerID) {
		return 0, fmt.Errorf("inventory upsert: providerId %q is not valid UTF-8", providerID)
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
		updatedAt := now
		if rec := current.get(providerID, cfg.NodeName); rec != nil && rec.LastConfigHash == hash {
			if rec.NodeNameSource == cfg.NodeNameSource && rec.Orphaned == nil {
				continue
			}
			updatedAt = rec.UpdatedAt // only the note or the orphan mark changed, not the config
		}
		stored := cloneConfig(cfg)
		stored.NodeNameSource = "" // the record's, as a reopened store has it
		rec := Record{
			ProviderID:     providerID,
			NodeName:       cfg.NodeName,
			InstanceID:     cfg.InstanceID,
			Config:         stored,
			LastConfigHash: hash,
			UpdatedAt:      updatedAt,
			NodeNameSource: cfg.NodeNameSource,
		}
		if err := s.encode(&rec); err != nil {
			return 0, err
		}
		fresh = append(fresh, rec)
	}
	if len(fresh) == 0 {
		return 0, nil
	}
	return s.commit(providerID, func(prev *shard) (*shard, int) {
		var records []Record // copy-on-write: allocated only once something changed
		added := false
		changed := 0
		for _, rec := range fresh {
			i, exists := 0, false
			if prev != nil {
				i, exists = prev.index[rec.NodeName]
				if exists && prev.records[i].LastConfigHash == rec.LastConfigHash && prev.records[i].NodeNameSource == rec.NodeNameSource && prev.records[i].Orphaned == nil {
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
		switch {
		case changed == 0:
			return prev, 0
		case added:
			return newShard(records), changed
		default:
			return &shard{records: records, index: prev.index}, changed
		}
	})
}

// encode gives rec its JSON for its shard; an in-memory store needs none.
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
	drop := make(map[string]bool, len(nodeNames))
	for _, name := range nodeNames {
		drop[name] = true
	}
	return s.commit(providerID, func(old *shard) (*shard, int) {
		return old.without(func(r *Record) bool { return drop[r.NodeName] })
	})
}

// Prune removes the records of providerID for which keep returns false, in
// one write, and reports how many it removed. A sync pass calls it with the
// nodes it just saw, so nodes that left the cluster or lost their last
// selected port disappear from the inventory.
//
// keep gets a copy of each record of providerID and nothing else. It runs
// while the store commits, possibly on another writer's goroutine, so it
// must not write to the same provider (that would deadlock); reading from
// the store is fine. A nil keep is an error rather than "keep nothing", so a
// forgotten argument cannot wipe a provider. A keep that panics fails this
// Prune only.
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
	return s.commit(providerID, func(old *shard) (*shard, int) {
		return old.without(func(r *Record) bool { return !keep(r) })
	})
}

// without returns sh minus the records drop selects, and how many those
// were; sh itself when it drops none, nil when it drops all.
func (sh *shard) without(drop func(*Record) bool) (*shard, int) {
	if sh == nil {
		return nil, 0
	}
	var kept []Record
	for i := range sh.records {
		if drop(&sh.records[i]) {
			if kept == nil {
				kept = append(make([]Record, 0, len(sh.records)-1), sh.records[:i]...)
			}
		} else if kept != nil {
			kept = append(kept, sh.records[i])
		}
	}
	switch {
	case kept == nil:
		return sh, 0
	case len(kept) == 0:
		return nil, len(sh.records)
	}
	return newShard(kept), len(sh.records) - len(kept)
}

// change is one writer's change of a routing key waiting to be committed:
// apply returns the key's shard with the change made (the same shard when
// it changes nothing, nil when no record is left) and the count its caller
// reports.
type change struct {
	apply func(*shard) (*shard, int)
	n     int
	err   error
	done  bool // set under the lane's commitMu
}

// commit queues apply in providerID's lane and returns once it is durable.
// Whoever holds the lane's commitMu applies every queued change in order to
// the key's published shard and writes the shard once; a failed write fails
// every change of that batch and publishes none, so each is all or nothing.
func (s *Store) commit(providerID string, apply func(*shard) (*shard, int)) (int, error) {
	s.closeMu.RLock()
	defer s.closeMu.RUnlock()
	if s.closed {
		return 0, ErrClosed
	}
	l := s.acquireLane(providerID)
	defer s.releaseLane(providerID, l)
	mine := &change{apply: apply}
	l.queueMu.Lock()
	l.queue = append(l.queue, mine)
	l.queueMu.Unlock()

	l.commitMu.Lock()
	defer l.commitMu.Unlock()
	if mine.done { // a writer before us committed it
		return mine.n, mine.err
	}
	l.queueMu.Lock()
	batch := l.queue
	l.queue = nil
	l.queueMu.Unlock()

	// This lane is the key's only writer, so the published shard is the
	// latest one.
	old := s.snapshot().byID[providerID]
	next := old
	for _, c := range batch {
		c.n, c.err = applyChange(c.apply, &next)
	}
	if next != old {
		if err := s.publish(providerID, next); err != nil {
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

// acquireLane returns providerID's lane, made on first use; releaseLane
// drops it once nobody uses it, so keys that come and go leave nothing.
func (s *Store) acquireLane(providerID string) *lane {
	s.lanesMu.Lock()
	defer s.lanesMu.Unlock()
	if s.lanes == nil {
		s.lanes = map[string]*lane{}
	}
	l := s.lanes[providerID]
	if l == nil {
		l = &lane{}
		s.lanes[providerID] = l
	}
	l.users++
	return l
}

func (s *Store) releaseLane(providerID string, l *lane) {
	s.lanesMu.Lock()
	defer s.lanesMu.Unlock()
	if l.users--; l.users == 0 {
		delete(s.lanes, providerID)
	}
}

// applyChange applies one change to *sh; a panic (a Prune keep func) fails
// that change alone instead of the writer that happens to commit it.
func applyChange(apply func(*shard) (*shard, int), sh **shard) (n int, err error) {
	defer func() {
		if p := recover(); p != nil {
			n, err = 0, fmt.Errorf("inventory change panicked: %v", p)
		}
	}()
	next, n := apply(*sh)
	*sh = next
	return n, nil
}

// publish makes sh providerID's records once they are on disk, so readers
// never see a change that a crash would undo. The caller holds the key's
// lane.
func (s *Store) publish(providerID string, sh *shard) error {
	if s.path != "" {
		n, err := writeShard(s.shardDir, providerID, sh)
		if err != nil {
			return err
		}
		s.fileWrites.Add(1)
		s.bytesWritten.Add(int64(n))
	}
	s.publishMu.Lock()
	defer s.publishMu.Unlock()
	s.current.Store(s.snapshot().withShard(providerID, sh))
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
	if r.Orphaned != nil {
		o := *r.Orphaned
		r.Orphaned = &o
	}
	r.encoded = nil
	return r
}
