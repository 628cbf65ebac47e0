package retryhttp

import (
	"cmp"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
)

// Credentials stay with their host. The Keystone token, the admin password,
// a bearer token or a URL's basic-auth pair is meant for one scheme, host
// and port: the configured endpoint, or one from Keystone's catalog. A
// client built by New therefore never follows a redirect (the request would
// go with its headers, and a 307 or 308 with its body, to wherever the
// answer points), and a client given Origins refuses, before anything is
// sent, a request to any other scheme://host:port, such as a next link of a
// listing that points elsewhere or downgrades https to http.

// RedirectError is a redirect answer, which is never followed.
type RedirectError struct {
	Dependency string
	Method     string
	// URL is the request's URL without its query.
	URL    string
	Status int
	// To is the origin (scheme://host:port) the answer pointed at; its path
	// and query are left out, as they may carry anything.
	To string
}

func (e *RedirectError) Error() string {
	return fmt.Sprintf("%s answered %s %s with HTTP %d %s, a redirect to %s, which is not followed: requests carrying credentials go only to the configured endpoint (point the setting at the new address if the service moved)",
		cmp.Or(e.Dependency, "the server"), e.Method, e.URL, e.Status, http.StatusText(e.Status), cmp.Or(e.To, "(no valid location)"))
}

// OriginError is a request refused before it was sent, because its origin
// is not one of the client's Origins.
type OriginError struct {
	Dependency string
	Method     string
	// Origin is the refused scheme://host:port.
	Origin string
	// Allowed are the client's origins when it refused.
	Allowed []string
}

func (e *OriginError) Error() string {
	what := "another host"
	if scheme, hostPort, ok := strings.Cut(e.Origin, "://"); ok && scheme == "http" && slices.Contains(e.Allowed, "https://"+hostPort) {
		what = "a downgrade from https to plain http"
	}
	return fmt.Sprintf("refused to send %s %s to %s, %s: its credentials belong to %s only",
		cmp.Or(e.Dependency, "the"), e.Method, e.Origin, what, strings.Join(e.Allowed, ", "))
}

// Origins is the set of scheme://host:port a client may send requests to.
// The zero value allows nothing; a session adds its endpoints as it learns
// them (Keystone first, then the catalog's). It is safe for concurrent use.
type Origins struct {
	mu   sync.RWMutex
	list []string
}

// Allow adds the origin of endpoint, an absolute http(s) URL.
func (o *Origins) Allow(endpoint string) error {
	u, err := url.Parse(endpoint)
	if err != nil || (strings.ToLower(u.Scheme) != "http" && strings.ToLower(u.Scheme) != "https") || u.Hostname() == "" {
		return errors.New("an origin needs an absolute http(s) URL")
	}
	origin := OriginOf(u)
	o.mu.Lock()
	defer o.mu.Unlock()
	if !slices.Contains(o.list, origin) {
		o.list = append(o.list, origin)
	}
	return nil
}

// Allows reports whether u's origin is allowed.
func (o *Origins) Allows(u *url.URL) bool {
	origin := OriginOf(u)
	o.mu.RLock()
	defer o.mu.RUnlock()
	return slices.Contains(o.list, origin)
}

// List returns the allowed origins in the order they were added.
func (o *Origins) List() []string {
	o.mu.RLock()
	defer o.mu.RUnlock()
	return slices.Clone(o.list)
}

// OriginOf is u's scheme://host:port, lower-cased and with the scheme's
// default port written out, so that two spellings of one origin compare
// equal.
func OriginOf(u *url.URL) string {
	scheme := strings.ToLower(u.Scheme)
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[scheme]
	}
	return scheme + "://" + net.JoinHostPort(strings.ToLower(u.Hostname()), port)
}

// originGuard refuses requests to origins not in allowed, before they are
// sent.
type originGuard struct {
	next       http.RoundTripper
	allowed    *Origins
	dependency string
}

func (g originGuard) RoundTrip(req *http.Request) (*http.Response, error) {
	if !g.allowed.Allows(req.URL) {
		if req.Body != nil {
			_ = req.Body.Close() // a RoundTripper closes the body, even on error
		}
		return nil, &OriginError{Dependency: g.dependency, Method: req.Method, Origin: OriginOf(req.URL), Allowed: g.allowed.List()}
	}
	return g.next.RoundTrip(req)
}

// Unwrap returns the transport under the guard.
func (g originGuard) Unwrap() http.RoundTripper { return g.next }

// refuseRedirect is every client's CheckRedirect: the redirect's request
// is never made.
func refuseRedirect(dependency string) func(*http.Request, []*http.Request) error {
	return func(next *http.Request, via []*http.Request) error {
		first := via[0]
		status := 0
		if next.Response != nil {
			status = next.Response.StatusCode
		}
		return &RedirectError{Dependency: dependency, Method: first.Method, URL: withoutQuery(first.URL), Status: status, To: OriginOf(next.URL)}
	}
}

// withoutQuery is u without user info, query and fragment: what an error
// may show of a request's URL.
func withoutQuery(u *url.URL) string {
	short := url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path, RawPath: u.RawPath}
	return short.String()
}

// refusal is a RedirectError or OriginError in err: nothing to retry, and
// the error itself (not the URL error around it, which quotes the target
// whole) is what the caller gets.
func refusal(err error) error {
	var redirect *RedirectError
	if errors.As(err, &redirect) {
		return redirect
	}
	var origin *OriginError
	if errors.As(err, &origin) {
		return origin
	}
	return nil
}
