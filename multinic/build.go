package multinic

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/multinic/multinic/inventory"
	"github.com/multinic/multinic/openstack"
	"github.com/multinic/multinic/viola"
)

// build turns what was read into node configs, naming interfaces stably
// against what the inventory says was sent before. Every VM, subnet, address
// or node that cannot be sent is left out with its reason; only Nova naming
// none of the VMs fails the pass.
//
// The only other error is ctx's end: choosing the ports of a VM is bounded
// by the pass deadline like every other stage.
func (p *pass) build(ctx context.Context, vmIDs []string, portsByVM map[string][]openstack.Port, targets map[string]*target, servers map[string]openstack.Server, serverErrs map[string]error) (Result, error) {
	res := Result{RoutingKey: p.cfg.RoutingKey()}
	previous := p.previousByInstance()
	statuses := p.cfg.PortAllowedStatuses
	if len(statuses) == 0 {
		statuses = []string{"ACTIVE", "DOWN"}
	}
	allowed := newStatusFilter(statuses)
	nodeOwner := map[string]string{}
	named := 0
	unnamed := map[string]error{}
	skip := func(id, node, reason string) {
		res.Skipped = append(res.Skipped, SkippedVM{InstanceID: id, NodeName: node, Reason: reason})
	}
	for _, id := range vmIDs {
		if claim := p.claim(id, ""); claim != "" {
			skip(id, "", claim) // one owner per VM
			continue
		}
		// A VM Nova does not know says so, whatever Neutron still lists
		// for it: "no port" would send the reader to the wrong service.
		if _, known := servers[id]; !known && errors.Is(serverErrs[id], openstack.ErrServerNotFound) {
			skip(id, "", safeText(p.unnamedError(id, serverErrs[id]), p.secrets))
			continue
		}
		cands, blocked, err := selectPorts(ctx, portsByVM[id], targets, allowed)
		if err != nil {
			return Result{RoutingKey: res.RoutingKey}, err
		}
		review := reviewAddresses(id, portsByVM[id], targets, allowed, cands)
		switch {
		case len(review.held) > 0:
			skip(id, "", safeText(fmt.Errorf("not sent until its target subnets can be read, so no interface of it is dropped by mistake: %s", strings.Join(review.held, "; ")), p.secrets))
			continue
		case len(cands) > 0:
		case len(blocked) > 0:
			skip(id, "", "its ports on target subnets are all on subnets without a usable MTU ("+strings.Join(blocked, "; ")+")")
			continue
		case review.onlyIPv6:
			res.LeftOutAddresses = append(res.LeftOutAddresses, review.leftOut...)
			skip(id, "", "its addresses on target subnets are all IPv6, and "+viola.IPv6Limit)
			continue
		default:
			skip(id, "", "no port with an allowed status on a target subnet")
			continue
		}
		name, source, unnamedErr, invalid := p.nodeName(id, servers, serverErrs)
		if unnamedErr != nil {
			unnamed[id] = unnamedErr
			skip(id, "", safeText(unnamedErr, p.secrets))
			continue
		}
		named++
		if invalid != nil {
			skip(id, "", safeText(invalid, p.secrets))
			continue
		}
		if owner, dup := nodeOwner[name]; dup {
			skip(id, name, fmt.Sprintf("node name %q is already used by VM %s", name, owner))
			continue
		}
		if claim := p.claim(id, name); claim != "" {
			skip(id, name, claim)
			continue
		}
		nodeOwner[name] = id
		cands, held := p.holdDownPorts(id, name, cands, previous[id])
		res.HeldPorts = append(res.HeldPorts, held...)
		if len(cands) == 0 {
			continue // every port is held: the node goes out once one is up
		}
		ifaces, dropped := assignNames(id, cands, previous[id])
		res.DroppedPorts = append(res.DroppedPorts, dropped...)
		node := viola.NodeConfig{NodeName: name, InstanceID: id, Interfaces: ifaces, NodeNameSource: source}
		// What Neutron said may still not make a config the agent can use
		// (a malformed MAC or address): that node stays out of the POST,
		// the others go.
		if err := node.ValidatePayload(); err != nil {
			res.RejectedNodes = append(res.RejectedNodes, RejectedNode{NodeName: name, InstanceID: id, Reason: safeText(err, p.secrets)})
			continue
		}
		for _, a := range review.leftOut {
			a.NodeName = name
			res.LeftOutAddresses = append(res.LeftOutAddresses, a)
		}
		for _, w := range viola.AgentNodeNameWarnings(name) {
			res.NodeNameWarnings = append(res.NodeNameWarnings, NodeNameWarning{NodeName: name, InstanceID: id, Reason: w})
		}
		if res.Nodes == nil {
			res.Nodes = make([]viola.NodeConfig, 0, len(vmIDs))
			ports := 0
			for _, ps := range portsByVM {
				ports += len(ps)
			}
			res.PortStatuses = make(map[string]string, ports)
		}
		res.Nodes = append(res.Nodes, node)
		for _, iface := range ifaces {
			status := portStatus(cands, iface.PortID)
			res.PortStatuses[iface.PortID] = status
			if strings.EqualFold(status, "DOWN") {
				res.DownPorts = append(res.DownPorts, DownPort{NodeName: name, InstanceID: id, PortID: iface.PortID, MACAddress: iface.MACAddress})
			}
		}
	}
	if named == 0 && len(unnamed) > 0 {
		return res, fmt.Errorf("nova named none of the %d VMs with ports: %w", len(unnamed), firstError(unnamed))
	}
	slices.SortFunc(res.Nodes, func(a, b viola.NodeConfig) int { return strings.Compare(a.NodeName, b.NodeName) })
	return res, nil
}

// groupByVM maps each VM to its ports, as Session.PortsByVM does, for a
// list of them (Check's). Session.Ports returns them grouped by VM, so each
// VM's ports are a run of the slice and are kept in place rather than
// copied; a VM whose ports come in several runs (a caller's own order) gets
// a copy of them all, in order.
func groupByVM(ports []openstack.Port, vms int) map[string][]openstack.Port {
	out := make(map[string][]openstack.Port, vms)
	for i := 0; i < len(ports); {
		j := i + 1
		for j < len(ports) && ports[j].DeviceID == ports[i].DeviceID {
			j++
		}
		id := ports[i].DeviceID
		if prev, seen := out[id]; seen {
			out[id] = append(slices.Clip(prev), ports[i:j]...)
		} else {
			out[id] = ports[i:j:j]
		}
		i = j
	}
	return out
}

// nodeName is the node name Nova gives VM id, trimmed and lower-cased
// (SPEC §5), and where it came from. unnamed says why Nova gave none;
// invalid why the name it gave cannot be a Kubernetes node name, or one the
// node agent can configure (an agentLimitError).
func (p *pass) nodeName(id string, servers map[string]openstack.Server, serverErrs map[string]error) (name, source string, unnamed, invalid error) {
	server, ok := servers[id]
	if !ok {
		return "", "", p.unnamedError(id, serverErrs[id]), nil
	}
	raw, source := server.NodeName(p.cfg.NodeNameMetadataKey)
	if strings.TrimSpace(raw) == "" {
		return "", source, fmt.Errorf("nova: server %q has no name", id), nil
	}
	name = viola.NormalizeNodeName(raw)
	if err := viola.CheckNodeName(name); err != nil {
		return "", source, nil, fmt.Errorf("node name %q of VM %s (%s) cannot be a Kubernetes node name: after trimming and lower-casing, %w", raw, id, p.describeSource(server, source), err)
	}
	if err := viola.CheckAgentNodeName(name); err != nil {
		return "", source, nil, agentLimitError{fmt.Errorf("node name of VM %s (%s): %w", id, p.describeSource(server, source), err)}
	}
	return name, source, nil, nil
}

// agentLimitError is a node name the node agent cannot configure.
type agentLimitError struct{ error }

func (e agentLimitError) Unwrap() error { return e.error }

// describeSource says where a node name came from, for messages.
func (p *pass) describeSource(server openstack.Server, source string) string {
	switch source {
	case openstack.NodeNameFromMetadata:
		return fmt.Sprintf("Nova metadata %q", p.cfg.NodeNameMetadataKey)
	case openstack.NodeNameFromHostname:
		return "Nova's OS-EXT-SRV-ATTR:hostname"
	}
	return fmt.Sprintf("server name %q by Nova's host-name rules", server.Name)
}

// unnamedError is why Nova gave VM id no server: err, said plainly when
// Nova does not know the VM.
func (p *pass) unnamedError(id string, err error) error {
	switch {
	case err == nil:
		return errors.New("nova did not return the server")
	case errors.Is(err, openstack.ErrServerNotFound):
		return unknownVMError{id: id, project: p.cfg.ProjectID, err: err}
	}
	return err
}

// unknownVMError is a VM Nova answers 404 for.
type unknownVMError struct {
	id, project string
	err         error
}

func (e unknownVMError) Error() string {
	return fmt.Sprintf("VM %s is unknown to Nova (it answered 404): deleted, or not a server of project %s", e.id, e.project)
}

func (e unknownVMError) Unwrap() error { return e.err }

func firstError(errs map[string]error) error {
	keys := make([]string, 0, len(errs))
	for k := range errs {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if len(keys) == 0 {
		return errors.New("no server found")
	}
	return errs[keys[0]]
}

func portStatus(cands []candidate, portID string) string {
	for _, c := range cands {
		if c.port.ID == portID {
			return c.port.Status
		}
	}
	return ""
}

// previousByInstance returns the config last sent for each VM of this routing
// key; a VM whose node was renamed keeps its newest record.
func (p *pass) previousByInstance() map[string]*viola.NodeConfig {
	newest := make(map[string]*inventory.Record, len(p.previous))
	for i := range p.previous {
		rec := &p.previous[i]
		if prev, seen := newest[rec.InstanceID]; !seen || rec.UpdatedAt.After(prev.UpdatedAt) {
			newest[rec.InstanceID] = rec
		}
	}
	out := make(map[string]*viola.NodeConfig, len(newest))
	for id, rec := range newest {
		out[id] = &rec.Config
	}
	return out
}
