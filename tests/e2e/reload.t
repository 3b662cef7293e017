#!/usr/bin/env bash
# reload.t — reloads lose no request: under steady wrk load over two
# cx-testsrv upstreams, the route snapshot is swapped 100 times the way the
# rack daemon does it (write a temp file, rename it over, SIGHUP), each swap
# seen to load (cx_router_reloads_total) before the next; then the same for
# the TLS listener's certificate (a new key and certificate renamed into the
# certificates' directory, SIGHUP), each swap seen served. wrk must report
# no non-2xx answer and no socket error (connect, read, write, timeout).
# TAP (lib.sh); run by `prove` from the repo root. Binaries from
# ${CX_BIN:-bin}; every process it starts is tracked and stopped on exit.
. "$(dirname "$0")/lib.sh"
router_bins

for t in wrk openssl curl; do
	command -v $t >/dev/null || { echo "Bail out! $t is not installed (make deps)"; exit 1; }
done
SWAPS=100

P1=$(free_port); P2=$(free_port); PR=$(free_port); PT=$(free_port)
"$TESTSRV" --listen 127.0.0.1:$P1 --name one >"$T/one.log" 2>&1 & track $!
"$TESTSRV" --listen 127.0.0.1:$P2 --name two >"$T/two.log" 2>&1 & track $!
wait_port $P1 && wait_port $P2 || echo "# upstreams did not start"

# The three snapshots the swaps rotate through: both upstreams, then each
# alone, so every swap changes where requests go. localhost is the TLS name
# (wrk sends the URL's host as SNI).
snapshot() { # snapshot N: the Nth snapshot's text
	echo "cx-routes 1"
	for h in web.app1.dev.localhost localhost; do
		echo "host $h app1 web 60 /"
		case $(($1 % 3)) in
		0) echo "up web-1111 127.0.0.1 $P1"; echo "up web-2222 127.0.0.1 $P2" ;;
		1) echo "up web-2222 127.0.0.1 $P2" ;;
		2) echo "up web-1111 127.0.0.1 $P1" ;;
		esac
	done
}
swap_routes() { # swap_routes N: write, rename, SIGHUP, as cx-rackd does
	snapshot "$1" >"$T/routes.tmp" && mv "$T/routes.tmp" "$T/routes" && kill -HUP $RPID
}

mkdir -p "$T/certs"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/ca.key" \
	-out "$T/ca.pem" -days 2 -subj "/CN=reload test CA" 2>/dev/null
# mkcert DIR: a key and a certificate for localhost signed by the CA, in DIR
mkcert() {
	mkdir -p "$1" &&
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=localhost" \
		-keyout "$1/localhost.key" -out "$1/csr" 2>/dev/null &&
	printf 'subjectAltName=DNS:localhost\n' >"$1/ext" &&
	openssl x509 -req -in "$1/csr" -CA "$T/ca.pem" -CAkey "$T/ca.key" -CAcreateserial \
		-days 1 -extfile "$1/ext" -out "$1/localhost.pem" 2>/dev/null
}
mkcert "$T/cert-a" && mkcert "$T/cert-b"
ok $? "two certificates for localhost"
cp "$T/cert-a/localhost.key" "$T/cert-a/localhost.pem" "$T/certs/"

snapshot 0 >"$T/routes"
"$ROUTER" --name public --rack dev --listen 127.0.0.1:$PR --listen-tls 127.0.0.1:$PT \
	--certs "$T/certs" --routes "$T/routes" --workers 2 --access-log "$T/access.log" \
	>"$T/router.log" 2>&1 &
RPID=$!
track $RPID
wait_port $PR && wait_port $PT || echo "# router did not start: $(cat "$T/router.log")"

metric() { # metric NAME: its value on the metrics page
	curl -s --max-time 5 -H 'Host: _cx' "http://127.0.0.1:$PR/_cx/metrics" |
		sed -n "s/^$1{[^}]*} \([0-9][0-9]*\)$/\1/p"
}
# wrk_load URL OUT: steady keep-alive load in the background (WRK_PID)
# until wrk_stop (SIGINT: wrk stops and prints its counts), 5 min at most
wrk_load() {
	wrk -t1 -c16 -d300s --timeout 5s -H 'Host: web.app1.dev.localhost' "$1" >"$2" 2>&1 &
	WRK_PID=$!
	track $WRK_PID
}
wrk_stop() {
	kill -INT $WRK_PID 2>/dev/null
	wait $WRK_PID
}
# wrk_verdict OUT NAME: the run answered, all 2xx, no socket error
wrk_verdict() {
	local n
	n=$(sed -n 's/^ *\([0-9][0-9]*\) requests in .*/\1/p' "$1")
	ok $([ "${n:-0}" -gt 1000 ]; echo $?) "$2: wrk's load went on through the swaps ($n requests)" "$(cat "$1")"
	ok $(! grep -q 'Non-2xx' "$1"; echo $?) "...every answer 2xx" "$(cat "$1")"
	ok $(! grep -q 'Socket errors' "$1"; echo $?) "...no socket error (connect, read, write, timeout)" "$(cat "$1")"
}

# run_swaps SWAP SEEN: SWAPS times, SWAP i then SEEN i within 5 s; says how
# many swaps were seen (in DONE_SWAPS)
run_swaps() {
	local i
	DONE_SWAPS=0
	for i in $(seq 1 $SWAPS); do
		$1 $i || return
		wait_for 5 $2 $i || return
		DONE_SWAPS=$i
	done
}

# 2-6: 100 route snapshots under load.
routes_seen() { [ "$(metric cx_router_reloads_total)" -ge $((base + $1)) ]; }
wrk_load "http://127.0.0.1:$PR/" "$T/wrk-routes.txt"
sleep 1
base=$(metric cx_router_reloads_total)
run_swaps swap_routes routes_seen
is "$DONE_SWAPS" $SWAPS "the router loaded $SWAPS route snapshots, one after another, under load"
ok $(kill -0 $WRK_PID 2>/dev/null; echo $?) "...all while wrk was still running"
wrk_stop
wrk_verdict "$T/wrk-routes.txt" "route swaps"
is "$(metric cx_router_reload_errors_total)" 0 "no snapshot was refused"

# 7: both upstreams served (the access log names the process of each request)
kill -HUP $RPID	# the log is written in batches; one more quiet reload is harmless
wait_for 10 sh -c "grep -q '\"process\":\"web-1111\"' '$T/access.log' &&
	grep -q '\"process\":\"web-2222\"' '$T/access.log'"
ok $? "both upstreams served requests between the swaps" "$(tail -3 "$T/access.log")"

# 8-12: 100 certificate swaps under load on the TLS listener.
served() { openssl s_client -connect 127.0.0.1:$PT -servername localhost </dev/null 2>/dev/null |
	openssl x509 -noout -fingerprint -sha256 2>/dev/null; }
fp_a=$(openssl x509 -noout -fingerprint -sha256 -in "$T/cert-a/localhost.pem")
fp_b=$(openssl x509 -noout -fingerprint -sha256 -in "$T/cert-b/localhost.pem")
is "$(served)" "$fp_a" "the TLS listener serves the first certificate"
# swap_cert N: certificate b for odd N, a for even ones, renamed in, SIGHUP
swap_cert() {
	local d=$T/cert-a
	[ $(($1 % 2)) = 1 ] && d=$T/cert-b
	cp "$d/localhost.key" "$T/certs/.localhost.key.tmp" &&
		cp "$d/localhost.pem" "$T/certs/.localhost.pem.tmp" &&
		mv "$T/certs/.localhost.key.tmp" "$T/certs/localhost.key" &&
		mv "$T/certs/.localhost.pem.tmp" "$T/certs/localhost.pem" && kill -HUP $RPID
}
cert_seen() { if [ $(($1 % 2)) = 1 ]; then [ "$(served)" = "$fp_b" ]; else [ "$(served)" = "$fp_a" ]; fi; }
wrk_load "https://localhost:$PT/" "$T/wrk-certs.txt"
sleep 1
run_swaps swap_cert cert_seen
is "$DONE_SWAPS" $SWAPS "$SWAPS certificate swaps, each served before the next, under load"
ok $(kill -0 $WRK_PID 2>/dev/null; echo $?) "...all while wrk was still running"
wrk_stop
wrk_verdict "$T/wrk-certs.txt" "certificate swaps"
out=$(curl -s --max-time 10 --cacert "$T/ca.pem" --resolve "localhost:$PT:127.0.0.1" \
	"https://localhost:$PT/")
like "$out" "^(one|two)$" "after the swaps the TLS listener answers, the certificate verifying"

done_testing
