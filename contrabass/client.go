package contrabass

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
	"time"
	"unicode/utf8"

	"github.com/hashicorp/go-retryablehttp"
)

// Defaults for the zero values of Options.
const (
	DefaultTimeout      = 30 * time.Second
	DefaultRetryMax     = 3
	DefaultRetryWaitMin = 100 * time.Millisecond
	DefaultRetryWaitMax = 2 * time.Second
)

const (
	providerPath = "/v1/contrabass/admin/infra/provider/"
	// maxResponseBytes bounds how much of a response is read, so a broken or
	// hostile endpoint cannot exhaust the operator's memory.
	maxResponseBytes = 1 << 20
	excerptBytes     = 200
)

// Options configures a Client.
type Options struct {
	// Endpoint is the Contrabass base URL (settings.contrabassEndpoint).
	Endpoint string
	// Timeout bounds each HTTP attempt, response body included. Zero means
	// DefaultTimeout. The whole call, retries included, is bounded by the
	// context passed to GetProvider.
	Timeout time.Duration
	// InsecureTLS skips server certificate verification
	// (settings.contrabassInsecureTLS), for Contrabass behind self-signed
	// certificates.
	InsecureTLS bool
	// BearerToken is sent as "Authorization: Bearer" when not empty.
	BearerToken string
	// RetryMax is how many times a failed attempt (5xx, 429, connection
	// error) is retried. Zero means DefaultRetryMax; negative disables retries.
	RetryMax int
	// RetryWaitMin and RetryWaitMax bound the exponential back-off between
	// retries. Zero means the defaults.
	RetryWaitMin, RetryWaitMax time.Duration
	// HTTPClient, when set, is copied and used as the base client (transport,
	// proxies, test certificates). Its Timeout is replaced by Timeout.
	HTTPClient *http.Client
}

// Client reads provider records from Contrabass. It is safe for concurrent use.
type Client struct {
	endpoint    string
	bearerToken string
	http        *retryablehttp.Client
}

// NewClient checks opts and builds a Client.
func NewClient(opts Options) (*Client, error) {
	endpoint, err := parseEndpoint(opts.Endpoint)
	if err != nil {
		return nil, fmt.Errorf("contrabass: contrabassEndpoint %w", err)
	}
	httpClient, err := newRetryingClient(opts)
	if err != nil {
		return nil, fmt.Errorf("contrabass: %w", err)
	}
	return &Client{endpoint: endpoint, bearerToken: opts.BearerToken, http: httpClient}, nil
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
		return nil, fmt.Errorf("contrabassTimeout must not be negative, got %s", opts.Timeout)
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
			return nil, fmt.Errorf("contrabassInsecureTLS needs an *http.Transport, the given HTTPClient uses %T", base.Transport)
		}
		transport = transport.Clone()
		if transport.TLSClientConfig == nil {
			transport.TLSClientConfig = &tls.Config{}
		}
		// Opted into by the operator for Contrabass behind self-signed certificates.
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

// GetProvider fetches one provider record. The returned passwords are still
// encrypted.
func (c *Client) GetProvider(ctx context.Context, providerID string) (Provider, error) {
	if providerID == "" {
		return Provider{}, errors.New("contrabass: GET provider: openstackProviderID is empty")
	}
	fail := func(format string, args ...any) (Provider, error) {
		return Provider{}, fmt.Errorf("contrabass: GET provider %q: "+format, append([]any{providerID}, args...)...)
	}

	req, err := retryablehttp.NewRequestWithContext(ctx, http.MethodGet, c.endpoint+providerPath+url.PathEscape(providerID), nil)
	if err != nil {
		return fail("build request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	if c.bearerToken != "" {
		req.Header.Set("Authorization", "Bearer "+c.bearerToken)
	}

	resp, err := c.http.Do(req)
	if resp == nil {
		if err == nil {
			err = errors.New("no response")
		}
		return fail("%w", err)
	}
	defer func() { _ = resp.Body.Close() }()

	if resp.StatusCode != http.StatusOK {
		excerpt := bodyExcerpt(resp.Body)
		var exhausted *attemptsError
		if errors.As(err, &exhausted) && exhausted.attempts > 1 {
			return fail("HTTP %d after %d attempts: %s", resp.StatusCode, exhausted.attempts, excerpt)
		}
		return fail("HTTP %d: %s", resp.StatusCode, excerpt)
	}
	if err != nil {
		return fail("%w", err)
	}

	// The body is not quoted in decode errors: it carries encrypted credentials.
	var envelope Envelope
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxResponseBytes)).Decode(&envelope); err != nil {
		return fail("decode response body: %w", err)
	}
	if envelope.ReturnCode != "200" {
		return fail("returnCode %q (returnMessage %q)", envelope.ReturnCode, oneLine(envelope.ReturnMessage, excerptBytes))
	}
	if envelope.Data == nil {
		return fail("response has no data object")
	}
	provider := *envelope.Data
	if provider.URL == "" {
		return fail("response has no data.url (Keystone URL)")
	}
	if provider.Attributes.AdminPw == "" {
		return fail("response has no data.attributes.adminPw")
	}
	return provider, nil
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
