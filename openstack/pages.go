package openstack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"regexp"
	"strings"

	"github.com/gophercloud/gophercloud/v2"

	"github.com/multinic/multinic/internal/retryhttp"
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
func eachPage[P linkedPage](ctx context.Context, client *gophercloud.ServiceClient, url string, each func(P) error) error {
	seen := map[string]bool{}
	for pages := 0; url != ""; pages++ {
		if pages == maxPages || seen[url] {
			return fmt.Errorf("pagination does not end (page %d, next %s)", pages+1, shortenURLs(url))
		}
		seen[url] = true
		var page P
		if err := getJSON(ctx, client, url, &page); err != nil {
			return err
		}
		if err := page.check(); err != nil {
			return err
		}
		if err := each(page); err != nil {
			return err
		}
		url = page.next()
	}
	return nil
}

// getJSON GETs url and decodes a 200 answer into out.
func getJSON(ctx context.Context, client *gophercloud.ServiceClient, url string, out any) error {
	_, err := client.Get(ctx, url, out, &gophercloud.RequestOpts{OkCodes: []int{200}})
	return err
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
	switch {
	case errors.As(err, &status):
		body := retryhttp.OneLine(retryhttp.Mask(string(status.Body), secrets...), maxBodyExcerpt)
		if body == "" {
			body = "(empty body)"
		}
		msg = fmt.Sprintf("HTTP %d from %s %s: %s", status.Actual, status.Method, shortenURLs(retryhttp.Mask(status.URL, secrets...)), body)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		msg = "the answer body is empty or cut short: " + err.Error()
	default:
		msg = shortenURLs(retryhttp.Mask(err.Error(), secrets...))
	}
	// URLs without a query (the Keystone token URL) are not shortened, so
	// their user:password is masked here.
	return describedError{msg: retryhttp.OneLine(retryhttp.RedactURLs(msg), maxErrorMessage), err: err}
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
