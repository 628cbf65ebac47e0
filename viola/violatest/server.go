// Package violatest is an in-process fake of the Viola node-config API for
// tests, in the style of net/http/httptest. It validates requests the way the
// Viola test API does (viola.NodeConfig.ValidateReceived), records what it
// accepted, and removes node configs on DELETE (recording those too).
package violatest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/multinic/multinic/internal/fault"
	"github.com/multinic/multinic/viola"
)

// maxBodyBytes is far above a full batch (250 nodes of 10 interfaces is
// under 1 MiB) but stops a runaway test from filling memory.
const maxBodyBytes = 32 << 20

// Post is one accepted POST.
type Post struct {
	ProviderID string
	Configs    []viola.NodeConfig
	Received   time.Time
}

// Delete is one DELETE of a node config that the fake answered itself (not
// with SetDeleteStatus).
type Delete struct {
	ProviderID string
	NodeName   string
	// Found says a config was held and removed (204); false means 404.
	Found    bool
	Received time.Time
}

// Server is a running fake. All methods are safe for concurrent use.
type Server struct {
	// URL is the base URL to use as violaEndpoint.
	URL string

	httpServer *httptest.Server
	closing    chan struct{} // closed by Close to cut injected latency short
	closeOnce  sync.Once

	// Injector provides Inject and Fail (node-config POSTs only; /healthz
	// is never failed), SetLatency, ClearFaults and Requests (/healthz
	// included). An injected fault counts as rejected, even one whose status
	// says success: Viola applied nothing.
	fault.Injector

	mu           sync.Mutex
	posts        []Post
	deletes      []Delete
	deleteStatus int                                    // answers every DELETE when not zero
	nodes        map[string]map[string]viola.NodeConfig // providerID → nodeName → latest config
	rejected     int
}

// NewServer starts a plain-HTTP fake.
func NewServer() *Server {
	s := &Server{nodes: map[string]map[string]viola.NodeConfig{}, closing: make(chan struct{})}
	s.httpServer = httptest.NewServer(http.HandlerFunc(s.serveHTTP))
	s.URL = s.httpServer.URL
	return s
}

// Close shuts the server down and waits for in-flight requests. It may be
// called more than once.
func (s *Server) Close() {
	s.closeOnce.Do(func() { close(s.closing) })
	s.httpServer.Close()
}

// Rejected is how many requests were answered with an error status or an
// injected fault. None of them is recorded in Posts.
func (s *Server) Rejected() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rejected
}

// Posts returns every accepted POST in arrival order. The result is a copy.
func (s *Server) Posts() []Post {
	s.mu.Lock()
	defer s.mu.Unlock()
	posts := make([]Post, len(s.posts))
	for i, post := range s.posts {
		posts[i] = post
		posts[i].Configs = make([]viola.NodeConfig, len(post.Configs))
		for j, config := range post.Configs {
			posts[i].Configs[j] = cloneConfig(config)
		}
	}
	return posts
}

// Nodes returns the latest accepted config per node name for providerID, as
// the Biz cluster would hold them. The result is a copy.
func (s *Server) Nodes(providerID string) map[string]viola.NodeConfig {
	s.mu.Lock()
	defer s.mu.Unlock()
	nodes := make(map[string]viola.NodeConfig, len(s.nodes[providerID]))
	for name, config := range s.nodes[providerID] {
		nodes[name] = cloneConfig(config)
	}
	return nodes
}

// Deletes returns every DELETE the fake carried out, in arrival order.
func (s *Server) Deletes() []Delete {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Delete(nil), s.deletes...)
}

// SetDeleteStatus makes every DELETE answer status without removing
// anything, e.g. 405 or 501 for a Viola that cannot remove node configs,
// 500 for one that fails, 302 for one behind a redirect; 0 restores normal
// DELETEs. Such answers count as rejected and are not in Deletes.
func (s *Server) SetDeleteStatus(status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.deleteStatus = status
}

func cloneConfig(config viola.NodeConfig) viola.NodeConfig {
	config.Interfaces = append([]viola.Interface(nil), config.Interfaces...)
	return config
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	latency := s.Arrive()

	// Reading the body before waiting matters: net/http notices a client
	// hanging up (and cancels r.Context) only once the body is consumed.
	body, bodyErr := readBody(w, r)

	if !fault.Wait(r.Context(), s.closing, latency) {
		reason := "server closing"
		if r.Context().Err() != nil {
			reason = "client went away"
		}
		s.reject(w, http.StatusServiceUnavailable, reason)
		return
	}

	switch r.URL.Path {
	case "/healthz":
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			s.reject(w, http.StatusMethodNotAllowed, "method not allowed")
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, "ok")
	case viola.NodeConfigsPath:
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			s.reject(w, http.StatusMethodNotAllowed, "method not allowed")
			return
		}
		s.serveNodeConfigs(w, r, body, bodyErr)
	default:
		if name, ok := strings.CutPrefix(r.URL.EscapedPath(), viola.NodeConfigsPath+"/"); ok {
			s.serveNodeConfig(w, r, name)
			return
		}
		s.reject(w, http.StatusNotFound, "not found")
	}
}

// serveNodeConfig answers DELETE /v1/k8s/multinic/node-configs/{nodeName}
// as Viola does (SPEC §6): 204 when the config was removed, 404 when there
// was none.
func (s *Server) serveNodeConfig(w http.ResponseWriter, r *http.Request, escaped string) {
	if r.Method != http.MethodDelete {
		w.Header().Set("Allow", http.MethodDelete)
		s.reject(w, http.StatusMethodNotAllowed, "method not allowed")
		return
	}
	s.mu.Lock()
	status := s.deleteStatus
	s.mu.Unlock()
	if status != 0 {
		if status >= 300 && status < 400 {
			w.Header().Set("Location", "/elsewhere"+r.URL.Path)
		}
		s.reject(w, status, "refused by SetDeleteStatus")
		return
	}
	providerID := r.Header.Get(viola.ProviderIDHeader)
	if providerID == "" {
		s.reject(w, http.StatusBadRequest, "missing "+viola.ProviderIDHeader+" header")
		return
	}
	name, err := url.PathUnescape(escaped)
	if err == nil {
		err = viola.CheckNodeName(name)
	}
	if err != nil || strings.Contains(name, "/") {
		s.reject(w, http.StatusBadRequest, fmt.Sprintf("%q is not a node name", escaped))
		return
	}
	s.mu.Lock()
	_, found := s.nodes[providerID][name]
	delete(s.nodes[providerID], name)
	s.deletes = append(s.deletes, Delete{ProviderID: providerID, NodeName: name, Found: found, Received: time.Now()})
	s.mu.Unlock()
	if !found {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": fmt.Sprintf("no node config %q", name)})
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// readBody reads the whole body, at most maxBodyBytes. It is io.ReadAll
// with the buffer sized from Content-Length, which clients send: batches run
// to hundreds of KiB, and ReadAll's growth from 512 bytes copied them over
// and over.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	body := http.MaxBytesReader(w, r.Body, maxBodyBytes)
	if r.ContentLength <= 0 {
		return io.ReadAll(body)
	}
	// ReadFrom wants MinRead bytes free before every read, the one that
	// finds EOF included; reserving them up front means it never grows.
	buf := bytes.NewBuffer(make([]byte, 0, min(r.ContentLength, maxBodyBytes)+bytes.MinRead))
	_, err := buf.ReadFrom(body)
	return buf.Bytes(), err
}

func (s *Server) serveNodeConfigs(w http.ResponseWriter, r *http.Request, body []byte, bodyErr error) {
	if injected, faulty := s.Take(); faulty {
		s.mu.Lock()
		s.rejected++
		s.mu.Unlock()
		injected.Serve(w, r, s.closing, func(w http.ResponseWriter, status int) {
			writeJSON(w, status, map[string]string{"error": "injected failure"})
		})
		return
	}

	providerID := r.Header.Get(viola.ProviderIDHeader)
	if providerID == "" {
		s.reject(w, http.StatusBadRequest, "missing "+viola.ProviderIDHeader+" header")
		return
	}
	if contentType := r.Header.Get("Content-Type"); !strings.HasPrefix(contentType, "application/json") {
		s.reject(w, http.StatusBadRequest, fmt.Sprintf("Content-Type must be application/json, got %q", contentType))
		return
	}
	configs, err := decodeConfigs(body, bodyErr)
	if err != nil {
		s.reject(w, http.StatusBadRequest, err.Error())
		return
	}
	for i, config := range configs {
		if err := config.ValidateReceived(); err != nil {
			s.reject(w, http.StatusBadRequest, fmt.Sprintf("configs[%d]: %v", i, err))
			return
		}
	}

	// The kubectl-style output depends on the request alone, so it is built
	// before taking the lock that every other request waits on.
	var output strings.Builder
	for _, config := range configs {
		output.WriteString("multinicnodeconfig.multinic.io/")
		output.WriteString(config.NodeName) // the object name: ValidateReceived made sure it is one
		output.WriteString(" configured\n")
	}
	s.mu.Lock()
	s.posts = append(s.posts, Post{ProviderID: providerID, Configs: configs, Received: time.Now()})
	if s.nodes[providerID] == nil {
		s.nodes[providerID] = map[string]viola.NodeConfig{}
	}
	for _, config := range configs {
		s.nodes[providerID][config.NodeName] = config
	}
	s.mu.Unlock()

	writeJSON(w, http.StatusOK, map[string]any{"applied": len(configs), "output": output.String()})
}

// decodeConfigs accepts exactly one JSON array of node-config objects.
func decodeConfigs(raw []byte, err error) ([]viola.NodeConfig, error) {
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, fmt.Errorf("body exceeds %d bytes", tooLarge.Limit)
		}
		return nil, fmt.Errorf("read body: %w", err)
	}
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) == 0 || trimmed[0] != '[' {
		return nil, errors.New("body must be a JSON array of node configs")
	}
	if configs, ok := decodeConfigsFast(trimmed); ok {
		return configs, nil
	}
	return decodeConfigsStrict(trimmed)
}

// decodeConfigsFast decodes a well-formed body in one pass; ok is false when
// decodeConfigsStrict must decide instead. That split exists because the
// strict decoder parses everything twice (the array into raw items, then
// each item) to pin errors to an item, which doubled the fake's CPU for the
// batches a sync posts, while bodies that fail are rare.
//
// Decoding the array straight into []viola.NodeConfig gives the same configs
// as decoding each item on its own, and fails on everything the strict path
// rejects, except one case: a null item decodes without error into a zero
// config, where the strict path says it must be an object. So any zero config
// (null, or an object that sets nothing, which validation rejects anyway) is
// also left to the strict path, for its exact message.
func decodeConfigsFast(trimmed []byte) ([]viola.NodeConfig, bool) {
	// Capacity for one config per "nodeName" key saves growing the slice
	// (and copying every config decoded so far) a dozen times per batch. It
	// is only a hint: decoding fills fresh elements either way.
	configs := make([]viola.NodeConfig, 0, bytes.Count(trimmed, []byte(`"nodeName"`)))
	if err := json.Unmarshal(trimmed, &configs); err != nil {
		return nil, false
	}
	for _, config := range configs {
		if config.NodeName == "" && config.InstanceID == "" && config.Interfaces == nil {
			return nil, false
		}
	}
	return configs, true
}

// decodeConfigsStrict decodes item by item so errors name the item.
func decodeConfigsStrict(trimmed []byte) ([]viola.NodeConfig, error) {
	var items []json.RawMessage
	if err := json.Unmarshal(trimmed, &items); err != nil {
		return nil, fmt.Errorf("body is not valid JSON: %w", err)
	}
	configs := make([]viola.NodeConfig, len(items))
	for i, item := range items {
		item = bytes.TrimSpace(item)
		if len(item) == 0 || item[0] != '{' {
			return nil, fmt.Errorf("configs[%d] must be a JSON object", i)
		}
		if err := json.Unmarshal(item, &configs[i]); err != nil {
			return nil, fmt.Errorf("configs[%d]: %w", i, err)
		}
	}
	return configs, nil
}

func (s *Server) reject(w http.ResponseWriter, status int, message string) {
	s.mu.Lock()
	s.rejected++
	s.mu.Unlock()
	writeJSON(w, status, map[string]string{"error": message})
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}
