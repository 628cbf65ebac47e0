package cli_test

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/multinic/multinic/multinic"
	"github.com/multinic/multinic/multinic/multinictest"
	"github.com/multinic/multinic/openstack/openstacktest"
	"github.com/multinic/multinic/operator/api/v1alpha1"
	"github.com/multinic/multinic/operator/crconfig"
)

// refusedURL is an address nothing listens on; output shows it as {{name}}.
func (w *world) refusedURL(t *testing.T, name string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	if w.placeholders == nil {
		w.placeholders = map[string]string{}
	}
	w.placeholders[addr] = "{{" + name + "}}"
	return "http://" + addr
}

// TestCheckFile runs check on a CR file with no cluster, against the fakes
// with one fault each, and compares every line with its golden file.
func TestCheckFile(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, w *world) (cr string, args []string)
		code  int
		fails []string // steps that must fail
	}{
		{
			name: "ok",
			setup: func(_ *testing.T, w *world) (string, []string) {
				return w.crYAML(subnetsAB, "", false), []string{"--inventory-url", w.inventoryURL}
			},
		},
		{
			name: "contrabass-down",
			setup: func(t *testing.T, w *world) (string, []string) {
				w.env.Contrabass.Close()
				return w.crYAML(subnetsAB, "", false), nil
			},
			code:  1,
			fails: []string{"contrabass"},
		},
		{
			name: "contrabass-500",
			setup: func(_ *testing.T, w *world) (string, []string) {
				w.env.Contrabass.Fail(http.StatusInternalServerError, -1)
				return w.crYAML(subnetsAB, "", false), nil
			},
			code:  1,
			fails: []string{"contrabass"},
		},
		{
			name: "wrong-key",
			setup: func(t *testing.T, w *world) (string, []string) {
				return w.crYAML(subnetsAB, "", false), []string{"--encrypt-key-file", w.file(t, "wrong-key", "0123456789abcdef\n")}
			},
			code:  1,
			fails: []string{"decrypt"},
		},
		{
			name: "key-too-short",
			setup: func(t *testing.T, w *world) (string, []string) {
				return w.crYAML(subnetsAB, "", false), []string{"--encrypt-key-file", w.file(t, "short-key", "conba\n")}
			},
			code:  1,
			fails: []string{"encrypt-key"},
		},
		{
			name: "key-in-a-secret",
			setup: func(_ *testing.T, w *world) (string, []string) {
				return w.crYAML(subnetsAB+"  secrets:\n    contrabassEncryptKeySecretRef: {name: my-key, key: KEY}\n", "", false), nil
			},
			code:  1,
			fails: []string{"encrypt-key"},
		},
		{
			name: "subnet-not-found",
			setup: func(_ *testing.T, w *world) (string, []string) {
				return w.crYAML("  subnetName: no-such-subnet\n", "", false), nil
			},
			code:  1,
			fails: []string{"subnets"},
		},
		{
			name: "no-network-endpoint",
			setup: func(_ *testing.T, w *world) (string, []string) {
				w.env.OpenStack.OmitFromCatalog("network")
				return w.crYAML(subnetsAB, "", false), nil
			},
			code:  1,
			fails: []string{"catalog"},
		},
		{
			name: "bad-node-name-and-down-only",
			setup: func(_ *testing.T, w *world) (string, []string) {
				// Nova keeps Latin-1 letters in the hostname it makes.
				w.env.OpenStack.AddVM(openstacktest.VM{ID: w.sample.VMIDs[0], Name: "Wörker 1"})
				return w.crYAML("  subnetIDs: [subnet-b]\n", "    openstackPortAllowedStatuses: [ACTIVE]\n", false), nil
			},
			code:  1,
			fails: []string{"ports", "nova"},
		},
		{
			name: "viola-and-inventory-down",
			setup: func(t *testing.T, w *world) (string, []string) {
				return w.crYAML(subnetsAB, "", true), []string{"--viola-endpoint", w.refusedURL(t, "refused-viola"), "--inventory-url", w.refusedURL(t, "refused-inventory")}
			},
			code:  1,
			fails: []string{"viola", "inventory"},
		},
		{
			name: "missing-settings",
			setup: func(_ *testing.T, w *world) (string, []string) {
				return `apiVersion: multinic.example.com/v1alpha1
kind: OpenstackConfig
metadata: {name: biz-cluster-1}
spec:
  credentials: {openstackProviderID: provider-1, projectID: project-1}
  vmNames: [vm-1]
  subnetID: subnet-a
  settings:
    contrabassEncryptKey: conbaEncrypt2025
`, nil
			},
			code:  1,
			fails: []string{"settings"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			cr, extra := tt.setup(t, w)
			args := append([]string{"check", "-f", w.file(t, "cr.yaml", cr)}, extra...)
			if !containsFlag(extra, "--encrypt-key-file") && tt.name != "missing-settings" && tt.name != "key-in-a-secret" {
				args = append(args, "--encrypt-key-file", w.file(t, "key", multinictest.EncryptKey+"\n"))
			}
			got := run(t, args...)
			assert.Equal(t, tt.code, got.code, "stderr: %s", got.stderr)
			assert.Empty(t, got.stderr)
			golden(t, "check-file-"+tt.name+".txt", w.normalize(got.stdout))
			assert.Empty(t, w.env.Viola.Posts(), "check never posts")

			jsonRun := run(t, append(args, "-o", "json")...)
			assert.Equal(t, tt.code, jsonRun.code)
			var report struct {
				OK    bool `json:"ok"`
				Steps []struct {
					Name   string          `json:"name"`
					Status string          `json:"status"`
					Reason multinic.Reason `json:"reason"`
					Fix    string          `json:"fix"`
				} `json:"steps"`
			}
			require.NoError(t, json.Unmarshal([]byte(jsonRun.stdout), &report), jsonRun.stdout)
			assert.Equal(t, tt.code == 0, report.OK)
			var failed []string
			for _, st := range report.Steps {
				if st.Status == "failed" {
					failed = append(failed, st.Name)
					assert.NotEmpty(t, st.Reason, "step %s carries a typed reason", st.Name)
					assert.NotEmpty(t, st.Fix, "step %s names a fix", st.Name)
				}
			}
			assert.Equal(t, tt.fails, failed)
		})
	}
}

func containsFlag(args []string, flag string) bool {
	for _, a := range args {
		if a == flag {
			return true
		}
	}
	return false
}

func TestCheckJSONGolden(t *testing.T) {
	w := newWorld(t)
	got := run(t, "check", "-f", w.file(t, "cr.yaml", w.crYAML(subnetsAB, "", false)), "--encrypt-key-file", w.file(t, "key", multinictest.EncryptKey), "-o", "json")
	require.Equal(t, 0, got.code, got.stderr)
	golden(t, "check-file-ok.json", w.normalize(got.stdout))
}

// createCR stores the sample CR (settings and Secrets as given) in the
// world's namespace.
func (w *world) createCR(t *testing.T, mutate func(*v1alpha1.OpenstackConfig)) *v1alpha1.OpenstackConfig {
	t.Helper()
	oc := &v1alpha1.OpenstackConfig{
		ObjectMeta: metav1.ObjectMeta{Name: "biz-cluster-1", Namespace: w.namespace},
		Spec: v1alpha1.OpenstackConfigSpec{
			Credentials: v1alpha1.Credentials{OpenstackProviderID: multinictest.ProviderID, ProjectID: multinictest.ProjectID},
			VMNames:     w.sample.VMIDs,
			SubnetIDs:   []string{w.sample.SubnetA, w.sample.SubnetB},
			Settings:    v1alpha1.Settings{ContrabassEndpoint: w.env.Contrabass.URL, ViolaEndpoint: w.env.Viola.URL},
		},
	}
	if mutate != nil {
		mutate(oc)
	}
	require.NoError(t, k8s.Create(context.Background(), oc))
	// Gone when the test ends: CRs of one routing key (the sample's) that
	// outlived their test would own its VMs for the next (SPEC §5).
	t.Cleanup(func() {
		ctx := context.Background()
		var latest v1alpha1.OpenstackConfig
		if k8s.Get(ctx, client.ObjectKeyFromObject(oc), &latest) != nil {
			return
		}
		latest.Finalizers = nil
		_ = k8s.Update(ctx, &latest)
		_ = k8s.Delete(ctx, &latest)
	})
	return oc
}

func (w *world) createSecret(t *testing.T, name string, data map[string]string) {
	t.Helper()
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: w.namespace}, StringData: data}
	require.NoError(t, k8s.Create(context.Background(), secret))
}

// TestCheckCluster reads the CR and its Secret from a real API server with
// kubectl's flags, and tells a missing Secret from a Secret without the key.
func TestCheckCluster(t *testing.T) {
	t.Run("ok", func(t *testing.T) {
		w := newWorld(t)
		w.createSecret(t, crconfig.DefaultEncryptKeySecret, map[string]string{crconfig.DefaultEncryptKeyField: multinictest.EncryptKey + "\n"})
		w.createCR(t, nil)
		// No -n: the namespace is the context's.
		got := run(t, w.kube("check", "biz-cluster-1", "--inventory-url", w.inventoryURL)...)
		assert.Equal(t, 0, got.code, got.stdout+got.stderr)
		golden(t, "check-cluster-ok.txt", w.normalize(got.stdout))
	})
	t.Run("secret-missing", func(t *testing.T) {
		w := newWorld(t)
		w.createCR(t, func(oc *v1alpha1.OpenstackConfig) {
			oc.Spec.Secrets.ContrabassEncryptKeySecretRef = &v1alpha1.SecretKeyRef{Name: "my-key", Key: "KEY"}
		})
		got := run(t, w.kube("check", "-n", w.namespace, "biz-cluster-1", "--inventory-url", w.inventoryURL)...)
		assert.Equal(t, 1, got.code)
		golden(t, "check-cluster-secret-missing.txt", w.normalize(got.stdout))
	})
	t.Run("secret-without-the-key", func(t *testing.T) {
		w := newWorld(t)
		w.createSecret(t, "my-key", map[string]string{"OTHER": "x"})
		w.createCR(t, func(oc *v1alpha1.OpenstackConfig) {
			oc.Spec.Secrets.ContrabassEncryptKeySecretRef = &v1alpha1.SecretKeyRef{Name: "my-key", Key: "KEY"}
		})
		got := run(t, w.kube("check", "biz-cluster-1", "-n", w.namespace, "--inventory-url", w.inventoryURL)...)
		assert.Equal(t, 1, got.code)
		golden(t, "check-cluster-secret-without-key.txt", w.normalize(got.stdout))
	})
	t.Run("viola-and-inventory-from-the-operator", func(t *testing.T) {
		w := newWorld(t)
		w.createSecret(t, crconfig.DefaultEncryptKeySecret, map[string]string{crconfig.DefaultEncryptKeyField: multinictest.EncryptKey})
		w.createCR(t, func(oc *v1alpha1.OpenstackConfig) { oc.Spec.Settings.ViolaEndpoint = "" })
		// The operator's Deployment sets VIOLA_ENDPOINT; its inventory
		// Service has no pods behind it on this API server.
		operatorNS := w.namespace + "-op"
		ctx := context.Background()
		require.NoError(t, k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: operatorNS}}))
		labels := map[string]string{"app": "multinic-operator"}
		require.NoError(t, k8s.Create(ctx, &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Name: "multinic-operator-controller-manager", Namespace: operatorNS},
			Spec: appsv1.DeploymentSpec{
				Selector: &metav1.LabelSelector{MatchLabels: labels},
				Template: corev1.PodTemplateSpec{
					ObjectMeta: metav1.ObjectMeta{Labels: labels},
					Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "manager", Image: "multinic-operator:dev", Env: []corev1.EnvVar{
						{Name: "VIOLA_ENDPOINT", Value: w.env.Viola.URL},
						{Name: "VIOLA_TIMEOUT", Value: "10s"},
					}}}},
				},
			},
		}))
		require.NoError(t, k8s.Create(ctx, &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: "multinic-operator-inventory", Namespace: operatorNS},
			Spec:       corev1.ServiceSpec{Selector: labels, Ports: []corev1.ServicePort{{Name: "inventory", Port: 18081}}},
		}))
		got := run(t, w.kube("check", "biz-cluster-1", "--operator", operatorNS+"/multinic-operator")...)
		assert.Equal(t, 1, got.code, "the inventory Service has no endpoints")
		golden(t, "check-cluster-from-operator.txt", w.normalize(got.stdout))

		// Without the operator's Deployment, the settings step says where
		// it looked for VIOLA_ENDPOINT.
		got = run(t, w.kube("check", "biz-cluster-1", "--operator", "nowhere/multinic-operator", "--inventory-url", w.inventoryURL)...)
		assert.Equal(t, 1, got.code)
		assert.Contains(t, got.stdout, `(the operator's VIOLA_ENDPOINT could not be read: no operator Deployment of release "multinic-operator" in namespace nowhere: `)
	})
	t.Run("not-found", func(t *testing.T) {
		w := newWorld(t)
		got := run(t, w.kube("check", "-n", w.namespace, "nope")...)
		assert.Equal(t, 1, got.code)
		assert.Equal(t, "multinicctl: OpenstackConfig "+w.namespace+"/nope not found (see: kubectl get openstackconfigs -n "+w.namespace+")\n", got.stderr)
	})
	t.Run("the-current-context-is-used-without---context", func(t *testing.T) {
		w := newWorld(t)
		got := run(t, "--kubeconfig", w.kubeconfig, "check", "-n", w.namespace, "biz-cluster-1", "--request-timeout", "2s")
		assert.Equal(t, 1, got.code)
		assert.Contains(t, got.stderr, "127.0.0.1:1", "the kubeconfig's current context points nowhere")
	})
}

func TestUsage(t *testing.T) {
	for _, args := range [][]string{
		{"check"},
		{"check", "a", "b"},
		{"check", "-o", "table", "x"},
		{"plan", "--no-such-flag"},
		{"status", "-f", "cr.yaml"},
		{"plan", "-f", "cr.yaml", "--inventory-url", "http://a", "--inventory-file", "b"},
	} {
		got := run(t, args...)
		assert.Equal(t, 2, got.code, "%v: %s", args, got.stderr)
		assert.Contains(t, got.stderr, "--help' for usage", "%v", args)
	}
	got := runAs(t, "kubectl multinic", "check", "--help")
	assert.Equal(t, 0, got.code)
	assert.Contains(t, got.stdout, "kubectl multinic check -n multinic-system biz-cluster-1")
	assert.Contains(t, got.stdout, "kubectl multinic check [NAME] [flags]")
	for _, flag := range []string{"--kubeconfig", "--context", "-n, --namespace", "-o, --output", "-f, --filename", "--encrypt-key-file", "--inventory-url"} {
		assert.Contains(t, got.stdout, flag)
	}
}
