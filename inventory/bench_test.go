package inventory

import (
	"fmt"
	"io/fs"
	"net/http"
	"path/filepath"
	"sync"
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
	s, _, path := benchStore(b)
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		opened, err := Open(path)
		if err != nil {
			b.Fatal(err)
		}
		if err := opened.Close(); err != nil {
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

// batchConfigs is n nodes with two NICs each, every MTU set to mtu, so two
// calls with different MTUs change every node.
func batchConfigs(n, mtu int) []viola.NodeConfig {
	cfgs := make([]viola.NodeConfig, n)
	for i := range cfgs {
		name := fmt.Sprintf("worker-%04d", i)
		cfgs[i] = node(name, "vm-"+name,
			fmt.Sprintf("fa:16:3e:%02x:%02x:01", i/256, i%256),
			fmt.Sprintf("fa:16:3e:%02x:%02x:02", i/256, i%256))
		for j := range cfgs[i].Interfaces {
			cfgs[i].Interfaces[j].MTU = mtu
		}
	}
	return cfgs
}

// BenchmarkUpsertBatch1000 is one sync pass that writes 1000 nodes in one
// batch: into an empty file ("new"), over 1000 stored nodes that all changed
// ("changed"), and the latter without a file ("changed-memory") to show
// how much of it is the write and fsync.
func BenchmarkUpsertBatch1000(b *testing.B) {
	const n = 1000
	cfgs := [2][]viola.NodeConfig{batchConfigs(n, 1450), batchConfigs(n, 9000)}

	b.Run("new", func(b *testing.B) {
		dir := b.TempDir()
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			b.StopTimer()
			i++
			s, err := Open(filepath.Join(dir, fmt.Sprintf("inventory-%d.json", i)))
			if err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			if changed, err := s.Upsert("prov", cfgs[0]...); err != nil || changed != n {
				b.Fatalf("changed=%d err=%v", changed, err)
			}
		}
	})
	changed := func(b *testing.B, path string) {
		s, err := Open(path)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := s.Upsert("prov", cfgs[0]...); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			i++
			if changed, err := s.Upsert("prov", cfgs[i%2]...); err != nil || changed != n {
				b.Fatalf("changed=%d err=%v", changed, err)
			}
		}
	}
	b.Run("changed", func(b *testing.B) { changed(b, filepath.Join(b.TempDir(), "inventory.json")) })
	b.Run("changed-memory", func(b *testing.B) { changed(b, "") })
}

// BenchmarkList10000 lists an inventory of 10 providers with 1000 nodes each
// by every filter the API offers.
func BenchmarkList10000(b *testing.B) {
	s, _ := openTemp(b)
	cfgs := batchConfigs(1000, 1450)
	for p := range 10 {
		if _, err := s.Upsert(fmt.Sprintf("prov-%d", p), cfgs...); err != nil {
			b.Fatal(err)
		}
	}
	for _, bc := range []struct {
		name string
		f    Filter
		want int
	}{
		{"none", Filter{}, 10000},
		{"providerId", Filter{ProviderID: "prov-7"}, 1000},
		{"nodeName", Filter{NodeName: "worker-0500"}, 10},
		{"instanceId", Filter{InstanceID: "vm-worker-0500"}, 10},
		{"providerId+nodeName", Filter{ProviderID: "prov-7", NodeName: "worker-0500"}, 1},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if got := s.List(bc.f); len(got) != bc.want {
					b.Fatalf("listed %d, want %d", len(got), bc.want)
				}
			}
		})
	}
}

// BenchmarkRound is one round of passes over a fleet of keys (one Biz
// cluster per CR), each writing its key's nodes, all changed, from writers
// at once as the operator's workers do; each write waits until durable.
// bytes/inventory-size is what the round wrote over the whole inventory's
// size on disk (the file and every shard).
func BenchmarkRound(b *testing.B) {
	for _, bc := range []struct{ keys, nodes, writers int }{{100, 20, 16}, {1000, 10, 16}} {
		b.Run(fmt.Sprintf("keys=%d/nodes=%d/writers=%d", bc.keys, bc.nodes, bc.writers), func(b *testing.B) {
			s, path := openTemp(b)
			cfgs := [2][]viola.NodeConfig{batchConfigs(bc.nodes, 1450), batchConfigs(bc.nodes, 9000)}
			round := func(i int) {
				keys := make(chan int)
				var wg sync.WaitGroup
				for range bc.writers {
					wg.Go(func() {
						for k := range keys {
							if _, err := s.Upsert(fmt.Sprintf("biz-%04d", k), cfgs[i%2]...); err != nil {
								b.Error(err)
							}
						}
					})
				}
				for k := range bc.keys {
					keys <- k
				}
				close(keys)
				wg.Wait()
			}
			round(1)
			before := s.WriteStats()
			i := 0
			for b.Loop() {
				round(i)
				i++
			}
			written := s.WriteStats().Bytes - before.Bytes
			b.ReportMetric(float64(written)/float64(b.N)/float64(inventoryBytes(b, path)), "bytes/inventory-size")
			b.ReportMetric(float64(s.WriteStats().Files-before.Files)/float64(b.N), "files/round")
		})
	}
}

// inventoryBytes is the size of the inventory at path: the file and every
// file of a shard directory beside it.
func inventoryBytes(b *testing.B, path string) int64 {
	var size int64
	for _, p := range []string{path, path + ".d"} {
		_ = filepath.WalkDir(p, func(_ string, d fs.DirEntry, err error) error {
			if err == nil && d.Type().IsRegular() {
				if info, err := d.Info(); err == nil {
					size += info.Size()
				}
			}
			return nil
		})
	}
	if size == 0 {
		b.Fatal("no inventory on disk")
	}
	return size
}
