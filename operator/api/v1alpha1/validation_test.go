package v1alpha1_test

import (
	"context"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/multinic/multinic/operator/api/v1alpha1"
	"github.com/multinic/multinic/operator/testenv"
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
	assert.Equal(t, "30s", s.ContrabassTimeout.Duration.String())
	assert.Equal(t, "30s", s.OpenstackTimeout.Duration.String())
	assert.Equal(t, "public", s.OpenstackEndpointInterface)
	assert.Equal(t, []string{"ACTIVE", "DOWN"}, s.OpenstackPortAllowedStatuses)
	assert.Equal(t, int32(5), *s.DownPortFastRetryMax)
	assert.Equal(t, "20s", s.PollFastInterval.Duration.String())
	assert.Equal(t, "2m0s", s.PollSlowInterval.Duration.String())
	assert.Equal(t, "30s", s.PollErrorInterval.Duration.String())
	assert.Equal(t, "3m0s", s.PollFastWindow.Duration.String())
	assert.Equal(t, "30m0s", s.ResyncInterval.Duration.String())
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
			obj := &unstructuredConfig{name: "invalid-" + string(rune('a'+i)), spec: spec}
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
