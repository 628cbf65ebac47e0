package openstacktest

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/multinic/multinic/internal/novahostname"
)

// DefaultCreatedAt is the creation time of resources added without one, fixed
// so that payloads are the same on every run.
var DefaultCreatedAt = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// DefaultMTU is the MTU of networks added without one: Neutron's value for
// VXLAN tenant networks on a 1500-byte underlay.
const DefaultMTU = 1450

// Network is a Neutron network.
type Network struct {
	ID   string // generated when empty
	Name string
	MTU  int // DefaultMTU when 0; any other value is served as is, e.g. 9100
	// NoMTU serves the network without an mtu attribute, as Neutron does when
	// the net-mtu extension is off.
	NoMTU     bool
	ProjectID string // the credentials' project when empty
	CreatedAt time.Time
}

// Subnet is a Neutron subnet.
type Subnet struct {
	ID        string // generated when empty
	Name      string
	NetworkID string
	CIDR      string
	ProjectID string // the credentials' project when empty
	IPVersion int    // taken from CIDR when 0
	GatewayIP string // the first host address of CIDR when empty
	CreatedAt time.Time
}

// VM is a Nova server.
type VM struct {
	ID   string // generated when empty
	Name string
	// Hostname is the guest's host name, served as OS-EXT-SRV-ATTR:hostname
	// (microversion 2.3+ to an admin, 2.90+ to anyone). Left empty, it is
	// what Nova makes of Name at create (Sanitize of its sanitize_hostname,
	// or Server-<id>); set it to model a hostname requested at create (2.90)
	// or one made by an older Nova, which kept dots. UpdateVM keeps it when
	// the mutation leaves it empty: renaming a server does not rename its
	// guest, in Nova either.
	Hostname  string
	Metadata  map[string]string
	ProjectID string // the credentials' project when empty
	Status    string // ACTIVE when empty
	CreatedAt time.Time
}

// Port is a Neutron port.
type Port struct {
	ID          string // generated when empty
	Name        string
	NetworkID   string
	DeviceID    string // the VM it is attached to
	DeviceOwner string // compute:nova when empty and DeviceID is set
	MACAddress  string // a fresh fa:16:3e:xx:xx:xx when empty
	Status      string // ACTIVE when empty
	ProjectID   string // the credentials' project when empty
	CreatedAt   time.Time
	FixedIPs    []FixedIP
}

// FixedIP is one address of a port.
type FixedIP struct {
	SubnetID  string
	IPAddress string
}

// portRecord is a port as stored. A record is never changed once it is in
// s.ports: AddPort and UpdatePort store a new one, RemovePort drops it. So
// what is derived from it and kept on it (the rendered document and its
// encodings) cannot go stale; replacing or removing the port invalidates
// them along with the record.
type portRecord struct {
	Port
	updatedAt time.Time
	revision  int

	// doc is renderPort's result, made once when the record is created:
	// port lists of a large fleet would otherwise render (format times, hash
	// the security group UUID, build maps) every port on every request.
	doc portDoc
	// encoded caches doc's JSON per fieldsKey (see portJSON). Readers fill it
	// while holding only s.mu.RLock, hence its own lock.
	encMu   sync.Mutex
	encoded map[string][]byte
}

func newPortRecord(p Port, updatedAt time.Time, revision int) *portRecord {
	rec := &portRecord{Port: p, updatedAt: updatedAt, revision: revision}
	rec.doc = renderPort(rec)
	return rec
}

// AddNetwork adds or replaces (same ID) a network and returns it with
// defaults filled in.
func (s *Server) AddNetwork(n Network) Network {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n.ID == "" {
		n.ID = s.generatedID("network")
	}
	if n.MTU == 0 {
		n.MTU = DefaultMTU
	}
	if n.ProjectID == "" {
		n.ProjectID = s.creds.ProjectID
	}
	if n.CreatedAt.IsZero() {
		n.CreatedAt = DefaultCreatedAt
	}
	if _, ok := s.networks[n.ID]; !ok {
		s.networkIDs = insertSorted(s.networkIDs, n.ID)
	}
	s.networks[n.ID] = &n
	s.forgetServerDetails() // network names label the servers' addresses
	return n
}

// RemoveNetwork deletes a network; it reports whether it existed.
func (s *Server) RemoveNetwork(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.networks[id]; !ok {
		return false
	}
	delete(s.networks, id)
	s.networkIDs = removeSorted(s.networkIDs, id)
	s.forgetServerDetails()
	return true
}

// AddSubnet adds or replaces (same ID) a subnet and returns it with defaults
// filled in. It panics on an unparsable CIDR, a bug in the test.
func (s *Server) AddSubnet(sn Subnet) Subnet {
	prefix, err := netip.ParsePrefix(sn.CIDR)
	if err != nil {
		panic(fmt.Sprintf("openstacktest: subnet %q: %v", sn.ID, err))
	}
	prefix = prefix.Masked()
	s.mu.Lock()
	defer s.mu.Unlock()
	if sn.ID == "" {
		sn.ID = s.generatedID("subnet")
	}
	if sn.IPVersion == 0 {
		sn.IPVersion = 4
		if prefix.Addr().Is6() {
			sn.IPVersion = 6
		}
	}
	if sn.GatewayIP == "" && prefix.Bits() < prefix.Addr().BitLen() {
		sn.GatewayIP = prefix.Addr().Next().String()
	}
	if sn.ProjectID == "" {
		sn.ProjectID = s.creds.ProjectID
	}
	if sn.CreatedAt.IsZero() {
		sn.CreatedAt = DefaultCreatedAt
	}
	if _, ok := s.subnets[sn.ID]; !ok {
		s.subnetIDs = insertSorted(s.subnetIDs, sn.ID)
	}
	s.subnets[sn.ID] = &sn
	return sn
}

// RemoveSubnet deletes a subnet; it reports whether it existed.
func (s *Server) RemoveSubnet(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.subnets[id]; !ok {
		return false
	}
	delete(s.subnets, id)
	s.subnetIDs = removeSorted(s.subnetIDs, id)
	return true
}

// AddVM adds or replaces (same ID) a Nova server and returns it with
// defaults filled in.
func (s *Server) AddVM(v VM) VM {
	s.mu.Lock()
	defer s.mu.Unlock()
	v = s.addVMLocked(v)
	return cloneVM(v)
}

func (s *Server) addVMLocked(v VM) VM {
	if v.ID == "" {
		v.ID = s.generatedID("server")
	}
	if v.ProjectID == "" {
		v.ProjectID = s.creds.ProjectID
	}
	if v.Status == "" {
		v.Status = "ACTIVE"
	}
	if v.CreatedAt.IsZero() {
		v.CreatedAt = DefaultCreatedAt
	}
	if v.Hostname == "" {
		v.Hostname = novahostname.ForServer(v.Name, v.ID)
	}
	v = cloneVM(v)
	old, ok := s.vms[v.ID]
	if !ok {
		s.vmIDs = insertSorted(s.vmIDs, v.ID)
	}
	s.forgetVMLocked(old)
	s.vms[v.ID] = &v
	s.vmChangedLocked(old, v.ID)
	return v
}

// UpdateVM changes a server in place (its ID cannot change); it reports
// whether the server exists. A Hostname the mutation empties keeps its old
// value, as a rename in Nova keeps the guest's host name.
func (s *Server) UpdateVM(id string, mutate func(*VM)) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.vms[id]
	if !ok {
		return false
	}
	c := cloneVM(*v)
	mutate(&c)
	c.ID = id
	if c.Hostname == "" {
		c.Hostname = v.Hostname
	}
	c = cloneVM(c)
	s.forgetVMLocked(v)
	s.vms[id] = &c
	s.vmChangedLocked(v, id)
	return true
}

// RemoveVM deletes a server (its ports stay, as in OpenStack until Nova
// cleans them up); it reports whether it existed.
func (s *Server) RemoveVM(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok := s.vms[id]
	if !ok {
		return false
	}
	s.forgetVMLocked(old)
	delete(s.vms, id)
	s.vmIDs = removeSorted(s.vmIDs, id)
	s.vmChangedLocked(old, id)
	return true
}

// AddPort adds or replaces (same ID) a port and returns it with defaults
// filled in.
func (s *Server) AddPort(p Port) Port {
	s.mu.Lock()
	defer s.mu.Unlock()
	return clonePort(s.addPortLocked(p))
}

func (s *Server) addPortLocked(p Port) Port {
	if p.ID == "" {
		p.ID = s.generatedID("port")
	}
	if p.MACAddress == "" {
		p.MACAddress = s.freshMAC()
	}
	if p.Status == "" {
		p.Status = "ACTIVE"
	}
	if p.ProjectID == "" {
		p.ProjectID = s.creds.ProjectID
	}
	if p.CreatedAt.IsZero() {
		p.CreatedAt = DefaultCreatedAt
	}
	p = clonePort(p)
	defer s.portChangedLocked(s.ports[p.ID], p.ID)
	rec := newPortRecord(p, p.CreatedAt, 0)
	if old, ok := s.ports[p.ID]; ok {
		s.unindexPort(old)
	} else {
		s.portIDs = insertSorted(s.portIDs, p.ID)
	}
	s.ports[p.ID] = rec
	s.indexPort(rec)
	return p
}

// UpdatePort changes a port in place (its ID cannot change), bumping its
// revision_number and updated_at as Neutron does; it reports whether the port
// exists.
func (s *Server) UpdatePort(id string, mutate func(*Port)) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, ok := s.ports[id]
	if !ok {
		return false
	}
	p := clonePort(rec.Port)
	mutate(&p)
	p.ID = id
	s.unindexPort(rec)
	updatedAt := s.now().UTC().Truncate(time.Second)
	if updatedAt.Before(p.CreatedAt) {
		updatedAt = p.CreatedAt
	}
	next := newPortRecord(clonePort(p), updatedAt, rec.revision+1)
	s.ports[id] = next
	s.indexPort(next)
	s.portChangedLocked(rec, id)
	return true
}

// RemovePort deletes a port; it reports whether it existed.
func (s *Server) RemovePort(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, ok := s.ports[id]
	if !ok {
		return false
	}
	s.unindexPort(rec)
	delete(s.ports, id)
	s.portIDs = removeSorted(s.portIDs, id)
	s.portChangedLocked(rec, id)
	return true
}

func (s *Server) indexPort(rec *portRecord) {
	s.forgetServerDetail(rec.DeviceID) // its addresses show there
	s.macsInUse[rec.MACAddress]++
	if rec.DeviceID != "" {
		s.portsByDevice[rec.DeviceID] = insertSorted(s.portsByDevice[rec.DeviceID], rec.ID)
	}
}

func (s *Server) unindexPort(rec *portRecord) {
	s.forgetServerDetail(rec.DeviceID)
	if s.macsInUse[rec.MACAddress]--; s.macsInUse[rec.MACAddress] <= 0 {
		delete(s.macsInUse, rec.MACAddress)
	}
	if rec.DeviceID == "" {
		return
	}
	ids := removeSorted(s.portsByDevice[rec.DeviceID], rec.ID)
	if len(ids) == 0 {
		delete(s.portsByDevice, rec.DeviceID)
	} else {
		s.portsByDevice[rec.DeviceID] = ids
	}
}

// freshMAC hands out fa:16:3e addresses (the OpenStack base_mac prefix) in
// sequence, skipping any a test set explicitly.
func (s *Server) freshMAC() string {
	for {
		s.nextMAC++
		mac := fmt.Sprintf("fa:16:3e:%02x:%02x:%02x", byte(s.nextMAC>>16), byte(s.nextMAC>>8), byte(s.nextMAC))
		if s.nextMAC >= 1<<24 {
			panic("openstacktest: out of fa:16:3e MAC addresses")
		}
		if s.macsInUse[mac] == 0 {
			return mac
		}
	}
}

func (s *Server) generatedID(kind string) string {
	s.nextGenerated++
	return stableUUID("generated", kind, strconv.FormatUint(s.nextGenerated, 10))
}

func cloneVM(v VM) VM {
	if v.Metadata != nil {
		v.Metadata = maps.Clone(v.Metadata)
	}
	return v
}

func clonePort(p Port) Port {
	p.FixedIPs = slices.Clone(p.FixedIPs)
	return p
}

func insertSorted(ids []string, id string) []string {
	i, found := slices.BinarySearch(ids, id)
	if found {
		return ids
	}
	return slices.Insert(ids, i, id)
}

func removeSorted(ids []string, id string) []string {
	i, found := slices.BinarySearch(ids, id)
	if !found {
		return ids
	}
	return slices.Delete(ids, i, i+1)
}
