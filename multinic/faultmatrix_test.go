package multinic_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/multinic/multinic/internal/fault"
	"github.com/multinic/multinic/inventory"
	"github.com/multinic/multinic/multinic"
	"github.com/multinic/multinic/multinic/multinictest"
	"github.com/multinic/multinic/openstack"
	"github.com/multinic/multinic/openstack/openstacktest"
)

// The fault matrix: every dependency of a pass, broken in every way a real
// service or network breaks. Each cell checks what an SRE relies on:
//
//   - the pass ends within its deadline (PassTimeout), with the dependency's
//     reason and a message that names it, and without the admin password;
//   - the broken dependency got a bounded number of requests;
//   - nothing was POSTed to Viola after an upstream failure;
//   - the inventory file is byte for byte what the last clean pass left;
//   - the next clean pass succeeds and leaves the same inventory content.
//
// Timeouts are short so the matrix stays fast, yet long enough that the
// parts of a broken pass that still work finish in time on a loaded machine
// under the race detector: a hang would cost (matrixRetryMax+1) ×
// matrixAttemptTimeout = 8s per request without a pass deadline, and must
// cost no more than matrixPassTimeout plus slack.
const (
	matrixAttemptTimeout = 2 * time.Second
	matrixRetryMax       = 3
	matrixPassTimeout    = 5 * time.Second
	// matrixSlack absorbs a loaded machine; a hang without a pass deadline
	// still overshoots it.
	matrixSlack = 2 * time.Second
	// matrixOversize is the 50 MB answer of issue 10; the fakes stream it.
	matrixOversize = 50 << 20
	// matrixMaxResponseBytes replaces the defaults (8 MiB for OpenStack,
	// sized for a 10,000-VM fleet; 1 MiB for Contrabass) for the 3-VM
	// sample: under the race detector on a loaded machine, decoding
	// megabytes of JSON can take longer than an attempt may, and the cells
	// test what happens at the limit, not its size.
	matrixMaxResponseBytes = 256 << 10
)

// matrixDependency is one column of the matrix: where to inject, how to count
// its requests, what a failure of it is reported as, and the bodies that are
// broken for its own schema.
type matrixDependency struct {
	name   string
	reason multinic.Reason
	// mentions is what the error message must contain to name the service.
	mentions string
	inject   func(env *multinictest.Env, f fault.Fault)
	requests func(env *multinictest.Env) int
	// perPass bounds the requests a pass makes to it (the sample has 3 VMs
	// in one ports batch, 2 target subnets on 2 networks, which a pass
	// lists in one request, 1 Viola batch).
	perPass int
	// okStatus is the status of a successful answer (Keystone: 201).
	okStatus int
	// okHeader completes a body fault where the real answer needs a header
	// (Keystone's token), so only the body is broken.
	okHeader  [2]string
	malformed string
	// wrongTypes has the right keys with values of the wrong JSON types.
	wrongTypes string
	// missing has the envelope but not the object or list the flow needs.
	missing string
	// bodyIgnored: the dependency's success body carries nothing the flow
	// needs (Viola: "body optional", SPEC §6), so a broken body on a
	// success status is still a success.
	bodyIgnored bool
}

var matrixDependencies = []matrixDependency{
	{
		name: "contrabass", reason: multinic.ReasonContrabass, mentions: "contrabass",
		inject:     func(env *multinictest.Env, f fault.Fault) { env.Contrabass.Inject(f, -1) },
		requests:   func(env *multinictest.Env) int { return env.Contrabass.Requests() },
		perPass:    1,
		okStatus:   http.StatusOK,
		malformed:  `{"returnCode":"200","returnMessage":"COMMON_OK","data":{"url":"http://`,
		wrongTypes: `{"returnCode":["200"],"returnMessage":7,"data":{"url":42,"attributes":"admin"}}`,
		missing:    `{"returnCode":"200","returnMessage":"COMMON_OK"}`,
	},
	{
		name: "keystone", reason: multinic.ReasonKeystone, mentions: "keystone",
		inject:     openstackInjector(openstacktest.RouteTokens),
		requests:   openstackRequests(openstacktest.RouteTokens),
		perPass:    1,
		okStatus:   http.StatusCreated,
		okHeader:   [2]string{"X-Subject-Token", "gAAAAABinjected"},
		malformed:  `{"token":{"expires_at":"2030-01-01T00:00:00Z","catalog":[`,
		wrongTypes: `{"token":{"expires_at":12,"catalog":"none","project":[]}}`,
		missing:    `{"token":null}`,
	},
	{
		name: "neutron ports", reason: multinic.ReasonNeutronPort, mentions: "neutron",
		inject:     openstackInjector(openstacktest.RoutePorts),
		requests:   openstackRequests(openstacktest.RoutePorts),
		perPass:    1,
		okStatus:   http.StatusOK,
		malformed:  `{"ports":[{"id":"p1","fixed_ips":[{"subnet_id":`,
		wrongTypes: `{"ports":[{"id":1,"device_id":true,"mac_address":[],"fixed_ips":"10.0.0.1"}]}`,
		missing:    `{"ports":null}`,
	},
	{
		name: "neutron subnets", reason: multinic.ReasonNeutronSubnet, mentions: "neutron",
		inject:     openstackInjector(openstacktest.RouteSubnets),
		requests:   openstackRequests(openstacktest.RouteSubnets),
		perPass:    2,
		okStatus:   http.StatusOK,
		malformed:  `{"subnet":{"id":"subnet-a","cidr":"10.10.`,
		wrongTypes: `{"subnet":{"id":7,"network_id":false,"cidr":["10.0.0.0/24"]}}`,
		missing:    `{"subnet":null}`,
	},
	{
		// The MTU read is part of resolving the target subnets.
		name: "neutron networks", reason: multinic.ReasonNeutronSubnet, mentions: "neutron",
		inject:     openstackInjector(openstacktest.RouteNetworks),
		requests:   openstackRequests(openstacktest.RouteNetworks),
		perPass:    2,
		okStatus:   http.StatusOK,
		malformed:  `{"network":{"id":"net-a","mtu":14`,
		wrongTypes: `{"network":{"id":["net-a"],"mtu":"1450"}}`,
		missing:    `{"network":null}`,
	},
	{
		// Every server answer is broken, so Nova names none of the VMs: the
		// pass fails as NovaError rather than succeeding with no node. (One
		// broken server among good ones only skips that VM; the pass is then
		// Degraded, which the library's own tests cover.)
		name: "nova", reason: multinic.ReasonNova, mentions: "nova",
		inject:     openstackInjector(openstacktest.RouteServers),
		requests:   openstackRequests(openstacktest.RouteServers),
		perPass:    3,
		okStatus:   http.StatusOK,
		malformed:  `{"server":{"id":"00000000-0000-4000-8000-000000000001","name":"wor`,
		wrongTypes: `{"server":{"id":1,"name":42,"metadata":"k8s"}}`,
		missing:    `{"server":null}`,
	},
	{
		name: "viola", reason: multinic.ReasonViolaPost, mentions: "viola",
		inject:      func(env *multinictest.Env, f fault.Fault) { env.Viola.Inject(f, -1) },
		requests:    func(env *multinictest.Env) int { return env.Viola.Requests() },
		perPass:     1,
		okStatus:    http.StatusOK,
		malformed:   `{"applied":3,"output":"multinicnodeconfig.multinic.io/worker-1 configured`,
		wrongTypes:  `{"applied":"three","output":["x"]}`,
		missing:     `{"applied":null}`,
		bodyIgnored: true,
	},
}

func openstackInjector(route openstacktest.Route) func(*multinictest.Env, fault.Fault) {
	return func(env *multinictest.Env, f fault.Fault) { env.OpenStack.Inject(route, f, -1) }
}

func openstackRequests(route openstacktest.Route) func(*multinictest.Env) int {
	return func(env *multinictest.Env) int { return env.OpenStack.Requests(route) }
}

// matrixFault is one row of the matrix.
type matrixFault struct {
	name string
	// fault is the broken answer; foreign is the base URL of a host that
	// must never be reached (a fault.Recorder), for the rows that point
	// elsewhere.
	fault func(d matrixDependency, foreign string) fault.Fault
	// retried faults are met with up to matrixRetryMax retries; a broken
	// body on a success status is not retried (the service answered).
	retried bool
	// brokenBody: the fault is in the body of a success status.
	brokenBody bool
	// wantInError, when set, is what the error must say about the cause.
	wantInError string
	// foreign rows point the client at another host: the error names it,
	// and it gets no request, so no token or password.
	foreign bool
	// only, when set, picks the dependencies the row applies to (a next
	// link exists only in a listing).
	only func(d matrixDependency) bool
	// pageSize, when set, pages the OpenStack fake's lists so they carry
	// next links.
	pageSize int
}

func bodyFault(body func(d matrixDependency) string) func(d matrixDependency, foreign string) fault.Fault {
	return func(d matrixDependency, _ string) fault.Fault { return d.completed(fault.Body(d.okStatus, body(d))) }
}

// anyDependency is a row's fault for every dependency alike.
func anyDependency(f fault.Fault) func(matrixDependency, string) fault.Fault {
	return func(matrixDependency, string) fault.Fault { return f }
}

// completed adds the header a success answer of d carries.
func (d matrixDependency) completed(f fault.Fault) fault.Fault {
	if d.okHeader[0] != "" {
		f = f.WithHeader(d.okHeader[0], d.okHeader[1])
	}
	return f
}

var matrixFaults = []matrixFault{
	{name: "500", fault: anyDependency(fault.Status(500)), retried: true},
	{name: "503 Retry-After 3600", fault: anyDependency(fault.Status(503).WithHeader("Retry-After", "3600")), retried: true},
	{name: "429 Retry-After 3600", fault: anyDependency(fault.Status(429).WithHeader("Retry-After", "3600")), retried: true},
	{name: "hang", fault: anyDependency(fault.Hang()), retried: true, wantInError: "pass deadline exceeded"},
	// Every request that reaches the server is an attempt, a reset on a
	// kept-alive connection too: net/http no longer replays it on its own.
	{name: "reset before response", fault: anyDependency(fault.ResetBeforeResponse()), retried: true},
	{name: "reset during body", fault: func(d matrixDependency, _ string) fault.Fault {
		return d.completed(fault.ResetDuringBody(d.okStatus))
	}, brokenBody: true},
	{name: "malformed JSON", fault: bodyFault(func(d matrixDependency) string { return d.malformed }), brokenBody: true},
	{name: "wrong types", fault: bodyFault(func(d matrixDependency) string { return d.wrongTypes }), brokenBody: true},
	{name: "empty object", fault: bodyFault(func(matrixDependency) string { return "{}" }), brokenBody: true},
	{name: "missing object", fault: bodyFault(func(d matrixDependency) string { return d.missing }), brokenBody: true},
	{name: "empty 200", fault: bodyFault(func(matrixDependency) string { return "" }), brokenBody: true},
	{name: "oversized", fault: func(d matrixDependency, _ string) fault.Fault {
		return d.completed(fault.Oversized(d.okStatus, matrixOversize))
	}, brokenBody: true, wantInError: "larger than the limit"},

	// Issue 20's attacks. A redirect is an answer, never followed: a 302
	// to Viola's POST is not "applied", a 307 would carry Keystone's
	// password along.
	{name: "302 to another host", fault: func(_ matrixDependency, foreign string) fault.Fault {
		return fault.Redirect(http.StatusFound, foreign+"/login")
	}, foreign: true, wantInError: "not followed"},
	{name: "307 to another host", fault: func(_ matrixDependency, foreign string) fault.Fault {
		return fault.Redirect(http.StatusTemporaryRedirect, foreign+"/v3/auth/tokens")
	}, foreign: true, wantInError: "not followed"},
	// A service or proxy that quotes the request back: the password, the
	// token and basic-auth pairs are masked in whatever form they come.
	{name: "echo of the request", fault: anyDependency(fault.Echo(http.StatusBadRequest)), wantInError: "echo of the refused request"},
	{name: "next link to another host", fault: func(_ matrixDependency, foreign string) fault.Fault {
		return fault.NextLinksTo(foreign)
	}, foreign: true, pageSize: 1, only: isListing, wantInError: "next link"},
	{name: "ports beyond what the VMs can have", fault: func(d matrixDependency, _ string) fault.Fault {
		return fault.Body(http.StatusOK, floodPage(3*openstack.MaxPortsPerVM+1))
	}, only: func(d matrixDependency) bool { return d.name == "neutron ports" }, wantInError: "more than 192 ports for 3 VMs"},
}

// isListing is a dependency whose pass reads a paged list: the ports of
// the VMs, the project's networks. (Subnets are read by ID, and the
// sample's 3 servers one by one.)
func isListing(d matrixDependency) bool {
	return d.name == "neutron ports" || d.name == "neutron networks"
}

// floodPage is a Neutron ports page of n ports claiming the sample's VMs,
// as one holding ports anyone created with their device_id does.
func floodPage(n int) string {
	var b strings.Builder
	b.WriteString(`{"ports":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"id":"flood-%05d","network_id":"net-a","status":"ACTIVE","mac_address":"fa:16:3e:7f:%02x:%02x","device_id":"00000000-0000-4000-8000-00000000000%d","fixed_ips":[]}`,
			i, i>>8, i&0xff, 1+i%3)
	}
	b.WriteString(`]}`)
	return b.String()
}

func TestFaultMatrix(t *testing.T) {
	// The cells mostly wait (on timeouts, retries and each other's
	// servers), so they run more at a time than t.Parallel would allow on
	// a small machine: t.Run from several goroutines runs its subtests
	// concurrently.
	slots := make(chan struct{}, 12)
	var wg sync.WaitGroup
	for d, dep := range matrixDependencies {
		for r, row := range matrixFaults {
			if row.only != nil && !row.only(dep) {
				continue
			}
			// -short (make test-unit) runs a diagonal: every fault against
			// one dependency, every dependency under at least one fault.
			if testing.Short() && r%len(matrixDependencies) != d {
				continue
			}
			wg.Go(func() {
				slots <- struct{}{}
				defer func() { <-slots }()
				t.Run(dep.name+"/"+row.name, func(t *testing.T) { runMatrixCell(t, dep, row) })
			})
		}
	}
	wg.Wait()
}

// matrixPassword is the admin password of every cell: every character an
// encoding changes, so a cell whose error quotes the password in any form
// (an echo quotes the JSON-escaped one) fails.
const matrixPassword = `Adm1n"pa\ss/w<0>r&d é%`

func runMatrixCell(t *testing.T, dep matrixDependency, row matrixFault) {
	env := multinictest.NewEnv()
	t.Cleanup(env.Close)
	sample := env.AddSample()
	withPassword(env, matrixPassword)
	foreign := fault.NewRecorder()
	t.Cleanup(foreign.Close)
	path := filepath.Join(t.TempDir(), "inventory.json")
	store, err := inventory.Open(path)
	require.NoError(t, err)

	cfg := env.Config(sample.VMIDs, sample.SubnetA, sample.SubnetB)
	cfg.Inventory = store
	const waitMin, waitMax = 5 * time.Millisecond, 20 * time.Millisecond
	cfg.Contrabass.Timeout, cfg.Contrabass.RetryMax = matrixAttemptTimeout, matrixRetryMax
	cfg.Contrabass.RetryWaitMin, cfg.Contrabass.RetryWaitMax = waitMin, waitMax
	cfg.OpenStack.Timeout, cfg.OpenStack.RetryMax = matrixAttemptTimeout, matrixRetryMax
	cfg.OpenStack.RetryWaitMin, cfg.OpenStack.RetryWaitMax = waitMin, waitMax
	cfg.OpenStack.MaxResponseBytes = matrixMaxResponseBytes
	cfg.Contrabass.MaxResponseBytes = matrixMaxResponseBytes
	cfg.Viola.Timeout, cfg.Viola.RetryMax = matrixAttemptTimeout, matrixRetryMax
	cfg.Viola.RetryWaitMin, cfg.Viola.RetryWaitMax = waitMin, waitMax
	// Every pass re-sends all nodes, so a pass that went on past a broken
	// upstream would show as a POST, and Viola's faults are met.
	cfg.ResendAll = true
	// Clean passes get a generous deadline: a loaded machine must not fail
	// them. Only the broken pass runs against the short one.
	clean := cfg
	clean.PassTimeout = time.Minute
	broken := cfg
	broken.PassTimeout = matrixPassTimeout
	ctx := context.Background()

	seeded, err := multinic.Sync(ctx, clean)
	require.NoError(t, err, "the seeding pass")
	require.Len(t, seeded.Sent, 3)
	seededFile, err := os.ReadFile(path)
	require.NoError(t, err)
	seededRecords := store.List(inventory.Filter{})
	require.Len(t, seededRecords, 3)

	if row.pageSize > 0 {
		env.OpenStack.SetPageSize(row.pageSize)
	}
	dep.inject(env, row.fault(dep, foreign.URL))
	requestsBefore, violaBefore, postsBefore := dep.requests(env), env.Viola.Requests(), len(env.Viola.Posts())
	start := time.Now()
	res, err := multinic.Sync(ctx, broken)
	elapsed := time.Since(start)
	requests := dep.requests(env) - requestsBefore

	assert.LessOrEqual(t, elapsed, matrixPassTimeout+matrixSlack, "the pass must end within its deadline")
	attempts := 1
	if row.retried {
		attempts = matrixRetryMax + 1
	}
	bound := dep.perPass * attempts
	assert.Positive(t, requests, "the broken dependency was asked")
	assert.LessOrEqual(t, requests, bound, "bounded attempts")

	if dep.bodyIgnored && row.brokenBody {
		// Viola answered 200: it applied the batch, whatever its body says.
		require.NoError(t, err)
		assert.Len(t, res.Sent, 3)
	} else {
		require.Error(t, err, "result: %+v", res)
		t.Log(err)
		assert.Equal(t, dep.reason, multinic.ReasonOf(err), "%v", err)
		assert.Contains(t, strings.ToLower(err.Error()), dep.mentions, "the message names the dependency")
		assertNoSecret(t, err.Error(), matrixPassword)
		if row.wantInError != "" {
			assert.Contains(t, err.Error(), row.wantInError)
		}
		if row.foreign {
			assert.Contains(t, err.Error(), strings.TrimPrefix(foreign.URL, "http://"), "the message names the other host")
		}
		assert.Empty(t, res.Sent)
		if dep.reason != multinic.ReasonViolaPost {
			assert.Equal(t, violaBefore, env.Viola.Requests(), "no request to Viola after an upstream failure")
		}
		assert.Len(t, env.Viola.Posts(), postsBefore, "Viola applied nothing")
		file, readErr := os.ReadFile(path)
		require.NoError(t, readErr)
		assert.Equal(t, string(seededFile), string(file), "the inventory file is untouched")
	}

	for _, r := range foreign.Requests() {
		t.Errorf("the other host got %s %s (X-Auth-Token %q, body %.200q)", r.Method, r.URI, r.Header.Get("X-Auth-Token"), r.Body)
	}

	env.Contrabass.ClearFaults()
	env.OpenStack.ClearFaults()
	env.Viola.ClearFaults()
	recovered, err := multinic.Sync(ctx, clean)
	require.NoError(t, err, "the next clean pass recovers")
	assert.Len(t, recovered.Sent, 3)
	assert.Equal(t, configsOf(seededRecords), configsOf(store.List(inventory.Filter{})), "same inventory content")
	require.NoError(t, store.Close(), "one Store per path: close before reopening")
	reopened, err := inventory.Open(path)
	require.NoError(t, err, "the inventory file stays readable")
	t.Cleanup(func() { assert.NoError(t, reopened.Close()) })
	assert.Equal(t, configsOf(seededRecords), configsOf(reopened.List(inventory.Filter{})))
}

// configsOf is the inventory content that matters: what was sent per node,
// without the time it was sent.
func configsOf(records []inventory.Record) map[string]string {
	out := map[string]string{}
	for _, rec := range records {
		out[rec.ProviderID+"/"+rec.NodeName] = rec.LastConfigHash
	}
	return out
}
