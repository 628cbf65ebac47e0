package controller_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/multinic/multinic/multinic/multinictest"
	"github.com/multinic/multinic/openstack/openstacktest"
	"github.com/multinic/multinic/operator/api/v1alpha1"
)

// badCR is one hostile OpenstackConfig: refused at admission with a
// message naming field, or (field empty) accepted and handled.
type badCR struct {
	name   string
	mutate func(spec map[string]any)
	field  string // the field path the API server's message names
	// reason is (the start of) the Ready reason an accepted CR must reach;
	// "" accepts any (the library decides, e.g. for hostile VM IDs).
	reason string
	secret map[string]string // Secret "bad-key" in the namespace, when set
}

func set(field string, value any) func(map[string]any) {
	path := strings.Split(field, ".")
	return func(spec map[string]any) {
		m := spec
		for _, p := range path[:len(path)-1] {
			next, ok := m[p].(map[string]any)
			if !ok {
				next = map[string]any{}
				m[p] = next
			}
			m = next
		}
		m[path[len(path)-1]] = value
	}
}

func manyStrings(n int, format string) []any {
	out := make([]any, n)
	for i := range out {
		out[i] = fmt.Sprintf(format, i)
	}
	return out
}

// letterStatuses are n distinct statuses the pattern accepts.
func letterStatuses(n int) []any {
	out := make([]any, n)
	for i := range out {
		out[i] = "S" + strings.Repeat("A", i+1)
	}
	return out
}

// badCRs are the table, also the seeds of FuzzSyncConfig's hostile values.
var badCRs = []badCR{
	// Refused at admission.
	{name: "provider id too long", mutate: set("credentials.openstackProviderID", strings.Repeat("p", 300)), field: "spec.credentials.openstackProviderID"},
	{name: "project id of 10 KiB", mutate: set("credentials.projectID", strings.Repeat("x", 10<<10)), field: "spec.credentials.projectID"},
	{name: "5001 VMs", mutate: set("vmNames", manyStrings(5001, "vm-%d")), field: "spec.vmNames"},
	{name: "VM id too long", mutate: set("vmNames", []any{strings.Repeat("v", 65)}), field: "spec.vmNames[0]"},
	{name: "empty VM id", mutate: set("vmNames", []any{""}), field: "spec.vmNames[0]"},
	{name: "vmNames not a list", mutate: set("vmNames", "vm-1"), field: "spec.vmNames"},
	{name: "17 subnets", mutate: set("subnetIDs", manyStrings(17, "subnet-%d")), field: "spec.subnetIDs"},
	{name: "subnet name of 1000 characters", mutate: set("subnetName", strings.Repeat("s", 1000)), field: "spec.subnetName"},
	{name: "empty contrabass endpoint", mutate: set("settings.contrabassEndpoint", ""), field: "spec.settings.contrabassEndpoint"},
	{name: "ftp contrabass endpoint", mutate: set("settings.contrabassEndpoint", "ftp://contrabass"), field: "spec.settings.contrabassEndpoint"},
	{name: "endpoint with a space", mutate: set("settings.contrabassEndpoint", "http://contra bass"), field: "spec.settings.contrabassEndpoint"},
	{name: "script viola endpoint", mutate: set("settings.violaEndpoint", "javascript:alert(1)"), field: "spec.settings.violaEndpoint"},
	{name: "neutron endpoint with a newline", mutate: set("settings.openstackNeutronEndpoint", "http://neutron\n:9696"), field: "spec.settings.openstackNeutronEndpoint"},
	{name: "nova endpoint of 3000 characters", mutate: set("settings.openstackNovaEndpoint", "http://"+strings.Repeat("n", 3000)), field: "spec.settings.openstackNovaEndpoint"},
	{name: "duration overflowing Go", mutate: set("settings.pollFastInterval", "9999999999h"), field: "spec.settings.pollFastInterval"},
	{name: "zero slow interval", mutate: set("settings.pollSlowInterval", "0s"), field: "spec.settings.pollSlowInterval"},
	{name: "nanosecond error interval", mutate: set("settings.pollErrorInterval", "1ns"), field: "spec.settings.pollErrorInterval"},
	{name: "one-second resync", mutate: set("settings.resyncInterval", "1s"), field: "spec.settings.resyncInterval"},
	{name: "two-day grace period", mutate: set("settings.downPortGracePeriod", "48h"), field: "spec.settings.downPortGracePeriod"},
	{name: "unknown removal policy", mutate: set("settings.removalPolicy", "Remove"), field: "spec.settings.removalPolicy"},
	{name: "hour-long pass timeout", mutate: set("settings.passTimeout", "1h"), field: "spec.settings.passTimeout"},
	{name: "negative timeout", mutate: set("settings.contrabassTimeout", "-1s"), field: "spec.settings.contrabassTimeout"},
	{name: "duration in days", mutate: set("settings.pollSlowInterval", "1d"), field: "spec.settings.pollSlowInterval"},
	{name: "shell in a status", mutate: set("settings.openstackPortAllowedStatuses", []any{"ACTIVE; rm -rf /"}), field: "spec.settings.openstackPortAllowedStatuses[0]"},
	{name: "no statuses", mutate: set("settings.openstackPortAllowedStatuses", []any{}), field: "spec.settings.openstackPortAllowedStatuses"},
	{name: "17 statuses", mutate: set("settings.openstackPortAllowedStatuses", letterStatuses(17)), field: "spec.settings.openstackPortAllowedStatuses"},
	{name: "billion fast retries", mutate: set("settings.downPortFastRetryMax", 1_000_000_000), field: "spec.settings.downPortFastRetryMax"},
	{name: "upper-case interface", mutate: set("settings.openstackEndpointInterface", "PUBLIC"), field: "spec.settings.openstackEndpointInterface"},
	{name: "plain key of 65 characters", mutate: set("settings.contrabassEncryptKey", strings.Repeat("k", 65)), field: "spec.settings.contrabassEncryptKey"},
	{name: "Secret name with a path", mutate: set("secrets.contrabassEncryptKeySecretRef", map[string]any{"name": "../etc", "key": "k"}), field: "spec.secrets.contrabassEncryptKeySecretRef.name"},
	{name: "Secret key with a slash", mutate: set("secrets.contrabassEncryptKeySecretRef", map[string]any{"name": "bad-key", "key": "a/b"}), field: "spec.secrets.contrabassEncryptKeySecretRef.key"},
	{name: "metadata key of 300 characters", mutate: set("settings.openstackNodeNameMetadataKey", strings.Repeat("m", 300)), field: "spec.settings.openstackNodeNameMetadataKey"},
	{name: "region of 300 characters", mutate: set("settings.openstackEndpointRegion", strings.Repeat("r", 300)), field: "spec.settings.openstackEndpointRegion"},

	// Accepted, then handled.
	{name: "unknown provider", mutate: set("credentials.openstackProviderID", "no-such-provider"), reason: "ContrabassError"},
	{name: "missing Secret", mutate: set("secrets.contrabassEncryptKeySecretRef", map[string]any{"name": "not-there", "key": "k"}), reason: "ConfigError"},
	{name: "Secret key of wrong length", mutate: set("secrets.contrabassEncryptKeySecretRef", map[string]any{"name": "bad-key", "key": "short"}), reason: "ConfigError",
		secret: map[string]string{"short": "0123456789"}},
	{name: "Secret key with a newline", mutate: set("secrets.contrabassEncryptKeySecretRef", map[string]any{"name": "bad-key", "key": "newline"}), reason: v1alpha1.ReasonSynced,
		secret: map[string]string{"newline": multinictest.EncryptKey + "\n"}},
	{name: "Secret key missing", mutate: set("secrets.contrabassEncryptKeySecretRef", map[string]any{"name": "bad-key", "key": "absent"}), reason: "ConfigError",
		secret: map[string]string{"other": "x"}},
	{name: "no key anywhere", mutate: set("settings.contrabassEncryptKey", ""), reason: "ConfigError"},
	{name: "plain key of wrong length", mutate: set("settings.contrabassEncryptKey", "seventeen-chars!!"), reason: "ConfigError"},
	{name: "contrabass refusing connections", mutate: set("settings.contrabassEndpoint", "http://127.0.0.1:1"), reason: "ContrabassError"},
	{name: "viola refusing connections", mutate: set("settings.violaEndpoint", "http://127.0.0.1:1"), reason: "ViolaPostError"},
	{name: "neutron refusing connections", mutate: set("settings.openstackNeutronEndpoint", "http://127.0.0.1:1"), reason: "Neutron"},
	{name: "endpoint with credentials", mutate: set("settings.violaEndpoint", "http://user:hunter2@127.0.0.1:1"), reason: "ViolaPostError"},
	{name: "unknown subnet name", mutate: func(s map[string]any) { delete(s, "subnetIDs"); s["subnetName"] = "no-such-subnet" }, reason: "SubnetNotFound"},
	{name: "hostile subnet IDs", mutate: set("subnetIDs", []any{"../../etc/passwd", "?x=1&y=2", "ñ\u202e"})},
	{name: "hostile VM IDs", mutate: set("vmNames", []any{"'; DROP TABLE ports; --", "a&device_id=b", "%00", "ノード-1", "🙂"})},
	{name: "duplicate VM IDs", mutate: set("vmNames", []any{"vm-dup", "vm-dup"})},
	{name: "5000 unknown VMs", mutate: set("vmNames", manyStrings(5000, "00000000-0000-4000-8000-%012d"))},
	{name: "only N/A ports", mutate: set("settings.openstackPortAllowedStatuses", []any{"N/A"})},
	{name: "unicode metadata key", mutate: set("settings.openstackNodeNameMetadataKey", "ключ-узла")},
	{name: "unicode routing key", mutate: set("credentials.k8sProviderID", "биз-кластер\u0000")},
	{name: "resync disabled, minimum intervals", mutate: func(s map[string]any) {
		set("settings.resyncInterval", "0s")(s)
		set("settings.pollFastInterval", "1s")(s)
		set("settings.pollErrorInterval", "1s")(s)
		set("settings.passTimeout", "1s")(s)
	}},
}

// TestBadConfigsAreRefusedOrHandled runs the operator (a real manager on a
// real API server) against the bad CRs: each is refused at admission with a
// message naming the field, or accepted and handled without hot-looping
// against the dependencies, without crashing and without stalling a good
// CR created after all of them.
func TestBadConfigsAreRefusedOrHandled(t *testing.T) {
	require.GreaterOrEqual(t, len(badCRs), 30)
	ctx := context.Background()
	f := newFixture(t)
	f.reconciler.MaxConcurrentReconciles = 4
	stopped := f.runManager(logr.Logger{})

	secret := map[string][]byte{}
	for _, c := range badCRs {
		for k, v := range c.secret {
			secret[k] = []byte(v)
		}
	}
	require.NoError(t, k8s.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "bad-key", Namespace: f.ns}, Data: secret}))

	var accepted []badCR
	for i, c := range badCRs {
		base, err := runtime.DefaultUnstructuredConverter.ToUnstructured(f.config("x"))
		require.NoError(t, err)
		spec := base["spec"].(map[string]any)
		// A routing key each: CRs of one key and one VM list would leave
		// the VMs to the oldest (one owner per VM, SPEC §5).
		spec["credentials"].(map[string]any)["k8sProviderID"] = fmt.Sprintf("bad-%02d", i)
		c.mutate(spec)
		u := &unstructured.Unstructured{Object: map[string]any{"spec": spec}}
		u.SetGroupVersionKind(v1alpha1.GroupVersion.WithKind("OpenstackConfig"))
		u.SetNamespace(f.ns)
		u.SetName(fmt.Sprintf("bad-%02d", i))
		err = k8s.Create(ctx, u)
		if c.field != "" {
			if assert.Error(t, err, c.name) {
				assert.True(t, apierrors.IsInvalid(err), "%s: want 422 Invalid, got %v", c.name, err)
				assert.Contains(t, err.Error(), c.field, c.name)
			}
			continue
		}
		require.NoError(t, err, c.name)
		cleanupConfig(t, client.ObjectKeyFromObject(u))
		accepted = append(accepted, badCR{name: u.GetName(), reason: c.reason, field: c.name})
	}
	require.NotEmpty(t, accepted)

	good := f.create(f.config("good"))
	require.Eventually(t, func() bool {
		c := f.ready(good.Name)
		return c != nil && c.Status == "True"
	}, 60*time.Second, 100*time.Millisecond, "a good CR syncs next to the bad ones")
	for _, c := range accepted {
		require.Eventually(t, func() bool { return f.ready(c.name) != nil }, 60*time.Second, 100*time.Millisecond, "%s (%s) gets a condition", c.name, c.field)
	}

	// No hot loop: over a window, the dependencies see a handful of passes,
	// not hundreds (1ns intervals made 444 requests in 10s before).
	before := f.env.Contrabass.Requests() + f.env.OpenStack.Requests(openstacktest.RouteTokens)
	time.Sleep(5 * time.Second)
	calls := f.env.Contrabass.Requests() + f.env.OpenStack.Requests(openstacktest.RouteTokens) - before
	assert.LessOrEqual(t, calls, 4*(len(accepted)+1), "Contrabass and Keystone requests in 5s")
	select {
	case <-stopped:
		t.Fatal("the manager stopped")
	default:
	}

	for _, c := range accepted {
		cond := f.ready(c.name)
		require.NotNil(t, cond)
		switch {
		case c.reason == v1alpha1.ReasonSynced:
			// A second pass (the Secret's create event may reach the CR
			// too) finds nothing new: NoChange is as good, Ready is what
			// counts.
			assert.Equal(t, metav1.ConditionTrue, cond.Status, "%s (%s): %s: %s", c.name, c.field, cond.Reason, cond.Message)
			assert.Contains(t, []string{v1alpha1.ReasonSynced, v1alpha1.ReasonNoChange}, cond.Reason, c.name)
		case c.reason != "":
			assert.True(t, strings.HasPrefix(cond.Reason, c.reason), "%s (%s): want %s, got %s: %s", c.name, c.field, c.reason, cond.Reason, cond.Message)
		}
		assert.NotEmpty(t, cond.Reason)
		assert.LessOrEqual(t, len(cond.Message), v1alpha1.MaxMessageLength+len("…"), c.name)
		assert.NotContains(t, cond.Message, "\n", c.name)
		assert.NotContains(t, cond.Message, "hunter2", c.name)
		t.Logf("%s (%s): %s %s: %.150s", c.name, c.field, cond.Status, cond.Reason, cond.Message)
	}
}

const crdName = "openstackconfigs.multinic.example.com"

// withoutDurationRules installs the CRD as it was before the duration
// bounds existed (pattern only) until the test ends, then puts the real one
// back and waits until the API server enforces it again.
func withoutDurationRules(t *testing.T, probe func() error) {
	t.Helper()
	ctx := context.Background()
	crd := &unstructured.Unstructured{}
	crd.SetGroupVersionKind(schema.GroupVersionKind{Group: "apiextensions.k8s.io", Version: "v1", Kind: "CustomResourceDefinition"})
	require.NoError(t, k8s.Get(ctx, client.ObjectKey{Name: crdName}, crd))
	original, found, err := unstructured.NestedFieldCopy(crd.Object, "spec")
	require.NoError(t, err)
	require.True(t, found)

	versions, _, _ := unstructured.NestedSlice(crd.Object, "spec", "versions")
	settingsPath := []string{"schema", "openAPIV3Schema", "properties", "spec", "properties", "settings", "properties"}
	settings, found, err := unstructured.NestedMap(versions[0].(map[string]any), settingsPath...)
	require.NoError(t, err)
	require.True(t, found)
	stripped := 0
	for _, prop := range settings {
		if p := prop.(map[string]any); p["x-kubernetes-validations"] != nil {
			delete(p, "x-kubernetes-validations")
			stripped++
		}
	}
	require.Positive(t, stripped)
	require.NoError(t, unstructured.SetNestedMap(versions[0].(map[string]any), settings, settingsPath...))
	require.NoError(t, unstructured.SetNestedSlice(crd.Object, versions, "spec", "versions"))
	require.NoError(t, k8s.Update(ctx, crd))

	t.Cleanup(func() {
		var latest unstructured.Unstructured
		latest.SetGroupVersionKind(crd.GroupVersionKind())
		require.NoError(t, k8s.Get(ctx, client.ObjectKey{Name: crdName}, &latest))
		require.NoError(t, unstructured.SetNestedField(latest.Object, original, "spec"))
		require.NoError(t, k8s.Update(ctx, &latest))
		require.Eventually(t, func() bool { return apierrors.IsInvalid(probe()) }, 30*time.Second, 100*time.Millisecond,
			"the restored CRD refuses bad durations again")
	})
}

// SPEC §8 / issue 10.2: a duration stored before the schema bounded it
// (9999999999h matches the old pattern but overflows Go's parser) must not
// fail the informer's list, which would stop every CR. It is reported on
// its own CR as a ConfigError naming the field, and a good CR next to it
// syncs.
func TestStoredBadDurationDoesNotStallOtherConfigs(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	bad := f.config("stored-bad")
	bad.Spec.Settings.PollFastInterval = "9999999999h"
	dryRun := func() error {
		probe := f.config("probe")
		probe.Spec.Settings.PollFastInterval = "9999999999h"
		return k8s.Create(ctx, probe, client.DryRunAll)
	}
	require.True(t, apierrors.IsInvalid(dryRun()), "the schema refuses it today")

	withoutDurationRules(t, dryRun)
	// Unstructured, so that storing it does not depend on decoding it.
	raw, err := runtime.DefaultUnstructuredConverter.ToUnstructured(bad)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		u := &unstructured.Unstructured{Object: runtime.DeepCopyJSON(raw)}
		u.SetGroupVersionKind(v1alpha1.GroupVersion.WithKind("OpenstackConfig"))
		return k8s.Create(ctx, u) == nil
	}, 30*time.Second, 100*time.Millisecond, "the CRD without the rules stores the value")
	cleanupConfig(t, client.ObjectKeyFromObject(bad))

	f.runManager(logr.Logger{})

	good := f.create(f.config("good-neighbour"))
	require.Eventually(t, func() bool {
		c := f.ready(good.Name)
		return c != nil && c.Status == "True"
	}, 30*time.Second, 50*time.Millisecond, "a good CR syncs next to the bad one")
	require.Eventually(t, func() bool { return f.ready(bad.Name) != nil }, 30*time.Second, 50*time.Millisecond)
	cond := f.ready(bad.Name)
	assert.Equal(t, "ConfigError", cond.Reason)
	assert.Contains(t, cond.Message, `spec.settings.pollFastInterval "9999999999h" is not a Go duration`)
	assert.NotContains(t, cond.Message, "\n")
}
