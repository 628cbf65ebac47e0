package inventory

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// largeStore is 10 providers of 1000 nodes: 10 000 records, a full list of
// several megabytes of JSON.
func largeStore(tb testing.TB) *Store {
	tb.Helper()
	s, err := Open("")
	require.NoError(tb, err)
	cfgs := batchConfigs(1000, 1450)
	for p := range 10 {
		_, err := s.Upsert(fmt.Sprintf("prov-%d", p), cfgs...)
		require.NoError(tb, err)
	}
	return s
}

// TestStreamedAnswersAreByteCompatible: streaming keeps every answer
// exactly what json.Marshal of the records gave (clients may hash or diff
// it), small and large, with characters json.Marshal escapes.
func TestStreamedAnswersAreByteCompatible(t *testing.T) {
	s := mustMemory(t)
	cfgs := batchConfigs(LargeAnswerRecords+50, 1450)
	cfgs[7].InstanceID = `vm-<script>&"quoted"` + "\u2028"
	_, err := s.Upsert("prov-a", cfgs...)
	require.NoError(t, err)
	_, err = s.Upsert("prov-b", cfgs[:3]...)
	require.NoError(t, err)
	h := NewHandler(s)

	for target, f := range map[string]Filter{
		NodeConfigsPath:                                    {},
		NodeConfigsPath + "?providerId=prov-a":             {ProviderID: "prov-a"},
		NodeConfigsPath + "?providerId=prov-b":             {ProviderID: "prov-b"},
		NodeConfigsPath + "?instanceId=vm-worker-0003":     {InstanceID: "vm-worker-0003"},
		NodeConfigsPath + "?providerId=none":               {ProviderID: "none"},
		NodeConfigsPath + "/worker-0001":                   {NodeName: "worker-0001"},
		NodeConfigsPath + "/worker-0007?providerId=prov-a": {ProviderID: "prov-a", NodeName: "worker-0007"},
	} {
		rec := serve(h, http.MethodGet, target)
		require.Equal(t, http.StatusOK, rec.Code, target)
		want, err := json.Marshal(s.List(f))
		require.NoError(t, err)
		assert.Equal(t, string(want)+"\n", rec.Body.String(), target)
	}
	assert.Greater(t, len(s.List(Filter{})), LargeAnswerRecords, "the full list is a large (slotted) answer")
}

// blockingWriter is a client that stops reading: its first Write reports
// in and then blocks until release is closed.
type blockingWriter struct {
	header  http.Header
	started chan<- struct{}
	release <-chan struct{}
	once    sync.Once
	status  int
	written int
}

func newBlockingWriter(started chan<- struct{}, release <-chan struct{}) *blockingWriter {
	return &blockingWriter{header: http.Header{}, started: started, release: release}
}

func (w *blockingWriter) Header() http.Header { return w.header }
func (w *blockingWriter) WriteHeader(status int) {
	w.status = status
}

func (w *blockingWriter) Write(p []byte) (int, error) {
	w.once.Do(func() {
		w.started <- struct{}{}
		<-w.release
	})
	w.written += len(p)
	return len(p), nil
}

// TestLargeAnswersAreBounded: while the slots are taken by clients that
// stopped reading, another large answer gets 503 with Retry-After, small
// answers are still served, and a slot frees when its answer ends.
func TestLargeAnswersAreBounded(t *testing.T) {
	s := largeStore(t)
	h := NewHandler(s, WithLargeAnswers(2, 0))
	started, release := make(chan struct{}), make(chan struct{})
	var wg sync.WaitGroup
	stalled := make([]*blockingWriter, 2)
	for i := range stalled {
		stalled[i] = newBlockingWriter(started, release)
		wg.Go(func() { h.ServeHTTP(stalled[i], httptest.NewRequest(http.MethodGet, NodeConfigsPath, nil)) })
		<-started
	}

	busy := serve(h, http.MethodGet, NodeConfigsPath+"?providerId=prov-3")
	assert.Equal(t, http.StatusServiceUnavailable, busy.Code, "1000 records is a large answer")
	assert.Equal(t, strconv.Itoa(retryAfter), busy.Header().Get("Retry-After"))
	assert.Contains(t, decodeError(t, busy), "2 large inventory answers (over 256 records) are already being sent; retry after 2 s, or filter by providerId")
	assert.Contains(t, loadOpenAPI(t).Paths[NodeConfigsPath]["get"].Responses, strconv.Itoa(busy.Code), "the busy answer is documented")
	head := serve(h, http.MethodHead, NodeConfigsPath)
	assert.Equal(t, http.StatusOK, head.Code, "HEAD encodes nothing, so it needs no slot")
	assert.Equal(t, "application/json", head.Header().Get("Content-Type"))
	assert.Zero(t, head.Body.Len())
	small := serve(h, http.MethodGet, NodeConfigsPath+"?nodeName=worker-0500")
	assert.Equal(t, http.StatusOK, small.Code, "a small answer needs no slot")
	assert.Len(t, decodeRecords(t, small), 10)
	assert.Equal(t, http.StatusOK, serve(h, http.MethodGet, NodeConfigsPath+"/worker-0001?providerId=prov-1").Code)

	close(release)
	wg.Wait()
	for _, w := range stalled {
		assert.Equal(t, http.StatusOK, w.status)
		assert.Greater(t, w.written, 3<<20, "the stalled answers were complete full lists")
	}
	assert.Equal(t, http.StatusOK, serve(h, http.MethodGet, NodeConfigsPath+"?providerId=prov-3").Code, "slots are released")
}

// TestLargeAnswerWaitsBrieflyForASlot: a large answer waits for a slot up
// to the handler's wait, and gives up when the client goes away.
func TestLargeAnswerWaitsBrieflyForASlot(t *testing.T) {
	s := largeStore(t)
	h := NewHandler(s, WithLargeAnswers(1, time.Hour))
	started, release := make(chan struct{}), make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.ServeHTTP(newBlockingWriter(started, release), httptest.NewRequest(http.MethodGet, NodeConfigsPath, nil))
	}()
	<-started

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	gone := httptest.NewRecorder()
	h.ServeHTTP(gone, httptest.NewRequest(http.MethodGet, NodeConfigsPath, nil).WithContext(ctx))
	assert.Equal(t, http.StatusServiceUnavailable, gone.Code, "a client that left does not wait")

	waited := make(chan *httptest.ResponseRecorder)
	go func() { waited <- serve(h, http.MethodGet, NodeConfigsPath) }()
	close(release)
	<-done
	rec := <-waited
	assert.Equal(t, http.StatusOK, rec.Code, "the waiting answer got the freed slot")
	assert.Len(t, decodeRecords(t, rec), 10000)
}

// liveHeapOfStalledLists starts n full lists of s whose clients stop
// reading, and returns how much live heap they hold together once all are
// mid-answer (after a GC, so only reachable memory counts).
func liveHeapOfStalledLists(tb testing.TB, s *Store, n int) (live int64) {
	tb.Helper()
	h := NewHandler(s, WithLargeAnswers(n, 0))
	started, release := make(chan struct{}), make(chan struct{})
	var before, during runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	var wg sync.WaitGroup
	writers := make([]*blockingWriter, n)
	for i := range writers {
		writers[i] = newBlockingWriter(started, release)
		wg.Go(func() { h.ServeHTTP(writers[i], httptest.NewRequest(http.MethodGet, NodeConfigsPath, nil)) })
	}
	for range n {
		<-started
	}
	runtime.GC()
	runtime.ReadMemStats(&during)
	close(release)
	wg.Wait()
	for _, w := range writers {
		require.Equal(tb, http.StatusOK, w.status)
	}
	return int64(during.HeapAlloc) - int64(before.HeapAlloc)
}

// TestConcurrentFullListsHoldLittleMemory: 16 concurrent full lists of
// 10 000 records whose clients stall hold a few hundred KiB together. Before
// streaming, each held its whole answer (several MiB) and 16 took the heap
// past the chart's memory limit.
func TestConcurrentFullListsHoldLittleMemory(t *testing.T) {
	s := largeStore(t)
	body := serve(NewHandler(s), http.MethodGet, NodeConfigsPath).Body.Len()
	require.Greater(t, body, 3<<20, "a full list is several MiB of JSON")

	const n = 16
	live := liveHeapOfStalledLists(t, s, n)

	t.Logf("full list %d KiB; %d stalled full lists hold %d KiB of live heap", body>>10, n, live>>10)
	assert.Less(t, live, int64(n*(streamChunk+64<<10)), "each answer holds at most a chunk and a record")
}

// BenchmarkConcurrentFullLists10000 gives the figures: per full list of
// 10 000 records the bytes allocated and the live heap 16 stalled ones hold
// (live-KiB/16-lists).
func BenchmarkConcurrentFullLists10000(b *testing.B) {
	s := largeStore(b)
	live := liveHeapOfStalledLists(b, s, 16)
	h := NewHandler(s, WithLargeAnswers(16, time.Second))
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			w := &discardWriter{header: http.Header{}}
			h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, NodeConfigsPath, nil))
			if w.status != http.StatusOK {
				b.Errorf("status %d", w.status)
				return
			}
		}
	})
	b.ReportMetric(float64(live>>10), "live-KiB/16-lists") // after ResetTimer, which drops metrics
}

type discardWriter struct {
	header http.Header
	status int
}

func (w *discardWriter) Header() http.Header         { return w.header }
func (w *discardWriter) WriteHeader(status int)      { w.status = status }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
