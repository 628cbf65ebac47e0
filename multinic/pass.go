package multinic

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/multinic/multinic/contrabass"
	"github.com/multinic/multinic/internal/recovered"
	"github.com/multinic/multinic/inventory"
	"github.com/multinic/multinic/openstack"
	"github.com/multinic/multinic/viola"
)

// Sync runs one pass of the flow with cfg, under cfg.PassTimeout. A panic
// anywhere in the pass (its goroutines included) is recovered and returned
// as an InternalError, so one bad answer cannot take a long-lived caller down.
func (s *Syncer) Sync(ctx context.Context, cfg Config) (Result, error) {
	if err := cfg.validate(); err != nil {
		return Result{}, err
	}
	ctx, cancel := context.WithTimeoutCause(ctx, cfg.passTimeout(), passDeadlineError{cfg.passTimeout()})
	defer cancel()
	p := &pass{cfg: cfg, secrets: cfg.secrets(), networkGuesses: &s.networkGuesses, owners: cfg.owners()}
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
	return fmt.Sprintf("pass deadline exceeded (%s %s)", SettingPassTimeout, e.timeout)
}

func (s *Syncer) run(ctx context.Context, p *pass) (Result, error) {
	cfg := p.cfg
	cb, err := cached(s, &s.contrabass, cfg.Contrabass, contrabass.NewClient)
	if err != nil {
		return Result{}, fail(ReasonConfig, err, p.secrets...)
	}
	var vc *viola.Client
	if !cfg.DryRun || cfg.Viola.Endpoint != "" { // a bad endpoint is a ConfigError, dry run or not
		if vc, err = cached(s, &s.viola, cfg.Viola, viola.NewClient); err != nil {
			return Result{}, fail(ReasonConfig, err, p.secrets...)
		}
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
	if err := providerProblem(cfg.ProviderID, provider, p.secrets); err != nil {
		return Result{}, err
	}
	password, err := provider.AdminPassword(cfg.encryptKey())
	if err != nil {
		return Result{}, decryptError(err, p.secrets)
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
	leaving := p.leavers(r, res)
	res.Diff = p.diff(res.Nodes, leaving)
	if cfg.DryRun {
		for _, d := range res.Diff {
			if !d.Due && d.Change == ChangeUnchanged {
				res.Unchanged = append(res.Unchanged, d.NodeName)
			}
		}
		return res, nil
	}
	res, err = p.send(ctx, vc, res)
	if err == nil {
		p.release(ctx, vc, &res, leaving)
	}
	return res, err
}

// pass is the state of one Sync call.
type pass struct {
	cfg     Config
	session *openstack.Session
	secrets []string
	// previous are the inventory records of this routing key, read once;
	// byName indexes them by node name when needed (lastByName).
	previous []inventory.Record
	byName   map[string]*inventory.Record
	// owners are the other configs of the routing key (Config.Peers).
	owners owners
	// networkGuesses are the Syncer's networks of subnet selectors (see
	// readTargets); a pass of its own (Check) starts with none.
	networkGuesses *sync.Map
}

// collect turns what was read into node configs, or into the most
// fundamental failure: an endpoint, then subnets (a misconfigured CR), then
// ports, then Nova.
func (p *pass) collect(ctx context.Context, r reads) (Result, error) {
	var endpointErr *openstack.EndpointError
	switch {
	case errors.As(r.portsErr, &endpointErr), errors.As(r.targetsErr, &endpointErr):
		return Result{}, failWith(ReasonNeutronEndpoint, endpointErr, advice{kind: KindMissing, setting: endpointSetting(endpointErr)}, p.secrets...)
	case r.targetsErr != nil:
		return Result{}, p.subnetError(ctx, r.targetsErr)
	case r.portsErr != nil:
		return Result{}, p.fail(ctx, stepPorts, r.portsErr)
	case r.serversErr != nil:
		return Result{}, p.fail(ctx, stepNova, r.serversErr)
	}
	res, err := p.build(ctx, r.vmIDs, r.portsByVM, r.targets, r.servers, r.serverErrs)
	res.SkippedSubnets = r.skippedSubnets
	switch {
	case err != nil && ctx.Err() != nil: // the deadline ended the choice of ports
		return Result{}, p.fail(ctx, stepPorts, err)
	case err != nil:
		return res, p.fail(ctx, stepNova, err)
	}
	return res, nil
}

// fail reports err as a failure of step id, with the step's reason.
func (p *pass) fail(ctx context.Context, id stepID, err error) *Error {
	return p.failAs(ctx, steps[id].reason, id, err)
}

// failAs reports err as a failure of step id with reason: when the pass
// deadline expired, the message starts by saying so (the cause alone would
// read "context deadline exceeded"); an endpoint missing from the catalog
// names its override; a dependency that could not be reached is followed by
// where its URL comes from, or the setting to trust its certificate.
func (p *pass) failAs(ctx context.Context, reason Reason, id stepID, err error) *Error {
	a, _ := connectionAdvice(err, steps[id].dep, p.cfg)
	var deadline passDeadlineError
	var endpoint *openstack.EndpointError
	switch {
	case ctx.Err() != nil && errors.As(context.Cause(ctx), &deadline):
		a.kind, a.setting = KindDeadline, SettingPassTimeout
		a.prefix = func(n Names) string {
			return fmt.Sprintf("pass deadline exceeded (%s %s): ", n.Of(SettingPassTimeout), deadline.timeout)
		}
	case errors.As(err, &endpoint):
		a = advice{kind: KindMissing, setting: endpointSetting(endpoint)}
	}
	return failWith(reason, err, a, p.secrets...)
}

// endpointSetting is the override of the catalog endpoint e could not find.
func endpointSetting(e *openstack.EndpointError) Setting {
	if e.ServiceType == "compute" {
		return SettingNovaEndpoint
	}
	return SettingNeutronEndpoint
}

// decryptError is a provider whose admin password the key does not decrypt:
// the key is the setting to check.
func decryptError(err error, secrets []string) *Error {
	return failWith(ReasonContrabass, err, advice{kind: KindInvalid, setting: SettingEncryptKey}, secrets...)
}

// providerProblem is a provider record that lacks what Keystone needs: the
// admin user and its domain. Sent empty, Keystone (or gophercloud before it)
// refuses the request with a message about something else.
func providerProblem(providerID string, provider contrabass.Provider, secrets []string) *Error {
	var empty []string
	if strings.TrimSpace(provider.Attributes.AdminID) == "" {
		empty = append(empty, "data.attributes.adminId (the Keystone admin user)")
	}
	if strings.TrimSpace(provider.Attributes.Domain) == "" {
		empty = append(empty, "data.attributes.domain (the admin user's Keystone domain)")
	}
	if len(empty) == 0 {
		return nil
	}
	return problem(ReasonContrabass, "", KindMissing, secrets, literal("contrabass: provider %q has an empty %s", providerID, strings.Join(empty, " and an empty ")))
}
