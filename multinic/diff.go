package multinic

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"

	"github.com/multinic/multinic/inventory"
	"github.com/multinic/multinic/viola"
)

// diff compares nodes with the inventory records of the routing key (read
// once into p.previous) the way send decides what to post: by node name
// and config hash. Records that match no node follow, with what becomes of
// them (leaving says which this config lets go), so a dry run can show
// everything a pass would change.
func (p *pass) diff(nodes []viola.NodeConfig, leaving []leaver) []NodeDiff {
	last := p.lastByName()
	forced := map[string]bool{}
	for _, n := range p.cfg.Resend {
		forced[n] = true
	}
	out := make([]NodeDiff, 0, len(nodes))
	nodeOf := make(map[string]string, len(nodes)) // instance ID → node name
	for _, node := range nodes {
		nodeOf[node.InstanceID] = node.NodeName
		d := NodeDiff{NodeName: node.NodeName, InstanceID: node.InstanceID, Change: ChangeUnchanged}
		rec, known := last[node.NodeName]
		switch {
		case !known:
			d.Change = ChangeNew
		case !sameConfig(*rec, node):
			d.Change = ChangeChanged
			d.Fields = fieldChanges(rec.Config, node)
		}
		d.Due = d.Change != ChangeUnchanged || p.cfg.ResendAll || forced[node.NodeName]
		if known && rec.Orphaned != nil {
			// Sent again, the node is this config's: the record loses its mark.
			d.Due, d.Note = true, "was orphaned ("+rec.Orphaned.Reason+"): taken back"
		}
		out = append(out, d)
	}
	// Made only for a record whose VM is not its node now, which a pass
	// with nothing changed has none of.
	var named map[string]bool
	var rest []NodeDiff
	leaves := make(map[*inventory.Record]leaver, len(leaving))
	for _, l := range leaving {
		leaves[l.rec] = l
	}
	for i := range p.previous {
		rec := &p.previous[i]
		if name, ok := nodeOf[rec.InstanceID]; ok && name == rec.NodeName {
			continue // compared above
		}
		if named == nil {
			named = make(map[string]bool, len(nodes))
			for _, node := range nodes {
				named[node.NodeName] = true
			}
		}
		if named[rec.NodeName] {
			continue // compared above (a record of another VM under this name is replaced)
		}
		d := NodeDiff{NodeName: rec.NodeName, InstanceID: rec.InstanceID, Change: ChangeKept}
		l, leaves := leaves[rec]
		switch {
		case leaves && l.delete:
			d.Change, d.Note = ChangeRemoved, l.reason
		case leaves:
			d.Change, d.Note = ChangeOrphaned, l.reason
		case rec.Orphaned != nil:
			d.Note = "orphaned: " + rec.Orphaned.String()
		case p.claim(rec.InstanceID, "") != "":
			d.Note = fmt.Sprintf("VM %s is %s", rec.InstanceID, p.claim(rec.InstanceID, ""))
		case p.owners.shared[rec.InstanceID] != "":
			d.Note = fmt.Sprintf("VM %s is also selected by %s", rec.InstanceID, p.owners.shared[rec.InstanceID])
		default:
			d.Note = fmt.Sprintf("VM %s produced no node config in this pass", rec.InstanceID)
		}
		rest = append(rest, d)
	}
	slices.SortFunc(rest, func(a, b NodeDiff) int { return cmp.Compare(a.NodeName, b.NodeName) })
	return append(out, rest...)
}

func set(ids []string) map[string]bool {
	m := make(map[string]bool, len(ids))
	for _, id := range ids {
		m[id] = true
	}
	return m
}

// sameConfig tells whether node is what rec records, as send decides it: by
// config hash. A record holding exactly node is the same without hashing,
// since a Record's LastConfigHash is ConfigHash(Config) (the Store enforces
// it on load and upsert); hashing every node of a 10,000-node pass was a
// tenth of its CPU. Anything else is compared by hash, as before.
func sameConfig(rec inventory.Record, node viola.NodeConfig) bool {
	if rec.Config.NodeName == node.NodeName && rec.Config.InstanceID == node.InstanceID && slices.Equal(rec.Config.Interfaces, node.Interfaces) {
		return true
	}
	return rec.LastConfigHash == inventory.ConfigHash(node)
}

// fieldChanges lists how next differs from the recorded prev: the instance
// ID, then interfaces by name (added, removed, or their differing fields).
// It is never empty for configs whose hashes differ.
func fieldChanges(prev, next viola.NodeConfig) []FieldChange {
	var out []FieldChange
	if prev.InstanceID != next.InstanceID {
		out = append(out, FieldChange{Field: "instanceId", Old: prev.InstanceID, New: next.InstanceID})
	}
	byName := func(ifaces []viola.Interface) map[string]viola.Interface {
		m := make(map[string]viola.Interface, len(ifaces))
		for _, iface := range ifaces {
			m[iface.Name] = iface
		}
		return m
	}
	old, cur := byName(prev.Interfaces), byName(next.Interfaces)
	var names []string
	for name := range old {
		names = append(names, name)
	}
	for name := range cur {
		if _, both := old[name]; !both {
			names = append(names, name)
		}
	}
	slices.SortFunc(names, compareInterfaceNames)
	for _, name := range names {
		o, wasThere := old[name]
		n, isThere := cur[name]
		field := "interfaces[" + name + "]"
		switch {
		case !wasThere:
			out = append(out, FieldChange{Field: field, New: describeInterface(n)})
		case !isThere:
			out = append(out, FieldChange{Field: field, Old: describeInterface(o)})
		default:
			for _, f := range []struct{ name, old, new string }{
				{"id", strconv.Itoa(o.ID), strconv.Itoa(n.ID)},
				{"macAddress", o.MACAddress, n.MACAddress},
				{"address", o.Address, n.Address},
				{"cidr", o.CIDR, n.CIDR},
				{"mtu", strconv.Itoa(o.MTU), strconv.Itoa(n.MTU)},
				{"portId", o.PortID, n.PortID},
			} {
				if f.old != f.new {
					out = append(out, FieldChange{Field: field + "." + f.name, Old: f.old, New: f.new})
				}
			}
		}
	}
	if len(out) == 0 {
		// Same fields, different hash: a record that repeats an interface
		// name, which only a hand-edited file can hold.
		out = append(out, FieldChange{Field: "config", Old: "recorded hash", New: "a different hash"})
	}
	return out
}

// compareInterfaceNames orders multinic2 before multinic10.
func compareInterfaceNames(a, b string) int {
	return cmp.Or(cmp.Compare(len(a), len(b)), cmp.Compare(a, b))
}

func describeInterface(iface viola.Interface) string {
	return fmt.Sprintf("%s %s %s mtu %d", iface.MACAddress, iface.Address, iface.CIDR, iface.MTU)
}
