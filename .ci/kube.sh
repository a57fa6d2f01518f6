# Sourced by .ci/run (or by hand: `source .ci/kube.sh && CI=1 go test -run TestApplyToAPIServer ./internal/deploy/kube/`):
# a real Kubernetes API server for the rendered manifests of the kubernetes
# target. etcd comes from Debian's etcd-server package; kube-apiserver is
# built from the Go module proxy by internal/deploy/kube/testdata/apiserver/
# build.sh (about 7 minutes cold) and cached under FERRY_CI_CACHE. Exports
# FERRY_KUBE_APISERVER and FERRY_ETCD; under CI the test fails without them.
#
# Sourcing returns non-zero when a step fails. The script does not change
# the caller's shell options.

if ! (return 0 2>/dev/null); then
	echo "ci: source this script (source .ci/kube.sh), do not run it" >&2
	exit 2
fi

kube_setup() {
	local version=v1.37.2 bin
	if ! command -v etcd >/dev/null 2>&1 && [ ! -x /usr/bin/etcd ]; then
		echo "ci: installing etcd-server from Debian's packages" >&2
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq etcd-server >/dev/null; } || {
			echo "ci: apt-get install etcd-server failed" >&2
			return 1
		}
	fi
	local cache=${FERRY_CI_CACHE:-$HOME/.cache/ferry-ci}
	bin="$cache/kube-apiserver-$version"
	if [ ! -x "$bin" ]; then
		echo "ci: building kube-apiserver $version from the Go module proxy (cached in $bin)" >&2
		mkdir -p "$cache" || return 1
		internal/deploy/kube/testdata/apiserver/build.sh "$bin.tmp" "$version" >&2 || {
			echo "ci: building kube-apiserver failed" >&2
			rm -f "$bin.tmp"
			return 1
		}
		mv "$bin.tmp" "$bin"
	fi
	export FERRY_KUBE_APISERVER="$bin"
	FERRY_ETCD=$(command -v etcd || echo /usr/bin/etcd)
	export FERRY_ETCD
	echo "ci: $("$bin" --version), etcd $("$FERRY_ETCD" --version | head -1)"
}

kube_setup
