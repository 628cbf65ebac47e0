package notifications

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"

	gojson "github.com/goccy/go-json"
)

// DefaultMaxBodySize bounds a message body Decode reads. Real notifications
// are a few KB (a Nova instance payload with many volumes stays below
// 50 KB); a bulk port create of a thousand ports is about 1 MB.
const DefaultMaxBodySize = 4 << 20

// Reason says why a message gave no event. Messages are acknowledged
// whatever the reason, so none is redelivered in a loop; the consumer counts
// them per reason.
type Reason string

// Reasons a message is dropped.
const (
	// ReasonTooLarge: the body is over the size limit; it is not parsed.
	ReasonTooLarge Reason = "too_large"
	// ReasonMalformed: the body is not JSON, or the 2.0 envelope's
	// oslo.message is not a JSON document.
	ReasonMalformed Reason = "malformed"
	// ReasonUnknownVersion: an oslo.messaging envelope of a version this
	// package does not read (oslo.messaging's rule: major 2, minor 0).
	ReasonUnknownVersion Reason = "unknown_version"
	// ReasonForeign: JSON, but no notification: no event_type (an RPC
	// message, a foreign publisher) or fields of the wrong JSON type.
	ReasonForeign Reason = "foreign"
	// ReasonUnknownEvent: a notification whose event type does not matter
	// here (network.create.end, compute.instance.exists, ...). Most traffic
	// on a busy bus is of this kind.
	ReasonUnknownEvent Reason = "unknown_event"
	// ReasonBadPayload: an event that matters whose payload lacks what
	// routing needs (a port without id, an instance without uuid).
	ReasonBadPayload Reason = "bad_payload"
	// ReasonDuplicate: the message_id was seen before (a redelivery).
	ReasonDuplicate Reason = "duplicate"
	// ReasonHandlerPanic: the event handler panicked on the event.
	ReasonHandlerPanic Reason = "handler_panic"
)

// Reasons lists every Reason, for metrics that should show zero counts.
func Reasons() []Reason {
	return []Reason{ReasonTooLarge, ReasonMalformed, ReasonUnknownVersion, ReasonForeign,
		ReasonUnknownEvent, ReasonBadPayload, ReasonDuplicate, ReasonHandlerPanic}
}

// DecodeError is why Decode gave no event. Its message names the reason and
// the event type when known, never the body: a body can carry anything.
type DecodeError struct {
	Reason    Reason
	EventType string // when the message got that far
	Detail    string // bounded, body-free
}

func (e *DecodeError) Error() string {
	msg := "notification dropped: " + string(e.Reason)
	if e.EventType != "" {
		msg += " (event_type " + strconv.Quote(e.EventType) + ")"
	}
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	return msg
}

// maxDetail bounds what of an error, a version string or an event type goes
// into a DecodeError.
const maxDetail = 120

func dropped(reason Reason, eventType, detail string) *DecodeError {
	return &DecodeError{Reason: reason, EventType: clip(eventType), Detail: clip(detail)}
}

func clip(s string) string {
	if len(s) > maxDetail {
		s = s[:maxDetail] + "…"
	}
	return strings.ToValidUTF8(s, "?")
}

// envelope reads both forms in one pass: the 2.0 envelope's two keys, or a
// bare version 1 message in the embedded fields.
type envelope struct {
	Version *json.RawMessage `json:"oslo.version"`
	Message *json.RawMessage `json:"oslo.message"`
	message
}

type message struct {
	MessageID   string          `json:"message_id"`
	EventType   *string         `json:"event_type"`
	PublisherID string          `json:"publisher_id"`
	Priority    string          `json:"priority"`
	Timestamp   string          `json:"timestamp"`
	Payload     json.RawMessage `json:"payload"`
	// oslo.messaging packs the request context into the message as
	// _context_<key> fields.
	ContextProjectID string `json:"_context_project_id"`
	ContextTenant    string `json:"_context_tenant"`
}

// Decode reads one notification body with the default size limit.
func Decode(body []byte) (*Event, error) { return DecodeLimit(body, DefaultMaxBodySize) }

// DecodeLimit reads one notification body of at most maxBody bytes (no
// limit when maxBody <= 0). Every error is a *DecodeError.
func DecodeLimit(body []byte, maxBody int) (*Event, error) {
	if maxBody > 0 && len(body) > maxBody {
		return nil, dropped(ReasonTooLarge, "", fmt.Sprintf("%d bytes, limit %d", len(body), maxBody))
	}
	var env envelope
	if err := unmarshal(body, &env); err != nil {
		return nil, err
	}
	msg, version := env.message, 1
	if env.Version != nil && env.Message != nil {
		if err := checkVersion(*env.Version); err != nil {
			return nil, err
		}
		var inner string
		if err := json.Unmarshal(*env.Message, &inner); err != nil {
			return nil, dropped(ReasonMalformed, "", "oslo.message is not a string")
		}
		msg = message{}
		if err := unmarshal([]byte(inner), &msg); err != nil {
			err.Detail = "oslo.message: " + err.Detail
			return nil, err
		}
		version = 2
	}
	if msg.EventType == nil || *msg.EventType == "" {
		return nil, dropped(ReasonForeign, "", "no event_type")
	}
	eventType := *msg.EventType
	kind, ok := eventKinds[eventType]
	if !ok {
		return nil, dropped(ReasonUnknownEvent, eventType, "")
	}
	ev := &Event{
		Kind:            kind,
		EventType:       eventType,
		MessageID:       msg.MessageID,
		Publisher:       msg.PublisherID,
		Priority:        msg.Priority,
		Timestamp:       parseTimestamp(msg.Timestamp),
		EnvelopeVersion: version,
	}
	var err error
	switch {
	case kind == KindPortCreate || kind == KindPortUpdate || kind == KindPortDelete:
		err = decodePorts(msg.Payload, ev)
	case strings.HasPrefix(eventType, "compute."):
		err = decodeLegacyInstance(msg.Payload, ev)
	default:
		err = decodeVersionedInstance(msg.Payload, ev)
	}
	if err != nil {
		return nil, dropped(ReasonBadPayload, eventType, err.Error())
	}
	if ev.ProjectID == "" {
		ev.ProjectID = msg.ContextProjectID
		if ev.ProjectID == "" {
			ev.ProjectID = msg.ContextTenant
		}
	}
	return ev, nil
}

// unmarshal tells a body that is no JSON at all (malformed) from JSON of
// another shape (foreign).
func unmarshal(data []byte, v any) *DecodeError {
	err := fastUnmarshal(data, v)
	if err == nil {
		return nil
	}
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) {
		// Only the JSON type and the field name: no value from the body.
		detail := "JSON " + typeErr.Value + " where an object or string was expected"
		if typeErr.Field != "" {
			detail = "field " + typeErr.Field + ": " + detail
		}
		return dropped(ReasonForeign, "", detail)
	}
	var syntaxErr *json.SyntaxError
	if errors.As(err, &syntaxErr) {
		return dropped(ReasonMalformed, "", "not JSON at byte "+strconv.FormatInt(syntaxErr.Offset, 10))
	}
	return dropped(ReasonMalformed, "", "not JSON")
}

// checkVersion applies oslo.messaging's version_is_compatible against the
// 2.0 it implements: same major, minor not newer.
func checkVersion(raw json.RawMessage) *DecodeError {
	var v string
	if err := json.Unmarshal(raw, &v); err != nil {
		return dropped(ReasonUnknownVersion, "", "oslo.version is not a string")
	}
	parts := strings.Split(v, ".")
	if len(parts) >= 2 && len(parts) <= 3 {
		major, err1 := strconv.Atoi(parts[0])
		minor, err2 := strconv.Atoi(parts[1])
		if err1 == nil && err2 == nil && major == 2 && minor == 0 {
			return nil
		}
	}
	return dropped(ReasonUnknownVersion, "", "oslo.version "+strconv.Quote(clip(v)))
}

// timestampLayouts are the forms oslo.messaging's str(utcnow()) takes (no
// fraction when the microseconds are zero) and ISO 8601 ones.
var timestampLayouts = []string{
	"2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04:05.999999999",
	time.RFC3339Nano,
	"2006-01-02 15:04:05.999999999Z07:00",
}

func parseTimestamp(s string) time.Time {
	if s == "" || len(s) > 64 {
		return time.Time{}
	}
	for _, layout := range timestampLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC()
		}
	}
	return time.Time{}
}

type portDoc struct {
	ID          string `json:"id"`
	DeviceID    string `json:"device_id"`
	DeviceOwner string `json:"device_owner"`
	Status      string `json:"status"`
	MACAddress  string `json:"mac_address"`
	NetworkID   string `json:"network_id"`
	ProjectID   string `json:"project_id"`
	TenantID    string `json:"tenant_id"`
	FixedIPs    []struct {
		SubnetID  string `json:"subnet_id"`
		IPAddress string `json:"ip_address"`
	} `json:"fixed_ips"`
}

func (d *portDoc) port() Port {
	p := Port{
		ID: d.ID, DeviceID: d.DeviceID, DeviceOwner: d.DeviceOwner, Status: d.Status,
		MACAddress: d.MACAddress, NetworkID: d.NetworkID, ProjectID: d.ProjectID,
	}
	if p.ProjectID == "" {
		p.ProjectID = d.TenantID
	}
	for _, ip := range d.FixedIPs {
		p.FixedIPs = append(p.FixedIPs, FixedIP{SubnetID: ip.SubnetID, IPAddress: ip.IPAddress})
	}
	return p
}

// decodePorts reads Neutron's payloads: {"port": {...}} for create and
// update, {"ports": [...]} for a bulk create, and {"port_id": "...",
// "port": {...}} for delete (older Neutron sends only port_id).
func decodePorts(payload json.RawMessage, ev *Event) error {
	var p struct {
		Port   *portDoc  `json:"port"`
		Ports  []portDoc `json:"ports"`
		PortID string    `json:"port_id"`
	}
	if err := decodePayload(payload, &p); err != nil {
		return err
	}
	if p.Port != nil {
		ev.Ports = append(ev.Ports, p.Port.port())
	}
	for i := range p.Ports {
		ev.Ports = append(ev.Ports, p.Ports[i].port())
	}
	if p.PortID != "" {
		if len(ev.Ports) == 0 {
			ev.Ports = append(ev.Ports, Port{ID: p.PortID})
		} else if ev.Ports[0].ID == "" {
			ev.Ports[0].ID = p.PortID
		}
	}
	if len(ev.Ports) == 0 {
		return errors.New("payload has no port")
	}
	for _, port := range ev.Ports {
		if port.ID == "" {
			return errors.New("port without id")
		}
	}
	ev.ProjectID = ev.Ports[0].ProjectID
	return nil
}

// decodeLegacyInstance reads Nova's unversioned payloads
// (nova.notifications.base.info_from_instance).
func decodeLegacyInstance(payload json.RawMessage, ev *Event) error {
	var p struct {
		InstanceID     string          `json:"instance_id"`
		DisplayName    string          `json:"display_name"`
		OldDisplayName string          `json:"old_display_name"`
		Host           string          `json:"host"`
		State          string          `json:"state"`
		TenantID       string          `json:"tenant_id"`
		Metadata       json.RawMessage `json:"metadata"`
		FixedIPs       []struct {
			Address string `json:"address"`
			VIFMAC  string `json:"vif_mac"`
		} `json:"fixed_ips"`
	}
	if err := decodePayload(payload, &p); err != nil {
		return err
	}
	if p.InstanceID == "" {
		return errors.New("payload has no instance_id")
	}
	inst := &Instance{ID: p.InstanceID, Name: p.DisplayName, OldName: p.OldDisplayName,
		Host: p.Host, State: p.State, Metadata: stringMap(p.Metadata)}
	for _, ip := range p.FixedIPs {
		inst.Interfaces = append(inst.Interfaces, Interface{MACAddress: ip.VIFMAC, IPAddress: ip.Address})
	}
	ev.Instance, ev.ProjectID = inst, p.TenantID
	return nil
}

// decodeVersionedInstance reads Nova's versioned payloads: an
// InstancePayload subclass wrapped as {"nova_object.data": {...}}.
func decodeVersionedInstance(payload json.RawMessage, ev *Event) error {
	var p struct {
		Data *struct {
			UUID           string          `json:"uuid"`
			DisplayName    string          `json:"display_name"`
			OldDisplayName string          `json:"old_display_name"`
			Host           string          `json:"host"`
			State          string          `json:"state"`
			TenantID       string          `json:"tenant_id"`
			Metadata       json.RawMessage `json:"metadata"`
			IPAddresses    []struct {
				Data struct {
					PortUUID string `json:"port_uuid"`
					MAC      string `json:"mac"`
					Address  string `json:"address"`
				} `json:"nova_object.data"`
			} `json:"ip_addresses"`
		} `json:"nova_object.data"`
	}
	if err := decodePayload(payload, &p); err != nil {
		return err
	}
	if p.Data == nil || p.Data.UUID == "" {
		return errors.New("payload has no nova_object.data.uuid")
	}
	d := p.Data
	inst := &Instance{ID: d.UUID, Name: d.DisplayName, OldName: d.OldDisplayName,
		Host: d.Host, State: d.State, Metadata: stringMap(d.Metadata)}
	for _, ip := range d.IPAddresses {
		inst.Interfaces = append(inst.Interfaces,
			Interface{PortID: ip.Data.PortUUID, MACAddress: ip.Data.MAC, IPAddress: ip.Data.Address})
	}
	ev.Instance, ev.ProjectID = inst, d.TenantID
	return nil
}

func decodePayload(payload json.RawMessage, v any) error {
	if len(payload) == 0 || bytes.Equal(payload, []byte("null")) {
		return errors.New("no payload")
	}
	if err := fastUnmarshal(payload, v); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			return fmt.Errorf("payload field %s: JSON %s of the wrong type", typeErr.Field, typeErr.Value)
		}
		return errors.New("payload is not a JSON object")
	}
	return nil
}

// fastUnmarshal decodes with goccy/go-json, several times faster than
// encoding/json on these documents (BenchmarkDecode); what it refuses is
// decoded again by encoding/json, so what is accepted and every error are
// encoding/json's, as in the openstack package.
func fastUnmarshal(data []byte, v any) error {
	if err := gojson.Unmarshal(data, v); err == nil {
		return nil
	}
	reflect.ValueOf(v).Elem().SetZero()
	return json.Unmarshal(data, v)
}

// stringMap keeps the string values of a JSON object; Nova's metadata has
// only those, and anything else is no metadata multinic can use.
func stringMap(raw json.RawMessage) map[string]string {
	if len(raw) == 0 || raw[0] != '{' {
		return nil
	}
	var all map[string]json.RawMessage
	if json.Unmarshal(raw, &all) != nil || len(all) == 0 {
		return nil
	}
	out := make(map[string]string, len(all))
	for k, v := range all {
		var s string
		if json.Unmarshal(v, &s) == nil {
			out[k] = s
		}
	}
	return out
}
