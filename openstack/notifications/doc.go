// Package notifications turns OpenStack's own change announcements into
// typed events: Neutron's port notifications and Nova's instance
// notifications, as oslo.messaging publishes them on RabbitMQ.
//
// Decode reads one message body, in either oslo.messaging envelope: version
// 2.0 ({"oslo.version": "2.0", "oslo.message": "<JSON string>"}, what
// [oslo_messaging_notifications] driver = messagingv2 sends) or the bare
// version 1 body (driver = messaging). It keeps what routing a change to
// the right configuration needs: VM ids, port ids, MAC addresses, the
// message id and the time the service sent it.
//
// A Consumer keeps one connection per provider's message bus: its own
// durable queue (never the notifications.info queue other consumers such as
// ceilometer own), bound to the neutron and nova topic exchanges, with
// manual acknowledgements, a prefetch limit, an expiry and a length cap so an
// abandoned queue cannot fill the broker. It reconnects on its own over all
// broker addresses, reports a State an operator can show as a condition and
// counts what it received, decoded and dropped. Every (re)connect calls
// OnConnect: whatever was announced while the consumer was away is only
// seen by a full pass, so that is when to run one.
//
// Check verifies a bus the way the consumer would use it (connect, passive
// exchange declares, bindings) without consuming anything.
//
// What is not announced: Neutron sends no notification when an agent turns a
// port ACTIVE or DOWN, and Nova announces renames and metadata changes only
// with [notifications] notify_on_state_change set. Events make changes fast;
// polling stays the safety net.
package notifications
