package inventory

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
)

// handlerStatuses is every status the handler may answer; anything else
// (a redirect, a 500) means a request slipped past its checks.
var handlerStatuses = map[int]bool{
	http.StatusOK:                 true,
	http.StatusBadRequest:         true,
	http.StatusNotFound:           true,
	http.StatusMethodNotAllowed:   true,
	http.StatusRequestURITooLong:  true,
	http.StatusServiceUnavailable: true,
}

var fuzzMethods = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodDelete, "PROPFIND", http.MethodConnect}

// FuzzHandler drives arbitrary paths and queries through the handler, both
// as a server would parse them from a request line and raw (as a prefix
// stripper or a hand-built request can hand them over). The seeds below are
// all `go test` runs; `go test -fuzz=FuzzHandler ./inventory` explores more.
func FuzzHandler(f *testing.F) {
	for _, seed := range []struct {
		method      uint8
		path, query string
	}{
		{0, "/v1/inventory/node-configs", "providerId=prov-a&nodeName=worker-1"},
		{0, "/v1/inventory/node-configs/worker-1", "providerId=prov-b"},
		{0, "/v1/inventory/node-configs/a%2Fb", ""},
		{0, "/v1/inventory/node-configs/..", "x=%zz"},
		{0, "/healthz/../openapi.yaml", "a=1;b=2"},
		{0, "/v1/inventory/node-configs/\xff", "nodeName=%ff"},
		{1, "/openapi.yaml", ""},
		{2, "/v1/inventory/node-configs", "providerId=prov-a"},
		{5, "", ""},
		{3, "v1//x", "&&=="},
	} {
		f.Add(seed.method, seed.path, seed.query)
	}
	s, err := Open("")
	if err != nil {
		f.Fatal(err)
	}
	if _, err := s.Upsert("prov-a", node("worker-1", "vm-a1", "fa:16:3e:00:00:01")); err != nil {
		f.Fatal(err)
	}
	handlers := []http.Handler{NewHandler(s), NewHandler(nil), http.StripPrefix("/inv", NewHandler(s))}

	f.Fuzz(func(t *testing.T, method uint8, path, query string) {
		m := fuzzMethods[int(method)%len(fuzzMethods)]
		urls := []*url.URL{{Path: path, RawQuery: query}}
		if u, err := url.ParseRequestURI(path + "?" + query); err == nil {
			urls = append(urls, u)
		}
		for _, h := range handlers {
			for _, u := range urls {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, &http.Request{Method: m, URL: u, Header: http.Header{}})
				check(t, m, u, rec)
			}
		}
	})
}

func check(t *testing.T, method string, u *url.URL, rec *httptest.ResponseRecorder) {
	t.Helper()
	if !handlerStatuses[rec.Code] {
		t.Fatalf("%s %q ? %q: status %d not allowed", method, u.Path, u.RawQuery, rec.Code)
	}
	if rec.Code == http.StatusOK && method != http.MethodGet && method != http.MethodHead {
		t.Fatalf("%s %q answered 200 to a non-read method", method, u.Path)
	}
	if rec.Header().Get("Location") != "" {
		t.Fatalf("%s %q redirected to %q", method, u.Path, rec.Header().Get("Location"))
	}
	if rec.Header().Get("Content-Type") == "application/json" && !json.Valid(rec.Body.Bytes()) {
		t.Fatalf("%s %q: invalid JSON body %q", method, u.Path, rec.Body.String())
	}
}
