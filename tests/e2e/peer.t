#!/usr/bin/env bash
# peer.t — cx-router between racks, with real certificates made by the
# openssl command: rack a's egress listener (plain HTTP in) carries requests
# over TLS 1.3 with a's peer certificate to rack b's peer listener, which
# admits only certificates of its `peer` CAs with the peer's name as CN and
# tells the upstream who called (X-Cx-Peer-Rack, X-Forwarded-For). A third
# CA's certificate, a wrong CN, no certificate and plain HTTP are refused;
# removing the peer line and SIGHUP closes an open connection and refuses
# new ones, and so does a snapshot the router refuses (it fails closed). Then host flags (redirect, tls-upstream) and ACME challenges.
# TAP (lib.sh); every process is tracked and stopped on exit.
. "$(dirname "$0")/lib.sh"
router_bins
if ! command -v openssl >/dev/null || ! command -v python3 >/dev/null; then
	echo "1..0 # SKIP needs the openssl command and python3"
	exit 0
fi

# mkca NAME: a P-256 CA, $T/NAME-ca.pem and .key
mkca() {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
		-keyout "$T/$1-ca.key" -out "$T/$1-ca.pem" -subj "/CN=cx rack $1 CA" \
		-addext basicConstraints=critical,CA:TRUE \
		-addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
}
# mkleaf CA CN OUT: a server+client certificate, CN and SAN DNS:CN, IP:127.0.0.1
mkleaf() {
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$2" \
		-keyout "$T/$3.key" -out "$T/$3.csr" 2>/dev/null &&
	printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=DNS:%s,IP:127.0.0.1\n' \
		"$2" >"$T/$3.ext" &&
	openssl x509 -req -in "$T/$3.csr" -CA "$T/$1-ca.pem" -CAkey "$T/$1-ca.key" \
		-CAcreateserial -days 2 -extfile "$T/$3.ext" -out "$T/$3.pem" 2>/dev/null
}
mkca a && mkca b && mkca other &&
	mkleaf a a a-peer && mkleaf b b b-peer && mkleaf other a impostor &&
	mkleaf a mallory wrong-cn || { echo "Bail out! openssl could not make certificates"; exit 1; }

routes() { cat >"$1.tmp" && mv "$1.tmp" "$1"; }

PUP=$(free_port); PB=$(free_port); PBH=$(free_port); PE=$(free_port)
"$TESTSRV" --listen 127.0.0.1:$PUP --name api >"$T/up.log" 2>&1 & track $!
wait_port $PUP || echo "# upstream did not start"

SVC=api.svc.b-internal.cx.test
peered_b() { # b's table: a as a peer, and the service
	routes "$T/routes.b" <<EOF
cx-routes 1
peer a $T/a-ca.pem
host $SVC svc api 60 /
up api-1 127.0.0.1 $PUP
EOF
}
peered_b
routes "$T/routes.a" <<EOF
cx-routes 1
peer b $T/b-ca.pem
egress b-internal.cx.test b 127.0.0.1 $PB
EOF
"$ROUTER" --name peer --rack b --listen 127.0.0.1:$PBH --listen-peer 127.0.0.1:$PB \
	--peer-cert "$T/b-peer.pem" --peer-key "$T/b-peer.key" --routes "$T/routes.b" \
	--verbose >"$T/b.log" 2>&1 &
BPID=$!; track $BPID
"$ROUTER" --name peer --rack a --listen-egress 127.0.0.1:$PE \
	--peer-cert "$T/a-peer.pem" --peer-key "$T/a-peer.key" --routes "$T/routes.a" \
	>"$T/a.log" 2>&1 &
APID=$!; track $APID
wait_port $PB && wait_port $PE || echo "# routers did not start: $(cat "$T/a.log" "$T/b.log")"

C=(curl -s --max-time 10)
EG=http://127.0.0.1:$PE

# Through a's egress to b's peer listener to the upstream.
h=$("${C[@]}" -H "Host: $SVC" -H 'X-Cx-Peer-Rack: forged' -H 'X-Forwarded-For: 10.1.2.3' \
	$EG/headers | tr -d '\r')
like "$h" "^GET /headers HTTP/1.1" "egress -> peer -> upstream: the request arrives" "$h"
is "$(printf '%s\n' "$h" | grep -i '^X-Cx-Peer-Rack:')" "X-Cx-Peer-Rack: a" \
	"...with X-Cx-Peer-Rack naming the calling rack (the client's value dropped)"
is "$(printf '%s\n' "$h" | grep -i '^X-Forwarded-For:')" \
	"X-Forwarded-For: 10.1.2.3, 127.0.0.1, 127.0.0.1" \
	"...and X-Forwarded-For: the client's, the process, a's address"
like "$h" "X-Forwarded-Proto: https" "...X-Forwarded-Proto: https (it came over TLS)"
out=$("${C[@]}" -w ' %{http_code}' -H 'Host: nope.example.test' $EG/)
like "$out" "404$" "egress: a host under no egress domain is 404" "$out"
out=$("${C[@]}" -w ' %{http_code}' -H 'Host: b-internal.cx.test' $EG/)
like "$out" "404$" "egress: the domain itself (no name under it) is 404" "$out"

# Warm connections: ten more requests, one upstream TLS handshake in all.
for _ in $(seq 1 10); do "${C[@]}" -o /dev/null -H "Host: $SVC" $EG/; done
m=$("${C[@]}" -H 'Host: _cx' $EG/_cx/metrics)
like "$m" 'cx_router_upstream_tls_handshakes_total\{[^}]*\} 1$' \
	"egress pools its TLS connections (11 requests, 1 handshake)" "$(echo "$m" | grep tls)"
like "$m" 'cx_router_upstream_reuses_total\{[^}]*\} 10$' "...10 requests on the warm one"

# Straight to the peer listener with curl.
PC=(curl -s --max-time 10 --cacert "$T/b-ca.pem" --resolve "b:$PB:127.0.0.1" -H "Host: $SVC")
out=$("${PC[@]}" --cert "$T/a-peer.pem" --key "$T/a-peer.key" https://b:$PB/headers | tr -d '\r')
like "$out" "X-Cx-Peer-Rack: a" "curl with a's peer certificate is admitted, as rack a"
exits_with '35|56' "a certificate from another CA (CN a) fails the handshake (curl 35/56)" \
	"${PC[@]}" --cert "$T/impostor.pem" --key "$T/impostor.key" https://b:$PB/
exits_with '35|56' "a's CA, but a CN that is not a (mallory): refused" \
	"${PC[@]}" --cert "$T/wrong-cn.pem" --key "$T/wrong-cn.key" https://b:$PB/
exits_with '35|56' "no client certificate: refused" "${PC[@]}" https://b:$PB/
exits_with '52|56' "plain HTTP to the peer listener: no answer" \
	curl -s --max-time 10 -H "Host: $SVC" http://127.0.0.1:$PB/
exits_with '35|56' "TLS 1.2 is refused" "${PC[@]}" --tls-max 1.2 --cert "$T/a-peer.pem" \
	--key "$T/a-peer.key" https://b:$PB/
out=$(curl -s --max-time 10 --cacert "$T/b-ca.pem" --resolve "b:$PB:127.0.0.1" \
	--cert "$T/a-peer.pem" --key "$T/a-peer.key" -w ' %{http_code}' -H 'Host: _cx' \
	https://b:$PB/_cx/metrics)
like "$out" "404$" "the peer listener does not serve metrics" "$out"
m=$("${C[@]}" -H 'Host: _cx' http://127.0.0.1:$PBH/_cx/metrics)
like "$m" 'cx_router_peer_handshakes_total\{[^}]*\} [2-9]' "b counts admitted peers" \
	"$(echo "$m" | grep peer)"
like "$m" 'cx_router_peer_handshake_errors_total\{[^}]*\} [4-9]' "...and refused handshakes"
ok $(grep -q 'not a peer' "$T/b.log"; echo $?) "b says why with --verbose (CN not a peer's)" \
	"$(tail -5 "$T/b.log")"

# A peer removed at reload: its open keep-alive connection is closed, new ones refused.
cat >"$T/keepalive.py" <<'EOF'
import socket, ssl, subprocess, sys, time
port, host, ca, cert, key, cmd = sys.argv[1:7]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.load_verify_locations(ca)
ctx.load_cert_chain(cert, key)
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(port)), timeout=10),
                    server_hostname="b")
def get():
    s.sendall(("GET / HTTP/1.1\r\nHost: %s\r\n\r\n" % host).encode())
    data = b""
    while b"\r\n\r\n" not in data:
        data += s.recv(4096)
    head, body = data.split(b"\r\n\r\n", 1)
    n = [int(l.split(b":")[1]) for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")][0]
    while len(body) < n:
        body += s.recv(4096)
    return head.split(b"\r\n")[0].decode()
print("first:", get(), flush=True)
print("second:", get(), flush=True)
subprocess.run(cmd, shell=True, check=True)
t0 = time.monotonic()
s.settimeout(8)
try:
    got = s.recv(4096)
    what = "closed" if got == b"" else "data"
except (ssl.SSLError, ConnectionError, OSError) as e:
    what = "closed" if not isinstance(e, socket.timeout) else "open"
print("%s after %d ms" % (what, (time.monotonic() - t0) * 1000), flush=True)
EOF
unpeer="printf 'cx-routes 1\nhost $SVC svc api 60 /\nup api-1 127.0.0.1 $PUP\n' >'$T/routes.b.tmp' && mv '$T/routes.b.tmp' '$T/routes.b' && kill -HUP $BPID"
out=$(timeout 20 python3 "$T/keepalive.py" $PB $SVC "$T/b-ca.pem" "$T/a-peer.pem" \
	"$T/a-peer.key" "$unpeer" 2>&1)
like "$out" "second: HTTP/1.1 200" "a peer's keep-alive connection serves two requests" "$out"
like "$out" "closed after [0-9]{1,4} ms" "...and is closed within 5 s of the reload that removed the peer" "$out"
echo "# $(printf '%s\n' "$out" | tail -1)"
exits_with '35|56' "...and a new handshake from it is refused" \
	"${PC[@]}" --cert "$T/a-peer.pem" --key "$T/a-peer.key" https://b:$PB/
out=$("${C[@]}" -w ' %{http_code}' -H "Host: $SVC" $EG/)
like "$out" "502$" "...so a's egress answers 502" "$out"
m=$("${C[@]}" -H 'Host: _cx' http://127.0.0.1:$PBH/_cx/metrics)
like "$m" 'cx_router_peer_connections_revoked_total\{[^}]*\} [1-9]' "b counts the closed connections" \
	"$(echo "$m" | grep revoked)"
peered_b
kill -HUP $BPID
wait_for 5 sh -c "curl -s --max-time 5 -H 'Host: $SVC' $EG/ | grep -qx api"
ok $? "peered again after SIGHUP: the egress answers"

# A table b's router refuses (an egress domain twice) fails closed: the
# refused file may be the one that drops a peer, so no peer stays trusted.
refuse="printf 'cx-routes 1\npeer a $T/a-ca.pem\negress d.test a 127.0.0.1 1\negress d.test a 127.0.0.1 2\n' >'$T/routes.b.tmp' && mv '$T/routes.b.tmp' '$T/routes.b' && kill -HUP $BPID"
out=$(timeout 20 python3 "$T/keepalive.py" $PB $SVC "$T/b-ca.pem" "$T/a-peer.pem" \
	"$T/a-peer.key" "$refuse" 2>&1)
like "$out" "second: HTTP/1.1 200" "a peer's keep-alive connection again" "$out"
like "$out" "closed after [0-9]{1,4} ms" "...is closed when b refuses a reload (fail closed)" "$out"
wait_for 5 grep -q 'egress `d.test` listed twice; trusting no peer' "$T/b.log"
ok $? "...b says the reload was refused and that it trusts no peer" "$(tail -3 "$T/b.log")"
exits_with '35|56' "...a new handshake from a is refused while no table loads" \
	"${PC[@]}" --cert "$T/a-peer.pem" --key "$T/a-peer.key" https://b:$PB/
peered_b
kill -HUP $BPID
wait_for 5 sh -c "curl -s --max-time 5 -H 'Host: $SVC' $EG/ | grep -qx api"
ok $? "a table that loads trusts a again: the egress answers"

# Host flags and ACME challenges on a public router.
PP=$(free_port); PT=$(free_port); PS=$(free_port)
mkdir -p "$T/www" "$T/certs"
echo "hello over tls" >"$T/www/file.txt"
(cd "$T/www" && exec openssl s_server -quiet -accept $PS -cert "$T/b-peer.pem" \
	-key "$T/b-peer.key" -WWW) >"$T/s_server.log" 2>&1 &
track $!
routes "$T/routes.p" <<EOF
cx-routes 1
host web.x.test app web 60 / redirect
up web-1 127.0.0.1 $PUP
host plain.x.test app plain 60 /
up plain-1 127.0.0.1 $PUP
host secure.x.test app secure 60 / tls-upstream
up secure-1 127.0.0.1 $PS
host both.x.test app both 60 / redirect,tls-upstream
up both-1 127.0.0.1 $PS
challenge tok-123_A tok-123_A.thumbprint
EOF
"$ROUTER" --name public --rack p --listen 127.0.0.1:$PP --listen-tls 127.0.0.1:$PT \
	--certs "$T/certs" --routes "$T/routes.p" >"$T/p.log" 2>&1 &
PPID_=$!; track $PPID_
wait_port $PP && wait_port $PS || echo "# public router or s_server did not start"
P=http://127.0.0.1:$PP
out=$("${C[@]}" -o /dev/null -w '%{http_code} %{redirect_url}' -H 'Host: web.x.test' "$P/a/b?c=1")
is "$out" "308 https://web.x.test:$PT/a/b?c=1" "redirect: 308 to https on the TLS port, same path and query"
out=$("${C[@]}" -o /dev/null -w '%{http_code}' -H 'Host: plain.x.test' $P/)
is "$out" 200 "...a host without the flag is served over http"
out=$("${C[@]}" -H 'Host: secure.x.test' $P/file.txt)
is "$out" "hello over tls" "tls-upstream: the router speaks TLS to an https process (openssl s_server)"
out=$("${C[@]}" -w ' %{http_code}' -H 'Host: web.x.test' $P/.well-known/acme-challenge/tok-123_A)
is "$out" "tok-123_A.thumbprint 200" "ACME challenge: 200 with the key authorization, before the redirect"
ct=$("${C[@]}" -o /dev/null -w '%{content_type}' -H 'Host: any.where.test' \
	$P/.well-known/acme-challenge/tok-123_A)
like "$ct" "^text/plain" "...for any Host, as text/plain" "$ct"
out=$("${C[@]}" -o /dev/null -w '%{http_code}' -H 'Host: web.x.test' $P/.well-known/acme-challenge/nope)
is "$out" 404 "...an unknown token is 404"
printf 'cx-routes 1\nhost a.x.test a web 60 / bogus-flag\n' | routes "$T/routes.p"
kill -HUP $PPID_
wait_for 5 grep -q 'unknown host flag' "$T/p.log"
ok $? "an unknown host flag refuses the snapshot" "$(tail -2 "$T/p.log")"
printf 'cx-routes 1\negress d.test nobody 127.0.0.1 1\n' | routes "$T/routes.p"
kill -HUP $PPID_
wait_for 5 grep -q 'which has no `peer` line' "$T/p.log"
ok $? "an egress line to an unknown peer refuses the snapshot" "$(tail -2 "$T/p.log")"

"$ROUTER" --name peer --rack a --listen-egress 127.0.0.1:$(free_port) --routes "$T/routes.a" \
	>"$T/noflags.log" 2>&1; st=$?
is "$st" 2 "--listen-egress without --peer-cert/--peer-key is a usage error"

kill -TERM $APID $BPID $PPID_
wait_for 10 sh -c "! kill -0 $APID 2>/dev/null && ! kill -0 $BPID 2>/dev/null && ! kill -0 $PPID_ 2>/dev/null"
ok $? "the routers stop on SIGTERM"
done_testing
