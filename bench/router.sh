#!/usr/bin/env bash
# router.sh — cx-router against nginx and HAProxy, configured alike (see
# /work/shared/BENCH-NOTES.md): one worker each, keep-alive to the same two
# nginx upstreams that answer a 13-byte body, Host-based routing in all three,
# each serving plain HTTP/1.1 and HTTPS (TLS 1.3, the same P-256 certificate
# for "localhost", which wrk resolves and sends as SNI; upstreams stay plain).
# cx-router runs once per worker count of BENCH_CX_WORKERS ("cx" is one
# worker, "cx-wN" N workers, pinned to CPUs 0-(N-1)); the others on CPU1, wrk
# and the upstreams on CPU0. Runs are interleaved (cx cx-w2 nginx haproxy cx
# ...) and the medians are printed with the ratios and the new upstream
# connections each proxy opened (counted by the upstreams' stub_status).
# Plain -c1 is also measured with everything on CPU0 ("same core").
# Then, for cx, nginx and HAProxy (one worker each): the RSS of IDLE_CONNS
# (10000) idle keep-alive client connections, plain and TLS, and the
# syscalls per request (strace -c -f: STRACE_REQS requests on one connection
# by cx-hammer, and 3 s of wrk -c64).
#
#   bench/router.sh            BENCH_SECS=10 BENCH_ROUNDS=3 by default
#   CX_BIN=build-asan/bin ...  another build
#   BENCH_MODES="http https"   which of the two to load (both by default)
#   BENCH_CONNS="1 64 256"     concurrencies
#   BENCH_CX_WORKERS="1 2"     cx-router worker counts to run side by side
#   BENCH_IDLE_CONNS=10000     0 leaves the idle measure out
#   BENCH_STRACE_REQS=20000    0 leaves the syscall count out
# Everything it starts is stopped on exit.
set -u
cd "$(dirname "$0")/.."

BIN=${CX_BIN:-bin}
case $BIN in /*) ;; *) BIN=$PWD/$BIN ;; esac
SECS=${BENCH_SECS:-10}
ROUNDS=${BENCH_ROUNDS:-3}
CONNS=${BENCH_CONNS:-"1 64 256"}
MODES=${BENCH_MODES:-"http https"}
CXW=${BENCH_CX_WORKERS:-"1 2"}
IDLE_N=${BENCH_IDLE_CONNS:-10000}
STRACE_N=${BENCH_STRACE_REQS:-20000}
PROXY_CPU=${BENCH_PROXY_CPU:-1}
LOAD_CPU=${BENCH_LOAD_CPU:-0}
HOST_http=bench.app.cx.localhost
HOST_https=localhost

for t in wrk nginx haproxy taskset curl openssl python3 strace; do
	command -v $t >/dev/null || { echo "bench: $t is not installed (make deps)" >&2; exit 1; }
done
[ -x "$BIN/cx-router" ] || { echo "bench: $BIN/cx-router missing (make all)" >&2; exit 1; }
[ -x "$BIN/cx-hammer" ] || { echo "bench: $BIN/cx-hammer missing (make all)" >&2; exit 1; }
# 10000 idle connections need more descriptors than the usual 1024: the soft
# limit goes to the hard one (20000 here: without CAP_SYS_RESOURCE it cannot
# go past it), which the proxies and the client inherit. cx-router may hold
# MAXCONN client connections (--max-conns), nginx as many descriptors as the
# limit (worker_connections, upstream ones included), HAProxy HA_MAXCONN.
ulimit -n "$(ulimit -Hn)" || { echo "bench: cannot raise the descriptor limit" >&2; exit 1; }
[ "$(ulimit -n)" = unlimited ] || [ "$(ulimit -n)" -gt $((IDLE_N + 200)) ] ||
	{ echo "bench: $IDLE_N idle connections need more than $(ulimit -n) descriptors" >&2; exit 1; }
MAXCONN=$((IDLE_N + 100 > 4000 ? IDLE_N + 100 : 4000))	# 4000: HAProxy's cap before
# HAProxy keeps two descriptors per connection (maxsock = 2 maxconn + 15) and
# will not start past the limit: at 20000 it holds 9990 connections at most.
HA_MAXCONN=$(( ($(ulimit -n) - 20) / 2 < MAXCONN ? ($(ulimit -n) - 20) / 2 : MAXCONN ))

T=$(mktemp -d /tmp/cx-bench-router.XXXXXX)
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for f in "$T"/*.pid; do [ -f "$f" ] && kill "$(cat "$f" 2>/dev/null)" 2>/dev/null; done
	sleep 0.3
	for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
	for f in "$T"/*.pid; do [ -f "$f" ] && kill -9 "$(cat "$f" 2>/dev/null)" 2>/dev/null; done
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

TAKEN=" "
# Below the ephemeral range, where no outgoing connection holds a port.
EPH_LOW=$(awk '{print $1}' /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
free_port() { # sets FREE to a port nothing listens on, none given before
	local p
	for _ in $(seq 1 200); do
		p=$((10000 + RANDOM % (EPH_LOW - 10000)))
		case $TAKEN in *" $p "*) continue;; esac
		if ! (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null; then FREE=$p; TAKEN+="$p "; return; fi
	done
	echo "bench: no free port" >&2; exit 1
}
wait_port() {
	for _ in $(seq 1 100); do
		(exec 3<>/dev/tcp/127.0.0.1/$1) 2>/dev/null && return 0
		sleep 0.05
	done
	echo "bench: nothing listens on $1; logs: $(tail -n 3 "$T"/*.log "$T"/*/error.log 2>/dev/null)" >&2
	exit 1
}

free_port; U1=$FREE; free_port; U2=$FREE; free_port; US=$FREE
declare -A PORT	# PORT[target.mode]
TARGETS=()
for w in $CXW; do
	[ "$w" = 1 ] && n=cx || n=cx-w$w
	TARGETS+=("$n")
done
TARGETS+=(nginx haproxy)
for n in "${TARGETS[@]}"; do
	free_port; PORT[$n.http]=$FREE; free_port; PORT[$n.https]=$FREE
done
HS=$HOST_https

# TLS: one CA and one certificate for $HS, the same file for all three.
mkdir -p "$T/certs"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/ca.key" \
	-out "$T/ca.pem" -days 2 -subj "/CN=bench CA" 2>/dev/null &&
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$HS" \
	-keyout "$T/certs/$HS.key" -out "$T/leaf.csr" 2>/dev/null &&
printf 'subjectAltName=DNS:%s\nextendedKeyUsage=serverAuth\n' "$HS" >"$T/leaf.ext" &&
openssl x509 -req -in "$T/leaf.csr" -CA "$T/ca.pem" -CAkey "$T/ca.key" -CAcreateserial \
	-days 1 -extfile "$T/leaf.ext" -out "$T/certs/$HS.pem" 2>/dev/null ||
	{ echo "bench: cannot make the certificate" >&2; exit 1; }
cat "$T/certs/$HS.pem" "$T/certs/$HS.key" >"$T/combined.pem"

host_of() { if [ "$1" = https ]; then echo $HOST_https; else echo $HOST_http; fi; }
url_of() { # url_of TARGET MODE: the URL wrk and curl ask
	if [ "$2" = https ]; then echo "https://$HOST_https:${PORT[$1.https]}/"
	else echo "http://127.0.0.1:${PORT[$1.http]}/"; fi
}

# --- upstreams: one nginx worker on CPU0, two ports, 13-byte body ---
mkdir -p "$T/up" "$T/ng"
cat >"$T/up/nginx.conf" <<EOF
worker_processes 1;
pid $T/up.pid;
error_log $T/up/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 1000000;
    keepalive_timeout 300s;
    client_body_temp_path $T/up; proxy_temp_path $T/up; fastcgi_temp_path $T/up;
    uwsgi_temp_path $T/up; scgi_temp_path $T/up;
    server { listen 127.0.0.1:$U1 reuseport; listen 127.0.0.1:$U2 reuseport;
             location / { return 200 "Hello, world!"; } }
    server { listen 127.0.0.1:$US; location / { stub_status; } }
}
EOF
taskset -c $LOAD_CPU nginx -c "$T/up/nginx.conf" -p "$T/up" || exit 1

# --- contenders ---
cat >"$T/ng/nginx.conf" <<EOF
worker_processes 1;
worker_rlimit_nofile $(ulimit -n);
pid $T/ng.pid;
error_log $T/ng/error.log warn;
events { worker_connections $(ulimit -n); }
http {
    access_log off;
    keepalive_requests 1000000;
    keepalive_timeout 300s;
    client_body_temp_path $T/ng; proxy_temp_path $T/ng; fastcgi_temp_path $T/ng;
    uwsgi_temp_path $T/ng; scgi_temp_path $T/ng;
    upstream app { server 127.0.0.1:$U1; server 127.0.0.1:$U2; keepalive 512;
                   keepalive_requests 1000000; keepalive_timeout 300s; }
    ssl_certificate $T/certs/$HS.pem; ssl_certificate_key $T/certs/$HS.key;
    ssl_protocols TLSv1.3; ssl_session_cache off;
    server { listen 127.0.0.1:${PORT[nginx.http]} default_server;
             listen 127.0.0.1:${PORT[nginx.https]} ssl default_server; return 404; }
    server {
        listen 127.0.0.1:${PORT[nginx.http]};
        listen 127.0.0.1:${PORT[nginx.https]} ssl;
        server_name $HOST_http $HOST_https;
        location / {
            proxy_pass http://app;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host \$host;
            proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
        }
    }
}
EOF
taskset -c $PROXY_CPU nginx -c "$T/ng/nginx.conf" -p "$T/ng" || exit 1

cat >"$T/haproxy.cfg" <<EOF
global
    nbthread 1
    maxconn $HA_MAXCONN
    ulimit-n $(ulimit -n)
    pidfile $T/ha.pid
defaults
    mode http
    maxconn $HA_MAXCONN
    timeout connect 5s
    timeout client 300s
    timeout server 60s
    timeout http-keep-alive 300s
    http-reuse always
    option forwardfor
frontend fe
    bind 127.0.0.1:${PORT[haproxy.http]}
    bind 127.0.0.1:${PORT[haproxy.https]} ssl crt $T/combined.pem ssl-min-ver TLSv1.3
    acl h hdr(host),field(1,:) -i $HOST_http $HOST_https
    use_backend app if h
    default_backend none
backend app
    balance roundrobin
    server u1 127.0.0.1:$U1
    server u2 127.0.0.1:$U2
backend none
    http-request deny deny_status 404
EOF
taskset -c $PROXY_CPU haproxy -D -f "$T/haproxy.cfg" >"$T/haproxy.log" 2>&1 || { cat "$T/haproxy.log"; exit 1; }

cat >"$T/routes" <<EOF
cx-routes 1
host $HOST_http bench web 60 /
up web-1 127.0.0.1 $U1
up web-2 127.0.0.1 $U2
host $HOST_https bench web 60 /
up web-1 127.0.0.1 $U1
up web-2 127.0.0.1 $U2
EOF
for w in $CXW; do
	[ "$w" = 1 ] && n=cx || n=cx-w$w
	cpus=$PROXY_CPU
	[ "$w" = 1 ] || cpus=0-$((w - 1))
	taskset -c $cpus "$BIN/cx-router" --name public --rack bench --workers "$w" --max-conns $MAXCONN \
		--listen 127.0.0.1:${PORT[$n.http]} --listen-tls 127.0.0.1:${PORT[$n.https]} \
		--certs "$T/certs" --routes "$T/routes" --pidfile "$T/$n.pid" >"$T/$n.log" 2>&1 &
	PIDS+=($!)
done

for p in $U1 $U2 $US "${PORT[@]}"; do wait_port $p; done
for n in "${TARGETS[@]}"; do
	for m in http https; do
		body=$(curl -s --max-time 5 --cacert "$T/ca.pem" -H "Host: $(host_of $m)" "$(url_of $n $m)")
		[ "$body" = "Hello, world!" ] ||
			{ echo "bench: $n ($m) answered '$body'" >&2; exit 1; }
	done
	echo "$n https: $(openssl s_client -connect 127.0.0.1:${PORT[$n.https]} -servername $HS \
		-CAfile "$T/ca.pem" </dev/null 2>/dev/null | grep -m1 '^New, ')"
done

# PIDs of a contender (for pinning, RSS, strace): its workers.
pids_of() {
	case $1 in
	cx*) cat "$T/$1.pid";;
	nginx) pgrep -P "$(cat "$T/ng.pid")";;
	haproxy) cat "$T/ha.pid";;
	esac
}
pin() { # pin NAME CPU
	for p in $(pids_of $1); do taskset -a -p -c $2 $p >/dev/null; done
}
# CPU time of a contender's threads so far, in ns (/proc/PID/task/*/schedstat).
cpu_ns() {
	local p
	for p in $(pids_of $1); do cat /proc/$p/task/*/schedstat 2>/dev/null; done |
		awk '{ s += $1 } END { printf "%.0f", s }'
}
rss() { local s=0; for p in $(pids_of $1); do s=$((s + $(ps -o rss= -p $p))); done; echo $s; }
# Connections the upstreams accepted so far (this query's own included).
accepts() { curl -s --max-time 5 http://127.0.0.1:$US/ | awk 'NR==3 {print $1}'; }
to_us() { # wrk latency (e.g. 123.45us, 1.20ms, 2.00s) -> microseconds
	awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) m = 1; else if (v ~ /ms$/) m = 1000;
		else if (v ~ /s$/) m = 1000000; else m = 1; printf "%.0f", n * m }'
}
wrk_at() { # wrk_at TARGET MODE CONNS SECS [--latency]
	taskset -c $LOAD_CPU wrk -t1 -c$3 -d${4}s ${5:-} -H "Host: $(host_of $2)" "$(url_of $1 $2)" 2>&1
}

# run NAME MODE CONNS TAG: one wrk run; appends "rps p50us p99us newconns
# cpu-us-per-request cpu-busy-%" to $T/res.NAME.MODE.CONNS.TAG. The proxy's
# CPU per request is its capacity: when wrk and the upstreams (one core) are
# what limits req/s, every proxy shows the same req/s, and only the CPU it
# spent on them tells how many more it could take.
run() {
	local name=$1 mode=$2 c=$3 tag=$4 a0 a1 out rps p50 p99 n0 n1 reqs cpu busy
	# A 1 s warm-up at the same concurrency refills pools that idled out
	# while the others ran, so new-conns counts churn during the run only.
	wrk_at $name $mode $c 1 >/dev/null
	a0=$(accepts)
	n0=$(cpu_ns $name)
	out=$(wrk_at $name $mode $c $SECS --latency)
	n1=$(cpu_ns $name)
	a1=$(accepts)
	a1=$((a1 - 1))	# the second query's own connection
	rps=$(echo "$out" | awk '/^Requests\/sec/ {printf "%.0f", $2}')
	p50=$(to_us "$(echo "$out" | awk '$1 == "50%" {print $2}')")
	p99=$(to_us "$(echo "$out" | awk '$1 == "99%" {print $2}')")
	if echo "$out" | grep -q 'Non-2xx\|Socket errors'; then
		echo "# $name $mode -c$c: $(echo "$out" | grep 'Non-2xx\|Socket errors' | tr '\n' ' ')" >&2
	fi
	reqs=$(echo "$out" | awk '/requests in/ {print $1}')
	cpu=$(awk -v d=$((n1 - n0)) -v r=${reqs:-0} 'BEGIN { printf "%.2f", r ? d / r / 1000 : 0 }')
	busy=$(awk -v d=$((n1 - n0)) -v s=$SECS 'BEGIN { printf "%.0f", d / (s * 1e7) }')
	echo "${rps:-0} ${p50:-0} ${p99:-0} $((a1 - a0)) $cpu $busy" >>"$T/res.$name.$mode.$c.$tag"
	printf '  %-8s %-5s -c%-4s %-5s %8s req/s  p50 %6s us  p99 %7s us  new upstream conns %s  cpu %6s us/req (%s%% busy)\n' \
		"$name" "$mode" "$c" "$tag" "${rps:-0}" "${p50:-0}" "${p99:-0}" "$((a1 - a0))" "$cpu" "$busy"
}

median() { sort -n | awk '{v[NR] = $1} END { if (NR == 0) print 0; else print v[int((NR + 1) / 2)] }'; }
col() { [ -f "$1" ] && awk -v k=$2 '{print $k}' "$1" | median || echo 0; }

# idle NAME MODE: RSS of NAME before and after IDLE_N idle keep-alive client
# connections (one request answered on each, by tests/tools/cx-flood.py),
# then they are closed.
idle() {
	local name=$1 mode=$2 before after held ipid ca=() n=$IDLE_N
	[ "$mode" = https ] && ca=("$T/ca.pem")
	[ $name = haproxy ] && [ $n -gt $((HA_MAXCONN - 10)) ] && n=$((HA_MAXCONN - 10))
	before=$(rss $name)
	timeout 600 python3 tests/tools/cx-flood.py idle 127.0.0.1:${PORT[$name.$mode]} \
		"$(host_of $mode)" $n 300 "${ca[@]}" >"$T/idle.out" 2>&1 &
	ipid=$!
	for _ in $(seq 1 1200); do
		grep -q '^held' "$T/idle.out" 2>/dev/null && break
		kill -0 $ipid 2>/dev/null || break
		sleep 0.25
	done
	sleep 1
	after=$(rss $name)
	held=$(awk '/^held/ {print $2}' "$T/idle.out")
	kill $ipid 2>/dev/null; wait $ipid 2>/dev/null
	printf '  %-8s %-5s %6s KiB -> %7s KiB: %6s held (%s)  %6s bytes per connection\n' \
		$name $mode $before $after "${held:-0}" "$(cut -d' ' -f3- "$T/idle.out" | head -1)" \
		"$([ "${held:-0}" -gt 0 ] && echo $(( (after - before) * 1024 / held )) || echo -)"
	sleep 2	# the closes are taken
}

# syscalls NAME MODE: strace -c -f over STRACE_N requests on one connection
# (cx-hammer, plain) or over 3 s of wrk -c64; calls per request.
syscalls() {
	local name=$1 how=$2 spid reqs pid
	pid=$(pids_of $name | head -1)
	strace -c -f -qq -o "$T/strace.out" -p "$pid" 2>/dev/null &
	spid=$!
	sleep 1
	if [ "$how" = c1 ]; then
		taskset -c $LOAD_CPU "$BIN/cx-hammer" 127.0.0.1:${PORT[$name.http]} $HOST_http $STRACE_N \
			>"$T/hammer.out" 2>&1
		reqs=$STRACE_N
	else
		reqs=$(wrk_at $name http 64 3 | awk '/requests in/ {print $1}')
	fi
	kill -INT $spid; wait $spid 2>/dev/null
	awk -v r="$reqs" -v n=$name -v h=$how '
		$NF == "total" { tot = $4 }
		NF >= 5 && $1 ~ /^[0-9.]+$/ && $NF != "total" { c[$NF] = $4; e[$NF] = NF == 6 ? $5 : 0 }
		END { if (r == 0) { print "  " n ": no requests"; exit }
			printf "  %-8s %-3s %6.2f syscalls per request (%d requests):", n, h, tot / r, r
			for (k in c) if (c[k] / r >= 0.05) {
				printf " %s %.2f", k, c[k] / r
				if (e[k] / r >= 0.01) printf " (%.2f failed)", e[k] / r
			}
			printf "\n" }' "$T/strace.out"
}

echo "cx-router vs nginx vs haproxy: ${ROUNDS} interleaved rounds of ${SECS}s, wrk -t1 on CPU$LOAD_CPU,"
echo "proxies on CPU$PROXY_CPU (cx-wN on CPUs 0-(N-1)); 'same' = -c1 with every process on CPU$LOAD_CPU"
echo "machine: $(nproc) CPUs, $(uname -r), $(nginx -v 2>&1 | sed 's/.*: //'), $(haproxy -v | head -1 | cut -d' ' -f1-3)"

if [ "$IDLE_N" -gt 0 ]; then
	echo
	echo "idle keep-alive client connections ($IDLE_N each, one request answered on each; RSS of the proxy)"
	for m in http https; do
		for n in cx nginx haproxy; do idle $n $m; done
	done
fi

# Warm-up: fill the pools the way a running router would be.
for m in $MODES; do
	for n in "${TARGETS[@]}"; do wrk_at $n $m 256 2 >/dev/null; done
done
echo
for r in $(seq 1 $ROUNDS); do
	echo "round $r"
	for m in $MODES; do
		for c in $CONNS; do
			for n in "${TARGETS[@]}"; do run $n $m $c split; done
		done
	done
	if echo " $CONNS " | grep -q ' 1 ' && echo " $MODES " | grep -q ' http '; then
		for n in cx nginx haproxy; do
			pin $n $LOAD_CPU; run $n http 1 same; pin $n $PROXY_CPU
		done
	fi
done

echo
echo "medians of $ROUNDS runs (req/s, latency in us, new upstream connections during a run)"
printf '%-8s %-5s %-6s %10s %8s %8s %10s %10s %6s\n' target mode conns req/s p50 p99 new-conns cpu-us/req busy%
for m in $MODES; do
	for c in $CONNS; do
		for tag in split same; do
			[ $tag = same ] && { [ $c != 1 ] || [ $m != http ]; } && continue
			for n in "${TARGETS[@]}"; do
				f=$T/res.$n.$m.$c.$tag
				[ -f "$f" ] || continue
				printf '%-8s %-5s -c%-4s %10s %8s %8s %10s %10s %6s  %s\n' $n $m $c "$(col $f 1)" \
					"$(col $f 2)" "$(col $f 3)" "$(col $f 4)" "$(col $f 5)" "$(col $f 6)" \
					"$([ $tag = same ] && echo '(same core)')"
			done
			for n in "${TARGETS[@]}"; do
				case $n in cx*) ;; *) continue;; esac
				[ -f "$T/res.$n.$m.$c.$tag" ] || continue
				awk -v n=$n -v m=$m -v c=$c -v t=$tag -v a=$(col $T/res.$n.$m.$c.$tag 1) \
					-v b=$(col $T/res.nginx.$m.$c.$tag 1) -v h=$(col $T/res.haproxy.$m.$c.$tag 1) \
					-v pa=$(col $T/res.$n.$m.$c.$tag 3) -v pb=$(col $T/res.nginx.$m.$c.$tag 3) \
					-v ph=$(col $T/res.haproxy.$m.$c.$tag 3) -v ca=$(col $T/res.$n.$m.$c.$tag 5) \
					-v cb=$(col $T/res.nginx.$m.$c.$tag 5) -v ch=$(col $T/res.haproxy.$m.$c.$tag 5) 'BEGIN {
					printf "  ratio %s %s -c%s %s: %s/nginx %.2f  %s/haproxy %.2f (req/s); p99 %s/nginx %.2f  %s/haproxy %.2f\n",
						n, m, c, t, n, b ? a / b : 0, n, h ? a / h : 0, n, pb ? pa / pb : 0, n, ph ? pa / ph : 0
					printf "  capacity %s %s -c%s %s (requests per CPU-second, from cpu-us/req): %s/nginx %.2f  %s/haproxy %.2f\n",
						n, m, c, t, n, (ca > 0) ? cb / ca : 0, n, (ca > 0) ? ch / ca : 0 }'
			done
		done
	done
done
echo "RSS after the runs: $(for n in "${TARGETS[@]}"; do printf '%s %s KiB  ' $n "$(rss $n)"; done)"
for n in "${TARGETS[@]}"; do
	case $n in cx*) ;; *) continue;; esac
	mt=$(curl -s --max-time 5 -H 'Host: _cx' http://127.0.0.1:${PORT[$n.http]}/_cx/metrics)
	echo "$n totals: $(echo "$mt" | grep -E '^cx_router_upstream_(connects|reuses)_total' | sed 's/{[^}]*}//' | tr '\n' ' ')"
done

if [ "$STRACE_N" -gt 0 ]; then
	echo
	echo "syscalls per request (strace -c -f; c1: $STRACE_N requests on one connection by cx-hammer, c64: 3 s of wrk -c64; plain HTTP)"
	for how in c1 c64; do
		for n in cx nginx haproxy; do syscalls $n $how; done
	done
fi
