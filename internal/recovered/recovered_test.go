package recovered

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCall(t *testing.T) {
	boom := errors.New("boom")
	assert.Same(t, boom, Call(func() error { return boom }))
	assert.NoError(t, Call(func() error { return nil }))

	err := Call(func() error {
		var m map[string]int
		m["x"]++ //nolint:staticcheck // SA5000 is the point: a real runtime panic
		return nil
	})
	var panicked *PanicError
	require.ErrorAs(t, err, &panicked)
	assert.Equal(t, "recovered panic: assignment to entry in nil map", err.Error())
	assert.Contains(t, string(panicked.Stack), "recovered.TestCall")

	err = Call(func() error { panic(strings.Repeat("long\nvalue ", 100)) })
	require.ErrorAs(t, err, &panicked)
	assert.LessOrEqual(t, len(panicked.Value), maxValueBytes+len("…"))
	assert.NotContains(t, err.Error(), "\n")
}
