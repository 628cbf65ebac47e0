package fault

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestInjector(t *testing.T) {
	var i Injector
	_, ok := i.Take()
	assert.False(t, ok, "nothing injected by default")
	i.Fail(503, 2)
	for range 2 {
		f, ok := i.Take()
		require.True(t, ok)
		assert.Equal(t, Status(503), f)
	}
	_, ok = i.Take()
	assert.False(t, ok, "two failures, then served")

	i.Inject(Hang(), -1)
	for range 5 {
		f, ok := i.Take()
		require.True(t, ok)
		assert.Equal(t, "hang", f.String())
	}
	i.SetLatency(time.Second)
	assert.Equal(t, time.Second, i.Arrive())
	i.ClearFaults()
	_, ok = i.Take()
	assert.False(t, ok)
	assert.Zero(t, i.Arrive())
	assert.Equal(t, 2, i.Requests(), "ClearFaults keeps the count")

	i.Inject(Hang(), 3)
	i.Inject(Hang(), 0)
	_, ok = i.Take()
	assert.False(t, ok, "times 0 removes the fault")
}

func TestWaitStopsEarly(t *testing.T) {
	assert.True(t, Wait(context.Background(), nil, 0))
	assert.True(t, Wait(context.Background(), nil, time.Millisecond))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	assert.False(t, Wait(ctx, nil, time.Hour), "a gone client ends the wait")
	closing := make(chan struct{})
	close(closing)
	assert.False(t, Wait(context.Background(), closing, time.Hour), "closing the server ends the wait")
}

// serve starts a server answering every request with f, whose envelope is
// {"error": status}.
func serve(t *testing.T, f Fault) *httptest.Server {
	t.Helper()
	closing := make(chan struct{})
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.Serve(w, r, closing, func(w http.ResponseWriter, status int) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			_, _ = io.WriteString(w, `{"error":"envelope"}`)
		})
	}))
	t.Cleanup(func() {
		select {
		case <-closing:
		default:
			close(closing)
		}
		server.Close()
	})
	return server
}

func TestStatusUsesTheServiceEnvelope(t *testing.T) {
	server := serve(t, Status(503).WithHeader("Retry-After", "3600"))
	resp, err := http.Get(server.URL)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	assert.Equal(t, 503, resp.StatusCode)
	assert.Equal(t, "3600", resp.Header.Get("Retry-After"))
	assert.JSONEq(t, `{"error":"envelope"}`, string(body))
}

func TestBodyIsSentAsIs(t *testing.T) {
	for _, body := range []string{"", "{}", `{"ports":"not a list"`, "<html>"} {
		server := serve(t, Body(200, body))
		resp, err := http.Get(server.URL)
		require.NoError(t, err)
		got, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.NoError(t, err)
		assert.Equal(t, body, string(got))
		assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
	}
}

func TestOversizedStreamsAWellFormedObject(t *testing.T) {
	const size = 3<<20 + 7
	server := serve(t, Oversized(http.StatusOK, size))
	resp, err := http.Get(server.URL)
	require.NoError(t, err)
	defer resp.Body.Close()
	assert.EqualValues(t, -1, resp.ContentLength, "streamed, not announced")
	var doc struct{ Padding string }
	counted := &countingReader{r: resp.Body}
	require.NoError(t, json.NewDecoder(counted).Decode(&doc))
	assert.Equal(t, size, counted.n)
	assert.Len(t, doc.Padding, size-len(`{"padding":""}`))
}

func TestHangLastsUntilTheClientGivesUp(t *testing.T) {
	server := serve(t, Hang())
	client := &http.Client{Timeout: 50 * time.Millisecond}
	start := time.Now()
	err := getExpectingFailure(client, server.URL)
	require.Error(t, err)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Less(t, time.Since(start), 10*time.Second)
}

func TestHangEndsWhenTheServerCloses(t *testing.T) {
	closing := make(chan struct{})
	arrived := make(chan struct{})
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(arrived)
		Hang().Serve(w, r, closing, nil)
	}))
	done := make(chan error, 1)
	go func() { done <- getExpectingFailure(http.DefaultClient, server.URL) }()
	<-arrived
	close(closing)
	server.Close() // returns only once the hanging handler has
	select {
	case err := <-done:
		assert.Error(t, err, "no answer was given")
	case <-time.After(30 * time.Second):
		t.Fatal("the client still waits after the server closed")
	}
}

func TestResets(t *testing.T) {
	t.Run("before response", func(t *testing.T) {
		server := serve(t, ResetBeforeResponse())
		err := getExpectingFailure(&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}, server.URL)
		require.Error(t, err)
		assert.True(t, errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.EOF), "got %v", err)
	})
	t.Run("during body", func(t *testing.T) {
		server := serve(t, ResetDuringBody(http.StatusCreated))
		resp, err := http.Get(server.URL)
		require.NoError(t, err, "the status line and headers arrive")
		defer resp.Body.Close()
		assert.Equal(t, http.StatusCreated, resp.StatusCode)
		body, err := io.ReadAll(resp.Body)
		require.Error(t, err)
		assert.True(t, errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.ErrUnexpectedEOF), "got %v", err)
		assert.Contains(t, string(body), `{"partial":`)
	})
}

func TestString(t *testing.T) {
	assert.Equal(t, "HTTP 503", Status(503).String())
	assert.Equal(t, `HTTP 200 body "{}"`, Body(200, "{}").String())
	assert.Equal(t, "HTTP 201 oversized 100 bytes", Oversized(201, 100).String())
	assert.Equal(t, "reset before response", ResetBeforeResponse().String())
	assert.Equal(t, "HTTP 200 reset during body", ResetDuringBody(200).String())
}

type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

// getExpectingFailure requests url for a test that expects no response, and
// closes the body of one that came all the same, so a failing test leaks no
// connection.
func getExpectingFailure(client *http.Client, url string) error {
	resp, err := client.Get(url)
	if err == nil {
		resp.Body.Close()
	}
	return err
}

func TestRedirectEchoAndLinkFaults(t *testing.T) {
	envelope := func(w http.ResponseWriter, status int) { http.Error(w, "envelope", status) }
	rec := httptest.NewRecorder()
	Redirect(http.StatusTemporaryRedirect, "http://elsewhere.example/v3/auth/tokens").Serve(rec, httptest.NewRequest(http.MethodPost, "/v3/auth/tokens", nil), nil, envelope)
	assert.Equal(t, http.StatusTemporaryRedirect, rec.Code)
	assert.Equal(t, "http://elsewhere.example/v3/auth/tokens", rec.Header().Get("Location"))
	assert.Empty(t, rec.Body.String())

	rec = httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodPost, "/v3/auth/tokens?x=1", strings.NewReader(`{"password":"p\"w"}`))
	req.Header.Set("Authorization", "Basic b3BzOnB3")
	Echo(http.StatusBadRequest).Serve(rec, req, nil, envelope)
	assert.Equal(t, http.StatusBadRequest, rec.Code)
	assert.Contains(t, rec.Body.String(), "POST /v3/auth/tokens?x=1")
	assert.Contains(t, rec.Body.String(), "Authorization: Basic b3BzOnB3")
	assert.Contains(t, rec.Body.String(), `{"password":"p\"w"}`, "the body as it came, JSON escapes and all")
	assert.Equal(t, "HTTP 400 echoing the request", Echo(400).String())

	links := NextLinksTo("http://elsewhere.example:8080")
	assert.Equal(t, "http://elsewhere.example:8080", links.LinkBase())
	assert.Empty(t, Status(500).LinkBase())
	assert.Equal(t, "next links to http://elsewhere.example:8080", links.String())
	assert.Panics(t, func() { links.Serve(httptest.NewRecorder(), req, nil, envelope) }, "the fake serves it, not Serve")
}

func TestRecorderKeepsWhatItGot(t *testing.T) {
	rec := NewRecorder()
	defer rec.Close()
	req, err := http.NewRequest(http.MethodPost, rec.URL+"/v3/auth/tokens?a=b", strings.NewReader("secret body"))
	require.NoError(t, err)
	req.Header.Set("X-Auth-Token", "tok")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	_ = resp.Body.Close()
	got := rec.Requests()
	require.Len(t, got, 1)
	assert.Equal(t, "POST", got[0].Method)
	assert.Equal(t, "/v3/auth/tokens?a=b", got[0].URI)
	assert.Equal(t, "tok", got[0].Header.Get("X-Auth-Token"))
	assert.Equal(t, "secret body", string(got[0].Body))
}
