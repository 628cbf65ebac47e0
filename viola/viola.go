// Package viola holds the node-config payload of the Viola API and a client
// that posts it. Viola turns each NodeConfig into a MultiNicNodeConfig object
// in the Biz cluster, which the node agent reads to configure extra NICs.
package viola

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// MaxInterfaces is how many interfaces one node may carry (multinic0..multinic9).
const MaxInterfaces = 10

// MTU bounds of the node agent: it skips an interface outside them.
const (
	MinMTU = 68
	MaxMTU = 9000
)

// NodeConfig is the desired NIC layout of one Kubernetes node.
type NodeConfig struct {
	NodeName   string      `json:"nodeName"`
	InstanceID string      `json:"instanceId"`
	Interfaces []Interface `json:"interfaces"`
	// NodeNameSource says where the sender took NodeName from (multinic:
	// "metadata", "hostname" or "name", see openstack.Server.NodeName). It
	// is the sender's note, never part of the payload, the config hash or
	// what Viola receives.
	NodeNameSource string `json:"-"`
}

// Interface is one extra NIC. ID is the K of its name multinicK.
//
// Only portId may be omitted: the node agent treats a missing name as "id 0
// is unset" and renumbers, and skips an interface without mtu (SPEC §7), so
// id, name and mtu go out even when zero and then fail ValidatePayload
// rather than silently vanish from the JSON.
type Interface struct {
	ID         int    `json:"id"`
	Name       string `json:"name"`
	PortID     string `json:"portId,omitempty"`
	MACAddress string `json:"macAddress"`
	Address    string `json:"address"`
	CIDR       string `json:"cidr"`
	MTU        int    `json:"mtu"`
}

// InterfaceName is the link name the node agent gives interface index id.
func InterfaceName(id int) string {
	if id >= 0 && id < MaxInterfaces {
		return interfaceNames[id]
	}
	return "multinic" + strconv.Itoa(id)
}

// interfaceNames are the names of the ten indexes every config uses, made
// once: validating a 10,000-node pass formatted them 60,000 times.
var interfaceNames = func() (names [MaxInterfaces]string) {
	for i := range names {
		names[i] = "multinic" + strconv.Itoa(i)
	}
	return names
}()

// isMAC reports whether s is six colon-separated hex pairs, the schema's
// ^([0-9A-Fa-f]{2}[:]){5}([0-9A-Fa-f]{2})$, without a regexp per interface.
func isMAC(s string) bool {
	if len(s) != 17 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if i%3 == 2 {
			if s[i] != ':' {
				return false
			}
		} else if !isHex(s[i]) {
			return false
		}
	}
	return true
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// Validate checks a node config against the MultiNicNodeConfig schema, so a
// payload that the Biz cluster would reject is caught before it is sent.
// It is what a stored config must satisfy; ValidateReceived and
// ValidatePayload add what the node agent needs on top.
func (c NodeConfig) Validate() error {
	var errs []error
	if c.NodeName == "" {
		errs = append(errs, errors.New("nodeName is required"))
	}
	if len(c.Interfaces) == 0 {
		errs = append(errs, errors.New("interfaces must hold at least one interface"))
	}
	if len(c.Interfaces) > MaxInterfaces {
		errs = append(errs, fmt.Errorf("interfaces holds %d entries, at most %d allowed", len(c.Interfaces), MaxInterfaces))
	}
	used := usedIDs{}
	for i, iface := range c.Interfaces {
		field := fieldName(i)
		if iface.ID < 0 {
			errs = append(errs, fmt.Errorf("%s.id must be >= 0, got %d", field(), iface.ID))
		}
		if used.seen(iface.ID) {
			errs = append(errs, fmt.Errorf("%s.id %d is used twice", field(), iface.ID))
		}
		if !isMAC(iface.MACAddress) {
			errs = append(errs, fmt.Errorf("%s.macAddress %q is not six colon-separated hex pairs", field(), iface.MACAddress))
		}
		if iface.MTU != 0 && (iface.MTU < MinMTU || iface.MTU > MaxMTU) {
			errs = append(errs, fmt.Errorf("%s.mtu %d is outside %d-%d", field(), iface.MTU, MinMTU, MaxMTU))
		}
	}
	return nodeError(c.NodeName, errs)
}

// usedIDs remembers interface IDs: a bit per ID below 64 (all a valid
// config has), a map for any other, so checking a config allocates nothing.
type usedIDs struct {
	low  uint64
	rest map[int]bool
}

// seen reports whether id was seen before, and notes it.
func (u *usedIDs) seen(id int) bool {
	if id >= 0 && id < 64 {
		was := u.low&(1<<id) != 0
		u.low |= 1 << id
		return was
	}
	if u.rest == nil {
		u.rest = map[int]bool{}
	}
	was := u.rest[id]
	u.rest[id] = true
	return was
}

// fieldName names interface i in messages; formatted only for a message.
func fieldName(i int) func() string {
	return func() string { return "interfaces[" + strconv.Itoa(i) + "]" }
}

// ValidateReceived checks what Viola refuses with 400 beyond the schema:
// what the node agent needs to act on a config at all rather than store it
// and silently ignore it (SPEC §7). nodeName is the Kubernetes node name (a
// lower-case RFC 1123 subdomain, the object name the agent looks up), and
// every interface carries the name multinicK of its id and an mtu. The Viola
// fake (violatest) and the Viola test API (testapi) check received configs
// with it.
func (c NodeConfig) ValidateReceived() error {
	if err := c.Validate(); err != nil {
		return err
	}
	return nodeError(c.NodeName, c.agentProblems(false))
}

// ValidatePayload checks a config multinic is about to send: everything
// ValidateReceived checks, plus what multinic guarantees on top (SPEC §6-7):
// a node name the agent can name its Job after (CheckAgentNodeName), ids
// within 0-9 (multinic0..multinic9), IPv4 addresses, each inside its cidr.
// Every config multinic sends is thus one the agent configures.
func (c NodeConfig) ValidatePayload() error {
	if err := c.Validate(); err != nil {
		return err
	}
	return nodeError(c.NodeName, c.agentProblems(true))
}

// agentProblems are the checks of ValidateReceived, and with payload those
// of ValidatePayload too, in field order.
func (c NodeConfig) agentProblems(payload bool) []error {
	var errs []error
	if err := CheckNodeName(c.NodeName); err != nil {
		errs = append(errs, fmt.Errorf("nodeName: %w", err))
	} else if err := CheckAgentNodeName(c.NodeName); payload && err != nil {
		errs = append(errs, fmt.Errorf("nodeName: %w", err))
	}
	for i, iface := range c.Interfaces {
		field := fieldName(i)
		if payload && iface.ID >= MaxInterfaces {
			errs = append(errs, fmt.Errorf("%s.id %d is beyond multinic%d", field(), iface.ID, MaxInterfaces-1))
		}
		switch want := InterfaceName(iface.ID); {
		case iface.Name == "":
			errs = append(errs, fmt.Errorf("%s.name is required (%q for id %d): without it the node agent renumbers the interfaces", field(), want, iface.ID))
		case iface.Name != want:
			errs = append(errs, fmt.Errorf("%s.name %q must be %q, the name for id %d", field(), iface.Name, want, iface.ID))
		}
		if iface.MTU == 0 {
			errs = append(errs, fmt.Errorf("%s.mtu is required (%d-%d): the node agent skips an interface without one", field(), MinMTU, MaxMTU))
		}
		if payload {
			errs = append(errs, checkAddress(field, iface.Address, iface.CIDR)...)
		}
	}
	return errs
}

func checkAddress(field func() string, address, cidr string) []error {
	addr, addrErr := netip.ParseAddr(address)
	if addrErr != nil {
		return []error{fmt.Errorf("%s.address %q is not an IP address", field(), address)}
	}
	if IsIPv6(address) {
		return []error{fmt.Errorf("%s.address %s is IPv6: %s", field(), address, IPv6Limit)}
	}
	prefix, err := netip.ParsePrefix(cidr)
	switch {
	case err != nil:
		return []error{fmt.Errorf("%s.cidr %q is not a CIDR", field(), cidr)}
	case !prefix.Contains(addr):
		return []error{fmt.Errorf("%s.address %s is outside cidr %s", field(), address, cidr)}
	}
	return nil
}

func nodeError(nodeName string, errs []error) error {
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("node config %q: %w", nodeName, joinOneLine(errs))
}

// maxNodeNameLength is the limit of a Kubernetes object name (RFC 1123 subdomain).
const maxNodeNameLength = 253

// isDNSLabel is ^[a-z0-9]([-a-z0-9]*[a-z0-9])?$ without a regexp per
// name: a lower-case RFC 1123 label.
func isDNSLabel(s string) bool {
	if s == "" || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// NormalizeNodeName turns a Nova server name (or metadata value) into the
// Kubernetes node name the kubelet registers: trimmed and lower-cased. The
// result still has to pass CheckNodeName; nothing else is rewritten, because
// a node sent under a mangled name is a node the agent never finds.
func NormalizeNodeName(raw string) string {
	return strings.ToLower(strings.TrimSpace(raw))
}

// CheckNodeName reports why name is not a Kubernetes node name, i.e. not a
// lower-case RFC 1123 subdomain of at most 253 characters.
func CheckNodeName(name string) error {
	switch {
	case name == "":
		return errors.New("is empty")
	case len(name) > maxNodeNameLength:
		return fmt.Errorf("is %d characters long, at most %d allowed", len(name), maxNodeNameLength)
	}
	for label := range strings.SplitSeq(name, ".") {
		if !isDNSLabel(label) {
			return fmt.Errorf("%q is not a lower-case RFC 1123 subdomain: only a-z, 0-9, '-' and '.', each dot-separated part non-empty and starting and ending with a letter or digit", name)
		}
	}
	return nil
}

// Limits of the node agent (Minzino/multi-network-interface-agent, SPEC §7)
// on a node it is to configure. Each is cited where the agent has it.
const (
	// MaxAgentNodeNameLength is the longest node name the agent can
	// configure: it names its configuration Job
	// "multinic-agent-<node>-g<generation>" (internal/controller/
	// reconciler.go, Controller.Reconcile), and Kubernetes refuses a Job
	// name beyond 63 characters, the label value its pods carry it in; 42
	// leaves room for generations up to 9999.
	MaxAgentNodeNameLength = 42
	// maxAgentCleanupNodeName is the longest node name of which the agent's
	// cleanup Job, "multinic-agent-cleanup-<node>" (reconciler.go,
	// Controller.LaunchCleanupJob, run when a node's config is deleted),
	// stays within 63 characters.
	maxAgentCleanupNodeName = 63 - len("multinic-agent-cleanup-")
)

// IPv6Limit is why the agent cannot serve an IPv6 address: its policy
// routing adds "ip rule ... from <address>/32" (internal/infrastructure/
// network/netplan_adapter.go and rhel_adapter.go, applyPolicyRouting), and
// its NetworkManager profiles set "[ipv6] method=ignore" (rhel_adapter.go,
// generateNMConnection).
const IPv6Limit = "the node agent's routing is IPv4-only (ip rule from <address>/32)"

// IsIPv6 reports whether address is an IPv6 address (an IPv4-mapped one
// counts as IPv4); text that is no address is not.
func IsIPv6(address string) bool {
	addr, err := netip.ParseAddr(address)
	return err == nil && addr.Is6() && !addr.Is4In6()
}

// CheckAgentNodeName reports why the node agent cannot configure a node of
// this name, which CheckNodeName accepts: longer than
// MaxAgentNodeNameLength.
func CheckAgentNodeName(name string) error {
	if n := len(name); n > MaxAgentNodeNameLength {
		return fmt.Errorf("%q is %d characters long: the node agent names its Job multinic-agent-<node>-g<generation>, which must stay within 63 characters, so at most %d are allowed", name, n, MaxAgentNodeNameLength)
	}
	return nil
}

// AgentNodeNameWarnings say what the node agent does only in part for a
// node of this name (one it configures): nil when nothing.
func AgentNodeNameWarnings(name string) []string {
	var out []string
	if short, _, dotted := strings.Cut(name, "."); dotted {
		// cmd/agent/main.go cleanHostnameDomainSuffix and internal/domain/
		// services/interface_naming.go GetHostname: the host name is cut at
		// its first dot before the agent looks up its node's config.
		out = append(out, fmt.Sprintf("node name %q has a dot: the node agent looks its config up as %q (its host name cut at the first '.') when it cleans up removed interfaces, so interfaces removed from this node are left configured", name, short))
	}
	if n := len(name); n > maxAgentCleanupNodeName && n <= MaxAgentNodeNameLength {
		out = append(out, fmt.Sprintf("node name %q is %d characters long: the node agent's cleanup Job multinic-agent-cleanup-<node> would pass 63 characters, so deleting this node's config does not clean the node up (at most %d characters avoid it)", name, n, maxAgentCleanupNodeName))
	}
	return out
}
