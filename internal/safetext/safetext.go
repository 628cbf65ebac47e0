// Package safetext turns outside text (a dependency's answer, an error, a
// panic value, a URL) into text that may reach status, events, logs and
// command output: secrets masked, URL credentials redacted, one bounded
// line. Every layer uses it, so one rule holds everywhere.
package safetext

import (
	"bytes"
	"cmp"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// Mask replaces every secret in s with [REDACTED], in each form a secret
// takes when a dependency or proxy echoes a request back: as it is,
// JSON-escaped (Go's, Python's ASCII-only and PHP's escaped-slash styles),
// URL-encoded for a query or a path (either hex case), and base64. It also
// redacts, secrets given or not, the values of credential headers quoted in
// text (Authorization, Proxy-Authorization, X-Auth-Token, X-Subject-Token)
// and any "Basic" user:password pair, whose base64 hides a password no
// plain search finds. Mask before cutting with OneLine: a cut can split a
// secret, and the half left would no longer match.
func Mask(s string, secrets ...string) string {
	var all []string
	for _, secret := range secrets {
		all = append(all, forms(secret)...)
	}
	// Longest first, so that a form holding another (a JSON escape of a
	// secret ending in a backslash holds the secret) goes whole.
	slices.SortFunc(all, func(a, b string) int { return cmp.Compare(len(b), len(a)) })
	for _, form := range all {
		s = strings.ReplaceAll(s, form, redacted)
	}
	return redactCredentialHeaders(s)
}

const redacted = "[REDACTED]"

// BasicAuth is the form a user and password take in an HTTP basic
// Authorization header (and a URL's user info, which net/http sends as
// one): pass it to Mask as a secret where the pair is known, since the
// pair's base64 contains no base64 of the password alone.
func BasicAuth(user, password string) string {
	return base64.StdEncoding.EncodeToString([]byte(user + ":" + password))
}

// forms lists the ways secret is written in text, without repeats.
func forms(secret string) []string {
	if secret == "" {
		return nil
	}
	out := []string{secret}
	add := func(form string) {
		if form != "" && !slices.Contains(out, form) {
			out = append(out, form)
		}
	}
	goJSON := jsonEscape(secret, true)
	add(goJSON)
	add(jsonEscape(secret, false))
	ascii := asciiJSONEscape(secret)
	add(ascii)
	add(strings.ReplaceAll(ascii, "/", `\/`))
	add(strings.ReplaceAll(goJSON, "/", `\/`))
	// A JSON request body quoted inside a JSON answer is escaped twice.
	add(jsonEscape(goJSON, true))
	add(jsonEscape(jsonEscape(secret, false), false))
	add(asciiJSONEscape(ascii))
	for _, escaped := range []string{url.QueryEscape(secret), url.PathEscape(secret)} {
		add(escaped)
		add(lowerHex(escaped))
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		add(enc.EncodeToString([]byte(secret)))
	}
	return out
}

// jsonEscape is secret as encoding/json writes it inside a string, with or
// without its HTML escapes (\u003c for <).
func jsonEscape(secret string, escapeHTML bool) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(escapeHTML)
	_ = enc.Encode(secret) // a string always encodes
	out := bytes.TrimSpace(buf.Bytes())
	return string(out[1 : len(out)-1])
}

// asciiJSONEscape is secret as Python's json.dumps writes it (the default,
// ensure_ascii): quote, backslash and controls escaped, anything beyond
// ASCII as \uXXXX, in UTF-16 surrogate pairs beyond the BMP.
func asciiJSONEscape(secret string) string {
	var b strings.Builder
	for _, r := range secret {
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || (r > 0x7f && r <= 0xffff):
			fmt.Fprintf(&b, `\u%04x`, r)
		case r > 0xffff:
			hi, lo := utf16.EncodeRune(r)
			fmt.Fprintf(&b, `\u%04x\u%04x`, hi, lo)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// lowerHex writes the %XX escapes of an escaped string in lower case, as
// some encoders do.
func lowerHex(escaped string) string {
	b := []byte(escaped)
	for i := 0; i+2 < len(b); i++ {
		if b[i] == '%' {
			b[i+1], b[i+2] = lowerASCII(b[i+1]), lowerASCII(b[i+2])
		}
	}
	return string(b)
}

func lowerASCII(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

var (
	// credentialHeader is a credential header's name and value as an echo
	// quotes it: "Name: value", JSON ("Name": ["value"]), a Python dict.
	// The value may start with its scheme (Basic, Bearer, ...).
	credentialHeader = regexp.MustCompile(`(?i)\b(proxy-authorization|authorization|x-auth-token|x-subject-token)(["']?\s*[:=]\s*\[?\s*["']?)((?:basic|bearer|digest|negotiate|token)\s+)?(\[REDACTED\]|[^\s"',\]}]+)`)
	// basicPair is a basic-auth credential anywhere in text.
	basicPair = regexp.MustCompile(`\bBasic\s+([A-Za-z0-9+/]{4,}={0,2})`)
)

// redactCredentialHeaders masks credential header values and basic-auth
// pairs in s. A "Basic" word is a pair only when its base64 decodes to
// user:password, so prose ("Basic configuration") is left alone.
func redactCredentialHeaders(s string) string {
	if !strings.ContainsAny(s, ":=") && !strings.Contains(s, "Basic") {
		return s
	}
	s = credentialHeader.ReplaceAllStringFunc(s, func(m string) string {
		parts := credentialHeader.FindStringSubmatch(m)
		// Already masked, which the JSON-list bracket may have split off.
		if parts[4] == redacted || (strings.HasSuffix(parts[2], "[") && parts[4] == "REDACTED") {
			return m
		}
		return parts[1] + parts[2] + parts[3] + redacted
	})
	return basicPair.ReplaceAllStringFunc(s, func(m string) string {
		encoded := basicPair.FindStringSubmatch(m)[1]
		decoded, err := base64.StdEncoding.DecodeString(encoded)
		if err != nil || !bytes.Contains(decoded, []byte(":")) {
			return m
		}
		return "Basic " + redacted
	})
}

// OneLine collapses whitespace so the text fits in one log line and one
// status condition, and cuts it at limit bytes on a rune boundary, marking
// the cut with "…".
func OneLine(s string, limit int) string {
	limit = max(limit, 0)
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Join(strings.Fields(s), " ")
	if len(s) <= limit {
		return s
	}
	cut := limit
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// URL user info in free text. A password may hold "@" and ":", so it runs
// to the last "@" before the host; a user name alone (a token) may hold "@".
var (
	urlPassword = regexp.MustCompile(`([A-Za-z][A-Za-z0-9+.-]*://)([^/?#@\s"':]*):([^/?#\s"']*)@`)
	urlUserOnly = regexp.MustCompile(`([A-Za-z][A-Za-z0-9+.-]*://)([^/?#\s"':]+)@`)
)

// RedactURLs masks the credentials of every URL in s: the password the way
// url.URL.Redacted does ("user:xxxxx@"), and a user name without a password,
// which is then a token, whole ("xxxxx@"). The host, path and query stay
// readable.
func RedactURLs(s string) string {
	if !strings.Contains(s, "@") {
		return s
	}
	s = urlPassword.ReplaceAllString(s, "${1}${2}:xxxxx@")
	return urlUserOnly.ReplaceAllString(s, "${1}xxxxx@")
}

// RedactURL is RedactURLs for a single URL setting, or "(unparsable URL)"
// when raw does not parse, since then nothing tells its parts apart.
func RedactURL(raw string) string {
	if _, err := url.Parse(raw); err != nil {
		return "(unparsable URL)"
	}
	return RedactURLs(raw)
}
