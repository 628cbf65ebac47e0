package openstacktest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strings"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// NotifierConfig says how the fake announces its changes on a message bus,
// in the terms of the OpenStack options that decide it.
type NotifierConfig struct {
	// URL is the broker, e.g. amqp://user:password@127.0.0.1:5672/vhost.
	URL string
	// Topics are [oslo_messaging_notifications] topics; default
	// notifications. Each notification goes to <topic>.info.
	Topics []string
	// EnvelopeVersion is 2 (driver = messagingv2, the default) or 1
	// (driver = messaging: the bare message).
	EnvelopeVersion int
	// NovaFormat is Nova's [notifications] notification_format:
	// "unversioned" (Nova's default: compute.instance.* on Topics),
	// "versioned" (instance.* on versioned_notifications) or "both".
	// Interface attach and detach exist only as versioned notifications.
	NovaFormat string
	// NotifyOnStateChange is Nova's [notifications] notify_on_state_change:
	// without it Nova announces no instance.update, so no renames and no
	// metadata changes.
	NotifyOnStateChange bool
	// Host names the controller in publisher ids; default "controller-1".
	Host string
}

// Notifier publishes oslo.messaging notifications for every change made
// through the Server's Add*, Update* and Remove* methods (AddFleet
// included), in the shapes Neutron and Nova send: port.create.end,
// port.update.end (attach and detach included), port.delete.end on the
// neutron exchange; on the nova exchange compute.instance.create.end,
// .delete.end and .update (legacy) or instance.create.end, .delete.end,
// .update, .interface_attach.end and .interface_detach.end (versioned).
//
// Changes are queued under the Server's lock, in order, and published by a
// goroutine with publisher confirms, reconnecting until Close when the
// broker goes away (as oslo.messaging's notifier retries), so a test can
// restart the broker under it. Delivery is at least once: a batch that was
// interrupted is sent again with the same message ids.
type Notifier struct {
	cfg NotifierConfig

	mu        sync.Mutex
	cond      *sync.Cond
	queue     []notification
	enqueued  int
	published int
	closed    bool
	lastErr   error
	done      chan struct{}

	conn *amqp.Connection
	ch   *amqp.Channel
}

type notification struct {
	exchange, key string
	body          []byte
}

// PublishNotifications connects to the broker and makes the Server announce
// its changes there from now on, until the Notifier is closed. The neutron
// and nova exchanges are declared as oslo.messaging declares them (topic,
// not durable) unless they exist already.
func (s *Server) PublishNotifications(cfg NotifierConfig) (*Notifier, error) {
	if len(cfg.Topics) == 0 {
		cfg.Topics = []string{"notifications"}
	}
	if cfg.EnvelopeVersion == 0 {
		cfg.EnvelopeVersion = 2
	}
	if cfg.EnvelopeVersion != 1 && cfg.EnvelopeVersion != 2 {
		return nil, fmt.Errorf("openstacktest: envelope version %d: use 1 or 2", cfg.EnvelopeVersion)
	}
	switch cfg.NovaFormat {
	case "":
		cfg.NovaFormat = "unversioned"
	case "unversioned", "versioned", "both":
	default:
		return nil, fmt.Errorf("openstacktest: Nova notification format %q: use unversioned, versioned or both", cfg.NovaFormat)
	}
	if cfg.Host == "" {
		cfg.Host = "controller-1"
	}
	n := &Notifier{cfg: cfg, done: make(chan struct{})}
	n.cond = sync.NewCond(&n.mu)
	if err := n.connect(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	if s.notifier != nil {
		s.mu.Unlock()
		n.conn.Close()
		return nil, errors.New("openstacktest: the server already publishes notifications")
	}
	s.notifier = n
	s.mu.Unlock()
	go n.run(s)
	return n, nil
}

func (n *Notifier) connect() error {
	conn, err := amqp.Dial(n.cfg.URL)
	if err != nil {
		return fmt.Errorf("openstacktest: notifier: %w", err)
	}
	for _, ex := range []string{"neutron", "nova"} {
		probe, err := conn.Channel()
		if err != nil {
			conn.Close()
			return err
		}
		if probe.ExchangeDeclarePassive(ex, amqp.ExchangeTopic, false, false, false, false, nil) != nil {
			// The failed passive declare closed that channel.
			decl, err := conn.Channel()
			if err == nil {
				err = decl.ExchangeDeclare(ex, amqp.ExchangeTopic, false, false, false, false, nil)
				decl.Close()
			}
			if err != nil {
				conn.Close()
				return fmt.Errorf("openstacktest: notifier: declaring exchange %s: %w", ex, err)
			}
		} else {
			probe.Close()
		}
	}
	ch, err := conn.Channel()
	if err == nil {
		err = ch.Confirm(false)
	}
	if err != nil {
		conn.Close()
		return err
	}
	n.conn, n.ch = conn, ch
	return nil
}

// run publishes the queue in batches until Close.
func (n *Notifier) run(s *Server) {
	defer close(n.done)
	backoff := 50 * time.Millisecond
	for {
		n.mu.Lock()
		for len(n.queue) == 0 && !n.closed {
			n.cond.Wait()
		}
		if len(n.queue) == 0 && n.closed {
			n.mu.Unlock()
			break
		}
		batch := n.queue[:min(len(n.queue), 256)]
		closed := n.closed
		n.mu.Unlock()

		err := n.publish(batch)
		n.mu.Lock()
		if err == nil {
			n.queue = n.queue[len(batch):]
			n.published += len(batch)
			n.lastErr = nil
			backoff = 50 * time.Millisecond
			n.cond.Broadcast()
			n.mu.Unlock()
			continue
		}
		n.lastErr = err
		n.mu.Unlock()
		if closed {
			break // Close gave up waiting; what is left is lost, as with a real service shut down
		}
		time.Sleep(backoff)
		backoff = min(2*backoff, 2*time.Second)
		if n.conn != nil {
			n.conn.Close()
		}
		n.conn, n.ch = nil, nil
		_ = n.connect()
	}
	s.mu.Lock()
	if s.notifier == n {
		s.notifier = nil
	}
	s.mu.Unlock()
	if n.conn != nil {
		n.conn.Close()
	}
}

func (n *Notifier) publish(batch []notification) error {
	if n.ch == nil {
		return errors.New("not connected")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	confirms := make([]*amqp.DeferredConfirmation, 0, len(batch))
	for _, m := range batch {
		dc, err := n.ch.PublishWithDeferredConfirmWithContext(ctx, m.exchange, m.key, false, false, amqp.Publishing{
			ContentType: "application/json", ContentEncoding: "utf-8", DeliveryMode: amqp.Persistent, Body: m.body})
		if err != nil {
			return err
		}
		confirms = append(confirms, dc)
	}
	for _, dc := range confirms {
		ok, err := dc.WaitContext(ctx)
		if err != nil {
			return err
		}
		if !ok {
			return errors.New("the broker nacked a notification")
		}
	}
	return nil
}

// Flush waits until every notification queued so far is confirmed by the
// broker, or ctx ends.
func (n *Notifier) Flush(ctx context.Context) error {
	n.mu.Lock()
	target := n.enqueued
	n.mu.Unlock()
	stop := context.AfterFunc(ctx, func() {
		n.mu.Lock()
		n.cond.Broadcast()
		n.mu.Unlock()
	})
	defer stop()
	n.mu.Lock()
	defer n.mu.Unlock()
	for n.published < target {
		if ctx.Err() != nil {
			if n.lastErr != nil {
				return fmt.Errorf("openstacktest: %d notifications unpublished: %w", target-n.published, n.lastErr)
			}
			return ctx.Err()
		}
		n.cond.Wait()
	}
	return nil
}

// Published counts the notifications the broker confirmed.
func (n *Notifier) Published() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.published
}

// Close publishes what is queued (waiting up to 30 seconds), detaches from
// the Server and disconnects.
func (n *Notifier) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := n.Flush(ctx)
	n.mu.Lock()
	n.closed = true
	n.cond.Broadcast()
	n.mu.Unlock()
	<-n.done
	return err
}

func (n *Notifier) enqueue(exchange, key string, msg map[string]any) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return
	}
	inner, err := json.Marshal(msg)
	if err != nil {
		panic(fmt.Sprintf("openstacktest: notification: %v", err)) // our own maps: a bug
	}
	body := inner
	if n.cfg.EnvelopeVersion == 2 {
		body, _ = json.Marshal(map[string]string{"oslo.version": "2.0", "oslo.message": string(inner)})
	}
	n.queue = append(n.queue, notification{exchange: exchange, key: key, body: body})
	n.enqueued++
	n.cond.Broadcast()
}

// message builds what oslo.messaging's Notifier sends: the notification, the
// request context as _context_* fields and a _unique_id.
func (n *Notifier) message(publisher, eventType, projectID string, payload any) map[string]any {
	return map[string]any{
		"message_id":   uuid4(),
		"publisher_id": publisher,
		"event_type":   eventType,
		"priority":     "INFO",
		"payload":      payload,
		// str(datetime.utcnow()), as oslo.messaging writes it.
		"timestamp":           time.Now().UTC().Format("2006-01-02 15:04:05.000000"),
		"_context_project_id": projectID,
		"_context_tenant":     projectID,
		"_context_user_id":    stableUUID("user", projectID),
		"_context_request_id": "req-" + uuid4(),
		"_context_is_admin":   true,
		"_context_roles":      []string{"admin", "member", "reader"},
		"_unique_id":          randomHex(16),
	}
}

func (n *Notifier) neutron(eventType, projectID string, payload any) {
	msg := n.message("network."+n.cfg.Host, eventType, projectID, payload)
	for _, topic := range n.cfg.Topics {
		n.enqueue("neutron", topic+".info", msg)
	}
}

func (n *Notifier) legacyNova() bool    { return n.cfg.NovaFormat != "versioned" }
func (n *Notifier) versionedNova() bool { return n.cfg.NovaFormat != "unversioned" }

// nova sends a legacy event on the topics and, when versioned ones are on,
// its versioned counterpart on versioned_notifications.
func (n *Notifier) nova(legacyType string, legacy map[string]any, versionedType string, versioned map[string]any, projectID, host string) {
	if legacyType != "" && n.legacyNova() {
		msg := n.message("compute."+host, legacyType, projectID, legacy)
		for _, topic := range n.cfg.Topics {
			n.enqueue("nova", topic+".info", msg)
		}
	}
	if versionedType != "" && n.versionedNova() {
		n.enqueue("nova", "versioned_notifications.info", n.message("nova-compute:"+host, versionedType, projectID, versioned))
	}
}

// portChangedLocked announces a port change; before is the record as it
// was (nil for a new port) and the port's current record is looked up by
// id (none after a delete). The caller holds s.mu for writing.
func (s *Server) portChangedLocked(before *portRecord, id string) {
	n := s.notifier
	if n == nil {
		return
	}
	after := s.ports[id]
	switch {
	case after == nil && before != nil:
		n.neutron("port.delete.end", before.ProjectID, map[string]any{"port_id": id, "port": before.doc})
	case after != nil && before == nil:
		n.neutron("port.create.end", after.ProjectID, map[string]any{"port": after.doc})
	case after != nil:
		n.neutron("port.update.end", after.ProjectID, map[string]any{"port": after.doc})
		if before.DeviceID != after.DeviceID {
			// Attaching and detaching go through Nova, which announces them
			// (versioned only) for the server concerned.
			if vm := s.vms[before.DeviceID]; vm != nil {
				s.novaInstanceLocked(vm, "", "instance.interface_detach.end", "")
			}
			if vm := s.vms[after.DeviceID]; vm != nil {
				s.novaInstanceLocked(vm, "", "instance.interface_attach.end", "")
			}
		}
	}
}

// vmChangedLocked announces a server change, like portChangedLocked.
func (s *Server) vmChangedLocked(before *VM, id string) {
	if s.notifier == nil {
		return
	}
	after := s.vms[id]
	switch {
	case after == nil && before != nil:
		s.novaInstanceLocked(before, "compute.instance.delete.end", "instance.delete.end", "")
	case after != nil && before == nil:
		s.novaInstanceLocked(after, "compute.instance.create.end", "instance.create.end", "")
	case after != nil && s.notifier.cfg.NotifyOnStateChange &&
		(before.Name != after.Name || !maps.Equal(before.Metadata, after.Metadata) || before.Status != after.Status):
		oldName := ""
		if before.Name != after.Name {
			oldName = before.Name
		}
		s.novaInstanceLocked(after, "compute.instance.update", "instance.update", oldName)
	}
}

// novaInstanceLocked renders a server as Nova's legacy payload
// (info_from_instance) and its versioned InstancePayload, with the
// addresses of its current ports.
func (s *Server) novaInstanceLocked(vm *VM, legacyType, versionedType, oldName string) {
	host := "compute-" + vm.ID[:min(8, len(vm.ID))] // the ports' binding:host_id
	state := strings.ToLower(vm.Status)
	if strings.HasSuffix(versionedType, "delete.end") {
		state = "deleted"
	}
	metadata := map[string]string{}
	maps.Copy(metadata, vm.Metadata)
	var legacyIPs, versionedIPs []map[string]any
	for _, portID := range s.portsByDevice[vm.ID] {
		p := s.ports[portID]
		for _, ip := range p.FixedIPs {
			legacyIPs = append(legacyIPs, map[string]any{"address": ip.IPAddress, "vif_mac": p.MACAddress,
				"type": "fixed", "version": ipVersion(ip.IPAddress), "label": p.NetworkID, "meta": map[string]any{}, "floating_ips": []any{}})
			versionedIPs = append(versionedIPs, novaObject("IpPayload", "1.0", map[string]any{
				"address": ip.IPAddress, "mac": p.MACAddress, "port_uuid": p.ID, "version": ipVersion(ip.IPAddress),
				"label": p.NetworkID, "device_name": "tap" + p.ID[:min(11, len(p.ID))], "meta": map[string]any{}}))
		}
	}
	created := vm.CreatedAt.UTC().Format("2006-01-02T15:04:05Z")
	legacy := map[string]any{
		"instance_id": vm.ID, "display_name": vm.Name, "hostname": vm.Hostname, "tenant_id": vm.ProjectID, "user_id": stableUUID("user", vm.ProjectID),
		"host": host, "node": host, "state": state, "metadata": metadata, "created_at": vm.CreatedAt.UTC().Format("2006-01-02 15:04:05+00:00"),
		"availability_zone": "nova", "instance_type": "m1.large", "fixed_ips": legacyIPs,
	}
	if oldName != "" {
		legacy["old_display_name"] = oldName
	}
	data := map[string]any{
		"uuid": vm.ID, "display_name": vm.Name, "host_name": vm.Hostname, "tenant_id": vm.ProjectID, "user_id": stableUUID("user", vm.ProjectID),
		"host": host, "node": host, "state": state, "metadata": metadata, "created_at": created,
		"availability_zone": "nova", "ip_addresses": versionedIPs, "locked": false, "power_state": "running",
	}
	name := "InstanceActionPayload"
	switch versionedType {
	case "instance.update":
		name = "InstanceUpdatePayload"
		data["old_display_name"] = nil
		if oldName != "" {
			data["old_display_name"] = oldName
		}
	case "instance.create.end":
		name = "InstanceCreatePayload"
	}
	if versionedIPs == nil {
		data["ip_addresses"] = []any{}
	}
	// Only create.end is given the network info (info_from_instance's
	// network_info); updates and deletes carry no fixed_ips.
	if legacyType != "compute.instance.create.end" {
		delete(legacy, "fixed_ips")
	} else if legacyIPs == nil {
		legacy["fixed_ips"] = []any{}
	}
	s.notifier.nova(legacyType, legacy, versionedType, novaObject(name, "1.9", data), vm.ProjectID, host)
}

func novaObject(name, version string, data map[string]any) map[string]any {
	return map[string]any{"nova_object.name": name, "nova_object.namespace": "nova",
		"nova_object.version": version, "nova_object.data": data}
}

func ipVersion(addr string) int {
	if strings.Contains(addr, ":") {
		return 6
	}
	return 4
}

func uuid4() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
