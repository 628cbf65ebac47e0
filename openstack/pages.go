package openstack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gophercloud/gophercloud/v2"
)

// maxPages stops a server whose next links never end.
const maxPages = 10000

// linkedPage is one page of a Neutron or Nova list; next is the href of its
// rel=next link, empty on the last page.
type linkedPage interface{ next() string }

// eachPage GETs url through the service client (token, re-auth and retries
// included) and follows rel=next links, decoding each page once straight into
// P. gophercloud's generic pager decodes every page several times (into maps,
// for IsEmpty, then into structs), which dominates a fleet pass.
func eachPage[P linkedPage](ctx context.Context, client *gophercloud.ServiceClient, url string, each func(P) error) error {
	seen := map[string]bool{}
	for pages := 0; url != ""; pages++ {
		if pages == maxPages || seen[url] {
			return fmt.Errorf("pagination does not end (page %d, next %q)", pages+1, url)
		}
		seen[url] = true
		var page P
		if _, err := client.Get(ctx, url, &page, &gophercloud.RequestOpts{OkCodes: []int{200}}); err != nil {
			return err
		}
		if err := each(page); err != nil {
			return err
		}
		url = page.next()
	}
	return nil
}

func nextLink(links []gophercloud.Link) string {
	next, _ := gophercloud.ExtractNextURL(links)
	return next
}

// openstackTime reads the timestamps Neutron and Nova emit, which may lack a
// zone ("2026-01-02T03:04:05") or carry one ("...Z", "+00:00").
type openstackTime time.Time

func (t *openstackTime) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	if s == "" {
		return nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999", "2006-01-02T15:04:05"} {
		if parsed, err := time.Parse(layout, strings.TrimSpace(s)); err == nil {
			*t = openstackTime(parsed.UTC())
			return nil
		}
	}
	return errors.New("unrecognised timestamp " + s)
}
