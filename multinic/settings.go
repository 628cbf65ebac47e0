package multinic

// Setting names a field of Config by its Go path from Config, e.g.
// "Config.Viola.Endpoint". An *Error names the setting to change, and the
// library's messages name settings this way; a caller that builds Config
// from settings of its own (the operator from an OpenstackConfig, a tool
// from its flags) renders them with its own names (see Names).
type Setting string

// The settings an *Error can name.
const (
	SettingProviderID            Setting = "Config.ProviderID"
	SettingProjectID             Setting = "Config.ProjectID"
	SettingVMIDs                 Setting = "Config.VMIDs"
	SettingSubnetIDs             Setting = "Config.SubnetIDs"
	SettingSubnetID              Setting = "Config.SubnetID"
	SettingSubnetName            Setting = "Config.SubnetName"
	SettingEncryptKey            Setting = "Config.EncryptKey"
	SettingContrabassEndpoint    Setting = "Config.Contrabass.Endpoint"
	SettingContrabassInsecureTLS Setting = "Config.Contrabass.InsecureTLS"
	SettingContrabassBearerToken Setting = "Config.Contrabass.BearerToken"
	SettingOpenStackInsecureTLS  Setting = "Config.OpenStack.InsecureTLS"
	SettingNeutronEndpoint       Setting = "Config.OpenStack.NeutronEndpoint"
	SettingNovaEndpoint          Setting = "Config.OpenStack.NovaEndpoint"
	SettingViolaEndpoint         Setting = "Config.Viola.Endpoint"
	SettingViolaInsecureTLS      Setting = "Config.Viola.InsecureTLS"
	SettingPortAllowedStatuses   Setting = "Config.PortAllowedStatuses"
	SettingPassTimeout           Setting = "Config.PassTimeout"
	SettingRemovalPolicy         Setting = "Config.RemovalPolicy"
	SettingDownPortGracePeriod   Setting = "Config.DownPortGracePeriod"
)

// Names maps settings to what a caller calls them, for messages in its own
// terms: the operator maps SettingViolaEndpoint to "settings.violaEndpoint,
// or the operator's VIOLA_ENDPOINT". A setting it leaves out keeps its
// library name. A nil Names is the library's names.
type Names map[Setting]string

// Of is the caller's name for s.
func (n Names) Of(s Setting) string {
	if name, ok := n[s]; ok {
		return name
	}
	return string(s)
}

// Kind says what is wrong, within a Reason, so that a caller can advise
// without matching message text. Callers may define kinds of their own for
// the errors they build.
type Kind string

const (
	// KindMissing means Setting is empty, or names something that is not there
	// (a catalog without the endpoint, a Secret without the key).
	KindMissing Kind = "Missing"
	// KindInvalid means Setting has a value that cannot be used.
	KindInvalid Kind = "Invalid"
	// KindUnreachable means no connection to the dependency (DNS, refused,
	// unroutable); Setting holds its URL, when a setting does.
	KindUnreachable Kind = "Unreachable"
	// KindUntrusted means the dependency's TLS certificate is not trusted;
	// Setting is the one that skips verification.
	KindUntrusted Kind = "Untrusted"
	// KindDeadline means the pass ran out of time (Setting is SettingPassTimeout)
	// in the step its Reason names.
	KindDeadline Kind = "Deadline"
	// KindUnusableMTU means a target subnet's network has no MTU the node agent
	// accepts, so its ports give no interfaces.
	KindUnusableMTU Kind = "UnusableMTU"
	// KindLeftOut means a VM, port or node config a pass would leave out (Check
	// fails for them; Sync reports them in its Result).
	KindLeftOut Kind = "LeftOut"
	// KindUnreadable means a target subnet (or its network) could not be read;
	// the other target subnets are still used.
	KindUnreadable Kind = "Unreadable"
	// KindAgentLimit means something the node agent cannot serve (a node name
	// too long for its Job name, an IPv6 address, a port's extra fixed IP)
	// is left out (SPEC §5, §7).
	KindAgentLimit Kind = "AgentLimit"
	// KindPlainHTTP means an https:// URL whose server speaks plain HTTP;
	// Setting holds the URL.
	KindPlainHTTP Kind = "PlainHTTP"
)
