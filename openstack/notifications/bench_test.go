package notifications

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/multinic/multinic/internal/rabbitmqtest"
)

// BenchmarkDecode is the cost of one message by kind: a port event and a
// legacy Nova update (decoded in full), and an event type that does not
// matter (most of a busy bus), each in the 2.0 envelope.
func BenchmarkDecode(b *testing.B) {
	for _, name := range []string{"port.create.end.json", "compute.instance.update-rename.json", "instance.interface_attach.end.json", "unknown"} {
		var body []byte
		if name == "unknown" {
			body = v2(b, []byte(`{"message_id":"m","publisher_id":"network.controller-1","event_type":"network.update.end","priority":"INFO","timestamp":"2026-01-02 03:04:05.123456",
"payload":{"network":{"id":"7d2e4f6a-1b3c-4d5e-8f9a-0b1c2d3e4f5a","name":"net-a","tenant_id":"9f8e7d6c5b4a39281706f5e4d3c2b1a0","admin_state_up":true,"mtu":1450,"status":"ACTIVE","subnets":["c3d4e5f6-a7b8-4c9d-8e0f-1a2b3c4d5e6f"],"shared":false,"availability_zone_hints":[],"availability_zones":["nova"],"ipv4_address_scope":null,"ipv6_address_scope":null,"router:external":false,"description":"","port_security_enabled":true,"qos_policy_id":null,"is_default":false,"tags":[],"created_at":"2026-01-02T03:04:05Z","updated_at":"2026-01-02T03:04:05Z","revision_number":3,"project_id":"9f8e7d6c5b4a39281706f5e4d3c2b1a0","provider:network_type":"vxlan","provider:physical_network":null,"provider:segmentation_id":1042}},
"_context_project_id":"9f8e7d6c5b4a39281706f5e4d3c2b1a0","_unique_id":"8e7d6c5b4a3928170615243c2b1a09f8"}`))
		} else {
			body = v2(b, fixture(b, name))
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				if _, err := Decode(body); err != nil && name != "unknown" {
					b.Fatal(err)
				}
			}
		})
	}
}

// unrelatedTraffic is a busy cloud's bus as the consumer sees it: port and
// instance events of other projects' VMs (decoded in full, then of no use
// to the handler) and event types that do not matter, in the 2.0 envelope,
// each with its own message_id.
func unrelatedTraffic(b *testing.B) func(i int) []byte {
	const placeholder = "MESSAGE-ID-PLACEHOLDER-0000000000000" // 36 bytes, like a UUID
	inners := [][]byte{fixture(b, "port.update.end-detach.json"), fixture(b, "compute.instance.update-rename.json"),
		fixture(b, "instance.update.json"),
		[]byte(`{"publisher_id":"compute.compute-9","event_type":"compute.instance.exists","priority":"INFO","timestamp":"2026-01-02 03:04:05.123456","payload":{"instance_id":"x","tenant_id":"other","audit_period_beginning":"2026-01-01T00:00:00Z","audit_period_ending":"2026-01-02T00:00:00Z","bandwidth":{},"image_meta":{"base_image_ref":"155d900f"},"metadata":{}},"_unique_id":"u"}`)}
	var templates [][]byte
	for _, inner := range inners {
		var m map[string]any
		if err := json.Unmarshal(inner, &m); err != nil {
			b.Fatal(err)
		}
		m["message_id"] = placeholder
		out, err := json.Marshal(m)
		if err != nil {
			b.Fatal(err)
		}
		templates = append(templates, v2(b, out))
	}
	return func(i int) []byte {
		return bytes.Replace(templates[i%len(templates)], []byte(placeholder), fmt.Appendf(nil, "%036d", i), 1)
	}
}

// BenchmarkConsumerUnrelatedTraffic measures a consumer on the real bus
// with unrelated traffic. live: one publisher sends b.N notifications as
// fast as it can while the consumer runs; consumed/s is the consumer's rate,
// published/s the publisher's, and drain-ms how long the consumer needed
// after the last publish (a consumer that keeps up drains at once).
// backlog: b.N notifications wait in the queue when the consumer starts,
// so consumed/s is its own ceiling.
//
//	go test -run '^$' -bench BenchmarkConsumerUnrelatedTraffic -benchtime 50000x ./openstack/notifications/
func BenchmarkConsumerUnrelatedTraffic(b *testing.B) {
	b.Run("live", func(b *testing.B) { benchConsumer(b, false) })
	b.Run("backlog", func(b *testing.B) { benchConsumer(b, true) })
}

func benchConsumer(b *testing.B, backlog bool) {
	broker := rabbitmqtest.Shared(b)
	account := broker.NewAccount(b)
	conn, err := amqp.Dial(account.URL())
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		b.Fatal(err)
	}
	for _, ex := range DefaultExchanges {
		if err := ch.ExchangeDeclare(ex, amqp.ExchangeTopic, false, false, false, false, nil); err != nil {
			b.Fatal(err)
		}
	}
	if err := ch.Confirm(false); err != nil {
		b.Fatal(err)
	}
	body := unrelatedTraffic(b)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cfg := Config{User: account.User, Password: account.Password, URLs: []string{account.Addr},
		Vhost: account.Vhost, Queue: QueueName("bench", strconv.Itoa(b.N))}
	run := func() *Consumer {
		c, err := NewConsumer(cfg, func(Event) {})
		if err != nil {
			b.Fatal(err)
		}
		go func() { _ = c.Run(ctx) }()
		for c.State().Phase != PhaseConnected {
			time.Sleep(10 * time.Millisecond)
		}
		return c
	}
	publish := func() {
		var confirms []*amqp.DeferredConfirmation
		for i := range b.N {
			dc, err := ch.PublishWithDeferredConfirmWithContext(ctx, DefaultExchanges[i%2], "notifications.info", false, false,
				amqp.Publishing{ContentType: "application/json", DeliveryMode: amqp.Persistent, Body: body(i)})
			if err != nil {
				b.Fatal(err)
			}
			confirms = append(confirms, dc)
			if len(confirms) == 1000 || i == b.N-1 {
				for _, dc := range confirms {
					if ok, err := dc.WaitContext(ctx); err != nil || !ok {
						b.Fatalf("publish not confirmed: %v", err)
					}
				}
				confirms = confirms[:0]
			}
		}
	}

	var c *Consumer
	var start, published time.Time
	if backlog {
		// A first consumer declares and binds the queue, then goes away.
		first, stop := run(), cancel
		ctx, cancel = context.WithCancel(context.Background())
		defer cancel()
		stop()
		for first.running.Load() {
			time.Sleep(10 * time.Millisecond)
		}
		publish()
		b.ResetTimer()
		start = time.Now()
		published = start
		c = run()
	} else {
		c = run()
		b.ResetTimer()
		start = time.Now()
		publish()
		published = time.Now()
	}
	deadline := time.Now().Add(5 * time.Minute)
	for c.Stats().Received < uint64(b.N) {
		if time.Now().After(deadline) {
			b.Fatalf("consumer fell behind: %d of %d after 5 minutes", c.Stats().Received, b.N)
		}
		time.Sleep(time.Millisecond)
	}
	done := time.Now()
	b.StopTimer()

	stats := c.Stats()
	if stats.Dropped[ReasonMalformed]+stats.Dropped[ReasonBadPayload]+stats.Dropped[ReasonDuplicate] > 0 || stats.Decoded == 0 {
		b.Fatalf("unexpected counts: %+v", stats)
	}
	b.ReportMetric(float64(b.N)/done.Sub(start).Seconds(), "consumed/s")
	if !backlog {
		b.ReportMetric(float64(b.N)/published.Sub(start).Seconds(), "published/s")
		b.ReportMetric(float64(done.Sub(published).Milliseconds()), "drain-ms")
	}
	b.ReportMetric(0, "ns/op")
}
