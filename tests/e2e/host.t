#!/usr/bin/env bash
# A host rack on a machine played by a network namespace ("host", with
# public 198.51.100.1 and private 192.0.2.1 on one link) and a client
# namespace on the other end of that link (198.51.100.10, 192.0.2.10), which
# also plays the outside world: an upstream DNS and a web server.
#   the public router answers on public_address :443 (TLS, verified against
#   `cx rack ca`), and its :80 redirects there (308) unless a service sets
#   tls: {redirect: false}; a process that speaks https itself is served
#   through both; internal services only on private_address (:80 redirecting
#   to :443 there too), never on the public one; a process reaches the internal router by name, the
#   outside world by a name its rack's DNS forwards, and not the host's other
#   listeners; uninstall leaves no namespace, bridge, table or DNS.
# Needs root; everything it makes is removed on exit, even after a failure.
. "$(dirname "$0")/lib.sh"

if [ "$(id -u)" -ne 0 ]; then
	echo "1..0 # SKIP host racks need root (network namespaces)"
	exit 0
fi
NS="cxt$$"
HOST="$NS-host"
CLI="$NS-cli"
PUB=198.51.100.1
PRIV=192.0.2.1
CLIENT=198.51.100.10
host_cleanup() {
	H cx rack uninstall h1 >/dev/null 2>&1
	H cx rack uninstall h2 >/dev/null 2>&1
	if [ -n "${PREFIX:-}" ]; then
		for ns in $(ip netns list | awk '{print $1}' | grep "^$PREFIX-"); do ip netns del "$ns"; done
	fi
	ip netns del "$HOST" 2>/dev/null
	ip netns del "$CLI" 2>/dev/null
}
CX_LAB_CLEANUP=host_cleanup

# In the host's network namespace only (not a new mount namespace, as
# `ip netns exec` would make: the daemon's namespaces must stay visible).
H() { nsenter --net="/run/netns/$HOST" "$@"; }
C() { nsenter --net="/run/netns/$CLI" "$@"; }
# For what runs in the background: nsenter itself, not a function (whose
# subshell would be the PID that track records, leaving the program behind).
NS_H=(nsenter --net="/run/netns/$HOST")
NS_C=(nsenter --net="/run/netns/$CLI")
try() { "$@" 2>&1; }

ip netns add "$HOST" && ip netns add "$CLI" &&
    ip -n "$HOST" link add eth0 type veth peer name eth0 netns "$CLI" &&
    ip -n "$HOST" link set lo up && ip -n "$CLI" link set lo up &&
    ip -n "$HOST" addr add "$PUB/24" dev eth0 && ip -n "$HOST" addr add "$PRIV/24" dev eth0 &&
    ip -n "$HOST" addr add 198.51.100.3/24 dev eth0 &&
    ip -n "$CLI" addr add "$CLIENT/24" dev eth0 && ip -n "$CLI" addr add 192.0.2.10/24 dev eth0 &&
    ip -n "$HOST" link set eth0 up && ip -n "$CLI" link set eth0 up ||
    { echo "Bail out! cannot make the host and client namespaces"; exit 1; }

# The outside world: a DNS (cx-labdns itself) and a web server, in the client.
printf 'outside.example.test %s\n' "$CLIENT" >"$TMP/upstream.hosts"
"${NS_C[@]}" cx-labdns --listen "$CLIENT:53" --hosts "$TMP/upstream.hosts" --pidfile "$TMP/upstream.pid" \
    >"$TMP/upstream.log" 2>&1 &
track $!
"${NS_C[@]}" env PORT=8080 APP=outside SERVICE=www perl "$EXAMPLES/hello/server.pl" >"$TMP/outside.log" 2>&1 &
track $!
# Something else of the host's own, which the rack's processes must not reach.
"${NS_H[@]}" env PORT=5443 APP=hostonly SERVICE=api perl "$EXAMPLES/hello/server.pl" >"$TMP/hostonly.log" 2>&1 &
track $!
# The host's resolver, as its /etc/resolv.conf would name it.
printf 'nameserver %s\n' "$CLIENT" >"$TMP/host-resolv.conf"
export CX_HOST_RESOLV="$TMP/host-resolv.conf"
wait_for 5 test -s "$TMP/upstream.pid"; ok $? "the upstream DNS runs in the client namespace"
wait_for 5 C curl -s --max-time 1 "http://$CLIENT:8080/health"; ok $? "the outside web server answers"

nobody_setup || { echo "Bail out! cannot set up the unprivileged user's directory"; exit 1; }
out=$(as_nobody cx rack install local x public_address=127.0.0.1 2>&1); rc=$?
refused "$rc" "$out" "^ERROR: host racks need root" "a host rack without root is refused in one line"
[ ! -e "$NOBODY/home/racks/x" ]; ok $? "...and nothing is left of it"
out=$(H cx rack install local h1 private_address=$PRIV 2>&1); rc=$?
refused "$rc" "$out" "^ERROR: private_address is for host racks" "private_address alone is refused"
out=$(H cx rack install local h1 public_address=$PUB private_address=$PUB 2>&1); rc=$?
refused "$rc" "$out" "^ERROR: private_address must differ from public_address" \
    "the internal router never gets the public address"
out=$(H cx rack install local h1 public_address=203.0.113.9 2>&1); rc=$?
refused "$rc" "$out" "^ERROR: public_address 203\.0\.113\.9 is not an address of this host" \
    "a public_address the host lacks is refused in one line"
[ ! -e "$CX_HOME/racks/h1" ]; ok $? "...and nothing is left of it"

out=$(H cx rack install local h1 public_address=$PUB private_address=$PRIV internal_router=true 2>&1)
ok $? "install host rack h1 (public $PUB, private $PRIV)" "$out"
PREFIX=$(lab_prefix)
like "$PREFIX" '^cx[0-9a-f]{4}$' "the lab prefix is known ($PREFIX)"
out=$(cx rack -r h1)
like "$out" "PublicAddress +$PUB" "cx rack shows the public address"
like "$out" "PrivateAddress +$PRIV" "cx rack shows the private address"
like "$out" "VPC +10\.(1[2-9][0-9]|2[0-5][0-9])\.0\.0/16" "cx rack shows the CIDR, a /16 of 10.128.0.0/9"
CIDR=$(cx rack -r h1 --json | sed -n 's/.*"vpc":"\([0-9.]*\)\.0\/16".*/\1/p')
GW="$CIDR.1"
sys=$(cx rack -r h1 --json)
like "$sys" "\"kind\":\"host\"" "GET /system says it is a host rack"
like "$sys" "\"public_address\":\"$PUB\".*\"private_address\":\"$PRIV\"|\"private_address\":\"$PRIV\".*\"public_address\":\"$PUB\"" \
    "GET /system reports both addresses"
out=$(cx rack params set public_address=198.51.100.2 -r h1 2>&1); rc=$?
refused "$rc" "$out" "ERROR: public_address is set at install" "public_address cannot be changed later"

br=$(H ip -o link show type bridge | grep -o "$PREFIX-b[0-9]*" | head -1)
like "$br" "^$PREFIX-b[0-9]+$" "the rack's bridge is in the host namespace ($br)"
addrs=$(H ip -o -4 addr show dev "$br" | awk '{print $4}' | tr '\n' ' ')
is "$addrs" "$CIDR.1/16 $CIDR.2/16 $CIDR.3/16 " "the bridge holds the gateway .1, .2 and .3"
tables=$(H nft list tables)
like "$tables" "table inet $PREFIX-h[0-9]+" "the rack has a nftables table of its own in the host"
is "$(H cat /proc/sys/net/ipv4/ip_forward)" 1 "ip_forward is on in the host namespace"

cx apps create svc -r h1 >/dev/null
out=$(cx deploy "$EXAMPLES/hello" -m "$EXAMPLES/hello/convox-internal.yml" -a svc -r h1 2>&1)
ok $? "deploy the hello app (web public, api internal)" "$out"
out=$(cx services -a svc -r h1)
like "$out" "web +web\.svc\.h1\.cx\.test +443:3000 +public" "cx services shows web on 443:3000"
like "$out" "api +api\.svc\.h1-internal\.cx\.test +443:3000 +internal" "...and api on the internal router's 443:3000"
out=$(cx services -a svc -r h1 --json)
like "$out" '"url":"https://web\.svc\.h1\.cx\.test"' "web's url is https"
ps=$(cx ps -a svc -r h1)
paddr=$(cx ps -a svc -r h1 --json | grep -o "\"address\":\"$CIDR\.[0-9]*\"" | head -1 | cut -d'"' -f4)
like "$paddr" "^$CIDR\.[0-9]+$" "each process has an address of the rack's CIDR ($paddr)" "$ps"

W=web.svc.h1.cx.test
A=api.svc.h1-internal.cx.test
# redirected HOST ADDR PATH: the status and Location of a plain request.
redirected() { C curl -s -o /dev/null -w '%{http_code} %{redirect_url}' --max-time 5 \
    --resolve "$1:80:$2" "http://$1$3"; }
is "$(redirected "$W" "$PUB" /)" "308 https://$W/" "from the client: http://$PUB redirects web to https (308)"
is "$(redirected "$W" "$PUB" "/a/b?c=d&e")" "308 https://$W/a/b?c=d&e" "...keeping the path and query"
ca="$TMP/ca.pem"
cx rack ca -r h1 >"$ca"
CAPEM=$(cat "$ca")
body=$(C curl -sS --max-time 5 --cacert "$ca" --resolve "$W:443:$PUB" "https://$W/" 2>&1)
printf '%s' "$body" | grep -Eq "^hello from svc/web"
ok $? "https on $PUB:443 verifies against cx rack ca" "got: $body" \
    "$(ls "$CX_HOME/racks/h1/certs" 2>&1 | tr '\n' ' ')" \
    "$(tail -8 "$CX_HOME/racks/h1/router-public.log" 2>&1)"
code=$(C curl -s -o /dev/null -w '%{http_code}' --max-time 3 --resolve "$A:80:$PUB" "http://$A/")
is "$code" 404 "api is not served on the public address (the public router says 404)"
out=$(C curl -sS --max-time 3 --cacert "$ca" --resolve "$A:443:$PUB" "https://$A/" 2>&1); rc=$?
echo "# https://$A on $PUB: exit $rc: $out"
[ "$rc" -ne 0 ] && ! printf '%s' "$out" | grep -q "hello from"; ok $? "...nor over TLS on $PUB:443 (no certificate for it there)"
exits_with 7 "nothing internal listens on $PUB (no router port but 80/443)" \
    C curl -s --max-time 2 "http://$PUB:3000/"
out=$(C curl -s -o /dev/null -w '%{http_code} %{redirect_url}' --max-time 5 --interface 192.0.2.10 \
    --resolve "$A:80:$PRIV" "http://$A/")
is "$out" "308 https://$A/" "api's :80 on private_address redirects the host's private network to https"
body=$(C curl -s --max-time 5 --interface 192.0.2.10 --cacert "$ca" --resolve "$A:443:$PRIV" "https://$A/")
like "$body" "^hello from svc/api" "...where api answers over TLS, verified against cx rack ca"
exits_with '7|28' "a process's address is not reachable from outside" \
    C curl -s --max-time 2 "http://$paddr:3000/"

# tls.redirect false keeps plain http on :80; a process that speaks https
# itself (port: https:3000) is served through the router's TLS to it.
cx apps create tls -r h1 >/dev/null
out=$(cx deploy "$ROOT/tests/e2e/apps/https" -a tls -r h1 2>&1)
ok $? "deploy an app with an https process and a tls.redirect false service" "$out"
out=$(cx services -a tls -r h1)
like "$out" "secure +secure\.tls\.h1\.cx\.test +443:3000" "cx services shows secure on 443:3000" "$out"
like "$out" "open +open\.tls\.h1\.cx\.test +443:3000" "...and open too (also served on :443)" "$out"
O=open.tls.h1.cx.test
S=secure.tls.h1.cx.test
body=$(C curl -s -w '\n%{http_code}' --max-time 5 --resolve "$O:80:$PUB" "http://$O/")
like "$body" $'^hello over plain from tls/open, host open\\.tls\\.h1\\.cx\\.test, proto http\n200$' \
    "tls.redirect false: http://$PUB answers open with 200, no redirect" "$body"
body=$(C curl -s --max-time 5 --cacert "$ca" --resolve "$O:443:$PUB" "https://$O/")
like "$body" "^hello over plain from tls/open, .*proto https$" "...and https serves it as well" "$body"
is "$(redirected "$S" "$PUB" /x)" "308 https://$S/x" "the https process's service redirects :80 to https"
body=$(C curl -s --max-time 5 --cacert "$ca" --resolve "$S:443:$PUB" "https://$S/")
like "$body" "^hello over TLSv1\.3 from tls/secure, host $S, proto https$" \
    "https://$S verifies against cx rack ca, and the router spoke TLS 1.3 to the process" "$body"

# ACME by HTTP-01 on the public :80 that redirects everything else: pebble
# and its DNS in the client namespace (the outside world), every name
# resolving to the public address.
if command -v pebble >/dev/null && command -v pebble-challtestsrv >/dev/null; then
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
	    -subj "/CN=pebble test CA" -keyout "$TMP/pca.key" -out "$TMP/pca.pem" >/dev/null 2>&1
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$CLIENT" \
	    -keyout "$TMP/pebble.key" -out "$TMP/pebble.csr" >/dev/null 2>&1
	printf 'subjectAltName=IP:%s\n' "$CLIENT" >"$TMP/pext"
	openssl x509 -req -in "$TMP/pebble.csr" -CA "$TMP/pca.pem" -CAkey "$TMP/pca.key" \
	    -CAcreateserial -days 2 -extfile "$TMP/pext" -out "$TMP/pebble.pem" >/dev/null 2>&1
	printf '{"pebble": {"listenAddress": "%s:14000", "managementListenAddress": "%s:15000",
	    "certificate": "%s", "privateKey": "%s", "httpPort": 80, "tlsPort": 5001,
	    "ocspResponderURL": "", "externalAccountBindingRequired": false}}\n' \
	    "$CLIENT" "$CLIENT" "$TMP/pebble.pem" "$TMP/pebble.key" >"$TMP/pebble.json"
	"${NS_C[@]}" pebble-challtestsrv -defaultIPv4 "$PUB" -defaultIPv6 "" -dns01 "$CLIENT:8053" -http01 "" \
	    -https01 "" -tlsalpn01 "" -management "$CLIENT:8055" >"$TMP/challtestsrv.log" 2>&1 &
	track $!
	"${NS_C[@]}" env PEBBLE_VA_NOSLEEP=1 PEBBLE_WFE_NONCEREJECT=0 pebble -config "$TMP/pebble.json" \
	    -dnsserver "$CLIENT:8053" >"$TMP/pebble.log" 2>&1 &
	track $!
	wait_for 20 H curl -s --cacert "$TMP/pca.pem" "https://$CLIENT:14000/dir"
	ok $? "pebble answers in the client namespace, for the host" "$(tail -5 "$TMP/pebble.log")"
	out=$(cx rack params set "acme_directory=https://$CLIENT:14000/dir" "acme_ca=$TMP/pca.pem" -r h1 2>&1)
	ok $? "h1 gets its public certificates from pebble (acme_directory)" "$out"
	acme_ids() { cx certs -r h1 --json | python3 -c 'import json,sys; print(" ".join(c["id"] for c in json.load(sys.stdin) if c["source"]=="acme" and c["domain"]==sys.argv[1]))' "$1"; }
	has_acme() { [ -n "$(acme_ids "$W")" ]; }
	wait_for 60 has_acme; ok $? "h1 obtained web's certificate by HTTP-01" "$(cx certs -r h1)" \
	    "$(grep acme "$CX_HOME/racks/h1/rackd.log" | tail -5)" "$(tail -5 "$TMP/pebble.log")"
	grep -Eq "Attempting to validate w/ HTTP: http://$W(:80)?/\.well-known/acme-challenge/" "$TMP/pebble.log"
	ok $? "...pebble validated it on $PUB:80, which redirects other paths" \
	    "$(cat "$TMP/pebble.log")"
	is "$(redirected "$W" "$PUB" /)" "308 https://$W/" "...and still does"
	C curl -s --cacert "$TMP/pca.pem" "https://$CLIENT:15000/roots/0" >"$TMP/pebble-root.pem"
	like "$(head -1 "$TMP/pebble-root.pem")" "BEGIN CERTIFICATE" "pebble's issuing root from /roots/0"
	served_acme() { C curl -s -o /dev/null --max-time 5 --cacert "$TMP/pebble-root.pem" \
	    --resolve "$W:443:$PUB" "https://$W/"; }
	wait_for 10 served_acme
	body=$(C curl -s --max-time 5 --cacert "$TMP/pebble-root.pem" --resolve "$W:443:$PUB" "https://$W/")
	like "$body" "^hello from svc/web" "https on $PUB:443 now verifies against pebble's root" "$body"
	# Back to the rack's CA: no directory, the acme certificates deleted.
	cx rack params set acme_directory= -r h1 >/dev/null
	for id in $(acme_ids "$W") $(acme_ids "$S") $(acme_ids "$O"); do
		cx certs delete "$id" -r h1 >/dev/null
	done
	served_own() { C curl -s -o /dev/null --max-time 5 --cacert "$ca" --resolve "$W:443:$PUB" "https://$W/"; }
	wait_for 10 served_own; ok $? "the acme certificates deleted, the rack CA's serves web again"
else
	echo "# SKIP ACME on the host rack: pebble is not installed (scripts/deps.sh)"
fi

out=$(try cx run web -a svc -r h1 -- sh -c "curl -s -o /dev/null -w '%{http_code} %{redirect_url}' --max-time 3 http://$A/; echo; printf '%s\n' '$CAPEM' | curl -s --max-time 3 --cacert /dev/stdin https://$A/; echo; getent hosts outside.example.test; curl -s --max-time 3 http://outside.example.test:8080/")
like "$out" "^308 https://$A/" "a process of the rack reaches the internal router by name (its :80 redirects)" "$out"
like "$out" "hello from svc/api" "...and over https, verified against cx rack ca" "$out"
like "$out" "$CLIENT +outside\.example\.test" "...resolves an outside name through the rack's DNS forwarder"
like "$out" "hello from outside/www" "...and reaches the outside world (masqueraded)"
out=$(try cx run web -a svc -r h1 -- sh -c "curl -sS --max-time 2 http://$GW:5443/ 2>&1; echo rc=\$?; curl -sS --max-time 2 http://$PUB:5443/ 2>&1; echo rc=\$?")
out=$(printf '%s' "$out" | tr '\n' ' ')
echo "# from a process, the host's port 5443: $out"
like "$out" "^curl: .*rc=(7|28) curl: .*rc=(7|28)" "a process cannot reach a port of the host that is not a router's (on the gateway or the public address)"
body=$(H curl -s --max-time 3 "http://$GW:5443/")
like "$body" "^hello from hostonly/api" "...though the host itself reaches it there"

# The daemon dies and the rack's DNS with it: a new daemon brings the DNS
# back (lab_restore) and the processes resolve again.
dpid=$(cat "$CX_HOME/racks/h1/rackd.pid")
kill "$dpid"; wait_for 5 gone "$dpid"; ok $? "h1's daemon stopped"
old=$(cat "$CX_HOME/lab/dns-h1.pid")
kill "$old"; wait_for 5 sh -c "! kill -0 $old 2>/dev/null || grep -q '^[^)]*) Z' /proc/$old/stat"
ok $? "h1's DNS stopped"
body=$(C curl -s --max-time 5 --cacert "$ca" --resolve "$W:443:$PUB" "https://$W/")
like "$body" "^hello from svc/web" "the public router serves on without the daemon"
is "$(redirected "$W" "$PUB" /)" "308 https://$W/" "...and its :80 still redirects"
H cx-rackd --home "$CX_HOME" --rack h1 --daemon; ok $? "h1's daemon starts again"
new=$(cat "$CX_HOME/lab/dns-h1.pid" 2>/dev/null)
[ -n "$new" ] && [ "$new" != "$old" ] && kill -0 "$new"; ok $? "...and h1's DNS runs again (pid $new)"
out=$(try cx run web -a svc -r h1 -- sh -c "printf '%s\n' '$CAPEM' | curl -s --max-time 3 --cacert /dev/stdin https://$A/; getent hosts outside.example.test")
like "$out" "hello from svc/api" "a process resolves the internal router's name again" "$out"
like "$out" "$CLIENT +outside\.example\.test" "...and outside names"

# A second host rack beside it, without a private address: its internal
# router is on its bridge's .2, for its own processes alone.
out=$(H cx rack install local h2 public_address=198.51.100.3 internal_router=true 2>&1)
ok $? "install a second host rack h2 (public 198.51.100.3, no private address)" "$out"
CIDR2=$(cx rack -r h2 --json | sed -n 's/.*"vpc":"\([0-9.]*\)\.0\/16".*/\1/p')
like "$CIDR2" '^10\.[0-9]+\.0$' "h2 has a /16 of its own ($CIDR2.0/16)"
[ "$CIDR2" != "$CIDR" ]; ok $? "...not h1's ($CIDR.0/16): h1's bridge route is taken"
out=$(cx rack -r h2); lacks "$out" "PublicAddress +198\.51\.100\.3" "PrivateAddress" "cx rack shows no private address for h2"
cx apps create svc -r h2 >/dev/null
out=$(cx deploy "$EXAMPLES/hello" -m "$EXAMPLES/hello/convox-internal.yml" -a svc -r h2 2>&1)
ok $? "deploy the hello app on h2" "$out"
A2=api.svc.h2-internal.cx.test
CAPEM2=$(cx rack ca -r h2)
out=$(try cx run web -a svc -r h2 -- sh -c "getent hosts $A2; curl -s -o /dev/null -w '%{http_code} %{redirect_url}' --max-time 3 http://$A2/; echo; printf '%s\n' '$CAPEM2' | curl -s --max-time 3 --cacert /dev/stdin https://$A2/")
like "$out" "^$CIDR2\.2 +$A2" "on h2, the internal domain resolves to the bridge's .2"
like "$out" "308 https://$A2/" "...where h2's internal router redirects its processes' plain requests to https" "$out"
like "$out" "hello from svc/api" "...and answers them over https, verified against h2's CA" "$out"
code=$(C curl -s -o /dev/null -w '%{http_code}' --max-time 3 --resolve "$A2:80:198.51.100.3" "http://$A2/")
is "$code" 404 "h2's api is not served on its public address"
C ip route add "$CIDR2.0/16" via 198.51.100.3 2>/dev/null
exits_with '7|28' "a client that routes h2's CIDR via the host still cannot reach its internal router" \
    C curl -s --max-time 2 -H "Host: $A2" "http://$CIDR2.2/"
C ip route del "$CIDR2.0/16" 2>/dev/null
paddr2=$(cx ps -a svc -r h2 --json | grep -o "\"address\":\"$CIDR2\.[0-9]*\"" | head -1 | cut -d'"' -f4)
like "$paddr2" "^$CIDR2\.[0-9]+$" "a process of h2 has an address ($paddr2)"
out=$(try cx run web -a svc -r h1 -- sh -c "curl -sS --max-time 2 http://$paddr2:3000/ 2>&1; echo rc=\$?")
like "$(printf '%s' "$out" | tr '\n' ' ')" "rc=(7|28)" "a process of h1 cannot reach a process of h2 directly" "$out"
out=$(H cx rack uninstall h2 2>&1); ok $? "uninstall h2" "$out"
H ip -o link show | grep -q "$PREFIX-b1"; ok $? "h1's bridge stays"
body=$(C curl -s --max-time 5 --cacert "$ca" --resolve "$W:443:$PUB" "https://$W/")
like "$body" "^hello from svc/web" "h1 still serves"

DNSPID=$(cat "$CX_HOME/lab/dns-h1.pid" 2>/dev/null)
out=$(H cx rack uninstall h1 2>&1); ok $? "uninstall h1" "$out"
out=$(H ip -o link show | grep -c "$PREFIX" || true)
is "$out" 0 "no bridge or process link of the rack is left in the host"
out=$(ip netns list | grep -c "^$PREFIX-" || true)
is "$out" 0 "no process namespace is left"
out=$(H nft list tables)
! printf '%s' "$out" | grep -q "$PREFIX"; ok $? "the rack's nftables table is gone" "$out"
# Gone, or a zombie that this container's init has yet to reap.
dns_gone() { gone "$1" || grep -q '^[^)]*) Z' "/proc/$1/stat" 2>/dev/null; }
like "$DNSPID" '^[0-9]+$' "the rack's DNS had a pid ($DNSPID)"
dns_gone "$DNSPID"; ok $? "the rack's DNS is gone" "$(cat /proc/$DNSPID/stat 2>&1)"
[ ! -e "$CX_HOME/lab/hosts-h1" ] && [ ! -e "$CX_HOME/lab/resolv-h1.conf" ]; ok $? "...and its files"
check_no_leftovers
done_testing
