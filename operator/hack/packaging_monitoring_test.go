package hack

// The chart's alerts and dashboard against the operator's metrics: every
// PromQL expression must parse with Prometheus' own parser, and every metric
// it reads must be one the operator exports. A renamed metric or a typo in a
// rule would otherwise only show as an alert that never fires.

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/multinic/multinic/internal/testenv"
	"github.com/multinic/multinic/inventory"
	"github.com/multinic/multinic/multinic/multinictest"
	"github.com/multinic/multinic/operator/api/v1alpha1"
	"github.com/multinic/multinic/operator/controller"
	"github.com/multinic/multinic/operator/crconfig"
	"github.com/multinic/multinic/viola"
)

// notFromTheOperator are series Prometheus makes itself for every target.
var notFromTheOperator = []string{"up"}

// grafanaVariables are Grafana's built-in interval variables, replaced by a
// duration so the expression is plain PromQL; dashboard variables such as
// $namespace sit inside label values, which PromQL takes as they are.
var grafanaVariables = strings.NewReplacer("$__rate_interval", "5m", "$__interval", "1m", "$__range", "1h")

// labelValuesQuery is Grafana's label_values(<selector>, <label>) template query.
var labelValuesQuery = regexp.MustCompile(`^label_values\((.+),\s*[a-zA-Z_][a-zA-Z0-9_]*\)$`)

// monitoringExpressions renders the chart with the rules and the dashboard
// on, with default and with full values, and returns every expression by
// where it comes from.
func monitoringExpressions(t *testing.T) map[string]string {
	t.Helper()
	exprs := map[string]string{}
	for _, args := range [][]string{
		{"--set", "prometheusRule.enabled=true", "--set", "grafanaDashboard.enabled=true"},
		{"--values", chartFullValues},
	} {
		objs := chartTemplate(t, args...)
		for _, o := range objs {
			switch o.GetKind() {
			case "PrometheusRule":
				groups, _, err := unstructured.NestedSlice(o.Object, "spec", "groups")
				require.NoError(t, err)
				require.NotEmpty(t, groups)
				for _, g := range groups {
					for _, r := range g.(map[string]any)["rules"].([]any) {
						rule := r.(map[string]any)
						exprs["alert "+rule["alert"].(string)+" "+strings.Join(args, " ")] = rule["expr"].(string)
					}
				}
			case "ConfigMap":
				data, ok := o.Object["data"].(map[string]any)
				if !ok || data["multinic-operator.json"] == nil {
					continue
				}
				for where, e := range dashboardExpressions(t, data["multinic-operator.json"].(string)) {
					exprs["dashboard "+where] = e
				}
			}
		}
	}
	return exprs
}

// dashboardExpressions are the panel targets and the template queries of a
// Grafana dashboard (rows may nest panels).
func dashboardExpressions(t *testing.T, data string) map[string]string {
	t.Helper()
	type panel struct {
		Title   string `json:"title"`
		Targets []struct {
			Expr string `json:"expr"`
		} `json:"targets"`
		Panels []json.RawMessage `json:"panels"`
	}
	var dash struct {
		Panels     []json.RawMessage `json:"panels"`
		Templating struct {
			List []struct {
				Name  string          `json:"name"`
				Type  string          `json:"type"`
				Query json.RawMessage `json:"query"`
			} `json:"list"`
		} `json:"templating"`
	}
	require.NoError(t, json.Unmarshal([]byte(data), &dash), "the dashboard is JSON")
	out := map[string]string{}
	var walk func([]json.RawMessage)
	walk = func(raw []json.RawMessage) {
		for _, r := range raw {
			var p panel
			require.NoError(t, json.Unmarshal(r, &p))
			for i, target := range p.Targets {
				require.NotEmpty(t, target.Expr, "panel %q target %d", p.Title, i)
				out["panel "+p.Title+" #"+string(rune('A'+i))] = grafanaVariables.Replace(target.Expr)
			}
			walk(p.Panels)
		}
	}
	walk(dash.Panels)
	for _, v := range dash.Templating.List {
		if v.Type != "query" {
			continue
		}
		var q struct {
			Query string `json:"query"`
		}
		require.NoError(t, json.Unmarshal(v.Query, &q), "variable %s", v.Name)
		m := labelValuesQuery.FindStringSubmatch(q.Query)
		require.NotNil(t, m, "variable %s: only label_values(<selector>, <label>) queries are checked, got %q", v.Name, q.Query)
		out["variable "+v.Name] = m[1]
	}
	return out
}

// parsedExpr is one answer of operator/hack/tools/promql.
type parsedExpr struct {
	Expr    string   `json:"expr"`
	Metrics []string `json:"metrics"`
	Error   string   `json:"error"`
}

// parsePromQL runs the expressions through Prometheus' parser, in the
// separate module operator/hack/tools/promql (see its doc comment).
func parsePromQL(t *testing.T, exprs []string) []parsedExpr {
	t.Helper()
	in, err := json.Marshal(exprs)
	require.NoError(t, err)
	cmd := exec.Command("go", "run", ".")
	cmd.Dir = filepath.Join(pkgRepoRoot(t), "operator", "hack", "tools", "promql")
	cmd.Env = append(os.Environ(), "GOFLAGS=") // its own go.mod, not a -mod flag meant for ours
	cmd.Stdin = bytes.NewReader(in)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Run(), "operator/hack/tools/promql: %s", stderr.String())
	var out []parsedExpr
	require.NoError(t, json.Unmarshal(stdout.Bytes(), &out))
	require.Len(t, out, len(exprs))
	return out
}

// The parser tool itself must reject bad PromQL, or the test below proves
// nothing.
func TestPromQLToolRejectsBadExpressions(t *testing.T) {
	got := parsePromQL(t, []string{
		`sum by (dependency) (rate(multinic_dependency_requests_total{code=~"5xx"}[10m])) > 0.2`,
		`rate(multinic_nodes_sent_total[5m]`,
		`rates(multinic_nodes_sent_total[5m])`,
	})
	assert.Empty(t, got[0].Error)
	assert.Equal(t, []string{"multinic_dependency_requests_total"}, got[0].Metrics)
	assert.Contains(t, got[1].Error, "parse error")
	assert.Contains(t, got[2].Error, "unknown function")
}

// operatorMetricNames runs the operator's wiring (AddToManager, as main
// does) against a real API server and the fakes until one CR has synced,
// then returns every series name it exports, histogram suffixes included.
func operatorMetricNames(t *testing.T) map[string]bool {
	t.Helper()
	crds, err := testenv.CRDDir()
	require.NoError(t, err)
	env, cfg, err := testenv.Start(crds)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, env.Stop()) })
	scheme, err := crconfig.NewScheme()
	require.NoError(t, err)
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	require.NoError(t, err)

	fakes := multinictest.NewEnv()
	t.Cleanup(fakes.Close)
	sample := fakes.AddSample()
	store, err := inventory.Open(filepath.Join(t.TempDir(), "inventory.json"))
	require.NoError(t, err)

	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Controller:             config.Controller{SkipNameValidation: ptr.To(true)},
	})
	require.NoError(t, err)
	// main registers into controller-runtime's registry; a second registry
	// beside it keeps -count=N from registering the same series twice.
	own := prometheus.NewRegistry()
	_, err = controller.AddToManager(mgr, controller.OperatorOptions{
		Viola: viola.Options{Endpoint: fakes.Viola.URL}, Inventory: store, Registerer: own,
	})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	t.Cleanup(func() { cancel(); require.NoError(t, <-done) })

	require.NoError(t, c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team-a"}}))
	oc := &v1alpha1.OpenstackConfig{
		ObjectMeta: metav1.ObjectMeta{Name: "metrics", Namespace: "team-a"},
		Spec: v1alpha1.OpenstackConfigSpec{
			Credentials: v1alpha1.Credentials{OpenstackProviderID: multinictest.ProviderID, ProjectID: multinictest.ProjectID},
			VMNames:     sample.VMIDs,
			SubnetIDs:   []string{sample.SubnetA, sample.SubnetB},
			Settings:    v1alpha1.Settings{ContrabassEndpoint: fakes.Contrabass.URL, ContrabassEncryptKey: multinictest.EncryptKey},
		},
	}
	require.NoError(t, c.Create(ctx, oc))
	require.Eventually(t, func() bool {
		var got v1alpha1.OpenstackConfig
		if c.Get(ctx, client.ObjectKeyFromObject(oc), &got) != nil {
			return false
		}
		return meta.IsStatusConditionTrue(got.Status.Conditions, v1alpha1.ConditionReady)
	}, time.Minute, 50*time.Millisecond, "the CR syncs through the fakes")

	families, err := prometheus.Gatherers{crmetrics.Registry, own}.Gather()
	require.NoError(t, err)
	names := map[string]bool{}
	for _, f := range families {
		name := f.GetName()
		names[name] = true
		switch f.GetType() {
		case dto.MetricType_HISTOGRAM:
			names[name+"_bucket"], names[name+"_sum"], names[name+"_count"] = true, true, true
		case dto.MetricType_SUMMARY:
			names[name+"_sum"], names[name+"_count"] = true, true
		}
	}
	return names
}

func TestAlertsAndDashboardUseOperatorMetrics(t *testing.T) {
	exprs := monitoringExpressions(t)
	var where []string
	for w := range exprs {
		where = append(where, w)
	}
	slices.Sort(where)
	var list []string
	for _, w := range where {
		list = append(list, exprs[w])
	}
	// Five alerts (twice: default and full values), the panels and the
	// template variables: a render that lost them would pass vacuously.
	require.GreaterOrEqual(t, len(list), 25, "expressions found: %v", where)
	parsed := parsePromQL(t, list)

	exported := operatorMetricNames(t)
	for _, name := range []string{
		"multinic_openstackconfig_last_sync_timestamp_seconds", "multinic_openstackconfig_nodes_down",
		"multinic_inventory_write_errors_total", "multinic_sync_pass_duration_seconds_bucket",
		"controller_runtime_reconcile_total", "workqueue_depth",
	} {
		require.True(t, exported[name], "the registry lacks %s, which the pass must have produced", name)
	}
	used := map[string]bool{}
	for i, p := range parsed {
		if !assert.Empty(t, p.Error, "%s does not parse: %s", where[i], p.Expr) {
			continue
		}
		assert.NotEmpty(t, p.Metrics, "%s reads no metric: %s", where[i], p.Expr)
		for _, m := range p.Metrics {
			used[m] = true
			if slices.Contains(notFromTheOperator, m) {
				continue
			}
			assert.NotEmpty(t, m, "%s has a selector without a metric name", where[i])
			assert.True(t, exported[m], "%s reads %s, which the operator does not export", where[i], m)
		}
	}
	// Each per-CR series the alerts are built on is used somewhere.
	for _, m := range []string{
		"multinic_openstackconfig_last_sync_timestamp_seconds", "multinic_openstackconfig_created_timestamp_seconds",
		"multinic_dependency_requests_total", "multinic_openstackconfig_nodes_down", "multinic_inventory_write_errors_total",
	} {
		assert.True(t, used[m], "no alert or panel reads %s", m)
	}
}
