#!/usr/bin/env bash
# Containment (issue 11 item 5): every app process is PID 1 of a PID
# namespace of its own (cx-init, which runs the app's own process), so
# stopping it stops all it started, setsid or not, SIGTERM ignored or not;
# and it runs in control groups of its own, so scale.memory kills it when it
# takes more, and a fork bomb meets process_pids_max while another app
# keeps serving. `cx ps --json`'s pid is the app's own process.
. "$(dirname "$0")/lib.sh"

if [ "$(id -u)" -ne 0 ]; then
	echo "1..0 # SKIP PID namespaces and control groups need a rack run as root"
	exit 0
fi
cx rack install local dev >/dev/null || { echo "Bail out! cannot install a rack"; exit 1; }
RACK=$CX_HOME/racks/dev

out=$(cx rack -r dev)
like "$out" 'Cgroups +v[12]' "cx rack says which cgroups enforce the limits" "$out"
mode=$(cx rack -r dev --json | jq -r .cgroups)
like "$mode" '^v[12]$' "...in its JSON too"
# The rack's groups, one a hierarchy (v1) or one (v2): RACK_DIR/cgroups.
groups=$(awk 'NR > 1 { print $2 }' "$RACK/cgroups")
like "$groups" "^/sys/fs/cgroup/.*/cx-dev-[0-9a-f]{8}" "the rack's groups are listed" "$groups"
mem_dir=$(awk '$1 == "memory" || $1 == "-" { print $2 }' "$RACK/cgroups")
pids_dir=$(awk '$1 == "pids" || $1 == "-" { print $2 }' "$RACK/cgroups")

app=$TMP/tree
cp -r "$ROOT/tests/e2e/apps/contain" "$app" && cp "$EXAMPLES/hello/server.pl" "$app/"
cx apps create tree -r dev >/dev/null
out=$(cx deploy "$app" -a tree -r dev 2>&1)
ok $? "deploy an app whose processes leave setsid children behind" "$out"
wait_for 20 ps_settled 4 -a tree -r dev; ok $? "...its four processes run"

# pid_of SERVICE: the pid cx ps --json gives its process.
pid_of() { cx ps -a tree -r dev --json | jq -r ".[] | select(.service == \"$1\") | .pid"; }
# marked ID: the host pids of every process that bears process ID's mark in
# its environment (the app's process and all it started).
marked() {
	grep -laz "^CX_RACK_PROCESS=[0-9a-f]*/$1\$" /proc/[0-9]*/environ 2>/dev/null |
	    sed 's|/proc/\([0-9]*\)/environ|\1|' | sort -n | tr '\n' ' '
}
id_of() { cx ps -a tree -r dev --json | jq -r ".[] | select(.service == \"$1\") | .id"; }

tpid=$(pid_of tree)
tid=$(id_of tree)
cmd=$(tr '\0' ' ' < "/proc/$tpid/cmdline" 2>/dev/null)
like "$cmd" '^perl tree\.pl' "cx ps --json's pid is the app's own process (its cmdline)" "$cmd"
ppid=$(awk '{ print $4 }' "/proc/$tpid/stat")
is "$(cat "/proc/$ppid/comm" 2>/dev/null)" "cx-init" "...whose parent is cx-init"
is "$(tr '\0' '\n' < "/proc/$ppid/environ" | wc -l)" 0 "cx-init carries none of the app's environment"
out=$(cx exec "$tid" -a tree -r dev -- sh -c 'cat /proc/1/comm; ls -d /proc/[0-9]* | wc -l' 2>&1)
like "$out" '^cx-init' "cx exec runs in the process's PID namespace (its /proc/1 is cx-init)" "$out"
out=$(cx exec "$tid" -a tree -r dev -- cat /proc/self/cgroup 2>&1)
like "$out" "pids:.*/$tid\$" "...and in the process's own groups: its limits hold there too" "$out"
nspid=$(awk '/^NSpid:/ { print $NF }' "/proc/$tpid/status")
is "$nspid" 2 "the app's process is pid 2 of a PID namespace of its own"
wait_for 10 sh -c "cx logs --no-follow -s tree -a tree -r dev | grep -q 'child .* in session'"
ok $? "its child called setsid"
procs=$(marked "$tid")
n=$(echo $procs | wc -w)
is "$n" 2 "the tree process and its setsid child run ($procs)"
child=$(echo $procs | tr ' ' '\n' | grep -vx "$tpid")
sid_child=$(awk '{ print $6 }' "/proc/$child/stat" 2>/dev/null)
sid_app=$(awk '{ print $6 }' "/proc/$tpid/stat" 2>/dev/null)
ok $([ -n "$sid_child" ] && [ "$sid_child" != "$sid_app" ]; echo $?) \
    "...the child in a session of its own ($sid_child, the app's $sid_app)"
for d in $groups; do
	[ -d "$d/$tid" ] || { ok 1 "process $tid has a group in $d"; continue; }
	grep -qx "$tpid" "$d/$tid/cgroup.procs"; ok $? "the app's process is in its group in ${d%/cx-*}"
done
is "$(cat "$mem_dir/$tid/memory.limit_in_bytes" 2>/dev/null || cat "$mem_dir/$tid/memory.max")" \
    $((512 << 20)) "its memory limit is scale.memory's default, 512 MB"
is "$(cat "$pids_dir/$tid/pids.max")" 512 "its pids.max is process_pids_max's default, 512"
cpu_dir=$(awk '$1 == "cpu" || $1 == "-" { print $2 }' "$RACK/cgroups")
if [ "$mode" = v1 ]; then
	is "$(cat "$cpu_dir/$tid/cpu.shares") $(cat "$cpu_dir/$tid/cpu.cfs_quota_us")" "256 -1" \
	    "its cpu share is scale.cpu's default (250 of 1000 a core: 256 shares of 1024), no cap"
else
	is "$(cat "$cpu_dir/$tid/cpu.max")" "max 100000" "scale.cpu unwritten: no cpu cap"
fi

# Scaled to 0: the process and its setsid child go.
out=$(cx scale tree --count 0 -a tree -r dev 2>&1); ok $? "scale tree to 0" "$out"
wait_for 10 sh -c "[ -z \"\$(grep -laz '^CX_RACK_PROCESS=[0-9a-f]*/$tid\$' /proc/[0-9]*/environ 2>/dev/null)\" ]"
ok $? "...its process and the child it left in its own session are gone" "left: $(marked "$tid")"
gone "$child"; ok $? "...the setsid child ($child) is gone"
wait_for 5 sh -c "! ls -d $(for d in $groups; do printf '%s ' "$d/$tid"; done) 2>/dev/null"
ok $? "...and so are its groups"

# One that ignores SIGTERM, and its child too: stopped after its grace (2 s).
spid=$(pid_of stubborn)
sid=$(id_of stubborn)
wait_for 10 sh -c "[ \$(grep -laz '^CX_RACK_PROCESS=[0-9a-f]*/$sid\$' /proc/[0-9]*/environ 2>/dev/null | wc -l) = 2 ]"
ok $? "the stubborn process runs with its setsid child"
sig=$(awk '/^SigIgn:/ { print $2 }' "/proc/$spid/status")
ok $(( (0x$sig >> 14) & 1 == 1 ? 0 : 1 )) "...ignoring SIGTERM (SigIgn $sig)"
start=$(date +%s)
out=$(cx scale stubborn --count 0 -a tree -r dev 2>&1); ok $? "scale stubborn to 0" "$out"
sleep 1
ok $([ -n "$(marked "$sid")" ]; echo $?) "...a second on it still runs (it ignores SIGTERM)"
wait_for 15 sh -c "[ -z \"\$(grep -laz '^CX_RACK_PROCESS=[0-9a-f]*/$sid\$' /proc/[0-9]*/environ 2>/dev/null)\" ]"
ok $? "...then it and its child are gone, SIGTERM ignored or not" "left: $(marked "$sid")"
el=$(( $(date +%s) - start ))
ok $([ "$el" -le 8 ]; echo $?) "...within its grace and a little ($el s)"

# One whose own process leaves when stopped, its child staying for its grace
# (3 s): cx ps's pid is still the app's process, not the orphan.
opid=$(pid_of orphaning)
oid=$(id_of orphaning)
wait_for 10 sh -c "[ \$(grep -laz '^CX_RACK_PROCESS=[0-9a-f]*/$oid\$' /proc/[0-9]*/environ 2>/dev/null | wc -l) = 2 ]"
ok $? "the orphaning process runs with its setsid child"
out=$(cx scale orphaning --count 0 -a tree -r dev 2>&1); ok $? "scale orphaning to 0" "$out"
wait_for 5 gone "$opid"; ok $? "...its own process ($opid) leaves at once"
ok $([ -n "$(marked "$oid")" ]; echo $?) "...its child still runs (it ignores SIGTERM)"
got=$(pid_of orphaning)
is "$got" "$opid" "...and cx ps's pid is the app's process, not the child it left"
wait_for 15 sh -c "[ -z \"\$(grep -laz '^CX_RACK_PROCESS=[0-9a-f]*/$oid\$' /proc/[0-9]*/environ 2>/dev/null)\" ]"
ok $? "...then the child goes too" "left: $(marked "$oid")"

# apps delete: nothing of the app is left.
out=$(cx scale tree --count 1 -a tree -r dev 2>&1) && wait_for 20 ps_settled 2 -a tree -r dev
ok $? "scale tree back to 1" "$out"
tid=$(id_of tree)
wait_for 10 sh -c "[ \$(grep -laz '^CX_RACK_PROCESS=[0-9a-f]*/$tid\$' /proc/[0-9]*/environ 2>/dev/null | wc -l) = 2 ]"
ok $? "...with its setsid child"
mark=$(tr '\0' '\n' < "/proc/$(pid_of tree)/environ" | sed -n 's|^CX_RACK_PROCESS=\([0-9a-f]*\)/.*|\1|p')
out=$(cx apps delete tree -r dev 2>&1); ok $? "apps delete tree" "$out"
wait_for 15 sh -c "[ -z \"\$(grep -laz '^CX_RACK_PROCESS=$mark/' /proc/[0-9]*/environ 2>/dev/null)\" ]"
ok $? "...leaves no process of the rack's running" "left: $(grep -laz "^CX_RACK_PROCESS=$mark/" /proc/[0-9]*/environ 2>/dev/null)"
groups_empty() { [ -z "$(for d in $groups; do find "$d" -mindepth 1 -type d; done)" ]; }
wait_for 5 groups_empty
ok $? "...nor any process's group" "$(for d in $groups; do find "$d" -mindepth 1 -type d; done)"

# Another app that serves while the next ones misbehave.
web=$TMP/web
cp -r "$ROOT/tests/e2e/apps/contain" "$web" && cp "$EXAMPLES/hello/server.pl" "$web/"
printf 'services:\n  web:\n    build: .\n    command: perl server.pl\n    port: 3000\n    health: /health\n    scale:\n      cpu: 500\n' \
    > "$web/convox.yml"
cx apps create calm -r dev >/dev/null
out=$(cx deploy "$web" -a calm -r dev 2>&1); ok $? "deploy a calm app" "$out"
port=$(cx rack params -r dev --json | jq -r .router_port)
serves() { [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 3 -H 'Host: web.calm.dev.localhost' "http://127.0.0.1:$port/")" = 200 ]; }
wait_for 20 serves; ok $? "...which serves through the router"
cid=$(cx ps -a calm -r dev --json | jq -r '.[0].id')
if [ "$mode" = v1 ]; then
	is "$(cat "$cpu_dir/$cid/cpu.shares") $(cat "$cpu_dir/$cid/cpu.cfs_quota_us") $(cat "$cpu_dir/$cid/cpu.cfs_period_us")" \
	    "512 50000 100000" "scale.cpu 500 written: 512 shares and a cap of half a core"
else
	is "$(cat "$cpu_dir/$cid/cpu.max")" "50000 100000" "scale.cpu 500 written: a cap of half a core"
fi

# An app's own exit code above 128 is an exit, not a signal (cx-init passes
# the app's own status on); a death by a signal is still one.
out=$(timeout 60 cx run web -a calm -r dev -- sh -c 'exit 130' 2>&1); rc=$?
is "$rc" 130 "cx run of \`exit 130\` exits 130" "$out"
wait_for 10 sh -c "cx logs --no-follow -a calm -r dev | grep -q 'exited with status 130'"
ok $? "...and the rack says it exited with status 130" "$(cx logs --no-follow -a calm -r dev 2>&1 | tail -4)"
lacks "$(cx logs --no-follow -a calm -r dev 2>&1)" 'exited with status 130' 'killed by signal 2' \
    "...not that it was killed by signal 2"
out=$(timeout 60 cx run web -a calm -r dev -- sh -c 'kill -9 0' 2>&1); rc=$?
is "$rc" 137 "cx run of a shell that SIGKILLs its process group (itself) exits 128+9" "$out"
wait_for 10 sh -c "cx logs --no-follow -a calm -r dev | grep -q 'was killed by signal 9'"
ok $? "...and the rack says it was killed by signal 9" "$(cx logs --no-follow -a calm -r dev 2>&1 | tail -4)"

# Over its scale.memory: killed by the kernel, and its log says so.
hog=$TMP/hog
cp -r "$ROOT/tests/e2e/apps/contain" "$hog" && cp "$EXAMPLES/hello/server.pl" "$hog/"
printf 'services:\n  hog:\n    build: .\n    command: perl hog.pl\n    scale:\n      memory: 64\n' \
    > "$hog/convox.yml"
cx apps create hog -r dev >/dev/null
out=$(cx deploy "$hog" -a hog -r dev 2>&1); ok $? "deploy an app that takes ever more memory, scale.memory 64" "$out"
wait_for 30 sh -c "cx logs --no-follow -a hog -r dev | grep -q 'out of memory'"
ok $? "...it is killed, and its log says it was out of memory" "$(cx logs --no-follow -a hog -r dev 2>&1 | tail -8)"
out=$(cx logs --no-follow -a hog -r dev 2>&1)
like "$out" 'killed by the kernel: out of memory \(its scale.memory, 64 MB\)' "...naming its limit"
lacks "$out" 'holding 16 MB' 'holding (1[0-9][0-9]|[2-9][0-9][0-9]) MB|still alive' \
    "...before it could hold 100 MB"
cx apps delete hog -r dev >/dev/null 2>&1

# A fork bomb meets pids.max; the calm app keeps serving.
out=$(cx rack params set process_pids_max=64 -r dev 2>&1); ok $? "process_pids_max=64" "$out"
out=$(cx rack params set process_pids_max=3 -r dev 2>&1); rc=$?
ok $([ $rc -ne 0 ]; echo $?) "process_pids_max=3 is refused" "$out"
like "$out" 'process_pids_max' "...naming the param"
bomb=$TMP/bomb
cp -r "$ROOT/tests/e2e/apps/contain" "$bomb" && cp "$EXAMPLES/hello/server.pl" "$bomb/"
printf 'services:\n  bomb:\n    build: .\n    command: timeout 20 perl bomb.pl\n' > "$bomb/convox.yml"
cx apps create bomb -r dev >/dev/null
out=$(cx deploy "$bomb" -a bomb -r dev 2>&1); ok $? "deploy a fork bomb (timeout 20)" "$out"
bid=$(cx ps -a bomb -r dev --json | jq -r '.[0].id')
wait_for 15 sh -c "grep -q '^max [1-9]' '$pids_dir/$bid/pids.events' 2>/dev/null || grep -q 'max [1-9]' '$pids_dir/$bid/pids.events'"
ok $? "...it reaches pids.max" "$(cat "$pids_dir/$bid/pids.events" 2>&1)"
cur=$(cat "$pids_dir/$bid/pids.current" 2>/dev/null)
ok $([ -n "$cur" ] && [ "$cur" -le 64 ]; echo $?) "...and holds no more than 64 tasks ($cur)"
fails=0
for _ in 1 2 3 4 5; do serves || fails=$((fails + 1)); sleep 0.2; done
is "$fails" 0 "the calm app serves through the router during the bomb"
wait_for 10 sh -c "cx logs --no-follow -a bomb -r dev | grep -q 'fork failed'"
ok $? "...the bomb's forks fail"
out=$(cx apps delete bomb -r dev 2>&1); ok $? "apps delete bomb" "$out"
wait_for 15 sh -c "[ ! -d '$pids_dir/$bid' ]"
ok $? "...its processes and its group are gone" "$(cat "$pids_dir/$bid/pids.current" 2>&1)"

# A process that ends while no daemon watches: the next daemon removes its
# groups.
wid=$(cx ps -a calm -r dev --json | jq -r '.[0].id')
wpid=$(cx ps -a calm -r dev --json | jq -r '.[0].pid')
winit=$(awk '{ print $4 }' "/proc/$wpid/stat")
ok $([ -d "$pids_dir/$wid" ]; echo $?) "the calm process has its group"
kill -USR1 "$(cat "$RACK/keeper.pid")"
wait_for 5 test ! -e "$RACK/keeper.pid"; ok $? "the keeper lets go of the daemon"
dpid=$(cat "$RACK/rackd.pid")
kill -9 "$dpid"; wait_for 5 gone "$dpid"; ok $? "kill -9 the daemon"
kill -9 "$winit"; wait_for 5 gone "$wpid"; ok $? "...then the calm process's cx-init: its app goes with it"
cx-rackd --home "$CX_HOME" --rack dev --daemon --no-keeper; ok $? "the daemon starts again"
wait_for 10 sh -c "[ ! -d '$pids_dir/$wid' ] && [ ! -d '$mem_dir/$wid' ]"
ok $? "...and removes the groups of the process that ended while it was down"
wait_for 20 serves; ok $? "...and the calm app serves again"

# A cx exec still running when the rack goes: uninstall ends it (the
# process's namespace cannot end while the daemon's exec child is unreaped).
cid=$(cx ps -a calm -r dev --json | jq -r '.[0].id')
timeout 60 cx exec "$cid" -a calm -r dev -- sleep 300 >/dev/null 2>&1 &
xpid=$!
track $xpid
wait_for 10 sh -c "pgrep -f '^sleep 300$' >/dev/null"; ok $? "a cx exec runs in the calm process (sleep 300)"
t0=$(date +%s)
out=$(timeout 60 cx rack uninstall dev 2>&1); rc=$?
ok $rc "uninstall, with the cx exec running, ends (in $(( $(date +%s) - t0 )) s)" "$out"
wait_for 10 gone "$xpid"; ok $? "...and the cx exec client is answered and exits"
left=$(for d in $groups; do [ -e "$d" ] && echo "$d"; done)
is "$left" "" "uninstall removes the rack's groups"
check_no_leftovers
done_testing
