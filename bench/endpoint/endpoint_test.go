// Package endpointbench measures what routing through a deployed endpoint
// costs: one-row Open Inference Protocol V2 /infer requests from 32
// clients over loopback to the same registered model (Ferry's native
// linear model of testbackend.RegisterLinear) served directly by a
// serving.Server (/v2/models/bench/infer) and through `ferry server`'s
// handler at /endpoints/bench/v2/models/bench/infer — the endpoint
// router with its embedded target — without and with 50% of the requests
// mirrored to a shadow deployment of the same model, and with every
// request logged by the data collector (a deployment of the same model with
// data_collector at sampling_rate 1.0, writing Parquet to the artifact
// store). BenchmarkEndpoint runs the variants side by side in one process:
//
//	go test -run '^$' -bench Endpoint -benchtime 20000x -count 3 ./bench/endpoint/
package endpointbench

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ferry-ml/ferry/internal/deploy"
	"github.com/ferry-ml/ferry/internal/loadgen"
	"github.com/ferry-ml/ferry/internal/serving"
	"github.com/ferry-ml/ferry/internal/testbackend"
)

// Concurrency is the number of clients.
const Concurrency = 32

type variant struct {
	name    string
	handler http.Handler
	path    string
}

// variants builds Ferry over a temporary directory with the model
// registered and deployed as endpoint bench (deployment blue at 100%,
// deployments shadow and logged idle; logged has a data_collector) and
// returns the four ways of reaching it. The mirrored variant turns
// mirroring on when it starts, the collected one moves the traffic to
// logged.
func variants(b *testing.B) (*testbackend.Backend, []variant) {
	be := testbackend.Open(b, "normal")
	be.RegisterLinear(b, "bench", 2)
	ctx := context.Background()
	_, err := be.Deploy.PutEndpoint(ctx, deploy.Endpoint{Name: "bench"})
	check(b, err)
	for _, d := range []string{"blue", "shadow", "logged"} {
		dep := deploy.Deployment{Name: d, EndpointName: "bench", Model: "models:/bench/1"}
		if d == "logged" {
			rate := 1.0
			dep.DataCollector = &deploy.DataCollector{SamplingRate: &rate}
		}
		_, err = be.Deploy.PutDeployment(ctx, dep)
		check(b, err)
	}
	_, err = be.Deploy.SetTraffic(ctx, "bench", map[string]int{"blue": 100}, "bench")
	check(b, err)
	check(b, be.Router.Refresh(ctx))
	for _, d := range []string{"blue", "shadow", "logged"} {
		check(b, be.Router.WaitReady(ctx, "bench", d))
	}
	l, err := be.Models.LoadVersion(ctx, "models:/bench/1")
	check(b, err)
	direct := serving.New(serving.Options{Registerer: prometheus.NewRegistry()})
	direct.Set("bench", "1", l, l.Signature())
	b.Cleanup(func() { direct.Close(context.Background()) })
	h, closeModels := be.Handler()
	b.Cleanup(func() { closeModels(context.Background()) })
	return be, []variant{
		{"direct", direct.Handler(), "/v2/models/bench/infer"},
		{"endpoint", h, "/endpoints/bench/v2/models/bench/infer"},
		{"endpoint-mirror50", h, "/endpoints/bench/v2/models/bench/infer"},
		{"endpoint-collect", h, "/endpoints/bench/v2/models/bench/infer"},
	}
}

// BenchmarkEndpoint sends b.N requests to each variant and reports req/s
// and latency percentiles. Use a fixed -benchtime (e.g. 20000x).
func BenchmarkEndpoint(b *testing.B) {
	be, vs := variants(b)
	ctx := context.Background()
	for _, v := range vs {
		b.Run(v.name, func(b *testing.B) {
			if v.name == "endpoint-mirror50" {
				e, err := be.Deploy.GetEndpoint(ctx, "bench")
				check(b, err)
				e.MirrorTraffic = map[string]int{"shadow": 50}
				_, err = be.Deploy.PutEndpoint(ctx, e)
				check(b, err)
				check(b, be.Router.Refresh(ctx))
				defer func() {
					e.MirrorTraffic = nil
					_, err := be.Deploy.PutEndpoint(ctx, e)
					check(b, err)
					check(b, be.Router.Refresh(ctx))
				}()
			}
			if v.name == "endpoint-collect" {
				setTraffic(b, be, "logged")
				defer setTraffic(b, be, "blue")
			}
			srv := httptest.NewServer(v.handler)
			defer srv.Close()
			c := loadgen.NewClient(Concurrency)
			load := func(n int) loadgen.Result {
				return loadgen.Run(ctx, loadgen.Config{Concurrency: Concurrency, Requests: n, Client: c,
					NewRequest: loadgen.Post(srv.URL+v.path, "application/json", []byte(testbackend.LinearRow))})
			}
			if r := load(2000); r.Failures > 0 { // warm up connections
				b.Fatalf("warm-up: %s", r)
			}
			b.ResetTimer()
			r := load(b.N)
			throughput := r.Throughput
			if v.name == "endpoint-collect" {
				// The run's rows are still in their segment (they are
				// written every 100,000 rows or minute): writing them is
				// part of the cost, so it counts in the run's time.
				start := time.Now()
				check(b, be.Collector.Flush(ctx))
				throughput = float64(b.N) / (float64(b.N)/r.Throughput + time.Since(start).Seconds())
				parts, err := be.Artifacts.List(ctx, "inference-logs/bench/logged")
				check(b, err)
				if len(parts) == 0 {
					b.Fatal("nothing was logged")
				}
			}
			b.StopTimer()
			if r.Failures > 0 {
				b.Fatalf("%s", r)
			}
			b.ReportMetric(throughput, "req/s")
			b.ReportMetric(float64(r.Latency.P50)/1e6, "ms-p50")
			b.ReportMetric(float64(r.Latency.P99)/1e6, "ms-p99")
		})
	}
}

// setTraffic sends all of endpoint bench's traffic to deployment d.
func setTraffic(b *testing.B, be *testbackend.Backend, d string) {
	ctx := context.Background()
	_, err := be.Deploy.SetTraffic(ctx, "bench", map[string]int{d: 100}, "bench")
	check(b, err)
	check(b, be.Router.Refresh(ctx))
}

func check(tb testing.TB, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatal(err)
	}
}
