package controller_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/multinic/multinic/inventory"
	"github.com/multinic/multinic/multinic/multinictest"
	"github.com/multinic/multinic/openstack/openstacktest"
	"github.com/multinic/multinic/operator/api/v1alpha1"
	"github.com/multinic/multinic/operator/controller"
	"github.com/multinic/multinic/viola"
)

func readyCondition(t *testing.T, oc *v1alpha1.OpenstackConfig) (ready, degraded metav1.Condition) {
	t.Helper()
	r := meta.FindStatusCondition(oc.Status.Conditions, v1alpha1.ConditionReady)
	d := meta.FindStatusCondition(oc.Status.Conditions, v1alpha1.ConditionDegraded)
	require.NotNil(t, r, "Ready condition")
	require.NotNil(t, d, "Degraded condition")
	return *r, *d
}

func TestCreateSyncsThenReportsNoChange(t *testing.T) {
	f := newFixture(t)
	oc := f.create(f.config("fleet"))

	res := f.reconcile(oc)
	got := f.get(oc)
	ready, degraded := readyCondition(t, got)
	assert.Equal(t, metav1.ConditionTrue, ready.Status)
	assert.Equal(t, v1alpha1.ReasonSynced, ready.Reason)
	assert.Equal(t, metav1.ConditionFalse, degraded.Status)
	assert.Equal(t, int32(3), got.Status.Nodes)
	assert.Empty(t, got.Status.LastError)
	require.NotNil(t, got.Status.LastSyncedAt)
	assert.True(t, got.Status.LastSyncedAt.Time.Equal(t0))
	assert.Contains(t, got.Finalizers, controller.Finalizer)
	assert.Equal(t, 20*time.Second, res.RequeueAfter, "fast polling after a change")

	nodes := f.env.Viola.Nodes(multinictest.ProviderID)
	require.Len(t, nodes, 3)
	assert.Equal(t, "10.20.0.11", nodes["worker-1"].Interfaces[1].Address)
	assert.Len(t, f.store.List(inventory.Filter{ProviderID: multinictest.ProviderID}), 3)
	evs := f.drainEvents()
	require.Len(t, evs, 1)
	assert.Contains(t, evs[0], "Normal Synced synced 3 node configs to viola")
	assert.True(t, got.Status.LastChangeAt.Time.Equal(t0))

	f.clock.Step(20 * time.Second)
	f.reconcile(oc)
	got = f.get(oc)
	ready, _ = readyCondition(t, got)
	assert.Equal(t, v1alpha1.ReasonNoChange, ready.Reason)
	// worker-2 has a DOWN port and is re-sent on the fast schedule; the rest is unchanged.
	assert.Len(t, f.env.Viola.Posts(), 2)
	assert.Equal(t, []string{"worker-2"}, nodeNames(f.env.Viola.Posts()[1].Configs))
	assert.True(t, got.Status.LastChangeAt.Time.Equal(t0.Add(20*time.Second)), "a re-send opens the fast window too")
	assert.Empty(t, f.drainEvents(), "no event for a re-send")
}

func TestNoChangeWithoutDownPortsPostsNothingAndEmitsNoEvent(t *testing.T) {
	f := newFixture(t)
	f.env.OpenStack.UpdatePort(f.sample.DownPort, func(p *openstacktest.Port) { p.Status = "ACTIVE" })
	oc := f.create(f.config("quiet"))
	f.reconcile(oc)
	f.drainEvents()
	f.clock.Step(time.Minute)
	res := f.reconcile(oc)
	ready, _ := readyCondition(t, f.get(oc))
	assert.Equal(t, v1alpha1.ReasonNoChange, ready.Reason)
	assert.Len(t, f.env.Viola.Posts(), 1, "second pass posts nothing")
	assert.Empty(t, f.drainEvents(), "no event spam on no change")
	assert.Equal(t, 20*time.Second, res.RequeueAfter, "still inside the fast window")
	f.clock.Step(3 * time.Minute)
	res = f.reconcile(oc)
	assert.Equal(t, 2*time.Minute, res.RequeueAfter, "slow polling after the fast window")
}

func nodeNames(configs []viola.NodeConfig) []string {
	var out []string
	for _, c := range configs {
		out = append(out, c.NodeName)
	}
	return out
}

func TestFailureReasonsShowInStatusAndRecover(t *testing.T) {
	tests := []struct {
		name    string
		breakIt func(f *fixture, oc *v1alpha1.OpenstackConfig)
		mend    func(f *fixture, oc *v1alpha1.OpenstackConfig)
		reason  string
		message string
	}{
		{"missing key", func(f *fixture, oc *v1alpha1.OpenstackConfig) { oc.Spec.Settings.ContrabassEncryptKey = "" },
			func(f *fixture, oc *v1alpha1.OpenstackConfig) {
				f.secret("contrabass-encrypt-key", "CONTRABASS_ENCRYPT_KEY", multinictest.EncryptKey)
			},
			"ConfigError", "spec.secrets.contrabassEncryptKeySecretRef"},
		{"missing viola endpoint", func(f *fixture, oc *v1alpha1.OpenstackConfig) { f.reconciler.Defaults.Viola.Endpoint = "" },
			func(f *fixture, oc *v1alpha1.OpenstackConfig) { f.reconciler.Defaults.Viola.Endpoint = f.env.Viola.URL },
			"ConfigError", "no Viola endpoint: set settings.violaEndpoint, or the operator's VIOLA_ENDPOINT"},
		{"contrabass down", func(f *fixture, _ *v1alpha1.OpenstackConfig) { f.env.Contrabass.Fail(http.StatusBadGateway, -1) },
			func(f *fixture, _ *v1alpha1.OpenstackConfig) { f.env.Contrabass.ClearFaults() },
			"ContrabassError", "502"},
		{"keystone down", func(f *fixture, _ *v1alpha1.OpenstackConfig) {
			f.env.OpenStack.Fail(openstacktest.RouteTokens, 500, -1)
		},
			func(f *fixture, _ *v1alpha1.OpenstackConfig) { f.env.OpenStack.ClearFaults() },
			"KeystoneError", "500"},
		{"neutron endpoint missing", func(f *fixture, _ *v1alpha1.OpenstackConfig) { f.env.OpenStack.OmitFromCatalog("network") },
			func(f *fixture, oc *v1alpha1.OpenstackConfig) {
				oc.Spec.Settings.OpenstackNeutronEndpoint = f.env.OpenStack.NeutronURL()
			},
			"NeutronEndpointError", "network"},
		{"ports fail", func(f *fixture, _ *v1alpha1.OpenstackConfig) { f.env.OpenStack.Fail(openstacktest.RoutePorts, 500, -1) },
			func(f *fixture, _ *v1alpha1.OpenstackConfig) { f.env.OpenStack.ClearFaults() },
			"NeutronPortError", "ports"},
		{"subnet fails", func(f *fixture, _ *v1alpha1.OpenstackConfig) {
			f.env.OpenStack.Fail(openstacktest.RouteSubnets, 500, -1)
		},
			func(f *fixture, _ *v1alpha1.OpenstackConfig) { f.env.OpenStack.ClearFaults() },
			"NeutronSubnetError", "subnet"},
		{"subnet not found", func(f *fixture, oc *v1alpha1.OpenstackConfig) {
			oc.Spec.SubnetIDs = nil
			oc.Spec.SubnetName = "no-such"
		},
			func(f *fixture, oc *v1alpha1.OpenstackConfig) { oc.Spec.SubnetName = "biz-a-subnet" },
			"SubnetNotFound", "no-such"},
		{"subnet not unique", func(f *fixture, oc *v1alpha1.OpenstackConfig) {
			f.env.OpenStack.AddSubnet(openstacktest.Subnet{ID: "subnet-a2", Name: "biz-a-subnet", NetworkID: "net-a", CIDR: "10.11.0.0/24"})
			oc.Spec.SubnetIDs = nil
			oc.Spec.SubnetName = "biz-a-subnet"
		}, func(f *fixture, _ *v1alpha1.OpenstackConfig) { f.env.OpenStack.RemoveSubnet("subnet-a2") },
			"SubnetNotUnique", "biz-a-subnet"},
		// The library names its own field (Config.Viola.Endpoint); the
		// operator's status and event name the CR's, and its environment.
		{"viola unreachable", func(f *fixture, oc *v1alpha1.OpenstackConfig) { oc.Spec.Settings.ViolaEndpoint = closedURL(t) },
			func(f *fixture, oc *v1alpha1.OpenstackConfig) { oc.Spec.Settings.ViolaEndpoint = f.env.Viola.URL },
			"ViolaPostError", "(cannot connect: check settings.violaEndpoint, or the operator's VIOLA_ENDPOINT)"},
		{"viola fails", func(f *fixture, _ *v1alpha1.OpenstackConfig) { f.env.Viola.Fail(http.StatusInternalServerError, -1) },
			func(f *fixture, _ *v1alpha1.OpenstackConfig) { f.env.Viola.ClearFaults() },
			"ViolaPostError", "500"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			oc := f.config("broken")
			tt.breakIt(f, oc)
			f.create(oc)
			res := f.reconcile(oc)
			got := f.get(oc)
			ready, degraded := readyCondition(t, got)
			assert.Equal(t, metav1.ConditionFalse, ready.Status)
			assert.Equal(t, tt.reason, ready.Reason)
			assert.Equal(t, metav1.ConditionTrue, degraded.Status, "Degraded mirrors a failing Ready")
			assert.Equal(t, tt.reason, degraded.Reason)
			assert.Contains(t, got.Status.LastError, tt.message)
			assert.True(t, strings.HasPrefix(got.Status.LastError, tt.reason), got.Status.LastError)
			assert.NotContains(t, got.Status.LastError, multinictest.EncryptKey)
			assert.NotContains(t, got.Status.LastError, multinictest.AdminPassword)
			assert.Equal(t, 30*time.Second, res.RequeueAfter, "error interval")
			evs := f.drainEvents()
			require.Len(t, evs, 1)
			assert.Contains(t, evs[0], "Warning "+tt.reason)
			assert.Contains(t, evs[0], tt.message, "the event says what the status says")
			assert.NotContains(t, got.Status.LastError, "Config.", "no library field names reach an operator user")

			f.reconcile(oc) // the same failure again: no second event
			assert.Empty(t, f.drainEvents())

			latest := f.get(oc)
			tt.mend(f, latest)
			require.NoError(t, k8s.Update(context.Background(), latest))
			f.reconcile(oc)
			got = f.get(oc)
			ready, degraded = readyCondition(t, got)
			assert.Equal(t, metav1.ConditionTrue, ready.Status, "recovered: %s", ready.Message)
			assert.Equal(t, metav1.ConditionFalse, degraded.Status)
			assert.Empty(t, got.Status.LastError)
		})
	}
}

// closedURL is a URL nothing listens on.
func closedURL(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	url := "http://" + ln.Addr().String()
	require.NoError(t, ln.Close())
	return url
}

func TestResyncResendsEverything(t *testing.T) {
	f := newFixture(t)
	f.env.OpenStack.UpdatePort(f.sample.DownPort, func(p *openstacktest.Port) { p.Status = "ACTIVE" })
	oc := f.create(f.config("resync"))
	f.reconcile(oc)
	f.clock.Step(29 * time.Minute)
	f.reconcile(oc)
	assert.Len(t, f.env.Viola.Posts(), 1)
	f.clock.Step(time.Minute)
	f.reconcile(oc)
	require.Len(t, f.env.Viola.Posts(), 2)
	assert.Len(t, f.env.Viola.Posts()[1].Configs, 3, "every node re-sent so Biz-side drift heals")
}

func TestPortsBeyondTenAreReportedInStatus(t *testing.T) {
	f := newFixture(t)
	for i := range 10 { // worker-3 has one port on subnet A already
		f.env.OpenStack.AddPort(openstacktest.Port{NetworkID: "net-a", DeviceID: f.sample.VMIDs[2],
			MACAddress: fmt.Sprintf("fa:16:3e:ff:00:%02x", i),
			FixedIPs:   []openstacktest.FixedIP{{SubnetID: "subnet-a", IPAddress: fmt.Sprintf("10.10.0.%d", 100+i)}}})
	}
	oc := f.create(f.config("crowded"))
	f.reconcile(oc)
	got := f.get(oc)
	require.Len(t, got.Status.DroppedPorts, 1)
	assert.Equal(t, f.sample.VMIDs[2], got.Status.DroppedPorts[0].InstanceID)
	assert.Equal(t, "fa:16:3e:ff:00:09", got.Status.DroppedPorts[0].MACAddress, "the last in MAC order is left out")
	assert.Len(t, f.env.Viola.Nodes(multinictest.ProviderID)["worker-3"].Interfaces, 10)
}
