package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/multinic/multinic/internal/retryhttp"
	"github.com/multinic/multinic/internal/safetext"
	"github.com/multinic/multinic/inventory"
)

// inventorySource is where plan, check and status read the inventory; never
// written to.
type inventorySource interface {
	// String names the source for output.
	String() string
	// records are those of providerID; disabled reports an inventory that
	// answers 503 (INVENTORY_ENABLED=false), which has none.
	records(ctx context.Context, providerID string) (records []inventory.Record, disabled bool, err error)
}

// maxInventoryBytes bounds an answer: 10 000 records of 10 interfaces are
// about 15 MB.
const maxInventoryBytes = 64 << 20

// inventorySourceFor picks the source: --inventory-file, --inventory-url,
// else (on a cluster) the operator's inventory Service through the API
// server's service proxy. nil means none: the plan then diffs against an
// empty inventory and says so.
func inventorySourceFor(ctx context.Context, t *target, in *inputFlags) (inventorySource, error) {
	switch {
	case in.inventoryFile != "":
		return fileSource(in.inventoryFile), nil
	case in.inventoryURL != "":
		base, err := retryhttp.ParseEndpoint(in.inventoryURL)
		if err != nil {
			return nil, usageError{fmt.Errorf("--inventory-url %w", err)}
		}
		return &httpSource{base: base, client: &http.Client{Timeout: 30 * time.Second}}, nil
	case t.kube != nil:
		ref, err := parseOperatorRef(in.operator)
		if err != nil {
			return nil, usageError{err}
		}
		return newServiceSource(ctx, t.kube, ref), nil
	}
	return nil, nil
}

type fileSource string

func (f fileSource) String() string { return "file " + string(f) }

func (f fileSource) records(_ context.Context, providerID string) ([]inventory.Record, bool, error) {
	all, err := inventory.ReadFile(string(f))
	if err != nil {
		return nil, false, fmt.Errorf("--inventory-file: %w", err)
	}
	var out []inventory.Record
	for _, rec := range all {
		if rec.ProviderID == providerID {
			out = append(out, rec)
		}
	}
	return out, false, nil
}

// getter does one GET of the inventory API and returns the status and body.
type getter func(ctx context.Context, path string, query url.Values) (int, []byte, error)

// listRecords asks the inventory API for the records of providerID.
func listRecords(ctx context.Context, get getter, providerID string) ([]inventory.Record, bool, error) {
	status, body, err := get(ctx, "/v1/inventory/node-configs", url.Values{"providerId": {providerID}})
	switch {
	case err != nil:
		return nil, false, err
	case isDisabled(status, body):
		return nil, true, nil
	case status != http.StatusOK:
		return nil, false, fmt.Errorf("GET /v1/inventory/node-configs answered %d: %s", status, safetext.OneLine(string(body), 200))
	}
	var records []inventory.Record
	if err := json.Unmarshal(body, &records); err != nil {
		return nil, false, fmt.Errorf("GET /v1/inventory/node-configs: the answer is not a JSON array of records: %w", err)
	}
	return records, false, nil
}

type httpSource struct {
	base   string
	client *http.Client
}

func (h *httpSource) String() string { return "inventory API " + safetext.RedactURL(h.base) }

func (h *httpSource) records(ctx context.Context, providerID string) ([]inventory.Record, bool, error) {
	return listRecords(ctx, h.get, providerID)
}

func (h *httpSource) get(ctx context.Context, path string, query url.Values) (int, []byte, error) {
	target := h.base + path
	if len(query) > 0 {
		target += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return 0, nil, err
	}
	resp, err := h.client.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("%w (check --inventory-url)", err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxInventoryBytes+1))
	if err != nil {
		return 0, nil, fmt.Errorf("read the answer of %s: %w", path, err)
	}
	if len(body) > maxInventoryBytes {
		return 0, nil, fmt.Errorf("the answer of %s is larger than %d MiB", path, maxInventoryBytes>>20)
	}
	return resp.StatusCode, body, nil
}

// serviceSource reaches the operator's inventory Service through the API
// server (services/proxy), so no port-forward is needed; the user needs
// get on services/proxy in the operator's namespace.
type serviceSource struct {
	kube               *kube
	namespace, service string
	operator           operatorRef
	// err is why the operator's inventory Service was not found, which
	// every read answers; disabled, that the operator has no inventory.
	err      error
	disabled string
}

// newServiceSource finds the inventory Service of the operator's release.
// Not finding it is the source's answer, not the command's failure: status
// still shows the CR, check fails its inventory step.
func newServiceSource(ctx context.Context, k *kube, ref operatorRef) *serviceSource {
	s := &serviceSource{kube: k, namespace: ref.namespace, operator: ref}
	d, err := k.operatorDeployment(ctx, ref)
	if err != nil {
		s.err = err
		return s
	}
	name, disabled, err := k.inventoryService(ctx, d)
	switch {
	case err != nil:
		s.err = err
	case disabled:
		s.disabled = fmt.Sprintf("%s (deployment %s/%s sets it, and has no inventory Service)", disabledMessage, d.Namespace, d.Name)
	}
	s.service = name
	return s
}

// disabledMessage is what a disabled inventory answers.
const disabledMessage = "inventory is disabled (INVENTORY_ENABLED=false)"

func (s *serviceSource) String() string {
	if s.service == "" {
		return fmt.Sprintf("the inventory Service of operator %s", s.operator)
	}
	return fmt.Sprintf("service %s/%s (through the API server)", s.namespace, s.service)
}

func (s *serviceSource) records(ctx context.Context, providerID string) ([]inventory.Record, bool, error) {
	return listRecords(ctx, s.get, providerID)
}

func (s *serviceSource) get(ctx context.Context, path string, query url.Values) (int, []byte, error) {
	switch {
	case s.err != nil:
		return 0, nil, s.err
	case s.disabled != "":
		// As the operator's own disabled inventory would answer.
		return http.StatusServiceUnavailable, []byte(s.disabled), nil
	}
	req := s.kube.clientset.CoreV1().RESTClient().Get().
		Namespace(s.namespace).Resource("services").Name("http:" + s.service + ":inventory").SubResource("proxy").Suffix(path)
	for k, vs := range query {
		for _, v := range vs {
			req = req.Param(k, v)
		}
	}
	var status int
	body, err := req.Do(ctx).StatusCode(&status).Raw()
	const hint = "is the operator running, and may you get services/proxy there? --operator names it; or use --inventory-url after kubectl port-forward"
	switch {
	case status == 0:
		if err == nil {
			err = errors.New("no answer")
		}
		return 0, nil, fmt.Errorf("service %s/%s through the API server: %w (%s)", s.namespace, s.service, err, hint)
	case status >= 300 && !isDisabled(status, body):
		cause := string(body)
		if err != nil {
			cause = err.Error()
		}
		return 0, nil, fmt.Errorf("service %s/%s through the API server answered %d: %s (%s)", s.namespace, s.service, status, safetext.OneLine(cause, 200), hint)
	}
	return status, body, nil
}

// isDisabled tells the inventory's own 503 (INVENTORY_ENABLED=false) from
// any other, such as a proxy's.
func isDisabled(status int, body []byte) bool {
	return status == http.StatusServiceUnavailable && strings.Contains(string(body), "disabled")
}

// health is the check's inventory step: /healthz, then the records of the
// routing key.
func health(ctx context.Context, src inventorySource, providerID string) (details, warnings []string, err error) {
	var get getter
	switch s := src.(type) {
	case *httpSource:
		get = s.get
	case *serviceSource:
		get = s.get
	}
	if get != nil {
		status, body, err := get(ctx, "/healthz", nil)
		switch {
		case err != nil:
			return nil, nil, err
		case isDisabled(status, body):
			return []string{src.String() + ": " + safetext.OneLine(string(body), 200)}, []string{"the inventory is disabled (INVENTORY_ENABLED=false): nothing is recorded across restarts"}, nil
		case status != http.StatusOK:
			return nil, nil, fmt.Errorf("GET /healthz answered %d: %s", status, safetext.OneLine(string(body), 200))
		}
		details = append(details, src.String()+": /healthz ok")
	}
	records, disabled, err := src.records(ctx, providerID)
	if err != nil {
		return details, nil, err
	}
	if !disabled {
		details = append(details, fmt.Sprintf("%d records for provider %s", len(records), providerID))
	}
	return details, nil, nil
}
