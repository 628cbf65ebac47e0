package inventory

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/multinic/multinic/viola"
)

// benchNodes is a large Biz cluster: every node has three extra NICs.
const benchNodes = 500

func benchConfigs() []viola.NodeConfig {
	cfgs := make([]viola.NodeConfig, benchNodes)
	for i := range cfgs {
		name := fmt.Sprintf("worker-%03d", i)
		cfgs[i] = node(name, "vm-"+name,
			fmt.Sprintf("fa:16:3e:%02x:%02x:01", i/256, i%256),
			fmt.Sprintf("fa:16:3e:%02x:%02x:02", i/256, i%256),
			fmt.Sprintf("fa:16:3e:%02x:%02x:03", i/256, i%256))
	}
	return cfgs
}

func benchStore(b *testing.B) (*Store, []viola.NodeConfig, string) {
	b.Helper()
	s, path := openTemp(b)
	cfgs := benchConfigs()
	if _, err := s.Upsert("prov", cfgs...); err != nil {
		b.Fatal(err)
	}
	return s, cfgs, path
}

// BenchmarkUpsertUnchanged is the steady state: every poll re-offers all
// nodes and none changed, so only hashing and lookups should be paid.
func BenchmarkUpsertUnchanged(b *testing.B) {
	s, cfgs, _ := benchStore(b)
	b.ReportAllocs()
	for b.Loop() {
		if n, err := s.Upsert("prov", cfgs...); err != nil || n != 0 {
			b.Fatalf("changed=%d err=%v", n, err)
		}
	}
}

// BenchmarkUpsertOneChanged is a port change on one node: the whole file is
// rewritten and fsynced.
func BenchmarkUpsertOneChanged(b *testing.B) {
	s, cfgs, _ := benchStore(b)
	cfg := cfgs[benchNodes/2]
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		cfg.Interfaces = []viola.Interface{cfgs[0].Interfaces[0]}
		cfg.Interfaces[0].MTU = 1000 + i%2
		if n, err := s.Upsert("prov", cfg); err != nil || n != 1 {
			b.Fatalf("changed=%d err=%v", n, err)
		}
	}
}

func BenchmarkListByProvider(b *testing.B) {
	s, _, _ := benchStore(b)
	b.ReportAllocs()
	for b.Loop() {
		if got := s.List(Filter{ProviderID: "prov"}); len(got) != benchNodes {
			b.Fatalf("listed %d", len(got))
		}
	}
}

func BenchmarkHandlerListAll(b *testing.B) {
	s, _, _ := benchStore(b)
	h := NewHandler(s)
	b.ReportAllocs()
	for b.Loop() {
		if rec := serve(h, http.MethodGet, "/v1/inventory/node-configs"); rec.Code != http.StatusOK {
			b.Fatalf("status %d", rec.Code)
		}
	}
}

func BenchmarkHandlerByNode(b *testing.B) {
	s, _, _ := benchStore(b)
	h := NewHandler(s)
	b.ReportAllocs()
	for b.Loop() {
		if rec := serve(h, http.MethodGet, "/v1/inventory/node-configs/worker-250?providerId=prov"); rec.Code != http.StatusOK {
			b.Fatalf("status %d", rec.Code)
		}
	}
}

func BenchmarkOpen(b *testing.B) {
	_, _, path := benchStore(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Open(path); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkConfigHash(b *testing.B) {
	cfg := benchConfigs()[0]
	b.ReportAllocs()
	for b.Loop() {
		ConfigHash(cfg)
	}
}
