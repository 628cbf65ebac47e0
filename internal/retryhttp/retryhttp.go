// Package retryhttp is the retrying HTTP client that the Contrabass, Viola
// and OpenStack clients share, with the helpers that describe a failed
// response. It is internal because it is plumbing, not product API; text
// cleaning for everyone is internal/safetext.
package retryhttp

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/hashicorp/go-retryablehttp"

	"github.com/multinic/multinic/internal/safetext"
)

// Defaults for the zero values of Options.
const (
	DefaultTimeout      = 30 * time.Second
	DefaultRetryMax     = 3
	DefaultRetryWaitMin = 100 * time.Millisecond
	DefaultRetryWaitMax = 2 * time.Second
	// DefaultMaxResponseBytes is what the largest answer for a 10,000-VM
	// fleet needs, with at least 2.5 times headroom (measured on the fakes,
	// ten target ports per VM: Nova's detailed server list pages at 1,000
	// servers by default, 2.6 MB; the short list of all 10,000 servers in
	// one page, 2.8 MB; a Neutron ports page is one 100-VM device_id batch,
	// 0.3 MB). Each of up to 16 concurrent requests may read this much, so
	// it is kept tight. TestDefaultMaxResponseBytesFitsATenThousandVMFleet
	// (package openstack) keeps the measurement.
	DefaultMaxResponseBytes = 8 << 20
)

// errorBodyBytes bounds the body of a response with a non-2xx status. Such a
// body is only ever quoted in an error message, yet gophercloud reads it
// whole: an HTML error page of many megabytes must not land on the heap.
const errorBodyBytes = 64 << 10

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
	// MaxResponseBytes bounds the body of each 2xx response: reading past it
	// fails with a *BodyTooLargeError, so a broken or hostile service cannot
	// exhaust memory. Zero means DefaultMaxResponseBytes. Bodies of other
	// statuses are cut silently at 64 KiB, as they are only quoted in errors.
	MaxResponseBytes int64
	// PassLastResponse makes Do, when retries run out, return the last
	// response and error as they are (net/http's and gophercloud's
	// contract) instead of wrapping the error in an *AttemptsError, and
	// without the *url.Error that the http.Client using the client as its
	// RoundTripper (StandardClient) adds itself.
	PassLastResponse bool
	// Observer, when set, hears about every attempt (retries included) under
	// the name Dependency, e.g. to count requests per dependency. Dependency
	// also names the service in a *BodyTooLargeError.
	Observer   Observer
	Dependency string
	// Origins, when set, are the only scheme://host:port requests may go
	// to; any other request fails with an *OriginError before it is sent.
	// Redirects are never followed, Origins or not (see RedirectError).
	Origins *Origins
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

// Unwrap returns the transport under the observer.
func (o observed) Unwrap() http.RoundTripper { return o.next }

// singleAttempt sends each request once. net/http replays an idempotent
// request by itself when a kept-alive connection fails before the answer,
// on the next idle connection, and again on the one after: unseen by the
// retry loop, which made 7 requests of 4 attempts (issue 20.7). A request
// is replayed only when net/http can rewind its body, so each attempt gets
// a body it cannot rewind; for a request without one it is empty, which
// net/http finds out before writing, so nothing changes on the wire.
type singleAttempt struct{ next http.RoundTripper }

func (s singleAttempt) RoundTrip(req *http.Request) (*http.Response, error) {
	once := *req // the caller's request is not ours to change
	once.GetBody = nil
	if once.Body == nil || once.Body == http.NoBody {
		once.Body, once.ContentLength = emptyBody{}, 0
	}
	return s.next.RoundTrip(&once)
}

// Unwrap returns the transport under the wrapper.
func (s singleAttempt) Unwrap() http.RoundTripper { return s.next }

// emptyBody is a body net/http cannot rewind and reads as empty.
type emptyBody struct{}

func (emptyBody) Read([]byte) (int, error) { return 0, io.EOF }
func (emptyBody) Close() error             { return nil }

// bodyLimit bounds every response body: a 2xx body fails past limit, any
// other is cut at errorBodyBytes.
type bodyLimit struct {
	next       http.RoundTripper
	dependency string
	limit      int64
}

func (b bodyLimit) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := b.next.RoundTrip(req)
	if resp == nil || resp.Body == nil || resp.Body == http.NoBody {
		return resp, err
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		resp.Body = cutBody{Reader: io.LimitReader(resp.Body, errorBodyBytes), Closer: resp.Body}
		return resp, err
	}
	body := &limitedBody{body: resp.Body, remaining: b.limit}
	tooLarge := &BodyTooLargeError{Dependency: b.dependency, Method: req.Method, Path: req.URL.Path, Limit: b.limit}
	body.tooLarge = tooLarge
	if resp.ContentLength > b.limit {
		// Announced as too large: fail on the first read, without reading.
		body.err = tooLarge
	}
	resp.Body = body
	return resp, err
}

// Unwrap returns the transport under the limit.
func (b bodyLimit) Unwrap() http.RoundTripper { return b.next }

type cutBody struct {
	io.Reader
	io.Closer
}

// limitedBody is http.MaxBytesReader for a response: it reads at most
// remaining bytes and fails once the body holds more.
type limitedBody struct {
	body      io.ReadCloser
	remaining int64
	tooLarge  *BodyTooLargeError
	err       error
}

func (l *limitedBody) Read(p []byte) (int, error) {
	if l.err != nil {
		return 0, l.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	// One byte more than allowed tells a body of exactly the limit from a
	// larger one.
	if int64(len(p))-1 > l.remaining {
		p = p[:l.remaining+1]
	}
	n, err := l.body.Read(p)
	if int64(n) <= l.remaining {
		l.remaining -= int64(n)
		l.err = err
		return n, err
	}
	n = int(l.remaining)
	l.remaining = 0
	l.err = l.tooLarge
	return n, l.err
}

func (l *limitedBody) Close() error { return l.body.Close() }

// BodyTooLargeError is a response body beyond Options.MaxResponseBytes.
type BodyTooLargeError struct {
	Dependency   string
	Method, Path string
	Limit        int64
}

func (e *BodyTooLargeError) Error() string {
	dependency := cmp.Or(e.Dependency, "the server")
	return fmt.Sprintf("response of %s to %s %s is larger than the limit of %s (MaxResponseBytes); the answer is not read any further",
		dependency, e.Method, e.Path, formatBytes(e.Limit))
}

// formatBytes writes n in the largest binary unit that divides it, so a
// limit reads as it was configured ("8 MiB", "1536 KiB", "100 bytes").
func formatBytes(n int64) string {
	for _, unit := range []struct {
		size int64
		name string
	}{{1 << 30, "GiB"}, {1 << 20, "MiB"}, {1 << 10, "KiB"}} {
		if n >= unit.size && n%unit.size == 0 {
			return fmt.Sprintf("%d %s", n/unit.size, unit.name)
		}
	}
	return fmt.Sprintf("%d bytes", n)
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
	case opts.MaxResponseBytes < 0:
		return nil, fmt.Errorf("MaxResponseBytes must not be negative, got %d", opts.MaxResponseBytes)
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
	// Under the base client, so that its Timeout also bounds reading the body.
	base.Transport = bodyLimit{next: singleAttempt{next: base.Transport}, dependency: opts.Dependency, limit: cmp.Or(opts.MaxResponseBytes, DefaultMaxResponseBytes)}
	if opts.Observer != nil {
		base.Transport = observed{next: base.Transport, observer: opts.Observer, dependency: opts.Dependency}
	}
	if opts.Origins != nil {
		// Outermost: a refused request is no attempt, so not observed.
		base.Transport = originGuard{next: base.Transport, allowed: opts.Origins, dependency: opts.Dependency}
	}
	base.CheckRedirect = refuseRedirect(opts.Dependency)

	retryMax := opts.RetryMax
	switch {
	case retryMax == 0:
		retryMax = DefaultRetryMax
	case retryMax < 0:
		retryMax = 0
	}
	waitMin := cmp.Or(opts.RetryWaitMin, DefaultRetryWaitMin)
	waitMax := max(cmp.Or(opts.RetryWaitMax, DefaultRetryWaitMax), waitMin)

	// The last error, with a timed-out attempt named after the setting that
	// bounds it and URL passwords masked; errors.Is/As still see the cause.
	explain := func(err error) error {
		var urlErr *url.Error
		if errors.As(err, &urlErr) && urlErr.Timeout() {
			err = &url.Error{Op: urlErr.Op, URL: urlErr.URL, Err: &TimeoutError{Setting: timeoutName, Duration: base.Timeout, Err: urlErr.Err}}
		}
		return redactURLs(err)
	}
	errorHandler := func(resp *http.Response, err error, attempts int) (*http.Response, error) {
		if refused := refusal(err); refused != nil {
			closeBody(resp)
			return nil, refused
		}
		return resp, &AttemptsError{Attempts: attempts, Err: explain(err)}
	}
	if opts.PassLastResponse {
		errorHandler = func(resp *http.Response, err error, _ int) (*http.Response, error) {
			if err == nil {
				return resp, nil
			}
			if refused := refusal(err); refused != nil {
				closeBody(resp)
				return nil, refused
			}
			// A RoundTripper returns a response or an error, not both:
			// net/http would log the response and leak its connection.
			if resp != nil {
				_ = resp.Body.Close()
				resp = nil
			}
			err = explain(err)
			// The http.Client this is a RoundTripper of names the request
			// itself; its *url.Error around this one would repeat it.
			var urlErr *url.Error
			if errors.As(err, &urlErr) {
				err = redactURLs(urlErr.Err)
			}
			return resp, err
		}
	}

	return &retryablehttp.Client{
		HTTPClient:   base,
		Logger:       nil, // errors are returned to the caller, which decides what to log
		RetryWaitMin: waitMin,
		RetryWaitMax: waitMax,
		RetryMax:     retryMax,
		CheckRetry:   checkRetry,
		Backoff:      cappedBackoff,
		// Called only when an attempt failed and no retry is left. Handing
		// the last response back lets the error name the final HTTP status
		// and quote its body.
		ErrorHandler: errorHandler,
	}, nil
}

// checkRetry is retryablehttp's policy, except that a refused redirect or
// origin is final: asking again gets the same answer.
func checkRetry(ctx context.Context, resp *http.Response, err error) (bool, error) {
	if refusal(err) != nil {
		return false, err
	}
	return retryablehttp.DefaultRetryPolicy(ctx, resp, err)
}

// closeBody closes the body of a response not handed to the caller.
func closeBody(resp *http.Response) {
	if resp != nil && resp.Body != nil {
		_ = resp.Body.Close()
	}
}

// cappedBackoff is retryablehttp's back-off, except that a server's
// Retry-After cannot stretch one wait beyond max and stall a reconcile.
func cappedBackoff(minWait, maxWait time.Duration, attempt int, resp *http.Response) time.Duration {
	return min(retryablehttp.DefaultBackoff(minWait, maxWait, attempt, resp), maxWait)
}

// TimeoutError is an attempt that got no (complete) answer within the
// per-attempt timeout. It names the setting, so the message says what to
// change.
type TimeoutError struct {
	Setting  string
	Duration time.Duration
	Err      error
}

func (e *TimeoutError) Error() string {
	return fmt.Sprintf("no answer within %s (%s)", e.Duration, e.Setting)
}

func (e *TimeoutError) Unwrap() error { return e.Err }

// Timeout reports true, like the net/http error it replaces.
func (e *TimeoutError) Timeout() bool { return true }

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

// StatusError describes a response with a status the caller does not accept:
// "HTTP 503 after 4 attempts: <excerpt>" when err is an *AttemptsError of
// more than one attempt, else "HTTP 404: <excerpt>". It reads the start of
// resp.Body (see BodyExcerpt, which masks secrets) and leaves closing it to
// the caller.
func StatusError(resp *http.Response, err error, excerptLimit int, secrets ...string) error {
	excerpt := BodyExcerpt(resp.Body, excerptLimit, secrets...)
	var exhausted *AttemptsError
	if errors.As(err, &exhausted) && exhausted.Attempts > 1 {
		return fmt.Errorf("HTTP %d after %d attempts: %s", resp.StatusCode, exhausted.Attempts, excerpt)
	}
	return fmt.Errorf("HTTP %d: %s", resp.StatusCode, excerpt)
}

// BodyExcerpt reads the start of an error body (at most 4*limit bytes) and
// returns it as one line of at most limit bytes, or a note that it was empty
// or unreadable. Secrets, and credential headers the answer echoes, are
// masked before the cut (safetext.Mask): cut first, a secret split by the
// cut would no longer match, and its first half would show.
func BodyExcerpt(body io.Reader, limit int, secrets ...string) string {
	raw, err := io.ReadAll(io.LimitReader(body, 4*int64(limit)))
	if err != nil && len(raw) == 0 {
		return fmt.Sprintf("(body unreadable: %v)", err)
	}
	if excerpt := safetext.OneLine(safetext.Mask(string(raw), secrets...), limit); excerpt != "" {
		return excerpt
	}
	return "(empty body)"
}

// redactURLs masks URL passwords in err's message. net/http masks the
// password of the URL it quotes, but a transport's own error may quote the
// URL whole.
func redactURLs(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	if redacted := safetext.RedactURLs(msg); redacted != msg {
		return redactedError{msg: redacted, err: err}
	}
	return err
}

type redactedError struct {
	msg string
	err error
}

func (e redactedError) Error() string { return e.msg }
func (e redactedError) Unwrap() error { return e.err }

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
		return "", fmt.Errorf("%q must be an absolute http:// or https:// URL", safetext.RedactURLs(u.Redacted()))
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("%q must not carry a query or fragment", safetext.RedactURLs(u.Redacted()))
	}
	return strings.TrimRight(raw, "/"), nil
}
