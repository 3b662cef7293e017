#!/usr/bin/env bash
# The seed's story across machines. Three hosts and an operator, each a
# network namespace on one underlay bridge (198.51.100.0/24), each host with
# its own $CX_HOME and daemons and nothing shared but the underlay; the
# operator's CLI knows the racks only through `cx login`.
#   r1 and r2 peered over TLS, r3 not; a process of r1 reaches r2's internal
#   service by name and r2 names the calling rack; refused from r3, from the
#   operator, with a certificate of another CA, and after unpeering; r2's
#   public web service answers over HTTPS verified against `cx rack ca`; a
#   capture on the underlay during a request through the peering does not
#   hold the request's path (a plain request's path is seen there, so the
#   capture works). Peered again after r2's internal domain changed, r1's
#   DNS answers the new names only; a loopback rack on h1 may not peer with
#   r2 on h2 (r2 could not reach its 127.0.0.1).
# Needs root; everything it makes is removed on exit, even after a failure.
. "$(dirname "$0")/lib.sh"

if [ "$(id -u)" -ne 0 ]; then
	echo "1..0 # SKIP machines played by network namespaces need root"
	exit 0
fi
NS="cxu$$"
UL="$NS-ul"
NET=198.51.100
declare -A ADDR=([h1]=$NET.11 [h2]=$NET.12 [h3]=$NET.13 [op]=$NET.100)

# X HOST CMD...: CMD on machine HOST (its network namespace only, so the
# daemon's own namespaces stay visible to this test), with HOST's $CX_HOME.
X() { local h=$1; shift; nsenter --net="/run/netns/$NS-$h" env CX_HOME="$TMP/$h" "$@"; }
try() { "$@" 2>&1; }

# HOST's lab prefix (cxNNNN), from its lab's state; empty before its lab exists.
host_prefix() { sed -n 's/^lab \(cx[0-9a-f]*\) .*/\1/p' "$TMP/$1/lab/state" 2>/dev/null; }
# The network namespaces of HOST's lab, one a line.
host_netns() { local p; p=$(host_prefix "$1"); [ -n "$p" ] && ip netns list | awk '{print $1}' | grep "^$p-"; }
hosts_cleanup() {
	local h ns
	for h in h1 h2 h3; do
		X "$h" cx rack uninstall "r${h#h}" >/dev/null 2>&1
		[ "$h" = h1 ] && X h1 cx rack uninstall lo1 >/dev/null 2>&1
		stop_home "$TMP/$h"
		for ns in $(host_netns "$h"); do ip netns del "$ns"; done
	done
	stop_home "$TMP/op"
	for h in h1 h2 h3 op; do ip netns del "$NS-$h" 2>/dev/null; done
	ip netns del "$UL" 2>/dev/null
}
CX_LAB_CLEANUP=hosts_cleanup

ip netns add "$UL" && ip -n "$UL" link add br0 type bridge && ip -n "$UL" link set br0 up ||
    { echo "Bail out! cannot make the underlay"; exit 1; }
for h in h1 h2 h3 op; do
	mkdir -p "$TMP/$h"
	ip netns add "$NS-$h" &&
	    ip -n "$UL" link add "u-$h" type veth peer name eth0 netns "$NS-$h" &&
	    ip -n "$UL" link set "u-$h" master br0 up &&
	    ip -n "$NS-$h" link set lo up &&
	    ip -n "$NS-$h" addr add "${ADDR[$h]}/24" dev eth0 &&
	    ip -n "$NS-$h" link set eth0 up ||
	    { echo "Bail out! cannot make machine $h"; exit 1; }
done
# The hosts' resolver names nobody: names outside the racks do not resolve.
printf 'nameserver %s\n' "$NET.250" >"$TMP/resolv.conf"
export CX_HOST_RESOLV="$TMP/resolv.conf"

out=$(X h1 cx rack install local r1 public_address=${ADDR[h1]} 2>&1); ok $? "install host rack r1 on h1" "$out"
out=$(X h2 cx rack install local r2 public_address=${ADDR[h2]} internal_router=true 2>&1)
ok $? "install host rack r2 on h2, with its internal router" "$out"
out=$(X h3 cx rack install local r3 public_address=${ADDR[h3]} 2>&1); ok $? "install host rack r3 on h3" "$out"

# The operator knows the racks by their addresses and passwords alone.
for h in h1 h2 h3; do
	r="r${h#h}"
	out=$(X op cx login "${ADDR[$h]}:5443" --password "$(cat "$TMP/$h/racks/$r/password")" 2>&1)
	like "$out" "Pinned certificate SHA256:" "the operator logs in to $r (trust on first use)"
done
out=$(X op cx racks); like "$out" "r2 .*https://${ADDR[h2]}:5443" "cx racks on the operator lists r2 where it is"
ls "$TMP/op/racks" >/dev/null 2>&1; [ -z "$(ls -A "$TMP/op/racks" 2>/dev/null)" ]; ok $? "the operator has no local rack"

for r in r1 r2 r3; do
	X op cx apps create svc -r "$r" >/dev/null
done
out=$(X op cx deploy "$EXAMPLES/hello" -m "$EXAMPLES/hello/convox-internal.yml" -a svc -r r2 2>&1)
ok $? "deploy the internal service on r2 over HTTPS" "$out"
for r in r1 r3; do
	out=$(X op cx deploy "$EXAMPLES/hello" -a svc -r "$r" 2>&1); ok $? "deploy web on $r" "$out"
done
IDOM=$(X op cx rack params -r r2 --json | sed -n 's/.*"domain_internal":"\([^"]*\)".*/\1/p')
DOM=$(X op cx rack params -r r2 --json | sed -n 's/.*"domain":"\([^"]*\)".*/\1/p')
like "$IDOM:$DOM" '^[a-z0-9.-]+:[a-z0-9.-]+$' "r2's domains are known"
API="api.svc.$IDOM"

out=$(X op cx rack peer r1 r2 2>&1); is "$out" "Peering r1 and r2 over TLS... OK" "the operator peers r1 and r2"

# from RACK CMD: CMD in a one-off process of RACK's web service.
from() { local r=$1; shift; try X op cx run web -a svc -r "$r" -- sh -c "$*"; }
wait_for 10 X op cx run web -a svc -r r1 -- curl -sf --max-time 2 "http://$API/health"
out=$(from r1 "getent hosts $API; curl -s --max-time 5 http://$API/headers")
like "$out" "X-Cx-Peer-Rack: r1" "a process of r1 reaches r2's internal service by name; r2 names r1"
like "$out" "X-Forwarded-For: 10\.[0-9.]+, ${ADDR[h1]}" "X-Forwarded-For: the process in r1, then r1's host"
like "$out" "^10\.[0-9.]+ +$API" "the name resolves to r1's own side (its egress listener)"

# The operator proves it hop by hop: the walk runs in r1's daemon, on h1.
out=$(try X op cx services reach api -a svc -r r2 --from r1); ok $? "cx services reach api on r2 --from r1, from the operator" "$out"
like "$out" "name +ok .*$API -> 10\.[0-9.]+ \(the rack DNS\): r1's egress listener" "name: r1's rack DNS gives its egress listener"
like "$out" "egress +ok .*connected to r1's egress listener 10\.[0-9.]+:80" "egress: the listener takes the connection"
like "$out" "tls +ok +[0-9.]+ ms  r2 at ${ADDR[h2]}:8443: certificate CN \"r2\" issued by \"cx rack r2 CA\", verified against .*/racks/r1/peers/r2\.pem; TLS 1\.3" \
    "tls: r2's certificate, its CA, the CA file on h1, TLS 1.3"
like "$out" "process +ok .*HTTP 200 from a process of api on r2" "process: a process of api on r2 answers"
out=$(try X op cx services reach api -a svc -r r2 --from r3); refused $? "$out" \
    "not reached from r3: name: rack r3 is not peered with r2 over TLS: its egress carries none of r2's names, $API among them" \
    "from r3 (not peered): the name hop fails, saying so before any name is resolved"

# The capture, on the underlay port of r2's host (a bridge device itself sees
# only its own traffic): a request through the peering, then a plain one.
# --immediate-mode: packets still in the capture ring at SIGTERM are lost.
ip netns exec "$UL" timeout 30 tcpdump -Z root --immediate-mode -i u-h2 -U -s 0 -w "$TMP/underlay.pcap" >"$TMP/tcpdump.log" 2>&1 &
dpid=$!
track $dpid
wait_for 5 grep -q "listening on" "$TMP/tcpdump.log"
out=$(from r1 "curl -s -o /dev/null -w '%{http_code}' --max-time 5 http://$API/cx-secret-path-4242")
like "$out" "^[0-9]{3}$" "a request through the peering is answered (HTTP $out)"
X op curl -s -o /dev/null --max-time 5 -H "Host: web.svc.$DOM" "http://${ADDR[h2]}/cx-plain-path-4242"
sleep 0.5
kill "$dpid" 2>/dev/null; wait "$dpid" 2>/dev/null
n8443=$(tcpdump -r "$TMP/underlay.pcap" -nn "tcp port 8443" 2>/dev/null | wc -l)
[ "$n8443" -gt 0 ]; ok $? "the capture holds the peering's packets ($n8443 on port 8443)" \
    "$(cat "$TMP/tcpdump.log")" "$(tcpdump -r "$TMP/underlay.pcap" -nn 2>&1 | head -5)"
grep -aq "cx-plain-path-4242" "$TMP/underlay.pcap"; ok $? "a plain request's path is seen on the underlay"
! grep -aq "cx-secret-path-4242" "$TMP/underlay.pcap"; ok $? "the peered request's path is not: it crossed encrypted"

# Refusals.
out=$(from r3 "curl -sS --max-time 3 http://$API/ 2>&1; echo rc=\$?")
like "$out" "rc=6" "r3 (not peered) cannot even resolve r2's internal names"
out=$(from r3 "curl -sS --max-time 3 -k --resolve $API:8443:${ADDR[h2]} https://$API:8443/ 2>&1; echo rc=\$?")
like "$out" "rc=(35|56)" "r3 straight to r2's peer listener: the handshake fails"
code=$(X op curl -s -o /dev/null -w '%{http_code}' --max-time 5 -H "Host: $API" "http://${ADDR[h2]}/")
is "$code" 404 "the operator asking r2's public router for the internal name gets 404"
exits_with '7|28' "nothing answers for internal services on r2's public address otherwise (port 3000)" \
    X op curl -s --max-time 3 "http://${ADDR[h2]}:3000/"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=r1" -days 1 \
    -keyout "$TMP/forged.key" -out "$TMP/forged.pem" 2>/dev/null
X op cx rack ca -r r2 >"$TMP/ca-r2.pem"
exits_with '35|56' "a certificate named r1 from another CA: the handshake fails" \
    X op curl -s --max-time 5 --cacert "$TMP/ca-r2.pem" --cert "$TMP/forged.pem" --key "$TMP/forged.key" \
    --resolve "r2:8443:${ADDR[h2]}" -H "Host: $API" "https://r2:8443/"

# r2's public web service over HTTPS, verified against its rack's CA.
body=$(X op curl -s --max-time 5 --cacert "$TMP/ca-r2.pem" --resolve "web.svc.$DOM:443:${ADDR[h2]}" "https://web.svc.$DOM/")
like "$body" "^hello from svc/web" "r2's public web answers over HTTPS, verified against cx rack ca"

# r2's internal domain changes and the operator peers them again: r1's DNS
# answers the new names and no longer the old ones.
H1DNS="$TMP/h1/lab/hosts-r1"
grep -q "^\*\.$IDOM " "$H1DNS"; ok $? "r1's DNS answers *.$IDOM" "$(cat "$H1DNS")"
out=$(X op cx rack params set domain_internal=peer2.test -r r2 2>&1); ok $? "r2's domain_internal becomes peer2.test" "$out"
API2=api.svc.peer2.test
out=$(X op cx rack peer r1 r2 2>&1); is "$out" "Peering r1 and r2 over TLS... OK" "the operator peers r1 and r2 again"
wait_for 10 X op cx run web -a svc -r r1 -- curl -sf --max-time 2 "http://$API2/health"
out=$(from r1 "curl -s --max-time 5 http://$API2/headers")
like "$out" "X-Cx-Peer-Rack: r1" "a process of r1 reaches r2's service by its new name"
! grep -q "$IDOM" "$H1DNS"; ok $? "r1's DNS no longer has r2's old domain" "$(cat "$H1DNS")"
out=$(from r1 "curl -sS --max-time 3 http://$API/ 2>&1; echo rc=\$?")
like "$out" "rc=6" "...and r1's processes no longer resolve the old name"

# A loopback rack on h1 (no public address) and r2 on h2: r2 could not
# reach 127.0.0.1 of h1, so cx rack peer refuses before either is told.
out=$(X h1 cx rack install local lo1 2>&1); ok $? "install loopback rack lo1 on h1" "$out"
out=$(X h1 cx login "${ADDR[h2]}:5443" --password "$(cat "$TMP/h2/racks/r2/password")" 2>&1)
like "$out" "Pinned certificate SHA256:" "h1's CLI logs in to r2"
out=$(X h1 cx rack peer lo1 r2 2>&1)
refused $? "$out" "ERROR: rack lo1's peer endpoint is 127\.0\.0\.1:[0-9]+ \(it has no public_address\), which rack r2 on another machine cannot reach" \
    "peering h1's loopback rack with r2 on h2 is refused"
out=$(X op cx rack peers -r r2); lacks "$out" "r2 +r1 +tls" "lo1" "...and r2 was not given lo1"
out=$(X h1 cx rack uninstall lo1 2>&1); ok $? "uninstall lo1" "$out"

out=$(X op cx rack unpeer r1 r2 2>&1); is "$out" "Unpeering r1 and r2 over TLS... OK" "the operator unpeers r1 and r2"
out=$(from r1 "curl -sS --max-time 3 http://$API2/ 2>&1; echo rc=\$?")
like "$out" "rc=6" "after unpeering, r1's processes no longer resolve r2's internal names"
! grep -q "peer2\.test" "$H1DNS"; ok $? "...r1's DNS has none of them" "$(cat "$H1DNS")"
out=$(try X op cx services reach api -a svc -r r2 --from r1); refused $? "$out" \
    "not reached from r1: name: rack r1 is not peered with r2 over TLS" "after unpeering, reach from r1 fails at the name hop"

# Uninstalled, each host rack leaves no namespace of its lab behind (its
# processes' were there: the listing sees them).
for h in h1 h2 h3; do
	p=$(host_prefix "$h")
	n=$(host_netns "$h" | wc -l)
	out=$(X "$h" cx rack uninstall "r${h#h}" 2>&1); ok $? "uninstall r${h#h} on $h" "$out"
	left=$(host_netns "$h" | tr '\n' ' ')
	ok $([ -n "$p" ] && [ "$n" -gt 0 ] && [ -z "$left" ]; echo $?) \
	    "...it leaves none of the $n network namespaces of $h's lab ($p-*) it had" "left: $left"
done

done_testing
