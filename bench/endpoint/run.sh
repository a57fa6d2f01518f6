#!/usr/bin/env bash
# run.sh measures routing overhead: BenchmarkEndpoint (endpoint_test.go) RUNS
# times, each run serving the same model directly, through /endpoints/, and
# through /endpoints/ with 50% mirrored, and through /endpoints/ with every
# request logged by the data collector, one after the other in one process,
# so that the variants alternate over the runs. Raw output goes to
# bench/endpoint/results/.
#
# Usage: bench/endpoint/run.sh   (RUNS=5, REQUESTS=20000 per variant per run)
set -euo pipefail
cd "$(dirname "$0")/../.."
RUNS=${RUNS:-5}
REQUESTS=${REQUESTS:-20000}
out=bench/endpoint/results
mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
go test -c -o "$work/bench.test" ./bench/endpoint/
raw="$out/run-$(date -u '+%Y%m%dT%H%MZ').txt"
{
	echo "date:   $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "nproc:  $(nproc)"
	echo "cpu:    $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
	echo "go:     $(go version)"
	echo "load:   $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$raw"
for _ in $(seq "$RUNS"); do
	"$work/bench.test" -test.run '^$' -test.bench Endpoint -test.benchtime "${REQUESTS}x" -test.count 1 | grep '^BenchmarkEndpoint' | tee -a "$raw"
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$raw"
