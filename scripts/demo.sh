#!/usr/bin/env bash
# make demo: the rack-to-rack story, narrated. As root: three VPC racks in
# network namespaces (a and b peered, c not), an internal service in b, and
# who can reach it; then the same across three machines played by
# namespaces, peered over TLS by an operator who knows them by cx login. Without root: the same platform on loopback racks.
# Everything lives in a temporary CX_HOME and is removed at the end.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
export PATH="$ROOT/bin:$PATH"
export CX_HOME=${CX_DEMO_HOME:-$(mktemp -d /tmp/cx-demo.XXXXXX)}
unset CX_RACK
RACKS=""

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }
MACHINES=""
cleanup() {
	say "Cleaning up"
	for r in $RACKS; do cx rack uninstall "$r" 2>&1 | sed 's/^/  /'; done
	for h in $MACHINES; do
		[ "$h" = op ] || on "$h" cx rack uninstall "r${h#h}" 2>&1 | sed "s/^/  $h: /"
	done
	for h in $MACHINES; do ip netns del "$NS-$h" 2>/dev/null; done
	[ -n "$MACHINES" ] && ip netns del "$NS-ul" 2>/dev/null
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

# The same story across machines: three hosts and an operator, each played
# by a network namespace on one underlay network, with nothing shared but it.
NS="cxd$$"
on() { local h=$1; shift; nsenter --net="/run/netns/$NS-$h" env CX_HOME="$CX_HOME/machines/$h" "$@"; }
hosts_demo() {
	local h net=198.51.100 api dom pw
	say "Chapter 2: racks on three machines, peered over TLS (machines played by namespaces)"
	ip netns add "$NS-ul" && ip -n "$NS-ul" link add br0 type bridge && ip -n "$NS-ul" link set br0 up || return
	for h in h1 h2 h3 op; do
		MACHINES="$MACHINES $h"
		mkdir -p "$CX_HOME/machines/$h"
		ip netns add "$NS-$h" && ip -n "$NS-ul" link add "u-$h" type veth peer name eth0 netns "$NS-$h" &&
		    ip -n "$NS-ul" link set "u-$h" master br0 up && ip -n "$NS-$h" link set lo up &&
		    ip -n "$NS-$h" addr add "$net.$([ $h = op ] && echo 100 || echo 1${h#h})/24" dev eth0 &&
		    ip -n "$NS-$h" link set eth0 up || return
	done
	printf 'nameserver %s\n' "$net.250" >"$CX_HOME/resolv.conf"
	export CX_HOST_RESOLV="$CX_HOME/resolv.conf"
	for h in h1 h2 h3; do
		printf '[%s] ' "$h"
		run on "$h" cx rack install local "r${h#h}" "public_address=$net.1${h#h}" \
		    $([ $h = h2 ] && echo internal_router=true) || return
	done
	say "The operator's machine knows the racks only by their address and password"
	for h in h1 h2 h3; do
		pw=$(cat "$CX_HOME/machines/$h/racks/r${h#h}/password")
		printf '[op] '; run on op cx login "$net.1${h#h}:5443" --password "$pw"
	done
	printf '[op] '; run on op cx racks
	for h in 1 2 3; do on op cx apps create svc -r "r$h" >/dev/null; done
	printf '[op] '; run on op cx deploy "$ROOT/examples/hello" -m "$ROOT/examples/hello/convox-internal.yml" -a svc -r r2 || return
	for h in 1 3; do on op cx deploy "$ROOT/examples/hello" -a svc -r "r$h" >/dev/null || return; done
	printf '[op] '; run on op cx rack peer r1 r2
	printf '[op] '; run on op cx rack peers -r r2
	dom=$(on op cx rack params -r r2 --json | sed -n 's/.*"domain_internal":"\([^"]*\)".*/\1/p')
	api="api.svc.$dom"
	sleep 1
	try "machine 1: a process of r1 -> r2's api" on op cx run web -a svc -r r1 -- \
	    curl -sS --max-time 3 "http://$api/"
	printf '[op] '; run on op cx run web -a svc -r r1 -- curl -sS --max-time 3 "http://$api/headers"
	try "machine 3: a process of r3 (not peered)" on op cx run web -a svc -r r3 -- \
	    curl -sS --max-time 3 "http://$api/"
	try "operator: r2's public address, api's name" on op curl -sS --max-time 3 \
	    -H "Host: $api" "http://$net.12/"
	try "operator: r2's peer port, no certificate" on op curl -sS --max-time 3 -k "https://$net.12:8443/"
	printf '[op] '; run on op cx rack unpeer r1 r2
	try "machine 1: r1 -> r2's api after unpeering" on op cx run web -a svc -r r1 -- \
	    curl -sS --max-time 3 "http://$api/"
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
	hosts_demo
else
	loopback_demo
fi
say "What was reached from where"
printf '%b' "$RESULTS"
