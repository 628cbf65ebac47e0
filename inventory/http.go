package inventory

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Routes served by NewHandler.
const (
	NodeConfigsPath = "/v1/inventory/node-configs"
	HealthzPath     = "/healthz"
)

// NewHandler serves store read-only:
//
//	GET /v1/inventory/node-configs[?providerId=&nodeName=&instanceId=]  JSON array
//	GET /v1/inventory/node-configs/{nodeName}[?providerId=]             JSON array, 404 if empty
//	GET /healthz                                                        200 "ok"
//
// A nil store means the inventory is disabled: every route answers 503, so a
// probe or client can tell "disabled" from "empty". Methods other than GET
// and HEAD get 405. An unknown or repeated query parameter gets 400 rather
// than being ignored, because ignoring a misspelt filter would silently return
// the whole inventory.
func NewHandler(store *Store) http.Handler {
	h := &handler{store: store}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+HealthzPath, h.healthz)
	mux.HandleFunc("GET "+NodeConfigsPath, h.list)
	mux.HandleFunc("GET "+NodeConfigsPath+"/{nodeName}", h.byNode)
	return mux
}

// NewServer returns an HTTP server for NewHandler(store) on addr, with
// timeouts so slow or stuck clients cannot hold connections forever.
func NewServer(addr string, store *Store) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           NewHandler(store),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       60 * time.Second,
	}
}

type handler struct{ store *Store }

const disabledMessage = "inventory is disabled (INVENTORY_ENABLED=false)"

func (h *handler) healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if h.store == nil {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(disabledMessage))
		return
	}
	_, _ = w.Write([]byte("ok"))
}

var (
	listParams   = []string{"providerId", "nodeName", "instanceId"}
	byNodeParams = []string{"providerId"}
)

func (h *handler) list(w http.ResponseWriter, r *http.Request) {
	if h.store == nil {
		writeError(w, http.StatusServiceUnavailable, disabledMessage)
		return
	}
	query, err := singleValues(r, listParams)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	f := Filter{ProviderID: query["providerId"], NodeName: query["nodeName"], InstanceID: query["instanceId"]}
	writeJSON(w, http.StatusOK, matching(h.store.snapshot(), f))
}

func (h *handler) byNode(w http.ResponseWriter, r *http.Request) {
	if h.store == nil {
		writeError(w, http.StatusServiceUnavailable, disabledMessage)
		return
	}
	query, err := singleValues(r, byNodeParams)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	f := Filter{ProviderID: query["providerId"], NodeName: r.PathValue("nodeName")}
	matched := matching(h.store.snapshot(), f)
	if len(matched) == 0 {
		msg := fmt.Sprintf("no inventory record for nodeName %q", f.NodeName)
		if f.ProviderID != "" {
			msg += fmt.Sprintf(" and providerId %q", f.ProviderID)
		}
		writeError(w, http.StatusNotFound, msg)
		return
	}
	writeJSON(w, http.StatusOK, matched)
}

// singleValues returns the query parameters of r, refusing names outside
// allowed and names given more than once. An empty value means no filter.
func singleValues(r *http.Request, allowed []string) (map[string]string, error) {
	values := r.URL.Query()
	out := make(map[string]string, len(values))
	for name, vals := range values {
		if !slices.Contains(allowed, name) {
			return nil, fmt.Errorf("unknown query parameter %q (allowed: %s)", name, strings.Join(allowed, ", "))
		}
		if len(vals) > 1 {
			return nil, fmt.Errorf("query parameter %q is given %d times, at most once allowed", name, len(vals))
		}
		out[name] = vals[0]
	}
	return out, nil
}

// matching points into the snapshot instead of copying records: snapshots are
// never modified, and the handler only encodes them.
func matching(snap *snapshot, f Filter) []*Record {
	matched := []*Record{}
	for i := range snap.records {
		if f.matches(&snap.records[i]) {
			matched = append(matched, &snap.records[i])
		}
	}
	return matched
}

func writeError(w http.ResponseWriter, status int, message string) {
	writeJSON(w, status, map[string]string{"error": message})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "encode response: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(data, '\n'))
}
