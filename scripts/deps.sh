#!/bin/sh
# Install the Debian packages cx needs to build, test, demo and bench.
# podman is the image builder (docs/builds.md): `podman build
# --isolation=chroot` as root needs none of its Recommends (buildah, slirp4netns,
# fuse-overlayfs, uidmap...); mmdebstrap makes the tests' debian:bookworm base.
# Idempotent. With --if-missing, does nothing when every package is present.
set -eu
PKGS="build-essential pkg-config libyaml-dev libsqlite3-dev libjansson-dev libssl-dev
libcurl4-openssl-dev libarchive-dev libcmocka-dev curl iproute2 nftables procps
util-linux psmisc sqlite3 openssl perl python3 wrk nginx haproxy hyperfine pebble tcpdump zsh groff-base clang libclang-rt-14-dev
podman mmdebstrap"

missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing="$missing $p"
done
if [ "${1:-}" = "--if-missing" ] && [ -z "$missing" ]; then
	exit 0
fi
[ -z "$missing" ] && { echo "deps: all packages present"; exit 0; }
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "deps: installing$missing"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
# nginx and haproxy are benchmark anchors, not services of this machine.
for s in nginx haproxy; do
	if command -v systemctl >/dev/null 2>&1; then $SUDO systemctl disable --now "$s" >/dev/null 2>&1 || true; fi
done
echo "deps: ok"
