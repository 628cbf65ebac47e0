// Package viola holds the node-config payload of the Viola API and a client
// that posts it. Viola turns each NodeConfig into a MultiNicNodeConfig object
// in the Biz cluster, which the node agent reads to configure extra NICs.
package viola

import (
	"errors"
	"fmt"
	"regexp"
)

// MaxInterfaces is how many interfaces one node may carry (multinic0..multinic9).
const MaxInterfaces = 10

// NodeConfig is the desired NIC layout of one Kubernetes node.
type NodeConfig struct {
	NodeName   string      `json:"nodeName"`
	InstanceID string      `json:"instanceId"`
	Interfaces []Interface `json:"interfaces"`
}

// Interface is one extra NIC. ID is the K of its name multinicK.
type Interface struct {
	ID         int    `json:"id"`
	Name       string `json:"name"`
	PortID     string `json:"portId,omitempty"`
	MACAddress string `json:"macAddress"`
	Address    string `json:"address,omitempty"`
	CIDR       string `json:"cidr,omitempty"`
	MTU        int    `json:"mtu,omitempty"`
}

// InterfaceName is the link name the node agent gives interface index id.
func InterfaceName(id int) string { return fmt.Sprintf("multinic%d", id) }

var macPattern = regexp.MustCompile(`^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$`)

// Validate checks a node config against the MultiNicNodeConfig schema, so a
// payload that the Biz cluster would reject is caught before it is sent.
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
		if iface.MTU != 0 && (iface.MTU < 68 || iface.MTU > 9000) {
			errs = append(errs, fmt.Errorf("%s.mtu %d is outside 68-9000", field, iface.MTU))
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("node config %q: %w", c.NodeName, errors.Join(errs...))
}
