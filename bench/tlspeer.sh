#!/usr/bin/env bash
# The cost of peering over TLS (no root: two loopback racks): p50/p99 of N
# (default 10000) sequential keep-alive requests to p2's internal service
# through p1's egress listener (egress -> TLS 1.3 with mutual authentication,
# warm pooled connection -> p2's peer listener -> the process) vs the same
# requests inside p2 (its internal router straight to the process); and the
# cost of a new peer connection (a full TLS 1.3 handshake with client
# certificate, no resumption: the peer listener sends no tickets), measured
# by openssl s_time with p1's peer certificate.
#
# Each placement is measured (BENCH-NOTES: an idle vCPU here halts, and a
# wake-up across cores costs ~30 us, which a chain of four processes pays on
# every hop): "spread", as the scheduler places them, and "pinned", every
# process of both racks and the client on CPU 1, which shows the cost of the
# work itself.
#
#   bench/tlspeer.sh        N=10000 RUNS=3 by default
# Everything is created under a temp CX_HOME and removed at the end.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
export PATH="$ROOT/bin:$PATH"
export CX_HOME=$(mktemp -d /tmp/cx-bench.XXXXXX)
N=${N:-10000}
RUNS=${RUNS:-3}
trap 'for r in p1 p2; do cx rack uninstall $r >/dev/null 2>&1; done; rm -rf "$CX_HOME"' EXIT
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
param() { cx rack params -r "$1" --json | sed -n "s/.*\"$2\":\"\([^\"]*\)\".*/\1/p"; }

cx rack install local p1 >/dev/null && cx rack install local p2 >/dev/null || exit 1
cx rack params set internal_router=true -r p2 >/dev/null
cx apps create svc -r p2 >/dev/null
cx deploy "$ROOT/examples/hello" -m "$ROOT/examples/hello/convox-internal.yml" -a svc -r p2 >/dev/null || exit 1
cx rack peer p1 p2 >/dev/null || exit 1
host=api.svc.p2-internal.localhost
egress=127.0.0.1:$(param p1 egress_port)
inside=127.0.0.1:$(param p2 router_internal_port)
peer=$(param p2 peer_port)
for i in $(seq 1 50); do
	curl -sf --max-time 1 -H "Host: $host" "http://$egress/health" >/dev/null && break
	sleep 0.1
done

# Every process of both racks (routers, daemons, the app's process) and what
# they started: the CX_HOME is in each rack process's command line.
rack_pids() {
	local p all
	all=$(pgrep -f "$CX_HOME")
	for p in $all; do all="$all $(pgrep -P "$p")"; done
	echo $all
}
place() {     # place CPUS: move every rack process there
	local p
	for p in $(rack_pids); do taskset -a -p -c "$1" "$p" >/dev/null 2>&1; done
}
us_of() { sed -n "s/.*$1 \([0-9]*\) us.*/\1/p"; }

for mode in spread pinned; do
	if [ "$mode" = pinned ]; then place 1; run="taskset -c 1"; else place 0-1; run=""; fi
	e50=""; e99=""; i50=""; i99=""
	for i in $(seq 1 "$RUNS"); do
		in=$($run cx-hammer "$inside" "$host" "$N"); eg=$($run cx-hammer "$egress" "$host" "$N")
		echo "$mode run $i, $N requests each to $host:"
		echo "  inside p2 (internal router): $in"
		echo "  from p1 (egress, TLS peer):  $eg"
		i50="$i50 $(echo "$in" | us_of p50)"; i99="$i99 $(echo "$in" | us_of p99)"
		e50="$e50 $(echo "$eg" | us_of p50)"; e99="$e99 $(echo "$eg" | us_of p99)"
	done
	mi50=$(echo $i50 | tr ' ' '\n' | median); mi99=$(echo $i99 | tr ' ' '\n' | median)
	me50=$(echo $e50 | tr ' ' '\n' | median); me99=$(echo $e99 | tr ' ' '\n' | median)
	echo "$mode, medians of $RUNS runs: inside p50 $mi50 us p99 $mi99 us;" \
	    "across the peering p50 $me50 us p99 $me99 us; added p50 $((me50 - mi50)) us, p99 $((me99 - mi99)) us"
done
place 0-1

d="$CX_HOME/racks"
hs=""
for i in $(seq 1 "$RUNS"); do
	n=$(openssl s_time -connect "127.0.0.1:$peer" -new -time 5 -cert "$d/p1/peer.pem" \
	    -key "$d/p1/peer.key" -CAfile "$d/p2/ca.pem" 2>/dev/null |
	    sed -n 's/^\([0-9]*\) connections in \([0-9.]*\) real seconds.*/\1 \2/p' | head -1)
	set -- $n
	us=$(awk -v c="${1:-0}" -v s="${2:-1}" 'BEGIN { if (c > 0) printf "%d", s * 1e6 / c; else print "nan" }')
	echo "run $i: new peer connections (full handshake, client certificate): ${1:-0} in ${2:-?} s, $us us each"
	hs="$hs $us"
done
echo "median of $RUNS runs: a new peer connection costs $(echo $hs | tr ' ' '\n' | median) us (openssl s_time, one client)"
