#!/usr/bin/env bash
# The no-root path, which no machine here takes by itself: a user without
# privileges installs a loopback rack, deploys, and reaches the app; a VPC
# rack is refused in one line.
. "$(dirname "$0")/lib.sh"

if [ "$(id -u)" -ne 0 ]; then
	echo "1..0 # SKIP needs root to become an unprivileged user"
	exit 0
fi
# The user can reach neither this checkout (under /root, or a clone under a
# 0700 directory) nor $TMP: it gets a directory of its own with a copy of the
# programs and of the app (lib.sh's nobody_setup).
nobody_setup || { echo "Bail out! cannot set up the unprivileged user's directory"; exit 1; }
home="$NOBODY/home"
src="$NOBODY/hello"; cp -r "$EXAMPLES/hello" "$src"; chmod -R a+rX "$src"

out=$(as_nobody cx rack install local box 2>&1); rc=$?
ok $rc "an unprivileged user installs a loopback rack"
is "$(stat -c '%a %U' "$home/racks/box" "$home/racks/box/state.db" "$home/racks/box/password" \
    "$home/racks/box/api.sock" 2>/dev/null | tr '\n' ' ')" "700 nobody 600 nobody 600 nobody 600 nobody " \
    "its state belongs to the user alone (0700 directory, 0600 files)"
is "$(stat -c '%a %U' "$home/racks/box/ca.key" 2>/dev/null)" "600 nobody" \
	"its CA's key is the user's alone"
out=$(as_nobody cx rack install local vbox --vpc 10.9.0.0/16 2>&1); rc=$?
is "$rc" 1 "a VPC rack is refused without root"
like "$out" "ERROR: .*root" "...with a one-line reason"
as_nobody cx apps create hello -r box >/dev/null
out=$(as_nobody cx deploy "$src" -a hello -r box 2>&1); ok $? "deploy as the user"
url=$(as_nobody cx services -a hello -r box --json | sed -n 's/.*"url":"\([^"]*\)".*/\1/p')
body=$(curl -s --max-time 5 "$url/"); like "$body" "^hello from hello/web" "the app answers through the router"
pid=$(as_nobody cx ps -a hello -r box --json | sed -n 's/.*"pid":\([0-9]*\).*/\1/p' | head -1)
is "$(ps -o user= -p "$pid" | tr -d ' ')" "nobody" "its process runs as the user"
out=$(as_nobody cx rack uninstall box 2>&1); ok $? "uninstall as the user"
gone "$pid"; ok $? "uninstall stopped the process (pid $pid)"

done_testing
