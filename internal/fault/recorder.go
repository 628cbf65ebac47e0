package fault

import (
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
)

// Recorder is a server that must never be reached: the other host a
// redirect or a next link points at. It records every request, headers and
// body included, and answers 200 with an empty JSON object, so a client
// that goes there is not stopped by its answer, only by its own rules.
type Recorder struct {
	// URL is the server's base URL, http://127.0.0.1:port.
	URL string

	srv  *httptest.Server
	mu   sync.Mutex
	seen []RecordedRequest
}

// RecordedRequest is one request a Recorder got.
type RecordedRequest struct {
	Method string
	// URI is the request URI: path and query.
	URI    string
	Header http.Header
	Body   []byte
}

// NewRecorder starts a Recorder; Close it when done.
func NewRecorder() *Recorder {
	rec := &Recorder{}
	rec.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		rec.mu.Lock()
		rec.seen = append(rec.seen, RecordedRequest{Method: r.Method, URI: r.URL.RequestURI(), Header: r.Header.Clone(), Body: body})
		rec.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, "{}")
	}))
	rec.URL = rec.srv.URL
	return rec
}

// Requests returns what the Recorder got so far, oldest first.
func (rec *Recorder) Requests() []RecordedRequest {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return slices.Clone(rec.seen)
}

// Close shuts the server down.
func (rec *Recorder) Close() { rec.srv.Close() }
