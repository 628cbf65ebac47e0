package multinic

import (
	"cmp"
	"context"
	"crypto/tls"
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

const (
	CheckPassed CheckStatus = "passed"
	CheckFailed CheckStatus = "failed"
	// CheckSkipped: the step needs what an earlier, failed step would
	// have found.
	CheckSkipped CheckStatus = "skipped"
)

// Names of the steps of Check, in the order they run; scripts key on them.
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
// dependency shows where the time goes. A step that needs what a failed
// step would have found is skipped; the others still run, so one check
// shows every independent problem. The result is the first failure, nil
// when every step passed. The whole walk is bounded by cfg.PassTimeout,
// except the Viola step, which has its own timeout.
func Check(ctx context.Context, cfg Config, report func(CheckStep)) error {
	c := &checker{report: report}
	if err := cfg.validate(); err != nil {
		c.emit(CheckStep{Name: StepConfig, Title: "settings and encrypt key usable", Status: CheckFailed, Err: err})
		return c.first
	}
	passCtx, cancel := context.WithTimeoutCause(ctx, cfg.passTimeout(), passDeadlineError{cfg.passTimeout()})
	defer cancel()
	c.p = &pass{cfg: cfg, secrets: []string{cfg.EncryptKey, cfg.encryptKey()}}
	c.walk(passCtx)
	c.viola(ctx)
	return c.first
}

type checker struct {
	p      *pass
	report func(CheckStep)
	first  error
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

// step runs fn as a step unless missing names what it lacks. fn fills in
// details and returns the failure; ok tells later steps whether fn found
// what they need (a step can fail and still find it, e.g. some subnets).
func (c *checker) step(name, title, missing string, fn func(st *CheckStep) (ok bool, err *Error)) bool {
	st := CheckStep{Name: name, Title: title, Status: CheckPassed}
	if missing != "" {
		st.Status = CheckSkipped
		st.Details = []string{"skipped: needs " + missing}
		c.emit(st)
		return false
	}
	start := time.Now()
	var ok bool
	var failure *Error
	if err := recovered.Call(func() error {
		ok, failure = fn(&st)
		return nil
	}); err != nil {
		ok, failure = false, fail(ReasonInternal, err, c.p.secrets...)
	}
	st.Duration = time.Since(start)
	st.Err = failure
	c.emit(st)
	return ok
}

func (st *CheckStep) detail(format string, args ...any) {
	st.Details = append(st.Details, fmt.Sprintf(format, args...))
}

func (st *CheckStep) warn(format string, args ...any) {
	st.Warnings = append(st.Warnings, fmt.Sprintf(format, args...))
}

// dep is something a step needs from an earlier one, and whether it was found.
type dep struct {
	what  string
	found bool
}

// need says what a step lacks: the first dependency not found, or "".
func need(deps ...dep) string {
	for _, d := range deps {
		if !d.found {
			return d.what
		}
	}
	return ""
}

// walk runs the steps from Contrabass to the node configs.
func (c *checker) walk(ctx context.Context) {
	p, cfg := c.p, c.p.cfg
	vmIDs := dedupe(cfg.VMIDs)

	var provider contrabass.Provider
	found := c.step(StepContrabass, "Contrabass reachable, provider found", "", func(st *CheckStep) (bool, *Error) {
		cb, err := contrabass.NewClient(cfg.Contrabass)
		if err != nil {
			return false, fail(ReasonConfig, err, p.secrets...)
		}
		if provider, err = cb.GetProvider(ctx, cfg.ProviderID); err != nil {
			return false, p.fail(ctx, stepContrabass, err)
		}
		st.detail("provider %s at %s: Keystone %s, admin user %q, domain %q", cfg.ProviderID, safetext.RedactURL(cfg.Contrabass.Endpoint), safetext.RedactURL(provider.URL), provider.Attributes.AdminID, provider.Attributes.Domain)
		return true, nil
	})

	var password string
	decrypted := c.step(StepDecrypt, "admin password decrypts", need(dep{"the provider (contrabass step)", found}), func(st *CheckStep) (bool, *Error) {
		var err error
		if password, err = provider.AdminPassword(cfg.encryptKey()); err != nil {
			return false, fail(ReasonContrabass, err, p.secrets...)
		}
		p.secrets = append(p.secrets, password)
		st.detail("adminPw decrypts with the %d-byte key (AES-%d)", len(cfg.encryptKey()), 8*len(cfg.encryptKey()))
		return true, nil
	})

	authenticated := c.step(StepKeystone, "Keystone token for the project", need(dep{"the admin password (decrypt step)", decrypted}), func(st *CheckStep) (bool, *Error) {
		var err error
		p.session, err = openstack.Authenticate(ctx, openstack.Credentials{
			IdentityURL:    provider.URL,
			UserName:       provider.Attributes.AdminID,
			UserDomainName: provider.Attributes.Domain,
			Password:       password,
			ProjectID:      cfg.ProjectID,
		}, cfg.OpenStack)
		if err != nil {
			return false, p.fail(ctx, stepKeystone, err)
		}
		st.detail("token scoped to project %s", cfg.ProjectID)
		return true, nil
	})

	var haveNetwork, haveCompute bool
	c.step(StepCatalog, "network and compute endpoints chosen", need(dep{"a token (keystone step)", authenticated}), func(st *CheckStep) (bool, *Error) {
		network, netErr := p.session.NeutronEndpoint()
		compute, compErr := p.session.NovaEndpoint()
		haveNetwork, haveCompute = netErr == nil, compErr == nil
		choice := "from the catalog, interface " + cmp.Or(cfg.OpenStack.EndpointInterface, "public")
		if cfg.OpenStack.EndpointRegion != "" {
			choice += ", region " + cfg.OpenStack.EndpointRegion
		}
		source := func(override, setting string) string {
			if override != "" {
				return setting
			}
			return choice
		}
		if haveNetwork {
			st.detail("network %s (%s)", safetext.RedactURL(network), source(cfg.OpenStack.NeutronEndpoint, "settings.openstackNeutronEndpoint"))
		}
		if haveCompute {
			st.detail("compute %s (%s)", safetext.RedactURL(compute), source(cfg.OpenStack.NovaEndpoint, "settings.openstackNovaEndpoint"))
		}
		switch {
		case !haveNetwork && !haveCompute:
			return false, fail(ReasonNeutronEndpoint, joinSemicolon([]error{netErr, compErr}), p.secrets...)
		case !haveNetwork:
			return false, fail(ReasonNeutronEndpoint, netErr, p.secrets...)
		case !haveCompute:
			return false, fail(ReasonNova, compErr, p.secrets...)
		}
		return true, nil
	})

	var targets map[string]*target
	resolved := c.step(StepSubnets, "target subnets resolve, with a usable MTU", need(dep{"the network endpoint (catalog step)", haveNetwork}), func(st *CheckStep) (bool, *Error) {
		var skipped []SkippedSubnet
		var err *Error
		if targets, skipped, err = p.resolveTargets(ctx); err != nil {
			return false, err
		}
		ordered := make([]*target, 0, len(targets))
		for _, t := range targets {
			ordered = append(ordered, t)
		}
		slices.SortFunc(ordered, func(a, b *target) int { return cmp.Compare(a.priority, b.priority) })
		for _, t := range ordered {
			name := ""
			if t.subnet.Name != "" {
				name = fmt.Sprintf(" (%s)", t.subnet.Name)
			}
			st.detail("%s%s %s, network %s, MTU %d", t.subnet.ID, name, t.subnet.CIDR, t.subnet.NetworkID, t.mtu)
		}
		if len(skipped) > 0 {
			var problems []error
			for _, s := range skipped {
				problems = append(problems, fmt.Errorf("subnet %s: %s, so its ports give no interfaces", s.SubnetID, s.Reason))
			}
			return true, fail(ReasonNeutronSubnet, joinSemicolon(problems), p.secrets...)
		}
		return true, nil
	})

	var ports []openstack.Port
	listed := c.step(StepPorts, "ports found per VM", need(dep{"the target subnets (subnets step)", resolved}), func(st *CheckStep) (bool, *Error) {
		var err error
		if ports, err = p.session.Ports(ctx, vmIDs); err != nil {
			return false, p.fail(ctx, stepPorts, err)
		}
		return true, c.portReport(st, vmIDs, ports, targets)
	})

	var servers map[string]openstack.Server
	var serverErrs map[string]error
	named := c.step(StepNova, "Nova names every VM with a valid node name", need(dep{"the compute endpoint (catalog step)", haveCompute}), func(st *CheckStep) (bool, *Error) {
		var err error
		if servers, serverErrs, err = p.session.Servers(ctx, vmIDs, cfg.NodeNameMetadataKey != ""); err != nil {
			return false, p.fail(ctx, stepNova, err)
		}
		var problems []error
		owner := map[string]string{}
		for _, id := range vmIDs {
			name, unnamed, invalid := p.nodeName(id, servers, serverErrs)
			switch {
			case unnamed != nil:
				problems = append(problems, fmt.Errorf("VM %s: %w", id, unnamed))
			case invalid != nil:
				problems = append(problems, invalid)
			case owner[name] != "":
				problems = append(problems, fmt.Errorf("VM %s: node name %q is already used by VM %s", id, name, owner[name]))
			default:
				owner[name] = id
				st.detail("%s → %s (%s)", id, name, p.nameSource(servers[id]))
			}
		}
		if len(problems) > 0 {
			return true, fail(ReasonNova, joinSemicolon(problems), p.secrets...)
		}
		return true, nil
	})

	c.step(StepNodes, "node configs build and are valid", need(dep{"the ports (ports step)", listed}, dep{"the node names (nova step)", named}), func(st *CheckStep) (bool, *Error) {
		res, err := p.build(vmIDs, groupByVM(ports, len(vmIDs)), targets, servers, serverErrs)
		if err != nil {
			return false, p.fail(ctx, stepNova, err)
		}
		for _, n := range res.Nodes {
			var ifaces []string
			for _, iface := range n.Interfaces {
				ifaces = append(ifaces, fmt.Sprintf("%s %s/%s mtu %d", iface.Name, iface.Address, prefixLength(iface.CIDR), iface.MTU))
			}
			st.detail("%s: %s", n.NodeName, strings.Join(ifaces, ", "))
		}
		var problems []error
		for _, r := range res.RejectedNodes {
			problems = append(problems, fmt.Errorf("node %s is left out: %s", r.NodeName, r.Reason))
		}
		for _, d := range res.DroppedPorts {
			problems = append(problems, fmt.Errorf("VM %s: port %s (%s) does not fit into multinic0..multinic9 and is dropped", d.InstanceID, d.PortID, d.MACAddress))
		}
		if len(res.Nodes) == 0 {
			// The ports and nova steps said why for each VM.
			st.detail("no node config would be sent: every VM is skipped")
		}
		if len(problems) > 0 {
			return true, fail(ReasonNeutronPort, joinSemicolon(problems), p.secrets...)
		}
		return true, nil
	})
}

// portReport describes each VM's ports the way selectPorts sees them and
// fails for VMs that would get no interface.
func (c *checker) portReport(st *CheckStep, vmIDs []string, ports []openstack.Port, targets map[string]*target) *Error {
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
	var problems []error
	for _, id := range vmIDs {
		var onTarget []openstack.Port
		for _, port := range byVM[id] {
			if slices.ContainsFunc(port.FixedIPs, func(ip openstack.FixedIP) bool { return targets[ip.SubnetID] != nil }) {
				onTarget = append(onTarget, port)
			}
		}
		cands, blocked := selectPorts(byVM[id], targets, allowed)
		st.detail("%s: %d ports, %d on target subnets (%s), %d selected", id, len(byVM[id]), len(onTarget), statusCounts(onTarget), len(cands))
		for _, cand := range cands {
			if strings.EqualFold(cand.port.Status, "DOWN") {
				st.warn("%s: port %s (%s) is DOWN; it is sent, and re-sent while it stays DOWN", id, cand.port.ID, cand.port.MACAddress)
			}
		}
		switch {
		case len(cands) > 0:
		case len(blocked) > 0:
			problems = append(problems, fmt.Errorf("VM %s: its ports on target subnets are all on subnets without a usable MTU (%s)", id, strings.Join(blocked, "; ")))
		case len(onTarget) > 0:
			problems = append(problems, fmt.Errorf("VM %s: its ports on target subnets are %s, none of them allowed by openstackPortAllowedStatuses (%s)", id, statusCounts(onTarget), strings.Join(statuses, ", ")))
		case len(byVM[id]) > 0:
			problems = append(problems, fmt.Errorf("VM %s: none of its %d ports has a fixed IP on a target subnet", id, len(byVM[id])))
		default:
			problems = append(problems, fmt.Errorf("VM %s: Neutron lists no port with this device_id in project %s", id, cfg.ProjectID))
		}
	}
	if len(problems) > 0 {
		return fail(ReasonNeutronPort, joinSemicolon(problems), c.p.secrets...)
	}
	return nil
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

// viola opens a connection where a pass would POST, and no more: TCP, and
// for https the TLS handshake with the settings the client would use.
func (c *checker) viola(ctx context.Context) {
	opts := c.p.cfg.Viola
	c.step(StepViola, "Viola endpoint reachable (no POST)", "", func(st *CheckStep) (bool, *Error) {
		ctx, cancel := context.WithTimeout(ctx, cmp.Or(opts.Timeout, viola.DefaultTimeout))
		defer cancel()
		found, err := dialViola(ctx, opts)
		if err != nil {
			return false, failNote(ReasonViolaPost, fmt.Errorf("viola: %w", err), connectionAdvice(err, stepViola.urlSetting(c.p.cfg), stepViola.tlsSetting), c.p.secrets...)
		}
		st.Details = append(st.Details, found)
		return true, nil
	})
}

func dialViola(ctx context.Context, opts viola.Options) (string, error) {
	endpoint, err := retryhttp.ParseEndpoint(opts.Endpoint)
	if err != nil {
		return "", fmt.Errorf("violaEndpoint %w", err)
	}
	u, err := url.Parse(endpoint)
	if err != nil {
		return "", fmt.Errorf("violaEndpoint: %w", err)
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
	// Opted into by the operator (VIOLA_INSECURE_TLS), as for the client.
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
