package multinic_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/multinic/multinic/contrabass/contrabasstest"
	"github.com/multinic/multinic/internal/fault"
	"github.com/multinic/multinic/multinic"
	"github.com/multinic/multinic/multinic/multinictest"
	"github.com/multinic/multinic/openstack/openstacktest"
)

// gatedContrabass fronts the Contrabass fake. Once armed, it holds each
// provider request until OpenStack has been asked for ports since it was
// armed (or a generous deadline passes), and records whether it had: a pass
// that waits for Contrabass before reading OpenStack never lets it.
type gatedContrabass struct {
	*httptest.Server
	armed       atomic.Bool
	portsBefore atomic.Int64
	overlapped  atomic.Int32
	held        atomic.Int32
}

func (g *gatedContrabass) arm(env *multinictest.Env) {
	g.portsBefore.Store(int64(env.OpenStack.Requests(openstacktest.RoutePorts)))
	g.armed.Store(true)
}

func gateContrabass(t *testing.T, env *multinictest.Env) *gatedContrabass {
	t.Helper()
	target, err := url.Parse(env.Contrabass.URL)
	require.NoError(t, err)
	proxy := httputil.NewSingleHostReverseProxy(target)
	g := &gatedContrabass{}
	g.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !g.armed.Load() {
			proxy.ServeHTTP(w, r)
			return
		}
		g.held.Add(1)
		before := int(g.portsBefore.Load())
		deadline := time.Now().Add(10 * time.Second)
		for env.OpenStack.Requests(openstacktest.RoutePorts) == before && time.Now().Before(deadline) && r.Context().Err() == nil {
			time.Sleep(time.Millisecond)
		}
		if env.OpenStack.Requests(openstacktest.RoutePorts) > before {
			g.overlapped.Add(1)
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(g.Close)
	return g
}

// A warm pass reads OpenStack with the session of the last pass while
// Contrabass answers.
func TestWarmPassReadsOpenStackWhileContrabassAnswers(t *testing.T) {
	env, sample := newEnv(t)
	gate := gateContrabass(t, env)
	cfg := env.Config(sample.VMIDs, sample.SubnetA, sample.SubnetB)
	cfg.Contrabass.Endpoint = gate.URL
	cfg.Inventory = openInventory(t)
	syncer := new(multinic.Syncer)
	ctx := context.Background()

	first, err := syncer.Sync(ctx, cfg)
	require.NoError(t, err)

	gate.arm(env)
	second, err := syncer.Sync(ctx, cfg)
	require.NoError(t, err)
	assert.EqualValues(t, 1, gate.held.Load())
	assert.EqualValues(t, 1, gate.overlapped.Load(), "the warm pass asked Neutron before Contrabass answered")
	assert.Equal(t, first.Nodes, second.Nodes)
	assert.Equal(t, 1, env.OpenStack.Requests(openstacktest.RouteTokens))
}

// When the provider changed between passes (here: Keystone URL and password,
// i.e. another cloud), what was read early is discarded: the pass
// authenticates anew and reads the new cloud.
func TestWarmPassDiscardsEarlyReadsWhenTheProviderChanged(t *testing.T) {
	env, sample := newEnv(t)
	cfg := env.Config(sample.VMIDs, sample.SubnetA, sample.SubnetB)
	syncer := new(multinic.Syncer)
	ctx := context.Background()
	_, err := syncer.Sync(ctx, cfg)
	require.NoError(t, err)

	moved := openstacktest.NewServer()
	t.Cleanup(moved.Close)
	const newPassword = "R0tated-Pa55w0rd-9c1e"
	moved.SetCredentials(openstacktest.Credentials{UserName: openstacktest.DefaultUserName, UserDomainName: openstacktest.DefaultUserDomainName, Password: newPassword, ProjectID: multinictest.ProjectID})
	moved.AddNetwork(openstacktest.Network{ID: "net-a", MTU: 1400})
	moved.AddSubnet(openstacktest.Subnet{ID: sample.SubnetA, NetworkID: "net-a", CIDR: "10.10.0.0/24"})
	moved.AddSubnet(openstacktest.Subnet{ID: sample.SubnetB, NetworkID: "net-a", CIDR: "10.20.0.0/24"})
	moved.AddVM(openstacktest.VM{ID: sample.VMIDs[0], Name: "moved-worker"})
	moved.AddPort(openstacktest.Port{ID: "p", NetworkID: "net-a", DeviceID: sample.VMIDs[0], MACAddress: "fa:16:3e:99:00:01",
		FixedIPs: []openstacktest.FixedIP{{SubnetID: sample.SubnetA, IPAddress: "10.10.0.50"}}})
	env.Contrabass.AddProvider(multinictest.ProviderID, contrabasstest.ProviderSpec{
		AdminID: openstacktest.DefaultUserName, AdminPassword: newPassword, Domain: openstacktest.DefaultUserDomainName, KeystoneURL: moved.URL,
	})
	res, err := syncer.Sync(ctx, cfg)
	require.NoError(t, err)
	require.Len(t, res.Nodes, 1, "the new cloud's one VM, nothing of the old")
	assert.Equal(t, "moved-worker", res.Nodes[0].NodeName)
	assert.Equal(t, 1400, res.Nodes[0].Interfaces[0].MTU)
	assert.Equal(t, 1, moved.Requests(openstacktest.RouteTokens))
}

// A rotated password alone changes the session's fingerprint: same cloud,
// new token, and the pass succeeds.
func TestWarmPassReauthenticatesAfterAPasswordRotation(t *testing.T) {
	env, sample := newEnv(t)
	cfg := env.Config(sample.VMIDs, sample.SubnetA, sample.SubnetB)
	syncer := new(multinic.Syncer)
	ctx := context.Background()
	_, err := syncer.Sync(ctx, cfg)
	require.NoError(t, err)

	const rotated = "R0tated-Pa55w0rd-4b2d"
	env.OpenStack.SetCredentials(openstacktest.Credentials{UserName: openstacktest.DefaultUserName, UserDomainName: openstacktest.DefaultUserDomainName, Password: rotated, ProjectID: multinictest.ProjectID})
	env.Contrabass.AddProvider(multinictest.ProviderID, contrabasstest.ProviderSpec{
		AdminID: openstacktest.DefaultUserName, AdminPassword: rotated, Domain: openstacktest.DefaultUserDomainName, KeystoneURL: env.OpenStack.URL,
	})
	res, err := syncer.Sync(ctx, cfg)
	require.NoError(t, err)
	assert.Len(t, res.Nodes, 3)
	assert.Equal(t, 2, env.OpenStack.Requests(openstacktest.RouteTokens))
}

// Contrabass failing on a warm pass fails it as ContrabassError, whatever
// the early reads found, and a failure of those reads is reported with
// every secret masked, although they began before the password was known.
func TestWarmPassFailuresKeepTheirReasonsAndMaskSecrets(t *testing.T) {
	env, sample := newEnv(t)
	cfg := env.Config(sample.VMIDs, sample.SubnetA, sample.SubnetB)
	syncer := new(multinic.Syncer)
	ctx := context.Background()
	_, err := syncer.Sync(ctx, cfg)
	require.NoError(t, err)

	env.Contrabass.Fail(http.StatusInternalServerError, 100)
	_, err = syncer.Sync(ctx, cfg)
	require.Error(t, err)
	assert.Equal(t, multinic.ReasonContrabass, multinic.ReasonOf(err))
	env.Contrabass.ClearFaults()

	leak := `{"NeutronError":{"type":"Boom","message":"port list failed for admin/` + multinictest.AdminPassword + `","detail":""}}`
	env.OpenStack.Inject(openstacktest.RoutePorts, fault.Body(http.StatusBadRequest, leak), -1)
	_, err = syncer.Sync(ctx, cfg)
	require.Error(t, err)
	assert.Equal(t, multinic.ReasonNeutronPort, multinic.ReasonOf(err))
	assert.Contains(t, err.Error(), "port list failed")
	assert.NotContains(t, err.Error(), multinictest.AdminPassword, "the password is masked: %v", err)
}

// A warm pass reads the target subnets and the networks they were on last
// time together; the subnet answers still decide which network counts.
func TestWarmPassReadsSubnetsAndTheirNetworksTogether(t *testing.T) {
	env, sample := newEnv(t)
	var armed atomic.Bool
	var networksBefore atomic.Int64
	var overlapped, held atomic.Int32
	target, err := url.Parse(env.OpenStack.URL)
	require.NoError(t, err)
	proxy := httputil.NewSingleHostReverseProxy(target)
	neutron := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if armed.Load() && strings.Contains(r.URL.Path, "/v2.0/subnets/") {
			held.Add(1)
			before := int(networksBefore.Load())
			deadline := time.Now().Add(10 * time.Second)
			for env.OpenStack.Requests(openstacktest.RouteNetworks) == before && time.Now().Before(deadline) && r.Context().Err() == nil {
				time.Sleep(time.Millisecond)
			}
			if env.OpenStack.Requests(openstacktest.RouteNetworks) > before {
				overlapped.Add(1)
			}
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(neutron.Close)
	cfg := env.Config(sample.VMIDs, sample.SubnetA)
	cfg.OpenStack.NeutronEndpoint = neutron.URL + "/neutron"
	syncer := new(multinic.Syncer)
	_, err = syncer.Sync(context.Background(), cfg)
	require.NoError(t, err)

	networksBefore.Store(int64(env.OpenStack.Requests(openstacktest.RouteNetworks)))
	armed.Store(true)
	res, err := syncer.Sync(context.Background(), cfg)
	require.NoError(t, err)
	assert.EqualValues(t, 1, held.Load())
	assert.EqualValues(t, 1, overlapped.Load(), "the network was asked for while its subnet was")
	assert.Len(t, res.Nodes, 3)
}

// A subnet name that now names a subnet on another network: the network
// guessed from the last pass is not used.
func TestWarmPassFollowsASubnetNameToAnotherNetwork(t *testing.T) {
	env, sample := newEnv(t)
	cfg := env.Config(sample.VMIDs)
	cfg.SubnetName = "biz-a-subnet"
	syncer := new(multinic.Syncer)
	ctx := context.Background()
	first, err := syncer.Sync(ctx, cfg)
	require.NoError(t, err)
	assert.Equal(t, 1450, first.Nodes[0].Interfaces[0].MTU)

	require.True(t, env.OpenStack.RemoveSubnet(sample.SubnetA))
	env.OpenStack.AddSubnet(openstacktest.Subnet{ID: "subnet-b", Name: "biz-a-subnet", NetworkID: "net-b", CIDR: "10.20.0.0/24"})
	res, err := syncer.Sync(ctx, cfg)
	require.NoError(t, err)
	require.Len(t, res.Nodes, 2, "worker-1 and worker-2 have ports on subnet-b")
	for _, n := range res.Nodes {
		assert.Equal(t, 9000, n.Interfaces[0].MTU, "net-b's MTU, not the guessed net-a's")
		assert.True(t, strings.HasPrefix(n.Interfaces[0].Address, "10.20."), n.Interfaces[0].Address)
	}
}
