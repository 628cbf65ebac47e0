package multinic

import (
	"context"
	"reflect"
	"sync"
	"time"

	"github.com/multinic/multinic/contrabass"
	"github.com/multinic/multinic/openstack"
	"github.com/multinic/multinic/viola"
)

// Sync runs one pass with fresh connections. Long-lived callers should keep a
// Syncer so OpenStack sessions survive between passes.
func Sync(ctx context.Context, cfg Config) (Result, error) {
	return new(Syncer).Sync(ctx, cfg)
}

// Syncer runs passes and keeps one authenticated OpenStack session per set of
// credentials and options, so a warm pass skips Keystone. The zero value is
// ready; it is safe for concurrent use.
type Syncer struct {
	mu       sync.Mutex
	sessions map[sessionKey]*openstack.Session
	// Clients are kept per options: each owns a transport with its idle
	// connections, which a new client per pass would leak and never reuse.
	contrabass map[contrabass.Options]*contrabass.Client
	viola      map[viola.Options]*viola.Client
	// last is the session each provider and project used last, for the
	// early reads of the next pass (see run).
	last map[lastKey]*openstack.Session
	// networkGuesses map "<neutron endpoint> <subnet selector>" to the
	// network the selected subnet was on (see readTargets).
	networkGuesses sync.Map
}

// lastKey is what a pass knows before Contrabass answers.
type lastKey struct {
	contrabassEndpoint, providerID, projectID string
	opts                                      openstack.Options
}

// lastSession is the session cfg's provider and project used last, if its
// token is still good for a pass; nil otherwise.
func (s *Syncer) lastSession(cfg Config) *openstack.Session {
	key := lastKey{cfg.Contrabass.Endpoint, cfg.ProviderID, cfg.ProjectID, cfg.OpenStack}
	if !hashable(key) {
		return nil
	}
	s.mu.Lock()
	sess := s.last[key]
	s.mu.Unlock()
	if !sess.Usable(cfg.now()) {
		return nil
	}
	return sess
}

func (s *Syncer) rememberSession(cfg Config, sess *openstack.Session) {
	key := lastKey{cfg.Contrabass.Endpoint, cfg.ProviderID, cfg.ProjectID, cfg.OpenStack}
	if !hashable(key) {
		return
	}
	now := cfg.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.last[key] == sess {
		return
	}
	if s.last == nil {
		s.last = map[lastKey]*openstack.Session{}
	}
	for k, old := range s.last {
		if old.Expired(now) {
			delete(s.last, k)
		}
	}
	s.last[key] = sess
}

type sessionKey struct {
	identityURL, user, domain, project string
	opts                               openstack.Options
}

// cached returns the client for opts, creating it on first use.
func cached[O comparable, C any](s *Syncer, clients *map[O]*C, opts O, create func(O) (*C, error)) (*C, error) {
	if !hashable(opts) {
		return create(opts)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := (*clients)[opts]; ok {
		return c, nil
	}
	c, err := create(opts)
	if err != nil {
		return nil, err
	}
	if *clients == nil {
		*clients = map[O]*C{}
	}
	(*clients)[opts] = c
	return c, nil
}

// hashable reports whether v can be a map key. Options hold interfaces
// (a Transport, an Observer) whose dynamic type may be a func or a map;
// such options are simply not cached, rather than panicking the pass.
func hashable(v any) bool { return reflect.ValueOf(v).Comparable() }

func (s *Syncer) session(ctx context.Context, creds openstack.Credentials, opts openstack.Options, now time.Time) (*openstack.Session, error) {
	key := sessionKey{creds.IdentityURL, creds.UserName, creds.UserDomainName, creds.ProjectID, opts}
	if !hashable(key) {
		return openstack.Authenticate(ctx, creds, opts)
	}
	s.mu.Lock()
	cached := s.sessions[key]
	s.mu.Unlock()
	if cached.Reusable(creds, now) {
		return cached, nil
	}
	fresh, err := openstack.Authenticate(ctx, creds, opts)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sessions == nil {
		s.sessions = map[sessionKey]*openstack.Session{}
	}
	// Drop sessions whose tokens have lapsed so the cache stays as small as
	// the set of credentials in use.
	for k, old := range s.sessions {
		if old.Expired(now) {
			delete(s.sessions, k)
		}
	}
	s.sessions[key] = fresh
	return fresh, nil
}
