package multinic

import (
	"cmp"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/multinic/multinic/contrabass"
	"github.com/multinic/multinic/internal/safetext"
	"github.com/multinic/multinic/inventory"
	"github.com/multinic/multinic/openstack"
	"github.com/multinic/multinic/viola"
)

// Config is everything one pass needs. Field names follow the
// OpenstackConfig resource; zero values take the SPEC defaults.
type Config struct {
	// ProviderID is the Contrabass provider (credentials.openstackProviderID).
	ProviderID string
	// K8sProviderID routes node configs to a Biz cluster at Viola; defaults to ProviderID.
	K8sProviderID string
	// ProjectID scopes the Keystone token and the Neutron queries.
	ProjectID string
	// VMIDs are the Nova server UUIDs of the nodes (vmNames in the CR).
	VMIDs []string

	// Subnet selectors, in precedence order: SubnetIDs, SubnetID, SubnetName.
	SubnetIDs  []string
	SubnetID   string
	SubnetName string

	// EncryptKey decrypts the Contrabass admin password. Surrounding
	// whitespace is ignored; the rest must be 16, 24 or 32 bytes (AES-128,
	// -192, -256), else the pass fails with ConfigError before any request.
	EncryptKey string

	Contrabass contrabass.Options
	OpenStack  openstack.Options
	Viola      viola.Options

	// NodeNameMetadataKey names the Nova metadata key holding the node name.
	NodeNameMetadataKey string
	// PortAllowedStatuses defaults to ACTIVE and DOWN; "*" allows any.
	PortAllowedStatuses []string

	// Inventory supplies what was sent before and records what is sent now.
	// Sync is its only writer: it records what Viola accepted and, after a
	// pass that succeeded, removes the records of this routing key that the
	// config no longer stands behind (see HeldByOthers). Without one every
	// pass sends every node.
	Inventory Inventory
	// Peers are the other configs of this routing key, for the operator
	// the other OpenstackConfigs with the same routing key. They decide who
	// owns a VM (SPEC §5: one owner per VM): a VM, or a node name, that a
	// Prior peer holds is left out of this pass with the reason
	// "claimed by <Name>", and a record of a VM any peer selects is shared
	// ground that this config never removes or orphans (the peer takes it
	// over). List Prior peers oldest first: the first that selects a VM owns
	// it.
	Peers []Peer
	// HeldByOthers are further VMs that another config of the same routing
	// key syncs, as for a Peer that is not Prior: their records are never
	// removed or orphaned on this config's behalf, and Result.Diff marks
	// them kept.
	HeldByOthers []string
	// RemovalPolicy says what becomes of a node this config lets go (its VM
	// left VMIDs or Nova, lost its last port on a target subnet, or was
	// renamed): RemovalOrphan (the zero value) leaves its config in the Biz
	// cluster and marks its inventory record orphaned; RemovalDelete removes
	// it through Viola's DELETE and drops the record (SPEC §6, §8).
	RemovalPolicy RemovalPolicy
	// DownPortGracePeriod holds back a port that is DOWN and was never sent
	// for up to this long after it was first seen, and sends it as soon as
	// it is ACTIVE: the node agent configures a node once per spec change
	// and fails for good when the NIC is not in the guest yet (SPEC §7-8).
	// After the grace period it is sent anyway. Zero sends at once.
	DownPortGracePeriod time.Duration
	// DownPortsFirstSeen are the times ports were first seen DOWN in earlier
	// passes, by port ID (the operator keeps Result.HeldPorts in status): a
	// held port not in it was first seen by this pass.
	DownPortsFirstSeen map[string]time.Time
	// ResendAll sends every node even when unchanged.
	ResendAll bool
	// Resend names nodes to send even when unchanged (for example nodes
	// with DOWN ports, so Viola holds them). A re-send of an unchanged
	// config puts back a Biz object that was edited or deleted, but the
	// node agent acts only on a spec change (SPEC §7): it does not retry
	// a node it configured or failed on. Re-running the agent for a node
	// takes a DELETE and a new POST (see the CLI's rerun).
	Resend []string
	// DryRun stops the pass where it would POST: nothing is sent to Viola
	// and nothing is written to the inventory, yet the Result holds the
	// same node configs, skips and rejections as a real pass, and its Diff
	// says what that pass would send and which records it leaves behind.
	// It needs no Viola endpoint.
	DryRun bool
	// PassTimeout bounds the whole pass (Contrabass, Keystone, Neutron,
	// Nova, Viola, retries included), so one config cannot hold a caller for
	// minutes. On expiry the error carries the reason of the step that was
	// running and says the pass deadline was exceeded. Zero means
	// DefaultPassTimeout; negative is a ConfigError.
	PassTimeout time.Duration
	// Now is the clock; tests inject one.
	Now func() time.Time
}

// Peer is another config of the same routing key (see Config.Peers).
type Peer struct {
	// Name identifies the peer in reasons, e.g. "<namespace>/<name>".
	Name string
	// Prior: the peer comes first in the owner order (for the operator: an
	// older creationTimestamp, then namespace/name), so it keeps the VMs and
	// node names both configs would send.
	Prior bool
	// VMIDs are the VMs the peer selects.
	VMIDs []string
	// RemovalPolicy is the peer's. A record of a VM that no config selects
	// any more is deleted only when this config and every peer delete.
	RemovalPolicy RemovalPolicy
}

// RemovalPolicy is what becomes of a node a config lets go.
type RemovalPolicy string

const (
	// RemovalOrphan leaves the node's config in the Biz cluster (the agent
	// keeps its interfaces) and marks its inventory record orphaned: nothing
	// is torn down by surprise. The zero value means RemovalOrphan.
	RemovalOrphan RemovalPolicy = "Orphan"
	// RemovalDelete sends Viola's DELETE for the node (the agent then cleans
	// the node up) and removes its inventory record.
	RemovalDelete RemovalPolicy = "Delete"
)

// deletes tells whether the policy removes nodes at Viola.
func (r RemovalPolicy) deletes() bool { return r == RemovalDelete }

// DefaultPassTimeout is the deadline of a pass when Config.PassTimeout is zero.
const DefaultPassTimeout = time.Minute

// Inventory is where Sync reads previous sends, records new ones and
// removes the records of VMs that left. *inventory.Store implements it.
type Inventory interface {
	List(inventory.Filter) []inventory.Record
	Upsert(providerID string, configs ...viola.NodeConfig) (int, error)
	// PruneNodes removes the records of providerID for which keep is
	// false, deciding by a record's identity alone.
	PruneNodes(providerID string, keep func(instanceID, nodeName string) bool) (int, error)
}

// RoutingKey is the x-provider-id header and the inventory providerId.
func (c Config) RoutingKey() string {
	if c.K8sProviderID != "" {
		return c.K8sProviderID
	}
	return c.ProviderID
}

// targetSubnets returns the selectors in precedence order: the ordered ID
// list, else the single ID; a name is resolved later against Neutron.
func (c Config) targetSubnetIDs() []string {
	ids := c.SubnetIDs
	if len(ids) == 0 && c.SubnetID != "" {
		ids = []string{c.SubnetID}
	}
	return dedupe(ids)
}

// subnetSelector is the setting that selects the target subnets.
func (c Config) subnetSelector() Setting {
	switch {
	case len(dedupe(c.SubnetIDs)) > 0:
		return SettingSubnetIDs
	case c.SubnetID != "":
		return SettingSubnetID
	}
	return SettingSubnetName
}

func (c Config) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// validate reports every problem that makes cfg unusable before any
// request: a ConfigError when a setting or the encrypt key is at fault,
// listing them all (the subnet selector included), else SubnetRequired.
func (c Config) validate() *Error {
	return problems(append(c.settingsProblems(), c.keyProblems()...), c.subnetProblems()...)
}

// ValidateSettings reports what makes cfg unusable before any request,
// except the encrypt key, whose source only the caller knows and so checks
// itself (Sync checks it too): missing identifiers, endpoints and subnet
// selector, a negative pass timeout. The error is an *Error with reason
// ConfigError or SubnetRequired, each problem naming its Setting.
func (c Config) ValidateSettings() error {
	if err := problems(c.settingsProblems(), c.subnetProblems()...); err != nil {
		return err
	}
	return nil
}

func (c Config) settingsProblems() []*Error {
	var errs []*Error
	add := func(setting Setting, kind Kind, text func(Names) string) {
		errs = append(errs, problem(ReasonConfig, setting, kind, c.secrets(), text))
	}
	required := func(setting Setting) func(Names) string {
		return func(n Names) string { return n.Of(setting) + " is required" }
	}
	if c.ProviderID == "" {
		add(SettingProviderID, KindMissing, required(SettingProviderID))
	}
	if c.ProjectID == "" {
		add(SettingProjectID, KindMissing, required(SettingProjectID))
	}
	if len(dedupe(c.VMIDs)) == 0 {
		add(SettingVMIDs, KindMissing, func(n Names) string { return n.Of(SettingVMIDs) + " must list at least one VM ID" })
	}
	if c.Contrabass.Endpoint == "" {
		add(SettingContrabassEndpoint, KindMissing, func(n Names) string { return "no Contrabass endpoint: set " + n.Of(SettingContrabassEndpoint) })
	}
	if c.Viola.Endpoint == "" && !c.DryRun { // a dry run posts nothing
		add(SettingViolaEndpoint, KindMissing, func(n Names) string { return "no Viola endpoint: set " + n.Of(SettingViolaEndpoint) })
	}
	if c.RemovalPolicy != "" && c.RemovalPolicy != RemovalOrphan && c.RemovalPolicy != RemovalDelete {
		add(SettingRemovalPolicy, KindInvalid, func(n Names) string {
			return fmt.Sprintf("%s must be %s or %s, got %q", n.Of(SettingRemovalPolicy), RemovalOrphan, RemovalDelete, c.RemovalPolicy)
		})
	}
	if c.DownPortGracePeriod < 0 {
		add(SettingDownPortGracePeriod, KindInvalid, func(n Names) string {
			return fmt.Sprintf("%s must not be negative, got %s", n.Of(SettingDownPortGracePeriod), c.DownPortGracePeriod)
		})
	}
	if c.PassTimeout < 0 {
		add(SettingPassTimeout, KindInvalid, func(n Names) string {
			return fmt.Sprintf("%s must not be negative, got %s", n.Of(SettingPassTimeout), c.PassTimeout)
		})
	}
	return errs
}

// keyProblems checks the key before any request, because a wrong length
// can only be a wrong key; the key itself is never quoted.
func (c Config) keyProblems() []*Error {
	key := c.encryptKey()
	var text func(Names) string
	kind := KindInvalid
	switch {
	case contrabass.ValidKeyLength(len(key)):
		return nil
	case key == "":
		kind = KindMissing
		text = func(n Names) string { return "the Contrabass encrypt key is empty: set " + n.Of(SettingEncryptKey) }
	default:
		text = func(n Names) string {
			return fmt.Sprintf("the Contrabass encrypt key (from %s) is %d bytes after trimming surrounding whitespace; AES needs 16, 24 or 32", n.Of(SettingEncryptKey), len(key))
		}
	}
	return []*Error{problem(ReasonConfig, SettingEncryptKey, kind, c.secrets(), text)}
}

func (c Config) subnetProblems() []*Error {
	if len(c.targetSubnetIDs()) > 0 || c.SubnetName != "" {
		return nil
	}
	return []*Error{problem(ReasonSubnetRequired, SettingSubnetIDs, KindMissing, nil, func(n Names) string {
		return fmt.Sprintf("one of %s, %s or %s is required", n.Of(SettingSubnetIDs), n.Of(SettingSubnetID), n.Of(SettingSubnetName))
	})}
}

// secrets are what a message about cfg must never show: the encrypt key,
// the Contrabass bearer token, and the password of any endpoint's user info
// with the basic-auth pair net/http sends for it (an echoing proxy or
// service quotes the pair).
func (c Config) secrets() []string {
	out := []string{c.EncryptKey, c.encryptKey(), c.Contrabass.BearerToken}
	for _, endpoint := range []string{c.Contrabass.Endpoint, c.Viola.Endpoint, c.OpenStack.NeutronEndpoint, c.OpenStack.NovaEndpoint} {
		u, err := url.Parse(endpoint)
		if err != nil || u.User == nil {
			continue
		}
		if password, ok := u.User.Password(); ok {
			out = append(out, password, safetext.BasicAuth(u.User.Username(), password))
		} else {
			out = append(out, u.User.Username(), safetext.BasicAuth(u.User.Username(), "")) // a user alone is a token
		}
	}
	return out
}

// encryptKey is the key without surrounding whitespace: a Secret made with
// kubectl --from-file ends in a newline, which is never part of the key.
func (c Config) encryptKey() string { return strings.TrimSpace(c.EncryptKey) }

func (c Config) passTimeout() time.Duration { return cmp.Or(c.PassTimeout, DefaultPassTimeout) }

// dedupe drops empty and repeated entries, keeping the first occurrence.
func dedupe(in []string) []string {
	seen := make(map[string]bool, len(in))
	out := make([]string, 0, len(in))
	for _, s := range in {
		if s != "" && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}
