package notifications

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/multinic/multinic/internal/rabbitmqtest"
)

// The tests on the shared broker run in parallel: each has a vhost and user
// of its own, and most of their time is spent waiting on the broker (an
// authentication failure alone takes 3 s).
func TestMain(m *testing.M) { os.Exit(rabbitmqtest.Main(m)) }

// Generous: a loaded 2-core machine runs these beside other test binaries.
const wait = 60 * time.Second

// bus is a vhost laid out as an OpenStack cloud's: the neutron and nova
// topic exchanges (of different durability, as clouds differ) and the
// notifications.info queue oslo.messaging's publishers declare for
// ceilometer and friends.
type bus struct {
	t       *testing.T
	broker  *rabbitmqtest.Broker
	account rabbitmqtest.Account
	conn    *amqp.Connection
	ch      *amqp.Channel
}

func newBus(t *testing.T, broker *rabbitmqtest.Broker, exchanges ...string) *bus {
	t.Helper()
	b := &bus{t: t, broker: broker, account: broker.NewAccount(t)}
	b.connect()
	for _, ex := range exchanges {
		b.declareExchange(ex)
	}
	return b
}

func (b *bus) connect() {
	b.t.Helper()
	conn, err := amqp.Dial(b.account.URL())
	require.NoError(b.t, err)
	b.conn = conn
	b.t.Cleanup(func() { conn.Close() })
	b.ch, err = conn.Channel()
	require.NoError(b.t, err)
	require.NoError(b.t, b.ch.Confirm(false))
}

// declareExchange declares an exchange as oslo.messaging's rabbit driver
// does (topic; durable only with amqp_durable_queues, here for nova) with
// the notifications.info queue it creates beside it (one queue for both
// exchanges here, so of one durability).
func (b *bus) declareExchange(name string) {
	b.t.Helper()
	durable := name == "nova"
	require.NoError(b.t, b.ch.ExchangeDeclare(name, amqp.ExchangeTopic, durable, false, false, false, nil))
	_, err := b.ch.QueueDeclare("notifications.info", false, false, false, false, nil)
	require.NoError(b.t, err)
	require.NoError(b.t, b.ch.QueueBind("notifications.info", "notifications.info", name, false, nil))
}

func (b *bus) publish(exchange, key string, body []byte) {
	b.t.Helper()
	dc, err := b.ch.PublishWithDeferredConfirmWithContext(context.Background(), exchange, key, false, false,
		amqp.Publishing{ContentType: "application/json", ContentEncoding: "utf-8", DeliveryMode: amqp.Persistent, Body: body})
	require.NoError(b.t, err)
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	ok, err := dc.WaitContext(ctx)
	require.NoError(b.t, err)
	require.True(b.t, ok, "the broker nacked a publish")
}

func (b *bus) config(queue string) Config {
	return Config{
		User: b.account.User, Password: b.account.Password, URLs: []string{b.account.Addr},
		Vhost: b.account.Vhost, Queue: queue,
		MinBackoff: 50 * time.Millisecond, MaxBackoff: 500 * time.Millisecond, RecheckInterval: 200 * time.Millisecond,
	}
}

func (b *bus) queueDepth(name string) int {
	b.t.Helper()
	ch, err := b.conn.Channel()
	require.NoError(b.t, err)
	defer ch.Close()
	q, err := ch.QueueDeclarePassive(name, false, false, false, false, nil)
	require.NoError(b.t, err)
	return q.Messages
}

// harness runs a consumer and collects what it hands out.
type harness struct {
	t        *testing.T
	c        *Consumer
	mu       sync.Mutex
	events   []Event
	connects atomic.Int32
	states   chan State
	cancel   context.CancelFunc
	done     chan error
	password string
}

func start(t *testing.T, cfg Config) *harness {
	t.Helper()
	h := &harness{t: t, states: make(chan State, 1000), done: make(chan error, 1), password: cfg.Password}
	cfg.OnConnect = func() { h.connects.Add(1) }
	cfg.OnState = func(s State) {
		select {
		case h.states <- s:
		default:
		}
	}
	c, err := NewConsumer(cfg, func(ev Event) {
		h.mu.Lock()
		h.events = append(h.events, ev)
		h.mu.Unlock()
	})
	require.NoError(t, err)
	h.c = c
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	go func() { h.done <- c.Run(ctx) }()
	t.Cleanup(h.stop)
	return h
}

func (h *harness) stop() {
	h.cancel()
	select {
	case err := <-h.done:
		h.done <- err
	case <-time.After(wait):
		h.t.Error("the consumer did not stop")
	}
	h.assertNoPassword()
}

func (h *harness) got() []Event {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]Event(nil), h.events...)
}

// waitEvents waits until n events arrived.
func (h *harness) waitEvents(n int) []Event {
	h.t.Helper()
	require.Eventually(h.t, func() bool { return len(h.got()) >= n }, wait, 10*time.Millisecond,
		"waiting for %d events; state %+v, stats %+v", n, h.c.State(), h.c.Stats())
	return h.got()
}

func (h *harness) waitPhase(p Phase) State {
	h.t.Helper()
	require.Eventually(h.t, func() bool { return h.c.State().Phase == p }, wait, 10*time.Millisecond,
		"waiting for phase %s; state %+v", p, h.c.State())
	return h.c.State()
}

func (h *harness) waitConnects(n int32) {
	h.t.Helper()
	require.Eventually(h.t, func() bool { return h.connects.Load() >= n }, wait, 10*time.Millisecond,
		"waiting for %d connects; state %+v", n, h.c.State())
}

// assertNoPassword checks every state the consumer reported.
func (h *harness) assertNoPassword() {
	for {
		select {
		case s := <-h.states:
			assert.NotContains(h.t, fmt.Sprintf("%+v", s), h.password)
		default:
			assert.NotContains(h.t, fmt.Sprintf("%+v", h.c.State()), h.password)
			return
		}
	}
}

func TestConsumerV1AndV2FromBothExchanges(t *testing.T) {
	t.Parallel()
	b := newBus(t, rabbitmqtest.Shared(t), "neutron", "nova")
	queue := QueueName("multinic-system", "provider-1")
	h := start(t, b.config(queue))
	state := h.waitPhase(PhaseConnected)
	assert.Equal(t, []string{"neutron", "nova"}, state.Bound)
	assert.Equal(t, b.account.Addr, state.Broker)
	assert.True(t, state.Receiving())
	h.waitConnects(1)

	port := fixture(t, "port.create.end.json")
	b.publish("neutron", "notifications.info", v2(t, port))                                    // messagingv2
	b.publish("nova", "notifications.info", fixture(t, "compute.instance.update-rename.json")) // messaging (v1)
	b.publish("neutron", "notifications.error", v2(t, port))                                   // a priority not bound
	events := h.waitEvents(2)

	byKind := map[Kind]Event{}
	for _, ev := range events {
		byKind[ev.Kind] = ev
	}
	assert.Equal(t, 2, byKind[KindPortCreate].EnvelopeVersion)
	assert.Equal(t, []string{vm1}, byKind[KindPortCreate].VMIDs())
	assert.Equal(t, 1, byKind[KindInstanceUpdate].EnvelopeVersion)
	assert.Equal(t, "worker-1-renamed", byKind[KindInstanceUpdate].Instance.Name)

	stats := h.c.Stats()
	assert.Equal(t, uint64(2), stats.Received)
	assert.Equal(t, uint64(2), stats.Decoded)
	assert.False(t, stats.LastDelivery.IsZero())

	// Our queue is durable, shared (not exclusive) and capped; other
	// consumers' notifications.info keeps every message.
	out, err := b.broker.Ctl("list_queues", "-p", b.account.Vhost, "name", "durable", "exclusive", "arguments")
	require.NoError(t, err)
	var line string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, queue+"\t") {
			line = l
		}
	}
	require.NotEmpty(t, line, out)
	assert.Contains(t, line, "\ttrue\tfalse\t")
	for _, arg := range []string{"x-expires", "1800000", "x-max-length", "50000", "x-max-length-bytes", "x-overflow", "drop-head"} {
		assert.Contains(t, line, arg)
	}
	assert.Equal(t, 2, b.queueDepth("notifications.info"), "nothing was taken from other consumers' queue")

	bindings, err := b.broker.Ctl("list_bindings", "-p", b.account.Vhost, "source_name", "destination_name", "routing_key")
	require.NoError(t, err)
	assert.Contains(t, bindings, "neutron\t"+queue+"\tnotifications.info")
	assert.Contains(t, bindings, "nova\t"+queue+"\tnotifications.info")
}

// Every kind of poison is acknowledged and counted; the consumer goes on,
// and nothing stays in the queue to be redelivered in a loop.
func TestConsumerPoisonMessages(t *testing.T) {
	t.Parallel()
	b := newBus(t, rabbitmqtest.Shared(t), "neutron", "nova")
	queue := QueueName("test", "poison")
	h := start(t, b.config(queue))
	h.waitPhase(PhaseConnected)

	good := v2(t, fixture(t, "port.create.end.json"))
	poison := map[Reason][][]byte{
		ReasonMalformed:      {[]byte("\x00\x01 not json"), []byte(`{"oslo.version":"2.0","oslo.message":"{broken"}`)},
		ReasonUnknownVersion: {[]byte(`{"oslo.version":"3.0","oslo.message":"{}"}`)},
		ReasonTooLarge:       {[]byte(`{"event_type":"port.update.end","payload":"` + strings.Repeat("x", 10<<20) + `"}`)},
		ReasonUnknownEvent: {[]byte(`{"event_type":"network.create.end","message_id":"n1","payload":{}}`),
			[]byte(`{"event_type":"compute.instance.exists","message_id":"n2","payload":{"instance_id":"x"}}`)},
		ReasonForeign:    {[]byte(`{"method":"report_state","args":{}}`)},
		ReasonBadPayload: {[]byte(`{"event_type":"port.update.end","message_id":"n3","payload":{"port":{}}}`)},
	}
	total := 0
	for _, bodies := range poison {
		for _, body := range bodies {
			b.publish("neutron", "notifications.info", body)
			total++
		}
	}
	b.publish("neutron", "notifications.info", good)
	b.publish("neutron", "notifications.info", good) // same message_id: a duplicate
	total += 2
	events := h.waitEvents(1)
	require.Eventually(t, func() bool { return h.c.Stats().Received == uint64(total) }, wait, 10*time.Millisecond)

	stats := h.c.Stats()
	assert.Len(t, events, 1)
	assert.Equal(t, uint64(1), stats.Decoded)
	for reason, bodies := range poison {
		assert.Equal(t, uint64(len(bodies)), stats.Dropped[reason], reason)
	}
	assert.Equal(t, uint64(1), stats.Dropped[ReasonDuplicate])
	assert.Equal(t, PhaseConnected, h.c.State().Phase)
	// All acknowledged: nothing ready, nothing unacknowledged.
	require.Eventually(t, func() bool {
		out, err := b.broker.Ctl("list_queues", "-p", b.account.Vhost, "name", "messages")
		return err == nil && strings.Contains(out, queue+"\t0")
	}, wait, 100*time.Millisecond)
}

func TestConsumerHandlerPanicIsContained(t *testing.T) {
	t.Parallel()
	b := newBus(t, rabbitmqtest.Shared(t), "neutron", "nova")
	cfg := b.config(QueueName("test", "panic"))
	var calls atomic.Int32
	c, err := NewConsumer(cfg, func(ev Event) {
		if calls.Add(1) == 1 {
			panic("handler bug")
		}
	})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = c.Run(ctx) }()
	require.Eventually(t, func() bool { return c.State().Phase == PhaseConnected }, wait, 10*time.Millisecond)
	b.publish("neutron", "notifications.info", v2(t, fixture(t, "port.create.end.json")))
	b.publish("nova", "notifications.info", v2(t, fixture(t, "instance.update.json")))
	require.Eventually(t, func() bool { return calls.Load() == 2 }, wait, 10*time.Millisecond)
	assert.Equal(t, uint64(1), c.Stats().Dropped[ReasonHandlerPanic])
	assert.Equal(t, uint64(1), c.Stats().Decoded)
}

func TestConsumerWrongPassword(t *testing.T) {
	t.Parallel()
	b := newBus(t, rabbitmqtest.Shared(t), "neutron", "nova")
	cfg := b.config(QueueName("test", "auth"))
	cfg.Password = "wrong-password-123"
	h := start(t, cfg)
	state := h.waitPhase(PhaseAuthFailed)
	assert.Equal(t, b.account.Addr, state.Broker)
	assert.Contains(t, state.Message, "password not allowed (AMQP 403)")
	assert.NotContains(t, state.Message, cfg.Password)
	require.Eventually(t, func() bool { return h.c.Stats().ConnectFailures >= 2 }, wait, 10*time.Millisecond, "it keeps trying")
	assert.Zero(t, h.connects.Load())

	cfg = b.config(QueueName("test", "vhost"))
	cfg.Vhost = "no-such-vhost"
	h2 := start(t, cfg)
	state = h2.waitPhase(PhaseAuthFailed)
	assert.Contains(t, state.Message, "no-such-vhost")
}

func TestConsumerNoCredentials(t *testing.T) {
	c, err := NewConsumer(Config{Queue: "q", URLs: []string{"127.0.0.1:1"}}, func(Event) {})
	require.NoError(t, err)
	assert.Equal(t, PhaseNoCredentials, c.State().Phase)
	assert.ErrorIs(t, c.Run(context.Background()), ErrNoCredentials)
	assert.Equal(t, PhaseNoCredentials, c.State().Phase)
}

// Exchanges appear when their service first publishes: the consumer waits
// for the first, consumes it while another is missing, and binds that one
// when it appears, with a full pass (OnConnect) each time.
func TestConsumerExchangeAbsent(t *testing.T) {
	t.Parallel()
	b := newBus(t, rabbitmqtest.Shared(t))
	h := start(t, b.config(QueueName("test", "absent")))
	state := h.waitPhase(PhaseExchangeNotFound)
	assert.Contains(t, state.Message, "neutron")
	assert.False(t, state.Receiving())
	assert.Zero(t, h.connects.Load())

	b.declareExchange("neutron")
	h.waitConnects(1)
	state = h.waitPhase(PhaseExchangeNotFound)
	assert.Equal(t, []string{"neutron"}, state.Bound)
	assert.Equal(t, []string{"nova"}, state.Missing)
	assert.True(t, state.Receiving())
	b.publish("neutron", "notifications.info", v2(t, fixture(t, "port.create.end.json")))
	h.waitEvents(1)

	b.declareExchange("nova")
	h.waitConnects(2)
	state = h.waitPhase(PhaseConnected)
	assert.Equal(t, []string{"neutron", "nova"}, state.Bound)
	b.publish("nova", "notifications.info", v2(t, fixture(t, "instance.update.json")))
	h.waitEvents(2)
}

// A deleted queue (an admin's cleanup, a policy) cancels the subscription;
// the consumer declares it again, runs a full pass and goes on.
func TestConsumerQueueDeleted(t *testing.T) {
	t.Parallel()
	b := newBus(t, rabbitmqtest.Shared(t), "neutron", "nova")
	queue := QueueName("test", "deleted")
	h := start(t, b.config(queue))
	h.waitConnects(1)
	_, err := b.ch.QueueDelete(queue, false, false, false)
	require.NoError(t, err)
	h.waitConnects(2)
	assert.Equal(t, uint64(1), h.c.Stats().Reconnects)
	b.publish("neutron", "notifications.info", v2(t, fixture(t, "port.create.end.json")))
	h.waitEvents(1)
}

// A queue left with other arguments (an older version's defaults) is ours:
// it is declared anew instead of failing forever.
func TestConsumerQueueWithOtherArguments(t *testing.T) {
	t.Parallel()
	b := newBus(t, rabbitmqtest.Shared(t), "neutron", "nova")
	queue := QueueName("test", "args")
	_, err := b.ch.QueueDeclare(queue, true, false, false, false, amqp.Table{"x-max-length": int64(10)})
	require.NoError(t, err)
	h := start(t, b.config(queue))
	h.waitPhase(PhaseConnected)
	b.publish("neutron", "notifications.info", v2(t, fixture(t, "port.create.end.json")))
	h.waitEvents(1)
}

// The first broker address is down: the consumer moves on to the next.
func TestConsumerTriesEveryURL(t *testing.T) {
	t.Parallel()
	b := newBus(t, rabbitmqtest.Shared(t), "neutron", "nova")
	dead, err := rabbitmqtest.NewProxy("127.0.0.1:1")
	require.NoError(t, err)
	dead.Refuse(true)
	defer dead.Close()
	cfg := b.config(QueueName("test", "urls"))
	cfg.URLs = []string{dead.Addr(), "amqp://ignored:ignored@" + b.account.Addr}
	h := start(t, cfg)
	state := h.waitPhase(PhaseConnected)
	assert.Equal(t, b.account.Addr, state.Broker)
	assert.GreaterOrEqual(t, h.c.Stats().ConnectFailures, uint64(1))
}

// Network faults between consumer and broker, through a TCP proxy: a cut
// connection and a silent black hole (found by heartbeats). Each time the
// consumer reconnects, runs a full pass, and receives what is announced
// from then on.
func TestConsumerConnectionDropped(t *testing.T) {
	t.Parallel()
	b := newBus(t, rabbitmqtest.Shared(t), "neutron", "nova")
	proxy, err := rabbitmqtest.NewProxy(b.account.Addr)
	require.NoError(t, err)
	defer proxy.Close()
	cfg := b.config(QueueName("test", "dropped"))
	cfg.URLs = []string{proxy.Addr()}
	cfg.Heartbeat = time.Second
	h := start(t, cfg)
	h.waitConnects(1)

	proxy.Cut()
	h.waitConnects(2)
	b.publish("neutron", "notifications.info", v2(t, fixture(t, "port.create.end.json")))
	h.waitEvents(1)

	proxy.Blackhole(true)
	h.waitPhase(PhaseDisconnected)
	proxy.Blackhole(false)
	proxy.Cut() // the old connections are dead anyway
	h.waitConnects(3)
	b.publish("nova", "notifications.info", v2(t, fixture(t, "instance.update.json")))
	h.waitEvents(2)
	assert.GreaterOrEqual(t, h.c.Stats().Reconnects, uint64(2))
	assert.Equal(t, PhaseConnected, h.c.State().Phase)
}

// The broker stops and starts again (an upgrade, a crash): the consumer
// says so, reconnects, runs a full pass, and loses nothing announced once
// the broker is back, nor what a durable exchange queued meanwhile.
func TestConsumerBrokerRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("boots a broker of its own")
	}
	broker, err := rabbitmqtest.Start()
	if err != nil {
		rabbitmqtest.Unavailable(t, err)
	}
	defer broker.Close()
	b := newBus(t, broker, "neutron", "nova")
	h := start(t, b.config(QueueName("test", "restart")))
	h.waitConnects(1)

	require.NoError(t, broker.Stop())
	state := h.waitPhase(PhaseDisconnected)
	assert.Equal(t, b.account.Addr, state.Broker)
	require.NoError(t, broker.Restart())

	// Publishers come back first: the durable nova exchange kept its
	// binding, so this is queued for the consumer; the transient neutron
	// exchange is gone until its service declares it again.
	b.connect()
	b.publish("nova", "notifications.info", v2(t, fixture(t, "instance.update.json")))
	h.waitConnects(2)
	b.declareExchange("neutron")
	// Binding the reappeared exchange is a full pass of its own: what it
	// carried before the binding went only to other consumers' queues.
	h.waitConnects(3)
	h.waitPhase(PhaseConnected)
	b.publish("neutron", "notifications.info", v2(t, fixture(t, "port.create.end.json")))
	events := h.waitEvents(2)
	kinds := []Kind{events[0].Kind, events[1].Kind}
	assert.ElementsMatch(t, []Kind{KindInstanceUpdate, KindPortCreate}, kinds)
	assert.Equal(t, PhaseConnected, h.c.State().Phase)
}

// Permissions gives what the consumer needs, and it needs no more.
func TestConsumerWithLeastPrivileges(t *testing.T) {
	t.Parallel()
	broker := rabbitmqtest.Shared(t)
	b := newBus(t, broker, "neutron", "nova")
	queue := QueueName("test", "least")
	configure, write, read := Permissions(queue, nil)
	restricted, err := broker.AddAccount(b.account.Vhost, rabbitmqtest.Permissions{Configure: configure, Write: write, Read: read})
	require.NoError(t, err)
	cfg := b.config(queue)
	cfg.User, cfg.Password = restricted.User, restricted.Password
	h := start(t, cfg)
	h.waitPhase(PhaseConnected)
	b.publish("neutron", "notifications.info", v2(t, fixture(t, "port.create.end.json")))
	h.waitEvents(1)

	res, err := Check(context.Background(), cfg)
	require.NoError(t, err)
	assert.True(t, res.Queue.Exists)

	// The same user may not touch other consumers' queue.
	conn, err := amqp.Dial(restricted.URL())
	require.NoError(t, err)
	defer conn.Close()
	ch, err := conn.Channel()
	require.NoError(t, err)
	_, err = ch.Consume("notifications.info", "", false, false, false, false, nil)
	var amqpErr *amqp.Error
	require.ErrorAs(t, err, &amqpErr)
	assert.Equal(t, amqp.AccessRefused, amqpErr.Code)

	// Without read on the exchanges, binding fails: AuthFailed, saying what.
	denied, err := broker.AddAccount(b.account.Vhost, rabbitmqtest.Permissions{Configure: configure, Write: write, Read: "^$"})
	require.NoError(t, err)
	cfg.User, cfg.Password = denied.User, denied.Password
	cfg.Queue = queue // same queue; it exists already
	h2 := start(t, cfg)
	state := h2.waitPhase(PhaseAuthFailed)
	assert.Contains(t, state.Message, "ACCESS_REFUSED")
}

func TestCheck(t *testing.T) {
	t.Parallel()
	broker := rabbitmqtest.Shared(t)
	b := newBus(t, broker, "neutron", "nova")
	queue := QueueName("test", "check")
	cfg := b.config(queue)

	res, err := Check(context.Background(), cfg)
	require.NoError(t, err)
	assert.Equal(t, b.account.Addr, res.Broker)
	assert.Equal(t, []ExchangeStatus{{"neutron", true}, {"nova", true}}, res.Exchanges)
	assert.Equal(t, []string{"neutron/notifications.info", "nova/notifications.info"}, res.Bindings)
	assert.Equal(t, QueueStatus{Name: queue}, res.Queue, "no consumer ran yet")

	// It consumed nothing and left nothing behind.
	out, err := broker.Ctl("list_queues", "-p", b.account.Vhost, "name")
	require.NoError(t, err)
	assert.NotContains(t, out, queue)
	b.publish("neutron", "notifications.info", v2(t, fixture(t, "port.create.end.json")))
	assert.Equal(t, 1, b.queueDepth("notifications.info"))

	// With a consumer's queue holding messages.
	h := start(t, cfg)
	h.waitConnects(1)
	h.stop()
	b.publish("neutron", "notifications.info", v2(t, fixture(t, "port.create.end.json")))
	res, err = Check(context.Background(), cfg)
	require.NoError(t, err)
	assert.Equal(t, QueueStatus{Name: queue, Exists: true, Messages: 1}, res.Queue)

	bad := cfg
	bad.Password = "not-the-password"
	_, err = Check(context.Background(), bad)
	var e *Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, PhaseAuthFailed, e.Phase)
	assert.NotContains(t, err.Error(), bad.Password)

	empty := newBus(t, broker, "neutron")
	res, err = Check(context.Background(), empty.config(queue))
	require.ErrorAs(t, err, &e)
	assert.Equal(t, PhaseExchangeNotFound, e.Phase)
	assert.Contains(t, e.Error(), "nova")
	assert.Equal(t, []ExchangeStatus{{"neutron", true}, {"nova", false}}, res.Exchanges)
	assert.Equal(t, []string{"neutron/notifications.info"}, res.Bindings)

	_, err = Check(context.Background(), Config{Queue: queue})
	require.ErrorAs(t, err, &e)
	assert.Equal(t, PhaseNoCredentials, e.Phase)
	assert.ErrorIs(t, err, ErrNoCredentials)

	down := cfg
	down.URLs = []string{"127.0.0.1:1"}
	_, err = Check(context.Background(), down)
	require.ErrorAs(t, err, &e)
	assert.Equal(t, PhaseDisconnected, e.Phase)
	assert.Contains(t, err.Error(), "127.0.0.1:1")
}

func TestConfig(t *testing.T) {
	assert.Equal(t, "multinic.multinic-system.3f2a-b", QueueName("multinic-system", "3f2a/b"))
	assert.LessOrEqual(t, len(QueueName(strings.Repeat("x", 300), "p")), 255)

	for in, want := range map[string]string{
		"10.0.0.1:5672":                 "10.0.0.1:5672",
		"rabbit-1":                      "rabbit-1:5672",
		"[fd00::1]:5673":                "[fd00::1]:5673",
		"amqp://u:secret@host-a:5679/v": "host-a:5679",
		"amqps://host-b":                "host-b:5671",
	} {
		got, err := parseAddr(in, false)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	for _, in := range []string{"host:0", "host:99999", "host:x", "amqp://user:s3cret-pw@:5672", ""} {
		_, err := parseAddr(in, false)
		require.Error(t, err, in)
		assert.NotContains(t, err.Error(), "s3cret-pw")
	}

	_, err := NewConsumer(Config{User: "u", Password: "p", URLs: []string{"h"}}, func(Event) {})
	assert.ErrorContains(t, err, "queue name")
	_, err = NewConsumer(Config{Queue: "q", TLS: &TLSConfig{CAPEM: []byte("not pem")}}, func(Event) {})
	assert.ErrorContains(t, err, "PEM")
	_, err = NewConsumer(Config{Queue: "q"}, nil)
	assert.Error(t, err)

	configure, write, read := Permissions("multinic.a.b", nil)
	assert.Equal(t, `^multinic\.a\.b(\.check\..*)?$`, configure)
	assert.Equal(t, configure, write)
	assert.Equal(t, `^(multinic\.a\.b(\.check\..*)?|neutron|nova)$`, read)
}

// TLS: the broker's CA verifies it; without that CA the certificate is
// refused unless the insecure opt-in is set.
func TestConsumerTLS(t *testing.T) {
	if testing.Short() {
		t.Skip("boots a broker of its own")
	}
	broker, err := rabbitmqtest.StartTLS()
	if err != nil {
		rabbitmqtest.Unavailable(t, err)
	}
	defer broker.Close()
	b := newBus(t, broker, "neutron", "nova")
	cfg := b.config(QueueName("test", "tls"))
	cfg.URLs = []string{broker.TLSAddr()}
	cfg.TLS = &TLSConfig{CAPEM: broker.CAPEM}
	h := start(t, cfg)
	state := h.waitPhase(PhaseConnected)
	assert.Equal(t, broker.TLSAddr(), state.Broker)
	b.publish("neutron", "notifications.info", v2(t, fixture(t, "port.create.end.json")))
	h.waitEvents(1)
	res, err := Check(context.Background(), cfg)
	require.NoError(t, err)
	assert.Equal(t, broker.TLSAddr(), res.Broker)

	untrusted := cfg
	untrusted.TLS = &TLSConfig{}
	untrusted.Queue = QueueName("test", "tls-untrusted")
	h2 := start(t, untrusted)
	require.Eventually(t, func() bool { return strings.Contains(h2.c.State().Message, "certificate") }, wait, 10*time.Millisecond,
		"state %+v", h2.c.State())
	assert.Equal(t, PhaseDisconnected, h2.c.State().Phase)

	insecure := untrusted
	insecure.TLS = &TLSConfig{InsecureSkipVerify: true}
	h3 := start(t, insecure)
	h3.waitPhase(PhaseConnected)
}
