#!/usr/bin/env bash
# make demo: the rack-to-rack story, narrated. As root: three VPC racks in
# network namespaces (a and b peered, c not), an internal service in b, and
# who can reach it. Without root: the same platform on loopback racks.
# Everything lives in a temporary CX_HOME and is removed at the end.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
export PATH="$ROOT/bin:$PATH"
export CX_HOME=${CX_DEMO_HOME:-$(mktemp -d /tmp/cx-demo.XXXXXX)}
unset CX_RACK
RACKS=""

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }
cleanup() {
	say "Cleaning up"
	for r in $RACKS; do cx rack uninstall "$r" 2>&1 | sed 's/^/  /'; done
	rm -rf "$CX_HOME"
}
trap cleanup EXIT

# try LABEL CMD...: runs CMD, records whether it got an answer from the app.
RESULTS=""
try() {
	local label=$1 out verdict
	shift
	printf '$ %s\n' "$*"
	out=$("$@" 2>&1 | head -c 400)
	printf '%s\n' "$out" | sed 's/^/  /'
	if printf '%s' "$out" | grep -q "hello from"; then verdict="reached"; else verdict="refused"; fi
	RESULTS="$RESULTS$(printf '%-44s %s' "$label" "$verdict")\n"
}

vpc_demo() {
	say "Three racks, each in its own private network (VPC)"
	for spec in a:10.1.0.0/16 b:10.2.0.0/16 c:10.3.0.0/16; do
		run cx rack install local "${spec%%:*}" --vpc "${spec#*:}" || exit 1
		RACKS="$RACKS ${spec%%:*}"
	done
	run cx net

	say "Rack b: turn on the internal router (the seed's first step)"
	run cx rack params set internal_router=true -r b
	run cx rack -r b

	say "Deploy an app to b: 'api' has internalRouter: true, 'web' is public, 'backend' is rack-only"
	sed -n '/^services:/,$p' "$ROOT/examples/hello/convox-internal.yml"
	run cx apps create svc -r b
	run cx deploy "$ROOT/examples/hello" -m "$ROOT/examples/hello/convox-internal.yml" -a svc -r b || exit 1
	run cx services -a svc -r b

	say "Peer a with b (VPC peering + routes + security groups, done for you)"
	run cx rack peer a b
	run cx rack peers -r a

	say "A service in rack a calls api in rack b, privately"
	run cx apps create caller -r a
	run cx deploy "$ROOT/examples/hello" -a caller -r a || exit 1
	try "a's web service -> b's api (by name)" cx net exec internet -- curl -sS --max-time 3 \
	    "http://web.caller.a.cx.test/call?url=http://api.svc.b-internal.cx.test/"
	try "rack a's network -> b's api" cx net exec a -- curl -sS --max-time 3 http://api.svc.b-internal.cx.test/

	say "...and nobody else can"
	try "the internet -> b's api" cx net exec internet -- curl -sS --max-time 2 http://api.svc.b-internal.cx.test/
	try "rack c (not peered) -> b's api" cx net exec c -- curl -sS --max-time 2 http://api.svc.b-internal.cx.test/
	bpub=$(cx rack -r b --json | sed -n 's/.*"router_address":"\([0-9.]*\):80".*/\1/p')
	try "the internet -> b's public router, api's name" cx net exec internet -- curl -sS --max-time 2 \
	    --resolve "api.svc.b-internal.cx.test:80:$bpub" http://api.svc.b-internal.cx.test/
	try "the internet -> b's public web service" cx net exec internet -- curl -sS --max-time 2 http://web.svc.b.cx.test/

	say "A rack-only service (internal: true) is for rack b's own processes"
	try "rack b's network -> b's backend" cx net exec b -- curl -sS --max-time 2 http://backend.svc.b.local:3000/
	try "rack a (peered) -> b's backend" cx net exec a -- curl -sS --max-time 2 http://backend.svc.b.local:3000/

	say "Proof, hop by hop"
	run cx services reach api -a svc -r b --from a
	run cx services reach api -a svc -r b --from c

	say "Unpeer, and the door closes"
	run cx rack unpeer a b
	try "rack a -> b's api after unpeering" cx net exec a -- curl -sS --max-time 1 http://api.svc.b-internal.cx.test/
}

loopback_demo() {
	say "Not root: VPC racks need network namespaces, so this is the loopback version"
	run cx rack install local dev || exit 1
	RACKS="dev"
	run cx rack params set internal_router=true -r dev
	run cx rack -r dev
	run cx apps create svc -r dev
	run cx deploy "$ROOT/examples/hello" -m "$ROOT/examples/hello/convox-internal.yml" -a svc -r dev || exit 1
	run cx services -a svc -r dev
	web=$(cx services -a svc -r dev --json | tr '{' '\n' | sed -n 's/.*"service":"web".*"url":"\([^"]*\)".*/\1/p')
	api=$(cx services -a svc -r dev --json | tr '{' '\n' | sed -n 's/.*"service":"api".*"url":"\([^"]*\)".*/\1/p')
	pub=$(cx rack params -r dev --json | sed -n 's/.*"router_port":"\([0-9]*\)".*/\1/p')
	try "curl web through the public router" curl -sS --max-time 3 "$web/"
	try "curl api through the internal router" curl -sS --max-time 3 "$api/"
	try "curl api's name on the public router" curl -sS --max-time 3 \
	    -H "Host: ${api#http://}" "http://127.0.0.1:$pub/"
	run cx services reach api -a svc -r dev
	echo "(loopback racks have no network isolation: run 'sudo make demo' for the VPC story)"
}

if [ "$(id -u)" -eq 0 ]; then
	vpc_demo
else
	loopback_demo
fi
say "What was reached from where"
printf '%b' "$RESULTS"
