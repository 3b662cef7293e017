#!/usr/bin/env bash
# Control-plane timings: `cx deploy` to the first 200 through the router for a
# one-service app, and `cx services` latency. Medians of several runs.
# Uses a throwaway loopback rack under a temp CX_HOME; stops it at the end.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
export PATH="$ROOT/bin:$PATH"
export CX_HOME=$(mktemp -d /tmp/cx-bench.XXXXXX)
RUNS=${RUNS:-5}
trap 'cx rack uninstall bench >/dev/null 2>&1; pkill -9 -f -- "$CX_HOME" 2>/dev/null; rm -rf "$CX_HOME"' EXIT

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

cx rack install local bench >/dev/null
cx apps create hello -r bench >/dev/null
times=""
for i in $(seq 1 "$RUNS"); do
	cx env set -p GREETING="run$i" -a hello -r bench >/dev/null 2>&1 || true
	t0=$(date +%s%N)
	cx deploy "$ROOT/examples/hello" -a hello -r bench >/dev/null 2>&1 || { echo "deploy failed"; exit 1; }
	url=$(cx services -a hello -r bench --json | sed -n 's/.*"url":"\([^"]*\)".*/\1/p')
	# First 200 from the new release through the router.
	rel=$(cx apps -r bench --json | sed -n 's/.*"release":"\([^"]*\)".*/\1/p')
	for j in $(seq 1 400); do
		curl -s --max-time 1 "$url/" | grep -q "release $rel" && break
		sleep 0.005
	done
	t1=$(date +%s%N)
	times="$times $(( (t1 - t0) / 1000000 ))"
done
d=$(echo $times | tr ' ' '\n' | median)
echo "deploy to first 200 (ms), $RUNS runs:$times; median $d ms (goal < 2000)"

svc=""
for i in $(seq 1 21); do
	t0=$(date +%s%N)
	cx services -a hello -r bench >/dev/null
	t1=$(date +%s%N)
	svc="$svc $(( (t1 - t0) / 1000 ))"
done
s=$(echo $svc | tr ' ' '\n' | median)
echo "cx services latency (us), 21 runs: median $s us (goal < 20000)"
