package retryhttp

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestMaskBeforeCut(t *testing.T) {
	msg := strings.Repeat("x", 15) + "hunter2hunter2 and hunter2"
	assert.Equal(t, strings.Repeat("x", 15)+"[REDACTED][REDACTED] and [REDACTED]", Mask(msg, "", "hunter2"))
	assert.NotContains(t, OneLine(Mask(msg, "hunter2"), 18), "hun", "masked first, no half secret survives the cut")
	assert.Equal(t, "plain", Mask("plain"))
}
