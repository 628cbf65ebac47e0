package multinic

import "fmt"

// Names of the steps of Check, in the order they run; scripts key on them.
// Sync goes through the same steps, and its failures carry their reasons.
const (
	StepConfig     = "config"
	StepContrabass = "contrabass"
	StepDecrypt    = "decrypt"
	StepKeystone   = "keystone"
	StepCatalog    = "catalog"
	StepSubnets    = "subnets"
	StepPorts      = "ports"
	StepNova       = "nova"
	StepNodes      = "nodes"
	StepViola      = "viola"
)

// stepID is a step of the flow, in the order Check walks them.
type stepID int

const (
	stepConfig stepID = iota
	stepContrabass
	stepDecrypt
	stepKeystone
	stepCatalog
	stepSubnets
	stepPorts
	stepNova
	stepNodes
	stepViola
)

// step is one stage of the flow, the single description Sync and Check
// share: the reason its failures carry and the dependency it talks to (for
// the advice on a failure to reach it); for Check also its title, what it
// needs (usable settings, what earlier steps found) and what it finds. A
// step whose needs are not met is skipped; every other step runs, so one
// check shows every independent problem.
type step struct {
	name, title string
	reason      Reason
	dep         *dependency
	settings    []Setting
	needs       []fact
	provides    []fact
}

// fact is something a step finds that later steps need.
type fact int

const (
	factProvider fact = iota
	factPassword
	factToken
	factNetwork
	factCompute
	factTargets
	factPorts
	factNames
)

// factText says what a skipped step lacks, and which step finds it.
var factText = [...]string{
	factProvider: "the provider (contrabass step)",
	factPassword: "the admin password (decrypt step)",
	factToken:    "a token (keystone step)",
	factNetwork:  "the network endpoint (catalog step)",
	factCompute:  "the compute endpoint (catalog step)",
	factTargets:  "the target subnets (subnets step)",
	factPorts:    "the ports (ports step)",
	factNames:    "the node names (nova step)",
}

// settingText names a setting a skipped step lacks in plain words, which
// read the same whatever a caller calls its settings.
var settingText = map[Setting]string{
	SettingProviderID:         "provider ID",
	SettingProjectID:          "project ID",
	SettingVMIDs:              "VM list",
	SettingSubnetIDs:          "subnet selector",
	SettingEncryptKey:         "encrypt key",
	SettingContrabassEndpoint: "Contrabass endpoint",
	SettingViolaEndpoint:      "Viola endpoint",
	SettingPassTimeout:        "pass timeout",
}

// dependency is the service a step talks to: the setting holding its URL
// (for a service from the Keystone catalog, the override of the catalog's
// URL), or where the URL comes from when no setting holds it, and the
// setting that skips verifying its TLS certificate.
type dependency struct {
	url       Setting
	override  func(Config) string // the override's value, for a catalog service
	catalog   string              // the catalog's service type
	elsewhere string
	tls       Setting
}

// where says where the dependency's URL comes from, for advice.
func (d *dependency) where(cfg Config, n Names) string {
	switch {
	case d.elsewhere != "":
		return d.elsewhere
	case d.override != nil && d.override(cfg) == "":
		return fmt.Sprintf("the Keystone catalog's %q endpoint, or override it with %s", d.catalog, n.Of(d.url))
	}
	return n.Of(d.url)
}

var (
	contrabassService = &dependency{url: SettingContrabassEndpoint, tls: SettingContrabassInsecureTLS}
	keystoneService   = &dependency{elsewhere: "the Keystone URL of the Contrabass provider record (data.url)", tls: SettingOpenStackInsecureTLS}
	neutronService    = &dependency{url: SettingNeutronEndpoint, catalog: "network", tls: SettingOpenStackInsecureTLS,
		override: func(c Config) string { return c.OpenStack.NeutronEndpoint }}
	novaService = &dependency{url: SettingNovaEndpoint, catalog: "compute", tls: SettingOpenStackInsecureTLS,
		override: func(c Config) string { return c.OpenStack.NovaEndpoint }}
	violaService = &dependency{url: SettingViolaEndpoint, tls: SettingViolaInsecureTLS}
)

// steps is the flow, in Check's order.
var steps = [...]step{
	stepConfig: {name: StepConfig, title: "settings and encrypt key usable", reason: ReasonConfig},
	stepContrabass: {name: StepContrabass, title: "Contrabass reachable, provider found", reason: ReasonContrabass, dep: contrabassService,
		settings: []Setting{SettingProviderID, SettingContrabassEndpoint, SettingPassTimeout}, provides: []fact{factProvider}},
	stepDecrypt: {name: StepDecrypt, title: "admin password decrypts", reason: ReasonContrabass,
		needs: []fact{factProvider}, settings: []Setting{SettingEncryptKey}, provides: []fact{factPassword}},
	stepKeystone: {name: StepKeystone, title: "Keystone token for the project", reason: ReasonKeystone, dep: keystoneService,
		needs: []fact{factPassword}, settings: []Setting{SettingProjectID}, provides: []fact{factToken}},
	stepCatalog: {name: StepCatalog, title: "network and compute endpoints chosen", reason: ReasonNeutronEndpoint,
		needs: []fact{factToken}, provides: []fact{factNetwork, factCompute}},
	stepSubnets: {name: StepSubnets, title: "target subnets resolve, with a usable MTU", reason: ReasonNeutronSubnet, dep: neutronService,
		needs: []fact{factNetwork}, settings: []Setting{SettingSubnetIDs}, provides: []fact{factTargets}},
	stepPorts: {name: StepPorts, title: "ports found per VM", reason: ReasonNeutronPort, dep: neutronService,
		needs: []fact{factTargets}, settings: []Setting{SettingVMIDs}, provides: []fact{factPorts}},
	stepNova: {name: StepNova, title: "Nova names every VM with a valid node name", reason: ReasonNova, dep: novaService,
		needs: []fact{factCompute}, settings: []Setting{SettingVMIDs}, provides: []fact{factNames}},
	stepNodes: {name: StepNodes, title: "node configs build and are valid", reason: ReasonNeutronPort,
		needs: []fact{factPorts, factNames}},
	stepViola: {name: StepViola, title: "Viola answers (GET /healthz, else a connection; no POST)", reason: ReasonViola, dep: violaService,
		settings: []Setting{SettingViolaEndpoint}},
}
