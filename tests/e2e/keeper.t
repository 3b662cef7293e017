#!/usr/bin/env bash
# The keeper: a daemon killed with kill -9 comes back by itself, adopts the
# processes that still run (same PIDs, serving throughout), a daemon that
# cannot start is retried with growing delays, and a clean stop or an
# uninstall leaves neither keeper nor daemon.
. "$(dirname "$0")/lib.sh"

cx rack install local dev >/dev/null || { echo "Bail out! cannot install a rack"; exit 1; }
dir=$CX_HOME/racks/dev
kpid=$(cat "$dir/keeper.pid" 2>/dev/null)
dpid=$(cat "$dir/rackd.pid")
is "$(ps -o ppid= -p "$dpid" | tr -d ' ')" "$kpid" "the daemon runs under its keeper (pid $kpid)"
is "$(cat "/proc/$kpid/comm")" cx-keeper "...which is named cx-keeper"
like "$(cx rack ps -r dev)" "keeper +$kpid +running" "rack ps lists the keeper"
fds=$(ls -l "/proc/$kpid/fd" | awk 'NR > 1 { print $NF }' | grep -Ev '^(/dev/null|.*/rackd.log)$' | tr '\n' ' ')
is "$fds" "" "the keeper holds none of the daemon's descriptors (only /dev/null and the log)"

cx apps create app1 -r dev >/dev/null
cx deploy "$EXAMPLES/hello" -a app1 -r dev >/dev/null 2>&1; ok $? "deploy an app"
wait_for 10 ps_settled 1 -a app1 -r dev
url=$(cx services -a app1 -r dev --json | sed -n 's/.*"url":"\([^"]*\)".*/\1/p')
pid=$(cx ps -a app1 -r dev --json | sed -n 's/.*"pid":\([0-9]*\).*/\1/p' | head -1)

# Five kills: each time until the API answers and until the first reconcile
# pass of the new daemon (its log line), while a client asks the router.
( while :; do curl -s -o /dev/null -w '%{http_code}\n' --max-time 2 "$url/"; sleep 0.02; done > "$TMP/codes" ) &
loop=$!
track $loop
api_ms= rec_ms= back=0
for i in 1 2 3 4 5; do
	dpid=$(cat "$dir/rackd.pid")
	n=$(grep -c 'first reconcile pass done' "$dir/rackd.log")
	t0=$(date +%s%N)
	kill -9 "$dpid"
	for _ in $(seq 1 500); do
		[ "$(cat "$dir/rackd.pid" 2>/dev/null)" != "$dpid" ] && cx apps -r dev >/dev/null 2>&1 && break
		sleep 0.01
	done
	t1=$(date +%s%N)
	wait_for 5 sh -c "[ \$(grep -c 'first reconcile pass done' '$dir/rackd.log') -gt $n ]"
	# The line's own time (ms) against the kill's.
	stamp=$(grep 'first reconcile pass done' "$dir/rackd.log" | tail -1 | cut -d' ' -f1)
	t2=$(date -d "$stamp" +%s%N)
	if cx apps -r dev >/dev/null 2>&1 && [ "$(cat "$dir/rackd.pid")" != "$dpid" ]; then back=$((back + 1)); fi
	api_ms="$api_ms $(( (t1 - t0) / 1000000 ))"
	rec_ms="$rec_ms $(( (t2 - t0) / 1000000 ))"
	# Past KEEPER_STABLE_MS: each kill is of a daemon that ran, not a crash loop.
	sleep 5.3
done
median() { tr ' ' '\n' | grep . | sort -n | sed -n 3p; }
is "$back" 5 "after each of 5 kill -9 the daemon came back by itself and answers"
echo "# kill -9 to API answering (ms):$api_ms; median $(echo "$api_ms" | median)"
echo "# kill -9 to first reconcile pass (ms):$rec_ms; median $(echo "$rec_ms" | median)"
[ "$(echo "$api_ms" | median)" -lt 3000 ]; ok $? "...within 3 s (median)"
kill "$loop"; wait "$loop" 2>/dev/null
is "$(sort -u "$TMP/codes" | tr '\n' ' ')" "200 " "the app answered 200 through the router all along ($(wc -l < "$TMP/codes") requests)"
is "$(cx ps -a app1 -r dev --json | sed -n 's/.*"pid":\([0-9]*\).*/\1/p' | head -1)" "$pid" "the app's process is the same (pid $pid): adopted, not restarted"
kill -0 "$pid"; ok $? "...and it still runs"
is "$(cat "$dir/keeper.pid")" "$kpid" "one keeper throughout"

# A daemon that cannot start (its store is a directory): retried with
# growing delays, capped; once the store is back, it starts.
dpid=$(cat "$dir/rackd.pid")
mv "$dir/state.db" "$TMP/state.db"; mkdir "$dir/state.db"
before=$(grep -c 'starting it again in' "$dir/rackd.log")
kill -9 "$dpid"
sleep 6
delays=$(grep 'starting it again in' "$dir/rackd.log" | tail -n +$((before + 1)) | sed -n 's/.*starting it again in \([0-9]*\) ms.*/\1/p' | tr '\n' ' ')
echo "# restart delays (ms): $delays"
grow=$(echo "$delays" | awk '{ ok = NF >= 5; for (i = 3; i <= NF; i++) if ($i <= $(i-1)) ok = 0; print ok }')
is "$grow" 1 "a daemon that cannot start is retried with growing delays"
like "$(grep 'cx-rackd fatal' "$dir/rackd.log" | tail -1)" "state.db" "...and each failure says why in the rack's log"
is "$(awk -v cap=30000 '{ for (i = 1; i <= NF; i++) if ($i > cap) print "over" }' <<<"$delays")" "" "...at most 30 s apart"
kill -0 "$kpid"; ok $? "...by the same keeper"
rmdir "$dir/state.db"; mv "$TMP/state.db" "$dir/state.db"
wait_for 12 cx apps -r dev; ok $? "the store back, the daemon starts at the next try"
wait_for 5 ps_running 1 -a app1 -r dev
is "$(cx ps -a app1 -r dev --json | sed -n 's/.*"pid":\([0-9]*\).*/\1/p' | head -1)" "$pid" "...and adopts the same process"

# A clean stop (SIGTERM) is not restarted: the keeper goes with the daemon.
dpid=$(cat "$dir/rackd.pid")
kill "$dpid"; wait_for 5 gone "$kpid"; ok $? "a clean stop of the daemon ends its keeper"
gone "$dpid"; ok $? "...and nothing started it again"
[ ! -e "$dir/keeper.pid" ]; ok $? "...which removed keeper.pid"
cx-rackd --home "$CX_HOME" --rack dev --daemon; ok $? "the daemon starts again, with a new keeper"
kpid=$(cat "$dir/keeper.pid"); dpid=$(cat "$dir/rackd.pid")

cx rack uninstall dev >/dev/null; ok $? "uninstall"
gone "$kpid" && gone "$dpid"; ok $? "uninstall leaves no keeper (pid $kpid) and no daemon (pid $dpid)"
gone "$pid"; ok $? "...nor the app's process"
check_no_leftovers
done_testing
