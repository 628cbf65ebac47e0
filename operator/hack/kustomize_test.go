package hack

// Tests of the kustomize configuration in operator/config that need no
// cluster. Applying the output to a real API server is in
// packaging_envtest_test.go.

import (
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/multinic/multinic/operator/api/v1alpha1"
)

const kustNamespace = "multinic-operator-system"

// kustBuild runs `kustomize build` on a directory relative to the module
// root (or an absolute one).
func kustBuild(t *testing.T, dir string) []*unstructured.Unstructured {
	t.Helper()
	return pkgDecode(t, pkgMustRun(t, pkgTool(t, "kustomize"), "build", dir))
}

// TestKustomizeBuildDefault checks what `make deploy` applies: names,
// namespace, wiring between objects and the manager's settings.
func TestKustomizeBuildDefault(t *testing.T) {
	objs := kustBuild(t, "operator/config/default")

	ns := pkgFind(t, objs, "Namespace", kustNamespace)
	assert.Empty(t, ns.GetNamespace())
	crd := pkgFind(t, objs, "CustomResourceDefinition", "openstackconfigs.multinic.example.com")
	assert.Empty(t, crd.GetNamespace(), "namePrefix and namespace leave the CRD alone")
	for _, o := range objs {
		switch o.GetKind() {
		case "Namespace", "CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding":
			assert.Empty(t, o.GetNamespace(), "%s/%s is cluster-scoped", o.GetKind(), o.GetName())
		default:
			assert.Equal(t, kustNamespace, o.GetNamespace(), "%s/%s", o.GetKind(), o.GetName())
		}
	}

	// The name the maintenance guide's logs command uses.
	dep := pkgTyped[appsv1.Deployment](t, pkgFind(t, objs, "Deployment", "multinic-operator-controller-manager"))
	pod := dep.Spec.Template.Spec
	require.Len(t, pod.Containers, 1)
	c := pod.Containers[0]
	assert.Equal(t, "manager", c.Name)
	assert.Equal(t, []string{"--leader-elect", "--health-probe-bind-address=:8081", "--metrics-bind-address=:8443", "--metrics-secure=true"}, c.Args)
	for _, name := range []string{"VIOLA_ENDPOINT", "VIOLA_TIMEOUT", "VIOLA_INSECURE_TLS", "INVENTORY_ENABLED", "INVENTORY_ADDR", "INVENTORY_DB_PATH"} {
		_, ok := pkgEnv(c.Env, name)
		assert.True(t, ok, "env %s missing", name)
	}
	addr, _ := pkgEnv(c.Env, "INVENTORY_ADDR")
	assert.Equal(t, ":18081", addr)
	dbPath, _ := pkgEnv(c.Env, "INVENTORY_DB_PATH")
	assert.Equal(t, "/var/lib/multinic-operator/inventory.json", dbPath)
	assert.Equal(t, int32(18081), pkgContainerPort(c, "inventory"))
	assert.Equal(t, "/healthz", c.LivenessProbe.HTTPGet.Path)
	assert.Equal(t, "/readyz", c.ReadinessProbe.HTTPGet.Path)
	assert.Equal(t, int32(8081), pkgContainerPort(c, c.ReadinessProbe.HTTPGet.Port.StrVal))

	require.NotNil(t, pod.SecurityContext)
	assert.True(t, *pod.SecurityContext.RunAsNonRoot)
	assert.Equal(t, corev1.SeccompProfileTypeRuntimeDefault, pod.SecurityContext.SeccompProfile.Type)
	require.NotNil(t, c.SecurityContext)
	assert.True(t, *c.SecurityContext.ReadOnlyRootFilesystem)
	assert.False(t, *c.SecurityContext.AllowPrivilegeEscalation)
	assert.Equal(t, []corev1.Capability{"ALL"}, c.SecurityContext.Capabilities.Drop)
	assert.False(t, c.Resources.Requests.Memory().IsZero())
	assert.False(t, c.Resources.Limits.Memory().IsZero())
	// With a read-only root the inventory directory must be a volume.
	require.Len(t, c.VolumeMounts, 1)
	assert.Equal(t, "/var/lib/multinic-operator", c.VolumeMounts[0].MountPath)
	require.Len(t, pod.Volumes, 1)
	assert.Equal(t, c.VolumeMounts[0].Name, pod.Volumes[0].Name)
	assert.NotNil(t, pod.Volumes[0].EmptyDir)

	// namePrefix must have followed every reference, or the pod runs as a
	// ServiceAccount nobody granted anything to.
	assert.Equal(t, "multinic-operator-controller-manager", pod.ServiceAccountName)
	pkgFind(t, objs, "ServiceAccount", pod.ServiceAccountName)
	crb := pkgTyped[rbacv1.ClusterRoleBinding](t, pkgFind(t, objs, "ClusterRoleBinding", "multinic-operator-manager-rolebinding"))
	assert.Equal(t, []rbacv1.Subject{{Kind: "ServiceAccount", Name: pod.ServiceAccountName, Namespace: kustNamespace}}, crb.Subjects)
	role := pkgTyped[rbacv1.ClusterRole](t, pkgFind(t, objs, "ClusterRole", crb.RoleRef.Name))
	assert.Equal(t, pkgGeneratedRules(t), role.Rules)
	rb := pkgTyped[rbacv1.RoleBinding](t, pkgFind(t, objs, "RoleBinding", "multinic-operator-leader-election-rolebinding"))
	assert.Equal(t, []rbacv1.Subject{{Kind: "ServiceAccount", Name: pod.ServiceAccountName, Namespace: kustNamespace}}, rb.Subjects)
	pkgFind(t, objs, "Role", rb.RoleRef.Name)
	// Same names as the chart's, so either install gives users the same roles.
	viewer := pkgFind(t, objs, "ClusterRole", "multinic-operator-openstackconfig-viewer-role")
	assert.Equal(t, "true", viewer.GetLabels()["rbac.authorization.k8s.io/aggregate-to-view"])
	editor := pkgFind(t, objs, "ClusterRole", "multinic-operator-openstackconfig-editor-role")
	assert.Equal(t, "true", editor.GetLabels()["rbac.authorization.k8s.io/aggregate-to-edit"])

	svc := pkgTyped[corev1.Service](t, pkgFind(t, objs, "Service", "multinic-operator-inventory"))
	require.Len(t, svc.Spec.Ports, 1)
	assert.Equal(t, int32(18081), svc.Spec.Ports[0].Port)
	assert.Equal(t, "inventory", svc.Spec.Ports[0].TargetPort.StrVal)
	for k, v := range svc.Spec.Selector {
		assert.Equal(t, v, dep.Spec.Template.Labels[k], "the Service selects the manager pod by %s", k)
	}
	assert.Equal(t, dep.Spec.Selector.MatchLabels, svc.Spec.Selector)

	// Secure metrics as kubebuilder scaffolds them: the Service of
	// config/default on the HTTPS port, the manager allowed to review
	// tokens and access, and a role for scrapers.
	metrics := pkgTyped[corev1.Service](t, pkgFind(t, objs, "Service", "multinic-operator-metrics"))
	require.Len(t, metrics.Spec.Ports, 1)
	assert.Equal(t, int32(8443), metrics.Spec.Ports[0].Port)
	assert.Equal(t, int32(8443), pkgContainerPort(c, metrics.Spec.Ports[0].TargetPort.StrVal))
	assert.Equal(t, dep.Spec.Selector.MatchLabels, metrics.Spec.Selector)
	auth := pkgTyped[rbacv1.ClusterRoleBinding](t, pkgFind(t, objs, "ClusterRoleBinding", "multinic-operator-metrics-auth-rolebinding"))
	assert.Equal(t, []rbacv1.Subject{{Kind: "ServiceAccount", Name: pod.ServiceAccountName, Namespace: kustNamespace}}, auth.Subjects)
	assert.Equal(t, pkgMetricsAuthRules, pkgTyped[rbacv1.ClusterRole](t, pkgFind(t, objs, "ClusterRole", auth.RoleRef.Name)).Rules)
	reader := pkgTyped[rbacv1.ClusterRole](t, pkgFind(t, objs, "ClusterRole", "multinic-operator-metrics-reader"))
	assert.Equal(t, pkgMetricsReaderRules, reader.Rules)
}

// TestKustomizeSetImageLikeMakeDeploy runs the edit `make deploy IMG=…`
// makes, on a copy of operator/config so the checkout is left untouched,
// and checks the built Deployment uses that image.
func TestKustomizeSetImageLikeMakeDeploy(t *testing.T) {
	kustomize := pkgTool(t, "kustomize")
	config := filepath.Join(t.TempDir(), "config")
	require.NoError(t, os.CopyFS(config, os.DirFS(filepath.Join(pkgRepoRoot(t), "operator", "config"))))

	const img = "nexus.okestro-k8s.com:50000/multinic-operator:v9.9.9"
	// Like the Makefile, which runs it on a temporary copy too.
	cmd := pkgRunIn(t, filepath.Join(config, "manager"), kustomize, "edit", "set", "image", "controller="+img)
	require.NoError(t, cmd.err, cmd.stderr)

	objs := kustBuild(t, filepath.Join(config, "default"))
	dep := pkgTyped[appsv1.Deployment](t, pkgFind(t, objs, "Deployment", "multinic-operator-controller-manager"))
	assert.Equal(t, img, dep.Spec.Template.Spec.Containers[0].Image)
}

// TestKustomizeSamples checks the samples build and hold what a user needs:
// the OpenstackConfig with every commonly used field and the default
// encrypt-key Secret. That the API server accepts them is tested on envtest.
func TestKustomizeSamples(t *testing.T) {
	objs := kustBuild(t, "operator/config/samples")
	require.Len(t, objs, 2, pkgNames(objs))

	secret := pkgTyped[corev1.Secret](t, pkgFind(t, objs, "Secret", "contrabass-encrypt-key"))
	assert.NotEmpty(t, secret.StringData["CONTRABASS_ENCRYPT_KEY"], "the key the operator looks up by default")
	assert.Empty(t, secret.Namespace, "applied to the namespace the user picks")

	u := pkgFind(t, objs, "OpenstackConfig", "openstackconfig-sample")
	assert.Equal(t, v1alpha1.GroupVersion.String(), u.GetAPIVersion())
	osc := pkgTyped[v1alpha1.OpenstackConfig](t, u)
	spec := osc.Spec
	assert.NotEmpty(t, spec.Credentials.OpenstackProviderID)
	assert.NotEmpty(t, spec.Credentials.ProjectID)
	assert.NotEmpty(t, spec.Credentials.K8sProviderID)
	assert.NotEmpty(t, spec.VMNames)
	assert.NotEmpty(t, spec.SubnetID)
	require.NotNil(t, spec.Secrets.ContrabassEncryptKeySecretRef)
	assert.Equal(t, v1alpha1.SecretKeyRef{Name: secret.Name, Key: "CONTRABASS_ENCRYPT_KEY"}, *spec.Secrets.ContrabassEncryptKeySecretRef,
		"the sample's reference points at the sample Secret")
	s := spec.Settings
	assert.NotEmpty(t, s.ContrabassEndpoint)
	assert.NotEmpty(t, s.ViolaEndpoint)
	assert.Empty(t, s.ContrabassEncryptKey, "the sample keeps the key in the Secret, not in plain text")
	for name, set := range map[string]bool{
		"contrabassTimeout":            s.ContrabassTimeout != "",
		"openstackTimeout":             s.OpenstackTimeout != "",
		"openstackEndpointInterface":   s.OpenstackEndpointInterface != "",
		"openstackEndpointRegion":      s.OpenstackEndpointRegion != "",
		"openstackNodeNameMetadataKey": s.OpenstackNodeNameMetadataKey != "",
		"openstackPortAllowedStatuses": len(s.OpenstackPortAllowedStatuses) > 0,
		"downPortFastRetryMax":         s.DownPortFastRetryMax != nil,
		"pollFastInterval":             s.PollFastInterval != "",
		"pollSlowInterval":             s.PollSlowInterval != "",
		"pollErrorInterval":            s.PollErrorInterval != "",
		"pollFastWindow":               s.PollFastWindow != "",
		"resyncInterval":               s.ResyncInterval != "",
		"passTimeout":                  s.PassTimeout != "",
		"downPortGracePeriod":          s.DownPortGracePeriod != "",
		"removalPolicy":                s.RemovalPolicy != "",
	} {
		assert.True(t, set, "sample sets settings.%s", name)
	}

	// The usual case is the Keystone catalog; the overrides are there to
	// find, commented out, with when to set them.
	assert.Empty(t, s.OpenstackNeutronEndpoint, "the sample uses the catalog for Neutron")
	assert.Empty(t, s.OpenstackNovaEndpoint, "the sample uses the catalog for Nova")
	raw, err := os.ReadFile(filepath.Join(pkgRepoRoot(t), "operator", "config", "samples", "multinic_v1alpha1_openstackconfig.yaml"))
	require.NoError(t, err)
	for _, field := range []string{"openstackNeutronEndpoint", "openstackNovaEndpoint"} {
		assert.Regexp(t, `(?m)^\s*# `+field+`: https://`, string(raw), "%s is shown commented out", field)
	}
	assert.Regexp(t, `(?m)^\s*# Set these only when the catalog`, string(raw), "the sample says when to set the overrides")
}

// TestKustomizeEveryFileIsReferenced: a manifest left out of its
// kustomization.yaml is silently never applied.
func TestKustomizeEveryFileIsReferenced(t *testing.T) {
	root := filepath.Join(pkgRepoRoot(t), "operator", "config")
	for _, dir := range []string{"crd", "rbac", "manager", "default", "samples"} {
		data, err := os.ReadFile(filepath.Join(root, dir, "kustomization.yaml"))
		require.NoError(t, err)
		var k struct {
			Resources []string `json:"resources"`
		}
		require.NoError(t, yaml.Unmarshal(data, &k), dir)
		listed := map[string]bool{}
		for _, r := range k.Resources {
			listed[filepath.Clean(r)] = true
		}
		err = filepath.WalkDir(filepath.Join(root, dir), func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || filepath.Ext(path) != ".yaml" || d.Name() == "kustomization.yaml" {
				return err
			}
			rel, _ := filepath.Rel(filepath.Join(root, dir), path)
			assert.True(t, listed[rel], "operator/config/%s/%s is not in its kustomization.yaml", dir, rel)
			return nil
		})
		require.NoError(t, err)
	}
}
