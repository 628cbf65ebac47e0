package openstack

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"

	"github.com/gophercloud/gophercloud/v2"
)

// Server is the part of a Nova server multinic uses.
type Server struct {
	ID       string            `json:"id"`
	Name     string            `json:"name"`
	Metadata map[string]string `json:"metadata"`
}

// NodeName is the Kubernetes node name of the VM as Nova holds it: the
// metadata value under key when key is set and the value is not blank, else
// the server name. It is returned as is; the caller normalises it.
func (s Server) NodeName(key string) string {
	if key != "" && strings.TrimSpace(s.Metadata[key]) != "" {
		return s.Metadata[key]
	}
	return s.Name
}

// ErrServerNotFound means Nova does not know the VM.
var ErrServerNotFound = errors.New("server not found")

// listServersThreshold is where listing the project's servers becomes
// cheaper than one GET per VM: a page holds up to 1000 servers by default.
const listServersThreshold = 10

// Servers looks up the given VMs in Nova; withMetadata asks for their
// metadata too. The map holds each VM found; the
// error map holds, per VM, why it could not be read, so one bad VM does not
// hide the others. A non-nil error means Nova could not be asked at all.
func (s *Session) Servers(ctx context.Context, vmIDs []string, withMetadata bool) (map[string]Server, map[string]error, error) {
	if s.computeErr != nil {
		return nil, nil, s.computeErr
	}
	found := make(map[string]Server, len(vmIDs))
	if len(vmIDs) > listServersThreshold {
		all, err := s.listProjectServers(ctx, withMetadata)
		if err != nil {
			return nil, nil, err
		}
		for _, id := range vmIDs {
			if srv, ok := all[id]; ok {
				found[id] = srv
			}
		}
	}
	var missing []string
	for _, id := range vmIDs {
		if _, ok := found[id]; !ok {
			missing = append(missing, id)
		}
	}
	// VMs absent from the listing (or all of them, for a small set) are read
	// one by one, which also turns a missing VM into a precise 404.
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

// server reads one VM. An answer without the server object, or for another
// server, is an error of that VM rather than a nameless node.
func (s *Session) server(ctx context.Context, id string) (Server, error) {
	var body struct {
		Server *Server `json:"server"`
	}
	err := getJSON(ctx, s.compute, s.compute.ServiceURL("servers", url.PathEscape(id)), &body)
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

// listProjectServers lists the project's servers, all pages. Without a
// metadata key the short listing (id and name) is enough and far lighter than
// the detailed one.
func (s *Session) listProjectServers(ctx context.Context, withMetadata bool) (map[string]Server, error) {
	path := "servers"
	if withMetadata {
		path = "servers/detail"
	}
	all := map[string]Server{}
	err := eachPage(ctx, s.compute, s.compute.ServiceURL(path), func(page serverPage) error {
		for _, srv := range page.Servers {
			all[srv.ID] = srv
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("nova: list servers: %w", describe(err))
	}
	return all, nil
}

type serverPage struct {
	Servers []Server           `json:"servers"`
	Links   []gophercloud.Link `json:"servers_links"`
}

func (p serverPage) next() string { return nextLink(p.Links) }

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
