package cli_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/multinic/multinic/internal/testenv"
	"github.com/multinic/multinic/multinic/multinictest"
	"github.com/multinic/multinic/operator/api/v1alpha1"
	"github.com/multinic/multinic/operator/crconfig"
)

// installRelease renders the chart as `helm install RELEASE` would into
// namespace and creates its Deployment and Services: what --operator reads.
// No pods run on this API server, so the Services have no endpoints.
func installRelease(t *testing.T, namespace, release string, set ...string) {
	t.Helper()
	helm, err := testenv.Tool("helm")
	require.NoError(t, err)
	root, err := testenv.RepoRoot()
	require.NoError(t, err)
	args := []string{"template", release, filepath.Join(root, "operator", "chart"), "--namespace", namespace}
	for _, s := range set {
		args = append(args, "--set", s)
	}
	out, err := exec.Command(helm, args...).Output()
	require.NoError(t, err, "helm %v", args)
	docs, err := splitDocs(out)
	require.NoError(t, err)
	created := 0
	for _, doc := range docs {
		obj := &unstructured.Unstructured{}
		require.NoError(t, obj.UnmarshalJSON(doc))
		if kind := obj.GetKind(); kind != "Deployment" && kind != "Service" {
			continue
		}
		obj.SetNamespace(namespace)
		require.NoError(t, k8s.Create(context.Background(), obj), "%s %s", obj.GetKind(), obj.GetName())
		created++
	}
	require.NotZero(t, created, "the chart rendered no Deployment")
}

func splitDocs(data []byte) ([][]byte, error) {
	reader := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var docs [][]byte
	for {
		doc, err := reader.Read()
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, err
		}
		if json, err := yaml.YAMLToJSON(doc); err != nil {
			return nil, err
		} else if string(json) != "null" {
			docs = append(docs, json)
		}
	}
}

// TestOperatorByRelease installs the chart under release names other than
// the default beside each other, plus a Deployment with the name the
// release would have if names were assumed, and checks that --operator
// NAMESPACE/RELEASE finds each release's Deployment and inventory Service
// by the chart's labels.
func TestOperatorByRelease(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	w.createSecret(t, crconfig.DefaultEncryptKeySecret, map[string]string{crconfig.DefaultEncryptKeyField: multinictest.EncryptKey})
	w.createCR(t, func(oc *v1alpha1.OpenstackConfig) { oc.Spec.Settings.ViolaEndpoint = "" })
	opNS := w.namespace + "-ops"
	require.NoError(t, k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: opNS}}))
	refused := w.refusedURL(t, "refused") // normalised to {{refused}}; opNS to {{ns}}-ops

	installRelease(t, opNS, "mn", "operatorConfig.violaEndpoint="+w.env.Viola.URL)
	installRelease(t, opNS, "other", "operatorConfig.violaEndpoint="+refused)
	// nameOverride changes app.kubernetes.io/name and every object's name.
	installRelease(t, opNS, "quiet", "operatorConfig.violaEndpoint="+w.env.Viola.URL, "inventory.enabled=false", "nameOverride=nics")
	// What a name-based lookup of release mn would take for the operator.
	decoy := deployment("mn-controller-manager", opNS, map[string]string{"app": "decoy"}, refused)
	require.NoError(t, k8s.Create(ctx, decoy))

	t.Run("a release beside others", func(t *testing.T) {
		got := run(t, w.kube("check", "biz-cluster-1", "--operator", opNS+"/mn")...)
		assert.Equal(t, 1, got.code, "the inventory Service has no endpoints on this API server")
		out := w.normalize(got.stdout)
		assert.Contains(t, out, "violaEndpoint {{viola}} (from VIOLA_ENDPOINT of deployment {{ns}}-ops/mn-multinic-operator-controller-manager)")
		assert.Regexp(t, `✓ viola `, out)
		assert.Contains(t, out, "✗ InventoryError: service {{ns}}-ops/mn-multinic-operator-inventory through the API server answered 503")
		assert.NotContains(t, out, "{{refused}}", "neither release other nor the decoy is read")

		status := decodeStatusInventory(t, run(t, w.kube("status", "biz-cluster-1", "--operator", opNS+"/mn", "-o", "json")...))
		assert.Equal(t, "service "+opNS+"/mn-multinic-operator-inventory (through the API server)", status)
	})
	t.Run("nameOverride and no inventory", func(t *testing.T) {
		got := run(t, w.kube("check", "biz-cluster-1", "--operator", opNS+"/quiet")...)
		require.Equal(t, 0, got.code, "every step passes; the disabled inventory is a warning\n%s", got.stdout)
		out := w.normalize(got.stdout)
		assert.Contains(t, out, "(from VIOLA_ENDPOINT of deployment {{ns}}-ops/quiet-nics-controller-manager)")
		assert.Contains(t, out, "! the inventory is disabled (INVENTORY_ENABLED=false)")
	})
	t.Run("no such release", func(t *testing.T) {
		got := run(t, w.kube("check", "biz-cluster-1", "--operator", opNS+"/absent")...)
		assert.Equal(t, 1, got.code)
		out := w.normalize(got.stdout)
		assert.Contains(t, out, `(the operator's VIOLA_ENDPOINT could not be read: no operator Deployment of release "absent" in namespace {{ns}}-ops: none labelled app.kubernetes.io/instance=absent,control-plane=controller-manager (Helm) nor named absent-controller-manager (kustomize); set --operator to the operator's namespace/release (helm list -A); pass --viola-endpoint)`)
		assert.Contains(t, out, `✗ InventoryError: no operator Deployment of release "absent"`)
	})
	t.Run("not namespace/release", func(t *testing.T) {
		got := run(t, w.kube("check", "biz-cluster-1", "--operator", "mn")...)
		assert.Equal(t, 2, got.code)
		assert.Contains(t, got.stderr, `--operator "mn" is not namespace/release`)
	})
	t.Run("two Deployments of one release", func(t *testing.T) {
		var mn appsv1.Deployment
		require.NoError(t, k8s.Get(ctx, client.ObjectKey{Namespace: opNS, Name: "mn-multinic-operator-controller-manager"}, &mn))
		twin := deployment("mn-twin", opNS, mn.Labels, w.env.Viola.URL)
		require.NoError(t, k8s.Create(ctx, twin))
		t.Cleanup(func() { _ = k8s.Delete(ctx, twin) })

		got := run(t, w.kube("check", "biz-cluster-1", "--operator", opNS+"/mn")...)
		assert.Equal(t, 1, got.code)
		assert.Contains(t, w.normalize(got.stdout), "2 Deployments in namespace {{ns}}-ops are labelled app.kubernetes.io/instance=mn,control-plane=controller-manager (mn-multinic-operator-controller-manager, mn-twin), so which is the operator's is ambiguous: pass --viola-endpoint and --inventory-url instead")
	})
}

// deployment is a one-container Deployment whose manager sets VIOLA_ENDPOINT.
func deployment(name, namespace string, labels map[string]string, violaEndpoint string) *appsv1.Deployment {
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: labels},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "manager", Image: "multinic-operator:dev", Env: []corev1.EnvVar{
					{Name: "VIOLA_ENDPOINT", Value: violaEndpoint},
				}}}},
			},
		},
	}
}

func decodeStatusInventory(t *testing.T, r result) string {
	t.Helper()
	require.Equal(t, 0, r.code, r.stderr)
	return decode[struct {
		Inventory string `json:"inventory"`
	}](t, r.stdout).Inventory
}
