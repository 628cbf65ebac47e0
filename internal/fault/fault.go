// Package fault is the failure and latency injection the fakes
// (contrabasstest, openstacktest, violatest) share. A Fault is a broken
// answer as real services and networks give them: an error status (with the
// service's own error envelope and any headers, e.g. Retry-After), a body
// that is malformed, of the wrong shape, empty or far too large, a hang until
// the client gives up, or a connection reset before or during the response.
//
// The single-route fakes embed an Injector, whose Inject, Fail, SetLatency,
// ClearFaults and Requests become the fake's own.
package fault

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Fault is one broken answer. The zero value is a plain 200 with an empty
// body; build faults with the functions below.
type Fault struct {
	status int
	header http.Header
	// body replaces the service's answer when raw is set; otherwise the
	// service writes its own error envelope for status.
	body     []byte
	raw      bool
	oversize int64
	hang     bool
	reset    resetPoint
	// echo answers with the request itself; linkBase is served by the fake
	// (see NextLinksTo).
	echo     bool
	linkBase string
}

type resetPoint int

const (
	noReset resetPoint = iota
	resetBeforeResponse
	resetDuringBody
)

// Status answers status with the service's own error envelope, as the real
// service would (a Neutron 503 carries a NeutronError object, and so on).
func Status(status int) Fault { return Fault{status: status} }

// Body answers status with body as it is, Content-Type application/json:
// malformed JSON, the wrong types, an empty object, an empty body.
func Body(status int, body string) Fault {
	return Fault{status: status, body: []byte(body), raw: true}
}

// Oversized answers status with a well-formed JSON object of size bytes, one
// long string, streamed in chunks without Content-Length: neither the fake
// nor the test holds it in memory, and only a client that bounds what it
// reads stops early.
func Oversized(status int, size int64) Fault { return Fault{status: status, oversize: size} }

// Hang holds the request until the client gives up (its context ends) or the
// fake closes, and then drops the connection without an answer.
func Hang() Fault { return Fault{hang: true} }

// ResetBeforeResponse reads the request and resets the connection before
// any byte of the response.
func ResetBeforeResponse() Fault { return Fault{reset: resetBeforeResponse} }

// ResetDuringBody sends the status line and headers of status, announcing a
// larger body, the first bytes of that body, then resets the connection.
func ResetDuringBody(status int) Fault { return Fault{status: status, reset: resetDuringBody} }

// Redirect answers status (a 3xx) with an empty body and a Location header
// pointing at location, as a load balancer, a moved service or an attacker
// in the path does. A client that follows it takes its credentials there.
func Redirect(status int, location string) Fault {
	return Body(status, "").WithHeader("Location", location)
}

// Echo answers status with the request quoted back in a text/plain body:
// request line, headers and body, as a debugging proxy or a service that
// quotes the input it refuses does. A client's password (JSON-escaped in
// its request body) and Authorization or X-Auth-Token values land in the
// answer, and from there in any error that quotes it.
func Echo(status int) Fault { return Fault{status: status, echo: true} }

// NextLinksTo answers as the service would, except that pagination links
// point at base (scheme://host[:port]) instead of the host the request came
// to, as a service behind a proxy with the wrong public endpoint (oslo's
// public_endpoint, X-Forwarded-Host or -Proto) writes them: another host, or
// http:// for an https endpoint. Serve cannot answer it; a fake that builds
// list pages asks LinkBase first.
func NextLinksTo(base string) Fault { return Fault{linkBase: base} }

// LinkBase is the base of NextLinksTo, or "" for any other fault.
func (f Fault) LinkBase() string { return f.linkBase }

// WithHeader adds a response header, e.g. WithHeader("Retry-After", "3600").
func (f Fault) WithHeader(key, value string) Fault {
	h := f.header.Clone()
	if h == nil {
		h = http.Header{}
	}
	h.Add(key, value)
	f.header = h
	return f
}

// String describes the fault for test names and logs.
func (f Fault) String() string {
	switch {
	case f.hang:
		return "hang"
	case f.linkBase != "":
		return "next links to " + f.linkBase
	case f.echo:
		return fmt.Sprintf("HTTP %d echoing the request", f.statusOr200())
	case f.reset == resetBeforeResponse:
		return "reset before response"
	case f.reset == resetDuringBody:
		return fmt.Sprintf("HTTP %d reset during body", f.statusOr200())
	case f.oversize > 0:
		return fmt.Sprintf("HTTP %d oversized %d bytes", f.statusOr200(), f.oversize)
	case f.raw:
		return fmt.Sprintf("HTTP %d body %q", f.statusOr200(), f.body)
	}
	return fmt.Sprintf("HTTP %d", f.statusOr200())
}

func (f Fault) statusOr200() int {
	if f.status == 0 {
		return http.StatusOK
	}
	return f.status
}

// Serve answers r with the fault. envelope writes the service's own error
// answer for a status; closing, when closed, ends a hang so the fake can shut
// down.
func (f Fault) Serve(w http.ResponseWriter, r *http.Request, closing <-chan struct{}, envelope func(w http.ResponseWriter, status int)) {
	switch {
	case f.hang:
		Wait(r.Context(), closing, time.Duration(1<<63-1))
		// Drop the connection rather than let net/http send an empty 200.
		panic(http.ErrAbortHandler)
	case f.reset != noReset:
		f.serveReset(w)
		return
	case f.linkBase != "":
		panic("fault: NextLinksTo is served by the fake, which asks LinkBase")
	}
	for key, values := range f.header {
		for _, v := range values {
			w.Header().Add(key, v)
		}
	}
	switch {
	case f.echo:
		serveEcho(w, r, f.statusOr200())
	case f.oversize > 0:
		serveOversized(w, r, f.statusOr200(), f.oversize)
	case f.raw:
		if w.Header().Get("Content-Type") == "" {
			w.Header().Set("Content-Type", "application/json")
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(f.body)))
		w.WriteHeader(f.statusOr200())
		_, _ = w.Write(f.body)
	default:
		envelope(w, f.statusOr200())
	}
}

// serveEcho quotes r back: its body first (up to 64 KiB), as a service
// quoting the input it refuses does, then its headers in their wire form,
// sorted, as a debugging proxy lists them, then the request line. What a
// client's error quotes of an answer is its start, so the secrets come
// first.
func serveEcho(w http.ResponseWriter, r *http.Request, status int) {
	var b bytes.Buffer
	b.WriteString("echo of the refused request: ")
	body, _ := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	b.Write(body)
	b.WriteString("\n")
	_ = r.Header.WriteSubset(&b, nil)
	fmt.Fprintf(&b, "%s %s\n", r.Method, r.URL.RequestURI())
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(b.Len()))
	w.WriteHeader(status)
	_, _ = w.Write(b.Bytes())
}

// oversizedChunk is what an oversized body is written from, so a body of
// any size costs the fake one small buffer.
var oversizedChunk = bytes.Repeat([]byte("x"), 64<<10)

func serveOversized(w http.ResponseWriter, r *http.Request, status int, size int64) {
	const open, end = `{"padding":"`, `"}`
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if _, err := io.WriteString(w, open); err != nil {
		return
	}
	for left := size - int64(len(open)+len(end)); left > 0; left -= int64(len(oversizedChunk)) {
		if r.Context().Err() != nil {
			return
		}
		if _, err := w.Write(oversizedChunk[:min(left, int64(len(oversizedChunk)))]); err != nil {
			return // the client stopped reading, as it should
		}
	}
	_, _ = io.WriteString(w, end)
}

// serveReset takes the connection over from net/http and resets it (RST,
// not an orderly close), optionally after the start of a response.
func (f Fault) serveReset(w http.ResponseWriter) {
	hijacker, ok := w.(http.Hijacker)
	if !ok {
		panic("fault: the connection cannot be hijacked (HTTP/2?)")
	}
	conn, buf, err := hijacker.Hijack()
	if err != nil {
		panic("fault: hijack: " + err.Error())
	}
	if f.reset == resetDuringBody {
		status := f.statusOr200()
		_, _ = fmt.Fprintf(buf, "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: 65536\r\n\r\n", status, http.StatusText(status))
		_, _ = buf.WriteString(`{"partial":"the connection drops here`)
		_ = buf.Flush()
	}
	raw := conn
	if tlsConn, ok := conn.(interface{ NetConn() net.Conn }); ok {
		raw = tlsConn.NetConn()
	}
	if tcp, ok := raw.(*net.TCPConn); ok {
		_ = tcp.SetLinger(0) // Close sends RST: "connection reset by peer"
	}
	_ = conn.Close()
}

// Injector counts requests and hands out injected faults and latency.
// The zero value injects nothing; it is safe for concurrent use.
type Injector struct {
	mu        sync.Mutex
	requests  int
	fault     Fault
	remaining int // faults still to hand out; negative = until ClearFaults
	latency   time.Duration
}

// Inject makes the next times requests answer with f. A negative times keeps
// injecting until ClearFaults; zero removes the fault.
func (i *Injector) Inject(f Fault, times int) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.fault, i.remaining = f, times
}

// Fail makes the next times requests answer status with the service's own
// error envelope. A negative times keeps failing until ClearFaults.
func (i *Injector) Fail(status, times int) { i.Inject(Status(status), times) }

// SetLatency delays every response by d, or until the client gives up.
func (i *Injector) SetLatency(d time.Duration) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.latency = d
}

// ClearFaults removes injected faults and latency; counters stay.
func (i *Injector) ClearFaults() {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.fault, i.remaining, i.latency = Fault{}, 0, 0
}

// Requests is how many requests have arrived.
func (i *Injector) Requests() int {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.requests
}

// Arrive counts a request and returns the latency to inject for it.
func (i *Injector) Arrive() time.Duration {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.requests++
	return i.latency
}

// Take returns the fault to answer the current request with, using up one
// of them, or false when the request should be served normally.
func (i *Injector) Take() (Fault, bool) {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.remaining == 0 {
		return Fault{}, false
	}
	if i.remaining > 0 {
		i.remaining--
	}
	return i.fault, true
}

// Wait sleeps for d unless ctx ends or closing is closed first; it reports
// whether the whole delay passed.
func Wait(ctx context.Context, closing <-chan struct{}, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-ctx.Done():
	case <-closing:
	}
	return false
}
