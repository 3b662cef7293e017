#!/usr/bin/env bash
# flood.sh — cx-router at twice its descriptor limit: requests/s that wrk's
# keep-alive connections (opened before the flood) get while 2 x NOFILE idle
# connections are attempted, against the same without a flood. Three cases:
#   baseline   no flood
#   no cap     --max-conns 0: the router runs out of descriptors and pauses
#              accepting (docs/router.md, "Floods")
#   cap        the default cap, (NOFILE - 64) / 2: idle connections shed
# The router runs on CPU1 under `prlimit --nofile=NOFILE`; wrk, the flood and
# a cx-testsrv upstream on CPU0. Median of BENCH_ROUNDS runs of BENCH_SECS.
#
#   bench/flood.sh     BENCH_NOFILE=1024 BENCH_SECS=6 BENCH_ROUNDS=3 BENCH_CONNS=8
# Everything it starts is stopped on exit.
set -u
cd "$(dirname "$0")/.."

BIN=${CX_BIN:-bin}
case $BIN in /*) ;; *) BIN=$PWD/$BIN ;; esac
NOFILE=${BENCH_NOFILE:-1024}
SECS=${BENCH_SECS:-6}
ROUNDS=${BENCH_ROUNDS:-3}
CONNS=${BENCH_CONNS:-8}
HOST=bench.flood.cx.localhost

for t in wrk taskset prlimit python3; do
	command -v $t >/dev/null || { echo "bench: $t is not installed" >&2; exit 1; }
done
[ -x "$BIN/cx-router" ] && [ -x "$BIN/cx-testsrv" ] ||
	{ echo "bench: $BIN/cx-router or cx-testsrv missing (make all)" >&2; exit 1; }

T=$(mktemp -d /tmp/cx-bench-flood.XXXXXX)
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	sleep 0.2
	for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Below the ephemeral range, which the flood's client sockets fill.
free_port() {
	local p
	for _ in $(seq 1 200); do
		p=$((20000 + RANDOM % 12000))
		if ! (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null; then echo "$p"; return; fi
	done
	echo "bench: no free port" >&2; exit 1
}
wait_port() {
	for _ in $(seq 1 100); do
		(exec 3<>/dev/tcp/127.0.0.1/$1) 2>/dev/null && return 0
		sleep 0.05
	done
	echo "bench: nothing listens on $1: $(cat "$T"/*.log)" >&2; exit 1
}
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

U=$(free_port)
taskset -c 0 "$BIN/cx-testsrv" --listen 127.0.0.1:$U --name one >"$T/up.log" 2>&1 &
PIDS+=($!)
wait_port $U
printf 'cx-routes 1\nhost %s flood web 60 /\nup web-1 127.0.0.1 %s\n' $HOST $U >"$T/routes"

# run CASE: prints the req/s of one round
run() {
	local case=$1 port flags=() rpid fpid rps
	port=$(free_port)
	[ "$case" = nocap ] && flags=(--max-conns 0)
	taskset -c 1 prlimit --nofile=$NOFILE:$NOFILE -- "$BIN/cx-router" --name public \
		--rack bench --listen 127.0.0.1:$port --routes "$T/routes" "${flags[@]}" \
		>>"$T/router-$case.log" 2>&1 &
	rpid=$!
	PIDS+=($rpid)
	wait_port $port
	taskset -c 0 wrk -t1 -c$CONNS -d${SECS}s -H "Host: $HOST" http://127.0.0.1:$port/ \
		>"$T/wrk.out" 2>&1 &
	local wpid=$!
	if [ "$case" != baseline ]; then
		sleep 0.5
		FLOOD_GAP_MS=0 taskset -c 0 timeout $((SECS + 10)) python3 tests/tools/cx-flood.py \
			hold 127.0.0.1:$port $((NOFILE * 2)) $SECS >"$T/flood.out" 2>&1 &
		fpid=$!
		PIDS+=($fpid)
	fi
	wait $wpid
	rps=$(awk '/^Requests\/sec/ { printf "%d", $2 }' "$T/wrk.out")
	errs=$(awk '/Non-2xx|Socket errors/' "$T/wrk.out" | tr -s ' ' | tr '\n' ';')
	[ -n "$errs" ] && echo "bench: $case: $errs" >&2
	[ "$case" != baseline ] && { kill $fpid 2>/dev/null; wait $fpid 2>/dev/null; }
	kill $rpid 2>/dev/null
	wait $rpid 2>/dev/null
	echo "${rps:-0}"
}

echo "cx-router, NOFILE $NOFILE, wrk -c$CONNS for ${SECS} s, flood of $((NOFILE * 2)) idle connections"
for case in baseline nocap cap; do
	: >"$T/$case.rps"
done
for r in $(seq 1 "$ROUNDS"); do
	for case in baseline nocap cap; do
		run $case >>"$T/$case.rps"
	done
done
base=$(median <"$T/baseline.rps")
for case in baseline nocap cap; do
	m=$(median <"$T/$case.rps")
	printf '%-9s req/s %7s  (runs: %s)  %s%% of baseline\n' "$case" "$m" \
		"$(tr '\n' ' ' <"$T/$case.rps" | sed 's/ $//')" "$((m * 100 / (base > 0 ? base : 1)))"
done
printf 'router log lines while flooded (all rounds): no cap %s, cap %s\n' \
	"$(grep -c flood: "$T/router-nocap.log")" "$(grep -c flood: "$T/router-cap.log")"
