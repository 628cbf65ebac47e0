// Command operator runs the multinic controller: it reconciles
// OpenstackConfig objects through the multinic library and serves the
// inventory of sent node configs over HTTP.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/multinic/multinic/contrabass"
	"github.com/multinic/multinic/inventory"
	"github.com/multinic/multinic/multinic"
	"github.com/multinic/multinic/openstack"
	"github.com/multinic/multinic/operator/api/v1alpha1"
	"github.com/multinic/multinic/operator/controller"
	"github.com/multinic/multinic/viola"
)

func main() {
	if err := run(os.Args[1:], os.Getenv); err != nil {
		fmt.Fprintln(os.Stderr, "multinic-operator:", err)
		os.Exit(1)
	}
}

// options are the flags and environment of the operator.
type options struct {
	metricsAddr, probeAddr string
	leaderElection         bool
	leaderElectionNS       string
	viola                  viola.Options
	inventory              inventory.Settings
	zap                    zap.Options
}

func parseOptions(args []string, getenv func(string) string) (options, error) {
	var o options
	fs := flag.NewFlagSet("multinic-operator", flag.ContinueOnError)
	fs.StringVar(&o.metricsAddr, "metrics-bind-address", ":8080", "address of the Prometheus metrics endpoint; 0 disables it")
	fs.StringVar(&o.probeAddr, "health-probe-bind-address", ":8081", "address of the /healthz and /readyz probes")
	fs.BoolVar(&o.leaderElection, "leader-elect", false, "elect a leader so only one replica reconciles")
	fs.StringVar(&o.leaderElectionNS, "leader-election-namespace", "", "namespace of the leader-election lease (defaults to the pod's)")
	o.zap.BindFlags(fs)
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	var errs []error
	o.viola.Endpoint = strings.TrimSpace(getenv("VIOLA_ENDPOINT"))
	if v := strings.TrimSpace(getenv("VIOLA_TIMEOUT")); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			errs = append(errs, fmt.Errorf("VIOLA_TIMEOUT=%q is not a positive Go duration like 30s", v))
		}
		o.viola.Timeout = d
	}
	if v := strings.TrimSpace(getenv("VIOLA_INSECURE_TLS")); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("VIOLA_INSECURE_TLS=%q is not a boolean", v))
		}
		o.viola.InsecureTLS = b
	}
	inv, err := inventory.SettingsFromEnv(getenv)
	if err != nil {
		errs = append(errs, err)
	}
	o.inventory = inv
	return o, errors.Join(errs...)
}

func run(args []string, getenv func(string) string) error {
	opts, err := parseOptions(args, getenv)
	if err != nil {
		return err
	}
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&opts.zap)))
	logger := ctrl.Log.WithName("setup")

	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return err
	}
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		return err
	}

	// The inventory is file based; without it an in-memory store still
	// gives change detection across passes within this process.
	store, err := openInventory(opts.inventory)
	if err != nil {
		return err
	}

	mgr, err := ctrl.NewManager(ctrl.GetConfigOrDie(), manager.Options{
		Scheme:                        scheme,
		Metrics:                       metricsserver.Options{BindAddress: opts.metricsAddr},
		HealthProbeBindAddress:        opts.probeAddr,
		LeaderElection:                opts.leaderElection,
		LeaderElectionID:              "multinic-operator.multinic.example.com",
		LeaderElectionNamespace:       opts.leaderElectionNS,
		LeaderElectionReleaseOnCancel: true,
	})
	if err != nil {
		return fmt.Errorf("create manager: %w", err)
	}
	metrics := controller.NewMetrics(crmetrics.Registry)
	opts.viola.Observer = metrics
	reconciler := &controller.Reconciler{
		Client:    mgr.GetClient(),
		APIReader: mgr.GetAPIReader(),
		Recorder:  mgr.GetEventRecorder("multinic-operator"),
		Syncer:    new(multinic.Syncer),
		Inventory: store,
		Defaults: controller.Defaults{
			Contrabass: contrabass.Options{Observer: metrics},
			OpenStack:  openstack.Options{Observer: metrics},
			Viola:      opts.viola,
		},
		Clock:   clock.RealClock{},
		Metrics: metrics,
	}
	if err := reconciler.SetupWithManager(mgr); err != nil {
		return fmt.Errorf("set up controller: %w", err)
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return err
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		return err
	}
	if opts.inventory.Enabled {
		if err := mgr.Add(inventoryServer(opts.inventory.Addr, store)); err != nil {
			return err
		}
	}
	logger.Info("starting manager", "violaEndpoint", opts.viola.Endpoint, "inventoryEnabled", opts.inventory.Enabled, "inventoryPath", opts.inventory.Path)
	return mgr.Start(ctrl.SetupSignalHandler())
}

func openInventory(s inventory.Settings) (*inventory.Store, error) {
	path := s.Path
	if !s.Enabled {
		path = ""
	}
	store, err := inventory.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open inventory: %w", err)
	}
	return store, nil
}

// inventoryServer serves the inventory API on its own listener for the
// manager's lifetime, on every replica, shutting down gracefully.
func inventoryServer(addr string, store *inventory.Store) manager.Runnable {
	return everyReplica(func(ctx context.Context) error {
		srv := inventory.NewServer(addr, store)
		errc := make(chan error, 1)
		go func() { errc <- srv.ListenAndServe() }()
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
	})
}

// everyReplica is a runnable that does not wait for leader election, so a
// standby replica still answers inventory queries.
type everyReplica func(context.Context) error

func (f everyReplica) Start(ctx context.Context) error { return f(ctx) }
func (everyReplica) NeedLeaderElection() bool          { return false }
