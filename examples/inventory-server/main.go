// Command inventory-server shows how to embed the multinic inventory API in
// a plain net/http server that has routes of its own. It opens an inventory
// file, seeds two node configs so there is something to see, and serves the
// read-only API under /inventory/ next to its own index page at /.
//
//	go run ./examples/inventory-server -addr 127.0.0.1:18081
//	curl http://127.0.0.1:18081/inventory/v1/inventory/node-configs
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/multinic/multinic/inventory"
	"github.com/multinic/multinic/viola"
)

// prefix is where the inventory API is mounted in this server.
const prefix = "/inventory"

func main() {
	addr := flag.String("addr", "127.0.0.1:18081", "listen address")
	path := flag.String("path", "", "inventory file; empty means a file in a new temporary directory, removed on exit")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	ready := func(a net.Addr) {
		log.Printf("serving the inventory at http://%s%s%s (own index at http://%s/)", a, prefix, inventory.NodeConfigsPath, a)
	}
	err := run(ctx, *addr, *path, ready)
	stop()
	if err != nil {
		log.Fatal(err)
	}
}

// run serves until ctx is done, then shuts down gracefully. ready is called
// with the bound address once requests are accepted, which lets a caller
// pass port 0 and learn the port.
func run(ctx context.Context, addr, path string, ready func(net.Addr)) error {
	if path == "" {
		dir, err := os.MkdirTemp("", "inventory-server-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		path = filepath.Join(dir, "inventory.json")
	}
	store, err := inventory.Open(path)
	if err != nil {
		return err
	}
	defer func() { _ = store.Close() }() // releases the inventory's lock for the next process
	if err := seed(store); err != nil {
		return err
	}

	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	srv := &http.Server{
		Handler:           newMux(store),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       60 * time.Second,
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	ready(ln.Addr())

	select {
	case err := <-errc:
		return fmt.Errorf("serve on %s: %w", addr, err)
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// newMux is the server's routing: the inventory handler under prefix (it
// must be stripped, the handler serves its routes from "/") and the server's
// own index page.
func newMux(store *inventory.Store) *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle(prefix+"/", http.StripPrefix(prefix, inventory.NewHandler(store)))
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintf(w, "inventory example\n\n%s%s\n%s%s/{nodeName}\n%s%s\n%s%s\n",
			prefix, inventory.NodeConfigsPath, prefix, inventory.NodeConfigsPath,
			prefix, inventory.HealthzPath, prefix, inventory.OpenAPIPath)
	})
	return mux
}

// seed stores two nodes, as one sync pass would. Re-running against the same
// file changes nothing, since the configs are identical.
func seed(store *inventory.Store) error {
	nodes := []viola.NodeConfig{
		{NodeName: "worker-1", InstanceID: "vm-1", Interfaces: []viola.Interface{
			{ID: 0, Name: viola.InterfaceName(0), PortID: "port-1", MACAddress: "fa:16:3e:00:00:01", Address: "10.0.0.11", CIDR: "10.0.0.0/24", MTU: 1450},
		}},
		{NodeName: "worker-2", InstanceID: "vm-2", Interfaces: []viola.Interface{
			{ID: 0, Name: viola.InterfaceName(0), PortID: "port-2", MACAddress: "fa:16:3e:00:00:02", Address: "10.0.0.12", CIDR: "10.0.0.0/24", MTU: 1450},
			{ID: 1, Name: viola.InterfaceName(1), PortID: "port-3", MACAddress: "fa:16:3e:00:00:03", Address: "10.1.0.12", CIDR: "10.1.0.0/24", MTU: 9000},
		}},
	}
	if _, err := store.Upsert("example-provider", nodes...); err != nil {
		return fmt.Errorf("seed inventory: %w", err)
	}
	return nil
}
