// Package multinic runs one pass of the multinic flow: read the provider from
// Contrabass, the VMs' ports from Neutron and their node names from Nova, build
// one NIC config per node and send the changed ones to Viola. It needs no
// Kubernetes; the operator is a thin shell around a Syncer.
package multinic

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/multinic/multinic/contrabass"
	"github.com/multinic/multinic/inventory"
	"github.com/multinic/multinic/openstack"
	"github.com/multinic/multinic/viola"
)

// Result is what one pass found and did.
type Result struct {
	// RoutingKey is the x-provider-id the nodes were sent under.
	RoutingKey string
	// Nodes are every computed node config, by node name.
	Nodes []viola.NodeConfig
	// Sent are the nodes Viola accepted in this pass; Changed are those of
	// them whose config was new or different, as opposed to re-sent on
	// request. Unchanged were not sent.
	Sent      []string
	Changed   []string
	Unchanged []string
	// Skipped are VMs that produced no node config, with the reason.
	Skipped []SkippedVM
	// DownPorts are selected ports whose status is DOWN.
	DownPorts []DownPort
	// DroppedPorts did not fit into the ten interface names of their node.
	DroppedPorts []DroppedPort
	// SkippedSubnets are target subnets that contributed no interfaces
	// because their network reports no usable MTU (SPEC §5).
	SkippedSubnets []SkippedSubnet
	// RejectedNodes are node configs left out of the POST because they are
	// invalid (SPEC §5: one bad node never blocks the others).
	RejectedNodes []RejectedNode
}

// SkippedSubnet is a target subnet whose ports gave no interfaces.
type SkippedSubnet struct {
	SubnetID  string
	NetworkID string
	Reason    string
}

// RejectedNode is a node config that was built but not sent.
type RejectedNode struct {
	NodeName   string
	InstanceID string
	Reason     string
}

// Degradation summarises what the pass had to leave out, e.g.
// "2 VMs skipped, 1 subnet without usable MTU", or "" when nothing was: a
// pass that succeeded only in part is Degraded, not healthy.
func (r Result) Degradation() string {
	var parts []string
	add := func(n int, one, many string) {
		switch {
		case n == 1:
			parts = append(parts, "1 "+one)
		case n > 1:
			parts = append(parts, fmt.Sprintf("%d %s", n, many))
		}
	}
	add(len(r.Skipped), "VM skipped", "VMs skipped")
	add(len(r.RejectedNodes), "node config rejected", "node configs rejected")
	add(len(r.DroppedPorts), "port beyond multinic9 dropped", "ports beyond multinic9 dropped")
	add(len(r.SkippedSubnets), "subnet without usable MTU", "subnets without usable MTU")
	return strings.Join(parts, ", ")
}

// SkippedVM is a VM that produced no node config.
type SkippedVM struct {
	InstanceID string
	NodeName   string // empty when Nova could not name it
	Reason     string
}

// DownPort is a selected port that Neutron reports DOWN.
type DownPort struct {
	NodeName   string
	InstanceID string
	PortID     string
	MACAddress string
}

// DownNodes are the names of nodes with at least one DOWN port, sorted.
func (r Result) DownNodes() []string {
	var names []string
	for _, p := range r.DownPorts {
		names = append(names, p.NodeName)
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// Sync runs one pass with fresh connections. Long-lived callers should keep a
// Syncer so OpenStack sessions survive between passes.
func Sync(ctx context.Context, cfg Config) (Result, error) {
	return new(Syncer).Sync(ctx, cfg)
}

// Syncer runs passes and keeps one authenticated OpenStack session per set of
// credentials and options, so a warm pass skips Keystone. The zero value is
// ready; it is safe for concurrent use.
type Syncer struct {
	mu       sync.Mutex
	sessions map[sessionKey]*openstack.Session
	// Clients are kept per options: each owns a transport with its idle
	// connections, which a new client per pass would leak and never reuse.
	contrabass map[contrabass.Options]*contrabass.Client
	viola      map[viola.Options]*viola.Client
}

type sessionKey struct {
	identityURL, user, domain, project string
	opts                               openstack.Options
}

// Sync runs one pass of the flow with cfg.
func (s *Syncer) Sync(ctx context.Context, cfg Config) (Result, error) {
	if err := cfg.validate(); err != nil {
		return Result{}, err
	}
	secrets := []string{cfg.EncryptKey}
	cb, err := cached(s, &s.contrabass, cfg.Contrabass, contrabass.NewClient)
	if err != nil {
		return Result{}, fail(ReasonConfig, err, secrets...)
	}
	vc, err := cached(s, &s.viola, cfg.Viola, viola.NewClient)
	if err != nil {
		return Result{}, fail(ReasonConfig, err, secrets...)
	}
	provider, err := cb.GetProvider(ctx, cfg.ProviderID)
	if err != nil {
		return Result{}, fail(ReasonContrabass, err, secrets...)
	}
	password, err := provider.AdminPassword(cfg.EncryptKey)
	if err != nil {
		return Result{}, fail(ReasonContrabass, err, secrets...)
	}
	secrets = append(secrets, password)
	creds := openstack.Credentials{
		IdentityURL:    provider.URL,
		UserName:       provider.Attributes.AdminID,
		UserDomainName: provider.Attributes.Domain,
		Password:       password,
		ProjectID:      cfg.ProjectID,
	}
	session, err := s.session(ctx, creds, cfg.OpenStack, cfg.now())
	if err != nil {
		return Result{}, fail(ReasonKeystone, err, secrets...)
	}
	p := pass{cfg: cfg, session: session, secrets: secrets}
	if cfg.Inventory != nil {
		p.previous = cfg.Inventory.List(inventory.Filter{ProviderID: cfg.RoutingKey()})
	}
	res, err := p.collect(ctx)
	if err != nil {
		return res, err
	}
	return p.send(ctx, vc, res)
}

// cached returns the client for opts, creating it on first use.
func cached[O comparable, C any](s *Syncer, clients *map[O]*C, opts O, create func(O) (*C, error)) (*C, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := (*clients)[opts]; ok {
		return c, nil
	}
	c, err := create(opts)
	if err != nil {
		return nil, err
	}
	if *clients == nil {
		*clients = map[O]*C{}
	}
	(*clients)[opts] = c
	return c, nil
}

func (s *Syncer) session(ctx context.Context, creds openstack.Credentials, opts openstack.Options, now time.Time) (*openstack.Session, error) {
	key := sessionKey{creds.IdentityURL, creds.UserName, creds.UserDomainName, creds.ProjectID, opts}
	s.mu.Lock()
	cached := s.sessions[key]
	s.mu.Unlock()
	if cached.Reusable(creds, now) {
		return cached, nil
	}
	fresh, err := openstack.Authenticate(ctx, creds, opts)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sessions == nil {
		s.sessions = map[sessionKey]*openstack.Session{}
	}
	// Drop sessions whose tokens have lapsed so the cache stays as small as
	// the set of credentials in use.
	for k, old := range s.sessions {
		if old.Expired(now) {
			delete(s.sessions, k)
		}
	}
	s.sessions[key] = fresh
	return fresh, nil
}

// pass is the state of one Sync call.
type pass struct {
	cfg     Config
	session *openstack.Session
	secrets []string
	// previous are the inventory records of this routing key, read once.
	previous []inventory.Record
}

// collect reads Neutron and Nova concurrently and builds the node configs.
func (p *pass) collect(ctx context.Context) (Result, error) {
	vmIDs := dedupe(p.cfg.VMIDs)
	var (
		wg         sync.WaitGroup
		ports      []openstack.Port
		portsErr   error
		targets    map[string]*target
		targetsErr *Error
		servers    map[string]openstack.Server
		serverErrs map[string]error
		serversErr error
	)
	wg.Go(func() {
		ports, portsErr = p.session.Ports(ctx, vmIDs)
	})
	wg.Go(func() {
		targets, targetsErr = p.resolveTargets(ctx)
	})
	wg.Go(func() {
		servers, serverErrs, serversErr = p.session.Servers(ctx, vmIDs, p.cfg.NodeNameMetadataKey != "")
	})
	wg.Wait()
	// Report the most fundamental failure: an endpoint, then subnets (a
	// misconfigured CR), then ports, then Nova.
	var endpointErr *openstack.EndpointError
	switch {
	case errors.As(portsErr, &endpointErr), targetsErr != nil && errors.As(targetsErr.Err, &endpointErr):
		return Result{}, fail(ReasonNeutronEndpoint, endpointErr, p.secrets...)
	case targetsErr != nil:
		return Result{}, targetsErr
	case portsErr != nil:
		return Result{}, fail(ReasonNeutronPort, portsErr, p.secrets...)
	case serversErr != nil:
		return Result{}, fail(ReasonNova, serversErr, p.secrets...)
	}
	return p.build(vmIDs, ports, targets, servers, serverErrs)
}

// resolveTargets reads the target subnets and their networks' MTUs.
func (p *pass) resolveTargets(ctx context.Context) (map[string]*target, *Error) {
	var subnets []openstack.Subnet
	var err error
	if ids := p.cfg.targetSubnetIDs(); len(ids) > 0 {
		subnets, err = fetchEach(ctx, ids, p.session.Subnet)
	} else {
		var sn openstack.Subnet
		sn, err = p.session.SubnetByName(ctx, p.cfg.SubnetName)
		subnets = []openstack.Subnet{sn}
	}
	if err != nil {
		return nil, p.subnetError(err)
	}
	var networks []string
	for _, sn := range subnets {
		if !slices.Contains(networks, sn.NetworkID) {
			networks = append(networks, sn.NetworkID)
		}
	}
	mtus, err := fetchEach(ctx, networks, p.session.NetworkMTU)
	if err != nil {
		return nil, p.subnetError(err)
	}
	targets := make(map[string]*target, len(subnets))
	for i, sn := range subnets {
		targets[sn.ID] = &target{priority: i, subnet: sn, mtu: mtus[slices.Index(networks, sn.NetworkID)]}
	}
	return targets, nil
}

// fetchEach reads every id concurrently (target subnets and networks are a
// handful) and returns the results in the order of ids.
func fetchEach[T any](ctx context.Context, ids []string, get func(context.Context, string) (T, error)) ([]T, error) {
	out := make([]T, len(ids))
	errs := make([]error, len(ids))
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Go(func() { out[i], errs[i] = get(ctx, id) })
	}
	wg.Wait()
	return out, errors.Join(errs...)
}

func (p *pass) subnetError(err error) *Error {
	switch {
	case errors.Is(err, openstack.ErrSubnetNotUnique):
		return fail(ReasonSubnetNotUnique, err, p.secrets...)
	case errors.Is(err, openstack.ErrSubnetNotFound):
		return fail(ReasonSubnetNotFound, err, p.secrets...)
	default:
		return fail(ReasonNeutronSubnet, err, p.secrets...)
	}
}

// build turns what was read into node configs, naming interfaces stably
// against what the inventory says was sent before.
func (p *pass) build(vmIDs []string, ports []openstack.Port, targets map[string]*target, servers map[string]openstack.Server, serverErrs map[string]error) (Result, error) {
	res := Result{RoutingKey: p.cfg.RoutingKey()}
	previous := p.previousByInstance()
	portsByVM := map[string][]openstack.Port{}
	for _, port := range ports {
		portsByVM[port.DeviceID] = append(portsByVM[port.DeviceID], port)
	}
	statuses := p.cfg.PortAllowedStatuses
	if len(statuses) == 0 {
		statuses = []string{"ACTIVE", "DOWN"}
	}
	allowed := newStatusFilter(statuses)
	nodeOwner := map[string]string{}
	named, unnamed := 0, 0
	for _, id := range vmIDs {
		cands := selectPorts(portsByVM[id], targets, allowed)
		if len(cands) == 0 {
			res.Skipped = append(res.Skipped, SkippedVM{InstanceID: id, Reason: "no port with an allowed status on a target subnet"})
			continue
		}
		server, ok := servers[id]
		if !ok {
			unnamed++
			res.Skipped = append(res.Skipped, SkippedVM{InstanceID: id, Reason: redacted{err: nodeNameError(serverErrs[id]), secrets: p.secrets}.Error()})
			continue
		}
		named++
		name := server.NodeName(p.cfg.NodeNameMetadataKey)
		if name == "" {
			res.Skipped = append(res.Skipped, SkippedVM{InstanceID: id, Reason: "nova returned an empty server name"})
			continue
		}
		if owner, dup := nodeOwner[name]; dup {
			res.Skipped = append(res.Skipped, SkippedVM{InstanceID: id, NodeName: name, Reason: fmt.Sprintf("node name %q is already used by VM %s", name, owner)})
			continue
		}
		nodeOwner[name] = id
		ifaces, dropped := assignNames(id, cands, previous[id])
		res.DroppedPorts = append(res.DroppedPorts, dropped...)
		res.Nodes = append(res.Nodes, viola.NodeConfig{NodeName: name, InstanceID: id, Interfaces: ifaces})
		for _, iface := range ifaces {
			if strings.EqualFold(portStatus(cands, iface.PortID), "DOWN") {
				res.DownPorts = append(res.DownPorts, DownPort{NodeName: name, InstanceID: id, PortID: iface.PortID, MACAddress: iface.MACAddress})
			}
		}
	}
	if named == 0 && unnamed > 0 {
		return res, fail(ReasonNova, fmt.Errorf("nova named none of the %d VMs with ports: %w", unnamed, firstError(serverErrs)), p.secrets...)
	}
	slices.SortFunc(res.Nodes, func(a, b viola.NodeConfig) int { return strings.Compare(a.NodeName, b.NodeName) })
	return res, nil
}

func nodeNameError(err error) error {
	if err == nil {
		return errors.New("nova did not return the server")
	}
	return err
}

func firstError(errs map[string]error) error {
	keys := make([]string, 0, len(errs))
	for k := range errs {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if len(keys) == 0 {
		return errors.New("no server found")
	}
	return errs[keys[0]]
}

func portStatus(cands []candidate, portID string) string {
	for _, c := range cands {
		if c.port.ID == portID {
			return c.port.Status
		}
	}
	return ""
}

// previousByInstance returns the config last sent for each VM of this routing
// key; a VM whose node was renamed keeps its newest record.
func (p *pass) previousByInstance() map[string]*viola.NodeConfig {
	out := map[string]*viola.NodeConfig{}
	newest := map[string]time.Time{}
	for _, rec := range p.previous {
		if t, seen := newest[rec.InstanceID]; !seen || rec.UpdatedAt.After(t) {
			newest[rec.InstanceID] = rec.UpdatedAt
			out[rec.InstanceID] = &rec.Config
		}
	}
	return out
}

// send posts the nodes that changed (or are due) and records what Viola
// accepted, even when part of the post failed.
func (p *pass) send(ctx context.Context, vc *viola.Client, res Result) (Result, error) {
	last := make(map[string]inventory.Record, len(p.previous))
	for _, rec := range p.previous {
		last[rec.NodeName] = rec
	}
	forced := map[string]bool{}
	for _, n := range p.cfg.Resend {
		forced[n] = true
	}
	var due []viola.NodeConfig
	changed := map[string]bool{}
	for _, node := range res.Nodes {
		rec, known := last[node.NodeName]
		changed[node.NodeName] = !known || rec.LastConfigHash != inventory.ConfigHash(node)
		if changed[node.NodeName] || p.cfg.ResendAll || forced[node.NodeName] {
			due = append(due, node)
		} else {
			res.Unchanged = append(res.Unchanged, node.NodeName)
		}
	}
	if len(due) == 0 {
		return res, nil
	}
	posted, postErr := vc.Post(ctx, res.RoutingKey, due)
	res.Sent = posted.Accepted
	slices.Sort(res.Sent)
	for _, n := range res.Sent {
		if changed[n] {
			res.Changed = append(res.Changed, n)
		}
	}
	if p.cfg.Inventory != nil && len(posted.Accepted) > 0 {
		accepted := map[string]bool{}
		for _, n := range posted.Accepted {
			accepted[n] = true
		}
		var sent []viola.NodeConfig
		for _, node := range due {
			if accepted[node.NodeName] {
				sent = append(sent, node)
			}
		}
		if _, err := p.cfg.Inventory.Upsert(res.RoutingKey, sent...); err != nil && postErr == nil {
			return res, fail(ReasonInventory, err, p.secrets...)
		}
	}
	if postErr != nil {
		return res, fail(ReasonViolaPost, postErr, p.secrets...)
	}
	return res, nil
}
