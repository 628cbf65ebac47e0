package hack

// Installing the Helm chart and the kustomize output into a real
// kube-apiserver (envtest), so the API server's validation — schemas,
// immutable fields, the CRD's OpenAPI and CEL rules — judges the manifests,
// not only our own assertions. One API server serves every step: the steps
// run in order and each removes what it installed.

import (
	"cmp"
	"context"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/multinic/multinic/internal/testenv"
	"github.com/multinic/multinic/operator/api/v1alpha1"
)

const pkgCRDName = "openstackconfigs.multinic.example.com"

// TestHelmChartAndKustomizeInstallOnAPIServer starts one API server without
// the CRD (the chart and kustomize must bring it) and installs into it.
func TestHelmChartAndKustomizeInstallOnAPIServer(t *testing.T) {
	env, cfg, err := testenv.Start()
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, env.Stop()) })

	// helm needs a kubeconfig file, with credentials that may do anything.
	admin, err := env.AddUser(envtest.User{Name: "admin", Groups: []string{"system:masters"}}, nil)
	require.NoError(t, err)
	kubeconfigData, err := admin.KubeConfig()
	require.NoError(t, err)
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	require.NoError(t, os.WriteFile(kubeconfig, kubeconfigData, 0o600))

	scheme := runtime.NewScheme()
	require.NoError(t, clientgoscheme.AddToScheme(scheme))
	require.NoError(t, apiextensionsv1.AddToScheme(scheme))
	require.NoError(t, v1alpha1.AddToScheme(scheme))
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	require.NoError(t, err)

	t.Run("HelmInstall", func(t *testing.T) { pkgHelmInstall(t, c, kubeconfig) })
	t.Run("HelmInstallFullValues", func(t *testing.T) { pkgHelmInstallFullValues(t, c, kubeconfig) })
	t.Run("KustomizeApplyDefault", func(t *testing.T) { pkgKustomizeApplyDefault(t, c) })
	t.Run("KustomizeApplySamples", func(t *testing.T) { pkgKustomizeApplySamples(t, c) })
	t.Run("MakeDeployAndUndeploy", func(t *testing.T) { pkgMakeDeployAndUndeploy(t, c, kubeconfig) })
}

// pkgMakeDeployAndUndeploy runs the Makefile's deploy and undeploy with
// kubectl against the API server: deploy must leave the checkout as it was,
// and undeploy must not hang on the finalizer of a CR that no operator will
// ever finalize (envtest runs no pods, so the operator is never up).
func pkgMakeDeployAndUndeploy(t *testing.T, c client.Client, kubeconfig string) {
	if _, err := exec.LookPath("kubectl"); err != nil {
		t.Skip("kubectl is not installed; make deploy/undeploy pipe to it")
	}
	ctx := t.Context()
	root := pkgRepoRoot(t)
	runMake := func(args ...string) string {
		// -o manifests: regenerating files here would race with other test
		// packages reading them; TestGeneratedFilesAreCurrent covers them.
		runCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(runCtx, "make", append([]string{"-o", "manifests"}, args...)...)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
		// A hung kubectl is make's child: stop the whole process group,
		// and do not wait for output pipes the children still hold.
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
		cmd.WaitDelay = 5 * time.Second
		out, err := cmd.CombinedOutput()
		require.NoError(t, runCtx.Err(), "make %v hung:\n%s", args, out)
		require.NoError(t, err, "make %v:\n%s", args, out)
		return string(out)
	}
	// Every file under operator/config with its content: the checkout may
	// already have local changes, so compare contents, not git status.
	snapshot := func() map[string]string {
		files := map[string]string{}
		require.NoError(t, filepath.WalkDir(filepath.Join(root, "operator", "config"), func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			data, err := os.ReadFile(path)
			files[path] = string(data)
			return err
		}))
		return files
	}

	before := snapshot()
	const img = "registry.example.com/multinic-operator:v9.9.9"
	runMake("deploy", "IMG="+img)
	after := snapshot()
	var changed []string
	for path, content := range before {
		if after[path] != content {
			changed = append(changed, path)
		}
	}
	assert.Empty(t, changed, "make deploy changed files under operator/config")
	assert.Len(t, after, len(before), "make deploy added or removed files under operator/config")
	var dep appsv1.Deployment
	require.NoError(t, c.Get(ctx, client.ObjectKey{Namespace: kustNamespace, Name: "multinic-operator-controller-manager"}, &dep))
	assert.Equal(t, img, dep.Spec.Template.Spec.Containers[0].Image)

	// A CR the operator once reconciled carries its finalizer.
	var osc v1alpha1.OpenstackConfig
	key := client.ObjectKey{Namespace: "multinic-samples", Name: "openstackconfig-sample"}
	require.NoError(t, c.Get(ctx, key, &osc))
	osc.Finalizers = append(osc.Finalizers, "multinic.example.com/inventory")
	require.NoError(t, c.Update(ctx, &osc))

	// The namespace cannot finish deleting in envtest (no namespace
	// controller), so undeploy does not wait for the deletions it issues.
	out := runMake("undeploy", "UNDEPLOY_WAIT=false")
	assert.Contains(t, out, "removing finalizer multinic.example.com/inventory from multinic-samples/openstackconfig-sample")
	require.Eventually(t, func() bool {
		return apierrors.IsNotFound(c.Get(ctx, key, &v1alpha1.OpenstackConfig{}))
	}, time.Minute, 100*time.Millisecond, "the CR is gone")
	err := c.Get(ctx, client.ObjectKeyFromObject(&dep), &appsv1.Deployment{})
	assert.True(t, apierrors.IsNotFound(err), "the Deployment is gone: %v", err)
	require.Eventually(t, func() bool {
		return apierrors.IsNotFound(c.Get(ctx, client.ObjectKey{Name: pkgCRDName}, &apiextensionsv1.CustomResourceDefinition{}))
	}, time.Minute, 100*time.Millisecond, "the CRD is gone once no CR holds it")
}

// pkgHelmInstall runs SPEC §10's `helm upgrade --install` twice — an
// install, then an upgrade to a new tag — and reads back what it created.
func pkgHelmInstall(t *testing.T, c client.Client, kubeconfig string) {
	ctx := t.Context()
	helm := pkgTool(t, "helm")
	install := func(tag string) string {
		return pkgMustRun(t, helm, "upgrade", "--install", chartRelease, chartDir,
			"-n", chartNamespace, "--create-namespace", "--kubeconfig", kubeconfig, "--wait=false",
			"--set", "image.repository=nexus.okestro-k8s.com:50000/multinic-operator",
			"--set", "image.tag="+tag,
			"--set", "image.pullSecrets[0].name=nexus-regcred",
			"--set", "operatorConfig.violaEndpoint=http://viola-test-api.viola-system.svc:8080")
	}
	t.Cleanup(func() { pkgHelmUninstall(t, c, helm, kubeconfig, chartRelease, chartNamespace, chartDeployment) })

	out := install("1.0.0")
	assert.Contains(t, out, "STATUS: deployed")
	// NOTES.txt prints the guide's log command with the real name, and
	// the check command aimed at this release.
	assert.Contains(t, out, "kubectl logs -n multinic-operator-system deployment/multinic-operator-controller-manager")
	assert.Contains(t, out, "kubectl multinic check <name> -n <namespace> --operator multinic-operator-system/multinic-operator")
	assert.Contains(t, out, "--clusterrole=multinic-operator-metrics-reader", "how to let a scraper in")

	var crd apiextensionsv1.CustomResourceDefinition
	require.NoError(t, c.Get(ctx, client.ObjectKey{Name: pkgCRDName}, &crd), "helm installs crds/ first")
	assert.True(t, pkgCRDEstablished(&crd))

	var dep appsv1.Deployment
	require.NoError(t, c.Get(ctx, client.ObjectKey{Namespace: chartNamespace, Name: chartDeployment}, &dep))
	pod := dep.Spec.Template.Spec
	assert.Equal(t, "nexus.okestro-k8s.com:50000/multinic-operator:1.0.0", pod.Containers[0].Image)
	assert.Equal(t, []corev1.LocalObjectReference{{Name: "nexus-regcred"}}, pod.ImagePullSecrets)
	endpoint, _ := pkgEnv(pod.Containers[0].Env, "VIOLA_ENDPOINT")
	assert.Equal(t, "http://viola-test-api.viola-system.svc:8080", endpoint)

	var sa corev1.ServiceAccount
	require.NoError(t, c.Get(ctx, client.ObjectKey{Namespace: chartNamespace, Name: pod.ServiceAccountName}, &sa))
	var role rbacv1.ClusterRole
	require.NoError(t, c.Get(ctx, client.ObjectKey{Name: "multinic-operator-manager-role"}, &role))
	assert.Equal(t, pkgGeneratedRules(t), role.Rules)
	var crb rbacv1.ClusterRoleBinding
	require.NoError(t, c.Get(ctx, client.ObjectKey{Name: "multinic-operator-manager-rolebinding"}, &crb))
	assert.Equal(t, []rbacv1.Subject{{Kind: "ServiceAccount", Name: sa.Name, Namespace: chartNamespace}}, crb.Subjects)
	var leaderRole rbacv1.Role
	require.NoError(t, c.Get(ctx, client.ObjectKey{Namespace: chartNamespace, Name: "multinic-operator-leader-election-role"}, &leaderRole))
	pkgCheckAccess(t, c, sa.Name)
	var svc corev1.Service
	require.NoError(t, c.Get(ctx, client.ObjectKey{Namespace: chartNamespace, Name: "multinic-operator-inventory"}, &svc))
	assert.Equal(t, int32(18081), svc.Spec.Ports[0].Port)
	require.NoError(t, c.Get(ctx, client.ObjectKey{Namespace: chartNamespace, Name: "multinic-operator-metrics"}, &svc))

	// The upgrade path of the same command: a Deployment selector that
	// changed between revisions would be rejected here as immutable.
	out = install("1.0.1")
	assert.Contains(t, out, "REVISION: 2")
	require.NoError(t, c.Get(ctx, client.ObjectKey{Namespace: chartNamespace, Name: chartDeployment}, &dep))
	assert.Equal(t, "nexus.okestro-k8s.com:50000/multinic-operator:1.0.1", dep.Spec.Template.Spec.Containers[0].Image)
}

// pkgCheckAccess asks the API server's RBAC authorizer what the operator's
// ServiceAccount and users holding the OpenstackConfig roles may do. Nothing
// here runs the ClusterRole aggregation controller (it is part of
// kube-controller-manager), so the users are bound to the chart's roles
// directly, as the built-in view and edit roles would include them.
func pkgCheckAccess(t *testing.T, c client.Client, serviceAccount string) {
	ctx := t.Context()
	const team = "team-a"
	require.NoError(t, client.IgnoreAlreadyExists(c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: team}})))
	operator := authorizationv1.SubjectAccessReviewSpec{
		User:   "system:serviceaccount:" + chartNamespace + ":" + serviceAccount,
		Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + chartNamespace, "system:authenticated"},
	}
	for _, tc := range []struct {
		verb, group, resource, subresource, namespace string
		allowed                                       bool
	}{
		{"update", "coordination.k8s.io", "leases", "", chartNamespace, true},
		{"get", "coordination.k8s.io", "leases", "", team, false},
		{"create", "coordination.k8s.io", "leases", "", "kube-system", false},
		{"create", "events.k8s.io", "events", "", team, true},
		{"delete", "events.k8s.io", "events", "", team, false},
		{"get", "", "secrets", "", team, true},
		{"create", "", "secrets", "", team, false},
		{"update", "multinic.example.com", "openstackconfigs", "", team, true},
		{"update", "multinic.example.com", "openstackconfigs", "status", team, true},
		{"create", "multinic.example.com", "openstackconfigs", "", team, false},
		{"delete", "multinic.example.com", "openstackconfigs", "", team, false},
		{"list", "", "pods", "", team, false},
	} {
		assert.Equal(t, tc.allowed, pkgCan(t, c, operator, tc.verb, tc.group, tc.resource, tc.subresource, tc.namespace),
			"operator %s %s/%s %s in %s", tc.verb, tc.resource, tc.subresource, tc.group, tc.namespace)
	}

	for user, role := range map[string]string{"alice": "viewer", "bob": "editor"} {
		rb := &rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: user, Namespace: team},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "multinic-operator-openstackconfig-" + role + "-role"},
			Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: "User", Name: user}},
		}
		require.NoError(t, c.Create(ctx, rb))
		t.Cleanup(func() { assert.NoError(t, c.Delete(context.Background(), rb)) })
	}
	alice := authorizationv1.SubjectAccessReviewSpec{User: "alice"}
	bob := authorizationv1.SubjectAccessReviewSpec{User: "bob"}
	osc := func(who authorizationv1.SubjectAccessReviewSpec, verb, subresource string) bool {
		return pkgCan(t, c, who, verb, "multinic.example.com", "openstackconfigs", subresource, team)
	}
	assert.True(t, osc(alice, "list", ""), "a viewer lists OpenstackConfigs")
	assert.True(t, osc(alice, "get", "status"))
	assert.False(t, osc(alice, "create", ""), "a viewer does not create them")
	assert.True(t, osc(bob, "create", ""), "an editor creates them")
	assert.True(t, osc(bob, "delete", ""))
	assert.False(t, osc(bob, "update", "status"), "status is the operator's")
	assert.False(t, pkgCan(t, c, bob, "get", "", "secrets", "", team), "the role grants nothing beyond OpenstackConfigs")

	// Secure metrics: the operator asks the API server about each
	// scrape's token, and a scraper bound to metrics-reader may GET
	// /metrics (operator/cmd/multinic-operator scrapes through the filter).
	for _, review := range []struct{ group, resource string }{
		{"authentication.k8s.io", "tokenreviews"}, {"authorization.k8s.io", "subjectaccessreviews"},
	} {
		assert.True(t, pkgCan(t, c, operator, "create", review.group, review.resource, "", ""), "operator creates %s", review.resource)
	}
	crb := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "prometheus-reads-multinic-metrics"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "multinic-operator-metrics-reader"},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: "prometheus", Namespace: "monitoring"}},
	}
	require.NoError(t, c.Create(ctx, crb))
	t.Cleanup(func() { assert.NoError(t, c.Delete(context.Background(), crb)) })
	prometheus := authorizationv1.SubjectAccessReviewSpec{User: "system:serviceaccount:monitoring:prometheus"}
	assert.True(t, pkgCanGet(t, c, prometheus, "/metrics"), "a scraper bound to metrics-reader reads /metrics")
	assert.False(t, pkgCanGet(t, c, prometheus, "/healthz/etcd"), "and nothing else")
	assert.False(t, pkgCanGet(t, c, alice, "/metrics"), "others do not")
	assert.False(t, pkgCanGet(t, c, operator, "/metrics"), "the operator itself needs no access to its metrics")
}

// pkgCanGet runs a SubjectAccessReview for GET on a non-resource URL.
func pkgCanGet(t *testing.T, c client.Client, who authorizationv1.SubjectAccessReviewSpec, path string) bool {
	t.Helper()
	review := &authorizationv1.SubjectAccessReview{Spec: who}
	review.Spec.NonResourceAttributes = &authorizationv1.NonResourceAttributes{Verb: "get", Path: path}
	require.NoError(t, c.Create(t.Context(), review))
	return review.Status.Allowed
}

// pkgCan runs a SubjectAccessReview.
func pkgCan(t *testing.T, c client.Client, who authorizationv1.SubjectAccessReviewSpec, verb, group, resource, subresource, namespace string) bool {
	t.Helper()
	review := &authorizationv1.SubjectAccessReview{Spec: who}
	review.Spec.ResourceAttributes = &authorizationv1.ResourceAttributes{
		Verb: verb, Group: group, Resource: resource, Subresource: subresource, Namespace: namespace,
	}
	require.NoError(t, c.Create(t.Context(), review))
	return review.Status.Allowed
}

// pkgHelmInstallFullValues installs ci/full-values.yaml as a second release
// so the API server validates what the default values do not render: the
// claim, affinity, tolerations, NodePort Service, extra env and volumes,
// spread constraints, PodDisruptionBudget, NetworkPolicy, dashboard
// ConfigMap, and the ServiceMonitor and PrometheusRule against minimal
// monitoring.coreos.com CRDs from testdata (envtest has no Prometheus
// operator; its CRDs are what the chart must satisfy).
func pkgHelmInstallFullValues(t *testing.T, c client.Client, kubeconfig string) {
	ctx := t.Context()
	helm := pkgTool(t, "helm")
	const release, namespace = "multinic-operator-full", "multinic-full"
	const deployment = release + "-controller-manager"
	data, err := os.ReadFile(filepath.Join(pkgRepoRoot(t), "operator", "testdata", "monitoring.coreos.com-crds.yaml"))
	require.NoError(t, err)
	pkgApply(t, c, pkgDecode(t, string(data)), "")
	require.NoError(t, client.IgnoreAlreadyExists(c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "grafana"}})))
	t.Cleanup(func() { pkgHelmUninstall(t, c, helm, kubeconfig, release, namespace, deployment) })
	pkgMustRun(t, helm, "install", release, chartDir, "-n", namespace, "--create-namespace",
		"--kubeconfig", kubeconfig, "--wait=false", "--values", chartFullValues)

	// What the API server stored is what helm rendered: a field that a
	// schema does not know would have been pruned, a wrong type rejected.
	rendered := pkgDecode(t, pkgMustRun(t, helm, "template", release, chartDir, "-n", namespace, "--values", chartFullValues))
	for _, kind := range []string{"ServiceMonitor", "PrometheusRule", "NetworkPolicy", "PodDisruptionBudget", "ConfigMap"} {
		i := slices.IndexFunc(rendered, func(o *unstructured.Unstructured) bool { return o.GetKind() == kind })
		require.GreaterOrEqual(t, i, 0, "%s rendered", kind)
		want := rendered[i]
		got := &unstructured.Unstructured{}
		got.SetGroupVersionKind(want.GroupVersionKind())
		require.NoError(t, c.Get(ctx, client.ObjectKey{Namespace: cmp.Or(want.GetNamespace(), namespace), Name: want.GetName()}, got), kind)
		field := "spec"
		if kind == "ConfigMap" {
			field = "data"
		}
		assert.Equal(t, want.Object[field], got.Object[field], "%s %s as stored", kind, field)
	}

	var dep appsv1.Deployment
	require.NoError(t, c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: deployment}, &dep))
	var pvc corev1.PersistentVolumeClaim
	require.NoError(t, c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: release + "-inventory"}, &pvc))
	assert.Equal(t, pvc.Name, dep.Spec.Template.Spec.Volumes[0].PersistentVolumeClaim.ClaimName)
	assert.Equal(t, "keep", pvc.Annotations["helm.sh/resource-policy"], "persistence.annotations")
	assert.Equal(t, "production", pvc.Labels["environment"], "commonLabels")
	var svc corev1.Service
	require.NoError(t, c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: release + "-inventory"}, &svc))
	assert.Equal(t, corev1.ServiceTypeNodePort, svc.Spec.Type)
	assert.Equal(t, "true", svc.Annotations["service.beta.kubernetes.io/openstack-internal-load-balancer"])
	assert.Equal(t, int32(28081), svc.Spec.Ports[0].Port)
	assert.NotZero(t, svc.Spec.Ports[0].NodePort, "the API server allocated a node port")
	pod := dep.Spec.Template.Spec
	assert.Equal(t, "multinic-critical", pod.PriorityClassName)
	require.Len(t, pod.TopologySpreadConstraints, 1)
	require.Len(t, pod.Volumes, 3)
	assert.Equal(t, "multinic-operator-metrics-cert", pod.Volumes[1].Secret.SecretName)
	assert.Equal(t, "contrabass-ca", pod.Volumes[2].ConfigMap.Name)
	assert.Equal(t, int32(3), *dep.Spec.RevisionHistoryLimit)
	assert.Equal(t, int64(45), *pod.TerminationGracePeriodSeconds)
	assert.Equal(t, int32(2), pod.Containers[0].ReadinessProbe.SuccessThreshold, "accepted for readiness")
	caDir, _ := pkgEnv(pod.Containers[0].Env, "SSL_CERT_DIR")
	assert.Equal(t, "/etc/multinic/ca", caDir)
}

// pkgHelmUninstall removes a release and checks its Deployment is gone, so
// the kustomize steps start from a cluster without the operator. CRDs stay
// (helm never deletes crds/), as does the namespace: envtest has no
// namespace controller to finish deleting one.
func pkgHelmUninstall(t *testing.T, c client.Client, helm, kubeconfig, release, namespace, deployment string) {
	res := pkgRun(t, helm, "uninstall", release, "-n", namespace, "--kubeconfig", kubeconfig)
	require.NoError(t, res.err, res.stderr)
	err := c.Get(context.Background(), client.ObjectKey{Namespace: namespace, Name: deployment}, &appsv1.Deployment{})
	require.True(t, apierrors.IsNotFound(err), "deployment %s/%s after uninstall: %v", namespace, deployment, err)
}

// pkgApply creates or updates each object with server-side apply, in the
// order given (kustomize prints Namespaces and CRDs first). Apply requests
// are always strict, so an unknown or misspelt field fails here.
func pkgApply(t *testing.T, c client.Client, objs []*unstructured.Unstructured, namespace string) {
	t.Helper()
	for _, o := range objs {
		o = o.DeepCopy() // Apply writes the server's answer (managedFields…) into it
		if namespace != "" && o.GetNamespace() == "" {
			o.SetNamespace(namespace)
		}
		err := c.Apply(t.Context(), client.ApplyConfigurationFromUnstructured(o),
			client.FieldOwner("multinic-packaging-test"), client.ForceOwnership)
		require.NoError(t, err, "apply %s/%s", o.GetKind(), o.GetName())
		if o.GetKind() == "CustomResourceDefinition" {
			pkgWaitEstablished(t, c, o.GetName())
		}
	}
}

// pkgKustomizeApplyDefault applies `kustomize build operator/config/default`,
// what `make deploy` pipes to kubectl.
func pkgKustomizeApplyDefault(t *testing.T, c client.Client) {
	ctx := t.Context()
	key := client.ObjectKey{Namespace: kustNamespace, Name: "multinic-operator-controller-manager"}
	err := c.Get(ctx, key, &appsv1.Deployment{})
	require.True(t, apierrors.IsNotFound(err), "the Helm release was not removed, so this would test it instead: %v", err)

	objs := kustBuild(t, "operator/config/default")
	pkgApply(t, c, objs, "")
	t.Cleanup(func() {
		// Leave the CRD (the samples need it) and the namespace (envtest
		// cannot finish deleting one).
		for _, o := range objs {
			if o.GetKind() == "Namespace" || o.GetKind() == "CustomResourceDefinition" {
				continue
			}
			assert.NoError(t, client.IgnoreNotFound(c.Delete(context.Background(), o)), "%s/%s", o.GetKind(), o.GetName())
		}
	})

	var dep appsv1.Deployment
	require.NoError(t, c.Get(ctx, key, &dep))
	assert.Equal(t, "kustomize", dep.Labels["app.kubernetes.io/managed-by"], "the kustomize objects, not left-overs of the Helm release")
	pod := dep.Spec.Template.Spec
	var sa corev1.ServiceAccount
	require.NoError(t, c.Get(ctx, client.ObjectKey{Namespace: kustNamespace, Name: pod.ServiceAccountName}, &sa))
	var crb rbacv1.ClusterRoleBinding
	require.NoError(t, c.Get(ctx, client.ObjectKey{Name: "multinic-operator-manager-rolebinding"}, &crb))
	assert.Equal(t, sa.Name, crb.Subjects[0].Name)
	var role rbacv1.ClusterRole
	require.NoError(t, c.Get(ctx, client.ObjectKey{Name: crb.RoleRef.Name}, &role))
	assert.Equal(t, pkgGeneratedRules(t), role.Rules)
	var svc corev1.Service
	require.NoError(t, c.Get(ctx, client.ObjectKey{Namespace: kustNamespace, Name: "multinic-operator-inventory"}, &svc))
	assert.Equal(t, int32(18081), svc.Spec.Ports[0].Port)
	var crd apiextensionsv1.CustomResourceDefinition
	require.NoError(t, c.Get(ctx, client.ObjectKey{Name: pkgCRDName}, &crd))
	assert.True(t, pkgCRDEstablished(&crd))
}

// pkgKustomizeApplySamples applies the samples after installing the CRD the
// way `make install` does, and shows the CRD's validation is what accepted
// them: the same sample without vmNames is rejected.
func pkgKustomizeApplySamples(t *testing.T, c client.Client) {
	ctx := t.Context()
	pkgApply(t, c, kustBuild(t, "operator/config/crd"), "")

	const namespace = "multinic-samples"
	require.NoError(t, client.IgnoreAlreadyExists(c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}})))
	objs := kustBuild(t, "operator/config/samples")
	pkgApply(t, c, objs, namespace)

	var osc v1alpha1.OpenstackConfig
	require.NoError(t, c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: "openstackconfig-sample"}, &osc))
	assert.Equal(t, []string{"ACTIVE", "DOWN"}, osc.Spec.Settings.OpenstackPortAllowedStatuses)
	assert.True(t, strings.HasPrefix(osc.Spec.Settings.ContrabassEndpoint, "https://"))
	var secret corev1.Secret
	require.NoError(t, c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: "contrabass-encrypt-key"}, &secret))
	assert.NotEmpty(t, secret.Data["CONTRABASS_ENCRYPT_KEY"])

	broken := pkgFind(t, objs, "OpenstackConfig", "openstackconfig-sample").DeepCopy()
	broken.SetName("openstackconfig-without-vms")
	broken.SetNamespace(namespace)
	unstructured.RemoveNestedField(broken.Object, "spec", "vmNames")
	err := c.Apply(ctx, client.ApplyConfigurationFromUnstructured(broken), client.FieldOwner("multinic-packaging-test"))
	require.Error(t, err)
	assert.True(t, apierrors.IsInvalid(err), "rejected by the CRD schema: %v", err)
	assert.Contains(t, err.Error(), "vmNames")
}

// pkgCRDEstablished reports whether the API server serves the CRD's kind.
func pkgCRDEstablished(crd *apiextensionsv1.CustomResourceDefinition) bool {
	for _, cond := range crd.Status.Conditions {
		if cond.Type == apiextensionsv1.Established {
			return cond.Status == apiextensionsv1.ConditionTrue
		}
	}
	return false
}

// pkgWaitEstablished waits until a just-applied CRD is served, as
// `kubectl wait --for=condition=Established` would; objects of its kind are
// rejected until then. The API server establishes a CRD within moments; the
// bound only keeps a broken one from hanging the test.
func pkgWaitEstablished(t *testing.T, c client.Client, name string) {
	t.Helper()
	err := wait.PollUntilContextTimeout(t.Context(), 50*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		var crd apiextensionsv1.CustomResourceDefinition
		if err := c.Get(ctx, client.ObjectKey{Name: name}, &crd); err != nil {
			return false, err
		}
		return pkgCRDEstablished(&crd), nil
	})
	require.NoError(t, err, "CRD %s never became Established", name)
}
