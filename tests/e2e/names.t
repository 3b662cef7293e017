#!/usr/bin/env bash
# Convox's service names inside a VPC rack: from web's processes (its own,
# serving, and `cx run web`), api answers by the bare name `api`, by
# api.APP.RACK.local and by api.RACK-APP.svc.cluster.local, neither service
# being internal nor routed; the names follow scale changes, a service with
# no healthy process does not resolve (NXDOMAIN), and another app of the
# rack reaches api by its full name but not by the bare one. Needs root
# (network namespaces); everything it makes goes at exit, even on failure.
. "$(dirname "$0")/lib.sh"

if [ "$(id -u)" -ne 0 ]; then
	echo "1..0 # SKIP VPC racks need root (network namespaces)"
	exit 0
fi
lab_cleanup() { cx rack uninstall n >/dev/null 2>&1; }
CX_LAB_CLEANUP=lab_cleanup

try() { "$@" 2>&1; }
# run_in APP SCRIPT: SCRIPT by sh in a one-off process of APP's web.
run_in() { cx run web -a "$1" -r n -- sh -c "$2" 2>&1; }
# What getaddrinfo says of a name, from a process of APP: its addresses,
# sorted, or its error (EAI_NONAME's text is how NXDOMAIN reaches a program).
RESOLVE='perl -MSocket=:addrinfo,SOCK_STREAM -e '\''my ($e, @r) = getaddrinfo($ARGV[0], 0, {socktype => SOCK_STREAM}); if ($e) { print "error: $e\n"; exit 2 } my %a = map { ((getnameinfo($_->{addr}, NI_NUMERICHOST))[1]) => 1 } @r; print join(" ", sort keys %a), "\n"'\'''
resolve() { run_in "$1" "$RESOLVE $2"; }
# The addresses of APP's running SERVICE processes, sorted, as cx ps says.
addrs_of() {
	cx ps -a "$1" -r n --json | tr '{' '\n' | grep "\"service\":\"$2\"" | grep '"status":"running"' |
	    sed -n 's/.*"address":"\([0-9.]*\)".*/\1/p' | sort | tr '\n' ' ' | sed 's/ $//'
}

out=$(try cx rack install local n --vpc 10.71.0.0/16); ok $? "install VPC rack n" "$out"
cx apps create shop -r n >/dev/null && cx apps create other -r n >/dev/null
out=$(try cx deploy "$EXAMPLES/hello" -m "$ROOT/tests/e2e/apps/names/convox.yml" -a shop -r n)
ok $? "deploy shop: api and web, neither internal" "$out"
api=$(addrs_of shop api)
like "$api" '^10\.71\.[0-9]+\.[0-9]+$' "api has one process with a VPC address ($api)"

out=$(run_in shop 'cat /etc/resolv.conf')
like "$out" "search shop\.n\.local n-shop\.svc\.cluster\.local" "web's processes search the app's two domains" "$out"

for url in http://api:3000/ http://api.shop.n.local:3000/ http://api.n-shop.svc.cluster.local:3000/; do
	out=$(run_in shop "curl -s --max-time 3 $url")
	like "$out" "^hello from shop/api" "cx run web: $url answers from api's process" "$out"
done
is "$(resolve shop api)" "$api" "the bare name api is api's process address"
is "$(resolve shop api.n-shop.svc.cluster.local)" "$api" "...and so is its Kubernetes name"

# web's own serving process calls api by bare name (server.pl's /call),
# asked from the rack itself: web is on no router either.
web=$(addrs_of shop web)
out=$(try cx net exec n -- curl -s --max-time 5 "http://$web:3000/call?url=http://api:3000/")
like "$out" "hello from shop/api" "web's serving process reaches http://api:3000/" "$out"
exits_with "7|28" "the internet still never reaches a process address (no route, or dropped)" \
    cx net exec internet -- curl -s --max-time 1 "http://$api:3000/"

out=$(resolve shop nothing.shop.n.local); rc=$?
like "$out" "error: Name or service not known" "a name no service has is NXDOMAIN" "$out"
out=$(resolve shop nothing)
like "$out" "error: Name or service not known" "...bare, too" "$out"

# Scale: the records follow the healthy processes.
out=$(try cx scale api --count 2 -a shop -r n); ok $? "scale api to 2" "$out"
want=$(addrs_of shop api)
like "$want" '^10\.71\.[0-9.]+ 10\.71\.[0-9.]+$' "api has two processes ($want)"
wait_for 10 sh -c "[ \"\$(cx net exec n -- getent ahostsv4 api.shop.n.local | awk '{print \$1}' | sort -u | tr '\n' ' ')\" = '$want ' ]"
ok $? "api.shop.n.local answers both"
is "$(resolve shop api)" "$want" "...and a process of web sees both under the bare name"
out=$(try cx scale api --count 0 -a shop -r n); ok $? "scale api to 0" "$out"
wait_for 10 sh -c "! cx net exec n -- getent hosts api.shop.n.local"
ok $? "api.shop.n.local goes away with api's last process"
out=$(resolve shop api)
like "$out" "error: Name or service not known" "a service with no healthy process: NXDOMAIN" "$out"
out=$(resolve shop api.n-shop.svc.cluster.local)
like "$out" "error: Name or service not known" "...under its Kubernetes name too" "$out"
out=$(try cx scale api --count 1 -a shop -r n); ok $? "scale api back to 1" "$out"
api=$(addrs_of shop api)
wait_for 10 sh -c "[ \"\$(cx net exec n -- getent hosts api.shop.n.local | awk '{print \$1}')\" = '$api' ]"
ok $? "api.shop.n.local answers its new process ($api)"

# Another app of the rack: api by full name (Convox's names are rack-wide),
# not by the bare one (its search list is its own app's).
out=$(try cx deploy "$EXAMPLES/hello" -a other -r n); ok $? "deploy app other (web only)" "$out"
out=$(run_in other 'cat /etc/resolv.conf')
like "$out" "search other\.n\.local n-other\.svc\.cluster\.local" "other's processes search other's domains"
out=$(run_in other 'curl -s --max-time 3 http://api.shop.n.local:3000/')
like "$out" "^hello from shop/api" "other reaches shop's api by its full name" "$out"
out=$(resolve other api)
like "$out" "error: Name or service not known" "...but the bare api is not other's" "$out"
out=$(run_in other 'curl -s --max-time 3 http://web:3000/')
like "$out" "^hello from other/web" "other's bare web is its own web" "$out"

# Deleting an app takes its names and its resolv.conf.
out=$(try cx apps delete other -r n); ok $? "delete app other" "$out"
wait_for 10 sh -c "! cx net exec n -- getent hosts web.other.n.local"
ok $? "other's names go with it"
wait_for 10 sh -c "[ ! -e '$CX_HOME/lab/resolv.d/n/other.conf' ]"
ok $? "...and so does its resolv.conf"

out=$(try cx rack uninstall n); ok $? "uninstall n" "$out"
[ ! -e "$CX_HOME/lab/resolv.d/n" ]; ok $? "the rack's resolv.conf files are gone"
check_no_leftovers
done_testing
