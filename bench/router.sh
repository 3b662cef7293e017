#!/usr/bin/env bash
# router.sh — cx-router against nginx and HAProxy, configured alike (see
# /work/shared/BENCH-NOTES.md): one worker each, keep-alive to the same two
# nginx upstreams that answer a 13-byte body, Host-based routing in all three.
# The proxy runs on CPU1, wrk and the upstreams on CPU0. Runs are interleaved
# (cx nginx haproxy cx nginx haproxy ...) and the medians are printed with the
# ratios and the new upstream connections each proxy opened (counted by the
# upstreams' stub_status). -c1 is also measured with everything on CPU0.
#
#   bench/router.sh            BENCH_SECS=10 BENCH_ROUNDS=3 by default
#   CX_BIN=build-asan/bin ...  another build
#   BENCH_TLS=1 ...            HTTPS instead: all three serve TLS 1.3 with the same
#                              P-256 certificate (for "localhost", which wrk resolves and
#                              sends as SNI), upstreams stay plain; the suite each
#                              negotiates is printed
# Everything it starts is stopped on exit.
set -u
cd "$(dirname "$0")/.."

BIN=${CX_BIN:-bin}
case $BIN in /*) ;; *) BIN=$PWD/$BIN ;; esac
SECS=${BENCH_SECS:-10}
ROUNDS=${BENCH_ROUNDS:-3}
CONNS=${BENCH_CONNS:-"1 64 256"}
TLS=${BENCH_TLS:-0}
if [ "$TLS" = 1 ]; then
	HOST=localhost; SCHEME=https
else
	HOST=bench.app.cx.localhost; SCHEME=http
fi
PROXY_CPU=${BENCH_PROXY_CPU:-1}
LOAD_CPU=${BENCH_LOAD_CPU:-0}

for t in wrk nginx haproxy taskset curl openssl; do
	command -v $t >/dev/null || { echo "bench: $t is not installed (make deps)" >&2; exit 1; }
done
[ -x "$BIN/cx-router" ] || { echo "bench: $BIN/cx-router missing (make all)" >&2; exit 1; }

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

free_port() {
	local p
	for _ in $(seq 1 200); do
		p=$((20000 + RANDOM % 40000))
		if ! (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null; then echo "$p"; return; fi
	done
	echo "bench: no free port" >&2; exit 1
}
wait_port() {
	for _ in $(seq 1 100); do
		(exec 3<>/dev/tcp/127.0.0.1/$1) 2>/dev/null && return 0
		sleep 0.05
	done
	echo "bench: nothing listens on $1" >&2; exit 1
}

U1=$(free_port); U2=$(free_port); US=$(free_port)
PCX=$(free_port); PNG=$(free_port); PHA=$(free_port)
# cx-router's plain port (its metrics; with TLS, PCX is its TLS port).
PCXP=$PCX

# TLS: one CA and one certificate for $HOST, the same file for all three.
NG_SSL="" HA_SSL="" CX_TLS=() CURL_TLS=()
if [ "$TLS" = 1 ]; then
	mkdir -p "$T/certs"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/ca.key" \
		-out "$T/ca.pem" -days 2 -subj "/CN=bench CA" 2>/dev/null &&
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$HOST" \
		-keyout "$T/certs/$HOST.key" -out "$T/leaf.csr" 2>/dev/null &&
	printf 'subjectAltName=DNS:%s\nextendedKeyUsage=serverAuth\n' "$HOST" >"$T/leaf.ext" &&
	openssl x509 -req -in "$T/leaf.csr" -CA "$T/ca.pem" -CAkey "$T/ca.key" -CAcreateserial \
		-days 1 -extfile "$T/leaf.ext" -out "$T/certs/$HOST.pem" 2>/dev/null ||
		{ echo "bench: cannot make the certificate" >&2; exit 1; }
	cat "$T/certs/$HOST.pem" "$T/certs/$HOST.key" >"$T/combined.pem"
	NG_SSL="ssl_certificate $T/certs/$HOST.pem; ssl_certificate_key $T/certs/$HOST.key;
    ssl_protocols TLSv1.3; ssl_session_cache off;"
	HA_SSL="ssl crt $T/combined.pem ssl-min-ver TLSv1.3"
	PCXP=$(free_port)
	CX_TLS=(--listen-tls 127.0.0.1:$PCX --certs "$T/certs")
	CURL_TLS=(--cacert "$T/ca.pem")
fi
url_of() { # the URL wrk and curl ask on port $1
	if [ "$TLS" = 1 ]; then echo "https://$HOST:$1/"; else echo "http://127.0.0.1:$1/"; fi
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

# --- contenders, each on CPU1 ---
cat >"$T/ng/nginx.conf" <<EOF
worker_processes 1;
pid $T/ng.pid;
error_log $T/ng/error.log warn;
events { worker_connections 8192; }
http {
    access_log off;
    keepalive_requests 1000000;
    keepalive_timeout 300s;
    client_body_temp_path $T/ng; proxy_temp_path $T/ng; fastcgi_temp_path $T/ng;
    uwsgi_temp_path $T/ng; scgi_temp_path $T/ng;
    upstream app { server 127.0.0.1:$U1; server 127.0.0.1:$U2; keepalive 512;
                   keepalive_requests 1000000; keepalive_timeout 300s; }
    $NG_SSL
    server { listen 127.0.0.1:$PNG default_server $([ "$TLS" = 1 ] && echo ssl); return 404; }
    server {
        listen 127.0.0.1:$PNG $([ "$TLS" = 1 ] && echo ssl);
        server_name $HOST;
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
    maxconn 4000
    pidfile $T/ha.pid
defaults
    mode http
    timeout connect 5s
    timeout client 60s
    timeout server 60s
    timeout http-keep-alive 300s
    http-reuse always
    option forwardfor
frontend fe
    bind 127.0.0.1:$PHA $HA_SSL
    acl h hdr(host),field(1,:) -i $HOST
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
host $HOST bench web 60 /
up web-1 127.0.0.1 $U1
up web-2 127.0.0.1 $U2
EOF
taskset -c $PROXY_CPU "$BIN/cx-router" --name public --rack bench --listen 127.0.0.1:$PCXP \
	"${CX_TLS[@]}" --routes "$T/routes" --pidfile "$T/cx.pid" >"$T/cx.log" 2>&1 &
PIDS+=($!)

for p in $U1 $U2 $US $PCX $PCXP $PNG $PHA; do wait_port $p; done
for p in $PCX $PNG $PHA; do
	body=$(curl -s --max-time 5 "${CURL_TLS[@]}" -H "Host: $HOST" "$(url_of $p)")
	[ "$body" = "Hello, world!" ] || { echo "bench: port $p answered '$body'" >&2; exit 1; }
	if [ "$TLS" = 1 ]; then
		echo "port $p: $(openssl s_client -connect 127.0.0.1:$p -servername $HOST \
			-CAfile "$T/ca.pem" </dev/null 2>/dev/null | grep -m1 '^New, ')"
	fi
done

port_of() { case $1 in cx) echo $PCX;; nginx) echo $PNG;; haproxy) echo $PHA;; esac; }
# PIDs of a contender (for pinning and RSS): its workers.
pids_of() {
	case $1 in
	cx) cat "$T/cx.pid";;
	nginx) pgrep -P "$(cat "$T/ng.pid")";;
	haproxy) cat "$T/ha.pid";;
	esac
}
pin() { # pin NAME CPU
	for p in $(pids_of $1); do taskset -a -p -c $2 $p >/dev/null; done
}
# Connections the upstreams accepted so far (this query's own included).
accepts() { curl -s --max-time 5 http://127.0.0.1:$US/ | awk 'NR==3 {print $1}'; }
to_us() { # wrk latency (e.g. 123.45us, 1.20ms, 2.00s) -> microseconds
	awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) m = 1; else if (v ~ /ms$/) m = 1000;
		else if (v ~ /s$/) m = 1000000; else m = 1; printf "%.0f", n * m }'
}

# run NAME CONNS TAG: one wrk run; appends "rps p50us p99us newconns" to $T/res.NAME.CONNS.TAG
run() {
	local name=$1 c=$2 tag=$3 port a0 a1 out rps p50 p99
	port=$(port_of $name)
	# A 1 s warm-up at the same concurrency refills pools that idled out
	# while the others ran, so new-conns counts churn during the run only.
	taskset -c $LOAD_CPU wrk -t1 -c$c -d1s -H "Host: $HOST" "$(url_of $port)" >/dev/null 2>&1
	a0=$(accepts)
	out=$(taskset -c $LOAD_CPU wrk -t1 -c$c -d${SECS}s --latency -H "Host: $HOST" \
		"$(url_of $port)" 2>&1)
	a1=$(accepts)
	a1=$((a1 - 1))	# the second query's own connection
	rps=$(echo "$out" | awk '/^Requests\/sec/ {printf "%.0f", $2}')
	p50=$(to_us "$(echo "$out" | awk '$1 == "50%" {print $2}')")
	p99=$(to_us "$(echo "$out" | awk '$1 == "99%" {print $2}')")
	if echo "$out" | grep -q 'Non-2xx\|Socket errors'; then
		echo "# $name -c$c: $(echo "$out" | grep 'Non-2xx\|Socket errors' | tr '\n' ' ')" >&2
	fi
	echo "${rps:-0} ${p50:-0} ${p99:-0} $((a1 - a0))" >>"$T/res.$name.$c.$tag"
	printf '  %-8s -c%-4s %-6s %8s req/s  p50 %6s us  p99 %7s us  new upstream conns %s\n' \
		"$name" "$c" "$tag" "${rps:-0}" "${p50:-0}" "${p99:-0}" "$((a1 - a0))"
}

median() { sort -n | awk '{v[NR] = $1} END { if (NR == 0) print 0; else print v[int((NR + 1) / 2)] }'; }
col() { awk -v k=$2 '{print $k}' "$1" | median; }

echo "cx-router vs nginx vs haproxy ($SCHEME): ${ROUNDS} interleaved rounds of ${SECS}s, wrk -t1 on CPU$LOAD_CPU,"
echo "proxies on CPU$PROXY_CPU (split); 'same' = -c1 with every process on CPU$LOAD_CPU"
# Warm-up: fill the pools the way a running router would be.
for name in cx nginx haproxy; do
	taskset -c $LOAD_CPU wrk -t1 -c256 -d2s -H "Host: $HOST" "$(url_of $(port_of $name))" >/dev/null 2>&1
done
for r in $(seq 1 $ROUNDS); do
	echo "round $r"
	for c in $CONNS; do
		for name in cx nginx haproxy; do run $name $c split; done
	done
	if echo " $CONNS " | grep -q ' 1 '; then
		for name in cx nginx haproxy; do
			pin $name $LOAD_CPU; run $name 1 same; pin $name $PROXY_CPU
		done
	fi
done

rss() { local s=0; for p in $(pids_of $1); do s=$((s + $(ps -o rss= -p $p))); done; echo $s; }

echo
echo "medians of $ROUNDS runs (req/s, latency in us, new upstream connections during a run)"
printf '%-9s %-6s %10s %8s %8s %10s\n' target conns req/s p50 p99 new-conns
tags="split"
echo " $CONNS " | grep -q ' 1 ' && tags="split same"
for c in $CONNS; do
	for tag in $tags; do
		[ $tag = same ] && [ $c != 1 ] && continue
		for name in cx nginx haproxy; do
			f=$T/res.$name.$c.$tag
			printf '%-9s -c%-4s %10s %8s %8s %10s  %s\n' $name $c "$(col $f 1)" "$(col $f 2)" \
				"$(col $f 3)" "$(col $f 4)" "$([ $tag = same ] && echo '(same core)')"
		done
		cx=$(col $T/res.cx.$c.$tag 1); ng=$(col $T/res.nginx.$c.$tag 1); ha=$(col $T/res.haproxy.$c.$tag 1)
		awk -v c=$c -v t=$tag -v a=$cx -v b=$ng -v h=$ha 'BEGIN {
			printf "  ratio -c%s %s: cx/nginx %.2f  cx/haproxy %.2f (req/s)\n", c, t,
				b ? a / b : 0, h ? a / h : 0 }'
	done
done
echo "RSS after the runs: cx $(rss cx) KiB, nginx worker $(rss nginx) KiB, haproxy $(rss haproxy) KiB"
m=$(curl -s --max-time 5 -H 'Host: _cx' http://127.0.0.1:$PCXP/_cx/metrics)
echo "cx-router totals: $(echo "$m" | grep -E '^cx_router_upstream_(connects|reuses)_total' | sed 's/{[^}]*}//' | tr '\n' ' ')"
