#!/usr/bin/env bash
# rolling.t — rolling promotion under steady load: wrk (-t1 -c8) through the
# rack's loopback router at an app of two processes, one wrk run per event
# (started a second before it, stopped with SIGINT a second after the rack
# has settled), for: a deploy at deployment 50/100 (batches of one), one at
# the default 50/200, an env change, scale 2->3->1, kill -9 of an
# app process, a release whose health check never passes (rolled back with
# its reason and last log lines, the old release serving), a rollback, and
# kill -9 of the daemon (its keeper brings it back). After each, wrk must
# report no non-2xx answer and no socket error; the numbers are printed as
# TAP comments. Then no process of the rack may be left after uninstall.
. "$(dirname "$0")/lib.sh"

WRK=${WRK:-/usr/bin/wrk}
[ -x "$WRK" ] || { echo "1..0 # SKIP wrk is not installed ($WRK)"; exit 0; }
APP=$ROOT/tests/e2e/apps/rolling

cx rack install local dev >/dev/null || { echo "Bail out! cannot install a rack"; exit 1; }
dir=$CX_HOME/racks/dev
cx apps create roll -r dev >/dev/null
out=$(cx deploy "$APP" -a roll -r dev 2>&1); ok $? "deploy the app (2 processes)" "$out"
wait_for 20 ps_settled 2 -a roll -r dev; ok $? "two processes run"
url=$(cx services -a roll -r dev --json | sed -n 's/.*"url":"\([^"]*\)".*/\1/p')
host=$(printf '%s' "$url" | sed -n 's,^http://\([^:]*\):[0-9]*$,\1,p')
port=${url##*:}
like "$(curl -s --max-time 5 -H "Host: $host" "http://127.0.0.1:$port/")" "^hello from [0-9]+" "the app answers through the router"

pids() { cx ps -a roll -r dev --json | tr '{' '\n' | sed -n 's/.*"pid":\([0-9]*\).*"status":"running".*/\1/p; s/.*"status":"running".*"pid":\([0-9]*\).*/\1/p' | sort -u | tr '\n' ' '; }

# load_start NAME: wrk in the background for up to 120 s.
load_start() {
	timeout 150 "$WRK" -t1 -c8 -d120s --timeout 5s -H "Host: $host" "http://127.0.0.1:$port/" \
	    >"$TMP/wrk-$1" 2>&1 &
	WRK_PID=$!
	track "$WRK_PID"
	sleep 1
}
# load_stop NAME: stops wrk a second after the event; checks and notes its report.
load_stop() {
	local f=$TMP/wrk-$1 reqs non2xx sock
	sleep 1
	kill -INT "$WRK_PID" 2>/dev/null
	wait "$WRK_PID" 2>/dev/null
	reqs=$(sed -n 's/^ *\([0-9]*\) requests in .*/\1/p' "$f")
	non2xx=$(sed -n 's/^ *Non-2xx or 3xx responses: *\([0-9]*\).*/\1/p' "$f")
	sock=$(sed -n 's/^ *Socket errors: *\(.*\)$/\1/p' "$f")
	note "$1: ${reqs:-?} requests, non-2xx ${non2xx:-0}, socket errors ${sock:-none}"
	ok $([ -n "$reqs" ] && [ "$reqs" -gt 0 ] && [ -z "$non2xx" ] && [ -z "$sock" ]; echo $?) \
	    "$1: every request under load answered 2xx, no socket error" "$(cat "$f")"
}
settled() { # settled N: N running, none stopping nor starting
	local out
	out=$(cx ps -a roll -r dev 2>/dev/null) || return 1
	[ "$(printf '%s\n' "$out" | grep -c ' running ')" = "$1" ] &&
	    ! printf '%s\n' "$out" | grep -qE ' (stopping|starting|unhealthy) '
}

# 1. A deploy at deployment 50/100: at most 2 of the count of 2 run at once,
# so an old one leaves (drains, stops) before each new one starts, and one
# always serves. The app logs "listening" when it starts and "drained" as it
# goes: their running sum is how many ran at once.
cp -r "$APP" "$TMP/app-50-100"
sed -i 's/^    port: 3000$/&\n    deployment:\n      minimum: 50\n      maximum: 100/' "$TMP/app-50-100/convox.yml"
load_start deploy-50-100
out=$(cx deploy "$TMP/app-50-100" -a roll -r dev 2>&1); ok $? "deploy at 50/100 under load" "$out"
wait_for 20 settled 2; ok $? "...two processes again"
load_stop deploy-50-100
logs=$(cx logs -a roll -r dev --no-follow --since 1h)
peak=$(printf '%s\n' "$logs" | awk '/ listening on /{n++; if (n > m) m = n} / drained$/{n--} END{print m + 0}')
is "$peak" 2 "...never more than 2 processes at once"
is "$(printf '%s\n' "$logs" | grep -c ' listening on ')" 4 "...two old, two new"

# 2. A deploy at the default 50/200: the new ones start at once, beside the old.
old=$(pids)
load_start deploy
out=$(cx deploy "$APP" -a roll -r dev 2>&1); ok $? "deploy under load" "$out"
wait_for 20 settled 2; ok $? "...two processes again"
load_stop deploy
new=$(pids)
ok $([ -n "$new" ] && [ -z "$(comm -12 <(echo $old | tr ' ' '\n' | sort) <(echo $new | tr ' ' '\n' | sort))" ]; echo $?) "...new processes replaced the old ones" "old: $old" "new: $new"
like "$(cx logs -a roll -r dev --no-follow --since 1h)" "drained" "...and the old ones finished in their grace"

# 3. An env change: a new release of the same build.
load_start env
out=$(cx env set GREETING=howdy --promote -a roll -r dev 2>&1); ok $? "env set under load" "$out"
wait_for 20 settled 2; ok $? "...two processes again"
load_stop env
like "$(curl -s --max-time 5 -H "Host: $host" "http://127.0.0.1:$port/")" "^howdy from" "...the new env serves"

# 4. Scale 2 -> 3 -> 1: a scale-down drains before it stops.
load_start scale-up
cx scale web --count 3 -a roll -r dev >/dev/null 2>&1; ok $? "scale to 3 under load"
wait_for 20 settled 3; ok $? "...three run"
load_stop scale-up
load_start scale-down
cx scale web --count 1 -a roll -r dev >/dev/null 2>&1; ok $? "scale to 1 under load"
wait_for 20 settled 1; ok $? "...one runs"
load_stop scale-down
cx scale web --count 2 -a roll -r dev >/dev/null 2>&1
wait_for 20 settled 2; ok $? "back to 2"

# 5. kill -9 of an app process: the router sends its requests to the other;
# the rack replaces it. Time from the kill to the replacement serving.
victim=$(pids | awk '{print $1}')
load_start kill-process
t0=$(date +%s%N)
kill -9 "$victim"
replaced() { settled 2 && ! pids | grep -qw "$victim"; }
wait_for 30 replaced; ok $? "the killed process is replaced"
t1=$(date +%s%N)
load_stop kill-process
note "kill -9 of a process to its replacement serving: $(( (t1 - t0) / 1000000 )) ms"

# 6. A release whose health check never passes: rolled back with its reason
# and last log lines; the old release keeps serving throughout.
load_start unhealthy
before=$(pids)
out=$(timeout 60 cx env set FAIL_HEALTH=1 --promote -a roll -r dev 2>&1); rc=$?
ok $([ "$rc" -ne 0 ]; echo $?) "a release that never gets healthy fails" "exit $rc" "$out"
like "$out" "did not pass its health check" "...naming the reason"
like "$out" "FAIL_HEALTH" "...with the process's last log lines"
wait_for 20 settled 2; ok $? "...two processes of the old release run"
load_stop unhealthy
is "$(pids)" "$before" "...the same ones as before"
like "$(curl -s --max-time 5 -H "Host: $host" "http://127.0.0.1:$port/")" "^howdy from" "...and the old release answers"

# 7. A rollback to the first release.
first=$(cx releases -a roll -r dev --json | tr '{' '\n' | sed -n 's/.*"id":"\(R[A-Z0-9]*\)".*/\1/p' | tail -1)
load_start rollback
out=$(cx releases rollback "$first" -a roll -r dev 2>&1); ok $? "rollback to $first under load" "$out"
wait_for 20 settled 2; ok $? "...two processes again"
load_stop rollback
like "$(curl -s --max-time 5 -H "Host: $host" "http://127.0.0.1:$port/")" "^hello from" "...the first release's env serves again"

# 8. kill -9 of the daemon: the keeper brings it back, it adopts the
# processes, nothing is lost.
before=$(pids)
dpid=$(cat "$dir/rackd.pid")
load_start kill-daemon
t0=$(date +%s%N)
kill -9 "$dpid"
back() { [ "$(cat "$dir/rackd.pid" 2>/dev/null)" != "$dpid" ] && cx apps -r dev >/dev/null 2>&1; }
wait_for 20 back; ok $? "the daemon is back after kill -9"
t1=$(date +%s%N)
wait_for 20 settled 2
load_stop kill-daemon
note "kill -9 of the daemon to its API answering: $(( (t1 - t0) / 1000000 )) ms"
is "$(pids)" "$before" "...it adopted the same processes"

cx rack uninstall dev >/dev/null
check_no_leftovers
done_testing
