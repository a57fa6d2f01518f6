#!/usr/bin/env bash
# run.sh benchmarks single-row prediction of Ferry's XGBoost runtime
# (internal/runtime/xgboost) against XGBoost 1.7.4's own C++ predictor, on
# the same model and the same 1,000 rows, in one run.
#
# Usage: bench/predict/run.sh        (from anywhere; runs from the repo root)
#
# Settings come from the environment: RUNS (5), SAMPLES (15, per XGBoost
# figure per run), BENCHTIME (1s, per Go benchmark per run), PYTHON
# (/usr/bin/python3, which needs Debian's python3-xgboost and python3-numpy).
#
# xgb_predict.py trains the model (binary:logistic, 100 trees of depth 6 on
# 20 synthetic numeric features with missing values) and writes it as JSON
# with 1,000 rows and XGBoost's predictions of them. Then, RUNS times, the Go
# benchmarks (bench/predict, which first check Ferry's predictions against
# XGBoost's to 1e-6) and the XGBoost timings run one after the other, so
# that both see the same machine load. Raw output is in
# bench/predict/results/ (go.txt, xgboost.jsonl, load.txt, machine.txt),
# the medians and ratios in summary.txt.
set -euo pipefail
cd "$(dirname "$0")/../.."

RUNS=${RUNS:-5}
SAMPLES=${SAMPLES:-15}
BENCHTIME=${BENCHTIME:-1s}
PYTHON=${PYTHON:-/usr/bin/python3}

"$PYTHON" -c 'import xgboost, numpy' || {
	echo "run.sh: $PYTHON needs xgboost and numpy (apt-get install python3-xgboost)" >&2
	exit 1
}

out=bench/predict/results
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"$PYTHON" bench/predict/xgb_predict.py train --dir "$tmp"
go test -c -o "$tmp/predict.test" ./bench/predict

{
	echo "date:    $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "nproc:   $(nproc)"
	echo "cpu:     $(lscpu | sed -n 's/^Model name:[[:space:]]*//p' | head -n 1)"
	echo "memory:  $(free -g | awk '/^Mem:/ {print $2 " GiB"}')"
	echo "go:      $(go version)"
	echo "python:  $("$PYTHON" -c 'import sys, xgboost, numpy; print(sys.version.split()[0], "xgboost", xgboost.__version__, "numpy", numpy.__version__)')"
	echo "params:  runs=$RUNS samples=$SAMPLES benchtime=$BENCHTIME"
} >"$out/machine.txt"
cat "$out/machine.txt"

: >"$out/go.txt"
: >"$out/xgboost.jsonl"
: >"$out/load.txt"
for i in $(seq 1 "$RUNS"); do
	echo "== run $i/$RUNS (load average $(cut -d' ' -f1-3 /proc/loadavg))" | tee -a "$out/load.txt" >&2
	FERRY_BENCH_PREDICT_DIR="$tmp" "$tmp/predict.test" -test.run '^$' -test.bench . \
		-test.cpu 1 -test.benchtime "$BENCHTIME" | grep '^Benchmark' | tee -a "$out/go.txt"
	"$PYTHON" bench/predict/xgb_predict.py time --dir "$tmp" --samples "$SAMPLES" | tee -a "$out/xgboost.jsonl"
done
echo "== end (load average $(cut -d' ' -f1-3 /proc/loadavg))" | tee -a "$out/load.txt" >&2

"$PYTHON" - "$out/go.txt" "$out/xgboost.jsonl" <<'PY' | tee "$out/summary.txt"
import json, re, statistics, sys

med = statistics.median
go = {}
for line in open(sys.argv[1]):
    f = line.split()
    name = f[0]
    metrics = {f[i + 1]: float(f[i]) for i in range(2, len(f) - 1, 2)}
    go.setdefault(name, []).append(metrics)
xgb = [json.loads(l) for l in open(sys.argv[2]) if l.strip()]

def g(name, unit):
    return med(m[unit] for m in go[name])

def x(name, key):
    return med(r[name][key] for r in xgb)

runs = len(xgb)
cores = xgb[0]["cores"]
print(f"medians of {runs} runs (wall time; CPU time in brackets), ns per row")
rows = [
    ("Ferry PredictRow, 1 goroutine", g("BenchmarkPredictRow", "ns/row"), g("BenchmarkPredictRow", "cpu-ns/row")),
    ("XGBoost inplace_predict(X_1000), nthread=1", x("inplace_1000_t1", "wall"), x("inplace_1000_t1", "cpu")),
    (f"Ferry Predict(1000 rows), GOMAXPROCS={cores}", g(f"BenchmarkPredictBatch/procs={cores}", "ns/row"), g(f"BenchmarkPredictBatch/procs={cores}", "cpu-ns/row")),
    (f"XGBoost inplace_predict(X_1000), nthread={cores}", x("inplace_1000_tN", "wall"), x("inplace_1000_tN", "cpu")),
    ("Ferry Predict(1000 rows), GOMAXPROCS=1", g("BenchmarkPredictBatch/procs=1", "ns/row"), g("BenchmarkPredictBatch/procs=1", "cpu-ns/row")),
    ("Ferry runtime.Model.Predict, 1-row request", g("BenchmarkModelPredict1", "ns/op"), float("nan")),
    ("XGBoost inplace_predict, 1-row call", x("inplace_1", "wall"), x("inplace_1", "cpu")),
    ("XGBoost DMatrix(1 row) + predict", x("dmatrix_1", "wall"), x("dmatrix_1", "cpu")),
]
for name, wall, cpu in rows:
    print(f"  {name:<50}{wall:>12.0f}  ({cpu:.0f})")
ferry_wall, ferry_cpu = rows[0][1], rows[0][2]
for label, (name, wall, cpu) in (("nthread=1", rows[1]), (f"nthread={cores}", rows[3])):
    print(f"ratio Ferry PredictRow / XGBoost batch-of-1000 {label}: wall {ferry_wall / wall:.2f}, CPU {ferry_cpu / cpu:.2f}")
ok = ferry_wall / rows[1][1] <= 1.5 and ferry_wall / rows[3][1] <= 1.5
print(f"target Ferry within 1.5x of XGBoost per row: {'met' if ok else 'NOT met'} (wall, both thread settings)")
print(f"target Ferry under 5 us per row: {'met' if ferry_wall < 5000 else 'NOT met'} (wall {ferry_wall / 1000:.2f} us, CPU {ferry_cpu / 1000:.2f} us)")
PY
