package servingbench

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ferry-ml/ferry/internal/loadgen"
	"github.com/ferry-ml/ferry/internal/model"
	"github.com/ferry-ml/ferry/internal/runtime"
	"github.com/ferry-ml/ferry/internal/runtime/native"
	"github.com/ferry-ml/ferry/internal/runtime/xgboost"
	"github.com/ferry-ml/ferry/internal/serving"
)

// Concurrency is the number of clients of BenchmarkInfer.
const Concurrency = 32

// FlightsRow is the benchmark request: one row of the flights model's
// inputs, as a V2 inference request.
const FlightsRow = `{"id":"42","inputs":[` +
	`{"name":"date","shape":[1],"datatype":"BYTES","data":["2001-03-01T08:00:00Z"]},` +
	`{"name":"distance","shape":[1],"datatype":"FP64","data":[337]},` +
	`{"name":"origin","shape":[1],"datatype":"BYTES","data":["SFO"]},` +
	`{"name":"destination","shape":[1],"datatype":"BYTES","data":["LAX"]}]}`

// flightsSignature is the signature `ferry train` writes for the flights
// delay model.
func flightsSignature() *model.Signature {
	return &model.Signature{
		Inputs: []model.Spec{
			{Name: "date", Type: model.TypeDatetime, Required: true},
			{Name: "distance", Type: model.TypeDouble, Required: true},
			{Name: "origin", Type: model.TypeString, Required: true},
			{Name: "destination", Type: model.TypeString, Required: true},
		},
		Outputs: []model.Spec{{Name: "delay", Type: model.TypeDouble, Required: true}},
	}
}

// fastFake answers like the native flights model without computing: it
// isolates the server's own cost.
type fastFake struct{}

func (fastFake) Metadata() runtime.Metadata {
	return runtime.Metadata{
		Platform: "fake",
		Inputs: []runtime.TensorSpec{
			{Name: "date", Datatype: runtime.BYTES, Shape: []int64{-1}},
			{Name: "distance", Datatype: runtime.FP64, Shape: []int64{-1}},
			{Name: "origin", Datatype: runtime.BYTES, Shape: []int64{-1}},
			{Name: "destination", Datatype: runtime.BYTES, Shape: []int64{-1}},
		},
		Outputs: []runtime.TensorSpec{{Name: "probability", Datatype: runtime.FP64, Shape: []int64{-1}}, {Name: "label", Datatype: runtime.BYTES, Shape: []int64{-1}}},
	}
}

func (fastFake) Predict(ctx context.Context, in []runtime.Tensor) ([]runtime.Tensor, error) {
	n := len(in[1].FP64)
	p := make([]float64, n)
	l := make([]string, n)
	for i := range p {
		p[i], l[i] = 0.2698216517942549, "false"
	}
	return []runtime.Tensor{
		{Name: "probability", Datatype: runtime.FP64, Shape: []int64{int64(n)}, FP64: p},
		{Name: "label", Datatype: runtime.BYTES, Shape: []int64{int64(n)}, Str: l},
	}, nil
}

func (fastFake) Close() error { return nil }

// MatrixRow is the request for an XGBoost model of 20 numeric features: one
// row as a [1, 20] FP32 tensor, as MLflow's xgboost models take it.
const MatrixRow = `{"id":"42","inputs":[{"name":"input-0","shape":[1,20],"datatype":"FP32","data":` +
	`[0.52,-1.3,0.07,2.2,-0.41,1.15,0.9,-0.66,0.33,1.8,-2.1,0.05,0.71,-0.28,1.42,0.6,-0.95,0.18,1.07,-0.5]}]}`

type target struct {
	name    string
	handler http.Handler
	body    string
}

// targets are the servers compared: the bare peer, Ferry with the fast fake,
// Ferry with the native flights model of FERRY_BENCH_SERVING_MODEL (a
// package directory; skipped when unset), and Ferry with the XGBoost model of
// FERRY_BENCH_SERVING_XGBOOST (a package with the xgboost flavor, 20 float32
// features) beside the peer given the same request.
func targets(b *testing.B) []target {
	fake := serving.New(serving.Options{Registerer: prometheus.NewRegistry()})
	fake.Set("flights", "1", fastFake{}, flightsSignature())
	ts := []target{
		{"peer", PeerHandler(), FlightsRow},
		{"ferry-fake", fake.Handler(), FlightsRow},
	}
	load := func(env string, loader runtime.Loader) *serving.Server {
		dir := os.Getenv(env)
		if dir == "" {
			return nil
		}
		pkg, err := model.Load(context.Background(), dir)
		if err != nil {
			b.Fatal(err)
		}
		m, err := loader(context.Background(), pkg)
		if err != nil {
			b.Fatal(err)
		}
		s := serving.New(serving.Options{Registerer: prometheus.NewRegistry()})
		s.Set("flights", "1", m, pkg.Manifest.Signature)
		return s
	}
	if s := load("FERRY_BENCH_SERVING_MODEL", native.Load); s != nil {
		ts = append(ts, target{"ferry-native", s.Handler(), FlightsRow})
	}
	if s := load("FERRY_BENCH_SERVING_XGBOOST", xgboost.Load); s != nil {
		ts = append(ts, target{"peer-matrix", PeerHandler(), MatrixRow}, target{"ferry-xgboost", s.Handler(), MatrixRow})
	}
	return ts
}

// BenchmarkInfer sends b.N one-row V2 /infer requests from 32 clients over
// loopback to each target and reports req/s and latency percentiles. Use a
// fixed -benchtime (e.g. 30000x) so that every target answers as many.
func BenchmarkInfer(b *testing.B) {
	for _, tg := range targets(b) {
		b.Run(tg.name, func(b *testing.B) {
			srv := httptest.NewServer(tg.handler) // 127.0.0.1:0
			defer srv.Close()
			cfg := loadgen.Config{
				Concurrency: Concurrency, Client: loadgen.NewClient(Concurrency),
				NewRequest: loadgen.Post(srv.URL+"/v2/models/flights/infer", "application/json", []byte(tg.body)),
			}
			ctx := context.Background()
			cfg.Requests = 2000 // warm up connections
			if r := loadgen.Run(ctx, cfg); r.Failures+r.ClientErrors > 0 {
				b.Fatalf("warm-up: %s", r)
			}
			cfg.Requests = b.N
			b.ResetTimer()
			r := loadgen.Run(ctx, cfg)
			b.StopTimer()
			if r.Failures+r.ClientErrors > 0 {
				b.Fatal(r)
			}
			b.ReportMetric(r.Throughput, "req/s")
			b.ReportMetric(float64(r.Latency.P50)/1e6, "ms-p50")
			b.ReportMetric(float64(r.Latency.P99)/1e6, "ms-p99")
		})
	}
}

// TestTargetsAgree checks, before any timing matters, that every target
// answers the benchmark request with the same shape of response.
func TestTargetsAgree(t *testing.T) {
	fake := serving.New(serving.Options{Registerer: prometheus.NewRegistry()})
	fake.Set("flights", "1", fastFake{}, flightsSignature())
	for _, h := range []http.Handler{PeerHandler(), fake.Handler()} {
		srv := httptest.NewServer(h)
		resp, err := http.Post(srv.URL+"/v2/models/flights/infer", "application/json", strings.NewReader(FlightsRow))
		if err != nil {
			t.Fatal(err)
		}
		body := make([]byte, 4096)
		n, _ := resp.Body.Read(body)
		resp.Body.Close()
		srv.Close()
		got := string(body[:n])
		if resp.StatusCode != 200 || !strings.Contains(got, `"model_name":"flights"`) || !strings.Contains(got, `"data":[0.2698216517942549]`) || !strings.Contains(got, `"data":["false"]`) {
			t.Fatalf("%d %s", resp.StatusCode, got)
		}
	}
}
