package collect

import (
	"context"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// TestSpikeMemoryBounded: a spike of ten times the queue's bound in
// predictions, from 32 clients, while the artifact store is stuck, keeps
// the queue within its bound and the heap within what the bound allows;
// every prediction is either queued or counted as dropped, and the queued
// ones are all written once the store answers.
func TestSpikeMemoryBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("sends 655,360 predictions")
	}
	bs := &blockingStore{Store: newStore(t), entered: make(chan struct{}), release: make(chan struct{})}
	c := New(bs, Options{Registerer: prometheus.NewRegistry()})
	tap := c.Tap("churn", "blue", 1, true, true)
	tap.Collect(context.Background(), pred("first", t0, 1, 1))
	go func() { _ = c.Flush(context.Background()) }()
	<-bs.entered // the writer is stuck writing the first row
	bound := DefaultQueueRows
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	before := heap()
	const clients = 32
	per := 10 * bound / clients
	var wg sync.WaitGroup
	start := time.Now()
	for g := range clients {
		wg.Go(func() {
			for i := range per {
				tap.Collect(context.Background(), pred("r", t0, 1, float64(g*per+i)))
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	after := heap()
	queued := c.queued.Load()
	accepted := value(t, tap.accepted) - 1
	dropped := value(t, tap.dropped)
	growth := int64(after) - int64(before)
	t.Logf("%d predictions in %v (%.0f/s): %v queued, %v dropped, queue %d rows (bound %d); heap %d → %d bytes (%+.1f MiB, %.0f B per queued row)",
		clients*per, elapsed, float64(clients*per)/elapsed.Seconds(), accepted, dropped, queued, bound, before, after,
		float64(growth)/(1<<20), float64(growth)/max(accepted, 1))
	if queued > int64(bound) || accepted > float64(min(bound, DefaultQueueRecords)) {
		t.Errorf("queue holds %d rows, %v predictions; bounds %d and %d", queued, accepted, bound, DefaultQueueRecords)
	}
	if accepted+dropped != float64(clients*per) {
		t.Errorf("accepted %v + dropped %v != sent %d", accepted, dropped, clients*per)
	}
	// A queued one-row prediction holds its tensors (about 1 KiB here):
	// the queue's bound of records bounds the heap.
	if limit := int64(DefaultQueueRecords) * 2048; growth > limit {
		t.Errorf("heap grew %d bytes, past %d for %d queued predictions", growth, limit, DefaultQueueRecords)
	}
	close(bs.release)
	closeC(t, c)
	if got := value(t, c.m.rows.WithLabelValues("churn", "blue")); got != accepted+1 {
		t.Errorf("%v rows written, want %v", got, accepted+1)
	}
}
