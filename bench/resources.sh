#!/usr/bin/env bash
# Resources: for each kind the rack runs (postgres, mysql, redis, memcached),
# the time `cx deploy` of an app that declares one resource of that kind
# takes until the resource answers (the deploy returns once it is running),
# against the same deploy without the resource; and the memory of the idle
# server (the RSS of its process tree, after IDLE_S seconds). Medians of
# RUNS (default 3) runs, each a new app (the server's data made from
# nothing). A throwaway loopback rack under a temp CX_HOME, uninstalled at the
# end. Needs root (the servers run as ids of the app's range).
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
export PATH="$ROOT/bin:$PATH"
export CX_HOME=$(mktemp -d /tmp/cx-bench.XXXXXX)
RUNS=${RUNS:-3}
IDLE_S=${IDLE_S:-5}
RACK=bres$$
cleanup() {
	local f
	cx rack uninstall "$RACK" >/dev/null 2>&1
	for f in "$CX_HOME"/racks/*/apps/*/resources/*/pid; do
		[ -f "$f" ] && kill -9 "$(cut -d' ' -f1 "$f")" 2>/dev/null
	done
	rm -rf "$CX_HOME"
}
trap cleanup EXIT
[ "$(id -u)" -eq 0 ] || { echo "bench/resources.sh: run as root (the servers run as the app's ids)" >&2; exit 1; }
cx rack install local "$RACK" >/dev/null || { echo "bench/resources.sh: cannot install a rack" >&2; exit 1; }

# The app: one worker that sleeps, with one resource of kind $1 (none for "none").
app_dir() {
	local d=$CX_HOME/src-$1
	mkdir -p "$d"
	{
		if [ "$1" != none ]; then
			printf 'resources:\n  res:\n    type: %s\n' "$1"
		fi
		printf 'services:\n  worker:\n    build: .\n    command: sleep 100000\n'
		if [ "$1" != none ]; then
			printf '    resources:\n      - res\n'
		fi
	} > "$d/convox.yml"
	echo "$d"
}
# The summed RSS (KiB) of pid $1 and all its descendants.
tree_rss() {
	local pids=$1 p all=$1
	while [ -n "$pids" ]; do
		pids=$(for p in $pids; do cat /proc/"$p"/task/*/children 2>/dev/null; done | tr ' ' '\n' | grep .)
		all="$all $pids"
	done
	for p in $all; do awk '/^VmRSS:/ { print $2 }' /proc/"$p"/status 2>/dev/null; done |
	    awk '{ s += $1 } END { print s + 0 }'
}
median() { tr ' ' '\n' | grep . | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

printf '%-10s %12s %14s %14s\n' KIND "DEPLOY ms" "OVER NONE ms" "IDLE RSS KiB"
base=
for kind in none postgres mysql redis memcached; do
	ms= rss=
	src=$(app_dir "$kind")
	for i in $(seq 1 "$RUNS"); do
		app=b-$kind-$i
		cx apps create "$app" -r "$RACK" >/dev/null || { echo "cannot create $app" >&2; exit 1; }
		t0=$(date +%s%N)
		if ! out=$(cx deploy "$src" -a "$app" -r "$RACK" 2>&1); then
			echo "bench/resources.sh: the deploy of a $kind resource failed: $out" >&2
			exit 1
		fi
		ms="$ms $(( ($(date +%s%N) - t0) / 1000000 ))"
		if [ "$kind" != none ]; then
			sleep "$IDLE_S"
			pid=$(cut -d' ' -f1 "$CX_HOME/racks/$RACK/apps/$app/resources/res/pid")
			rss="$rss $(tree_rss "$pid")"
		fi
		cx apps delete "$app" -r "$RACK" >/dev/null 2>&1
	done
	m=$(echo "$ms" | median)
	[ "$kind" = none ] && base=$m
	printf '%-10s %12s %14s %14s\n' "$kind" "$m" "$((m - base))" "$( [ -n "$rss" ] && echo "$rss" | median || echo -)"
	echo "#   runs (ms):$ms${rss:+; rss (KiB):$rss}"
done
