package inventory

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Routes served by NewHandler.
const (
	NodeConfigsPath = "/v1/inventory/node-configs"
	HealthzPath     = "/healthz"
	OpenAPIPath     = "/openapi.yaml"
)

// Limits on what a request may carry. Real values are short (node names are
// DNS names of at most 253 bytes, IDs are UUIDs); the limits keep a handler
// embedded in a server without its own limits from parsing and echoing
// arbitrarily large input.
const (
	// MaxQueryBytes bounds the raw query string; longer gets 414.
	MaxQueryBytes = 1024
	// MaxPathBytes bounds the escaped path after any prefix was stripped;
	// longer gets 414.
	MaxPathBytes = 1024
	// MaxValueBytes bounds one query value or the node name in the path;
	// longer gets 400.
	MaxValueBytes = 256
)

// Large answers stream from the store's snapshot and are bounded in number
// (see NewHandler).
const (
	// LargeAnswerRecords is the most records an answer may hold without
	// taking one of the handler's large-answer slots.
	LargeAnswerRecords = 256
	// DefaultMaxLargeAnswers is how many large answers are served at once.
	DefaultMaxLargeAnswers = 4
	// DefaultLargeAnswerWait is how long a large answer waits for a slot
	// before the handler answers 503.
	DefaultLargeAnswerWait = time.Second
	// retryAfter is the Retry-After of a 503 for a busy handler, in
	// seconds: about how long a full list of a big inventory takes.
	retryAfter = 2
)

//go:embed openapi.yaml
var openAPIDocument []byte

// route is one entry of the handler's routing table; the OpenAPI test checks
// the document against this table and against what the handler answers.
type route struct {
	pattern string
	serve   func(*handler, http.ResponseWriter, *http.Request)
}

var routes = []route{
	{"GET " + HealthzPath, (*handler).healthz},
	{"GET " + OpenAPIPath, (*handler).openAPI},
	{"GET " + NodeConfigsPath, (*handler).list},
	{"GET " + NodeConfigsPath + "/{nodeName}", (*handler).byNode},
}

// allowedMethods is the Allow header of a 405; every route is read-only.
const allowedMethods = "GET, HEAD"

// NewHandler serves store read-only:
//
//	GET /v1/inventory/node-configs[?providerId=&nodeName=&instanceId=]  JSON array
//	GET /v1/inventory/node-configs/{nodeName}[?providerId=]             JSON array, 404 if empty
//	GET /healthz                                                        200 "ok"
//	GET /openapi.yaml                                                   OpenAPI 3 document of these routes
//
// A nil store means the inventory is disabled: every route but the OpenAPI
// document answers 503, so a probe or client can tell "disabled" from
// "empty". Methods other than GET and HEAD get 405. An unknown, repeated or
// malformed query parameter gets 400 rather than being ignored, because
// ignoring a misspelt filter would silently return the whole inventory.
//
// Answers are streamed record by record from the store's immutable
// snapshot, so a request never holds a copy of the inventory or its whole
// JSON. An answer of more than LargeAnswerRecords records needs one of a
// few slots (DefaultMaxLargeAnswers; WithLargeAnswers changes it): it waits
// briefly for one and otherwise gets 503 with Retry-After. This bounds the
// memory of many concurrent full lists (each keeps the snapshot it started
// from alive until it is written) and their CPU, while small, filtered
// answers are never delayed. A short wait absorbs a burst; a longer queue
// would only hold connections and goroutines while clients time out, and a
// 503 with Retry-After lets them back off.
//
// The handler does not depend on where it is mounted: wrap it in
// http.StripPrefix to serve it under a prefix of another server. It never
// redirects, since a redirect computed from the stripped path would point
// outside the prefix; paths with "." or ".." segments or doubled slashes get
// 400 instead. Errors are JSON objects {"error": "..."}.
func NewHandler(store *Store, opts ...HandlerOption) http.Handler {
	h := &handler{store: store, mux: http.NewServeMux(), maxLarge: DefaultMaxLargeAnswers, largeWait: DefaultLargeAnswerWait}
	for _, opt := range opts {
		opt(h)
	}
	h.large = make(chan struct{}, h.maxLarge)
	for _, rt := range routes {
		serve := rt.serve
		h.mux.HandleFunc(rt.pattern, func(w http.ResponseWriter, r *http.Request) { serve(h, w, r) })
	}
	return h
}

// HandlerOption adjusts NewHandler.
type HandlerOption func(*handler)

// WithLargeAnswers sets how many answers of more than LargeAnswerRecords
// records are served at once (at least 1) and how long one waits for a
// slot before 503 (0 means not at all).
func WithLargeAnswers(concurrent int, wait time.Duration) HandlerOption {
	return func(h *handler) {
		h.maxLarge = max(concurrent, 1)
		h.largeWait = max(wait, 0)
	}
}

// NewServer returns an HTTP server for NewHandler(store) on addr, with
// timeouts so slow or stuck clients cannot hold connections forever.
func NewServer(addr string, store *Store) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           NewHandler(store),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
}

type handler struct {
	store *Store
	mux   *http.ServeMux
	// large holds a token per large answer being written.
	large     chan struct{}
	maxLarge  int
	largeWait time.Duration
}

// ServeHTTP checks what the mux would otherwise answer in plain text or with
// a redirect (oversized, non-canonical, unknown paths and wrong methods), so
// every answer is JSON and none leaves the mount point.
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if len(r.URL.RawQuery) > MaxQueryBytes {
		writeError(w, http.StatusRequestURITooLong, fmt.Sprintf("query string is %d bytes, at most %d allowed", len(r.URL.RawQuery), MaxQueryBytes))
		return
	}
	if n := max(len(r.URL.Path), len(r.URL.RawPath)); n > MaxPathBytes {
		writeError(w, http.StatusRequestURITooLong, fmt.Sprintf("path is %d bytes, at most %d allowed", n, MaxPathBytes))
		return
	}
	if !strings.HasPrefix(r.URL.Path, "/") {
		// Only reachable through a prefix stripper ("/inv" itself, or a
		// prefix not ending at a slash); nothing is served there.
		writeError(w, http.StatusNotFound, fmt.Sprintf("no inventory route for path %q", r.URL.Path))
		return
	}
	if !isCanonical(r.URL.Path) {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("path %q has empty, \".\" or \"..\" segments", r.URL.Path))
		return
	}
	if _, pattern := h.mux.Handler(r); pattern == "" {
		get := *r
		get.Method = http.MethodGet
		if _, pattern := h.mux.Handler(&get); pattern != "" {
			w.Header().Set("Allow", allowedMethods)
			writeError(w, http.StatusMethodNotAllowed, fmt.Sprintf("method %s is not allowed; the inventory API is read-only (%s)", r.Method, allowedMethods))
			return
		}
		writeError(w, http.StatusNotFound, fmt.Sprintf("no inventory route for path %q", r.URL.Path))
		return
	}
	h.mux.ServeHTTP(w, r)
}

// isCanonical reports whether the absolute path p is one ServeMux would not
// clean (and so redirect). A trailing slash is kept as canonical, as the mux
// does, and simply matches no route.
func isCanonical(p string) bool {
	cleaned := path.Clean(p)
	if strings.HasSuffix(p, "/") && cleaned != "/" {
		cleaned += "/"
	}
	return cleaned == p
}

const disabledMessage = "inventory is disabled (INVENTORY_ENABLED=false)"

func (h *handler) healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if h.store == nil {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(disabledMessage))
		return
	}
	_, _ = w.Write([]byte("ok"))
}

// openAPI is served even when the inventory is disabled: the document
// describes the API, including its 503 answers, not the data.
func (h *handler) openAPI(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/yaml")
	_, _ = w.Write(openAPIDocument)
}

var (
	listParams   = []string{"providerId", "nodeName", "instanceId"}
	byNodeParams = []string{"providerId"}
)

func (h *handler) list(w http.ResponseWriter, r *http.Request) {
	if h.store == nil {
		writeError(w, http.StatusServiceUnavailable, disabledMessage)
		return
	}
	query, err := singleValues(r, listParams)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	f := Filter{ProviderID: query["providerId"], NodeName: query["nodeName"], InstanceID: query["instanceId"]}
	h.serveRecords(w, r, h.store.snapshot().candidates(f), f)
}

func (h *handler) byNode(w http.ResponseWriter, r *http.Request) {
	if h.store == nil {
		writeError(w, http.StatusServiceUnavailable, disabledMessage)
		return
	}
	query, err := singleValues(r, byNodeParams)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	nodeName := r.PathValue("nodeName")
	if err := checkValue("path segment nodeName", nodeName); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	f := Filter{ProviderID: query["providerId"], NodeName: nodeName}
	candidates := h.store.snapshot().candidates(f)
	if countMatches(candidates, f, 1) == 0 {
		msg := fmt.Sprintf("no inventory record for nodeName %q", f.NodeName)
		if f.ProviderID != "" {
			msg += fmt.Sprintf(" and providerId %q", f.ProviderID)
		}
		writeError(w, http.StatusNotFound, msg)
		return
	}
	h.serveRecords(w, r, candidates, f)
}

// serveRecords answers 200 with the candidates that match f, as one JSON
// array byte for byte equal to json.Marshal of them. A small answer is
// copied out of the snapshot first, so a slow client keeps no snapshot
// alive; a large one is streamed from the snapshot under a slot.
func (h *handler) serveRecords(w http.ResponseWriter, r *http.Request, candidates []Record, f Filter) {
	w.Header().Set("Content-Type", "application/json")
	if r.Method == http.MethodHead {
		w.WriteHeader(http.StatusOK) // no body, so nothing to encode or bound
		return
	}
	if countMatches(candidates, f, LargeAnswerRecords+1) <= LargeAnswerRecords {
		var small []Record
		for i := range candidates {
			if f.matches(&candidates[i]) {
				small = append(small, candidates[i])
			}
		}
		candidates, f = small, Filter{}
	} else {
		release, ok := h.acquireLarge(r.Context())
		if !ok {
			w.Header().Set("Retry-After", strconv.Itoa(retryAfter))
			writeError(w, http.StatusServiceUnavailable, fmt.Sprintf(
				"%d large inventory answers (over %d records) are already being sent; retry after %d s, or filter by providerId",
				h.maxLarge, LargeAnswerRecords, retryAfter))
			return
		}
		defer release()
	}
	w.WriteHeader(http.StatusOK)
	_ = writeRecords(w, candidates, f)
}

// acquireLarge takes a large-answer slot, waiting at most largeWait and
// never past the request's end.
func (h *handler) acquireLarge(ctx context.Context) (release func(), ok bool) {
	release = func() { <-h.large }
	select {
	case h.large <- struct{}{}:
		return release, true
	default:
	}
	if h.largeWait <= 0 {
		return nil, false
	}
	timer := time.NewTimer(h.largeWait)
	defer timer.Stop()
	select {
	case h.large <- struct{}{}:
		return release, true
	case <-timer.C:
	case <-ctx.Done():
	}
	return nil, false
}

// countMatches counts the candidates that match f, stopping at limit.
func countMatches(candidates []Record, f Filter, limit int) int {
	n := 0
	for i := range candidates {
		if f.matches(&candidates[i]) {
			if n++; n >= limit {
				break
			}
		}
	}
	return n
}

// writeRecords writes the candidates that match f as a JSON array, one
// record at a time through a reused buffer: "[", records joined by ",",
// "]\n", exactly what json.Marshal of the slice plus a newline gives. It
// stops at the first write error (the client went away).
func writeRecords(w io.Writer, candidates []Record, f Filter) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf) // escapes HTML like json.Marshal
	buf.WriteByte('[')
	first := true
	for i := range candidates {
		if !f.matches(&candidates[i]) {
			continue
		}
		if !first {
			buf.WriteByte(',')
		}
		first = false
		if err := enc.Encode(&candidates[i]); err != nil {
			// Record holds strings, numbers and a time from RFC 3339 text
			// or the clock, so this cannot happen; if it ever does, the
			// truncated array tells the client the answer is broken.
			return err
		}
		buf.Truncate(buf.Len() - 1) // Encode's newline
		if buf.Len() >= streamChunk {
			if _, err := w.Write(buf.Bytes()); err != nil {
				return err
			}
			buf.Reset()
		}
	}
	buf.WriteString("]\n")
	_, err := w.Write(buf.Bytes())
	return err
}

// streamChunk is how much encoded JSON is gathered before a write: big
// enough to keep writes few, small enough to stay a fixed cost per request.
const streamChunk = 32 << 10

// singleValues returns the query parameters of r, refusing malformed
// queries, names outside allowed and names given more than once. An empty
// value means no filter. r.URL.Query is not used because it drops malformed
// pairs silently, which would turn a filter into no filter.
func singleValues(r *http.Request, allowed []string) (map[string]string, error) {
	values, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, fmt.Errorf("malformed query string: %w", err)
	}
	out := make(map[string]string, len(values))
	for name, vals := range values {
		if !slices.Contains(allowed, name) {
			return nil, fmt.Errorf("unknown query parameter %q (allowed: %s)", name, strings.Join(allowed, ", "))
		}
		if len(vals) > 1 {
			return nil, fmt.Errorf("query parameter %q is given %d times, at most once allowed", name, len(vals))
		}
		if err := checkValue("query parameter "+name, vals[0]); err != nil {
			return nil, err
		}
		out[name] = vals[0]
	}
	return out, nil
}

// checkValue refuses values no stored record can carry, so the answer is a
// clear 400 instead of an empty result: stored fields came from JSON and are
// valid UTF-8, and real names and IDs are far below MaxValueBytes.
func checkValue(field, v string) error {
	if len(v) > MaxValueBytes {
		return fmt.Errorf("%s is %d bytes, at most %d allowed", field, len(v), MaxValueBytes)
	}
	if !utf8.ValidString(v) {
		return fmt.Errorf("%s is not valid UTF-8", field)
	}
	return nil
}

func writeError(w http.ResponseWriter, status int, message string) {
	writeJSON(w, status, map[string]string{"error": message})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "encode response: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(data, '\n'))
}
