package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/multinic/multinic/viola"
)

func TestRunOnFakes(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, run(context.Background(), nil, func(string) string { return "" }, &out))
	head, body, ok := strings.Cut(out.String(), "\n")
	require.True(t, ok)
	assert.Contains(t, head, "in-process fakes")
	summary, nodesJSON, _ := strings.Cut(body, "\n")
	assert.Equal(t, "sent 3 node configs, 0 unchanged, 0 VMs skipped, 1 DOWN ports", summary)
	var nodes []viola.NodeConfig
	require.NoError(t, json.Unmarshal([]byte(nodesJSON), &nodes))
	require.Len(t, nodes, 3)
	assert.Equal(t, "worker-1", nodes[0].NodeName)
	assert.Len(t, nodes[0].Interfaces, 2)
}

func TestRunAgainstRealServicesNeedsSettings(t *testing.T) {
	var out bytes.Buffer
	err := run(context.Background(), []string{"-contrabass", "http://127.0.0.1:1"}, func(string) string { return "" }, &out)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "ConfigError: -provider is required")
	assert.Contains(t, err.Error(), "-vm must list at least one VM ID", "the library's errors name this command's flags")
}
