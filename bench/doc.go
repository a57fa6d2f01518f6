// Package bench holds Ferry's performance benchmarks. It has no code of its
// own: everything is in its _test.go files, run by run.sh, and the figures,
// method and machine are written up in BENCHMARKS.md at the repository root.
//
// Each benchmark builds the server in-process the way `ferry server` does
// (internal/store/sqlite, tracking.Service, the file blob store and
// httpapi.Server) and serves it with httptest on 127.0.0.1:0, so that every
// request is real HTTP over loopback TCP from a Go client in the same
// process. The figures are reported as custom metrics (b.ReportMetric):
//
//	BenchmarkLogBatch          10,000 metrics in log-batch calls of 1,000:
//	                           metrics/s, for synchronous=full and =normal,
//	                           and for a bare net/http handler that only
//	                           decodes the same payload (the peer)
//	BenchmarkLogMetric         1,000 sequential log-metric calls: ms/median,
//	                           ms/p99
//	BenchmarkGetHistory        get-history of a 100,000-point metric: ms/call
//	BenchmarkSearchRuns        filtered runs/search over 100,000 runs:
//	                           ms/call, default order and by metrics.acc
//
// Run them with bench/run.sh (or go test -run '^$' -bench . ./bench/).
package bench
