package main

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/multinic/multinic/inventory"
)

// start runs the example on a free port and returns its base URL and a stop
// function that shuts it down and returns run's error.
func start(t *testing.T, path string) (string, func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	addrc := make(chan net.Addr, 1)
	errc := make(chan error, 1)
	go func() { errc <- run(ctx, "127.0.0.1:0", path, func(a net.Addr) { addrc <- a }) }()
	select {
	case a := <-addrc:
		var once sync.Once
		var runErr error
		stop := func() error {
			once.Do(func() {
				cancel()
				runErr = <-errc
			})
			return runErr
		}
		t.Cleanup(func() { _ = stop() })
		return "http://" + a.String(), stop
	case err := <-errc:
		cancel()
		t.Fatalf("run failed before serving: %v", err)
		return "", nil
	}
}

func fetch(t *testing.T, method, url string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, resp.Header, body
}

func TestExampleServesTheInventoryUnderItsPrefix(t *testing.T) {
	path := filepath.Join(t.TempDir(), "inventory.json")
	base, stop := start(t, path)

	status, header, body := fetch(t, http.MethodGet, base+"/inventory/v1/inventory/node-configs")
	require.Equal(t, http.StatusOK, status, string(body))
	assert.Equal(t, "application/json", header.Get("Content-Type"))
	var recs []inventory.Record
	require.NoError(t, json.Unmarshal(body, &recs))
	require.Len(t, recs, 2)
	assert.Equal(t, "example-provider", recs[0].ProviderID)
	assert.Equal(t, []string{"worker-1", "worker-2"}, []string{recs[0].NodeName, recs[1].NodeName})

	status, _, body = fetch(t, http.MethodGet, base+"/inventory/v1/inventory/node-configs/worker-2?providerId=example-provider")
	require.Equal(t, http.StatusOK, status, string(body))
	require.NoError(t, json.Unmarshal(body, &recs))
	require.Len(t, recs, 1)
	assert.Len(t, recs[0].Config.Interfaces, 2)

	status, _, _ = fetch(t, http.MethodGet, base+"/inventory/v1/inventory/node-configs/worker-9")
	assert.Equal(t, http.StatusNotFound, status)
	status, _, body = fetch(t, http.MethodGet, base+"/inventory/healthz")
	assert.Equal(t, http.StatusOK, status)
	assert.Equal(t, "ok", string(body))
	status, header, body = fetch(t, http.MethodGet, base+"/inventory/openapi.yaml")
	assert.Equal(t, http.StatusOK, status)
	assert.Equal(t, "application/yaml", header.Get("Content-Type"))
	assert.True(t, strings.HasPrefix(string(body), "openapi: 3."))
	status, _, _ = fetch(t, http.MethodPost, base+"/inventory/v1/inventory/node-configs")
	assert.Equal(t, http.StatusMethodNotAllowed, status)

	status, _, body = fetch(t, http.MethodGet, base+"/")
	assert.Equal(t, http.StatusOK, status)
	assert.Contains(t, string(body), "/inventory/v1/inventory/node-configs", "the server's own route must be served")
	status, _, _ = fetch(t, http.MethodGet, base+"/healthz")
	assert.Equal(t, http.StatusNotFound, status, "the inventory must only answer under its prefix")

	require.NoError(t, stop(), "a cancelled run must shut down cleanly")
	s, err := inventory.Open(path)
	require.NoError(t, err)
	assert.Len(t, s.List(inventory.Filter{}), 2, "the seeded records must be in the file")
}

func TestRunReportsAnUnusableAddressOrFile(t *testing.T) {
	ctx := context.Background()
	never := func(net.Addr) { t.Error("ready must not be called") }

	err := run(ctx, "127.0.0.1:not-a-port", filepath.Join(t.TempDir(), "inventory.json"), never)
	assert.ErrorContains(t, err, "127.0.0.1:not-a-port")

	path := filepath.Join(t.TempDir(), "inventory.json")
	require.NoError(t, os.WriteFile(path, []byte("{broken"), 0o600))
	err = run(ctx, "127.0.0.1:0", path, never)
	assert.ErrorIs(t, err, inventory.ErrCorrupt)
	assert.ErrorContains(t, err, path)
}
