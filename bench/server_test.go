package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/ferry-ml/ferry/internal/testbackend"
	"github.com/ferry-ml/ferry/internal/tracking"
)

// server is Ferry's API, wired as internal/cli.openBackend wires it, over
// the embedded backend of internal/testbackend, served over loopback TCP.
type server struct {
	url    string // http://127.0.0.1:PORT/api/2.0/mlflow/
	client *http.Client
}

// newServer opens a SQLite store in a fresh directory with the given
// synchronous setting ("full" or "normal"; "" is full), seeds it with seed
// (which may be nil) before the server starts, and serves the API on
// 127.0.0.1:0 until the benchmark ends.
func newServer(tb testing.TB, synchronous string, seed func(ctx context.Context, dbPath string, svc *tracking.Service)) *server {
	tb.Helper()
	be := testbackend.Open(tb, synchronous)
	dbPath := filepath.Join(be.Dir, "ferry.db")
	if seed != nil {
		seed(context.Background(), dbPath, be.Tracking)
	}
	ts := httptest.NewServer(be.API.Handler())
	tb.Cleanup(ts.Close)
	return &server{url: ts.URL + "/api/2.0/mlflow/", client: ts.Client()}
}

// post sends body to an MLflow route and fails unless the answer is 200. It
// reads the whole response and returns it.
func (s *server) post(tb testing.TB, route string, body []byte) []byte {
	return do(tb, s.client, http.MethodPost, s.url+route, body)
}

func (s *server) get(tb testing.TB, routeAndQuery string) []byte {
	return do(tb, s.client, http.MethodGet, s.url+routeAndQuery, nil)
}

// getDiscard GETs an MLflow route, reads the whole answer into io.Discard and
// returns its length; it fails unless the answer is 200.
func (s *server) getDiscard(tb testing.TB, routeAndQuery string) int64 {
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, s.url+routeAndQuery, nil)
	if err != nil {
		tb.Fatal(err)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		tb.Fatalf("GET %s: status %d", routeAndQuery, resp.StatusCode)
	}
	return n
}

func do(tb testing.TB, c *http.Client, method, url string, body []byte) []byte {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, url, r)
	if err != nil {
		tb.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		tb.Fatalf("%s %s: status %d: %s", method, url, resp.StatusCode, b)
	}
	return b
}

// createRun creates a run in the Default experiment over HTTP.
func (s *server) createRun(tb testing.TB) string {
	tb.Helper()
	var out struct {
		Run struct {
			Info struct {
				RunID string `json:"run_id"`
			} `json:"info"`
		} `json:"run"`
	}
	if err := json.Unmarshal(s.post(tb, "runs/create", []byte(`{"experiment_id":"0"}`)), &out); err != nil {
		tb.Fatal(err)
	}
	if out.Run.Info.RunID == "" {
		tb.Fatal("runs/create: no run_id")
	}
	return out.Run.Info.RunID
}

// Wire shapes of the requests the benchmarks send.
type (
	wireMetric struct {
		Key       string  `json:"key"`
		Value     float64 `json:"value"`
		Timestamp int64   `json:"timestamp"`
		Step      int64   `json:"step"`
	}
	wireKV struct {
		Key   string `json:"key"`
		Value string `json:"value"`
	}
	logBatchRequest struct {
		RunID   string       `json:"run_id"`
		Metrics []wireMetric `json:"metrics"`
		Params  []wireKV     `json:"params"`
		Tags    []wireKV     `json:"tags"`
	}
)

// baseTime is the timestamp, in ms, of step 0 of every seeded metric.
const baseTime = 1_700_000_000_000

// trainingBatch returns batch i of a training log as log-batch would carry
// it: points of keys metrics at consecutive steps, n points in all.
func trainingBatch(i, n int, keys []string) []tracking.Metric {
	out := make([]tracking.Metric, 0, n)
	steps := n / len(keys)
	for s := range steps {
		step := int64(i*steps + s)
		for k, key := range keys {
			out = append(out, tracking.Metric{Key: key, Value: 1 / float64(step+int64(k)+1), Timestamp: baseTime + step*10, Step: step})
		}
	}
	return out
}

func encodeBatch(tb testing.TB, runID string, metrics []tracking.Metric) []byte {
	req := logBatchRequest{RunID: runID, Params: []wireKV{}, Tags: []wireKV{}}
	for _, m := range metrics {
		req.Metrics = append(req.Metrics, wireMetric{Key: m.Key, Value: m.Value, Timestamp: m.Timestamp, Step: m.Step})
	}
	b, err := json.Marshal(req)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func metricKeys(n int) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("metric_%d", i)
	}
	return keys
}
