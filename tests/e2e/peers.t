#!/usr/bin/env bash
# Peering over TLS between two loopback racks (no root): cx rack peer gives
# each rack the other's CA and peer endpoint through their APIs; p1's egress
# listener carries a request for p2's internal name to p2's peer listener
# over TLS 1.3 with mutual authentication; p2 names the calling rack. A
# client without a certificate, one from another CA, an unpeered rack and a
# former peer are refused; unpeering closes an open connection within 5 s.
. "$(dirname "$0")/lib.sh"

for r in p1 p2 p3; do
	cx rack install local "$r" >/dev/null || { echo "Bail out! cannot install rack $r"; exit 1; }
done
cx rack params set internal_router=true -r p2 >/dev/null
cx apps create svc -r p2 >/dev/null
out=$(cx deploy "$EXAMPLES/hello" -m "$EXAMPLES/hello/convox-internal.yml" -a svc -r p2 2>&1)
ok $? "deploy the internal service on p2" "$out"

param() { cx rack params -r "$1" --json | sed -n "s/.*\"$2\":\"\([^\"]*\)\".*/\1/p"; }
egress1=$(param p1 egress_port); peer2=$(param p2 peer_port)
like "$egress1:$peer2" '^[0-9]+:[0-9]+$' "p1's egress port and p2's peer port are known"
H=api.svc.p2-internal.localhost

out=$(cx rack peer p1 p2 2>&1); is "$out" "Peering p1 and p2 over TLS... OK" "cx rack peer p1 p2"
out=$(cx rack peers -r p1); like "$out" "p1 +p2 +tls 127\.0\.0\.1:$peer2" "p1 lists p2 as a TLS peer"
out=$(cx rack peers -r p2); like "$out" "p2 +p1 +tls 127\.0\.0\.1:[0-9]+" "p2 lists p1"
out=$(cx rack peer p1 p1 2>&1); refused $? "$out" "cannot peer rack p1 with itself" "a rack cannot peer with itself"

# api RACK METHOD PATH [BODY]: the rack's API straight, status last.
api() {
	local d="$CX_HOME/racks/$1"
	curl -s --max-time 5 -u "convox:$(cat "$d/password")" --unix-socket "$d/api.sock" \
	    -X "$2" ${4:+-H 'Content-Type: application/json' --data-binary "$4"} -w ' %{http_code}' \
	    "http://rack$3"
}
out=$(api p2 GET /system/peering)
like "$out" '"endpoint":"127\.0\.0\.1:[0-9]+","internal_domain":"[^"]+","loopback":true' \
    "GET /system/peering says p2's endpoint is loopback (only racks on its machine reach it)"
# A CA of the right name that is not a root (another CA signed it): refused.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=other root" -days 1 \
    -addext basicConstraints=critical,CA:TRUE -keyout "$TMP/root.key" -out "$TMP/root.pem" 2>/dev/null
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=cx rack p9 CA" \
    -keyout "$TMP/p9.key" -out "$TMP/p9.csr" 2>/dev/null
printf 'basicConstraints=critical,CA:TRUE\n' >"$TMP/p9.ext"
openssl x509 -req -in "$TMP/p9.csr" -CA "$TMP/root.pem" -CAkey "$TMP/root.key" -CAcreateserial \
    -days 1 -extfile "$TMP/p9.ext" -out "$TMP/p9.pem" 2>/dev/null
pem9=$(sed ':a;N;$!ba;s/\n/\\n/g' "$TMP/p9.pem")
out=$(api p1 POST /system/peers "{\"name\":\"p9\",\"ca\":\"$pem9\",\"endpoint\":\"127.0.0.1:9\",\"internal_domain\":\"p9.test\"}")
like "$out" 'peer p9: its CA \\"cx rack p9 CA\\" is not self-signed.* 400$' "a CA named for p9 but signed by another is refused" "$out"
{ printf '{"name":"p9","endpoint":"127.0.0.1:9","internal_domain":"p9.test","ca":"'
  head -c 140000 /dev/zero | tr '\0' A; printf '"}'; } >"$TMP/big.json"
out=$(api p1 POST /system/peers "@$TMP/big.json")
like "$out" 'peer p9: its ca is 140000 bytes; a rack.s CA certificate \(PEM\) is at most 131072.* 400$' \
    "a ca of 140000 bytes is refused, saying the limit" "$out"
out=$(api p1 GET /system/peers); lacks "$out" '"name":"p2"' '"name":"p9"' "p1 has p2 as its peer, and no p9 (a CA's base64 may hold the letters p9)"
# p1 may not take p2's internal names for its own.
out=$(cx rack params set domain_internal=x.p2-internal.localhost -r p1 2>&1)
refused $? "$out" "ERROR: domain_internal x\.p2-internal\.localhost overlaps the internal domain p2-internal\.localhost of peer p2" \
    "p1's domain_internal may not go under p2's internal domain"
is "$(printf '%s\n' "$out" | wc -l)" 1 "...in one line"
out=$(cx rack params set domain=localhost -r p1 2>&1)
refused $? "$out" "ERROR: domain localhost overlaps the internal domain p2-internal\.localhost of peer p2" \
    "p1's domain may not hold p2's internal domain"
is "$(param p1 domain_internal):$(param p1 domain)" "p1-internal.localhost:p1.localhost" "...and p1's domains are as they were"

# The peer router starts once the peering is there.
wait_for 10 test -s "$CX_HOME/racks/p1/router-peer.pid"; ok $? "p1's peer router runs"
wait_for 10 test -s "$CX_HOME/racks/p2/router-peer.pid"; ok $? "p2's peer router runs"
# through_egress PATH: a request of p1's side for p2's internal name.
through_egress() { curl -s --max-time 5 -H "Host: $H" "http://127.0.0.1:$egress1$1"; }
wait_for 10 sh -c "curl -sf --max-time 2 -H 'Host: $H' http://127.0.0.1:$egress1/health"
body=$(through_egress /); like "$body" "^hello from svc/api" "p1's egress reaches p2's internal service"
body=$(through_egress /headers)
like "$body" "X-Cx-Peer-Rack: p1" "p2 names the calling rack from its certificate"
like "$body" "X-Forwarded-For: 127\.0\.0\.1, 127\.0\.0\.1" "X-Forwarded-For carries the caller and p1's router"
body=$(curl -s --max-time 5 -H "Host: $H" -H "X-Cx-Peer-Rack: p3" "http://127.0.0.1:$egress1/headers")
lacks "$body" "X-Cx-Peer-Rack: p1" "X-Cx-Peer-Rack: p3" "a forged X-Cx-Peer-Rack does not pass"
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -H "Host: web.svc.p2.localhost" "http://127.0.0.1:$egress1/")
is "$code" 404 "the egress listener carries only peers' internal names"

# p2's peer listener, straight: a client certificate is required, and it
# must come from a peer's CA.
ca2="$CX_HOME/racks/p2/ca.pem"
exits_with '35|56' "no client certificate: the handshake fails" \
    curl -s --max-time 5 --cacert "$ca2" --resolve "p2:$peer2:127.0.0.1" -H "Host: $H" "https://p2:$peer2/"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=p1" -days 1 \
    -keyout "$TMP/forged.key" -out "$TMP/forged.pem" 2>/dev/null
exits_with '35|56' "a self-made certificate named p1: the handshake fails" \
    curl -s --max-time 5 --cacert "$ca2" --cert "$TMP/forged.pem" --key "$TMP/forged.key" \
    --resolve "p2:$peer2:127.0.0.1" -H "Host: $H" "https://p2:$peer2/"
# p3 peers with p1 only: not transitive, p2 does not trust it.
out=$(cx rack peer p1 p3 2>&1); ok $? "cx rack peer p1 p3" "$out"
# p3 refuses p1 when p1's internal domain lies under p3's domain: p1,
# given p3 first, is put back as it was.
out=$(cx rack params set domain_internal=in.p3.localhost -r p1 2>&1); ok $? "p1's domain_internal under p3's domain" "$out"
out=$(cx rack peer p1 p3 2>&1)
refused $? "$out" "ERROR: peer p1: internal domain in\.p3\.localhost overlaps this rack's domain p3\.localhost.*\(rack p1 was left as it was\)$" \
    "peering p1 and p3 again: p3 refuses, and says p1 was left as it was"
is "$(printf '%s\n' "$out" | wc -l)" 1 "...in one line"
out=$(cx rack peers -r p1); like "$out" "p1 +p3 +tls" "p1 keeps its valid peering with p3"
out=$(cx rack unpeer p1 p3 2>&1); ok $? "cx rack unpeer p1 p3" "$out"
out=$(cx rack peer p1 p3 2>&1)
refused $? "$out" "overlaps this rack's domain p3\.localhost.*\(rack p1 was left as it was\)$" "a new peering p3 refuses..."
out=$(cx rack peers -r p1); lacks "$out" "p1 +p2 +tls" "p1 +p3" "...is forgotten again by p1"
out=$(cx rack params set domain_internal=p1-internal.localhost -r p1 2>&1); ok $? "p1's domain_internal as it was" "$out"
out=$(cx rack peer p1 p3 2>&1); ok $? "cx rack peer p1 p3 again" "$out"
exits_with '35|56' "p3's peer certificate (p3 is p1's peer, not p2's): the handshake fails" \
    curl -s --max-time 5 --cacert "$ca2" --cert "$CX_HOME/racks/p3/peer.pem" --key "$CX_HOME/racks/p3/peer.key" \
    --resolve "p2:$peer2:127.0.0.1" -H "Host: $H" "https://p2:$peer2/"
body=$(curl -s --max-time 5 --cacert "$ca2" --cert "$CX_HOME/racks/p1/peer.pem" --key "$CX_HOME/racks/p1/peer.key" \
    --resolve "p2:$peer2:127.0.0.1" -H "Host: $H" "https://p2:$peer2/headers")
like "$body" "X-Cx-Peer-Rack: p1" "p1's own certificate is admitted, and named"

# cx services reach across the peering: the walk runs in p1's daemon.
out=$(cx services reach api -a svc -r p2 --from p1 2>&1); ok $? "reach api on p2 from p1 across the peering" "$out"
like "$out" "name +ok .*$H -> 127\.0\.0\.1 .*p1's egress listener" "name: p2's internal name is p1's egress"
like "$out" "egress +ok .*127\.0\.0\.1:$egress1" "egress: p1's egress listener takes the connection"
like "$out" "tls +ok .*certificate CN \"p2\" issued by \"cx rack p2 CA\", verified against .*/racks/p1/peers/p2\.pem; TLS 1\.3, handshake [0-9.]+ ms; p2 admitted p1's" \
    "tls: p2's certificate and CA, TLS 1.3, p2 admitted p1's certificate"
like "$out" "router +ok .*p2's peer router" "router: p2's peer router answers"
like "$out" "process +ok .*HTTP 200 from a process of api on p2: hello from svc/api" "process: a process of api answers"
like "$out" "reached: a process of api on p2 answered from p1" "reach says it was reached"
out=$(cx services reach web -a svc -r p2 --from p1 2>&1); refused $? "$out" \
    "peering +FAIL .*web is served by the public router: across a peering only internalRouter" \
    "a public service is not reached across a peering, and reach says why"
out=$(cx services reach api -a svc -r p2 --from p3 2>&1); refused $? "$out" \
    "not reached from p3: name: .*rack p3 is not peered with p2 over TLS" "from p3 (not p2's peer): the name hop fails"

# Walks that hang (p1's egress listener, its peer router, stopped: the
# router hop waits its 5 s): p1 runs 4 at once and refuses a fifth; they hold
# none of p1's daemon's descriptors: the daemon, stopped meanwhile, starts
# again while their keepers live on.
rp1=$(cat "$CX_HOME/racks/p1/router-peer.pid"); dpid=$(cat "$CX_HOME/racks/p1/rackd.pid")
kill -STOP "$rp1"
rpids=
for i in 1 2 3 4; do
	cx services reach api -a svc -r p2 --from p1 >"$TMP/hang$i.out" 2>&1 &
	rpids="$rpids $!"; track $!
done
keepers() { ps -o pid=,pgid=,comm= --ppid "$dpid" | awk '$1 == $2 && $3 == "cx-rackd" { print $1 }'; }
wait_for 5 sh -c "test \$(ps -o pid=,pgid=,comm= --ppid $dpid | awk '\$1 == \$2 && \$3 == \"cx-rackd\"' | wc -l) -eq 4"
keeperpids=$(keepers | tr '\n' ' ')
like "$keeperpids" '^([0-9]+ ){4}$' "4 hanging walks from p1: their keepers run"
out=$(cx services reach api -a svc -r p2 --from p1 2>&1); refused $? "$out" \
    "ERROR: rack p1 is walking 4 reach walks already, the most it runs at once: try again when one ends" \
    "a fifth walk at once is refused, saying why"
is "$(printf '%s\n' "$out" | grep -c ERROR)" 1 "...in one ERROR line"
kill "$dpid"; wait_for 10 gone "$dpid"; ok $? "p1's daemon is stopped during the walks"
kill -0 $keeperpids 2>/dev/null; ok $? "...and the walks' keepers still run"
out=$(cx-rackd --home "$CX_HOME" --rack p1 --daemon 2>&1); ok $? "p1's daemon starts again meanwhile" "$out"
kill -CONT "$rp1"
for k in $keeperpids; do wait_for 25 gone "$k"; done; ok $? "the keepers end"
wait $rpids
out=$(cx services reach api -a svc -r p2 --from p1 2>&1); ok $? "reach from p1 again, with the new daemon" "$out"

# An open connection of p1's to p2's peer listener, kept alive; unpeering
# must close it within 5 s.
python3 - "$CX_HOME/racks/p1/peer.pem" "$CX_HOME/racks/p1/peer.key" "$ca2" "$peer2" "$H" \
    >"$TMP/keepalive.out" 2>&1 <<'EOF' &
import socket, ssl, sys, time
cert, key, ca, port, host = sys.argv[1:6]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.load_verify_locations(ca)
ctx.load_cert_chain(cert, key)
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(port)), timeout=20), server_hostname="p2")
s.sendall(("GET /health HTTP/1.1\r\nHost: %s\r\n\r\n" % host).encode())
print("first:", s.recv(4096).split(b"\r\n")[0].decode(), flush=True)
t0 = time.time()
try:
    while True:
        d = s.recv(4096)
        if not d:
            break
except (ssl.SSLError, OSError) as e:
    pass
print("closed after %.1f s" % (time.time() - t0), flush=True)
EOF
kpid=$!
track $kpid
wait_for 5 grep -q "^first:" "$TMP/keepalive.out"
like "$(cat "$TMP/keepalive.out")" "first: HTTP/1.1 200" "a kept-alive peer connection is open"

# p2 peers with p3 too, so that its peer listener stays up after p1 goes.
out=$(cx rack peer p2 p3 2>&1); ok $? "cx rack peer p2 p3" "$out"
body=$(curl -s --max-time 5 --cacert "$ca2" --cert "$CX_HOME/racks/p3/peer.pem" --key "$CX_HOME/racks/p3/peer.key" \
    --resolve "p2:$peer2:127.0.0.1" -H "Host: $H" "https://p2:$peer2/headers")
like "$body" "X-Cx-Peer-Rack: p3" "now p2 admits p3's certificate, and names it"

out=$(cx rack unpeer p1 p2 2>&1); is "$out" "Unpeering p1 and p2 over TLS... OK" "cx rack unpeer p1 p2"
wait_for 6 grep -q "^closed after" "$TMP/keepalive.out"
like "$(cat "$TMP/keepalive.out")" "closed after [0-5]\.[0-9] s" "unpeering closed the open connection within 5 s"
exits_with '35|56' "after unpeering, p1's certificate is refused" \
    curl -s --max-time 5 --cacert "$ca2" --cert "$CX_HOME/racks/p1/peer.pem" --key "$CX_HOME/racks/p1/peer.key" \
    --resolve "p2:$peer2:127.0.0.1" -H "Host: $H" "https://p2:$peer2/"
out=$(cx rack peers -r p1); lacks "$out" "p1 +p3 +tls" "p1 +p2 " "p1 lists p3 but not p2 any more"
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -H "Host: $H" "http://127.0.0.1:$egress1/")
is "$code" 404 "p1's egress no longer carries p2's names"
out=$(cx rack unpeer p1 p2 2>&1); refused $? "$out" "rack p1 is not peered with p2" "unpeering twice says they are not peered"
out=$(cx services reach api -a svc -r p2 --from p1 2>&1); refused $? "$out" \
    "not reached from p1: name: .*rack p1 is not peered with p2 over TLS" "after unpeering, reach from p1 fails at the name hop"

# Uninstalling p3 makes its running peers forget it; one that is not
# running is named, with what to run once it is.
dpid=$(cat "$CX_HOME/racks/p2/rackd.pid"); kill "$dpid"; wait_for 10 gone "$dpid"
ok $? "p2's daemon is stopped"
out=$(cx rack uninstall p3 2>&1); ok $? "uninstall p3" "$out"
like "$out" "Uninstalling rack p3\.\.\. OK" "...says OK"
like "$out" "rack p2 was not told that p3 goes \(it is not running\); to make it forget p3, run: cx rack unpeer p2 p3" \
    "...and names p2, not running, with the command to run later"
lacks "$out" "was not told" "rack p1 was not told" "...but not p1, which was told"
out=$(cx rack peers -r p1); lacks "$out" "RACK +PEER" "p3" "p1 forgot p3"
cx-rackd --home "$CX_HOME" --rack p2 --daemon; ok $? "p2's daemon starts again"
out=$(cx rack peers -r p2); like "$out" "p2 +p3 +tls" "p2 still trusts p3 (nobody told it)"
out=$(cx rack unpeer p2 p3 2>&1)
is "$out" "Unpeering p2 and p3 over TLS... OK (rack p3 is not known here: only p2 forgot it)" \
    "the command named: cx rack unpeer p2 p3, p3 being gone"
out=$(cx rack peers -r p2); lacks "$out" "RACK +PEER" "p3" "p2 forgot p3"
wait_for 5 sh -c "! test -e '$CX_HOME/racks/p2/router-peer.pid'"; ok $? "p2's peer router stopped with its last peer"

# Peered again: p2 forgetting p1 on its side alone fails the tls hop (p2
# refuses p1's certificate); with p2's processes stopped the process hop
# fails, p2's router answering itself.
out=$(cx rack peer p1 p2 2>&1); ok $? "peer p1 and p2 again" "$out"
wait_for 10 sh -c "curl -sf --max-time 2 -H 'Host: $H' http://127.0.0.1:$egress1/health"
cx scale api --count 0 -a svc -r p2 >/dev/null
wait_for 15 sh -c "! curl -sf --max-time 2 -H 'Host: $H' http://127.0.0.1:$egress1/health"
out=$(cx services reach api -a svc -r p2 --from p1 2>&1); refused $? "$out" \
    "not reached from p1: process: p2's router answered [0-9]+ itself, no process did" \
    "with api stopped on p2, reach names the process hop"
like "$out" "tls +ok .*p2 admitted p1's" "... after the tls hop passed"
like "$out" "router +ok" "... and the router hop"
# p4 keeps p2's peer listener up once p2 forgets p1.
cx rack install local p4 >/dev/null && out=$(cx rack peer p2 p4 2>&1); ok $? "install p4 and peer it with p2" "$out"
dir2="$CX_HOME/racks/p2"
curl -s -o /dev/null -u "convox:$(cat "$dir2/password")" --unix-socket "$dir2/api.sock" -X DELETE http://rack/system/peers/p1
out=$(cx services reach api -a svc -r p2 --from p1 2>&1); refused $? "$out" \
    "not reached from p1: tls: .*p2 refused p1's certificate" "p2 forgot p1 alone: the tls hop fails, p2 refusing p1's certificate"

done_testing
