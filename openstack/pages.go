package openstack

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"reflect"
	"regexp"
	"strings"
	"sync"

	gojson "github.com/goccy/go-json"
	"github.com/gophercloud/gophercloud/v2"
	"github.com/multinic/multinic/internal/retryhttp"
	"github.com/multinic/multinic/internal/safetext"
)

// maxPages stops a server whose next links never end.
const maxPages = 10000

// linkedPage is one page of a Neutron or Nova list; next is the href of its
// rel=next link, empty on the last page, and check refuses a page that does
// not have the list's shape (e.g. {} for a port list).
type linkedPage interface {
	next() string
	check() error
}

// eachPage GETs url through the service client (token, re-auth and retries
// included) and follows rel=next links, decoding each page once straight into
// P. gophercloud's generic pager decodes every page several times (into maps,
// for IsEmpty, then into structs), which dominates a fleet pass.
//
// A next link is followed only to the service's own endpoint (scheme, host
// and port): the request carries the token, and a link elsewhere, or to
// http:// for an https endpoint, comes from a misconfigured proxy or an
// attacker. The session's HTTP client refuses such requests too; the check
// here says which page pointed where.
func eachPage[P linkedPage](ctx context.Context, s *Session, client *gophercloud.ServiceClient, url string, each func(P) error) error {
	seen := map[string]bool{}
	for pages := 0; url != ""; pages++ {
		if pages == maxPages || seen[url] {
			return fmt.Errorf("pagination does not end (page %d, next %s)", pages+1, shortenURLs(url))
		}
		seen[url] = true
		var page P
		if err := s.getJSON(ctx, client, url, &page); err != nil {
			return err
		}
		if err := page.check(); err != nil {
			return err
		}
		if err := each(page); err != nil {
			return err
		}
		next, err := followable(client, url, page.next())
		if err != nil {
			return fmt.Errorf("page %d: %w", pages+1, err)
		}
		url = next
	}
	return nil
}

// followable resolves a next link against the page it came from and
// refuses one that leaves the service's endpoint.
func followable(client *gophercloud.ServiceClient, current, next string) (string, error) {
	if next == "" {
		return "", nil
	}
	base, err := url.Parse(current)
	if err != nil {
		return "", err
	}
	link, err := base.Parse(next)
	if err != nil {
		return "", fmt.Errorf("the next link is not a URL: %w", describe(err))
	}
	endpoint, err := url.Parse(client.Endpoint)
	if err != nil {
		return "", err
	}
	if got, want := retryhttp.OriginOf(link), retryhttp.OriginOf(endpoint); got != want {
		what := "another host than"
		if link.Hostname() == endpoint.Hostname() && strings.EqualFold(link.Scheme, "http") && strings.EqualFold(endpoint.Scheme, "https") {
			what = "plain http, a downgrade from"
		}
		return "", &ForeignLinkError{Link: got, Endpoint: want, what: what}
	}
	return link.String(), nil
}

// ForeignLinkError is a next link of a Neutron or Nova listing that points
// away from the service's endpoint. It is not followed: the request would
// carry the token there.
type ForeignLinkError struct {
	// Link and Endpoint are origins (scheme://host:port).
	Link, Endpoint string
	what           string
}

func (e *ForeignLinkError) Error() string {
	return fmt.Sprintf("the next link points to %s, %s the endpoint %s; it is not followed, so the token is not sent there", e.Link, cmp.Or(e.what, "another host than"), e.Endpoint)
}

// getJSON GETs url through gophercloud (token, re-auth, status errors) and
// decodes a 200 answer into out. The body is read whole into a reused
// buffer, within the session's MaxResponseBytes, then decoded by decodeJSON.
func (s *Session) getJSON(ctx context.Context, client *gophercloud.ServiceClient, url string, out any) error {
	resp, err := client.Get(ctx, url, nil, &gophercloud.RequestOpts{OkCodes: []int{200}, KeepResponseBody: true})
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	buf := bodyBuffers.Get().(*[]byte)
	defer func() {
		if cap(*buf) <= maxPooledBody {
			bodyBuffers.Put(buf)
		}
	}()
	*buf, err = readBody(resp.Body, resp.ContentLength, cmp.Or(s.opts.MaxResponseBytes, DefaultMaxResponseBytes), (*buf)[:0])
	if err != nil {
		return err
	}
	return decodeJSON(*buf, out)
}

// readBody reads r to its end into buf. It starts at the announced size
// (when it is within limit) and otherwise doubles, but never beyond limit
// and a byte: the transport fails any read past limit, so a streamed answer
// of any size costs at most about twice the limit, not twice its size.
func readBody(r io.Reader, announced, limit int64, buf []byte) ([]byte, error) {
	if announced > 0 && announced <= limit && int64(cap(buf)) <= announced {
		buf = make([]byte, 0, announced+1) // the spare byte sees the end without growing
	}
	for {
		if len(buf) == cap(buf) {
			next := min(max(2*int64(cap(buf)), 64<<10), limit+1)
			if next <= int64(cap(buf)) {
				next = int64(cap(buf)) + bytes.MinRead
			}
			grown := make([]byte, len(buf), next)
			copy(grown, buf)
			buf = grown
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		switch {
		case errors.Is(err, io.EOF):
			return buf, nil
		case err != nil:
			return buf, err
		}
	}
}

// presizer is a list page that sizes its list for body before decoding:
// the decoder fills a slice with room as it is, where growing it page after
// page was the largest allocation of a fleet pass after the strings. listed
// is how many items the list holds.
type presizer interface {
	presize(body []byte)
	listed() int
}

// arraysIn is how many JSON arrays body opens, at most limit: a list page
// whose items each hold one array (a port's fixed_ips, a short-listing
// entry's links) holds about that many items, plus the list itself and its
// links. Only a capacity hint, so an odd body costs at most some growth or
// spare room; counting one byte is vectorised, where counting a key cost a
// tenth of a pass's decoding.
func arraysIn(body []byte, limit int) int {
	return min(bytes.Count(body, []byte{'['}), limit)
}

// bodyBuffers hold answer bodies between reading and decoding: a fleet pass
// reads hundreds of pages of a few hundred KB, which would otherwise each be
// a new allocation for the garbage collector. Buffers beyond maxPooledBody
// (a rare, detailed Nova page) are left to it.
var bodyBuffers = sync.Pool{New: func() any { return new([]byte) }}

const maxPooledBody = 4 << 20

// decodeJSON decodes body into out with goccy/go-json, which decodes the
// flow's pages about four times faster than encoding/json with a third of
// the garbage (profiles in the README). Any body it refuses is decoded
// again by encoding/json exactly as gophercloud would (first value only,
// UseNumber), so what is accepted, and every error message, stays
// encoding/json's: the fast path can only make a good answer cheaper.
func decodeJSON(body []byte, out any) error {
	zero := func() { reflect.ValueOf(out).Elem().SetZero() }
	if list, ok := out.(presizer); ok {
		// A list given room is no longer nil, so an answer without the list
		// would read as an empty one: only a list with items is taken, and
		// anything else is decoded again from scratch.
		list.presize(body)
		if err := gojson.Unmarshal(body, out); err == nil && list.listed() > 0 {
			return nil
		}
		zero()
	}
	if err := gojson.Unmarshal(body, out); err == nil {
		return nil
	}
	zero() // nothing of the failed attempt stays
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	return dec.Decode(out)
}

func nextLink(links []gophercloud.Link) string {
	next, _ := gophercloud.ExtractNextURL(links)
	return next
}

// Bounds of what a dependency's answer may put into an error message, which
// ends up in CR status, events and logs.
const (
	maxBodyExcerpt  = 200
	maxErrorMessage = 1024
)

// describe turns an error of a gophercloud call into one bounded line,
// masking secrets before anything is cut (a cut could split a secret and
// defeat the mask): an HTTP status becomes "HTTP 500 from GET <url>:
// <body excerpt>", URLs lose their query (a ports URL holds a hundred VM
// IDs), and an empty answer says so. The cause stays reachable, so
// gophercloud.ResponseCodeIs still works.
func describe(err error, secrets ...string) error {
	if err == nil {
		return nil
	}
	var msg string
	var status gophercloud.ErrUnexpectedResponseCode
	var redirect *retryhttp.RedirectError
	var foreign *retryhttp.OriginError
	switch {
	case errors.As(err, &redirect):
		msg = redirect.Error() // it says all; the URL error around it quotes the request again
	case errors.As(err, &foreign):
		msg = foreign.Error()
	case errors.As(err, &status):
		body := safetext.OneLine(safetext.Mask(string(status.Body), secrets...), maxBodyExcerpt)
		if body == "" {
			body = "(empty body)"
		}
		msg = fmt.Sprintf("HTTP %d from %s %s: %s", status.Actual, status.Method, shortenURLs(safetext.Mask(status.URL, secrets...)), body)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		msg = "the answer body is empty or cut short: " + err.Error()
	default:
		msg = shortenURLs(safetext.Mask(err.Error(), secrets...))
	}
	// URLs without a query (the Keystone token URL) are not shortened, so
	// their user:password is masked here.
	return describedError{msg: safetext.OneLine(safetext.RedactURLs(msg), maxErrorMessage), err: err}
}

// describedError shows the bounded message but keeps the cause reachable,
// so callers can still ask, say, gophercloud.ResponseCodeIs(err, 401).
type describedError struct {
	msg string
	err error
}

func (e describedError) Error() string { return e.msg }
func (e describedError) Unwrap() error { return e.err }

var urlWithQuery = regexp.MustCompile(`(https?://[^\s"?]+)\?[^\s"]*`)

// shortenURLs drops query strings from URLs in s and any user info.
func shortenURLs(s string) string {
	return urlWithQuery.ReplaceAllStringFunc(s, func(raw string) string {
		base, _, _ := strings.Cut(raw, "?")
		if u, err := url.Parse(base); err == nil {
			base = u.Redacted()
		}
		return base + "?…"
	})
}
