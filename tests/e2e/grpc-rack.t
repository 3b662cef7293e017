#!/usr/bin/env bash
# grpc-rack.t — a gRPC service on a loopback rack: convox.yml `port:
# grpc:PORT` with `grpcHealthEnabled: true` (tests/tools/cx-grpc.py as the
# command), called with a real gRPC client through the rack's router; a
# process whose health turns NOT_SERVING leaves the rotation, and comes back
# when SERVING again. TAP (lib.sh).
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
if ! $PY -c 'import grpc' 2>/dev/null; then
	echo "Bail out! python3-grpcio is not installed (scripts/deps.sh)"
	exit 1
fi
G=$ROOT/tests/tools/cx-grpc.py

out=$(cx rack install local dev 2>&1); ok $? "rack install" "$out"
cx apps create gapp -r dev >/dev/null
mkdir -p "$TMP/app"
cp "$G" "$TMP/app/"
cat >"$TMP/app/convox.yml" <<'YML'
services:
  api:
    build: .
    command: /usr/bin/python3 cx-grpc.py serve
    port: grpc:50051
    grpcHealthEnabled: true
    health:
      interval: 1
    scale:
      count: 2
YML
out=$(cx deploy "$TMP/app" -a gapp -r dev 2>&1); ok $? "deploy a service with port grpc:50051 and grpcHealthEnabled" "$out"
port=$(cx rack params -r dev | awk '$1 == "router_port" { print $2 }')
H=api.gapp.dev.localhost
call() { timeout 20 $PY "$G" call 127.0.0.1:$port $H "$@"; }
names() { call --n 6 --each | sort -u | tr '\n' ' '; }

like "$(names)" "^OK api-[0-9a-f]+:hello OK api-[0-9a-f]+:hello $" \
	"gRPC calls through the rack's router reach both processes"
first=$(cx ps -a gapp -r dev --json | jq -r '.[0].pid')
name1=$(cx ps -a gapp -r dev --json | jq -r '.[0].id')
# serving_only N: N distinct answers, all of them OK
serving_only() { local o; o=$(names); [ "$(echo "$o" | grep -o 'OK api-' | wc -l)" = "$1" ] &&
	! echo "$o" | grep -q ERR; }
kill -USR1 "$first"
# two failed checks 1 s apart make it unhealthy; the next snapshot drops it
wait_for 10 serving_only 1
ok $? "a process answering NOT_SERVING leaves the rotation" "$(names)"
out=$(names)
lacks "$out" "^OK api-" "$name1:" "...the calls go to the other process only ($out)"
kill -USR2 "$first"
wait_for 10 serving_only 2
ok $? "...and the same process comes back once SERVING again" "$(names)"
like "$(names)" "OK $name1:" "...answering calls again (pid $first)"
out=$(cx rack uninstall dev 2>&1); like "$out" "Uninstalling rack dev\.\.\. OK" "rack uninstall"
done_testing
