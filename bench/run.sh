#!/bin/sh
# run.sh — `make bench`: every benchmark, one after the other. Benchmarks are
# not tests: they print numbers and ratios against nginx and HAProxy.
set -u
cd "$(dirname "$0")/.."
status=0
for b in bench/router.sh; do
	echo "=== $b"
	bash "$b" || status=1
done
exit $status
