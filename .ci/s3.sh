# Sourced by .ci/run (or by hand: `source .ci/s3.sh && CI=1 go test ./internal/blob/...`):
# builds the Versity S3 Gateway when it is not cached, starts it on a free
# loopback port with a POSIX backend in a throwaway directory, and exports
# FERRY_TEST_S3_ENDPOINT, FERRY_TEST_S3_ACCESS_KEY, FERRY_TEST_S3_SECRET_KEY and
# FERRY_TEST_S3_BUCKET (the tests create the bucket). The caller traps s3_stop,
# which stops the gateway and removes its directory.
#
# Environment: FERRY_CI_CACHE (default ~/.cache/ferry-ci) holds bin/versitygw.
# Sourcing returns non-zero, with the gateway's log on stderr, when the gateway
# cannot be built or does not answer within 30 seconds.
#
# The script does not change the caller's shell options.

if ! (return 0 2>/dev/null); then
	echo "ci: source this script (source .ci/s3.sh), do not run it" >&2
	exit 2
fi

S3_VERSITYGW_VERSION=v1.8.0

# s3_versitygw prints the path of a cached versitygw of S3_VERSITYGW_VERSION,
# building it first when absent or of another version.
s3_versitygw() {
	local cache=${FERRY_CI_CACHE:-$HOME/.cache/ferry-ci}
	local bin=$cache/bin/versitygw
	if [ -x "$bin" ] && go version -m "$bin" 2>/dev/null |
		grep -Eq "^[[:space:]]+mod[[:space:]]+github.com/versity/versitygw[[:space:]]+$S3_VERSITYGW_VERSION[[:space:]]"; then
		echo "$bin"
		return 0
	fi
	echo "ci: building versitygw $S3_VERSITYGW_VERSION into $cache/bin (one-off, a few minutes)" >&2
	mkdir -p "$cache/bin" || return 1
	if ! GOBIN=$cache/bin go install \
		"github.com/versity/versitygw/cmd/versitygw@$S3_VERSITYGW_VERSION" >"$cache/versitygw-build.log" 2>&1; then
		echo "ci: building versitygw failed; last lines of $cache/versitygw-build.log:" >&2
		tail -n 20 "$cache/versitygw-build.log" >&2
		return 1
	fi
	echo "$bin"
}

# s3_port_open reports whether something accepts TCP connections on 127.0.0.1:$1.
s3_port_open() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# s3_start starts the gateway and exports FERRY_TEST_S3_*. It tries a few random
# ports in case another process takes the chosen one first.
s3_start() {
	local bin attempt port i
	bin=$(s3_versitygw) || return 1
	S3_DIR=$(mktemp -d "${TMPDIR:-/tmp}/ferry-s3.XXXXXX") || return 1
	mkdir -p "$S3_DIR/data" || return 1
	S3_ACCESS_KEY=ferry-ci
	S3_SECRET_KEY=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')

	for attempt in 1 2 3 4 5; do
		port=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
		s3_port_open "$port" && continue
		# Credentials go through the environment, not argv, to stay out of ps.
		ROOT_ACCESS_KEY=$S3_ACCESS_KEY ROOT_SECRET_KEY=$S3_SECRET_KEY \
			"$bin" --port "127.0.0.1:$port" --quiet posix "$S3_DIR/data" \
			>"$S3_DIR/versitygw.log" 2>&1 </dev/null &
		S3_PID=$!
		for i in $(seq 300); do # 300 × 0.1 s
			if ! kill -0 "$S3_PID" 2>/dev/null; then
				break # exited: probably lost the port; try another
			fi
			if s3_port_open "$port"; then
				export FERRY_TEST_S3_ENDPOINT=127.0.0.1:$port
				export FERRY_TEST_S3_ACCESS_KEY=$S3_ACCESS_KEY
				export FERRY_TEST_S3_SECRET_KEY=$S3_SECRET_KEY
				export FERRY_TEST_S3_BUCKET=${FERRY_TEST_S3_BUCKET:-ferry-test}
				echo "ci: versitygw $S3_VERSITYGW_VERSION listening on $FERRY_TEST_S3_ENDPOINT (pid $S3_PID, data $S3_DIR/data)" >&2
				return 0
			fi
			sleep 0.1
		done
		if kill -0 "$S3_PID" 2>/dev/null; then
			echo "ci: versitygw did not answer on 127.0.0.1:$port within 30s; log:" >&2
			cat "$S3_DIR/versitygw.log" >&2
			s3_stop
			return 1
		fi
		wait "$S3_PID" 2>/dev/null
		S3_PID=
		if ! grep -q "address already in use" "$S3_DIR/versitygw.log"; then
			echo "ci: versitygw exited at start; log:" >&2
			cat "$S3_DIR/versitygw.log" >&2
			s3_stop
			return 1
		fi
		echo "ci: port $port is taken; trying another" >&2
	done
	echo "ci: could not start versitygw: no free port after 5 tries" >&2
	s3_stop
	return 1
}

# s3_stop stops the gateway started by s3_start and removes its directory. It is
# safe to call more than once.
s3_stop() {
	if [ -n "${S3_PID:-}" ]; then
		kill "$S3_PID" 2>/dev/null && wait "$S3_PID" 2>/dev/null
		S3_PID=
	fi
	if [ -n "${S3_DIR:-}" ]; then
		rm -rf "$S3_DIR"
		S3_DIR=
	fi
	unset FERRY_TEST_S3_ENDPOINT FERRY_TEST_S3_ACCESS_KEY FERRY_TEST_S3_SECRET_KEY
	return 0
}

s3_start || return 1 2>/dev/null || exit 1
