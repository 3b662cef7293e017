#!/usr/bin/env bash
# Crash consistency: whatever instant the daemon dies at, no process runs
# that the rack does not know. The daemon is killed with SIGKILL at random
# instants (0-300 ms) of deploys, scales and env changes of an app of five
# processes; after each restart the processes on the host that bear the
# rack's mark (CX_RACK_PROCESS in their environment) are exactly those
# `cx ps` lists, no release is left `promoting`, and the next deploy works.
# CRASH_ROUNDS=30 for a longer run (10 by default).
#
# The daemon runs without its keeper here: the test starts it again itself
# right after each kill, so that the kills are not spaced by the keeper's
# back-off (keeper.t tests the keeper).
. "$(dirname "$0")/lib.sh"

rounds=${CRASH_ROUNDS:-10}
rack=crash
dir=$CX_HOME/racks/$rack
cx rack install local $rack >/dev/null || { echo "Bail out! cannot install a rack"; exit 1; }
kill -USR1 "$(cat "$dir/keeper.pid")"
wait_for 5 test ! -e "$dir/keeper.pid"; ok $? "the keeper lets go of the daemon"

app=$TMP/app
cp -r "$EXAMPLES/hello" "$app"
cat > "$app/convox.yml" <<'EOF'
environment:
  - GREETING=hello
services:
  web:
    build: .
    command: perl server.pl
    port: 3000
    health: /health
    scale:
      count: 3
  worker:
    build: .
    command: while :; do sleep 1; done
    scale:
      count: 2
EOF
cx apps create app1 -r $rack >/dev/null
cx deploy "$app" -a app1 -r $rack >/dev/null 2>&1; ok $? "deploy an app of two services, five processes"

# The app settled: running at its scale, nothing starting or stopping.
settled() {
	cx apps -r $rack 2>/dev/null | grep -Eq '^app1 +running ' &&
	    ! cx ps -a app1 -r $rack 2>/dev/null | grep -Eq ' (starting|stopping|unhealthy|crashed) '
}
wait_for 30 settled; ok $? "...which settles"

# The rack's mark: from the environment of a process it lists.
pid=$(cx ps -a app1 -r $rack --json | jq -r '.[0].pid')
mark=$(tr '\0' '\n' < "/proc/$pid/environ" | sed -n 's|^CX_RACK_PROCESS=\([0-9a-f]*\)/.*|\1|p')
like "$mark" '^[0-9a-f]{16}$' "processes bear the rack's mark in their environment"

# "ID PID" of each process on the host that bears the rack's mark and is the
# first child of its namespace's cx-init (the app's own process, the one the
# rack started; its children share its mark), and "ID" of every marked
# process, first or not.
host_leaders() {
	local f pid id ppid
	grep -aHoz "^CX_RACK_PROCESS=$mark/[^[:cntrl:]]*" /proc/[0-9]*/environ 2>/dev/null |
	    tr '\0' '\n' | while IFS= read -r f; do
		pid=${f#/proc/}; pid=${pid%%/*}
		id=${f##*/}
		ppid=$(awk '{ print $4 }' "/proc/$pid/stat" 2>/dev/null)
		[ -n "$ppid" ] && [ "$(cat "/proc/$ppid/comm" 2>/dev/null)" = cx-init ] &&
		    [ "$(awk '/^NSpid:/ { print $NF }' "/proc/$pid/status" 2>/dev/null)" = 2 ] &&
		    echo "$id $pid"
	done | sort
}
host_ids() {
	grep -aHoz "^CX_RACK_PROCESS=$mark/[^[:cntrl:]]*" /proc/[0-9]*/environ 2>/dev/null |
	    tr '\0' '\n' | sed 's|.*/||' | sort -u
}
ps_pairs() { cx ps -a app1 -r $rack --json | jq -r '.[] | "\(.id) \(.pid)"' | sort; }
ps_ids() { cx ps -a app1 -r $rack --json | jq -r '.[].id' | sort; }
# The host and the rack agree: what the first lists is exactly what the
# second finds, by id and pid.
agree() { [ "$(host_leaders)" = "$(ps_pairs)" ] && [ "$(host_ids)" = "$(ps_ids)" ]; }
is "$(host_leaders)" "$(ps_pairs)" "the host's marked processes are exactly those cx ps lists"

start_daemon() { cx-rackd --home "$CX_HOME" --rack $rack --daemon --no-keeper; }

# A record lost while the daemon is down: the process bearing the mark is
# stopped at the next start (with its children), the others are adopted.
dpid=$(cat "$dir/rackd.pid")
kill -9 "$dpid"; wait_for 5 gone "$dpid"
lost=$(sqlite3 "$dir/state.db" "SELECT id FROM processes WHERE service = 'worker' LIMIT 1")
lost_pid=$(sqlite3 "$dir/state.db" "SELECT pid FROM processes WHERE id = '$lost'")
lost_kids=$(pgrep -g "$lost_pid" | grep -vx "$lost_pid" | tr '\n' ' ')
# The store holds each process's cx-init; the app's own process (what cx ps
# shows, and what bears the mark) is its first child.
app_of() { awk '{ print $1 }' "/proc/$1/task/$1/children" 2>/dev/null; }
lost_app=$(app_of "$lost_pid")
kept=$(for p in $(sqlite3 "$dir/state.db" "SELECT pid FROM processes WHERE id <> '$lost'"); do
	app_of "$p"; done | sort | tr '\n' ' ')
sqlite3 "$dir/state.db" "DELETE FROM processes WHERE id = '$lost'"
# ...and a record of a start the daemon died in (pid 0, nothing forked yet).
sqlite3 "$dir/state.db" "INSERT INTO processes (id, app, service, release, pid, pid_start,
    shim_pid, port, address, command, started) SELECT 'web-deadbeef', app, service, release,
    0, 0, 0, port, address, command, started FROM processes WHERE service = 'web' LIMIT 1"
start_daemon; ok $? "the daemon starts again"
wait_for 5 gone "$lost_pid"; ok $? "a process whose record was lost is stopped (pid $lost_pid, $lost)"
left=0; for k in $lost_kids; do gone "$k" || left=$((left + 1)); done
is "$left" 0 "...with what it started (pids $lost_kids)"
like "$(grep -a "process $lost (pid $lost_app) of this rack had no record" "$dir/rackd.log")" "stopped it" \
    "...and the rack's log says so"
is "$(sqlite3 "$dir/state.db" "SELECT count(*) FROM processes WHERE id = 'web-deadbeef' OR pid = 0")" 0 \
    "a record of a start that never ran is removed"
wait_for 30 settled; ok $? "the app settles at its scale again"
now=$(ps_pairs | awk '{ print $2 }')
missing=; for k in $kept; do printf '%s\n' "$now" | grep -qx "$k" || missing="$missing $k"; done
is "$missing" "" "...the recorded processes adopted (same pids: $kept)"
wait_for 5 agree; ok $? "...and the host's marked processes are exactly those cx ps lists"

# The random kills.
bad_agree=0 bad_promoting=0 bad_deploy=0 bad_start=0 bad_settle=0 ops=
for i in $(seq 1 "$rounds"); do
	case $((RANDOM % 3)) in
	0) op="deploy"; cmd=(cx deploy "$app" -a app1 -r $rack) ;;
	1) op="scale web $((1 + RANDOM % 5))"; cmd=(cx scale web --count "${op##* }" -a app1 -r $rack) ;;
	2) op="env set"; cmd=(cx env set "GREETING=round$i" -a app1 -r $rack) ;;
	esac
	delay=$((RANDOM % 301))
	ops="$ops $op@${delay}ms;"
	dpid=$(cat "$dir/rackd.pid")
	timeout 60 "${cmd[@]}" >/dev/null 2>&1 &
	bg=$!
	track $bg
	sleep "$(printf '0.%03d' "$delay")"
	kill -9 "$dpid"
	wait_for 5 gone "$dpid"
	wait "$bg" 2>/dev/null
	start_daemon || bad_start=$((bad_start + 1))
	if ! wait_for 60 settled; then
		bad_settle=$((bad_settle + 1))
		echo "# round $i ($op after $delay ms): the app did not settle"
		cx ps -a app1 -r $rack 2>&1 | sed 's/^/#   /'
	fi
	if ! wait_for 5 agree; then
		bad_agree=$((bad_agree + 1))
		echo "# round $i ($op after $delay ms): host and cx ps differ"
		diff <(host_leaders) <(ps_pairs) | sed 's/^/#   /'
	fi
	if cx releases -a app1 -r $rack | grep -q ' promoting '; then
		bad_promoting=$((bad_promoting + 1))
		echo "# round $i ($op after $delay ms): a release is left promoting"
	fi
	if ! cx deploy "$app" -a app1 -r $rack >/dev/null 2>&1 || ! wait_for 30 settled ||
	    ! wait_for 5 agree; then
		bad_deploy=$((bad_deploy + 1))
		echo "# round $i ($op after $delay ms): the next deploy failed or left strays"
	fi
done
echo "# kills:$ops"
is "$bad_start" 0 "after each of $rounds kills the daemon starts again"
is "$bad_settle" 0 "...the app settles at its scale"
is "$bad_agree" 0 "...the host's marked processes are exactly those cx ps lists"
is "$bad_promoting" 0 "...no release is left promoting"
is "$bad_deploy" 0 "...and the next deploy works, leaving nothing behind"
echo "# unrecorded processes the restarts stopped: $(grep -ac 'of this rack had no record' "$dir/rackd.log")"
echo "# records of starts that never ran, removed: $(grep -ac 'is gone' "$dir/rackd.log")"

# Deleting the app, then the rack, leaves no process bearing the mark.
cx apps delete app1 -r $rack >/dev/null 2>&1; ok $? "apps delete"
wait_for 30 sh -c "! grep -aqz '^CX_RACK_PROCESS=$mark/' /proc/[0-9]*/environ 2>/dev/null"
ok $? "...leaves no process of the app on the host"
cx rack uninstall $rack >/dev/null; ok $? "uninstall"
check_no_leftovers
done_testing
