// Package openstack reads what multinic needs from Keystone, Neutron and Nova,
// all through gophercloud. A Session is one authenticated connection that a
// long-lived caller keeps across passes, so a fleet is not re-authenticated on
// every poll.
package openstack

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	gopenstack "github.com/gophercloud/gophercloud/v2/openstack"
	"github.com/gophercloud/gophercloud/v2/openstack/identity/v3/tokens"

	"github.com/multinic/multinic/internal/retryhttp"
	"github.com/multinic/multinic/internal/safetext"
)

// Options tune how a Session talks to OpenStack. The zero value is usable.
type Options struct {
	// Timeout bounds each HTTP attempt. Default 30s.
	Timeout     time.Duration
	InsecureTLS bool
	// EndpointInterface picks catalog endpoints: public (default), internal or admin.
	EndpointInterface string
	// EndpointRegion prefers endpoints of this region; without a match the
	// first endpoint of the service type is used.
	EndpointRegion string
	// NeutronEndpoint and NovaEndpoint bypass the catalog when set.
	NeutronEndpoint string
	NovaEndpoint    string
	// DeviceIDBatchSize is how many device_id filters go into one ports
	// request; real Neutron fronts reject URLs beyond ~8 KiB. Default 100.
	DeviceIDBatchSize int
	// Concurrency bounds parallel requests of one call. Default 16, so the
	// ports of 1000 VMs (10 batches) are fetched in one round trip.
	Concurrency int
	// RetryMax is how often a 5xx, 429 or connection error is retried.
	// Default 3; negative disables retries.
	RetryMax int
	// RetryWaitMin and RetryWaitMax bound the back-off between retries.
	RetryWaitMin, RetryWaitMax time.Duration
	// Transport replaces the HTTP transport (tests, proxies). InsecureTLS is
	// ignored when it is set.
	Transport http.RoundTripper
	// MaxResponseBytes bounds each successful response body from Keystone,
	// Neutron and Nova; a larger one fails the call. Zero means
	// DefaultMaxResponseBytes.
	MaxResponseBytes int64
	// Observer hears about every HTTP attempt (metrics).
	Observer retryhttp.Observer
	// ServerListMaxAge is how long a listing of the project's servers is
	// shared by the Servers calls of one Session, i.e. by the passes of all
	// OpenstackConfigs of one provider and project: within it, a fleet of
	// CRs costs Nova one listing instead of one per CR. A server renamed in
	// Nova (or given new metadata) is seen at most this much later; a server
	// missing from the listing is always asked for on its own. Zero means
	// DefaultServerListMaxAge; negative shares nothing.
	ServerListMaxAge time.Duration
}

// DefaultMaxResponseBytes is what the largest answer for a 10,000-VM fleet
// needs, with headroom; see retryhttp.DefaultMaxResponseBytes.
const DefaultMaxResponseBytes = retryhttp.DefaultMaxResponseBytes

func (o Options) withDefaults() Options {
	if o.Timeout <= 0 {
		o.Timeout = retryhttp.DefaultTimeout
	}
	if o.EndpointInterface == "" {
		o.EndpointInterface = "public"
	}
	if o.DeviceIDBatchSize <= 0 {
		o.DeviceIDBatchSize = 100
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 16
	}
	if o.RetryMax == 0 {
		o.RetryMax = retryhttp.DefaultRetryMax
	}
	if o.RetryWaitMin <= 0 {
		o.RetryWaitMin = retryhttp.DefaultRetryWaitMin
	}
	if o.RetryWaitMax <= 0 {
		o.RetryWaitMax = retryhttp.DefaultRetryWaitMax
	}
	return o
}

// Credentials identify the admin user and the project to scope the token to.
type Credentials struct {
	// IdentityURL is the Keystone base URL, with or without a /v3 suffix.
	IdentityURL    string
	UserName       string
	UserDomainName string
	Password       string
	ProjectID      string
}

// fingerprint identifies credentials without keeping the password readable,
// so a caller can tell whether a cached session still matches.
func (c Credentials) fingerprint() [32]byte {
	return sha256.Sum256([]byte(strings.Join([]string{c.IdentityURL, c.UserName, c.UserDomainName, c.Password, c.ProjectID}, "\x00")))
}

// Session is an authenticated, project-scoped OpenStack connection.
// It is safe for concurrent use.
type Session struct {
	opts        Options
	fingerprint [32]byte
	projectID   string
	provider    *gophercloud.ProviderClient
	expiresAt   time.Time
	network     *gophercloud.ServiceClient
	networkErr  error
	compute     *gophercloud.ServiceClient
	computeErr  error

	// listing is the shared listing of the project's servers.
	listMu  sync.Mutex
	listing *serverListing
}

// AuthError is a failed Keystone authentication.
type AuthError struct{ Err error }

func (e *AuthError) Error() string { return "keystone: authenticate: " + e.Err.Error() }
func (e *AuthError) Unwrap() error { return e.Err }

// EndpointError means a service endpoint could not be chosen from the catalog.
type EndpointError struct {
	ServiceType string // "network" or "compute"
	Interface   string
	Region      string
}

func (e *EndpointError) Error() string {
	msg := fmt.Sprintf("no %q endpoint with interface %q in the Keystone catalog", e.ServiceType, e.Interface)
	if e.Region != "" {
		msg += fmt.Sprintf(" (region %q)", e.Region)
	}
	return msg + "; set the endpoint override explicitly"
}

// Authenticate gets a project-scoped token and picks the Neutron and Nova
// endpoints. Endpoint problems are reported by the calls that need them, so a
// caller can tell a Keystone failure from a catalog one.
func Authenticate(ctx context.Context, creds Credentials, opts Options) (*Session, error) {
	opts = opts.withDefaults()
	identity, err := identityV3URL(creds.IdentityURL)
	if err != nil {
		return nil, &AuthError{Err: err}
	}
	provider, err := gopenstack.NewClient(identity)
	if err != nil {
		return nil, &AuthError{Err: fmt.Errorf("identity URL: %w", err)}
	}
	// The token and the password go to Keystone's host and, once the
	// catalog names them, Neutron's and Nova's: nowhere else.
	origins := new(retryhttp.Origins)
	if err := origins.Allow(identity); err != nil {
		return nil, &AuthError{Err: fmt.Errorf("identity URL: %w", err)}
	}
	provider.HTTPClient, err = newHTTPClient(opts, origins)
	if err != nil {
		return nil, fmt.Errorf("openstack: HTTP client: %w", err)
	}
	provider.UserAgent.Prepend("multinic")
	auth := &gophercloud.AuthOptions{
		IdentityEndpoint: identity,
		Username:         creds.UserName,
		Password:         creds.Password,
		DomainName:       creds.UserDomainName,
		Scope:            &gophercloud.AuthScope{ProjectID: creds.ProjectID},
		// gophercloud re-authenticates once on a 401, which covers tokens
		// revoked or expired between our own expiry checks.
		AllowReauth: true,
	}
	if err := gopenstack.AuthenticateV3(ctx, provider, auth, gophercloud.EndpointOpts{}); err != nil {
		return nil, &AuthError{Err: describe(err, creds.Password)}
	}
	result, ok := provider.GetAuthResult().(tokens.CreateResult)
	if !ok {
		return nil, &AuthError{Err: errors.New("unexpected token response")}
	}
	// gophercloud reads a body without a token object as an empty token
	// and catalog, which would surface later as a misleading catalog error.
	if body, _ := result.Body.(map[string]any); body["token"] == nil {
		return nil, &AuthError{Err: errors.New(`the answer has no "token" object`)}
	}
	token, err := result.ExtractToken()
	if err != nil {
		return nil, &AuthError{Err: fmt.Errorf("decode token: %w", describe(err, creds.Password))}
	}
	catalog, err := result.ExtractServiceCatalog()
	if err != nil {
		return nil, &AuthError{Err: fmt.Errorf("decode catalog: %w", describe(err, creds.Password))}
	}
	s := &Session{
		opts:        opts,
		fingerprint: creds.fingerprint(),
		projectID:   creds.ProjectID,
		provider:    provider,
		expiresAt:   token.ExpiresAt,
	}
	s.network, s.networkErr = s.serviceClient(catalog, "network", opts.NeutronEndpoint, "v2.0/", creds.Password)
	s.compute, s.computeErr = s.serviceClient(catalog, "compute", opts.NovaEndpoint, "", creds.Password)
	if s.compute != nil {
		s.compute.Microversion = ComputeMicroversion
	}
	for _, c := range []*gophercloud.ServiceClient{s.network, s.compute} {
		if c != nil {
			_ = origins.Allow(c.Endpoint) // serviceClient checked it is an absolute http(s) URL
		}
	}
	return s, nil
}

// Reusable reports whether the session was made for these credentials and
// its token stays valid for a while yet, so a new pass can skip Keystone.
func (s *Session) Reusable(creds Credentials, now time.Time) bool {
	return s.Usable(now) && s.fingerprint == creds.fingerprint()
}

// Usable reports whether the token stays valid for a while yet (a pass's
// worth), whoever the session was made for.
func (s *Session) Usable(now time.Time) bool {
	const margin = 2 * time.Minute
	return s != nil && (s.expiresAt.IsZero() || now.Add(margin).Before(s.expiresAt))
}

// Expired reports whether the token has lapsed by now.
func (s *Session) Expired(now time.Time) bool {
	return !s.expiresAt.IsZero() && !now.Before(s.expiresAt)
}

// NeutronEndpoint is the network endpoint in use.
func (s *Session) NeutronEndpoint() (string, error) {
	if s.networkErr != nil {
		return "", s.networkErr
	}
	return strings.TrimSuffix(s.network.Endpoint, "/"), nil
}

// NovaEndpoint is the compute endpoint in use.
func (s *Session) NovaEndpoint() (string, error) {
	if s.computeErr != nil {
		return "", s.computeErr
	}
	return strings.TrimSuffix(s.compute.Endpoint, "/"), nil
}

// serviceClient builds the client of serviceType's endpoint. An endpoint
// that is no URL is quoted with password masked: the catalog is Keystone's
// answer, which may hold anything (FuzzKeystoneToken found one equal to
// the password).
func (s *Session) serviceClient(catalog *tokens.ServiceCatalog, serviceType, override, resourcePath, password string) (*gophercloud.ServiceClient, error) {
	endpoint := strings.TrimRight(override, "/")
	if endpoint == "" {
		endpoint = chooseEndpoint(catalog, serviceType, s.opts.EndpointInterface, s.opts.EndpointRegion)
		if endpoint == "" {
			return nil, &EndpointError{ServiceType: serviceType, Interface: s.opts.EndpointInterface, Region: s.opts.EndpointRegion}
		}
	}
	if u, err := url.Parse(endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%s endpoint %q is not an absolute http(s) URL", serviceType, safetext.OneLine(safetext.RedactURLs(safetext.Mask(endpoint, password)), 200))
	}
	base := endpoint + "/"
	return &gophercloud.ServiceClient{
		ProviderClient: s.provider,
		Endpoint:       base,
		ResourceBase:   base + resourcePath,
		Type:           serviceType,
	}, nil
}

// chooseEndpoint follows SPEC §3: match type and interface, prefer the region,
// fall back to the first endpoint of the type and interface when no region
// matches, and trim trailing slashes.
func chooseEndpoint(catalog *tokens.ServiceCatalog, serviceType, iface, region string) string {
	var first string
	for _, entry := range catalog.Entries {
		if entry.Type != serviceType {
			continue
		}
		for _, ep := range entry.Endpoints {
			if !strings.EqualFold(ep.Interface, iface) || ep.URL == "" {
				continue
			}
			if region == "" || ep.Region == region || ep.RegionID == region {
				return strings.TrimRight(ep.URL, "/")
			}
			if first == "" {
				first = strings.TrimRight(ep.URL, "/")
			}
		}
	}
	return first
}

// identityV3URL accepts a Keystone base with or without /v3 (Contrabass
// returns either) and yields the versioned endpoint, which spares gophercloud
// a version-discovery round trip.
func identityV3URL(raw string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("keystone URL %q is not an absolute http(s) URL", raw)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	if !strings.HasSuffix(u.Path, "/v3") {
		u.Path += "/v3"
	}
	u.RawQuery, u.Fragment = "", ""
	return u.String() + "/", nil
}

// newHTTPClient builds the retrying client gophercloud sends through; it
// sends only to origins, when set. opts has had withDefaults applied.
func newHTTPClient(opts Options, origins *retryhttp.Origins) (http.Client, error) {
	rc, err := retryhttp.New(retryhttp.Options{
		Timeout: opts.Timeout,
		// A caller's Transport is used as given: InsecureTLS is ignored then.
		InsecureTLS:  opts.InsecureTLS && opts.Transport == nil,
		RetryMax:     opts.RetryMax,
		RetryWaitMin: opts.RetryWaitMin,
		RetryWaitMax: opts.RetryWaitMax,
		HTTPClient:   &http.Client{Transport: opts.Transport},
		// Fleet passes fan out to one host; keep those connections warm.
		MaxIdleConnsPerHost: max(opts.Concurrency*2, 16),
		MaxResponseBytes:    opts.MaxResponseBytes,
		// Hand the final response back to gophercloud so it can report the
		// service's own status and body instead of a generic retry error.
		PassLastResponse: true,
		TimeoutName:      "openstackTimeout",
		InsecureTLSName:  "openstackInsecureTLS",
		Observer:         opts.Observer,
		Dependency:       "openstack",
		Origins:          origins,
	})
	if err != nil {
		return http.Client{}, err
	}
	return *rc.StandardClient(), nil
}
