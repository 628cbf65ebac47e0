package openstack

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servers"
)

// Server is the part of a Nova server multinic uses.
type Server struct {
	ID       string            `json:"id"`
	Name     string            `json:"name"`
	Metadata map[string]string `json:"metadata"`
}

// NodeName is the Kubernetes node name of the VM: the metadata value under
// key when key is set and the value is non-empty, else the server name.
func (s Server) NodeName(key string) string {
	if key != "" && s.Metadata[key] != "" {
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
		var srv Server
		err := servers.Get(ctx, s.compute, id).ExtractInto(&srv)
		mu.Lock()
		defer mu.Unlock()
		switch {
		case err == nil:
			found[id] = srv
		case gophercloud.ResponseCodeIs(err, 404):
			failed[id] = fmt.Errorf("nova: server %q: %w", id, ErrServerNotFound)
		default:
			failed[id] = fmt.Errorf("nova: get server %q: %w", id, err)
		}
		return ctx.Err()
	})
	if err != nil {
		return nil, nil, fmt.Errorf("nova: get servers: %w", err)
	}
	return found, failed, nil
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
		return nil, fmt.Errorf("nova: list servers: %w", err)
	}
	return all, nil
}

type serverPage struct {
	Servers []Server           `json:"servers"`
	Links   []gophercloud.Link `json:"servers_links"`
}

func (p serverPage) next() string { return nextLink(p.Links) }
