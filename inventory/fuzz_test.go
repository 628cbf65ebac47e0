package inventory

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
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
	// A HEAD answer of records has no body: they are not even encoded.
	headWithoutBody := method == http.MethodHead && rec.Body.Len() == 0
	if rec.Header().Get("Content-Type") == "application/json" && !headWithoutBody && !json.Valid(rec.Body.Bytes()) {
		t.Fatalf("%s %q: invalid JSON body %q", method, u.Path, rec.Body.String())
	}
}

// FuzzDecodeFile feeds arbitrary bytes to the inventory file decoder, with
// seeds of corrupt files (truncated, NUL bytes, a byte-order mark, invalid
// UTF-8, wrong types, nulls, duplicates, bad times, trailing garbage). It
// must never panic; a refusal is ErrCorrupt or the newer-version error and
// names the file; and whatever it accepts, the store can serve and write
// back, reading the same again (a loaded file that cannot be written would
// fail every later sync).
func FuzzDecodeFile(f *testing.F) {
	const rec = `{"providerId":"prov","nodeName":"worker-1","instanceId":"vm-1","config":{"nodeName":"worker-1","instanceId":"vm-1","interfaces":[{"id":0,"name":"multinic0","macAddress":"fa:16:3e:00:00:01","mtu":1450}]},"lastConfigHash":"x","updatedAt":"2026-01-02T03:04:05Z"}`
	for _, seed := range []string{
		`{"version":1,"records":[` + rec + `]}`,
		`{"records":[` + rec + `]}`, // a file of the first operator, without version
		`{"version":1,"records":[` + rec + `,` + rec + `]}`,
		`{"version":1,"records":[` + rec[:len(rec)/2],
		`{"version":1,"records":[]}` + " x",
		"\xef\xbb\xbf" + `{"version":1,"records":[]}`,
		"{\"version\":1,\"records\":[\x00]}",
		"{\"records\":[{\"providerId\":\"p\xff\",\"nodeName\":\"n\"}]}",
		`{"version":"1","records":[]}`, `{"version":1e999}`, `{"version":2,"records":[]}`, `{"version":-1}`,
		`{"records":null}`, `{"records":[null]}`, `{"records":{}}`, `null`, `[]`, `0`, `""`, "", " \n\t",
		`{"records":[{"providerId":"p","nodeName":"n","updatedAt":"yesterday"}]}`,
		`{"records":[{"providerId":"p","nodeName":"n","updatedAt":"0000-01-01T00:00:00+23:59"}]}`,
		`{"records":[{"providerId":"p","nodeName":"n","config":null}]}`,
		`{"records":[{"providerId":"p","nodeName":"n","config":{"interfaces":[{"id":-5,"mtu":1e9}]}}]}`,
		`{"records":[{"providerId":"p","PROVIDERID":"q","nodeName":"n","nodeName":"m"}]}`,
		`{"records":[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]}`,
	} {
		f.Add([]byte(seed))
	}
	const path = "/var/lib/multinic-operator/inventory.json"
	f.Fuzz(func(t *testing.T, data []byte) {
		records, err := decodeFile(data, path)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) && !strings.Contains(err.Error(), "written by a newer operator") {
				t.Fatalf("refusal is neither corrupt nor newer: %v", err)
			}
			if !strings.Contains(err.Error(), path) {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		seen := map[recordKey]bool{}
		for _, r := range records {
			key := recordKey{r.ProviderID, r.NodeName}
			if r.ProviderID == "" || r.NodeName == "" || seen[key] {
				t.Fatalf("accepted a record without a key or twice: %+v", key)
			}
			seen[key] = true
			if r.LastConfigHash != ConfigHash(r.Config) {
				t.Fatalf("hash of %+v not recomputed", key)
			}
		}
		encoded, err := json.Marshal(fileContent{Version: fileVersion, Records: newSnapshot(records).allRecords()})
		if err != nil {
			t.Fatalf("accepted a file the store cannot write back: %v", err)
		}
		again, err := decodeFile(encoded, path)
		if err != nil {
			t.Fatalf("the written file does not read back: %v", err)
		}
		reencoded, _ := json.Marshal(fileContent{Version: fileVersion, Records: again})
		if !bytes.Equal(encoded, reencoded) {
			t.Fatalf("a write and read changed the records:\n%s\n%s", encoded, reencoded)
		}
	})
}
