package controller

import (
	"fmt"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/multinic/multinic/internal/safetext"
	"github.com/multinic/multinic/multinic"
	"github.com/multinic/multinic/operator/api/v1alpha1"
)

// oneLine is what outside text becomes before it reaches status, events or
// logs: URL credentials masked, one line, at most limit bytes.
func oneLine(s string, limit int) string {
	return safetext.OneLine(safetext.RedactURLs(s), limit)
}

// brief is a message for status, events and logs.
func brief(s string) string { return oneLine(s, v1alpha1.MaxMessageLength) }

// boundedError carries a brief message to a logger.
type boundedError string

func (e boundedError) Error() string { return string(e) }

// capList converts at most MaxStatusListItems items and says how many more
// there were.
func capList[T, U any](in []T, conv func(T) U) (out []U, more int) {
	n := min(len(in), v1alpha1.MaxStatusListItems)
	for _, v := range in[:n] {
		out = append(out, conv(v))
	}
	return out, len(in) - n
}

// Lengths of the identifiers copied from outside answers into status.
const (
	maxNameLength = 253 // a DNS subdomain, the longest valid node name
	maxIDLength   = 64
)

// partialResult fills the status lists of what the pass left out and
// returns the notes on lists that had to be cut.
func partialResult(status *v1alpha1.OpenstackConfigStatus, res multinic.Result) []string {
	var notes []string
	note := func(list string, more int) {
		if more > 0 {
			notes = append(notes, fmt.Sprintf("status.%s lists %d, and %d more", list, v1alpha1.MaxStatusListItems, more))
		}
	}
	var more int
	status.SkippedVMs, more = capList(res.Skipped, func(vm multinic.SkippedVM) v1alpha1.SkippedVM {
		return v1alpha1.SkippedVM{InstanceID: oneLine(vm.InstanceID, maxIDLength), NodeName: oneLine(vm.NodeName, maxNameLength), Reason: reason(vm.Reason)}
	})
	note("skippedVMs", more)
	status.DroppedPorts, more = capList(res.DroppedPorts, func(p multinic.DroppedPort) v1alpha1.DroppedPort {
		return v1alpha1.DroppedPort{InstanceID: oneLine(p.InstanceID, maxIDLength), PortID: oneLine(p.PortID, maxIDLength), MACAddress: oneLine(p.MACAddress, maxIDLength)}
	})
	note("droppedPorts", more)
	status.SkippedSubnets, more = capList(res.SkippedSubnets, func(s multinic.SkippedSubnet) v1alpha1.SkippedSubnet {
		return v1alpha1.SkippedSubnet{SubnetID: oneLine(s.SubnetID, maxNameLength), NetworkID: oneLine(s.NetworkID, maxNameLength), Reason: reason(s.Reason)}
	})
	note("skippedSubnets", more)
	status.RejectedNodes, more = capList(res.RejectedNodes, func(n multinic.RejectedNode) v1alpha1.RejectedNode {
		return v1alpha1.RejectedNode{NodeName: oneLine(n.NodeName, maxNameLength), InstanceID: oneLine(n.InstanceID, maxIDLength), Reason: reason(n.Reason)}
	})
	note("rejectedNodes", more)
	status.LeftOutAddresses, more = capList(res.LeftOutAddresses, func(a multinic.LeftOutAddress) v1alpha1.LeftOutAddress {
		return v1alpha1.LeftOutAddress{InstanceID: oneLine(a.InstanceID, maxIDLength), NodeName: oneLine(a.NodeName, maxNameLength), PortID: oneLine(a.PortID, maxIDLength),
			SubnetID: oneLine(a.SubnetID, maxNameLength), Address: oneLine(a.Address, maxIDLength), Reason: reason(a.Reason)}
	})
	note("leftOutAddresses", more)
	status.NodeNameWarnings, more = capList(res.NodeNameWarnings, func(w multinic.NodeNameWarning) v1alpha1.NodeNameWarning {
		return v1alpha1.NodeNameWarning{NodeName: oneLine(w.NodeName, maxNameLength), InstanceID: oneLine(w.InstanceID, maxIDLength), Reason: reason(w.Reason)}
	})
	note("nodeNameWarnings", more)
	return notes
}

func reason(s string) string { return oneLine(s, v1alpha1.MaxReasonLength) }

func setCondition(status *v1alpha1.OpenstackConfigStatus, typ string, value metav1.ConditionStatus, reason, message string, generation int64) {
	meta.SetStatusCondition(&status.Conditions, metav1.Condition{
		Type: typ, Status: value, Reason: reason, Message: brief(message), ObservedGeneration: generation,
	})
}

// setFailed records a failed pass: not Ready, and Degraded for the same reason.
func setFailed(status *v1alpha1.OpenstackConfigStatus, reason, message string, generation int64) {
	setCondition(status, v1alpha1.ConditionReady, metav1.ConditionFalse, reason, message, generation)
	setCondition(status, v1alpha1.ConditionDegraded, metav1.ConditionTrue, reason, message, generation)
}

// setCompleted records a pass that completed: Ready, and Degraded only when
// it left something out (degradation says what).
func setCompleted(status *v1alpha1.OpenstackConfigStatus, reason, message, degradation string, generation int64) {
	if degradation != "" {
		message += "; " + degradation
	}
	setCondition(status, v1alpha1.ConditionReady, metav1.ConditionTrue, reason, message, generation)
	if degradation != "" {
		setCondition(status, v1alpha1.ConditionDegraded, metav1.ConditionTrue, v1alpha1.ReasonPartialSync, degradation, generation)
		return
	}
	setCondition(status, v1alpha1.ConditionDegraded, metav1.ConditionFalse, v1alpha1.ReasonComplete,
		"every VM, port, subnet and node config went through", generation)
}
