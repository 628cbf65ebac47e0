package notifications

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"

	amqp "github.com/rabbitmq/amqp091-go"
)

// CheckResult is what Check found on a bus.
type CheckResult struct {
	// Broker is the address that answered (the first of the URLs that did).
	Broker string
	Vhost  string
	// Exchanges lists each configured exchange and whether it exists.
	Exchanges []ExchangeStatus
	// Queue is the consumer's queue as it stands.
	Queue QueueStatus
	// Bindings are the exchange/routing-key pairs a probe queue could be
	// bound with, which proves the permissions the consumer needs.
	Bindings []string
}

// ExchangeStatus is one exchange of a check.
type ExchangeStatus struct {
	Name   string
	Exists bool
}

// QueueStatus is the consumer's queue of a check. It does not exist before a
// consumer first ran, nor after it was gone for QueueExpiry.
type QueueStatus struct {
	Name      string
	Exists    bool
	Messages  int // waiting to be consumed
	Consumers int // consumers attached now
}

// Check verifies a bus as the consumer would use it, without consuming:
// it connects (trying the URLs in order), declares the exchanges and the
// consumer's queue passively, and binds a temporary exclusive probe queue
// (<queue>.check.<random>, gone when the connection closes) to each existing
// exchange. The error, an *Error, carries the Phase a consumer would be in:
// AuthFailed, ExchangeNotFound (the result is filled in then), Disconnected,
// or NoCredentials (ErrNoCredentials).
func Check(ctx context.Context, cfg Config) (CheckResult, error) {
	cfg = cfg.withDefaults()
	res := CheckResult{Vhost: cfg.Vhost, Queue: QueueStatus{Name: cfg.Queue}}
	if !cfg.hasCredentials() {
		return res, &Error{Phase: PhaseNoCredentials, Msg: ErrNoCredentials.Error(), err: ErrNoCredentials}
	}
	if err := cfg.validate(); err != nil {
		return res, err
	}
	var conn *amqp.Connection
	var lastErr error
	for _, u := range cfg.URLs {
		addr, _ := parseAddr(u, cfg.TLS != nil)
		c, err := dial(ctx, &cfg, addr)
		if err != nil {
			lastErr = classify(err, addr, "connecting", cfg.Password)
			continue
		}
		conn, res.Broker = c, addr
		break
	}
	if conn == nil {
		return res, lastErr
	}
	defer conn.Close()
	fail := func(err error, what string) (CheckResult, error) {
		return res, classify(err, res.Broker, what, cfg.Password)
	}

	var missing []string
	for _, ex := range cfg.Exchanges {
		ok, err := exchangeExists(conn, ex)
		if err != nil {
			return fail(err, "declaring exchange "+ex+" passively")
		}
		res.Exchanges = append(res.Exchanges, ExchangeStatus{Name: ex, Exists: ok})
		if !ok {
			missing = append(missing, ex)
		}
	}

	q, err := queueStatus(conn, cfg.Queue)
	if err != nil {
		return fail(err, "declaring queue "+cfg.Queue+" passively")
	}
	res.Queue = q

	ch, err := conn.Channel()
	if err != nil {
		return fail(err, "opening a channel")
	}
	defer ch.Close()
	probe := cfg.Queue + ".check." + randomHex(4)
	if _, err := ch.QueueDeclare(probe, false, true, true, false, nil); err != nil {
		return fail(err, "declaring the probe queue "+probe)
	}
	for _, ex := range res.Exchanges {
		if !ex.Exists {
			continue
		}
		for _, key := range cfg.routingKeys() {
			if err := ch.QueueBind(probe, key, ex.Name, false, nil); err != nil {
				return fail(err, fmt.Sprintf("binding to exchange %s with %s", ex.Name, key))
			}
			res.Bindings = append(res.Bindings, ex.Name+"/"+key)
		}
	}
	_, _ = ch.QueueDelete(probe, false, false, false)

	if len(missing) > 0 {
		return res, &Error{Phase: PhaseExchangeNotFound, Broker: res.Broker,
			Msg: fmt.Sprintf("no exchange %v in vhost %s: are notifications of that service on ([oslo_messaging_notifications] driver)?", missing, cfg.Vhost)}
	}
	return res, nil
}

func queueStatus(conn *amqp.Connection, name string) (QueueStatus, error) {
	st := QueueStatus{Name: name}
	ch, err := conn.Channel()
	if err != nil {
		return st, err
	}
	defer ch.Close()
	q, err := ch.QueueDeclarePassive(name, true, false, false, false, nil)
	var amqpErr *amqp.Error
	if errors.As(err, &amqpErr) && amqpErr.Code == amqp.NotFound {
		return st, nil
	}
	if err != nil {
		return st, err
	}
	st.Exists, st.Messages, st.Consumers = true, q.Messages, q.Consumers
	return st, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
