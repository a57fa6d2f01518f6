#!/bin/sh
# run.sh runs Ferry's benchmarks (package bench) -count times each, writes the
# raw `go test -bench` output to bench/results/raw.txt and prints the median
# of every reported figure. The machine, the raw output and the medians of
# every run are also kept in bench/results/run-<UTC time>.txt. With -benchstat it also summarises the raw output
# with golang.org/x/perf/cmd/benchstat (fetched through the Go module proxy).
#
# Usage: bench/run.sh [-benchstat] [-count N] [NAME]
#
# NAME (a grep pattern) runs only the benchmarks whose name matches it, e.g.
# bench/run.sh -count 1 LogBatch.
#
# Each benchmark gets its own -benchtime so that one -count takes a few
# seconds: an iteration is 10,000 metrics (LogBatch), 1,000 calls (LogMetric),
# one call (GetHistory, SearchRuns). The machine, Go version and date are
# printed first; copy them to BENCHMARKS.md with the figures.
set -eu

cd "$(dirname "$0")/.."
count=5
benchstat=false
while [ $# -gt 0 ]; do
	case "$1" in
	-benchstat) benchstat=true; shift ;;
	-count) count="$2"; shift 2 ;;
	*) break ;;
	esac
done
only="${1:-.}"

out=bench/results
mkdir -p "$out"
stamp=$(date -u '+%Y%m%dT%H%MZ')
raw="$out/raw.txt"
: >"$raw"
last=$(mktemp)
trap 'rm -f "$last"' EXIT

{
	echo "date:   $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "nproc:  $(nproc)"
	echo "cpu:    $(lscpu | sed -n 's/^Model name:[[:space:]]*//p' | head -n 1)"
	echo "go:     $(go version)"
	echo "load:   $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo n/a)"
} | tee "$out/machine.txt"

run() { # run BENCH_REGEXP BENCHTIME
	if [ "$only" != . ] && ! printf '%s\n' "$1" | grep -q -- "$only"; then
		return 0
	fi
	echo "== go test -run '^\$' -bench '$1' -benchtime $2 -count $count ./bench/" >&2
	go test -run '^$' -bench "$1" -benchtime "$2" -count "$count" -timeout 60m ./bench/ >"$last" 2>&1 || {
		cat "$last" >&2
		exit 1
	}
	cat "$last" >>"$raw"
	grep '^Benchmark' "$last" >&2
}

run '^BenchmarkLogBatch$' 20x
run '^BenchmarkLogMetric$' 3x
run '^BenchmarkGetHistory$' 10x
run '^BenchmarkSearchRuns$' 10x

echo "load after: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo n/a)" | tee -a "$out/machine.txt"
echo
echo "median of $count runs:"
awk '
/^Benchmark/ {
	name = $1
	for (i = 3; i < NF; i += 2) {
		key = name " " $(i + 1)
		if (!(key in n)) order[++keys] = key
		v[key, ++n[key]] = $i
	}
}
END {
	for (k = 1; k <= keys; k++) {
		key = order[k]; m = n[key]
		for (i = 1; i <= m; i++) a[i] = v[key, i] + 0
		for (i = 2; i <= m; i++) { x = a[i]; for (j = i - 1; j >= 1 && a[j] > x; j--) a[j + 1] = a[j]; a[j + 1] = x }
		med = (m % 2) ? a[(m + 1) / 2] : (a[m / 2] + a[m / 2 + 1]) / 2
		split(key, parts, " ")
		f = (med >= 1000) ? "%.0f" : "%.4g"
		printf "  %-52s " f " %s  (min " f ", max " f ", n=%d)\n", parts[1], med, parts[2], a[1], a[m], m
	}
}' "$raw" | tee "$out/medians.txt"

# Ferry's log-batch throughput as a fraction of the bare net/http peer's.
ratios=$(awk '$3 == "metrics/s" && $1 ~ /^BenchmarkLogBatch\// {
	name = $1; sub(/^BenchmarkLogBatch\//, "", name); sub(/-[0-9]+$/, "", name); v[name] = $2
}
END {
	if (v["peer=bare-net-http"] > 0)
		for (k in v) if (k != "peer=bare-net-http")
			printf "  log-batch %s / bare net/http: %.2f\n", k, v[k] / v["peer=bare-net-http"]
}' "$out/medians.txt")
if [ -n "$ratios" ]; then
	echo "$ratios" | tee -a "$out/medians.txt"
fi

cat "$out/machine.txt" "$raw" "$out/medians.txt" >"$out/run-$stamp.txt"

if $benchstat; then
	echo
	go run golang.org/x/perf/cmd/benchstat@latest "$raw"
fi
