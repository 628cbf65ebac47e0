package controller_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/multinic/multinic/multinic"
	"github.com/multinic/multinic/multinic/multinictest"
	"github.com/multinic/multinic/operator/api/v1alpha1"
	"github.com/multinic/multinic/operator/controller"
)

// secretReader serves one Secret, "bad-key", holding key "k".
type secretReader struct{ value []byte }

func (s secretReader) Get(_ context.Context, key client.ObjectKey, obj client.Object, _ ...client.GetOption) error {
	secret, ok := obj.(*corev1.Secret)
	if !ok || key.Name != "bad-key" {
		return apierrors.NewNotFound(schema.GroupResource{Resource: "secrets"}, key.Name)
	}
	secret.Data = map[string][]byte{"k": s.value}
	return nil
}

func (secretReader) List(context.Context, client.ObjectList, ...client.ListOption) error { return nil }

func fuzzBaseSpec() map[string]any {
	return map[string]any{
		"credentials": map[string]any{"openstackProviderID": "prov-1", "projectID": "proj-1"},
		"vmNames":     []any{"vm-1"},
		"subnetID":    "subnet-1",
		"settings":    map[string]any{"contrabassEndpoint": "http://contrabass.local", "contrabassEncryptKey": multinictest.EncryptKey},
	}
}

// FuzzSyncConfig feeds CR specs (seeded with the bad-CR table, whatever
// the API server would refuse included: a stored object may predate the
// rules) and Secret contents to the CR → sync config step. It must never
// panic, always give polling the requeue can use, and either a Config
// within the SPEC bounds or a ConfigError (SubnetRequired for a spec
// without a subnet selector) whose message stays bounded and never carries
// the key.
func FuzzSyncConfig(f *testing.F) {
	for _, c := range badCRs {
		spec := fuzzBaseSpec()
		c.mutate(spec)
		data, err := json.Marshal(spec)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data, []byte(multinictest.EncryptKey+"\n"))
	}
	for _, value := range []string{"", " \n", "short", strings.Repeat("k", 33), multinictest.EncryptKey} {
		spec := fuzzBaseSpec()
		spec["secrets"] = map[string]any{"contrabassEncryptKeySecretRef": map[string]any{"name": "bad-key", "key": "k"}}
		data, _ := json.Marshal(spec)
		f.Add(data, []byte(value))
	}
	f.Fuzz(func(t *testing.T, specJSON, secretValue []byte) {
		var oc v1alpha1.OpenstackConfig
		oc.Namespace = "ns"
		if json.Unmarshal(specJSON, &oc.Spec) != nil {
			return // not an object of the schema's types; the API server refuses it
		}
		r := &controller.Reconciler{APIReader: secretReader{value: secretValue}, Clock: clock.RealClock{}}
		r.Defaults.Viola.Endpoint = "http://viola.local"
		cfg, poll, err := controller.SyncConfig(context.Background(), r, &oc)
		for i, d := range poll[:4] {
			if d < time.Second || d > 24*time.Hour {
				t.Fatalf("poll interval %d = %s is outside 1s-24h", i, d)
			}
		}
		if resync := poll[4]; resync != 0 && (resync < time.Minute || resync > 7*24*time.Hour) {
			t.Fatalf("resync %s is outside 1m-7d", resync)
		}
		if err != nil {
			if reason := multinic.ReasonOf(err); reason != multinic.ReasonConfig && reason != multinic.ReasonSubnetRequired {
				t.Fatalf("reason %q, want ConfigError or SubnetRequired: %v", reason, err)
			}
			msg := controller.Brief(err.Error())
			if len(msg) > v1alpha1.MaxMessageLength+len("…") || strings.Contains(msg, "\n") {
				t.Fatalf("message not bounded to one line: %q", msg)
			}
			if key := strings.TrimSpace(string(secretValue)); len(key) >= 4 && strings.Contains(err.Error(), key) {
				t.Fatalf("the key leaks into the error: %v", err)
			}
			return
		}
		if n := len(cfg.EncryptKey); n != 16 && n != 24 && n != 32 || strings.TrimSpace(cfg.EncryptKey) != cfg.EncryptKey {
			t.Fatalf("key of %d bytes (or untrimmed) accepted", n)
		}
		for name, d := range map[string]time.Duration{"pass": cfg.PassTimeout, "contrabass": cfg.Contrabass.Timeout, "openstack": cfg.OpenStack.Timeout} {
			if d != 0 && (d < time.Second || d > 10*time.Minute) {
				t.Fatalf("%s timeout %s is outside 1s-10m", name, d)
			}
		}
		if cfg.PassTimeout == 0 {
			t.Fatal("no pass deadline")
		}
	})
}
