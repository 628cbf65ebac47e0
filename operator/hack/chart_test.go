package hack

// Tests of the Helm chart in operator/chart that need no cluster: lint,
// rendering with default and full values, the values schema, and that the
// chart's CRD and ClusterRole are the generated ones. Installing it into a
// real API server is in packaging_envtest_test.go.

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
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
	assert.Equal(t, []string{"--leader-elect", "--health-probe-bind-address=:8081", "--metrics-bind-address=:8443", "--metrics-secure=true",
		"--zap-log-level=info", "--max-concurrent-reconciles=16"}, c.Args)
	assert.Empty(t, pod.PriorityClassName)
	assert.Empty(t, pod.TopologySpreadConstraints)

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
	_, ok := pkgEnv(c.Env, "CONTRABASS_BEARER_TOKEN")
	assert.False(t, ok, "no Contrabass bearer token unless a Secret is named")
	assert.Equal(t, int32(18081), pkgContainerPort(c, "inventory"))
	assert.Equal(t, int32(8443), pkgContainerPort(c, "metrics"), "HTTPS metrics on kubebuilder's port")
	require.NotNil(t, c.LivenessProbe)
	assert.Equal(t, "/healthz", c.LivenessProbe.HTTPGet.Path)
	require.NotNil(t, c.ReadinessProbe)
	assert.Equal(t, "/readyz", c.ReadinessProbe.HTTPGet.Path)
	assert.Equal(t, int32(8081), pkgContainerPort(c, c.LivenessProbe.HTTPGet.Port.StrVal))
	// The timings the chart had before they became values.
	assert.Equal(t, [4]int32{15, 20, 1, 3}, [4]int32{c.LivenessProbe.InitialDelaySeconds, c.LivenessProbe.PeriodSeconds,
		c.LivenessProbe.TimeoutSeconds, c.LivenessProbe.FailureThreshold})
	assert.Equal(t, [5]int32{5, 10, 1, 3, 1}, [5]int32{c.ReadinessProbe.InitialDelaySeconds, c.ReadinessProbe.PeriodSeconds,
		c.ReadinessProbe.TimeoutSeconds, c.ReadinessProbe.FailureThreshold, c.ReadinessProbe.SuccessThreshold})
	assert.Equal(t, int64(10), *pod.TerminationGracePeriodSeconds)
	assert.Equal(t, int32(10), *dep.Spec.RevisionHistoryLimit)

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
	assert.Empty(t, svc.Annotations)
	metrics := pkgTyped[corev1.Service](t, pkgFind(t, objs, "Service", "multinic-operator-metrics"))
	assert.Equal(t, "metrics", metrics.Spec.Ports[0].TargetPort.StrVal)
	assert.Equal(t, int32(8443), metrics.Spec.Ports[0].Port)

	// Secure metrics: the manager may review tokens and access, and
	// scrapers get a role to be bound to.
	auth := pkgTyped[rbacv1.ClusterRoleBinding](t, pkgFind(t, objs, "ClusterRoleBinding", "multinic-operator-metrics-auth-rolebinding"))
	assert.Equal(t, []rbacv1.Subject{{Kind: "ServiceAccount", Name: pod.ServiceAccountName, Namespace: chartNamespace}}, auth.Subjects)
	assert.Equal(t, pkgMetricsAuthRules, pkgTyped[rbacv1.ClusterRole](t, pkgFind(t, objs, "ClusterRole", auth.RoleRef.Name)).Rules)
	reader := pkgTyped[rbacv1.ClusterRole](t, pkgFind(t, objs, "ClusterRole", "multinic-operator-metrics-reader"))
	assert.Equal(t, pkgMetricsReaderRules, reader.Rules)

	// --include-crds shows the CRD ships with the chart.
	pkgFind(t, objs, "CustomResourceDefinition", "openstackconfigs.multinic.example.com")

	// Opt-in objects stay out by default; users get OpenstackConfig access
	// through the built-in roles.
	for _, kind := range []string{"PodDisruptionBudget", "NetworkPolicy", "ServiceMonitor", "PrometheusRule", "ConfigMap"} {
		assert.False(t, slices.ContainsFunc(objs, func(o *unstructured.Unstructured) bool { return o.GetKind() == kind }), "%s rendered by default", kind)
	}
	viewer := pkgFind(t, objs, "ClusterRole", "multinic-operator-openstackconfig-viewer-role")
	assert.Equal(t, "true", viewer.GetLabels()["rbac.authorization.k8s.io/aggregate-to-view"])
	editor := pkgFind(t, objs, "ClusterRole", "multinic-operator-openstackconfig-editor-role")
	assert.Equal(t, "true", editor.GetLabels()["rbac.authorization.k8s.io/aggregate-to-edit"])
}

// TestChartTemplateFullValues renders ci/full-values.yaml, which sets every
// value, and checks each one reaches the objects.
func TestChartTemplateFullValues(t *testing.T) {
	objs := chartTemplate(t, "--values", chartFullValues)

	dep := pkgTyped[appsv1.Deployment](t, pkgFind(t, objs, "Deployment", chartDeployment))
	pod := dep.Spec.Template.Spec
	c := chartManager(t, dep)
	assert.Equal(t, "nexus.okestro-k8s.com:50000/multinic-operator@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", c.Image,
		"the digest wins over the tag")
	assert.Equal(t, "1.2.3", dep.Labels["app.kubernetes.io/version"], "the version label keeps the tag")
	assert.Equal(t, corev1.PullAlways, c.ImagePullPolicy)
	assert.Equal(t, []corev1.LocalObjectReference{{Name: "nexus-regcred"}}, pod.ImagePullSecrets)
	endpoint, _ := pkgEnv(c.Env, "VIOLA_ENDPOINT")
	assert.Equal(t, "https://viola.example.com:8443", endpoint)
	timeout, _ := pkgEnv(c.Env, "VIOLA_TIMEOUT")
	assert.Equal(t, "45s", timeout)
	insecure, _ := pkgEnv(c.Env, "VIOLA_INSECURE_TLS")
	assert.Equal(t, "true", insecure)
	var token *corev1.EnvVar
	for i := range c.Env {
		if c.Env[i].Name == "CONTRABASS_BEARER_TOKEN" {
			token = &c.Env[i]
		}
	}
	require.NotNil(t, token, "the Contrabass bearer token comes from the named Secret")
	assert.Empty(t, token.Value, "never a plain value")
	require.NotNil(t, token.ValueFrom)
	assert.Equal(t, &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "contrabass-token"}, Key: "bearer"}, token.ValueFrom.SecretKeyRef)
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
	assert.Equal(t, map[string]string{"helm.sh/resource-policy": "keep"}, pvc.Annotations, "persistence.annotations")
	require.Len(t, pod.Volumes, 3)
	require.NotNil(t, pod.Volumes[0].PersistentVolumeClaim)
	assert.Equal(t, pvc.Name, pod.Volumes[0].PersistentVolumeClaim.ClaimName)
	assert.Equal(t, appsv1.RecreateDeploymentStrategyType, dep.Spec.Strategy.Type)

	chartFullValuesManager(t, dep, c)
	chartFullValuesPolicies(t, objs, dep)
	chartFullValuesMonitoring(t, objs)
	assert.False(t, pkgHas(objs, "ClusterRole", "multinic-operator-openstackconfig-viewer-role"), "rbac.aggregateToDefaultRoles=false")

	svc := pkgTyped[corev1.Service](t, pkgFind(t, objs, "Service", "multinic-operator-inventory"))
	assert.Equal(t, corev1.ServiceTypeNodePort, svc.Spec.Type)
	assert.Equal(t, int32(28081), svc.Spec.Ports[0].Port, "inventory.service.port")
	assert.Equal(t, map[string]string{"service.beta.kubernetes.io/openstack-internal-load-balancer": "true"}, svc.Annotations)
	assert.Equal(t, int32(18081), pkgContainerPort(c, "inventory"), "the container keeps the operator's port")
	metrics := pkgTyped[corev1.Service](t, pkgFind(t, objs, "Service", "multinic-operator-metrics"))
	assert.Equal(t, int32(9443), metrics.Spec.Ports[0].Port)
	assert.Equal(t, map[string]string{"example.com/scraped-by": "prometheus"}, metrics.Annotations)

	// Deployment tuning.
	assert.Equal(t, int32(3), *dep.Spec.RevisionHistoryLimit)
	assert.Equal(t, int64(45), *pod.TerminationGracePeriodSeconds)
	live, ready := c.LivenessProbe, c.ReadinessProbe
	assert.Equal(t, "/healthz", live.HTTPGet.Path, "the chart keeps the probe's target")
	assert.Equal(t, [4]int32{30, 15, 3, 5}, [4]int32{live.InitialDelaySeconds, live.PeriodSeconds, live.TimeoutSeconds, live.FailureThreshold})
	assert.Equal(t, "/readyz", ready.HTTPGet.Path)
	assert.Equal(t, [5]int32{2, 5, 2, 2, 2}, [5]int32{ready.InitialDelaySeconds, ready.PeriodSeconds, ready.TimeoutSeconds,
		ready.FailureThreshold, ready.SuccessThreshold})

	// commonLabels reach every object the chart renders, and the pods.
	for _, o := range objs {
		for k, v := range map[string]string{"cost-center": "net-42", "environment": "production"} {
			assert.Equal(t, v, o.GetLabels()[k], "%s/%s: commonLabels %s", o.GetKind(), o.GetName(), k)
		}
	}
	assert.Equal(t, "production", dep.Spec.Template.Labels["environment"])
	assert.NotContains(t, dep.Spec.Selector.MatchLabels, "environment", "the immutable selector stays as it was")
	sa := pkgFind(t, objs, "ServiceAccount", "multinic-operator-sa")
	assert.Equal(t, "platform", sa.GetAnnotations()["example.com/owner"])
}

// chartFullValuesManager checks the manager's flags, environment, volumes
// and scheduling from ci/full-values.yaml.
func chartFullValuesManager(t *testing.T, dep *appsv1.Deployment, c corev1.Container) {
	t.Helper()
	pod := dep.Spec.Template.Spec
	assert.Equal(t, []string{"--leader-elect", "--health-probe-bind-address=:8081", "--metrics-bind-address=:8443", "--metrics-secure=true",
		"--metrics-cert-path=/tmp/k8s-metrics-server/metrics-certs",
		"--zap-log-level=debug", "--max-concurrent-reconciles=8", "--zap-stacktrace-level=panic"}, c.Args, "extraArgs come last")
	caDir, _ := pkgEnv(c.Env, "SSL_CERT_DIR")
	assert.Equal(t, "/etc/multinic/ca", caDir)
	podName := c.Env[slices.IndexFunc(c.Env, func(e corev1.EnvVar) bool { return e.Name == "POD_NAME" })]
	require.NotNil(t, podName.ValueFrom, "extraEnv keeps valueFrom")
	assert.Equal(t, "metadata.name", podName.ValueFrom.FieldRef.FieldPath)
	_, ok := pkgEnv(c.Env, "INVENTORY_DB_PATH")
	assert.True(t, ok, "the chart's own variables stay")

	// metrics.certSecret: the Secret mounted where --metrics-cert-path points.
	require.Len(t, c.VolumeMounts, 3)
	assert.Equal(t, corev1.VolumeMount{Name: "metrics-certs", MountPath: "/tmp/k8s-metrics-server/metrics-certs", ReadOnly: true}, c.VolumeMounts[1])
	assert.Equal(t, "metrics-certs", pod.Volumes[1].Name)
	require.NotNil(t, pod.Volumes[1].Secret)
	assert.Equal(t, "multinic-operator-metrics-cert", pod.Volumes[1].Secret.SecretName)

	// The CA bundle example: a ConfigMap volume mounted where SSL_CERT_DIR
	// points, after the chart's own.
	assert.Equal(t, corev1.VolumeMount{Name: "contrabass-ca", MountPath: "/etc/multinic/ca", ReadOnly: true}, c.VolumeMounts[2])
	assert.Equal(t, "contrabass-ca", pod.Volumes[2].Name)
	require.NotNil(t, pod.Volumes[2].ConfigMap)
	assert.Equal(t, "contrabass-ca", pod.Volumes[2].ConfigMap.Name)

	assert.Equal(t, "multinic-critical", pod.PriorityClassName)
	require.Len(t, pod.TopologySpreadConstraints, 1)
	spread := pod.TopologySpreadConstraints[0]
	assert.Equal(t, "topology.kubernetes.io/zone", spread.TopologyKey)
	assert.Equal(t, corev1.ScheduleAnyway, spread.WhenUnsatisfiable)
	require.NotNil(t, spread.LabelSelector, "a constraint without a selector gets the release's pods")
	assert.Equal(t, dep.Spec.Selector.MatchLabels, spread.LabelSelector.MatchLabels)
}

// chartFullValuesPolicies checks the PodDisruptionBudget and NetworkPolicy.
func chartFullValuesPolicies(t *testing.T, objs []*unstructured.Unstructured, dep *appsv1.Deployment) {
	t.Helper()
	pdb := pkgTyped[policyv1.PodDisruptionBudget](t, pkgFind(t, objs, "PodDisruptionBudget", chartDeployment))
	assert.Equal(t, dep.Spec.Selector.MatchLabels, pdb.Spec.Selector.MatchLabels)
	require.NotNil(t, pdb.Spec.MaxUnavailable)
	assert.Equal(t, "50%", pdb.Spec.MaxUnavailable.String())
	assert.Nil(t, pdb.Spec.MinAvailable)

	np := pkgTyped[networkingv1.NetworkPolicy](t, pkgFind(t, objs, "NetworkPolicy", chartDeployment))
	assert.Equal(t, dep.Spec.Selector.MatchLabels, np.Spec.PodSelector.MatchLabels)
	assert.Equal(t, []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}, np.Spec.PolicyTypes, "egress is left alone")
	require.Len(t, np.Spec.Ingress, 3)
	byPort := map[string]networkingv1.NetworkPolicyIngressRule{}
	for _, rule := range np.Spec.Ingress {
		require.Len(t, rule.Ports, 1)
		byPort[rule.Ports[0].Port.StrVal] = rule
	}
	// Every named port exists on the container, or the rule matches nothing.
	c := chartManager(t, dep)
	for port := range byPort {
		assert.NotZero(t, pkgContainerPort(c, port), "policy port %s is not a container port", port)
	}
	assert.Empty(t, byPort["probes"].From, "kubelet probes come from the node: the probe port is open to all")
	require.Len(t, byPort["metrics"].From, 1)
	assert.Equal(t, map[string]string{"kubernetes.io/metadata.name": "monitoring"}, byPort["metrics"].From[0].NamespaceSelector.MatchLabels)
	assert.Equal(t, map[string]string{"app.kubernetes.io/name": "prometheus"}, byPort["metrics"].From[0].PodSelector.MatchLabels,
		"namespace and pod selector in one peer: both must match")
	require.Len(t, byPort["inventory"].From, 1)
	assert.Equal(t, []string{"viola-system", "platform-tools"}, byPort["inventory"].From[0].NamespaceSelector.MatchExpressions[0].Values)
}

// chartFullValuesMonitoring checks the ServiceMonitor, PrometheusRule and
// dashboard ConfigMap.
func chartFullValuesMonitoring(t *testing.T, objs []*unstructured.Unstructured) {
	t.Helper()
	sm := pkgFind(t, objs, "ServiceMonitor", "multinic-operator-metrics")
	assert.Equal(t, chartNamespace, sm.GetNamespace())
	assert.Equal(t, "kube-prometheus-stack", sm.GetLabels()["release"])
	selector, _, _ := unstructured.NestedStringMap(sm.Object, "spec", "selector", "matchLabels")
	metrics := pkgFind(t, objs, "Service", "multinic-operator-metrics")
	for k, v := range selector {
		assert.Equal(t, v, metrics.GetLabels()[k], "the ServiceMonitor selects the metrics Service by %s", k)
	}
	assert.NotEqual(t, "metrics", pkgFind(t, objs, "Service", "multinic-operator-inventory").GetLabels()["app.kubernetes.io/component"])
	endpoints, _, _ := unstructured.NestedSlice(sm.Object, "spec", "endpoints")
	require.Len(t, endpoints, 1)
	ep := endpoints[0].(map[string]any)
	assert.Equal(t, "metrics", ep["port"])
	assert.Equal(t, "https", ep["scheme"])
	assert.Equal(t, map[string]any{"type": "Bearer", "credentials": map[string]any{"name": "prometheus-scrape-token", "key": "token"}},
		ep["authorization"], "serviceMonitor.bearerTokenSecret")
	assert.NotContains(t, ep, "bearerTokenFile", "one source of the token")
	assert.Equal(t, map[string]any{
		"ca":         map[string]any{"configMap": map[string]any{"name": "metrics-ca", "key": "ca.crt"}},
		"serverName": "multinic-operator-metrics.multinic-operator-system.svc",
	}, ep["tlsConfig"], "serviceMonitor.tlsConfig replaces the chart's")
	assert.Equal(t, "1m", ep["interval"])
	assert.Equal(t, "20s", ep["scrapeTimeout"])
	assert.Equal(t, true, ep["honorLabels"], "the per-CR namespace label must not become exported_namespace")
	assert.Len(t, ep["relabelings"], 1)
	assert.Len(t, ep["metricRelabelings"], 1)

	rule := pkgFind(t, objs, "PrometheusRule", "multinic-operator")
	assert.Equal(t, "kube-prometheus-stack", rule.GetLabels()["release"])
	rules := chartAlerts(t, rule)
	assert.Len(t, rules, 5)
	assert.Contains(t, rules["MultinicOpenstackConfigNotSynced"]["expr"], "> 7200", "2h in seconds")
	assert.Equal(t, "critical", rules["MultinicOpenstackConfigNotSynced"]["labels"].(map[string]any)["severity"])
	assert.Contains(t, rules["MultinicDependencyErrors"]["expr"], `code=~"4xx|5xx|error"}[30m]`)
	assert.Contains(t, rules["MultinicDependencyErrors"]["expr"], "> 0.5")
	assert.Equal(t, "15m", rules["MultinicDependencyErrors"]["for"])
	assert.Equal(t, "1h", rules["MultinicDownPortsStuck"]["for"])
	assert.Equal(t, "info", rules["MultinicDownPortsStuck"]["labels"].(map[string]any)["severity"])
	assert.Contains(t, rules["MultinicInventoryWriteErrors"]["expr"], "[1h]")
	assert.Contains(t, rules["MultinicOperatorDown"]["expr"], `job="multinic-operator-metrics", namespace="multinic-operator-system"`)
	for name, r := range rules {
		annotations := r["annotations"].(map[string]any)
		assert.NotEmpty(t, annotations["summary"], name)
		assert.NotEmpty(t, annotations["description"], name)
	}

	dash := pkgFind(t, objs, "ConfigMap", "multinic-operator-dashboard")
	assert.Equal(t, "grafana", dash.GetNamespace(), "grafanaDashboard.namespace")
	assert.Equal(t, "yes", dash.GetLabels()["grafana_dashboard"])
	assert.Equal(t, "Networking", dash.GetAnnotations()["grafana_folder"])
	data, _, _ := unstructured.NestedString(dash.Object, "data", "multinic-operator.json")
	var board struct {
		UID    string `json:"uid"`
		Panels []any  `json:"panels"`
	}
	require.NoError(t, json.Unmarshal([]byte(data), &board), "the dashboard survives templating as JSON")
	assert.Equal(t, "multinic-operator", board.UID)
	assert.NotEmpty(t, board.Panels)
}

// chartScrapeEndpoint is the one endpoint of the rendered ServiceMonitor.
func chartScrapeEndpoint(t *testing.T, objs []*unstructured.Unstructured) map[string]any {
	t.Helper()
	endpoints, _, err := unstructured.NestedSlice(pkgFind(t, objs, "ServiceMonitor", "multinic-operator-metrics").Object, "spec", "endpoints")
	require.NoError(t, err)
	require.Len(t, endpoints, 1)
	return endpoints[0].(map[string]any)
}

// chartAlerts indexes the rules of a rendered PrometheusRule by alert name.
func chartAlerts(t *testing.T, rule *unstructured.Unstructured) map[string]map[string]any {
	t.Helper()
	groups, _, err := unstructured.NestedSlice(rule.Object, "spec", "groups")
	require.NoError(t, err)
	out := map[string]map[string]any{}
	for _, g := range groups {
		for _, r := range g.(map[string]any)["rules"].([]any) {
			m := r.(map[string]any)
			out[m["alert"].(string)] = m
		}
	}
	return out
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
		objs := chartTemplate(t, "--set", "metrics.enabled=false", "--set", "metrics.certSecret=ignored")
		dep := pkgTyped[appsv1.Deployment](t, pkgFind(t, objs, "Deployment", chartDeployment))
		c := chartManager(t, dep)
		assert.Contains(t, c.Args, "--metrics-bind-address=0", "0 turns the metrics listener off")
		assert.NotContains(t, strings.Join(c.Args, " "), "--metrics-cert-path")
		assert.Len(t, dep.Spec.Template.Spec.Volumes, 1, "no certificate volume")
		assert.False(t, pkgHas(objs, "Service", "multinic-operator-metrics"))
		assert.False(t, pkgHas(objs, "ClusterRole", "multinic-operator-metrics-reader"))
		assert.False(t, pkgHas(objs, "ClusterRole", "multinic-operator-metrics-auth-role"))
	})
	t.Run("metrics.secure=false", func(t *testing.T) {
		objs := chartTemplate(t, "--set", "metrics.secure=false", "--set", "serviceMonitor.enabled=true")
		c := chartManager(t, pkgTyped[appsv1.Deployment](t, pkgFind(t, objs, "Deployment", chartDeployment)))
		assert.Contains(t, c.Args, "--metrics-bind-address=:8080")
		assert.Contains(t, c.Args, "--metrics-secure=false")
		assert.Equal(t, int32(8080), pkgContainerPort(c, "metrics"))
		assert.False(t, pkgHas(objs, "ClusterRole", "multinic-operator-metrics-auth-role"), "no token to check")
		assert.False(t, pkgHas(objs, "ClusterRoleBinding", "multinic-operator-metrics-auth-rolebinding"))
		assert.False(t, pkgHas(objs, "ClusterRole", "multinic-operator-metrics-reader"))
		ep := chartScrapeEndpoint(t, objs)
		assert.Equal(t, "http", ep["scheme"])
		assert.NotContains(t, ep, "tlsConfig")
		assert.NotContains(t, ep, "bearerTokenFile")
	})
	t.Run("ServiceMonitor of self-signed secure metrics", func(t *testing.T) {
		ep := chartScrapeEndpoint(t, chartTemplate(t, "--set", "serviceMonitor.enabled=true"))
		assert.Equal(t, "https", ep["scheme"])
		assert.Equal(t, "/var/run/secrets/kubernetes.io/serviceaccount/token", ep["bearerTokenFile"], "Prometheus' own token")
		assert.Equal(t, map[string]any{"insecureSkipVerify": true}, ep["tlsConfig"], "no CA to verify a self-signed certificate with")
	})
	t.Run("metrics.certSecret", func(t *testing.T) {
		objs := chartTemplate(t, "--set", "serviceMonitor.enabled=true", "--set", "metrics.certSecret=metrics-tls")
		dep := pkgTyped[appsv1.Deployment](t, pkgFind(t, objs, "Deployment", chartDeployment))
		c := chartManager(t, dep)
		assert.Contains(t, c.Args, "--metrics-cert-path=/tmp/k8s-metrics-server/metrics-certs")
		assert.Contains(t, c.VolumeMounts, corev1.VolumeMount{Name: "metrics-certs", MountPath: "/tmp/k8s-metrics-server/metrics-certs", ReadOnly: true})
		i := slices.IndexFunc(dep.Spec.Template.Spec.Volumes, func(v corev1.Volume) bool { return v.Name == "metrics-certs" })
		require.GreaterOrEqual(t, i, 0)
		assert.Equal(t, "metrics-tls", dep.Spec.Template.Spec.Volumes[i].Secret.SecretName)
		// Prometheus verifies the certificate against the Secret's CA, for
		// the name the Service is reached by.
		ep := chartScrapeEndpoint(t, objs)
		assert.Equal(t, map[string]any{
			"ca":         map[string]any{"secret": map[string]any{"name": "metrics-tls", "key": "ca.crt"}},
			"serverName": "multinic-operator-metrics.multinic-operator-system.svc",
		}, ep["tlsConfig"])
	})
	t.Run("commonLabels never replace the chart's", func(t *testing.T) {
		objs := chartTemplate(t, "--set", "commonLabels.app\\.kubernetes\\.io/name=other", "--set", "commonLabels.team=a",
			"--set", "serviceMonitor.enabled=true", "--set", "serviceMonitor.labels.team=b")
		for _, o := range objs {
			assert.Equal(t, "multinic-operator", o.GetLabels()["app.kubernetes.io/name"], "%s/%s", o.GetKind(), o.GetName())
			want := "a"
			if o.GetKind() == "ServiceMonitor" {
				want = "b" // the object's own labels (Prometheus selects by them) win
			}
			assert.Equal(t, want, o.GetLabels()["team"], "%s/%s", o.GetKind(), o.GetName())
		}
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
	t.Run("image.digest", func(t *testing.T) {
		const digest = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		objs := chartTemplate(t, "--set", "image.digest="+digest, "--set", "image.tag=1.0.0")
		c := chartManager(t, pkgTyped[appsv1.Deployment](t, pkgFind(t, objs, "Deployment", chartDeployment)))
		assert.Equal(t, "multinic-operator@"+digest, c.Image)
	})
	t.Run("extra volumes without the inventory", func(t *testing.T) {
		objs := chartTemplate(t, "--set", "inventory.enabled=false",
			"--set", "extraVolumes[0].name=ca", "--set", "extraVolumes[0].configMap.name=ca",
			"--set", "extraVolumeMounts[0].name=ca", "--set", "extraVolumeMounts[0].mountPath=/etc/ca")
		dep := pkgTyped[appsv1.Deployment](t, pkgFind(t, objs, "Deployment", chartDeployment))
		require.Len(t, dep.Spec.Template.Spec.Volumes, 1)
		assert.Equal(t, "ca", dep.Spec.Template.Spec.Volumes[0].Name)
		assert.Equal(t, []corev1.VolumeMount{{Name: "ca", MountPath: "/etc/ca"}}, chartManager(t, dep).VolumeMounts)
	})
	t.Run("topologySpreadConstraints with their own selector", func(t *testing.T) {
		objs := chartTemplate(t, "--set", "topologySpreadConstraints[0].maxSkew=2",
			"--set", "topologySpreadConstraints[0].topologyKey=kubernetes.io/hostname",
			"--set", "topologySpreadConstraints[0].whenUnsatisfiable=DoNotSchedule",
			"--set", "topologySpreadConstraints[0].labelSelector.matchLabels.team=net")
		dep := pkgTyped[appsv1.Deployment](t, pkgFind(t, objs, "Deployment", chartDeployment))
		spread := dep.Spec.Template.Spec.TopologySpreadConstraints
		require.Len(t, spread, 1)
		assert.Equal(t, map[string]string{"team": "net"}, spread[0].LabelSelector.MatchLabels, "kept, not merged with the default")
		assert.Equal(t, int32(2), spread[0].MaxSkew)
	})
	t.Run("podDisruptionBudget", func(t *testing.T) {
		pdbOf := func(args ...string) *policyv1.PodDisruptionBudget {
			objs := chartTemplate(t, append([]string{"--set", "podDisruptionBudget.enabled=true"}, args...)...)
			return pkgTyped[policyv1.PodDisruptionBudget](t, pkgFind(t, objs, "PodDisruptionBudget", chartDeployment))
		}
		def := pdbOf()
		require.NotNil(t, def.Spec.MaxUnavailable)
		assert.Equal(t, 1, def.Spec.MaxUnavailable.IntValue(), "neither set: one pod may be evicted, drains work")
		minAvail := pdbOf("--set", "podDisruptionBudget.minAvailable=1")
		assert.Equal(t, 1, minAvail.Spec.MinAvailable.IntValue())
		assert.Nil(t, minAvail.Spec.MaxUnavailable)
		zero := pdbOf("--set", "podDisruptionBudget.maxUnavailable=0")
		require.NotNil(t, zero.Spec.MaxUnavailable, "0 is a value, not unset")
		assert.Equal(t, 0, zero.Spec.MaxUnavailable.IntValue())
	})
	t.Run("networkPolicy with no peers", func(t *testing.T) {
		objs := chartTemplate(t, "--set", "networkPolicy.enabled=true")
		np := pkgTyped[networkingv1.NetworkPolicy](t, pkgFind(t, objs, "NetworkPolicy", chartDeployment))
		require.Len(t, np.Spec.Ingress, 1, "only the probe port is open")
		assert.Equal(t, "probes", np.Spec.Ingress[0].Ports[0].Port.StrVal)
	})
	t.Run("networkPolicy leaves out disabled ports", func(t *testing.T) {
		objs := chartTemplate(t, "--set", "networkPolicy.enabled=true", "--set", "metrics.enabled=false",
			"--set", "networkPolicy.metrics.from[0].podSelector.matchLabels.app=prometheus",
			"--set", "networkPolicy.inventory.from[0].podSelector.matchLabels.app=viola")
		np := pkgTyped[networkingv1.NetworkPolicy](t, pkgFind(t, objs, "NetworkPolicy", chartDeployment))
		var ports []string
		for _, rule := range np.Spec.Ingress {
			ports = append(ports, rule.Ports[0].Port.StrVal)
		}
		assert.Equal(t, []string{"probes", "inventory"}, ports)
	})
	t.Run("several replicas without the inventory file", func(t *testing.T) {
		// Standbys behind leader election are fine once there is no file
		// that only the leader writes.
		objs := chartTemplate(t, "--set", "replicaCount=2", "--set", "inventory.enabled=false")
		dep := pkgTyped[appsv1.Deployment](t, pkgFind(t, objs, "Deployment", chartDeployment))
		assert.Equal(t, int32(2), *dep.Spec.Replicas)
		assert.Contains(t, chartManager(t, dep).Args, "--leader-elect")
	})
	t.Run("other release name", func(t *testing.T) {
		// A release name without the chart name gets it appended; the
		// SPEC's name holds only for release multinic-operator.
		out := pkgMustRun(t, pkgTool(t, "helm"), "template", "mno", chartDir, "--namespace", "ops")
		pkgFind(t, pkgDecode(t, out), "Deployment", "mno-multinic-operator-controller-manager")
	})
}

// TestChartRefusesUnsafeSettings: combinations the operator cannot run
// correctly fail at install time with a message that says why.
func TestChartRefusesUnsafeSettings(t *testing.T) {
	helm := pkgTool(t, "helm")
	for _, tc := range []struct {
		name string
		args []string
		want []string // parts of helm's error
	}{
		{"replicas with the inventory file", []string{"--set", "replicaCount=2"},
			[]string{"replicaCount=2 is refused while inventory.enabled=true", "only the leader writes", "inventory.enabled=false"}},
		{"replicas with a persistent inventory", []string{"--set", "replicaCount=3", "--set", "persistence.enabled=true"},
			[]string{"replicaCount=3 is refused", "ReadWriteOnce"}},
		{"replicas without leader election", []string{"--set", "replicaCount=2", "--set", "inventory.enabled=false", "--set", "leaderElection.enabled=false"},
			[]string{"replicaCount=2 needs leaderElection.enabled=true"}},
		{"both disruption budget bounds", []string{"--set", "podDisruptionBudget.enabled=true", "--set", "podDisruptionBudget.minAvailable=1", "--set", "podDisruptionBudget.maxUnavailable=1"},
			[]string{"minAvailable or maxUnavailable, not both"}},
		{"ServiceMonitor without metrics", []string{"--set", "serviceMonitor.enabled=true", "--set", "metrics.enabled=false"},
			[]string{"serviceMonitor.enabled needs metrics.enabled=true"}},
		{"certificate for plain HTTP metrics", []string{"--set", "metrics.secure=false", "--set", "metrics.certSecret=metrics-tls"},
			[]string{"metrics.certSecret needs metrics.secure=true"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"template", chartRelease, chartDir, "--namespace", chartNamespace}, tc.args...)
			res := pkgRun(t, helm, args...)
			require.Error(t, res.err, "helm accepted %v:\n%s", tc.args, res.stdout)
			for _, want := range tc.want {
				assert.Contains(t, res.stderr, want)
			}
		})
	}
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
		{"token Secret name not a name", []string{"--set", "operatorConfig.contrabassBearerTokenSecret.name=My_Secret"}, "/operatorConfig/contrabassBearerTokenSecret/name"},
		{"persistence size not a quantity", []string{"--set", "persistence.size=lots"}, "/persistence/size"},
		{"unknown access mode", []string{"--set", "persistence.accessModes[0]=ReadWriteSometimes"}, "/persistence/accessModes/0"},
		{"tag as a digest", []string{"--set", "image.digest=latest"}, "/image/digest"},
		{"unknown log level", []string{"--set", "logLevel=verbose"}, "/logLevel"},
		{"no concurrent reconciles", []string{"--set", "maxConcurrentReconciles=0"}, "/maxConcurrentReconciles"},
		{"extra arg that is not a flag", []string{"--set", "extraArgs[0]=debug"}, "/extraArgs/0"},
		{"extra env without a name", []string{"--set", "extraEnv[0].value=x"}, "/extraEnv/0"},
		{"extra env misspelt", []string{"--set", "extraEnv[0].name=A", "--set", "extraEnv[0].valeu=x"}, "valeu"},
		{"extra mount without a path", []string{"--set", "extraVolumeMounts[0].name=ca"}, "/extraVolumeMounts/0"},
		{"relative mount path", []string{"--set", "extraVolumeMounts[0].name=ca", "--set", "extraVolumeMounts[0].mountPath=etc/ca"}, "/extraVolumeMounts/0/mountPath"},
		{"spread without a topology key", []string{"--set", "topologySpreadConstraints[0].maxSkew=1", "--set", "topologySpreadConstraints[0].whenUnsatisfiable=DoNotSchedule"}, "/topologySpreadConstraints/0"},
		{"disruption budget not a number", []string{"--set", "podDisruptionBudget.minAvailable=most"}, "/podDisruptionBudget/minAvailable"},
		{"network peer by IP", []string{"--set", "networkPolicy.metrics.from[0].ipBlock.cidr=10.0.0.0/8"}, "ipBlock"},
		{"empty network peer", []string{"--set", "networkPolicy.inventory.from[0]=null"}, "/networkPolicy/inventory/from/0"},
		{"scrape interval not a duration", []string{"--set", "serviceMonitor.interval=often"}, "/serviceMonitor/interval"},
		{"not-synced threshold of two units", []string{"--set", "prometheusRule.notSynced.after=1h30m"}, "/prometheusRule/notSynced/after"},
		{"error ratio above one", []string{"--set", "prometheusRule.dependencyErrors.ratio=2"}, "/prometheusRule/dependencyErrors/ratio"},
		{"unknown code class", []string{"--set", "prometheusRule.dependencyErrors.codes=500"}, "/prometheusRule/dependencyErrors/codes"},
		{"dashboard label misspelt", []string{"--set", "grafanaDashboard.label.grafana_dashboard=1"}, "label"},
		{"metrics.secure not a boolean", []string{"--set-string", "metrics.secure=yes"}, "/metrics/secure"},
		{"certificate Secret not a name", []string{"--set", "metrics.certSecret=Metrics_TLS"}, "/metrics/certSecret"},
		{"Service annotation not a string", []string{"--set", "metrics.service.annotations.weight=1"}, "/metrics/service/annotations/weight"},
		{"claim annotation not a string", []string{"--set", "persistence.annotations.keep=true"}, "/persistence/annotations/keep"},
		{"bearer token Secret misspelt", []string{"--set", "serviceMonitor.bearerTokenSecret.nmae=token"}, "nmae"}, //nolint:misspell // the typo is the case under test
		{"negative revision history", []string{"--set", "revisionHistoryLimit=-1"}, "/revisionHistoryLimit"},
		{"probe period of zero", []string{"--set", "livenessProbe.periodSeconds=0"}, "/livenessProbe/periodSeconds"},
		{"probe target is the chart's", []string{"--set", "readinessProbe.httpGet.path=/"}, "httpGet"},
		{"liveness with a success threshold", []string{"--set", "livenessProbe.successThreshold=2"}, "successThreshold"},
		{"grace period not a number", []string{"--set", "terminationGracePeriodSeconds=soon"}, "/terminationGracePeriodSeconds"},
		{"label value Kubernetes refuses", []string{"--set", "commonLabels.team=network platform"}, "/commonLabels/team"},
		{"label value too long", []string{"--set", "commonLabels.team=" + strings.Repeat("x", 64)}, "/commonLabels/team"},
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
	assert.Equal(t, chartNamespace, chartRole.Namespace)
	assert.Equal(t, chartKustomizeRole[rbacv1.Role](t, "leader_election_role.yaml", "leader-election-role").Rules, chartRole.Rules)
	leases := slices.IndexFunc(chartRole.Rules, func(r rbacv1.PolicyRule) bool {
		return slices.Contains(r.APIGroups, "coordination.k8s.io") && slices.Contains(r.Resources, "leases")
	})
	assert.GreaterOrEqual(t, leases, 0, "leader election needs leases")

	// So are the roles of secure metrics.
	objs = chartTemplate(t, "--show-only", "templates/metrics-rbac.yaml")
	for file, name := range map[string]string{"metrics_auth_role.yaml": "metrics-auth-role", "metrics_reader_role.yaml": "metrics-reader"} {
		chart := pkgTyped[rbacv1.ClusterRole](t, pkgFind(t, objs, "ClusterRole", "multinic-operator-"+name))
		assert.Equal(t, chartKustomizeRole[rbacv1.ClusterRole](t, file, name).Rules, chart.Rules, name)
	}

	// The user-facing ClusterRoles are hand-written twice as well.
	objs = chartTemplate(t, "--show-only", "templates/aggregate-roles.yaml")
	for _, kind := range []string{"viewer", "editor"} {
		chart := pkgTyped[rbacv1.ClusterRole](t, pkgFind(t, objs, "ClusterRole", "multinic-operator-openstackconfig-"+kind+"-role"))
		kust := chartKustomizeRole[rbacv1.ClusterRole](t, "openstackconfig_"+kind+"_role.yaml", "openstackconfig-"+kind+"-role")
		assert.Equal(t, kust.Rules, chart.Rules, kind)
		for k, v := range kust.Labels {
			if strings.HasPrefix(k, "rbac.authorization.k8s.io/") {
				assert.Equal(t, v, chart.Labels[k], "%s: aggregation label %s", kind, k)
			}
		}
	}
}

// chartKustomizeRole reads a hand-written role of operator/config/rbac.
func chartKustomizeRole[T any](t *testing.T, file, name string) *T {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(pkgRepoRoot(t), "operator", "config", "rbac", file))
	require.NoError(t, err)
	objs := pkgDecode(t, string(data))
	require.Len(t, objs, 1, file)
	require.Equal(t, name, objs[0].GetName(), file)
	return pkgTyped[T](t, objs[0])
}

// TestChartRBACIsLeastPrivilege checks every rule the chart grants, with
// leader election on and off: Leases only in the release namespace and only
// with leader election, events only created and patched, no wildcards, no
// write access to Secrets, and users never write status.
func TestChartRBACIsLeastPrivilege(t *testing.T) {
	for _, leader := range []bool{true, false} {
		objs := chartTemplate(t, "--set", "leaderElection.enabled="+strconv.FormatBool(leader))
		var leaseRoles []string
		for _, o := range objs {
			var rules []rbacv1.PolicyRule
			switch o.GetKind() {
			case "ClusterRole":
				rules = pkgTyped[rbacv1.ClusterRole](t, o).Rules
			case "Role":
				rules = pkgTyped[rbacv1.Role](t, o).Rules
				assert.Equal(t, chartNamespace, o.GetNamespace(), "Role %s", o.GetName())
			default:
				continue
			}
			for _, r := range rules {
				what := o.GetKind() + "/" + o.GetName()
				assert.NotContains(t, r.Verbs, "*", what)
				assert.NotContains(t, r.Resources, "*", what)
				assert.NotContains(t, r.APIGroups, "*", what)
				if slices.Contains(r.Resources, "leases") {
					assert.Equal(t, "Role", o.GetKind(), "Leases are granted only in the release namespace, not by %s", what)
					leaseRoles = append(leaseRoles, what)
				}
				if slices.Contains(r.Resources, "events") {
					assert.ElementsMatch(t, []string{"create", "patch"}, r.Verbs, "%s: events are only written", what)
				}
				if slices.Contains(r.Resources, "secrets") {
					assert.ElementsMatch(t, []string{"get", "list", "watch"}, r.Verbs, "%s: Secrets are only read", what)
				}
				if slices.Contains(r.Resources, "openstackconfigs/status") && strings.Contains(o.GetName(), "openstackconfig-") {
					assert.Equal(t, []string{"get"}, r.Verbs, "%s: users only read status", what)
				}
				if slices.Contains(r.Resources, "tokenreviews") || slices.Contains(r.Resources, "subjectaccessreviews") {
					assert.Equal(t, []string{"create"}, r.Verbs, "%s: reviews are only asked for", what)
				}
				if len(r.NonResourceURLs) > 0 {
					assert.Equal(t, pkgMetricsReaderRules, rules, "%s: the only non-resource rule is GET /metrics", what)
				}
			}
		}
		if leader {
			assert.Equal(t, []string{"Role/multinic-operator-leader-election-role"}, leaseRoles)
		} else {
			assert.Empty(t, leaseRoles, "no leader election, no Lease access")
		}
	}
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
