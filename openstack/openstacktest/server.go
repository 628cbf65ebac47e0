// Package openstacktest is an in-process fake of the three OpenStack services
// multinic talks to: Keystone v3 (password tokens and the service catalog),
// Neutron v2.0 (ports, subnets, networks) and Nova v2.1 (servers).
//
// It is meant to be driven by real clients, gophercloud in particular, so its
// payloads copy what the real services send: the same field names, time
// formats, error envelopes, pagination links and version documents. The
// fake is read-only towards clients; tests shape the cloud through the Add*,
// Update* and Remove* methods and inject trouble with Fail, Inject, SetLatency,
// ExpireTokens, SetPageSize and SetMaxURLLength.
//
// One Server serves all three services on path prefixes of a single listener:
//
//	{URL}/v3                  Keystone (public); /identity-internal/v3, /identity-admin/v3
//	{URL}/neutron             Neutron (public);  /neutron-internal, /neutron-admin
//	{URL}/nova/v2.1           Nova (public);     /nova-internal/v2.1, /nova-admin/v2.1
//
// The catalog lists each interface under its own prefix so a test can tell
// which interface a client picked from the URL alone; all prefixes of a
// service behave identically.
package openstacktest

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/multinic/multinic/internal/fault"
)

// Route names a group of requests for counters, latency and faults.
type Route string

// Routes of the fake. RouteAll stands for every request, including version
// discovery and unknown paths.
const (
	RouteTokens   Route = "tokens"   // Keystone /v3/auth/tokens
	RoutePorts    Route = "ports"    // Neutron /v2.0/ports[/{id}]
	RouteSubnets  Route = "subnets"  // Neutron /v2.0/subnets[/{id}]
	RouteNetworks Route = "networks" // Neutron /v2.0/networks[/{id}]
	RouteServers  Route = "servers"  // Nova /servers, /servers/detail, /servers/{id}
	RouteVersions Route = "versions" // version discovery documents of all three services
	RouteAll      Route = "all"

	// routeOther is any path the fake does not serve; it only shows in RouteAll.
	routeOther Route = "other"
)

var allRoutes = []Route{RouteTokens, RoutePorts, RouteSubnets, RouteNetworks, RouteServers, RouteVersions, RouteAll, routeOther}

// Credentials are the one user Keystone accepts and the project it may scope to.
type Credentials struct {
	UserName       string
	UserDomainName string
	Password       string
	ProjectID      string
	// ProjectName allows scoping by name; it defaults to ProjectID.
	ProjectName string
	// Roles are the user's roles on the project, in its tokens; nil means
	// DefaultRoles. Nova shows admin-only fields (OS-EXT-SRV-ATTR:*) to a
	// token with the admin role only, as its default policy does.
	Roles []string
}

// DefaultRoles are the roles of the default user: Keystone's bootstrap admin
// has admin, which implies member and reader.
var DefaultRoles = []string{"admin", "member", "reader"}

// Defaults of a new Server.
const (
	DefaultUserName       = "admin"
	DefaultUserDomainName = "default"
	DefaultPassword       = "secret"
	DefaultProjectID      = "project-1"
	DefaultRegion         = "RegionOne"
	DefaultMaxURLLength   = 8192
	// DefaultTokenTTL is Keystone's default token expiration.
	DefaultTokenTTL = time.Hour
	// DefaultNovaMaxLimit is Nova's default osapi max_limit; Neutron's
	// pagination_max_limit defaults to unlimited.
	DefaultNovaMaxLimit = 1000
)

// Server is a running fake. Its methods are safe for concurrent use, also
// while clients are being served.
type Server struct {
	// URL is the Keystone base URL, without /v3, e.g. http://127.0.0.1:41234.
	URL string

	ts       *httptest.Server
	counters map[Route]*atomic.Int64
	// serversServed counts server documents in Nova answers (shown or listed).
	serversServed atomic.Int64
	closing       chan struct{} // closed by Close to end injected hangs and latency
	closeOnce     sync.Once

	mu            sync.RWMutex
	now           func() time.Time // swapped by this package's tests to step token expiry without sleeping
	creds         Credentials
	region        string
	omitted       map[string]bool
	neutronMax    int
	novaMax       int
	maxURL        int
	tokenTTL      time.Duration
	tokens        map[string]tokenInfo
	latency       map[Route]time.Duration
	faults        map[Route]*injected
	networks      map[string]*Network
	subnets       map[string]*Subnet
	vms           map[string]*VM
	ports         map[string]*portRecord
	portIDs       []string            // sorted, so pages follow Neutron's default id order
	portsByDevice map[string][]string // device_id → sorted port IDs
	networkIDs    []string            // sorted
	subnetIDs     []string            // sorted
	vmIDs         []string            // sorted
	macsInUse     map[string]int      // ports per MAC; tests may reuse one on purpose
	// novaCacheMu guards what Nova listings derive from s.vms while s.mu is
	// only read-held: the VMs in Nova's order (nil when stale) and the
	// encoded short-listing entries per VM record.
	novaCacheMu   sync.Mutex
	vmOrder       []*VM
	serverRefs    map[*VM]cachedRef
	serverDetails map[*VM]cachedDetail
	nextMAC       uint32
	nextGenerated uint64
	notifier      *Notifier // set by PublishNotifications (notify.go)
}

type injected struct {
	fault     fault.Fault
	remaining int // < 0: until ClearFaults
}

// NewServer starts a plain-HTTP fake. Close it when done.
func NewServer() *Server {
	s := newServer()
	s.ts = httptest.NewServer(s)
	s.URL = s.ts.URL
	return s
}

// NewTLSServer starts a fake behind TLS with a self-signed certificate; use
// Client for an *http.Client that trusts it.
func NewTLSServer() *Server {
	s := newServer()
	s.ts = httptest.NewTLSServer(s)
	s.URL = s.ts.URL
	return s
}

func newServer() *Server {
	s := &Server{
		counters:      make(map[Route]*atomic.Int64, len(allRoutes)),
		now:           time.Now,
		region:        DefaultRegion,
		omitted:       map[string]bool{},
		novaMax:       DefaultNovaMaxLimit,
		maxURL:        DefaultMaxURLLength,
		tokenTTL:      DefaultTokenTTL,
		tokens:        map[string]tokenInfo{},
		closing:       make(chan struct{}),
		latency:       map[Route]time.Duration{},
		faults:        map[Route]*injected{},
		networks:      map[string]*Network{},
		subnets:       map[string]*Subnet{},
		vms:           map[string]*VM{},
		ports:         map[string]*portRecord{},
		portsByDevice: map[string][]string{},
		macsInUse:     map[string]int{},
	}
	s.creds = withDefaultCredentials(Credentials{})
	for _, r := range allRoutes {
		s.counters[r] = new(atomic.Int64)
	}
	return s
}

// Close shuts the listener down and blocks until outstanding requests end;
// injected hangs and latency end at once. It may be called more than once.
func (s *Server) Close() {
	s.closeOnce.Do(func() { close(s.closing) })
	s.ts.Close()
}

// Client returns an HTTP client configured for the server (it trusts the TLS
// certificate of a NewTLSServer).
func (s *Server) Client() *http.Client { return s.ts.Client() }

// NeutronURL is the public network endpoint of the catalog.
func (s *Server) NeutronURL() string { return s.URL + "/neutron" }

// NovaURL is the public compute endpoint of the catalog.
func (s *Server) NovaURL() string { return s.URL + "/nova/v2.1" }

// IdentityURL is the public, versioned Keystone endpoint.
func (s *Server) IdentityURL() string { return s.URL + "/v3" }

// EndpointURL is the catalog URL of a service type ("identity", "network",
// "compute") for an interface ("public", "internal", "admin"), or "" when
// there is no such endpoint.
func (s *Server) EndpointURL(serviceType, iface string) string {
	for _, svc := range catalogServices {
		if svc.typ != serviceType {
			continue
		}
		for _, i := range interfaces {
			if i == iface {
				return s.URL + mountPrefix(svc.typ, i) + svc.versionSuffix
			}
		}
	}
	return ""
}

func withDefaultCredentials(c Credentials) Credentials {
	if c.UserName == "" {
		c.UserName = DefaultUserName
	}
	if c.UserDomainName == "" {
		c.UserDomainName = DefaultUserDomainName
	}
	if c.Password == "" {
		c.Password = DefaultPassword
	}
	if c.ProjectID == "" {
		c.ProjectID = DefaultProjectID
	}
	if c.ProjectName == "" {
		c.ProjectName = c.ProjectID
	}
	if c.Roles == nil {
		c.Roles = DefaultRoles
	}
	c.Roles = slices.Clone(c.Roles)
	return c
}

// SetCredentials replaces the accepted user; empty fields take the defaults
// (admin / default / secret / project-1, roles admin, member and reader).
// Tokens issued before stay valid, with the roles they were issued with.
func (s *Server) SetCredentials(c Credentials) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.creds = withDefaultCredentials(c)
	s.forgetServerDetails() // they show the user's ID
}

// SetRegion sets the region of every catalog endpoint (default RegionOne).
func (s *Server) SetRegion(region string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.region = region
}

// OmitFromCatalog leaves the given service types ("network", "compute",
// "identity") out of the catalog of tokens issued from now on, as some clouds
// do; the services still answer on their URLs. Call it without arguments to
// restore the full catalog.
func (s *Server) OmitFromCatalog(serviceTypes ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.omitted = map[string]bool{}
	for _, t := range serviceTypes {
		s.omitted[t] = true
	}
}

// SetPageSize caps list pages at n items even when the client sends no limit,
// like Neutron's pagination_max_limit and Nova's max_limit; a larger client
// limit is lowered to n. 0 means unlimited for both services. By default
// Neutron is unlimited and Nova caps at 1000, as the real defaults do.
func (s *Server) SetPageSize(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n = max(n, 0)
	s.neutronMax, s.novaMax = n, n
}

// SetMaxURLLength makes requests whose request URI (path and query) is longer
// than n bytes fail with 414, as eventlet/WSGI fronts of Neutron and Nova do
// beyond 8 KiB. n <= 0 disables the check. Default 8192.
func (s *Server) SetMaxURLLength(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.maxURL = n
}

// SetTokenTTL sets the lifetime of tokens issued from now on (default 1h).
func (s *Server) SetTokenTTL(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokenTTL = d
}

// ExpireTokens invalidates every token issued so far: Neutron and Nova answer
// 401 to them until the client authenticates again.
func (s *Server) ExpireTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.tokens)
}

// SetLatency delays requests of a route before they are handled; a client
// that gives up (request context cancelled) is let go at once. A route's own
// latency replaces the RouteAll latency; d <= 0 removes the setting.
func (s *Server) SetLatency(route Route, d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if d <= 0 {
		delete(s.latency, route)
		return
	}
	s.latency[route] = d
}

// Fail makes the next `times` requests on a route answer with status and the
// service's own error envelope (times < 0: until ClearFaults; times == 0
// removes the fault). A route's own fault is used before a RouteAll fault.
// Faulty requests are still counted.
func (s *Server) Fail(route Route, status int, times int) {
	if times != 0 && (status < 100 || status > 999) {
		panic(fmt.Sprintf("openstacktest: Fail(%s, %d): not an HTTP status", route, status))
	}
	s.Inject(route, fault.Status(status), times)
}

// Inject makes the next `times` requests on a route answer with f: any
// fault.Fault, e.g. a 503 with Retry-After, a malformed or oversized body, a
// hang or a connection reset, a redirect elsewhere, an echo of the request.
// Status faults carry the service's own error envelope. fault.NextLinksTo
// answers a list as usual with its pagination links on another base (use a
// small SetPageSize so there are any). times and the precedence of routes
// are as for Fail.
func (s *Server) Inject(route Route, f fault.Fault, times int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if times == 0 {
		delete(s.faults, route)
		return
	}
	s.faults[route] = &injected{fault: f, remaining: times}
}

// ClearFaults removes every injected fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.faults)
}

// Requests is how many requests a route received (RouteAll: all of them),
// including faulty and rejected ones.
func (s *Server) Requests(route Route) int {
	c, ok := s.counters[route]
	if !ok {
		return 0
	}
	return int(c.Load())
}

// ServersServed is how many server documents Nova answers carried: one per
// GET /servers/{id}, one per item of a list page. It shows what a client
// decodes, which request counts alone do not.
func (s *Server) ServersServed() int { return int(s.serversServed.Load()) }

// ResetCounters sets every request counter (ServersServed too) to zero.
func (s *Server) ResetCounters() {
	for _, c := range s.counters {
		c.Store(0)
	}
	s.serversServed.Store(0)
}

// ServeHTTP lets the fake be mounted elsewhere, e.g. behind a test proxy.
// Catalog URLs always point at URL, though.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	m := classify(r.URL.Path)
	s.counters[RouteAll].Add(1)
	s.counters[m.route].Add(1)

	s.mu.RLock()
	maxURL := s.maxURL
	delay, ok := s.latency[m.route]
	if !ok {
		delay = s.latency[RouteAll]
	}
	s.mu.RUnlock()

	if maxURL > 0 && len(r.RequestURI) > maxURL {
		// eventlet rejects the request line before any service code runs,
		// with an empty body and a closed connection.
		w.Header().Set("Connection", "close")
		w.Header().Set("Content-Length", "0")
		w.WriteHeader(http.StatusRequestURITooLong)
		return
	}
	if !fault.Wait(r.Context(), s.closing, delay) {
		return
	}
	setRequestID(w, m.svc)
	if f, ok := s.takeFault(m.route); ok {
		if base := f.LinkBase(); base != "" {
			// Answered as usual, with the pagination links on base.
			r = r.WithContext(context.WithValue(r.Context(), linkBaseKey{}, base))
		} else {
			f.Serve(w, r, s.closing, func(w http.ResponseWriter, status int) {
				writeFault(w, r, m.svc, status)
			})
			return
		}
	}
	switch m.svc {
	case svcKeystone:
		s.serveKeystone(w, r, m)
	case svcNeutron:
		s.serveNeutron(w, r, m)
	case svcNova:
		s.serveNova(w, r, m)
	}
}

func (s *Server) takeFault(route Route) (fault.Fault, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, key := range []Route{route, RouteAll} {
		f, ok := s.faults[key]
		if !ok {
			continue
		}
		if f.remaining > 0 {
			f.remaining--
			if f.remaining == 0 {
				delete(s.faults, key)
			}
		}
		return f.fault, true
	}
	return fault.Fault{}, false
}

type service int

const (
	svcKeystone service = iota
	svcNeutron
	svcNova
)

// match is where a request landed: the service, the mount prefix it came
// through (for links), the path below that prefix and the route.
type match struct {
	svc    service
	prefix string
	rest   string
	route  Route
}

var interfaces = []string{"public", "internal", "admin"}

func mountPrefix(serviceType, iface string) string {
	base := map[string]string{"identity": "", "network": "/neutron", "compute": "/nova"}[serviceType]
	if serviceType == "identity" {
		if iface == "public" {
			return ""
		}
		return "/identity-" + iface
	}
	if iface == "public" {
		return base
	}
	return base + "-" + iface
}

func classify(path string) match {
	first, rest := path, ""
	if i := strings.IndexByte(path[min(1, len(path)):], '/'); i >= 0 {
		first, rest = path[:i+1], path[i+1:]
	}
	var m match
	switch first {
	case "/neutron", "/neutron-internal", "/neutron-admin":
		m = match{svc: svcNeutron, prefix: first, rest: rest}
	case "/nova", "/nova-internal", "/nova-admin":
		m = match{svc: svcNova, prefix: first, rest: rest}
	case "/identity-internal", "/identity-admin":
		m = match{svc: svcKeystone, prefix: first, rest: rest}
	default:
		m = match{svc: svcKeystone, rest: path}
	}
	m.route = routeOf(m)
	return m
}

func routeOf(m match) Route {
	segs := splitPath(m.rest)
	switch m.svc {
	case svcKeystone:
		switch {
		case len(segs) == 0, len(segs) == 1 && segs[0] == "v3":
			return RouteVersions
		case len(segs) == 3 && segs[0] == "v3" && segs[1] == "auth" && segs[2] == "tokens":
			return RouteTokens
		}
	case svcNeutron:
		if len(segs) == 0 || len(segs) == 1 && segs[0] == "v2.0" {
			return RouteVersions
		}
		if len(segs) >= 2 && len(segs) <= 3 && segs[0] == "v2.0" {
			switch segs[1] {
			case "ports":
				return RoutePorts
			case "subnets":
				return RouteSubnets
			case "networks":
				return RouteNetworks
			}
		}
	case svcNova:
		if len(segs) == 0 || len(segs) == 1 && segs[0] == "v2.1" {
			return RouteVersions
		}
		if len(segs) >= 2 && len(segs) <= 3 && segs[0] == "v2.1" && segs[1] == "servers" {
			return RouteServers
		}
	}
	return routeOther
}

// splitPath splits "/a/b/" into [a b] but keeps an inner empty segment
// ("/a//b"), which no route accepts, so it ends in a 404 like upstream.
func splitPath(p string) []string {
	p = strings.TrimPrefix(p, "/")
	p = strings.TrimSuffix(p, "/")
	if p == "" {
		return nil
	}
	return strings.Split(p, "/")
}

// linkBaseKey carries a fault.NextLinksTo base to the list handlers.
type linkBaseKey struct{}

// pageLinkBase is where the pagination links of r's answer point: the
// request's own scheme://host, unless a fault.NextLinksTo says otherwise.
func pageLinkBase(r *http.Request) string {
	if base, ok := r.Context().Value(linkBaseKey{}).(string); ok {
		return base
	}
	return baseURL(r)
}

// baseURL is scheme://host of the request, which is what the services use to
// build pagination and self links.
func baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}
