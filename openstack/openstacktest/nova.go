package openstacktest

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"net/http"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Nova's microversion range as of the 2024.x releases.
const (
	novaMinMicro = 1
	novaMaxMicro = 96
)

// Time formats of Nova: created/updated are ISO 8601 with Z, the usage
// extension's times have microseconds and no zone.
const (
	novaTime      = "2006-01-02T15:04:05Z"
	novaUsageTime = "2006-01-02T15:04:05.000000"
)

func (s *Server) serveNova(w http.ResponseWriter, r *http.Request, m match) {
	segs := splitPath(m.rest)
	if m.route == RouteVersions {
		// Version documents need no token, as upstream.
		if !allowMethods(w, r, svcNova, http.MethodGet, http.MethodHead) {
			return
		}
		if len(segs) == 0 {
			writeJSON(w, http.StatusMultipleChoices, map[string]any{"versions": []any{
				novaVersion(r, m, "v2.0"), novaVersion(r, m, "v2.1"),
			}})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"version": novaVersion(r, m, "v2.1")})
		return
	}
	if m.route == routeOther {
		writeError(w, svcNova, http.StatusNotFound, "The resource could not be found.", "")
		return
	}
	token, ok := s.checkToken(w, r)
	if !ok {
		return
	}
	micro, ok := novaMicroversion(w, r)
	if !ok {
		return
	}
	if !allowMethods(w, r, svcNova, http.MethodGet) {
		return
	}
	view := serverView{micro: micro, admin: token.isAdmin()}
	switch {
	case len(segs) == 2:
		s.listServers(w, r, m, token.projectID, view, false)
	case segs[2] == "detail":
		s.listServers(w, r, m, token.projectID, view, true)
	default:
		s.showServer(w, r, m, segs[2], view)
	}
}

func novaVersion(r *http.Request, m match, id string) map[string]any {
	v := map[string]any{
		"id": id, "status": "SUPPORTED", "version": "", "min_version": "", "updated": "2011-01-21T11:33:21Z",
		"links": []any{map[string]any{"rel": "self", "href": baseURL(r) + m.prefix + "/" + id + "/"}},
	}
	if id == "v2.1" {
		v["status"] = "CURRENT"
		v["version"] = "2." + strconv.Itoa(novaMaxMicro)
		v["min_version"] = "2." + strconv.Itoa(novaMinMicro)
		v["updated"] = "2013-07-23T11:33:21Z"
	}
	return v
}

// novaMicroversion reads the requested microversion (minor number of 2.x),
// answers 400/406 for bad ones like Nova, and echoes the chosen one.
func novaMicroversion(w http.ResponseWriter, r *http.Request) (int, bool) {
	raw := ""
	if h := r.Header.Get("OpenStack-API-Version"); h != "" {
		if svc, v, ok := strings.Cut(strings.TrimSpace(h), " "); ok && strings.EqualFold(svc, "compute") {
			raw = strings.TrimSpace(v)
		}
	} else {
		raw = strings.TrimSpace(r.Header.Get("X-OpenStack-Nova-API-Version"))
	}
	micro := novaMinMicro
	switch {
	case raw == "":
	case strings.EqualFold(raw, "latest"):
		micro = novaMaxMicro
	default:
		major, minor, ok := strings.Cut(raw, ".")
		maj, err1 := strconv.Atoi(major)
		n, err2 := strconv.Atoi(minor)
		if !ok || err1 != nil || err2 != nil {
			writeError(w, svcNova, http.StatusBadRequest, fmt.Sprintf("API Version String %s is of invalid format. Must be of format MajorNum.MinorNum.", raw), "")
			return 0, false
		}
		if maj != 2 || n < novaMinMicro || n > novaMaxMicro {
			writeError(w, svcNova, http.StatusNotAcceptable, fmt.Sprintf("Version %s is not supported by the API. Minimum is 2.%d and maximum is 2.%d.", raw, novaMinMicro, novaMaxMicro), "")
			return 0, false
		}
		micro = n
	}
	v := "2." + strconv.Itoa(micro)
	w.Header().Set("OpenStack-API-Version", "compute "+v)
	w.Header().Set("X-OpenStack-Nova-API-Version", v)
	w.Header().Set("Vary", "OpenStack-API-Version, X-OpenStack-Nova-API-Version")
	return micro, true
}

// serverView is what decides how a server is shown: the microversion of
// the request and whether its token is an admin's.
type serverView struct {
	micro int
	admin bool
}

func (s *Server) showServer(w http.ResponseWriter, r *http.Request, m match, id string, view serverView) {
	s.mu.RLock()
	v, ok := s.vms[id]
	var doc map[string]any
	if ok {
		doc = s.renderServer(r, m, v, view)
	}
	s.mu.RUnlock()
	if !ok {
		writeError(w, svcNova, http.StatusNotFound, fmt.Sprintf("Instance %s could not be found.", id), "")
		return
	}
	s.serversServed.Add(1)
	writeJSON(w, http.StatusOK, map[string]any{"server": doc})
}

func (s *Server) listServers(w http.ResponseWriter, r *http.Request, m match, project string, view serverView, detail bool) {
	q := r.URL.Query()
	limit := 0
	if raw := q.Get("limit"); raw != "" {
		n, err := strconv.Atoi(raw)
		switch {
		case err != nil:
			writeError(w, svcNova, http.StatusBadRequest, "limit param must be an integer", "")
			return
		case n < 0:
			writeError(w, svcNova, http.StatusBadRequest, "limit param must be positive", "")
			return
		}
		limit = n
	}
	allTenants := false
	if q.Has("all_tenants") {
		switch strings.ToLower(q.Get("all_tenants")) {
		case "0", "false", "f", "off", "no", "n":
		default:
			allTenants = true
		}
	}
	var nameRE *regexp.Regexp
	if q.Has("name") {
		// Nova matches names as a regular expression.
		re, err := regexp.Compile(q.Get("name"))
		if err != nil {
			re = regexp.MustCompile(regexp.QuoteMeta(q.Get("name")))
		}
		nameRE = re
	}
	marker := q.Get("marker")

	s.mu.RLock()
	if s.novaMax > 0 && (limit == 0 || limit > s.novaMax) {
		limit = s.novaMax
	}
	order := s.serversNewestFirst()
	from := 0
	if marker != "" {
		mv, ok := s.vms[marker]
		if !ok {
			s.mu.RUnlock()
			writeError(w, svcNova, http.StatusBadRequest, fmt.Sprintf("marker [%s] not found", marker), "")
			return
		}
		// The page starts after the marker's place in Nova's order, whether
		// or not the marker itself passes the filters.
		from, _ = slices.BinarySearchFunc(order, mv, newestFirst)
		for from < len(order) && order[from].ID == marker {
			from++
		}
	}
	byProject, byTenant := allTenants && q.Has("project_id"), allTenants && q.Has("tenant_id")
	byUUID, byStatus := q.Has("uuid"), q.Has("status")
	var list []*VM
	more := false
	for _, v := range order[from:] {
		switch {
		case !allTenants && v.ProjectID != project,
			byProject && !slices.Contains(q["project_id"], v.ProjectID),
			byTenant && !slices.Contains(q["tenant_id"], v.ProjectID),
			byUUID && !slices.Contains(q["uuid"], v.ID),
			byStatus && !slices.ContainsFunc(q["status"], func(st string) bool { return strings.EqualFold(st, v.Status) }),
			nameRE != nil && !nameRE.MatchString(v.Name):
			continue
		}
		if limit > 0 && len(list) == limit {
			more = true
			break
		}
		list = append(list, v)
	}
	items := make([][]byte, 0, len(list))
	size := 0
	base := baseURL(r) + m.prefix
	for _, v := range list {
		var item []byte
		var err error
		if detail {
			item, err = s.serverDetailJSON(r, m, v, view, base)
		} else {
			item, err = s.serverRefJSON(v, base)
		}
		if err != nil {
			s.mu.RUnlock()
			http.Error(w, "openstacktest: encode response: "+err.Error(), http.StatusInternalServerError)
			return
		}
		items = append(items, item)
		size += len(item) + 1
	}
	s.mu.RUnlock()
	s.serversServed.Add(int64(len(items)))

	// {"servers":[...]} plus "servers_links" when there is a next page: what
	// encoding that map gives, assembled from the items' encodings (cached
	// for the short listing) as listNeutron does.
	body := responseBuffer(size + 256)
	defer releaseBuffer(body)
	body.WriteString(`{"servers":[`)
	for i, item := range items {
		if i > 0 {
			body.WriteByte(',')
		}
		body.Write(item)
	}
	body.WriteByte(']')
	if more {
		body.WriteString(`,"servers_links":`)
		links := []any{map[string]any{"rel": "next", "href": pageHref(r, list[len(list)-1].ID)}}
		if err := appendJSON(body, links); err != nil {
			http.Error(w, "openstacktest: encode response: "+err.Error(), http.StatusInternalServerError)
			return
		}
	}
	body.WriteString("}\n")
	writeJSONBody(w, http.StatusOK, body.Bytes())
}

// newestFirst is Nova's default order: newest first, ties by id descending.
func newestFirst(a, b *VM) int {
	return cmp.Or(b.CreatedAt.Compare(a.CreatedAt), strings.Compare(b.ID, a.ID))
}

// serversNewestFirst is every VM in Nova's default order, sorted once per
// change of the VMs rather than on every page; the caller holds s.mu (read
// or write). Changes hold s.mu for writing and drop it (forgetVMLocked).
func (s *Server) serversNewestFirst() []*VM {
	s.novaCacheMu.Lock()
	defer s.novaCacheMu.Unlock()
	if s.vmOrder == nil {
		s.vmOrder = make([]*VM, 0, len(s.vms))
		for _, v := range s.vms {
			s.vmOrder = append(s.vmOrder, v)
		}
		slices.SortFunc(s.vmOrder, newestFirst)
	}
	return s.vmOrder
}

// serverRefJSON is v's entry of the short listing as served under base
// (scheme://host and mount prefix), cached per VM record like port
// encodings: a fleet's listing repeats them on every pass. The caller holds
// s.mu for reading; the slice is shared and must only be read.
func (s *Server) serverRefJSON(v *VM, base string) ([]byte, error) {
	s.novaCacheMu.Lock()
	ref, ok := s.serverRefs[v]
	s.novaCacheMu.Unlock()
	if ok && ref.base == base {
		return ref.json, nil
	}
	item, err := encodeItem(serverRef{ID: v.ID, Links: serverLinks(base, v.ID), Name: v.Name})
	if err != nil {
		return nil, err
	}
	item = item[:len(item):len(item)]
	s.novaCacheMu.Lock()
	if s.serverRefs == nil {
		s.serverRefs = map[*VM]cachedRef{}
	}
	s.serverRefs[v] = cachedRef{base: base, json: item}
	s.novaCacheMu.Unlock()
	return item, nil
}

// serverDetailJSON is v's entry of the detailed listing as served under base
// to view, cached per VM record like the short listing's: a fleet's
// detailed listing renders a map of some forty entries per server, which
// was most of what a pass cost the fake. The entry also shows v's ports'
// addresses and network names, so a change of those (forgetServerDetail,
// forgetServerDetails) drops it too. The caller holds s.mu for reading; the
// slice is shared and must only be read.
func (s *Server) serverDetailJSON(r *http.Request, m match, v *VM, view serverView, base string) ([]byte, error) {
	s.novaCacheMu.Lock()
	d, ok := s.serverDetails[v]
	s.novaCacheMu.Unlock()
	if ok && d.base == base && d.view == view {
		return d.json, nil
	}
	item, err := encodeItem(s.renderServer(r, m, v, view))
	if err != nil {
		return nil, err
	}
	item = item[:len(item):len(item)]
	s.novaCacheMu.Lock()
	if s.serverDetails == nil {
		s.serverDetails = map[*VM]cachedDetail{}
	}
	s.serverDetails[v] = cachedDetail{base: base, view: view, json: item}
	s.novaCacheMu.Unlock()
	return item, nil
}

// cachedDetail is an encoded detailed-listing entry and what it was made for.
type cachedDetail struct {
	base string
	view serverView
	json []byte
}

// forgetServerDetail drops the cached detailed entry of the server with ID
// device, whose ports changed; the caller holds s.mu for writing.
func (s *Server) forgetServerDetail(device string) {
	if device == "" {
		return
	}
	if v := s.vms[device]; v != nil {
		s.novaCacheMu.Lock()
		delete(s.serverDetails, v)
		s.novaCacheMu.Unlock()
	}
}

// forgetServerDetails drops every cached detailed entry (a network renamed,
// another user); the caller holds s.mu for writing.
func (s *Server) forgetServerDetails() {
	s.novaCacheMu.Lock()
	clear(s.serverDetails)
	s.novaCacheMu.Unlock()
}

// cachedRef is an encoded short-listing entry and the base it was made for.
type cachedRef struct {
	base string
	json []byte
}

// forgetVMLocked drops what was derived from the record old (nil for a new
// VM) and the order of all VMs; the caller holds s.mu for writing.
func (s *Server) forgetVMLocked(old *VM) {
	s.novaCacheMu.Lock()
	defer s.novaCacheMu.Unlock()
	s.vmOrder = nil
	if old != nil {
		delete(s.serverRefs, old)
		delete(s.serverDetails, old)
	}
}

// serverRef is a server of the short listing. It and linkDoc are structs,
// not maps, because the short listing is how clients list a whole fleet:
// a thousand entries of three maps each were most of the request's cost.
// Their fields are in sorted key order, so they encode exactly as the maps
// they replace.
type serverRef struct {
	ID    string    `json:"id"`
	Links []linkDoc `json:"links"`
	Name  string    `json:"name"`
}

type linkDoc struct {
	Href string `json:"href"`
	Rel  string `json:"rel"`
}

func serverLinks(base, id string) []linkDoc {
	return []linkDoc{
		{Rel: "self", Href: base + "/v2.1/servers/" + id},
		{Rel: "bookmark", Href: base + "/servers/" + id},
	}
}

// renderServer is a server as Nova shows it at the view's microversion, to
// an admin or not (nova/api/openstack/compute/views/servers.py,
// ViewBuilder.show); the caller holds s.mu.
func (s *Server) renderServer(r *http.Request, m match, v *VM, view serverView) map[string]any {
	micro := view.micro
	base := baseURL(r) + m.prefix
	addresses := map[string]any{}
	var netOrder []string
	byNet := map[string][]any{}
	for _, pid := range s.portsByDevice[v.ID] {
		p := s.ports[pid]
		netName := p.NetworkID
		if n, ok := s.networks[p.NetworkID]; ok && n.Name != "" {
			netName = n.Name
		}
		for _, ip := range p.FixedIPs {
			version := 4
			if a, err := netip.ParseAddr(ip.IPAddress); err == nil && a.Is6() {
				version = 6
			}
			if _, seen := byNet[netName]; !seen {
				netOrder = append(netOrder, netName)
			}
			byNet[netName] = append(byNet[netName], map[string]any{
				"version": version, "addr": ip.IPAddress,
				"OS-EXT-IPS:type": "fixed", "OS-EXT-IPS-MAC:mac_addr": p.MACAddress,
			})
		}
	}
	for _, n := range netOrder {
		addresses[n] = byNet[n]
	}

	status := strings.ToUpper(v.Status)
	vmState, power := strings.ToLower(status), 0
	switch status {
	case "ACTIVE":
		power = 1
	case "SHUTOFF":
		vmState, power = "stopped", 4
	case "BUILD":
		vmState = "building"
	case "PAUSED":
		power = 3
	}
	var launched any
	if status != "BUILD" {
		launched = v.CreatedAt.Add(10 * time.Second).UTC().Format(novaUsageTime)
	}
	metadata := map[string]string{}
	maps.Copy(metadata, v.Metadata)
	host := "compute-" + v.ID[:min(8, len(v.ID))]
	hostID := sha256.Sum224([]byte(v.ProjectID + host))
	imageID := stableUUID("image", "ubuntu-24.04")

	doc := map[string]any{
		"id": v.ID, "name": v.Name, "status": status, "tenant_id": v.ProjectID,
		"user_id":  userID(s.creds),
		"metadata": metadata, "hostId": hex.EncodeToString(hostID[:]),
		"image":   map[string]any{"id": imageID, "links": []any{map[string]any{"rel": "bookmark", "href": base + "/images/" + imageID}}},
		"flavor":  map[string]any{"id": "3", "links": []any{map[string]any{"rel": "bookmark", "href": base + "/flavors/3"}}},
		"created": v.CreatedAt.UTC().Format(novaTime), "updated": v.CreatedAt.Add(10 * time.Second).UTC().Format(novaTime),
		"addresses": addresses, "accessIPv4": "", "accessIPv6": "", "links": serverLinks(base, v.ID),
		"key_name": nil, "progress": 0, "config_drive": "",
		"security_groups":                      []any{map[string]any{"name": "default"}},
		"OS-DCF:diskConfig":                    "MANUAL",
		"OS-EXT-AZ:availability_zone":          "nova",
		"OS-EXT-STS:power_state":               power,
		"OS-EXT-STS:task_state":                nil,
		"OS-EXT-STS:vm_state":                  vmState,
		"OS-SRV-USG:launched_at":               launched,
		"OS-SRV-USG:terminated_at":             nil,
		"os-extended-volumes:volumes_attached": []any{},
	}
	// The extended server attributes are admin-only by default policy
	// (os_compute_api:os-extended-server-attributes, role:admin); 2.3 adds
	// the guest's hostname and friends to them, and 2.90 shows the hostname
	// to everyone.
	if view.admin {
		doc["OS-EXT-SRV-ATTR:host"] = host
		doc["OS-EXT-SRV-ATTR:hypervisor_hostname"] = host + ".localdomain"
		doc["OS-EXT-SRV-ATTR:instance_name"] = fmt.Sprintf("instance-%08x", segmentationID(v.ID))
		if micro >= 3 {
			doc["OS-EXT-SRV-ATTR:hostname"] = v.Hostname
			doc["OS-EXT-SRV-ATTR:kernel_id"] = ""
			doc["OS-EXT-SRV-ATTR:ramdisk_id"] = ""
			doc["OS-EXT-SRV-ATTR:launch_index"] = 0
			doc["OS-EXT-SRV-ATTR:reservation_id"] = "r-" + v.ID[:min(8, len(v.ID))]
			doc["OS-EXT-SRV-ATTR:root_device_name"] = "/dev/vda"
			doc["OS-EXT-SRV-ATTR:user_data"] = nil
		}
	} else if micro >= 90 {
		doc["OS-EXT-SRV-ATTR:hostname"] = v.Hostname
	}
	if micro >= 9 {
		doc["locked"] = false
	}
	if micro >= 19 {
		doc["description"] = nil
	}
	if micro >= 26 {
		doc["tags"] = []string{}
	}
	if micro >= 47 {
		// The flavor is embedded instead of linked from 2.47 on.
		doc["flavor"] = map[string]any{"vcpus": 2, "ram": 4096, "disk": 40, "ephemeral": 0, "swap": 0, "original_name": "m1.medium", "extra_specs": map[string]string{}}
	}
	if micro >= 73 {
		doc["locked_reason"] = nil
	}
	return doc
}
