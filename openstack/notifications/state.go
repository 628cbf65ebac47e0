package notifications

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"syscall"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// Phase is the consumer's health in the terms of the EventsConnected
// condition.
type Phase string

// Phases of a Consumer.
const (
	// PhaseConnected: subscribed to every configured exchange.
	PhaseConnected Phase = "Connected"
	// PhaseNoCredentials: the provider has no bus credentials; nothing is tried.
	PhaseNoCredentials Phase = "NoCredentials"
	// PhaseAuthFailed: the broker refused the login, the vhost or a
	// permission the consumer needs.
	PhaseAuthFailed Phase = "AuthFailed"
	// PhaseExchangeNotFound: connected, but an exchange is missing (its
	// service never published: notifications are likely off there). Events
	// of the exchanges that exist still flow; see State.Missing.
	PhaseExchangeNotFound Phase = "ExchangeNotFound"
	// PhaseDisconnected: not connected, or not yet; State.Message says why.
	PhaseDisconnected Phase = "Disconnected"
)

// State is a consumer's health. Message and Broker never hold the password.
type State struct {
	Phase Phase
	// Broker is the host:port connected to, or last tried.
	Broker string
	// Message says why, in one line.
	Message string
	// Since is when Phase last changed.
	Since time.Time
	// Bound are the exchanges the queue is bound to; Missing those that
	// the broker does not have.
	Bound   []string
	Missing []string
}

// Receiving reports whether events flow from at least one exchange.
func (s State) Receiving() bool {
	return (s.Phase == PhaseConnected || s.Phase == PhaseExchangeNotFound) && len(s.Bound) > 0
}

// Error is a bus failure, classified by the Phase it leads to.
type Error struct {
	Phase  Phase
	Broker string
	Msg    string
	err    error
}

func (e *Error) Error() string {
	if e.Broker == "" {
		return "rabbitmq: " + e.Msg
	}
	return "rabbitmq " + e.Broker + ": " + e.Msg
}

func (e *Error) Unwrap() error { return e.err }

// classify turns what amqp091 and the network return into an *Error whose
// message is one line without the password.
func classify(err error, broker, what, password string) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	phase, msg := PhaseDisconnected, err.Error()
	var amqpErr *amqp.Error
	switch {
	case errors.As(err, &amqpErr):
		msg = amqpErr.Reason
		switch amqpErr.Code {
		case amqp.AccessRefused, amqp.NotAllowed:
			// 403 is a refused login or permission, 530 a vhost the user
			// may not open (or that does not exist).
			phase = PhaseAuthFailed
		case amqp.NotFound:
			phase = PhaseDisconnected
		}
		if amqpErr.Code != 0 {
			msg = fmt.Sprintf("%s (AMQP %d)", amqpErr.Reason, amqpErr.Code)
		}
	case errors.Is(err, syscall.ECONNREFUSED):
		msg = "connection refused"
	default:
		var netErr net.Error
		if errors.As(err, &netErr) && netErr.Timeout() {
			msg = "timed out"
		}
	}
	if what != "" {
		msg = what + ": " + msg
	}
	return &Error{Phase: phase, Broker: broker, Msg: scrub(msg, password), err: err}
}

// scrub keeps a message to one bounded line and removes the password, should
// anything ever echo it.
func scrub(msg, password string) string {
	if len(password) >= 4 {
		msg = strings.ReplaceAll(msg, password, "***")
	}
	msg = strings.Join(strings.Fields(msg), " ")
	if len(msg) > 400 {
		msg = msg[:400] + "…"
	}
	return strings.ToValidUTF8(msg, "?")
}
