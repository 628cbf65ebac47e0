package aescbc_test

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/multinic/multinic/contrabass/internal/aescbc"
)

const (
	key128 = "Test0nlyKey16chr"
	key192 = "test-only-key-24-bytes!!"
	key256 = "test-only-key-32-bytes-for-aes!!"
)

// The vectors were produced by the openssl CLI; testdata/contrabass/README.md
// lists the commands.
func TestDecryptOpenSSLVectors(t *testing.T) {
	tests := []struct {
		file, key, want string
	}{
		{"aes128.b64", key128, "Adm1n-Passw0rd!"},
		{"aes128-block-aligned.b64", key128, "exactly16bytes!!"},
		{"aes256.b64", key256, "pässwörd with symbols ©2026 & more than two blocks"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			encoded, err := os.ReadFile(filepath.Join("..", "..", "..", "testdata", "contrabass", tt.file))
			require.NoError(t, err)

			got, err := aescbc.Decrypt(tt.key, string(encoded))
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

// Encrypt must reproduce openssl byte for byte, or the fake would serve
// values the real service never would.
func TestEncryptMatchesOpenSSL(t *testing.T) {
	want, err := os.ReadFile(filepath.Join("..", "..", "..", "testdata", "contrabass", "aes128.b64"))
	require.NoError(t, err)
	iv := []byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}

	got, err := aescbc.Encrypt(key128, "Adm1n-Passw0rd!", iv)
	require.NoError(t, err)
	assert.Equal(t, strings.TrimSpace(string(want)), got)
}

func TestEncryptDecryptRoundTrip(t *testing.T) {
	for _, key := range []string{key128, key192, key256} {
		for _, plaintext := range []string{"", "p", "exactly16bytes!!", "암호 with ünïcode and more than one block"} {
			encoded, err := aescbc.Encrypt(key, plaintext, nil)
			require.NoError(t, err)
			got, err := aescbc.Decrypt(key, encoded)
			require.NoError(t, err, "key of %d bytes, plaintext %q", len(key), plaintext)
			assert.Equal(t, plaintext, got)
		}
	}
}

func TestEncryptRandomIVDiffers(t *testing.T) {
	first, err := aescbc.Encrypt(key128, "same", nil)
	require.NoError(t, err)
	second, err := aescbc.Encrypt(key128, "same", nil)
	require.NoError(t, err)
	assert.NotEqual(t, first, second, "a nil IV must draw a fresh random IV each time")
}

func TestEncryptErrors(t *testing.T) {
	_, err := aescbc.Encrypt("short", "secret", nil)
	assert.ErrorContains(t, err, "encrypt key must be 16, 24 or 32 bytes")

	_, err = aescbc.Encrypt(key128, "secret", []byte{1, 2, 3})
	assert.ErrorContains(t, err, "IV must be 16 bytes, got 3")
}

func TestDecryptErrors(t *testing.T) {
	const plaintext = "Adm1n-Passw0rd!"
	valid, err := aescbc.Encrypt(key128, plaintext, []byte("0123456789abcdef"))
	require.NoError(t, err)
	raw, err := base64.StdEncoding.DecodeString(valid)
	require.NoError(t, err)
	b64 := base64.StdEncoding.EncodeToString

	// Flipping a bit of the IV's last byte flips the same bit of the last
	// plaintext byte (the only block here), which is the padding byte.
	badPadding := append([]byte(nil), raw...)
	badPadding[15] ^= 0x10

	// The same key decrypts cleanly to bytes that are not UTF-8 when the IV's
	// first byte is altered to turn the plaintext's 'A' into 0xff.
	notUTF8 := append([]byte(nil), raw...)
	notUTF8[0] ^= 'A' ^ 0xff

	tests := []struct {
		name, key, encoded, wantErr string
	}{
		{"key too short", "0123456789", valid, "encrypt key must be 16, 24 or 32 bytes (AES-128/192/256), got 10 bytes"},
		{"key too long", key256 + "x", valid, "got 33 bytes"},
		{"empty key", "", valid, "got 0 bytes"},
		{"wrong key", "WrongKeyWrongKey", valid, "wrong encrypt key?"},
		{"not base64", key128, "not*base64!", "not valid standard base64"},
		{"url-safe base64", key128, strings.NewReplacer("+", "-", "/", "_").Replace(b64(append(raw, 0xfb, 0xff))), "not valid standard base64"},
		{"empty", key128, "", "need a 16-byte IV and at least one 16-byte block"},
		{"IV only", key128, b64(raw[:16]), "encrypted value is 16 bytes"},
		{"short", key128, b64(raw[:20]), "encrypted value is 20 bytes"},
		{"not a block multiple", key128, b64(append(append([]byte(nil), raw...), 1, 2, 3)), "ciphertext is 19 bytes, not a multiple"},
		{"bad padding", key128, b64(badPadding), "bad PKCS#7 padding"},
		{"not UTF-8", key128, b64(notUTF8), "not UTF-8 text"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := aescbc.Decrypt(tt.key, tt.encoded)
			require.Error(t, err)
			assert.Empty(t, got)
			assert.Contains(t, err.Error(), tt.wantErr)
			assert.NotContains(t, err.Error(), plaintext)
			if tt.key != "" {
				assert.NotContains(t, err.Error(), tt.key)
			}
			if tt.encoded != "" {
				assert.NotContains(t, err.Error(), tt.encoded)
			}
		})
	}
}

func TestDecryptToleratesSurroundingWhitespace(t *testing.T) {
	encoded, err := aescbc.Encrypt(key128, "pw", nil)
	require.NoError(t, err)
	got, err := aescbc.Decrypt(key128, " "+encoded+"\n")
	require.NoError(t, err)
	assert.Equal(t, "pw", got)
}

func FuzzDecrypt(f *testing.F) {
	valid, err := aescbc.Encrypt(key128, "seed", nil)
	require.NoError(f, err)
	f.Add(key128, valid)
	f.Add(key256, "")
	f.Add("", "AAAA")
	f.Add(key128, base64.StdEncoding.EncodeToString(make([]byte, 32)))
	f.Fuzz(func(t *testing.T, key, encoded string) {
		plaintext, err := aescbc.Decrypt(key, encoded)
		if err != nil {
			if plaintext != "" {
				t.Fatalf("Decrypt returned plaintext together with error %v", err)
			}
			return
		}
		// Whatever decrypts must encrypt back to something that decrypts the same.
		again, err := aescbc.Encrypt(key, plaintext, nil)
		if err != nil {
			t.Fatalf("Encrypt failed on a key Decrypt accepted: %v", err)
		}
		if got, err := aescbc.Decrypt(key, again); err != nil || got != plaintext {
			t.Fatalf("round trip changed %q into %q (err %v)", plaintext, got, err)
		}
	})
}
