package notifications

import (
	"slices"
	"time"
)

// Kind is what an event announces, independent of the service's naming
// (Nova's legacy compute.instance.update and versioned instance.update are
// both KindInstanceUpdate).
type Kind string

// The kinds of events that can change what multinic sends to a node.
const (
	KindPortCreate      Kind = "PortCreate"      // port.create.end
	KindPortUpdate      Kind = "PortUpdate"      // port.update.end (attach and detach included)
	KindPortDelete      Kind = "PortDelete"      // port.delete.end
	KindInstanceCreate  Kind = "InstanceCreate"  // compute.instance.create.end, instance.create.end
	KindInstanceDelete  Kind = "InstanceDelete"  // compute.instance.delete.end, instance.delete.end
	KindInstanceUpdate  Kind = "InstanceUpdate"  // compute.instance.update, instance.update (renames, metadata)
	KindInterfaceAttach Kind = "InterfaceAttach" // instance.interface_attach.end (versioned only)
	KindInterfaceDetach Kind = "InterfaceDetach" // instance.interface_detach.end (versioned only)
)

// eventKinds maps the event_type values that matter to their kind. Start
// events and errors are left out: only a finished change changes a port.
var eventKinds = map[string]Kind{
	"port.create.end":               KindPortCreate,
	"port.update.end":               KindPortUpdate,
	"port.delete.end":               KindPortDelete,
	"compute.instance.create.end":   KindInstanceCreate,
	"compute.instance.delete.end":   KindInstanceDelete,
	"compute.instance.update":       KindInstanceUpdate,
	"instance.create.end":           KindInstanceCreate,
	"instance.delete.end":           KindInstanceDelete,
	"instance.update":               KindInstanceUpdate,
	"instance.interface_attach.end": KindInterfaceAttach,
	"instance.interface_detach.end": KindInterfaceDetach,
}

// EventTypes lists the event_type values Decode turns into events; any
// other notification is dropped with ReasonUnknownEvent.
func EventTypes() []string {
	types := make([]string, 0, len(eventKinds))
	for t := range eventKinds {
		types = append(types, t)
	}
	slices.Sort(types)
	return types
}

// Event is one decoded notification.
type Event struct {
	Kind Kind
	// EventType is the notification's event_type as sent, e.g.
	// "compute.instance.update".
	EventType string
	// MessageID is oslo.messaging's message_id, unique per notification;
	// duplicates (a redelivery after a reconnect) carry the same one.
	MessageID string
	// Publisher is the publisher_id, e.g. "network.controller-1" or
	// "nova-compute:compute-3".
	Publisher string
	// Priority is the notification's priority, e.g. "INFO".
	Priority string
	// Timestamp is when the service sent the notification (UTC); zero when
	// it had none or it could not be read. Now minus Timestamp is the lag.
	Timestamp time.Time
	// EnvelopeVersion is 2 for the oslo.messaging 2.0 envelope, 1 for a
	// bare body (driver = messaging).
	EnvelopeVersion int
	// ProjectID is the project the resource belongs to: the payload's
	// project_id or tenant_id, else the request context's project.
	ProjectID string
	// Ports are the ports of a port event; a bulk create carries several.
	// A delete from an old Neutron may carry only the port's ID.
	Ports []Port
	// Instance is the server of a Nova event.
	Instance *Instance
}

// Port is what a Neutron port notification says about a port. A detach
// empties DeviceID: the VM it was attached to is not in the event, which is
// why routing also goes by port ID.
type Port struct {
	ID          string
	DeviceID    string // the VM it is attached to; empty when detached
	DeviceOwner string // e.g. compute:nova
	Status      string // ACTIVE, DOWN, BUILD; an agent's DOWN→ACTIVE flip sends no event
	MACAddress  string
	NetworkID   string
	ProjectID   string
	FixedIPs    []FixedIP
}

// FixedIP is one address of a port.
type FixedIP struct {
	SubnetID  string
	IPAddress string
}

// Instance is what a Nova notification says about a server.
type Instance struct {
	ID string
	// Name is the display name; OldName is set when an update renamed it.
	Name    string
	OldName string
	Host    string // compute host
	State   string // vm_state, e.g. active, building, deleted
	// Metadata holds the server's metadata (string values only, as Nova
	// keeps them).
	Metadata map[string]string
	// Interfaces are the server's ports as the notification lists them:
	// versioned notifications carry port IDs, legacy ones only MACs and
	// addresses (and only on create). After a detach the detached port is
	// no longer listed.
	Interfaces []Interface
}

// Interface is one network interface of a server in a Nova notification.
type Interface struct {
	PortID     string // empty in legacy notifications
	MACAddress string
	IPAddress  string
}

// VMIDs returns the servers an event concerns, without duplicates: a port
// event's device IDs (none for a detached port) or a Nova event's instance.
func (e Event) VMIDs() []string {
	var ids []string
	if e.Instance != nil && e.Instance.ID != "" {
		ids = append(ids, e.Instance.ID)
	}
	for _, p := range e.Ports {
		if p.DeviceID != "" && !slices.Contains(ids, p.DeviceID) {
			ids = append(ids, p.DeviceID)
		}
	}
	return ids
}

// PortIDs returns the ports an event names, without duplicates.
func (e Event) PortIDs() []string {
	var ids []string
	add := func(id string) {
		if id != "" && !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	for _, p := range e.Ports {
		add(p.ID)
	}
	if e.Instance != nil {
		for _, i := range e.Instance.Interfaces {
			add(i.PortID)
		}
	}
	return ids
}

// MACs returns the MAC addresses an event names, lower-cased, without
// duplicates.
func (e Event) MACs() []string {
	var macs []string
	add := func(mac string) {
		mac = lowerASCII(mac)
		if mac != "" && !slices.Contains(macs, mac) {
			macs = append(macs, mac)
		}
	}
	for _, p := range e.Ports {
		add(p.MACAddress)
	}
	if e.Instance != nil {
		for _, i := range e.Instance.Interfaces {
			add(i.MACAddress)
		}
	}
	return macs
}

func lowerASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if 'A' <= b[j] && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}
