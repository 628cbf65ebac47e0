package viola

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-retryablehttp"

	"github.com/multinic/multinic/internal/recovered"
	"github.com/multinic/multinic/internal/retryhttp"
	"github.com/multinic/multinic/internal/safetext"
)

// NodeConfigsPath is where Viola accepts node configs.
const NodeConfigsPath = "/v1/k8s/multinic/node-configs"

// ProviderIDHeader carries the routing key that tells Viola which Biz
// cluster the node configs belong to.
const ProviderIDHeader = "x-provider-id"

// Defaults for the zero values of Options.
const (
	DefaultTimeout      = retryhttp.DefaultTimeout
	DefaultRetryMax     = retryhttp.DefaultRetryMax
	DefaultRetryWaitMin = retryhttp.DefaultRetryWaitMin
	DefaultRetryWaitMax = retryhttp.DefaultRetryWaitMax
	DefaultMaxBatch     = 250
	// DefaultMaxResponseBytes bounds what is read of a response body. The
	// success body ({"applied":N,...}) carries nothing the client needs, so
	// the rest of a larger one is left unread, not an error.
	DefaultMaxResponseBytes = 1 << 20
)

const (
	// concurrentBatches bounds parallel POSTs so one large sync does not
	// flood Viola, which applies every config to the Biz cluster.
	concurrentBatches = 4
	excerptBytes      = 200
)

// Options configures a Client.
type Options struct {
	// Endpoint is the Viola base URL (settings.violaEndpoint or VIOLA_ENDPOINT).
	Endpoint string
	// Timeout bounds each HTTP attempt, response body included. Zero means
	// DefaultTimeout. The whole call, retries included, is bounded by the
	// context passed to Post.
	Timeout time.Duration
	// InsecureTLS skips server certificate verification.
	InsecureTLS bool
	// RetryMax is how many times a failed attempt (5xx, 429, connection
	// error) is retried. Zero means DefaultRetryMax; negative disables retries.
	RetryMax int
	// RetryWaitMin and RetryWaitMax bound the exponential back-off between
	// retries. Zero means the defaults.
	RetryWaitMin, RetryWaitMax time.Duration
	// HTTPClient, when set, is copied and used as the base client (transport,
	// proxies, test certificates). Its Timeout is replaced by Timeout.
	HTTPClient *http.Client
	// Observer hears about every HTTP attempt (metrics).
	Observer retryhttp.Observer
	// MaxBatch is how many node configs one POST carries. Zero means
	// DefaultMaxBatch.
	MaxBatch int
	// MaxResponseBytes bounds what is read of a response body. Zero means
	// DefaultMaxResponseBytes.
	MaxResponseBytes int64
}

// PostResult reports which nodes Viola accepted, so a caller can record
// partial success and re-send only the rest.
type PostResult struct {
	// Accepted holds the node names of every batch Viola answered with
	// 200 or 202, in the order they were given to Post.
	Accepted []string
}

// Client posts node configs to Viola. It is safe for concurrent use.
type Client struct {
	endpoint string
	maxBatch int
	http     *retryablehttp.Client
	// secrets are the endpoint's user-info password and the basic-auth
	// pair net/http sends for it: never quoted from an answer that echoes
	// the request.
	secrets []string
}

// NewClient checks opts and builds a Client.
func NewClient(opts Options) (*Client, error) {
	endpoint, err := retryhttp.ParseEndpoint(opts.Endpoint)
	if err != nil {
		return nil, fmt.Errorf("viola: violaEndpoint %w", err)
	}
	if opts.MaxBatch < 0 {
		return nil, fmt.Errorf("viola: MaxBatch must not be negative, got %d", opts.MaxBatch)
	}
	maxBatch := opts.MaxBatch
	if maxBatch == 0 {
		maxBatch = DefaultMaxBatch
	}
	// Every request of the client (POST, DELETE) goes to the endpoint's
	// origin only, and no redirect is followed (retryhttp refuses them): a
	// 3xx is an error, never "applied" because a login page it pointed at
	// answered 200.
	origins := new(retryhttp.Origins)
	if err := origins.Allow(endpoint); err != nil {
		return nil, fmt.Errorf("viola: violaEndpoint %w", err)
	}
	httpClient, err := retryhttp.New(retryhttp.Options{
		Timeout:          opts.Timeout,
		InsecureTLS:      opts.InsecureTLS,
		RetryMax:         opts.RetryMax,
		RetryWaitMin:     opts.RetryWaitMin,
		RetryWaitMax:     opts.RetryWaitMax,
		HTTPClient:       opts.HTTPClient,
		MaxResponseBytes: cmp.Or(opts.MaxResponseBytes, DefaultMaxResponseBytes),
		TimeoutName:      "timeout",
		Observer:         opts.Observer,
		Dependency:       "viola",
		Origins:          origins,
	})
	if err != nil {
		return nil, fmt.Errorf("viola: %w", err)
	}
	return &Client{endpoint: endpoint, maxBatch: maxBatch, http: httpClient, secrets: userInfoSecrets(endpoint)}, nil
}

// Post sends configs to Viola for the Biz cluster routed by providerID.
//
// Every config is checked with ValidatePayload before anything is sent, so
// an invalid one fails the whole call without a request: Post is the
// transport, and a caller who wants one bad node left out while the rest go
// out (as multinic.Sync does) checks each config first. Configs go out in batches of MaxBatch,
// up to four at a time. A failing batch does not stop the others: the result
// lists the nodes of every accepted batch, and the error joins one message
// per failed batch.
func (c *Client) Post(ctx context.Context, providerID string, configs []NodeConfig) (PostResult, error) {
	if err := checkPost(providerID, configs); err != nil {
		return PostResult{}, fmt.Errorf("viola: POST node-configs: %w", err)
	}

	batches := make([][]NodeConfig, 0, (len(configs)+c.maxBatch-1)/c.maxBatch)
	for start := 0; start < len(configs); start += c.maxBatch {
		batches = append(batches, configs[start:min(start+c.maxBatch, len(configs))])
	}

	batchErrs := make([]error, len(batches))
	slots := make(chan struct{}, concurrentBatches)
	var wg sync.WaitGroup
	for i, batch := range batches {
		wg.Go(func() {
			slots <- struct{}{}
			defer func() { <-slots }()
			// A panic here (a caller's transport, say) must fail this batch,
			// not the process.
			if err := recovered.Call(func() error { return c.postBatch(ctx, providerID, batch) }); err != nil {
				label := fmt.Sprintf("provider %q, %d nodes", providerID, len(batch))
				if len(batches) > 1 {
					label = fmt.Sprintf("provider %q, batch %d of %d, %d nodes", providerID, i+1, len(batches), len(batch))
				}
				batchErrs[i] = fmt.Errorf("viola: POST node-configs (%s): %w", label, err)
			}
		})
	}
	wg.Wait()

	var result PostResult
	for i, batch := range batches {
		if batchErrs[i] != nil {
			continue
		}
		for _, config := range batch {
			result.Accepted = append(result.Accepted, config.NodeName)
		}
	}
	return result, joinOneLine(batchErrs)
}

// oneLineErrors joins batch errors with "; " rather than errors.Join's
// newlines, so the result still fits one log line and one status condition.
type oneLineErrors []error

func joinOneLine(errs []error) error {
	var failed oneLineErrors
	for _, err := range errs {
		if err != nil {
			failed = append(failed, err)
		}
	}
	if len(failed) == 0 {
		return nil
	}
	return failed
}

func (e oneLineErrors) Error() string {
	messages := make([]string, len(e))
	for i, err := range e {
		messages[i] = err.Error()
	}
	return strings.Join(messages, "; ")
}

func (e oneLineErrors) Unwrap() []error { return e }

// checkPost rejects what Viola would refuse, before anything is sent.
func checkPost(providerID string, configs []NodeConfig) error {
	if err := checkProviderID(providerID); err != nil {
		return err
	}
	if len(configs) == 0 {
		return errors.New("no node configs to send")
	}
	var errs []error
	seen := make(map[string]bool, len(configs))
	for i, config := range configs {
		if err := config.ValidatePayload(); err != nil {
			errs = append(errs, fmt.Errorf("configs[%d]: %w", i, err))
			continue
		}
		// Batches go out concurrently, so two configs for one node would
		// race and either could end up applied.
		if seen[config.NodeName] {
			errs = append(errs, fmt.Errorf("configs[%d]: node %q appears more than once", i, config.NodeName))
		}
		seen[config.NodeName] = true
	}
	return joinOneLine(errs)
}

func checkProviderID(providerID string) error {
	if providerID == "" {
		return errors.New("provider ID (x-provider-id) is empty")
	}
	if strings.ContainsFunc(providerID, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		return fmt.Errorf("provider ID %q contains control characters, which an HTTP header cannot carry", providerID)
	}
	return nil
}

func (c *Client) postBatch(ctx context.Context, providerID string, batch []NodeConfig) error {
	body, err := json.Marshal(batch)
	if err != nil {
		return fmt.Errorf("encode body: %w", err)
	}
	// A []byte body lets retryablehttp rewind it for every retry.
	req, err := retryablehttp.NewRequestWithContext(ctx, http.MethodPost, c.endpoint+NodeConfigsPath, body)
	if err != nil {
		return fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(ProviderIDHeader, providerID)

	resp, err := c.http.Do(req)
	if resp == nil {
		if err == nil {
			err = errors.New("no response")
		}
		return err
	}
	defer func() { _ = resp.Body.Close() }()

	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusAccepted {
		return retryhttp.StatusError(resp, err, excerptBytes, c.secrets...)
	}
	if err != nil {
		return err
	}
	// The status says Viola applied the batch. Its body ({"applied":N,...})
	// is optional and carries nothing the caller needs: it is read (up to
	// MaxResponseBytes) only so the connection can be reused, and a body
	// that is cut off, malformed or too large changes nothing.
	_, _ = io.Copy(io.Discard, resp.Body)
	return nil
}

// NodeConfigPath is where Viola removes the node config of nodeName (SPEC
// §6): DELETE with x-provider-id. nodeName is escaped as a path segment.
func NodeConfigPath(nodeName string) string {
	return NodeConfigsPath + "/" + url.PathEscape(nodeName)
}

// DeleteOutcome is what a DELETE of a node config found.
type DeleteOutcome string

const (
	// Removed means Viola removed the config (200, 202 or 204); the node agent
	// cleans the node up.
	Removed DeleteOutcome = "removed"
	// AlreadyGone means Viola holds no config of that node (404), which is what
	// a removal wants.
	AlreadyGone DeleteOutcome = "already gone"
)

// ErrDeleteUnsupported marks a Viola that cannot remove node configs: it
// answered the DELETE with 405 or 501. Retrying changes nothing until that
// Viola is upgraded, so a caller reports it once rather than every pass.
var ErrDeleteUnsupported = errors.New("this Viola cannot remove node configs")

// Delete removes the node config of nodeName from the Biz cluster routed
// by providerID (SPEC §6). A nil error means the config is gone (see the
// outcome). 405 or 501 is an error wrapping ErrDeleteUnsupported; any other
// status, a redirect included, is an error too: a DELETE that a redirect
// turned into a GET would otherwise read as success.
func (c *Client) Delete(ctx context.Context, providerID, nodeName string) (DeleteOutcome, error) {
	if err := checkDelete(providerID, nodeName); err != nil {
		return "", fmt.Errorf("viola: DELETE node-config: %w", err)
	}
	var outcome DeleteOutcome
	err := recovered.Call(func() (err error) {
		outcome, err = c.delete(ctx, providerID, nodeName)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("viola: DELETE node-config %q (provider %q): %w", nodeName, providerID, err)
	}
	return outcome, nil
}

func checkDelete(providerID, nodeName string) error {
	if err := checkProviderID(providerID); err != nil {
		return err
	}
	if err := CheckNodeName(nodeName); err != nil {
		return fmt.Errorf("nodeName: %w", err)
	}
	return nil
}

func (c *Client) delete(ctx context.Context, providerID, nodeName string) (DeleteOutcome, error) {
	req, err := retryablehttp.NewRequestWithContext(ctx, http.MethodDelete, c.endpoint+NodeConfigPath(nodeName), nil)
	if err != nil {
		return "", fmt.Errorf("build request: %w", err)
	}
	req.Header.Set(ProviderIDHeader, providerID)
	resp, err := c.http.Do(req)
	if resp == nil {
		if err == nil {
			err = errors.New("no response")
		}
		return "", err
	}
	defer func() { _ = resp.Body.Close() }()
	switch resp.StatusCode {
	case http.StatusOK, http.StatusAccepted, http.StatusNoContent:
		_, _ = io.Copy(io.Discard, resp.Body)
		return Removed, nil
	case http.StatusNotFound:
		_, _ = io.Copy(io.Discard, resp.Body)
		return AlreadyGone, nil
	case http.StatusMethodNotAllowed, http.StatusNotImplemented:
		return "", fmt.Errorf("%w: %w", ErrDeleteUnsupported, retryhttp.StatusError(resp, err, excerptBytes, c.secrets...))
	}
	return "", retryhttp.StatusError(resp, err, excerptBytes, c.secrets...)
}

// userInfoSecrets are the password of endpoint's user info and the
// basic-auth pair net/http sends for it, or nothing.
func userInfoSecrets(endpoint string) []string {
	u, err := url.Parse(endpoint)
	if err != nil || u.User == nil {
		return nil
	}
	password, ok := u.User.Password()
	if !ok {
		return []string{u.User.Username(), safetext.BasicAuth(u.User.Username(), "")} // a user alone is a token
	}
	return []string{password, safetext.BasicAuth(u.User.Username(), password)}
}
