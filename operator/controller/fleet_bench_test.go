package controller_test

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/multinic/multinic/inventory"
	"github.com/multinic/multinic/multinic/multinictest"
	"github.com/multinic/multinic/openstack/openstacktest"
	"github.com/multinic/multinic/operator/api/v1alpha1"
	"github.com/multinic/multinic/operator/controller"
	"github.com/multinic/multinic/operator/crconfig"
	"github.com/multinic/multinic/viola"
)

// fleetLatency is injected into every request of every fake, as in the
// library's BenchmarkSync.
const fleetLatency = 10 * time.Millisecond

// fleet is one fleet run: CRs OpenstackConfigs of VMsPerCR VMs each, all in
// one OpenStack project (3 target-subnet ports and 1 other port per VM),
// reconciled by the operator's own wiring (controller.AddToManager) in a
// real manager on the envtest API server.
type fleet struct {
	CRs, VMsPerCR, Workers int
	// SharedRoutingKey routes every CR to one Biz cluster (one routing key);
	// otherwise each CR has its own k8sProviderID, one Biz cluster per CR.
	SharedRoutingKey bool
}

// fleetResult is what a run measured.
type fleetResult struct {
	// Ready is the time from the first create until every CR's status
	// says Ready.
	Ready time.Duration
	// Passes and ContrabassRequests are counted until every CR is Ready.
	Passes, ContrabassRequests int
	MeanPass                   time.Duration  // of the library's pass, without the status write
	Requests                   map[string]int // by dependency, until every CR is Ready
	APIWrites                  int            // the operator's writes to the API server, until every CR is Ready
	// FirstUnchanged and NextUnchanged are two more rounds of passes over
	// every CR with nothing changed: passes, then the API-server writes
	// those passes made.
	FirstUnchanged, NextUnchanged [2]int
	Inventory                     inventory.WriteStats
	// InventorySize is the whole inventory on disk at the end: its file
	// (the marker) and every shard.
	InventorySize int64
	// Peak heap in use and resident set of this process (operator, fakes
	// and the test itself; the API server and etcd run apart), sampled, and
	// the same before the first CR, when the fakes hold the whole fleet and
	// the operator is idle: the difference bounds the operator's share.
	PeakHeapInuse, PeakRSS uint64
	BaseHeapInuse, BaseRSS uint64
	// LiveHeapGrowth is the heap in use after a GC at the end less the same
	// before the first CR: what the operator keeps for the fleet (cache,
	// inventory, metrics), plus what the fakes recorded (Viola's posts).
	LiveHeapGrowth     int64
	AllocBytes, Allocs uint64
}

// run creates the fleet's CRs while the operator runs and waits until all
// are Ready, then triggers one unchanged pass of each.
func (fl fleet) run(tb testing.TB) fleetResult {
	tb.Helper()
	ctx := context.Background()
	ns := fmt.Sprintf("fleet-%d", nsCounter.Add(1))
	require.NoError(tb, k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}))
	env := multinictest.NewEnv()
	defer env.Close()
	vms := env.OpenStack.AddFleet(openstacktest.Fleet{Name: ns, VMs: fl.CRs * fl.VMsPerCR, TargetSubnets: 2, TargetPortsPerVM: 3, OtherPortsPerVM: 1})
	env.OpenStack.SetLatency(openstacktest.RouteAll, fleetLatency)
	env.Contrabass.SetLatency(fleetLatency)
	env.Viola.SetLatency(fleetLatency)
	require.NoError(tb, k8s.Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: crconfig.DefaultEncryptKeySecret, Namespace: ns},
		Data:       map[string][]byte{crconfig.DefaultEncryptKeyField: []byte(multinictest.EncryptKey)},
	}))
	path := filepath.Join(tb.TempDir(), "inventory.json")
	store, err := inventory.Open(path)
	require.NoError(tb, err)

	api := newAPICounter()
	cfg := rest.CopyConfig(restConfig)
	cfg.WrapTransport = api.wrap
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Controller:             config.Controller{SkipNameValidation: ptr.To(true)},
		// Other tests' CRs live in other namespaces.
		Cache: cache.Options{DefaultNamespaces: map[string]cache.Config{ns: {}}},
	})
	require.NoError(tb, err)
	reg := prometheus.NewRegistry()
	_, err = controller.AddToManager(mgr, controller.OperatorOptions{
		Viola: viola.Options{Endpoint: env.Viola.URL}, Inventory: store, Registerer: reg, MaxConcurrentReconciles: fl.Workers,
	})
	require.NoError(tb, err)
	mgrCtx, cancel := context.WithCancel(ctx)
	stopped := make(chan error, 1)
	go func() { stopped <- mgr.Start(mgrCtx) }()
	defer func() { cancel(); require.NoError(tb, <-stopped) }()
	require.True(tb, mgr.GetCache().WaitForCacheSync(ctx))

	configs := make([]*v1alpha1.OpenstackConfig, fl.CRs)
	for i := range configs {
		oc := &v1alpha1.OpenstackConfig{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("cluster-%04d", i), Namespace: ns},
			Spec: v1alpha1.OpenstackConfigSpec{
				Credentials: v1alpha1.Credentials{OpenstackProviderID: multinictest.ProviderID, ProjectID: multinictest.ProjectID},
				VMNames:     vms.VMIDs[i*fl.VMsPerCR : (i+1)*fl.VMsPerCR],
				SubnetIDs:   vms.TargetSubnetIDs,
				Settings:    v1alpha1.Settings{ContrabassEndpoint: env.Contrabass.URL},
			},
		}
		if !fl.SharedRoutingKey {
			oc.Spec.Credentials.K8sProviderID = fmt.Sprintf("biz-%04d", i)
		}
		configs[i] = oc
	}
	if _, ok := tb.(*testing.T); ok {
		defer removeConfigs(configs)
	}

	// The clock starts once the operator runs: a CR whose key Secret is
	// missing fails before any request and says so in its status.
	warmUp := &v1alpha1.OpenstackConfig{
		ObjectMeta: metav1.ObjectMeta{Name: "warm-up", Namespace: ns},
		Spec: v1alpha1.OpenstackConfigSpec{
			Credentials: v1alpha1.Credentials{OpenstackProviderID: "warm-up", ProjectID: multinictest.ProjectID},
			VMNames:     []string{"warm-up"},
			SubnetIDs:   vms.TargetSubnetIDs,
			Secrets:     v1alpha1.Secrets{ContrabassEncryptKeySecretRef: &v1alpha1.SecretKeyRef{Name: "missing", Key: "key"}},
			Settings:    v1alpha1.Settings{ContrabassEndpoint: env.Contrabass.URL, PollErrorInterval: "24h"},
		},
	}
	require.NoError(tb, k8s.Create(ctx, warmUp))
	if _, ok := tb.(*testing.T); ok {
		defer removeConfigs([]*v1alpha1.OpenstackConfig{warmUp})
	}
	require.NoError(tb, api.waitReady(ctx, 1, time.Minute), "the warm-up CR's status")
	passes0 := histogramCount(tb, reg, "multinic_sync_pass_duration_seconds")
	writes0 := api.writes()

	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	res := fleetResult{BaseHeapInuse: before.HeapInuse, BaseRSS: vmRSS()}
	sampler := startMemSampler()
	start := time.Now()
	parallel(configs, func(oc *v1alpha1.OpenstackConfig) error { return k8s.Create(ctx, oc) })
	require.NoError(tb, api.waitReady(ctx, 1+fl.CRs, 10*time.Minute), "every CR Ready")
	res.Ready = time.Since(start)
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	res.AllocBytes, res.Allocs = after.TotalAlloc-before.TotalAlloc, after.Mallocs-before.Mallocs
	var passSeconds float64
	res.Passes, passSeconds = histogram(tb, reg, "multinic_sync_pass_duration_seconds")
	res.Passes -= passes0
	res.MeanPass = time.Duration(passSeconds / float64(max(res.Passes, 1)) * float64(time.Second))
	res.ContrabassRequests = env.Contrabass.Requests()
	res.Requests = map[string]int{
		"contrabass": env.Contrabass.Requests(),
		"keystone":   env.OpenStack.Requests(openstacktest.RouteTokens),
		"neutron":    env.OpenStack.Requests(openstacktest.RoutePorts) + env.OpenStack.Requests(openstacktest.RouteSubnets) + env.OpenStack.Requests(openstacktest.RouteNetworks),
		"nova":       env.OpenStack.Requests(openstacktest.RouteServers),
		"viola":      env.Viola.Requests(),
	}
	res.APIWrites = api.writes() - writes0
	res.Inventory = store.WriteStats()
	res.InventorySize = inventorySize(tb, path)

	// Every CR Ready: their status must say so, and only once per CR.
	var list v1alpha1.OpenstackConfigList
	require.NoError(tb, k8s.List(ctx, &list, client.InNamespace(ns)))
	require.Len(tb, list.Items, 1+fl.CRs)
	for _, oc := range list.Items {
		if oc.Name == warmUp.Name {
			continue
		}
		require.True(tb, meta.IsStatusConditionTrue(oc.Status.Conditions, v1alpha1.ConditionReady), "%s is Ready", oc.Name)
		require.EqualValues(tb, fl.VMsPerCR, oc.Status.Nodes, "%s nodes", oc.Name)
	}

	// Two more passes of every CR with nothing changed, each triggered by
	// an annotation (it passes the operator's predicate, the spec stays the
	// same). The first turns Ready's reason from Synced to NoChange; the
	// second has nothing but the time to write.
	for i, poke := range []*[2]int{&res.FirstUnchanged, &res.NextUnchanged} {
		reconciles, writes := reconcileTotal(tb), api.writes()
		passes := histogramCount(tb, reg, "multinic_sync_pass_duration_seconds")
		parallel(configs, func(oc *v1alpha1.OpenstackConfig) error {
			patch := fmt.Appendf(nil, `{"metadata":{"annotations":{"bench.multinic.example.com/poke":"%d"}}}`, i)
			return k8s.Patch(ctx, oc, client.RawPatch(types.MergePatchType, patch))
		})
		require.Eventually(tb, func() bool { return reconcileTotal(tb) >= reconciles+fl.CRs }, 5*time.Minute, 20*time.Millisecond,
			"one more reconcile of every CR")
		poke[0] = histogramCount(tb, reg, "multinic_sync_pass_duration_seconds") - passes
		poke[1] = api.writes() - writes
	}
	res.PeakHeapInuse, res.PeakRSS = sampler.stop()
	var settled runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&settled)
	res.LiveHeapGrowth = int64(settled.HeapInuse) - int64(before.HeapInuse)
	// No pass pruned the records of another CR of its routing key.
	require.Len(tb, store.List(inventory.Filter{}), fl.CRs*fl.VMsPerCR, "inventory records")
	return res
}

// report prints a run's figures as benchmark metrics.
func (r fleetResult) report(b *testing.B, crs int) {
	perCR := func(n int) float64 { return float64(n) / float64(crs) }
	b.ReportMetric(r.Ready.Seconds(), "s-all-ready")
	b.ReportMetric(perCR(r.Passes), "passes/CR")
	b.ReportMetric(float64(r.MeanPass.Microseconds())/1000, "ms/pass")
	b.ReportMetric(perCR(r.ContrabassRequests), "contrabass-req/CR")
	for dep, n := range r.Requests {
		if dep != "contrabass" {
			b.ReportMetric(perCR(n), dep+"-req/CR")
		}
	}
	b.ReportMetric(perCR(r.APIWrites), "apiserver-writes/CR")
	b.ReportMetric(perCR(r.FirstUnchanged[1]), "apiserver-writes/first-unchanged-pass")
	b.ReportMetric(perCR(r.NextUnchanged[1]), "apiserver-writes/next-unchanged-pass")
	b.ReportMetric(float64(r.Inventory.Bytes)/float64(max(r.InventorySize, 1)), "inventory-bytes/inventory-size")
	b.ReportMetric(float64(r.Inventory.Files), "inventory-writes")
	b.ReportMetric(float64(r.InventorySize)/1e6, "inventory-MB")
	b.ReportMetric(float64(r.AllocBytes)/1e6, "alloc-MB")
	b.ReportMetric(float64(r.Allocs)/1e6, "allocs-M")
	b.ReportMetric(float64(r.PeakHeapInuse)/1e6, "peak-heap-MB")
	b.ReportMetric(float64(r.PeakRSS)/1e6, "peak-rss-MB")
	b.ReportMetric(float64(r.BaseHeapInuse)/1e6, "base-heap-MB")
	b.ReportMetric(float64(r.BaseRSS)/1e6, "base-rss-MB")
	b.ReportMetric(float64(r.LiveHeapGrowth)/1e6, "live-heap-growth-MB")
}

// BenchmarkFleet times a fleet of new CRs until all are Ready. Run it with
// -benchtime=1x: each iteration is a whole fleet.
func BenchmarkFleet(b *testing.B) {
	for _, fl := range []fleet{
		{CRs: 100, VMsPerCR: 20, Workers: defaultWorkers()},
		{CRs: 1000, VMsPerCR: 10, Workers: defaultWorkers()},
		{CRs: 1000, VMsPerCR: 10, Workers: defaultWorkers(), SharedRoutingKey: true},
	} {
		b.Run(fl.name(), func(b *testing.B) { benchFleet(b, fl) })
	}
}

// BenchmarkFleetWorkers compares --max-concurrent-reconciles values.
func BenchmarkFleetWorkers(b *testing.B) {
	for _, size := range []fleet{{CRs: 100, VMsPerCR: 20}, {CRs: 1000, VMsPerCR: 10}} {
		for _, workers := range []int{4, 8, 16, 32} {
			fl := size
			fl.Workers = workers
			b.Run(fl.name(), func(b *testing.B) { benchFleet(b, fl) })
		}
	}
}

func (fl fleet) name() string {
	key := "keys=per-cr"
	if fl.SharedRoutingKey {
		key = "keys=shared"
	}
	return fmt.Sprintf("crs=%d/vms=%d/workers=%d/%s", fl.CRs, fl.VMsPerCR, fl.Workers, key)
}

func benchFleet(b *testing.B, fl fleet) {
	for b.Loop() {
		fl.run(b).report(b, fl.CRs)
	}
}

// defaultWorkers is the operator's --max-concurrent-reconciles default.
func defaultWorkers() int { return controller.DefaultMaxConcurrentReconciles }

// TestFleetSmall runs a tiny fleet through the benchmark's code, so it
// cannot rot, and holds the operator to one pass per new CR and to no
// status write for a pass that changed nothing.
func TestFleetSmall(t *testing.T) {
	for _, shared := range []bool{false, true} {
		fl := fleet{CRs: 5, VMsPerCR: 3, Workers: 2, SharedRoutingKey: shared}
		t.Run(fl.name(), func(t *testing.T) {
			res := fl.run(t)
			assert.Equal(t, fl.CRs, res.Passes, "one pass per new CR")
			assert.Equal(t, fl.CRs, res.ContrabassRequests, "one Contrabass request per new CR")
			assert.Equal(t, [2]int{fl.CRs, fl.CRs}, res.FirstUnchanged, "one pass per poke, and one status write: Ready's reason is NoChange now")
			assert.Equal(t, [2]int{fl.CRs, 0}, res.NextUnchanged, "one pass per poke, and nothing to write within the fast window")
			assert.Positive(t, res.Inventory.Bytes)
			if !shared {
				// Each new CR's pass writes its own key's shard once; with one
				// key every pass rewrites the shared shard, bounded only by
				// group commit.
				assert.LessOrEqual(t, res.Inventory.Bytes, 2*res.InventorySize, "inventory bytes written in the first round")
			}
			assert.Positive(t, res.PeakRSS)
		})
	}
}

// inventorySize is the size of the inventory at path: the file and every
// file in the shard directory beside it.
func inventorySize(tb testing.TB, path string) int64 {
	tb.Helper()
	info, err := os.Stat(path)
	require.NoError(tb, err)
	size := info.Size()
	entries, err := os.ReadDir(path + ".d")
	require.NoError(tb, err)
	for _, e := range entries {
		info, err := e.Info()
		require.NoError(tb, err)
		size += info.Size()
	}
	return size
}

// removeConfigs deletes a test's CRs, finalizers and all, so no other
// test's manager picks them up.
func removeConfigs(configs []*v1alpha1.OpenstackConfig) {
	ctx := context.Background()
	parallel(configs, func(oc *v1alpha1.OpenstackConfig) error {
		var latest v1alpha1.OpenstackConfig
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(oc), &latest); err != nil {
			// Gone already is done; anything else would leave it to
			// another test's manager.
			return client.IgnoreNotFound(err)
		}
		latest.Finalizers = nil
		_ = k8s.Update(ctx, &latest)
		return client.IgnoreNotFound(k8s.Delete(ctx, &latest))
	})
}

// parallel runs fn for every CR, eight at a time, panicking on the first
// error: the fleet cannot be measured half created.
func parallel(configs []*v1alpha1.OpenstackConfig, fn func(*v1alpha1.OpenstackConfig) error) {
	work := make(chan *v1alpha1.OpenstackConfig)
	var wg sync.WaitGroup
	errs := make(chan error, len(configs))
	for range 8 {
		wg.Go(func() {
			for oc := range work {
				if err := fn(oc); err != nil {
					errs <- fmt.Errorf("%s: %w", oc.Name, err)
				}
			}
		})
	}
	for _, oc := range configs {
		work <- oc
	}
	close(work)
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		panic(err)
	}
}

// apiCounter counts the operator's requests to the API server, and which
// CRs got a status written that says Ready.
type apiCounter struct {
	mu       sync.Mutex
	byKind   map[string]int
	ready    map[string]bool
	readyNow chan struct{} // closed and replaced whenever ready grows
}

func newAPICounter() *apiCounter {
	return &apiCounter{byKind: map[string]int{}, ready: map[string]bool{}, readyNow: make(chan struct{})}
}

func (c *apiCounter) wrap(rt http.RoundTripper) http.RoundTripper {
	return roundTripper(func(req *http.Request) (*http.Response, error) {
		resp, err := rt.RoundTrip(req)
		c.count(req, resp, err)
		return resp, err
	})
}

func (c *apiCounter) count(req *http.Request, resp *http.Response, err error) {
	resource, name, sub := apiPath(req.URL.Path)
	kind := req.Method + " " + resource
	if sub != "" {
		kind += "/" + sub
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if os.Getenv("FLEET_TRACE") != "" {
		fmt.Fprintf(os.Stderr, "%s %s %s %s\n", time.Now().Format("15:04:05.000"), kind, name, req.URL.RawQuery)
	}
	c.byKind[kind]++
	// A status write that went through: the reconciler writes one at the
	// end of every pass that changes it, and the first pass of a CR with
	// no faults sets Ready.
	if err == nil && resp.StatusCode == http.StatusOK && resource == "openstackconfigs" && sub == "status" && req.Method == http.MethodPut && !c.ready[name] {
		c.ready[name] = true
		close(c.readyNow)
		c.readyNow = make(chan struct{})
	}
}

// writes is how many requests changed something on the API server.
func (c *apiCounter) writes() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for kind, count := range c.byKind {
		switch strings.SplitN(kind, " ", 2)[0] {
		case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
			n += count
		}
	}
	return n
}

// waitReady waits until n CRs had their status written.
func (c *apiCounter) waitReady(ctx context.Context, n int, timeout time.Duration) error {
	deadline := time.After(timeout)
	for {
		c.mu.Lock()
		got, grew := len(c.ready), c.readyNow
		c.mu.Unlock()
		if got >= n {
			return nil
		}
		select {
		case <-grew:
		case <-deadline:
			return fmt.Errorf("%d of %d CRs Ready after %s", got, n, timeout)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// apiPath splits an API path (/api/v1/namespaces/ns/secrets/name,
// /apis/g/v/namespaces/ns/openstackconfigs/name/status) into its resource,
// object name and subresource.
func apiPath(path string) (resource, name, sub string) {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	if i := indexOf(parts, "namespaces"); i >= 0 && i+2 < len(parts) {
		parts = parts[i+2:]
	} else if len(parts) > 0 && parts[0] == "apis" && len(parts) >= 3 {
		parts = parts[3:]
	} else if len(parts) >= 2 {
		parts = parts[2:]
	}
	for i, p := range []*string{&resource, &name, &sub} {
		if i < len(parts) {
			*p = parts[i]
		}
	}
	return resource, name, sub
}

func indexOf(parts []string, s string) int {
	for i, p := range parts {
		if p == s {
			return i
		}
	}
	return -1
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// histogramCount is the sample count of the named histogram in reg.
func histogramCount(tb testing.TB, reg prometheus.Gatherer, name string) int {
	n, _ := histogram(tb, reg, name)
	return n
}

// histogram is the sample count and sum of the named histogram in reg.
func histogram(tb testing.TB, reg prometheus.Gatherer, name string) (count int, sum float64) {
	tb.Helper()
	families, err := reg.Gather()
	require.NoError(tb, err)
	for _, f := range families {
		if f.GetName() == name {
			for _, m := range f.GetMetric() {
				count += int(m.GetHistogram().GetSampleCount())
				sum += m.GetHistogram().GetSampleSum()
			}
		}
	}
	return count, sum
}

// reconcileTotal counts finished reconciles of the operator's controller;
// controller-runtime keeps it in its process-wide registry, and only one
// manager runs at a time in these tests.
func reconcileTotal(tb testing.TB) int {
	tb.Helper()
	families, err := crmetrics.Registry.Gather()
	require.NoError(tb, err)
	n := 0
	for _, f := range families {
		if f.GetName() != "controller_runtime_reconcile_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			if labelValue(m, "controller") == "openstackconfig" {
				n += int(m.GetCounter().GetValue())
			}
		}
	}
	return n
}

func labelValue(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// memSampler keeps the peak heap in use and resident set of this process.
type memSampler struct {
	done          chan struct{}
	stopped       chan struct{}
	heap, rss     uint64
	sampleOnceNow func()
}

func startMemSampler() *memSampler {
	s := &memSampler{done: make(chan struct{}), stopped: make(chan struct{})}
	s.sampleOnceNow = func() {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		s.heap = max(s.heap, ms.HeapInuse)
		s.rss = max(s.rss, vmRSS())
	}
	go func() {
		defer close(s.stopped)
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		for {
			s.sampleOnceNow()
			select {
			case <-tick.C:
			case <-s.done:
				return
			}
		}
	}()
	return s
}

func (s *memSampler) stop() (heap, rss uint64) {
	close(s.done)
	<-s.stopped
	s.sampleOnceNow()
	return s.heap, s.rss
}

// vmRSS is this process's resident set from /proc/self/status; 0 where
// there is no /proc.
func vmRSS() uint64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb * 1024
		}
	}
	return 0
}
