# lib.sh — shared helpers of the end-to-end tests (TAP, run by prove).
#
# Each test gets its own $CX_HOME under a temp dir; on exit (even after a
# failure) every rack daemon, router and app process started under it is
# stopped by PID and the temp dir removed. Every wait is bounded.

set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${CX_BIN:-$ROOT/bin}
case "$BIN" in /*) ;; *) BIN=$ROOT/$BIN ;; esac
export PATH="$BIN:$PATH"
# A private (0700) directory, as a user's ~/.cx under /root is: app processes
# must never need to reach into it. CX_E2E_TMPDIR puts it elsewhere than /tmp.
TMP=$(mktemp -d "${CX_E2E_TMPDIR:-/tmp}/cx-e2e.XXXXXX")
export CX_HOME="$TMP/home"
unset CX_RACK
mkdir -p "$CX_HOME"
T_NUM=0
T_FAILED=0
# Sanitizer reports of every cx program the test starts (daemons and routers
# included, whose stderr goes to log files) land here; done_testing fails on any.
export ASAN_OPTIONS="log_path=$TMP/sanitizer:detect_leaks=1"
export UBSAN_OPTIONS="log_path=$TMP/sanitizer:print_stacktrace=1"
EXAMPLES="$ROOT/examples"

ok() {	# ok COND-STATUS NAME
	T_NUM=$((T_NUM + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $T_NUM - $2"
	else
		echo "not ok $T_NUM - $2"
		T_FAILED=$((T_FAILED + 1))
	fi
}

is() {	# is GOT WANT NAME
	if [ "$1" = "$2" ]; then
		ok 0 "$3"
	else
		ok 1 "$3"
		printf '#   got:  %s\n#   want: %s\n' "$1" "$2" | head -20
	fi
}

like() {	# like GOT REGEX NAME
	if printf '%s' "$1" | grep -Eq -- "$2"; then
		ok 0 "$3"
	else
		ok 1 "$3"
		printf '#   got:  %s\n#   want: /%s/\n' "$1" "$2" | head -20
	fi
}

unlike() {	# unlike GOT REGEX NAME
	if printf '%s' "$1" | grep -Eq -- "$2"; then
		ok 1 "$3"
		printf '#   got:  %s\n#   must not match: /%s/\n' "$1" "$2" | head -20
	else
		ok 0 "$3"
	fi
}

# wait_for SECONDS CMD...: retries CMD every 50 ms until it succeeds.
wait_for() {
	local limit=$1 i=0
	shift
	while [ $i -lt $((limit * 20)) ]; do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.05
		i=$((i + 1))
	done
	return 1
}

# Stops everything this test's $CX_HOME started, by PID.
cleanup() {
	local pids p d
	for d in "$CX_HOME"/racks/*/; do
		[ -d "$d" ] || continue
		if [ -f "$d/rackd.pid" ]; then
			p=$(cat "$d/rackd.pid")
			kill "$p" 2>/dev/null
		fi
	done
	sleep 0.1
	# Routers and app processes: their pids are in pidfiles and the store.
	for d in "$CX_HOME"/racks/*/; do
		[ -d "$d" ] || continue
		for f in "$d"/router-*.pid; do
			[ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null
		done
		if [ -f "$d/state.db" ] && command -v sqlite3 >/dev/null; then
			pids=$(sqlite3 "$d/state.db" "SELECT pid FROM processes; SELECT shim_pid FROM processes;" 2>/dev/null)
			for p in $pids; do kill -9 -- "-$p" 2>/dev/null; kill -9 "$p" 2>/dev/null; done
		fi
	done
	# Anything else still running from this test's home (the lab DNS, strays).
	pids=$(pgrep -f -- "$CX_HOME" 2>/dev/null)
	[ -n "$pids" ] && kill -9 $pids 2>/dev/null
	if [ -n "${CX_LAB_CLEANUP:-}" ]; then
		$CX_LAB_CLEANUP
	fi
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# After uninstalling: no process may still run from a directory of this test's
# home, nor with a build of it mounted (app processes see theirs at /srv/app).
check_no_leftovers() {
	local left mounted
	left=$(for d in /proc/[0-9]*; do readlink "$d/cwd" 2>/dev/null; done | grep -c "^$CX_HOME/" || true)
	mounted=$(grep -l -F -- "${TMP##*/}/home/racks/" /proc/[0-9]*/mountinfo 2>/dev/null | wc -l)
	is "$left $mounted" "0 0" "no process of the rack is left running (not even a child an app forked)"
}

done_testing() {
	local f
	for f in "$TMP"/sanitizer.*; do
		[ -e "$f" ] || continue
		ok 1 "sanitizer report from pid ${f##*.}"
		sed 's/^/#   /' "$f" | head -30
	done
	echo "1..$T_NUM"
	[ "$T_FAILED" -eq 0 ]
}
