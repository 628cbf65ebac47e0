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
// when INVENTORY_ENABLED is false.
type Store struct {
	path string
	now  func() time.Time

	// writeMu serialises writers so each change is persisted before the next
	// one starts from it. Readers never take it; they read the published
	// snapshot, which is never modified once stored.
	writeMu sync.Mutex
	current atomic.Pointer[snapshot]
}

type recordKey struct{ providerID, nodeName string }

// snapshot is an immutable view of the store; records is sorted by
// (ProviderID, NodeName) so listings and the file are deterministic.
type snapshot struct {
	records []Record
	index   map[recordKey]int
}

func newSnapshot(records []Record) *snapshot {
	slices.SortFunc(records, compareRecords)
	index := make(map[recordKey]int, len(records))
	for i := range records {
		index[recordKey{records[i].ProviderID, records[i].NodeName}] = i
	}
	return &snapshot{records: records, index: index}
}

func compareRecords(a, b Record) int {
	return cmp.Or(cmp.Compare(a.ProviderID, b.ProviderID), cmp.Compare(a.NodeName, b.NodeName))
}

// Option adjusts a Store at Open.
type Option func(*Store)

// WithClock sets the source of UpdatedAt; tests use it to get exact times.
func WithClock(now func() time.Time) Option {
	return func(s *Store) { s.now = now }
}

// Open loads the inventory at path, creating the file (and its directory)
// when it does not exist yet. Creating it here rather than on the first change
// makes an unwritable path fail at startup instead of minutes later.
func Open(path string, opts ...Option) (*Store, error) {
	if path == "" {
		return nil, errors.New("inventory path is empty (set INVENTORY_DB_PATH)")
	}
	s := &Store{path: path, now: time.Now}
	for _, opt := range opts {
		opt(s)
	}
	removeStaleTempFiles(path)
	records, err := readFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return nil, fmt.Errorf("create inventory directory: %w", err)
		}
		snap := newSnapshot(nil)
		if err := writeFile(path, snap.records); err != nil {
			return nil, err
		}
		s.current.Store(snap)
	case err != nil:
		return nil, err
	default:
		s.current.Store(newSnapshot(records))
	}
	return s, nil
}

// Path is the file the store persists to.
func (s *Store) Path() string {
	if s == nil {
		return ""
	}
	return s.path
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
	if s.path == "" {
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

	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	old := s.snapshot()
	var records []Record // copy-on-write: allocated only once something changed
	added := false
	changed := 0
	var now time.Time
	for _, cfg := range configs {
		hash := ConfigHash(cfg)
		i, exists := old.index[recordKey{providerID, cfg.NodeName}]
		if exists && old.records[i].LastConfigHash == hash {
			continue
		}
		if records == nil {
			records = slices.Clone(old.records)
			now = s.now().UTC()
		}
		rec := Record{
			ProviderID:     providerID,
			NodeName:       cfg.NodeName,
			InstanceID:     cfg.InstanceID,
			Config:         cloneConfig(cfg),
			LastConfigHash: hash,
			UpdatedAt:      now,
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
		return 0, nil
	}
	var next *snapshot
	if added {
		next = newSnapshot(records)
	} else {
		next = &snapshot{records: records, index: old.index}
	}
	if err := writeFile(s.path, next.records); err != nil {
		return 0, err
	}
	s.current.Store(next)
	return changed, nil
}

// Delete removes the record of nodeName under providerID, for nodes that no
// longer carry any selected port or left the OpenstackConfig. It reports
// whether a record was removed; removing a missing record is not an error.
func (s *Store) Delete(providerID, nodeName string) (bool, error) {
	if s == nil {
		return false, nil
	}
	if s.path == "" {
		return false, errNotOpened
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	old := s.snapshot()
	i, ok := old.index[recordKey{providerID, nodeName}]
	if !ok {
		return false, nil
	}
	next := newSnapshot(slices.Delete(slices.Clone(old.records), i, i+1))
	if err := writeFile(s.path, next.records); err != nil {
		return false, err
	}
	s.current.Store(next)
	return true, nil
}

var (
	emptySnapshot = newSnapshot(nil)
	errNotOpened  = errors.New("inventory store was not created by inventory.Open")
)

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
	snap := s.snapshot()
	i, ok := snap.index[recordKey{providerID, nodeName}]
	if !ok {
		return Record{}, false
	}
	return cloneRecord(snap.records[i]), true
}

// List returns the records matching f, ordered by provider then node name.
// The result is never nil, so it encodes as a JSON array even when empty.
func (s *Store) List(f Filter) []Record {
	out := []Record{}
	if s == nil {
		return out
	}
	snap := s.snapshot()
	for i := range snap.records {
		if f.matches(&snap.records[i]) {
			out = append(out, cloneRecord(snap.records[i]))
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
	return r
}
