package bench

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/ferry-ml/ferry/internal/store/sqlite"
)

const (
	ingestMetrics   = 10_000 // metric points per benchmark iteration
	ingestBatchSize = 1_000  // points per log-batch call (MLflow's maximum)
	ingestKeys      = 10     // metric keys; each batch holds 100 steps of each
)

// BenchmarkLogBatch measures ingestion through POST runs/log-batch: each
// iteration sends 10,000 points in 10 calls of 1,000, one after another, to a
// fresh run, and waits for each answer. The figure is metrics/s. The payloads
// are encoded and the run created outside the timed region.
//
// The peer, bare-net-http, POSTs the same payloads over the same kind of
// connection to a net/http handler that only decodes the JSON and answers
// {}: the cost of HTTP and JSON alone, which bounds what any server can do.
func BenchmarkLogBatch(b *testing.B) {
	for _, sync := range []string{sqlite.SynchronousFull, sqlite.SynchronousNormal} {
		b.Run("sync="+sync, func(b *testing.B) {
			s := newServer(b, sync, nil)
			benchIngest(b, s.client, s.url+"runs/log-batch", func() string { return s.createRun(b) })
		})
	}
	b.Run("peer=bare-net-http", func(b *testing.B) {
		ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			var req logBatchRequest
			if err := json.NewDecoder(io.LimitReader(r.Body, 16<<20)).Decode(&req); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, "{}\n")
		}))
		b.Cleanup(ts.Close)
		benchIngest(b, ts.Client(), ts.URL+"/api/2.0/mlflow/runs/log-batch", func() string { return "0123456789abcdef0123456789abcdef" })
	})
}

func benchIngest(b *testing.B, c *http.Client, url string, newRun func() string) {
	keys := metricKeys(ingestKeys)
	bodies := make([][]byte, ingestMetrics/ingestBatchSize)
	for b.Loop() {
		b.StopTimer()
		runID := newRun()
		for i := range bodies {
			bodies[i] = encodeBatch(b, runID, trainingBatch(i, ingestBatchSize, keys))
		}
		b.StartTimer()
		for _, body := range bodies {
			do(b, c, http.MethodPost, url, body)
		}
	}
	b.ReportMetric(float64(ingestMetrics*b.N)/b.Elapsed().Seconds(), "metrics/s")
}
