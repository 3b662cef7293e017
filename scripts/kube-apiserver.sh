#!/bin/sh
# kube-apiserver.sh — the real Kubernetes API server the tests apply
# rendered objects to (tests/e2e/kube.t), built once from Debian's own
# `kubernetes` source package (1.20.2; Debian ships no binary of it) and kept
# in $CX_KUBE_CACHE (default /var/cache/cx). Needs root for apt-get.
#   kube-apiserver.sh            build when missing, print the binary's path
#   kube-apiserver.sh --if-missing   the same, printing nothing (make deps)
# The build runs offline (GOPROXY=off, the source vendors its modules; one of
# them is swapped for Debian's newer copy, see below), takes
# about 4 minutes on 2 cores and 2.5 GB under the cache, removed afterwards
# except the binary. etcd comes from Debian's etcd-server.
set -eu
CACHE=${CX_KUBE_CACHE:-/var/cache/cx}
VERSION=1.20.2
BIN=$CACHE/kube-apiserver-$VERSION
quiet=false
[ "${1:-}" = "--if-missing" ] && quiet=true

if [ -x "$BIN" ]; then
	$quiet || echo "$BIN"
	exit 0
fi
[ "$(id -u)" -eq 0 ] || { echo "kube-apiserver.sh: building $BIN needs root (apt-get)" >&2; exit 1; }
mkdir -p "$CACHE"
# The source package: Debian's machines list binary packages only.
SRC_LIST=/etc/apt/sources.list.d/cx-deb-src.sources
if ! apt-get source --print-uris kubernetes >/dev/null 2>&1; then
	cat > "$SRC_LIST" <<'EOF'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
	apt-get update -qq
fi
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    golang-go etcd-server rsync jq golang-github-modern-go-reflect2-dev >/dev/null
work=$(mktemp -d "$CACHE/kube-build.XXXXXX")
trap 'rm -rf "$work"' EXIT
echo "kube-apiserver.sh: building kube-apiserver $VERSION from Debian's source (a few minutes)" >&2
(cd "$work" && apt-get source -qq kubernetes >/dev/null 2>&1)
src=$(ls -d "$work"/kubernetes-*/ | head -1)
[ -n "$src" ] || { echo "kube-apiserver.sh: apt-get source kubernetes gave no tree" >&2; exit 1; }
# The vendored reflect2 1.0.1 reads Go's map iterators the pre-1.18 way: built
# with bookworm's Go 1.19 the server dies with SIGSEGV in mapiterinit once it
# serialises a map. Debian's reflect2 1.0.2 (the same API) replaces it.
R2=/usr/share/gocode/src/github.com/modern-go/reflect2
rm -f "$src"/vendor/github.com/modern-go/reflect2/*.go "$src"/vendor/github.com/modern-go/reflect2/*.s
cp "$R2"/*.go "$R2"/*.s "$src/vendor/github.com/modern-go/reflect2/"
(
	cd "$src"
	mkdir -p .go/src/k8s.io
	[ -L .go/src/k8s.io/kubernetes ] || ln -s ../../.. .go/src/k8s.io/kubernetes
	export GOPATH="$src/.go" GOCACHE="$work/gocache" GOPROXY=off CGO_ENABLED=0 HOME="$work"
	make WHAT=cmd/kube-apiserver >"$work/build.log" 2>&1 ||
	    { tail -20 "$work/build.log" >&2; exit 1; }
)
cp "$src/_output/bin/kube-apiserver" "$BIN.tmp"
mv "$BIN.tmp" "$BIN"
$quiet || echo "$BIN"
