package openstacktest

import (
	"bytes"
	"crypto/rand"
	"crypto/sha1" //nolint:gosec // name-based UUIDs (RFC 4122 v5) are defined over SHA-1
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync"
)

func writeJSON(w http.ResponseWriter, status int, v any) {
	buf := responseBuffer(0)
	defer releaseBuffer(buf)
	if err := appendJSON(buf, v); err != nil {
		http.Error(w, "openstacktest: encode response: "+err.Error(), http.StatusInternalServerError)
		return
	}
	buf.WriteByte('\n') // json.Encoder's, which responses have always ended with
	writeJSONBody(w, status, buf.Bytes())
}

// bodies are response buffers, reused once written: a fleet pass is answered
// with megabytes of list pages, which the benchmarks' own garbage collector
// would otherwise have to clear (the fake runs in the client's process).
var bodies = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// responseBuffer is an empty buffer with room for size bytes; releaseBuffer
// returns it once the response is written.
func responseBuffer(size int) *bytes.Buffer {
	b := bodies.Get().(*bytes.Buffer)
	b.Reset()
	b.Grow(size)
	return b
}

func releaseBuffer(b *bytes.Buffer) {
	if b.Cap() <= 16<<20 {
		bodies.Put(b)
	}
}

// appendJSON encodes v the way every response of the fake is encoded, minus
// json.Encoder's trailing newline, so that documents encoded on their own
// (and cached) can be spliced into a larger body byte for byte as if the
// whole body had been encoded at once. On error buf is unchanged.
func appendJSON(buf *bytes.Buffer, v any) error {
	enc := json.NewEncoder(buf)
	// Python's json does not escape &, < and >; links with several query
	// parameters then read the same as upstream's.
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return err
	}
	buf.Truncate(buf.Len() - 1)
	return nil
}

// writeJSONBody sends an already encoded JSON body.
func writeJSONBody(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// writeError renders an error in the envelope of the service. neutronType is
// Neutron's exception name (e.g. PortNotFound); empty derives the webob name
// from the status.
func writeError(w http.ResponseWriter, svc service, status int, message, neutronType string) {
	switch svc {
	case svcNeutron:
		if neutronType == "" {
			neutronType = "HTTP" + strings.ReplaceAll(http.StatusText(status), " ", "")
		}
		writeJSON(w, status, map[string]any{"NeutronError": map[string]any{
			"type": neutronType, "message": message, "detail": "",
		}})
	case svcNova:
		writeJSON(w, status, map[string]any{novaFaultName(status): map[string]any{
			"code": status, "message": message,
		}})
	default:
		writeJSON(w, status, map[string]any{"error": map[string]any{
			"code": status, "message": message, "title": http.StatusText(status),
		}})
	}
}

// novaFaultName is nova.api.openstack.wsgi.Fault's table.
func novaFaultName(status int) string {
	switch status {
	case 400:
		return "badRequest"
	case 401:
		return "unauthorized"
	case 403:
		return "forbidden"
	case 404:
		return "itemNotFound"
	case 405:
		return "badMethod"
	case 409:
		return "conflictingRequest"
	case 413, 429:
		return "overLimit"
	case 415:
		return "badMediaType"
	case 501:
		return "notImplemented"
	case 503:
		return "serviceUnavailable"
	}
	return "computeFault"
}

// writeFault answers an injected fault with the message the service itself
// would use for that status.
func writeFault(w http.ResponseWriter, r *http.Request, svc service, status int) {
	if status == http.StatusUnauthorized {
		// 401s come from keystonemiddleware in front of every service.
		unauthorized(w, r)
		return
	}
	msg := http.StatusText(status)
	switch {
	case svc == svcKeystone && status == 500:
		msg = "An unexpected error prevented the server from fulfilling your request."
	case svc == svcNeutron && status == 500:
		msg = "Request Failed: internal server error while processing your request."
	case svc == svcNova && status == 500:
		msg = "Unexpected API Error. Please report this at http://bugs.launchpad.net/nova/ and attach the Nova API log if possible."
	case svc == svcNova && status == 429:
		msg = "This request was rate-limited."
	case msg == "":
		msg = "Error " + strconv.Itoa(status)
	}
	writeError(w, svc, status, msg, "")
}

func setRequestID(w http.ResponseWriter, svc service) {
	id := "req-" + newUUID()
	w.Header().Set("X-Openstack-Request-Id", id)
	if svc == svcNova {
		w.Header().Set("X-Compute-Request-Id", id)
	}
}

// allowMethods answers 405 unless the request uses one of methods.
func allowMethods(w http.ResponseWriter, r *http.Request, svc service, methods ...string) bool {
	for _, m := range methods {
		if r.Method == m {
			return true
		}
	}
	methodNotAllowed(w, svc, methods...)
	return false
}

func methodNotAllowed(w http.ResponseWriter, svc service, methods ...string) {
	w.Header().Set("Allow", strings.Join(methods, ", "))
	writeError(w, svc, http.StatusMethodNotAllowed, "The method specified is not allowed for this resource.", "")
}

// hexID is a stable 32-hex-digit ID, the shape of Keystone IDs.
func hexID(parts ...string) string {
	sum := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return hex.EncodeToString(sum[:16])
}

// stableUUID is a name-based (version 5) UUID, so generated resources get
// real-looking IDs that are the same on every run.
func stableUUID(parts ...string) string {
	sum := sha1.Sum([]byte("openstacktest\x00" + strings.Join(parts, "\x00"))) //nolint:gosec // see import
	b := sum[:16]
	b[6] = b[6]&0x0f | 0x50
	b[8] = b[8]&0x3f | 0x80
	return formatUUID(b)
}

func newUUID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return formatUUID(b)
}

// formatUUID writes the canonical 8-4-4-4-12 form; it is hex.Encode rather
// than fmt so that generating IDs (and request IDs, one per request) stays
// cheap.
func formatUUID(b []byte) string {
	var out [36]byte
	hex.Encode(out[0:8], b[0:4])
	out[8] = '-'
	hex.Encode(out[9:13], b[4:6])
	out[13] = '-'
	hex.Encode(out[14:18], b[6:8])
	out[18] = '-'
	hex.Encode(out[19:23], b[8:10])
	out[23] = '-'
	hex.Encode(out[24:36], b[10:16])
	return string(out[:])
}
