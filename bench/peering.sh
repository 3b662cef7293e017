#!/usr/bin/env bash
# Rack-to-rack costs (needs root): time for `cx rack params set
# internal_router=true` to return with a serving internal router, time for
# `cx rack peer`, and the latency a request adds by crossing the peering:
# p50/p99 over N (default 10000) sequential keep-alive requests to the same
# internal service, from a peered rack vs from inside its own rack.
# Everything is created under a temp CX_HOME and removed at the end.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
export PATH="$ROOT/bin:$PATH"
export CX_HOME=$(mktemp -d /tmp/cx-bench.XXXXXX)
chmod 755 "$CX_HOME"
N=${N:-10000}
RUNS=${RUNS:-3}
trap 'for r in a b; do cx rack uninstall $r >/dev/null 2>&1; done; rm -rf "$CX_HOME"' EXIT
[ "$(id -u)" -eq 0 ] || { echo "bench/peering.sh needs root (network namespaces)"; exit 1; }
ms() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

cx rack install local a --vpc 10.1.0.0/16 >/dev/null || exit 1
cx rack install local b --vpc 10.2.0.0/16 >/dev/null || exit 1
ir=""; pr=""
for i in $(seq 1 "$RUNS"); do
	t0=$(date +%s%N); cx rack params set internal_router=true -r b >/dev/null; ir="$ir $(ms $t0)"
	cx rack params set internal_router=false -r b >/dev/null
	t0=$(date +%s%N); cx rack peer a b >/dev/null; pr="$pr $(ms $t0)"
	cx rack unpeer a b >/dev/null
done
echo "internal_router=true to serving (ms):$ir; median $(echo $ir | tr ' ' '\n' | median)"
echo "cx rack peer (ms):$pr; median $(echo $pr | tr ' ' '\n' | median)"

cx rack params set internal_router=true -r b >/dev/null
cx rack peer a b >/dev/null
cx apps create svc -r b >/dev/null
cx deploy "$ROOT/examples/hello" -m "$ROOT/examples/hello/convox-internal.yml" -a svc -r b >/dev/null || exit 1
host=api.svc.b-internal.cx.test
addr=$(cx rack -r b --json | sed -n 's/.*"router_internal_address":"\([0-9.:]*\)".*/\1/p')
for i in $(seq 1 "$RUNS"); do
	echo "run $i, $N requests each to $host ($addr):"
	printf '  from rack b (same VPC):    '; cx net exec b -- "$ROOT/bin/cx-hammer" "$addr" "$host" "$N"
	printf '  from rack a (via peering): '; cx net exec a -- "$ROOT/bin/cx-hammer" "$addr" "$host" "$N"
done
