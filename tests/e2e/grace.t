#!/usr/bin/env bash
# A stopped process gets its termination grace: SIGTERM, time to finish, and
# only then SIGKILL — for the app itself, not just the shell that started it.
. "$(dirname "$0")/lib.sh"

mkdir -p "$TMP/marks" && chmod 777 "$TMP/marks"
cx rack install local dev >/dev/null || { echo "Bail out! cannot install a rack"; exit 1; }
cx apps create grace -r dev >/dev/null
cx env set MARK="$TMP/marks/drained" -a grace -r dev >/dev/null 2>&1
out=$(cx deploy "$ROOT/tests/e2e/apps/graceful" -a grace -r dev 2>&1); ok $? "deploy an app that drains on SIGTERM"
pid=$(cx ps -a grace -r dev --json | sed -n 's/.*"pid":\([0-9]*\).*/\1/p' | head -1)
like "$(tr '\0' ' ' < "/proc/$pid/cmdline")" "^perl grace.pl" "the process the rack watches is the app itself (exec), not a shell"
cx scale web --count 0 -a grace -r dev >/dev/null 2>&1
wait_for 8 test -e "$TMP/marks/drained"; ok $? "the app finished its work within its grace before it went"
wait_for 5 sh -c "! kill -0 $pid"; ok $? "...and then it is gone"
cx rack uninstall dev >/dev/null
check_no_leftovers
done_testing
