package contrabass_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/multinic/multinic/contrabass"
	"github.com/multinic/multinic/contrabass/internal/aescbc"
)

const (
	key128 = "Test0nlyKey16chr"
	key256 = "test-only-key-32-bytes-for-aes!!"
)

func TestAdminPassword(t *testing.T) {
	encrypted, err := aescbc.Encrypt(key128, "s3cret", nil)
	require.NoError(t, err)
	provider := contrabass.Provider{Attributes: contrabass.Attributes{AdminPw: encrypted}}

	got, err := provider.AdminPassword(key128)
	require.NoError(t, err)
	assert.Equal(t, "s3cret", got)

	_, err = provider.AdminPassword("WrongKeyWrongKey")
	require.Error(t, err)
	assert.True(t, strings.HasPrefix(err.Error(), "decrypt adminPw: "), err.Error())
	assert.NotContains(t, err.Error(), "WrongKeyWrongKey")

	_, err = contrabass.Provider{}.AdminPassword(key128)
	assert.EqualError(t, err, "decrypt adminPw: provider has no adminPw")

	emptyPassword, err := aescbc.Encrypt(key128, "", nil)
	require.NoError(t, err)
	_, err = contrabass.Provider{Attributes: contrabass.Attributes{AdminPw: emptyPassword}}.AdminPassword(key128)
	assert.EqualError(t, err, "decrypt adminPw: decrypted password is empty")
}

func TestValidKeyLength(t *testing.T) {
	for n := range 40 {
		assert.Equal(t, n == 16 || n == 24 || n == 32, contrabass.ValidKeyLength(n), "%d bytes", n)
	}
}
