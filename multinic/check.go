package multinic

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/multinic/multinic/contrabass"
	"github.com/multinic/multinic/internal/recovered"
	"github.com/multinic/multinic/internal/retryhttp"
	"github.com/multinic/multinic/internal/safetext"
	"github.com/multinic/multinic/openstack"
	"github.com/multinic/multinic/viola"
)

// CheckStatus is the outcome of one step of Check.
type CheckStatus string

// The outcomes of a step: it passed, it failed, or it could not run.
const (
	CheckPassed CheckStatus = "passed"
	CheckFailed CheckStatus = "failed"
	// CheckSkipped means the step needs a setting the config step found
	// unusable, or what an earlier, failed step would have found.
	CheckSkipped CheckStatus = "skipped"
)

// CheckStep is what one step of Check verified and found.
type CheckStep struct {
	Name     string
	Title    string
	Status   CheckStatus
	Duration time.Duration
	// Details are what the step found, one line each; never a secret.
	Details []string
	// Warnings are findings that do not fail the step, such as DOWN ports.
	Warnings []string
	// Err is the failure, with the reason a pass would carry.
	Err *Error
}

// Check walks the flow of a pass one step at a time and sends nothing: it
// reads Contrabass, Keystone, Neutron and Nova exactly as a pass does (with
// a fresh session, so Keystone is really asked), builds the node configs,
// and only opens a connection to Viola (TCP, plus the TLS handshake for
// https) where a pass would POST. A step that a pass would survive but
// report (a skipped VM, a subnet without usable MTU, a dropped port) fails
// here, because it needs fixing; DOWN ports are warnings.
//
// report, when not nil, hears each step as soon as it ends, so a slow
// dependency shows where the time goes. The config step is reported only
// when it fails. A step that needs a setting the config step found unusable,
// or what a failed step would have found, is skipped; every other step
// still runs, so one check shows every independent problem. The result is
// the first failure, nil when every step passed. The whole walk is bounded
// by cfg.PassTimeout, except the Viola step, which has its own timeout.
func Check(ctx context.Context, cfg Config, report func(CheckStep)) error {
	// The nodes step lists every port a pass would configure; the ports
	// step says which a grace period holds back for now.
	built := cfg
	built.DownPortGracePeriod = 0
	c := &checker{report: report, p: &pass{cfg: built, secrets: cfg.secrets()}, found: map[fact]bool{}, unusable: map[Setting]bool{}, downGrace: cfg.DownPortGracePeriod}
	if err := cfg.validate(); err != nil {
		c.unusable[err.Setting] = true
		for _, e := range err.Also {
			c.unusable[e.Setting] = true
		}
		c.emit(CheckStep{Name: StepConfig, Title: steps[stepConfig].title, Status: CheckFailed, Err: err})
	}
	// A negative PassTimeout is a config problem that skips every step it
	// bounds; the walk itself still needs a deadline.
	timeout := max(cfg.passTimeout(), 0)
	passCtx, cancel := context.WithTimeoutCause(ctx, cmp.Or(timeout, DefaultPassTimeout), passDeadlineError{cmp.Or(timeout, DefaultPassTimeout)})
	defer cancel()
	c.walk(passCtx)
	c.viola(ctx)
	return c.first
}

type checker struct {
	p      *pass
	report func(CheckStep)
	first  error
	// found are the facts the steps so far found; unusable the settings
	// the config step refused.
	found    map[fact]bool
	unusable map[Setting]bool
	// downGrace is the config's DownPortGracePeriod; p's is zero, so the
	// nodes step lists every port a pass would configure.
	downGrace time.Duration
}

func (c *checker) emit(st CheckStep) {
	if st.Err != nil {
		st.Status = CheckFailed
		if c.first == nil {
			c.first = st.Err
		}
	}
	if c.report != nil {
		c.report(st)
	}
}

// run runs step id unless it lacks what it needs. fn fills in details,
// records the facts it found (a step can fail and still find them, e.g.
// some subnets) and returns the failure.
func (c *checker) run(id stepID, fn func(st *CheckStep) *Error) {
	def := steps[id]
	st := CheckStep{Name: def.name, Title: def.title, Status: CheckPassed}
	if missing := c.missing(def); missing != "" {
		st.Status = CheckSkipped
		st.Details = []string{"skipped: needs " + missing}
		c.emit(st)
		return
	}
	start := time.Now()
	var failure *Error
	if err := recovered.Call(func() error {
		failure = fn(&st)
		return nil
	}); err != nil {
		for _, f := range def.provides {
			delete(c.found, f)
		}
		failure = fail(ReasonInternal, err, c.p.secrets...)
	}
	st.Duration = time.Since(start)
	st.Err = failure
	c.emit(st)
}

// missing says what a step lacks: the first fact not found or setting not
// usable, or "".
func (c *checker) missing(def step) string {
	for _, f := range def.needs {
		if !c.found[f] {
			return factText[f]
		}
	}
	for _, s := range def.settings {
		if c.unusable[s] {
			return "a usable " + settingText[s]
		}
	}
	return ""
}

func (st *CheckStep) detail(format string, args ...any) {
	st.Details = append(st.Details, fmt.Sprintf(format, args...))
}

func (st *CheckStep) warn(format string, args ...any) {
	st.Warnings = append(st.Warnings, fmt.Sprintf(format, args...))
}

// leftOut is Check's failure for something a pass would leave out.
func (c *checker) leftOut(reason Reason, setting Setting, text func(Names) string) *Error {
	return problem(reason, setting, KindLeftOut, c.p.secrets, text)
}

// literal is a message that names no setting.
func literal(format string, args ...any) func(Names) string {
	msg := fmt.Sprintf(format, args...)
	return func(Names) string { return msg }
}

// walk runs the steps from Contrabass to the node configs.
func (c *checker) walk(ctx context.Context) {
	p, cfg := c.p, c.p.cfg
	vmIDs := dedupe(cfg.VMIDs)

	var provider contrabass.Provider
	c.run(stepContrabass, func(st *CheckStep) *Error {
		cb, err := contrabass.NewClient(cfg.Contrabass)
		if err != nil {
			return fail(ReasonConfig, err, p.secrets...)
		}
		if provider, err = cb.GetProvider(ctx, cfg.ProviderID); err != nil {
			return p.fail(ctx, stepContrabass, err)
		}
		if err := providerProblem(cfg.ProviderID, provider, p.secrets); err != nil {
			return err
		}
		c.found[factProvider] = true
		st.detail("provider %s at %s: Keystone %s, admin user %q, domain %q", cfg.ProviderID, safetext.RedactURL(cfg.Contrabass.Endpoint), safetext.RedactURL(provider.URL), provider.Attributes.AdminID, provider.Attributes.Domain)
		return nil
	})

	var password string
	c.run(stepDecrypt, func(st *CheckStep) *Error {
		var err error
		if password, err = provider.AdminPassword(cfg.encryptKey()); err != nil {
			return decryptError(err, p.secrets)
		}
		p.secrets = append(p.secrets, password)
		c.found[factPassword] = true
		st.detail("adminPw decrypts with the %d-byte key (AES-%d)", len(cfg.encryptKey()), 8*len(cfg.encryptKey()))
		return nil
	})

	c.run(stepKeystone, func(st *CheckStep) *Error {
		var err error
		p.session, err = openstack.Authenticate(ctx, openstack.Credentials{
			IdentityURL:    provider.URL,
			UserName:       provider.Attributes.AdminID,
			UserDomainName: provider.Attributes.Domain,
			Password:       password,
			ProjectID:      cfg.ProjectID,
		}, cfg.OpenStack)
		if err != nil {
			return p.fail(ctx, stepKeystone, err)
		}
		c.found[factToken] = true
		st.detail("token scoped to project %s", cfg.ProjectID)
		return nil
	})

	c.run(stepCatalog, func(st *CheckStep) *Error {
		network, netErr := p.session.NeutronEndpoint()
		compute, compErr := p.session.NovaEndpoint()
		c.found[factNetwork], c.found[factCompute] = netErr == nil, compErr == nil
		choice := "from the catalog, interface " + cmp.Or(cfg.OpenStack.EndpointInterface, "public")
		if cfg.OpenStack.EndpointRegion != "" {
			choice += ", region " + cfg.OpenStack.EndpointRegion
		}
		source := func(override string) string {
			if override != "" {
				return "the override, not the catalog"
			}
			return choice
		}
		var errs []*Error
		if netErr == nil {
			st.detail("network %s (%s)", safetext.RedactURL(network), source(cfg.OpenStack.NeutronEndpoint))
		} else {
			errs = append(errs, p.failAs(ctx, ReasonNeutronEndpoint, stepCatalog, netErr))
		}
		if compErr == nil {
			st.detail("compute %s (%s)", safetext.RedactURL(compute), source(cfg.OpenStack.NovaEndpoint))
		} else {
			errs = append(errs, p.failAs(ctx, ReasonNova, stepCatalog, compErr))
		}
		return problems(errs)
	})

	var targets map[string]*target
	c.run(stepSubnets, func(st *CheckStep) *Error {
		var skipped []SkippedSubnet
		var err *Error
		if targets, skipped, err = p.resolveTargets(ctx); err != nil {
			return err
		}
		c.found[factTargets] = true
		ordered := make([]*target, 0, len(targets))
		for _, t := range targets {
			ordered = append(ordered, t)
		}
		slices.SortFunc(ordered, func(a, b *target) int { return cmp.Compare(a.priority, b.priority) })
		for _, t := range ordered {
			if t.unreadable != "" {
				continue // an error below
			}
			name := ""
			if t.subnet.Name != "" {
				name = fmt.Sprintf(" (%s)", t.subnet.Name)
			}
			st.detail("%s%s %s, network %s, MTU %d", t.subnet.ID, name, t.subnet.CIDR, t.subnet.NetworkID, t.mtu)
		}
		var errs []*Error
		for _, s := range skipped {
			switch s.Kind {
			case KindMissing:
				errs = append(errs, problem(ReasonSubnetNotFound, cfg.subnetSelector(), KindMissing, p.secrets, literal("%s; the other target subnets are still used", s.Reason)))
			case KindUnreadable:
				errs = append(errs, problem(ReasonNeutronSubnet, "", KindUnreadable, p.secrets, literal("subnet %s could not be read: %s; the other target subnets are still used", s.SubnetID, s.Reason)))
			default:
				errs = append(errs, problem(ReasonNeutronSubnet, "", KindUnusableMTU, p.secrets, literal("subnet %s: %s, so its ports give no interfaces", s.SubnetID, s.Reason)))
			}
		}
		return problems(errs)
	})

	var ports []openstack.Port
	c.run(stepPorts, func(st *CheckStep) *Error {
		var err error
		if ports, err = p.session.Ports(ctx, vmIDs); err != nil {
			return p.fail(ctx, stepPorts, err)
		}
		c.found[factPorts] = true
		return c.portReport(ctx, st, vmIDs, ports, targets)
	})

	var servers map[string]openstack.Server
	var serverErrs map[string]error
	c.run(stepNova, func(st *CheckStep) *Error {
		var err error
		if servers, serverErrs, err = p.session.Servers(ctx, vmIDs); err != nil {
			return p.fail(ctx, stepNova, err)
		}
		c.found[factNames] = true
		var errs []*Error
		owner := map[string]string{}
		for _, id := range vmIDs {
			name, source, unnamed, invalid := p.nodeName(id, servers, serverErrs)
			var limit agentLimitError
			switch {
			case unnamed != nil && errors.Is(unnamed, openstack.ErrServerNotFound):
				errs = append(errs, c.leftOut(ReasonNova, SettingVMIDs, literal("%s", unnamed)))
			case unnamed != nil:
				errs = append(errs, c.leftOut(ReasonNova, "", literal("VM %s: %s", id, unnamed)))
			case errors.As(invalid, &limit):
				errs = append(errs, problem(ReasonNova, "", KindAgentLimit, p.secrets, literal("%s", invalid)))
			case invalid != nil:
				errs = append(errs, c.leftOut(ReasonNova, "", literal("%s", invalid)))
			case owner[name] != "":
				errs = append(errs, c.leftOut(ReasonNova, "", literal("VM %s: node name %q is already used by VM %s", id, name, owner[name])))
			default:
				owner[name] = id
				detail := fmt.Sprintf("%s → %s (from %s", id, name, p.describeSource(servers[id], source))
				if srv := servers[id]; source == openstack.NodeNameFromHostname && srv.Name != name {
					detail += fmt.Sprintf("; server name %q", srv.Name)
				}
				st.Details = append(st.Details, detail+")")
				for _, w := range viola.AgentNodeNameWarnings(name) {
					st.warn("VM %s: %s; it is sent", id, w)
				}
			}
		}
		return problems(errs)
	})

	c.run(stepNodes, func(st *CheckStep) *Error {
		res, err := p.build(ctx, vmIDs, groupByVM(ports, len(vmIDs)), targets, servers, serverErrs)
		switch {
		case err != nil && ctx.Err() != nil:
			return p.fail(ctx, stepPorts, err)
		case err != nil:
			return p.fail(ctx, stepNova, err)
		}
		for _, n := range res.Nodes {
			var ifaces []string
			for _, iface := range n.Interfaces {
				ifaces = append(ifaces, fmt.Sprintf("%s %s/%s mtu %d", iface.Name, iface.Address, prefixLength(iface.CIDR), iface.MTU))
			}
			st.detail("%s: %s", n.NodeName, strings.Join(ifaces, ", "))
		}
		var errs []*Error
		for _, a := range res.LeftOutAddresses {
			if a.NodeName == "" {
				continue // a skipped VM: the ports step said why
			}
			errs = append(errs, problem(ReasonNeutronPort, "", KindAgentLimit, p.secrets, literal("VM %s: port %s: address %s on subnet %s is not sent: %s", a.InstanceID, a.PortID, a.Address, a.SubnetID, a.Reason)))
		}
		for _, r := range res.RejectedNodes {
			errs = append(errs, c.leftOut(ReasonNeutronPort, "", literal("node %s is left out: %s", r.NodeName, r.Reason)))
		}
		for _, d := range res.DroppedPorts {
			errs = append(errs, c.leftOut(ReasonNeutronPort, "", literal("VM %s: port %s (%s) does not fit into multinic0..multinic9 and is dropped", d.InstanceID, d.PortID, d.MACAddress)))
		}
		if len(res.Nodes) == 0 {
			// The ports and nova steps said why for each VM.
			st.detail("no node config would be sent: every VM is skipped")
		}
		return problems(errs)
	})
}

// portReport describes each VM's ports the way selectPorts sees them and
// fails for VMs that would get no interface.
func (c *checker) portReport(ctx context.Context, st *CheckStep, vmIDs []string, ports []openstack.Port, targets map[string]*target) *Error {
	cfg := c.p.cfg
	statuses := cfg.PortAllowedStatuses
	if len(statuses) == 0 {
		statuses = []string{"ACTIVE", "DOWN"}
	}
	allowed := newStatusFilter(statuses)
	byVM := map[string][]openstack.Port{}
	for _, port := range ports {
		byVM[port.DeviceID] = append(byVM[port.DeviceID], port)
	}
	var errs []*Error
	for _, id := range vmIDs {
		var onTarget []openstack.Port
		for _, port := range byVM[id] {
			if slices.ContainsFunc(port.FixedIPs, func(ip openstack.FixedIP) bool { return targets[ip.SubnetID] != nil }) {
				onTarget = append(onTarget, port)
			}
		}
		cands, blocked, err := selectPorts(ctx, byVM[id], targets, allowed)
		if err != nil {
			return c.p.fail(ctx, stepPorts, err)
		}
		review := reviewAddresses(id, byVM[id], targets, allowed, cands)
		st.detail("%s: %d ports, %d on target subnets (%s), %d selected", id, len(byVM[id]), len(onTarget), statusCounts(onTarget), len(cands))
		for _, cand := range cands {
			if strings.EqualFold(cand.port.Status, "DOWN") {
				if c.downGrace > 0 {
					st.warn("%s: port %s (%s) is DOWN: held back until it is ACTIVE, for at most %s, then sent anyway (the node agent acts once per spec change and does not retry a Job that failed on a NIC not yet in the guest)", id, cand.port.ID, cand.port.MACAddress, c.downGrace)
				} else {
					st.warn("%s: port %s (%s) is DOWN and sent at once: if its NIC is not in the guest yet, the node agent's Job fails and is not retried (re-run the agent for the node)", id, cand.port.ID, cand.port.MACAddress)
				}
			}
		}
		switch {
		case len(review.held) > 0:
			// The subnets step says which subnet could not be read.
			errs = append(errs, c.leftOut(ReasonNeutronSubnet, "", literal("VM %s is not sent until its target subnets can be read: %s", id, strings.Join(review.held, "; "))))
		case len(cands) > 0:
		case len(blocked) > 0:
			errs = append(errs, c.leftOut(ReasonNeutronPort, "", literal("VM %s: its ports on target subnets are all on subnets without a usable MTU (%s)", id, strings.Join(blocked, "; "))))
		case review.onlyIPv6:
			errs = append(errs, problem(ReasonNeutronPort, "", KindAgentLimit, c.p.secrets, literal("VM %s: its addresses on target subnets are all IPv6, and %s", id, viola.IPv6Limit)))
		case len(onTarget) > 0:
			counts, allowedList := statusCounts(onTarget), strings.Join(statuses, ", ")
			errs = append(errs, c.leftOut(ReasonNeutronPort, SettingPortAllowedStatuses, func(n Names) string {
				return fmt.Sprintf("VM %s: its ports on target subnets are %s, none of them allowed by %s (%s)", id, counts, n.Of(SettingPortAllowedStatuses), allowedList)
			}))
		case len(byVM[id]) > 0:
			errs = append(errs, c.leftOut(ReasonNeutronPort, "", literal("VM %s: none of its %d ports has a fixed IP on a target subnet", id, len(byVM[id]))))
		default:
			errs = append(errs, c.leftOut(ReasonNeutronPort, "", literal("VM %s: Neutron lists no port with this device_id in project %s", id, cfg.ProjectID)))
		}
	}
	return problems(errs)
}

// statusCounts is e.g. "ACTIVE 2, DOWN 1", or "none".
func statusCounts(ports []openstack.Port) string {
	counts := map[string]int{}
	var order []string
	for _, p := range ports {
		s := strings.ToUpper(p.Status)
		if counts[s] == 0 {
			order = append(order, s)
		}
		counts[s]++
	}
	if len(order) == 0 {
		return "none"
	}
	slices.Sort(order)
	parts := make([]string, len(order))
	for i, s := range order {
		parts[i] = fmt.Sprintf("%s %d", cmp.Or(s, `""`), counts[s])
	}
	return strings.Join(parts, ", ")
}

func prefixLength(cidr string) string {
	if _, bits, ok := strings.Cut(cidr, "/"); ok {
		return bits
	}
	return "?"
}

// viola asks Viola's GET /healthz where a pass would POST, and posts
// nothing; a Viola without that endpoint (404, 405, 501) is checked by
// opening a connection: TCP, and for https the TLS handshake with the
// settings the client would use.
func (c *checker) viola(ctx context.Context) {
	opts := c.p.cfg.Viola
	c.run(stepViola, func(st *CheckStep) *Error {
		endpoint, err := retryhttp.ParseEndpoint(opts.Endpoint)
		if err != nil {
			return problem(ReasonConfig, SettingViolaEndpoint, KindInvalid, c.p.secrets, func(n Names) string {
				return "viola: " + n.Of(SettingViolaEndpoint) + " " + err.Error()
			})
		}
		vc, err := viola.NewClient(opts)
		if err != nil {
			return fail(ReasonConfig, err, c.p.secrets...)
		}
		ctx, cancel := context.WithTimeout(ctx, cmp.Or(opts.Timeout, viola.DefaultTimeout))
		defer cancel()
		status, err := vc.Health(ctx)
		switch {
		case err == nil:
			st.detail("GET %s%s answered %d%s", safetext.RedactURL(endpoint), viola.HealthPath, status, tlsNote(endpoint, opts))
			return nil
		case !errors.Is(err, viola.ErrNoHealthEndpoint):
			return c.p.fail(ctx, stepViola, err)
		}
		found, err := dialViola(ctx, endpoint, opts)
		if err != nil {
			return c.p.fail(ctx, stepViola, fmt.Errorf("viola: %w", err))
		}
		st.detail("no GET %s (it answered %d), so only the connection is checked", viola.HealthPath, status)
		st.Details = append(st.Details, found)
		return nil
	})
}

// tlsNote says how the connection to an https endpoint was secured.
func tlsNote(endpoint string, opts viola.Options) string {
	switch {
	case !strings.HasPrefix(endpoint, "https://"):
		return " (plain HTTP)"
	case opts.InsecureTLS:
		return "; certificate NOT verified (insecure TLS is on)"
	}
	return "; certificate verified"
}

func dialViola(ctx context.Context, endpoint string, opts viola.Options) (string, error) {
	u, err := url.Parse(endpoint) // ParseEndpoint parsed it already
	if err != nil {
		return "", err
	}
	address := u.Host
	if u.Port() == "" {
		address = net.JoinHostPort(u.Hostname(), map[string]string{"http": "80", "https": "443"}[u.Scheme])
	}
	// A pass goes through the proxy the environment names; so does this
	// check, as far as TCP: what lies behind the proxy it cannot see.
	if proxy, err := http.ProxyFromEnvironment(&http.Request{URL: u}); err == nil && proxy != nil {
		conn, err := new(net.Dialer).DialContext(ctx, "tcp", proxy.Host)
		if err != nil {
			return "", err
		}
		_ = conn.Close()
		return fmt.Sprintf("TCP connection to the proxy %s (HTTPS_PROXY/HTTP_PROXY) for %s; Viola itself is not checked through it", proxy.Redacted(), address), nil
	}
	conn, err := new(net.Dialer).DialContext(ctx, "tcp", address)
	if err != nil {
		return "", err
	}
	defer func() { _ = conn.Close() }()
	if u.Scheme != "https" {
		return fmt.Sprintf("TCP connection to %s (plain HTTP)", address), nil
	}
	tlsConfig := &tls.Config{}
	if opts.HTTPClient != nil {
		if t, ok := opts.HTTPClient.Transport.(*http.Transport); ok && t.TLSClientConfig != nil {
			tlsConfig = t.TLSClientConfig.Clone()
		}
	}
	tlsConfig.ServerName = u.Hostname()
	// Opted into by the caller (Config.Viola.InsecureTLS), as for the client.
	tlsConfig.InsecureSkipVerify = tlsConfig.InsecureSkipVerify || opts.InsecureTLS
	tlsConn := tls.Client(conn, tlsConfig)
	if err := tlsConn.HandshakeContext(ctx); err != nil {
		return "", err
	}
	if tlsConfig.InsecureSkipVerify {
		return fmt.Sprintf("TCP and TLS handshake with %s; certificate NOT verified (insecure TLS is on)", address), nil
	}
	return fmt.Sprintf("TCP and TLS handshake with %s; certificate verified", address), nil
}
