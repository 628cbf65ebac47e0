package openstacktest

import (
	"bytes"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// neutronTime is how current Neutron renders created_at and updated_at.
const neutronTime = "2006-01-02T15:04:05Z"

type portDoc struct {
	ID                    string           `json:"id"`
	Name                  string           `json:"name"`
	NetworkID             string           `json:"network_id"`
	TenantID              string           `json:"tenant_id"`
	ProjectID             string           `json:"project_id"`
	MACAddress            string           `json:"mac_address"`
	AdminStateUp          bool             `json:"admin_state_up"`
	Status                string           `json:"status"`
	DeviceID              string           `json:"device_id"`
	DeviceOwner           string           `json:"device_owner"`
	FixedIPs              []fixedIPDoc     `json:"fixed_ips"`
	AllowedAddressPairs   []any            `json:"allowed_address_pairs"`
	ExtraDHCPOpts         []any            `json:"extra_dhcp_opts"`
	SecurityGroups        []string         `json:"security_groups"`
	Description           string           `json:"description"`
	BindingVNICType       string           `json:"binding:vnic_type"`
	BindingHostID         string           `json:"binding:host_id"`
	BindingProfile        map[string]any   `json:"binding:profile"`
	BindingVIFType        string           `json:"binding:vif_type"`
	BindingVIFDetails     map[string]any   `json:"binding:vif_details"`
	PortSecurityEnabled   bool             `json:"port_security_enabled"`
	QoSPolicyID           *string          `json:"qos_policy_id"`
	QoSNetworkPolicyID    *string          `json:"qos_network_policy_id"`
	DNSName               string           `json:"dns_name"`
	DNSAssignment         []dnsAssignedDoc `json:"dns_assignment"`
	PropagateUplinkStatus bool             `json:"propagate_uplink_status"`
	IPAllocation          string           `json:"ip_allocation"`
	Tags                  []string         `json:"tags"`
	CreatedAt             string           `json:"created_at"`
	UpdatedAt             string           `json:"updated_at"`
	RevisionNumber        int              `json:"revision_number"`
}

type fixedIPDoc struct {
	SubnetID  string `json:"subnet_id"`
	IPAddress string `json:"ip_address"`
}

type dnsAssignedDoc struct {
	Hostname  string `json:"hostname"`
	IPAddress string `json:"ip_address"`
	FQDN      string `json:"fqdn"`
}

type subnetDoc struct {
	ID              string         `json:"id"`
	Name            string         `json:"name"`
	TenantID        string         `json:"tenant_id"`
	ProjectID       string         `json:"project_id"`
	NetworkID       string         `json:"network_id"`
	IPVersion       int            `json:"ip_version"`
	SubnetPoolID    *string        `json:"subnetpool_id"`
	EnableDHCP      bool           `json:"enable_dhcp"`
	IPv6RAMode      *string        `json:"ipv6_ra_mode"`
	IPv6AddressMode *string        `json:"ipv6_address_mode"`
	GatewayIP       *string        `json:"gateway_ip"`
	CIDR            string         `json:"cidr"`
	AllocationPools []allocPoolDoc `json:"allocation_pools"`
	HostRoutes      []any          `json:"host_routes"`
	DNSNameservers  []string       `json:"dns_nameservers"`
	Description     string         `json:"description"`
	ServiceTypes    []string       `json:"service_types"`
	SegmentID       *string        `json:"segment_id"`
	Tags            []string       `json:"tags"`
	CreatedAt       string         `json:"created_at"`
	UpdatedAt       string         `json:"updated_at"`
	RevisionNumber  int            `json:"revision_number"`
}

type allocPoolDoc struct {
	Start string `json:"start"`
	End   string `json:"end"`
}

type networkDoc struct {
	ID                      string   `json:"id"`
	Name                    string   `json:"name"`
	TenantID                string   `json:"tenant_id"`
	ProjectID               string   `json:"project_id"`
	AdminStateUp            bool     `json:"admin_state_up"`
	MTU                     *int     `json:"mtu,omitempty"`
	Status                  string   `json:"status"`
	Subnets                 []string `json:"subnets"`
	Shared                  bool     `json:"shared"`
	AvailabilityZoneHints   []string `json:"availability_zone_hints"`
	AvailabilityZones       []string `json:"availability_zones"`
	IPv4AddressScope        *string  `json:"ipv4_address_scope"`
	IPv6AddressScope        *string  `json:"ipv6_address_scope"`
	RouterExternal          bool     `json:"router:external"`
	Description             string   `json:"description"`
	PortSecurityEnabled     bool     `json:"port_security_enabled"`
	QoSPolicyID             *string  `json:"qos_policy_id"`
	L2Adjacency             bool     `json:"l2_adjacency"`
	ProviderNetworkType     string   `json:"provider:network_type"`
	ProviderPhysicalNetwork *string  `json:"provider:physical_network"`
	ProviderSegmentationID  int      `json:"provider:segmentation_id"`
	IsDefault               bool     `json:"is_default"`
	Tags                    []string `json:"tags"`
	CreatedAt               string   `json:"created_at"`
	UpdatedAt               string   `json:"updated_at"`
	RevisionNumber          int      `json:"revision_number"`
}

// neutronResource describes one collection for the shared list/show code.
type neutronResource struct {
	collection   string // "ports"
	label        string // "Port", for "Port <id> could not be found."
	docType      reflect.Type
	specialQuery []string // accepted query keys that are not plain attributes
}

var (
	portsResource    = neutronResource{collection: "ports", label: "Port", docType: reflect.TypeFor[portDoc](), specialQuery: []string{"fixed_ips"}}
	subnetsResource  = neutronResource{collection: "subnets", label: "Subnet", docType: reflect.TypeFor[subnetDoc]()}
	networksResource = neutronResource{collection: "networks", label: "Network", docType: reflect.TypeFor[networkDoc]()}
)

// pagingParams are query keys of every list that are not filters.
var pagingParams = []string{"fields", "limit", "marker", "page_reverse", "sort_key", "sort_dir"}

func (s *Server) serveNeutron(w http.ResponseWriter, r *http.Request, m match) {
	segs := splitPath(m.rest)
	if m.route == RouteVersions && len(segs) == 0 {
		// The root document is public, as upstream.
		if !allowMethods(w, r, svcNeutron, http.MethodGet, http.MethodHead) {
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"versions": []any{map[string]any{
			"id": "v2.0", "status": "CURRENT",
			"links": []any{map[string]any{"href": baseURL(r) + m.prefix + "/v2.0/", "rel": "self"}},
		}}})
		return
	}
	if m.route == routeOther {
		writeError(w, svcNeutron, http.StatusNotFound, "The resource could not be found.", "")
		return
	}
	if _, ok := s.checkToken(w, r); !ok {
		return
	}
	if !allowMethods(w, r, svcNeutron, http.MethodGet) {
		return
	}
	if m.route == RouteVersions {
		var res []any
		for _, c := range []struct{ name, coll string }{{"subnet", "subnets"}, {"network", "networks"}, {"port", "ports"}} {
			res = append(res, map[string]any{
				"name": c.name, "collection": c.coll,
				"links": []any{map[string]any{"href": baseURL(r) + m.prefix + "/v2.0/" + c.coll, "rel": "self"}},
			})
		}
		writeJSON(w, http.StatusOK, map[string]any{"resources": res})
		return
	}

	var res neutronResource
	switch m.route {
	case RoutePorts:
		res = portsResource
	case RouteSubnets:
		res = subnetsResource
	default:
		res = networksResource
	}
	q := r.URL.Query()
	if len(segs) == 3 {
		s.showNeutron(w, res, segs[2], q["fields"])
		return
	}
	s.listNeutron(w, r, res, q)
}

func (s *Server) showNeutron(w http.ResponseWriter, res neutronResource, id string, fields []string) {
	s.mu.RLock()
	doc, ok := s.neutronDoc(res, id)
	s.mu.RUnlock()
	if !ok {
		writeError(w, svcNeutron, http.StatusNotFound, fmt.Sprintf("%s %s could not be found.", res.label, id), res.label+"NotFound")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{strings.TrimSuffix(res.collection, "s"): selectFields(doc, fields)})
}

// neutronDoc renders one resource; the caller holds s.mu.
func (s *Server) neutronDoc(res neutronResource, id string) (any, bool) {
	switch res.collection {
	case "ports":
		if p, ok := s.ports[id]; ok {
			return p.doc, true
		}
	case "subnets":
		if sn, ok := s.subnets[id]; ok {
			return renderSubnet(sn), true
		}
	case "networks":
		if n, ok := s.networks[id]; ok {
			return s.renderNetwork(n), true
		}
	}
	return nil, false
}

func (s *Server) listNeutron(w http.ResponseWriter, r *http.Request, res neutronResource, q url.Values) {
	limit, err := neutronLimit(q.Get("limit"))
	if err != nil {
		writeError(w, svcNeutron, http.StatusBadRequest, err.Error(), "")
		return
	}
	var unknown []string
	for key, values := range q {
		switch {
		case slices.Contains(pagingParams, key), slices.Contains(res.specialQuery, key):
		case !filterable(res.docType, key):
			unknown = append(unknown, "'"+key+"'")
		case res.docType.Field(fieldIndex(res.docType)[key]).Type.Kind() == reflect.Bool:
			for _, v := range values {
				if _, ok := parseNeutronBool(v); !ok {
					writeError(w, svcNeutron, http.StatusBadRequest, fmt.Sprintf("Invalid input for %s. Reason: '%s' cannot be converted to boolean.", key, v), "InvalidInput")
					return
				}
			}
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		writeError(w, svcNeutron, http.StatusBadRequest, "["+strings.Join(unknown, ", ")+"] is invalid attribute for filtering", "")
		return
	}
	fixedIPFilter, err := parseFixedIPFilter(q["fixed_ips"])
	if err != nil {
		writeError(w, svcNeutron, http.StatusBadRequest, err.Error(), "InvalidInput")
		return
	}
	marker := q.Get("marker")
	// Neutron answers a device_id query from an index; so do we, which keeps
	// fleet benchmarks about the client rather than about the fake.
	fromDeviceIndex := res.collection == "ports" && q.Has("device_id") && !slices.Contains(q["device_id"], "")
	// Only scalar attributes get past the check above (see filterable), so
	// each filter is resolved to a field once here. fixed_ips has its own
	// matcher, and device_id needs no check when the candidates come from the
	// device index: they are exactly the ports of those devices.
	skip := []string{"fixed_ips"}
	if fromDeviceIndex {
		skip = append(skip, "device_id")
	}
	filters := compileFilters(res.docType, q, skip...)
	fields := q["fields"]
	key := fieldsKey(res.docType, fields)

	s.mu.RLock()
	if s.neutronMax > 0 && (limit == 0 || limit > s.neutronMax) {
		limit = s.neutronMax
	}
	var candidates []string
	switch {
	case fromDeviceIndex:
		for _, dev := range q["device_id"] {
			candidates = append(candidates, s.portsByDevice[dev]...)
		}
		slices.Sort(candidates)
		candidates = slices.Compact(candidates)
	case res.collection == "ports":
		candidates = s.portIDs
	case res.collection == "subnets":
		candidates = s.subnetIDs
	default:
		candidates = s.networkIDs
	}
	if marker != "" {
		if !s.neutronExists(res, marker) {
			// Neutron loads the marker object first and fails like a GET.
			s.mu.RUnlock()
			writeError(w, svcNeutron, http.StatusNotFound, fmt.Sprintf("%s %s could not be found.", res.label, marker), res.label+"NotFound")
			return
		}
		i, found := slices.BinarySearch(candidates, marker)
		if found {
			i++
		}
		candidates = candidates[i:]
	}
	room := len(candidates) // at most a page of them when paging
	if limit > 0 {
		room = min(room, limit)
	}
	items := make([][]byte, 0, room)
	size := 0
	more := false
	firstID, lastID := "", ""
	for _, id := range candidates {
		// Ports are read in place from their record; subnets and networks
		// are few and rendered per request.
		var rec *portRecord
		var doc any
		if res.collection == "ports" {
			rec = s.ports[id]
		} else {
			doc, _ = s.neutronDoc(res, id)
		}
		if len(filters) > 0 {
			dv := reflect.ValueOf(doc)
			if rec != nil {
				dv = reflect.ValueOf(&rec.doc).Elem()
			}
			if !matchesFilters(dv, filters) {
				continue
			}
		}
		if fixedIPFilter != nil && !fixedIPFilter(&rec.doc) {
			continue
		}
		if limit > 0 && len(items) == limit {
			more = true
			break
		}
		var item []byte
		var err error
		if rec != nil {
			item, err = rec.portJSON(key, fields)
		} else {
			item, err = encodeItem(selectFields(doc, fields))
		}
		if err != nil {
			s.mu.RUnlock()
			http.Error(w, "openstacktest: encode response: "+err.Error(), http.StatusInternalServerError)
			return
		}
		items = append(items, item)
		size += len(item) + 1
		if firstID == "" {
			firstID = id
		}
		lastID = id
	}
	s.mu.RUnlock()

	var links []any
	if more {
		links = append(links, map[string]any{"rel": "next", "href": pageHref(r, lastID)})
	}
	if marker != "" && len(items) > 0 {
		// Upstream also offers the way back; clients must pick rel=next.
		prev := r.URL.Query()
		prev.Set("page_reverse", "True")
		links = append(links, map[string]any{"rel": "previous", "href": pageHrefFrom(r, prev, firstID)})
	}

	// The body is {"<collection>":[items...]} plus "<collection>_links" when
	// there are links: what encoding that map would give (keys sorted, and
	// "ports" < "ports_links"), assembled from the items' encodings so that
	// cached ports are not encoded again. Sized up front, as a list of
	// thousands of ports would otherwise grow the buffer a dozen times.
	body := responseBuffer(size + 2*len(res.collection) + 256)
	defer releaseBuffer(body)
	body.WriteString(`{"` + res.collection + `":[`)
	for i, item := range items {
		if i > 0 {
			body.WriteByte(',')
		}
		body.Write(item)
	}
	body.WriteByte(']')
	if links != nil {
		body.WriteString(`,"` + res.collection + `_links":`)
		if err := appendJSON(body, links); err != nil {
			http.Error(w, "openstacktest: encode response: "+err.Error(), http.StatusInternalServerError)
			return
		}
	}
	body.WriteString("}\n")
	writeJSONBody(w, http.StatusOK, body.Bytes())
}

// neutronExists reports whether a resource exists; the caller holds s.mu.
func (s *Server) neutronExists(res neutronResource, id string) bool {
	var ok bool
	switch res.collection {
	case "ports":
		_, ok = s.ports[id]
	case "subnets":
		_, ok = s.subnets[id]
	case "networks":
		_, ok = s.networks[id]
	}
	return ok
}

// encodeItem is one list item's JSON, as appendJSON writes it.
func encodeItem(v any) ([]byte, error) {
	var buf bytes.Buffer
	if err := appendJSON(&buf, v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// maxPortEncodings bounds the encodings kept per port. Clients use one or
// two ?fields= sets; a test cycling through more only re-encodes.
const maxPortEncodings = 4

// portJSON is the JSON of selectFields(rec.doc, fields), key being
// fieldsKey(fields). It is cached on the record because a fleet's port lists
// repeat the same documents with the same fields on every pass, and
// reflection-driven encoding of them dominated the fake's CPU. The slice is
// shared: callers must only read it.
func (rec *portRecord) portJSON(key string, fields []string) ([]byte, error) {
	rec.encMu.Lock()
	b, ok := rec.encoded[key]
	rec.encMu.Unlock()
	if ok {
		return b, nil
	}
	b, err := encodeItem(selectFields(rec.doc, fields))
	if err != nil {
		return nil, err
	}
	b = b[:len(b):len(b)] // an append by a reader cannot write into the cached array
	rec.encMu.Lock()
	if rec.encoded == nil || len(rec.encoded) >= maxPortEncodings {
		rec.encoded = make(map[string][]byte, 1)
	}
	rec.encoded[key] = b
	rec.encMu.Unlock()
	return b, nil
}

// parseFixedIPFilter reads fixed_ips=subnet_id=X / ip_address=Y /
// ip_address_substr=Z. One fixed IP of the port must satisfy every key given,
// each key matching any of its values, as Neutron's join does.
func parseFixedIPFilter(raw []string) (func(*portDoc) bool, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	want := map[string][]string{}
	for _, f := range raw {
		k, v, ok := strings.Cut(f, "=")
		if !ok || (k != "subnet_id" && k != "ip_address" && k != "ip_address_substr") {
			return nil, fmt.Errorf("Invalid input for fixed_ips. Reason: '%s' is not a valid fixed_ips filter.", f) //nolint:staticcheck,revive // Neutron's wording
		}
		want[k] = append(want[k], v)
	}
	return func(p *portDoc) bool {
		for _, ip := range p.FixedIPs {
			if anyOf(want["subnet_id"], func(v string) bool { return v == ip.SubnetID }) &&
				anyOf(want["ip_address"], func(v string) bool { return v == ip.IPAddress }) &&
				anyOf(want["ip_address_substr"], func(v string) bool { return strings.Contains(ip.IPAddress, v) }) {
				return true
			}
		}
		return false
	}, nil
}

// anyOf is true for an absent key, else when some value satisfies ok.
func anyOf(values []string, ok func(string) bool) bool {
	return len(values) == 0 || slices.ContainsFunc(values, ok)
}

func neutronLimit(raw string) (int, error) {
	if raw == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("Bad limit request: Limit must be an integer 0 or greater and not '%s'.", raw) //nolint:staticcheck,revive // Neutron's wording
	}
	return n, nil
}

// pageHref is the request URL with marker replaced, as both Neutron and Nova
// build their next links: the same filters, and limit only when the client
// sent one.
func pageHref(r *http.Request, marker string) string {
	return pageHrefFrom(r, r.URL.Query(), marker)
}

func pageHrefFrom(r *http.Request, q url.Values, marker string) string {
	q.Set("marker", marker)
	return pageLinkBase(r) + r.URL.Path + "?" + q.Encode()
}

// dnsHostReplacer turns an address into Neutron's default DNS host label.
// It is built once: a Replacer is safe for concurrent use, and building one
// per fixed IP was a large share of rendering a port.
var dnsHostReplacer = strings.NewReplacer(".", "-", ":", "-")

func renderPort(p *portRecord) portDoc {
	ips := make([]fixedIPDoc, len(p.FixedIPs))
	dns := make([]dnsAssignedDoc, len(p.FixedIPs))
	for i, ip := range p.FixedIPs {
		ips[i] = fixedIPDoc(ip)
		host := "host-" + dnsHostReplacer.Replace(ip.IPAddress)
		dns[i] = dnsAssignedDoc{Hostname: host, IPAddress: ip.IPAddress, FQDN: host + ".openstacklocal."}
	}
	owner, host, vif := p.DeviceOwner, "", "unbound"
	if p.DeviceID != "" {
		if owner == "" {
			owner = "compute:nova"
		}
		host, vif = "compute-"+p.DeviceID[:min(8, len(p.DeviceID))], "ovs"
	}
	details := map[string]any{}
	if vif == "ovs" {
		details = map[string]any{"port_filter": true, "connectivity": "l2", "bridge_name": "br-int", "datapath_type": "system", "bound_drivers": map[string]any{"0": "openvswitch"}}
	}
	return portDoc{
		ID: p.ID, Name: p.Name, NetworkID: p.NetworkID, TenantID: p.ProjectID, ProjectID: p.ProjectID,
		MACAddress: p.MACAddress, AdminStateUp: true, Status: p.Status, DeviceID: p.DeviceID, DeviceOwner: owner,
		FixedIPs: ips, AllowedAddressPairs: []any{}, ExtraDHCPOpts: []any{}, SecurityGroups: []string{stableUUID("secgroup", p.ProjectID)},
		BindingVNICType: "normal", BindingHostID: host, BindingProfile: map[string]any{}, BindingVIFType: vif, BindingVIFDetails: details,
		PortSecurityEnabled: true, DNSAssignment: dns, IPAllocation: "immediate", Tags: []string{},
		CreatedAt: p.CreatedAt.UTC().Format(neutronTime), UpdatedAt: p.updatedAt.UTC().Format(neutronTime), RevisionNumber: p.revision + 1,
	}
}

func renderSubnet(sn *Subnet) subnetDoc {
	doc := subnetDoc{
		ID: sn.ID, Name: sn.Name, TenantID: sn.ProjectID, ProjectID: sn.ProjectID, NetworkID: sn.NetworkID,
		IPVersion: sn.IPVersion, EnableDHCP: true, CIDR: sn.CIDR, AllocationPools: []allocPoolDoc{},
		HostRoutes: []any{}, DNSNameservers: []string{}, ServiceTypes: []string{}, Tags: []string{},
		CreatedAt: sn.CreatedAt.UTC().Format(neutronTime), UpdatedAt: sn.CreatedAt.UTC().Format(neutronTime), RevisionNumber: 0,
	}
	if sn.GatewayIP != "" {
		gw := sn.GatewayIP
		doc.GatewayIP = &gw
	}
	if pool, ok := allocationPool(sn.CIDR, sn.GatewayIP); ok {
		doc.AllocationPools = append(doc.AllocationPools, pool)
	}
	return doc
}

// allocationPool is Neutron's default pool: the CIDR without the network
// address, the gateway and (IPv4) the broadcast address.
func allocationPool(cidr, gateway string) (allocPoolDoc, bool) {
	prefix, err := netip.ParsePrefix(cidr)
	if err != nil {
		return allocPoolDoc{}, false
	}
	prefix = prefix.Masked()
	first := prefix.Addr().Next()
	if gw, err := netip.ParseAddr(gateway); err == nil && gw == first {
		first = first.Next()
	}
	last := lastAddr(prefix)
	if prefix.Addr().Is4() {
		last = last.Prev()
	}
	if !first.IsValid() || !last.IsValid() || last.Less(first) {
		return allocPoolDoc{}, false
	}
	return allocPoolDoc{Start: first.String(), End: last.String()}, true
}

func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// renderNetwork needs s.mu held, for the network's subnets.
func (s *Server) renderNetwork(n *Network) networkDoc {
	subnets := []string{}
	for _, id := range s.subnetIDs {
		if s.subnets[id].NetworkID == n.ID {
			subnets = append(subnets, id)
		}
	}
	ts := n.CreatedAt.UTC().Format(neutronTime)
	var mtu *int
	if !n.NoMTU {
		mtu = &n.MTU
	}
	return networkDoc{
		ID: n.ID, Name: n.Name, TenantID: n.ProjectID, ProjectID: n.ProjectID, AdminStateUp: true, MTU: mtu,
		Status: "ACTIVE", Subnets: subnets, AvailabilityZoneHints: []string{}, AvailabilityZones: []string{"nova"},
		Description: "", PortSecurityEnabled: true, L2Adjacency: true, ProviderNetworkType: "vxlan",
		ProviderSegmentationID: segmentationID(n.ID), Tags: []string{}, CreatedAt: ts, UpdatedAt: ts, RevisionNumber: 1 + len(subnets),
	}
}

func segmentationID(id string) int {
	h := 0
	for _, c := range id {
		h = (h*31 + int(c)) % 16000000
	}
	return h + 1
}
