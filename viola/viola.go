// Package viola holds the node-config payload of the Viola API and a client
// that posts it. Viola turns each NodeConfig into a MultiNicNodeConfig object
// in the Biz cluster, which the node agent reads to configure extra NICs.
package viola

import (
	"errors"
	"fmt"
	"net/netip"
	"regexp"
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
func InterfaceName(id int) string { return fmt.Sprintf("multinic%d", id) }

var macPattern = regexp.MustCompile(`^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$`)

// Validate checks a node config against the MultiNicNodeConfig schema, so a
// payload that the Biz cluster would reject is caught before it is sent.
// It is what a stored or received config must satisfy; ValidatePayload adds
// what the node agent needs on top.
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
	seen := make(map[int]bool, len(c.Interfaces))
	for i, iface := range c.Interfaces {
		field := fmt.Sprintf("interfaces[%d]", i)
		if iface.ID < 0 {
			errs = append(errs, fmt.Errorf("%s.id must be >= 0, got %d", field, iface.ID))
		}
		if seen[iface.ID] {
			errs = append(errs, fmt.Errorf("%s.id %d is used twice", field, iface.ID))
		}
		seen[iface.ID] = true
		if !macPattern.MatchString(iface.MACAddress) {
			errs = append(errs, fmt.Errorf("%s.macAddress %q is not six colon-separated hex pairs", field, iface.MACAddress))
		}
		if iface.MTU != 0 && (iface.MTU < MinMTU || iface.MTU > MaxMTU) {
			errs = append(errs, fmt.Errorf("%s.mtu %d is outside %d-%d", field, iface.MTU, MinMTU, MaxMTU))
		}
	}
	return nodeError(c.NodeName, errs)
}

// ValidatePayload checks what the node agent needs beyond the schema
// (SPEC §6-7), so that every config multinic sends is one the agent
// configures rather than one it stores and silently ignores: nodeName is the
// Kubernetes node name (a lower-case RFC 1123 subdomain, the object name the
// agent looks up), and every interface carries id 0-9 with name multinicK,
// an address inside its cidr, and an mtu within 68-9000.
func (c NodeConfig) ValidatePayload() error {
	if err := c.Validate(); err != nil {
		return err
	}
	var errs []error
	if err := CheckNodeName(c.NodeName); err != nil {
		errs = append(errs, fmt.Errorf("nodeName: %w", err))
	}
	for i, iface := range c.Interfaces {
		field := fmt.Sprintf("interfaces[%d]", i)
		if iface.ID >= MaxInterfaces {
			errs = append(errs, fmt.Errorf("%s.id %d is beyond multinic%d", field, iface.ID, MaxInterfaces-1))
		}
		if want := InterfaceName(iface.ID); iface.Name != want {
			errs = append(errs, fmt.Errorf("%s.name %q must be %q", field, iface.Name, want))
		}
		if iface.MTU == 0 {
			errs = append(errs, fmt.Errorf("%s.mtu is required (%d-%d); the node agent skips an interface without one", field, MinMTU, MaxMTU))
		}
		errs = append(errs, checkAddress(field, iface.Address, iface.CIDR)...)
	}
	return nodeError(c.NodeName, errs)
}

func checkAddress(field, address, cidr string) []error {
	addr, addrErr := netip.ParseAddr(address)
	if addrErr != nil {
		return []error{fmt.Errorf("%s.address %q is not an IP address", field, address)}
	}
	prefix, err := netip.ParsePrefix(cidr)
	switch {
	case err != nil:
		return []error{fmt.Errorf("%s.cidr %q is not a CIDR", field, cidr)}
	case !prefix.Contains(addr):
		return []error{fmt.Errorf("%s.address %s is outside cidr %s", field, address, cidr)}
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

var dnsLabel = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

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
	for _, label := range strings.Split(name, ".") {
		if !dnsLabel.MatchString(label) {
			return fmt.Errorf("%q is not a lower-case RFC 1123 subdomain: only a-z, 0-9, '-' and '.', each dot-separated part non-empty and starting and ending with a letter or digit", name)
		}
	}
	return nil
}
