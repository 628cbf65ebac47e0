// Command viola-test-api serves the Viola node-config API (SPEC §6) and
// applies each node config as a MultiNicNodeConfig to a Kubernetes cluster,
// and deletes one on DELETE: its own (in-cluster) or a kubeconfig's, or per
// x-provider-id the cluster a routing file names. It stands in for the real
// Viola in end-to-end tests.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/multinic/multinic/internal/version"
	"github.com/multinic/multinic/viola/testapi"
)

// Environment variables that set the flags' defaults, for a Deployment.
const (
	envListen      = "VIOLA_TEST_API_LISTEN"
	envKubeconfig  = "KUBECONFIG"
	envNamespace   = "VIOLA_TEST_API_NAMESPACE"
	envRoutingFile = "VIOLA_TEST_API_ROUTING_FILE"
	envStrict      = "VIOLA_TEST_API_STRICT"
)

// shutdownTimeout lets in-flight applies finish after SIGTERM; it stays
// under the 30 s a pod gets by default before SIGKILL.
const shutdownTimeout = 25 * time.Second

func main() {
	ctx, stop := signalContext()
	err := run(ctx, os.Args[1:], os.Getenv, os.Stderr, nil)
	stop()
	if errors.Is(err, flag.ErrHelp) {
		return // the flag package printed the usage
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "viola-test-api:", err)
		os.Exit(1)
	}
}

// signalContext is cancelled by SIGTERM (a pod being stopped) or Ctrl-C.
func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
}

type options struct {
	listen      string
	kubeconfig  string
	namespace   string
	routingFile string
	// strict is nil unless --strict or its variable was given, so the
	// routing file's own setting applies otherwise.
	strict *bool

	showVersion bool
}

func parseOptions(args []string, getenv func(string) string, output io.Writer) (options, error) {
	o := options{
		listen:      cmpOr(getenv(envListen), ":8080"),
		kubeconfig:  getenv(envKubeconfig),
		namespace:   cmpOr(getenv(envNamespace), testapi.DefaultNamespace),
		routingFile: getenv(envRoutingFile),
	}
	if v := strings.TrimSpace(getenv(envStrict)); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return o, fmt.Errorf("%s=%q is not a boolean", envStrict, v)
		}
		o.strict = &b
	}
	fs := flag.NewFlagSet("viola-test-api", flag.ContinueOnError)
	fs.SetOutput(output)
	fs.StringVar(&o.listen, "listen", o.listen, "address to serve HTTP on (env "+envListen+")")
	fs.StringVar(&o.kubeconfig, "kubeconfig", o.kubeconfig, "kubeconfig file of the default cluster; empty means in-cluster (env "+envKubeconfig+", one path)")
	fs.StringVar(&o.namespace, "namespace", o.namespace, "namespace of the MultiNicNodeConfig objects (env "+envNamespace+")")
	fs.StringVar(&o.routingFile, "routing-file", o.routingFile, "YAML file mapping x-provider-id to a kubeconfig (env "+envRoutingFile+")")
	fs.BoolFunc("strict", "refuse provider IDs not in the routing file; overrides the file's strict (env "+envStrict+")", func(v string) error {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return err
		}
		o.strict = &b
		return nil
	})
	fs.BoolVar(&o.showVersion, "version", false, "print version, commit and build date, then exit")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	return o, nil
}

func cmpOr(value, fallback string) string {
	if value = strings.TrimSpace(value); value != "" {
		return value
	}
	return fallback
}

// run serves until ctx is cancelled, then shuts down gracefully. ready, if
// set, hears the bound address once the server accepts connections.
func run(ctx context.Context, args []string, getenv func(string) string, logOut io.Writer, ready func(net.Addr)) error {
	opts, err := parseOptions(args, getenv, logOut)
	if err != nil {
		return err
	}
	if opts.showVersion {
		fmt.Println(version.Get().String("viola-test-api"))
		return nil
	}
	logger := slog.New(slog.NewTextHandler(logOut, nil))
	router, err := newRouter(opts, logger)
	if err != nil {
		return err
	}
	handler, err := testapi.NewHandler(testapi.Options{Router: router, Namespace: opts.namespace, Logger: logger})
	if err != nil {
		return err
	}
	listener, err := net.Listen("tcp", opts.listen)
	if err != nil {
		return fmt.Errorf("listen on %s (--listen): %w", opts.listen, err)
	}
	server := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       time.Minute,
		// A full batch is applied one object at a time before the answer.
		WriteTimeout:   2 * time.Minute,
		IdleTimeout:    2 * time.Minute,
		MaxHeaderBytes: 64 << 10,
		ErrorLog:       slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	served := make(chan error, 1)
	go func() { served <- server.Serve(listener) }()
	logger.Info("serving", "address", listener.Addr().String(), "namespace", opts.namespace, "routingFile", opts.routingFile)
	if ready != nil {
		ready(listener.Addr())
	}

	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	logger.Info("shutting down: finishing in-flight requests", "timeout", shutdownTimeout)
	shutdownCtx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := server.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}

// newRouter loads the default cluster and the routing file. In strict mode
// the default cluster is never used, so it is not required.
func newRouter(opts options, logger *slog.Logger) (testapi.Router, error) {
	var file testapi.RoutingFile
	if opts.routingFile != "" {
		var err error
		if file, err = testapi.LoadRoutingFile(opts.routingFile); err != nil {
			return nil, err
		}
	}
	strict := (opts.strict != nil && *opts.strict) || (opts.strict == nil && file.Strict != nil && *file.Strict)
	if strict && opts.routingFile == "" {
		return nil, errors.New("strict routing (--strict) needs --routing-file, or every request would be refused")
	}
	var fallback *testapi.ClusterConfig
	if !strict {
		config, err := defaultCluster(opts.kubeconfig)
		if err != nil {
			return nil, err
		}
		fallback = &config
	}
	routes, err := file.Routes(fallback, &strict)
	if err != nil {
		return nil, err
	}
	for providerID, cluster := range routes.Providers {
		logger.Info("route", "providerID", providerID, "cluster", cluster.Name)
	}
	if fallback != nil {
		logger.Info("default route", "cluster", fallback.Name)
	} else {
		logger.Info("strict routing: unknown provider IDs are refused")
	}
	return testapi.NewRouter(routes)
}

func defaultCluster(kubeconfig string) (testapi.ClusterConfig, error) {
	if kubeconfig != "" {
		return testapi.LoadKubeconfig(kubeconfig)
	}
	return testapi.InClusterConfig()
}
