# Sourced by .ci/run (or by hand:
# `source .ci/onnx.sh && CI=1 CGO_ENABLED=1 go test -tags onnx ./internal/runtime/onnx/`):
# makes sure the ONNX Runtime shared library that Ferry's onnx build tag loads
# is cached, and exports FERRY_ONNXRUNTIME_LIB with its path.
#
# The library comes from the npm package onnxruntime-node, which ships one for
# linux x64: the tarball is fetched with `npm pack` (never `npm install`: its
# install script downloads more and fails offline) and only
# package/bin/napi-v6/linux/x64/libonnxruntime.so.1 is kept.
#
# The version must match the C API headers of github.com/yalue/onnxruntime_go
# in go.mod: v1.27.0 carries the headers of ONNX Runtime 1.24.1
# (ORT_API_VERSION 24), so the library is 1.24.1. Change both together.
#
# Environment: FERRY_CI_CACHE (default ~/.cache/ferry-ci) holds
# onnxruntime/<version>/libonnxruntime.so.1, and onnxruntime/libonnxruntime.so.1
# links to the current version. Sourcing returns non-zero when npm or the
# tarball fails. The script does not change the caller's shell options.

if ! (return 0 2>/dev/null); then
	echo "ci: source this script (source .ci/onnx.sh), do not run it" >&2
	exit 2
fi

ONNXRUNTIME_VERSION=1.24.1

# onnx_fetch prints the path of the cached library, fetching it when absent.
onnx_fetch() {
	local cache=${FERRY_CI_CACHE:-$HOME/.cache/ferry-ci}/onnxruntime
	local want=$cache/$ONNXRUNTIME_VERSION/libonnxruntime.so.1
	local link=$cache/libonnxruntime.so.1
	local member=package/bin/napi-v6/linux/x64/libonnxruntime.so.1
	local tmp tgz=
	if [ ! -s "$want" ]; then
		echo "ci: fetching libonnxruntime $ONNXRUNTIME_VERSION (npm pack onnxruntime-node@$ONNXRUNTIME_VERSION)" >&2
		tmp=$(mktemp -d "${TMPDIR:-/tmp}/ferry-onnx.XXXXXX") || return 1
		if ! (cd "$tmp" && npm pack --silent "onnxruntime-node@$ONNXRUNTIME_VERSION" >npm-pack.log 2>&1); then
			echo "ci: npm pack onnxruntime-node@$ONNXRUNTIME_VERSION failed:" >&2
			tail -n 20 "$tmp/npm-pack.log" >&2
			rm -rf "$tmp"
			return 1
		fi
		for tgz in "$tmp"/onnxruntime-node-*.tgz; do break; done
		if [ ! -f "$tgz" ] || ! tar -xzf "$tgz" -C "$tmp" "$member"; then
			echo "ci: $member not found in the onnxruntime-node $ONNXRUNTIME_VERSION tarball" >&2
			rm -rf "$tmp"
			return 1
		fi
		mkdir -p "$cache/$ONNXRUNTIME_VERSION" || { rm -rf "$tmp"; return 1; }
		mv -f "$tmp/$member" "$want.tmp" && mv -f "$want.tmp" "$want" || { rm -rf "$tmp"; return 1; }
		rm -rf "$tmp"
	fi
	# The fixed path the docs name, pointing at the pinned version.
	if [ "$(readlink "$link" 2>/dev/null)" != "$ONNXRUNTIME_VERSION/libonnxruntime.so.1" ]; then
		ln -sfn "$ONNXRUNTIME_VERSION/libonnxruntime.so.1" "$link" || return 1
	fi
	echo "$want"
}

if FERRY_ONNXRUNTIME_LIB=$(onnx_fetch); then
	export FERRY_ONNXRUNTIME_LIB
	echo "ci: ONNX Runtime $ONNXRUNTIME_VERSION at $FERRY_ONNXRUNTIME_LIB" >&2
else
	unset FERRY_ONNXRUNTIME_LIB
	return 1
fi
