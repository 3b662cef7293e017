#!/usr/bin/env bash
# A full disk (disk.h): $CX_HOME on a small tmpfs this test mounts, filled by
# a file written until ENOSPC. The rack keeps serving through its router, a
# deploy is refused with one line saying so and what to do (and leaves no
# release), apps delete and builds prune still work, an app that keeps
# logging keeps its log moving (rotated early, within 3 x log_max_mb), and
# once space is freed a deploy works again. Then a disk that fills during a
# promotion and a daemon killed then: the daemon the keeper starts again on
# the full disk runs (its pid file names it), no release stays `promoting`,
# the old release serves, and the next deploy works.
. "$(dirname "$0")/lib.sh"

if [ "$(id -u)" != 0 ]; then
	echo "Bail out! disk.t mounts a tmpfs: it needs root"
	exit 1
fi
mnt=$(mktemp -d /tmp/cx-e2e-disk.XXXXXX)
mount -t tmpfs -o size=64m,mode=0700 cx-e2e-disk "$mnt" ||
    { echo "Bail out! cannot mount a tmpfs on $mnt"; exit 1; }
disk_cleanup() {
	cleanup
	umount "$mnt" 2>/dev/null || umount -l "$mnt"
	rmdir "$mnt"
}
trap disk_cleanup EXIT
export CX_HOME=$mnt/home
mkdir -p "$CX_HOME"
rack=dk
dir=$CX_HOME/racks/$rack

# The process holding the rack's lock: the daemon.
lock_pid() {
	local ino
	ino=$(stat -c %i "$dir/rackd.lock" 2>/dev/null) || return 1
	awk -v ino="$ino" '$2 == "FLOCK" && $6 ~ (":" ino "$") { print $5 }' /proc/locks
}
free_kib() { df -k --output=avail "$mnt" | tail -1 | tr -d ' '; }
fill() {
	dd if=/dev/zero of="$mnt/fill" bs=1M >/dev/null 2>&1
	dd if=/dev/zero of="$mnt/fill" bs=4k oflag=append conv=notrunc >/dev/null 2>&1
	dd if=/dev/zero of="$mnt/fill" bs=512 oflag=append conv=notrunc >/dev/null 2>&1
	return 0
}
unfill() { rm -f "$mnt/fill"; }

out=$(cx rack install local $rack log_max_mb=1 2>&1); ok $? "install a rack on a 64 MiB tmpfs" "$out"
is "$(stat -c %s "$dir/reserve" 2>/dev/null)" 4194304 "the rack keeps a 4 MiB reserve file"
cx rack params set build_retention=1 -r $rack >/dev/null; ok $? "build_retention=1"

src=$TMP/src
cp -r "$EXAMPLES/hello" "$src"
cat > "$src/convox.yml" <<'EOF'
services:
  web:
    build: .
    command: perl server.pl
    port: 3000
    health: /health
  logger:
    build: .
    command: perl -e '$|=1; my $i=0; while (1) { printf("line %08d %s\n", $i++, "y" x 180) for 1..200; select(undef, undef, undef, 0.1) }'
EOF
cx apps create app1 -r $rack >/dev/null
cx apps create app2 -r $rack >/dev/null
cx deploy "$src" -a app1 -r $rack >/dev/null 2>&1; ok $? "deploy app1 (a web and a logger)"
R1=$(cx releases -a app1 -r $rack --json | jq -r '.[0].id')
B1=$(cx releases -a app1 -r $rack --json | jq -r '.[0].build')
echo v2 > "$src/version"
cx deploy "$src" -a app1 -r $rack >/dev/null 2>&1; ok $? "deploy app1 again (a second build)"
cx deploy "$EXAMPLES/hello" -a app2 -r $rack >/dev/null 2>&1; ok $? "deploy app2"
port=$(cx rack params -r $rack --json | jq -r '.router_port')
get() { curl -s -o /dev/null -w '%{http_code}' --max-time 5 -H "Host: web.$1.$rack.localhost" "http://127.0.0.1:$port/"; }
is "$(get app1)" 200 "app1 answers through the router"
# The logger has filled its log's three files before the disk fills.
rotated() { [ "$(ls "$dir"/apps/app1/app.log.* 2>/dev/null | wc -l)" -ge 2 ]; }
wait_for 30 rotated; ok $? "app1's log has rotated twice (log_max_mb=1)"
releases_before=$(cx releases -a app1 -r $rack --json | jq length)
builds_before=$(ls "$dir/apps/app1/builds" | wc -l)

fill
kib=$(free_kib)
[ "$kib" -lt 8192 ]; ok $? "the disk is full ($(du -sk "$mnt/fill" | cut -f1) KiB of filler, $kib KiB free: the reserve may have gone)"
codes=$(for _ in 1 2 3 4 5 6 7 8 9 10; do get app1; echo; done | sort | uniq -c | tr -s ' ')
is "$codes" " 10 200" "with the disk full the rack keeps serving (10 requests, 10 x 200)"

out=$(cx deploy "$src" -a app1 -r $rack 2>&1); rc=$?
refused "$rc" "$out" "ERROR: the rack's disk is full \\($dir, [0-9]+ KiB free\\): free space, e\\.g\\. cx builds prune -a APP or cx apps delete APP" \
    "a deploy is refused, saying the disk is full and what frees space"
is "$(printf '%s\n' "$out" | grep -c 'ERROR')" 1 "...in one line" "$out"
is "$(cx releases -a app1 -r $rack --json | jq length)" "$releases_before" "...and made no release"
is "$(ls "$dir/apps/app1/builds" | wc -l)" "$builds_before" "...nor a build directory"

# The logger writes on: its log rotates early, dropping the oldest file, so
# new lines keep coming and the log stays within 3 x log_max_mb.
last_line() { cx logs -a app1 -r $rack --no-follow -s logger 2>/dev/null | sed -n 's/.* line \([0-9]*\) .*/\1/p' | tail -1; }
fill    # what the reserve gave back is taken too
n1=$(last_line)
sleep 2
n2=$(last_line)
[ -n "$n1" ] && [ -n "$n2" ] && [ "$((10#$n2))" -gt "$((10#$n1))" ]
ok $? "on the full disk ($(free_kib) KiB free) the app's log goes on (line $n1, then $n2)"
logs_kib=$(du -ck "$dir"/apps/app1/app.log* | tail -1 | cut -f1)
[ "$logs_kib" -le 3200 ]; ok $? "...within 3 files of 1 MiB ($logs_kib KiB)"

out=$(cx apps delete app2 -r $rack 2>&1); ok $? "apps delete works on the full disk" "$out"
out=$(cx apps -r $rack); lacks "$out" "app1" "app2" "...app2 is gone"
out=$(cx builds prune -a app1 -r $rack 2>&1); rc=$?
ok $rc "builds prune works on the full disk" "$out"
is "$out" "Removed build $B1 and release $R1" "...removing the build beyond build_retention"
[ ! -d "$dir/apps/app1/builds/$B1" ]; ok $? "...and its source"
is "$(get app1)" 200 "app1 still answers"

unfill
out=$(cx deploy "$src" -a app1 -r $rack 2>&1); ok $? "with space freed a deploy works again" "$out"
is "$(get app1)" 200 "...and app1 answers"
is "$(stat -c %s "$dir/reserve" 2>/dev/null)" 4194304 "the reserve is made again"

# A disk that fills while a release is being promoted, and the daemon
# killed then: its health check passes only after 6 s.
sed -i 's|command: perl server.pl|command: sh -c "sleep 6; exec perl server.pl"|' "$src/convox.yml"
cx deploy "$src" -a app1 -r $rack >"$TMP/slow.out" 2>&1 &
slow=$!
track $slow
promoting() { cx releases -a app1 -r $rack --json | jq -e 'any(.[]; .status == "promoting")'; }
wait_for 30 promoting; ok $? "a slow deploy is being promoted"
RS=$(cx releases -a app1 -r $rack --json | jq -r '.[] | select(.status == "promoting") | .id')
fill
old=$(lock_pid)
kill -9 "$old"; ok $? "the disk filled mid-promotion: kill -9 the daemon (pid $old)"
restarted() { local p; p=$(lock_pid); [ -n "$p" ] && [ "$p" != "$old" ] && cx apps -r $rack; }
wait_for 30 restarted; ok $? "the keeper starts the daemon again on the full disk"
new=$(lock_pid)
is "$(cat "$dir/rackd.pid" 2>/dev/null)" "$new" "...and rackd.pid names it (pid $new), not the dead one"
not_promoting() { ! promoting; }
wait_for 15 not_promoting; ok $? "no release stays promoting after the restart" \
    "$(cx releases -a app1 -r $rack 2>&1)"
out=$(cx releases info "$RS" -a app1 -r $rack 2>&1)
like "$out" "restarted during the promotion" "...$RS is failed, saying why" "$out"
is "$(get app1)" 200 "the old release serves"
for _ in $(seq 1 100); do kill -0 $slow 2>/dev/null || break; sleep 0.1; done
gone "$slow"; ok $? "the deploy that was under way ended"
unfill
sed -i 's|command: sh -c "sleep 6; exec perl server.pl"|command: perl server.pl|' "$src/convox.yml"
out=$(cx deploy "$src" -a app1 -r $rack 2>&1); ok $? "space freed, the next deploy works" "$out"
is "$(get app1)" 200 "...and app1 answers"

grep -E "disk|full|promot" "$dir/rackd.log" | sed 's/^/# rackd.log: /' | tail -20

# Uninstall on a full disk, with rackd.pid naming a process that is gone:
# the daemon is found by the lock it holds.
true & dead=$!
wait $dead
echo "$dead" > "$dir/rackd.pid"
daemon=$(lock_pid)
fill
out=$(cx rack uninstall $rack 2>&1); ok $? "rack uninstall on the full disk, rackd.pid naming a dead pid ($dead)" "$out"
gone "$daemon"; ok $? "...stopped the daemon that held the lock (pid $daemon)"
[ ! -d "$dir" ]; ok $? "...removed the rack's state"
unfill
check_no_leftovers
done_testing
