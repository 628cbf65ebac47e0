package main

import (
	"bytes"
	"context"
	"io"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDemoOnce runs the demo end to end, as `DEMO_ONCE=1 make demo` does,
// and checks what it prints: the node configs the Biz cluster received, the
// CR's status and the inventory's answer.
func TestDemoOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two control planes")
	}
	var out bytes.Buffer
	err := run(context.Background(), &out, options{once: true, inventoryAddr: "127.0.0.1:0", logs: io.Discard})
	require.NoError(t, err, out.String())
	text := out.String()

	nodeLine := regexp.MustCompile(`(?m)^  (worker-\d) node=worker-\d instance=\S+ provider=provider-1: (.*)$`)
	got := map[string]string{}
	for _, m := range nodeLine.FindAllStringSubmatch(text, -1) {
		got[m[1]] = m[2]
	}
	assert.Equal(t, map[string]string{
		"worker-1": "multinic0 fa:16:3e:0a:00:01 10.10.0.11 (10.10.0.0/24) mtu 1450; multinic1 fa:16:3e:0b:00:01 10.20.0.11 (10.20.0.0/24) mtu 9000",
		"worker-2": "multinic0 fa:16:3e:0a:00:02 10.10.0.12 (10.10.0.0/24) mtu 1450; multinic1 fa:16:3e:0b:00:02 10.20.0.12 (10.20.0.0/24) mtu 9000",
		"worker-3": "multinic0 fa:16:3e:0a:00:03 10.10.0.13 (10.10.0.0/24) mtu 1450",
	}, got, "three MultiNicNodeConfig objects, management ports left out")
	// Synced, or NoChange when a second reconcile (the Secret's watch event)
	// came first; either way Ready.
	assert.Regexp(t, `(?m)^  Ready=True reason=(Synced|NoChange)`, text)
	assert.Contains(t, text, "downPortRetry: nodes=[worker-2]")
	assert.Contains(t, text, "  HTTP 200, 3 records")
	assert.Equal(t, 3, strings.Count(text, "providerId=provider-1 nodeName=worker-"))
}
