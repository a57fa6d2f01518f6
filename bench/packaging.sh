#!/bin/sh
# packaging.sh runs BenchmarkPackaging (internal/packaging) -count times
# (default 5) and prints, as a Markdown table for BENCHMARKS.md "## Packaging",
# the median time and throughput of every case and its ratio to sha256sum on
# the same 100 MB file, measured in the same run. The machine (nproc, CPU
# model, Go version, load) is printed first. The raw `go test -bench` output is
# kept in the file named by -raw, if given.
#
# Usage: bench/packaging.sh [-count N] [-benchtime 3x] [-raw FILE]
#
# Each -count runs every case in turn (sha256sum first), so the peer and the
# packager see the same machine load; the ratio is median(case) /
# median(sha256sum) in time, below 2 meets the target. Cases under json/ use a
# compressible 100 MB JSON model and compare with sha256sum on that file; the
# raw output also has their compressed size ratio (size-ratio).
set -eu

cd "$(dirname "$0")/.."
count=5
benchtime=3x
raw=""
while [ $# -gt 0 ]; do
	case "$1" in
	-count) count="$2"; shift 2 ;;
	-benchtime) benchtime="$2"; shift 2 ;;
	-raw) raw="$2"; shift 2 ;;
	*) echo "usage: bench/packaging.sh [-count N] [-benchtime 3x] [-raw FILE]" >&2; exit 2 ;;
	esac
done
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT

echo "date:      $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "nproc:     $(nproc)"
echo "cpu:       $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)$(grep -qw sha_ni /proc/cpuinfo && echo ' (SHA-NI)')"
echo "go:        $(go version)"
echo "sha256sum: $(sha256sum --version | head -1)"
echo "load:      $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min, at start)"
echo "method:    go test -bench BenchmarkPackaging -benchtime $benchtime -count $count; median of $count"
echo

go test -run '^$' -bench '^BenchmarkPackaging$' -benchtime "$benchtime" -count "$count" ./internal/packaging/ >"$tmp"
[ -n "$raw" ] && cp "$tmp" "$raw"

# Lines look like: BenchmarkPackaging/bundle/gzip-1-2   3   344069124 ns/op   304.76 MB/s
awk -v size=104857600 '
/^BenchmarkPackaging\// {
	name = $1
	sub(/^BenchmarkPackaging\//, "", name)
	sub(/-[0-9]+$/, "", name) # GOMAXPROCS suffix
	if (!(name in n)) order[++k] = name
	t[name, ++n[name]] = $3
}
function median(name,    i, j, m, a, tmpv) {
	m = n[name]
	for (i = 1; i <= m; i++) a[i] = t[name, i]
	for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++) if (a[j] < a[i]) { tmpv = a[i]; a[i] = a[j]; a[j] = tmpv }
	return (m % 2) ? a[(m + 1) / 2] : (a[m / 2] + a[m / 2 + 1]) / 2
}
END {
	if (!("sha256sum" in n)) { print "no sha256sum figures" > "/dev/stderr"; exit 1 }
	print "| case | median time | throughput | time ÷ sha256sum |"
	print "| --- | ---: | ---: | ---: |"
	for (i = 1; i <= k; i++) {
		name = order[i]
		# json/... cases compare with sha256sum on the JSON file.
		peer = median(name ~ /^json\// ? "json/sha256sum" : "sha256sum")
		m = median(name)
		printf "| %s | %.0f ms | %.0f MB/s | %.2f |\n", name, m / 1e6, size / 1e6 / (m / 1e9), m / peer
	}
}' "$tmp"
