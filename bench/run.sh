#!/bin/sh
# run.sh — `make bench`: every benchmark, one after the other. Benchmarks are
# not tests: they print numbers and ratios against nginx and HAProxy.
set -u
cd "$(dirname "$0")/.."
status=0
benches="bench/router.sh bench/flood.sh bench/deploy.sh bench/tlspeer.sh"
# The peering bench builds VPC racks in network namespaces: root only.
[ "$(id -u)" -eq 0 ] && benches="$benches bench/peering.sh bench/walls.sh"
for b in $benches; do
	echo "=== $b"
	bash "$b" || status=1
done
exit $status
