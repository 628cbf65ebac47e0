package v1alpha1_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/multinic/multinic/internal/testenv"
	"github.com/multinic/multinic/operator/api/v1alpha1"
)

var k8s client.Client

func TestMain(m *testing.M) {
	crds, err := testenv.CRDDir()
	if err != nil {
		panic(err)
	}
	env, cfg, err := testenv.Start(crds)
	if err != nil {
		panic(err)
	}
	scheme := runtime.NewScheme()
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		panic(err)
	}
	k8s, err = client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		panic(err)
	}
	code := m.Run()
	_ = env.Stop()
	os.Exit(code)
}

func validSpec() v1alpha1.OpenstackConfigSpec {
	return v1alpha1.OpenstackConfigSpec{
		Credentials: v1alpha1.Credentials{OpenstackProviderID: "prov-1", ProjectID: "proj-1"},
		VMNames:     []string{"7c6e5f9a-0000-4000-8000-000000000001"},
		SubnetID:    "subnet-1",
		Settings:    v1alpha1.Settings{ContrabassEndpoint: "http://contrabass.local"},
	}
}

func TestAPIServerAppliesDefaults(t *testing.T) {
	oc := &v1alpha1.OpenstackConfig{ObjectMeta: metav1.ObjectMeta{Name: "defaults", Namespace: "default"}, Spec: validSpec()}
	require.NoError(t, k8s.Create(context.Background(), oc))
	t.Cleanup(func() { _ = k8s.Delete(context.Background(), oc) })
	s := oc.Spec.Settings
	assert.Equal(t, v1alpha1.Duration("30s"), s.ContrabassTimeout)
	assert.Equal(t, v1alpha1.Duration("30s"), s.OpenstackTimeout)
	assert.Equal(t, "public", s.OpenstackEndpointInterface)
	assert.Equal(t, []string{"ACTIVE", "DOWN"}, s.OpenstackPortAllowedStatuses)
	assert.Equal(t, int32(5), *s.DownPortFastRetryMax)
	assert.Equal(t, v1alpha1.Duration("20s"), s.PollFastInterval)
	assert.Equal(t, v1alpha1.Duration("2m"), s.PollSlowInterval)
	assert.Equal(t, v1alpha1.Duration("30s"), s.PollErrorInterval)
	assert.Equal(t, v1alpha1.Duration("3m"), s.PollFastWindow)
	assert.Equal(t, v1alpha1.Duration("30m"), s.ResyncInterval)
	assert.Equal(t, v1alpha1.Duration("1m"), s.PassTimeout)
}

// The API server must refuse a CR that cannot work, before the operator
// ever sees it. Each case is sent as raw JSON, since some are not even
// expressible with the Go types.
func TestAPIServerRejectsInvalidConfigs(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(spec map[string]any)
		field  string // part of the API server's message
	}{
		{"missing credentials", func(s map[string]any) { delete(s, "credentials") }, "credentials"},
		{"empty provider id", func(s map[string]any) { s["credentials"].(map[string]any)["openstackProviderID"] = "" }, "openstackProviderID"},
		{"missing project id", func(s map[string]any) { delete(s["credentials"].(map[string]any), "projectID") }, "projectID"},
		{"empty vmNames", func(s map[string]any) { s["vmNames"] = []any{} }, "vmNames"},
		{"missing vmNames", func(s map[string]any) { delete(s, "vmNames") }, "vmNames"},
		{"no subnet selector", func(s map[string]any) { delete(s, "subnetID") }, "one of subnetIDs, subnetID or subnetName is required"},
		{"empty subnet list only", func(s map[string]any) { delete(s, "subnetID"); s["subnetIDs"] = []any{} }, "one of subnetIDs, subnetID or subnetName is required"},
		{"missing contrabass endpoint", func(s map[string]any) { delete(s["settings"].(map[string]any), "contrabassEndpoint") }, "contrabassEndpoint"},
		{"contrabass endpoint not a URL", func(s map[string]any) { s["settings"].(map[string]any)["contrabassEndpoint"] = "contrabass:8080" }, "contrabassEndpoint"},
		{"bad duration", func(s map[string]any) { s["settings"].(map[string]any)["pollFastInterval"] = "20 seconds" }, "pollFastInterval"},
		{"negative-looking duration", func(s map[string]any) { s["settings"].(map[string]any)["resyncInterval"] = "-5m" }, "resyncInterval"},
		{"unknown endpoint interface", func(s map[string]any) { s["settings"].(map[string]any)["openstackEndpointInterface"] = "private" }, "openstackEndpointInterface"},
		{"bad port status", func(s map[string]any) {
			s["settings"].(map[string]any)["openstackPortAllowedStatuses"] = []any{"ACTIVE,DOWN"}
		}, "openstackPortAllowedStatuses"},
		{"negative fast retry max", func(s map[string]any) { s["settings"].(map[string]any)["downPortFastRetryMax"] = -1 }, "downPortFastRetryMax"},
		{"secret ref without key", func(s map[string]any) {
			s["secrets"] = map[string]any{"contrabassEncryptKeySecretRef": map[string]any{"name": "k"}}
		}, "key"},
		// Issue 10.2/10.3: every duration is bounded, so nothing stored can
		// overflow Go's parser, stop polling (0s) or hot-loop (1ns).
		{"duration overflowing Go's parser", setting("pollFastInterval", "9999999999h"), "spec.settings.pollFastInterval"},
		{"zero slow interval", setting("pollSlowInterval", "0s"), "spec.settings.pollSlowInterval"},
		{"nanosecond error interval", setting("pollErrorInterval", "1ns"), "spec.settings.pollErrorInterval"},
		{"fast window over a day", setting("pollFastWindow", "25h"), "spec.settings.pollFastWindow"},
		{"resync under a minute", setting("resyncInterval", "30s"), "spec.settings.resyncInterval"},
		{"resync over a week", setting("resyncInterval", "169h"), "spec.settings.resyncInterval"},
		{"contrabass timeout over 10m", setting("contrabassTimeout", "11m"), "spec.settings.contrabassTimeout"},
		{"openstack timeout under 1s", setting("openstackTimeout", "500ms"), "spec.settings.openstackTimeout"},
		{"zero pass timeout", setting("passTimeout", "0s"), "spec.settings.passTimeout"},
		{"pass timeout overflowing", setting("passTimeout", "99999999999999999999s"), "spec.settings.passTimeout"},
		{"overlong duration", setting("pollFastInterval", strings.Repeat("1", 100)+"s"), "spec.settings.pollFastInterval"},
		{"non-string duration", setting("pollFastInterval", 20), "spec.settings.pollFastInterval"},
		{"overlong endpoint", setting("contrabassEndpoint", "http://"+strings.Repeat("a", 3000)), "spec.settings.contrabassEndpoint"},
		{"status with a space", setting("openstackPortAllowedStatuses", []any{"N A"}), "spec.settings.openstackPortAllowedStatuses[0]"},
		{"secret name with upper case", func(s map[string]any) {
			s["secrets"] = map[string]any{"contrabassEncryptKeySecretRef": map[string]any{"name": "My-Key", "key": "k"}}
		}, "spec.secrets.contrabassEncryptKeySecretRef.name"},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			spec := map[string]any{
				"credentials": map[string]any{"openstackProviderID": "prov-1", "projectID": "proj-1"},
				"vmNames":     []any{"vm-1"},
				"subnetID":    "subnet-1",
				"settings":    map[string]any{"contrabassEndpoint": "http://contrabass.local"},
			}
			tc.mutate(spec)
			obj := &unstructuredConfig{name: fmt.Sprintf("invalid-%d", i), spec: spec}
			err := k8s.Create(context.Background(), obj.toUnstructured())
			require.Error(t, err)
			assert.True(t, apierrors.IsInvalid(err), "want 422 Invalid, got %v", err)
			assert.Contains(t, err.Error(), tc.field)
		})
	}
}

func TestStatusIsASubresource(t *testing.T) {
	ctx := context.Background()
	oc := &v1alpha1.OpenstackConfig{ObjectMeta: metav1.ObjectMeta{Name: "status-sub", Namespace: "default"}, Spec: validSpec()}
	require.NoError(t, k8s.Create(ctx, oc))
	t.Cleanup(func() { _ = k8s.Delete(ctx, oc) })
	oc.Status.Nodes = 3
	oc.Status.DownPortRetry = &v1alpha1.DownPortRetry{Hash: "h", FastAttempts: 2}
	require.NoError(t, k8s.Update(ctx, oc)) // a spec update ignores status
	var got v1alpha1.OpenstackConfig
	require.NoError(t, k8s.Get(ctx, client.ObjectKeyFromObject(oc), &got))
	assert.Zero(t, got.Status.Nodes)
	got.Status.Nodes = 3
	got.Spec.Settings.DownPortFastRetryMax = ptr.To[int32](9)
	require.NoError(t, k8s.Status().Update(ctx, &got)) // a status update ignores spec
	var again v1alpha1.OpenstackConfig
	require.NoError(t, k8s.Get(ctx, client.ObjectKeyFromObject(oc), &again))
	assert.Equal(t, int32(3), again.Status.Nodes)
	assert.Equal(t, int32(5), *again.Spec.Settings.DownPortFastRetryMax)
}

func setting(name string, value any) func(map[string]any) {
	return func(s map[string]any) { s["settings"].(map[string]any)[name] = value }
}

// The bounds are inclusive, 0s still disables resync, and Neutron's real
// statuses (N/A included) are accepted.
func TestAPIServerAcceptsBoundaryValues(t *testing.T) {
	ctx := context.Background()
	oc := &v1alpha1.OpenstackConfig{ObjectMeta: metav1.ObjectMeta{Name: "boundaries", Namespace: "default"}, Spec: validSpec()}
	s := &oc.Spec.Settings
	s.PollFastInterval, s.PollSlowInterval, s.PollErrorInterval, s.PollFastWindow = "1s", "24h", "1h30m", "1000ms"
	s.ResyncInterval = "0s"
	s.ContrabassTimeout, s.OpenstackTimeout, s.PassTimeout = "1s", "10m", "600s"
	s.OpenstackPortAllowedStatuses = []string{"ACTIVE", "DOWN", "BUILD", "ERROR", "N/A", "*"}
	require.NoError(t, k8s.Create(ctx, oc))
	t.Cleanup(func() { _ = k8s.Delete(ctx, oc) })

	week := oc.DeepCopy()
	week.Name, week.ResourceVersion = "boundaries-week", ""
	week.Spec.Settings.ResyncInterval = "168h"
	require.NoError(t, k8s.Create(ctx, week))
	t.Cleanup(func() { _ = k8s.Delete(ctx, week) })
}
