// Package aescbc is the cipher of Contrabass's encrypted fields: standard
// base64 of IV (16 bytes) || AES-CBC ciphertext with PKCS#7 padding, keyed
// by the UTF-8 bytes of the encrypt key. The client decrypts; only the
// Contrabass fake encrypts, which is why this package is internal.
package aescbc

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Errors from Decrypt and Encrypt deliberately carry neither the key, the
// encoded value nor any decrypted bytes: they end up in CR status and logs.

// ValidKeyLength reports whether an encrypt key of n bytes is one AES can
// use: 16, 24 or 32 bytes (AES-128, -192, -256).
func ValidKeyLength(n int) bool {
	switch n {
	case 16, 24, 32:
		return true
	}
	return false
}

func newBlock(key string) (cipher.Block, error) {
	if !ValidKeyLength(len(key)) {
		return nil, fmt.Errorf("encrypt key must be 16, 24 or 32 bytes (AES-128/192/256), got %d bytes", len(key))
	}
	return aes.NewCipher([]byte(key))
}

// Decrypt recovers a Contrabass-encrypted field: standard base64 of
// IV (16 bytes) || AES-CBC ciphertext with PKCS#7 padding, keyed by the UTF-8
// bytes of key.
func Decrypt(key, encoded string) (string, error) {
	block, err := newBlock(key)
	if err != nil {
		return "", err
	}
	// Values copied by hand into Secrets or YAML often pick up a trailing newline.
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(encoded))
	if err != nil {
		return "", errors.New("encrypted value is not valid standard base64")
	}
	if len(raw) < 2*aes.BlockSize {
		return "", fmt.Errorf("encrypted value is %d bytes, need a %d-byte IV and at least one %d-byte block", len(raw), aes.BlockSize, aes.BlockSize)
	}
	iv, ciphertext := raw[:aes.BlockSize], raw[aes.BlockSize:]
	if len(ciphertext)%aes.BlockSize != 0 {
		return "", fmt.Errorf("ciphertext is %d bytes, not a multiple of the %d-byte AES block", len(ciphertext), aes.BlockSize)
	}
	plain := make([]byte, len(ciphertext))
	cipher.NewCBCDecrypter(block, iv).CryptBlocks(plain, ciphertext)

	pad := int(plain[len(plain)-1])
	if pad == 0 || pad > aes.BlockSize || !bytes.Equal(plain[len(plain)-pad:], bytes.Repeat([]byte{byte(pad)}, pad)) {
		return "", errors.New("bad PKCS#7 padding after decryption (wrong encrypt key?)")
	}
	plain = plain[:len(plain)-pad]
	// A wrong key still yields valid-looking padding about once in 256 tries;
	// the garbage it decrypts to is then almost never UTF-8, while a real
	// password always is.
	if !utf8.Valid(plain) {
		return "", errors.New("decrypted value is not UTF-8 text (wrong encrypt key?)")
	}
	return string(plain), nil
}

// Encrypt is the inverse of Decrypt, what Contrabass does and its fake
// (contrabasstest) needs. A nil iv draws a random one; passing a fixed iv
// makes the output reproducible, which tests rely on.
func Encrypt(key, plaintext string, iv []byte) (string, error) {
	block, err := newBlock(key)
	if err != nil {
		return "", err
	}
	if iv == nil {
		iv = make([]byte, aes.BlockSize)
		if _, err := rand.Read(iv); err != nil {
			return "", fmt.Errorf("draw random IV: %w", err)
		}
	}
	if len(iv) != aes.BlockSize {
		return "", fmt.Errorf("IV must be %d bytes, got %d", aes.BlockSize, len(iv))
	}
	pad := aes.BlockSize - len(plaintext)%aes.BlockSize
	padded := append([]byte(plaintext), bytes.Repeat([]byte{byte(pad)}, pad)...)

	out := make([]byte, aes.BlockSize+len(padded))
	copy(out, iv)
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(out[aes.BlockSize:], padded)
	return base64.StdEncoding.EncodeToString(out), nil
}
