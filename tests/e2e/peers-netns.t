#!/usr/bin/env bash
# peers-netns.t — rack to rack through the internal router, from inside the
# processes' own network namespaces. Two loopback racks run as root (each
# process in a namespace of its own on its rack's bridge; the routers on the
# host's 127.0.0.1, which a process cannot reach there), peered over TLS.
# The lab maps na's bridge .3:80 to na's egress listener and .2:80 to its
# internal router (a table of the rack's, DNAT, route_localnet on the
# bridge); na's rack DNS answers nb's internal names with .3 and na's own
# with .2. So a process of na calls nb's internalRouter service by its
# peered name and gets nb's answer; nb's public router does not serve that
# service; the mapping follows a changed port, survives a daemon restart
# unchanged, and goes with the rack.
. "$(dirname "$0")/lib.sh"

if [ "$(id -u)" -ne 0 ]; then
	echo "1..0 # SKIP processes get network namespaces of their own only on a rack run as root"
	exit 0
fi
for r in na nb; do
	cx rack install local "$r" >/dev/null || { echo "Bail out! cannot install rack $r"; exit 1; }
done
STATE=$CX_HOME/lab/state
line=$(awk '$1 == "rack" && $2 == "na"' "$STATE")
like "$line" '^rack na [0-9]+ 10\.[0-9]+\.0\.0/16 .* host 127\.0\.0\.1 -$' "na is a loopback rack in the lab (its processes have namespaces)"
prefix=$(awk '$1 == "lab" { print $2 }' "$STATE"); id=$(echo "$line" | awk '{ print $3 }')
net=$(echo "$line" | awk '{ print $4 }'); net=${net%.0.0/16}
GW_TABLE=$prefix-g$id-na; BR=$prefix-b$id

param() { cx rack params -r "$1" --json | sed -n "s/.*\"$2\":\"\([^\"]*\)\".*/\1/p"; }
for r in na nb; do
	cx rack params set internal_router=true -r "$r" >/dev/null
	cx apps create svc -r "$r" >/dev/null
	out=$(cx deploy "$EXAMPLES/hello" -m "$EXAMPLES/hello/convox-internal.yml" -a svc -r "$r" 2>&1)
	ok $? "deploy the hello services (web public, api internalRouter) on $r" "$out"
done
egress=$(param na egress_port); iport=$(param na router_internal_port); itls=$(param na router_internal_tls_port)
pport=$(param na router_port); pport_b=$(param nb router_port)
like "$egress:$iport:$itls:$pport:$pport_b" '^[0-9]+:[0-9]+:[0-9]+:[0-9]+:[0-9]+$' "the racks' router ports are known"
addr=$(cx ps -a svc -r na --json | sed -n 's/.*"service":"web"[^}]*"address":"\([^"]*\)".*/\1/p' | head -1)
[ -n "$addr" ] || addr=$(cx ps -a svc -r na --json | tr '{' '\n' | grep '"service":"web"' | sed -n 's/.*"address":"\([^"]*\)".*/\1/p' | head -1)
like "$addr" "^$net\.[0-9]+\.[0-9]+$" "na's web process has an address of its own on na's bridge ($addr)"

# The gateway table: na's bridge .3:80 and .2:80/443 to the routers' ports.
rules=$(nft list table inet "$GW_TABLE" 2>&1)
like "$rules" "ip daddr $net\.0\.3 tcp dport 80 dnat ip to 127\.0\.0\.1:$egress" "na's table maps bridge .3:80 to the egress listener (127.0.0.1:$egress)"
like "$rules" "ip daddr $net\.0\.2 tcp dport 80 dnat ip to 127\.0\.0\.1:$iport" "...bridge .2:80 to the internal router"
like "$rules" "ip daddr $net\.0\.2 tcp dport 443 dnat ip to 127\.0\.0\.1:$itls" "...bridge .2:443 to its TLS listener"
like "$rules" "ip saddr $net\.0\.0/16 ip daddr" "...for the rack's own CIDR alone"
is "$(cat "/proc/sys/net/ipv4/conf/$BR/route_localnet")" 1 "route_localnet is on for na's bridge $BR"

out=$(cx rack peer na nb 2>&1); is "$out" "Peering na and nb over TLS... OK" "cx rack peer na nb"
wait_for 10 test -s "$CX_HOME/racks/na/router-peer.pid"; ok $? "na's peer router runs"
PEERED=api.svc.nb-internal.localhost
# call URL: na's web process (perl, glibc's resolver: the rack DNS) fetches URL.
call() { curl -s --max-time 10 -H "Host: web.svc.na.localhost" "http://127.0.0.1:$pport/call?url=$1"; }
wait_for 15 sh -c "curl -s --max-time 5 -H 'Host: web.svc.na.localhost' 'http://127.0.0.1:$pport/call?url=http://$PEERED/health' | grep -q ': 200 from'"
body=$(call "http://$PEERED/")
like "$body" "called http://$PEERED/: 200 from $PEERED
hello from svc/api \(process [^,]*, release [^,]*, rack nb\), asked by $net\.[0-9]+\.[0-9]+, 127\.0\.0\.1" \
    "a process of na calls nb's internal service by its peered name and gets nb's answer (asked by the process, through na's egress)" "$body"
body=$(call "http://$PEERED/headers")
like "$body" "X-Cx-Peer-Rack: na" "nb names the calling rack na"
body=$(call "http://api.svc.na-internal.localhost/")
like "$body" "200 from api\.svc\.na-internal\.localhost
hello from svc/api \(process [^,]*, release [^,]*, rack na\), asked by $net\." \
    "na's own internal service by name, through bridge .2 and na's internal router (which admits na's CIDR)" "$body"

# A one-off process of na (cx run, its own namespace): the rack DNS gives
# the peered name na's .3, where curl gets nb's answer.
out=$(cx run web -a svc -r na -- sh -c "getent hosts $PEERED; curl -s --max-time 5 -H 'Host: $PEERED' http://\$(getent hosts $PEERED | cut -d' ' -f1)/; curl -sS -o /dev/null --max-time 2 http://$net.0.2:$iport/ 2>&1; echo rc=\$?" 2>&1)
like "$out" "^$net\.0\.3 +$PEERED" "in a one-off process, the peered name resolves to na's bridge .3" "$out"
like "$out" "hello from svc/api \(process [^,]*, release [^,]*, rack nb\)" "...and curl there gets nb's answer" "$out"
like "$out" "rc=28$" "...while the internal router's own port on the bridge (.2:$iport) is no way in (dropped)" "$out"

# nb's public router does not serve the internal service, nor na's.
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -H "Host: $PEERED" "http://127.0.0.1:$pport_b/")
is "$code" 404 "nb's public router (127.0.0.1:$pport_b) does not answer $PEERED"
body=$(call "http://$PEERED:$pport_b/")
like "$body" "called http://$PEERED:$pport_b/: 502 cannot connect" "a process of na reaches no other port of .3 (nb's public router port)" "$body"

# A new egress port: the mapping follows, and the name still works.
new=$(free_port)
out=$(cx rack params set egress_port=$new -r na 2>&1); ok $? "set na's egress_port to $new" "$out"
rules=$(nft list table inet "$GW_TABLE" 2>&1)
lacks "$rules" "dnat ip to 127\.0\.0\.1:$new" "dnat ip to 127\.0\.0\.1:$egress$" "the table maps .3:80 to the new port, not the old"
wait_for 10 sh -c "curl -s --max-time 5 -H 'Host: web.svc.na.localhost' 'http://127.0.0.1:$pport/call?url=http://$PEERED/health' | grep -q ': 200 from'"
body=$(call "http://$PEERED/"); like "$body" "rack nb\)" "nb's service answers through the new port" "$body"

# A daemon restart applies the table again, the same, once.
before=$(nft list table inet "$GW_TABLE")
dpid=$(cat "$CX_HOME/racks/na/rackd.pid"); kill "$dpid"; wait_for 10 gone "$dpid"; ok $? "na's daemon is stopped"
out=$(cx-rackd --home "$CX_HOME" --rack na --daemon 2>&1); ok $? "na's daemon starts again" "$out"
after=$(nft list table inet "$GW_TABLE")
is "$after" "$before" "after the restart the table is as it was"
is "$(nft list tables | grep -c " $GW_TABLE$")" 1 "...and there is one"
body=$(call "http://$PEERED/"); like "$body" "rack nb\)" "nb's service still answers na's process" "$body"

# na's bridge lost while its daemon runs: the lab builds it again (here
# when another rack is installed) with route_localnet on, since the gateway
# table that needs it lives on.
ip link del "$BR"; ok $? "na's bridge $BR is deleted"
out=$(cx rack install local nc 2>&1); ok $? "install rack nc: the lab is restored first" "$out"
is "$(cat "/proc/sys/net/ipv4/conf/$BR/route_localnet" 2>&1)" 1 "na's bridge is back, with route_localnet on"
is "$(nft list table inet "$GW_TABLE")" "$after" "...and its gateway table as it was"
out=$(cx rack uninstall nc 2>&1); ok $? "uninstall nc" "$out"

# Uninstalling takes the table with the rack.
out=$(cx rack uninstall na 2>&1); ok $? "uninstall na" "$out"
out=$(nft list tables); lacks "$out" "table inet $prefix-" "table inet $GW_TABLE$" "na's gateway table went with it (nb's tables stay)"

done_testing
