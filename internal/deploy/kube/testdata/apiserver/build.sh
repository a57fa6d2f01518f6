#!/bin/sh
# Build kube-apiserver from the Go module proxy, for TestApplyToAPIServer.
#
# Usage: build.sh OUT [VERSION]   (VERSION defaults to v1.37.2)
#
# k8s.io/kubernetes cannot be `go install`ed: its go.mod replaces the
# k8s.io/* staging modules with ./staging/src/... directories, which the
# module zip does not hold. This script makes a throwaway main module that
# requires k8s.io/kubernetes at VERSION and replaces each staging module with
# its published release (v0.X.Y for v1.X.Y), then builds
# k8s.io/kubernetes/cmd/kube-apiserver with the version stamped in.
# About 7 minutes on 2 busy cores; 170 MB binary. etcd comes from Debian:
# apt-get install etcd-server.
set -eu
out=$(realpath -m "$1")
version=${2:-v1.37.2}
staging=v0.${version#v1.}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
printf 'module example.com/kubeapiserver\n\ngo 1.26\n\nrequire k8s.io/kubernetes %s\n' "$version" > go.mod
go mod download -json "k8s.io/kubernetes@$version" > /dev/null
modcache=$(go env GOMODCACHE)
echo 'replace (' >> go.mod
sed -n '/^replace (/,/^)/p' "$modcache/cache/download/k8s.io/kubernetes/@v/$version.mod" |
	awk -v v="$staging" '$2 == "=>" { print "\t" $1 " => " $1 " " v }' >> go.mod
echo ')' >> go.mod
printf '//go:build tools\n\npackage tools\n\nimport _ "k8s.io/kubernetes/cmd/kube-apiserver"\n' > tools.go
go mod tidy
v=k8s.io/component-base/version
go build -trimpath -o "$out" \
	-ldflags "-X $v.gitVersion=$version -X $v.gitMajor=1 -X $v.gitMinor=$(echo "$version" | cut -d. -f2)" \
	k8s.io/kubernetes/cmd/kube-apiserver
"$out" --version
