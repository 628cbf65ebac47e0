package notifications

import "sync"

// DefaultDedupWindow is how many recent message IDs a Deduper remembers.
// Duplicates come from redeliveries after a reconnect, at most a prefetch
// window of messages, so a few thousand IDs are plenty; 8192 IDs take about
// 1 MB.
const DefaultDedupWindow = 8192

// Deduper remembers the last N message IDs it was shown, in bounded memory:
// the oldest ID is forgotten when a new one arrives at capacity. It is safe
// for concurrent use.
type Deduper struct {
	mu   sync.Mutex
	seen map[string]struct{}
	ring []string
	next int
}

// NewDeduper remembers up to size IDs (DefaultDedupWindow when size <= 0).
func NewDeduper(size int) *Deduper {
	if size <= 0 {
		size = DefaultDedupWindow
	}
	return &Deduper{seen: make(map[string]struct{}, size), ring: make([]string, size)}
}

// Seen reports whether id was shown before (and is still remembered), and
// remembers it. An empty id is never a duplicate: a publisher that sets no
// message_id gives nothing to compare.
func (d *Deduper) Seen(id string) bool {
	if id == "" {
		return false
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.seen[id]; ok {
		return true
	}
	if old := d.ring[d.next]; old != "" {
		delete(d.seen, old)
	}
	d.ring[d.next] = id
	d.seen[id] = struct{}{}
	d.next = (d.next + 1) % len(d.ring)
	return false
}

// Len is how many IDs are remembered.
func (d *Deduper) Len() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.seen)
}
