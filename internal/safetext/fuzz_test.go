package safetext

import (
	"strings"
	"testing"
)

// FuzzMask: whatever the text and the secret, no form of the secret is left
// in the masked text (outside the [REDACTED] markers, which may border on
// anything), and masking masked text again changes nothing.
func FuzzMask(f *testing.F) {
	for _, seed := range [][2]string{
		{`{"password":"p\"w"}`, `p"w`},
		{"Authorization: Basic b3BzOnB3", "pw"},
		{"x%2Fy and x%2fy", "x/y"},
		{`echo {\"a\":\"s\\u003cd\"}`, "s<d"},
		{"aaaaa", "aa"},
		{"[REDACTED]", "RED"},
	} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, text, secret string) {
		out := Mask(text, secret)
		segments := strings.Split(strings.ReplaceAll(out, redacted, "\x00"), "\x00")
		clean := true
		for _, form := range forms(secret) {
			if strings.Contains(form, "\x00") || strings.Contains(redacted, form) || strings.Contains(form, redacted) {
				clean = false
				continue
			}
			for _, seg := range segments {
				if strings.Contains(seg, form) {
					t.Fatalf("Mask(%q, %q) = %q keeps the form %q", text, secret, out, form)
				}
			}
		}
		if clean {
			if again := Mask(out, secret); again != out {
				t.Fatalf("Mask is not idempotent: %q, then %q", out, again)
			}
		}
	})
}
