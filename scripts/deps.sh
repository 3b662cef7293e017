#!/bin/sh
# Install the Debian packages cx needs to build, test, demo and bench.
# podman is the image builder (docs/builds.md): `podman build
# --isolation=chroot` as root needs none of its Recommends (buildah, slirp4netns,
# fuse-overlayfs, uidmap...); mmdebstrap makes the tests' debian:bookworm base.
# libnghttp2-dev is the router's HTTP/2 (src/router/h2.c); nghttp2-client brings
# h2load and nghttp for tests/e2e/h2.t; python3-grpcio is the real gRPC server and client
# of tests/e2e/grpc.t (tests/tools/cx-grpc.py).
# Idempotent. With --if-missing, does nothing when every package is present.
set -eu
PKGS="build-essential pkg-config libyaml-dev libsqlite3-dev libjansson-dev libssl-dev
libcurl4-openssl-dev libarchive-dev libcmocka-dev curl iproute2 nftables procps
util-linux psmisc sqlite3 openssl perl python3 wrk libnghttp2-dev nghttp2-client nginx haproxy hyperfine pebble tcpdump zsh groff-base clang libclang-rt-14-dev
podman mmdebstrap postgresql redis-server memcached mariadb-server
etcd-server golang-go rsync jq python3-yaml python3-grpcio docker-registry"
# The servers an app's resources: run as (postgresql, redis-server, memcached, mariadb-server)
# are started by the rack, one process per resource; Debian's own instances must not run.
SERVICES="postgresql redis-server memcached mariadb mysql etcd docker-registry"
# The Kubernetes API server the tests apply rendered objects to, built from
# Debian's source package and cached (scripts/kube-apiserver.sh); etcd-server
# and golang-go above are what it runs on and is built with. docker-registry
# is the registry kube-deploy.t pushes builds to, run from a config of the
# test's own (Debian's instance must not run).
KUBE="sh $(dirname "$0")/kube-apiserver.sh --if-missing"

missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing="$missing $p"
done
if [ "${1:-}" = "--if-missing" ] && [ -z "$missing" ]; then
	exec $KUBE
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
if [ -z "$missing" ]; then
	echo "deps: all packages present"
else
echo "deps: installing$missing"
$SUDO apt-get update -qq
# A policy-rc.d that exits 101 keeps every postinst from starting its service
# (invoke-rc.d asks it first). One already there (a container's) is put back after.
POLICY=/usr/sbin/policy-rc.d
saved=""
if [ -e "$POLICY" ]; then
	saved=$(mktemp)
	$SUDO cp -p "$POLICY" "$saved"
fi
restore_policy() {
	if [ -n "$saved" ]; then $SUDO cp -p "$saved" "$POLICY"; rm -f "$saved"; else $SUDO rm -f "$POLICY"; fi
}
trap restore_policy EXIT
printf '#!/bin/sh\n# deps.sh: no service starts while cx installs its packages\nexit 101\n' |
	$SUDO tee "$POLICY" >/dev/null
$SUDO chmod 755 "$POLICY"
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
restore_policy
trap - EXIT
fi
# nginx and haproxy are benchmark anchors, not services of this machine; the
# database servers run only as the rack's own instances.
for s in nginx haproxy $SERVICES; do
	if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
		$SUDO systemctl disable --now "$s" >/dev/null 2>&1 || true
	elif [ -x "/etc/init.d/$s" ]; then
		$SUDO "/etc/init.d/$s" stop >/dev/null 2>&1 || true
		command -v update-rc.d >/dev/null 2>&1 && $SUDO update-rc.d "$s" disable >/dev/null 2>&1 || true
	fi
done
# Check: none of Debian's servers is left running (the rack's own run as
# children of cx-rackd, which is not running during make deps).
left=""
for p in postgres redis-server memcached mariadbd mysqld etcd; do
	for pid in $(pgrep -x "$p" 2>/dev/null || true); do
		ppid=$(ps -o ppid= -p "$pid" | tr -d ' ')
		pcomm=$(ps -o comm= -p "$ppid" 2>/dev/null || true)
		case "$pcomm" in cx-rackd|postgres) ;; *) left="$left $p($pid)";; esac
	done
done
if [ -n "$left" ]; then
	echo "deps: Debian's own servers are running:$left; stop them (systemctl disable --now postgresql redis-server memcached mariadb)" >&2
	exit 1
fi
$KUBE
echo "deps: ok"
