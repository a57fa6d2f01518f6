#!/usr/bin/env bash
# run.sh benchmarks Ferry's inference server against a bare net/http peer:
# one-row Open Inference Protocol V2 /infer requests over loopback from 32
# clients (BenchmarkInfer in serving_test.go), alternating the targets RUNS
# times, and prints the medians and the ratios to the peer.
#
# Usage: bench/serving/run.sh            (from anywhere; runs from the repo root)
#
# Settings from the environment: RUNS (5), REQUESTS (30000 per target per
# run), PYTHON (/usr/bin/python3, with Debian's python3-xgboost and
# python3-numpy for the XGBoost model; without them that target is skipped).
#
# Targets: peer (encoding/json decode + encode, no model), ferry-fake (the
# server with a model that computes nothing), ferry-native (a GBDT trained by
# `ferry train` on the bundled flights sample: 60 trees, depth 6, categorical
# origin/destination), peer-matrix and ferry-xgboost (an XGBoost 1.7.4 model,
# 100 trees, 20 float32 features, request [1, 20] FP32). Raw output and the
# summary go to bench/serving/results/.
set -euo pipefail
cd "$(dirname "$0")/../.."
RUNS=${RUNS:-5}
REQUESTS=${REQUESTS:-30000}
PYTHON=${PYTHON:-/usr/bin/python3}
out=bench/serving/results
mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

go build -o "$work/ferry" ./cmd/ferry
zcat examples/flights-sample.csv.gz >"$work/flights.csv"
"$work/ferry" --data "$work/data" train --dataset "$work/flights.csv" --target delay --positive-when "> 15" \
	--feature date:month --feature date:weekday --feature date:hour --feature distance --feature origin --feature destination \
	--param num_rounds=60 --param max_depth=6 --seed 7 --out "$work/native" >/dev/null
export FERRY_BENCH_SERVING_MODEL="$work/native/model"

if "$PYTHON" -c 'import xgboost, numpy' 2>/dev/null; then
	mkdir -p "$work/xgb/pkg"
	"$PYTHON" bench/predict/xgb_predict.py train --dir "$work/xgb" >/dev/null
	cp "$work/xgb/model.json" "$work/xgb/pkg/"
	cat >"$work/xgb/pkg/MLmodel" <<'MLMODEL'
artifact_path: model
flavors:
  xgboost:
    code: null
    data: model.json
    model_format: json
    model_class: xgboost.core.Booster
    xgb_version: 1.7.4
signature:
  inputs: '[{"type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1, 20]}}]'
  outputs: '[{"type": "tensor", "tensor-spec": {"dtype": "float64", "shape": [-1]}}]'
  params: null
utc_time_created: '2026-11-26 00:00:00.000000'
MLMODEL
	export FERRY_BENCH_SERVING_XGBOOST="$work/xgb/pkg"
else
	echo "no XGBoost in $PYTHON: skipping the XGBoost target" >&2
fi

go test -c -o "$work/bench.test" ./bench/serving/
stamp=$(date -u '+%Y%m%dT%H%MZ')
raw="$out/run-$stamp.txt"
{
	echo "date:   $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "nproc:  $(nproc)"
	echo "cpu:    $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
	echo "go:     $(go version)"
	echo "load:   $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$raw"
for i in $(seq "$RUNS"); do
	"$work/bench.test" -test.run '^$' -test.bench Infer -test.benchtime "${REQUESTS}x" -test.count 1 | grep '^BenchmarkInfer' | tee -a "$raw"
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$raw"

# Medians per target, and ratios to the peer given the same request.
awk '
/^BenchmarkInfer\// {
	name = $1; sub(/^BenchmarkInfer\//, "", name); sub(/-[0-9]+$/, "", name)
	for (i = 3; i < NF; i++) { if ($(i+1) == "req/s") rps[name] = rps[name] " " $i; if ($(i+1) == "ms-p50") p50[name] = p50[name] " " $i; if ($(i+1) == "ms-p99") p99[name] = p99[name] " " $i }
	if (!(name in seen)) { seen[name] = 1; order[++n] = name }
}
function median(s,   a, k, i, j, t) {
	k = split(s, a, " ")
	for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
	return (k % 2) ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2
}
END {
	printf "%-15s %12s %10s %10s %8s\n", "target", "req/s", "p50 ms", "p99 ms", "÷ peer"
	for (i = 1; i <= n; i++) {
		t = order[i]; m[t] = median(rps[t])
		peer = (t ~ /xgboost|matrix/) ? "peer-matrix" : "peer"
		printf "%-15s %12.0f %10.3f %10.3f %8.2f\n", t, m[t], median(p50[t]), median(p99[t]), m[t] / median(rps[peer])
	}
}' "$raw" | tee "$out/summary.txt" | tee -a "$raw"
