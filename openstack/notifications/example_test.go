package notifications_test

import (
	"context"
	"fmt"

	"github.com/multinic/multinic/openstack/notifications"
)

// How an operator wires one provider's bus (compiled, not run: it would
// connect): credentials from Contrabass,
// a queue of its own per install and provider, events handed to its router,
// a full pass on every (re)connect, the state turned into a condition and
// the counters into metrics.
func ExampleConsumer() {
	fullPass := make(chan struct{}, 1)
	events := make(chan notifications.Event, 1024)

	c, err := notifications.NewConsumer(notifications.Config{
		User:     "openstack",            // rabbitMQId
		Password: "decrypted rabbitMQPw", // decrypted like adminPw
		URLs:     []string{"10.0.0.11:5672", "10.0.0.12:5672"},
		Queue:    notifications.QueueName("multinic-system", "provider-uuid"),
		// Nothing announced while away can be seen now: pass over the
		// provider's configs. Must not block.
		OnConnect: func() {
			select {
			case fullPass <- struct{}{}:
			default:
			}
		},
		OnState: func(s notifications.State) {
			// EventsConnected: True when s.Phase is Connected, else False
			// with s.Phase as the reason and s.Message (broker address, no
			// password) as the message.
		},
	}, func(ev notifications.Event) {
		// Route by ev.VMIDs(), then ev.PortIDs() (a detach empties
		// device_id), then ev.MACs(); coalesce per config. Must not block.
		select {
		case events <- ev:
		default: // a full router falls back on the next pass
		}
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	// Run reconnects by itself until its context ends; stop it (and make a
	// new consumer) when Contrabass hands other credentials.
	go func() { _ = c.Run(context.Background()) }()

	_ = c.State() // any time, from any goroutine
	_ = c.Stats() // received, decoded, dropped by reason, reconnects: for metrics
	go func() {
		for range fullPass { /* enqueue every config of the provider */
		}
	}()
	go func() {
		for range events { /* route and coalesce */
		}
	}()
}

// What kubectl multinic check reports for a provider's bus.
func ExampleCheck() {
	res, err := notifications.Check(context.Background(), notifications.Config{
		Queue: notifications.QueueName("multinic-system", "provider-uuid"),
	})
	fmt.Println(res.Queue.Name, err)
	// Output: multinic.multinic-system.provider-uuid rabbitmq: no RabbitMQ credentials: user, password and at least one broker address are needed
}
