package controller

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/healthz"

	"github.com/multinic/multinic/contrabass"
	"github.com/multinic/multinic/inventory"
	"github.com/multinic/multinic/multinic"
	"github.com/multinic/multinic/openstack"
	"github.com/multinic/multinic/operator/crconfig"
	"github.com/multinic/multinic/viola"
)

// OperatorOptions are the operator-wide settings main reads from flags and
// the environment.
type OperatorOptions struct {
	// Viola holds VIOLA_ENDPOINT and friends, the default for every CR.
	Viola viola.Options
	// ContrabassBearerToken is CONTRABASS_BEARER_TOKEN, sent to Contrabass
	// for every CR that names no token of its own.
	ContrabassBearerToken string
	// Inventory records what was sent; an in-memory store when disabled.
	Inventory *inventory.Store
	// InventoryDisabled serves the API as disabled (503) while Inventory,
	// then in memory, still gives change detection (INVENTORY_ENABLED=false).
	InventoryDisabled bool
	// InventoryListener, when set, serves the inventory API for the
	// manager's lifetime.
	InventoryListener net.Listener
	// Registerer receives the operator's metrics.
	Registerer prometheus.Registerer
	// MaxConcurrentReconciles is how many CRs may sync at once.
	MaxConcurrentReconciles int
}

// DefaultMaxConcurrentReconciles is the --max-concurrent-reconciles default,
// chosen with BenchmarkFleetWorkers: a pass mostly waits on its dependencies,
// so 16 workers bring 1000 new CRs to Ready about twice as fast as 4 on two
// cores; more add concurrent requests to the dependencies and memory but
// little speed, since the passes then wait for CPU (README, Benchmarks).
const DefaultMaxConcurrentReconciles = 16

// AddToManager wires the reconciler, probes and inventory server into mgr:
// everything the operator runs, shared by main and the demo.
func AddToManager(mgr ctrl.Manager, o OperatorOptions) (*Reconciler, error) {
	metrics := NewMetrics(o.Registerer)
	violaOpts := o.Viola
	violaOpts.Observer = metrics
	r := &Reconciler{
		Client:    mgr.GetClient(),
		APIReader: mgr.GetAPIReader(),
		Recorder:  mgr.GetEventRecorder("multinic-operator"),
		Syncer:    new(multinic.Syncer),
		Inventory: metrics.instrument(o.Inventory),
		Defaults: crconfig.Defaults{
			Contrabass: contrabass.Options{Observer: metrics, BearerToken: o.ContrabassBearerToken},
			OpenStack:  openstack.Options{Observer: metrics},
			Viola:      violaOpts,
		},
		Clock:                   clock.RealClock{},
		Metrics:                 metrics,
		MaxConcurrentReconciles: o.MaxConcurrentReconciles,
	}
	if err := r.SetupWithManager(mgr); err != nil {
		return nil, fmt.Errorf("set up controller: %w", err)
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return nil, err
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		return nil, err
	}
	if o.InventoryListener != nil {
		served := o.Inventory
		if o.InventoryDisabled {
			served = nil // the handler answers 503, as SPEC §9 asks
		}
		if err := mgr.Add(inventoryServer(o.InventoryListener, served)); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// inventoryServer serves the inventory API on its own listener, on every
// replica (a standby still answers queries), shutting down gracefully.
func inventoryServer(ln net.Listener, store *inventory.Store) everyReplica {
	return func(ctx context.Context) error {
		srv := inventory.NewServer(ln.Addr().String(), store)
		errc := make(chan error, 1)
		go func() { errc <- srv.Serve(ln) }()
		select {
		case err := <-errc:
			return fmt.Errorf("inventory server: %w", err)
		case <-ctx.Done():
			shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := srv.Shutdown(shutdown); err != nil && !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		}
	}
}

// everyReplica is a runnable that does not wait for leader election.
type everyReplica func(context.Context) error

func (f everyReplica) Start(ctx context.Context) error { return f(ctx) }
func (everyReplica) NeedLeaderElection() bool          { return false }
