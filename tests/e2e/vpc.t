#!/usr/bin/env bash
# The seed's whole story on three VPC racks: a and b peered, c not. b runs an
# app with an internal-router service (api) and a public one (web).
#   reachable: api from a (by name, through b's internal router);
#   refused:   api from the internet, from c, through b's public router by
#              name, from a forged route; and after unpeering and after
#              internal_router=false.
# Needs root (network namespaces); every namespace and link it makes is
# removed on exit, even after a failure.
. "$(dirname "$0")/lib.sh"

if [ "$(id -u)" -ne 0 ]; then
	echo "1..0 # SKIP VPC racks need root (network namespaces)"
	exit 0
fi
lab_cleanup() {
	for r in a b c; do cx rack uninstall "$r" >/dev/null 2>&1; done
	# Belt and braces: nothing named with this lab's prefix may survive.
	if [ -n "${PREFIX:-}" ]; then
		for ns in $(ip netns list | awk '{print $1}' | grep "^$PREFIX-"); do ip netns del "$ns"; done
	fi
}
CX_LAB_CLEANUP=lab_cleanup

try() { "$@" 2>&1; }
# A dotted quad inside the VPC CIDR prefix given (a regex): the target of a
# request that must fail has to be real, or curl fails for want of one.
addr_in() { printf '%s' "$1" | grep -Eqx -- "$2\.[0-9]+\.[0-9]+"; }

# The unprivileged user runs its own copy of cx, from a directory it can reach
# wherever this checkout lies, with a home of its own it may write.
nobody_setup || { echo "Bail out! cannot set up the unprivileged user's directory"; exit 1; }
out=$(as_nobody cx rack install local x --vpc 10.9.0.0/16 2>&1); rc=$?
is "$rc" 1 "a VPC rack without root is refused"
like "$out" "^ERROR: .*root" "...in one line that says root is needed"
[ ! -e "$NOBODY/home/racks/x" ]; ok $? "...and nothing is left of it"

t0=$(date +%s%N)
for spec in a:10.1.0.0/16 b:10.2.0.0/16 c:10.3.0.0/16; do
	out=$(cx rack install local "${spec%%:*}" --vpc "${spec#*:}" 2>&1); ok $? "install VPC rack ${spec%%:*} (${spec#*:})"
done
echo "# three VPC racks in $(( ($(date +%s%N) - t0) / 1000000 )) ms"
PREFIX=$(lab_prefix)
out=$(cx rack install local d --vpc 10.2.128.0/17 2>&1); rc=$?
refused "$rc" "$out" "ERROR: .*overlaps" "an overlapping CIDR is refused"

t0=$(date +%s%N)
out=$(cx rack peer a b 2>&1); ok $? "peer a b"
echo "# cx rack peer took $(( ($(date +%s%N) - t0) / 1000000 )) ms"
out=$(cx rack peers -r a); like "$out" "b +10\.2\.0\.0/16" "a lists b as a peer"
out=$(cx net); like "$out" "10\.1\.0\.0/16" "cx net shows the lab"

cx apps create svc -r b >/dev/null
out=$(cx deploy "$EXAMPLES/hello" -m "$EXAMPLES/hello/convox-internal.yml" -a svc -r b 2>&1); rc=$?
refused "$rc" "$out" "ERROR: .*please enable the rack's internal router first: cx rack params set internal_router=true -r b" "internalRouter needs the internal router"
t0=$(date +%s%N)
out=$(cx rack params set internal_router=true -r b); is "$out" "Updating parameters... OK" "enable b's internal router"
echo "# internal_router=true took $(( ($(date +%s%N) - t0) / 1000000 )) ms"
out=$(cx rack -r b); like "$out" "RouterInternal +b-internal\.cx\.test" "cx rack shows RouterInternal"
like "$out" "VPC +10\.2\.0\.0/16" "cx rack shows the VPC"
out=$(cx deploy "$EXAMPLES/hello" -m "$EXAMPLES/hello/convox-internal.yml" -a svc -r b 2>&1); ok $? "deploy the internal example to b"
out=$(cx services -a svc -r b)
like "$out" "api +api\.svc\.b-internal\.cx\.test +80:3000" "api has the internal domain"
like "$out" "web +web\.svc\.b\.cx\.test +80:3000" "web has the public domain"
js=$(cx ps -a svc -r b --json); like "$js" '"address":"10\.2\.' "processes have VPC addresses"

# internal: true — a rack-only name, for processes of the rack's own VPC only.
like "$(cx services -a svc -r b)" "backend +backend\.svc\.b\.local +3000" "backend has its rack-only domain"
wait_for 5 sh -c "cx net exec b -- curl -s --max-time 2 http://backend.svc.b.local:3000/ | grep -q 'hello from svc/backend'"
ok $? "backend answers by name from inside rack b"
# The lab DNS is one for all racks: the name resolves in a too, to b's processes.
baddr=$(cx net exec a -- getent hosts backend.svc.b.local | awk '{print $1; exit}')
addr_in "$baddr" '10\.2'; ok $? "backend's name resolves in a to a process of b ($baddr)"
exits_with 28 "backend does not answer from a peered rack (dropped: curl times out)" \
    cx net exec a -- curl -s --max-time 1 http://backend.svc.b.local:3000/

api=http://api.svc.b-internal.cx.test/
body=$(try cx net exec a -- curl -s --max-time 3 "$api")
like "$body" "^hello from svc/api" "api answers from the peered rack a, by name"
hdr=$(try cx net exec a -- curl -s --max-time 3 "${api}headers")
like "$hdr" "X-Forwarded-For: 10\.1\." "the internal router passes the caller's real address"

exits_with 7 "api does not answer from the internet (no route to b's VPC)" \
    cx net exec internet -- curl -s --max-time 2 "$api"
exits_with 7 "api does not answer from the unpeered rack c (no route to b's VPC)" \
    cx net exec c -- curl -s --max-time 2 "$api"
bpub=$(cx rack -r b --json | sed -n 's/.*"router_address":"\([0-9.]*\):80".*/\1/p')
addr_in "$bpub" '198\.18'; ok $? "b's public router has an internet address ($bpub)"
code=$(try cx net exec internet -- curl -s -o /dev/null -w '%{http_code}' --max-time 2 --resolve "api.svc.b-internal.cx.test:80:$bpub" "$api")
is "$code" 404 "b's public router answers 404 for the internal name"
body=$(try cx net exec internet -- curl -s --max-time 3 http://web.svc.b.cx.test/)
like "$body" "^hello from svc/web" "web answers from the internet through the public router"

out=$(cx rack metrics -r b)
like "$out" 'router="internal",host="api\.svc\.b-internal\.cx\.test",app="svc",service="api",code="200"\} [1-9]' "metrics of a VPC rack's internal router"

# A host on the internet that forges a route into b's VPC gets nothing.
bpriv=$(cx rack -r b --json | sed -n 's/.*"router_internal_address":"\([0-9.]*\):80".*/\1/p')
addr_in "$bpriv" '10\.2'; ok $? "b's internal router has a VPC address ($bpriv)"
cx net exec internet -- ip route add 10.2.0.0/16 via "$bpub" >/dev/null 2>&1; ok $? "forge a route from the internet into b's VPC"
exits_with 28 "a forged route from the internet reaches nothing (dropped: curl times out)" \
    cx net exec internet -- curl -s --max-time 1 -H 'Host: api.svc.b-internal.cx.test' "http://$bpriv/"
cx net exec internet -- ip route del 10.2.0.0/16 >/dev/null 2>&1

# Not transitive: a-b and b-c do not give a-c.
paddr=$(cx ps -a svc -r b --json | sed -n 's/.*"address":"\(10\.2\.[0-9.]*\)".*/\1/p' | head -1)
addr_in "$paddr" '10\.2'; ok $? "a process of b has a VPC address ($paddr)"
exits_with 28 "a process address is not reachable from a peer (dropped: curl times out)" \
    cx net exec a -- curl -s --max-time 1 "http://$paddr:3000/"

# Not transitive: with a-b and b-c, a still cannot reach c's internal router.
cx rack params set internal_router=true -r c >/dev/null
cx rack peer b c >/dev/null 2>&1; ok $? "peer b c"
cpriv=$(cx rack -r c --json | sed -n 's/.*"router_internal_address":"\([0-9.]*\):80".*/\1/p')
addr_in "$cpriv" '10\.3'; ok $? "c's internal router has a VPC address ($cpriv)"
code=$(try cx net exec b -- curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://$cpriv/")
is "$code" 404 "b reaches c's internal router (it answers 404: no such host)"
exits_with 7 "a does not reach c through b (peering is not transitive: no route)" \
    cx net exec a -- curl -s -o /dev/null --max-time 1 "http://$cpriv/"
cx rack unpeer b c >/dev/null 2>&1

# cx run: a one-off process of a service, with its environment, in its VPC, not as root.
out=$(try cx run web -a svc -r b -- sh -c 'echo "app=$APP port=$PORT uid=$(id -u)"; curl -s --max-time 3 http://api.svc.b-internal.cx.test/')
uid=$(sqlite3 "$CX_HOME/racks/b/state.db" "SELECT uid_base FROM apps WHERE name = 'svc'")
[ "${uid:-0}" -ge 65536 ]; ok $? "svc has ids of its own ($uid)"
like "$out" "app=svc port=3000 uid=$uid\$" "cx run has the service's env, as its app's unprivileged uid"
like "$out" "hello from svc/api" "cx run's process is inside b's VPC"

out=$(cx services reach api -a svc -r b --from a 2>&1); rc=$?
ok $rc "reach from a exits 0"
like "$out" "name +ok .*10\.2\.0\.2" "reach: name hop resolves to b's internal router"
like "$out" "route +ok" "reach: route hop"
like "$out" "allow +ok" "reach: allow hop"
like "$out" "router +ok" "reach: router hop"
like "$out" "process +ok .*HTTP 200" "reach: a process answered"
out=$(cx services reach api -a svc -r b --from c 2>&1); rc=$?
is "$rc" 1 "reach from c exits 1"
like "$out" "route +FAIL .*not peered" "reach names the failing hop from c and why"
like "$out" "not reached from c: route" "reach's verdict names the first failing hop"
out=$(cx services reach api -a svc -r b --from internet 2>&1); rc=$?
is "$rc" 1 "reach from the internet exits 1"
like "$out" "route +FAIL .*no route" "reach from the internet fails at the route hop"

t0=$(date +%s%N)
out=$(cx rack unpeer a b 2>&1); ok $? "unpeer a b"
exits_with 7 "api is gone from a after unpeering (no route)" \
    cx net exec a -- curl -s --max-time 1 "$api"
cx rack peer a b >/dev/null 2>&1
body=$(try cx net exec a -- curl -s --max-time 3 "$api"); like "$body" "^hello from" "peered again: reachable"
cx rack params set internal_router=false -r b >/dev/null
exits_with 7 "api is gone after internal_router=false (connection refused)" \
    cx net exec a -- curl -s --max-time 1 "$api"

# Uninstalling a rack removes its peerings first, and its peers' allow lists follow.
cx rack params set internal_router=true -r b >/dev/null
like "$(cat "$CX_HOME/racks/b/routes.internal")" "allow 10\.1\.0\.0/16" "b's internal router admits its peer a"
out=$(cx rack uninstall a 2>&1); ok $? "uninstall a, still peered with b"
out=$(cx rack peers -r b 2>&1); rc=$?
is "$rc" 0 "cx rack peers -r b after a went"
lacks "$out" "^RACK" "10\.1\.0\.0" "b has no peering with a any more"
lacks "$(cat "$CX_HOME/racks/b/routes.internal")" "^cx-routes 1" "10\.1\.0\.0/16" "b's allow list dropped a's CIDR"
for r in b c; do cx rack uninstall "$r" >/dev/null 2>&1; done
check_no_leftovers
left=$(ip netns list | awk '{print $1}' | grep "^$PREFIX-" | tr '\n' ' ')
is "${PREFIX:-no prefix}:$left" "$PREFIX:" "no namespace of this lab ($PREFIX) is left"

done_testing
