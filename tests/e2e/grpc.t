#!/usr/bin/env bash
# grpc.t — gRPC through cx-router, end to end over HTTP/2 (route flag grpc):
# a real gRPC server and client (tests/tools/cx-grpc.py, Debian's
# python3-grpcio) with a hand-written snapshot. Unary calls over h2c and TLS
# (ALPN h2), a non-zero grpc-status and its message in the trailers, server
# streaming, a client that reads slowly (the router's RSS stays flat: the
# windows hold the server back), one upstream connection for many calls and
# 100 concurrent streams, a retry on a refused connection, an upstream
# killed mid-stream (UNAVAILABLE in bounded time), and HTTP/1.1 to a gRPC
# route (505). TAP (lib.sh); binaries from ${CX_BIN:-bin}.
. "$(dirname "$0")/lib.sh"
router_bins
PY=/usr/bin/python3	# Debian's, with python3-grpcio
G=$ROOT/tests/tools/cx-grpc.py
if ! $PY -c 'import grpc' 2>/dev/null; then
	echo "Bail out! python3-grpcio is not installed (scripts/deps.sh)"
	exit 1
fi

S=g.app1.dev.localhost
host_cert $S

P1=$(free_port); P2=$(free_port); PDEAD=$(free_port); PR=$(free_port); PT=$(free_port)
$PY "$G" serve --port $P1 --name one >"$T/one.log" 2>&1 &
SRV1=$!
track $SRV1
$PY "$G" serve --port $P2 --name two >"$T/two.log" 2>&1 & track $!
cat >"$T/routes" <<EOF
cx-routes 1
host $S app1 g 60 / grpc
up g-1111 127.0.0.1 $P1
host pair.app1.dev.localhost app1 pair 60 / grpc
up pair-2222 127.0.0.1 $PDEAD
up pair-3333 127.0.0.1 $P2
EOF
ASAN_OPTIONS="$ASAN_OPTIONS:quarantine_size_mb=8" \
"$ROUTER" --name public --rack dev --listen 127.0.0.1:$PR --listen-tls 127.0.0.1:$PT \
	--certs "$T/certs" --routes "$T/routes" --access-log "$T/access.log" \
	>"$T/router.log" 2>&1 &
RPID=$!
track $RPID
wait_port $P1 && wait_port $P2 && wait_port $PT || echo "# servers or router did not start"
rss() { awk '/^VmRSS/ { print $2 }' /proc/$RPID/status; }
upconns() { ss -Htn state established "( dport = :$P1 )" | wc -l; }
call() { timeout 20 $PY "$G" call "$@"; }

# 1-3: unary calls, h2c and TLS; the status and message of a failed call (trailers)
is "$(call 127.0.0.1:$PR $S)" "OK one:hello" "h2c: a unary call through the router"
is "$(call 127.0.0.1:$PT $S --tls "$T/ca.pem")" "OK one:hello" \
	"TLS (ALPN h2): a unary call through the router"
is "$(call 127.0.0.1:$PR $S --method /cx.test.Echo/Missing --data zz)" \
	"ERR NOT_FOUND no such thing: zz" "a call that fails: grpc-status NOT_FOUND and its message reach the client"

# 4: the access log has the calls, as HTTP/2 with the upstream's status
sleep 0.3
like "$(grep -c '"path":"/cx.test.Echo/Echo".*"proto":"HTTP/2","status":200,' "$T/access.log")" '^[2-9]' \
	"the access log has each call (HTTP/2, status 200)"

# 5: server streaming
out=$(timeout 30 $PY "$G" stream 127.0.0.1:$PR $S 20 1000 10 | tr '\n' ' ')
is "$out" "GOT 20000 bytes OK " "server streaming: 20 messages and the trailers"

# 6: a client that reads slowly: 2000 messages of 16 KiB (32 MB) produced at once
rss0=$(rss)
timeout 60 $PY "$G" stream 127.0.0.1:$PR $S 2000 16384 0 --read-delay 0.001 >"$T/slow.out" &
SLOW=$!
track $SLOW
peak=$rss0
while kill -0 $SLOW 2>/dev/null; do
	r=$(rss); [ "$r" -gt "$peak" ] && peak=$r
	sleep 0.1
done
note "router RSS: $rss0 kB before a slow reader of 32 MB, $peak kB at most while it read"
ok $([ "$(tr '\n' ' ' <"$T/slow.out")" = "GOT 32768000 bytes OK " ] &&
	[ $((peak - rss0)) -lt 8000 ]; echo $?) \
	"a slow reader gets all 32 MB while the router's RSS grows by less than 8 MB" \
	"$rss0 -> $peak kB" "$(cat "$T/slow.out")"

# 7-8: one upstream connection for many calls and for 100 concurrent streams
call 127.0.0.1:$PR $S --n 50 >/dev/null
is "$(upconns)" 1 "50 calls in a row share one upstream HTTP/2 connection"
timeout 30 $PY "$G" hold 127.0.0.1:$PR $S 100 2 >"$T/hold.out" &
HOLD=$!
track $HOLD
sleep 1.5
n=$(upconns); r=$(rss)
wait $HOLD
note "router RSS with 100 concurrent gRPC streams: $r kB"
is "$n $(cat "$T/hold.out")" "1 OK 100" "100 concurrent streams: all whole, on one upstream connection"

# 9: a refused connection is retried on the other process
out=$(for i in 1 2 3 4; do call 127.0.0.1:$PR pair.app1.dev.localhost; done | sort -u)
is "$out" "OK two:hello" "a process that refuses the connection: the call goes to the other"

# 10: HTTP/1.1 to a gRPC route
out=$(curl -s --max-time 5 -w ' %{http_code}' -H "Host: $S" -H 'Content-Type: application/grpc' \
	-d x http://127.0.0.1:$PR/cx.test.Echo/Echo | tr -d '\n')
like "$out" "serves gRPC, which needs HTTP/2.* 505$" "HTTP/1.1 to a gRPC route: 505, saying it needs HTTP/2"

# 11-12: the upstream killed in the middle of a stream: UNAVAILABLE, at once
timeout 30 $PY "$G" stream 127.0.0.1:$PR $S 100 100 100 >"$T/kill.out" &
K=$!
sleep 1.5
kill -9 $SRV1
t0=$(date +%s%N)
wait $K
ms=$((($(date +%s%N) - t0) / 1000000))
note "the client had its status ${ms} ms after the upstream died"
like "$(tr '\n' ' ' <"$T/kill.out")" "^GOT [1-9][0-9]* bytes ERR UNAVAILABLE upstream .* closed the connection $" \
	"an upstream killed mid-stream: the client gets UNAVAILABLE after the messages it had"
ok $([ $ms -lt 3000 ]; echo $?) "... within 3 s" "$ms ms"
is "$(call 127.0.0.1:$PR $S)" "ERR UNAVAILABLE upstream refused the connection: 127.0.0.1:$P1" \
	"a call to a process that is gone: UNAVAILABLE, naming it"

# 13: the router served on, and logged no error of its own
ok $(kill -0 $RPID && ! grep -q 'fatal\|abort' "$T/router.log"; echo $?) "the router is still running" \
	"$(tail -5 "$T/router.log")"
done_testing
