// Command demo runs the whole multinic flow on this machine, with no external
// service: fake Contrabass and OpenStack with a sample topology, an embedded
// MGMT control plane running the operator, the Viola test API applying into
// an embedded Biz control plane, and the inventory API on localhost.
//
//	make demo                # keeps serving until Ctrl-C, then exits 0
//	DEMO_ONCE=1 make demo    # one round, then exit (scripts, CI)
//
// While it serves, it prints kubeconfigs for both control planes and the
// kubectl multinic (and multinicctl) commands that work against the sample
// CR. DEMO_INVENTORY_ADDR moves the inventory API (default 127.0.0.1:18081).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/multinic/multinic/internal/testenv"
	"github.com/multinic/multinic/inventory"
	"github.com/multinic/multinic/multinic/multinictest"
	"github.com/multinic/multinic/operator/api/v1alpha1"
	"github.com/multinic/multinic/operator/controller"
	"github.com/multinic/multinic/operator/crconfig"
	"github.com/multinic/multinic/viola"
)

// namespace holds the sample CR in MGMT and the node configs in Biz.
const namespace = "multinic-system"

func main() { os.Exit(demo()) }

// demo returns the exit status: 0 also when a signal ended the demo, once
// everything it started has stopped.
func demo() int {
	// Listen before taking the terminal, so no Ctrl-C finds the demo alone
	// in the foreground without a handler.
	ctx, stop := signal.NotifyContext(context.Background(), stopSignals...)
	defer stop()
	release := takeTerminal()
	defer release()
	opts := options{
		once:          os.Getenv("DEMO_ONCE") != "",
		inventoryAddr: envOr("DEMO_INVENTORY_ADDR", "127.0.0.1:18081"),
		logs:          os.Stderr,
	}
	err := run(ctx, os.Stdout, opts)
	switch {
	case err == nil:
		return 0
	case ctx.Err() != nil:
		// Stopped while starting: what failed failed because of the stop.
		fmt.Fprintln(os.Stderr, "demo: stopped before the end:", err)
		return 0
	default:
		fmt.Fprintln(os.Stderr, "demo:", err)
		return 1
	}
}

type options struct {
	once          bool
	inventoryAddr string
	logs          io.Writer // operator logs
}

func envOr(key, fallback string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return fallback
}

func run(ctx context.Context, out io.Writer, opts options) error {
	step := func(format string, args ...any) { fmt.Fprintf(out, "==> "+format+"\n", args...) }
	ctrl.SetLogger(controller.SafeLogger(zap.New(zap.WriteTo(opts.logs), zap.UseDevMode(false))))

	// Take the inventory port first: a busy port should fail in a second,
	// not after two control planes have started.
	ln, err := net.Listen("tcp", opts.inventoryAddr)
	if err != nil {
		return fmt.Errorf("inventory listener on %s (set DEMO_INVENTORY_ADDR to move it): %w", opts.inventoryAddr, err)
	}
	defer ln.Close()

	step("starting fake Contrabass and OpenStack: 5 VMs (one named by Nova's hostname, one whose name is too long for the node agent), 2 target subnets, a DOWN port (held back until ACTIVE), a management port")
	fakes := multinictest.NewEnv()
	defer fakes.Close()
	sample := fakes.AddSample()

	root, err := testenv.RepoRoot()
	if err != nil {
		return err
	}
	step("starting the MGMT control plane (kube-apiserver + etcd, built once and cached)")
	mgmtEnv, mgmtCfg, err := testenv.Start(filepath.Join(root, "operator/config/crd/bases"))
	if err != nil {
		return err
	}
	defer func() { _ = mgmtEnv.Stop() }()
	step("starting the Biz control plane")
	bizEnv, bizCfg, err := testenv.Start(filepath.Join(root, "viola/testapi/config/crd"))
	if err != nil {
		return err
	}
	defer func() { _ = bizEnv.Stop() }()
	kubeconfigDir, err := os.MkdirTemp("", "multinic-demo-kubeconfigs-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(kubeconfigDir)
	mgmtKubeconfig, bizKubeconfig, err := writeKubeconfigs(kubeconfigDir, mgmtEnv, bizEnv)
	if err != nil {
		return err
	}

	if err := createNamespace(ctx, bizCfg); err != nil {
		return err
	}
	step("starting the Viola test API, applying into the Biz plane")
	violaURL, stopViola, err := startViola(bizCfg)
	if err != nil {
		return err
	}
	defer stopViola()

	step("starting the operator on the MGMT plane")
	inventoryURL, stopOperator, err := startOperator(ctx, mgmtCfg, violaURL, ln, opts)
	if err != nil {
		return err
	}
	defer stopOperator() // before the control planes go, so it exits quietly

	step("applying the sample OpenstackConfig")
	scheme, err := crconfig.NewScheme()
	if err != nil {
		return err
	}
	mgmt, err := client.New(mgmtCfg, client.Options{Scheme: scheme})
	if err != nil {
		return err
	}
	oc, err := applySample(ctx, mgmt, fakes, sample)
	if err != nil {
		return err
	}
	ready, err := waitReady(ctx, mgmt, oc)
	if err != nil {
		return err
	}

	step("MultiNicNodeConfig objects in the Biz cluster (namespace %s)", namespace)
	if err := printNodeConfigs(ctx, out, bizCfg); err != nil {
		return err
	}
	step("OpenstackConfig %s/%s status", oc.Namespace, oc.Name)
	printStatus(out, ready)
	target := cliTarget{kubeconfig: mgmtKubeconfig, violaURL: violaURL, inventoryURL: inventoryURL, name: oc.Name}
	if err := printCheckAndPlan(ctx, out, target); err != nil {
		return err
	}
	step("inventory API: GET %s/v1/inventory/node-configs", inventoryURL)
	if err := printInventory(ctx, out, inventoryURL); err != nil {
		return err
	}
	if opts.once {
		return nil
	}
	step("the MGMT plane answers kubectl: kubectl --kubeconfig %s -n %s get openstackconfigs", mgmtKubeconfig, namespace)
	step("the Biz plane answers kubectl: kubectl --kubeconfig %s -n %s get mnnc -o yaml", bizKubeconfig, namespace)
	printCLICommands(out, target)
	step("kubeconfigs in %s, removed when the demo stops", kubeconfigDir)
	step("serving the inventory at %s/v1/inventory/node-configs until Ctrl-C", inventoryURL)
	<-ctx.Done()
	return nil
}

// startOperator runs exactly what the deployed operator runs
// (controller.AddToManager) against the MGMT plane, with the inventory in a
// temporary file and its API on ln.
func startOperator(ctx context.Context, cfg *rest.Config, violaURL string, ln net.Listener, opts options) (string, func(), error) {
	scheme, err := crconfig.NewScheme()
	if err != nil {
		return "", nil, err
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		// Controller names are process-global and tests run the demo twice.
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		return "", nil, err
	}
	dir, err := os.MkdirTemp("", "multinic-demo-")
	if err != nil {
		return "", nil, err
	}
	store, err := inventory.Open(filepath.Join(dir, "inventory.json"))
	if err != nil {
		return "", nil, err
	}
	if _, err := controller.AddToManager(mgr, controller.OperatorOptions{
		Viola:             viola.Options{Endpoint: violaURL},
		Inventory:         store,
		InventoryListener: ln,
		Registerer:        prometheus.NewRegistry(),
	}); err != nil {
		return "", nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := mgr.Start(ctx); err != nil {
			fmt.Fprintln(opts.logs, "operator stopped:", err)
		}
	}()
	stop := func() {
		cancel()
		<-done
		_ = os.RemoveAll(dir)
	}
	return "http://" + ln.Addr().String(), stop, nil
}

func applySample(ctx context.Context, c client.Client, fakes *multinictest.Env, sample multinictest.Sample) (*v1alpha1.OpenstackConfig, error) {
	objects := []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}},
		&corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: crconfig.DefaultEncryptKeySecret, Namespace: namespace},
			Data:       map[string][]byte{crconfig.DefaultEncryptKeyField: []byte(multinictest.EncryptKey)},
		},
	}
	oc := &v1alpha1.OpenstackConfig{
		ObjectMeta: metav1.ObjectMeta{Name: "biz-cluster-1", Namespace: namespace},
		Spec: v1alpha1.OpenstackConfigSpec{
			Credentials: v1alpha1.Credentials{OpenstackProviderID: multinictest.ProviderID, ProjectID: multinictest.ProjectID},
			VMNames:     append(append([]string{}, sample.VMIDs...), sample.HostnameVM, sample.LongNameVM),
			SubnetIDs:   []string{sample.SubnetA, sample.SubnetB},
			Settings:    v1alpha1.Settings{ContrabassEndpoint: fakes.Contrabass.URL},
		},
	}
	for _, obj := range append(objects, oc) {
		if err := c.Create(ctx, obj); err != nil {
			return nil, fmt.Errorf("create %T %s: %w", obj, obj.GetName(), err)
		}
	}
	return oc, nil
}

func waitReady(ctx context.Context, c client.Client, oc *v1alpha1.OpenstackConfig) (*v1alpha1.OpenstackConfig, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for {
		var got v1alpha1.OpenstackConfig
		if err := c.Get(ctx, client.ObjectKeyFromObject(oc), &got); err == nil {
			if cond := meta.FindStatusCondition(got.Status.Conditions, v1alpha1.ConditionReady); cond != nil && cond.Status == metav1.ConditionTrue {
				return &got, nil
			}
		}
		select {
		case <-ctx.Done():
			return nil, errors.New("the OpenstackConfig did not become Ready within a minute; see the operator log above")
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func printStatus(out io.Writer, oc *v1alpha1.OpenstackConfig) {
	for _, c := range oc.Status.Conditions {
		fmt.Fprintf(out, "  %s=%s reason=%s: %s\n", c.Type, c.Status, c.Reason, c.Message)
	}
	fmt.Fprintf(out, "  nodes=%d lastSyncedAt=%s\n", oc.Status.Nodes, oc.Status.LastSyncedAt.UTC().Format(time.RFC3339))
	set := oc.Spec.Settings
	fmt.Fprintf(out, "  removalPolicy=%s (a node this CR lets go %s) downPortGracePeriod=%s\n", set.RemovalPolicy, map[string]string{
		v1alpha1.RemovalPolicyOrphan: "stays in the Biz cluster, its inventory record marked orphaned",
		v1alpha1.RemovalPolicyDelete: "is removed through Viola",
	}[set.RemovalPolicy], set.DownPortGracePeriod)
	for _, h := range oc.Status.HeldPorts {
		fmt.Fprintf(out, "  heldPort: %s of %s is DOWN and was never sent: held until ACTIVE, sent anyway at %s\n", h.PortID, h.NodeName, h.Until.UTC().Format(time.RFC3339))
	}
	for _, vm := range oc.Status.SkippedVMs {
		fmt.Fprintf(out, "  skippedVM instance=%s: %s\n", vm.InstanceID, vm.Reason)
	}
	if d := oc.Status.DownPortRetry; d != nil {
		fmt.Fprintf(out, "  downPortRetry: nodes=%v fastAttempts=%d\n", d.Nodes, d.FastAttempts)
	}
}

func printInventory(ctx context.Context, out io.Writer, base string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/v1/inventory/node-configs", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var records []inventory.Record
	if err := json.NewDecoder(resp.Body).Decode(&records); err != nil {
		return fmt.Errorf("inventory answer: %w", err)
	}
	fmt.Fprintf(out, "  HTTP %d, %d records\n", resp.StatusCode, len(records))
	for _, r := range records {
		names := make([]string, len(r.Config.Interfaces))
		for i, iface := range r.Config.Interfaces {
			names[i] = iface.Name
		}
		fmt.Fprintf(out, "  providerId=%s nodeName=%s nameFrom=%s instanceId=%s interfaces=%s hash=%s…\n", r.ProviderID, r.NodeName, r.NodeNameSource, r.InstanceID, strings.Join(names, ","), r.LastConfigHash[:12])
	}
	return nil
}
