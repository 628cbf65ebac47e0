package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// This is a copy of the node agent's MultiNicNodeConfig schema (SPEC §7),
// for clusters without the agent (the demo, tests). The agent's chart owns
// the CRD of the same name in every Biz cluster, so this copy must accept
// everything the agent's accepts: no field, bound, required field or list
// type beyond the agent's. The contract tests in viola/testapi hold it to
// the agent-shaped objects in viola/testapi/testdata/agent.

// MultiNicNodeConfigSpec is the desired NIC layout of one node, as Viola
// received it from the operator.
type MultiNicNodeConfigSpec struct {
	// NodeName is the Kubernetes node the interfaces belong to; the agent
	// finds its object by it (object name = nodeName).
	// +required
	NodeName string `json:"nodeName"`

	// InstanceID is the OpenStack server (VM) UUID of the node.
	// +optional
	InstanceID string `json:"instanceId,omitempty"`

	// Interfaces are the extra NICs. The list is atomic, as in the agent's
	// schema: it is not keyed by id, because the agent accepts interfaces
	// without one. A server-side apply therefore owns and replaces the
	// whole list. No upper bound: the agent's schema has none.
	// +kubebuilder:validation:MinItems=1
	// +listType=atomic
	// +required
	Interfaces []Interface `json:"interfaces"`
}

// Interface is one extra NIC of a node.
type Interface struct {
	// ID is the index K of the link name multinicK (0-9 align with
	// multinic0-multinic9). Optional in the schema, but without Name the
	// agent treats 0 as unset and renumbers, so Viola always sends both.
	// +kubebuilder:validation:Minimum=0
	// +optional
	ID *int64 `json:"id,omitempty"`

	// Name is the link name the agent gives the NIC.
	// +kubebuilder:validation:Pattern=`^multinic[0-9]+$`
	// +optional
	Name string `json:"name,omitempty"`

	// PortID is the OpenStack port UUID.
	// +optional
	PortID string `json:"portId,omitempty"`

	// MACAddress identifies the NIC on the node.
	// +kubebuilder:validation:Pattern=`^([0-9A-Fa-f]{2}[:]){5}([0-9A-Fa-f]{2})$`
	// +required
	MACAddress string `json:"macAddress"`

	// Address is the fixed IP of the port.
	// +optional
	Address string `json:"address,omitempty"`

	// CIDR is the subnet of Address.
	// +optional
	CIDR string `json:"cidr,omitempty"`

	// MTU is the link MTU. Optional in the schema, but the agent skips an
	// interface without one, so Viola always sends it.
	// +kubebuilder:validation:Minimum=68
	// +kubebuilder:validation:Maximum=9000
	// +optional
	MTU int32 `json:"mtu,omitempty"`
}

// State is where the node agent is in applying a spec.
// +kubebuilder:validation:Enum=Pending;InProgress;Configured;Failed
type State string

// The states of a MultiNicNodeConfig.
const (
	StatePending    State = "Pending"
	StateInProgress State = "InProgress"
	StateConfigured State = "Configured"
	StateFailed     State = "Failed"
)

// MultiNicNodeConfigStatus is written by the node agent only, never by
// Viola. Every field is optional and every list atomic, as in the agent's
// schema; times are plain strings because a format check here could refuse
// what the agent's schema stores.
type MultiNicNodeConfigStatus struct {
	// State summarises the last attempt to apply the spec.
	// +optional
	State State `json:"state,omitempty"`

	// ObservedGeneration is the metadata.generation the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// ObservedSpecHash is a hash of the spec the agent last applied.
	// +optional
	ObservedSpecHash string `json:"observedSpecHash,omitempty"`

	// LastProcessed is when the agent last acted on this object.
	// +optional
	LastProcessed string `json:"lastProcessed,omitempty"`

	// LastJobName is the agent job that last acted on this object.
	// +optional
	LastJobName string `json:"lastJobName,omitempty"`

	// LastUpdated is when the agent last wrote this status.
	// +optional
	LastUpdated string `json:"lastUpdated,omitempty"`

	// LastInterfaceCheck is when the agent last checked the live links.
	// +optional
	LastInterfaceCheck string `json:"lastInterfaceCheck,omitempty"`

	// NodeReady is whether the agent saw the node Ready.
	// +optional
	NodeReady *bool `json:"nodeReady,omitempty"`

	// Conditions are the agent's conditions.
	// +listType=atomic
	// +optional
	Conditions []Condition `json:"conditions,omitempty"`

	// InterfaceStatuses report each interface of the spec.
	// +listType=atomic
	// +optional
	InterfaceStatuses []InterfaceStatus `json:"interfaceStatuses,omitempty"`
}

// Condition is one of the agent's conditions. Unlike metav1.Condition no
// field is required: the agent writes conditions without some of them
// (e.g. lastTransitionTime).
type Condition struct {
	// +optional
	Type string `json:"type,omitempty"`
	// +optional
	Status string `json:"status,omitempty"`
	// +optional
	Reason string `json:"reason,omitempty"`
	// +optional
	Message string `json:"message,omitempty"`
	// +optional
	LastTransitionTime string `json:"lastTransitionTime,omitempty"`
}

// InterfaceStatus is the agent's report on one interface.
type InterfaceStatus struct {
	// Name is the link name on the node (multinicK).
	// +optional
	Name string `json:"name,omitempty"`
	// InterfaceIndex is the agent's index of the interface.
	// +optional
	InterfaceIndex *int64 `json:"interfaceIndex,omitempty"`
	// ID matches spec.interfaces[].id.
	// +optional
	ID *int64 `json:"id,omitempty"`
	// +optional
	MACAddress string `json:"macAddress,omitempty"`
	// +optional
	Address string `json:"address,omitempty"`
	// +optional
	CIDR string `json:"cidr,omitempty"`
	// +optional
	MTU *int64 `json:"mtu,omitempty"`
	// Status is the agent's word for the interface (e.g. Configured).
	// +optional
	Status string `json:"status,omitempty"`
	// +optional
	Reason string `json:"reason,omitempty"`
	// ActualState is what the agent found on the node.
	// +optional
	ActualState string `json:"actualState,omitempty"`
	// +optional
	LastUpdated string `json:"lastUpdated,omitempty"`
	// +optional
	LastChecked string `json:"lastChecked,omitempty"`
	// +optional
	LastConfigured string `json:"lastConfigured,omitempty"`
	// Message explains a failure.
	// +optional
	Message string `json:"message,omitempty"`
}

// MultiNicNodeConfig is the NIC layout of one node in a Biz cluster.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Namespaced,shortName=mnnc
// +kubebuilder:printcolumn:name="Node",type=string,JSONPath=`.spec.nodeName`
// +kubebuilder:printcolumn:name="State",type=string,JSONPath=`.status.state`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type MultiNicNodeConfig struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec is the node's NIC layout. Not required at the top level, as in
	// the agent's schema; its own fields say what a spec needs.
	// +optional
	Spec MultiNicNodeConfigSpec `json:"spec"`
	// +optional
	Status MultiNicNodeConfigStatus `json:"status,omitempty"`
}

// MultiNicNodeConfigList is a list of MultiNicNodeConfig.
// +kubebuilder:object:root=true
type MultiNicNodeConfigList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []MultiNicNodeConfig `json:"items"`
}
