package viola

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/hashicorp/go-retryablehttp"
)

// NodeConfigsPath is where Viola accepts node configs.
const NodeConfigsPath = "/v1/k8s/multinic/node-configs"

// ProviderIDHeader carries the routing key that tells Viola which Biz
// cluster the node configs belong to.
const ProviderIDHeader = "x-provider-id"

// Defaults for the zero values of Options.
const (
	DefaultTimeout      = 30 * time.Second
	DefaultRetryMax     = 3
	DefaultRetryWaitMin = 100 * time.Millisecond
	DefaultRetryWaitMax = 2 * time.Second
	DefaultMaxBatch     = 250
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
	// MaxBatch is how many node configs one POST carries. Zero means
	// DefaultMaxBatch.
	MaxBatch int
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
}

// NewClient checks opts and builds a Client.
func NewClient(opts Options) (*Client, error) {
	endpoint, err := parseEndpoint(opts.Endpoint)
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
	httpClient, err := newRetryingClient(opts)
	if err != nil {
		return nil, fmt.Errorf("viola: %w", err)
	}
	return &Client{endpoint: endpoint, maxBatch: maxBatch, http: httpClient}, nil
}

func parseEndpoint(raw string) (string, error) {
	if strings.TrimSpace(raw) == "" {
		return "", errors.New("is required")
	}
	u, err := url.Parse(raw)
	if err != nil {
		// url.Error repeats the whole URL, user info included; keep only the reason.
		var urlErr *url.Error
		if errors.As(err, &urlErr) {
			err = urlErr.Err
		}
		return "", fmt.Errorf("is not a valid URL: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("%q must be an absolute http:// or https:// URL", u.Redacted())
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("%q must not carry a query or fragment", u.Redacted())
	}
	return strings.TrimRight(raw, "/"), nil
}

func newRetryingClient(opts Options) (*retryablehttp.Client, error) {
	switch {
	case opts.Timeout < 0:
		return nil, fmt.Errorf("timeout must not be negative, got %s", opts.Timeout)
	case opts.RetryWaitMin < 0 || opts.RetryWaitMax < 0:
		return nil, errors.New("retry waits must not be negative")
	}
	base := &http.Client{}
	if opts.HTTPClient != nil {
		copied := *opts.HTTPClient
		base = &copied
	}
	base.Timeout = opts.Timeout
	if base.Timeout == 0 {
		base.Timeout = DefaultTimeout
	}
	if base.Transport == nil {
		base.Transport = http.DefaultTransport.(*http.Transport).Clone()
	}
	if opts.InsecureTLS {
		transport, ok := base.Transport.(*http.Transport)
		if !ok {
			return nil, fmt.Errorf("InsecureTLS needs an *http.Transport, the given HTTPClient uses %T", base.Transport)
		}
		transport = transport.Clone()
		if transport.TLSClientConfig == nil {
			transport.TLSClientConfig = &tls.Config{}
		}
		// Opted into by the operator for Viola behind self-signed certificates.
		transport.TLSClientConfig.InsecureSkipVerify = true
		base.Transport = transport
	}

	retryMax := opts.RetryMax
	switch {
	case retryMax == 0:
		retryMax = DefaultRetryMax
	case retryMax < 0:
		retryMax = 0
	}
	waitMin, waitMax := opts.RetryWaitMin, opts.RetryWaitMax
	if waitMin == 0 {
		waitMin = DefaultRetryWaitMin
	}
	if waitMax == 0 {
		waitMax = DefaultRetryWaitMax
	}
	if waitMax < waitMin {
		waitMax = waitMin
	}

	return &retryablehttp.Client{
		HTTPClient:   base,
		Logger:       nil, // errors are returned to the caller, which decides what to log
		RetryWaitMin: waitMin,
		RetryWaitMax: waitMax,
		RetryMax:     retryMax,
		CheckRetry:   retryablehttp.DefaultRetryPolicy,
		Backoff:      cappedBackoff,
		ErrorHandler: keepLastResponse,
	}, nil
}

// cappedBackoff is retryablehttp's back-off, except that a server's
// Retry-After cannot stretch one wait beyond max and stall a reconcile.
func cappedBackoff(minWait, maxWait time.Duration, attempt int, resp *http.Response) time.Duration {
	return min(retryablehttp.DefaultBackoff(minWait, maxWait, attempt, resp), maxWait)
}

// attemptsError records that retries ran out, so the caller can say so.
type attemptsError struct {
	attempts int
	err      error // nil when the last attempt got a retryable HTTP status
}

func (e *attemptsError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("giving up after %d attempt(s)", e.attempts)
	}
	return fmt.Sprintf("giving up after %d attempt(s): %v", e.attempts, e.err)
}

func (e *attemptsError) Unwrap() error { return e.err }

// keepLastResponse is called only when an attempt failed and no retry is
// left. It hands the last response back, so the error can name the final
// HTTP status and quote its body.
func keepLastResponse(resp *http.Response, err error, attempts int) (*http.Response, error) {
	return resp, &attemptsError{attempts: attempts, err: err}
}

// Post sends configs to Viola for the Biz cluster routed by providerID.
//
// Every config is checked before anything is sent, so an invalid one fails
// the whole call without a request. Configs go out in batches of MaxBatch,
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
			if err := c.postBatch(ctx, providerID, batch); err != nil {
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
	if providerID == "" {
		return errors.New("provider ID (x-provider-id) is empty")
	}
	if strings.ContainsFunc(providerID, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		return fmt.Errorf("provider ID %q contains control characters, which an HTTP header cannot carry", providerID)
	}
	if len(configs) == 0 {
		return errors.New("no node configs to send")
	}
	var errs []error
	seen := make(map[string]bool, len(configs))
	for i, config := range configs {
		if err := config.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("configs[%d]: %w", i, err))
			continue
		}
		for j, iface := range config.Interfaces {
			if iface.Name != InterfaceName(iface.ID) {
				errs = append(errs, fmt.Errorf("configs[%d]: node config %q: interfaces[%d].name %q must be %q", i, config.NodeName, j, iface.Name, InterfaceName(iface.ID)))
			}
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
		excerpt := bodyExcerpt(resp.Body)
		var exhausted *attemptsError
		if errors.As(err, &exhausted) && exhausted.attempts > 1 {
			return fmt.Errorf("HTTP %d after %d attempts: %s", resp.StatusCode, exhausted.attempts, excerpt)
		}
		return fmt.Errorf("HTTP %d: %s", resp.StatusCode, excerpt)
	}
	if err != nil {
		return err
	}
	// The success body ({"applied":N,...}) is optional and carries nothing
	// the caller needs; reading it lets the connection be reused.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	return nil
}

// bodyExcerpt reads the start of an error body for the error message.
func bodyExcerpt(body io.Reader) string {
	raw, err := io.ReadAll(io.LimitReader(body, 4*excerptBytes))
	if err != nil && len(raw) == 0 {
		return fmt.Sprintf("(body unreadable: %v)", err)
	}
	if excerpt := oneLine(string(raw), excerptBytes); excerpt != "" {
		return excerpt
	}
	return "(empty body)"
}

// oneLine collapses whitespace so the text fits in one log line and one
// status condition, and cuts it at limit bytes on a rune boundary.
func oneLine(s string, limit int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Join(strings.Fields(s), " ")
	if len(s) <= limit {
		return s
	}
	cut := limit
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
