package viola_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/multinic/multinic/viola"
)

// The node agent renumbers an interface without name and skips one without
// mtu, so these keys go out even when their value is zero.
func TestInterfaceJSONAlwaysCarriesTheAgentsFields(t *testing.T) {
	raw, err := json.Marshal(viola.Interface{})
	require.NoError(t, err)
	var got map[string]any
	require.NoError(t, json.Unmarshal(raw, &got))
	for _, key := range []string{"id", "name", "macAddress", "address", "cidr", "mtu"} {
		assert.Contains(t, got, key, string(raw))
	}
	assert.NotContains(t, got, "portId", "portId is an optional extra")
	assert.Equal(t, 0.0, got["id"])
}

func TestNodeNames(t *testing.T) {
	tests := []struct {
		raw, normalized string
		wantErr         string // "" when the normalized name is valid
	}{
		{"Worker-1", "worker-1", ""},
		{" worker-1 ", "worker-1", ""},
		{"worker-1\n", "worker-1", ""},
		{"node.example.com", "node.example.com", ""},
		{"NODE.Example.COM", "node.example.com", ""},
		{"worker_1", "worker_1", "not a lower-case RFC 1123 subdomain"},
		{"a..b", "a..b", "not a lower-case RFC 1123 subdomain"},
		{"-worker", "-worker", "not a lower-case RFC 1123 subdomain"},
		{"worker.", "worker.", "not a lower-case RFC 1123 subdomain"},
		{"wörker", "wörker", "not a lower-case RFC 1123 subdomain"},
		{"   ", "", "is empty"},
		{"", "", "is empty"},
		{strings.Repeat("a", 63) + "." + strings.Repeat("b", 189), strings.Repeat("a", 63) + "." + strings.Repeat("b", 189), ""},
		{strings.Repeat("a.", 126) + "ab", strings.Repeat("a.", 126) + "ab", "is 254 characters long, at most 253 allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.raw, func(t *testing.T) {
			got := viola.NormalizeNodeName(tt.raw)
			assert.Equal(t, tt.normalized, got)
			err := viola.CheckNodeName(got)
			if tt.wantErr == "" {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
		})
	}
}

func TestValidatePayload(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func(*viola.NodeConfig)
		wantErr string
	}{
		{"valid", func(*viola.NodeConfig) {}, ""},
		{"schema errors come first", func(c *viola.NodeConfig) { c.Interfaces[0].MACAddress = "nope" }, `interfaces[0].macAddress "nope"`},
		{"upper-case node name", func(c *viola.NodeConfig) { c.NodeName = "Worker-0" }, `nodeName: "Worker-0" is not a lower-case RFC 1123 subdomain`},
		{"missing mtu", func(c *viola.NodeConfig) { c.Interfaces[1].MTU = 0 }, "interfaces[1].mtu is required (68-9000)"},
		{"mtu above 9000", func(c *viola.NodeConfig) { c.Interfaces[1].MTU = 9100 }, "interfaces[1].mtu 9100 is outside 68-9000"},
		{"missing name", func(c *viola.NodeConfig) { c.Interfaces[0].Name = "" }, `interfaces[0].name is required ("multinic0" for id 0): without it the node agent renumbers the interfaces`},
		{"name not matching id", func(c *viola.NodeConfig) { c.Interfaces[1].Name = "multinic0" }, `interfaces[1].name "multinic0" must be "multinic1"`},
		{"id beyond multinic9", func(c *viola.NodeConfig) { c.Interfaces[1].ID, c.Interfaces[1].Name = 10, "multinic10" }, "interfaces[1].id 10 is beyond multinic9"},
		{"missing address", func(c *viola.NodeConfig) { c.Interfaces[0].Address = "" }, `interfaces[0].address "" is not an IP address`},
		{"bad cidr", func(c *viola.NodeConfig) { c.Interfaces[0].CIDR = "10.0.0.0" }, `interfaces[0].cidr "10.0.0.0" is not a CIDR`},
		{"address outside cidr", func(c *viola.NodeConfig) { c.Interfaces[0].Address = "10.9.0.1" }, "interfaces[0].address 10.9.0.1 is outside cidr 10.0.0.0/24"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := nodeConfig(0)
			tt.mutate(&c)
			err := c.ValidatePayload()
			if tt.wantErr == "" {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), `node config "`+c.NodeName+`": `)
			assert.Contains(t, err.Error(), tt.wantErr)
			assert.NotContains(t, err.Error(), "\n", "one log line")
		})
	}
}

// TestValidateReceived: what Viola refuses is what the agent cannot act on;
// the rest of ValidatePayload is multinic's own promise, not Viola's rule.
func TestValidateReceived(t *testing.T) {
	lenient := nodeConfig(0)
	lenient.Interfaces[0].Address, lenient.Interfaces[0].CIDR = "", ""
	lenient.Interfaces[1].ID, lenient.Interfaces[1].Name = 12, "multinic12"
	assert.NoError(t, lenient.ValidateReceived(), "no address and an id beyond 9 are the schema's to allow")
	assert.Error(t, lenient.ValidatePayload(), "multinic never sends them")

	for name, mutate := range map[string]func(*viola.NodeConfig){
		"schema":         func(c *viola.NodeConfig) { c.Interfaces[0].MACAddress = "nope" },
		"node name":      func(c *viola.NodeConfig) { c.NodeName = "Worker_0" },
		"interface name": func(c *viola.NodeConfig) { c.Interfaces[1].Name = "eth1" },
		"no name":        func(c *viola.NodeConfig) { c.Interfaces[1].Name = "" },
		"no mtu":         func(c *viola.NodeConfig) { c.Interfaces[1].MTU = 0 },
	} {
		c := nodeConfig(0)
		mutate(&c)
		assert.Error(t, c.ValidateReceived(), name)
		assert.Error(t, c.ValidatePayload(), name+": what Viola refuses is never sent")
	}
}

// The node agent's limits on a payload (SPEC §7): a Job name within 63
// characters, IPv4 routing. ValidateReceived stays with the schema's rules.
func TestPayloadKeepsToTheAgentsLimits(t *testing.T) {
	node := func(name, address string) viola.NodeConfig {
		return viola.NodeConfig{NodeName: name, InstanceID: "vm", Interfaces: []viola.Interface{
			{ID: 0, Name: "multinic0", MACAddress: "fa:16:3e:00:00:01", Address: address, CIDR: "10.0.0.0/24", MTU: 1450}}}
	}
	name42 := strings.Repeat("a", 42)
	require.NoError(t, node(name42, "10.0.0.5").ValidatePayload())
	err := node(name42+"b", "10.0.0.5").ValidatePayload()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "is 43 characters long: the node agent names its Job multinic-agent-<node>-g<generation>, which must stay within 63 characters, so at most 42 are allowed")
	assert.NoError(t, node(name42+"b", "10.0.0.5").ValidateReceived(), "Viola itself accepts it; only we know the agent")

	v6 := node("worker-1", "fd00::5")
	v6.Interfaces[0].CIDR = "fd00::/64"
	err = v6.ValidatePayload()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "interfaces[0].address fd00::5 is IPv6: the node agent's routing is IPv4-only")
	assert.False(t, viola.IsIPv6("::ffff:10.0.0.5"), "an IPv4-mapped address is IPv4")
	assert.False(t, viola.IsIPv6("not an address"))
}

func TestAgentNodeNameWarnings(t *testing.T) {
	assert.Empty(t, viola.AgentNodeNameWarnings("worker-1"))
	assert.Empty(t, viola.AgentNodeNameWarnings(strings.Repeat("a", 40)))
	dotted := viola.AgentNodeNameWarnings("node.example.com")
	require.Len(t, dotted, 1)
	assert.Contains(t, dotted[0], `looks its config up as "node" (its host name cut at the first '.')`)
	long := viola.AgentNodeNameWarnings(strings.Repeat("a", 41))
	require.Len(t, long, 1)
	assert.Contains(t, long[0], "cleanup Job multinic-agent-cleanup-<node> would pass 63 characters")
	assert.Empty(t, viola.AgentNodeNameWarnings(strings.Repeat("a", 43)), "too long to be sent at all: CheckAgentNodeName's")
}
