// Package multinic runs one pass of the multinic flow: read the provider from
// Contrabass, the VMs' ports from Neutron and their node names from Nova, build
// one NIC config per node and send the changed ones to Viola. It needs no
// Kubernetes; the operator is a thin shell around a Syncer.
package multinic

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/multinic/multinic/contrabass"
	"github.com/multinic/multinic/internal/recovered"
	"github.com/multinic/multinic/inventory"
	"github.com/multinic/multinic/openstack"
	"github.com/multinic/multinic/viola"
)

// Result is what one pass found and did.
type Result struct {
	// RoutingKey is the x-provider-id the nodes were sent under.
	RoutingKey string
	// Nodes are every node config that can be sent (whether or not it was),
	// by node name; RejectedNodes are not among them.
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
	// PortStatuses are the Neutron statuses of the ports in Nodes, by port
	// ID, so a reader can tell which interfaces are not up yet.
	PortStatuses map[string]string
	// Diff compares each node with the inventory's record of what was last
	// sent, and names the records of the routing key that match no node.
	// Without an Inventory every node is new. A dry run fills it the same way.
	Diff []NodeDiff
}

// Change is how a node config compares with the inventory.
type Change string

const (
	// ChangeNew: the inventory has no record of this node name.
	ChangeNew Change = "new"
	// ChangeChanged: the record differs; NodeDiff.Fields says where.
	ChangeChanged Change = "changed"
	// ChangeUnchanged: the record is identical.
	ChangeUnchanged Change = "unchanged"
	// ChangeRemoved: a record whose VM is no longer in VMIDs, or whose VM
	// now has another node name. The operator prunes it after the pass,
	// unless another OpenstackConfig of the same routing key lists the VM:
	// the library cannot know that, a caller that can may say so.
	ChangeRemoved Change = "removed"
	// ChangeKept: a record of a VM in VMIDs that produced no node config in
	// this pass (skipped, say); it is left as it is.
	ChangeKept Change = "kept"
)

// NodeDiff is one line of Result.Diff.
type NodeDiff struct {
	NodeName   string `json:"nodeName"`
	InstanceID string `json:"instanceId"`
	Change     Change `json:"change"`
	// Fields are the differences of a changed node, in interface order.
	Fields []FieldChange `json:"fields,omitempty"`
	// Due means the pass sends the node (in a dry run: would send it),
	// because it changed or a re-send was asked for.
	Due bool `json:"due"`
	// Note says why a record is removed or kept.
	Note string `json:"note,omitempty"`
}

// FieldChange is one difference between the recorded and the new config,
// e.g. {"interfaces[multinic1].mtu", "1450", "9000"}. Old is empty for
// something added, New for something removed.
type FieldChange struct {
	Field string `json:"field"`
	Old   string `json:"old,omitempty"`
	New   string `json:"new,omitempty"`
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
	// last is the session each provider and project used last, for the
	// early reads of the next pass (see run).
	last map[lastKey]*openstack.Session
	// networkGuesses map "<neutron endpoint> <subnet selector>" to the
	// network the selected subnet was on (see readTargets).
	networkGuesses sync.Map
}

// lastKey is what a pass knows before Contrabass answers.
type lastKey struct {
	contrabassEndpoint, providerID, projectID string
	opts                                      openstack.Options
}

// lastSession is the session cfg's provider and project used last, if its
// token is still good for a pass; nil otherwise.
func (s *Syncer) lastSession(cfg Config) *openstack.Session {
	key := lastKey{cfg.Contrabass.Endpoint, cfg.ProviderID, cfg.ProjectID, cfg.OpenStack}
	if !hashable(key) {
		return nil
	}
	s.mu.Lock()
	sess := s.last[key]
	s.mu.Unlock()
	if !sess.Usable(cfg.now()) {
		return nil
	}
	return sess
}

func (s *Syncer) rememberSession(cfg Config, sess *openstack.Session) {
	key := lastKey{cfg.Contrabass.Endpoint, cfg.ProviderID, cfg.ProjectID, cfg.OpenStack}
	if !hashable(key) {
		return
	}
	now := cfg.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.last[key] == sess {
		return
	}
	if s.last == nil {
		s.last = map[lastKey]*openstack.Session{}
	}
	for k, old := range s.last {
		if old.Expired(now) {
			delete(s.last, k)
		}
	}
	s.last[key] = sess
}

type sessionKey struct {
	identityURL, user, domain, project string
	opts                               openstack.Options
}

// Sync runs one pass of the flow with cfg, under cfg.PassTimeout. A panic
// anywhere in the pass (its goroutines included) is recovered and returned
// as an InternalError, so one bad answer cannot take a long-lived caller down.
func (s *Syncer) Sync(ctx context.Context, cfg Config) (Result, error) {
	if err := cfg.validate(); err != nil {
		return Result{}, err
	}
	ctx, cancel := context.WithTimeoutCause(ctx, cfg.passTimeout(), passDeadlineError{cfg.passTimeout()})
	defer cancel()
	p := &pass{cfg: cfg, secrets: []string{cfg.EncryptKey, cfg.encryptKey()}, networkGuesses: &s.networkGuesses}
	var res Result
	err := recovered.Call(func() error {
		var err error
		res, err = s.run(ctx, p)
		return err
	})
	if err != nil && ReasonOf(err) == "" { // a panic outside the pass's goroutines
		return Result{}, fail(ReasonInternal, err, p.secrets...)
	}
	return res, err
}

// passDeadlineError is the cause of a pass's context when PassTimeout expires.
type passDeadlineError struct{ timeout time.Duration }

func (e passDeadlineError) Error() string {
	return fmt.Sprintf("pass deadline exceeded (PassTimeout %s)", e.timeout)
}

func (s *Syncer) run(ctx context.Context, p *pass) (Result, error) {
	cfg := p.cfg
	cb, err := cached(s, &s.contrabass, cfg.Contrabass, contrabass.NewClient)
	if err != nil {
		return Result{}, fail(ReasonConfig, err, p.secrets...)
	}
	vc, err := cached(s, &s.viola, cfg.Viola, viola.NewClient)
	if err != nil {
		return Result{}, fail(ReasonConfig, err, p.secrets...)
	}
	// A warm pass reads OpenStack with the session its provider used last
	// time while Contrabass answers: the provider record almost never
	// changes. If it did (another Keystone, user, domain or password), what
	// was read is discarded and read again with the right session.
	guess := s.lastSession(cfg)
	var early chan reads
	cancelEarly := func() {}
	if guess != nil {
		var earlyCtx context.Context
		earlyCtx, cancelEarly = context.WithCancel(ctx)
		early = make(chan reads, 1)
		go func() {
			var r reads
			if err := recovered.Call(func() error { r = p.read(earlyCtx, guess); return nil }); err != nil {
				r = reads{portsErr: err}
			}
			early <- r
		}()
	}
	// discard ends the early reads and waits for them, so nothing of them
	// outlives the decision.
	discard := func() {
		if early != nil {
			cancelEarly()
			<-early
			early = nil
		}
	}
	defer discard()

	provider, err := cb.GetProvider(ctx, cfg.ProviderID)
	if err != nil {
		return Result{}, p.fail(ctx, stepContrabass, err)
	}
	password, err := provider.AdminPassword(cfg.encryptKey())
	if err != nil {
		return Result{}, fail(ReasonContrabass, err, p.secrets...)
	}
	p.secrets = append(p.secrets, password)
	creds := openstack.Credentials{
		IdentityURL:    provider.URL,
		UserName:       provider.Attributes.AdminID,
		UserDomainName: provider.Attributes.Domain,
		Password:       password,
		ProjectID:      cfg.ProjectID,
	}
	var r reads
	if guess != nil && guess.Reusable(creds, cfg.now()) {
		p.session, r = guess, <-early
		early = nil
		cancelEarly()
	} else {
		discard()
		p.session, err = s.session(ctx, creds, cfg.OpenStack, cfg.now())
		if err != nil {
			return Result{}, p.fail(ctx, stepKeystone, err)
		}
		r = p.read(ctx, p.session)
	}
	s.rememberSession(cfg, p.session)
	if cfg.Inventory != nil {
		p.previous = cfg.Inventory.List(inventory.Filter{ProviderID: cfg.RoutingKey()})
	}
	res, err := p.collect(ctx, r)
	if err != nil {
		return res, err
	}
	res.Diff = p.diff(res.Nodes)
	if cfg.DryRun {
		for _, d := range res.Diff {
			if !d.Due && d.Change == ChangeUnchanged {
				res.Unchanged = append(res.Unchanged, d.NodeName)
			}
		}
		return res, nil
	}
	return p.send(ctx, vc, res)
}

// step is a stage of the pass: the reason its failures carry and the
// settings to name when its dependency cannot be reached.
type step struct {
	reason     Reason
	urlSetting func(Config) string
	tlsSetting string
}

func fixed(setting string) func(Config) string { return func(Config) string { return setting } }

// catalogOr names the override when it is set, else the catalog entry it
// would replace.
func catalogOr(override func(openstack.Options) string, setting, serviceType string) func(Config) string {
	return func(c Config) string {
		if override(c.OpenStack) != "" {
			return setting
		}
		return fmt.Sprintf("the Keystone catalog's %q endpoint, or override it with %s", serviceType, setting)
	}
}

var (
	stepContrabass = step{ReasonContrabass, fixed("settings.contrabassEndpoint"), "settings.contrabassInsecureTLS: true"}
	stepKeystone   = step{ReasonKeystone, fixed("the Keystone URL of the Contrabass provider record (data.url)"), "settings.openstackInsecureTLS: true"}
	neutronURL     = catalogOr(func(o openstack.Options) string { return o.NeutronEndpoint }, "settings.openstackNeutronEndpoint", "network")
	stepPorts      = step{ReasonNeutronPort, neutronURL, "settings.openstackInsecureTLS: true"}
	stepSubnets    = step{ReasonNeutronSubnet, neutronURL, "settings.openstackInsecureTLS: true"}
	stepNova       = step{ReasonNova, catalogOr(func(o openstack.Options) string { return o.NovaEndpoint }, "settings.openstackNovaEndpoint", "compute"), "settings.openstackInsecureTLS: true"}
	stepViola      = step{ReasonViolaPost, fixed("settings.violaEndpoint, or the operator's VIOLA_ENDPOINT"), "the operator's VIOLA_INSECURE_TLS=true"}
)

// fail reports err as a failure of st: when the pass deadline expired, the
// message starts by saying so (the cause alone would read "context deadline
// exceeded"), and a dependency that could not be reached is followed by the
// setting to check.
func (p *pass) fail(ctx context.Context, st step, err error) *Error {
	return p.failAs(ctx, st.reason, st, err)
}

func (p *pass) failAs(ctx context.Context, reason Reason, st step, err error) *Error {
	var deadline passDeadlineError
	if ctx.Err() != nil && errors.As(context.Cause(ctx), &deadline) {
		err = fmt.Errorf("%s: %w", deadline.Error(), err)
	}
	return failNote(reason, err, connectionAdvice(err, st.urlSetting(p.cfg), st.tlsSetting), p.secrets...)
}

// cached returns the client for opts, creating it on first use.
func cached[O comparable, C any](s *Syncer, clients *map[O]*C, opts O, create func(O) (*C, error)) (*C, error) {
	if !hashable(opts) {
		return create(opts)
	}
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

// hashable reports whether v can be a map key. Options hold interfaces
// (a Transport, an Observer) whose dynamic type may be a func or a map;
// such options are simply not cached, rather than panicking the pass.
func hashable(v any) bool { return reflect.ValueOf(v).Comparable() }

func (s *Syncer) session(ctx context.Context, creds openstack.Credentials, opts openstack.Options, now time.Time) (*openstack.Session, error) {
	key := sessionKey{creds.IdentityURL, creds.UserName, creds.UserDomainName, creds.ProjectID, opts}
	if !hashable(key) {
		return openstack.Authenticate(ctx, creds, opts)
	}
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
	// networkGuesses are the Syncer's networks of subnet selectors (see
	// readTargets); a pass of its own (Check) starts with none.
	networkGuesses *sync.Map
}

// reads is what a pass reads from Neutron and Nova, with the failures as
// they came: they become errors of the pass (reasons, settings to check,
// secrets masked) only in collect, once the pass knows its session is the
// right one and every secret to mask.
type reads struct {
	vmIDs          []string
	portsByVM      map[string][]openstack.Port
	portsErr       error
	targets        map[string]*target
	skippedSubnets []SkippedSubnet
	targetsErr     error
	servers        map[string]openstack.Server
	serverErrs     map[string]error
	serversErr     error
}

// read reads Neutron and Nova concurrently with session.
func (p *pass) read(ctx context.Context, session *openstack.Session) reads {
	r := reads{vmIDs: dedupe(p.cfg.VMIDs)}
	var wg sync.WaitGroup
	// Each goroutine recovers its own panic: an unrecovered one would end
	// the process, not just this pass.
	wg.Go(func() {
		r.portsErr = recovered.Call(func() (err error) {
			r.portsByVM, err = session.PortsByVM(ctx, r.vmIDs)
			return err
		})
	})
	wg.Go(func() {
		r.targetsErr = recovered.Call(func() (err error) {
			r.targets, r.skippedSubnets, err = p.readTargets(ctx, session)
			return err
		})
	})
	wg.Go(func() {
		r.serversErr = recovered.Call(func() (err error) {
			r.servers, r.serverErrs, err = session.ServersAt(ctx, r.vmIDs, p.cfg.NodeNameMetadataKey != "", p.cfg.now())
			return err
		})
	})
	wg.Wait()
	return r
}

// collect turns what was read into node configs, or into the most
// fundamental failure: an endpoint, then subnets (a misconfigured CR), then
// ports, then Nova.
func (p *pass) collect(ctx context.Context, r reads) (Result, error) {
	var endpointErr *openstack.EndpointError
	switch {
	case errors.As(r.portsErr, &endpointErr), errors.As(r.targetsErr, &endpointErr):
		return Result{}, fail(ReasonNeutronEndpoint, endpointErr, p.secrets...)
	case r.targetsErr != nil:
		return Result{}, p.subnetError(ctx, r.targetsErr)
	case r.portsErr != nil:
		return Result{}, p.fail(ctx, stepPorts, r.portsErr)
	case r.serversErr != nil:
		return Result{}, p.fail(ctx, stepNova, r.serversErr)
	}
	res, err := p.build(r.vmIDs, r.portsByVM, r.targets, r.servers, r.serverErrs)
	res.SkippedSubnets = r.skippedSubnets
	if err != nil {
		return res, p.fail(ctx, stepNova, err)
	}
	return res, nil
}

// resolveTargets is readTargets with the pass's session, its failure
// classified (Check's subnets step).
func (p *pass) resolveTargets(ctx context.Context) (map[string]*target, []SkippedSubnet, *Error) {
	targets, skipped, err := p.readTargets(ctx, p.session)
	if err != nil {
		return nil, nil, p.subnetError(ctx, err)
	}
	return targets, skipped, nil
}

// readTargets reads the target subnets and their networks' MTUs. A subnet
// whose network reports no usable MTU stays a target, marked unusable, so
// that its ports are recognised and reported rather than silently ignored;
// it contributes no interfaces.
//
// The subnets' networks are read in the same round trip as the subnets: a
// subnet's network never changes, so a pass reads the networks its
// selectors were on last time; a pass without that memory lists the MTUs
// of the project's networks, where target subnets usually are. Only a
// network that was not read so (guessed wrong, or another project's shared
// network) is read after the subnets answered, as it always was before.
func (p *pass) readTargets(ctx context.Context, session *openstack.Session) (map[string]*target, []SkippedSubnet, error) {
	neutron, err := session.NeutronEndpoint()
	if err != nil {
		return nil, nil, err
	}
	ids := p.cfg.targetSubnetIDs()
	selectors := ids
	if len(ids) == 0 {
		selectors = []string{"name:" + p.cfg.ProjectID + "/" + p.cfg.SubnetName}
	}
	var guessed []string
	for _, sel := range selectors {
		if n := p.guessNetwork(neutron + " " + sel); n != "" && !slices.Contains(guessed, n) {
			guessed = append(guessed, n)
		}
	}
	known := map[string]int{}    // network → MTU, read alongside the subnets
	failed := map[string]error{} // network → why its guessed read failed
	var (
		subnets    []openstack.Subnet
		subnetsErr error
		listErr    error
		wg         sync.WaitGroup
	)
	wg.Go(func() {
		if len(ids) > 0 {
			subnets, subnetsErr = fetchEach(ctx, ids, session.Subnet)
			return
		}
		subnetsErr = recovered.Call(func() error {
			sn, err := session.SubnetByName(ctx, p.cfg.SubnetName)
			subnets = []openstack.Subnet{sn}
			return err
		})
	})
	wg.Go(func() {
		if len(guessed) < len(selectors) {
			listErr = recovered.Call(func() (err error) {
				known, err = session.ProjectNetworkMTUs(ctx)
				return err
			})
			return
		}
		mtus, errs := fetchEachErr(ctx, guessed, session.NetworkMTU)
		for i, n := range guessed {
			if errs[i] != nil {
				failed[n] = errs[i]
			} else {
				known[n] = mtus[i]
			}
		}
	})
	wg.Wait()
	if subnetsErr != nil {
		return nil, nil, subnetsErr
	}
	if listErr != nil {
		return nil, nil, listErr // the read of the networks failed, as a GET of one would
	}
	var missing []string
	var errs []error
	for i, sn := range subnets {
		_, ok := known[sn.NetworkID]
		switch {
		case failed[sn.NetworkID] != nil:
			errs = append(errs, failed[sn.NetworkID])
		case !ok && !slices.Contains(missing, sn.NetworkID):
			missing = append(missing, sn.NetworkID)
		}
		if p.networkGuesses != nil {
			p.networkGuesses.Store(neutron+" "+selectors[min(i, len(selectors)-1)], sn.NetworkID)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, nil, err // a network the subnets are on could not be read
	}
	mtus, err := fetchEach(ctx, missing, session.NetworkMTU)
	if err != nil {
		return nil, nil, err
	}
	for i, n := range missing {
		known[n] = mtus[i]
	}
	targets := make(map[string]*target, len(subnets))
	var skipped []SkippedSubnet
	for i, sn := range subnets {
		t := &target{priority: i, subnet: sn, mtu: known[sn.NetworkID]}
		t.unusable = mtuProblem(sn.NetworkID, t.mtu)
		if t.unusable != "" {
			skipped = append(skipped, SkippedSubnet{SubnetID: sn.ID, NetworkID: sn.NetworkID, Reason: t.unusable})
		}
		targets[sn.ID] = t
	}
	return targets, skipped, nil
}

// mtuProblem says why a network's MTU cannot be sent: the node agent skips
// an interface without one or outside 68-9000, and guessing one could break
// the link (SPEC §5).
func mtuProblem(networkID string, mtu int) string {
	switch {
	case mtu == 0:
		return fmt.Sprintf("network %s reports no MTU", networkID)
	case mtu < viola.MinMTU || mtu > viola.MaxMTU:
		return fmt.Sprintf("network %s reports MTU %d, outside %d-%d", networkID, mtu, viola.MinMTU, viola.MaxMTU)
	}
	return ""
}

// guessNetwork is the network a subnet selector was on last time, or "".
func (p *pass) guessNetwork(key string) string {
	if p.networkGuesses == nil {
		return ""
	}
	n, _ := p.networkGuesses.Load(key)
	id, _ := n.(string)
	return id
}

// fetchEach reads every id concurrently (target subnets and networks are a
// handful) and returns the results in the order of ids.
func fetchEach[T any](ctx context.Context, ids []string, get func(context.Context, string) (T, error)) ([]T, error) {
	out, errs := fetchEachErr(ctx, ids, get)
	return out, errors.Join(errs...)
}

// fetchEachErr is fetchEach with each id's own error.
func fetchEachErr[T any](ctx context.Context, ids []string, get func(context.Context, string) (T, error)) ([]T, []error) {
	out := make([]T, len(ids))
	errs := make([]error, len(ids))
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Go(func() {
			errs[i] = recovered.Call(func() (err error) {
				out[i], err = get(ctx, id)
				return err
			})
		})
	}
	wg.Wait()
	return out, errs
}

func (p *pass) subnetError(ctx context.Context, err error) *Error {
	switch {
	case errors.Is(err, openstack.ErrSubnetNotUnique):
		return p.failAs(ctx, ReasonSubnetNotUnique, stepSubnets, err)
	case errors.Is(err, openstack.ErrSubnetNotFound):
		return p.failAs(ctx, ReasonSubnetNotFound, stepSubnets, err)
	default:
		return p.fail(ctx, stepSubnets, err)
	}
}

// build turns what was read into node configs, naming interfaces stably
// against what the inventory says was sent before. Every VM, subnet or node
// that cannot be sent is left out with its reason; only Nova naming none of
// the VMs fails the pass.
func (p *pass) build(vmIDs []string, portsByVM map[string][]openstack.Port, targets map[string]*target, servers map[string]openstack.Server, serverErrs map[string]error) (Result, error) {
	res := Result{RoutingKey: p.cfg.RoutingKey()}
	previous := p.previousByInstance()
	statuses := p.cfg.PortAllowedStatuses
	if len(statuses) == 0 {
		statuses = []string{"ACTIVE", "DOWN"}
	}
	allowed := newStatusFilter(statuses)
	nodeOwner := map[string]string{}
	named := 0
	unnamed := map[string]error{}
	skip := func(id, node, reason string) {
		res.Skipped = append(res.Skipped, SkippedVM{InstanceID: id, NodeName: node, Reason: reason})
	}
	for _, id := range vmIDs {
		cands, blocked := selectPorts(portsByVM[id], targets, allowed)
		if len(cands) == 0 {
			if len(blocked) > 0 {
				skip(id, "", "its ports on target subnets are all on subnets without a usable MTU ("+strings.Join(blocked, "; ")+")")
			} else {
				skip(id, "", "no port with an allowed status on a target subnet")
			}
			continue
		}
		name, unnamedErr, invalid := p.nodeName(id, servers, serverErrs)
		if unnamedErr != nil {
			unnamed[id] = unnamedErr
			skip(id, "", safeText(unnamedErr, p.secrets))
			continue
		}
		named++
		if invalid != nil {
			skip(id, "", safeText(invalid, p.secrets))
			continue
		}
		if owner, dup := nodeOwner[name]; dup {
			skip(id, name, fmt.Sprintf("node name %q is already used by VM %s", name, owner))
			continue
		}
		nodeOwner[name] = id
		ifaces, dropped := assignNames(id, cands, previous[id])
		res.DroppedPorts = append(res.DroppedPorts, dropped...)
		node := viola.NodeConfig{NodeName: name, InstanceID: id, Interfaces: ifaces}
		// What Neutron said may still not make a config the agent can use
		// (a malformed MAC or address): that node stays out of the POST,
		// the others go.
		if err := node.ValidatePayload(); err != nil {
			res.RejectedNodes = append(res.RejectedNodes, RejectedNode{NodeName: name, InstanceID: id, Reason: safeText(err, p.secrets)})
			continue
		}
		if res.Nodes == nil {
			res.Nodes = make([]viola.NodeConfig, 0, len(vmIDs))
			ports := 0
			for _, ps := range portsByVM {
				ports += len(ps)
			}
			res.PortStatuses = make(map[string]string, ports)
		}
		res.Nodes = append(res.Nodes, node)
		for _, iface := range ifaces {
			status := portStatus(cands, iface.PortID)
			res.PortStatuses[iface.PortID] = status
			if strings.EqualFold(status, "DOWN") {
				res.DownPorts = append(res.DownPorts, DownPort{NodeName: name, InstanceID: id, PortID: iface.PortID, MACAddress: iface.MACAddress})
			}
		}
	}
	if named == 0 && len(unnamed) > 0 {
		return res, fmt.Errorf("nova named none of the %d VMs with ports: %w", len(unnamed), firstError(unnamed))
	}
	slices.SortFunc(res.Nodes, func(a, b viola.NodeConfig) int { return strings.Compare(a.NodeName, b.NodeName) })
	return res, nil
}

// groupByVM maps each VM to its ports, as Session.PortsByVM does, for a
// list of them (Check's). Session.Ports returns them grouped by VM, so each
// VM's ports are a run of the slice and are kept in place rather than
// copied; a VM whose ports come in several runs (a caller's own order) gets
// a copy of them all, in order.
func groupByVM(ports []openstack.Port, vms int) map[string][]openstack.Port {
	out := make(map[string][]openstack.Port, vms)
	for i := 0; i < len(ports); {
		j := i + 1
		for j < len(ports) && ports[j].DeviceID == ports[i].DeviceID {
			j++
		}
		id := ports[i].DeviceID
		if prev, seen := out[id]; seen {
			out[id] = append(slices.Clip(prev), ports[i:j]...)
		} else {
			out[id] = ports[i:j:j]
		}
		i = j
	}
	return out
}

// nodeName is the node name Nova gives VM id, trimmed and lower-cased
// (SPEC §5). unnamed says why Nova gave none; invalid why the name it gave
// cannot be a Kubernetes node name.
func (p *pass) nodeName(id string, servers map[string]openstack.Server, serverErrs map[string]error) (name string, unnamed, invalid error) {
	server, ok := servers[id]
	raw := server.NodeName(p.cfg.NodeNameMetadataKey)
	switch {
	case !ok:
		return "", nodeNameError(serverErrs[id]), nil
	case strings.TrimSpace(raw) == "":
		return "", fmt.Errorf("nova: server %q has no name", id), nil
	}
	name = viola.NormalizeNodeName(raw)
	if err := viola.CheckNodeName(name); err != nil {
		return "", nil, fmt.Errorf("node name %q of VM %s (%s) cannot be a Kubernetes node name: after trimming and lower-casing, %w", raw, id, p.nameSource(server), err)
	}
	return name, nil, nil
}

// nameSource says where a node name came from, for messages.
func (p *pass) nameSource(server openstack.Server) string {
	key := p.cfg.NodeNameMetadataKey
	if key != "" && strings.TrimSpace(server.Metadata[key]) != "" {
		return fmt.Sprintf("Nova metadata %q", key)
	}
	return "Nova server name"
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
	newest := make(map[string]*inventory.Record, len(p.previous))
	for i := range p.previous {
		rec := &p.previous[i]
		if prev, seen := newest[rec.InstanceID]; !seen || rec.UpdatedAt.After(prev.UpdatedAt) {
			newest[rec.InstanceID] = rec
		}
	}
	out := make(map[string]*viola.NodeConfig, len(newest))
	for id, rec := range newest {
		out[id] = &rec.Config
	}
	return out
}

// send posts the nodes that changed (or are due) and records what Viola
// accepted, even when part of the post failed.
func (p *pass) send(ctx context.Context, vc *viola.Client, res Result) (Result, error) {
	// diff lists the nodes first, in the order of res.Nodes (by name).
	var due []viola.NodeConfig
	var dueChanged []bool
	for i, node := range res.Nodes {
		d := res.Diff[i]
		if !d.Due {
			if res.Unchanged == nil {
				res.Unchanged = make([]string, 0, len(res.Nodes)-i)
			}
			res.Unchanged = append(res.Unchanged, node.NodeName)
			continue
		}
		if due == nil {
			due = make([]viola.NodeConfig, 0, len(res.Nodes)-i)
			dueChanged = make([]bool, 0, len(res.Nodes)-i)
		}
		due = append(due, node)
		dueChanged = append(dueChanged, d.Change != ChangeUnchanged)
	}
	if len(due) == 0 {
		return res, nil
	}
	posted, postErr := vc.Post(ctx, res.RoutingKey, due)
	res.Sent = posted.Accepted
	slices.Sort(res.Sent)
	// sent are the due nodes Viola accepted, still by name: all of them
	// unless a batch failed.
	sent, sentChanged := due, dueChanged
	if len(posted.Accepted) < len(due) {
		accepted := make(map[string]bool, len(posted.Accepted))
		for _, n := range posted.Accepted {
			accepted[n] = true
		}
		sent, sentChanged = nil, nil
		for i, node := range due {
			if accepted[node.NodeName] {
				sent = append(sent, node)
				sentChanged = append(sentChanged, dueChanged[i])
			}
		}
	}
	for i, node := range sent {
		if sentChanged[i] {
			res.Changed = append(res.Changed, node.NodeName)
		}
	}
	if p.cfg.Inventory != nil && len(sent) > 0 {
		if _, err := p.cfg.Inventory.Upsert(res.RoutingKey, sent...); err != nil && postErr == nil {
			return res, fail(ReasonInventory, err, p.secrets...)
		}
	}
	if postErr != nil {
		return res, p.fail(ctx, stepViola, postErr)
	}
	return res, nil
}
