# Sourced by .ci/run (or by hand: `source .ci/duckdb.sh && CI=1 go test
# -run DuckDB ./internal/monitor/collect/`): makes sure the npm package
# @duckdb/node-api (DuckDB with its prebuilt linux x64 binding, from the npm
# registry) is cached, and exports FERRY_TEST_DUCKDB_MODULES, the
# node_modules directory holding it. DuckDB is the independent Parquet reader
# that checks the inference logs' format.
#
# Environment: FERRY_CI_CACHE (default ~/.cache/ferry-ci) holds
# duckdb/<version>/node_modules. Sourcing returns non-zero when npm fails.

if ! (return 0 2>/dev/null); then
	echo "ci: source this script (source .ci/duckdb.sh), do not run it" >&2
	exit 2
fi

DUCKDB_NODE_VERSION=1.5.6-r.1

duckdb_fetch() {
	local dir=${FERRY_CI_CACHE:-$HOME/.cache/ferry-ci}/duckdb/$DUCKDB_NODE_VERSION
	if [ ! -d "$dir/node_modules/@duckdb/node-api" ]; then
		echo "ci: installing @duckdb/node-api@$DUCKDB_NODE_VERSION" >&2
		mkdir -p "$dir" || return 1
		if ! (cd "$dir" && npm install --silent --no-save --prefix . "@duckdb/node-api@$DUCKDB_NODE_VERSION" >npm.log 2>&1); then
			echo "ci: npm install @duckdb/node-api failed:" >&2
			tail -n 20 "$dir/npm.log" >&2
			return 1
		fi
	fi
	echo "$dir/node_modules"
}

if FERRY_TEST_DUCKDB_MODULES=$(duckdb_fetch); then
	export FERRY_TEST_DUCKDB_MODULES
else
	unset FERRY_TEST_DUCKDB_MODULES
	return 1
fi
