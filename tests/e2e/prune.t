#!/usr/bin/env bash
# Builds beyond the last build_retention releases go (prune.h): after each
# promotion, and on demand with `cx builds prune`, each with the releases made
# from it, its source directory under apps/APP/builds and its image; never a
# build that a kept release, the active one or a running process uses.
. "$(dirname "$0")/lib.sh"

if ! command -v podman >/dev/null || [ "$(id -u)" != 0 ]; then
	echo "Bail out! prune.t needs podman (make deps) and root"
	exit 1
fi
. "$(dirname "$0")/lib-image.sh"
cx_base_image
rack=pr
remove_images() {
	podman images --format '{{.Repository}}:{{.Tag}}' 2>/dev/null |
	    grep -E "^localhost/cx-$rack/app1/" | xargs -r podman rmi -f >/dev/null 2>&1
}
trap 'remove_images; cleanup' EXIT
dir=$CX_HOME/racks/$rack

cx rack install local $rack >/dev/null || { echo "Bail out! cannot install a rack"; exit 1; }
out=$(cx rack params set build_retention=0 -r $rack 2>&1)
refused $? "$out" 'ERROR: build_retention must be a whole number from 1 to 1000, not "0"' \
    "build_retention=0 is refused in one line"
out=$(cx rack params -r $rack); like "$out" "build_retention +10" "build_retention is 10 by default"
cx rack params set build_retention=2 -r $rack >/dev/null; ok $? "build_retention=2"
cx apps create app1 -r $rack >/dev/null

src=$TMP/src
mkdir -p "$src"
cat > "$src/Dockerfile" <<'EOF'
FROM debian:bookworm
COPY version /version
CMD ["sh", "-c", "while :; do sleep 1; done"]
EOF
cat > "$src/convox.yml" <<'EOF'
services:
  worker:
    build: .
    termination:
      grace: 1
EOF

# deploy N: a build of its own (its source differs); sets B<N> and R<N>.
deploy() {
	echo "$1" > "$src/version"
	cx deploy "$src" -a app1 -r $rack >/dev/null 2>&1 || return 1
	eval "R$1=$(cx releases -a app1 -r $rack --json | jq -r '.[0].id')"
	eval "B$1=$(cx releases -a app1 -r $rack --json | jq -r '.[0].build')"
}
lower() { printf '%s' "$1" | tr 'A-Z' 'a-z'; }
image_of() { echo "localhost/cx-$rack/app1/worker:$(lower "$1")"; }
# Only the active release's processes run, none stopping.
settled() {
	local active
	active=$(cx releases -a app1 -r $rack --json | jq -r '.[] | select(.status == "active") | .id')
	[ "$(cx ps -a app1 -r $rack --json | jq -r '.[] | .release + " " + .status' | sort -u)" = \
	    "$active running" ]
}
# Build $1 is gone: from the store, its directory, its image, cx builds.
gone_build() {
	[ ! -d "$dir/apps/app1/builds/$1" ] &&
	    [ "$(sqlite3 "$dir/state.db" "SELECT COUNT(*) FROM builds WHERE id = '$1'")" = 0 ] &&
	    ! podman image exists "$(image_of "$1")" &&
	    ! cx builds -a app1 -r $rack | grep -q "^$1 "
}
kept_build() {
	[ -d "$dir/apps/app1/builds/$1" ] && podman image exists "$(image_of "$1")" &&
	    cx builds -a app1 -r $rack | grep -q "^$1 "
}

deploy 1; ok $? "first deploy ($B1)"
deploy 2; ok $? "second deploy ($B2)"
kept_build "$B1"; ok $? "with two releases, both builds are kept"
wait_for 30 settled; ok $? "...and the first release's processes are gone"
deploy 3; ok $? "third deploy ($B3)"
wait_for 30 gone_build "$B1"; ok $? "the promotion removed the build beyond the last 2 releases ($B1): row, source, image"
out=$(cx releases -a app1 -r $rack)
lacks "$out" "$R3" "$R1" "...and the release made from it"
kept_build "$B2" && kept_build "$B3"; ok $? "the builds of the last 2 releases stay ($B2 $B3)"

# An env change makes a release of B3: B2's release is no longer among the
# last 2, but the processes still stopping use it until they are gone.
cx env set A=1 -a app1 -r $rack >/dev/null 2>&1; ok $? "env set (a release of $B3)"
wait_for 30 settled; ok $? "...promoted, the old processes gone"
out=$(cx builds prune -a app1 -r $rack 2>&1); rc=$?
ok $rc "cx builds prune exits 0"
is "$out" "Removed build $B2 and release $R2" "...and prints what it removed"
wait_for 30 gone_build "$B2"; ok $? "$B2 is gone: row, source, image"
out=$(cx builds prune -a app1 -r $rack 2>&1)
is "$out" "Nothing to remove: app app1 has no build beyond those its last 2 releases use (build_retention)" \
    "a second prune has nothing to remove"

# A rollback to B3 after a fourth deploy: with build_retention=1 the newer
# B4 goes (its release is not the last), B3 (the active release's) stays.
deploy 4; ok $? "fourth deploy ($B4)"
wait_for 30 settled; ok $? "...settled"
cx rack params set build_retention=1 -r $rack >/dev/null
out=$(cx releases rollback "$R3" -a app1 -r $rack 2>&1); ok $? "rollback to $R3 ($B3)" "$out"
wait_for 30 settled; ok $? "...settled"
out=$(cx builds prune -a app1 -r $rack 2>&1)
like "$out" "^Removed build $B4 and release $R4" "with build_retention=1 the newer build $B4 goes, the active $B3 stays"
kept_build "$B3"; ok $? "$B3 (the active release's) is kept"
wait_for 30 gone_build "$B4"; ok $? "$B4 is gone"
out=$(cx ps -a app1 -r $rack); like "$out" "worker-[0-9a-f]+ +worker +running" "the app still runs"
out=$(cx builds prune -a app1 -r $rack --json)
is "$(printf '%s' "$out" | jq -c '.removed')" "[]" "builds prune --json: what was removed"

# A prune of an app that does not exist.
out=$(cx builds prune -a nope -r $rack 2>&1); refused $? "$out" "^ERROR: no such app: nope" "an unknown app is refused in one line"

cx apps delete app1 -r $rack >/dev/null 2>&1; ok $? "apps delete"
cx rack uninstall $rack >/dev/null 2>&1; ok $? "rack uninstall"
done_testing
