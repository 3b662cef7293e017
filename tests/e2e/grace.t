#!/usr/bin/env bash
# A stopped process gets its termination grace: SIGTERM, time to finish, and
# only then SIGKILL — for the app itself, not just the shell that started it.
. "$(dirname "$0")/lib.sh"

cx rack install local dev >/dev/null || { echo "Bail out! cannot install a rack"; exit 1; }
cx apps create grace -r dev >/dev/null
out=$(cx deploy "$ROOT/tests/e2e/apps/graceful" -a grace -r dev 2>&1); ok $? "deploy an app that drains on SIGTERM"
pid=$(cx ps -a grace -r dev --json | sed -n 's/.*"pid":\([0-9]*\).*/\1/p' | head -1)
like "$(tr '\0' ' ' < "/proc/$pid/cmdline")" "^perl grace.pl" "the process the rack watches is the app itself (exec), not a shell"
cx scale web --count 0 -a grace -r dev >/dev/null 2>&1
wait_for 8 sh -c "[ \$(cx logs -a grace -r dev --no-follow --since 1h | grep -c ' drained\$') -eq 1 ]"
ok $? "the app finished its work within its grace before it went"
wait_for 5 gone "$pid"; ok $? "...and then it is gone"
# A daemon restart in the middle of a process's grace: the new daemon lets it
# finish (the state says it was stopping) instead of adopting it as running.
cx scale web --count 1 -a grace -r dev >/dev/null 2>&1
wait_for 10 sh -c "cx ps -a grace -r dev | grep -q ' running '"
pid=$(cx ps -a grace -r dev --json | sed -n 's/.*"pid":\([0-9]*\).*/\1/p' | head -1)
cx scale web --count 0 -a grace -r dev >/dev/null 2>&1 &
wait_for 5 sh -c "cx ps -a grace -r dev | grep -q ' stopping '"
dpid=$(cat "$CX_HOME/racks/dev/rackd.pid"); kill "$dpid"; wait_for 5 gone "$dpid"
cx-rackd --home "$CX_HOME" --rack dev --daemon; ok $? "daemon restarted while the process was in its grace"
wait_for 8 sh -c "[ \$(cx logs -a grace -r dev --no-follow --since 1h | grep -c ' drained\$') -eq 2 ]"
ok $? "the process still finished its work"
wait_for 5 gone "$pid"; ok $? "...and went"
is "$(ps_count running -a grace -r dev)" 0 "the new daemon did not take it for a running process"
wait
cx rack uninstall dev >/dev/null
check_no_leftovers
done_testing
