package notifications

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// Consumer consumes one provider's notifications. Create it with
// NewConsumer, run it with Run; State and Stats may be read at any time
// from any goroutine.
type Consumer struct {
	cfg    Config
	addrs  []string
	handle func(Event)
	dedup  *Deduper

	running atomic.Bool

	mu    sync.Mutex
	state State

	received, decoded, reconnects, connectFailures atomic.Uint64
	dropped                                        map[Reason]*atomic.Uint64
	lastDelivery                                   atomic.Int64 // unix nanoseconds
	connectedOnce                                  bool         // only touched by Run's goroutine
}

// Stats are a consumer's counters since it was created; all only grow.
type Stats struct {
	// Received counts every message taken from the queue.
	Received uint64
	// Decoded counts events handed to the handler.
	Decoded uint64
	// Dropped counts messages that gave no event, per reason; every reason
	// is present.
	Dropped map[Reason]uint64
	// Reconnects counts subscriptions after the first one.
	Reconnects uint64
	// ConnectFailures counts connection attempts that did not end
	// subscribed.
	ConnectFailures uint64
	// LastDelivery is when the last message of any kind arrived; zero
	// before the first. A bus that stays quiet while polls find changes has
	// notifications off upstream.
	LastDelivery time.Time
}

// NewConsumer checks cfg and returns a consumer that hands each decoded,
// not yet seen event to handle, one at a time from its own goroutine, and
// acknowledges the message once handle returns. handle must not block for
// long: the broker sends at most Prefetch messages ahead. A config without
// credentials is accepted; its consumer's State is NoCredentials and Run
// returns ErrNoCredentials.
func NewConsumer(cfg Config, handle func(Event)) (*Consumer, error) {
	if handle == nil {
		return nil, errors.New("notifications: NewConsumer needs an event handler")
	}
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	c := &Consumer{cfg: cfg, handle: handle, dedup: NewDeduper(cfg.DedupWindow), dropped: map[Reason]*atomic.Uint64{}}
	for _, r := range Reasons() {
		c.dropped[r] = new(atomic.Uint64)
	}
	for _, u := range cfg.URLs {
		addr, _ := parseAddr(u, cfg.TLS != nil) // validated above
		c.addrs = append(c.addrs, addr)
	}
	c.state = State{Phase: PhaseDisconnected, Message: "not started", Since: time.Now()}
	if !cfg.hasCredentials() {
		c.state = State{Phase: PhaseNoCredentials, Message: ErrNoCredentials.Error(), Since: time.Now()}
	}
	return c, nil
}

// State returns the consumer's current health.
func (c *Consumer) State() State {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.state
	s.Bound, s.Missing = slices.Clone(s.Bound), slices.Clone(s.Missing)
	return s
}

// Stats returns a snapshot of the counters.
func (c *Consumer) Stats() Stats {
	s := Stats{
		Received:        c.received.Load(),
		Decoded:         c.decoded.Load(),
		Reconnects:      c.reconnects.Load(),
		ConnectFailures: c.connectFailures.Load(),
		Dropped:         make(map[Reason]uint64, len(c.dropped)),
	}
	for r, n := range c.dropped {
		s.Dropped[r] = n.Load()
	}
	if ns := c.lastDelivery.Load(); ns != 0 {
		s.LastDelivery = time.Unix(0, ns)
	}
	return s
}

// Queue is the name of the consumer's queue.
func (c *Consumer) Queue() string { return c.cfg.Queue }

func (c *Consumer) setState(s State) {
	c.mu.Lock()
	old := c.state
	if old.Phase == s.Phase && old.Broker == s.Broker && old.Message == s.Message &&
		slices.Equal(old.Bound, s.Bound) && slices.Equal(old.Missing, s.Missing) {
		c.mu.Unlock()
		return
	}
	s.Since = old.Since
	if old.Phase != s.Phase {
		s.Since = time.Now()
	}
	c.state = s
	c.mu.Unlock()
	if s.Phase == PhaseConnected || s.Phase == PhaseExchangeNotFound {
		c.cfg.Logger.Info("notifications: subscribed", "broker", s.Broker, "queue", c.cfg.Queue, "bound", s.Bound, "missing", s.Missing)
	} else {
		c.cfg.Logger.Info("notifications: not subscribed", "phase", s.Phase, "broker", s.Broker, "reason", s.Message)
	}
	if c.cfg.OnState != nil {
		c.cfg.OnState(s)
	}
}

// Run connects and consumes until ctx ends, reconnecting over all URLs with
// a jittered, doubling back-off; it returns ctx's error, or
// ErrNoCredentials at once for a config without credentials. A Consumer
// runs once at a time.
func (c *Consumer) Run(ctx context.Context) error {
	if !c.running.CompareAndSwap(false, true) {
		return errors.New("notifications: consumer is already running")
	}
	defer c.running.Store(false)
	if !c.cfg.hasCredentials() {
		c.setState(State{Phase: PhaseNoCredentials, Message: ErrNoCredentials.Error()})
		return ErrNoCredentials
	}
	backoff := c.cfg.MinBackoff
	first := 0
	for {
		subscribed := false
		for i := range c.addrs {
			addr := c.addrs[(first+i)%len(c.addrs)]
			was, err := c.session(ctx, addr)
			if ctx.Err() != nil {
				c.setState(State{Phase: PhaseDisconnected, Broker: addr, Message: "stopped"})
				return ctx.Err()
			}
			e := classify(err, addr, "", c.cfg.Password)
			if !was {
				c.connectFailures.Add(1)
			}
			c.setState(State{Phase: e.Phase, Broker: addr, Message: e.Msg})
			if was {
				// Come back to the broker that worked first; the others
				// follow if it is gone.
				subscribed, first = true, (first+i)%len(c.addrs)
				break
			}
		}
		wait := c.cfg.MinBackoff
		if subscribed {
			backoff = c.cfg.MinBackoff
		} else {
			wait = backoff
			backoff = min(2*backoff, c.cfg.MaxBackoff)
		}
		// Full jitter on the upper half: consumers of many providers that
		// lost the same broker do not come back in step.
		wait = wait/2 + rand.N(wait/2+1) //nolint:gosec // G404: jitter needs no unpredictability
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
}

// dial connects to one broker, bounded by DialTimeout and ctx.
func dial(ctx context.Context, cfg *Config, addr string) (*amqp.Connection, error) {
	scheme := "amqp"
	var tlsCfg *tls.Config
	if cfg.TLS != nil {
		scheme = "amqps"
		host, _, _ := net.SplitHostPort(addr)
		tlsCfg = cfg.TLS.tlsConfig(host)
	}
	props := amqp.NewConnectionProperties()
	props.SetClientConnectionName(cfg.ConnectionName)
	deadline := time.Now().Add(cfg.DialTimeout)
	// The URL carries no credentials: they go in SASL only, so no error
	// that repeats the URL can show them.
	return amqp.DialConfig(scheme+"://"+addr+"/", amqp.Config{
		SASL:            []amqp.Authentication{&amqp.PlainAuth{Username: cfg.User, Password: cfg.Password}},
		Vhost:           cfg.Vhost,
		Heartbeat:       cfg.Heartbeat,
		TLSClientConfig: tlsCfg,
		Properties:      props,
		Dial: func(network, a string) (net.Conn, error) {
			d := net.Dialer{Deadline: deadline}
			conn, err := d.DialContext(ctx, network, a)
			if err != nil {
				return nil, err
			}
			// Bounds TLS and the AMQP handshake; amqp091 clears it once open.
			if err := conn.SetDeadline(deadline); err != nil {
				conn.Close()
				return nil, err
			}
			return conn, nil
		},
	})
}

// queueArgs keep an abandoned queue from growing without bound.
func (cfg *Config) queueArgs() amqp.Table {
	return amqp.Table{
		"x-queue-type":       "classic",
		"x-expires":          cfg.QueueExpiry.Milliseconds(),
		"x-max-length":       int64(cfg.MaxLength),
		"x-max-length-bytes": int64(cfg.MaxLengthBytes),
		"x-overflow":         "drop-head",
	}
}

// routingKeys are <topic>.<priority>, as oslo.messaging publishes.
func (cfg *Config) routingKeys() []string {
	var keys []string
	for _, t := range cfg.Topics {
		for _, p := range cfg.Priorities {
			keys = append(keys, t+"."+p)
		}
	}
	return keys
}

// exchangeExists declares name passively on a channel of its own, as a
// missing exchange closes the channel that asked.
func exchangeExists(conn *amqp.Connection, name string) (bool, error) {
	ch, err := conn.Channel()
	if err != nil {
		return false, err
	}
	defer ch.Close()
	// The kind and flags are ignored by a passive declare, so the
	// exchange's durability, which differs per cloud, does not matter.
	err = ch.ExchangeDeclarePassive(name, amqp.ExchangeTopic, false, false, false, false, nil)
	var amqpErr *amqp.Error
	if errors.As(err, &amqpErr) && amqpErr.Code == amqp.NotFound {
		return false, nil
	}
	return err == nil, err
}

// declareQueue declares the consumer's queue. A queue of that name with
// other arguments (an older version's defaults) is ours too: it is deleted
// and declared anew, and the full pass after subscribing covers what it held.
func (c *Consumer) declareQueue(conn *amqp.Connection) (*amqp.Channel, error) {
	ch, err := conn.Channel()
	if err != nil {
		return nil, err
	}
	_, err = ch.QueueDeclare(c.cfg.Queue, true, false, false, false, c.cfg.queueArgs())
	var amqpErr *amqp.Error
	if errors.As(err, &amqpErr) && amqpErr.Code == amqp.PreconditionFailed {
		c.cfg.Logger.Info("notifications: queue exists with other arguments; declaring it anew", "queue", c.cfg.Queue, "reason", amqpErr.Reason)
		if ch, err = conn.Channel(); err != nil {
			return nil, err
		}
		if _, err = ch.QueueDelete(c.cfg.Queue, false, false, false); err == nil {
			_, err = ch.QueueDeclare(c.cfg.Queue, true, false, false, false, c.cfg.queueArgs())
		}
	}
	if err != nil {
		ch.Close()
		return nil, classify(err, "", "declaring queue "+c.cfg.Queue, c.cfg.Password)
	}
	return ch, nil
}

// bind binds the queue to exchange for every routing key.
func (c *Consumer) bind(ch *amqp.Channel, exchange string) error {
	for _, key := range c.cfg.routingKeys() {
		if err := ch.QueueBind(c.cfg.Queue, key, exchange, false, nil); err != nil {
			return classify(err, "", fmt.Sprintf("binding %s to exchange %s with %s", c.cfg.Queue, exchange, key), c.cfg.Password)
		}
	}
	return nil
}

// session is one connection: connect, declare, bind, consume until the
// connection or the subscription ends. subscribed tells whether it got as far
// as consuming.
func (c *Consumer) session(ctx context.Context, addr string) (subscribed bool, err error) {
	c.setState(State{Phase: c.State().Phase, Broker: addr, Message: "connecting"})
	conn, err := dial(ctx, &c.cfg, addr)
	if err != nil {
		return false, err
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	defer stop()
	connClosed := conn.NotifyClose(make(chan *amqp.Error, 1))

	var bound, missing []string
	for _, ex := range c.cfg.Exchanges {
		ok, err := exchangeExists(conn, ex)
		if err != nil {
			return false, classify(err, addr, "declaring exchange "+ex+" passively", c.cfg.Password)
		}
		if ok {
			bound = append(bound, ex)
		} else {
			missing = append(missing, ex)
		}
	}
	if len(bound) == 0 {
		return false, &Error{Phase: PhaseExchangeNotFound, Broker: addr,
			Msg: fmt.Sprintf("no exchange %v in vhost %s: are notifications on ([oslo_messaging_notifications] driver)?", missing, c.cfg.Vhost)}
	}
	ch, err := c.declareQueue(conn)
	if err != nil {
		return false, withBroker(err, addr)
	}
	for _, ex := range bound {
		if err := c.bind(ch, ex); err != nil {
			return false, withBroker(err, addr)
		}
	}
	if err := ch.Qos(c.cfg.Prefetch, 0, false); err != nil {
		return false, classify(err, addr, "setting prefetch", c.cfg.Password)
	}
	chClosed := ch.NotifyClose(make(chan *amqp.Error, 1))
	cancelled := ch.NotifyCancel(make(chan string, 1))
	deliveries, err := ch.Consume(c.cfg.Queue, "", false, false, false, false, nil)
	if err != nil {
		return false, classify(err, addr, "consuming "+c.cfg.Queue, c.cfg.Password)
	}

	if c.connectedOnce {
		c.reconnects.Add(1)
	}
	c.connectedOnce = true
	c.reportSubscribed(addr, bound, missing)
	if c.cfg.OnConnect != nil {
		c.cfg.OnConnect()
	}

	acks := acker{ch: ch, every: max(1, c.cfg.Prefetch/4)}
	defer acks.flush()
	var recheck <-chan time.Time
	if len(missing) > 0 {
		t := time.NewTicker(c.cfg.RecheckInterval)
		defer t.Stop()
		recheck = t.C
	}
	for {
		select {
		case d, ok := <-deliveries:
			if !ok {
				return true, c.endReason(addr, connClosed, chClosed, cancelled)
			}
			c.process(d.Body)
			acks.add(d.DeliveryTag)
		case <-acks.timer():
			acks.flush()
		case <-recheck:
			var found []string
			for _, ex := range missing {
				if ok, err := exchangeExists(conn, ex); err == nil && ok {
					if err := c.bind(ch, ex); err != nil {
						return true, withBroker(err, addr)
					}
					found = append(found, ex)
				}
			}
			if len(found) > 0 {
				bound = append(bound, found...)
				missing = slices.DeleteFunc(missing, func(ex string) bool { return slices.Contains(found, ex) })
				c.reportSubscribed(addr, bound, missing)
				if c.cfg.OnConnect != nil {
					c.cfg.OnConnect()
				}
			}
			if len(missing) == 0 {
				recheck = nil
			}
		case err := <-connClosed:
			return true, closeReason(err, "the broker closed the connection")
		case err := <-chClosed:
			return true, closeReason(err, "the broker closed the channel")
		case <-ctx.Done():
			return true, ctx.Err()
		}
	}
}

func (c *Consumer) reportSubscribed(addr string, bound, missing []string) {
	s := State{Phase: PhaseConnected, Broker: addr, Bound: slices.Clone(bound), Missing: slices.Clone(missing),
		Message: fmt.Sprintf("consuming %s, bound to %v", c.cfg.Queue, bound)}
	if len(missing) > 0 {
		s.Phase = PhaseExchangeNotFound
		s.Message = fmt.Sprintf("consuming %s from %v; no exchange %v yet (notifications of that service look off)", c.cfg.Queue, bound, missing)
	}
	c.setState(s)
}

// endReason tells why the deliveries ended: the connection or channel
// closed, or the broker cancelled the consumer (its queue was deleted).
func (c *Consumer) endReason(addr string, connClosed, chClosed <-chan *amqp.Error, cancelled <-chan string) error {
	// amqp091 closes the deliveries as it shuts a connection down; the
	// reason arrives on the notify channels around the same time.
	select {
	case err := <-connClosed:
		return closeReason(err, "the broker closed the connection")
	case err := <-chClosed:
		return closeReason(err, "the broker closed the channel")
	case <-cancelled:
		return &Error{Phase: PhaseDisconnected, Broker: addr, Msg: "the broker cancelled the subscription (queue " + c.cfg.Queue + " deleted?); declaring it again"}
	case <-time.After(time.Second):
		return &Error{Phase: PhaseDisconnected, Broker: addr, Msg: "the subscription ended"}
	}
}

func closeReason(err *amqp.Error, fallback string) error {
	if err == nil {
		return errors.New(fallback)
	}
	return err
}

func withBroker(err error, addr string) error {
	var e *Error
	if errors.As(err, &e) && e.Broker == "" {
		c := *e
		c.Broker = addr
		return &c
	}
	return err
}

// process decodes one body and hands a new event to the handler, counting
// what it drops. It never fails: every message is acknowledged.
func (c *Consumer) process(body []byte) {
	c.received.Add(1)
	c.lastDelivery.Store(time.Now().UnixNano())
	ev, err := DecodeLimit(body, c.cfg.MaxBodySize)
	if err != nil {
		var de *DecodeError
		reason := ReasonMalformed
		if errors.As(err, &de) {
			reason = de.Reason
		}
		c.dropped[reason].Add(1)
		if reason != ReasonUnknownEvent {
			c.cfg.Logger.V(1).Info("notifications: message dropped", "reason", err.Error())
		}
		return
	}
	if c.dedup.Seen(ev.MessageID) {
		c.dropped[ReasonDuplicate].Add(1)
		return
	}
	if c.callHandler(ev) {
		c.decoded.Add(1)
	}
}

// callHandler keeps a handler's panic from killing the consumer; as the
// message is acknowledged anyway, a poison event cannot loop.
func (c *Consumer) callHandler(ev *Event) (ok bool) {
	defer func() {
		if v := recover(); v != nil {
			c.dropped[ReasonHandlerPanic].Add(1)
			c.cfg.Logger.Error(fmt.Errorf("panic: %v", v), "notifications: event handler panicked", "event_type", ev.EventType, "message_id", ev.MessageID)
			ok = false
		}
	}()
	c.handle(*ev)
	return true
}

// acker acknowledges in batches (multiple=true): every n messages, or a few
// milliseconds after the first unacknowledged one, so a quiet bus still
// gets its acks at once and a busy one sends one ack frame per batch.
type acker struct {
	ch      *amqp.Channel
	every   int
	pending int
	last    uint64
	t       *time.Timer
}

const ackDelay = 5 * time.Millisecond

func (a *acker) add(tag uint64) {
	a.pending++
	a.last = tag
	if a.pending >= a.every {
		a.flush()
		return
	}
	if a.t == nil {
		a.t = time.NewTimer(ackDelay)
	} else if a.pending == 1 {
		a.t.Reset(ackDelay)
	}
}

func (a *acker) timer() <-chan time.Time {
	if a.t == nil || a.pending == 0 {
		return nil
	}
	return a.t.C
}

func (a *acker) flush() {
	if a.pending == 0 {
		return
	}
	// An ack on a closed channel fails; the broker then redelivers, and
	// the deduper drops what was already handled.
	_ = a.ch.Ack(a.last, true)
	a.pending = 0
}
