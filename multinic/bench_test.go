package multinic_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/multinic/multinic/inventory"
	"github.com/multinic/multinic/multinic"
	"github.com/multinic/multinic/multinic/multinictest"
	"github.com/multinic/multinic/openstack"
	"github.com/multinic/multinic/openstack/openstacktest"
)

// benchLatency is injected into every request of every fake, so the figures
// show what the request pattern (count, batching, concurrency) costs.
const benchLatency = 10 * time.Millisecond

// BenchmarkSync runs passes over fleets of 3 target-subnet ports plus one
// other port per VM on 2 target subnets. Cold is a new Syncer and an empty
// inventory each pass (everything authenticated and sent); warm repeats a
// pass with nothing changed.
func BenchmarkSync(b *testing.B) {
	for _, vms := range []int{10, 100, 1000, 10000} {
		b.Run(fmt.Sprintf("vms=%d/cold", vms), func(b *testing.B) { benchSync(b, vms, false) })
		b.Run(fmt.Sprintf("vms=%d/warm", vms), func(b *testing.B) { benchSync(b, vms, true) })
	}
}

func newBenchEnv(b *testing.B) *multinictest.Env {
	env := multinictest.NewEnv()
	b.Cleanup(env.Close)
	env.OpenStack.SetLatency(openstacktest.RouteAll, benchLatency)
	env.Contrabass.SetLatency(benchLatency)
	env.Viola.SetLatency(benchLatency)
	return env
}

func newInventory(b *testing.B) *inventory.Store {
	store, err := inventory.Open("")
	if err != nil {
		b.Fatal(err)
	}
	return store
}

func benchSync(b *testing.B, vms int, warm bool) {
	env := newBenchEnv(b)
	fleet := env.OpenStack.AddFleet(openstacktest.Fleet{VMs: vms, TargetSubnets: 2, TargetPortsPerVM: 3, OtherPortsPerVM: 1})
	cfg := env.Config(fleet.VMIDs, fleet.TargetSubnetIDs...)
	// A lone CR polls less often than a server listing is shared, so each
	// of its passes lists Nova: so does each pass here, back to back.
	cfg.OpenStack.ServerListMaxAge = -1
	ctx := context.Background()

	syncer := new(multinic.Syncer)
	cfg.Inventory = newInventory(b)
	if warm {
		if _, err := syncer.Sync(ctx, cfg); err != nil {
			b.Fatal(err)
		}
	}
	start := countRequests(env)

	b.ResetTimer()
	for b.Loop() {
		if !warm {
			b.StopTimer()
			syncer, cfg.Inventory = new(multinic.Syncer), newInventory(b)
			b.StartTimer()
		}
		res, err := syncer.Sync(ctx, cfg)
		if err != nil {
			b.Fatal(err)
		}
		if want := len(fleet.VMIDs); len(res.Nodes) != want {
			b.Fatalf("%d nodes, want %d", len(res.Nodes), want)
		}
	}
	b.StopTimer()
	used := countRequests(env).minus(start)
	used.report(b, float64(b.N), "pass")
	if warm {
		if used.keystone != 0 {
			b.Fatalf("warm passes asked Keystone %d times", used.keystone)
		}
		if used.viola != 0 {
			b.Fatalf("warm passes posted to Viola %d times", used.viola)
		}
	}
}

// BenchmarkSyncCRsOfOneProject is a round of warm passes over many
// OpenstackConfigs of one project, as the operator runs them (4 at a time,
// one Syncer): each CR names 20 of the project's VMs. It reports what Nova
// had to render and the client to decode per round, which must grow with the
// VMs named, not with CRs × project servers. Rounds are apart by a poll
// interval in the operator; here the pass clock moves by the server listing's
// sharing window between rounds, so each round starts with none to share.
func BenchmarkSyncCRsOfOneProject(b *testing.B) {
	for _, crs := range []int{10, 100} {
		b.Run(fmt.Sprintf("crs=%d/vms=20", crs), func(b *testing.B) { benchCRsOfOneProject(b, crs, 20) })
	}
}

func benchCRsOfOneProject(b *testing.B, crs, vmsPerCR int) {
	const workers = 4 // the operator's default concurrent reconciles
	env := newBenchEnv(b)
	fleet := env.OpenStack.AddFleet(openstacktest.Fleet{VMs: crs * vmsPerCR, TargetSubnets: 2, TargetPortsPerVM: 3, OtherPortsPerVM: 1})
	novaBytes := &novaByteCounter{next: benchTransport()}
	store := newInventory(b)
	var clock atomic.Int64 // nanoseconds since the Unix epoch
	clock.Store(time.Now().UnixNano())
	now := func() time.Time { return time.Unix(0, clock.Load()) }
	cfgs := make([]multinic.Config, crs)
	for i := range cfgs {
		cfgs[i] = env.Config(fleet.VMIDs[i*vmsPerCR:(i+1)*vmsPerCR], fleet.TargetSubnetIDs...)
		cfgs[i].K8sProviderID = fmt.Sprintf("biz-%d", i) // one Biz cluster per CR
		cfgs[i].OpenStack.Transport = novaBytes
		cfgs[i].Inventory = store
		cfgs[i].Now = now
	}
	ctx := context.Background()
	syncer := new(multinic.Syncer)
	round := func() {
		var wg sync.WaitGroup
		next := atomic.Int64{}
		for range workers {
			wg.Go(func() {
				for i := int(next.Add(1)) - 1; i < len(cfgs); i = int(next.Add(1)) - 1 {
					res, err := syncer.Sync(ctx, cfgs[i])
					if err != nil {
						b.Error(err)
						return
					}
					if len(res.Nodes) != vmsPerCR {
						b.Errorf("CR %d: %d nodes, want %d", i, len(res.Nodes), vmsPerCR)
					}
				}
			})
		}
		wg.Wait()
	}
	round() // warm: sessions made, inventory filled
	start, startServers, startBytes := countRequests(env), env.OpenStack.ServersServed(), novaBytes.n.Load()

	b.ResetTimer()
	for b.Loop() {
		clock.Add(int64(openstack.DefaultServerListMaxAge))
		round()
	}
	b.StopTimer()
	rounds := float64(b.N)
	countRequests(env).minus(start).report(b, rounds, "round")
	b.ReportMetric(float64(env.OpenStack.ServersServed()-startServers)/rounds, "nova-servers/round")
	b.ReportMetric(float64(novaBytes.n.Load()-startBytes)/rounds, "nova-bytes/round")
}

// benchTransport is what the OpenStack client builds for itself when given no
// Transport: enough idle connections for its concurrent requests.
func benchTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 64
	return t
}

// novaByteCounter counts the announced body bytes of Nova's answers.
type novaByteCounter struct {
	next http.RoundTripper
	n    atomic.Int64
}

func (c *novaByteCounter) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := c.next.RoundTrip(req)
	if resp != nil && strings.Contains(req.URL.Path, "/nova/") && resp.ContentLength > 0 {
		c.n.Add(resp.ContentLength)
	}
	return resp, err
}

// requestCounts are the requests each dependency received; openstack counts
// every request of the OpenStack fake (version documents included), so the
// total hides nothing.
type requestCounts struct{ contrabass, openstack, keystone, neutron, nova, viola int }

func countRequests(env *multinictest.Env) requestCounts {
	os := env.OpenStack
	return requestCounts{
		contrabass: env.Contrabass.Requests(),
		openstack:  os.Requests(openstacktest.RouteAll),
		keystone:   os.Requests(openstacktest.RouteTokens),
		neutron:    os.Requests(openstacktest.RoutePorts) + os.Requests(openstacktest.RouteSubnets) + os.Requests(openstacktest.RouteNetworks),
		nova:       os.Requests(openstacktest.RouteServers),
		viola:      env.Viola.Requests(),
	}
}

func (c requestCounts) minus(o requestCounts) requestCounts {
	return requestCounts{c.contrabass - o.contrabass, c.openstack - o.openstack, c.keystone - o.keystone, c.neutron - o.neutron, c.nova - o.nova, c.viola - o.viola}
}

// report prints the requests per unit (pass, round), in total and by
// dependency.
func (c requestCounts) report(b *testing.B, n float64, unit string) {
	b.ReportMetric(float64(c.contrabass+c.openstack+c.viola)/n, "requests/"+unit)
	for _, m := range []struct {
		name string
		v    int
	}{{"contrabass", c.contrabass}, {"keystone", c.keystone}, {"neutron", c.neutron}, {"nova", c.nova}, {"viola", c.viola}} {
		b.ReportMetric(float64(m.v)/n, m.name+"/"+unit)
	}
}
