package retryhttp

import "strings"

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
