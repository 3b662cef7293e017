#!/usr/bin/env bash
# Apps are walled off from each other and from the rack. The rack's home lies
# in a private (0700) directory under $HOME, as the default ~/.cx under /root
# does; two apps are deployed; from a process of one (`cx run`), every way
# into the other app or into the rack's state is tried, and each must be
# refused the expected way, on a target shown to exist first.
CX_E2E_TMPDIR=${HOME:-/root}
[ -d "$CX_E2E_TMPDIR" ] && [ -w "$CX_E2E_TMPDIR" ] || CX_E2E_TMPDIR=/tmp
. "$(dirname "$0")/lib.sh"

if [ "$(id -u)" -ne 0 ]; then
	echo "1..0 # SKIP apps get ids of their own only on a rack run as root"
	exit 0
fi
is "$(stat -c %a "$TMP")" 700 "the rack's home lies in a private directory"

cx rack install local dev >/dev/null || { echo "Bail out! cannot install a rack"; exit 1; }
RACK=$CX_HOME/racks/dev
cx apps create victim -r dev >/dev/null && cx apps create attacker -r dev >/dev/null
cx env set SECRET=victim-secret-$$ -a victim -r dev >/dev/null 2>&1
out=$(cx deploy "$ROOT/tests/e2e/apps/abspath" -a victim -r dev 2>&1)
ok $? "deploy an app that opens its files by absolute path" "$out"
out=$(cx deploy "$ROOT/tests/e2e/apps/abspath" -a attacker -r dev 2>&1)
ok $? "deploy a second app" "$out"
url=$(cx services -a victim -r dev --json | sed -n 's/.*"url":"\([^"]*\)".*/\1/p')
like "$url" '^http://web\.victim\.dev\.localhost:[0-9]+$' "the victim has a URL"
port=${url##*:}
out=$(curl -s --max-time 5 -H "Host: web.victim.dev.localhost" "http://127.0.0.1:$port/")
like "$out" '^greetings from a file opened by its absolute path \(/srv/app/data/greeting.txt\)' \
    "it answers with a file it opened by absolute path"
wait_for 5 sh -c "cx logs -a victim -r dev --no-follow | grep -q 'server.py: serving from /srv/app as uid'"
ok $? "it wrote to /dev/stderr, which it opened itself"

# Ids: each app its own, recorded, unprivileged, in the host's ledger.
vuid=$(sqlite3 "$RACK/state.db" "SELECT uid_base FROM apps WHERE name = 'victim'")
auid=$(sqlite3 "$RACK/state.db" "SELECT uid_base FROM apps WHERE name = 'attacker'")
[ "${vuid:-0}" -ge 65536 ] && [ "${auid:-0}" -ge 65536 ]
ok $? "both apps have ids of their own ($vuid, $auid), not root's or nobody's"
d=$(( vuid > auid ? vuid - auid : auid - vuid ))
[ "$d" -ge 65536 ]; ok $? "their ranges do not overlap (65536 ids each)"
grep -qx "$vuid $RACK/apps/victim" /var/lib/cx/idranges && grep -qx "$auid $RACK/apps/attacker" /var/lib/cx/idranges
ok $? "the host's ledger holds both ranges"
vpid=$(cx ps -a victim -r dev --json | sed -n 's/.*"pid":\([0-9]*\).*/\1/p' | head -1)
kill -0 "$vpid" 2>/dev/null; ok $? "cx ps gives the victim's host pid ($vpid)"
is "$(ps -o uid= -p "$vpid" | tr -d ' ')" "$vuid" "the victim's process runs as its app's uid"
is "$(awk '/^CapEff/ {print $2}' "/proc/$vpid/status")" 0000000000000000 "...with no capabilities"
is "$(awk '/^NoNewPrivs/ {print $2}' "/proc/$vpid/status")" 1 "...and no_new_privs"
is "$(cx run web -a victim -r dev -- id -u 2>&1)" "$vuid" "the victim's one-off process runs as its app's uid too"
rpid=$(cat "$RACK/rackd.pid")
# From here on the home's parents admit anyone to pass (0711), so that each
# refusal below is the rack's own doing, not its private parent's.
chmod 711 "$TMP"

# The rack's state is its owner's alone.
is "$(stat -c %a "$RACK")" 700 "the rack's directory is 0700"
for f in state.db state.db-wal state.db-shm password ca.key rackd.log api.sock routes.public apps/victim/app.log; do
	is "$(stat -c '%a %U' "$RACK/$f")" "600 root" "$f is root's alone (0600)"
done
for d in apps apps/victim apps/victim/builds tmp; do
	is "$(stat -c '%a %U' "$RACK/$d")" "700 root" "$d/ is root's alone (0700)"
done

# run CMD: runs CMD in a one-off process of the attacker; sets $out and $rc.
run() { out=$(cx run web -a attacker -r dev -- sh -c "$1" 2>&1); rc=$?; }
# denied NAME TARGET CMD REGEX: TARGET exists and is not empty (as root), and
# CMD, from the attacker, fails with output matching REGEX.
denied() {
	local name=$1 target=$2 cmd=$3 want=$4
	if [ ! -S "$target" ] && [ ! -d "$target" ] && [ -z "$(head -c 1 "$target" 2>/dev/null)" ]; then
		ok 1 "$name" "target $target does not exist or is empty"
		return
	fi
	run "$cmd"
	if [ "$rc" -ne 0 ] && printf '%s' "$out" | grep -Eq -- "$want"; then
		ok 0 "$name"
	else
		ok 1 "$name" "command: $cmd" "exit: $rc" "output: $out" "want: /$want/"
	fi
}
run 'id -u'; is "$out" "$auid" "the attacker's one-off process runs as its own uid"
for f in state.db state.db-wal state.db-shm password ca.key rackd.log; do
	denied "the attacker cannot read the rack's $f" "$RACK/$f" "cat '$RACK/$f' >/dev/null" \
	    "$RACK/$f: Permission denied"
done
denied "the attacker cannot reach the rack's API socket" "$RACK/api.sock" \
    "curl -s -o /dev/null --max-time 2 --unix-socket '$RACK/api.sock' http://rack/system; echo curl=\$?; exit 1" \
    '^curl=7$'
denied "the attacker cannot list the victim's builds" "$RACK/apps/victim/builds" \
    "ls '$RACK/apps/victim/builds'" "Permission denied"
denied "the attacker cannot read the victim's log" "$RACK/apps/victim/app.log" \
    "cat '$RACK/apps/victim/app.log' >/dev/null" "Permission denied"
env_of_victim=$(tr '\0' '\n' < "/proc/$vpid/environ")
like "$env_of_victim" "^SECRET=victim-secret-$$\$" "the victim's environment holds its secret (read as root)"
denied "the attacker cannot read the victim's environment" "/proc/$vpid/environ" \
    "cat /proc/$vpid/environ" "/proc/$vpid/environ: (Permission denied|No such file or directory)"
denied "the attacker cannot read the daemon's environment" "/proc/$rpid/environ" \
    "cat /proc/$rpid/environ" "/proc/$rpid/environ: (Permission denied|No such file or directory)"
denied "the attacker cannot see the victim's files through /proc" "/proc/$vpid/root/srv/app/server.py" \
    "cat /proc/$vpid/root/srv/app/server.py" "Permission denied|No such file or directory"
denied "the attacker cannot signal the victim's process" "/proc/$vpid/status" \
    "kill -TERM $vpid" "Operation not permitted|No such process"
denied "the attacker cannot signal the daemon" "/proc/$rpid/status" \
    "kill -TERM $rpid" "Operation not permitted|No such process"
kill -0 "$vpid" 2>/dev/null && kill -0 "$rpid" 2>/dev/null; ok $? "...and both still run"
# Its own PID namespace: its /proc lists its cx-init, itself and what it
# started, not the host's processes.
run 'ls -d /proc/[0-9]* | wc -l'
ok $([ "$rc" -eq 0 ] && [ "$out" -ge 2 ] && [ "$out" -le 6 ]; echo $?) \
    "the attacker's /proc shows its own PID namespace alone ($out processes)"
run "grep ' /srv/app ' /proc/self/mountinfo"
like "$out" ' /srv/app ro,' "its build is mounted read-only at /srv/app"

# No privilege, no descriptor of the daemon's.
run 'grep -E "^(CapEff|CapBnd|NoNewPrivs)" /proc/self/status | tr -s "\t" " "'
is "$out" "$(printf 'CapEff: 0000000000000000\nCapBnd: 0000000000000000\nNoNewPrivs: 1')" \
    "cx run's process has no capabilities, none to gain, and no_new_privs"
run 'ls /proc/self/fd | tr "\n" " "'
is "$out" "0 1 2 3 " "it holds only its stdio (and ls its directory): nothing of the daemon's"

# Its own /tmp, HOME and every directory anyone may write to, and its own IPC.
shm0=$(ipcs -m | grep -c '^0x')
run 'echo "home=$HOME"; for d in /tmp /var/tmp /dev/shm /run/lock; do echo mark > $d/attacker-mark && echo "wrote $d"; done; touch "$HOME/h" && echo home-ok; ipcmk -M 4096 >/dev/null && ipcs -m | grep -c "^0x"'
like "$out" "home=/srv/home" "HOME is its own (/srv/home)"
like "$out" "home-ok" "...and writable"
is "$(printf '%s\n' "$out" | grep -c '^wrote ')" 4 "it can write its /tmp, /var/tmp, /dev/shm and /run/lock"
n=0; for d in /tmp /var/tmp /dev/shm /run/lock; do [ -e "$d/attacker-mark" ] && n=$((n + 1)); done
is "$n" 0 "...which are not the host's"
like "$out" '^1$' "it made a shared memory segment in its own IPC namespace"
is "$(ipcs -m | grep -c '^0x')" "$shm0" "...which the host does not see"
run 'ls /tmp /var/tmp /dev/shm /run/lock; ls -A /srv/home; ipcs -m | grep -c "^0x"'
is "$(printf '%s\n' "$out" | grep -v -e ':$' -e '^$' | tr '\n' ' ')" "0 " \
    "a second process of it starts with empty ones, and no segment"

# A descriptor that is not an anonymous pipe (a named FIFO of root's) is
# refused, and the FIFO stays root's.
mkfifo -m 0600 "$TMP/fifo"
exec 7<>"$TMP/fifo"     # a reader, so that opening it for writing does not block
out=$(timeout 20 python3 "$ROOT/tests/tools/cx-sendfds.py" "$RACK/api.sock" "$(cat "$RACK/password")" \
    /apps/attacker/services/web/run '{"command":"true"}' "$TMP/fifo" /dev/null /dev/null 2>&1)
exec 7<&-
like "$out" '^HTTP/1.1 400' "a run handed a named FIFO as stdin is refused (400)"
like "$out" 'descriptor 0 \(stdin\) must be an anonymous pipe open for reading' "...saying which descriptor and why"
is "$(stat -c %U "$TMP/fifo")" root "...and the FIFO is still root's"
out=$(cx run web -a attacker -r dev -- sh -c 'echo to-stderr > /dev/stderr; echo to-stdout > /dev/stdout' 2>"$TMP/err")
rc=$?
is "$rc $out $(cat "$TMP/err")" "0 to-stdout to-stderr" "cx run's process can open its own /dev/stdout and /dev/stderr"

# api_group: the members of a host group may use a rack's API too (here
# nogroup, the unprivileged user's); its state stays its owner's alone.
nobody_setup || { echo "Bail out! cannot set up the unprivileged user"; exit 1; }
shared=$NOBODY/shared
mkdir -m 0711 "$shared"
CX_HOME=$shared cx rack install local sh >/dev/null; ok $? "install a second rack where a group may reach it"
track "$(cat "$shared/racks/sh/rackd.pid")" "$(cat "$shared/racks/sh/router-public.pid" 2>/dev/null)"
out=$(as_nobody env CX_HOME="$shared" cx apps -r sh 2>&1); rc=$?
refused "$rc" "$out" "cannot read the password of rack sh .*Permission denied" \
    "without api_group, another user cannot use the rack's API"
out=$(CX_HOME=$shared cx rack params set api_group=no-such-group-cx -r sh 2>&1); rc=$?
refused "$rc" "$out" 'api_group: no group "no-such-group-cx" on this host' "an unknown group is refused in one line"
CX_HOME=$shared cx rack params set api_group=nogroup -r sh >/dev/null; ok $? "set api_group=nogroup"
is "$(stat -c '%a %G' "$shared/racks/sh" "$shared/racks/sh/api.sock" "$shared/racks/sh/password" \
    "$shared/racks/sh/state.db" | tr '\n' ' ')" "710 nogroup 660 nogroup 640 nogroup 600 root " \
    "the rack's directory, socket and password admit the group; its state does not"
out=$(as_nobody env CX_HOME="$shared" cx apps create grouped -r sh 2>&1); ok $? "a member of api_group uses the API" "$out"
out=$(as_nobody cat "$shared/racks/sh/state.db" 2>&1); rc=$?
refused "$rc" "$out" "state.db: Permission denied" "...but cannot read the rack's state"
CX_HOME=$shared cx rack params set api_group= -r sh >/dev/null; ok $? "unset api_group"
out=$(as_nobody env CX_HOME="$shared" cx apps -r sh 2>&1); rc=$?
refused "$rc" "$out" "Permission denied" "...and the group is shut out again"
CX_HOME=$shared cx rack uninstall sh >/dev/null; ok $? "uninstall the second rack"

cx rack uninstall dev >/dev/null
n=$(grep -c -F -- "$RACK/apps/" /var/lib/cx/idranges)
is "$n" 0 "uninstalling hands the apps' ranges back to the host's ledger"
check_no_leftovers
done_testing
