#!/usr/bin/env bash
# router.t — end-to-end tests of cx-router against cx-testsrv upstreams on
# 127.0.0.1: routing, local answers (404/503/502/504/400), forwarding headers,
# keep-alive, bodies (chunked, large, streamed), WebSocket tunnel, SIGHUP
# reload, the allow list, metrics, the access log, SIGTERM; then the same
# through a TLS listener (--listen-tls).
# TAP (lib.sh); run by `prove` from the repo root. Binaries from
# ${CX_BIN:-bin}; every process it starts is tracked and stopped on exit.
. "$(dirname "$0")/lib.sh"
router_bins

P1=$(free_port); P2=$(free_port); P3=$(free_port); PDEAD=$(free_port); PR=$(free_port)
"$TESTSRV" --listen 127.0.0.1:$P1 --name one >"$T/one.log" 2>&1 & track $!
"$TESTSRV" --listen 127.0.0.1:$P2 --name two >"$T/two.log" 2>&1 & track $!
"$TESTSRV" --listen 127.0.0.1:$P3 --name three >"$T/three.log" 2>&1 & track $!
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
track $RPID
wait_port $PR || echo "# router did not start: $(cat "$T/router.log")"

URL=http://127.0.0.1:$PR
C=(curl -s --max-time 10)

# 1-2: round-robin by Host over two upstreams
a=$("${C[@]}" -H 'Host: web.app1.dev.localhost' $URL/)
b=$("${C[@]}" -H 'Host: WEB.app1.dev.localhost:8080' $URL/)
ok $([ "$(printf '%s\n%s\n' "$a" "$b" | sort | tr '\n' ' ')" = "one two " ]; echo $?) "two requests reach both upstreams" "got: $a / $b"
c=$("${C[@]}" -H 'Host: web.app1.dev.localhost' $URL/)
ok $([ "$c" = "$a" ]; echo $?) "round-robin comes back to the first" "got: $c, first was $a"

# 3-4: unknown host
out=$("${C[@]}" -w '%{http_code}' -H 'Host: nope.example.test' $URL/)
ok $([ "${out: -3}" = 404 ]; echo $?) "unknown host -> 404" "got: $out"
ok $(echo "$out" | grep -q 'nope.example.test'; echo $?) "404 body names the host" "got: $out"

# 5: no upstream
code=$("${C[@]}" -o /dev/null -w '%{http_code}' -H 'Host: empty.app1.dev.localhost' $URL/)
ok $([ "$code" = 503 ]; echo $?) "host without processes -> 503" "got: $code"

# 6: refused upstream
code=$("${C[@]}" -o /dev/null -w '%{http_code}' -H 'Host: dead.app1.dev.localhost' $URL/)
ok $([ "$code" = 502 ]; echo $?) "refused upstream -> 502" "got: $code"

# 7: slow upstream (host timeout 1 s)
start=$(date +%s%N)
code=$("${C[@]}" -o /dev/null -w '%{http_code}' -H 'Host: slow.app1.dev.localhost' "$URL/slow?ms=4000")
ms=$(( ($(date +%s%N) - start) / 1000000 ))
ok $([ "$code" = 504 ] && [ $ms -ge 900 ] && [ $ms -lt 3500 ]; echo $?) "slow upstream -> 504 after the host's timeout" "got: $code after ${ms} ms"

# 8-11: forwarding headers
h=$("${C[@]}" -H 'Host: solo.app1.dev.localhost' -H 'X-Forwarded-For: 203.0.113.9' -H 'traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' -H 'Connection: keep-alive, X-Hop' -H 'X-Hop: secret' $URL/headers)
ok $(echo "$h" | grep -qx 'X-Forwarded-For: 203.0.113.9, 127.0.0.1'; echo $?) "X-Forwarded-For appends the peer" "$h"
ok $(echo "$h" | grep -qx 'X-Forwarded-Proto: http' && echo "$h" | grep -qx "X-Forwarded-Port: $PR"; echo $?) "X-Forwarded-Proto/Port added" "$h"
ok $(echo "$h" | grep -qE '^X-Request-Id: [0-9a-f]{32}$' && echo "$h" | grep -q '^traceparent: 00-4bf92f' && ! echo "$h" | grep -qi '^x-hop' && ! echo "$h" | grep -qi '^connection'; echo $?) "X-Request-Id generated, traceparent passed, hop-by-hop dropped" "$h"
h=$("${C[@]}" -H 'Host: solo.app1.dev.localhost' -H 'X-Request-Id: my-id-42' $URL/headers)
ok $(echo "$h" | grep -qx 'X-Request-Id: my-id-42'; echo $?) "X-Request-Id kept when present" "$h"

# 12-13: keep-alive on both sides
v=$("${C[@]}" -v -H 'Host: solo.app1.dev.localhost' $URL/ $URL/ $URL/ 2>&1)
ok $(echo "$v" | grep -q 'Re-using existing connection'; echo $?) "client keep-alive: curl reuses its connection" "$(echo "$v" | grep -i conn)"
conns=$(echo "$v" | grep -i '^< X-Conn:' | tr -d '\r' | awk '{print $3}' | sort -u | wc -l)
ok $([ "$conns" = 1 ]; echo $?) "upstream keep-alive: one upstream connection for three requests" "$(echo "$v" | grep -i x-conn)"

# 14-16: bodies
head -c 300000 /dev/urandom >"$T/body"
"${C[@]}" -H 'Host: solo.app1.dev.localhost' -H 'Transfer-Encoding: chunked' --data-binary @"$T/body" -o "$T/echo1" $URL/echo
ok $(cmp -s "$T/body" "$T/echo1"; echo $?) "chunked request body echoed intact"
hdr=$("${C[@]}" -D - -o "$T/big1" -H 'Host: solo.app1.dev.localhost' "$URL/big?bytes=1000000")
ok $([ "$(stat -c %s "$T/big1")" = 1000000 ] && echo "$hdr" | grep -qi '^transfer-encoding: chunked'; echo $?) "chunked response passed through" "$hdr"
printf 'GET /big?bytes=100000 HTTP/1.0\r\nHost: solo.app1.dev.localhost\r\n\r\n' | timeout 5 bash -c "exec 3<>/dev/tcp/127.0.0.1/$PR; cat >&3; cat <&3" >"$T/http10"
hlen=$(grep -abo $'\r$' "$T/http10" | awk -F: 'prev+2==$1 {print $1+2; exit} {prev=$1}')
hdr=$(head -c "${hlen:-0}" "$T/http10" | tr -d '\r')
blen=$(( $(stat -c %s "$T/http10") - ${hlen:-0} ))
ok $(echo "$hdr" | grep -qi '^connection: close' && ! echo "$hdr" | grep -qi 'transfer-encoding' && [ "$blen" = 100000 ]; echo $?) "chunked response decoded for an HTTP/1.0 client" "$hdr" "body $blen bytes"

# 17-19: large bodies, streamed (the router buffers 16 KiB per side)
head -c 30000000 /dev/urandom >"$T/large"
"${C[@]}" --max-time 20 -H 'Host: solo.app1.dev.localhost' --data-binary @"$T/large" -o "$T/echo2" $URL/echo
ok $(cmp -s "$T/large" "$T/echo2"; echo $?) "30 MB request body echoed intact"
size=$("${C[@]}" --max-time 20 -H 'Host: solo.app1.dev.localhost' "$URL/big?bytes=100000000" | wc -c)
ok $([ "$size" = 100000000 ]; echo $?) "100 MB response streamed" "got $size bytes"

code=$("${C[@]}" -o /dev/null -w '%{http_code}' -H 'Host: solo.app1.dev.localhost' --data-binary @"$T/large" $URL/reject)
ok $([ "$code" = 413 ]; echo $?) "an upstream's early answer (413 before the body) reaches the client" "got: $code"

# 20-21: malformed requests
raw() { printf "$1" | timeout 5 bash -c "exec 3<>/dev/tcp/127.0.0.1/$PR; cat >&3; cat <&3" 2>/dev/null; }
out=$(raw 'GET / HTTP/1.1\r\nHost: solo.app1.dev.localhost\r\nBad Header: x\r\n\r\n')
ok $(echo "$out" | head -1 | grep -q '^HTTP/1.1 400' && echo "$out" | grep -qi '^connection: close'; echo $?) "malformed header -> 400 with Connection: close" "$out"
out=$(raw 'POST / HTTP/1.1\r\nHost: solo.app1.dev.localhost\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n')
ok $(echo "$out" | head -1 | grep -q '^HTTP/1.1 400'; echo $?) "Content-Length with Transfer-Encoding -> 400" "$out"
# RFC 9112 2.2: a server SHOULD ignore at least one empty line before a request line.
out=$(raw '\r\nGET / HTTP/1.1\r\nHost: solo.app1.dev.localhost\r\nConnection: close\r\n\r\n')
ok $(echo "$out" | head -1 | grep -q '^HTTP/1.1 200'; echo $?) "an empty line before the request line is ignored" "$out"
out=$(raw 'GET / HTTP/1.1\r\nHost: solo.app1.dev.localhost\r\n\r\n\r\nGET / HTTP/1.1\r\nHost: solo.app1.dev.localhost\r\nConnection: close\r\n\r\n')
ok $([ "$(echo "$out" | grep -c '^HTTP/1.1 200')" = 2 ]; echo $?) "an empty line between two pipelined requests is ignored: both answered" "$out"

out=$(raw '\n\r\n\nGET / HTTP/1.1\r\nHost: solo.app1.dev.localhost\r\nConnection: close\r\n\r\n')
ok $(echo "$out" | head -1 | grep -q '^HTTP/1.1 200'; echo $?) "bare-LF and CRLF empty lines (3) before the request line are ignored" "$out"
out=$(raw '\r\n\r\n\n\r\n\nGET / HTTP/1.1\r\nHost: solo.app1.dev.localhost\r\nConnection: close\r\n\r\n')
ok $(echo "$out" | head -1 | grep -q '^HTTP/1.1 400' && echo "$out" | grep -q 'too many empty lines before the request line'; echo $?) "five empty lines before a request line -> 400 saying so" "$out"
# Between two kept-alive requests, each in its own segment: the first is
# answered, then an empty line comes alone, then the second request.
out=$(timeout 5 bash -c "exec 3<>/dev/tcp/127.0.0.1/$PR
printf 'GET / HTTP/1.1\r\nHost: solo.app1.dev.localhost\r\n\r\n' >&3; sleep 0.2
printf '\r\n' >&3; sleep 0.2
printf '\nGET / HTTP/1.1\r\nHost: solo.app1.dev.localhost\r\nConnection: close\r\n\r\n' >&3
cat <&3" 2>/dev/null)
ok $([ "$(echo "$out" | grep -c '^HTTP/1.1 200')" = 2 ]; echo $?) "empty lines sent alone between two kept-alive requests are ignored: both answered" "$out"

# 22: WebSocket upgrade tunnel
out=$(timeout 5 bash -c "exec 3<>/dev/tcp/127.0.0.1/$PR
printf 'GET /ws HTTP/1.1\r\nHost: solo.app1.dev.localhost\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n' >&3
IFS= read -r line <&3; echo \"\$line\"
while IFS= read -r line <&3; do [ \"\$line\" = \$'\r' ] && break; done
printf 'ping-through-tunnel\n' >&3
IFS= read -r line <&3; echo \"\$line\"" 2>&1 | tr -d '\r')
ok $(echo "$out" | head -1 | grep -q '^HTTP/1.1 101' && echo "$out" | grep -qx 'ping-through-tunnel'; echo $?) "Upgrade: 101 then bytes both ways" "$out"

# 23: metrics
m=$("${C[@]}" -H 'Host: _cx' $URL/_cx/metrics)
ok $(echo "$m" | grep -q 'cx_router_requests_total{.*host="web.app1.dev.localhost".*code="200"} 3' && echo "$m" | grep -q '^cx_router_upstream_connects_total' && echo "$m" | grep -qE '^cx_router_upstream_reuses_total\{.*\} [1-9]'; echo $?) "metrics: per-host/status counters, upstream connects, reuse" "$(echo "$m" | grep -v '^#' | head -20)"

# 24: access log
sleep 0.3
line=$(grep '"service":"solo"' "$T/access.log" | grep '"request_id":"my-id-42"' | head -1)
ok $(echo "$line" | grep -q '"rack":"dev","router":"public","app":"app1","service":"solo","process":"solo-3333"' && echo "$line" | grep -q '"status":200' && echo "$line" | grep -q '"duration_ms":' && echo "$line" | grep -q '"upstream_ms":'; echo $?) "access log: JSON line with rack, router, app, service, process, status, durations" "$line"

# 24a-d: retries. A process that resets a request it got, without an answer
# (as one killed with it does): a body-less GET goes to the other process;
# a POST is not sent twice; a GET that both reset gets a 502, not a loop.
codes=""
for i in 1 2 3 4 5 6; do
	codes="$codes $("${C[@]}" -H 'Host: web.app1.dev.localhost' -w ':%{http_code}' "$URL/drop?on=one" | tr -d '\n')"
done
is "$codes" " two:200 two:200 two:200 two:200 two:200 two:200" "a GET reset by one process is answered by the other"
retries() { "${C[@]}" -H 'Host: _cx' $URL/_cx/metrics | sed -n 's/^cx_router_upstream_retries_total{[^}]*} \([0-9]*\)$/\1/p'; }
before=$(retries)
codes=""
for i in 1 2 3 4 5 6; do
	# two GETs first leave a pooled connection to each process, so the
	# POST goes on one (the case where a retry would send it twice)
	"${C[@]}" -o /dev/null -H 'Host: web.app1.dev.localhost' "$URL/" "$URL/"
	codes="$codes $("${C[@]}" -X POST -H 'Host: web.app1.dev.localhost' -o /dev/null -w '%{http_code}' "$URL/drop?on=one")"
done
ok $(echo "$codes" | grep -q 502 && ! echo "$codes" | grep -qvE '^( (200|502))+$'; echo $?) "a POST reset by one process gets a 502, never a second try elsewhere" "got:$codes"
is "$(retries)" "${before:-none}" "...and no POST was sent a second time, to any process (the retries counter stays at $before)"
code=$("${C[@]}" -o /dev/null -w '%{http_code}' -H 'Host: web.app1.dev.localhost' "$URL/drop?on=one&on=two")
is "$code" 502 "a GET that every process resets: 502 after one retry, no loop"
m=$("${C[@]}" -H 'Host: _cx' $URL/_cx/metrics)
ok $(echo "$m" | grep -qE '^cx_router_upstream_retries_total\{.*\} [1-9]'; echo $?) "metrics count the retries" "$(echo "$m" | grep -E 'retries|upstream_errors')"

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
ok $([ "$a $b" = "three three" ]; echo $?) "after SIGHUP web goes to its new process only" "got: $a $b"
a=$("${C[@]}" -H 'Host: new.app2.dev.localhost' $URL/)
code=$("${C[@]}" -o /dev/null -w '%{http_code}' -H 'Host: solo.app1.dev.localhost' $URL/)
ok $([ "$a" = one ] && [ "$code" = 404 ]; echo $?) "after SIGHUP a new host routes and a removed one is 404" "got: $a $code"

# 27: a malformed snapshot is refused and the old table kept
printf 'cx-routes 1\nhost broken\n' | routes "$T/routes"
kill -HUP $RPID
sleep 0.3
a=$("${C[@]}" -H 'Host: new.app2.dev.localhost' $URL/)
ok $([ "$a" = one ] && grep -q 'reload refused' "$T/router.log"; echo $?) "malformed snapshot on SIGHUP keeps the old routes" "got: $a; $(tail -2 "$T/router.log")"

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
ok $([ "$st" = 52 ] || [ "$st" = 56 ]; [ $? = 0 ] && [ ! -s "$T/denied" ] && [ "$out" = 000 ]; echo $?) "allow list: a 127.0.0.1 client gets no bytes, connection closed" "curl exit $st, code $out"
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
ok $([ "$a" = one ]; echo $?) "allow list: an allowed address is served" "got: $a"

# 30-31: SIGTERM finishes the request in flight, then exits
"${C[@]}" -o "$T/inflight" -w '%{http_code}' -H 'Host: web.app1.dev.localhost' "$URL/slow?ms=1000" >"$T/inflight.code" &
CURL=$!
sleep 0.3
kill -TERM $RPID
for _ in $(seq 1 100); do kill -0 $RPID 2>/dev/null || break; sleep 0.05; done
wait $CURL
ok $([ "$(cat "$T/inflight.code")" = 200 ] && [ "$(cat "$T/inflight")" = one ]; echo $?) "SIGTERM: the request in flight completes" "code $(cat "$T/inflight.code")"
wait $RPID; rst=$?
ok $([ $rst = 0 ] && [ ! -e "$T/router.pid" ]; echo $?) "SIGTERM: exits 0 and removes its pidfile" "exit $rst; $(tail -3 "$T/router.log")"

# 32-43: the same router with a TLS listener (--listen-tls, --certs): bodies and
# tunnels through TLS, a certificate that comes with a reload, plain HTTP refused.
if command -v openssl >/dev/null; then
mkdir -p "$T/certs"
cert() { # cert HOST: a P-256 certificate for HOST signed by $T/ca.pem, into $T/certs
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$1" \
		-keyout "$T/certs/$1.key" -out "$T/$1.csr" 2>/dev/null &&
	printf 'subjectAltName=DNS:%s\n' "$1" >"$T/$1.ext" &&
	openssl x509 -req -in "$T/$1.csr" -CA "$T/ca.pem" -CAkey "$T/ca.key" -CAcreateserial \
		-days 1 -extfile "$T/$1.ext" -out "$T/certs/$1.pem" 2>/dev/null
}
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/ca.key" \
	-out "$T/ca.pem" -days 2 -subj "/CN=test CA" 2>/dev/null
cert solo.app1.dev.localhost
routes "$T/routes" <<EOF
cx-routes 1
host solo.app1.dev.localhost app1 solo 60 /
up solo-3333 127.0.0.1 $P3
host later.app1.dev.localhost app1 later 60 /
up later-1111 127.0.0.1 $P1
EOF
PT=$(free_port)
"$ROUTER" --name public --rack dev --listen 127.0.0.1:$PR --listen-tls 127.0.0.1:$PT \
	--certs "$T/certs" --routes "$T/routes" --workers 2 >"$T/router-tls.log" 2>&1 &
RPID=$!
track $RPID
wait_port $PT || echo "# TLS router did not start: $(cat "$T/router-tls.log")"
S=solo.app1.dev.localhost
TC=(curl -s --max-time 20 --cacert "$T/ca.pem" --resolve "$S:$PT:127.0.0.1"
	--resolve "later.app1.dev.localhost:$PT:127.0.0.1")
TURL=https://$S:$PT

ok $(grep -q 'host later.app1.dev.localhost has no certificate' "$T/router-tls.log"; echo $?) "a host without certificate files is named in the log" "$(cat "$T/router-tls.log")"
"${TC[@]}" --data-binary @"$T/large" -o "$T/echo3" $TURL/echo
ok $(cmp -s "$T/large" "$T/echo3"; echo $?) "TLS: 30 MB request body echoed intact"
"${TC[@]}" -H 'Transfer-Encoding: chunked' --data-binary @"$T/body" -o "$T/echo4" $TURL/echo
ok $(cmp -s "$T/body" "$T/echo4"; echo $?) "TLS: chunked request body echoed intact"
size=$("${TC[@]}" "$TURL/big?bytes=100000000" | wc -c)
ok $([ "$size" = 100000000 ]; echo $?) "TLS: 100 MB response streamed" "got $size bytes"
size=$("${TC[@]}" "$TURL/eof?bytes=300000" | wc -c)
ok $([ "$size" = 300000 ]; echo $?) "TLS: a close-delimited body arrives whole" "got $size bytes"
v=$("${TC[@]}" -v $TURL/ $TURL/ 2>&1)
ok $(echo "$v" | grep -q 'Re-using existing connection'; echo $?) "TLS: keep-alive" "$(echo "$v" | grep -i conn)"
out=$( (printf 'GET /ws HTTP/1.1\r\nHost: %s\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n' $S
	sleep 0.5; printf 'ping-through-tls-tunnel\n'; sleep 0.5) |
	timeout 5 openssl s_client -quiet -connect 127.0.0.1:$PT -servername $S -CAfile "$T/ca.pem" \
	2>/dev/null | tr -d '\r')
ok $(echo "$out" | head -1 | grep -q '^HTTP/1.1 101' && echo "$out" | grep -qx 'ping-through-tls-tunnel'; echo $?) "TLS: Upgrade: 101 then bytes both ways" "$out"
out=$("${TC[@]}" https://later.app1.dev.localhost:$PT/ 2>&1); st=$?
ok $([ $st = 35 ]; echo $?) "a host without certificate: the handshake fails" "curl exit $st"
cert later.app1.dev.localhost
kill -HUP $RPID
sleep 0.3
a=$("${TC[@]}" https://later.app1.dev.localhost:$PT/)
ok $([ "$a" = one ]; echo $?) "...and after SIGHUP its new certificate serves" "got: $a"
served() { openssl s_client -connect 127.0.0.1:$PT -servername $S </dev/null 2>/dev/null |
	openssl x509 -noout -fingerprint -sha256; }
before=$(served)
cert $S
kill -HUP $RPID
sleep 0.3
after=$(served)
ok $([ -n "$after" ] && [ "$after" != "$before" ] &&
	[ "$after" = "$(openssl x509 -noout -fingerprint -sha256 -in "$T/certs/$S.pem")" ]; echo $?) \
	"a certificate replaced on disk is served after SIGHUP (unchanged ones are reused)" "$before / $after"
printf 'GET / HTTP/1.1\r\nHost: %s\r\n\r\n' $S | timeout 5 bash -c "exec 3<>/dev/tcp/127.0.0.1/$PT; cat >&3; cat <&3" >/dev/null 2>&1
m=$("${C[@]}" -H 'Host: _cx' $URL/_cx/metrics)
ok $(echo "$m" | grep -qE '^cx_router_tls_handshakes_total\{.*\} [1-9]' && echo "$m" | grep -qE '^cx_router_tls_handshake_errors_total\{.*\} [1-9]'; echo $?) "metrics count handshakes, and plain HTTP on the TLS port as a failed one" "$(echo "$m" | grep tls_)"
h=$("${TC[@]}" $TURL/headers | tr -d '\r')
ok $(echo "$h" | grep -qx 'X-Forwarded-Proto: https' && echo "$h" | grep -qx "X-Forwarded-Port: $PT"; echo $?) "TLS: X-Forwarded-Proto https, X-Forwarded-Port the TLS port" "$h"
else
	echo "# skipping the TLS listener tests: no openssl command"
fi

done_testing
