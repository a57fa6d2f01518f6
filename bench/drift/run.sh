#!/usr/bin/env bash
# run.sh benchmarks drift of 1,000,000 rows x 20 columns against a baseline
# from stored profiles (Ferry, internal/monitor/drift) side by side with SciPy
# computing the same per-column statistics on the raw rows, in one run.
#
# Usage: bench/drift/run.sh        (from anywhere; runs from the repo root)
#
# Settings come from the environment: RUNS (3), ROWS (1000000), SAMPLES (3,
# per SciPy figure per run), PYTHON (/usr/bin/python3 with Debian's
# python3-scipy). Raw output goes to bench/drift/results/ (go.txt,
# scipy.jsonl, machine.txt), the medians and ratio to summary.txt.
set -euo pipefail
cd "$(dirname "$0")/../.."

RUNS=${RUNS:-3}
ROWS=${ROWS:-1000000}
SAMPLES=${SAMPLES:-3}
PYTHON=${PYTHON:-/usr/bin/python3}

"$PYTHON" -c 'import scipy, numpy' || {
	echo "run.sh: $PYTHON needs scipy and numpy (apt-get install python3-scipy)" >&2
	exit 1
}

out=bench/drift/results
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"$PYTHON" bench/drift/scipy_drift.py gen --dir "$tmp" --rows "$ROWS"
go test -c -o "$tmp/drift.test" ./bench/drift

{
	echo "date:    $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "nproc:   $(nproc)"
	echo "cpu:     $(lscpu | sed -n 's/^Model name:[[:space:]]*//p' | head -n 1)"
	echo "go:      $(go version)"
	echo "python:  $("$PYTHON" -c 'import sys, scipy, numpy; print(sys.version.split()[0], "scipy", scipy.__version__, "numpy", numpy.__version__)')"
	echo "params:  runs=$RUNS rows=$ROWS samples=$SAMPLES"
} >"$out/machine.txt"
cat "$out/machine.txt"

: >"$out/go.txt"
: >"$out/scipy.jsonl"
for i in $(seq 1 "$RUNS"); do
	echo "== run $i/$RUNS (load average $(cut -d' ' -f1-3 /proc/loadavg))" >&2
	FERRY_BENCH_DRIFT_DIR="$tmp" "$tmp/drift.test" -test.run '^$' -test.bench 'DriftFromProfiles' \
		-test.benchtime 20x -test.cpu 1 | grep '^Benchmark' | tee -a "$out/go.txt"
	FERRY_BENCH_DRIFT_DIR="$tmp" "$tmp/drift.test" -test.run '^$' -test.bench 'DriftExactRaw' \
		-test.benchtime 1x -test.cpu 1 | grep '^Benchmark' | tee -a "$out/go.txt"
	"$PYTHON" bench/drift/scipy_drift.py time --dir "$tmp" --samples "$SAMPLES" | tee -a "$out/scipy.jsonl"
done

"$PYTHON" - "$out/go.txt" "$out/scipy.jsonl" <<'PY' | tee "$out/summary.txt"
import json, statistics, sys

med = statistics.median
go = {}
for line in open(sys.argv[1]):
    f = line.split()
    go.setdefault(f[0].split("-")[0], []).append(float(f[2]))
sp = [json.loads(l) for l in open(sys.argv[2]) if l.strip()]
defaults = med(go["BenchmarkDriftFromProfiles/defaults"]) / 1e9
prof = med(go["BenchmarkDriftFromProfiles/defaults+tests"]) / 1e9
raw = med(go["BenchmarkDriftExactRaw"]) / 1e9
scipy_wall = med(r["wall_s"] for r in sp)
print(f"medians of {len(sp)} runs, {sp[0]['rows']:,} rows x {sp[0]['columns']} columns against a baseline of as many")
print(f"  Ferry, drift from stored profiles, default metric per column          {defaults * 1e3:10.2f} ms")
print(f"  Ferry, drift from stored profiles, default metric + a test per column  {prof * 1e3:10.2f} ms")
print(f"  Ferry, exact on raw rows (16 numeric: normalized W + KS)                {raw * 1e3:10.0f} ms")
print(f"  SciPy {sp[0]['scipy']}, on raw rows (W + KS; JS + chi-square)              {scipy_wall * 1e3:10.0f} ms")
print(f"ratio SciPy raw / Ferry from profiles: {scipy_wall / prof:,.0f}x")
print(f"target under 1 s from profiles: {'met' if prof < 1 else 'NOT met'} ({prof * 1e3:.2f} ms)")
PY
