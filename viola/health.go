package viola

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/multinic/multinic/internal/safetext"
)

// HealthPath is where the Viola test API, and a Viola that has one, answers
// whether it is healthy.
const HealthPath = "/healthz"

// ErrNoHealthEndpoint means the server has no HealthPath (it answered 404,
// 405 or 501): a caller checks the connection some other way.
var ErrNoHealthEndpoint = errors.New("no " + HealthPath + " endpoint")

// Health asks GET HealthPath once, with the client's transport and TLS
// settings, and posts nothing: nil for a 2xx answer (status is the code),
// an error wrapping ErrNoHealthEndpoint when the server has none, else an
// error with the status and an excerpt of the body. A redirect is not
// followed: it is an answer from somewhere else, so it is an error too.
func (c *Client) Health(ctx context.Context) (status int, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.endpoint+HealthPath, nil)
	if err != nil {
		return 0, fmt.Errorf("viola: GET %s: %w", HealthPath, err)
	}
	hc := *c.http.HTTPClient
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := hc.Do(req)
	if err != nil {
		return 0, fmt.Errorf("viola: GET %s: %w", HealthPath, err)
	}
	defer func() { _ = resp.Body.Close() }()
	excerpt, _ := io.ReadAll(io.LimitReader(resp.Body, excerptBytes))
	switch code := resp.StatusCode; {
	case code >= 200 && code < 300:
		return code, nil
	case code == http.StatusNotFound || code == http.StatusMethodNotAllowed || code == http.StatusNotImplemented:
		return code, fmt.Errorf("viola: GET %s answered %d: %w", HealthPath, code, ErrNoHealthEndpoint)
	case code >= 300 && code < 400:
		return code, fmt.Errorf("viola: GET %s answered %d, a redirect to %q (not followed)", HealthPath, code, safetext.RedactURL(resp.Header.Get("Location")))
	default:
		return code, fmt.Errorf("viola: GET %s answered %d: %s", HealthPath, code, safetext.OneLine(string(excerpt), excerptBytes))
	}
}
