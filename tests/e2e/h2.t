#!/usr/bin/env bash
# h2.t — HTTP/2 to clients: ALPN h2 on the TLS listener (and HTTP/1.1 for a
# client that does not pick it), h2c with prior knowledge on the plain port,
# each stream routed and forwarded as HTTP/1.1 (headers, bodies both ways,
# local answers), many streams on one connection (h2load); then hostile
# peers (tests/e2e/h2-hostile.py): each flood or oversized block gets a
# GOAWAY in bounded time, the router's memory stays bounded, and it serves
# on. TAP (lib.sh); binaries from ${CX_BIN:-bin}.
. "$(dirname "$0")/lib.sh"
router_bins
PY=/usr/bin/python3	# Debian's, whatever python3 comes first on PATH
for tool in openssl h2load; do
	if ! command -v $tool >/dev/null; then
		echo "Bail out! $tool is not installed (scripts/deps.sh)"
		exit 1
	fi
done

S=solo.app1.dev.localhost
host_cert $S

P1=$(free_port); P2=$(free_port); PDEAD=$(free_port); PR=$(free_port); PT=$(free_port)
"$TESTSRV" --listen 127.0.0.1:$P1 --name one >"$T/one.log" 2>&1 & track $!
"$TESTSRV" --listen 127.0.0.1:$P2 --name two >"$T/two.log" 2>&1 & track $!
wait_port $P1 && wait_port $P2 || echo "# upstreams did not start"
cat >"$T/routes" <<EOF
cx-routes 1
host $S app1 solo 60 /
up solo-1111 127.0.0.1 $P1
host empty.app1.dev.localhost app1 empty 60 /
host dead.app1.dev.localhost app1 dead 60 /
up dead-2222 127.0.0.1 $PDEAD
host slow.app1.dev.localhost app1 slow 1 /
up slow-3333 127.0.0.1 $P1
host web.app1.dev.localhost app1 web 60 /
up web-4444 127.0.0.1 $P1
up web-5555 127.0.0.1 $P2
EOF
# A small ASan quarantine (in an ASan build), so that RSS measures what the router holds.
ASAN_OPTIONS="$ASAN_OPTIONS:quarantine_size_mb=8" \
"$ROUTER" --name public --rack dev --listen 127.0.0.1:$PR --listen-tls 127.0.0.1:$PT \
	--certs "$T/certs" --routes "$T/routes" --access-log "$T/access.log" --verbose \
	--idle-timeout 2 >"$T/router.log" 2>&1 &
RPID=$!
track $RPID
wait_port $PT || echo "# router did not start: $(cat "$T/router.log")"

# A client that opens a stream and then sends nothing (checked at the end:
# the router's idle timeout is 2 s here, 60 s by default).
timeout 30 $PY "$ROOT/tests/e2e/h2-hostile.py" $PR nowhere.localhost silent >"$T/silent.out" 2>&1 &
SILENT=$!
track $SILENT
# Clients whose stream window is 0 (SETTINGS_INITIAL_WINDOW_SIZE 0) and that
# PING every 0.2 s: a local answer (404) and an upstream's, checked at the end.
for zw in nowhere.localhost $S; do
	timeout 30 $PY "$ROOT/tests/e2e/h2-hostile.py" $PR $zw zero-window >"$T/zw-$zw.out" 2>&1 &
	track $!
	ZW+=" $!"
done

TC=(curl -s --max-time 10 --cacert "$T/ca.pem" --resolve "$S:$PT:127.0.0.1")
TURL=https://$S:$PT
C=(curl -s --max-time 10)
URL=http://127.0.0.1:$PR

# 1-3: ALPN
out=$("${TC[@]}" --http2 -w ' %{http_version}' $TURL/ | tr -d '\n')
is "$out" "one 2" "TLS: a client offering h2 gets HTTP/2 (ALPN)"
out=$("${TC[@]}" --http1.1 -w ' %{http_version}' $TURL/ | tr -d '\n')
is "$out" "one 1.1" "TLS: a client offering only http/1.1 gets HTTP/1.1"
out=$("${TC[@]}" --no-alpn -w ' %{http_version}' $TURL/ | tr -d '\n')
is "$out" "one 1.1" "TLS: a client offering no ALPN gets HTTP/1.1"

# 4-6: h2c with prior knowledge; the head upstream is the HTTP/1.1 one
out=$("${C[@]}" --http2-prior-knowledge -H "Host: $S" -w ' %{http_version}' $URL/ | tr -d '\n')
is "$out" "one 2" "plain port: the HTTP/2 preface gets HTTP/2 (h2c, prior knowledge)"
h=$("${TC[@]}" --http2 -H 'X-Forwarded-For: 203.0.113.9' -H 'X-Request-Id: h2-id-1' \
	-H 'Cookie: a=1' -H 'Cookie: b=2' "$TURL/headers?q=1" | tr -d '\r')
ok $(echo "$h" | grep -qx 'GET /headers?q=1 HTTP/1.1' && echo "$h" | grep -qx "Host: $S:$PT" &&
	echo "$h" | grep -qx 'X-Forwarded-For: 203.0.113.9, 127.0.0.1' &&
	echo "$h" | grep -qx 'X-Forwarded-Proto: https' && echo "$h" | grep -qx "X-Forwarded-Port: $PT" &&
	echo "$h" | grep -qx 'X-Request-Id: h2-id-1' && echo "$h" | grep -qx 'Cookie: a=1; b=2'; echo $?) \
	"upstream gets HTTP/1.1: request line from :method/:path, Host from :authority, X-Forwarded-*, cookies joined" "$h"
h=$("${C[@]}" --http2-prior-knowledge -H "Host: $S" $URL/headers | tr -d '\r')
ok $(echo "$h" | grep -qx 'X-Forwarded-Proto: http' && echo "$h" | grep -qx "X-Forwarded-Port: $PR"; echo $?) \
	"h2c: X-Forwarded-Proto http, the plain port" "$h"

# 7-8: bodies both ways, intact
head -c 3000000 /dev/urandom >"$T/up.bin"
got=$("${TC[@]}" --http2 --data-binary @"$T/up.bin" $TURL/echo | sha256sum | cut -d' ' -f1)
is "$got" "$(sha256sum <"$T/up.bin" | cut -d' ' -f1)" "a 3 MB POST body is forwarded and echoed back intact over HTTP/2"
got=$("${TC[@]}" --http2 "$TURL/big?bytes=5000000" | sha256sum | cut -d' ' -f1)
want=$("${C[@]}" "http://127.0.0.1:$P1/big?bytes=5000000" | sha256sum | cut -d' ' -f1)
is "$got" "$want" "a 5 MB chunked response arrives intact over HTTP/2"

# 9-11: local answers on a stream
out=$("${C[@]}" --http2-prior-knowledge -D "$T/h404" -w ' %{http_code} %{http_version}' -H 'Host: nope.example.test' $URL/ | tr -d '\n')
ok $(echo "$out" | grep -qx 'no route for host "nope.example.test" 404 2' &&
	grep -qi '^x-cx-router: public' "$T/h404"; echo $?) "unknown host over HTTP/2: 404 from the router" "$out" "$(cat "$T/h404")"
code=$("${C[@]}" --http2-prior-knowledge -o /dev/null -w '%{http_code}' -H 'Host: empty.app1.dev.localhost' $URL/)
is "$code" 503 "a host without processes over HTTP/2: 503"
code=$("${C[@]}" --http2-prior-knowledge -o /dev/null -w '%{http_code}' -H 'Host: dead.app1.dev.localhost' $URL/)
is "$code" 502 "a refused upstream over HTTP/2: 502"

start=$(date +%s%N)
code=$("${C[@]}" --http2-prior-knowledge -o /dev/null -w '%{http_code}' -H 'Host: slow.app1.dev.localhost' "$URL/slow?ms=4000")
ms=$(( ($(date +%s%N) - start) / 1000000 ))
ok $([ "$code" = 504 ] && [ $ms -ge 900 ] && [ $ms -lt 3500 ]; echo $?) "a slow upstream over HTTP/2: 504 after the host's timeout (1 s)" "got: $code after ${ms} ms"
out=$("${C[@]}" --http2-prior-knowledge -H 'Host: nope.example.test' --data-binary @"$T/up.bin" \
	-w ' %{http_code}' $URL/echo | tr -d '\n')
is "$out" 'no route for host "nope.example.test" 404' "a 404 before a 3 MB upload ended: answered, the rest dropped"

head -c 200000 "$T/up.bin" >"$T/200k.bin"
out=$(timeout 10 h2load -n 100 -c 1 -m 1 -d "$T/200k.bin" -H ':authority: nope.example.test' "$URL/" 2>&1)
ok $(echo "$out" | grep -q 'status codes: 0 2xx, 0 3xx, 100 4xx'; echo $?) \
	"100 uploads of 200 KB answered 404, one after the other on one connection: each body goes through (the dropped bytes' window is given back)" \
	"$(echo "$out" | grep -E 'requests:|status codes')"

# Retries as for HTTP/1.1: a GET that a process resets goes to the other
# one; a POST is not sent twice (502 when it met the process that reset it).
codes=""
for _ in 1 2 3 4; do
	codes="$codes $("${C[@]}" --http2-prior-knowledge -H 'Host: web.app1.dev.localhost' -w ':%{http_code}' "$URL/drop?on=one" | tr -d '\n')"
done
is "$codes" " two:200 two:200 two:200 two:200" "HTTP/2: a GET reset by one process is answered by the other"
codes=""
for _ in 1 2; do
	codes="$codes $("${C[@]}" --http2-prior-knowledge -X POST -d x -H 'Host: web.app1.dev.localhost' -o /dev/null -w '%{http_code}' "$URL/drop?on=one")"
done
like "$codes" '^ (200 502|502 200)$' "HTTP/2: a POST reset by one process is not sent to another: 502"

# 12-13: many streams on few connections, over TLS and h2c
out=$(timeout 30 h2load -n 2000 -c 4 -m 50 --connect-to=127.0.0.1:$PT "$TURL/" 2>&1)
ok $(echo "$out" | grep -q 'status codes: 2000 2xx' && echo "$out" | grep -q 'Application protocol: h2'; echo $?) \
	"h2load over TLS: 2000 requests, 50 streams at once on each of 4 connections, all 2xx" \
	"$(echo "$out" | grep -E 'requests:|status codes|protocol')"
note "h2load TLS: $(echo "$out" | grep -E '^finished in')"
printf 'a small body\n' >"$T/small.body"
out=$(timeout 30 h2load -n 2000 -c 4 -m 50 -H ":authority: $S" -d "$T/small.body" "$URL/echo" 2>&1)
ok $(echo "$out" | grep -q 'status codes: 2000 2xx'; echo $?) \
	"h2load h2c: 2000 POSTs, 50 streams at once on each of 4 connections, all 2xx" \
	"$(echo "$out" | grep -E 'requests:|status codes|error' | head -5)"

# 14: the access log tells the protocol
wait_for 5 grep -q '"proto":"HTTP/2"' "$T/access.log"
ok $(grep '"path":"/headers?q=1"' "$T/access.log" | grep -q '"proto":"HTTP/2","status":200' &&
	grep -q '"proto":"HTTP/1.1","status":200' "$T/access.log"; echo $?) \
	"the access log says the protocol: HTTP/2, HTTP/1.1" "$(tail -2 "$T/access.log")"

# A chunked answer whose upstream closes after it, held by a small stream
# window: the router keeps its tail until the client takes it.
out=$(timeout 20 $PY "$ROOT/tests/e2e/h2-hostile.py" $PR $S close-tail 2>&1)
is "$out" "got 70000" "an upstream that closes after a chunked answer the client reads slowly: all of it, no reset"

# 15-23: hostile peers. Each gets a GOAWAY within 5 s; the RSS stays bounded.
rss() { awk '/^VmRSS/ { print $2 }' /proc/$RPID/status; }
rss0=$(rss)
for attack in rapid-reset made-you-reset settings-flood ping-flood continuation-flood big-headers hpack-bomb \
	trailer-bomb; do
	out=$(timeout 20 $PY "$ROOT/tests/e2e/h2-hostile.py" $PR $S $attack 2>&1)
	ok $(echo "$out" | awk '$1 == "goaway" && ($2 == 11 || $2 == 2) && $3 < 5000 { f = 1 } END { exit !f }'; echo $?) \
		"$attack: GOAWAY (ENHANCE_YOUR_CALM, or INTERNAL_ERROR from nghttp2's reset limit) in bounded time" "$out"
done
timeout 20 $PY "$ROOT/tests/e2e/h2-hostile.py" $PR $S slow-reader >"$T/slow-reader.out" 2>&1 &
SLOW=$!
track $SLOW
sleep 1	# before the streams, stalled on windows of 0, are reset at --idle-timeout
rss_slow=$(rss)
wait $SLOW
note "router RSS with 100 streams of 50 MB answers unread: $rss_slow kB"
ok $([ "$(cat "$T/slow-reader.out")" = stalled ] && [ $((rss_slow - rss0)) -lt 30000 ]; echo $?) \
	"a client that reads nothing of 100 large answers: the router's RSS grew by less than 30 MB" \
	"$rss0 -> $rss_slow kB" "$(cat "$T/slow-reader.out")"
out=$(timeout 30 $PY "$ROOT/tests/e2e/h2-hostile.py" $PR $S garbage 2>&1)
ok $([ "$out" = done ] && kill -0 $RPID; echo $?) "200 connections of random frames: the router lives on (an ASan build reports any memory error)" "$out"
out=$(timeout 20 $PY "$ROOT/tests/e2e/h2-hostile.py" $PR $S few-resets 2>&1)
like "$out" '^served ' "control: 150 resets (under the limit), then a request on the same connection: served"
rss1=$(rss)
m=$("${C[@]}" -H 'Host: _cx' $URL/_cx/metrics)
ok $(echo "$m" | grep -qE '^cx_router_http2_goaways_total\{.*\} ([8-9]|[1-9][0-9]+)$' &&
	echo "$m" | grep -qE '^cx_router_http2_connections_total\{.*\} [1-9]'; echo $?) \
	"metrics count HTTP/2 connections, and the GOAWAYs" "$(echo "$m" | grep http2)"
note "router RSS: $rss0 kB before the hostile peers, $rss1 kB after"
ok $([ $((rss1 - rss0)) -lt 30000 ]; echo $?) "the router's RSS grew by less than 30 MB" "$rss0 -> $rss1 kB"
out=$("${TC[@]}" --http2 -w ' %{http_version}' $TURL/ | tr -d '\n')
is "$out" "one 2" "the router still serves HTTP/2 after the hostile peers"

wait $SILENT $ZW
for zw in nowhere.localhost $S; do
	like "$(cat "$T/zw-$zw.out")" '^reset 8 [23][0-9]{3}$' \
		"a client that never opens its window (and PINGs): the answer's stream ($zw) is reset (CANCEL) after --idle-timeout 2"
done
like "$(cat "$T/silent.out")" '^closed [23][0-9]{3}$' \
	"a stream whose client went silent (no body, no byte) does not keep the connection past --idle-timeout 2"

# --idle-timeout is also HTTP/1.1's between requests: one answered request, then the close.
out=$(timeout 20 $PY - $PR "$S" <<'PYEOF' 2>&1
import socket, sys, time
sock = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
sock.sendall(b"GET / HTTP/1.1\r\nHost: %s\r\n\r\n" % sys.argv[2].encode())
buf, t0 = b"", None
while True:
    data = sock.recv(65536)
    if not data:
        break
    buf += data
    if t0 is None and b"\r\n\r\n" in buf:
        t0 = time.monotonic()
print(buf.split(b"\r\n")[0].decode(), "closed %d" % ((time.monotonic() - (t0 or 0)) * 1000))
PYEOF
)
like "$out" '^HTTP/1.1 200 [A-Za-z ]+ closed [23][0-9]{3}$' \
	"HTTP/1.1: a keep-alive connection idle after its answer is closed after --idle-timeout 2" "$out"
out=$("$ROUTER" --name public --rack dev --listen 127.0.0.1:1 --routes "$T/routes" \
	--idle-timeout 0 2>&1; echo "rc=$?")
is "$out" "cx-router: --idle-timeout must be 1 to 86400 (seconds), not 0
rc=2" "--idle-timeout 0 is refused, naming the range"

# SIGTERM with a stream in flight: it is answered (GOAWAY NO_ERROR first), then the router stops.
"${C[@]}" --http2-prior-knowledge -H "Host: $S" -w ' %{http_code} %{http_version}' "$URL/slow?ms=1500" \
	>"$T/inflight.out" 2>&1 &
CURL=$!
track $CURL
sleep 0.3
kill -TERM $RPID
wait $CURL
is "$(tr -d '\n' <"$T/inflight.out")" "one 200 2" "SIGTERM: the HTTP/2 stream in flight is answered"
wait_for 10 gone $RPID
ok $? "...and the router stops"
done_testing
