package controller_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/multinic/multinic/contrabass/contrabasstest"
	"github.com/multinic/multinic/multinic"
	"github.com/multinic/multinic/multinic/multinictest"
	"github.com/multinic/multinic/openstack/openstacktest"
	"github.com/multinic/multinic/operator/api/v1alpha1"
)

// hostileKeystone answers every request with status and body, or hangs
// until the test ends when hang is set.
func hostileKeystone(t *testing.T, status int, body string, hang bool) string {
	t.Helper()
	done := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hang {
			select {
			case <-r.Context().Done():
			case <-done:
			}
			return
		}
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(func() { close(done); srv.Close() })
	return srv.URL
}

func (f *fixture) pointKeystoneAt(url string) {
	f.env.Contrabass.AddProvider(multinictest.ProviderID, contrabasstest.ProviderSpec{
		AdminID: openstacktest.DefaultUserName, AdminPassword: multinictest.AdminPassword,
		Domain: openstacktest.DefaultUserDomainName, KeystoneURL: url,
	})
}

// A dependency answering with a 100 KiB page must still leave a Ready=False
// condition on the real API server (a condition message over 32768 bytes
// is refused, and with it the whole status), and a bounded event.
func TestHugeDependencyErrorStillYieldsACondition(t *testing.T) {
	f := newFixture(t)
	page := "<html><body>" + strings.Repeat("<p>Internal Server Error\n</p>", 4000) + "</body></html>"
	require.Greater(t, len(page), 100<<10)
	f.pointKeystoneAt(hostileKeystone(t, http.StatusInternalServerError, page, false))
	oc := f.create(f.config("huge-error"))
	f.reconcile(oc)

	got := f.get(oc)
	ready, degraded := readyCondition(t, got)
	assert.Equal(t, metav1.ConditionFalse, ready.Status)
	assert.Equal(t, "KeystoneError", ready.Reason)
	assert.Equal(t, metav1.ConditionTrue, degraded.Status)
	for name, msg := range map[string]string{"lastError": got.Status.LastError, "Ready": ready.Message, "Degraded": degraded.Message} {
		assert.LessOrEqual(t, len(msg), v1alpha1.MaxMessageLength+len("…"), name)
		assert.NotContains(t, msg, "\n", name)
		assert.Contains(t, msg, "KeystoneError", name)
	}
	evs := f.drainEvents()
	require.Len(t, evs, 1)
	assert.Less(t, len(evs[0]), 1100, "events.k8s.io refuses notes over 1 KiB")
}

// stubSyncer returns a canned pass, standing in for the library where a
// test needs a result the fakes cannot produce.
type stubSyncer struct {
	res multinic.Result
	err error
}

func (s stubSyncer) Sync(context.Context, multinic.Config) (multinic.Result, error) {
	return s.res, s.err
}

// However much the pass left out and however long the reasons, the status
// write fits: lists are capped (the Degraded message counts everything)
// and every string is cut.
func TestStatusWriteAlwaysFits(t *testing.T) {
	f := newFixture(t)
	huge := strings.Repeat("x", 100<<10)
	var res multinic.Result
	for i := range 5000 {
		id := fmt.Sprintf("vm-%04d", i)
		res.Skipped = append(res.Skipped, multinic.SkippedVM{InstanceID: id, NodeName: huge, Reason: huge})
		res.DroppedPorts = append(res.DroppedPorts, multinic.DroppedPort{InstanceID: id, PortID: huge, MACAddress: huge})
		res.SkippedSubnets = append(res.SkippedSubnets, multinic.SkippedSubnet{SubnetID: huge, NetworkID: huge, Reason: huge})
		res.RejectedNodes = append(res.RejectedNodes, multinic.RejectedNode{NodeName: huge, InstanceID: id, Reason: huge})
	}
	f.reconciler.Syncer = stubSyncer{res: res}
	oc := f.create(f.config("overflowing"))
	f.reconcile(oc)

	got := f.get(oc)
	ready, degraded := readyCondition(t, got)
	assert.Equal(t, metav1.ConditionTrue, ready.Status, "the pass completed")
	assert.Equal(t, metav1.ConditionTrue, degraded.Status)
	assert.Equal(t, v1alpha1.ReasonPartialSync, degraded.Reason)
	assert.Contains(t, degraded.Message, "5000 VMs skipped")
	assert.Contains(t, degraded.Message, "status.skippedVMs lists 20, and 4980 more")
	assert.Len(t, got.Status.SkippedVMs, v1alpha1.MaxStatusListItems)
	assert.Len(t, got.Status.DroppedPorts, v1alpha1.MaxStatusListItems)
	assert.Len(t, got.Status.SkippedSubnets, v1alpha1.MaxStatusListItems)
	assert.Len(t, got.Status.RejectedNodes, v1alpha1.MaxStatusListItems)
	assert.LessOrEqual(t, len(got.Status.SkippedVMs[0].Reason), v1alpha1.MaxReasonLength+len("…"))

	// A failure with a 100 KiB message, after all that.
	f.reconciler.Syncer = stubSyncer{err: &multinic.Error{Reason: multinic.ReasonNeutronPort, Err: fmt.Errorf("list ports: %s", huge)}}
	f.reconcile(oc)
	ready, _ = readyCondition(t, f.get(oc))
	assert.Equal(t, "NeutronPortError", ready.Reason)
	assert.LessOrEqual(t, len(ready.Message), v1alpha1.MaxMessageLength+len("…"))

	// An error that is not the library's is an InternalError, never blank.
	f.reconciler.Syncer = stubSyncer{err: fmt.Errorf("boom")}
	f.reconcile(oc)
	ready, _ = readyCondition(t, f.get(oc))
	assert.Equal(t, string(multinic.ReasonInternal), ready.Reason)
}

// Degraded says whether everything went through (Kubernetes conventions),
// not whether Ready is False: a pass that skipped a VM is Ready and Degraded.
func TestDegradedWhenThePassLeavesSomethingOut(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	oc := f.config("partial")
	const unknownVM = "0b0e0e0e-0000-4000-8000-00000000dead"
	oc.Spec.VMNames = append(oc.Spec.VMNames, unknownVM)
	f.create(oc)
	f.reconcile(oc)

	got := f.get(oc)
	ready, degraded := readyCondition(t, got)
	assert.Equal(t, metav1.ConditionTrue, ready.Status)
	assert.Equal(t, v1alpha1.ReasonSynced, ready.Reason)
	assert.Contains(t, ready.Message, "1 VM skipped")
	assert.Equal(t, metav1.ConditionTrue, degraded.Status)
	assert.Equal(t, v1alpha1.ReasonPartialSync, degraded.Reason)
	assert.Equal(t, "1 VM skipped", degraded.Message)
	require.Len(t, got.Status.SkippedVMs, 1)
	assert.Equal(t, unknownVM, got.Status.SkippedVMs[0].InstanceID)
	evs := f.drainEvents()
	assert.Len(t, evs, 2, "Synced, and a warning for what was left out: %v", evs)
	assert.Contains(t, strings.Join(evs, "\n"), "Warning PartialSync 1 VM skipped")

	f.clock.Step(time.Minute)
	f.reconcile(oc)
	for _, e := range f.drainEvents() {
		assert.NotContains(t, e, "PartialSync", "no repeat while nothing new is left out")
	}

	latest := f.get(oc)
	latest.Spec.VMNames = f.sample.VMIDs
	require.NoError(t, k8s.Update(ctx, latest))
	f.reconcile(oc)
	got = f.get(oc)
	_, degraded = readyCondition(t, got)
	assert.Equal(t, metav1.ConditionFalse, degraded.Status, degraded.Message)
	assert.Equal(t, v1alpha1.ReasonComplete, degraded.Reason)
	assert.Empty(t, got.Status.SkippedVMs)
}

// Issue 9 item 4: what the agent would ignore silently shows on the MGMT
// side: subnets without a usable MTU and rejected node configs.
func TestSkippedSubnetsAndRejectedNodesShowInStatus(t *testing.T) {
	f := newFixture(t)
	f.reconciler.Syncer = stubSyncer{res: multinic.Result{
		Nodes:          []viola_NodeConfig{{NodeName: "worker-1"}},
		Sent:           []string{"worker-1"},
		Changed:        []string{"worker-1"},
		SkippedSubnets: []multinic.SkippedSubnet{{SubnetID: "subnet-b", NetworkID: "net-b", Reason: "network net-b reports no MTU"}},
		RejectedNodes:  []multinic.RejectedNode{{NodeName: "worker-2", InstanceID: "vm-2", Reason: "interface multinic0: mtu 9100 is above 9000"}},
	}}
	oc := f.create(f.config("agent-facts"))
	f.reconcile(oc)
	got := f.get(oc)
	assert.Equal(t, []v1alpha1.SkippedSubnet{{SubnetID: "subnet-b", NetworkID: "net-b", Reason: "network net-b reports no MTU"}}, got.Status.SkippedSubnets)
	assert.Equal(t, []v1alpha1.RejectedNode{{NodeName: "worker-2", InstanceID: "vm-2", Reason: "interface multinic0: mtu 9100 is above 9000"}}, got.Status.RejectedNodes)
	_, degraded := readyCondition(t, got)
	assert.Equal(t, "1 node config rejected, 1 subnet without usable MTU", degraded.Message)
}

// A key Secret made with `kubectl create secret --from-file` ends in a
// newline; the operator trims it rather than failing every pass at
// Contrabass.
func TestEncryptKeyFromFileIsTrimmed(t *testing.T) {
	f := newFixture(t)
	oc := f.config("from-file")
	oc.Spec.Settings.ContrabassEncryptKey = ""
	oc.Spec.Secrets.ContrabassEncryptKeySecretRef = &v1alpha1.SecretKeyRef{Name: "key-file", Key: "key"}
	f.create(oc)
	f.secret("key-file", "key", multinictest.EncryptKey+"\n")
	f.reconcile(oc)
	ready, _ := readyCondition(t, f.get(oc))
	assert.Equal(t, v1alpha1.ReasonSynced, ready.Reason, ready.Message)
}

// Each way the key can be missing gets its own message naming what to fix,
// and a key of the wrong length is refused before any request.
func TestEncryptKeyProblemsAreToldApart(t *testing.T) {
	tests := []struct {
		name    string
		ref     *v1alpha1.SecretKeyRef
		secret  map[string][]byte // Secret "k" when not nil
		plain   string
		message string
	}{
		{"referenced Secret missing", &v1alpha1.SecretKeyRef{Name: "k", Key: "key"}, nil, "",
			"spec.secrets.contrabassEncryptKeySecretRef: Secret {ns}/k does not exist"},
		{"referenced key missing", &v1alpha1.SecretKeyRef{Name: "k", Key: "key"}, map[string][]byte{"other": []byte("x")}, "",
			`spec.secrets.contrabassEncryptKeySecretRef: Secret {ns}/k has no key "key" (it has "other")`},
		{"referenced key empty", &v1alpha1.SecretKeyRef{Name: "k", Key: "key"}, map[string][]byte{"key": []byte(" \n")}, "",
			`spec.secrets.contrabassEncryptKeySecretRef: key "key" of Secret {ns}/k is empty`},
		{"referenced key too short", &v1alpha1.SecretKeyRef{Name: "k", Key: "key"}, map[string][]byte{"key": []byte("short\n")}, "",
			`spec.secrets.contrabassEncryptKeySecretRef: key "key" of Secret {ns}/k is 5 bytes long; the Contrabass encrypt key must be 16, 24 or 32 bytes`},
		{"nothing anywhere", nil, nil, "",
			"create Secret {ns}/contrabass-encrypt-key with key CONTRABASS_ENCRYPT_KEY (Secret {ns}/contrabass-encrypt-key does not exist)"},
		{"plain key of wrong length", nil, nil, "seventeen-chars!!",
			"spec.settings.contrabassEncryptKey is 17 bytes long"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			oc := f.config("keys")
			oc.Spec.Settings.ContrabassEncryptKey = tt.plain
			oc.Spec.Secrets.ContrabassEncryptKeySecretRef = tt.ref
			f.create(oc)
			if tt.secret != nil {
				require.NoError(t, k8s.Create(context.Background(), &corev1Secret{ObjectMeta: metav1.ObjectMeta{Name: "k", Namespace: f.ns}, Data: tt.secret}))
			}
			f.reconcile(oc)
			got := f.get(oc)
			ready, _ := readyCondition(t, got)
			assert.Equal(t, "ConfigError", ready.Reason)
			assert.Contains(t, ready.Message, strings.ReplaceAll(tt.message, "{ns}", f.ns))
			assert.Zero(t, f.env.Contrabass.Requests(), "refused before any request")
			assert.NotContains(t, got.Status.LastError, "seventeen")
		})
	}
}

// A DOWN port on a node that was already sent is re-sent at once (the next
// pass, a second later), not one fast interval after it was seen.
func TestDownPortFirstResendIsDueAtDetection(t *testing.T) {
	f := newFixture(t)
	f.env.OpenStack.UpdatePort(f.sample.DownPort, func(p *openstacktest.Port) { p.Status = "ACTIVE" })
	oc := f.create(f.config("goes-down"))
	f.reconcile(oc)
	f.clock.Step(10 * time.Minute)
	f.reconcile(oc)
	require.Len(t, f.env.Viola.Posts(), 1)

	f.env.OpenStack.UpdatePort(f.sample.DownPort, func(p *openstacktest.Port) { p.Status = "DOWN" })
	res := f.reconcile(oc)
	assert.Equal(t, time.Second, res.RequeueAfter, "the first re-send is due now")
	f.clock.Step(time.Second)
	res = f.reconcile(oc)
	require.Len(t, f.env.Viola.Posts(), 2)
	assert.Equal(t, []string{"worker-2"}, nodeNames(f.env.Viola.Posts()[1].Configs))
	assert.Equal(t, 20*time.Second, res.RequeueAfter, "then every fast interval")
	state := f.get(oc).Status.DownPortRetry
	require.NotNil(t, state)
	assert.Zero(t, state.FastAttempts, "the at-once send is not a fast retry")
}

// settings.passTimeout bounds the whole pass: a Keystone that never answers
// cannot hold the worker for openstackTimeout times the retries.
func TestPassTimeoutBoundsAHungDependency(t *testing.T) {
	f := newFixture(t)
	f.pointKeystoneAt(hostileKeystone(t, 0, "", true))
	oc := f.config("hung")
	oc.Spec.Settings.PassTimeout = "2s"
	oc.Spec.Settings.OpenstackTimeout = "5m"
	f.create(oc)
	start := time.Now()
	res := f.reconcile(oc)
	elapsed := time.Since(start)
	assert.Less(t, elapsed, 30*time.Second, "a pass of a hung dependency ends near passTimeout, not 5m per attempt")
	ready, _ := readyCondition(t, f.get(oc))
	assert.Equal(t, metav1.ConditionFalse, ready.Status)
	assert.Contains(t, ready.Message, "passTimeout")
	assert.Equal(t, 30*time.Second, res.RequeueAfter)
}
