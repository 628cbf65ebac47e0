package notifications

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The fixtures in testdata are notifications as oslo.messaging builds them
// before the envelope (message_id, event_type, payload, timestamp, the
// request context as _context_* fields, _unique_id), with payloads shaped
// as Neutron's API views and Nova's info_from_instance (legacy) and
// notification objects (versioned) produce them. Each test reads them in
// both envelopes.

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	return data
}

// v2 wraps a message as oslo.messaging's serialize_msg does.
func v2(t testing.TB, inner []byte) []byte {
	t.Helper()
	var compact bytes.Buffer
	require.NoError(t, json.Compact(&compact, inner))
	out, err := json.Marshal(map[string]string{"oslo.version": "2.0", "oslo.message": compact.String()})
	require.NoError(t, err)
	return out
}

func decodeBoth(t *testing.T, name string, check func(t *testing.T, ev *Event)) {
	t.Helper()
	raw := fixture(t, name)
	for version, body := range map[int][]byte{1: raw, 2: v2(t, raw)} {
		t.Run(name+"/v"+string(rune('0'+version)), func(t *testing.T) {
			ev, err := Decode(body)
			require.NoError(t, err)
			assert.Equal(t, version, ev.EnvelopeVersion)
			check(t, ev)
		})
	}
}

const (
	vm1   = "d1f0b2c4-3e5a-4b6c-8d7e-9f0a1b2c3d4e"
	port1 = "5b1c8c9e-2f4a-4d8e-9a61-3f0d2b7e8a10"
	proj1 = "9f8e7d6c5b4a39281706f5e4d3c2b1a0"
)

func TestDecodePortCreate(t *testing.T) {
	decodeBoth(t, "port.create.end.json", func(t *testing.T, ev *Event) {
		assert.Equal(t, KindPortCreate, ev.Kind)
		assert.Equal(t, "port.create.end", ev.EventType)
		assert.Equal(t, "0f4c3a5e-6a55-4b8c-9d38-0d6a1f0e7c11", ev.MessageID)
		assert.Equal(t, "network.controller-1", ev.Publisher)
		assert.Equal(t, "INFO", ev.Priority)
		assert.Equal(t, time.Date(2026, 1, 2, 3, 4, 5, 123456000, time.UTC), ev.Timestamp)
		assert.Equal(t, proj1, ev.ProjectID)
		require.Len(t, ev.Ports, 1)
		assert.Equal(t, Port{ID: port1, DeviceID: vm1, DeviceOwner: "compute:nova", Status: "DOWN",
			MACAddress: "fa:16:3e:0b:00:01", NetworkID: "7d2e4f6a-1b3c-4d5e-8f9a-0b1c2d3e4f5a", ProjectID: proj1,
			FixedIPs: []FixedIP{{SubnetID: "c3d4e5f6-a7b8-4c9d-8e0f-1a2b3c4d5e6f", IPAddress: "10.20.0.11"}}}, ev.Ports[0])
		assert.Equal(t, []string{vm1}, ev.VMIDs())
		assert.Equal(t, []string{port1}, ev.PortIDs())
		assert.Equal(t, []string{"fa:16:3e:0b:00:01"}, ev.MACs())
		assert.Nil(t, ev.Instance)
	})
}

// A detach empties device_id: the event names no VM, only the port (and
// its MAC), which is what routing by the last pass's ports is for.
func TestDecodePortDetach(t *testing.T) {
	decodeBoth(t, "port.update.end-detach.json", func(t *testing.T, ev *Event) {
		assert.Equal(t, KindPortUpdate, ev.Kind)
		assert.Empty(t, ev.VMIDs())
		assert.Equal(t, []string{port1}, ev.PortIDs())
		assert.Equal(t, []string{"fa:16:3e:0b:00:01"}, ev.MACs(), "MACs are lower-cased for matching")
		assert.Equal(t, time.Date(2026, 1, 2, 4, 0, 0, 0, time.UTC), ev.Timestamp, "str(datetime) drops a zero fraction")
		assert.Equal(t, proj1, ev.ProjectID, "the port's tenant, not the admin context's project")
	})
}

func TestDecodePortDelete(t *testing.T) {
	decodeBoth(t, "port.delete.end.json", func(t *testing.T, ev *Event) {
		assert.Equal(t, KindPortDelete, ev.Kind)
		assert.Equal(t, []string{vm1}, ev.VMIDs())
		assert.Equal(t, []string{port1}, ev.PortIDs())
	})
	// Neutron before the port view was added to delete.end sent only the id.
	ev, err := Decode([]byte(`{"event_type":"port.delete.end","message_id":"m","payload":{"port_id":"p-1"},"_context_project_id":"ctx-project"}`))
	require.NoError(t, err)
	assert.Equal(t, []Port{{ID: "p-1"}}, ev.Ports)
	assert.Equal(t, "ctx-project", ev.ProjectID, "falls back to the request context's project")
}

func TestDecodeBulkPortCreate(t *testing.T) {
	decodeBoth(t, "port.create.end-bulk.json", func(t *testing.T, ev *Event) {
		assert.Len(t, ev.Ports, 3)
		assert.Equal(t, []string{"bbbbbbbb-0000-4000-8000-000000000001"}, ev.VMIDs(), "one VM, listed once")
		assert.Len(t, ev.PortIDs(), 3)
		assert.Equal(t, time.Date(2026, 1, 2, 3, 4, 5, 500000000, time.UTC), ev.Timestamp)
	})
}

func TestDecodeLegacyNova(t *testing.T) {
	decodeBoth(t, "compute.instance.update-rename.json", func(t *testing.T, ev *Event) {
		assert.Equal(t, KindInstanceUpdate, ev.Kind)
		require.NotNil(t, ev.Instance)
		assert.Equal(t, vm1, ev.Instance.ID)
		assert.Equal(t, "worker-1-renamed", ev.Instance.Name)
		assert.Equal(t, "worker-1", ev.Instance.OldName)
		assert.Equal(t, "compute-3", ev.Instance.Host)
		assert.Equal(t, map[string]string{"kubernetes.io/node-name": "worker-1"}, ev.Instance.Metadata, "non-string values are left out")
		assert.Equal(t, []string{vm1}, ev.VMIDs())
		assert.Equal(t, proj1, ev.ProjectID)
	})
	decodeBoth(t, "compute.instance.create.end.json", func(t *testing.T, ev *Event) {
		assert.Equal(t, KindInstanceCreate, ev.Kind)
		assert.Equal(t, []Interface{{MACAddress: "fa:16:3e:0b:00:01", IPAddress: "10.20.0.11"},
			{MACAddress: "fa:16:3e:0b:00:02", IPAddress: "10.30.0.11"}}, ev.Instance.Interfaces)
		assert.Empty(t, ev.PortIDs(), "legacy payloads carry no port ids")
		assert.Equal(t, []string{"fa:16:3e:0b:00:01", "fa:16:3e:0b:00:02"}, ev.MACs())
	})
}

func TestDecodeVersionedNova(t *testing.T) {
	decodeBoth(t, "instance.interface_attach.end.json", func(t *testing.T, ev *Event) {
		assert.Equal(t, KindInterfaceAttach, ev.Kind)
		assert.Equal(t, []string{vm1}, ev.VMIDs())
		assert.Equal(t, []string{port1, "ce531f90-199f-48c0-816c-13e38010b442"}, ev.PortIDs())
		assert.Equal(t, "nova-compute:compute-3", ev.Publisher)
	})
	decodeBoth(t, "instance.update.json", func(t *testing.T, ev *Event) {
		assert.Equal(t, KindInstanceUpdate, ev.Kind)
		assert.Equal(t, "worker-1-renamed", ev.Instance.Name)
		assert.Equal(t, "worker-1", ev.Instance.OldName)
		assert.Equal(t, map[string]string{"kubernetes.io/node-name": "worker-1"}, ev.Instance.Metadata)
	})
	decodeBoth(t, "instance.delete.end.json", func(t *testing.T, ev *Event) {
		assert.Equal(t, KindInstanceDelete, ev.Kind)
		assert.Equal(t, "deleted", ev.Instance.State)
		assert.Equal(t, []string{vm1}, ev.VMIDs())
	})
}

func TestDecodeDrops(t *testing.T) {
	port := string(fixture(t, "port.create.end.json"))
	inner := func(s string) string {
		b, _ := json.Marshal(s)
		return string(b)
	}
	for _, tc := range []struct {
		name   string
		body   string
		reason Reason
		detail string
	}{
		{"not JSON", "\x00\x01binary", ReasonMalformed, "not JSON"},
		{"truncated", port[:len(port)/2], ReasonMalformed, "not JSON"},
		{"empty", "", ReasonMalformed, ""},
		{"JSON string", `"port.create.end"`, ReasonForeign, ""},
		{"JSON array", `[1,2]`, ReasonForeign, ""},
		{"event_type of the wrong type", `{"event_type":5,"payload":{}}`, ReasonForeign, "event_type"},
		{"RPC call", `{"method":"sync_routers","args":{"host":"net-1"},"_msg_id":"x","_reply_q":"reply_1"}`, ReasonForeign, "no event_type"},
		{"v2 with an RPC message inside", `{"oslo.version":"2.0","oslo.message":` + inner(`{"method":"report_state"}`) + `}`, ReasonForeign, ""},
		{"v2 with broken JSON inside", `{"oslo.version":"2.0","oslo.message":"{\"event_type\":"}`, ReasonMalformed, "oslo.message"},
		{"v2 message not a string", `{"oslo.version":"2.0","oslo.message":{"event_type":"port.create.end"}}`, ReasonMalformed, "not a string"},
		{"version 3.0", `{"oslo.version":"3.0","oslo.message":"{}"}`, ReasonUnknownVersion, `"3.0"`},
		{"version 2.1", `{"oslo.version":"2.1","oslo.message":"{}"}`, ReasonUnknownVersion, `"2.1"`},
		{"version garbage", `{"oslo.version":"two","oslo.message":"{}"}`, ReasonUnknownVersion, `"two"`},
		{"version a number", `{"oslo.version":2.0,"oslo.message":"{}"}`, ReasonUnknownVersion, "not a string"},
		{"unknown event", `{"event_type":"network.create.end","message_id":"m","payload":{"network":{}}}`, ReasonUnknownEvent, ""},
		{"start event", `{"event_type":"port.create.start","payload":{"port":{"id":"p"}}}`, ReasonUnknownEvent, ""},
		{"port without payload", `{"event_type":"port.update.end"}`, ReasonBadPayload, "no payload"},
		{"port without id", `{"event_type":"port.update.end","payload":{"port":{"device_id":"vm"}}}`, ReasonBadPayload, "without id"},
		{"port of the wrong shape", `{"event_type":"port.update.end","payload":{"port":["x"]}}`, ReasonBadPayload, "wrong type"},
		{"payload a string", `{"event_type":"port.update.end","payload":"port"}`, ReasonBadPayload, ""},
		{"instance without uuid", `{"event_type":"instance.update","payload":{"nova_object.data":{"display_name":"x"}}}`, ReasonBadPayload, "uuid"},
		{"legacy instance without id", `{"event_type":"compute.instance.update","payload":{"display_name":"x"}}`, ReasonBadPayload, "instance_id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev, err := Decode([]byte(tc.body))
			assert.Nil(t, ev)
			var de *DecodeError
			require.ErrorAs(t, err, &de)
			assert.Equal(t, tc.reason, de.Reason, err.Error())
			assert.Contains(t, err.Error(), tc.detail)
			assert.LessOrEqual(t, len(err.Error()), 3*maxDetail+80, "errors stay one short line")
		})
	}
}

func TestDecodeTooLarge(t *testing.T) {
	// 10 MB of otherwise valid notification: refused by size, unread.
	big := []byte(`{"event_type":"port.update.end","payload":{"port":{"id":"p","description":"` + strings.Repeat("x", 10<<20) + `"}}}`)
	_, err := Decode(big)
	var de *DecodeError
	require.ErrorAs(t, err, &de)
	assert.Equal(t, ReasonTooLarge, de.Reason)
	// The same body is fine under a limit that admits it.
	ev, err := DecodeLimit(big, 11<<20)
	require.NoError(t, err)
	assert.Equal(t, "p", ev.Ports[0].ID)
}

// An error message never carries body text: a notification may hold
// anything, a password in a port description included.
func TestDecodeErrorsDoNotEchoTheBody(t *testing.T) {
	secret := "hunter2-s3cret"
	for _, body := range []string{
		`{"event_type":"port.update.end","payload":{"port":{"id":"","description":"` + secret + `"}}}`,
		`{"event_type":` + `"` + secret + `"}`,
		`{"oslo.version":"` + secret + `","oslo.message":"{}"}`,
		`{"event_type":"port.update.end","payload":{"port":{"id":{"` + secret + `":1}}}}`,
		secret,
	} {
		_, err := Decode([]byte(body))
		require.Error(t, err)
		if strings.Contains(err.Error(), secret) {
			// Event types and versions are quoted on purpose, bounded:
			// they are names, not payload. Anything else must not show.
			var de *DecodeError
			require.ErrorAs(t, err, &de)
			assert.True(t, de.EventType == secret || strings.Contains(de.Detail, "oslo.version"), "body text in %q", err)
		}
	}
}

func TestTimestamps(t *testing.T) {
	for in, want := range map[string]time.Time{
		"2026-01-02 03:04:05.123456":       time.Date(2026, 1, 2, 3, 4, 5, 123456000, time.UTC),
		"2026-01-02 03:04:05":              time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		"2026-01-02T03:04:05.5Z":           time.Date(2026, 1, 2, 3, 4, 5, 500000000, time.UTC),
		"2026-01-02T05:04:05+02:00":        time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		"2026-01-02 03:04:05.000001+00:00": time.Date(2026, 1, 2, 3, 4, 5, 1000, time.UTC),
		"yesterday":                        {},
		"":                                 {},
	} {
		assert.Equal(t, want, parseTimestamp(in), in)
	}
}

func TestEventTypes(t *testing.T) {
	types := EventTypes()
	assert.Contains(t, types, "port.update.end")
	assert.Contains(t, types, "compute.instance.update")
	assert.Contains(t, types, "instance.interface_detach.end")
	assert.IsIncreasing(t, types)
}

func TestDeduper(t *testing.T) {
	d := NewDeduper(3)
	assert.False(t, d.Seen("a"))
	assert.True(t, d.Seen("a"))
	assert.False(t, d.Seen("b"))
	assert.False(t, d.Seen("c"))
	assert.False(t, d.Seen("d"), "evicts a")
	assert.Equal(t, 3, d.Len())
	assert.False(t, d.Seen("a"), "a was forgotten: memory stays bounded")
	assert.True(t, d.Seen("d"))
	assert.False(t, d.Seen(""))
	assert.False(t, d.Seen(""), "no id, no duplicate")
}
