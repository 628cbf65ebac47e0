package controller_test

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/events"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/multinic/multinic/contrabass"
	"github.com/multinic/multinic/contrabass/contrabasstest"
	"github.com/multinic/multinic/internal/testenv"
	"github.com/multinic/multinic/inventory"
	"github.com/multinic/multinic/multinic"
	"github.com/multinic/multinic/multinic/multinictest"
	"github.com/multinic/multinic/openstack"
	"github.com/multinic/multinic/openstack/openstacktest"
	"github.com/multinic/multinic/operator/api/v1alpha1"
	"github.com/multinic/multinic/operator/controller"
	"github.com/multinic/multinic/operator/crconfig"
	"github.com/multinic/multinic/viola"
)

var (
	restConfig *rest.Config
	k8s        client.Client
	scheme     = runtime.NewScheme()
	nsCounter  atomic.Int32
)

func TestMain(m *testing.M) {
	flag.Parse()
	// Tests that read logs give the manager their own logger; everything
	// else is quiet, rather than controller-runtime printing a stack trace
	// because no logger was ever set (long benchmarks reach its 30 s check).
	ctrl.SetLogger(logr.Discard())
	if fuzzing() {
		// Every fuzz worker runs TestMain: an API server each would swamp
		// the machine, and FuzzSyncConfig needs none. Use -run '^$'.
		os.Exit(m.Run())
	}
	crds, err := testenv.CRDDir()
	if err != nil {
		panic(err)
	}
	env, cfg, err := testenv.Start(crds)
	if err != nil {
		panic(err)
	}
	restConfig = cfg
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, v1alpha1.AddToScheme} {
		if err := add(scheme); err != nil {
			panic(err)
		}
	}
	k8s, err = client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		panic(err)
	}
	code := m.Run()
	_ = env.Stop()
	os.Exit(code)
}

func fuzzing() bool {
	for _, name := range []string{"test.fuzz", "test.fuzzworker"} {
		if f := flag.Lookup(name); f != nil && f.Value.String() != "" && f.Value.String() != "false" {
			return true
		}
	}
	return false
}

// fixture is one test's world: a namespace on the real API server, the
// fakes, an inventory file, a fake clock and a reconciler wired to them.
type fixture struct {
	t          *testing.T
	ns         string
	env        *multinictest.Env
	sample     multinictest.Sample
	store      *inventory.Store
	clock      *clocktesting.FakeClock
	events     *events.FakeRecorder
	reconciler *controller.Reconciler
}

var t0 = time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	f := &fixture{t: t, ns: fmt.Sprintf("test-%d", nsCounter.Add(1)), clock: clocktesting.NewFakeClock(t0), events: events.NewFakeRecorder(100)}
	require.NoError(t, k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: f.ns}}))
	f.env = multinictest.NewEnv()
	t.Cleanup(f.env.Close)
	f.sample = f.env.AddSample()
	var err error
	f.store, err = inventory.Open(filepath.Join(t.TempDir(), "inventory.json"))
	require.NoError(t, err)
	const wait = time.Millisecond
	f.reconciler = &controller.Reconciler{
		Client:    k8s,
		APIReader: k8s,
		Recorder:  f.events,
		Syncer:    new(multinic.Syncer),
		Inventory: f.store,
		Clock:     f.clock,
		Defaults: crconfig.Defaults{
			Contrabass: contrabass.Options{RetryWaitMin: wait, RetryWaitMax: wait},
			OpenStack:  openstack.Options{RetryWaitMin: wait, RetryWaitMax: wait},
			Viola:      viola.Options{Endpoint: f.env.Viola.URL, RetryWaitMin: wait, RetryWaitMax: wait},
		},
	}
	return f
}

// config is a valid CR for the sample; the key comes from the CR's settings
// unless a test moves it into a Secret. Its downPortGracePeriod is 0s, so
// the sample's DOWN port is sent at once and the tests of re-sends see it;
// the grace period's own tests set it.
func (f *fixture) config(name string) *v1alpha1.OpenstackConfig {
	return &v1alpha1.OpenstackConfig{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: f.ns},
		Spec: v1alpha1.OpenstackConfigSpec{
			Credentials: v1alpha1.Credentials{OpenstackProviderID: multinictest.ProviderID, ProjectID: multinictest.ProjectID},
			VMNames:     f.sample.VMIDs,
			SubnetIDs:   []string{f.sample.SubnetA, f.sample.SubnetB},
			Settings: v1alpha1.Settings{
				ContrabassEndpoint:   f.env.Contrabass.URL,
				ContrabassEncryptKey: multinictest.EncryptKey,
				DownPortGracePeriod:  "0s",
			},
		},
	}
}

// create makes the CR and removes it when the test ends: every test uses the
// same provider and VM IDs, and a CR left behind would claim them for the
// inventory pruning of the next test.
func (f *fixture) create(oc *v1alpha1.OpenstackConfig) *v1alpha1.OpenstackConfig {
	f.t.Helper()
	ctx := context.Background()
	require.NoError(f.t, k8s.Create(ctx, oc))
	cleanupConfig(f.t, client.ObjectKeyFromObject(oc))
	return oc
}

// cleanupConfig removes a CR, finalizer and all, when the test ends.
func cleanupConfig(t *testing.T, key client.ObjectKey) {
	t.Cleanup(func() {
		ctx := context.Background()
		var latest v1alpha1.OpenstackConfig
		if err := k8s.Get(ctx, key, &latest); err != nil {
			return
		}
		latest.Finalizers = nil
		_ = k8s.Update(ctx, &latest)
		_ = k8s.Delete(ctx, &latest)
	})
}

// runManager runs the fixture's reconciler in a real manager (with logger,
// when it has a sink) until the test ends. The channel closes if the
// manager stops early.
func (f *fixture) runManager(logger logr.Logger) <-chan struct{} {
	f.t.Helper()
	mgr, err := ctrl.NewManager(restConfig, ctrl.Options{
		Scheme:                 scheme,
		Logger:                 logger,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		// Controller names are process-global; -count=N runs this again.
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
	})
	require.NoError(f.t, err)
	f.reconciler.Client = mgr.GetClient()
	f.reconciler.APIReader = mgr.GetAPIReader()
	require.NoError(f.t, f.reconciler.SetupWithManager(mgr))
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	var runErr error
	go func() { defer close(stopped); runErr = mgr.Start(ctx) }()
	f.t.Cleanup(func() { cancel(); <-stopped; require.NoError(f.t, runErr) })
	return stopped
}

// ready reads the Ready condition of the named CR from the API server; nil
// until the operator wrote it.
func (f *fixture) ready(name string) *metav1.Condition {
	var got v1alpha1.OpenstackConfig
	if k8s.Get(context.Background(), client.ObjectKey{Namespace: f.ns, Name: name}, &got) != nil {
		return nil
	}
	return meta.FindStatusCondition(got.Status.Conditions, v1alpha1.ConditionReady)
}

func (f *fixture) reconcile(oc *v1alpha1.OpenstackConfig) reconcile.Result {
	f.t.Helper()
	res, err := f.reconciler.Reconcile(context.Background(), reconcile.Request{NamespacedName: client.ObjectKeyFromObject(oc)})
	require.NoError(f.t, err)
	return res
}

func (f *fixture) get(oc *v1alpha1.OpenstackConfig) *v1alpha1.OpenstackConfig {
	f.t.Helper()
	var got v1alpha1.OpenstackConfig
	require.NoError(f.t, k8s.Get(context.Background(), client.ObjectKeyFromObject(oc), &got))
	return &got
}

func (f *fixture) secret(name, key, value string) {
	f.t.Helper()
	require.NoError(f.t, k8s.Create(context.Background(), &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: f.ns},
		Data:       map[string][]byte{key: []byte(value)},
	}))
}

// drainEvents returns the events recorded so far.
func (f *fixture) drainEvents() []string {
	var out []string
	for {
		select {
		case e := <-f.events.Events:
			out = append(out, e)
		default:
			return out
		}
	}
}

// hostileKeystone answers every request with status and body, or hangs
// until the test ends when hang is set.
func hostileKeystone(t *testing.T, status int, body string, hang bool) string {
	t.Helper()
	done := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hang {
			select {
			case <-r.Context().Done():
			case <-done:
			}
			return
		}
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(func() { close(done); srv.Close() })
	return srv.URL
}

func (f *fixture) pointKeystoneAt(url string) {
	f.env.Contrabass.AddProvider(multinictest.ProviderID, contrabasstest.ProviderSpec{
		AdminID: openstacktest.DefaultUserName, AdminPassword: multinictest.AdminPassword,
		Domain: openstacktest.DefaultUserDomainName, KeystoneURL: url,
	})
}
