package inventory

import (
	"errors"
	"fmt"
	"time"
)

// Orphan says why a record's node was left in the Biz cluster with no
// config keeping it up to date, and since when.
type Orphan struct {
	Since  time.Time `json:"since"`
	Reason string    `json:"reason"`
}

// maxOrphanReason bounds a stored reason, so a caller's long message cannot
// grow every record.
const maxOrphanReason = 512

// OrphanMark names a record to mark orphaned and says why.
type OrphanMark struct {
	NodeName string
	// InstanceID, when set, must be the record's: a record that another
	// VM's config replaced meanwhile is not the one let go.
	InstanceID string
	Reason     string
}

// MarkOrphaned marks the records of providerID named by marks as orphaned,
// in one write, and reports how many it marked. A record that is missing,
// of another instance, or already orphaned is left as it is, so the first
// reason and time stay. The record itself is kept: the Biz cluster still
// holds that config, and the inventory says so.
func (s *Store) MarkOrphaned(providerID string, marks ...OrphanMark) (int, error) {
	if s == nil || len(marks) == 0 {
		return 0, nil
	}
	if !s.opened {
		return 0, errNotOpened
	}
	if providerID == "" {
		return 0, errors.New("inventory mark orphaned: providerId is required")
	}
	now := s.now().UTC()
	return s.commit(providerID, func(old *shard) (*shard, int) {
		if old == nil {
			return nil, 0
		}
		var records []Record // copy-on-write
		marked := 0
		for _, m := range marks {
			i, ok := old.index[m.NodeName]
			if !ok || old.records[i].Orphaned != nil || (m.InstanceID != "" && old.records[i].InstanceID != m.InstanceID) {
				continue
			}
			if records == nil {
				records = append([]Record(nil), old.records...)
			} else if records[i].Orphaned != nil {
				continue // named twice
			}
			rec := cloneRecord(records[i])
			rec.Orphaned = &Orphan{Since: now, Reason: cutReason(m.Reason)}
			if err := s.encode(&rec); err != nil {
				// Encoding a record that was encoded before cannot fail;
				// should it, the record stays unmarked.
				continue
			}
			records[i] = rec
			marked++
		}
		if marked == 0 {
			return old, 0
		}
		return &shard{records: records, index: old.index}, marked
	})
}

func cutReason(s string) string {
	if len(s) <= maxOrphanReason {
		return s
	}
	cut := maxOrphanReason
	for cut > 0 && s[cut]&0xC0 == 0x80 { // not inside a UTF-8 sequence
		cut--
	}
	return s[:cut] + "…"
}

// String is the orphan's reason with its time, for messages.
func (o Orphan) String() string {
	return fmt.Sprintf("%s (since %s)", o.Reason, o.Since.Format(time.RFC3339))
}
