package bench

import (
	"context"
	"encoding/json"
	"net/url"
	"testing"
	"time"

	"github.com/ferry-ml/ferry/internal/tracking"
)

const historyPoints = 100_000

// BenchmarkGetHistory measures GET metrics/get-history of one metric with
// 100,000 points, all in one answer (no max_results), which the client reads
// whole and discards (decoding it is the client's cost, not the server's). The points are logged through tracking.Service.LogBatch in calls of
// 1,000 before the server starts, once for every -count.
func BenchmarkGetHistory(b *testing.B) {
	var runID string
	s := newServer(b, "", func(ctx context.Context, _ string, svc *tracking.Service) {
		run, err := svc.CreateRun(ctx, tracking.RunCreate{ExperimentID: tracking.DefaultExperimentID})
		if err != nil {
			b.Fatal(err)
		}
		runID = run.Info.RunID
		for i := range historyPoints / 1000 {
			if err := svc.LogBatch(ctx, runID, trainingBatch(i, 1000, []string{"loss"}), nil, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
	q := "metrics/get-history?" + url.Values{"run_id": {runID}, "metric_key": {"loss"}}.Encode()
	var check struct {
		Metrics []json.RawMessage `json:"metrics"`
	}
	if err := json.Unmarshal(s.get(b, q), &check); err != nil {
		b.Fatal(err)
	}
	if len(check.Metrics) != historyPoints {
		b.Fatalf("get-history returned %d points, want %d", len(check.Metrics), historyPoints)
	}
	b.Run("points=100000", func(b *testing.B) {
		var size int64
		for b.Loop() {
			size = s.getDiscard(b, q)
		}
		b.SetBytes(size)
		b.ReportMetric(float64(b.Elapsed())/float64(b.N)/float64(time.Millisecond), "ms/call")
	})
}
