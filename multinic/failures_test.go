package multinic_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/multinic/multinic/contrabass/contrabasstest"
	"github.com/multinic/multinic/multinic"
	"github.com/multinic/multinic/multinic/multinictest"
	"github.com/multinic/multinic/openstack/openstacktest"
)

// answers replaces the body of the requests whose path ends in a key, for
// the OpenStack shapes the fake never produces.
type answers map[string]string

func (a answers) RoundTrip(r *http.Request) (*http.Response, error) {
	for suffix, body := range a {
		if strings.HasSuffix(r.URL.Path, suffix) {
			return &http.Response{StatusCode: http.StatusOK, Header: http.Header{"Content-Type": {"application/json"}},
				Body: io.NopCloser(strings.NewReader(body)), Request: r}, nil
		}
	}
	return http.DefaultTransport.RoundTrip(r)
}

// panicking panics on requests whose path contains part.
type panicking string

func (p panicking) RoundTrip(r *http.Request) (*http.Response, error) {
	if strings.Contains(r.URL.Path, string(p)) {
		panic("nil map in " + string(p) + " " + multinictest.EncryptKey + " " + multinictest.AdminPassword)
	}
	return http.DefaultTransport.RoundTrip(r)
}

// A hung dependency ends the pass at PassTimeout with the reason of the step
// that hung, saying the deadline was the cause; nothing is posted after an
// upstream failure.
func TestSyncPassTimeout(t *testing.T) {
	tests := []struct {
		name   string
		hang   func(*multinictest.Env)
		reason multinic.Reason
	}{
		{"contrabass", func(e *multinictest.Env) { e.Contrabass.SetLatency(time.Hour) }, multinic.ReasonContrabass},
		// The fake cannot see a client give up on a POST whose body it has
		// not read, and Close waits for the handler: hang only for seconds.
		{"keystone", func(e *multinictest.Env) { e.OpenStack.SetLatency(openstacktest.RouteTokens, 3*time.Second) }, multinic.ReasonKeystone},
		{"neutron ports", func(e *multinictest.Env) { e.OpenStack.SetLatency(openstacktest.RoutePorts, time.Hour) }, multinic.ReasonNeutronPort},
		{"neutron networks", func(e *multinictest.Env) { e.OpenStack.SetLatency(openstacktest.RouteNetworks, time.Hour) }, multinic.ReasonNeutronSubnet},
		{"nova", func(e *multinictest.Env) { e.OpenStack.SetLatency(openstacktest.RouteServers, time.Hour) }, multinic.ReasonNova},
		{"viola", func(e *multinictest.Env) { e.Viola.SetLatency(time.Hour) }, multinic.ReasonViolaPost},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, sample := newEnv(t)
			tt.hang(env)
			cfg := env.Config(sample.VMIDs, sample.SubnetA)
			cfg.PassTimeout = 300 * time.Millisecond
			done := make(chan error, 1)
			go func() {
				_, err := multinic.Sync(context.Background(), cfg)
				done <- err
			}()
			var err error
			select {
			case err = <-done:
			case <-time.After(time.Minute): // the per-attempt timeout alone would take 2 minutes
				t.Fatal("the pass did not end at its deadline")
			}
			require.Error(t, err)
			assert.Equal(t, tt.reason, multinic.ReasonOf(err), err.Error())
			assert.Contains(t, err.Error(), "pass deadline exceeded (Config.PassTimeout 300ms)")
			var e *multinic.Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, multinic.KindDeadline, e.Kind)
			assert.Equal(t, multinic.SettingPassTimeout, e.Setting)
			assert.ErrorIs(t, err, context.DeadlineExceeded)
			if tt.reason != multinic.ReasonViolaPost {
				assert.Empty(t, env.Viola.Posts())
			}
		})
	}
}

func TestSyncRejectsNegativePassTimeout(t *testing.T) {
	env, sample := newEnv(t)
	cfg := env.Config(sample.VMIDs, sample.SubnetA)
	cfg.PassTimeout = -time.Second
	_, err := multinic.Sync(context.Background(), cfg)
	assert.Equal(t, multinic.ReasonConfig, multinic.ReasonOf(err))
}

// A panic anywhere in the pass, in any of its goroutines, fails the pass
// with InternalError instead of ending the process.
func TestSyncRecoversPanics(t *testing.T) {
	tests := []struct {
		name  string
		setup func(*multinic.Config)
	}{
		{"contrabass request", func(c *multinic.Config) {
			c.Contrabass.HTTPClient = &http.Client{Transport: panicking("/provider/")}
		}},
		{"neutron ports goroutine", func(c *multinic.Config) { c.OpenStack.Transport = panicking("/ports") }},
		{"neutron subnets goroutine", func(c *multinic.Config) { c.OpenStack.Transport = panicking("/subnets/") }},
		{"neutron networks goroutine", func(c *multinic.Config) { c.OpenStack.Transport = panicking("/networks") }},
		{"nova goroutine", func(c *multinic.Config) { c.OpenStack.Transport = panicking("/servers/") }},
		{"viola batch goroutine", func(c *multinic.Config) { c.Viola.HTTPClient = &http.Client{Transport: panicking("/node-configs")} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, sample := newEnv(t)
			cfg := env.Config(sample.VMIDs, sample.SubnetA)
			cfg.Contrabass.RetryMax, cfg.OpenStack.RetryMax, cfg.Viola.RetryMax = -1, -1, -1
			tt.setup(&cfg)
			_, err := multinic.Sync(context.Background(), cfg)
			require.Error(t, err)
			assert.Equal(t, multinic.ReasonInternal, multinic.ReasonOf(err), err.Error())
			assert.Contains(t, err.Error(), "recovered panic: nil map in ")
			assert.NotContains(t, err.Error(), "goroutine ", "the stack stays out of the message")
			assert.NotContains(t, err.Error(), multinictest.EncryptKey)
			if tt.name != "contrabass request" { // not decrypted yet, so not known to mask
				assert.NotContains(t, err.Error(), multinictest.AdminPassword)
			}
			var panicked *multinic.PanicError
			require.ErrorAs(t, err, &panicked)
			assert.Contains(t, string(panicked.Stack), "panicking.RoundTrip", "the stack is there for logs")
			assert.Empty(t, env.Viola.Posts())
		})
	}
}

// Answers without the objects the flow needs fail the pass with the
// dependency's reason: never a panic, never an empty success.
func TestSyncMalformedAnswers(t *testing.T) {
	vm1 := "00000000-0000-4000-8000-000000000001"
	tests := []struct {
		name    string
		answers answers
		vms     int
		reason  multinic.Reason
		want    string
	}{
		{"subnet {}", answers{"/subnets/subnet-a": `{}`}, 3, multinic.ReasonNeutronSubnet, `the answer has no "subnet" object`},
		{"subnet null", answers{"/subnets/subnet-a": `{"subnet":null}`}, 3, multinic.ReasonNeutronSubnet, `the answer has no "subnet" object`},
		// A pass with no memory of the subnets' networks lists the project's
		// networks; one that is not among them is read on its own.
		{"networks {}", answers{"/v2.0/networks": `{}`}, 3, multinic.ReasonNeutronSubnet, `the answer has no "networks" list`},
		{"networks null", answers{"/v2.0/networks": `{"networks":null}`}, 3, multinic.ReasonNeutronSubnet, `the answer has no "networks" list`},
		{"network without id", answers{"/v2.0/networks": `{"networks":[{"mtu":1450}]}`}, 3, multinic.ReasonNeutronSubnet, `networks[0] has no id`},
		{"network {}", answers{"/v2.0/networks": `{"networks":[]}`, "/networks/net-a": `{}`}, 3, multinic.ReasonNeutronSubnet, `the answer has no "network" object`},
		{"network null", answers{"/v2.0/networks": `{"networks":[]}`, "/networks/net-a": `{"network":null}`}, 3, multinic.ReasonNeutronSubnet, `the answer has no "network" object`},
		{"ports {}", answers{"/v2.0/ports": `{}`}, 3, multinic.ReasonNeutronPort, `the answer has no "ports" list`},
		{"port without device_id", answers{"/v2.0/ports": `{"ports":[{"id":"p","mac_address":"fa:16:3e:00:00:01"}]}`}, 3, multinic.ReasonNeutronPort, `has no device_id`},
		{"nova {}", answers{"/servers/" + vm1: `{}`}, 1, multinic.ReasonNova, `the answer has no "server" object`},
		{"server without name", answers{"/servers/" + vm1: `{"server":{"id":"` + vm1 + `"}}`}, 1, multinic.ReasonNova, `has no name`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, sample := newEnv(t)
			cfg := env.Config(sample.VMIDs[:tt.vms], sample.SubnetA)
			cfg.OpenStack.Transport = tt.answers
			_, err := multinic.Sync(context.Background(), cfg)
			require.Error(t, err)
			assert.Equal(t, tt.reason, multinic.ReasonOf(err), err.Error())
			assert.Contains(t, err.Error(), tt.want)
			assert.Empty(t, env.Viola.Posts())
		})
	}
}

func TestSyncEmptyPortListIsNotAnError(t *testing.T) {
	env, sample := newEnv(t)
	cfg := env.Config(sample.VMIDs, sample.SubnetA)
	cfg.OpenStack.Transport = answers{"/v2.0/ports": `{"ports":[]}`}
	res, err := multinic.Sync(context.Background(), cfg)
	require.NoError(t, err)
	assert.Len(t, res.Skipped, 3)
	assert.Empty(t, env.Viola.Posts())
}

// A dependency that cannot be reached names the setting holding its URL;
// an untrusted certificate names the TLS setting.
func TestSyncConnectionErrorsNameTheSetting(t *testing.T) {
	closedURL := func() string {
		s := httptest.NewServer(http.NotFoundHandler())
		s.Close()
		return s.URL
	}
	tests := []struct {
		name    string
		setup   func(*testing.T, *multinictest.Env, *multinic.Config)
		reason  multinic.Reason
		kind    multinic.Kind
		setting multinic.Setting
		want    string
	}{
		{"contrabass refused", func(_ *testing.T, _ *multinictest.Env, c *multinic.Config) { c.Contrabass.Endpoint = closedURL() },
			multinic.ReasonContrabass, multinic.KindUnreachable, multinic.SettingContrabassEndpoint, "(cannot connect: check Config.Contrabass.Endpoint)"},
		{"contrabass unknown host", func(_ *testing.T, _ *multinictest.Env, c *multinic.Config) {
			c.Contrabass.Endpoint = "http://contrabass.invalid"
		},
			multinic.ReasonContrabass, multinic.KindUnreachable, multinic.SettingContrabassEndpoint, "(cannot connect: check Config.Contrabass.Endpoint)"},
		{"contrabass self-signed", func(t *testing.T, _ *multinictest.Env, c *multinic.Config) {
			tlsContrabass := contrabasstest.NewTLSServer(multinictest.EncryptKey)
			t.Cleanup(tlsContrabass.Close)
			c.Contrabass.Endpoint = tlsContrabass.URL
		}, multinic.ReasonContrabass, multinic.KindUntrusted, multinic.SettingContrabassInsecureTLS,
			"(its TLS certificate is not trusted: trust its CA, or set Config.Contrabass.InsecureTLS to true)"},
		{"keystone self-signed", func(t *testing.T, e *multinictest.Env, _ *multinic.Config) {
			tlsCloud := openstacktest.NewTLSServer()
			t.Cleanup(tlsCloud.Close)
			e.Contrabass.AddProvider(multinictest.ProviderID, contrabasstest.ProviderSpec{AdminID: "admin", AdminPassword: multinictest.AdminPassword, Domain: "default", KeystoneURL: tlsCloud.URL})
		}, multinic.ReasonKeystone, multinic.KindUntrusted, multinic.SettingOpenStackInsecureTLS, "set Config.OpenStack.InsecureTLS to true)"},
		{"keystone refused", func(_ *testing.T, e *multinictest.Env, _ *multinic.Config) {
			e.Contrabass.AddProvider(multinictest.ProviderID, contrabasstest.ProviderSpec{AdminID: "admin", AdminPassword: multinictest.AdminPassword, Domain: "default", KeystoneURL: closedURL()})
		}, multinic.ReasonKeystone, multinic.KindUnreachable, "", "(cannot connect: check the Keystone URL of the Contrabass provider record (data.url))"},
		{"neutron override refused", func(_ *testing.T, _ *multinictest.Env, c *multinic.Config) { c.OpenStack.NeutronEndpoint = closedURL() },
			multinic.ReasonNeutronSubnet, multinic.KindUnreachable, multinic.SettingNeutronEndpoint, "(cannot connect: check Config.OpenStack.NeutronEndpoint)"}, // subnets are reported before ports
		{"nova override refused", func(_ *testing.T, _ *multinictest.Env, c *multinic.Config) { c.OpenStack.NovaEndpoint = closedURL() },
			multinic.ReasonNova, multinic.KindUnreachable, multinic.SettingNovaEndpoint, "(cannot connect: check Config.OpenStack.NovaEndpoint)"},
		{"viola refused", func(_ *testing.T, _ *multinictest.Env, c *multinic.Config) { c.Viola.Endpoint = closedURL() },
			multinic.ReasonViolaPost, multinic.KindUnreachable, multinic.SettingViolaEndpoint, "(cannot connect: check Config.Viola.Endpoint)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, sample := newEnv(t)
			cfg := env.Config(sample.VMIDs, sample.SubnetA)
			cfg.Contrabass.RetryMax, cfg.OpenStack.RetryMax, cfg.Viola.RetryMax = -1, -1, -1
			tt.setup(t, env, &cfg)
			_, err := multinic.Sync(context.Background(), cfg)
			require.Error(t, err)
			assert.Equal(t, tt.reason, multinic.ReasonOf(err), err.Error())
			assert.True(t, strings.HasSuffix(err.Error(), tt.want), err.Error())
			var e *multinic.Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, tt.kind, e.Kind, "the kind of failure, for callers that advise")
			assert.Equal(t, tt.setting, e.Setting, "the setting to change")
			assert.True(t, strings.HasSuffix(err.Error(), "("+e.Hint+")"), "Hint is the advice the message ends with: %q", e.Hint)
		})
	}
}

// Whatever a dependency answers, the error stays one bounded line.
func TestSyncErrorsAreBounded(t *testing.T) {
	env, sample := newEnv(t)
	huge := strings.Repeat("<p>Internal Server Error</p>\n", 4000)
	env.OpenStack.AddSubnet(openstacktest.Subnet{ID: "subnet-c", NetworkID: "net-a", CIDR: "10.30.0.0/24"})
	cfg := env.Config(sample.VMIDs, sample.SubnetA)
	cfg.OpenStack.RetryMax = -1
	cfg.OpenStack.Transport = statusAnswer{suffix: "/v2.0/ports", status: 500, body: huge}
	_, err := multinic.Sync(context.Background(), cfg)
	require.Error(t, err)
	assert.Equal(t, multinic.ReasonNeutronPort, multinic.ReasonOf(err))
	assert.Less(t, len(err.Error()), 2500, err.Error())
	assert.NotContains(t, err.Error(), "\n")
	assert.Contains(t, err.Error(), "HTTP 500 from GET ")
}

type statusAnswer struct {
	suffix, body string
	status       int
}

func (a statusAnswer) RoundTrip(r *http.Request) (*http.Response, error) {
	if strings.HasSuffix(r.URL.Path, a.suffix) {
		return &http.Response{StatusCode: a.status, Header: http.Header{}, Body: io.NopCloser(strings.NewReader(a.body)), Request: r}, nil
	}
	return http.DefaultTransport.RoundTrip(r)
}

func TestSubnetNotFoundListsTheProjectsSubnets(t *testing.T) {
	env, sample := newEnv(t)
	cfg := env.Config(sample.VMIDs)
	cfg.SubnetName = "biz-c-subnet"
	_, err := multinic.Sync(context.Background(), cfg)
	require.Error(t, err)
	assert.Equal(t, multinic.ReasonSubnetNotFound, multinic.ReasonOf(err))
	assert.Contains(t, err.Error(), `its subnets: "biz-a-subnet", "biz-b-subnet", "mgmt-subnet"`)
}
