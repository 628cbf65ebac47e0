package notifications

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/multinic/multinic/internal/rabbitmqtest"
)

// osloNotify publishes notifications with oslo.messaging's own Notifier
// (operator/hack/oslo-notify.py, on Debian's python3-oslo.messaging).
func osloNotify(t *testing.T, account rabbitmqtest.Account, notes ...map[string]any) {
	t.Helper()
	python := rabbitmqtest.OsloPython(t)
	var in bytes.Buffer
	for _, n := range notes {
		line, err := json.Marshal(n)
		require.NoError(t, err)
		in.Write(append(line, '\n'))
	}
	url := "rabbit://" + account.User + ":" + account.Password + "@" + account.Addr + "/" + account.Vhost
	cmd := exec.Command(python, filepath.Join("..", "..", "operator", "hack", "oslo-notify.py"), url)
	cmd.Stdin = &in
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "oslo-notify.py:\n%s", out)
	require.Contains(t, string(out), "sent")
}

// note is a fixture's notification, to be sent by oslo.messaging.
func note(t *testing.T, fixtureName, exchange, driver, topic string) map[string]any {
	t.Helper()
	var n map[string]any
	require.NoError(t, json.Unmarshal(fixture(t, fixtureName), &n))
	return map[string]any{"exchange": exchange, "driver": driver, "topic": topic,
		"publisher_id": n["publisher_id"], "event_type": n["event_type"], "payload": n["payload"],
		"context": map[string]any{"project_id": "ctx-project", "user_id": "ctx-user"}}
}

// The format test: notifications sent by OpenStack's own notifier library,
// in both drivers (messagingv2 and the 1.0 messaging), on the legacy and
// the versioned topic, through exchanges the notifier declares itself.
func TestOsloMessagingNotifier(t *testing.T) {
	t.Parallel()
	b := newBus(t, rabbitmqtest.Shared(t)) // no exchanges: the services declare them
	cfg := b.config(QueueName("test", "oslo"))
	cfg.Topics = []string{"notifications", "versioned_notifications"}
	h := start(t, cfg)
	h.waitPhase(PhaseExchangeNotFound)

	// A service's first notification declares its exchange (and oslo's own
	// notifications.info queue, which keeps it); the consumer binds then.
	osloNotify(t, b.account,
		map[string]any{"exchange": "neutron", "publisher_id": "network.warmup", "event_type": "network.create.end", "payload": map[string]any{}},
		map[string]any{"exchange": "nova", "publisher_id": "compute.warmup", "event_type": "compute.instance.exists", "payload": map[string]any{}})
	h.waitPhase(PhaseConnected)

	before := time.Now().Add(-time.Minute)
	osloNotify(t, b.account,
		note(t, "port.create.end.json", "neutron", "messagingv2", "notifications"),
		note(t, "port.update.end-detach.json", "neutron", "messaging", "notifications"),
		note(t, "compute.instance.update-rename.json", "nova", "messagingv2", "notifications"),
		note(t, "instance.interface_attach.end.json", "nova", "messagingv2", "versioned_notifications"),
		map[string]any{"exchange": "neutron", "publisher_id": "network.controller-1", "event_type": "network.update.end",
			"payload": map[string]any{"network": map[string]any{"id": "n-1"}}},
	)
	events := h.waitEvents(4)
	require.Eventually(t, func() bool { return h.c.Stats().Received == 5 }, wait, 10*time.Millisecond)

	uuid := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	byType := map[string]Event{}
	for _, ev := range events {
		byType[ev.EventType] = ev
		assert.Regexp(t, uuid, ev.MessageID, "oslo.messaging sets a uuid4 message_id")
		assert.Equal(t, "INFO", ev.Priority)
		assert.True(t, ev.Timestamp.After(before) && ev.Timestamp.Before(time.Now().Add(time.Minute)),
			"timestamp %s read as UTC now", ev.Timestamp)
	}
	require.Len(t, byType, 4)

	port := byType["port.create.end"]
	assert.Equal(t, 2, port.EnvelopeVersion)
	assert.Equal(t, "network.controller-1", port.Publisher)
	assert.Equal(t, []string{vm1}, port.VMIDs())
	assert.Equal(t, proj1, port.ProjectID)

	detach := byType["port.update.end"]
	assert.Equal(t, 1, detach.EnvelopeVersion, "driver = messaging sends no envelope")
	assert.Empty(t, detach.VMIDs())
	assert.Equal(t, []string{port1}, detach.PortIDs())

	rename := byType["compute.instance.update"]
	assert.Equal(t, "worker-1-renamed", rename.Instance.Name)
	assert.Equal(t, "worker-1", rename.Instance.OldName)

	attach := byType["instance.interface_attach.end"]
	assert.Equal(t, KindInterfaceAttach, attach.Kind)
	assert.Contains(t, attach.PortIDs(), port1)

	stats := h.c.Stats()
	assert.Equal(t, uint64(1), stats.Dropped[ReasonUnknownEvent], "network.update.end")
	for _, r := range Reasons() {
		if r != ReasonUnknownEvent {
			assert.Zero(t, stats.Dropped[r], r)
		}
	}

	// What oslo.messaging put on the wire besides the payload: the 2.0
	// envelope with the context packed as _context_* fields.
	ch, err := b.conn.Channel()
	require.NoError(t, err)
	defer ch.Close()
	msg, ok, err := ch.Get("notifications.info", true)
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, "application/json", msg.ContentType)
	var env map[string]any
	require.NoError(t, json.Unmarshal(msg.Body, &env))
	assert.Equal(t, "2.0", env["oslo.version"])
	assert.Contains(t, env["oslo.message"], `"_unique_id"`, "%v", env)
}
