#!/usr/bin/env bash
# Builds through the image builder (podman), as a Convox user writes them:
# a multi-stage Dockerfile with RUN, COPY, ARG (convox.yml build.args, the app's
# env, Convox's own APP/RACK/SERVICE/BUILD), USER/ENV/WORKDIR/EXPOSE/
# ENTRYPOINT/CMD recorded in the build's image config, a .dockerignore,
# build: {path, manifest}, two services sharing one Dockerfile (built once),
# an image: service (pulled, tagged); cx deploy streams the builder's output;
# --no-cache and a warm rebuild that reuses the cache (faster, "Using cache");
# a failing RUN step named with its output while the serving release keeps
# serving; cx builds info|logs; app delete removes the app's images.
# A rack not run as root has no builder: today's way, said in one line.
# Processes starting from the images are image-run.t's: here the recorded
# config and the images themselves are checked with podman.
. "$(dirname "$0")/lib.sh"

if ! command -v podman >/dev/null || [ "$(id -u)" != 0 ]; then
	echo "Bail out! build.t needs podman (make deps) and root"
	exit 1
fi
if [ -f "$(dirname "$0")/lib-image.sh" ]; then
	. "$(dirname "$0")/lib-image.sh"
else
	# Until lib-image.sh (the shared, cached base) is here: the same image,
	# made the same way when it is missing.
	cx_base_image() {
		podman image exists docker.io/library/debian:bookworm && return 0
		timeout 300 mmdebstrap --variant=apt --quiet bookworm "$TMP/base.tar" &&
		    podman import -q "$TMP/base.tar" docker.io/library/debian:bookworm >/dev/null ||
		    { echo "Bail out! cannot make the base image debian:bookworm"; exit 1; }
	}
fi
cx_base_image
# The images this test's builds make go with it, even when it fails midway.
remove_images() {
	podman images --format '{{.Repository}}:{{.Tag}}' 2>/dev/null | grep -E '^localhost/cx-bt/(shop|cas)/' |
	    xargs -r podman rmi -f >/dev/null 2>&1
}
trap 'remove_images; cleanup' EXIT

cx rack install local bt >/dev/null 2>&1; ok $? "rack install"
cx apps create shop -r bt >/dev/null 2>&1; ok $? "apps create shop"
cx env set FROMENV=from-app-env -a shop -r bt >/dev/null 2>&1

src=$TMP/shop
mkdir -p "$src/web"
cp "$EXAMPLES/hello/server.pl" "$src/web/server.pl"
cat > "$src/convox.yml" <<'EOF'
services:
  web:
    build:
      path: web
      manifest: Dockerfile.web
      args:
        - GREETING=from-yml
    command: perl server.pl
    port: 3000
    health: /health
  worker:
    build: jobs
    command: sleep 600
  clock:
    build: jobs
  cache:
    image: docker.io/library/debian:bookworm
    command: sleep 600
EOF
cat > "$src/web/Dockerfile.web" <<'EOF'
FROM debian:bookworm AS builder
RUN sleep 2 && echo slow-step-done > /slow
ARG GREETING=unset
ARG FROMENV
ARG APP
ARG RACK
ARG SERVICE
ARG BUILD
RUN echo "greeting=$GREETING fromenv=$FROMENV app=$APP rack=$RACK service=$SERVICE build=$BUILD" > /args.txt

FROM debian:bookworm
COPY --from=builder /args.txt /slow /
COPY . /app
ENV MODE=image GREETING_AT_RUN=yes
WORKDIR /app
USER 1000:1000
EXPOSE 3000
ENTRYPOINT ["/usr/bin/env"]
CMD ["perl", "server.pl"]
EOF
printf 'secret.txt\n' > "$src/web/.dockerignore"
mkdir -p "$src/jobs"
printf 'FROM debian:bookworm\nRUN echo jobs > /jobs\nCMD ["sleep", "600"]\n' > "$src/jobs/Dockerfile"
echo "not for the image" > "$src/web/secret.txt"

# A cold build (--no-cache), streamed as Convox prints it.
t0=$(date +%s%N)
out=$(cx deploy "$src" -a shop -r bt --no-cache --wait 2>&1); rc=$?
cold_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
ok $rc "deploy with a Dockerfile builds (${cold_ms} ms, --no-cache)" "$out"
like "$out" "^Packaging source\.\.\. OK" "deploy: Packaging source... OK"
like "$out" "Starting build\.\.\. OK" "deploy: Starting build... OK"
like "$out" "Building: web" "deploy prints the builder's output: Building: PATH"
like "$out" "STEP [0-9]+/[0-9]+: RUN sleep 2" "...its steps"
like "$out" "Pulling: docker.io/library/debian:bookworm" "...the image: service's pull"
like "$out" "Tagging: localhost/cx-bt/shop/worker:b[a-z0-9]+ as localhost/cx-bt/shop/clock:" \
	"two services with one Dockerfile, path and args build once"
lacks "$out" "STEP" "Using cache" "--no-cache is passed through: no step from the cache"
like "$out" "Build: +B[A-Z0-9]+" "deploy: Build: BXXXX"
like "$out" "Release: +R[A-Z0-9]+" "deploy: Release: RXXXX"
like "$out" "Promoting R[A-Z0-9]+\.\.\. OK" "deploy: Promoting"
bid=$(printf '%s' "$out" | sed -n 's/^Build: *\(B[A-Z0-9]*\)$/\1/p')
rel=$(printf '%s' "$out" | sed -n 's/^Release: *\(R[A-Z0-9]*\)$/\1/p')
lower=$(printf '%s' "$bid" | tr 'A-Z' 'a-z')
ref=localhost/cx-bt/shop/web:$lower

# What the build recorded: each service's image and its config.
db=$CX_HOME/racks/bt/state.db
images=$(sqlite3 "$db" "SELECT images FROM builds WHERE id = '$bid'")
like "$images" "\"web\":\{\"ref\":\"$ref\",\"config\":\{\"Id\":\"sha256:[0-9a-f]{64}\"" "the build records web's image ref and id"
like "$images" "\"Env\":\[[^]]*\"MODE=image\",\"GREETING_AT_RUN=yes\"\]" "...its ENV"
like "$images" "\"Entrypoint\":\[\"/usr/bin/env\"\],\"Cmd\":\[\"perl\",\"server.pl\"\]" "...ENTRYPOINT and CMD"
like "$images" "\"WorkingDir\":\"/app\",\"User\":\"1000:1000\",\"Expose\":3000" "...WORKDIR, USER and EXPOSE"
like "$images" "\"clock\":\{\"ref\":\"localhost/cx-bt/shop/clock:$lower\",\"config\":\{[^}]*\"Cmd\":\[\"sleep\",\"600\"\]" \
	"clock has its own name for the image it shares with worker, and runs its CMD (no command:)"
like "$images" "\"cache\":\{\"ref\":\"localhost/cx-bt/shop/cache:$lower\"" "the image: service is tagged as the app's"
wid=$(podman image inspect --format '{{.Id}}' "localhost/cx-bt/shop/worker:$lower" 2>&1)
is "$(podman image inspect --format '{{.Id}}' "localhost/cx-bt/shop/clock:$lower" 2>&1)" "$wid" \
	"...the same image as worker's"
is "$(podman image inspect --format '{{.Id}}' "localhost/cx-bt/shop/cache:$lower" 2>&1)" \
	"$(podman image inspect --format '{{.Id}}' docker.io/library/debian:bookworm 2>&1)" \
	"cache runs the image it names"

# Inside the image: the args, the COPY, the .dockerignore.
mnt=$(podman image mount "$ref" 2>&1); ok $? "podman image mount $ref" "$mnt"
is "$(cat "$mnt/args.txt" 2>&1)" \
	"greeting=from-yml fromenv=from-app-env app=shop rack=bt service=web build=$bid" \
	"ARG: convox.yml build.args, the app's env, Convox's APP, RACK, SERVICE and BUILD"
is "$(cat "$mnt/slow" 2>&1)" "slow-step-done" "multi-stage: COPY --from the builder stage"
[ -f "$mnt/app/server.pl" ]; ok $? "COPY . /app: the source is in the image"
[ ! -e "$mnt/app/secret.txt" ] && [ -f "$CX_HOME/racks/bt/apps/shop/builds/$bid/web/secret.txt" ]
ok $? "the build path's .dockerignore keeps secret.txt out of the image (it was uploaded)"
podman image unmount "$ref" >/dev/null 2>&1

url=$(cx services -a shop -r bt --json | tr '{,' '\n\n' | sed -n 's/^"url":"\(http[^"]*\)".*/\1/p')
body=$(curl -s --max-time 5 "$url/"); like "$body" " from " "the app serves ($url)"
out=$(cx builds info "$bid" -a shop -r bt); ok $? "builds info"
like "$out" "Status +complete" "builds info: Status complete"
like "$out" "Release +$rel" "builds info: its release"
out=$(cx builds logs "$bid" -a shop -r bt); ok $? "builds logs"
like "$out" "^Building: web" "builds logs: the builder's output, kept"
like "$out" "STEP [0-9]+/[0-9]+: RUN echo \"greeting" "...every step"
like "$out" "Build $bid complete: release $rel" "...and its end"
[ ! -e "$CX_HOME/racks/bt/apps/shop/builds/$bid/$bid.log" ] &&
    [ -s "$CX_HOME/racks/bt/apps/shop/build-logs/$bid.log" ]
ok $? "the log is the rack's, not in the build directory app processes see"

# Nothing changed: the builder's cache makes it faster.
t0=$(date +%s%N)
out=$(cx build "$src" -a shop -r bt 2>&1); rc=$?
warm_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
ok $rc "a rebuild with nothing changed (${warm_ms} ms, cold ${cold_ms} ms)" "$out"
like "$out" "STEP 2/[0-9]+: RUN sleep 2.*" "...runs the same steps"
like "$out" "Using cache" "...from the cache (Using cache)"
[ "$warm_ms" -lt $((cold_ms - 1500)) ]; ok $? "...at least 1.5 s faster: the 2 s step is not run again"

# Output comes as the builder says it, not at the end.
# (A step never run before: its text names this test's run.)
token=early-${TMP##*/}
sed -i "s/^RUN sleep 2 .*/RUN echo $token \\&\\& sleep 3 \\&\\& echo slow-step-done > \\/slow/" "$src/web/Dockerfile.web"
cx build "$src" -a shop -r bt >"$TMP/stream" 2>&1 &
bpid=$!
track $bpid
early() { grep -q "^$token" "$TMP/stream"; }
wait_for 10 early; ok $? "the RUN step's output is printed while it runs" "$(cat "$TMP/stream")"
kill -0 $bpid 2>/dev/null; ok $? "...before the build ends"
rbid=$(cx builds -a shop -r bt | awk '$2 == "running" { print $1; exit }')
like "$rbid" "^B[A-Z0-9]+$" "cx builds lists the running build"
like "$(cx builds info "$rbid" -a shop -r bt)" "Status +running" "builds info: Status running"
out=$(timeout 30 cx builds logs "$rbid" -a shop -r bt 2>&1); rc=$?
ok $rc "builds logs of a running build follows it to its end" "$out"
like "$out" "^$token" "...from its start"
like "$out" "Build $rbid complete: release R[A-Z0-9]+$" "...to its result"
wait $bpid; ok $? "...which then ends well" "$(cat "$TMP/stream")"

# RUN steps see the host's extra CA certificates (build_host_ca, default true),
# so https through a proxy only the host trusts verifies; the image keeps none.
casrc=$TMP/cas
mkdir -p "$casrc"
printf 'services:\n  probe:\n    build: .\n    command: sleep 600\n' > "$casrc/convox.yml"
printf 'FROM debian:bookworm\nRUN echo "cas-%s: $(ls /usr/local/share/ca-certificates 2>/dev/null | tr "\\n" " ")"\n' \
	"${TMP##*/}" > "$casrc/Dockerfile"
cx apps create cas -r bt >/dev/null 2>&1
host_cas=$(ls /usr/local/share/ca-certificates | tr '\n' ' ')
out=$(cx build "$casrc" -a cas -r bt 2>&1); ok $? "a build of the CA probe" "$out"
is "$(printf '%s\n' "$out" | sed -n "s/^cas-${TMP##*\/}: //p")" "$host_cas" \
	"RUN steps see the host's /usr/local/share/ca-certificates ($host_cas)"
cx rack params set build_host_ca=false -r bt >/dev/null 2>&1; ok $? "rack params set build_host_ca=false"
out=$(cx build "$casrc" -a cas -r bt --no-cache 2>&1); ok $? "...then a build" "$out"
like "$out" "^cas-${TMP##*/}: $" "...whose RUN steps see none"
cx rack params set build_host_ca=true -r bt >/dev/null 2>&1
cx apps delete cas -r bt >/dev/null 2>&1

# A failing step: named with its last output line; the serving release serves.
printf 'RUN echo "about to fail: no such package" && exit 7\n' >> "$src/web/Dockerfile.web"
out=$(cx deploy "$src" -a shop -r bt 2>&1); rc=$?
refused "$rc" "$out" "ERROR: build B[A-Z0-9]+ failed: STEP [0-9]+/[0-9]+ \(RUN echo \"about to fail: no such package\" && exit 7\) failed with exit status 7: about to fail: no such package" \
	"a failing RUN step fails the deploy, naming the step and its last output line"
like "$out" "^about to fail: no such package" "...its output streamed first"
fbid=$(printf '%s' "$out" | sed -n 's/^ERROR: build \(B[A-Z0-9]*\) failed.*/\1/p')
out=$(cx builds info "$fbid" -a shop -r bt); ok $? "builds info of the failed build"
like "$out" "Status +failed" "...Status failed"
out=$(cx builds -a shop -r bt)
like "$(printf '%s' "$out" | sed -n 2p)" "^$fbid +failed +(now|.* ago)" "cx builds lists the failed build first, with no release"
like "$out" "$bid +complete +$rel " "...and the one that made the serving release"
out=$(cx builds logs "$fbid" -a shop -r bt 2>&1); rc=$?
refused "$rc" "$out" "ERROR: build $fbid failed: STEP" "builds logs of a failed build ends with its error"
like "$out" "^about to fail: no such package" "...after what it said"
like "$(cx releases -a shop -r bt)" "$rel +active" "the serving release stays active"
body=$(curl -s --max-time 5 "$url/"); like "$body" " from " "...and serves"

out=$(cx builds logs BNOSUCH -a shop -r bt 2>&1); rc=$?
refused "$rc" "$out" "^ERROR: no such build: BNOSUCH" "builds logs of no build"

# Deleting the app removes its images, once its processes are gone.
cx apps delete shop -r bt >/dev/null 2>&1; ok $? "apps delete"
gone_images() { ! podman image exists "$ref" && ! podman image exists "localhost/cx-bt/shop/cache:$lower"; }
wait_for 60 gone_images; ok $? "the app's images are removed with it"
podman image exists docker.io/library/debian:bookworm; ok $? "...not the image the cache service named"

# A rack not run as root has no builder: today's way, said in one line.
nobody_setup || { echo "Bail out! cannot set up the unprivileged user's directory"; exit 1; }
nsrc="$NOBODY/hello"; cp -r "$EXAMPLES/hello" "$nsrc"
printf 'FROM debian:bookworm\nRUN echo never\nCMD ["perl", "server.pl"]\n' > "$nsrc/Dockerfile"
chmod -R a+rX "$nsrc"
as_nobody cx rack install local box >/dev/null 2>&1; ok $? "an unprivileged user's rack"
as_nobody cx apps create hello -r box >/dev/null 2>&1
out=$(as_nobody cx deploy "$nsrc" -a hello -r box 2>&1); ok $? "deploy with a Dockerfile there" "$out"
is "$(printf '%s\n' "$out" | grep -c '^no image builder')" 1 "...says once that it has no builder"
like "$out" "^no image builder: the rack does not run as root, and its builder \(podman\) needs root's image storage; services run from the host's root filesystem$" \
	"...and why"
like "$out" "^service web: the 1 RUN line\(s\) of Dockerfile are not run without the image builder$" \
	"...and which lines it does not run"
nurl=$(as_nobody cx services -a hello -r box --json | sed -n 's/.*"url":"\([^"]*\)".*/\1/p')
body=$(curl -s --max-time 5 "$nurl/"); like "$body" "^hello from hello/web" "...and the app serves, today's way"
as_nobody cx rack uninstall box >/dev/null 2>&1; ok $? "uninstall the user's rack"

done_testing
