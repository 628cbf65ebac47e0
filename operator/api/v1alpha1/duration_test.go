package v1alpha1_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/multinic/multinic/operator/api/v1alpha1"
)

// Decoding a stored CR never fails on a duration, whatever was stored: one
// bad value must not fail the list of every CR (issue 10.2). The operator
// parses the text and names the field instead.
func TestDurationDecodesAnyStoredValue(t *testing.T) {
	for stored, want := range map[string]v1alpha1.Duration{
		`"9999999999h"`: "9999999999h",
		`"20s"`:         "20s",
		`""`:            "",
		`20`:            "20",
		`{"a":1}`:       `{"a":1}`,
		`null`:          "", // unset: the default applies
	} {
		var s v1alpha1.Settings
		require.NoError(t, json.Unmarshal([]byte(`{"pollFastInterval":`+stored+`}`), &s), stored)
		assert.Equal(t, want, s.PollFastInterval, stored)
	}
	out, err := json.Marshal(v1alpha1.Settings{ContrabassEndpoint: "http://c", PollFastInterval: "9999999999h"})
	require.NoError(t, err)
	assert.JSONEq(t, `{"contrabassEndpoint":"http://c","pollFastInterval":"9999999999h"}`, string(out), "written back unchanged")
}
