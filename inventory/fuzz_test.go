package inventory

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
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

// fuzzRecord is a valid record of provider "prov" for the decoders' seeds.
const fuzzRecord = `{"providerId":"prov","nodeName":"worker-1","instanceId":"vm-1","config":{"nodeName":"worker-1","instanceId":"vm-1","interfaces":[{"id":0,"name":"multinic0","macAddress":"fa:16:3e:00:00:01","mtu":1450}]},"lastConfigHash":"x","updatedAt":"2026-01-02T03:04:05Z"}`

// fuzzCorruptRecordLists are records arrays of corrupt files: NUL bytes,
// invalid UTF-8, wrong types, nulls, bad times, duplicate keys, deep nesting.
var fuzzCorruptRecordLists = []string{
	"[\x00]",
	"[{\"providerId\":\"p\xff\",\"nodeName\":\"n\"}]",
	`null`, `[null]`, `{}`,
	`[{"providerId":"p","nodeName":"n","updatedAt":"yesterday"}]`,
	`[{"providerId":"p","nodeName":"n","updatedAt":"0000-01-01T00:00:00+23:59"}]`,
	`[{"providerId":"p","nodeName":"n","config":null}]`,
	`[{"providerId":"p","nodeName":"n","config":{"interfaces":[{"id":-5,"mtu":1e9}]}}]`,
	`[{"providerId":"p","PROVIDERID":"q","nodeName":"n","nodeName":"m"}]`,
	`[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]`,
}

// checkRefusal requires a decoder's refusal to be ErrCorrupt or the
// newer-version error, naming the file.
func checkRefusal(t *testing.T, err error, path string) {
	t.Helper()
	if !errors.Is(err, ErrCorrupt) && !strings.Contains(err.Error(), "written by a newer operator") {
		t.Fatalf("refusal is neither corrupt nor newer: %v", err)
	}
	if !strings.Contains(err.Error(), path) {
		t.Fatalf("error does not name the file: %v", err)
	}
}

// checkAccepted requires accepted records to have keys (under providerID,
// when given), no repeats, and hashes of this build.
func checkAccepted(t *testing.T, records []Record, providerID string) {
	t.Helper()
	seen := map[recordKey]bool{}
	for _, r := range records {
		key := recordKey{r.ProviderID, r.NodeName}
		if r.ProviderID == "" || r.NodeName == "" || seen[key] || (providerID != "" && r.ProviderID != providerID) {
			t.Fatalf("accepted a record without a key, twice, or under another key: %+v", key)
		}
		seen[key] = true
		if r.LastConfigHash != ConfigHash(r.Config) {
			t.Fatalf("hash of %+v not recomputed", key)
		}
	}
}

// checkShardsRoundTrip writes records as the store does, one shard per
// provider, and requires each to read back as the same records: a loaded
// file that cannot be written would fail every later sync.
func checkShardsRoundTrip(t *testing.T, records []Record, dir string) {
	t.Helper()
	snap := newSnapshot(slices.Clone(records))
	for _, id := range snap.providers {
		sh := snap.byID[id]
		for i := range sh.records {
			var err error
			if sh.records[i].encoded, err = json.Marshal(&sh.records[i]); err != nil {
				t.Fatalf("accepted a record the store cannot write back: %v", err)
			}
		}
		encoded := sh.encode(id)
		gotID, again, err := decodeShard(encoded, filepath.Join(dir, shardFileName(id)))
		if err != nil || gotID != id {
			t.Fatalf("the written shard of %q does not read back (%q): %v\n%s", id, gotID, err, encoded)
		}
		reencoded, _ := json.Marshal(shardContent{Version: fileVersion, ProviderID: id, Records: again})
		if !bytes.Equal(encoded, append(reencoded, '\n')) {
			t.Fatalf("a write and read changed the records:\n%s\n%s", encoded, reencoded)
		}
	}
}

// FuzzDecodeMarker feeds arbitrary bytes to the decoder of the file at the
// inventory's path: a marker naming the shard directory, or a single file of
// version 1 (or none) with every record, seeded with corrupt files
// (truncated, a byte-order mark, trailing garbage, bad versions, markers
// naming no directory or carrying records). It must never panic; a refusal
// is ErrCorrupt or the newer-version error and names the file; a marker
// names a directory beside it; and the records of a single file can be
// written as shards and read back unchanged.
func FuzzDecodeMarker(f *testing.F) {
	rec := fuzzRecord
	for _, seed := range []string{
		`{"version":2,"shards":"inventory.json.d"}`,
		`{"version":2,"shards":"inventory.json.d","records":[]}`,
		`{"version":2,"shards":"inventory.json.d","records":[` + rec + `]}`,
		`{"version":2,"shards":"../etc"}`, `{"version":2,"shards":".."}`, `{"version":2,"shards":"inventory.json"}`,
		`{"version":2,"shards":""}`, `{"version":2}`, `{"version":2,"shards":"a\u0000b"}`, `{"version":2,"shards":7}`,
		`{"version":1,"records":[` + rec + `]}`,
		`{"records":[` + rec + `]}`, // a file of the first operator, without version
		`{"version":1,"records":[` + rec + `,` + rec + `]}`,
		`{"version":1,"records":[` + rec[:len(rec)/2],
		`{"version":1,"records":[]}` + " x",
		"\xef\xbb\xbf" + `{"version":1,"records":[]}`,
		`{"version":"1","records":[]}`, `{"version":1e999}`, `{"version":3,"records":[]}`, `{"version":-1}`,
		`null`, `[]`, `0`, `""`, "", " \n\t",
	} {
		f.Add([]byte(seed))
	}
	for _, records := range fuzzCorruptRecordLists {
		f.Add([]byte(`{"version":1,"records":` + records + `}`))
	}
	const path = "/var/lib/multinic-operator/inventory.json"
	f.Fuzz(func(t *testing.T, data []byte) {
		lay, err := decodeMarker(data, path)
		if err != nil {
			checkRefusal(t, err, path)
			return
		}
		switch lay.version {
		case singleFileVersion:
			checkAccepted(t, lay.records, "")
			checkShardsRoundTrip(t, lay.records, shardDirFor(path))
		case fileVersion:
			if filepath.Dir(lay.shardDir) != filepath.Dir(path) || lay.shardDir == path || len(lay.records) > 0 {
				t.Fatalf("accepted a marker naming %q beside %q, or carrying records", lay.shardDir, path)
			}
			marker, _ := json.Marshal(markerContent{Version: fileVersion, Shards: filepath.Base(lay.shardDir)})
			if again, err := decodeMarker(marker, path); err != nil || again.shardDir != lay.shardDir {
				t.Fatalf("the written marker does not read back: %v", err)
			}
		default:
			t.Fatalf("accepted version %d", lay.version)
		}
	})
}

// FuzzDecodeShard feeds arbitrary bytes to the shard decoder, named after
// the providerId the bytes hold (so the fuzzer gets past the name check) or,
// when renamed, after another key. It must never panic; a refusal is
// ErrCorrupt or the newer-version error and names the shard; whatever it
// accepts is one key's records under the name of that key, which the store
// can write back and read again unchanged.
func FuzzDecodeShard(f *testing.F) {
	shard := func(version, providerID, records string) string {
		return `{"version":` + version + `,"providerId":` + providerID + `,"records":` + records + `}`
	}
	rec := fuzzRecord
	for _, seed := range []string{
		shard("2", `"prov"`, `[`+rec+`]`),
		shard("2", `"prov"`, `[`+rec+`,`+rec+`]`),
		shard("2", `"other"`, `[`+rec+`]`),
		shard("2", `""`, `[]`), shard("2", `null`, `[]`), shard("2", `"prov"`, `[]`),
		shard("1", `"prov"`, `[`+rec+`]`), shard("3", `"prov"`, `[]`), shard("-1", `"prov"`, `[]`),
		shard("2", `"../../etc/passwd"`, `[]`), shard("2", `"a/b\u0000.json"`, `[]`),
		shard("2", `"`+strings.Repeat("x", 300)+`"`, `[]`),
		shard("2", `"prov"`, `[`+rec[:len(rec)/2]),
		shard("2", `"prov"`, `[]`) + " x",
		"\xef\xbb\xbf" + shard("2", `"prov"`, `[]`),
		`null`, `[]`, `0`, `""`, "", " \n\t",
	} {
		f.Add([]byte(seed), false)
	}
	for _, records := range fuzzCorruptRecordLists {
		f.Add([]byte(shard("2", `"p"`, records)), false)
	}
	f.Add([]byte(shard("2", `"prov"`, `[`+rec+`]`)), true)
	const dir = "/var/lib/multinic-operator/inventory.json.d"
	f.Fuzz(func(t *testing.T, data []byte, renamed bool) {
		var named struct{ ProviderID string }
		_ = json.Unmarshal(data, &named)
		if renamed {
			named.ProviderID += "-renamed"
		}
		path := filepath.Join(dir, shardFileName(named.ProviderID))
		providerID, records, err := decodeShard(data, path)
		if err != nil {
			checkRefusal(t, err, path)
			return
		}
		if renamed || providerID == "" || filepath.Base(path) != shardFileName(providerID) {
			t.Fatalf("accepted providerId %q from %s", providerID, path)
		}
		checkAccepted(t, records, providerID)
		checkShardsRoundTrip(t, records, dir)
	})
}
