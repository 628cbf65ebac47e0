package inventory

import (
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sync"
)

type recordKey struct{ providerID, nodeName string }

// snapshot is an immutable view of the store, split by provider: a change
// of one provider copies that provider's records and nothing else, so a
// write costs what the provider holds, not what the whole fleet holds.
type snapshot struct {
	providers []string          // sorted
	byID      map[string]*shard // one per provider, never empty
	count     int

	// all is every record sorted by (ProviderID, NodeName), built on the
	// first unfiltered read of this snapshot.
	allOnce sync.Once
	all     []Record
}

// shard is one provider's records sorted by NodeName, immutable once in a
// published snapshot.
type shard struct {
	records []Record
	index   map[string]int // NodeName → position in records
}

var emptySnapshot = newSnapshot(nil)

// newSnapshot builds a snapshot of records, which must not repeat a key.
func newSnapshot(records []Record) *snapshot {
	byProvider := map[string][]Record{}
	for _, r := range records {
		byProvider[r.ProviderID] = append(byProvider[r.ProviderID], r)
	}
	snap := &snapshot{byID: make(map[string]*shard, len(byProvider))}
	for id, recs := range byProvider {
		snap.byID[id] = newShard(recs)
		snap.providers = append(snap.providers, id)
		snap.count += len(recs)
	}
	slices.Sort(snap.providers)
	return snap
}

func newShard(records []Record) *shard {
	slices.SortFunc(records, compareRecords)
	index := make(map[string]int, len(records))
	for i := range records {
		index[records[i].NodeName] = i
	}
	return &shard{records: records, index: index}
}

// withShard returns a copy of snap in which providerID holds sh; a nil or
// empty sh removes the provider.
func (snap *snapshot) withShard(providerID string, sh *shard) *snapshot {
	next := &snapshot{providers: snap.providers, byID: maps.Clone(snap.byID), count: snap.count}
	if next.byID == nil {
		next.byID = map[string]*shard{}
	}
	old, existed := snap.byID[providerID]
	if existed {
		next.count -= len(old.records)
	}
	if sh == nil || len(sh.records) == 0 {
		if existed {
			delete(next.byID, providerID)
			i, _ := slices.BinarySearch(snap.providers, providerID)
			next.providers = slices.Delete(slices.Clone(snap.providers), i, i+1)
		}
		return next
	}
	next.byID[providerID] = sh
	next.count += len(sh.records)
	if !existed {
		i, _ := slices.BinarySearch(snap.providers, providerID)
		next.providers = slices.Insert(slices.Clone(snap.providers), i, providerID)
	}
	return next
}

// records returns the records of providerID, sorted by node name.
func (snap *snapshot) records(providerID string) []Record {
	if sh := snap.byID[providerID]; sh != nil {
		return sh.records
	}
	return nil
}

// get returns the record of (providerID, nodeName), or nil.
func (snap *snapshot) get(providerID, nodeName string) *Record {
	sh := snap.byID[providerID]
	if sh == nil {
		return nil
	}
	i, ok := sh.index[nodeName]
	if !ok {
		return nil
	}
	return &sh.records[i]
}

// allRecords is every record sorted by (ProviderID, NodeName). Readers must
// not modify it.
func (snap *snapshot) allRecords() []Record {
	snap.allOnce.Do(func() {
		snap.all = make([]Record, 0, snap.count)
		for _, id := range snap.providers {
			snap.all = append(snap.all, snap.byID[id].records...)
		}
	})
	return snap.all
}

// candidates narrows the records f can match before each one is tested: one
// record when both keys are given, one provider's records when only the
// provider is. Listing by provider is the common query and stays cheap in a
// large inventory.
func (snap *snapshot) candidates(f Filter) []Record {
	switch {
	case f.ProviderID != "" && f.NodeName != "":
		if sh := snap.byID[f.ProviderID]; sh != nil {
			if i, ok := sh.index[f.NodeName]; ok {
				return sh.records[i : i+1]
			}
		}
		return nil
	case f.ProviderID != "":
		return snap.records(f.ProviderID)
	default:
		return snap.allRecords()
	}
}

func compareRecords(a, b Record) int {
	return cmp.Or(cmp.Compare(a.ProviderID, b.ProviderID), cmp.Compare(a.NodeName, b.NodeName))
}

// encode renders sh as the shard file of providerID: the same bytes as
// json.Marshal of shardContent plus a newline, put together from the JSON
// each record got when it was stored.
func (sh *shard) encode(providerID string) []byte {
	key, _ := json.Marshal(providerID) // a string always marshals
	size := 64 + len(key)
	for i := range sh.records {
		size += len(sh.records[i].encoded) + 1
	}
	buf := make([]byte, 0, size)
	buf = fmt.Appendf(buf, `{"version":%d,"providerId":%s,"records":[`, fileVersion, key)
	for i := range sh.records {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, sh.records[i].encoded...)
	}
	return append(buf, "]}\n"...)
}
