// Package retryhttp is the lowest layer of the module: the retrying HTTP
// client that the Contrabass, Viola and OpenStack clients share, and the
// helpers that turn a failed response or any outside text into a bounded
// one-line message. It is internal because it is plumbing, not product API.
package retryhttp

import (
	"cmp"
	"crypto/tls"
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

// Options configures New.
type Options struct {
	// Timeout bounds each HTTP attempt, response body included. Zero means
	// DefaultTimeout. The whole call, retries included, is bounded by the
	// request's context.
	Timeout time.Duration
	// InsecureTLS skips server certificate verification. It is applied to a
	// clone of the transport, so a caller's HTTPClient is left verifying.
	InsecureTLS bool
	// RetryMax is how many times a failed attempt (5xx, 429, connection
	// error) is retried. Zero means DefaultRetryMax; negative disables retries.
	RetryMax int
	// RetryWaitMin and RetryWaitMax bound the exponential back-off between
	// retries. Zero means the defaults; a RetryWaitMax below RetryWaitMin is
	// raised to it.
	RetryWaitMin, RetryWaitMax time.Duration
	// HTTPClient, when set, is copied and used as the base client (transport,
	// proxies, test certificates). Its Timeout is replaced by Timeout.
	HTTPClient *http.Client
	// MaxIdleConnsPerHost tunes the connection pool of the transport New
	// creates when HTTPClient brings none. Zero or less keeps net/http's default.
	MaxIdleConnsPerHost int
	// TimeoutName and InsecureTLSName are what error messages call the
	// Timeout and InsecureTLS settings, so that they name the caller's own
	// setting (e.g. "contrabassTimeout"). Empty means "Timeout" and
	// "InsecureTLS".
	TimeoutName, InsecureTLSName string
	// Observer, when set, hears about every attempt (retries included) under
	// the name Dependency, e.g. to count requests per dependency.
	Observer   Observer
	Dependency string
}

// Observer is told the outcome of each HTTP attempt: the response, or the
// transport error when there is none. It must be safe for concurrent use.
type Observer interface {
	ObserveAttempt(dependency string, resp *http.Response, err error)
}

// observed reports each round trip to an Observer.
type observed struct {
	next       http.RoundTripper
	observer   Observer
	dependency string
}

func (o observed) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := o.next.RoundTrip(req)
	o.observer.ObserveAttempt(o.dependency, resp, err)
	return resp, err
}

// New checks opts and builds a retrying client. When retries run out, its Do
// returns the last response, if there was one, together with an
// *AttemptsError, so the caller can report the final HTTP status and body.
func New(opts Options) (*retryablehttp.Client, error) {
	timeoutName := cmp.Or(opts.TimeoutName, "Timeout")
	insecureTLSName := cmp.Or(opts.InsecureTLSName, "InsecureTLS")
	switch {
	case opts.Timeout < 0:
		return nil, fmt.Errorf("%s must not be negative, got %s", timeoutName, opts.Timeout)
	case opts.RetryWaitMin < 0 || opts.RetryWaitMax < 0:
		return nil, errors.New("retry waits must not be negative")
	}
	base := &http.Client{}
	if opts.HTTPClient != nil {
		copied := *opts.HTTPClient
		base = &copied
	}
	base.Timeout = cmp.Or(opts.Timeout, DefaultTimeout)
	if base.Transport == nil {
		transport := http.DefaultTransport.(*http.Transport).Clone()
		if opts.MaxIdleConnsPerHost > 0 {
			transport.MaxIdleConnsPerHost = opts.MaxIdleConnsPerHost
		}
		base.Transport = transport
	}
	if opts.InsecureTLS {
		transport, ok := base.Transport.(*http.Transport)
		if !ok {
			return nil, fmt.Errorf("%s needs an *http.Transport, the given HTTPClient uses %T", insecureTLSName, base.Transport)
		}
		transport = transport.Clone()
		if transport.TLSClientConfig == nil {
			transport.TLSClientConfig = &tls.Config{}
		}
		// Opted into by the operator for services behind self-signed certificates.
		transport.TLSClientConfig.InsecureSkipVerify = true
		base.Transport = transport
	}
	if opts.Observer != nil {
		base.Transport = observed{next: base.Transport, observer: opts.Observer, dependency: opts.Dependency}
	}

	retryMax := opts.RetryMax
	switch {
	case retryMax == 0:
		retryMax = DefaultRetryMax
	case retryMax < 0:
		retryMax = 0
	}
	waitMin := cmp.Or(opts.RetryWaitMin, DefaultRetryWaitMin)
	waitMax := max(cmp.Or(opts.RetryWaitMax, DefaultRetryWaitMax), waitMin)

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

// AttemptsError records that retries ran out, so the caller can say so.
type AttemptsError struct {
	// Attempts counts every attempt made, the first one included.
	Attempts int
	// Err is the last attempt's error; nil when it got a retryable HTTP
	// status, whose response is returned alongside.
	Err error
}

func (e *AttemptsError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("giving up after %d attempt(s)", e.Attempts)
	}
	return fmt.Sprintf("giving up after %d attempt(s): %v", e.Attempts, e.Err)
}

func (e *AttemptsError) Unwrap() error { return e.Err }

// keepLastResponse is called only when an attempt failed and no retry is
// left. It hands the last response back, so the error can name the final
// HTTP status and quote its body.
func keepLastResponse(resp *http.Response, err error, attempts int) (*http.Response, error) {
	return resp, &AttemptsError{Attempts: attempts, Err: err}
}

// StatusError describes a response with a status the caller does not accept:
// "HTTP 503 after 4 attempts: <excerpt>" when err is an *AttemptsError of
// more than one attempt, else "HTTP 404: <excerpt>". It reads the start of
// resp.Body (see BodyExcerpt) and leaves closing it to the caller.
func StatusError(resp *http.Response, err error, excerptLimit int) error {
	excerpt := BodyExcerpt(resp.Body, excerptLimit)
	var exhausted *AttemptsError
	if errors.As(err, &exhausted) && exhausted.Attempts > 1 {
		return fmt.Errorf("HTTP %d after %d attempts: %s", resp.StatusCode, exhausted.Attempts, excerpt)
	}
	return fmt.Errorf("HTTP %d: %s", resp.StatusCode, excerpt)
}

// BodyExcerpt reads the start of an error body (at most 4*limit bytes) and
// returns it as one line of at most limit bytes, or a note that it was empty
// or unreadable.
func BodyExcerpt(body io.Reader, limit int) string {
	raw, err := io.ReadAll(io.LimitReader(body, 4*int64(limit)))
	if err != nil && len(raw) == 0 {
		return fmt.Sprintf("(body unreadable: %v)", err)
	}
	if excerpt := OneLine(string(raw), limit); excerpt != "" {
		return excerpt
	}
	return "(empty body)"
}

// OneLine collapses whitespace so the text fits in one log line and one
// status condition, and cuts it at limit bytes on a rune boundary, marking
// the cut with "…".
func OneLine(s string, limit int) string {
	limit = max(limit, 0)
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

// ParseEndpoint checks a service base URL and returns it without trailing
// slashes. Its errors are worded to follow the setting's name, e.g.
// fmt.Errorf("violaEndpoint %w", err), and never quote user info.
func ParseEndpoint(raw string) (string, error) {
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
