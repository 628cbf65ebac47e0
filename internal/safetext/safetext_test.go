package safetext_test

import (
	"encoding/base64"
	stdjson "encoding/json"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/multinic/multinic/internal/safetext"
)

func TestMaskBeforeCut(t *testing.T) {
	msg := strings.Repeat("x", 15) + "hunter2hunter2 and hunter2"
	assert.Equal(t, strings.Repeat("x", 15)+"[REDACTED][REDACTED] and [REDACTED]", safetext.Mask(msg, "", "hunter2"))
	assert.NotContains(t, safetext.OneLine(safetext.Mask(msg, "hunter2"), 18), "hun", "masked first, no half secret survives the cut")
	assert.Equal(t, "plain", safetext.Mask("plain"))
}

func TestOneLine(t *testing.T) {
	assert.Equal(t, "DB down", safetext.OneLine("  DB\r\n down ", 200))
	assert.Empty(t, safetext.OneLine("\n\t", 200))
	assert.Equal(t, "abc…", safetext.OneLine("abcdef", 3))
	assert.Equal(t, "日…", safetext.OneLine("日本語", 4), "a three-byte rune is not split")
	assert.Equal(t, "…", safetext.OneLine("abc", 0))
	assert.Equal(t, "…", safetext.OneLine("abc", -1), "a negative limit does not panic")
	assert.Equal(t, "a\uFFFDb", safetext.OneLine("a\xffb", 10), "invalid UTF-8 is replaced, not passed on")
}

func TestRedactURLs(t *testing.T) {
	for in, want := range map[string]string{
		`Get "http://user:pw@host/x": EOF`:              `Get "http://user:xxxxx@host/x": EOF`,
		"https://a:b@h1/ and https://c:d@h2:8080/p?q=1": "https://a:xxxxx@h1/ and https://c:xxxxx@h2:8080/p?q=1",
		"http://user:p@ss@host/":                        "http://user:xxxxx@host/",
		"post https://u:p@ss@h/x: 500":                  "post https://u:xxxxx@h/x: 500",
		"http://user:pa:ss@host":                        "http://user:xxxxx@host",
		"http://user:***@host/x":                        "http://user:xxxxx@host/x",
		`endpoint "http://tok@h", other "http://h"`:     `endpoint "http://xxxxx@h", other "http://h"`,
		"http://to@ken@host/x":                          "http://xxxxx@host/x",
		"http://host:8080/x@y":                          "http://host:8080/x@y",
		"no url here: a:b@c":                            "no url here: a:b@c",
		"mail admin@example.com":                        "mail admin@example.com",
		"http://host/path?mail=a:b@c":                   "http://host/path?mail=a:b@c",
		"http://host/path?mail=a@b":                     "http://host/path?mail=a@b",
		"no url here":                                   "no url here",
	} {
		assert.Equal(t, want, safetext.RedactURLs(in), in)
	}
}

func TestRedactURL(t *testing.T) {
	assert.Equal(t, "https://ops:xxxxx@viola:8443/v1", safetext.RedactURL("https://ops:s3cret@viola:8443/v1"))
	assert.Equal(t, "http://xxxxx@viola", safetext.RedactURL("http://token@viola"))
	assert.Equal(t, "http://viola:8080", safetext.RedactURL("http://viola:8080"))
	assert.Equal(t, "(unparsable URL)", safetext.RedactURL("http://user:pw@host\n:80"))
}

// hardPassword has every character that some encoding changes: JSON
// escapes the quote, backslash and (Go) <, > and &; URLs escape nearly all
// of it; Python's json writes é and the emoji as \u escapes.
const hardPassword = `p"a\ss/w<0>r&d +é🙂%`

func TestMaskCoversTheFormsASecretTakes(t *testing.T) {
	json, _ := jsonString(hardPassword, false)
	jsonHTML, _ := jsonString(hardPassword, true)
	for name, form := range map[string]string{
		"raw":                 hardPassword,
		"JSON (Go, escaped)":  jsonHTML,
		"JSON (no HTML)":      json,
		"JSON (ASCII only)":   `p\"a\\ss/w<0>r&d +\u00e9\ud83d\ude42%`,
		"JSON (slash escape)": `p\"a\\ss\/w<0>r&d +\u00e9\ud83d\ude42%`,
		"URL query":           url.QueryEscape(hardPassword),
		"URL path":            url.PathEscape(hardPassword),
		"URL, lower-case hex": strings.ToLower(url.QueryEscape(hardPassword)),
		"base64":              base64.StdEncoding.EncodeToString([]byte(hardPassword)),
		"base64url":           base64.RawURLEncoding.EncodeToString([]byte(hardPassword)),
	} {
		text := `{"error":{"message":"bad request: ` + form + ` was refused"}}`
		masked := safetext.Mask(text, hardPassword)
		assert.NotContains(t, masked, form, name)
		assert.Contains(t, masked, "[REDACTED]", name)
		assert.Contains(t, masked, "was refused", name)
	}
}

func TestMaskRedactsCredentialHeadersAndBasicPairs(t *testing.T) {
	pair := base64.StdEncoding.EncodeToString([]byte("ops:" + hardPassword))
	for _, text := range []string{
		"Authorization: Basic " + pair,
		`{"headers":{"Authorization":["Basic ` + pair + `"]}}`,
		`{'authorization': 'Bearer gAAAAABtoken-123'}`,
		"X-Auth-Token: gAAAAABtoken-123\r\nHost: neutron",
		`"X-Subject-Token": "gAAAAABtoken-123"`,
		"Proxy-Authorization: Basic " + pair,
		"echo of Basic " + pair + " ends",
	} {
		masked := safetext.Mask(text)
		assert.NotContains(t, masked, pair, text)
		assert.NotContains(t, masked, "gAAAAABtoken-123", text)
		assert.Contains(t, masked, "[REDACTED]", text)
	}
	assert.Equal(t, "Basic configuration is fine", safetext.Mask("Basic configuration is fine"), "words are not credentials")
	assert.Equal(t, "an Authorization header is needed", safetext.Mask("an Authorization header is needed"))
	assert.Equal(t, pair, safetext.BasicAuth("ops", hardPassword))
	assert.NotContains(t, safetext.Mask("quoted "+pair, safetext.BasicAuth("ops", hardPassword)), pair, "the pair as a secret, without its scheme")
}

func jsonString(s string, escapeHTML bool) (string, error) {
	var buf strings.Builder
	enc := stdjson.NewEncoder(&buf)
	enc.SetEscapeHTML(escapeHTML)
	if err := enc.Encode(s); err != nil {
		return "", err
	}
	out := strings.TrimSpace(buf.String())
	return out[1 : len(out)-1], nil
}

func TestMaskIsIdempotentAndCoversDoubleEscapes(t *testing.T) {
	pair := base64.StdEncoding.EncodeToString([]byte("ops:" + hardPassword))
	once := safetext.Mask("Authorization: Basic "+pair+" X-Auth-Token: tok "+hardPassword, hardPassword)
	assert.Equal(t, once, safetext.Mask(once, hardPassword), "masking masked text changes nothing")

	inner, _ := jsonString(hardPassword, true)
	twice, _ := jsonString(`{"password":"`+inner+`"}`, true)
	masked := safetext.Mask(`{"error":{"body":"`+twice+`"}}`, hardPassword)
	assert.NotContains(t, masked, "w\\\\u003c0", "the password escaped twice, as a JSON answer quoting a JSON request has it")
	assert.Contains(t, masked, "[REDACTED]")
}
