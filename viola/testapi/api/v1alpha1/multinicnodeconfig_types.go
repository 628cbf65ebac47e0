package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// MultiNicNodeConfigSpec is the desired NIC layout of one node, as Viola
// received it from the operator.
type MultiNicNodeConfigSpec struct {
	// NodeName is the Kubernetes node the interfaces belong to, as sent
	// (the object name is a sanitised form of it).
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +required
	NodeName string `json:"nodeName"`

	// InstanceID is the OpenStack server (VM) UUID of the node.
	// +optional
	InstanceID string `json:"instanceId,omitempty"`

	// Interfaces are the extra NICs; each id is the K of the link name
	// multinicK. The list is keyed by id so server-side apply merges and
	// prunes per interface rather than replacing the whole list.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=10
	// +listType=map
	// +listMapKey=id
	// +required
	Interfaces []Interface `json:"interfaces"`
}

// Interface is one extra NIC of a node.
type Interface struct {
	// ID is the K of the link name multinicK.
	// +kubebuilder:validation:Minimum=0
	// +required
	ID int32 `json:"id"`

	// PortID is the OpenStack port UUID.
	// +optional
	PortID string `json:"portId,omitempty"`

	// MACAddress identifies the NIC on the node.
	// +kubebuilder:validation:Pattern=`^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$`
	// +required
	MACAddress string `json:"macAddress"`

	// Address is the fixed IP of the port.
	// +optional
	Address string `json:"address,omitempty"`

	// CIDR is the subnet of Address.
	// +optional
	CIDR string `json:"cidr,omitempty"`

	// MTU is the link MTU; unset means the network's default.
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

// MultiNicNodeConfigStatus is written by the node agent, never by Viola.
type MultiNicNodeConfigStatus struct {
	// State summarises the last attempt to apply the spec.
	// +optional
	State State `json:"state,omitempty"`

	// ObservedGeneration is the metadata.generation the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// ObservedSpecHash is a hash of the spec the agent last applied, so it
	// can tell an unchanged spec from a new one across restarts.
	// +optional
	ObservedSpecHash string `json:"observedSpecHash,omitempty"`

	// LastProcessed is when the agent last acted on this object.
	// +optional
	LastProcessed *metav1.Time `json:"lastProcessed,omitempty"`

	// LastJobName is the agent job that last acted on this object.
	// +optional
	LastJobName string `json:"lastJobName,omitempty"`

	// Conditions are the standard Kubernetes conditions.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// InterfaceStatuses report each interface of the spec.
	// +listType=map
	// +listMapKey=id
	// +optional
	InterfaceStatuses []InterfaceStatus `json:"interfaceStatuses,omitempty"`
}

// InterfaceStatus is the agent's report on one interface.
type InterfaceStatus struct {
	// ID matches spec.interfaces[].id.
	// +kubebuilder:validation:Minimum=0
	// +required
	ID int32 `json:"id"`

	// Name is the link name on the node (multinicK).
	// +optional
	Name string `json:"name,omitempty"`

	// MACAddress is the NIC the agent matched.
	// +optional
	MACAddress string `json:"macAddress,omitempty"`

	// State is where the agent is with this interface.
	// +optional
	State State `json:"state,omitempty"`

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

	// +required
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

func init() {
	SchemeBuilder.Register(&MultiNicNodeConfig{}, &MultiNicNodeConfigList{})
}
