package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Condition types and reasons of OpenstackConfig status.
const (
	ConditionReady    = "Ready"
	ConditionDegraded = "Degraded"
	ReasonSynced      = "Synced"
	ReasonNoChange    = "NoChange"
)

// OpenstackConfigSpec names the VMs whose extra NICs are kept in sync and
// where to find OpenStack, Contrabass and Viola.
// +kubebuilder:validation:XValidation:rule="(has(self.subnetIDs) && size(self.subnetIDs) > 0) || (has(self.subnetID) && size(self.subnetID) > 0) || (has(self.subnetName) && size(self.subnetName) > 0)",message="one of subnetIDs, subnetID or subnetName is required"
type OpenstackConfigSpec struct {
	Credentials Credentials `json:"credentials"`

	// VMNames are the Nova server UUIDs of the Biz nodes (not their names).
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=5000
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=64
	VMNames []string `json:"vmNames"`

	// SubnetIDs are target subnets in priority order; they win over subnetID and subnetName.
	// +optional
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:items:MinLength=1
	SubnetIDs []string `json:"subnetIDs,omitempty"`
	// SubnetID is a single target subnet.
	// +optional
	SubnetID string `json:"subnetID,omitempty"`
	// SubnetName must match exactly one subnet of the project.
	// +optional
	SubnetName string `json:"subnetName,omitempty"`

	// +optional
	Secrets Secrets `json:"secrets,omitempty"`

	Settings Settings `json:"settings"`
}

// Credentials identify the OpenStack provider and project.
type Credentials struct {
	// OpenstackProviderID is the Contrabass provider ID.
	// +kubebuilder:validation:MinLength=1
	OpenstackProviderID string `json:"openstackProviderID"`
	// ProjectID scopes the Keystone token and the port queries.
	// +kubebuilder:validation:MinLength=1
	ProjectID string `json:"projectID"`
	// K8sProviderID routes node configs at Viola; defaults to openstackProviderID.
	// +optional
	K8sProviderID string `json:"k8sProviderID,omitempty"`
}

// Secrets reference Kubernetes Secrets the operator reads.
type Secrets struct {
	// ContrabassEncryptKeySecretRef holds the key that decrypts Contrabass credentials.
	// +optional
	ContrabassEncryptKeySecretRef *SecretKeyRef `json:"contrabassEncryptKeySecretRef,omitempty"`
}

// SecretKeyRef is one key of a Secret in the CR's namespace.
type SecretKeyRef struct {
	// +kubebuilder:validation:MinLength=1
	Name string `json:"name"`
	// +kubebuilder:validation:MinLength=1
	Key string `json:"key"`
}

// Settings tune endpoints, timeouts and polling.
type Settings struct {
	// ContrabassEndpoint is the base URL of the Contrabass admin API.
	// +kubebuilder:validation:Pattern=`^https?://[^\s]+$`
	ContrabassEndpoint string `json:"contrabassEndpoint"`
	// ContrabassEncryptKey is the key in plain text; prefer a Secret.
	// +optional
	ContrabassEncryptKey string `json:"contrabassEncryptKey,omitempty"`
	// +optional
	// +kubebuilder:default="30s"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`
	ContrabassTimeout *metav1.Duration `json:"contrabassTimeout,omitempty"`
	// +optional
	ContrabassInsecureTLS bool `json:"contrabassInsecureTLS,omitempty"`

	// ViolaEndpoint overrides the operator-wide VIOLA_ENDPOINT.
	// +optional
	// +kubebuilder:validation:Pattern=`^https?://[^\s]+$`
	ViolaEndpoint string `json:"violaEndpoint,omitempty"`

	// +optional
	// +kubebuilder:default="30s"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`
	OpenstackTimeout *metav1.Duration `json:"openstackTimeout,omitempty"`
	// +optional
	OpenstackInsecureTLS bool `json:"openstackInsecureTLS,omitempty"`
	// OpenstackNeutronEndpoint skips the catalog for Neutron.
	// +optional
	// +kubebuilder:validation:Pattern=`^https?://[^\s]+$`
	OpenstackNeutronEndpoint string `json:"openstackNeutronEndpoint,omitempty"`
	// OpenstackNovaEndpoint skips the catalog for Nova.
	// +optional
	// +kubebuilder:validation:Pattern=`^https?://[^\s]+$`
	OpenstackNovaEndpoint string `json:"openstackNovaEndpoint,omitempty"`
	// OpenstackEndpointInterface picks catalog endpoints.
	// +optional
	// +kubebuilder:default=public
	// +kubebuilder:validation:Enum=public;internal;admin
	OpenstackEndpointInterface string `json:"openstackEndpointInterface,omitempty"`
	// OpenstackEndpointRegion prefers catalog endpoints of this region.
	// +optional
	OpenstackEndpointRegion string `json:"openstackEndpointRegion,omitempty"`
	// OpenstackNodeNameMetadataKey names the Nova metadata key that holds the node name.
	// +optional
	OpenstackNodeNameMetadataKey string `json:"openstackNodeNameMetadataKey,omitempty"`
	// OpenstackPortAllowedStatuses lists the port statuses to configure; "*" allows any.
	// +optional
	// +kubebuilder:default={ACTIVE,DOWN}
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:items:Pattern=`^(\*|[A-Za-z_]+)$`
	OpenstackPortAllowedStatuses []string `json:"openstackPortAllowedStatuses,omitempty"`

	// DownPortFastRetryMax bounds the fast re-sends of a node with DOWN ports.
	// +optional
	// +kubebuilder:default=5
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=1000
	DownPortFastRetryMax *int32 `json:"downPortFastRetryMax,omitempty"`
	// +optional
	// +kubebuilder:default="20s"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`
	PollFastInterval *metav1.Duration `json:"pollFastInterval,omitempty"`
	// +optional
	// +kubebuilder:default="2m"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`
	PollSlowInterval *metav1.Duration `json:"pollSlowInterval,omitempty"`
	// +optional
	// +kubebuilder:default="30s"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`
	PollErrorInterval *metav1.Duration `json:"pollErrorInterval,omitempty"`
	// +optional
	// +kubebuilder:default="3m"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`
	PollFastWindow *metav1.Duration `json:"pollFastWindow,omitempty"`
	// ResyncInterval re-sends every node at least this often, even unchanged,
	// so drift on the Biz side heals. "0s" disables it.
	// +optional
	// +kubebuilder:default="30m"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`
	ResyncInterval *metav1.Duration `json:"resyncInterval,omitempty"`
}

// OpenstackConfigStatus is written by the operator.
type OpenstackConfigStatus struct {
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// ObservedGeneration is the generation the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// LastSyncedAt is when a pass last completed without error.
	// +optional
	LastSyncedAt *metav1.Time `json:"lastSyncedAt,omitempty"`
	// LastChangeAt is when a pass last sent something; fast polling runs for pollFastWindow after it.
	// +optional
	LastChangeAt *metav1.Time `json:"lastChangeAt,omitempty"`
	// LastResyncAt is when every node was last re-sent regardless of changes.
	// +optional
	LastResyncAt *metav1.Time `json:"lastResyncAt,omitempty"`
	// LastError is the last failure, empty once a pass succeeds.
	// +optional
	LastError string `json:"lastError,omitempty"`
	// Nodes is how many node configs the last pass computed.
	// +optional
	Nodes int32 `json:"nodes,omitempty"`
	// SkippedVMs are VMs that produced no node config, with the reason.
	// +optional
	SkippedVMs []SkippedVM `json:"skippedVMs,omitempty"`
	// DroppedPorts are selected ports beyond the ten interface names
	// (multinic0..multinic9) of their node; they are not configured.
	// +optional
	DroppedPorts []DroppedPort `json:"droppedPorts,omitempty"`
	// DownPortRetry tracks re-sends of nodes whose ports are DOWN.
	// +optional
	DownPortRetry *DownPortRetry `json:"downPortRetry,omitempty"`
}

// SkippedVM is a VM that produced no node config.
type SkippedVM struct {
	InstanceID string `json:"instanceId"`
	// +optional
	NodeName string `json:"nodeName,omitempty"`
	Reason   string `json:"reason"`
}

// DroppedPort is a port left out because its node had no free interface name.
type DroppedPort struct {
	InstanceID string `json:"instanceId"`
	PortID     string `json:"portId"`
	MACAddress string `json:"macAddress"`
}

// DownPortRetry is the state of re-sending nodes with DOWN ports.
type DownPortRetry struct {
	// Hash identifies the set of DOWN ports; a new set restarts the count.
	Hash string `json:"hash"`
	// +optional
	LastAttempt *metav1.Time `json:"lastAttempt,omitempty"`
	// FastAttempts counts re-sends at pollFastInterval.
	FastAttempts int32 `json:"fastAttempts"`
	// Nodes are the nodes that have DOWN ports and are re-sent.
	// +optional
	Nodes []string `json:"nodes,omitempty"`
}

// OpenstackConfig keeps the extra NICs of OpenStack-hosted Kubernetes nodes
// in sync with the node agent's MultiNicNodeConfig objects.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=osc
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Nodes",type=integer,JSONPath=`.status.nodes`
// +kubebuilder:printcolumn:name="Last Synced",type=date,JSONPath=`.status.lastSyncedAt`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type OpenstackConfig struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   OpenstackConfigSpec   `json:"spec,omitempty"`
	Status OpenstackConfigStatus `json:"status,omitempty"`
}

// OpenstackConfigList is a list of OpenstackConfig.
// +kubebuilder:object:root=true
type OpenstackConfigList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []OpenstackConfig `json:"items"`
}

func init() {
	SchemeBuilder.Register(&OpenstackConfig{}, &OpenstackConfigList{})
}
