// Command operator runs the multinic controller: it reconciles
// OpenstackConfig objects through the multinic library and serves the
// inventory of sent node configs over HTTP.
package main

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/multinic/multinic/internal/safetext"
	"github.com/multinic/multinic/internal/version"
	"github.com/multinic/multinic/inventory"
	"github.com/multinic/multinic/operator/controller"
	"github.com/multinic/multinic/operator/crconfig"
	"github.com/multinic/multinic/viola"
)

func main() {
	if err := run(os.Args[1:], os.Getenv); err != nil {
		fmt.Fprintln(os.Stderr, "multinic-operator:", safetext.RedactURLs(err.Error()))
		os.Exit(1)
	}
}

// options are the flags and environment of the operator.
type options struct {
	metrics                 metricsFlags
	probeAddr               string
	leaderElection          bool
	leaderElectionNS        string
	maxConcurrentReconciles int
	viola                   viola.Options
	contrabassBearerToken   string
	inventory               inventorySettings
	zap                     zap.Options
	showVersion             bool
}

func parseOptions(args []string, getenv func(string) string) (options, error) {
	var o options
	fs := flag.NewFlagSet("multinic-operator", flag.ContinueOnError)
	o.metrics.bind(fs)
	fs.StringVar(&o.probeAddr, "health-probe-bind-address", ":8081", "address of the /healthz and /readyz probes")
	fs.BoolVar(&o.leaderElection, "leader-elect", false, "elect a leader so only one replica reconciles")
	fs.StringVar(&o.leaderElectionNS, "leader-election-namespace", "", "namespace of the leader-election lease (defaults to the pod's)")
	fs.IntVar(&o.maxConcurrentReconciles, "max-concurrent-reconciles", controller.DefaultMaxConcurrentReconciles, "how many OpenstackConfigs may sync at once")
	o.zap.BindFlags(fs)
	fs.BoolVar(&o.showVersion, "version", false, "print version, commit and build date, then exit")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if o.showVersion { // answers even where the environment is not set up
		return o, nil
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
	// A Contrabass that wants a token gets it on every request; the chart
	// fills it from a Secret, never a plain value.
	o.contrabassBearerToken = strings.TrimSpace(getenv("CONTRABASS_BEARER_TOKEN"))
	inv, err := inventorySettingsFromEnv(getenv)
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
	build := version.Get()
	if opts.showVersion {
		fmt.Println(build.String("multinic-operator"))
		return nil
	}
	// One logger for controller-runtime, client-go and klog, masking URL
	// credentials and keeping client-go's body dumps (V>=8) off.
	safe := controller.SafeLogger(zap.New(zap.UseFlagOptions(&opts.zap)))
	ctrl.SetLogger(safe)
	klog.SetLogger(safe)
	logger := ctrl.Log.WithName("setup")
	logger.Info("starting multinic-operator", build.KeysAndValues()...)
	if err := registerBuildInfo(crmetrics.Registry, build); err != nil {
		return fmt.Errorf("register multinic_build_info: %w", err)
	}

	scheme, err := crconfig.NewScheme()
	if err != nil {
		return err
	}
	store, err := openInventory(opts.inventory, logger)
	if err != nil {
		return err
	}
	metricsOpts, metricsCert, err := opts.metrics.serverOptions()
	if err != nil {
		return err
	}
	mgr, err := ctrl.NewManager(ctrl.GetConfigOrDie(), manager.Options{
		Scheme:                        scheme,
		Metrics:                       metricsOpts,
		HealthProbeBindAddress:        opts.probeAddr,
		LeaderElection:                opts.leaderElection,
		LeaderElectionID:              "multinic-operator.multinic.example.com",
		LeaderElectionNamespace:       opts.leaderElectionNS,
		LeaderElectionReleaseOnCancel: true,
	})
	if err != nil {
		return fmt.Errorf("create manager: %w", err)
	}
	if metricsCert != nil {
		if err := mgr.Add(metricsCert); err != nil {
			return err
		}
	}
	operator := controller.OperatorOptions{Viola: opts.viola, ContrabassBearerToken: opts.contrabassBearerToken, Inventory: store, Registerer: crmetrics.Registry, MaxConcurrentReconciles: opts.maxConcurrentReconciles}
	// The API is served even when the inventory is disabled, so probes and
	// clients get a clear 503 rather than a refused connection.
	operator.InventoryDisabled = !opts.inventory.Enabled
	if operator.InventoryListener, err = net.Listen("tcp", opts.inventory.Addr); err != nil {
		return fmt.Errorf("inventory listener (%s): %w", envInventoryAddr, err)
	}
	if _, err := controller.AddToManager(mgr, operator); err != nil {
		return err
	}
	logger.Info("starting manager", "violaEndpoint", opts.viola.Endpoint, "contrabassBearerToken", opts.contrabassBearerToken != "", "inventoryEnabled", opts.inventory.Enabled, "inventoryPath", opts.inventory.Path)
	return mgr.Start(ctrl.SetupSignalHandler())
}

// openInventory opens the inventory, or an in-memory store when it is
// disabled (change detection still works within this process). A corrupt
// file (the marker or one routing key's shard) is set aside, never deleted:
// the next sync rebuilds the data, and an operator that refuses to start
// would stop every sync.
func openInventory(s inventorySettings, logger logr.Logger) (*inventory.Store, error) {
	path := s.Path
	if !s.Enabled {
		path = ""
	}
	store, err := inventory.Open(path, inventory.QuarantineCorrupt())
	if err == nil && path != "" {
		// The marker's directory and the shard directory: a write needs both.
		err = errors.Join(probeWritable(filepath.Dir(path)), probeWritable(store.ShardDir()))
	}
	if err != nil {
		return nil, fmt.Errorf("open inventory %s=%s (set it to a writable file path, or %s=false): %w", envInventoryPath, path, envInventoryEnabled, err)
	}
	salvaged := map[string]bool{}
	for _, sv := range store.Salvaged() {
		salvaged[sv.CopiedTo] = true
		logger.Error(inventory.ErrCorrupt, "inventory file was damaged; its good records were kept, the rest is left out until the next sync",
			"path", sv.File, "copiedTo", sv.CopiedTo, "kept", sv.Kept, "problems", sv.Problems)
	}
	for _, moved := range store.Quarantined() {
		if !salvaged[moved] {
			logger.Error(inventory.ErrCorrupt, "inventory file was corrupt; moved aside, its records start empty", "path", path, "movedTo", moved)
		}
	}
	return store, nil
}

// probeWritable fails now, at startup, when the inventory's directory is not
// writable (an existing file on a read-only volume opens fine), rather than
// failing every pass later.
func probeWritable(dir string) error {
	f, err := os.CreateTemp(dir, ".write-probe-*")
	if err != nil {
		return fmt.Errorf("directory %s is not writable: %w", dir, err)
	}
	name := f.Name()
	_ = f.Close()
	return os.Remove(name)
}
