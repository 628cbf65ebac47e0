package main

// Tests of the Helm chart in operator/chart that need no cluster: lint,
// rendering with default and full values, the values schema, and that the
// chart's CRD and ClusterRole are the generated ones. Installing it into a
// real API server is in packaging_envtest_test.go.

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

const (
	chartDir         = "operator/chart"
	chartFullValues  = "operator/chart/ci/full-values.yaml"
	chartRelease     = "multinic-operator" // the release name SPEC §10 installs
	chartNamespace   = "multinic-operator-system"
	chartDeployment  = "multinic-operator-controller-manager" // SPEC §10's `kubectl logs deployment/…`
	chartCRDFileName = "multinic.example.com_openstackconfigs.yaml"
)

// chartAppVersion reads Chart.yaml, so the default-tag assertion follows a
// version bump instead of hard-coding it.
func chartAppVersion(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(pkgRepoRoot(t), chartDir, "Chart.yaml"))
	require.NoError(t, err)
	var meta struct {
		Name       string `json:"name"`
		Version    string `json:"version"`
		AppVersion string `json:"appVersion"`
	}
	require.NoError(t, yaml.Unmarshal(data, &meta))
	require.Equal(t, "multinic-operator", meta.Name)
	require.NotEmpty(t, meta.AppVersion)
	return meta.AppVersion
}

// chartTemplate renders the chart as release multinic-operator in
// multinic-operator-system with extra helm arguments.
func chartTemplate(t *testing.T, args ...string) []*unstructured.Unstructured {
	t.Helper()
	all := append([]string{"template", chartRelease, chartDir, "--namespace", chartNamespace}, args...)
	return pkgDecode(t, pkgMustRun(t, pkgTool(t, "helm"), all...))
}

// chartManager is the manager container of the rendered Deployment.
func chartManager(t *testing.T, dep *appsv1.Deployment) corev1.Container {
	t.Helper()
	require.Len(t, dep.Spec.Template.Spec.Containers, 1)
	c := dep.Spec.Template.Spec.Containers[0]
	require.Equal(t, "manager", c.Name)
	return c
}

func TestChartLint(t *testing.T) {
	helm := pkgTool(t, "helm")
	// --strict turns lint warnings (e.g. a value the templates never use)
	// into failures.
	t.Run("default values", func(t *testing.T) {
		out := pkgMustRun(t, helm, "lint", "--strict", chartDir)
		assert.Contains(t, out, "0 chart(s) failed")
	})
	t.Run("full values", func(t *testing.T) {
		out := pkgMustRun(t, helm, "lint", "--strict", chartDir, "--values", chartFullValues)
		assert.Contains(t, out, "0 chart(s) failed")
	})
}

// TestChartTemplateSpecCommand renders with the flags of SPEC §10's install
// command and otherwise default values.
func TestChartTemplateSpecCommand(t *testing.T) {
	objs := chartTemplate(t,
		"--set", "image.repository=nexus.okestro-k8s.com:50000/multinic-operator",
		"--set", "image.pullSecrets[0].name=nexus-regcred",
		"--include-crds")

	dep := pkgTyped[appsv1.Deployment](t, pkgFind(t, objs, "Deployment", chartDeployment))
	assert.Equal(t, chartNamespace, dep.Namespace)
	assert.Equal(t, int32(1), *dep.Spec.Replicas, "the file inventory wants one replica")
	pod := dep.Spec.Template.Spec
	c := chartManager(t, dep)
	assert.Equal(t, "nexus.okestro-k8s.com:50000/multinic-operator:"+chartAppVersion(t), c.Image, "the tag defaults to appVersion")
	assert.Equal(t, corev1.PullIfNotPresent, c.ImagePullPolicy)
	assert.Equal(t, []corev1.LocalObjectReference{{Name: "nexus-regcred"}}, pod.ImagePullSecrets)
	assert.Equal(t, []string{"--leader-elect", "--health-probe-bind-address=:8081", "--metrics-bind-address=:8080"}, c.Args)

	for name, want := range map[string]string{
		"VIOLA_ENDPOINT":     "",
		"VIOLA_TIMEOUT":      "30s",
		"VIOLA_INSECURE_TLS": "false",
		"INVENTORY_ENABLED":  "true",
		"INVENTORY_ADDR":     ":18081",
		"INVENTORY_DB_PATH":  "/var/lib/multinic-operator/inventory.json",
	} {
		got, ok := pkgEnv(c.Env, name)
		assert.True(t, ok, "env %s missing", name)
		assert.Equal(t, want, got, "env %s", name)
	}
	assert.Equal(t, int32(18081), pkgContainerPort(c, "inventory"))
	assert.Equal(t, int32(8080), pkgContainerPort(c, "metrics"))
	require.NotNil(t, c.LivenessProbe)
	assert.Equal(t, "/healthz", c.LivenessProbe.HTTPGet.Path)
	require.NotNil(t, c.ReadinessProbe)
	assert.Equal(t, "/readyz", c.ReadinessProbe.HTTPGet.Path)
	assert.Equal(t, int32(8081), pkgContainerPort(c, c.LivenessProbe.HTTPGet.Port.StrVal))

	// Non-root and locked down; the inventory directory is the only
	// writable path, an emptyDir unless persistence is enabled.
	require.NotNil(t, pod.SecurityContext)
	assert.True(t, *pod.SecurityContext.RunAsNonRoot)
	assert.Equal(t, int64(65532), *pod.SecurityContext.FSGroup, "fsGroup makes the inventory volume writable for uid 65532")
	assert.Equal(t, corev1.SeccompProfileTypeRuntimeDefault, pod.SecurityContext.SeccompProfile.Type)
	require.NotNil(t, c.SecurityContext)
	assert.True(t, *c.SecurityContext.ReadOnlyRootFilesystem)
	assert.False(t, *c.SecurityContext.AllowPrivilegeEscalation)
	assert.Equal(t, []corev1.Capability{"ALL"}, c.SecurityContext.Capabilities.Drop)
	assert.False(t, c.Resources.Limits.Memory().IsZero(), "a memory limit is set")
	require.Len(t, c.VolumeMounts, 1)
	assert.Equal(t, "/var/lib/multinic-operator", c.VolumeMounts[0].MountPath)
	require.Len(t, pod.Volumes, 1)
	assert.NotNil(t, pod.Volumes[0].EmptyDir)
	assert.Empty(t, dep.Spec.Strategy.Type, "rolling update (the default) without a claim")
	for _, o := range objs {
		assert.NotEqual(t, "PersistentVolumeClaim", o.GetKind(), "no claim without persistence.enabled")
	}

	// The Deployment runs as the ServiceAccount both bindings grant to.
	sa := pkgFind(t, objs, "ServiceAccount", pod.ServiceAccountName)
	assert.Equal(t, chartNamespace, sa.GetNamespace())
	crb := pkgTyped[rbacv1.ClusterRoleBinding](t, pkgFind(t, objs, "ClusterRoleBinding", "multinic-operator-manager-rolebinding"))
	assert.Equal(t, []rbacv1.Subject{{Kind: "ServiceAccount", Name: pod.ServiceAccountName, Namespace: chartNamespace}}, crb.Subjects)
	pkgFind(t, objs, "ClusterRole", crb.RoleRef.Name)
	rb := pkgTyped[rbacv1.RoleBinding](t, pkgFind(t, objs, "RoleBinding", "multinic-operator-leader-election-rolebinding"))
	assert.Equal(t, []rbacv1.Subject{{Kind: "ServiceAccount", Name: pod.ServiceAccountName, Namespace: chartNamespace}}, rb.Subjects)
	pkgFind(t, objs, "Role", rb.RoleRef.Name)

	// The inventory Service reaches the pods on the named container port.
	svc := pkgTyped[corev1.Service](t, pkgFind(t, objs, "Service", "multinic-operator-inventory"))
	require.Len(t, svc.Spec.Ports, 1)
	assert.Equal(t, int32(18081), svc.Spec.Ports[0].Port)
	assert.Equal(t, "inventory", svc.Spec.Ports[0].TargetPort.StrVal)
	assert.Equal(t, dep.Spec.Selector.MatchLabels, svc.Spec.Selector)
	metrics := pkgTyped[corev1.Service](t, pkgFind(t, objs, "Service", "multinic-operator-metrics"))
	assert.Equal(t, "metrics", metrics.Spec.Ports[0].TargetPort.StrVal)

	// --include-crds shows the CRD ships with the chart.
	pkgFind(t, objs, "CustomResourceDefinition", "openstackconfigs.multinic.example.com")
}

// TestChartTemplateFullValues renders ci/full-values.yaml, which sets every
// value, and checks each one reaches the objects.
func TestChartTemplateFullValues(t *testing.T) {
	objs := chartTemplate(t, "--values", chartFullValues)

	dep := pkgTyped[appsv1.Deployment](t, pkgFind(t, objs, "Deployment", chartDeployment))
	pod := dep.Spec.Template.Spec
	c := chartManager(t, dep)
	assert.Equal(t, "nexus.okestro-k8s.com:50000/multinic-operator:1.2.3", c.Image)
	assert.Equal(t, corev1.PullAlways, c.ImagePullPolicy)
	assert.Equal(t, []corev1.LocalObjectReference{{Name: "nexus-regcred"}}, pod.ImagePullSecrets)
	endpoint, _ := pkgEnv(c.Env, "VIOLA_ENDPOINT")
	assert.Equal(t, "https://viola.example.com:8443", endpoint)
	timeout, _ := pkgEnv(c.Env, "VIOLA_TIMEOUT")
	assert.Equal(t, "45s", timeout)
	insecure, _ := pkgEnv(c.Env, "VIOLA_INSECURE_TLS")
	assert.Equal(t, "true", insecure)
	assert.Equal(t, "multinic-operator-sa", pod.ServiceAccountName)
	assert.Equal(t, "network", dep.Spec.Template.Labels["team"])
	assert.Equal(t, "true", dep.Spec.Template.Annotations["prometheus.io/scrape"])
	assert.Equal(t, map[string]string{"node-role.kubernetes.io/control-plane": ""}, pod.NodeSelector)
	require.Len(t, pod.Tolerations, 1)
	assert.Equal(t, "node-role.kubernetes.io/control-plane", pod.Tolerations[0].Key)
	require.NotNil(t, pod.Affinity)
	assert.NotNil(t, pod.Affinity.NodeAffinity)
	assert.Equal(t, "512Mi", c.Resources.Limits.Memory().String())

	// persistence.enabled: a claim of the requested size and class, mounted
	// where INVENTORY_DB_PATH points, and Recreate so two pods never share it.
	pvc := pkgTyped[corev1.PersistentVolumeClaim](t, pkgFind(t, objs, "PersistentVolumeClaim", "multinic-operator-inventory"))
	assert.Equal(t, chartNamespace, pvc.Namespace)
	assert.Equal(t, "fast-ssd", *pvc.Spec.StorageClassName)
	assert.Equal(t, []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}, pvc.Spec.AccessModes)
	assert.True(t, resource.MustParse("2Gi").Equal(pvc.Spec.Resources.Requests[corev1.ResourceStorage]))
	require.Len(t, pod.Volumes, 1)
	require.NotNil(t, pod.Volumes[0].PersistentVolumeClaim)
	assert.Equal(t, pvc.Name, pod.Volumes[0].PersistentVolumeClaim.ClaimName)
	assert.Equal(t, appsv1.RecreateDeploymentStrategyType, dep.Spec.Strategy.Type)

	svc := pkgTyped[corev1.Service](t, pkgFind(t, objs, "Service", "multinic-operator-inventory"))
	assert.Equal(t, corev1.ServiceTypeNodePort, svc.Spec.Type)
	assert.Equal(t, int32(28081), svc.Spec.Ports[0].Port, "inventory.service.port")
	assert.Equal(t, int32(18081), pkgContainerPort(c, "inventory"), "the container keeps the operator's port")
	metrics := pkgTyped[corev1.Service](t, pkgFind(t, objs, "Service", "multinic-operator-metrics"))
	assert.Equal(t, int32(9090), metrics.Spec.Ports[0].Port)
	sa := pkgFind(t, objs, "ServiceAccount", "multinic-operator-sa")
	assert.Equal(t, "platform", sa.GetAnnotations()["example.com/owner"])
}

// TestChartTemplateToggles checks the switches that remove objects or flags.
func TestChartTemplateToggles(t *testing.T) {
	t.Run("leaderElection.enabled=false", func(t *testing.T) {
		objs := chartTemplate(t, "--set", "leaderElection.enabled=false")
		c := chartManager(t, pkgTyped[appsv1.Deployment](t, pkgFind(t, objs, "Deployment", chartDeployment)))
		assert.NotContains(t, c.Args, "--leader-elect")
		assert.False(t, pkgHas(objs, "Role", "multinic-operator-leader-election-role"))
		assert.False(t, pkgHas(objs, "RoleBinding", "multinic-operator-leader-election-rolebinding"))
	})
	t.Run("inventory.enabled=false", func(t *testing.T) {
		// persistence is ignored without an inventory file to keep.
		objs := chartTemplate(t, "--set", "inventory.enabled=false", "--set", "persistence.enabled=true")
		dep := pkgTyped[appsv1.Deployment](t, pkgFind(t, objs, "Deployment", chartDeployment))
		c := chartManager(t, dep)
		enabled, _ := pkgEnv(c.Env, "INVENTORY_ENABLED")
		assert.Equal(t, "false", enabled)
		assert.Zero(t, pkgContainerPort(c, "inventory"))
		assert.Empty(t, dep.Spec.Template.Spec.Volumes)
		assert.False(t, pkgHas(objs, "Service", "multinic-operator-inventory"))
		assert.False(t, pkgHas(objs, "PersistentVolumeClaim", "multinic-operator-inventory"))
	})
	t.Run("metrics.enabled=false", func(t *testing.T) {
		objs := chartTemplate(t, "--set", "metrics.enabled=false")
		c := chartManager(t, pkgTyped[appsv1.Deployment](t, pkgFind(t, objs, "Deployment", chartDeployment)))
		assert.Contains(t, c.Args, "--metrics-bind-address=0", "0 turns the metrics listener off")
		assert.False(t, pkgHas(objs, "Service", "multinic-operator-metrics"))
	})
	t.Run("persistence.existingClaim", func(t *testing.T) {
		objs := chartTemplate(t, "--set", "persistence.enabled=true", "--set", "persistence.existingClaim=kept-inventory")
		dep := pkgTyped[appsv1.Deployment](t, pkgFind(t, objs, "Deployment", chartDeployment))
		assert.Equal(t, "kept-inventory", dep.Spec.Template.Spec.Volumes[0].PersistentVolumeClaim.ClaimName)
		assert.False(t, pkgHas(objs, "PersistentVolumeClaim", "multinic-operator-inventory"), "an existing claim is not created")
	})
	t.Run("numeric image.tag", func(t *testing.T) {
		// --set parses 20250101 as a number; it must stay the tag verbatim.
		objs := chartTemplate(t, "--set", "image.tag=20250101")
		c := chartManager(t, pkgTyped[appsv1.Deployment](t, pkgFind(t, objs, "Deployment", chartDeployment)))
		assert.Equal(t, "multinic-operator:20250101", c.Image)
	})
	t.Run("other release name", func(t *testing.T) {
		// A release name without the chart name gets it appended; the
		// SPEC's name holds only for release multinic-operator.
		out := pkgMustRun(t, pkgTool(t, "helm"), "template", "mno", chartDir, "--namespace", "ops")
		pkgFind(t, pkgDecode(t, out), "Deployment", "mno-multinic-operator-controller-manager")
	})
}

// TestChartValuesSchemaRejectsBadValues shows values.schema.json turns
// mistakes into install-time errors naming the key, instead of a broken or
// silently misconfigured Deployment.
func TestChartValuesSchemaRejectsBadValues(t *testing.T) {
	helm := pkgTool(t, "helm")
	for _, tc := range []struct {
		name string
		args []string
		want string // part of helm's error
	}{
		{"negative inventory port", []string{"--set", "inventory.service.port=-1"}, "/inventory/service/port"},
		{"inventory port above 65535", []string{"--set", "inventory.service.port=70000"}, "/inventory/service/port"},
		{"replicaCount not a number", []string{"--set", "replicaCount=x"}, "/replicaCount"},
		{"replicaCount negative", []string{"--set", "replicaCount=-1"}, "/replicaCount"},
		{"unknown top-level key", []string{"--set", "violaEndpoint=https://viola.example.com"}, "violaEndpoint"},
		{"misspelt nested key", []string{"--set", "persistence.enable=true"}, "enable"},
		{"pull secret as a string", []string{"--set", "image.pullSecrets=nexus-regcred"}, "/image/pullSecrets"},
		{"pull secret without name", []string{"--set", "image.pullSecrets[0].nam=nexus-regcred"}, "/image/pullSecrets/0"},
		{"viola timeout not a duration", []string{"--set", "operatorConfig.violaTimeout=soon"}, "/operatorConfig/violaTimeout"},
		{"viola endpoint not a URL", []string{"--set", "operatorConfig.violaEndpoint=viola:8080"}, "/operatorConfig/violaEndpoint"},
		{"insecure TLS not a boolean", []string{"--set-string", "operatorConfig.violaInsecureTLS=yes"}, "/operatorConfig/violaInsecureTLS"},
		{"persistence size not a quantity", []string{"--set", "persistence.size=lots"}, "/persistence/size"},
		{"unknown access mode", []string{"--set", "persistence.accessModes[0]=ReadWriteSometimes"}, "/persistence/accessModes/0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"template", chartRelease, chartDir, "--namespace", chartNamespace}, tc.args...)
			res := pkgRun(t, helm, args...)
			require.Error(t, res.err, "helm accepted %v:\n%s", tc.args, res.stdout)
			assert.Contains(t, res.stderr, "values don't meet the specifications of the schema")
			assert.Contains(t, res.stderr, tc.want)
		})
	}
}

// TestChartClusterRoleMatchesGeneratedRole: the chart repeats the rules of
// the generated operator/config/rbac/role.yaml (helm cannot read files
// outside the chart), so a new +kubebuilder:rbac marker must reach it too or
// the operator is forbidden at run time when installed with Helm.
func TestChartClusterRoleMatchesGeneratedRole(t *testing.T) {
	objs := chartTemplate(t, "--show-only", "templates/clusterrole.yaml")
	role := pkgTyped[rbacv1.ClusterRole](t, pkgFind(t, objs, "ClusterRole", "multinic-operator-manager-role"))
	assert.Equal(t, pkgGeneratedRules(t), role.Rules,
		"operator/chart/templates/clusterrole.yaml differs from the generated operator/config/rbac/role.yaml; copy its rules")

	// The leader-election Role is hand-written twice (chart and kustomize);
	// keep them the same so both installs can take the lease.
	objs = chartTemplate(t, "--show-only", "templates/leader-election-rbac.yaml")
	chartRole := pkgTyped[rbacv1.Role](t, pkgFind(t, objs, "Role", "multinic-operator-leader-election-role"))
	data, err := os.ReadFile(filepath.Join(pkgRepoRoot(t), "operator", "config", "rbac", "leader_election_role.yaml"))
	require.NoError(t, err)
	kustRole := pkgTyped[rbacv1.Role](t, pkgFind(t, pkgDecode(t, string(data)), "Role", "leader-election-role"))
	assert.Equal(t, kustRole.Rules, chartRole.Rules)
	leases := slices.IndexFunc(chartRole.Rules, func(r rbacv1.PolicyRule) bool {
		return slices.Contains(r.APIGroups, "coordination.k8s.io") && slices.Contains(r.Resources, "leases")
	})
	assert.GreaterOrEqual(t, leases, 0, "leader election needs leases")
}

// TestChartCRDIsTheGeneratedCRD: helm installs crds/ verbatim, so the copy
// must be byte-identical to what `make manifests` generates (it copies it).
func TestChartCRDIsTheGeneratedCRD(t *testing.T) {
	root := pkgRepoRoot(t)
	generated, err := os.ReadFile(filepath.Join(root, "operator", "config", "crd", "bases", chartCRDFileName))
	require.NoError(t, err)
	chart, err := os.ReadFile(filepath.Join(root, chartDir, "crds", chartCRDFileName))
	require.NoError(t, err)
	if string(generated) != string(chart) {
		t.Fatalf("%s/crds/%s differs from the generated CRD; run `make manifests`", chartDir, chartCRDFileName)
	}
	entries, err := os.ReadDir(filepath.Join(root, chartDir, "crds"))
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	assert.Equal(t, []string{chartCRDFileName}, names, "only the generated CRD belongs in crds/")
}
