package notifications

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
	"unicode/utf8"
)

// FuzzDecode feeds arbitrary bodies to the decoder, as a broker would hand
// them from any publisher. The property: no panic; either a *DecodeError of
// a known reason in one bounded, valid-UTF-8 line, or an event that keeps
// the invariants routing relies on. Seeds: the fixtures in both envelopes
// (added here) and testdata/fuzz/FuzzDecode. Run with
// go test -fuzz FuzzDecode ./openstack/notifications/.
func FuzzDecode(f *testing.F) {
	names, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	if err != nil || len(names) == 0 {
		f.Fatalf("no fixtures: %v", err)
	}
	for _, name := range names {
		raw, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw)
		f.Add(v2(f, raw))
	}
	reasons := Reasons()
	kinds := map[Kind]bool{}
	for _, k := range eventKinds {
		kinds[k] = true
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		ev, err := DecodeLimit(body, 1<<20)
		if err != nil {
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("error of type %T: %v", err, err)
			}
			if !slices.Contains(reasons, de.Reason) {
				t.Fatalf("unknown reason %q", de.Reason)
			}
			if msg := err.Error(); len(msg) > 3*maxDetail+80 || !utf8.ValidString(msg) {
				t.Fatalf("error message unbounded or not UTF-8: %q", msg)
			}
			if ev != nil {
				t.Fatal("both an event and an error")
			}
			return
		}
		if !kinds[ev.Kind] || eventKinds[ev.EventType] != ev.Kind {
			t.Fatalf("kind %q for event type %q", ev.Kind, ev.EventType)
		}
		if ev.EnvelopeVersion != 1 && ev.EnvelopeVersion != 2 {
			t.Fatalf("envelope version %d", ev.EnvelopeVersion)
		}
		if !ev.Timestamp.IsZero() && ev.Timestamp.Location() != time.UTC {
			t.Fatal("timestamp not in UTC")
		}
		switch ev.Kind {
		case KindPortCreate, KindPortUpdate, KindPortDelete:
			if len(ev.Ports) == 0 || ev.Instance != nil {
				t.Fatalf("port event with %d ports and an instance %v", len(ev.Ports), ev.Instance)
			}
			for _, p := range ev.Ports {
				if p.ID == "" {
					t.Fatal("port without id")
				}
			}
		default:
			if ev.Instance == nil || ev.Instance.ID == "" || len(ev.Ports) != 0 {
				t.Fatalf("instance event without instance id: %+v", ev)
			}
		}
		for _, ids := range [][]string{ev.VMIDs(), ev.PortIDs(), ev.MACs()} {
			if slices.Contains(ids, "") {
				t.Fatal("empty id in a routing list")
			}
			sorted := slices.Clone(ids)
			slices.Sort(sorted)
			if len(slices.Compact(sorted)) != len(ids) {
				t.Fatalf("duplicates in %v", ids)
			}
		}
	})
}
