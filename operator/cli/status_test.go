package cli_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/multinic/multinic/multinic"
	"github.com/multinic/multinic/operator/api/v1alpha1"
)

func at(minute int) metav1.Time {
	return metav1.NewTime(time.Date(2030, 1, 1, 0, minute, 0, 0, time.UTC))
}

// TestStatus writes a status with every part the operator can write, and
// events through both event APIs, and compares the screen with its golden
// file (the clock is fixed at 00:10).
func TestStatus(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	cfg := w.env.Config(w.sample.VMIDs, w.sample.SubnetA, w.sample.SubnetB)
	cfg.Inventory = w.store
	_, err := multinic.Sync(ctx, cfg)
	require.NoError(t, err)

	oc := w.createCR(t, func(oc *v1alpha1.OpenstackConfig) {
		oc.Spec.VMNames = append(append([]string{}, w.sample.VMIDs...), "00000000-0000-4000-8000-000000000009")
	})
	oc.Status = v1alpha1.OpenstackConfigStatus{
		ObservedGeneration: oc.Generation,
		Conditions: []metav1.Condition{
			{Type: v1alpha1.ConditionReady, Status: metav1.ConditionTrue, Reason: v1alpha1.ReasonSynced, Message: "synced 3 node configs to viola (0 re-sent, 0 unchanged); 1 VM skipped", LastTransitionTime: at(2)},
			{Type: v1alpha1.ConditionDegraded, Status: metav1.ConditionTrue, Reason: v1alpha1.ReasonPartialSync, Message: "1 VM skipped", LastTransitionTime: at(2)},
		},
		LastSyncedAt:   ptr.To(at(9)),
		LastChangeAt:   ptr.To(at(2)),
		LastResyncAt:   ptr.To(at(2)),
		Nodes:          3,
		SkippedVMs:     []v1alpha1.SkippedVM{{InstanceID: "00000000-0000-4000-8000-000000000009", Reason: "VM 00000000-0000-4000-8000-000000000009 is unknown to Nova (it answered 404): deleted, or not a server of project project-1"}},
		DroppedPorts:   []v1alpha1.DroppedPort{{InstanceID: w.sample.VMIDs[0], PortID: "port-x", MACAddress: "fa:16:3e:ff:00:01"}},
		SkippedSubnets: []v1alpha1.SkippedSubnet{{SubnetID: "subnet-gone", Reason: `neutron: no subnet with ID "subnet-gone" (Neutron answered 404; project "project-1": its subnets: "biz-a-subnet" (ID subnet-a)): subnet not found`}},
		LeftOutAddresses: []v1alpha1.LeftOutAddress{{InstanceID: w.sample.VMIDs[0], NodeName: "worker-1", PortID: "port-a-1", SubnetID: "subnet-a", Address: "fd00:a::11",
			Reason: "IPv6 address: the node agent's routing is IPv4-only (ip rule from <address>/32)"}},
		NodeNameWarnings: []v1alpha1.NodeNameWarning{{NodeName: "worker-3.biz.example", InstanceID: w.sample.VMIDs[2], Reason: "node name \"worker-3.biz.example\" has a dot: …"}},
		DownPortRetry: &v1alpha1.DownPortRetry{
			Hash: "abc", LastAttempt: ptr.To(at(9)), FastAttempts: 2, Nodes: []string{"worker-2"},
		},
	}
	require.NoError(t, k8s.Status().Update(ctx, oc))

	_, err = clientset.CoreV1().Events(w.namespace).Create(ctx, &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{Name: "biz-cluster-1.1", Namespace: w.namespace},
		InvolvedObject: corev1.ObjectReference{Kind: "OpenstackConfig", APIVersion: v1alpha1.GroupVersion.String(), Namespace: w.namespace, Name: oc.Name, UID: oc.UID},
		Type:           corev1.EventTypeWarning, Reason: string(multinic.ReasonContrabass), Message: "contrabass: GET provider: HTTP 503",
		FirstTimestamp: at(0), LastTimestamp: at(1), Count: 3, Source: corev1.EventSource{Component: "test"},
	}, metav1.CreateOptions{})
	require.NoError(t, err)
	// The operator records through events.k8s.io/v1.
	_, err = clientset.EventsV1().Events(w.namespace).Create(ctx, &eventsv1.Event{
		ObjectMeta: metav1.ObjectMeta{Name: "biz-cluster-1.2", Namespace: w.namespace},
		Regarding:  corev1.ObjectReference{Kind: "OpenstackConfig", APIVersion: v1alpha1.GroupVersion.String(), Namespace: w.namespace, Name: oc.Name, UID: oc.UID},
		EventTime:  metav1.NewMicroTime(at(2).Time), Type: corev1.EventTypeNormal, Reason: v1alpha1.ReasonSynced, Action: "Sync",
		Note: "synced 3 node configs to viola (0 re-sent, 0 unchanged)", ReportingController: "multinic-operator", ReportingInstance: "test",
	}, metav1.CreateOptions{})
	require.NoError(t, err)

	got := run(t, w.kube("status", "biz-cluster-1", "-n", w.namespace, "--inventory-url", w.inventoryURL)...)
	require.Equal(t, 0, got.code, got.stderr)
	golden(t, "status.txt", w.normalize(got.stdout))

	jsonRun := run(t, w.kube("status", "biz-cluster-1", "--inventory-url", w.inventoryURL, "-o", "json")...)
	require.Equal(t, 0, jsonRun.code, jsonRun.stderr)
	var report struct {
		Status             v1alpha1.OpenstackConfigStatus `json:"status"`
		Nodes              []struct{ NodeName string }    `json:"nodes"`
		Events             []struct{ Reason string }      `json:"events"`
		NextDownPortResend time.Time                      `json:"nextDownPortResend"`
	}
	require.NoError(t, json.Unmarshal([]byte(jsonRun.stdout), &report))
	assert.Equal(t, oc.Status.SkippedVMs, report.Status.SkippedVMs)
	assert.Len(t, report.Nodes, 3)
	assert.Equal(t, []struct{ Reason string }{{"ContrabassError"}, {"Synced"}}, report.Events)
	assert.Equal(t, at(9).Add(20*time.Second).UTC(), report.NextDownPortResend, "2 of 5 fast attempts: due a pollFastInterval after the last")
}

func TestStatusOfAFailingConfigNamesTheFix(t *testing.T) {
	w := newWorld(t)
	oc := w.createCR(t, nil)
	oc.Status.Conditions = []metav1.Condition{{
		Type: v1alpha1.ConditionReady, Status: metav1.ConditionFalse, Reason: string(multinic.ReasonContrabass), LastTransitionTime: at(5),
		Message: `contrabass: GET provider "provider-1": dial tcp 10.0.0.1:443: connect: connection refused (cannot connect: check settings.contrabassEndpoint)`,
	}}
	oc.Status.LastError = oc.Status.Conditions[0].Message
	require.NoError(t, k8s.Status().Update(context.Background(), oc))
	got := run(t, w.kube("status", "biz-cluster-1", "--inventory-url", w.inventoryURL)...)
	require.Equal(t, 0, got.code, got.stderr)
	assert.Contains(t, got.stdout, "Ready      False   ContrabassError  5m     contrabass: GET provider")
	// A condition carries a reason and a message, no structure: the fix is
	// the reason's, while the message names the setting to check.
	assert.Contains(t, got.stdout, "\nfix: Contrabass's answer is in the message; check credentials.openstackProviderID and settings.contrabassEndpoint (and CONTRABASS_BEARER_TOKEN or contrabassBearerTokenSecretRef if it wants a token)\n")
}

func TestStatusBeforeTheOperatorWrote(t *testing.T) {
	w := newWorld(t)
	w.createCR(t, nil)
	got := run(t, w.kube("status", "biz-cluster-1")...)
	require.Equal(t, 0, got.code, got.stderr)
	golden(t, "status-empty.txt", w.normalize(got.stdout))
}
