package collect

import (
	"context"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ferry-ml/ferry/internal/dataset"
)

// BenchmarkWriter measures the writer's cost per logged one-row prediction
// of pred's shape (4 inputs, 3 output columns): queueing, the segment,
// Parquet encoding and — with profiles — window profiling, on a file store.
func BenchmarkWriter(b *testing.B) {
	for _, withProfiles := range []bool{false, true} {
		name := "parquet"
		if withProfiles {
			name = "parquet+profiles"
		}
		b.Run(name, func(b *testing.B) {
			opts := Options{Registerer: prometheus.NewRegistry(), QueueRows: 1 << 30, QueueRecords: 1 << 16}
			if withProfiles {
				opts.Profiles = &MemoryProfiles{}
				opts.Edges = func(context.Context, string, string, string) (dataset.Edges, error) {
					return dataset.Edges{"age": {Bins: []float64{0, 25, 50, 75, 100}}}, nil
				}
			}
			c := New(newStore(b), opts)
			tap := c.Tap("churn", "blue", 1, true, true)
			p := pred("r", t0, 1, 30)
			b.ResetTimer()
			for i := range b.N {
				if i%4096 == 0 {
					if err := c.Sync(context.Background()); err != nil {
						b.Fatal(err)
					}
				}
				tap.Collect(context.Background(), p)
			}
			if err := c.Flush(context.Background()); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			if d := value(b, tap.dropped); d > 0 {
				b.Fatalf("%v dropped", d)
			}
			closeC(b, c)
		})
	}
}
