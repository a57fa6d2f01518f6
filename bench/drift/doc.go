// Package drift benchmarks drift from stored profiles (internal/monitor/drift)
// against SciPy computing the same per-column statistics on the raw rows:
// 1,000,000 rows × 20 columns (16 numeric, 4 categorical) against a baseline
// of as many. run.sh generates the data with scipy_drift.py, then alternates
// the Go benchmarks of this package with scipy_drift.py's timings and prints
// the medians and ratios; BENCHMARKS.md quotes them.
//
// The benchmarks read the data from the directory named by
// FERRY_BENCH_DRIFT_DIR and skip when it is not set.
package drift
