#!/usr/bin/env bash
# A Convox-style app deployed unchanged on a VPC rack: examples/shop, whose
# services build from Dockerfiles (FROM debian:bookworm, made here by
# lib-image.sh) and run from their images:
#   web     Node from Debian's packages, `npm ci` of a real npm package:
#           answers through the public router, with the image's node, not
#           the host's
#   api     Python + Flask from Debian's packages, internal: true: reached by
#           its bare name from web and worker, never through the router
#   worker  no port: its log shows the api's answers
# Then a redeploy with nothing changed and one with one source file changed,
# timed (the builder's layer cache makes both fast).
# Needs root (network namespaces, root's podman storage); every namespace it
# makes and every image it builds is removed on exit, even after a failure;
# the base image stays cached.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-image.sh"

if [ "$(id -u)" -ne 0 ]; then
	echo "1..0 # SKIP VPC racks and root's podman storage need root"
	exit 0
fi
RACK=real$$
lab_cleanup() {
	cx rack uninstall "$RACK" >/dev/null 2>&1
	if [ -n "${PREFIX:-}" ]; then
		for ns in $(ip netns list | awk '{print $1}' | grep "^$PREFIX-"); do ip netns del "$ns"; done
	fi
	# The app's images (an uninstall removes them; belt and braces).
	podman images --format '{{.Repository}}:{{.Tag}}' 2>/dev/null |
	    grep "^localhost/cx-$RACK/" | xargs -r podman rmi -f >/dev/null 2>&1
}
CX_LAB_CLEANUP=lab_cleanup

try() { "$@" 2>&1; }
ms_since() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }

cx_base_image

# A copy of the example: the test changes one of its files later.
cp -r "$EXAMPLES/shop" "$TMP/shop"
out=$(cx rack install local "$RACK" --vpc 10.61.0.0/16 2>&1)
ok $? "install VPC rack $RACK (10.61.0.0/16)" "$out"
PREFIX=$(lab_prefix)
cx apps create shop -r "$RACK" >/dev/null

t0=$(date +%s%N)
out=$(cx deploy "$TMP/shop" -a shop -r "$RACK" 2>&1); rc=$?
first_ms=$(ms_since "$t0")
ok $rc "deploy examples/shop" "$(printf '%s\n' "$out" | tail -20)"
echo "# first deploy (apt-get of node, npm and flask unless the layers are cached): $first_ms ms"
like "$out" "RUN npm ci" "deploy streams the build's output (the npm ci step)"
like "$out" "STEP [0-9/]+: RUN apt-get update .*python3-flask" "...and the api's Dockerfile (apt-get install python3-flask)"

out=$(cx services -a shop -r "$RACK")
like "$out" "web +web\.shop\.$RACK\.cx\.test +80:3000" "web has a public domain, port 3000 behind the router's 80"
like "$out" "api +api\.shop\.$RACK\.local +5000" "api (internal: true) has only its rack-only name"

WEB=http://web.shop.$RACK.cx.test
wait_for 20 sh -c "cx net exec internet -- curl -s --max-time 2 $WEB/ | grep -q '^welcome to the shop'"
body=$(try cx net exec internet -- curl -s --max-time 3 "$WEB/")
like "$body" "^welcome to the shop: shop/web \(release R[A-Z0-9]+, node v18\." \
    "web answers from the internet through the public router, with the image's node 18 (the host has $(node --version 2>/dev/null))"
like "$body" "up [0-9]+(ms|s|m|h)$" "...using the ms package npm ci installed"
body=$(try cx net exec internet -- curl -s --max-time 5 "$WEB/products")
like "$body" '"name": ?"teapot"' "web reaches the internal api by its bare name (http://api:5000)"

# The worker has no port: what it did is in its log.
wait_for 20 sh -c "cx logs --no-follow -s worker -a shop -r $RACK | grep -q 'answered 200: {\"order\"'"
out=$(cx logs --no-follow -s worker -a shop -r "$RACK")
like "$out" "worker: http://api:5000 answered 200: \{\"order\": ?[0-9]+" "the worker's calls reach the api by bare name (its log shows the answers)"
# Its first calls may fail: the api's name resolves once a process of it is
# healthy, and the worker may start before. After the first answer, none may.
later=$(printf '%s\n' "$out" | sed -n '/answered 200/,$p')
lacks "$later" "answered 200" "failed: " "...and after the first answer none of its calls failed"

# Convox's Kubernetes name of the api, from a one-off process of the worker's image.
out=$(try cx run worker -a shop -r "$RACK" -- node -e \
    "require('http').get('http://api.$RACK-shop.svc.cluster.local:5000/health', r => { let b = ''; r.on('data', c => b += c); r.on('end', () => console.log(r.statusCode, b.trim())); }).on('error', e => console.log('error', e.message))")
like "$out" "^200 ok$" "the api answers as api.$RACK-shop.svc.cluster.local:5000 from cx run"

# The api is the app's own: the router does not serve it, nor can the
# internet reach its processes.
bpub=$(cx rack -r "$RACK" --json | sed -n 's/.*"router_address":"\([0-9.]*\):80".*/\1/p')
like "$bpub" '^198\.18\.[0-9]+\.[0-9]+$' "the rack's public router has an internet address ($bpub)"
code=$(try cx net exec internet -- curl -s -o /dev/null -w '%{http_code}' --max-time 3 \
    --resolve "api.shop.$RACK.cx.test:80:$bpub" "http://api.shop.$RACK.cx.test/products")
is "$code" 404 "the public router does not serve the internal api (404 for its name)"
code=$(try cx net exec internet -- curl -s -o /dev/null -w '%{http_code}' --max-time 3 \
    --resolve "api.shop.$RACK.local:80:$bpub" "http://api.shop.$RACK.local/products")
is "$code" 404 "...nor its rack-only name"
aaddr=$(cx ps -a shop -r "$RACK" --json | tr '{' '\n' | grep '"service":"api"' |
    sed -n 's/.*"address":"\(10\.61\.[0-9.]*\)".*/\1/p' | head -1)
like "$aaddr" '^10\.61\.[0-9]+\.[0-9]+$' "an api process has a VPC address ($aaddr)"
exits_with '7|28' "the internet cannot reach an api process by its address" \
    cx net exec internet -- curl -s --max-time 1 "http://$aaddr:5000/health"

# A redeploy with nothing changed reuses the builder's cache.
t0=$(date +%s%N)
out=$(cx deploy "$TMP/shop" -a shop -r "$RACK" 2>&1); rc=$?
same_ms=$(ms_since "$t0")
ok $rc "redeploy with nothing changed" "$(printf '%s\n' "$out" | tail -20)"
like "$out" "Using cache" "...reuses the builder's cache"
echo "# redeploy, nothing changed: $same_ms ms"

# One source file changed: only the layers after COPY . . are built again.
sed -i 's/welcome to the shop/welcome back to the shop/' "$TMP/shop/web/server.js"
t0=$(date +%s%N)
out=$(cx deploy "$TMP/shop" -a shop -r "$RACK" 2>&1); rc=$?
ok $rc "deploy with one source file changed" "$(printf '%s\n' "$out" | tail -20)"
wait_for 20 sh -c "cx net exec internet -- curl -s --max-time 2 $WEB/ | grep -q '^welcome back to the shop'"
ok $? "...and the router serves the change"
echo "# one file changed, deploy to first 200 of the change: $(ms_since "$t0") ms"
lacks "$out" "RUN npm ci" "added 1 package" "...without running npm ci again (its layer is cached)"

# The app's images go once its processes are gone (the rack waits for them).
out=$(cx apps delete shop -r "$RACK" 2>&1); ok $? "delete the app" "$out"
images_gone() {
	local names
	names=$(podman images --format '{{.Repository}}' 2>/dev/null) || return 1
	! printf '%s\n' "$names" | grep -q "^localhost/cx-$RACK/shop/"
}
wait_for 30 images_gone
ok $? "no image of the app is left in podman's storage" "$(podman images | grep "cx-$RACK/shop/")"
out=$(cx rack uninstall "$RACK" 2>&1); ok $? "uninstall the rack" "$out"
check_no_leftovers
left=$(ip netns list | awk '{print $1}' | grep "^$PREFIX-" | tr '\n' ' ')
is "${PREFIX:-no prefix}:$left" "$PREFIX:" "no namespace of this lab ($PREFIX) is left"

done_testing
