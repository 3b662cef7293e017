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

ok() {	# ok COND-STATUS NAME [DIAGNOSTIC...]: the diagnostics print on failure
	local st=$1 name=$2 line
	shift 2
	T_NUM=$((T_NUM + 1))
	if [ "$st" -eq 0 ] 2>/dev/null; then
		echo "ok $T_NUM - $name"
	else
		echo "not ok $T_NUM - $name"
		T_FAILED=$((T_FAILED + 1))
		for line in "$@"; do printf '%s\n' "$line" | head -20 | sed 's/^/#   /'; done
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

note() {	# note TEXT...: a TAP comment, for numbers a run reports
	printf '# %s\n' "$*"
}

like() {	# like GOT REGEX NAME
	if printf '%s' "$1" | grep -Eq -- "$2"; then
		ok 0 "$3"
	else
		ok 1 "$3"
		printf '#   got:  %s\n#   want: /%s/\n' "$1" "$2" | head -20
	fi
}

# lacks GOT PRESENT ABSENT NAME: GOT matches PRESENT (so it is the output
# meant, not an empty one or an error) and does not match ABSENT.
lacks() {
	if printf '%s' "$1" | grep -Eq -- "$2" && ! printf '%s' "$1" | grep -Eq -- "$3"; then
		ok 0 "$4"
	else
		ok 1 "$4"
		printf '#   got:  %s\n#   want: /%s/ and not /%s/\n' "$1" "$2" "$3" | head -20
	fi
}

# refused RC GOT REGEX NAME: a command refused: exit status 1 and output
# matching REGEX.
refused() {
	if [ "$1" = 1 ] && printf '%s' "$2" | grep -Eq -- "$3"; then
		ok 0 "$4"
	else
		ok 1 "$4"
		printf '#   exit: %s\n#   got:  %s\n#   want: exit 1 and /%s/\n' "$1" "$2" "$3" | head -20
	fi
}

# exits_with WANT NAME CMD...: CMD exits with status WANT (an ERE over the
# status: 7, 52|56). For a curl that must fail: 6 no such name, 7 refused or
# unreachable, 28 timed out, 52 empty reply, 56 connection reset. Check the
# target is not empty before: curl to "http://:3000/" fails too.
exits_with() {
	local want=$1 name=$2 out rc
	shift 2
	out=$("$@" 2>&1); rc=$?
	if printf '%s' "$rc" | grep -Eqx -- "$want"; then
		ok 0 "$name"
	else
		ok 1 "$name" "command: $*" "exit: $rc, want: $want" "output: $out"
	fi
}

# gone PID: PID is a number and no such process runs (an empty PID proves
# nothing, so it is not gone).
gone() {
	case $1 in ''|*[!0-9]*) return 1 ;; esac
	! kill -0 "$1" 2>/dev/null
}

# ps_count STATUS ARGS...: how many processes `cx ps ARGS` shows in STATUS;
# fails, printing nothing, when cx ps fails (so a dead rack is not "0").
ps_count() {
	local status=$1 out
	shift
	out=$(cx ps "$@" 2>/dev/null) || return 1
	printf '%s\n' "$out" | grep -c " $status " || true
}

# ps_running N ARGS...: cx ps ARGS works and shows exactly N running.
ps_running() {
	local want=$1
	shift
	[ "$(ps_count running "$@")" = "$want" ]
}

# ps_settled N ARGS...: cx ps ARGS works and shows exactly N processes
# running and none stopping.
ps_settled() {
	local want=$1 out
	shift
	out=$(cx ps "$@" 2>/dev/null) || return 1
	[ "$(printf '%s\n' "$out" | grep -c ' running ')" = "$want" ] &&
	    ! printf '%s\n' "$out" | grep -q ' stopping '
}

# The unprivileged user (uid 65534) may reach neither this checkout (a clone
# under a 0700 directory, /root) nor $TMP. nobody_setup gives it a directory
# of its own, $NOBODY, outside both: a copy of the programs in $NOBODY/bin,
# its $CX_HOME in $NOBODY/home, its sanitizer reports in $NOBODY/san (which
# done_testing reads). cleanup removes it. as_nobody CMD... runs CMD as that
# user, with those and $NOBODY/bin first on PATH.
NOBODY=
nobody_setup() {
	NOBODY=$(mktemp -d /tmp/cx-e2e-nobody.XXXXXX) || return 1
	chmod 755 "$NOBODY"
	cp -r "$BIN" "$NOBODY/bin" && chmod -R a+rX "$NOBODY/bin" &&
	    mkdir "$NOBODY/home" "$NOBODY/san" && chown 65534:65534 "$NOBODY/home" "$NOBODY/san"
}
as_nobody() {
	setpriv --reuid=65534 --regid=65534 --clear-groups env CX_HOME="$NOBODY/home" \
	    PATH="$NOBODY/bin:$PATH" \
	    ASAN_OPTIONS="log_path=$NOBODY/san/sanitizer:detect_leaks=1" \
	    UBSAN_OPTIONS="log_path=$NOBODY/san/sanitizer:print_stacktrace=1" "$@"
}

# Processes a test starts itself, not through a rack: track PID... and
# cleanup stops them.
T_PIDS=
track() { T_PIDS="$T_PIDS $*"; }

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

# router_bins: the router tests' programs, $ROUTER and $TESTSRV, and T=$TMP;
# bails out when they are not built.
router_bins() {
	ROUTER=$BIN/cx-router
	TESTSRV=$BIN/cx-testsrv
	T=$TMP
	if [ ! -x "$ROUTER" ] || [ ! -x "$TESTSRV" ]; then
		echo "Bail out! binaries missing in $BIN (make all)"
		exit 1
	fi
}

# host_cert HOST: a test CA ($T/ca.pem, made at the first call) and a
# certificate it signed for HOST in $T/certs/HOST.pem and .key, as the
# router's --certs directory holds them.
host_cert() {
	mkdir -p "$T/certs"
	[ -f "$T/ca.pem" ] || openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$T/ca.key" -out "$T/ca.pem" -days 2 -subj "/CN=test CA" 2>/dev/null
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$1" \
		-keyout "$T/certs/$1.key" -out "$T/$1.csr" 2>/dev/null
	printf 'subjectAltName=DNS:%s\n' "$1" >"$T/$1.ext"
	openssl x509 -req -in "$T/$1.csr" -CA "$T/ca.pem" -CAkey "$T/ca.key" -CAcreateserial \
		-days 1 -extfile "$T/$1.ext" -out "$T/certs/$1.pem" 2>/dev/null
}

# A port nothing listens on right now.
free_port() {
	local p
	for _ in $(seq 1 200); do
		p=$((10000 + RANDOM % 22000))   # below the ephemeral range (32768-60999), which clients take
		if ! (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null; then echo "$p"; return; fi
	done
	echo 0
}
wait_port() { # wait_port PORT: up to 5 s
	for _ in $(seq 1 100); do
		(exec 3<>/dev/tcp/127.0.0.1/$1) 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}

# Stops everything a home ($CX_HOME, the unprivileged user's) started, by PID.
stop_home() {
	local home=$1 pids p d f
	for d in "$home"/racks/*/; do
		[ -d "$d" ] || continue
		# The keeper first (SIGUSR1: it lets go), or it starts the daemon again.
		[ -f "$d/keeper.pid" ] && kill -USR1 "$(cat "$d/keeper.pid")" 2>/dev/null
		if [ -f "$d/rackd.pid" ]; then
			p=$(cat "$d/rackd.pid")
			kill "$p" 2>/dev/null
		fi
	done
	sleep 0.1
	# Routers and app processes: their pids are in pidfiles and the store.
	for d in "$home"/racks/*/; do
		[ -d "$d" ] || continue
		for f in "$d"/router-*.pid; do
			[ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null
		done
		if [ -f "$d/state.db" ] && command -v sqlite3 >/dev/null; then
			pids=$(sqlite3 "$d/state.db" "SELECT pid FROM processes WHERE pid > 0; SELECT shim_pid FROM processes WHERE shim_pid > 0;" 2>/dev/null)
			for p in $pids; do kill -9 -- "-$p" 2>/dev/null; kill -9 "$p" 2>/dev/null; done
		fi
	done
	# Anything else still running from this home (the lab DNS, strays).
	pids=$(pgrep -f -- "$home" 2>/dev/null)
	[ -n "$pids" ] && kill -9 $pids 2>/dev/null
	# The racks' control groups (cgroup.h: RACK_DIR/cgroups lists them), once
	# their processes are gone.
	for f in "$home"/racks/*/cgroups; do
		[ -f "$f" ] || continue
		for d in $(awk 'NR > 1 { print $2 }' "$f"); do
			case $d in /sys/fs/cgroup/*/cx-*) ;; *) continue ;; esac
			for _ in 1 2 3 4 5 6 7 8 9 10; do
				find "$d" -mindepth 1 -depth -type d -exec rmdir {} + 2>/dev/null
				rmdir "$d" 2>/dev/null && break
				sleep 0.1
			done
		done
	done
}

# Stops everything this test started, by PID, and removes its directories.
cleanup() {
	local p r
	for p in $T_PIDS; do kill "$p" 2>/dev/null; done
	for p in $T_PIDS; do wait "$p" 2>/dev/null; done
	# Loopback racks run as root keep a bridge, a nftables table and a DNS in
	# the host's namespace for their processes: uninstalling removes them.
	if [ -f "$CX_HOME/lab/state" ]; then
		for r in $(awk '$1 == "rack" && $7 == "host" && $8 == "127.0.0.1" { print $2 }' \
		    "$CX_HOME/lab/state"); do
			[ -d "$CX_HOME/racks/$r" ] && cx rack uninstall "$r" >/dev/null 2>&1
		done
	fi
	stop_home "$CX_HOME"
	if [ -n "$NOBODY" ]; then stop_home "$NOBODY/home"; fi
	if [ -n "${CX_LAB_CLEANUP:-}" ]; then
		$CX_LAB_CLEANUP
	fi
	rm -rf "$TMP"
	if [ -n "$NOBODY" ]; then rm -rf "$NOBODY"; fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# After uninstalling: no process may still run from a directory of this test's
# home, nor with a build of it mounted (app processes see theirs at /srv/app).
# This home's lab prefix (cxNNNN), from the lab's state: never guessed from
# `ip netns list`, where other labs on the machine (other homes, tests run
# at the same time) show too. Empty before the lab exists.
lab_prefix() { sed -n 's/^lab \(cx[0-9a-f]*\) .*/\1/p' "$CX_HOME/lab/state" 2>/dev/null; }

check_no_leftovers() {
	local left mounted
	left=$(for d in /proc/[0-9]*; do readlink "$d/cwd" 2>/dev/null; done | grep -c "^$CX_HOME/" || true)
	mounted=$(grep -l -F -- "${TMP##*/}/home/racks/" /proc/[0-9]*/mountinfo 2>/dev/null | wc -l)
	is "$left $mounted" "0 0" "no process of the rack is left running (not even a child an app forked)"
}

done_testing() {
	local f
	for f in "$TMP"/sanitizer.* ${NOBODY:+"$NOBODY"/san/sanitizer.*}; do
		[ -e "$f" ] || continue
		ok 1 "sanitizer report from pid ${f##*.}"
		sed 's/^/#   /' "$f" | head -30
	done
	echo "1..$T_NUM"
	[ "$T_FAILED" -eq 0 ]
}
