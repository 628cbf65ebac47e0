package testapi_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/multinic/multinic/viola"
	"github.com/multinic/multinic/viola/testapi"
)

// TestViolaClientPostsIntoTheCluster runs the operator's real Viola client
// against the test API over HTTP: what the operator sends ends up as
// MultiNicNodeConfig objects in the API server.
func TestViolaClientPostsIntoTheCluster(t *testing.T) {
	server := httptest.NewServer(newHandler(t, testapi.Options{Router: routerTo(t, clusterA)}))
	defer server.Close()
	// One node per POST, so the client's concurrent batches hit the handler
	// at the same time (the race detector watches).
	client, err := viola.NewClient(viola.Options{Endpoint: server.URL, MaxBatch: 1, RetryMax: -1})
	require.NoError(t, err)
	provider := uniqueName(t)
	var configs []viola.NodeConfig
	for i := range 6 {
		configs = append(configs, nodeConfig(fmt.Sprintf("%s-%d", provider, i), iface(i%3, fmt.Sprintf("fa:16:3e:00:00:%02x", i), 1450)))
	}

	result, err := client.Post(context.Background(), provider, configs)

	require.NoError(t, err)
	assert.Len(t, result.Accepted, len(configs))
	objects := clusterA.objectsOf(t, provider)
	require.Len(t, objects, len(configs))
	for _, obj := range objects {
		assert.Equal(t, obj.Name, obj.Spec.NodeName, "the agent finds its object by node name")
		assert.Equal(t, strings.ToLower(obj.Name), obj.Name)
		assert.Equal(t, obj.Name, obj.Labels[testapi.LabelNodeName])
		assert.Equal(t, "vm-"+obj.Name, obj.Spec.InstanceID)
		require.Len(t, obj.Spec.Interfaces, 1)
		stored := obj.Spec.Interfaces[0]
		require.NotNil(t, stored.ID, "id is stored, 0 included")
		assert.Equal(t, viola.InterfaceName(int(*stored.ID)), stored.Name, "every stored interface carries its name")
		assert.Equal(t, int32(1450), stored.MTU)
	}
}

func TestViolaClientSeesAnApplyFailure(t *testing.T) {
	server := httptest.NewServer(newHandler(t, testapi.Options{Router: routerTo(t, clusterA), Namespace: "absent"}))
	defer server.Close()
	client, err := viola.NewClient(viola.Options{Endpoint: server.URL, RetryMax: -1})
	require.NoError(t, err)

	result, err := client.Post(context.Background(), "biz", []viola.NodeConfig{nodeConfig(uniqueName(t))})

	assert.Empty(t, result.Accepted)
	assert.ErrorContains(t, err, "500")
	assert.ErrorContains(t, err, `namespaces \"absent\" not found`, "the client's error carries the apply error")
}

// refusingPolicy is a cluster policy that rejects one node name: an object
// that passes every check of the test API and still fails on the server.
const refusingPolicy = `
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata:
  name: refuse-one-node
spec:
  failurePolicy: Fail
  matchConstraints:
    resourceRules:
      - apiGroups: ["multinic.io"]
        apiVersions: ["v1alpha1"]
        operations: ["CREATE", "UPDATE"]
        resources: ["multinicnodeconfigs"]
  validations:
    - expression: "object.spec.nodeName != '%[1]s'"
      message: "node %[1]s is refused by policy"
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata:
  name: refuse-one-node
spec:
  policyName: refuse-one-node
  validationActions: ["Deny"]
`

func TestApplyFailureReportsWhatWasApplied(t *testing.T) {
	ctx := context.Background()
	name := uniqueName(t)
	first, refused, last := nodeConfig(name+"-1"), nodeConfig(name+"-refused"), nodeConfig(name+"-3")
	for _, doc := range splitYAML(t, fmt.Sprintf(refusingPolicy, refused.NodeName)) {
		require.NoError(t, clusterA.client.Create(ctx, doc))
		deleteAtEnd(t, clusterA, doc)
	}
	// The API server loads new policies asynchronously; a dry run shows
	// when this one is enforced without leaving anything behind.
	probe, err := testapi.NewObject(refused, "probe", testapi.DefaultNamespace)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		return clusterA.client.Create(ctx, probe.DeepCopy(), client.DryRunAll) != nil
	}, wait, poll, "the policy never took effect")
	h := newHandler(t, testapi.Options{Router: routerTo(t, clusterA)})

	status, resp := postConfigs(t, h, "biz", first, refused, last)

	require.Equal(t, http.StatusInternalServerError, status)
	ns := testapi.DefaultNamespace + "/"
	assert.Contains(t, resp.Error, "apply MultiNicNodeConfig "+ns+refused.NodeName)
	assert.Contains(t, resp.Error, "node "+refused.NodeName+" is refused by policy")
	assert.Contains(t, resp.Error, "1 of 3 applied before it, 1 not attempted")
	assert.Equal(t, 1, resp.Applied)
	assert.Equal(t, "multinicnodeconfig.multinic.io/"+first.NodeName+" serverside-applied\n", resp.Output)
	assert.Equal(t, ns+refused.NodeName, resp.Failed)
	assert.Equal(t, []string{ns + last.NodeName}, resp.NotAttempted)
	assert.True(t, exists(t, clusterA, first.NodeName), "what the answer calls applied is in the cluster")
	assert.False(t, exists(t, clusterA, refused.NodeName))
	assert.False(t, exists(t, clusterA, last.NodeName), "what the answer calls not attempted is not")
}
