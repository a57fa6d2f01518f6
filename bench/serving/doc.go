// Package servingbench benchmarks Ferry's inference server: Open Inference
// Protocol V2 /infer requests of one row over loopback HTTP at a fixed
// concurrency, against a bare net/http peer that decodes and encodes the same
// JSON with encoding/json and runs no model. The load generator is
// internal/loadgen (also a command, cmd/loadgen, for servers in other
// processes); the benchmarks are in serving_test.go; run.sh runs them and
// predict.sh measures `ferry predict`. BENCHMARKS.md ("## Serving") quotes
// the figures.
package servingbench
