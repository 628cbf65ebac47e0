package v1alpha1

import (
	"encoding/json"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Condition types and reasons of OpenstackConfig status.
const (
	ConditionReady    = "Ready"
	ConditionDegraded = "Degraded"
	ReasonSynced      = "Synced"
	ReasonNoChange    = "NoChange"
	// ReasonPartialSync is Degraded's reason when a pass completed but left
	// something out (VMs skipped, ports dropped, subnets or nodes refused).
	ReasonPartialSync = "PartialSync"
	// ReasonComplete is Degraded's reason when everything went through.
	ReasonComplete = "Complete"
)

// Bounds of the duration settings. The schema enforces them at admission;
// the operator applies the same bounds at run time, so a value stored before
// a rule existed (or with validation off) can neither stop polling nor
// hot-loop against the dependencies.
const (
	MinPollInterval   = time.Second
	MaxPollInterval   = 24 * time.Hour
	MinResyncInterval = time.Minute
	MaxResyncInterval = 7 * 24 * time.Hour
	MinTimeout        = time.Second
	MaxTimeout        = 10 * time.Minute
	// A non-zero downPortGracePeriod is within these; 0s sends at once.
	MinDownPortGracePeriod = time.Second
	MaxDownPortGracePeriod = 24 * time.Hour
)

// Removal policies (settings.removalPolicy).
const (
	RemovalPolicyOrphan = "Orphan"
	RemovalPolicyDelete = "Delete"
)

// Bounds of what the operator writes to status, so that no status write can
// be refused for its size however bad the input.
const (
	// MaxMessageLength is the length (in bytes, before an ellipsis) that
	// every message in status, events and logs is cut to: well under the
	// condition message limit (32768) and the events.k8s.io note limit (1024).
	MaxMessageLength = 1000
	// MaxReasonLength bounds each reason in the status lists.
	MaxReasonLength = 256
	// MaxStatusListItems bounds skippedVMs, droppedPorts, skippedSubnets,
	// rejectedNodes, leftOutAddresses and nodeNameWarnings; the Degraded
	// condition counts them all.
	MaxStatusListItems = 20
	// MaxDownPortNodes bounds downPortRetry.nodes; beyond it every node is
	// re-sent instead.
	MaxDownPortNodes = 200
	// MaxHeldPorts bounds heldPorts. The ports first seen longest ago are
	// listed; one beyond the list counts as first seen again on every pass
	// until it is listed, so it is held longer, never lost.
	MaxHeldPorts = 100
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
	// +kubebuilder:validation:items:MaxLength=255
	SubnetIDs []string `json:"subnetIDs,omitempty"`
	// SubnetID is a single target subnet.
	// +optional
	// +kubebuilder:validation:MaxLength=255
	SubnetID string `json:"subnetID,omitempty"`
	// SubnetName must match exactly one subnet of the project.
	// +optional
	// +kubebuilder:validation:MaxLength=255
	SubnetName string `json:"subnetName,omitempty"`

	// +optional
	Secrets Secrets `json:"secrets,omitempty"`

	Settings Settings `json:"settings"`
}

// Credentials identify the OpenStack provider and project.
type Credentials struct {
	// OpenstackProviderID is the Contrabass provider ID.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=255
	OpenstackProviderID string `json:"openstackProviderID"`
	// ProjectID scopes the Keystone token and the port queries.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=255
	ProjectID string `json:"projectID"`
	// K8sProviderID routes node configs at Viola; defaults to openstackProviderID.
	// +optional
	// +kubebuilder:validation:MaxLength=255
	K8sProviderID string `json:"k8sProviderID,omitempty"`
}

// Secrets reference Kubernetes Secrets the operator reads.
type Secrets struct {
	// ContrabassEncryptKeySecretRef holds the key that decrypts Contrabass credentials.
	// +optional
	ContrabassEncryptKeySecretRef *SecretKeyRef `json:"contrabassEncryptKeySecretRef,omitempty"`
	// ContrabassBearerTokenSecretRef holds a bearer token sent to Contrabass
	// (Authorization: Bearer), for a Contrabass that wants one; it
	// overrides the operator's CONTRABASS_BEARER_TOKEN.
	// +optional
	ContrabassBearerTokenSecretRef *SecretKeyRef `json:"contrabassBearerTokenSecretRef,omitempty"`
}

// SecretKeyRef is one key of a Secret in the CR's namespace.
type SecretKeyRef struct {
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$`
	Name string `json:"name"`
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[-._a-zA-Z0-9]+$`
	Key string `json:"key"`
}

// Duration is a Go duration such as "30s" or "1h30m".
//
// It decodes whatever is stored: a value the schema refuses today but that
// was stored before the rule existed (or with validation off) must not fail
// the list of every OpenstackConfig. The operator parses it per CR and
// reports a bad one as a ConfigError naming the field.
//
// The bounds of each duration field ratchet: a value that is unchanged
// since it was stored passes (oldSelf, optionalOldSelf), however bad. CRD
// validation ratcheting skips the pattern and a rule that evaluates to
// false on an unchanged value, but not a rule whose evaluation fails, and
// duration() fails on "9999999999h" or "1d": without the oldSelf term every
// write of the object, status and finalizer included, was refused, and the
// CR never got the ConfigError that names the field. New and changed
// values are checked in full.
// +kubebuilder:validation:MaxLength=64
// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`
type Duration string

// UnmarshalJSON accepts any JSON value; a non-string keeps its raw text so
// that the operator can name it in its error.
func (d *Duration) UnmarshalJSON(data []byte) error {
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		s = string(data)
	}
	*d = Duration(s)
	return nil
}

// Settings tune endpoints, timeouts and polling.
type Settings struct {
	// ContrabassEndpoint is the base URL of the Contrabass admin API.
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:Pattern=`^https?://[^\s]+$`
	ContrabassEndpoint string `json:"contrabassEndpoint"`
	// ContrabassEncryptKey is the key in plain text; prefer a Secret.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	ContrabassEncryptKey string `json:"contrabassEncryptKey,omitempty"`
	// ContrabassTimeout bounds each request to Contrabass.
	// +optional
	// +kubebuilder:default="30s"
	// +kubebuilder:validation:XValidation:rule=`(oldSelf.hasValue() && oldSelf.value() == self) || (duration(self) >= duration("1s") && duration(self) <= duration("10m"))`,message="must be a duration from 1s to 10m",optionalOldSelf=true
	ContrabassTimeout Duration `json:"contrabassTimeout,omitempty"`
	// +optional
	ContrabassInsecureTLS bool `json:"contrabassInsecureTLS,omitempty"`

	// ViolaEndpoint overrides the operator-wide VIOLA_ENDPOINT.
	// +optional
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:Pattern=`^https?://[^\s]+$`
	ViolaEndpoint string `json:"violaEndpoint,omitempty"`

	// OpenstackTimeout bounds each request to Keystone, Neutron and Nova.
	// +optional
	// +kubebuilder:default="30s"
	// +kubebuilder:validation:XValidation:rule=`(oldSelf.hasValue() && oldSelf.value() == self) || (duration(self) >= duration("1s") && duration(self) <= duration("10m"))`,message="must be a duration from 1s to 10m",optionalOldSelf=true
	OpenstackTimeout Duration `json:"openstackTimeout,omitempty"`
	// +optional
	OpenstackInsecureTLS bool `json:"openstackInsecureTLS,omitempty"`
	// OpenstackNeutronEndpoint skips the catalog for Neutron.
	// +optional
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:Pattern=`^https?://[^\s]+$`
	OpenstackNeutronEndpoint string `json:"openstackNeutronEndpoint,omitempty"`
	// OpenstackNovaEndpoint skips the catalog for Nova.
	// +optional
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:Pattern=`^https?://[^\s]+$`
	OpenstackNovaEndpoint string `json:"openstackNovaEndpoint,omitempty"`
	// OpenstackEndpointInterface picks catalog endpoints.
	// +optional
	// +kubebuilder:default=public
	// +kubebuilder:validation:Enum=public;internal;admin
	OpenstackEndpointInterface string `json:"openstackEndpointInterface,omitempty"`
	// OpenstackEndpointRegion prefers catalog endpoints of this region.
	// +optional
	// +kubebuilder:validation:MaxLength=255
	OpenstackEndpointRegion string `json:"openstackEndpointRegion,omitempty"`
	// OpenstackNodeNameMetadataKey names the Nova metadata key that holds the node name.
	// +optional
	// +kubebuilder:validation:MaxLength=255
	OpenstackNodeNameMetadataKey string `json:"openstackNodeNameMetadataKey,omitempty"`
	// OpenstackPortAllowedStatuses lists the port statuses to configure
	// (Neutron's are ACTIVE, DOWN, BUILD, ERROR and N/A); "*" allows any.
	// +optional
	// +kubebuilder:default={ACTIVE,DOWN}
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:items:MaxLength=32
	// +kubebuilder:validation:items:Pattern=`^(\*|[A-Za-z][A-Za-z_/]*)$`
	OpenstackPortAllowedStatuses []string `json:"openstackPortAllowedStatuses,omitempty"`

	// DownPortFastRetryMax bounds the fast re-sends of a node with DOWN ports.
	// +optional
	// +kubebuilder:default=5
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=1000
	DownPortFastRetryMax *int32 `json:"downPortFastRetryMax,omitempty"`
	// PollFastInterval is the poll interval within pollFastWindow after a
	// pass that sent something.
	// +optional
	// +kubebuilder:default="20s"
	// +kubebuilder:validation:XValidation:rule=`(oldSelf.hasValue() && oldSelf.value() == self) || (duration(self) >= duration("1s") && duration(self) <= duration("24h"))`,message="must be a duration from 1s to 24h",optionalOldSelf=true
	PollFastInterval Duration `json:"pollFastInterval,omitempty"`
	// PollSlowInterval is the poll interval when nothing was sent lately.
	// +optional
	// +kubebuilder:default="2m"
	// +kubebuilder:validation:XValidation:rule=`(oldSelf.hasValue() && oldSelf.value() == self) || (duration(self) >= duration("1s") && duration(self) <= duration("24h"))`,message="must be a duration from 1s to 24h",optionalOldSelf=true
	PollSlowInterval Duration `json:"pollSlowInterval,omitempty"`
	// PollErrorInterval is the poll interval after a failed pass.
	// +optional
	// +kubebuilder:default="30s"
	// +kubebuilder:validation:XValidation:rule=`(oldSelf.hasValue() && oldSelf.value() == self) || (duration(self) >= duration("1s") && duration(self) <= duration("24h"))`,message="must be a duration from 1s to 24h",optionalOldSelf=true
	PollErrorInterval Duration `json:"pollErrorInterval,omitempty"`
	// PollFastWindow is how long fast polling lasts after a pass that sent something.
	// +optional
	// +kubebuilder:default="3m"
	// +kubebuilder:validation:XValidation:rule=`(oldSelf.hasValue() && oldSelf.value() == self) || (duration(self) >= duration("1s") && duration(self) <= duration("24h"))`,message="must be a duration from 1s to 24h",optionalOldSelf=true
	PollFastWindow Duration `json:"pollFastWindow,omitempty"`
	// ResyncInterval re-sends every node at least this often, even unchanged,
	// so drift on the Biz side heals. "0s" disables it.
	// +optional
	// +kubebuilder:default="30m"
	// +kubebuilder:validation:XValidation:rule=`(oldSelf.hasValue() && oldSelf.value() == self) || (duration(self) == duration("0s") || (duration(self) >= duration("1m") && duration(self) <= duration("168h")))`,message="must be 0s (disabled) or a duration from 1m to 168h (7 days)",optionalOldSelf=true
	ResyncInterval Duration `json:"resyncInterval,omitempty"`
	// DownPortGracePeriod holds back a port that is DOWN and was never sent
	// for up to this long after it was first seen, and sends it as soon as it
	// is ACTIVE: the node agent configures a node once per spec change and
	// its Job fails for good when the NIC is not in the guest yet. After the
	// grace period the port is sent anyway. "0s" sends at once.
	// +optional
	// +kubebuilder:default="2m"
	// +kubebuilder:validation:XValidation:rule=`duration(self) == duration("0s") || (duration(self) >= duration("1s") && duration(self) <= duration("24h"))`,message="must be 0s (send at once) or a duration from 1s to 24h"
	DownPortGracePeriod Duration `json:"downPortGracePeriod,omitempty"`
	// RemovalPolicy says what becomes of a node the config lets go (its VM
	// left vmNames or Nova, lost its last port on a target subnet, or was
	// renamed; or the OpenstackConfig is deleted). Orphan leaves its
	// MultiNicNodeConfig in the Biz cluster and marks its inventory record
	// orphaned; Delete removes it through Viola (the node agent then cleans
	// the node up) and drops the record.
	// +optional
	// +kubebuilder:default=Orphan
	// +kubebuilder:validation:Enum=Orphan;Delete
	RemovalPolicy string `json:"removalPolicy,omitempty"`
	// PassTimeout is the deadline of one whole pass (Contrabass to Viola,
	// retries included), so one CR cannot hold a worker for minutes.
	// +optional
	// +kubebuilder:default="1m"
	// +kubebuilder:validation:XValidation:rule=`(oldSelf.hasValue() && oldSelf.value() == self) || (duration(self) >= duration("1s") && duration(self) <= duration("10m"))`,message="must be a duration from 1s to 10m",optionalOldSelf=true
	PassTimeout Duration `json:"passTimeout,omitempty"`
}

// OpenstackConfigStatus is written by the operator. Every list and message
// in it is bounded, so a status write is never refused for its size.
type OpenstackConfigStatus struct {
	// Ready is True when the last pass completed; Degraded is True when it
	// failed or left something out (the message counts what).
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
	// LastError is the last failure, cut to one line of bounded length;
	// empty once a pass succeeds.
	// +optional
	LastError string `json:"lastError,omitempty"`
	// Nodes is how many node configs the last pass computed.
	// +optional
	Nodes int32 `json:"nodes,omitempty"`
	// SkippedVMs are VMs that produced no node config, with the reason
	// (e.g. Nova does not know them, or their name is not a valid node name).
	// At most 20 are listed; the Degraded condition counts them all.
	// +optional
	SkippedVMs []SkippedVM `json:"skippedVMs,omitempty"`
	// DroppedPorts are selected ports beyond the ten interface names
	// (multinic0..multinic9) of their node; they are not configured.
	// At most 20 are listed; the Degraded condition counts them all.
	// +optional
	DroppedPorts []DroppedPort `json:"droppedPorts,omitempty"`
	// SkippedSubnets are target subnets that contributed no interfaces:
	// their network reports no usable MTU (68-9000), or the subnet does not
	// exist or could not be read (the other target subnets are still used).
	// At most 20 are listed; the Degraded condition counts them all.
	// +optional
	SkippedSubnets []SkippedSubnet `json:"skippedSubnets,omitempty"`
	// RejectedNodes are node configs left out of the POST as invalid.
	// At most 20 are listed; the Degraded condition counts them all.
	// +optional
	RejectedNodes []RejectedNode `json:"rejectedNodes,omitempty"`
	// LeftOutAddresses are fixed IPs on target subnets that were not sent
	// because the node agent cannot serve them: IPv6 addresses (its routing
	// is IPv4-only) and a port's further fixed IPs (one address per
	// interface; the first IPv4 on the earliest target subnet is sent).
	// At most 20 are listed; the Degraded condition counts them all.
	// +optional
	LeftOutAddresses []LeftOutAddress `json:"leftOutAddresses,omitempty"`
	// NodeNameWarnings are nodes that were sent under a name the node agent
	// serves only in part, e.g. a dotted one, whose removed interfaces it
	// does not clean up. At most 20 are listed; the Degraded condition
	// counts them all.
	// +optional
	NodeNameWarnings []NodeNameWarning `json:"nodeNameWarnings,omitempty"`
	// DownPortRetry tracks re-sends of nodes whose ports are DOWN.
	// +optional
	DownPortRetry *DownPortRetry `json:"downPortRetry,omitempty"`
	// HeldPorts are DOWN ports never sent yet that downPortGracePeriod holds
	// back, with when each was first seen DOWN (kept here so a restart does
	// not start the grace period again). At most 100 are listed.
	// +optional
	HeldPorts []HeldPort `json:"heldPorts,omitempty"`
	// RemovedNodes are the latest nodes the config let go and removed
	// through Viola (removalPolicy Delete), newest first; at most 20.
	// +optional
	RemovedNodes []NodeRemoval `json:"removedNodes,omitempty"`
	// OrphanedNodes are the latest nodes the config let go and left in the
	// Biz cluster (removalPolicy Orphan, or a Viola that cannot remove
	// configs), newest first; at most 20. Their inventory records are kept,
	// marked orphaned. A node sent again leaves the list.
	// +optional
	OrphanedNodes []NodeRemoval `json:"orphanedNodes,omitempty"`
}

// HeldPort is a DOWN port held back by downPortGracePeriod.
type HeldPort struct {
	PortID string `json:"portId"`
	// +optional
	NodeName string `json:"nodeName,omitempty"`
	// +optional
	InstanceID string `json:"instanceId,omitempty"`
	// FirstSeen is when the port was first seen DOWN.
	FirstSeen metav1.Time `json:"firstSeen"`
	// Until is when the grace period ends and the port is sent even if DOWN.
	Until metav1.Time `json:"until"`
}

// NodeRemoval is a node the config let go.
type NodeRemoval struct {
	NodeName string `json:"nodeName"`
	// +optional
	InstanceID string `json:"instanceId,omitempty"`
	// Reason says why the node left and what was done.
	Reason string `json:"reason"`
	// At is when the pass let it go.
	At metav1.Time `json:"at"`
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

// SkippedSubnet is a target subnet that contributed no interfaces.
type SkippedSubnet struct {
	SubnetID string `json:"subnetId"`
	// +optional
	NetworkID string `json:"networkId,omitempty"`
	Reason    string `json:"reason"`
}

// RejectedNode is a node config that was built but left out of the POST.
type RejectedNode struct {
	NodeName string `json:"nodeName"`
	// +optional
	InstanceID string `json:"instanceId,omitempty"`
	Reason     string `json:"reason"`
}

// LeftOutAddress is a fixed IP on a target subnet that was not sent.
type LeftOutAddress struct {
	InstanceID string `json:"instanceId"`
	// NodeName is empty when the VM was skipped.
	// +optional
	NodeName string `json:"nodeName,omitempty"`
	PortID   string `json:"portId"`
	// +optional
	SubnetID string `json:"subnetId,omitempty"`
	Address  string `json:"address"`
	Reason   string `json:"reason"`
}

// NodeNameWarning is a node sent under a name the node agent serves only in part.
type NodeNameWarning struct {
	NodeName string `json:"nodeName"`
	// +optional
	InstanceID string `json:"instanceId,omitempty"`
	Reason     string `json:"reason"`
}

// DownPortRetry is the state of re-sending nodes with DOWN ports.
type DownPortRetry struct {
	// Hash identifies the set of DOWN ports; a new set restarts the count.
	Hash string `json:"hash"`
	// LastAttempt is when the nodes were last sent; unset until the first
	// send, which is due as soon as the DOWN ports are seen.
	// +optional
	LastAttempt *metav1.Time `json:"lastAttempt,omitempty"`
	// FastAttempts counts re-sends at pollFastInterval.
	FastAttempts int32 `json:"fastAttempts"`
	// Nodes are the nodes that have DOWN ports and are re-sent.
	// +optional
	Nodes []string `json:"nodes,omitempty"`
	// MoreNodes counts nodes with DOWN ports beyond those listed (at most
	// 200 are); while it is not zero every node is re-sent.
	// +optional
	MoreNodes int32 `json:"moreNodes,omitempty"`
}

// OpenstackConfig keeps the extra NICs of OpenStack-hosted Kubernetes nodes
// in sync with the node agent's MultiNicNodeConfig objects.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=osc
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Degraded",type=string,JSONPath=`.status.conditions[?(@.type=="Degraded")].status`
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
