#!/usr/bin/env bash
# router.t — end-to-end tests of cx-router against cx-testsrv upstreams on
# 127.0.0.1: routing, local answers (404/503/502/504/400), forwarding headers,
# keep-alive, bodies (chunked, large, streamed), WebSocket tunnel, SIGHUP
# reload, the allow list, metrics, the access log, SIGTERM.
# TAP; run by `prove` from the repo root. Binaries from ${CX_BIN:-bin}.
set -u

BIN=${CX_BIN:-bin}
case $BIN in /*) ;; *) BIN=$PWD/$BIN ;; esac
ROUTER=$BIN/cx-router
TESTSRV=$BIN/cx-testsrv
T=$(mktemp -d /tmp/cx-router-e2e.XXXXXX)
PIDS=()

cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
	rm -rf "$T"
}
trap cleanup EXIT

n=0
failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; shift; for l in "$@"; do echo "#   $l"; done; }
check() { # check NAME COND-EXIT-STATUS [diagnostics...]
	local name=$1 st=$2; shift 2
	if [ "$st" -eq 0 ]; then ok "$name"; else not_ok "$name" "$@"; fi
}

echo "1..31"

if [ ! -x "$ROUTER" ] || [ ! -x "$TESTSRV" ]; then
	for i in $(seq 1 31); do echo "not ok $i - binaries missing in $BIN (make all)"; done
	exit 1
fi

# A port nothing listens on right now.
free_port() {
	local p
	for _ in $(seq 1 200); do
		p=$((20000 + RANDOM % 40000))
		if ! (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null; then echo "$p"; return; fi
	done
	echo 0
}
wait_port() { # wait_port PORT: up to 5 s
	for _ in $(seq 1 100); do
		(exec 3<>/dev/tcp/127.0.0.1/$1) 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}

P1=$(free_port); P2=$(free_port); P3=$(free_port); PDEAD=$(free_port); PR=$(free_port)
"$TESTSRV" --listen 127.0.0.1:$P1 --name one >"$T/one.log" 2>&1 & PIDS+=($!)
"$TESTSRV" --listen 127.0.0.1:$P2 --name two >"$T/two.log" 2>&1 & PIDS+=($!)
"$TESTSRV" --listen 127.0.0.1:$P3 --name three >"$T/three.log" 2>&1 & PIDS+=($!)
wait_port $P1 && wait_port $P2 && wait_port $P3 || echo "# upstreams did not start"

routes() { # routes FILE: write a snapshot atomically (temp file + rename)
	cat >"$1.tmp" && mv "$1.tmp" "$1"
}
routes "$T/routes" <<EOF
cx-routes 1
host web.app1.dev.localhost app1 web 60 /
up web-1111 127.0.0.1 $P1
up web-2222 127.0.0.1 $P2
host solo.app1.dev.localhost app1 solo 60 /
up solo-3333 127.0.0.1 $P3
host empty.app1.dev.localhost app1 empty 60 /
host dead.app1.dev.localhost app1 dead 60 /
up dead-4444 127.0.0.1 $PDEAD
host slow.app1.dev.localhost app1 slow 1 /
up slow-5555 127.0.0.1 $P3
EOF

"$ROUTER" --name public --rack dev --listen 127.0.0.1:$PR --routes "$T/routes" \
	--access-log "$T/access.log" --pidfile "$T/router.pid" >"$T/router.log" 2>&1 &
RPID=$!
PIDS+=($RPID)
wait_port $PR || echo "# router did not start: $(cat "$T/router.log")"

URL=http://127.0.0.1:$PR
C=(curl -s --max-time 10)

# 1-2: round-robin by Host over two upstreams
a=$("${C[@]}" -H 'Host: web.app1.dev.localhost' $URL/)
b=$("${C[@]}" -H 'Host: WEB.app1.dev.localhost:8080' $URL/)
check "two requests reach both upstreams" $([ "$(printf '%s\n%s\n' "$a" "$b" | sort | tr '\n' ' ')" = "one two " ]; echo $?) "got: $a / $b"
c=$("${C[@]}" -H 'Host: web.app1.dev.localhost' $URL/)
check "round-robin comes back to the first" $([ "$c" = "$a" ]; echo $?) "got: $c, first was $a"

# 3-4: unknown host
out=$("${C[@]}" -w '%{http_code}' -H 'Host: nope.example.test' $URL/)
check "unknown host -> 404" $([ "${out: -3}" = 404 ]; echo $?) "got: $out"
check "404 body names the host" $(echo "$out" | grep -q 'nope.example.test'; echo $?) "got: $out"

# 5: no upstream
code=$("${C[@]}" -o /dev/null -w '%{http_code}' -H 'Host: empty.app1.dev.localhost' $URL/)
check "host without processes -> 503" $([ "$code" = 503 ]; echo $?) "got: $code"

# 6: refused upstream
code=$("${C[@]}" -o /dev/null -w '%{http_code}' -H 'Host: dead.app1.dev.localhost' $URL/)
check "refused upstream -> 502" $([ "$code" = 502 ]; echo $?) "got: $code"

# 7: slow upstream (host timeout 1 s)
start=$(date +%s%N)
code=$("${C[@]}" -o /dev/null -w '%{http_code}' -H 'Host: slow.app1.dev.localhost' "$URL/slow?ms=4000")
ms=$(( ($(date +%s%N) - start) / 1000000 ))
check "slow upstream -> 504 after the host's timeout" $([ "$code" = 504 ] && [ $ms -ge 900 ] && [ $ms -lt 3500 ]; echo $?) "got: $code after ${ms} ms"

# 8-11: forwarding headers
h=$("${C[@]}" -H 'Host: solo.app1.dev.localhost' -H 'X-Forwarded-For: 203.0.113.9' -H 'traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' -H 'Connection: keep-alive, X-Hop' -H 'X-Hop: secret' $URL/headers)
check "X-Forwarded-For appends the peer" $(echo "$h" | grep -qx 'X-Forwarded-For: 203.0.113.9, 127.0.0.1'; echo $?) "$h"
check "X-Forwarded-Proto/Port added" $(echo "$h" | grep -qx 'X-Forwarded-Proto: http' && echo "$h" | grep -qx "X-Forwarded-Port: $PR"; echo $?) "$h"
check "X-Request-Id generated, traceparent passed, hop-by-hop dropped" $(echo "$h" | grep -qE '^X-Request-Id: [0-9a-f]{32}$' && echo "$h" | grep -q '^traceparent: 00-4bf92f' && ! echo "$h" | grep -qi '^x-hop' && ! echo "$h" | grep -qi '^connection'; echo $?) "$h"
h=$("${C[@]}" -H 'Host: solo.app1.dev.localhost' -H 'X-Request-Id: my-id-42' $URL/headers)
check "X-Request-Id kept when present" $(echo "$h" | grep -qx 'X-Request-Id: my-id-42'; echo $?) "$h"

# 12-13: keep-alive on both sides
v=$("${C[@]}" -v -H 'Host: solo.app1.dev.localhost' $URL/ $URL/ $URL/ 2>&1)
check "client keep-alive: curl reuses its connection" $(echo "$v" | grep -q 'Re-using existing connection'; echo $?) "$(echo "$v" | grep -i conn)"
conns=$(echo "$v" | grep -i '^< X-Conn:' | tr -d '\r' | awk '{print $3}' | sort -u | wc -l)
check "upstream keep-alive: one upstream connection for three requests" $([ "$conns" = 1 ]; echo $?) "$(echo "$v" | grep -i x-conn)"

# 14-16: bodies
head -c 300000 /dev/urandom >"$T/body"
"${C[@]}" -H 'Host: solo.app1.dev.localhost' -H 'Transfer-Encoding: chunked' --data-binary @"$T/body" -o "$T/echo1" $URL/echo
check "chunked request body echoed intact" $(cmp -s "$T/body" "$T/echo1"; echo $?)
hdr=$("${C[@]}" -D - -o "$T/big1" -H 'Host: solo.app1.dev.localhost' "$URL/big?bytes=1000000")
check "chunked response passed through" $([ "$(stat -c %s "$T/big1")" = 1000000 ] && echo "$hdr" | grep -qi '^transfer-encoding: chunked'; echo $?) "$hdr"
printf 'GET /big?bytes=100000 HTTP/1.0\r\nHost: solo.app1.dev.localhost\r\n\r\n' | timeout 5 bash -c "exec 3<>/dev/tcp/127.0.0.1/$PR; cat >&3; cat <&3" >"$T/http10"
hlen=$(grep -abo $'\r$' "$T/http10" | awk -F: 'prev+2==$1 {print $1+2; exit} {prev=$1}')
hdr=$(head -c "${hlen:-0}" "$T/http10" | tr -d '\r')
blen=$(( $(stat -c %s "$T/http10") - ${hlen:-0} ))
check "chunked response decoded for an HTTP/1.0 client" $(echo "$hdr" | grep -qi '^connection: close' && ! echo "$hdr" | grep -qi 'transfer-encoding' && [ "$blen" = 100000 ]; echo $?) "$hdr" "body $blen bytes"

# 17-19: large bodies, streamed (the router buffers 16 KiB per side)
head -c 30000000 /dev/urandom >"$T/large"
"${C[@]}" --max-time 20 -H 'Host: solo.app1.dev.localhost' --data-binary @"$T/large" -o "$T/echo2" $URL/echo
check "30 MB request body echoed intact" $(cmp -s "$T/large" "$T/echo2"; echo $?)
size=$("${C[@]}" --max-time 20 -H 'Host: solo.app1.dev.localhost' "$URL/big?bytes=100000000" | wc -c)
check "100 MB response streamed" $([ "$size" = 100000000 ]; echo $?) "got $size bytes"

code=$("${C[@]}" -o /dev/null -w '%{http_code}' -H 'Host: solo.app1.dev.localhost' --data-binary @"$T/large" $URL/reject)
check "an upstream's early answer (413 before the body) reaches the client" $([ "$code" = 413 ]; echo $?) "got: $code"

# 20-21: malformed requests
raw() { printf "$1" | timeout 5 bash -c "exec 3<>/dev/tcp/127.0.0.1/$PR; cat >&3; cat <&3" 2>/dev/null; }
out=$(raw 'GET / HTTP/1.1\r\nHost: solo.app1.dev.localhost\r\nBad Header: x\r\n\r\n')
check "malformed header -> 400 with Connection: close" $(echo "$out" | head -1 | grep -q '^HTTP/1.1 400' && echo "$out" | grep -qi '^connection: close'; echo $?) "$out"
out=$(raw 'POST / HTTP/1.1\r\nHost: solo.app1.dev.localhost\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n')
check "Content-Length with Transfer-Encoding -> 400" $(echo "$out" | head -1 | grep -q '^HTTP/1.1 400'; echo $?) "$out"

# 22: WebSocket upgrade tunnel
out=$(timeout 5 bash -c "exec 3<>/dev/tcp/127.0.0.1/$PR
printf 'GET /ws HTTP/1.1\r\nHost: solo.app1.dev.localhost\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n' >&3
IFS= read -r line <&3; echo \"\$line\"
while IFS= read -r line <&3; do [ \"\$line\" = \$'\r' ] && break; done
printf 'ping-through-tunnel\n' >&3
IFS= read -r line <&3; echo \"\$line\"" 2>&1 | tr -d '\r')
check "Upgrade: 101 then bytes both ways" $(echo "$out" | head -1 | grep -q '^HTTP/1.1 101' && echo "$out" | grep -qx 'ping-through-tunnel'; echo $?) "$out"

# 23: metrics
m=$("${C[@]}" -H 'Host: _cx' $URL/_cx/metrics)
check "metrics: per-host/status counters, upstream connects, reuse" $(echo "$m" | grep -q 'cx_router_requests_total{.*host="web.app1.dev.localhost".*code="200"} 3' && echo "$m" | grep -q '^cx_router_upstream_connects_total' && echo "$m" | grep -qE '^cx_router_upstream_reuses_total\{.*\} [1-9]'; echo $?) "$(echo "$m" | grep -v '^#' | head -20)"

# 24: access log
sleep 0.3
line=$(grep '"service":"solo"' "$T/access.log" | grep '"request_id":"my-id-42"' | head -1)
check "access log: JSON line with rack, router, app, service, process, status, durations" $(echo "$line" | grep -q '"rack":"dev","router":"public","app":"app1","service":"solo","process":"solo-3333"' && echo "$line" | grep -q '"status":200' && echo "$line" | grep -q '"duration_ms":' && echo "$line" | grep -q '"upstream_ms":'; echo $?) "$line"

# 25-26: SIGHUP reload switches routes
routes "$T/routes" <<EOF
cx-routes 1
host web.app1.dev.localhost app1 web 60 /
up web-3333 127.0.0.1 $P3
host new.app2.dev.localhost app2 web 60 /
up new-1111 127.0.0.1 $P1
EOF
kill -HUP $RPID
sleep 0.3
a=$("${C[@]}" -H 'Host: web.app1.dev.localhost' $URL/); b=$("${C[@]}" -H 'Host: web.app1.dev.localhost' $URL/)
check "after SIGHUP web goes to its new process only" $([ "$a $b" = "three three" ]; echo $?) "got: $a $b"
a=$("${C[@]}" -H 'Host: new.app2.dev.localhost' $URL/)
code=$("${C[@]}" -o /dev/null -w '%{http_code}' -H 'Host: solo.app1.dev.localhost' $URL/)
check "after SIGHUP a new host routes and a removed one is 404" $([ "$a" = one ] && [ "$code" = 404 ]; echo $?) "got: $a $code"

# 27: a malformed snapshot is refused and the old table kept
printf 'cx-routes 1\nhost broken\n' | routes "$T/routes"
kill -HUP $RPID
sleep 0.3
a=$("${C[@]}" -H 'Host: new.app2.dev.localhost' $URL/)
check "malformed snapshot on SIGHUP keeps the old routes" $([ "$a" = one ] && grep -q 'reload refused' "$T/router.log"; echo $?) "got: $a; $(tail -2 "$T/router.log")"

# 28-29: allow list
routes "$T/routes" <<EOF
cx-routes 1
allow 10.9.0.0/16
host web.app1.dev.localhost app1 web 60 /
up web-1111 127.0.0.1 $P1
EOF
kill -HUP $RPID
sleep 0.3
out=$(curl -s --max-time 5 -o "$T/denied" -w '%{http_code}' -H 'Host: web.app1.dev.localhost' $URL/); st=$?
check "allow list: a 127.0.0.1 client gets no bytes, connection closed" $([ "$st" = 52 ] || [ "$st" = 56 ]; [ $? = 0 ] && [ ! -s "$T/denied" ] && [ "$out" = 000 ]; echo $?) "curl exit $st, code $out"
routes "$T/routes" <<EOF
cx-routes 1
allow 10.9.0.0/16
allow 127.0.0.0/8
host web.app1.dev.localhost app1 web 60 /
up web-1111 127.0.0.1 $P1
EOF
kill -HUP $RPID
sleep 0.3
a=$("${C[@]}" -H 'Host: web.app1.dev.localhost' $URL/)
check "allow list: an allowed address is served" $([ "$a" = one ]; echo $?) "got: $a"

# 30-31: SIGTERM finishes the request in flight, then exits
"${C[@]}" -o "$T/inflight" -w '%{http_code}' -H 'Host: web.app1.dev.localhost' "$URL/slow?ms=1000" >"$T/inflight.code" &
CURL=$!
sleep 0.3
kill -TERM $RPID
for _ in $(seq 1 100); do kill -0 $RPID 2>/dev/null || break; sleep 0.05; done
wait $CURL
check "SIGTERM: the request in flight completes" $([ "$(cat "$T/inflight.code")" = 200 ] && [ "$(cat "$T/inflight")" = one ]; echo $?) "code $(cat "$T/inflight.code")"
wait $RPID; rst=$?
check "SIGTERM: exits 0 and removes its pidfile" $([ $rst = 0 ] && [ ! -e "$T/router.pid" ]; echo $?) "exit $rst; $(tail -3 "$T/router.log")"

[ $failed -eq 0 ]
