package openstack

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gophercloud/gophercloud/v2"

	"github.com/multinic/multinic/internal/novahostname"
)

// Server is the part of a Nova server multinic uses.
type Server struct {
	ID       string            `json:"id"`
	Name     string            `json:"name"`
	Metadata map[string]string `json:"metadata"`
	// Hostname is the guest's host name as Nova hands it out through its
	// metadata service, which cloud-init sets and kubelet registers
	// (lower-cased). Nova shows it from microversion 2.3 (ComputeMicroversion)
	// to admins, from 2.90 to anyone; nil when it is not shown.
	Hostname *string `json:"OS-EXT-SRV-ATTR:hostname"`
}

// Where a node name came from (SPEC §5), in the order they are tried.
const (
	// NodeNameFromMetadata: the Nova metadata value under the configured key.
	NodeNameFromMetadata = "metadata"
	// NodeNameFromHostname: Nova's OS-EXT-SRV-ATTR:hostname.
	NodeNameFromHostname = "hostname"
	// NodeNameFromServerName: the server name through Nova's own host-name
	// rules, for a Nova that does not show the hostname to this user.
	NodeNameFromServerName = "name"
)

// ComputeMicroversion is what every Nova request asks for: the oldest that
// shows OS-EXT-SRV-ATTR:hostname (to an admin; 2.90 shows it to anyone, but
// Nova before Xena does not know 2.90 and would refuse every request).
const ComputeMicroversion = "2.3"

// NodeName is the Kubernetes node name of the VM as Nova holds it, and where
// it came from: the metadata value under key when key is set and the value
// is not blank; else OS-EXT-SRV-ATTR:hostname when Nova shows one; else the
// server name made into a host name by Nova's own rules (novahostname), as
// Nova did at create. Metadata and hostname are returned as they are; the
// caller trims, lower-cases and checks the name.
func (s Server) NodeName(key string) (name, source string) {
	switch {
	case key != "" && strings.TrimSpace(s.Metadata[key]) != "":
		return s.Metadata[key], NodeNameFromMetadata
	case s.Hostname != nil && strings.TrimSpace(*s.Hostname) != "":
		return *s.Hostname, NodeNameFromHostname
	case strings.TrimSpace(s.Name) == "":
		return "", NodeNameFromServerName
	}
	return novahostname.ForServer(s.Name, s.ID), NodeNameFromServerName
}

// ErrServerNotFound means Nova does not know the VM.
var ErrServerNotFound = errors.New("server not found")

// listServersThreshold is where listing the project's servers becomes
// cheaper than one GET per VM: a page holds up to 1000 servers by default.
const listServersThreshold = 10

// serverPageLimit is asked of every list page: Nova's default max_limit, so
// a cloud whose operator raised max_limit still answers in pages that stay
// far below MaxResponseBytes (a detailed page of 1000 servers is ~2.6 MB).
const serverPageLimit = 1000

// DefaultServerListMaxAge is how long passes of one Session may share a
// listing of the project's servers when Options.ServerListMaxAge is zero.
const DefaultServerListMaxAge = 10 * time.Second

// Servers looks up the given VMs in Nova, with their metadata and, where
// Nova shows it, their hostname. The map holds each VM found; the error map holds, per VM,
// why it could not be read, so one bad VM does not hide the others. A
// non-nil error means Nova could not be asked at all.
//
// More than a few VMs are looked up in a listing of the project's servers,
// which the calls of one Session share for Options.ServerListMaxAge (see
// there); a VM absent from it, and each VM of a small set when no listing is
// fresh, is read on its own, which also turns a missing VM into a precise 404.
func (s *Session) Servers(ctx context.Context, vmIDs []string) (map[string]Server, map[string]error, error) {
	return s.ServersAt(ctx, vmIDs, time.Now())
}

// ServersAt is Servers for a caller with its own clock: now decides whether
// a shared listing is still fresh, as it decides in Reusable whether the
// token is.
func (s *Session) ServersAt(ctx context.Context, vmIDs []string, now time.Time) (map[string]Server, map[string]error, error) {
	if s.computeErr != nil {
		return nil, nil, s.computeErr
	}
	found := make(map[string]Server, len(vmIDs))
	all := s.freshListing(now)
	if all == nil && len(vmIDs) > listServersThreshold {
		var err error
		if all, err = s.projectServers(ctx, now); err != nil {
			return nil, nil, err
		}
	}
	var missing []string
	for _, id := range vmIDs {
		if srv, ok := all[id]; ok {
			found[id] = srv
		} else {
			missing = append(missing, id)
		}
	}
	failed := map[string]error{}
	var mu sync.Mutex
	err := forEach(ctx, len(missing), s.opts.Concurrency, func(ctx context.Context, i int) error {
		id := missing[i]
		srv, err := s.server(ctx, id)
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			failed[id] = err
		} else {
			found[id] = srv
		}
		return ctx.Err()
	})
	if err != nil {
		return nil, nil, fmt.Errorf("nova: get servers: %w", describe(err))
	}
	return found, failed, nil
}

// serverListing is one listing of the project's servers, shared by the
// calls of a Session while it is fresh. servers is read-only once done is
// closed.
type serverListing struct {
	done    chan struct{}
	started time.Time
	servers map[string]Server
	err     error
}

func (l *serverListing) finished() bool {
	select {
	case <-l.done:
		return true
	default:
		return false
	}
}

// listingMaxAge is the configured sharing window; <= 0 shares nothing.
func (s *Session) listingMaxAge() time.Duration {
	if s.opts.ServerListMaxAge == 0 {
		return DefaultServerListMaxAge
	}
	return s.opts.ServerListMaxAge
}

// freshListing is a finished, successful listing younger than the sharing
// window, or nil. Its age counts from when it was asked for, so a name
// read from it is never older than the window.
func (s *Session) freshListing(now time.Time) map[string]Server {
	s.listMu.Lock()
	defer s.listMu.Unlock()
	l := s.listing
	if l == nil || !l.finished() || l.err != nil || now.Sub(l.started) >= s.listingMaxAge() {
		return nil
	}
	return l.servers
}

// projectServers returns a listing of the project's servers: a fresh one
// if another call made it, the one in flight if another call is making it
// (singleflight), else a new one. A failed listing is not kept; a caller
// that waited for one that failed lists on its own, since the failure may
// be the other caller's deadline.
func (s *Session) projectServers(ctx context.Context, now time.Time) (map[string]Server, error) {
	if s.listingMaxAge() < 0 {
		return s.listProjectServers(ctx)
	}
	s.listMu.Lock()
	l := s.listing
	if l != nil && (!l.finished() || (l.err == nil && now.Sub(l.started) < s.listingMaxAge())) {
		s.listMu.Unlock()
		select {
		case <-l.done:
		case <-ctx.Done():
			return nil, fmt.Errorf("nova: list servers: %w", context.Cause(ctx))
		}
		if l.err == nil {
			return l.servers, nil
		}
		return s.listProjectServers(ctx)
	}
	l = &serverListing{done: make(chan struct{}), started: now}
	s.listing = l
	s.listMu.Unlock()

	defer close(l.done)
	l.servers, l.err = s.listProjectServers(ctx)
	if l.err != nil {
		s.listMu.Lock()
		if s.listing == l {
			s.listing = nil
		}
		s.listMu.Unlock()
	}
	return l.servers, l.err
}

// server reads one VM. An answer without the server object, or for another
// server, is an error of that VM rather than a nameless node.
func (s *Session) server(ctx context.Context, id string) (Server, error) {
	var body struct {
		Server *Server `json:"server"`
	}
	err := s.getJSON(ctx, s.compute, s.compute.ServiceURL("servers", url.PathEscape(id)), &body)
	switch {
	case gophercloud.ResponseCodeIs(err, 404):
		return Server{}, fmt.Errorf("nova: server %q: %w", id, ErrServerNotFound)
	case err != nil:
		return Server{}, fmt.Errorf("nova: get server %q: %w", id, describe(err))
	case body.Server == nil:
		return Server{}, fmt.Errorf(`nova: get server %q: the answer has no "server" object`, id)
	case body.Server.ID != id:
		return Server{}, fmt.Errorf("nova: get server %q: the answer is for server %q", id, body.Server.ID)
	}
	return *body.Server, nil
}

// listProjectServers lists the project's servers in detail, following
// every page of at most serverPageLimit. The short listing (id and name)
// would be lighter, but only the detailed one carries the hostname.
func (s *Session) listProjectServers(ctx context.Context) (map[string]Server, error) {
	var pages [][]Server
	total := 0
	query := "?limit=" + strconv.Itoa(serverPageLimit)
	err := eachPage(ctx, s, s.compute, s.compute.ServiceURL("servers", "detail")+query, func(page serverPage) error {
		pages = append(pages, page.Servers)
		total += len(page.Servers)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("nova: list servers: %w", describe(err))
	}
	all := make(map[string]Server, total) // sized once, not grown page by page
	for _, page := range pages {
		for _, srv := range page {
			all[srv.ID] = srv
		}
	}
	return all, nil
}

type serverPage struct {
	Servers []Server           `json:"servers"`
	Links   []gophercloud.Link `json:"servers_links"`
}

func (p serverPage) next() string { return nextLink(p.Links) }

// presize: a short-listing entry's only array is its links; a detailed
// one has several, and a page holds at most serverPageLimit.
func (p *serverPage) presize(body []byte) {
	p.Servers = make([]Server, 0, arraysIn(body, serverPageLimit))
}
func (p *serverPage) listed() int { return len(p.Servers) }

func (p serverPage) check() error {
	if p.Servers == nil {
		return errors.New(`the answer has no "servers" list`)
	}
	for i, srv := range p.Servers {
		if srv.ID == "" {
			return fmt.Errorf("servers[%d] (name %q) has no id", i, srv.Name)
		}
	}
	return nil
}
