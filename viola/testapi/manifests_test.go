package testapi_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/multinic/multinic/internal/testenv"
	"github.com/multinic/multinic/viola"
	"github.com/multinic/multinic/viola/testapi"
)

// serviceAccountUser is how the API server names the Deployment's pods.
const serviceAccountUser = "system:serviceaccount:multinic-system:viola-test-api"

// TestManifestsApplyAndGrantEnough creates every object of
// viola-test-api.yaml in a real API server, then applies node configs as
// its ServiceAccount: the ClusterRole must allow what the handler does.
func TestManifestsApplyAndGrantEnough(t *testing.T) {
	ctx := context.Background()
	objects := manifestObjects(t)
	kinds := map[string]bool{}
	for _, obj := range objects {
		kinds[obj.GetKind()] = true
		err := clusterB.client.Create(ctx, obj)
		if obj.GetKind() == "Namespace" && apierrors.IsAlreadyExists(err) {
			continue // TestMain made it
		}
		require.NoError(t, err, "%s %s", obj.GetKind(), obj.GetName())
		deleteAtEnd(t, clusterB, obj)
	}
	assert.Equal(t, map[string]bool{"Namespace": true, "ServiceAccount": true, "ClusterRole": true, "ClusterRoleBinding": true, "Deployment": true, "Service": true}, kinds,
		"no CustomResourceDefinition: in a Biz cluster the node agent's chart owns it, ours is an explicit opt-in")

	asServiceAccount := handlerAs(t, serviceAccountUser)
	config := nodeConfig(uniqueName(t))
	status, resp := postConfigs(t, asServiceAccount, "biz", config)
	require.Equal(t, http.StatusOK, status, resp.Error)
	status, resp = postConfigs(t, asServiceAccount, "biz", config)
	require.Equal(t, http.StatusOK, status, "an update (apply to an existing object): %s", resp.Error)
	assert.True(t, exists(t, clusterB, config.NodeName))
	req := httptest.NewRequest(http.MethodDelete, viola.NodeConfigPath(config.NodeName), nil)
	req.Header.Set(viola.ProviderIDHeader, "biz")
	rec := httptest.NewRecorder()
	asServiceAccount.ServeHTTP(rec, req)
	require.Equal(t, http.StatusNoContent, rec.Code, "a DELETE: %s", rec.Body)
	assert.False(t, exists(t, clusterB, config.NodeName))

	status, resp = postConfigs(t, handlerAs(t, "someone-without-a-role"), "biz", nodeConfig(uniqueName(t)+"-denied"))
	assert.Equal(t, http.StatusInternalServerError, status, "the check above can fail: RBAC is enforced")
	assert.Contains(t, resp.Error, "forbidden")
}

// handlerAs applies into clusterB as user, authenticated by certificate.
func handlerAs(t *testing.T, user string) http.Handler {
	t.Helper()
	authenticated, err := clusterB.env.AddUser(envtest.User{Name: user}, nil)
	require.NoError(t, err)
	router, err := testapi.NewRouter(testapi.Routes{Default: &testapi.ClusterConfig{Name: user, Config: authenticated.Config()}})
	require.NoError(t, err)
	return newHandler(t, testapi.Options{Router: router})
}

// TestDeploymentMatchesTheProgram ties the Deployment to the code it runs:
// probes on the handler's health path, on the port the program listens on.
func TestDeploymentMatchesTheProgram(t *testing.T) {
	var deployment appsv1.Deployment
	var service corev1.Service
	for _, obj := range manifestObjects(t) {
		switch obj.GetKind() {
		case "Deployment":
			require.NoError(t, runtime.DefaultUnstructuredConverter.FromUnstructured(obj.Object, &deployment))
		case "Service":
			require.NoError(t, runtime.DefaultUnstructuredConverter.FromUnstructured(obj.Object, &service))
		}
	}
	pod := deployment.Spec.Template.Spec
	require.Len(t, pod.Containers, 1)
	container := pod.Containers[0]
	assert.Equal(t, "viola-test-api", pod.ServiceAccountName)
	assert.Equal(t, []string{"/viola-test-api"}, container.Command, "the image's ENTRYPOINT is the operator's")
	require.NotNil(t, pod.SecurityContext.RunAsNonRoot)
	assert.True(t, *pod.SecurityContext.RunAsNonRoot)
	require.NotNil(t, container.SecurityContext.AllowPrivilegeEscalation)
	assert.False(t, *container.SecurityContext.AllowPrivilegeEscalation)
	require.Len(t, container.Ports, 1)
	assert.Equal(t, int32(8080), container.Ports[0].ContainerPort, "the program's default --listen is :8080")
	for name, probe := range map[string]*corev1.Probe{"liveness": container.LivenessProbe, "readiness": container.ReadinessProbe} {
		require.NotNil(t, probe, name)
		assert.Equal(t, testapi.HealthzPath, probe.HTTPGet.Path, name)
		assert.Equal(t, container.Ports[0].Name, probe.HTTPGet.Port.String(), name)
	}
	assert.Equal(t, deployment.Spec.Selector.MatchLabels, service.Spec.Selector)
	assert.Equal(t, container.Ports[0].Name, service.Spec.Ports[0].TargetPort.String())
}

func manifestObjects(t *testing.T) []*unstructured.Unstructured {
	t.Helper()
	root, err := testenv.RepoRoot()
	require.NoError(t, err)
	data, err := os.ReadFile(filepath.Join(root, "viola", "testapi", "config", "viola-test-api.yaml"))
	require.NoError(t, err)
	return splitYAML(t, string(data))
}
