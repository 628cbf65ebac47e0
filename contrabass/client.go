package contrabass

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/hashicorp/go-retryablehttp"

	"github.com/multinic/multinic/internal/retryhttp"
	"github.com/multinic/multinic/internal/safetext"
)

// Defaults for the zero values of Options.
const (
	DefaultTimeout      = retryhttp.DefaultTimeout
	DefaultRetryMax     = retryhttp.DefaultRetryMax
	DefaultRetryWaitMin = retryhttp.DefaultRetryWaitMin
	DefaultRetryWaitMax = retryhttp.DefaultRetryWaitMax
	// DefaultMaxResponseBytes is far above a provider record (about 1 KiB)
	// yet small enough that a broken or hostile endpoint cannot exhaust
	// memory.
	DefaultMaxResponseBytes = 1 << 20
)

const (
	providerPath = "/v1/contrabass/admin/infra/provider/"
	excerptBytes = 200
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
	// MaxResponseBytes bounds the response body; a larger one fails the
	// call. Zero means DefaultMaxResponseBytes.
	MaxResponseBytes int64
	// Observer hears about every HTTP attempt (metrics).
	Observer retryhttp.Observer
}

// Client reads provider records from Contrabass. It is safe for concurrent use.
type Client struct {
	endpoint    string
	bearerToken string
	http        *retryablehttp.Client
}

// NewClient checks opts and builds a Client.
func NewClient(opts Options) (*Client, error) {
	endpoint, err := retryhttp.ParseEndpoint(opts.Endpoint)
	if err != nil {
		return nil, fmt.Errorf("contrabass: contrabassEndpoint %w", err)
	}
	httpClient, err := retryhttp.New(retryhttp.Options{
		Timeout:          opts.Timeout,
		InsecureTLS:      opts.InsecureTLS,
		RetryMax:         opts.RetryMax,
		RetryWaitMin:     opts.RetryWaitMin,
		RetryWaitMax:     opts.RetryWaitMax,
		HTTPClient:       opts.HTTPClient,
		MaxResponseBytes: cmp.Or(opts.MaxResponseBytes, DefaultMaxResponseBytes),
		TimeoutName:      "contrabassTimeout",
		InsecureTLSName:  "contrabassInsecureTLS",
		Observer:         opts.Observer,
		Dependency:       "contrabass",
	})
	if err != nil {
		return nil, fmt.Errorf("contrabass: %w", err)
	}
	return &Client{endpoint: endpoint, bearerToken: opts.BearerToken, http: httpClient}, nil
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
		return fail("%w", retryhttp.StatusError(resp, err, excerptBytes))
	}
	if err != nil {
		return fail("%w", err)
	}

	// The body is not quoted in decode errors: it carries encrypted credentials.
	var answer envelope
	if err := json.NewDecoder(resp.Body).Decode(&answer); err != nil {
		return fail("decode response body: %w", err)
	}
	if answer.ReturnCode != "200" {
		// Both are outside text: cut, so the message stays one short line.
		return fail("returnCode %q (returnMessage %q)", safetext.OneLine(string(answer.ReturnCode), 20), safetext.OneLine(answer.ReturnMessage, excerptBytes))
	}
	if answer.Data == nil {
		return fail("response has no data object")
	}
	provider := *answer.Data
	if provider.URL == "" {
		return fail("response has no data.url (Keystone URL)")
	}
	if provider.Attributes.AdminPw == "" {
		return fail("response has no data.attributes.adminPw")
	}
	return provider, nil
}
