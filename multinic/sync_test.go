package multinic_test

import (
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/multinic/multinic/contrabass/contrabasstest"
	"github.com/multinic/multinic/inventory"
	"github.com/multinic/multinic/multinic"
	"github.com/multinic/multinic/multinic/multinictest"
	"github.com/multinic/multinic/openstack/openstacktest"
	"github.com/multinic/multinic/viola"
)

func newEnv(t *testing.T) (*multinictest.Env, multinictest.Sample) {
	t.Helper()
	env := multinictest.NewEnv()
	t.Cleanup(env.Close)
	sample := env.AddSample()
	return env, sample
}

func openInventory(t *testing.T) *inventory.Store {
	t.Helper()
	store, err := inventory.Open(filepath.Join(t.TempDir(), "inventory.json"))
	require.NoError(t, err)
	return store
}

func node(t *testing.T, nodes []viola.NodeConfig, name string) viola.NodeConfig {
	t.Helper()
	for _, n := range nodes {
		if n.NodeName == name {
			return n
		}
	}
	t.Fatalf("node %q not in %v", name, nodes)
	return viola.NodeConfig{}
}

func sentNames(env *multinictest.Env) []string {
	var names []string
	for _, post := range env.Viola.Posts() {
		for _, c := range post.Configs {
			names = append(names, c.NodeName)
		}
	}
	return names
}

func TestSyncSendsOnlyWhatChanged(t *testing.T) {
	env, sample := newEnv(t)
	cfg := env.Config(sample.VMIDs, sample.SubnetA, sample.SubnetB)
	cfg.Inventory = openInventory(t)
	syncer := new(multinic.Syncer)
	ctx := context.Background()

	first, err := syncer.Sync(ctx, cfg)
	require.NoError(t, err)
	assert.Equal(t, []string{"worker-1", "worker-2", "worker-3"}, first.Sent)
	assert.Equal(t, first.Sent, first.Changed)
	assert.Empty(t, first.Unchanged)
	require.Len(t, env.Viola.Posts(), 1, "one POST carries all nodes")
	assert.Equal(t, multinictest.ProviderID, env.Viola.Posts()[0].ProviderID)

	w1 := node(t, first.Nodes, "worker-1")
	assert.Equal(t, sample.VMIDs[0], w1.InstanceID)
	assert.Equal(t, []viola.Interface{
		{ID: 0, Name: "multinic0", PortID: "port-a-1", MACAddress: "fa:16:3e:0a:00:01", Address: "10.10.0.11", CIDR: "10.10.0.0/24", MTU: 1450},
		{ID: 1, Name: "multinic1", PortID: "port-b-1", MACAddress: "fa:16:3e:0b:00:01", Address: "10.20.0.11", CIDR: "10.20.0.0/24", MTU: 9000},
	}, w1.Interfaces, "management port ignored, subnet A first")
	assert.Len(t, node(t, first.Nodes, "worker-3").Interfaces, 1)
	assert.Equal(t, "hostname", w1.NodeNameSource, "Nova shows the admin its OS-EXT-SRV-ATTR:hostname")
	sent := w1
	sent.NodeNameSource = "" // never part of the payload
	assert.Equal(t, env.Viola.Nodes(multinictest.ProviderID)["worker-1"], sent, "Viola got what Result reports")

	second, err := syncer.Sync(ctx, cfg)
	require.NoError(t, err)
	assert.Empty(t, second.Sent)
	assert.Equal(t, []string{"worker-1", "worker-2", "worker-3"}, second.Unchanged)
	assert.Len(t, env.Viola.Posts(), 1, "nothing posted when nothing changed")

	env.OpenStack.UpdatePort("port-a-3", func(p *openstacktest.Port) { p.FixedIPs[0].IPAddress = "10.10.0.99" })
	third, err := syncer.Sync(ctx, cfg)
	require.NoError(t, err)
	assert.Equal(t, []string{"worker-3"}, third.Sent)
	require.Len(t, env.Viola.Posts(), 2)
	assert.Equal(t, "10.10.0.99", env.Viola.Posts()[1].Configs[0].Interfaces[0].Address)
	assert.Len(t, env.Viola.Posts()[1].Configs, 1, "only the changed node is posted")

	rec, ok := cfg.Inventory.(*inventory.Store).Get(multinictest.ProviderID, "worker-3")
	require.True(t, ok)
	assert.Equal(t, "10.10.0.99", rec.Config.Interfaces[0].Address, "inventory holds the latest config")
}

func TestSyncResend(t *testing.T) {
	env, sample := newEnv(t)
	cfg := env.Config(sample.VMIDs, sample.SubnetA)
	cfg.Inventory = openInventory(t)
	syncer := new(multinic.Syncer)
	_, err := syncer.Sync(context.Background(), cfg)
	require.NoError(t, err)

	cfg.Resend = []string{"worker-2"}
	res, err := syncer.Sync(context.Background(), cfg)
	require.NoError(t, err)
	assert.Equal(t, []string{"worker-2"}, res.Sent)
	assert.Empty(t, res.Changed, "a resend is not a change")

	cfg.Resend, cfg.ResendAll = nil, true
	res, err = syncer.Sync(context.Background(), cfg)
	require.NoError(t, err)
	assert.Len(t, res.Sent, 3)
}

func TestSyncWithoutInventorySendsEverything(t *testing.T) {
	env, sample := newEnv(t)
	cfg := env.Config(sample.VMIDs, sample.SubnetA)
	for range 2 {
		res, err := multinic.Sync(context.Background(), cfg)
		require.NoError(t, err)
		assert.Len(t, res.Sent, 3)
	}
}

func TestSyncReportsDownPorts(t *testing.T) {
	env, sample := newEnv(t)
	res, err := multinic.Sync(context.Background(), env.Config(sample.VMIDs, sample.SubnetA, sample.SubnetB))
	require.NoError(t, err)
	require.Len(t, res.DownPorts, 1)
	assert.Equal(t, multinic.DownPort{NodeName: "worker-2", InstanceID: sample.VMIDs[1], PortID: sample.DownPort, MACAddress: "fa:16:3e:0b:00:02"}, res.DownPorts[0])
	assert.Equal(t, []string{"worker-2"}, res.DownNodes())

	cfg := env.Config(sample.VMIDs, sample.SubnetA, sample.SubnetB)
	cfg.PortAllowedStatuses = []string{"active"}
	res, err = multinic.Sync(context.Background(), cfg)
	require.NoError(t, err)
	assert.Empty(t, res.DownPorts, "DOWN ports are not selected when only ACTIVE is allowed")
	assert.Len(t, node(t, res.Nodes, "worker-2").Interfaces, 1)
}

func TestSyncSkipsVMsWithoutPortsOrName(t *testing.T) {
	env, sample := newEnv(t)
	env.OpenStack.AddVM(openstacktest.VM{ID: "vm-no-ports", Name: "lonely"})
	env.OpenStack.RemoveVM(sample.VMIDs[2]) // ports stay, Nova forgets it
	vms := append([]string{"vm-no-ports"}, sample.VMIDs...)
	res, err := multinic.Sync(context.Background(), env.Config(vms, sample.SubnetA))
	require.NoError(t, err)
	assert.Equal(t, []string{"worker-1", "worker-2"}, res.Sent, "no node is sent under a guessed name")
	require.Len(t, res.Skipped, 2)
	assert.Equal(t, "vm-no-ports", res.Skipped[0].InstanceID)
	assert.Contains(t, res.Skipped[0].Reason, "no port")
	assert.Equal(t, sample.VMIDs[2], res.Skipped[1].InstanceID)
	assert.Equal(t, "VM "+sample.VMIDs[2]+" is unknown to Nova (it answered 404): deleted, or not a server of project project-1", res.Skipped[1].Reason)
}

func TestSyncSubnetByNameAndRoutingKey(t *testing.T) {
	env, sample := newEnv(t)
	cfg := env.Config(sample.VMIDs)
	cfg.SubnetName = "biz-b-subnet"
	cfg.K8sProviderID = "biz-cluster-7"
	res, err := multinic.Sync(context.Background(), cfg)
	require.NoError(t, err)
	assert.Equal(t, []string{"worker-1", "worker-2"}, res.Sent)
	assert.Equal(t, "biz-cluster-7", env.Viola.Posts()[0].ProviderID)
}

// TestStableNamesAcrossPasses adds a port whose MAC sorts first and removes
// another: the ports that stay keep their names.
func TestStableNamesAcrossPasses(t *testing.T) {
	env, sample := newEnv(t)
	cfg := env.Config(sample.VMIDs[:1], sample.SubnetA, sample.SubnetB)
	cfg.Inventory = openInventory(t)
	syncer := new(multinic.Syncer)
	_, err := syncer.Sync(context.Background(), cfg)
	require.NoError(t, err)

	env.OpenStack.AddPort(openstacktest.Port{ID: "port-new", NetworkID: "net-a", DeviceID: sample.VMIDs[0], MACAddress: "fa:16:3e:00:00:01",
		FixedIPs: []openstacktest.FixedIP{{SubnetID: "subnet-a", IPAddress: "10.10.0.50"}}})
	res, err := syncer.Sync(context.Background(), cfg)
	require.NoError(t, err)
	names := map[string]string{}
	for _, i := range node(t, res.Nodes, "worker-1").Interfaces {
		names[i.PortID] = i.Name
	}
	assert.Equal(t, map[string]string{"port-a-1": "multinic0", "port-b-1": "multinic1", "port-new": "multinic2"}, names)

	env.OpenStack.RemovePort("port-a-1")
	env.OpenStack.AddPort(openstacktest.Port{ID: "port-newer", NetworkID: "net-b", DeviceID: sample.VMIDs[0], MACAddress: "fa:16:3e:ff:00:01",
		FixedIPs: []openstacktest.FixedIP{{SubnetID: "subnet-b", IPAddress: "10.20.0.50"}}})
	res, err = syncer.Sync(context.Background(), cfg)
	require.NoError(t, err)
	names = map[string]string{}
	for _, i := range node(t, res.Nodes, "worker-1").Interfaces {
		names[i.PortID] = i.Name
	}
	assert.Equal(t, map[string]string{"port-newer": "multinic0", "port-b-1": "multinic1", "port-new": "multinic2"}, names,
		"the freed index is reused, the others stay")
}

func TestSyncReusesTheOpenStackSession(t *testing.T) {
	env, sample := newEnv(t)
	cfg := env.Config(sample.VMIDs, sample.SubnetA)
	cfg.Inventory = openInventory(t)
	syncer := new(multinic.Syncer)
	for range 3 {
		_, err := syncer.Sync(context.Background(), cfg)
		require.NoError(t, err)
	}
	assert.Equal(t, 1, env.OpenStack.Requests(openstacktest.RouteTokens), "one token for three passes")

	env.OpenStack.ExpireTokens() // revoked server-side: the next call gets 401
	env.OpenStack.UpdatePort("port-a-1", func(p *openstacktest.Port) { p.FixedIPs[0].IPAddress = "10.10.0.77" })
	res, err := syncer.Sync(context.Background(), cfg)
	require.NoError(t, err, "a 401 re-authenticates instead of failing the pass")
	assert.Equal(t, []string{"worker-1"}, res.Sent)
	assert.Equal(t, 2, env.OpenStack.Requests(openstacktest.RouteTokens))
}

func TestSyncFollowsPaginationAndBatchesLongVMLists(t *testing.T) {
	env := multinictest.NewEnv()
	t.Cleanup(env.Close)
	fleet := env.OpenStack.AddFleet(openstacktest.Fleet{VMs: 250, TargetSubnets: 2, TargetPortsPerVM: 2, OtherPortsPerVM: 1})
	env.OpenStack.SetPageSize(50)
	env.OpenStack.SetMaxURLLength(6000) // 250 UUIDs in one URL would exceed it
	cfg := env.Config(fleet.VMIDs, fleet.TargetSubnetIDs...)
	res, err := multinic.Sync(context.Background(), cfg)
	require.NoError(t, err)
	assert.Len(t, res.Sent, 250)
	for _, n := range res.Nodes {
		require.Len(t, n.Interfaces, 2, n.NodeName)
	}
	// 3 batches of 100 device_ids; 750 ports in pages of 50.
	assert.Equal(t, 15, env.OpenStack.Requests(openstacktest.RoutePorts))
}

// Every failure yields its reason, posts nothing, and leaks no secret.
func TestSyncFailureReasons(t *testing.T) {
	tests := []struct {
		name   string
		setup  func(env *multinictest.Env, cfg *multinic.Config)
		reason multinic.Reason
	}{
		{"missing contrabass endpoint", func(_ *multinictest.Env, c *multinic.Config) { c.Contrabass.Endpoint = "" }, multinic.ReasonConfig},
		{"missing viola endpoint", func(_ *multinictest.Env, c *multinic.Config) { c.Viola.Endpoint = "" }, multinic.ReasonConfig},
		{"missing encrypt key", func(_ *multinictest.Env, c *multinic.Config) { c.EncryptKey = "" }, multinic.ReasonConfig},
		{"no VMs", func(_ *multinictest.Env, c *multinic.Config) { c.VMIDs = nil }, multinic.ReasonConfig},
		{"no subnet selector", func(_ *multinictest.Env, c *multinic.Config) { c.SubnetIDs = nil }, multinic.ReasonSubnetRequired},
		{"contrabass down", func(e *multinictest.Env, _ *multinic.Config) { e.Contrabass.Fail(http.StatusServiceUnavailable, -1) }, multinic.ReasonContrabass},
		{"unknown provider", func(_ *multinictest.Env, c *multinic.Config) { c.ProviderID = "nope" }, multinic.ReasonContrabass},
		{"wrong encrypt key", func(_ *multinictest.Env, c *multinic.Config) { c.EncryptKey = "wrongKeyWrongKey" }, multinic.ReasonContrabass},
		{"provider without admin user and domain", func(e *multinictest.Env, _ *multinic.Config) {
			e.Contrabass.AddProvider(multinictest.ProviderID, contrabasstest.ProviderSpec{AdminID: " ", AdminPassword: multinictest.AdminPassword, KeystoneURL: e.OpenStack.URL})
		}, multinic.ReasonContrabass},
		{"keystone rejects the password", func(e *multinictest.Env, _ *multinic.Config) {
			e.Contrabass.AddProvider(multinictest.ProviderID, contrabasstest.ProviderSpec{AdminID: "admin", AdminPassword: "S3cr3t-Wr0ng", Domain: "default", KeystoneURL: e.OpenStack.URL})
		}, multinic.ReasonKeystone},
		{"keystone down", func(e *multinictest.Env, _ *multinic.Config) { e.OpenStack.Fail(openstacktest.RouteTokens, 500, -1) }, multinic.ReasonKeystone},
		{"no network endpoint in catalog", func(e *multinictest.Env, _ *multinic.Config) { e.OpenStack.OmitFromCatalog("network") }, multinic.ReasonNeutronEndpoint},
		{"ports fail", func(e *multinictest.Env, _ *multinic.Config) { e.OpenStack.Fail(openstacktest.RoutePorts, 500, -1) }, multinic.ReasonNeutronPort},
		{"subnets fail", func(e *multinictest.Env, _ *multinic.Config) { e.OpenStack.Fail(openstacktest.RouteSubnets, 500, -1) }, multinic.ReasonNeutronSubnet},
		{"network MTU fails", func(e *multinictest.Env, _ *multinic.Config) { e.OpenStack.Fail(openstacktest.RouteNetworks, 500, -1) }, multinic.ReasonNeutronSubnet},
		{"every subnet id unknown", func(_ *multinictest.Env, c *multinic.Config) {
			c.SubnetIDs = []string{"subnet-gone", "subnet-gone-too"}
		}, multinic.ReasonSubnetNotFound},
		{"subnet name unknown", func(_ *multinictest.Env, c *multinic.Config) { c.SubnetIDs, c.SubnetName = nil, "nothing" }, multinic.ReasonSubnetNotFound},
		{"subnet name ambiguous", func(e *multinictest.Env, c *multinic.Config) {
			e.OpenStack.AddSubnet(openstacktest.Subnet{ID: "subnet-a2", Name: "biz-a-subnet", NetworkID: "net-a", CIDR: "10.11.0.0/24"})
			c.SubnetIDs, c.SubnetName = nil, "biz-a-subnet"
		}, multinic.ReasonSubnetNotUnique},
		{"no compute endpoint", func(e *multinictest.Env, _ *multinic.Config) { e.OpenStack.OmitFromCatalog("compute") }, multinic.ReasonNova},
		{"nova fails for every VM", func(e *multinictest.Env, _ *multinic.Config) { e.OpenStack.Fail(openstacktest.RouteServers, 500, -1) }, multinic.ReasonNova},
		{"viola rejects", func(e *multinictest.Env, _ *multinic.Config) { e.Viola.Fail(http.StatusInternalServerError, -1) }, multinic.ReasonViolaPost},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, sample := newEnv(t)
			cfg := env.Config(sample.VMIDs, sample.SubnetA)
			tt.setup(env, &cfg)
			_, err := multinic.Sync(context.Background(), cfg)
			require.Error(t, err)
			assert.Equal(t, tt.reason, multinic.ReasonOf(err), "error: %v", err)
			assert.True(t, strings.HasPrefix(err.Error(), string(tt.reason)+": "), err.Error())
			assert.Empty(t, env.Viola.Posts(), "nothing is posted on failure")
			for _, secret := range []string{multinictest.EncryptKey, multinictest.AdminPassword, "S3cr3t-Wr0ng"} {
				assert.NotContains(t, err.Error(), secret)
			}
		})
	}
}

func TestViolaPartialFailureRecordsWhatWasAccepted(t *testing.T) {
	env, sample := newEnv(t)
	cfg := env.Config(sample.VMIDs, sample.SubnetA)
	cfg.Viola.MaxBatch = 1 // one node per POST
	cfg.Viola.RetryMax = -1
	store := openInventory(t)
	cfg.Inventory = store
	env.Viola.Fail(http.StatusBadRequest, 1) // exactly one POST fails
	res, err := multinic.Sync(context.Background(), cfg)
	require.Error(t, err)
	assert.Equal(t, multinic.ReasonViolaPost, multinic.ReasonOf(err))
	assert.Len(t, res.Sent, 2)
	assert.Equal(t, res.Sent, res.Changed, "all were new; changed are those accepted, by name")
	assert.Len(t, store.List(inventory.Filter{}), 2, "accepted nodes are recorded, the failed one is not")

	res, err = multinic.Sync(context.Background(), cfg)
	require.NoError(t, err)
	assert.Len(t, res.Sent, 1, "the next pass sends only the node that failed")
}

// A provider record without the admin user or its domain would reach
// Keystone as a request it refuses with a message about something else:
// it is Contrabass's record at fault, and the message names the fields.
func TestSyncProviderWithoutKeystoneUser(t *testing.T) {
	env, sample := newEnv(t)
	env.Contrabass.AddProvider(multinictest.ProviderID, contrabasstest.ProviderSpec{AdminID: " ", AdminPassword: multinictest.AdminPassword, KeystoneURL: env.OpenStack.URL})
	_, err := multinic.Sync(context.Background(), env.Config(sample.VMIDs, sample.SubnetA))
	require.Error(t, err)
	assert.Equal(t, `ContrabassError: contrabass: provider "provider-1" has an empty data.attributes.adminId (the Keystone admin user) and an empty data.attributes.domain (the admin user's Keystone domain)`, err.Error())
	assert.Zero(t, env.OpenStack.Requests(openstacktest.RouteTokens), "Keystone is not asked")
}
