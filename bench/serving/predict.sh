#!/usr/bin/env bash
# predict.sh measures `ferry predict` on the first 1,000,000 rows of
# flights-3m.parquet: rows per second and peak memory (maximum resident set
# size, from /usr/bin/time -v), for Parquet, CSV and JSON Lines output at
# --batch-size 10000 (the default) and 50000, and — the non-streaming peer —
# the whole million in one batch. The model is a GBDT that `ferry train`
# fits on the whole file (60 trees, depth 6, binary delay > 15 minutes).
# Runs alternate; medians of RUNS runs are printed.
#
# Usage: bench/serving/predict.sh        (from anywhere; runs from the repo root)
#
# Settings from the environment: RUNS (3), DATA (../shared/data/flights-3m.parquet
# beside the repository). Needs /usr/bin/time (Debian's time package).
set -euo pipefail
cd "$(dirname "$0")/../.."
RUNS=${RUNS:-3}
DATA=${DATA:-$(cd .. && pwd)/shared/data/flights-3m.parquet}
[ -f "$DATA" ] || { echo "no $DATA: set DATA" >&2; exit 1; }
out=bench/serving/results
mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

go build -o "$work/ferry" ./cmd/ferry
"$work/ferry" --data "$work/data" train --dataset "$DATA" --target delay --positive-when "> 15" \
	--feature date:month --feature date:weekday --feature date:hour --feature distance --feature origin --feature destination \
	--param num_rounds=60 --param max_depth=6 --seed 7 --out "$work/model" >/dev/null

stamp=$(date -u '+%Y%m%dT%H%MZ')
raw="$out/predict-$stamp.txt"
{
	echo "date:   $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "nproc:  $(nproc)"
	echo "cpu:    $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
	echo "go:     $(go version)"
	echo "load:   $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "input:  $DATA (first 1,000,000 rows)"
} | tee "$raw"
for i in $(seq "$RUNS"); do
	for c in parquet:10000 csv:10000 jsonl:10000 parquet:50000 parquet:1000000; do
		fmt=${c%%:*} batch=${c##*:}
		/usr/bin/time -v "$work/ferry" predict "$work/model/model" -i "$DATA" -o "$work/out.$fmt" \
			--limit 1000000 --batch-size "$batch" >"$work/stdout" 2>"$work/time"
		rps=$(sed -n 's/.*(\([0-9]*\) rows\/s).*/\1/p' "$work/stdout")
		rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$work/time")
		echo "run $i output=$fmt batch=$batch rows_per_s=$rps max_rss_mib=$((rss / 1024))" | tee -a "$raw"
	done
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$raw"
awk '
/^run / {
	key = $3 " " $4; split($5, a, "="); split($6, b, "=")
	r[key] = r[key] " " a[2]; m[key] = m[key] " " b[2]
	if (!(key in seen)) { seen[key] = 1; order[++n] = key }
}
function median(s,   x, k, i, j, t) {
	k = split(s, x, " ")
	for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (x[j] + 0 < x[i] + 0) { t = x[i]; x[i] = x[j]; x[j] = t }
	return (k % 2) ? x[(k + 1) / 2] : (x[k / 2] + x[k / 2 + 1]) / 2
}
END {
	printf "%-30s %12s %14s\n", "case", "rows/s", "peak RSS MiB"
	for (i = 1; i <= n; i++) printf "%-30s %12.0f %14.0f\n", order[i], median(r[order[i]]), median(m[order[i]])
}' "$raw" | tee "$out/predict-summary.txt" | tee -a "$raw"
