package testapi

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/yaml"

	"github.com/multinic/multinic/viola"
)

// Cluster is a Kubernetes API server node configs are applied into.
type Cluster struct {
	// Name identifies the cluster in responses and logs, e.g. "default" or
	// the kubeconfig path it came from. It never holds credentials.
	Name   string
	Client dynamic.Interface
}

// Router picks the cluster for an x-provider-id (one Biz cluster each).
type Router interface {
	// Route returns the cluster for providerID, or an *UnknownProviderError
	// when providerID must be refused.
	Route(providerID string) (Cluster, error)
}

// UnknownProviderError is a provider ID that a strict router has no cluster
// for; the handler answers it with 400.
type UnknownProviderError struct {
	ProviderID string
}

func (e *UnknownProviderError) Error() string {
	return fmt.Sprintf("%s %q is not in the routing file, and strict routing refuses unknown provider IDs", viola.ProviderIDHeader, e.ProviderID)
}

// ClusterConfig is a named connection to a cluster. Tests pass the
// rest.Config of an in-process API server; the program loads kubeconfigs.
type ClusterConfig struct {
	Name   string
	Config *rest.Config
}

// Routes is a routing table.
type Routes struct {
	// Default receives every provider ID not in Providers. It may be nil
	// only when Strict is set, since then it is never used.
	Default *ClusterConfig
	// Providers maps an x-provider-id to its own cluster.
	Providers map[string]ClusterConfig
	// Strict refuses provider IDs not in Providers instead of sending them
	// to Default, so a typo cannot write into the wrong Biz cluster.
	Strict bool
}

// Client-side rate limit per cluster, for configs that do not set one.
const (
	clientQPS   = 100
	clientBurst = 200
)

type router struct {
	fallback  *Cluster
	providers map[string]Cluster
	strict    bool
}

// NewRouter builds one client per cluster of routes, up front, so a bad
// config fails at start-up rather than on the first POST.
func NewRouter(routes Routes) (Router, error) {
	r := &router{providers: make(map[string]Cluster, len(routes.Providers)), strict: routes.Strict}
	if routes.Default == nil && !routes.Strict {
		return nil, errors.New("routing: a default cluster is required unless routing is strict")
	}
	if routes.Default != nil && !routes.Strict {
		cluster, err := newCluster(*routes.Default)
		if err != nil {
			return nil, fmt.Errorf("routing: default cluster: %w", err)
		}
		r.fallback = &cluster
	}
	for providerID, config := range routes.Providers {
		if providerID == "" {
			return nil, errors.New("routing: a provider ID is empty")
		}
		cluster, err := newCluster(config)
		if err != nil {
			return nil, fmt.Errorf("routing: provider %q: %w", providerID, err)
		}
		r.providers[providerID] = cluster
	}
	return r, nil
}

func newCluster(config ClusterConfig) (Cluster, error) {
	if config.Config == nil {
		return Cluster{}, fmt.Errorf("cluster %q has no rest config", config.Name)
	}
	restConfig := rest.CopyConfig(config.Config)
	// client-go's default of 5 requests per second would stretch a batch of
	// 250 nodes (one apply each) to 50 s, past the operator's 30 s timeout
	// per attempt.
	if restConfig.QPS == 0 && restConfig.RateLimiter == nil {
		restConfig.QPS, restConfig.Burst = clientQPS, clientBurst
	}
	if restConfig.UserAgent == "" {
		restConfig.UserAgent = DefaultFieldManager
	}
	client, err := dynamic.NewForConfig(restConfig)
	if err != nil {
		return Cluster{}, fmt.Errorf("cluster %q: %w", config.Name, err)
	}
	return Cluster{Name: config.Name, Client: client}, nil
}

func (r *router) Route(providerID string) (Cluster, error) {
	if cluster, ok := r.providers[providerID]; ok {
		return cluster, nil
	}
	if r.strict {
		return Cluster{}, &UnknownProviderError{ProviderID: providerID}
	}
	return *r.fallback, nil
}

// RoutingFile is the YAML routing file of the program:
//
//	strict: true
//	providers:
//	  biz-a: /etc/viola/biz-a.kubeconfig
//	  biz-b: biz-b.kubeconfig   # relative to the routing file
type RoutingFile struct {
	// Strict is the file's strict setting; nil when the file leaves it out.
	Strict *bool `json:"strict,omitempty"`
	// Providers maps an x-provider-id to a kubeconfig path.
	Providers map[string]string `json:"providers"`

	dir string
}

// LoadRoutingFile reads and checks a routing file. Unknown keys are errors,
// so a misspelt "provider:" cannot silently route everything to the default.
func LoadRoutingFile(path string) (RoutingFile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return RoutingFile{}, fmt.Errorf("routing file: %w", err)
	}
	var file RoutingFile
	if err := yaml.UnmarshalStrict(data, &file); err != nil {
		return RoutingFile{}, fmt.Errorf("routing file %s: %w", path, err)
	}
	for providerID, kubeconfig := range file.Providers {
		if providerID == "" {
			return RoutingFile{}, fmt.Errorf("routing file %s: providers has an empty provider ID", path)
		}
		if kubeconfig == "" {
			return RoutingFile{}, fmt.Errorf("routing file %s: providers.%s has no kubeconfig path", path, providerID)
		}
	}
	file.dir = filepath.Dir(path)
	return file, nil
}

// Routes loads the kubeconfig of every provider in the file. Relative paths
// are taken from the routing file's directory, so a mounted ConfigMap and
// its kubeconfigs can sit side by side. strict is the file's setting unless
// overridden is non-nil.
func (f RoutingFile) Routes(fallback *ClusterConfig, overrideStrict *bool) (Routes, error) {
	routes := Routes{Default: fallback, Providers: make(map[string]ClusterConfig, len(f.Providers))}
	if f.Strict != nil {
		routes.Strict = *f.Strict
	}
	if overrideStrict != nil {
		routes.Strict = *overrideStrict
	}
	ids := make([]string, 0, len(f.Providers))
	for id := range f.Providers {
		ids = append(ids, id)
	}
	sort.Strings(ids) // the first failing provider is the same on every start
	for _, id := range ids {
		path := f.Providers[id]
		if !filepath.IsAbs(path) && f.dir != "" {
			path = filepath.Join(f.dir, path)
		}
		config, err := LoadKubeconfig(path)
		if err != nil {
			return Routes{}, fmt.Errorf("routing file: provider %q: %w", id, err)
		}
		routes.Providers[id] = config
	}
	return routes, nil
}

// LoadKubeconfig reads the current context of a kubeconfig file.
func LoadKubeconfig(path string) (ClusterConfig, error) {
	config, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		return ClusterConfig{}, fmt.Errorf("kubeconfig %s: %w", path, err)
	}
	return ClusterConfig{Name: "kubeconfig " + path, Config: config}, nil
}

// InClusterConfig is the pod's own cluster, through its service account.
func InClusterConfig() (ClusterConfig, error) {
	config, err := rest.InClusterConfig()
	if err != nil {
		return ClusterConfig{}, fmt.Errorf("in-cluster config (set --kubeconfig when running outside a pod): %w", err)
	}
	return ClusterConfig{Name: "in-cluster", Config: config}, nil
}
