package contrabass

import "github.com/multinic/multinic/contrabass/internal/aescbc"

// Errors from Decrypt deliberately carry neither the key, the encoded value
// nor any decrypted bytes: they end up in CR status and logs.

// ValidKeyLength reports whether an encrypt key of n bytes is one AES can
// use: 16, 24 or 32 bytes (AES-128, -192, -256). Callers that take a key
// from a person check it with this before any request, so a wrong length
// is reported as the setting's fault rather than as a failed decryption.
func ValidKeyLength(n int) bool { return aescbc.ValidKeyLength(n) }

// Decrypt recovers a Contrabass-encrypted field: standard base64 of
// IV (16 bytes) || AES-CBC ciphertext with PKCS#7 padding, keyed by the UTF-8
// bytes of key. Surrounding white space around encoded is ignored.
func Decrypt(key, encoded string) (string, error) { return aescbc.Decrypt(key, encoded) }
