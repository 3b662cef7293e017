#!/usr/bin/env bash
# What the walls between apps cost at process start: `cx run web -- true`
# (CLI, API, spawn, exit, answer) on a rack run as root, whose processes get
# their app's ids, a private mount namespace, a read-only build at /srv/app
# and private /tmp, HOME and /dev/shm, against the same on a rack run by an
# unprivileged user, whose processes get none of that. Alternating runs,
# medians. Root only (the walled rack needs it).
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
RUNS=${RUNS:-41}
[ "$(id -u)" -eq 0 ] || { echo "walls: root only (skipped)"; exit 0; }
W=$(mktemp -d /tmp/cx-bench-walls.XXXXXX)
chmod 755 "$W"
cp -r "$ROOT/bin" "$W/bin" && cp -r "$ROOT/examples/hello" "$W/hello" && chmod -R a+rX "$W"
mkdir "$W/plain" && chown 65534:65534 "$W/plain"
as_user() { setpriv --reuid=65534 --regid=65534 --clear-groups env CX_HOME="$W/plain" PATH="$W/bin:$PATH" "$@"; }
walled() { env CX_HOME="$W/walled" PATH="$W/bin:$PATH" "$@"; }
cleanup() {
	walled cx rack uninstall wb >/dev/null 2>&1
	as_user cx rack uninstall pb >/dev/null 2>&1
	pkill -9 -f -- "$W" 2>/dev/null
	rm -rf "$W"
}
trap cleanup EXIT

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
setup() {	# setup RUNNER RACK
	"$1" cx rack install local "$2" >/dev/null && "$1" cx apps create hello -r "$2" >/dev/null &&
	    "$1" cx deploy "$W/hello" -a hello -r "$2" >/dev/null 2>&1
}
setup walled wb || { echo "walls: cannot set up the walled rack"; exit 1; }
setup as_user pb || { echo "walls: cannot set up the unprivileged rack"; exit 1; }
tw="" tp=""
for i in $(seq 1 "$RUNS"); do
	t0=$(date +%s%N); walled cx run web -a hello -r wb -- true || exit 1; t1=$(date +%s%N)
	as_user cx run web -a hello -r pb -- true || exit 1; t2=$(date +%s%N)
	tw="$tw $(( (t1 - t0) / 1000 ))"
	tp="$tp $(( (t2 - t1) / 1000 ))"
done
mw=$(echo $tw | tr ' ' '\n' | median)
mp=$(echo $tp | tr ' ' '\n' | median)
echo "cx run web -- true, $RUNS alternating runs: walled (own ids, mount namespace, /srv/app, private tmp) median $mw us; unprivileged rack (no walls) median $mp us; the walls cost $((mw - mp)) us"
# The same without the CLI and API around it: fork, walls, exec, wait.
taskset -c 1 "$ROOT/bin/cx-spawnbench" "$W/hello" 301
