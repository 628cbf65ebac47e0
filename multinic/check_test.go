package multinic_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/multinic/multinic/contrabass/contrabasstest"
	"github.com/multinic/multinic/multinic"
	"github.com/multinic/multinic/multinic/multinictest"
	"github.com/multinic/multinic/openstack/openstacktest"
)

func runCheck(t *testing.T, cfg multinic.Config) ([]multinic.CheckStep, error) {
	t.Helper()
	var steps []multinic.CheckStep
	err := multinic.Check(context.Background(), cfg, func(st multinic.CheckStep) { steps = append(steps, st) })
	for _, st := range steps {
		text := fmt.Sprint(st.Details, st.Warnings)
		if st.Err != nil {
			text += st.Err.Error()
		}
		assert.NotContains(t, text, multinictest.AdminPassword, "step %s", st.Name)
		assert.NotContains(t, text, multinictest.EncryptKey, "step %s", st.Name)
	}
	return steps, err
}

func statuses(steps []multinic.CheckStep) map[string]multinic.CheckStatus {
	out := map[string]multinic.CheckStatus{}
	for _, st := range steps {
		out[st.Name] = st.Status
	}
	return out
}

func stepNamed(t *testing.T, steps []multinic.CheckStep, name string) multinic.CheckStep {
	t.Helper()
	for _, st := range steps {
		if st.Name == name {
			return st
		}
	}
	t.Fatalf("no step %q", name)
	return multinic.CheckStep{}
}

func TestCheckPassesOnTheSampleAndSendsNothing(t *testing.T) {
	env, sample := newEnv(t)
	steps, err := runCheck(t, env.Config(sample.VMIDs, sample.SubnetA, sample.SubnetB))
	require.NoError(t, err)
	var names []string
	for _, st := range steps {
		names = append(names, st.Name)
		assert.Equal(t, multinic.CheckPassed, st.Status, "%s: %v", st.Name, st.Err)
	}
	assert.Equal(t, []string{"contrabass", "decrypt", "keystone", "catalog", "subnets", "ports", "nova", "nodes", "viola"}, names)
	assert.Empty(t, env.Viola.Posts(), "the Viola step posts nothing")
	assert.Equal(t, []string{"subnet-a (biz-a-subnet) 10.10.0.0/24, network net-a, MTU 1450", "subnet-b (biz-b-subnet) 10.20.0.0/24, network net-b, MTU 9000"}, stepNamed(t, steps, "subnets").Details)
	ports := stepNamed(t, steps, "ports")
	assert.Contains(t, ports.Details, sample.VMIDs[1]+": 3 ports, 2 on target subnets (ACTIVE 1, DOWN 1), 2 selected")
	assert.Equal(t, []string{sample.VMIDs[1] + ": port " + sample.DownPort + " (fa:16:3e:0b:00:02) is DOWN and sent at once: if its NIC is not in the guest yet, the node agent's Job fails and is not retried (re-run the agent for the node)"}, ports.Warnings)
	assert.Contains(t, stepNamed(t, steps, "nova").Details, sample.VMIDs[0]+" → worker-1 (from Nova's OS-EXT-SRV-ATTR:hostname)")
	assert.Contains(t, stepNamed(t, steps, "nodes").Details, "worker-1: multinic0 10.10.0.11/24 mtu 1450, multinic1 10.20.0.11/24 mtu 9000")
	assert.Contains(t, stepNamed(t, steps, "viola").Details[0], "(plain HTTP)")

	// With a grace period the warning says the port is held; the nodes step
	// still lists every port a pass would configure.
	cfg := env.Config(sample.VMIDs, sample.SubnetA, sample.SubnetB)
	cfg.DownPortGracePeriod = 2 * time.Minute
	steps, err = runCheck(t, cfg)
	require.NoError(t, err)
	assert.Equal(t, []string{sample.VMIDs[1] + ": port " + sample.DownPort + " (fa:16:3e:0b:00:02) is DOWN: held back until it is ACTIVE, for at most 2m0s, then sent anyway (the node agent acts once per spec change and does not retry a Job that failed on a NIC not yet in the guest)"},
		stepNamed(t, steps, "ports").Warnings)
	assert.Contains(t, stepNamed(t, steps, "nodes").Details, "worker-2: multinic0 10.10.0.12/24 mtu 1450, multinic1 10.20.0.12/24 mtu 9000")
}

func TestCheckFailures(t *testing.T) {
	refused := func() string { // a port nothing listens on
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		addr := ln.Addr().String()
		require.NoError(t, ln.Close())
		return "http://" + addr
	}
	tests := []struct {
		name    string
		setup   func(env *multinictest.Env, sample multinictest.Sample, cfg *multinic.Config)
		failed  string // first failed step
		reason  multinic.Reason
		message string
		want    map[string]multinic.CheckStatus
	}{
		{
			name: "Contrabass refuses connections",
			setup: func(_ *multinictest.Env, _ multinictest.Sample, cfg *multinic.Config) {
				cfg.Contrabass.Endpoint = refused()
			},
			failed:  "contrabass",
			reason:  multinic.ReasonContrabass,
			message: "(cannot connect: check Config.Contrabass.Endpoint)",
			want:    map[string]multinic.CheckStatus{"decrypt": multinic.CheckSkipped, "nodes": multinic.CheckSkipped, "viola": multinic.CheckPassed},
		},
		{
			name: "Contrabass answers 500",
			setup: func(env *multinictest.Env, _ multinictest.Sample, _ *multinic.Config) {
				env.Contrabass.Fail(http.StatusInternalServerError, -1)
			},
			failed:  "contrabass",
			reason:  multinic.ReasonContrabass,
			message: "500",
		},
		{
			name: "wrong encrypt key",
			setup: func(_ *multinictest.Env, _ multinictest.Sample, cfg *multinic.Config) {
				cfg.EncryptKey = "0123456789abcdef"
			},
			failed:  "decrypt",
			reason:  multinic.ReasonContrabass,
			message: "decrypt adminPw",
			want:    map[string]multinic.CheckStatus{"contrabass": multinic.CheckPassed, "keystone": multinic.CheckSkipped, "viola": multinic.CheckPassed},
		},
		{
			name:    "key of the wrong length",
			setup:   func(_ *multinictest.Env, _ multinictest.Sample, cfg *multinic.Config) { cfg.EncryptKey = "short" },
			failed:  "config",
			reason:  multinic.ReasonConfig,
			message: "is 5 bytes",
		},
		{
			name: "Keystone refuses the token",
			setup: func(env *multinictest.Env, _ multinictest.Sample, _ *multinic.Config) {
				env.OpenStack.Fail(openstacktest.RouteTokens, http.StatusUnauthorized, -1)
			},
			failed:  "keystone",
			reason:  multinic.ReasonKeystone,
			message: "401",
		},
		{
			name: "no network in the catalog",
			setup: func(env *multinictest.Env, _ multinictest.Sample, _ *multinic.Config) {
				env.OpenStack.OmitFromCatalog("network")
			},
			failed:  "catalog",
			reason:  multinic.ReasonNeutronEndpoint,
			message: `no "network" endpoint with interface "public"`,
			want:    map[string]multinic.CheckStatus{"subnets": multinic.CheckSkipped, "ports": multinic.CheckSkipped, "nova": multinic.CheckPassed, "nodes": multinic.CheckSkipped},
		},
		{
			name: "subnet not found",
			setup: func(_ *multinictest.Env, _ multinictest.Sample, cfg *multinic.Config) {
				cfg.SubnetIDs, cfg.SubnetName = nil, "no-such-subnet"
			},
			failed:  "subnets",
			reason:  multinic.ReasonSubnetNotFound,
			message: `no subnet named "no-such-subnet"`,
			want:    map[string]multinic.CheckStatus{"ports": multinic.CheckSkipped, "nova": multinic.CheckPassed},
		},
		{
			name: "network without MTU",
			setup: func(env *multinictest.Env, _ multinictest.Sample, _ *multinic.Config) {
				env.OpenStack.AddNetwork(openstacktest.Network{ID: "net-b", Name: "biz-b", MTU: 9100})
			},
			failed:  "subnets",
			reason:  multinic.ReasonNeutronSubnet,
			message: "subnet subnet-b: network net-b reports MTU 9100, outside 68-9000",
			want:    map[string]multinic.CheckStatus{"ports": multinic.CheckPassed, "nodes": multinic.CheckPassed},
		},
		{
			name: "only DOWN ports, not allowed",
			setup: func(_ *multinictest.Env, _ multinictest.Sample, cfg *multinic.Config) {
				cfg.SubnetIDs = []string{"subnet-b"}
				cfg.PortAllowedStatuses = []string{"ACTIVE"}
			},
			failed:  "ports",
			reason:  multinic.ReasonNeutronPort,
			message: "its ports on target subnets are DOWN 1, none of them allowed by Config.PortAllowedStatuses (ACTIVE)",
		},
		{
			name: "Nova does not know a VM",
			setup: func(env *multinictest.Env, sample multinictest.Sample, _ *multinic.Config) {
				env.OpenStack.RemoveVM(sample.VMIDs[2])
			},
			failed:  "nova",
			reason:  multinic.ReasonNova,
			message: "VM 00000000-0000-4000-8000-000000000003 is unknown to Nova (it answered 404): deleted, or not a server of project project-1",
			want:    map[string]multinic.CheckStatus{"nodes": multinic.CheckPassed},
		},
		{
			name: "a name that is no node name",
			setup: func(env *multinictest.Env, sample multinictest.Sample, cfg *multinic.Config) {
				cfg.NodeNameMetadataKey = "k8s-node"
				env.OpenStack.UpdateVM(sample.VMIDs[0], func(v *openstacktest.VM) { v.Metadata = map[string]string{"k8s-node": "Worker_1"} })
			},
			failed:  "nova",
			reason:  multinic.ReasonNova,
			message: `node name "Worker_1" of VM 00000000-0000-4000-8000-000000000001 (Nova metadata "k8s-node") cannot be a Kubernetes node name`,
		},
		{
			name: "a subnet of subnetIDs is gone",
			setup: func(_ *multinictest.Env, _ multinictest.Sample, cfg *multinic.Config) {
				cfg.SubnetIDs = []string{"subnet-a", "subnet-gone"}
			},
			failed:  "subnets",
			reason:  multinic.ReasonSubnetNotFound,
			message: `neutron: no subnet with ID "subnet-gone" (Neutron answered 404; project "project-1": its subnets: "biz-a-subnet" (ID subnet-a), "biz-b-subnet" (ID subnet-b), "mgmt-subnet" (ID subnet-mgmt)): subnet not found; the other target subnets are still used`,
			want:    map[string]multinic.CheckStatus{"ports": multinic.CheckPassed, "nodes": multinic.CheckPassed},
		},
		{
			name: "the provider has an empty domain",
			setup: func(env *multinictest.Env, _ multinictest.Sample, _ *multinic.Config) {
				env.Contrabass.AddProvider(multinictest.ProviderID, contrabasstest.ProviderSpec{AdminID: "admin", AdminPassword: multinictest.AdminPassword, KeystoneURL: env.OpenStack.URL})
			},
			failed:  "contrabass",
			reason:  multinic.ReasonContrabass,
			message: `contrabass: provider "provider-1" has an empty data.attributes.domain (the admin user's Keystone domain)`,
			want:    map[string]multinic.CheckStatus{"keystone": multinic.CheckSkipped},
		},
		{
			name:    "Viola refuses connections",
			setup:   func(_ *multinictest.Env, _ multinictest.Sample, cfg *multinic.Config) { cfg.Viola.Endpoint = refused() },
			failed:  "viola",
			reason:  multinic.ReasonViola,
			message: "(cannot connect: check Config.Viola.Endpoint)",
			want:    map[string]multinic.CheckStatus{"nodes": multinic.CheckPassed},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, sample := newEnv(t)
			cfg := env.Config(sample.VMIDs, sample.SubnetA, sample.SubnetB)
			tt.setup(env, sample, &cfg)
			steps, err := runCheck(t, cfg)
			require.Error(t, err)
			assert.Equal(t, tt.reason, multinic.ReasonOf(err))
			assert.Contains(t, err.Error(), tt.message)
			first := ""
			for _, st := range steps {
				if st.Status == multinic.CheckFailed && first == "" {
					first = st.Name
					var got *multinic.Error
					require.ErrorAs(t, err, &got)
					assert.Same(t, st.Err, got, "the result is the first failed step's error")
				}
			}
			assert.Equal(t, tt.failed, first)
			got := statuses(steps)
			for name, want := range tt.want {
				assert.Equal(t, want, got[name], "step %s", name)
			}
			assert.Empty(t, env.Viola.Posts(), "check never posts")
		})
	}
}

// The Viola step posts nothing: it asks GET /healthz, and where Viola has
// none (404) it opens a connection, TLS handshake included. Whatever fails,
// the reason is ViolaError, never ViolaPostError.
func TestCheckViolaStep(t *testing.T) {
	env, sample := newEnv(t)
	var healthy atomic.Int32
	healthy.Store(http.StatusOK)
	withHealthz := http.NewServeMux()
	withHealthz.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(int(healthy.Load())) })
	withHealthz.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { t.Errorf("check sent %s %s", r.Method, r.URL.Path) })
	for _, tt := range []struct {
		name    string
		server  *httptest.Server
		details []string // with {{addr}} for the server's host:port
	}{
		{"plain HTTP with healthz", httptest.NewServer(withHealthz), []string{"GET http://{{addr}}/healthz answered 200 (plain HTTP)"}},
		{"TLS with healthz", httptest.NewTLSServer(withHealthz), []string{"GET https://{{addr}}/healthz answered 200; certificate verified"}},
		{"TLS without healthz", httptest.NewTLSServer(http.NotFoundHandler()),
			[]string{"no GET /healthz (it answered 404), so only the connection is checked", "TCP and TLS handshake with {{addr}}; certificate verified"}},
		{"plain HTTP without healthz", httptest.NewServer(http.NotFoundHandler()),
			[]string{"no GET /healthz (it answered 404), so only the connection is checked", "TCP connection to {{addr}} (plain HTTP)"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Cleanup(tt.server.Close)
			cfg := env.Config(sample.VMIDs, sample.SubnetA, sample.SubnetB)
			cfg.Viola.Endpoint = tt.server.URL
			cfg.Viola.HTTPClient = tt.server.Client() // trusts the test CA
			steps, err := runCheck(t, cfg)
			require.NoError(t, err)
			addr := tt.server.Listener.Addr().String()
			var want []string
			for _, d := range tt.details {
				want = append(want, strings.ReplaceAll(d, "{{addr}}", addr))
			}
			assert.Equal(t, want, stepNamed(t, steps, "viola").Details)
		})
	}

	t.Run("unhealthy", func(t *testing.T) {
		srv := httptest.NewServer(withHealthz)
		t.Cleanup(srv.Close)
		healthy.Store(http.StatusServiceUnavailable)
		t.Cleanup(func() { healthy.Store(http.StatusOK) })
		cfg := env.Config(sample.VMIDs, sample.SubnetA, sample.SubnetB)
		cfg.Viola.Endpoint = srv.URL
		_, err := runCheck(t, cfg)
		require.Error(t, err)
		assert.Equal(t, multinic.ReasonViola, multinic.ReasonOf(err))
		assert.Contains(t, err.Error(), "viola: GET /healthz answered 503")
	})

	t.Run("untrusted certificate", func(t *testing.T) {
		srv := httptest.NewTLSServer(http.NotFoundHandler())
		t.Cleanup(srv.Close)
		cfg := env.Config(sample.VMIDs, sample.SubnetA, sample.SubnetB)
		cfg.Viola.Endpoint = srv.URL
		steps, err := runCheck(t, cfg)
		require.Error(t, err)
		assert.Equal(t, multinic.ReasonViola, multinic.ReasonOf(err))
		assert.Equal(t, multinic.KindUntrusted, kindOf(err))
		assert.Contains(t, err.Error(), "its TLS certificate is not trusted: trust its CA, or set Config.Viola.InsecureTLS to true")
		assert.Equal(t, multinic.CheckFailed, stepNamed(t, steps, "viola").Status)

		cfg.Viola.InsecureTLS = true
		steps, err = runCheck(t, cfg)
		require.NoError(t, err)
		assert.Contains(t, stepNamed(t, steps, "viola").Details[1], "certificate NOT verified")
	})

	// An https:// URL on a plain-HTTP server says so, in check and in a pass.
	t.Run("https URL on a plain HTTP server", func(t *testing.T) {
		srv := httptest.NewServer(withHealthz)
		t.Cleanup(srv.Close)
		cfg := env.Config(sample.VMIDs, sample.SubnetA, sample.SubnetB)
		cfg.Viola.Endpoint = strings.Replace(srv.URL, "http://", "https://", 1)
		cfg.Viola.RetryMax = -1
		_, err := runCheck(t, cfg)
		require.Error(t, err)
		assert.Equal(t, multinic.KindPlainHTTP, kindOf(err))
		assert.Contains(t, err.Error(), "(an https:// URL, but the server speaks plain HTTP: use http:// in Config.Viola.Endpoint, or enable TLS on the server)")

		_, err = multinic.Sync(context.Background(), cfg)
		require.Error(t, err)
		assert.Equal(t, multinic.ReasonViolaPost, multinic.ReasonOf(err), "a pass that tried to post")
		assert.Equal(t, multinic.KindPlainHTTP, kindOf(err))
	})
}

func kindOf(err error) multinic.Kind {
	var e *multinic.Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return ""
}

// A config problem skips only the steps that need the setting at fault;
// the others still run, so one check shows every independent problem.
func TestCheckGoesOnPastABadSetting(t *testing.T) {
	for _, tt := range []struct {
		name    string
		setup   func(*multinic.Config)
		setting multinic.Setting
		skipped map[string]string // step → what it lacks
		passed  []string
	}{
		{
			name:    "no Viola endpoint",
			setup:   func(c *multinic.Config) { c.Viola.Endpoint = "" },
			setting: multinic.SettingViolaEndpoint,
			skipped: map[string]string{"viola": "a usable Viola endpoint"},
			passed:  []string{"contrabass", "decrypt", "keystone", "catalog", "subnets", "ports", "nova", "nodes"},
		},
		{
			name:    "no encrypt key",
			setup:   func(c *multinic.Config) { c.EncryptKey = "" },
			setting: multinic.SettingEncryptKey,
			skipped: map[string]string{"decrypt": "a usable encrypt key", "keystone": "the admin password (decrypt step)", "nodes": "the ports (ports step)"},
			passed:  []string{"contrabass", "viola"},
		},
		{
			name:    "no subnet selector",
			setup:   func(c *multinic.Config) { c.SubnetIDs = nil },
			setting: multinic.SettingSubnetIDs,
			skipped: map[string]string{"subnets": "a usable subnet selector", "ports": "the target subnets (subnets step)"},
			passed:  []string{"contrabass", "decrypt", "keystone", "catalog", "nova", "viola"},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			env, sample := newEnv(t)
			cfg := env.Config(sample.VMIDs, sample.SubnetA, sample.SubnetB)
			tt.setup(&cfg)
			steps, err := runCheck(t, cfg)
			require.Error(t, err)
			config := stepNamed(t, steps, "config")
			assert.Equal(t, multinic.CheckFailed, config.Status)
			var got *multinic.Error
			require.ErrorAs(t, err, &got)
			assert.Same(t, config.Err, got, "the config step is the first failure")
			assert.Equal(t, tt.setting, config.Err.Setting)
			for name, lacks := range tt.skipped {
				st := stepNamed(t, steps, name)
				assert.Equal(t, multinic.CheckSkipped, st.Status, name)
				assert.Equal(t, []string{"skipped: needs " + lacks}, st.Details, name)
			}
			for _, name := range tt.passed {
				assert.Equal(t, multinic.CheckPassed, stepNamed(t, steps, name).Status, name)
			}
		})
	}
}

// A name the agent serves only in part is a warning of the nova step, not a
// failure: the node is sent as it is.
func TestCheckWarnsOfDottedNodeNames(t *testing.T) {
	env, sample := newEnv(t)
	env.OpenStack.UpdateVM(sample.VMIDs[0], func(v *openstacktest.VM) { v.Hostname = "worker-1.biz.example" })
	steps, err := runCheck(t, env.Config(sample.VMIDs, sample.SubnetA))
	require.NoError(t, err)
	nova := stepNamed(t, steps, "nova")
	assert.Contains(t, nova.Details, sample.VMIDs[0]+" → worker-1.biz.example (from Nova's OS-EXT-SRV-ATTR:hostname; server name \"worker-1\")")
	require.Len(t, nova.Warnings, 1)
	assert.Contains(t, nova.Warnings[0], `VM `+sample.VMIDs[0]+`: node name "worker-1.biz.example" has a dot`)
	assert.True(t, strings.HasSuffix(nova.Warnings[0], "; it is sent"))
	assert.Empty(t, stepNamed(t, steps, "nodes").Warnings, "said once")
}
