#!/usr/bin/env bash
# Resources on a VPC rack: each server runs in a network namespace of its own
# on the rack's bridge, where the app's processes (each in its own) reach it
# by the address in NAME_URL. examples/resources-demo is deployed, migrated,
# a row written through the router from the lab's internet; the daemon is
# killed with SIGKILL and a new one adopts the servers; the row is still
# there; uninstalling leaves no namespace behind.
. "$(dirname "$0")/lib.sh"

if [ "$(id -u)" -ne 0 ]; then
	echo "1..0 # SKIP VPC racks need root (network namespaces)"
	exit 0
fi
stop_resources() {
	local f
	for f in "$CX_HOME"/racks/*/apps/*/resources/*/pid; do
		[ -f "$f" ] && kill -9 "$(cut -d' ' -f1 "$f")" 2>/dev/null
	done
}
lab_cleanup() {
	stop_resources
	cx rack uninstall rv >/dev/null 2>&1
	if [ -n "${PREFIX:-}" ]; then
		for ns in $(ip netns list | awk '{print $1}' | grep "^$PREFIX-"); do ip netns del "$ns"; done
	fi
}
CX_LAB_CLEANUP=lab_cleanup

netns() { ip netns list | awk '{print $1}' | sort; }
netns >"$TMP/ns.before"
out=$(cx rack install local rv --vpc 10.213.0.0/16 2>&1)
ok $? "install a VPC rack" "$out" || { echo "Bail out! no VPC rack"; exit 1; }
PREFIX=$(lab_prefix)
RES=$CX_HOME/racks/rv/apps/shop/resources
cx apps create shop -r rv >/dev/null
out=$(cx deploy "$EXAMPLES/resources-demo" -a shop -r rv 2>&1)
ok $? "deploy the app with a postgres and a redis" "$out"
out=$(cx resources -a shop -r rv)
like "$out" "database +postgres +postgres://app:[0-9a-f]{32}@10\.213\.[0-9]+\.[0-9]+:5432/app +running" \
    "the postgres listens on an address of the rack's network" "$out"
like "$out" "cache +redis +redis://:[0-9a-f]{32}@10\.213\.[0-9]+\.[0-9]+:6379/0 +running" \
    "and the redis" "$out"
# What this rack made (other tests may make namespaces meanwhile: only ours count).
netns | comm -13 "$TMP/ns.before" - >"$TMP/ns.ours"
pgpid=$(cut -d' ' -f1 "$RES/database/pid")
[ "$(readlink "/proc/$pgpid/ns/net")" != "$(readlink /proc/self/ns/net)" ]
ok $? "the postgres runs in a network namespace of its own"
out=$(cx run -a shop -r rv web 'psql "$DATABASE_URL" -f migrate.sql' 2>&1)
ok $? "a migration through cx run, from the process's own namespace" "$out"
host=web.shop.rv.cx.test
out=$(cx net exec internet -- curl -s --max-time 10 -X POST "http://$host/notes?text=vpc-$$" 2>&1)
is "$out" "added; writes: 1" "a row written through the router, from the lab's internet"

rackpid=$(cat "$CX_HOME/racks/rv/rackd.pid")
redispid=$(cut -d' ' -f1 "$RES/cache/pid")
kill -9 "$rackpid"; wait_for 5 gone "$rackpid"
# The keeper starts a new daemon by itself.
wait_for 15 sh -c "p=\$(cat '$CX_HOME/racks/rv/rackd.pid' 2>/dev/null); [ -n \"\$p\" ] && [ \"\$p\" != $rackpid ] && cx apps -r rv >/dev/null 2>&1"
ok $? "daemon back after kill -9 (its keeper started pid $(cat "$CX_HOME/racks/rv/rackd.pid"))"
is "$(cut -d' ' -f1 "$RES/database/pid") $(cut -d' ' -f1 "$RES/cache/pid")" "$pgpid $redispid" \
    "it adopted both servers"
wait_for 10 sh -c "cx resources -a shop -r rv | grep -c running | grep -qx 2"
ok $? "both show running"
out=$(cx net exec internet -- curl -s --max-time 10 "http://$host/notes" 2>&1)
is "$out" "vpc-$$
writes: 1" "the row and the count are still there"
kill -9 "$pgpid"
wait_for 15 sh -c "[ \"\$(cut -d' ' -f1 '$RES/database/pid')\" != $pgpid ] && cx resources -a shop -r rv | grep -q 'database .* running'"
ok $? "a crashed postgres is started again in its namespace"
wait_for 10 sh -c "cx net exec internet -- curl -s --max-time 5 http://$host/notes | grep -q vpc-$$"
ok $? "with its data"

cx rack uninstall rv >/dev/null; ok $? "uninstall"
[ "$(wc -l <"$TMP/ns.ours")" -ge 3 ]; ok $? "the rack made namespaces (its own, its processes', its servers')" "$(cat "$TMP/ns.ours")"
left=$(netns | comm -12 "$TMP/ns.ours" -)
is "$left" "" "none of them is left after uninstalling"
nft list table inet cx-res >/dev/null 2>&1
[ $? -ne 0 ]; ok $? "nor did it after the restarts, imports and deletes"
check_no_leftovers
done_testing
