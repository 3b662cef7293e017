#!/usr/bin/env bash
# convox.yml timers: at the next minute the schedule matches, a one-off
# process of the timer's service runs the command with the service's
# environment, logs like any process, and goes; it is neither routed nor
# counted toward scale. Waits for one minute boundary (at most 65 s).
. "$(dirname "$0")/lib.sh"

cx rack install local dev >/dev/null || { echo "Bail out! cannot install a rack"; exit 1; }
cx apps create clock -r dev >/dev/null
out=$(cx deploy "$ROOT/tests/e2e/apps/timers" -a clock -r dev 2>&1); ok $? "deploy an app with timers"
ticked=1
for i in $(seq 1 130); do   # every 0.5 s, for at most 65 s
	cx logs -a clock -r dev --no-follow --since 1h | grep -q 'tick from web of clock' && { ticked=0; break; }
	sleep 0.5
done
ok $ticked "the every-minute timer ran its command with the service's environment"
logs=$(cx logs -a clock -r dev --no-follow --since 1h)
like "$logs" "service/web/timer-tick-[0-9a-f]{8} tick from web of clock" "its output is logged under its own process"
lacks "$logs" "tick from web of clock" "this never runs" "a timer whose schedule does not match does not run"
uid=$(sqlite3 "$CX_HOME/racks/dev/state.db" "SELECT uid_base FROM apps WHERE name = 'clock'")
if [ "$(id -u)" -eq 0 ]; then
	[ "${uid:-0}" -ge 65536 ]; ok $? "the app has ids of its own ($uid)"
	like "$logs" "tick from web of clock as uid $uid in /srv/app\$" "the timer's run is behind the app's walls: its uid, its build at /srv/app"
fi
# cx ps works, lists the service's process, and no timer's.
timer_gone() {
	local out
	out=$(cx ps -a clock -r dev) && printf '%s\n' "$out" | grep -Eq '^web-[0-9a-f]{8} +web +running ' &&
	    ! printf '%s\n' "$out" | grep -q timer-
}
wait_for 5 timer_gone; ok $? "the timer's process is gone once done" "$(cx ps -a clock -r dev 2>&1)"
is "$(ps_count running -a clock -r dev)" 1 "the service still runs its one process"
cx rack uninstall dev >/dev/null
check_no_leftovers
done_testing
