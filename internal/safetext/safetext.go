// Package safetext turns outside text (a dependency's answer, an error, a
// panic value, a URL) into text that may reach status, events, logs and
// command output: secrets masked, URL credentials redacted, one bounded
// line. Every layer uses it, so one rule holds everywhere.
package safetext

import (
	"net/url"
	"regexp"
	"strings"
	"unicode/utf8"
)

// Mask replaces every secret in s with [REDACTED]. Mask before cutting with
// OneLine: a cut can split a secret, and the half left would no longer match.
func Mask(s string, secrets ...string) string {
	for _, secret := range secrets {
		if secret != "" {
			s = strings.ReplaceAll(s, secret, "[REDACTED]")
		}
	}
	return s
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
