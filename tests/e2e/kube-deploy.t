#!/usr/bin/env bash
# kube-deploy.t — `cx deploy` on a Kubernetes rack: the build's image is
# pushed to the rack's registry (Debian's docker-registry on 127.0.0.1, over
# plain http: registry_insecure=true) as REGISTRY/RACK-APP:SERVICE.BUILD,
# and the release's objects are applied to the cluster (a real
# kube-apiserver 1.20.2 over etcd: lib-kube.sh) by server-side apply from
# the rack's daemon; the release is active once its Deployments have
# rolled out (tests/tools/kube-controller.py plays the controller that
# reports it: none runs here); one that does not roll out (the controller
# pauses past deploy_timeout, or reports ProgressDeadlineExceeded) fails,
# and the active release's objects are applied again. A second
# deploy applies its own build's tag; `cx env set -p` and `cx scale` apply
# too; what a release drops is deleted; an object the server refuses fails
# the deploy with the server's message and leaves the old Deployment as it
# was; an unreachable server fails it too. No local process runs for the
# rack's apps, not even after the daemon starts again. `cx apps delete`
# deletes the app's Namespace (Terminating: no controller manager runs here
# to finish it). A rack without a registry refuses a build, naming the
# param, and an image:-only app needs none (its resource is a StatefulSet).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-kube.sh"

if ! command -v podman >/dev/null || ! command -v docker-registry >/dev/null; then
	echo "Bail out! kube-deploy.t needs podman and docker-registry (make deps)"
	exit 1
fi
. "$(dirname "$0")/lib-image.sh"
cx_base_image
# The router image cx builds, localhost/cx-router:VERSION, stays (as
# lib-image.sh's base does): its apt-get layer makes the next run's build
# take 0.3 s instead of 7 to 12. The registry's name for it goes.
remove_images() {
	podman images --format '{{.Repository}}:{{.Tag}}' 2>/dev/null |
	    grep -E '^localhost/cx-kd/|^127\.0\.0\.1:[0-9]+/cx/cx-router:' | xargs -r podman rmi -f >/dev/null 2>&1
}
trap 'remove_images; cleanup' EXIT
kube_start
python3 "$ROOT/tests/tools/kube-controller.py" "$URL" "$TOKEN" "$K/controller.pause" >"$K/controller.log" 2>&1 &
track $!

# The registry: a config of its own, storage in TMP, 127.0.0.1 only.
rp=$(free_port)
mkdir -p "$TMP/registry/data"
cat >"$TMP/registry/config.yml" <<EOF
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $TMP/registry/data
http:
  addr: 127.0.0.1:$rp
EOF
docker-registry serve "$TMP/registry/config.yml" >"$TMP/registry/log" 2>&1 &
track $!
REG=http://127.0.0.1:$rp
wait_for 20 curl -sf --max-time 2 "$REG/v2/"; ok $? "docker-registry answers on 127.0.0.1:$rp (pid $!)" "$(tail -5 "$TMP/registry/log")"

kubeconfig "$URL" "$CA" "    token: $TOKEN" >"$K/kubeconfig"
VER=$(sed -n 's/^#define CX_VERSION "cx-\(.*\)"$/\1/p' "$ROOT/src/common/version.h")
out=$(cx rack install kubernetes kd kubeconfig="$K/kubeconfig" 2>&1); ok $? "cx rack install kubernetes kd (no registry yet)" "$out"
like "$out" "^WARNING: rack kd has no registry, so its router image cx-router:${VER//./\\.} is not built: set one with cx rack params set registry=HOST:PORT/PATH -r kd, then cx rack apply -r kd$" \
    "...it warns that the router image is not built, naming the param"
like "$out" "Deployment router applied" "...and applies the rack's objects all the same"

src=$TMP/web
mkdir -p "$src"
cp "$EXAMPLES/hello/server.pl" "$src/server.pl"
printf 'FROM debian:bookworm\nCOPY server.pl /app/server.pl\nWORKDIR /app\nCMD ["perl", "server.pl"]\n' >"$src/Dockerfile"
manifest() {	# manifest ENV...: the app's convox.yml, declaring each K=DEFAULT
	{ echo 'environment:'; for e in "$@"; do echo "  - $e"; done
	  printf 'services:\n  web:\n    build: .\n    port: 3000\n    health: /health\n'; } >"$src/convox.yml"
}
manifest GREETING=hello
cx apps create web -r kd >/dev/null 2>&1
out=$(cx deploy "$src" -a web -r kd 2>&1); rc=$?
refused $rc "$out" "ERROR: build B[A-Z0-9]+ failed: rack kd is a Kubernetes rack with no registry to push service web's image to: set one with cx rack params set registry=HOST:PORT/PATH -r kd$" \
    "a build on a Kubernetes rack with no registry is refused, naming the param"

# An image:-only app builds nothing and needs no registry. Its resource is
# the cluster's (a StatefulSet), not a server of this host's.
img=$TMP/img
mkdir -p "$img"
imgyml() {	# imgyml EXTRA: the image:-only app's convox.yml, with EXTRA services
	printf 'resources:\n  database:\n    type: postgres\nservices:\n  web:\n    image: registry.example.test/hello:1\n    port: 80\n    resources:\n      - database\n%b' "$1" >"$img/convox.yml"
}
imgyml '  worker:\n    image: registry.example.test/worker:1\n'

cx apps create img -r kd >/dev/null 2>&1
out=$(cx deploy "$img" -a img -r kd 2>&1); ok $? "an image:-only app deploys without a registry" "$out"
like "$(kube_get /apis/apps/v1/namespaces/kd-img/deployments/web)" '"image": "registry\.example\.test/hello:1"' \
    "...its Deployment runs the image it names"
like "$(kube_get /apis/apps/v1/namespaces/kd-img/statefulsets/database)" '"image": "postgres:15"' \
    "...its postgres resource is a StatefulSet on the cluster"
like "$(kube_get /api/v1/namespaces/kd-img/secrets/web-env | jq -r '.data.DATABASE_URL' | base64 -d)" \
    "^postgres://.*@database\.kd-img\.svc\.cluster\.local:5432/" "...whose URL the service's Secret holds"
[ ! -e "$CX_HOME/racks/kd/apps/img/resources" ]; ok $? "...and no resource server was made here"
like "$(kube_get /apis/apps/v1/namespaces/kd-img/deployments/worker)" '"image": "registry\.example\.test/worker:1"' \
    "...its worker is a Deployment too"
# A release without the worker: its objects go from the cluster, the rest stay.
imgyml ''
out=$(cx deploy "$img" -a img -r kd 2>&1); ok $? "deploy the app again without its worker" "$out"
is "$(curl -sk -o /dev/null -w '%{http_code}' --max-time 5 -H "Authorization: Bearer $TOKEN" "$URL/apis/apps/v1/namespaces/kd-img/deployments/worker")" 404 \
    "...the worker's Deployment is deleted"
is "$(curl -sk -o /dev/null -w '%{http_code}' --max-time 5 -H "Authorization: Bearer $TOKEN" "$URL/api/v1/namespaces/kd-img/secrets/worker-env")" 404 \
    "...and its Secret"
like "$(kube_get /apis/apps/v1/namespaces/kd-img/statefulsets/database)" '"name": "database"' "...the resource's StatefulSet stays"
like "$(cx logs -a img -r kd --no-follow 2>&1)" "Deleted Deployment worker: release R[A-Z0-9]+ no longer has it" "...and cx logs says what went"

out=$(cx rack params set registry=http://127.0.0.1:$rp/cx -r kd 2>&1); rc=$?
refused $rc "$out" "ERROR: registry is HOST\[:PORT\]\[/PATH\], with no scheme \(a registry over plain http: set registry_insecure=true too\), not \"http://127\.0\.0\.1:$rp/cx\"$" \
    "a registry given with a scheme is refused, naming registry_insecure"
# A registry that does not answer: the router image is not built, and apply says why.
dead=$(free_port)
out=$(cx rack params set registry=127.0.0.1:$dead/cx registry_insecure=true -r kd 2>&1); ok $? "set a registry where nothing listens" "$out"
out=$(cx rack apply -r kd 2>&1); ok $? "cx rack apply -r kd applies the rack's objects" "$out"
like "$out" "^WARNING: router image 127\.0\.0\.1:$dead/cx/cx-router:${VER//./\\.}: cannot list the tags of 127\.0\.0\.1:$dead/cx/cx-router: .*connection refused.*; the routers' pods start once it is in the registry \(cx rack apply -r kd tries again\)$" \
    "...and warns that it cannot reach the registry for the router image"
lacks "$out" "Deployment router applied" "Building the router image" "...without building it"
out=$(cx rack params set registry=127.0.0.1:$rp/cx registry_insecure=true -r kd 2>&1); ok $? "set the rack's registry (plain http: registry_insecure=true)" "$out"

# The router image: cx rack apply builds and pushes it, the registry lacking it.
RIMG=127.0.0.1:$rp/cx/cx-router:$VER
out=$(cx rack apply -r kd 2>&1); ok $? "cx rack apply -r kd, the registry lacking the router image" "$out"
like "$out" "^Building the router image ${RIMG//./\\.}\.\.\. OK \([0-9]+ ms\)$" "...builds it"
like "$out" "^Pushing ${RIMG//./\\.}\.\.\. OK \([0-9]+ ms\)$" "...pushes it"
note "router image: $(printf '%s\n' "$out" | grep -E '^(Building|Pushing)' | tr '\n' ' ')"
like "$(curl -s --max-time 5 "$REG/v2/cx/cx-router/tags/list")" "\"${VER//./\\.}\"" "the registry lists cx-router:$VER"
like "$(kube_get /apis/apps/v1/namespaces/kd-system/deployments/router)" "\"image\": \"${RIMG//./\\.}\"" \
    "...the image the router Deployment names"
# The pushed image runs its programs: each says its usage and exits 2. (crun
# cannot set a container's rlimits on these machines, so podman run fails
# there: the image's root filesystem is run by chroot instead, in a PID and
# mount namespace with a /proc of its own, which a sanitizer build needs.)
out=$(podman pull -q --tls-verify=false "$RIMG" 2>&1); ok $? "podman pull $RIMG" "$out"
mnt=$(podman image mount "$RIMG" 2>&1); ok $? "...mount it" "$mnt"
for p in cx-router cx-ingress; do
	out=$(env -u ASAN_OPTIONS -u UBSAN_OPTIONS timeout 20 unshare --mount --pid --fork \
	    --mount-proc="$mnt/proc" chroot "$mnt" /usr/local/bin/$p 2>&1); rc=$?
	is "$rc" 2 "...its $p runs and exits 2 without arguments" "$out"
	like "$out" "^usage: $p " "...saying its usage"
done
podman image unmount "$RIMG" >/dev/null 2>&1
out=$(cx rack apply -r kd 2>&1); ok $? "cx rack apply -r kd again" "$out"
like "$out" "^Router image ${RIMG//./\\.}: in the registry$" "...finds the router image in the registry"
lacks "$out" "Deployment router applied" "Building the router image" "...and builds nothing"
# An install with a registry builds and pushes it, though the tag is there.
out=$(cx rack install kubernetes kr kubeconfig="$K/kubeconfig" registry=127.0.0.1:$rp/cx registry_insecure=true 2>&1)
ok $? "cx rack install kubernetes kr registry=127.0.0.1:$rp/cx" "$out"
like "$out" "^Pushing ${RIMG//./\\.}\.\.\. OK \([0-9]+ ms\)$" "...builds and pushes the router image"
note "router image at install: $(printf '%s\n' "$out" | grep -E '^(Building|Pushing)' | tr '\n' ' ')"
like "$(kube_get /apis/apps/v1/namespaces/kr-system/deployments/router-internal)" "\"image\": \"${RIMG//./\\.}\"" \
    "...which its router-internal Deployment names"
out=$(cx rack uninstall kr 2>&1); ok $? "uninstall rack kr" "$out"
# Without podman (not on PATH), apply says so in one line, and applies.
out=$(PATH=$BIN cx rack apply -r kd 2>&1); ok $? "cx rack apply -r kd without podman on PATH" "$out"
like "$out" "^WARNING: router image ${RIMG//./\\.}: no image builder: install podman \(make deps\); the routers' pods start once it is in the registry \(cx rack apply -r kd tries again\)$" \
    "...warns that podman is missing"
like "$out" "Deployment router applied" "...and applies the rack's objects"
t0=$(date +%s%N)
out=$(cx deploy "$src" -a web -r kd 2>&1); ok $? "cx deploy of an app with a Dockerfile build" "$out"
note "first deploy (build, push, apply) took $(( ($(date +%s%N) - t0) / 1000000 )) ms"
like "$out" "Promoting R[A-Z0-9]+\.\.\. OK" "...its release is promoted"
b1=$(cx releases -a web -r kd --json | jq -r '.[0].build' | tr 'A-Z' 'a-z')
tag1="web.$b1"
like "$out" "Pushing: 127\.0\.0\.1:$rp/cx/kd-web:$tag1" "...the build says it pushes REGISTRY/RACK-APP:SERVICE.BUILD"
note "$(printf '%s\n' "$out" | grep -o 'Pushed: .* in [0-9]* ms')"
note "$(cx logs -a web -r kd --no-follow 2>&1 | grep -o 'Applied release .*' | tail -1)"
like "$(curl -s --max-time 5 "$REG/v2/cx/kd-web/tags/list")" "\"$tag1\"" "the registry lists the tag"
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
    -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' "$REG/v2/cx/kd-web/manifests/$tag1")
is "$code" 200 "...and holds its manifest"
dep=$(kube_get /apis/apps/v1/namespaces/kd-web/deployments/web)
like "$dep" "\"image\": \"127\\.0\\.0\\.1:$rp/cx/kd-web:$tag1\"" "the cluster's Deployment web runs that tag"
like "$dep" '"manager": "cx-kd"' "...applied with the rack's field manager cx-kd"
for o in api/v1/namespaces/kd-web/services/web api/v1/namespaces/kd-web/secrets/web-env \
    apis/networking.k8s.io/v1/namespaces/kd-web/ingresses/web; do
	like "$(kube_get "/$o")" '"name": "web"|"name": "web-env"' "the cluster holds ${o#*namespaces/kd-web/}"
done
like "$(cx releases -a web -r kd 2>&1 | sed -n 2p)" " active " "cx releases: the release is active"
like "$(cx services -a web -r kd 2>&1 | sed -n 2p)" "^web +web\.web\.kd\.localhost +80:3000$" \
    "cx services: the Ingress's host, on the cluster's port 80 (not the local router's)"
is "$(cx ps -a web -r kd 2>&1 | tail -n +2)" "" "cx ps shows no local process"
is "$(sqlite3 "$CX_HOME/racks/kd/state.db" 'SELECT COUNT(*) FROM processes')" 0 "...the rack records none"
# Every process a rack starts bears its mark (reconcile.h: FNV-1a of the
# rack's directory) in CX_RACK_PROCESS; none on this host bears kd's.
mark=$(python3 -c 'import sys
h = 14695981039346656037
for c in sys.argv[1].encode():
    h = ((h ^ c) * 1099511628211) % 2**64
print("%016x" % h)' "$CX_HOME/racks/kd")
marked() { grep -lsa "CX_RACK_PROCESS=$mark/" /proc/[0-9]*/environ | wc -l; }
is "$(marked)" 0 "...and none with the rack's mark ($mark) runs on this host"
out=$(cx run -a web -r kd web echo hi 2>&1); rc=$?
refused $rc "$out" "ERROR: app web runs on rack kd's Kubernetes cluster, not here: use kubectl -n kd-web there$" \
    "cx run refuses: the app runs on the cluster"

# cx env set promotes its release the same way: the Secret holds the change.
out=$(cx env set -p GREETING=bonjour -a web -r kd 2>&1); ok $? "cx env set -p GREETING=bonjour (promoted)" "$out"
like "$(kube_get /api/v1/namespaces/kd-web/secrets/web-env | jq -r '.data.GREETING' | base64 -d)" "^bonjour$" \
    "...the cluster's Secret web-env has it"
# cx scale applies the active release again, with the count.
out=$(cx scale web --count 3 -a web -r kd 2>&1); ok $? "cx scale web --count 3" "$out"
wait_for 10 sh -c "curl -sk --max-time 2 -H 'Authorization: Bearer $TOKEN' $URL/apis/apps/v1/namespaces/kd-web/deployments/web | grep -q '\"replicas\": 3'"
ok $? "...the Deployment has 3 replicas"

# A second deploy: a new build, its own tag.
echo "# changed" >>"$src/server.pl"
t0=$(date +%s%N)
out=$(cx deploy "$src" -a web -r kd 2>&1); ok $? "a second deploy" "$out"
note "second deploy took $(( ($(date +%s%N) - t0) / 1000000 )) ms: $(printf '%s\n' "$out" | grep -o 'Pushed: .* in [0-9]* ms')"
b2=$(cx releases -a web -r kd --json | jq -r '.[0].build' | tr 'A-Z' 'a-z')
tag2="web.$b2"
isnt_same() { [ "$1" != "$2" ]; }
isnt_same "$b1" "$b2"; ok $? "...made a new build ($b2)"
like "$(kube_get /apis/apps/v1/namespaces/kd-web/deployments/web)" "\"image\": \"127\\.0\\.0\\.1:$rp/cx/kd-web:$tag2\"" \
    "...and the Deployment runs its tag now"
like "$(curl -s --max-time 5 "$REG/v2/cx/kd-web/tags/list")" "\"$tag1\".*\"$tag2\"|\"$tag2\".*\"$tag1\"" "...the registry has both tags"

# The release is active only once its Deployment has rolled out: with the
# controller paused, the promotion waits, the new tag already applied.
out=$(cx rack params set deploy_progress_deadline=90 -r kd 2>&1); ok $? "set deploy_progress_deadline=90" "$out"
echo "# third" >>"$src/server.pl"
touch "$K/controller.pause"
cx deploy "$src" -a web -r kd >"$K/deploy3.out" 2>&1 &
dpid=$!
# The newest release is promoting, and the Deployment runs its build's tag.
third_applied() {
	local b
	b=$(cx releases -a web -r kd --json | jq -r 'select(.[0].status == "promoting") | .[0].build' | tr 'A-Z' 'a-z')
	[ -n "$b" ] && kube_get /apis/apps/v1/namespaces/kd-web/deployments/web | grep -q "\"image\": \"[^\"]*:web\.$b\""
}
wait_for 60 third_applied
ok $? "with the rollout not reported, the third release's Deployment is applied" "$(cat "$K/deploy3.out"; cx releases -a web -r kd 2>&1 | head -3)"
sleep 1.5
kill -0 $dpid 2>/dev/null; ok $? "...and cx deploy still waits 1.5 s later" "$(cat "$K/deploy3.out")"
like "$(cx releases -a web -r kd --json | jq -r '.[] | select(.status == "active") | .build' | tr 'A-Z' 'a-z')" "^$b2$" \
    "...while the second release stays active"
like "$(kube_get /apis/apps/v1/namespaces/kd-web/deployments/web)" '"progressDeadlineSeconds": 90' \
    "...the Deployment has deploy_progress_deadline as its progressDeadlineSeconds"
rm -f "$K/controller.pause"
wait_for 30 gone $dpid; ok $? "once the rollout is reported, cx deploy ends"
wait $dpid; ok $? "...and succeeds" "$(cat "$K/deploy3.out")"
b3=$(cx releases -a web -r kd --json | jq -r '.[0].build' | tr 'A-Z' 'a-z')
like "$(cx releases -a web -r kd 2>&1 | sed -n 2p)" " active " "...its release is active"
like "$(cx logs -a web -r kd --no-follow 2>&1)" "Rolled out Deployment web in [0-9]+ ms" "...and cx logs says the rollout"

# Past deploy_timeout the release fails, and the active one is applied again.
out=$(cx rack params set deploy_timeout=2 -r kd 2>&1); ok $? "set deploy_timeout=2" "$out"
echo "# fourth" >>"$src/server.pl"
touch "$K/controller.pause"
out=$(cx deploy "$src" -a web -r kd 2>&1); rc=$?
refused $rc "$out" "ERROR: release R[A-Z0-9]+ was not applied to the cluster: Deployment web did not finish rolling out in 2 s: the controller has not seen generation [0-9]+ yet$" \
    "a rollout unfinished after deploy_timeout fails the deploy, saying what it waits for"
wait_for 20 sh -c "curl -sk --max-time 2 -H 'Authorization: Bearer $TOKEN' $URL/apis/apps/v1/namespaces/kd-web/deployments/web | grep -q '\"image\": \"[^\"]*:web\.$b3\"'"
ok $? "...and the Deployment runs the active release's tag again" "$(kube_get /apis/apps/v1/namespaces/kd-web/deployments/web | grep '"image"')"
wait_for 20 sh -c "cx logs -a web -r kd --no-follow 2>&1 | grep -qE 'Restored release R[A-Z0-9]+ on the cluster'"
ok $? "...which cx logs says" "$(cx logs -a web -r kd --no-follow 2>&1 | tail -5)"
like "$(cx releases -a web -r kd --json | jq -r '.[] | select(.status == "active") | .build' | tr 'A-Z' 'a-z')" "^$b3$" \
    "...whose release stays active"
rm -f "$K/controller.pause"
out=$(cx rack params set deploy_timeout=600 -r kd 2>&1); ok $? "set deploy_timeout=600" "$out"

# A daemon started again starts nothing of the app here either.
pid=$(cat "$CX_HOME/racks/kd/rackd.pid")
kill "$pid"
wait_for 10 gone "$pid"; ok $? "stop the rack's daemon (pid $pid)"
cx-rackd --home "$CX_HOME" --rack kd --daemon; ok $? "...and start it again"
like "$(cx apps -r kd 2>&1)" "^web +running " "...the app is running (on the cluster)"
sleep 0.5    # a few of the daemon's ticks, when a local rack would start its processes
is "$(marked)" 0 "...and still no process of the rack runs on this host"

# Someone made the app's Secret immutable: the server refuses a change to
# it (a variable the convox.yml adds), and nothing of the release is
# applied (the Deployment keeps the third build's tag).
code=$(curl -sk -o "$K/patch.out" -w '%{http_code}' --max-time 5 -X PATCH -H "Authorization: Bearer $TOKEN" \
    -H 'Content-Type: application/merge-patch+json' -d '{"immutable": true}' "$URL/api/v1/namespaces/kd-web/secrets/web-env")
is "$code" 200 "make the Secret web-env immutable (as another manager)" "$(cat "$K/patch.out")"
manifest GREETING=hello SIZE=large
out=$(cx deploy "$src" -a web -r kd 2>&1); rc=$?
refused $rc "$out" "ERROR: release R[A-Z0-9]+ was not applied to the cluster: Secret web-env: the API server refused it \(422\): .*immutable" \
    "a deploy with an object the server refuses fails with the server's message"
note "$(printf '%s\n' "$out" | grep ERROR)"
r3=$(cx releases -a web -r kd --json | jq -r '.[0].id')
like "$(cx releases info "$r3" -a web -r kd 2>&1)" "Status +failed" "...its release is failed"
like "$(cx releases info "$r3" -a web -r kd 2>&1)" "Error +release $r3 was not applied to the cluster: Secret web-env: .*immutable" "...with the server's message"
like "$(kube_get /apis/apps/v1/namespaces/kd-web/deployments/web)" "\"image\": \"127\\.0\\.0\\.1:$rp/cx/kd-web:web\\.$b3\"" \
    "...and the Deployment still runs the third build's tag"
like "$(cx releases -a web -r kd --json | jq -r '.[] | select(.status == "active") | .build' | tr 'A-Z' 'a-z')" "^$b3$" \
    "...whose release stays active"

t0=$(date +%s%N)
out=$(cx apps delete web -r kd 2>&1); ok $? "cx apps delete web" "$out"
note "apps delete took $(( ($(date +%s%N) - t0) / 1000000 )) ms"
like "$(kube_get /api/v1/namespaces/kd-web | tr -d ' \n')" '"phase":"Terminating"' \
    "...its Namespace kd-web is being deleted (no controller runs here to finish it)"
lacks "$(cx apps -r kd 2>&1)" "img" "^web " "...and the app is gone from the rack"

# The controller gives up on a rollout (ProgressDeadlineExceeded): the deploy
# fails with its message, and the active release's objects go back, its
# resource's StatefulSet included.
printf 'services:\n  web:\n    image: registry.example.test/hello:stall\n    port: 80\n' >"$img/convox.yml"
out=$(cx deploy "$img" -a img -r kd 2>&1); rc=$?
refused $rc "$out" "ERROR: release R[A-Z0-9]+ was not applied to the cluster: Deployment web did not roll out: ProgressDeadlineExceeded: ReplicaSet \"web-stall\" has timed out progressing\.$" \
    "a rollout the controller gives up on fails the deploy with the controller's message"
wait_for 20 sh -c "curl -sk --max-time 2 -H 'Authorization: Bearer $TOKEN' $URL/apis/apps/v1/namespaces/kd-img/deployments/web | grep -q '\"image\": \"registry\.example\.test/hello:1\"'"
ok $? "...and the Deployment runs the active release's image again" "$(kube_get /apis/apps/v1/namespaces/kd-img/deployments/web | grep '"image"')"
like "$(kube_get /apis/apps/v1/namespaces/kd-img/statefulsets/database)" '"name": "database"' "...its resource's StatefulSet stays"

# A variable the release needs and lacks refuses the promotion at once.
printf 'environment:\n  - TOKEN\nservices:\n  web:\n    image: registry.example.test/hello:1\n    port: 80\n' >"$img/convox.yml"
out=$(cx deploy "$img" -a img -r kd 2>&1); rc=$?
refused $rc "$out" "Promoting R[A-Z0-9]+\.\.\. ERROR: .*TOKEN" "a release without a required variable is refused, naming it"

# The server gone: a deploy fails, saying it cannot reach it.
kill "$api_pid"
wait "$api_pid" 2>/dev/null
printf 'services:\n  web:\n    image: registry.example.test/hello:2\n    port: 80\n' >"$img/convox.yml"
out=$(cx deploy "$img" -a img -r kd 2>&1); rc=$?
refused $rc "$out" "ERROR: release R[A-Z0-9]+ was not applied to the cluster: $URL/version: .*(refused|connect)" \
    "a deploy to an API server that is down fails, saying so"
like "$(cx releases -a img -r kd --json | jq -r '.[] | select(.status == "active") | .id')" "^R" "...and the app's earlier release stays active"
out=$(cx apps delete img -r kd 2>&1); rc=$?
refused $rc "$out" "ERROR: cannot delete app img's Namespace kd-img on the cluster: .*; the app stays \(cx apps delete img again once the cluster answers\)$" \
    "cx apps delete with the server down fails, and keeps the app"
like "$(cx apps -r kd 2>&1)" "img" "...which is still there"
out=$(cx rack uninstall kd 2>&1); ok $? "uninstall the rack (its cluster gone: it warns)" "$out"
check_no_leftovers
done_testing
