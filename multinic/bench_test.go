package multinic_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/multinic/multinic/inventory"
	"github.com/multinic/multinic/multinic"
	"github.com/multinic/multinic/multinic/multinictest"
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
	for _, vms := range []int{10, 100, 1000} {
		b.Run(fmt.Sprintf("vms=%d/cold", vms), func(b *testing.B) { benchSync(b, vms, false) })
		b.Run(fmt.Sprintf("vms=%d/warm", vms), func(b *testing.B) { benchSync(b, vms, true) })
	}
}

func benchSync(b *testing.B, vms int, warm bool) {
	env := multinictest.NewEnv()
	defer env.Close()
	fleet := env.OpenStack.AddFleet(openstacktest.Fleet{VMs: vms, TargetSubnets: 2, TargetPortsPerVM: 3, OtherPortsPerVM: 1})
	env.OpenStack.SetLatency(openstacktest.RouteAll, benchLatency)
	env.Contrabass.SetLatency(benchLatency)
	env.Viola.SetLatency(benchLatency)
	cfg := env.Config(fleet.VMIDs, fleet.TargetSubnetIDs...)
	ctx := context.Background()

	newInventory := func() *inventory.Store {
		store, err := inventory.Open("")
		if err != nil {
			b.Fatal(err)
		}
		return store
	}
	syncer := new(multinic.Syncer)
	cfg.Inventory = newInventory()
	if warm {
		if _, err := syncer.Sync(ctx, cfg); err != nil {
			b.Fatal(err)
		}
	}
	requests := func() int {
		return env.Contrabass.Requests() + env.OpenStack.Requests(openstacktest.RouteAll) + env.Viola.Requests()
	}
	startRequests, startTokens, startPosts := requests(), env.OpenStack.Requests(openstacktest.RouteTokens), env.Viola.Requests()

	b.ResetTimer()
	for b.Loop() {
		if !warm {
			b.StopTimer()
			syncer, cfg.Inventory = new(multinic.Syncer), newInventory()
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
	passes := float64(b.N)
	b.ReportMetric(float64(requests()-startRequests)/passes, "requests/pass")
	if warm {
		if n := env.OpenStack.Requests(openstacktest.RouteTokens) - startTokens; n != 0 {
			b.Fatalf("warm passes asked Keystone %d times", n)
		}
		if n := env.Viola.Requests() - startPosts; n != 0 {
			b.Fatalf("warm passes posted to Viola %d times", n)
		}
	}
}
