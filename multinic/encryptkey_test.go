package multinic_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/multinic/multinic/multinic"
	"github.com/multinic/multinic/multinic/multinictest"
)

func TestSyncEncryptKey(t *testing.T) {
	t.Run("surrounding whitespace is trimmed", func(t *testing.T) {
		env, sample := newEnv(t)
		cfg := env.Config(sample.VMIDs, sample.SubnetA)
		cfg.EncryptKey = " " + multinictest.EncryptKey + "\n"
		_, err := multinic.Sync(context.Background(), cfg)
		require.NoError(t, err)
	})
	for _, key := range []string{"short-key\n", strings.Repeat("k", 17), strings.Repeat("k", 33)} {
		t.Run(fmt.Sprintf("%d bytes", len(key)), func(t *testing.T) {
			env, sample := newEnv(t)
			cfg := env.Config(sample.VMIDs, sample.SubnetA)
			cfg.EncryptKey = key
			_, err := multinic.Sync(context.Background(), cfg)
			require.Error(t, err)
			assert.Equal(t, multinic.ReasonConfig, multinic.ReasonOf(err))
			assert.Contains(t, err.Error(), fmt.Sprintf("is %d bytes after trimming surrounding whitespace; AES needs 16, 24 or 32", len(strings.TrimSpace(key))))
			assert.Contains(t, err.Error(), "(from Config.EncryptKey)")
			var e *multinic.Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, multinic.SettingEncryptKey, e.Setting)
			assert.Equal(t, multinic.KindInvalid, e.Kind)
			assert.NotContains(t, err.Error(), strings.TrimSpace(key))
			assert.Zero(t, env.Contrabass.Requests(), "refused before any request")
		})
	}
}
