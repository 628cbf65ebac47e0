// Package testapi is the Viola test API (SPEC §6): a small server that takes
// the node configs the operator POSTs to Viola and applies each one to a
// Kubernetes cluster as a MultiNicNodeConfig (SPEC §7) with server-side
// apply, and deletes one on DELETE, so the whole chain can run without the
// real Viola.
package testapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/multinic/multinic/viola"
	"github.com/multinic/multinic/viola/testapi/api/v1alpha1"
)

// Defaults for the zero values of Options.
const (
	DefaultNamespace    = "multinic-system"
	DefaultFieldManager = "viola-test-api"
	// DefaultMaxBodyBytes is far above a full batch from the operator (250
	// nodes of 10 interfaces is under 1 MiB).
	DefaultMaxBodyBytes = 8 << 20
)

// HealthzPath answers 200 while the process serves HTTP. It does not reach
// the clusters: an unreachable Biz cluster should fail POSTs, not restart
// the pod.
const HealthzPath = "/healthz"

// Options configures NewHandler.
type Options struct {
	// Router picks the cluster per x-provider-id. Required.
	Router Router
	// Namespace receives the MultiNicNodeConfig objects. Zero means
	// DefaultNamespace.
	Namespace string
	// FieldManager is the server-side apply manager name. Zero means
	// DefaultFieldManager.
	FieldManager string
	// MaxBodyBytes bounds a request body; larger ones get 413. Zero means
	// DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// Logger records each POST. Nil means slog.Default().
	Logger *slog.Logger
}

// Response is the JSON body of every node-config answer.
type Response struct {
	// Error says what went wrong; empty on success.
	Error string `json:"error,omitempty"`
	// Applied counts the objects applied by this request, also on failure.
	Applied int `json:"applied"`
	// Output has one kubectl-style line per applied object.
	Output string `json:"output,omitempty"`
	// Cluster names where the objects went, once routing succeeded.
	Cluster string `json:"cluster,omitempty"`
	// Failed is the object whose apply failed (namespace/name).
	Failed string `json:"failed,omitempty"`
	// NotAttempted lists the objects after Failed, which were not applied.
	NotAttempted []string `json:"notAttempted,omitempty"`
}

type handler struct {
	opts Options
	log  *slog.Logger
}

// NewHandler serves POST /v1/k8s/multinic/node-configs,
// DELETE /v1/k8s/multinic/node-configs/{nodeName} and GET /healthz.
func NewHandler(opts Options) (http.Handler, error) {
	if opts.Router == nil {
		return nil, errors.New("testapi: Options.Router is required")
	}
	if opts.MaxBodyBytes < 0 {
		return nil, fmt.Errorf("testapi: Options.MaxBodyBytes must not be negative, got %d", opts.MaxBodyBytes)
	}
	if opts.Namespace == "" {
		opts.Namespace = DefaultNamespace
	}
	if opts.FieldManager == "" {
		opts.FieldManager = DefaultFieldManager
	}
	if opts.MaxBodyBytes == 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	h := &handler{opts: opts, log: opts.Logger}
	if h.log == nil {
		h.log = slog.Default()
	}
	mux := http.NewServeMux()
	mux.HandleFunc(HealthzPath, serveHealthz)
	mux.HandleFunc(viola.NodeConfigsPath, h.serveNodeConfigs)
	mux.HandleFunc(viola.NodeConfigsPath+"/{nodeName}", h.serveNodeConfig)
	return mux, nil
}

func serveHealthz(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed: use GET", http.StatusMethodNotAllowed)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = io.WriteString(w, "ok\n")
}

func (h *handler) serveNodeConfigs(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeJSON(w, http.StatusMethodNotAllowed, Response{Error: fmt.Sprintf("method %s not allowed: use POST", r.Method)})
		return
	}
	providerID := r.Header.Get(viola.ProviderIDHeader)
	if providerID == "" {
		h.reject(w, http.StatusBadRequest, providerID, fmt.Errorf("missing or empty %s header: it names the Biz cluster to apply into", viola.ProviderIDHeader))
		return
	}
	if mediaType, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mediaType != "application/json" {
		h.reject(w, http.StatusUnsupportedMediaType, providerID, fmt.Errorf("Content-Type must be application/json, got %q", r.Header.Get("Content-Type")))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.opts.MaxBodyBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			h.reject(w, http.StatusRequestEntityTooLarge, providerID, fmt.Errorf("body exceeds %d bytes", tooLarge.Limit))
			return
		}
		h.reject(w, http.StatusBadRequest, providerID, fmt.Errorf("read body: %w", err))
		return
	}
	configs, err := decodeConfigs(body)
	if err != nil {
		h.reject(w, http.StatusBadRequest, providerID, err)
		return
	}
	objects, err := h.objects(configs, providerID)
	if err != nil {
		h.reject(w, http.StatusBadRequest, providerID, err)
		return
	}
	cluster, err := h.opts.Router.Route(providerID)
	if err != nil {
		status := http.StatusInternalServerError
		if _, unknown := errors.AsType[*UnknownProviderError](err); unknown {
			status = http.StatusBadRequest
		}
		h.reject(w, status, providerID, err)
		return
	}
	h.apply(w, r, cluster, providerID, objects)
}

// objects converts and checks every config before anything is applied, so
// a bad payload changes nothing. All problems are reported at once.
func (h *handler) objects(configs []viola.NodeConfig, providerID string) ([]*v1alpha1.MultiNicNodeConfig, error) {
	if len(configs) == 0 {
		return nil, errors.New("body holds no node configs")
	}
	var errs []string
	objects := make([]*v1alpha1.MultiNicNodeConfig, 0, len(configs))
	byName := make(map[string]int, len(configs))
	for i, config := range configs {
		obj, err := NewObject(config, providerID, h.opts.Namespace)
		if err != nil {
			errs = append(errs, fmt.Sprintf("configs[%d]: %v", i, oneLine(err)))
			continue
		}
		// Two configs of one node would overwrite each other, and which one
		// wins would depend on the order of the payload.
		if first, seen := byName[obj.Name]; seen {
			errs = append(errs, fmt.Sprintf("configs[%d]: node %q is also configs[%d]; send one config per node", i, config.NodeName, first))
			continue
		}
		byName[obj.Name] = i
		objects = append(objects, obj)
	}
	if len(errs) > 0 {
		return nil, errors.New(strings.Join(errs, "; "))
	}
	return objects, nil
}

// apply applies objects in order and stops at the first failure: the
// answer lists what was applied, what failed and what was not attempted,
// and a retry of the whole batch is safe because apply is idempotent.
func (h *handler) apply(w http.ResponseWriter, r *http.Request, cluster Cluster, providerID string, objects []*v1alpha1.MultiNicNodeConfig) {
	resource := cluster.Client.Resource(v1alpha1.Resource).Namespace(h.opts.Namespace)
	var output strings.Builder
	for i, obj := range objects {
		body, err := applyObject(obj)
		if err == nil {
			// Force: the Viola payload is the source of truth for the spec,
			// so a field someone changed by hand is taken back rather than
			// failing every later sync with a conflict.
			_, err = resource.Apply(r.Context(), obj.Name, body, metav1.ApplyOptions{FieldManager: h.opts.FieldManager, Force: true})
		}
		if err != nil {
			ref := obj.Namespace + "/" + obj.Name
			notAttempted := make([]string, 0, len(objects)-i-1)
			for _, rest := range objects[i+1:] {
				notAttempted = append(notAttempted, rest.Namespace+"/"+rest.Name)
			}
			resp := Response{
				Error: fmt.Sprintf("apply %s %s (node %q) to cluster %q: %v; %d of %d applied before it, %d not attempted",
					v1alpha1.Kind, ref, obj.Spec.NodeName, cluster.Name, err, i, len(objects), len(notAttempted)),
				Applied:      i,
				Output:       output.String(),
				Cluster:      cluster.Name,
				Failed:       ref,
				NotAttempted: notAttempted,
			}
			h.log.Error("apply failed", "providerID", providerID, "cluster", cluster.Name, "object", ref, "applied", i, "total", len(objects), "err", err)
			writeJSON(w, http.StatusInternalServerError, resp)
			return
		}
		fmt.Fprintf(&output, "multinicnodeconfig.multinic.io/%s serverside-applied\n", obj.Name)
	}
	h.log.Info("applied node configs", "providerID", providerID, "cluster", cluster.Name, "namespace", h.opts.Namespace, "applied", len(objects))
	writeJSON(w, http.StatusOK, Response{Applied: len(objects), Output: output.String(), Cluster: cluster.Name})
}

// serveNodeConfig deletes the MultiNicNodeConfig of one node: 204 when it
// was deleted, 404 when the cluster holds none for this provider ID. The
// node agent sees the deletion and cleans the node up.
func (h *handler) serveNodeConfig(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodDelete {
		w.Header().Set("Allow", http.MethodDelete)
		writeJSON(w, http.StatusMethodNotAllowed, Response{Error: fmt.Sprintf("method %s not allowed: use DELETE", r.Method)})
		return
	}
	providerID := r.Header.Get(viola.ProviderIDHeader)
	if providerID == "" {
		h.reject(w, http.StatusBadRequest, providerID, fmt.Errorf("missing or empty %s header: it names the Biz cluster to delete from", viola.ProviderIDHeader))
		return
	}
	name, err := ObjectName(r.PathValue("nodeName"))
	if err != nil {
		h.reject(w, http.StatusBadRequest, providerID, err)
		return
	}
	cluster, err := h.opts.Router.Route(providerID)
	if err != nil {
		status := http.StatusInternalServerError
		if _, unknown := errors.AsType[*UnknownProviderError](err); unknown {
			status = http.StatusBadRequest
		}
		h.reject(w, status, providerID, err)
		return
	}
	ref := h.opts.Namespace + "/" + name
	resource := cluster.Client.Resource(v1alpha1.Resource).Namespace(h.opts.Namespace)
	obj, err := resource.Get(r.Context(), name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		writeJSON(w, http.StatusNotFound, Response{Error: fmt.Sprintf("%s %s not found in cluster %q", v1alpha1.Kind, ref, cluster.Name), Cluster: cluster.Name})
		return
	case err != nil:
		h.reject(w, http.StatusInternalServerError, providerID, fmt.Errorf("read %s %s in cluster %q: %w", v1alpha1.Kind, ref, cluster.Name, err))
		return
	case obj.GetLabels()[LabelProviderID] != LabelValue(providerID):
		// Several provider IDs may share a cluster: one never removes
		// another's node.
		writeJSON(w, http.StatusNotFound, Response{Error: fmt.Sprintf("%s %s in cluster %q belongs to provider label %q, not %q", v1alpha1.Kind, ref, cluster.Name, obj.GetLabels()[LabelProviderID], LabelValue(providerID)), Cluster: cluster.Name})
		return
	}
	// The UID precondition deletes the object that was checked, not one
	// re-created in between.
	uid := obj.GetUID()
	err = resource.Delete(r.Context(), name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}})
	switch {
	case apierrors.IsNotFound(err), apierrors.IsConflict(err):
		writeJSON(w, http.StatusNotFound, Response{Error: fmt.Sprintf("%s %s was deleted or replaced meanwhile", v1alpha1.Kind, ref), Cluster: cluster.Name})
		return
	case err != nil:
		h.reject(w, http.StatusInternalServerError, providerID, fmt.Errorf("delete %s %s in cluster %q: %w", v1alpha1.Kind, ref, cluster.Name, err))
		return
	}
	h.log.Info("deleted node config", "providerID", providerID, "cluster", cluster.Name, "object", ref)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusNoContent)
}

func (h *handler) reject(w http.ResponseWriter, status int, providerID string, err error) {
	h.log.Warn("rejected node configs", "status", status, "providerID", providerID, "err", err)
	writeJSON(w, status, Response{Error: err.Error()})
}

// decodeConfigs accepts exactly one JSON array of node-config objects and
// names the index of the first element that is not one.
func decodeConfigs(raw []byte) ([]viola.NodeConfig, error) {
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) == 0 || trimmed[0] != '[' {
		return nil, errors.New("body must be a JSON array of node configs")
	}
	var items []json.RawMessage
	if err := json.Unmarshal(trimmed, &items); err != nil {
		return nil, fmt.Errorf("body is not a valid JSON array: %w", err)
	}
	configs := make([]viola.NodeConfig, len(items))
	for i, item := range items {
		if item = bytes.TrimSpace(item); len(item) == 0 || item[0] != '{' {
			return nil, fmt.Errorf("configs[%d] must be a JSON object, got %.40s", i, item)
		}
		if err := json.Unmarshal(item, &configs[i]); err != nil {
			return nil, fmt.Errorf("configs[%d]: %w", i, err)
		}
	}
	return configs, nil
}

// oneLine keeps errors.Join's newlines out of a one-line JSON message.
func oneLine(err error) string {
	return strings.ReplaceAll(err.Error(), "\n", "; ")
}

func writeJSON(w http.ResponseWriter, status int, body Response) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}
