// Package contrabasstest is an in-process fake of the Contrabass provider API
// for tests, in the style of net/http/httptest. It encrypts passwords exactly
// as the real service does, so clients exercise real decryption.
package contrabasstest

import (
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"

	"github.com/multinic/multinic/contrabass"
	"github.com/multinic/multinic/contrabass/internal/aescbc"
	"github.com/multinic/multinic/internal/fault"
)

const providerPath = "/v1/contrabass/admin/infra/provider/"

// ProviderSpec describes a provider in plaintext; the server encrypts the
// passwords when it is added.
type ProviderSpec struct {
	AdminID       string
	AdminPassword string
	Domain        string
	KeystoneURL   string

	PrometheusURL    string
	VIP              string
	RabbitMQID       string
	RabbitMQPassword string
	RabbitMQURLs     []string
}

// Server is a running fake. All methods are safe for concurrent use.
type Server struct {
	// URL is the base URL to use as contrabassEndpoint.
	URL string

	httpServer *httptest.Server
	closing    chan struct{} // closed by Close to cut injected latency short
	closeOnce  sync.Once
	encryptKey string

	// Injector provides Inject (any fault.Fault), Fail (a status with
	// Contrabass's envelope), SetLatency, ClearFaults and Requests.
	fault.Injector

	mu        sync.Mutex
	providers map[string]storedProvider
	bearer    string
}

// storedProvider keeps the encryption failure rather than panicking in
// AddProvider, and reports it on every GET so the test sees why.
type storedProvider struct {
	data       contrabass.Provider
	encryptErr error
}

// NewServer starts a plain-HTTP fake that encrypts with encryptKey.
func NewServer(encryptKey string) *Server {
	s := newServer(encryptKey)
	s.httpServer = httptest.NewServer(http.HandlerFunc(s.serveHTTP))
	s.URL = s.httpServer.URL
	return s
}

// NewTLSServer starts an HTTPS fake whose certificate no client trusts by
// default, like a Contrabass behind a self-signed certificate.
func NewTLSServer(encryptKey string) *Server {
	s := newServer(encryptKey)
	s.httpServer = httptest.NewUnstartedServer(http.HandlerFunc(s.serveHTTP))
	// Rejected handshakes are the point of this server; do not log each one.
	s.httpServer.Config.ErrorLog = log.New(io.Discard, "", 0)
	s.httpServer.StartTLS()
	s.URL = s.httpServer.URL
	return s
}

func newServer(encryptKey string) *Server {
	return &Server{encryptKey: encryptKey, providers: map[string]storedProvider{}, closing: make(chan struct{})}
}

// Close shuts the server down and waits for in-flight requests. It may be
// called more than once.
func (s *Server) Close() {
	s.closeOnce.Do(func() { close(s.closing) })
	s.httpServer.Close()
}

// AddProvider adds or replaces provider id. If the server's key cannot
// encrypt (wrong length), GETs of this provider answer 500 naming the problem.
func (s *Server) AddProvider(id string, p ProviderSpec) {
	stored := storedProvider{data: contrabass.Provider{
		UUID: id,
		URL:  p.KeystoneURL,
		Attributes: contrabass.Attributes{
			AdminID:       p.AdminID,
			Domain:        p.Domain,
			PrometheusURL: p.PrometheusURL,
			VIP:           p.VIP,
			RabbitMQID:    p.RabbitMQID,
			RabbitMQURLs:  append([]string(nil), p.RabbitMQURLs...),
		},
	}}
	var err error
	stored.data.Attributes.AdminPw, err = aescbc.Encrypt(s.encryptKey, p.AdminPassword, nil)
	if err == nil && p.RabbitMQPassword != "" {
		stored.data.Attributes.RabbitMQPw, err = aescbc.Encrypt(s.encryptKey, p.RabbitMQPassword, nil)
	}
	if err != nil {
		stored.encryptErr = fmt.Errorf("contrabasstest: cannot encrypt provider %q: %w", id, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.providers[id] = stored
}

// RequireBearer makes requests without "Authorization: Bearer <token>" fail
// with 401. An empty token turns the check off.
func (s *Server) RequireBearer(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.bearer = token
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	latency := s.Arrive()
	injected, faulty := s.Take()
	s.mu.Lock()
	bearer := s.bearer
	s.mu.Unlock()

	if !fault.Wait(r.Context(), s.closing, latency) {
		if r.Context().Err() == nil {
			writeEnvelope(w, http.StatusServiceUnavailable, "server closing", nil)
		}
		return
	}

	// The escaped path keeps an id holding "%2F" in one segment.
	rest, isProviderPath := strings.CutPrefix(r.URL.EscapedPath(), providerPath)
	id, err := url.PathUnescape(rest)
	switch {
	case faulty:
		injected.Serve(w, r, s.closing, func(w http.ResponseWriter, status int) {
			writeEnvelope(w, status, "injected failure", nil)
		})
		return
	case !isProviderPath || strings.Contains(rest, "/") || err != nil:
		writeEnvelope(w, http.StatusNotFound, "no such endpoint", nil)
		return
	case r.Method != http.MethodGet:
		w.Header().Set("Allow", http.MethodGet)
		writeEnvelope(w, http.StatusMethodNotAllowed, "method not allowed", nil)
		return
	case bearer != "" && r.Header.Get("Authorization") != "Bearer "+bearer:
		writeEnvelope(w, http.StatusUnauthorized, "unauthorized", nil)
		return
	}

	s.mu.Lock()
	stored, ok := s.providers[id]
	s.mu.Unlock()
	switch {
	case !ok || id == "":
		writeEnvelope(w, http.StatusNotFound, "provider not found", nil)
	case stored.encryptErr != nil:
		writeEnvelope(w, http.StatusInternalServerError, stored.encryptErr.Error(), nil)
	default:
		data := stored.data
		writeEnvelope(w, http.StatusOK, "COMMON_OK", &data)
	}
}

func writeEnvelope(w http.ResponseWriter, status int, message string, data *contrabass.Provider) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(envelope{ReturnCode: fmt.Sprint(status), ReturnMessage: message, Data: data})
}

// envelope wraps every answer of Contrabass, errors included. The fake
// writes it on its own rather than with the client's types, so that a
// change to one side cannot hide a mismatch with the wire format.
type envelope struct {
	ReturnCode    string               `json:"returnCode"`
	ReturnMessage string               `json:"returnMessage"`
	Data          *contrabass.Provider `json:"data,omitempty"`
}
