#!/usr/bin/env bash
# route-swap.t — snapshot and certificate swaps pushed by the rack daemon
# lose no request, on kept-alive connections and on new ones. A loopback
# rack serves examples/hello (convox-internal.yml: api on the internal
# router, web on the public one). Under wrk load through the internal
# router, `cx rack params set internal_router_whitelist=...` is run 100
# times, alternating two values: each makes the daemon rebuild the
# internal router's snapshot, rename it in and SIGHUP the router, and each is
# seen loaded (the router's cx_router_reloads_total) before the next. Then,
# under wrk HTTPS load on the public router's TLS port, `cx ssl update
# web:443` alternates two generated certificates 24 times, each seen served
# (openssl s_client) before the next. Two wrk runs load each phase, one on
# kept-alive connections, one with "Connection: close" (a new connection, and
# TLS handshake, for every request). Each must count requests and report no
# non-2xx answer and no socket error; the numbers print as TAP comments.
# wrk sends the URL's host as SNI and *.localhost does not resolve here, so
# the HTTPS wrk runs in a mount namespace of its own with an /etc/hosts
# naming the service's host.
. "$(dirname "$0")/lib.sh"

WRK=${WRK:-/usr/bin/wrk}
for t in "$WRK" openssl curl unshare; do
	command -v "$t" >/dev/null || { echo "Bail out! $t is not installed (make deps)"; exit 1; }
done
SWAPS=100
CERT_SWAPS=24

cx rack install local dev >/dev/null || { echo "Bail out! cannot install a rack"; exit 1; }
dir=$CX_HOME/racks/dev
out=$(cx rack params set internal_router=true -r dev 2>&1); ok $? "enable the internal router" "$out"
param() { cx rack params -r dev --json | sed -n 's/.*"'"$1"'":"\([0-9]*\)".*/\1/p'; }
iport=$(param router_internal_port)
tport=$(param router_tls_port)
cx apps create swap -r dev >/dev/null
out=$(cx deploy "$EXAMPLES/hello" -m "$EXAMPLES/hello/convox-internal.yml" -a swap -r dev 2>&1)
ok $? "deploy examples/hello with an internal-router service" "$out"
AH=api.swap.dev-internal.localhost
WH=web.swap.dev.localhost
wait_for 20 curl -sf --max-time 2 -H "Host: $AH" "http://127.0.0.1:$iport/"
like "$(curl -s --max-time 5 -H "Host: $AH" "http://127.0.0.1:$iport/")" "^hello from swap/api" \
	"api answers through the internal router"

# metric PORT NAME: NAME's value on the metrics page of the router on PORT
metric() {
	curl -s --max-time 5 -H 'Host: _cx' "http://127.0.0.1:$1/_cx/metrics" |
		sed -n "s/^$2{[^}]*} \([0-9][0-9]*\)$/\1/p"
}
# load_start NAME URL HOST [HEADER]: wrk (-t1 -c16) in the background, 120 s
# at most, until load_stop NAME; HOST is sent as the Host header, HEADER
# too if given (Connection: close: a new connection, and handshake, for
# every request).
declare -A WRK_PID
load_start() {
	timeout 150 "$WRK" -t1 -c16 -d120s --timeout 5s -H "Host: $3" ${4:+-H "$4"} "$2" \
		>"$TMP/wrk-$1" 2>&1 &
	WRK_PID[$1]=$!
	track "${WRK_PID[$1]}"
}
running() { for n in "$@"; do kill -0 "${WRK_PID[$n]}" 2>/dev/null || return; done; }
# load_stop NAME: stops wrk (SIGINT: it prints its counts); checks them.
load_stop() {
	local f=$TMP/wrk-$1 reqs non2xx sock
	kill -INT "${WRK_PID[$1]}" 2>/dev/null
	wait "${WRK_PID[$1]}" 2>/dev/null
	reqs=$(sed -n 's/^ *\([0-9]*\) requests in .*/\1/p' "$f")
	non2xx=$(sed -n 's/^ *Non-2xx or 3xx responses: *\([0-9]*\).*/\1/p' "$f")
	sock=$(sed -n 's/^ *Socket errors: *\(.*\)$/\1/p' "$f")
	note "$1: ${reqs:-?} requests, non-2xx ${non2xx:-0}, socket errors ${sock:-none}"
	ok $([ -n "$reqs" ] && [ "$reqs" -gt 0 ]; echo $?) "$1: wrk's load was served (${reqs:-no} requests)" "$(cat "$f")"
	ok $([ -z "$non2xx" ]; echo $?) "$1: every answer 2xx" "$(cat "$f")"
	ok $([ -z "$sock" ]; echo $?) "$1: no socket error (connect, read, write, timeout)" "$(cat "$f")"
}
# run_swaps N SWAP SEEN: N times SWAP i, then SEEN i within 10 s; the count
# seen goes in DONE_SWAPS
run_swaps() {
	local i
	DONE_SWAPS=0
	for i in $(seq 1 "$1"); do
		$2 "$i" >/dev/null 2>&1 || return
		wait_for 10 "$3" "$i" || return
		DONE_SWAPS=$i
	done
}

# 1. 100 snapshots of the internal router, each rebuilt by the daemon.
swap_routes() { cx rack params set internal_router_whitelist=10.77.$(($1 % 2)).0/24 -r dev; }
routes_seen() { [ "$(metric "$iport" cx_router_reloads_total)" -ge $((base + $1)) ]; }
ipid=$(cat "$dir/router-internal.pid")
load_start routes "http://127.0.0.1:$iport/" "$AH"
load_start routes-close "http://127.0.0.1:$iport/" "$AH" "Connection: close"
sleep 1
base=$(metric "$iport" cx_router_reloads_total)
like "$base" '^[0-9]+$' "the internal router counts its reloads ($base so far)"
t0=$(date +%s%N)
run_swaps $SWAPS swap_routes routes_seen
t1=$(date +%s%N)
is "$DONE_SWAPS" $SWAPS "the daemon pushed $SWAPS snapshots, each loaded before the next, under load"
ok $(running routes routes-close; echo $?) "...all while both wrk runs were still going"
load_stop routes
load_stop routes-close
after=$(metric "$iport" cx_router_reloads_total)
note "route swaps: reloads $base -> $after in $(( (t1 - t0) / 1000000 )) ms"
is "$((after - base))" $SWAPS "...the router's reload counter advanced by exactly $SWAPS"
is "$(metric "$iport" cx_router_reload_errors_total)" 0 "...none refused"
is "$(cat "$dir/router-internal.pid")" "$ipid" "...by the same router process (reloaded, not restarted)"
like "$(sed -n 's/^allow //p' "$dir/routes.internal" 2>/dev/null | tr '\n' ' ')" \
	"10\.77\.0\.0/24" "...whose table holds the last whitelist" "$(ls "$dir")"

# 2. Certificate reloads on the public router's TLS port.
cx rack ca -r dev >"$TMP/ca.pem"
gen() { local o; o=$(cx certs generate "$WH" -r dev 2>&1) && echo "${o##*, }"; }
c1=$(gen); c2=$(gen)
like "$c1 $c2" "^cert-[0-9a-f]{8} cert-[0-9a-f]{8}$" "two certificates generated for $WH"
fp() { openssl x509 -noout -fingerprint -sha256 -in "$dir/certs/store/$1.pem" 2>/dev/null; }
fp1=$(fp "$c1"); fp2=$(fp "$c2")
served() { openssl s_client -connect "127.0.0.1:$tport" -servername "$WH" </dev/null 2>/dev/null |
	openssl x509 -noout -fingerprint -sha256 2>/dev/null; }
# swap_cert N: binds the second certificate for odd N, the first for even ones
swap_cert() { cx ssl update web:443 "$([ $(($1 % 2)) = 1 ] && echo "$c2" || echo "$c1")" -a swap -r dev; }
cert_seen() { [ "$(served)" = "$([ $(($1 % 2)) = 1 ] && echo "$fp2" || echo "$fp1")" ]; }
swap_cert 0 >/dev/null 2>&1
wait_for 10 cert_seen 0; ok $? "the TLS listener serves the first one once bound"
printf '127.0.0.1 %s\n' "$WH" >"$TMP/hosts"
# The HTTPS wrk: /etc/hosts names $WH in its own mount namespace (unshare
# execs sh, sh execs wrk: $! is wrk's pid).
WRK_REAL=$WRK
WRK=$TMP/wrk-ns
cat >"$WRK" <<EOF
#!/bin/sh
exec unshare -m sh -c 'mount --bind "$TMP/hosts" /etc/hosts && exec "$WRK_REAL" "\$@"' wrk "\$@"
EOF
chmod +x "$WRK"
tpid=$(cat "$dir/router-public.pid" 2>/dev/null)
tbase=$(metric "$(param router_port)" cx_router_reloads_total)
load_start certs "https://$WH:$tport/" "$WH"
load_start certs-close "https://$WH:$tport/" "$WH" "Connection: close"
sleep 1
run_swaps $CERT_SWAPS swap_cert cert_seen
is "$DONE_SWAPS" $CERT_SWAPS "$CERT_SWAPS certificate swaps by cx ssl update, each served before the next, under load"
ok $(running certs certs-close; echo $?) "...all while both wrk runs were still going"
load_stop certs
load_stop certs-close
tafter=$(metric "$(param router_port)" cx_router_reloads_total)
note "certificate swaps: public router reloads $tbase -> $tafter"
ok $([ $((tafter - tbase)) -ge $CERT_SWAPS ]; echo $?) "...the public router reloaded at least $CERT_SWAPS times" "$tbase -> $tafter"
is "$(cat "$dir/router-public.pid" 2>/dev/null)" "$tpid" "...the same router process throughout"
out=$(curl -s --max-time 10 --cacert "$TMP/ca.pem" --resolve "$WH:$tport:127.0.0.1" "https://$WH:$tport/")
like "$out" "^hello from swap/web" "after the swaps HTTPS answers, the certificate verifying"

cx rack uninstall dev >/dev/null
check_no_leftovers
done_testing
