package multinic

import (
	"fmt"
	"strings"
	"time"

	"github.com/multinic/multinic/inventory"
	"github.com/multinic/multinic/viola"
)

// owners is what the pass knows of the other configs of its routing key
// (Config.Peers and HeldByOthers).
type owners struct {
	// claimedBy maps a VM to the first Prior peer that selects it: that
	// peer owns it (SPEC §5).
	claimedBy map[string]string
	// shared maps the VMs some other config selects to the first of them:
	// their records are never removed or orphaned on this config's behalf.
	shared map[string]string
	// allDelete: this config and every peer remove nodes at Viola, so a
	// record of a VM nobody selects any more may be deleted.
	allDelete bool
}

func (c Config) owners() owners {
	o := owners{allDelete: c.RemovalPolicy.deletes()}
	if len(c.Peers) == 0 && len(c.HeldByOthers) == 0 {
		return o
	}
	o.shared = make(map[string]string, len(c.HeldByOthers))
	for _, peer := range c.Peers {
		o.allDelete = o.allDelete && peer.RemovalPolicy.deletes()
		for _, id := range peer.VMIDs {
			if o.shared[id] == "" {
				o.shared[id] = peer.Name
			}
			if peer.Prior && o.claimedBy[id] == "" {
				if o.claimedBy == nil {
					o.claimedBy = map[string]string{}
				}
				o.claimedBy[id] = peer.Name
			}
		}
	}
	for _, id := range c.HeldByOthers {
		if o.shared[id] == "" {
			o.shared[id] = "another config"
		}
	}
	return o
}

// claim says which peer owns VM id, or node name (whose record belongs
// to a VM a peer owns), or "" when this config may send it.
func (p *pass) claim(id, name string) string {
	if owner := p.owners.claimedBy[id]; owner != "" {
		return "claimed by " + owner
	}
	if name == "" || p.owners.claimedBy == nil {
		return ""
	}
	// An orphaned record is nobody's: its peer let the name go.
	if rec := p.lastByName()[name]; rec != nil && rec.InstanceID != id && rec.Orphaned == nil {
		if owner := p.owners.claimedBy[rec.InstanceID]; owner != "" {
			return fmt.Sprintf("claimed by %s (node name %q is its VM %s's)", owner, name, rec.InstanceID)
		}
	}
	return ""
}

// lastByName maps node names to the inventory records of the routing key.
func (p *pass) lastByName() map[string]*inventory.Record {
	if p.byName == nil {
		p.byName = make(map[string]*inventory.Record, len(p.previous))
		for i := range p.previous {
			p.byName[p.previous[i].NodeName] = &p.previous[i]
		}
	}
	return p.byName
}

// holdDownPorts takes out of cands the ports the grace period holds back
// (SPEC §8): DOWN, never sent for this VM (previous does not carry their
// MAC), and first seen DOWN less than DownPortGracePeriod ago. The node
// agent configures a node once per spec change and its Job fails for good
// when a MAC is not in the guest yet, so a NIC still being plugged in is
// better sent once its port is ACTIVE, as a change the agent acts on.
func (p *pass) holdDownPorts(id, name string, cands []candidate, previous *viola.NodeConfig) ([]candidate, []HeldPort) {
	grace := p.cfg.DownPortGracePeriod
	if grace <= 0 {
		return cands, nil
	}
	now := p.cfg.now()
	var held []HeldPort
	kept := cands[:0]
	for _, c := range cands {
		if !strings.EqualFold(c.port.Status, "DOWN") || previousIndex(previous, c.mac) >= 0 {
			kept = append(kept, c)
			continue
		}
		first, seen := p.cfg.DownPortsFirstSeen[c.port.ID]
		if !seen || first.After(now) {
			first = now
		}
		if until := first.Add(grace); now.Before(until) {
			held = append(held, HeldPort{NodeName: name, InstanceID: id, PortID: c.port.ID, MACAddress: c.port.MACAddress, FirstSeen: first, Until: until})
			continue
		}
		kept = append(kept, c)
	}
	return kept, held
}

// HeldPort is a DOWN port held back by Config.DownPortGracePeriod.
type HeldPort struct {
	NodeName   string
	InstanceID string
	PortID     string
	MACAddress string
	// FirstSeen is when the port was first seen DOWN; a caller hands it
	// back in Config.DownPortsFirstSeen. Until is when the grace period
	// ends and the port is sent even if still DOWN.
	FirstSeen, Until time.Time
}
