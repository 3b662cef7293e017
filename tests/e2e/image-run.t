#!/usr/bin/env bash
# Processes from their release's image (rootfs.c, docs/images.md): a real
# image built by podman from debian:bookworm runs with its files, ENV, WORKDIR
# and USER; the image's ids map onto the app's range (the host sees
# uid_base+N, the image sees its own root-owned files as root's); writes to /
# land in the process's private layer and go with it; the host's / and the
# rack's directory are out of sight; Convox's argv (ENTRYPOINT + CMD, command:
# shell-split in place of CMD); cx exec enters a running process. On a VPC rack the image's process binds port
# 80 and the router reaches it.
. "$(dirname "$0")/lib.sh"

if ! command -v podman >/dev/null || [ "$(id -u)" != 0 ]; then
	echo "Bail out! image-run.t needs podman (make deps) and root"
	exit 1
fi
if [ -f "$(dirname "$0")/lib-image.sh" ]; then
	. "$(dirname "$0")/lib-image.sh"
else
	cx_base_image() {
		podman image exists docker.io/library/debian:bookworm && return 0
		timeout 300 mmdebstrap --variant=apt --quiet bookworm "$TMP/base.tar" &&
		    podman import -q "$TMP/base.tar" docker.io/library/debian:bookworm >/dev/null ||
		    { echo "Bail out! cannot make the base image debian:bookworm"; exit 1; }
	}
fi
cx_base_image
remove_images() {
	podman images --format '{{.Repository}}:{{.Tag}}' 2>/dev/null |
	    grep -E '^localhost/cx-(ir|iv)/img/' | xargs -r podman rmi -f >/dev/null 2>&1
}
lab_cleanup() { cx rack uninstall iv >/dev/null 2>&1; }
CX_LAB_CLEANUP=lab_cleanup
trap 'remove_images; cleanup' EXIT
try() { "$@" 2>&1; }

src=$TMP/img
mkdir -p "$src"
cp "$EXAMPLES/hello/server.pl" "$src/server.pl"
cat > "$src/Dockerfile" <<'EOF'
FROM debian:bookworm
RUN useradd -m -u 1001 -s /bin/sh appuser && mkdir -p /app && \
    echo only-in-the-image > /app/greeting && echo root-owned > /root-file && \
    chown appuser /app
COPY server.pl /app/server.pl
ENV GREETING=from-image-env
WORKDIR /app
USER appuser
ENTRYPOINT ["perl"]
CMD ["server.pl"]
EOF
cat > "$src/convox.yml" <<'EOF'
services:
  web:
    build: .
    port: 3000
    health: /health
  writer:
    build: .
    command: -e 'open(my $f, ">", "/app/written") or die; print $f "mine\n"; close $f; sleep 600'
EOF

cx rack install local ir >/dev/null 2>&1; ok $? "rack install"
cx apps create img -r ir >/dev/null 2>&1; ok $? "apps create img"
out=$(try cx deploy "$src" -a img -r ir); ok $? "deploy an app built from a Dockerfile" "$out"
wait_for 20 ps_running 2 -a img -r ir
out=$(cx ps -a img -r ir --json)
web_pid=$(printf '%s' "$out" | jq -r '.[] | select(.service=="web") | .pid')
writer_id=$(printf '%s' "$out" | jq -r '.[] | select(.service=="writer") | .id')
writer_pid=$(printf '%s' "$out" | jq -r '.[] | select(.service=="writer") | .id as $i | .pid')
like "$(tr '\0' ' ' < /proc/$web_pid/cmdline)" "^perl server.pl" \
    "web runs ENTRYPOINT + CMD, and cx ps's pid is that process's host PID"
like "$(cx logs -a img -r ir --no-follow)" "Started process web-[a-z0-9]+ .* from image localhost/cx-ir/img/web:[a-z0-9]+, in the rack's own namespaces" \
    "the app's log says each process starts from its image, and how"
like "$(cx ps -a img -r ir)" "perl -e open" "writer's command: replaces CMD after the ENTRYPOINT"

# What it sees, through cx run (the same image, the same walls).
is "$(try cx run web -a img -r ir -- -ne print /app/greeting)" "only-in-the-image" "a process reads a file only its image has"
is "$(try cx run web -a img -r ir -- -e 'print "$ENV{GREETING} $ENV{APP} $ENV{HOME}\n"')" \
    "from-image-env img /home/appuser" "image ENV, the rack's names, HOME of the image's user"
is "$(try cx run web -a img -r ir -- -MCwd -e 'print getcwd(), "\n"')" "/app" "it starts in the image's WORKDIR"
is "$(try cx run web -a img -r ir -- -e 'print scalar(getpwuid($<)), " $<\n"')" "appuser 1001" \
    "it runs as the image's USER inside"
is "$(try cx run web -a img -r ir -- -e 'print((stat "/root-file")[4], "\n")')" "0" \
    "a file root owns in the image is root's inside (idmapped layers)"

is "$(try cx run web -a img -r ir -- -MIO::Socket::INET -e 'print IO::Socket::INET->new(LocalPort => 80, Listen => 1) ? "bound\n" : "refused: $!\n"')" \
    "bound" "its user (an unprivileged uid outside) binds port 80 in its own network namespace"

# Outside: the app's range.
rack_dir=$CX_HOME/racks/ir
base=$(stat -c %u "$rack_dir/apps/img/procs/$writer_id/upper")
[ "$base" -ge 65536 ] 2>/dev/null; ok $? "the private layer belongs to the app's first id ($base)"
like "$(cat "$rack_dir"/apps/img/layers/* 2>&1)" "^/var/lib/containers/storage/overlay/[0-9a-f]+/diff" \
    "the image's layers are listed once per image id, for the next starts (no podman call)"
is "$(stat -c %u /proc/$web_pid)" "$((base + 1001))" "the host sees the image's uid 1001 as uid_base+1001"
is "$(try cx run web -a img -r ir -- -e 'print -e "'"$rack_dir"'" ? "seen\n" : "unseen\n"')" "unseen" \
    "the rack's directory is out of sight"
is "$(try cx run web -a img -r ir -- -e 'print -e "/srv/app" || -e "'"$TMP"'" ? "host\n" : "image\n"')" "image" \
    "the host's / is not its /"

# Its writes stay its own and go with it.
wait_for 5 test -f "$rack_dir/apps/img/procs/$writer_id/upper/app/written"
ok $? "a write to / lands in the process's private layer"
is "$(try cx run web -a img -r ir -- -e 'print -e "/app/written" ? "shared\n" : "own\n"')" "own" \
    "another process of the image does not see it"
# cx exec: inside the running process, its layer, user and environment.
is "$(try cx exec "$writer_id" -a img -r ir -- cat /app/written)" "mine" \
    "cx exec runs inside the process: it sees that process's own writes"
is "$(try cx exec "$writer_id" -a img -r ir -- sh -c 'id -un; echo $GREETING; pwd')" \
    "$(printf 'appuser\nfrom-image-env\n/app')" "...as its user, with its environment, in its directory"
out=$(try cx exec "$writer_id" -a img -r ir -- sh -c 'exit 3'); rc=$?
is "$rc" 3 "cx exec exits with the command's status"
out=$(try cx exec nope-123 -a img -r ir -- true); rc=$?
refused "$rc" "$out" "ERROR: no such process: nope-123" "cx exec of an unknown process is refused"
cx scale writer --count 0 -a img -r ir >/dev/null 2>&1
wait_for 10 sh -c "! test -e '$rack_dir/apps/img/procs/$writer_id'"
ok $? "the private layer is removed with its process"

# A VPC rack: port 80, reached through the router.
cx rack install local iv --vpc 10.61.0.0/16 >/dev/null 2>&1; ok $? "install a VPC rack"
cx apps create img -r iv >/dev/null 2>&1
sed -i 's/port: 3000/port: 80/' "$src/convox.yml"
out=$(try cx deploy "$src" -a img -r iv); ok $? "deploy on the VPC rack with port 80" "$out"
body=$(try cx net exec internet -- curl -s --max-time 3 http://web.img.iv.cx.test/)
like "$body" "^from-image-env from img/web" "the router reaches the image's process on port 80" "$body"
is "$(try cx run web -a img -r iv -- -e 'print((stat "/etc/resolv.conf")[7] > 0 ? "ok\n" : "empty\n")')" "ok" \
    "it has the rack's resolver"

done_testing
