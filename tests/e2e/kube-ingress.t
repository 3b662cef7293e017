#!/usr/bin/env bash
# kube-ingress.t — cx's router as a Kubernetes ingress controller
# (cx-ingress), against a real kube-apiserver (lib-kube.sh): it serves the
# hosts of the Ingresses of its class from the Endpoints of the Services
# they name, over TLS with the certificates of the Secrets they name in
# spec.tls (plain http redirected), follows changes as the watch streams
# them (an Endpoints change, a new certificate, a new Ingress, a deleted
# one), leaves out what it cannot serve
# with a log line, ignores other classes, keeps serving while the API
# server is away, and takes its router down with it. No kubelet or
# endpoints controller runs here: the test writes the Endpoints itself, as
# that controller would, for pods played by servers in a network namespace
# of the test's own (the API server refuses loopback endpoint addresses).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-kube.sh"

if [ "$(id -u)" != 0 ]; then
	echo "Bail out! kube-ingress.t needs root (a network namespace, the API server)"
	exit 1
fi
router_bins
ING=$BIN/cx-ingress
[ -x "$ING" ] || { echo "Bail out! no $ING (make all)"; exit 1; }
NS=cxing$$
cleanup_ns() { ip netns del "$NS" 2>/dev/null; }
trap 'cleanup; cleanup_ns' EXIT
kube_start

# The pods: two servers on addresses of a namespace of the test's.
ip netns add "$NS" && ip -n "$NS" link set lo up && ip -n "$NS" addr add 10.244.0.1/32 dev lo &&
    ip -n "$NS" addr add 10.244.0.10/32 dev lo && ip -n "$NS" addr add 10.244.0.11/32 dev lo
ok $? "a network namespace $NS holds the router's address 10.244.0.1 and the pods' .10 and .11"
IN() { ip netns exec "$NS" "$@"; }
# Started by ip netns exec itself (not a shell function in the background,
# whose $! would be a subshell): ip execs the server, so $! is its pid.
ip netns exec "$NS" "$TESTSRV" --listen 10.244.0.10:3000 --name one >"$T/one.log" 2>&1 &
srv1=$!
track $srv1
ip netns exec "$NS" "$TESTSRV" --listen 10.244.0.11:3000 --name two >"$T/two.log" 2>&1 &
srv2=$!
track $srv2
srv_is() { tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | grep -q "cx-testsrv --listen"; }
wait_for 5 srv_is $srv2
ok $? "the pods' servers run as the pids the test stops ($srv1, $srv2)" "$(tr '\0' ' ' <"/proc/$srv1/cmdline" 2>&1)"

J=application/json
MP=application/merge-patch+json
out=$(kube_call POST /api/v1/namespaces $J '{"metadata":{"name":"r1-shop"}}')
like "$out" '"name": "r1-shop"' "Namespace r1-shop"
out=$(kube_call POST /api/v1/namespaces/r1-shop/services $J \
    '{"metadata":{"name":"web"},"spec":{"selector":{"cx.service":"web"},"ports":[{"name":"http","port":80,"targetPort":3000}]}}')
like "$out" '"clusterIP"' "Service web (port http 80 -> 3000)"
endpoints() {	# endpoints IP...: web's ready addresses, as the endpoints controller writes them
	local a="" ip
	for ip in "$@"; do a="$a${a:+,}{\"ip\":\"$ip\",\"targetRef\":{\"kind\":\"Pod\",\"name\":\"web-${ip##*.}\"}}"; done
	printf '{"metadata":{"name":"web"},"subsets":[{"addresses":[%s],"ports":[{"name":"http","port":3000}]}]}' "$a"
}
out=$(kube_call POST /api/v1/namespaces/r1-shop/endpoints $J "$(endpoints 10.244.0.10)")
like "$out" '"ip": "10.244.0.10"' "Endpoints web: pod web-10 at 10.244.0.10:3000"
ingress() {	# ingress NAME CLASS HOST [PATH [RACK]]
	printf '{"metadata":{"name":"%s","labels":{"cx.rack":"%s","cx.app":"shop","cx.service":"web"}},"spec":{"ingressClassName":"%s","rules":[{"host":"%s","http":{"paths":[{"path":"%s","pathType":"Prefix","backend":{"service":{"name":"web","port":{"number":80}}}}]}}]}}' \
	    "$1" "${5:-r1}" "$2" "$3" "${4:-/}"
}
kube_ingress() { kube_call POST /apis/networking.k8s.io/v1/namespaces/r1-shop/ingresses $J "$(ingress "$@")"; }
like "$(kube_ingress web cx web.shop.test)" '"ingressClassName": "cx"' "Ingress web, class cx, host web.shop.test"
like "$(kube_ingress other other other.shop.test)" '"ingressClassName": "other"' "Ingress other, class other, host other.shop.test"
like "$(kube_ingress api cx api.shop.test /api)" '"path": "/api"' "Ingress api, class cx, only a path /api"
like "$(kube_ingress r2 cx r2.shop.test / r2)" '"cx.rack": "r2"' "Ingress r2, class cx, of another rack (label cx.rack r2)"

kubeconfig "$URL" "$CA" "    token: $TOKEN" >"$K/kubeconfig"
# What an earlier run left in the certificates' directory: pruned.
mkdir -p "$T/certs" && echo stale >"$T/certs/old.shop.test.pem" && echo stale >"$T/certs/old.shop.test.key"
RP=8080
t0=$(date +%s%N)
# In a mount namespace of its own (unshare execs it: $! is its pid), where
# a read-only bind mount of the certificates' directory plays a failed write.
unshare -m "$ING" --class cx --rack r1 --routes "$T/routes" --certs "$T/certs" --kubeconfig "$K/kubeconfig" -- \
    ip netns exec "$NS" "$ROUTER" --name public --rack r1 --routes "$T/routes" \
    --listen 10.244.0.1:$RP --listen-tls 10.244.0.1:8443 --certs "$T/certs" >"$T/ingress.log" 2>&1 &
ing_pid=$!
track $ing_pid
get() { IN curl -s --max-time 3 -H "Host: $1" "http://10.244.0.1:$RP${2:-/}"; }
code() { IN curl -s -o /dev/null -w '%{http_code}' --max-time 3 -H "Host: $1" "http://10.244.0.1:$RP/"; }
answers() { [ "$(get "$1")" = "$2" ]; }
wait_for 20 answers web.shop.test one
ok $? "cx-ingress (pid $ing_pid) starts the router, which serves web.shop.test from pod web-10" \
    "$(tail -20 "$T/ingress.log")" "$(cat "$T/routes" 2>&1)"
note "from start to the first routed answer: $(( ($(date +%s%N) - t0) / 1000000 )) ms"
stale_gone() { [ ! -e "$T/certs/old.shop.test.pem" ] && [ ! -e "$T/certs/old.shop.test.key" ]; }
wait_for 5 stale_gone
ok $? "the certificate files an earlier run left for a host no Ingress lists are removed" "$(ls -l "$T/certs")"
router_pid=$(pgrep -P "$ing_pid")
like "$router_pid" '^[0-9]+$' "the router is cx-ingress's child (pid $router_pid)"
is "$(cat "$T/routes")" "cx-routes 1
host web.shop.test shop web 60 /
up web-10 10.244.0.10 3000" "the snapshot: the cx Ingress's host, its app and service labels, the pod's address and target port"
is "$(code other.shop.test)" 404 "an Ingress of another class is not served (the router says 404)"
is "$(code r2.shop.test)" 404 "...nor another rack's Ingress of the class (cx-ingress --rack r1)"
is "$(code api.shop.test)" 404 "...nor a host whose only path is not \"/\""
like "$(cat "$T/ingress.log")" 'ingress r1-shop/api host api\.shop\.test: path /api left out \(cx routes by host: "/" only\)' \
    "...which the log says, naming the Ingress and the path"

# Endpoints move: the watch brings the change within a bound.
t0=$(date +%s%N)
out=$(kube_call PATCH /api/v1/namespaces/r1-shop/endpoints/web $MP "$(endpoints 10.244.0.11)")
like "$out" '"ip": "10.244.0.11"' "web's pod moves to 10.244.0.11"
wait_for 10 answers web.shop.test two
ok $? "...and the router follows it" "$(tail -5 "$T/ingress.log")" "$(cat "$T/routes")"
note "an Endpoints change reached the router in $(( ($(date +%s%N) - t0) / 1000000 )) ms"
kube_call PATCH /api/v1/namespaces/r1-shop/endpoints/web $MP "$(endpoints 10.244.0.10 10.244.0.11)" >/dev/null
wait_for 10 grep -q "^up web-10 " "$T/routes"
seen=$(for _ in 1 2 3 4 5 6; do get web.shop.test; done | sort | uniq -c | awk '{ printf "%s %s, ", $2, $1 }')
is "$seen" "one 3, two 3, " "with two ready pods, the router balances across both"

# TLS: a kubernetes.io/tls Secret the Ingress names in spec.tls.
cert() {	# cert NAME: a self-signed certificate for web.shop.test, and its Secret's JSON
	openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/$1.key" -out "$T/$1.crt" -days 1 \
	    -subj /CN=web.shop.test -addext subjectAltName=DNS:web.shop.test 2>/dev/null
	printf '{"metadata":{"name":"web-tls"},"type":"kubernetes.io/tls","data":{"tls.crt":"%s","tls.key":"%s"}}' \
	    "$(base64 -w0 <"$T/$1.crt")" "$(base64 -w0 <"$T/$1.key")"
}
served_fp() { IN openssl s_client -connect 10.244.0.1:8443 -servername web.shop.test </dev/null 2>/dev/null |
    openssl x509 -noout -fingerprint -sha256 2>/dev/null; }
fp() { openssl x509 -in "$T/$1.crt" -noout -fingerprint -sha256; }
out=$(kube_call POST /api/v1/namespaces/r1-shop/secrets $J "$(cert c1)")
like "$out" '"type": "kubernetes.io/tls"' "Secret web-tls, a certificate for web.shop.test"
out=$(kube_call PATCH /apis/networking.k8s.io/v1/namespaces/r1-shop/ingresses/web $MP \
    '{"spec":{"tls":[{"hosts":["web.shop.test"],"secretName":"web-tls"}]}}')
like "$out" '"secretName": "web-tls"' "Ingress web names it in spec.tls"
https() { IN curl -s --max-time 3 --cacert "$T/$1.crt" --resolve web.shop.test:8443:10.244.0.1 https://web.shop.test:8443/; }
tls_answers() { https "$1" | grep -qE '^(one|two)$'; }
wait_for 10 tls_answers c1
ok $? "https://web.shop.test is served with it, verified against the certificate" \
    "$(tail -5 "$T/ingress.log")" "$(ls -l "$T/certs" 2>&1)"
is "$(stat -c %a "$T/certs/web.shop.test.key" 2>&1)" 600 "...its key written 0600"
out=$(IN curl -s -o /dev/null -w '%{http_code} %{redirect_url}' --max-time 3 -H "Host: web.shop.test" "http://10.244.0.1:$RP/a?b")
is "$out" "308 https://web.shop.test:8443/a?b" "plain http to a TLS host is redirected to https"
c2=$(cert c2)
t0=$(date +%s%N)
out=$(kube_call PUT /api/v1/namespaces/r1-shop/secrets/web-tls $J "$c2")
like "$out" '"name": "web-tls"' "the Secret gets a new certificate"
new_fp() { [ "$(served_fp)" = "$(fp c2)" ]; }
wait_for 10 new_fp
ok $? "...which the router serves from then on" "$(served_fp)" "$(fp c2)"
note "a certificate change reached the router in $(( ($(date +%s%N) - t0) / 1000000 )) ms"
tls_answers c2; ok $? "...verified against the new one"
out=$(kube_call PATCH /apis/networking.k8s.io/v1/namespaces/r1-shop/ingresses/web $MP '{"spec":{"tls":null}}')
lacks "$out" '"name": "web"' '"secretName"' "Ingress web drops spec.tls"
no_cert() { [ ! -e "$T/certs/web.shop.test.pem" ] && [ ! -e "$T/certs/web.shop.test.key" ]; }
wait_for 10 no_cert
ok $? "...and its certificate files are removed" "$(ls -l "$T/certs")"
plain() { [ "$(code web.shop.test)" = 200 ]; }
wait_for 10 plain
ok $? "...plain http serves it again, not redirected"
out=$(IN curl -sS --max-time 3 --cacert "$T/c2.crt" --resolve web.shop.test:8443:10.244.0.1 https://web.shop.test:8443/ 2>&1); rc=$?
like "$rc: $out" "^35: .*unrecognized name" "...and a TLS handshake for it is refused (unrecognized name)"

# A certificate that cannot be written (the directory read-only, in
# cx-ingress's mount namespace): its host is served over plain HTTP, not
# redirected to an https that has no certificate for it.
nsenter -t "$ing_pid" -m sh -c "mount --bind '$T/certs' '$T/certs' && mount -o remount,bind,ro '$T/certs'"
ok $? "the certificates' directory is read-only for cx-ingress"
patch_web() { like "$(kube_call PATCH /apis/networking.k8s.io/v1/namespaces/r1-shop/ingresses/web $MP "$1")" "$2" "$3"; }
patch_web '{"spec":{"tls":[{"hosts":["web.shop.test"],"secretName":"web-tls"}]}}' '"secretName": "web-tls"' \
    "Ingress web names its Secret in spec.tls again"
unwritten() { grep -q 'ingress r1-shop/web host web\.shop\.test: its certificate could not be written: served over plain HTTP only' "$T/ingress.log"; }
wait_for 10 unwritten
ok $? "...the certificate cannot be written, which the log says, naming the Ingress and the host" \
    "$(tail -5 "$T/ingress.log")"
like "$(cat "$T/ingress.log")" "cannot write $T/certs/web\.shop\.test\.key: .*served over plain HTTP only" \
    "...and the file it could not write"
grep -qx 'host web\.shop\.test shop web 60 /' "$T/routes"
ok $? "...so the snapshot does not flag web.shop.test redirect" "$(cat "$T/routes")"
is "$(code web.shop.test)" 200 "...and plain http serves it, not redirected"
nsenter -t "$ing_pid" -m umount "$T/certs"
ok $? "the directory is writable again"
patch_web '{"metadata":{"annotations":{"cx.test/touch":"1"}}}' '"cx.test/touch": "1"' "Ingress web changes (an annotation)"
redirected() { grep -q '^host web\.shop\.test shop web 60 / redirect$' "$T/routes"; }
wait_for 10 redirected
ok $? "...and at that snapshot the certificate is written and the host flagged redirect again" \
    "$(cat "$T/routes")" "$(ls -l "$T/certs")"
patch_web '{"spec":{"tls":null}}' '"name": "web"' "Ingress web drops spec.tls again"
wait_for 10 no_cert
ok $? "...and its certificate files are removed again, and its certificate files are removed" "$(ls -l "$T/certs")"

# A new Ingress, then a deleted one.
like "$(kube_ingress shop2 cx www.shop.test)" '"www.shop.test"' "a new Ingress www.shop.test"
wait_for 10 answers www.shop.test one || wait_for 10 answers www.shop.test two
ok $? "...is served within a bound" "$(cat "$T/routes")"
out=$(kube_call DELETE /apis/networking.k8s.io/v1/namespaces/r1-shop/ingresses/shop2)
like "$out" '"status": "Success"|"name": "shop2"' "Ingress www.shop.test deleted"
c404() { [ "$(code www.shop.test)" = 404 ]; }
wait_for 10 c404
ok $? "...and the router says 404 for it again" "$(cat "$T/routes")"
is "$(kill -0 "$router_pid" 2>&1 && echo same)" same "the router was told (SIGHUP), never restarted (pid $router_pid)"

# A token file is read again at each request, as a service account's
# rotates: a second controller, for class other, starts with a wrong one.
printf 'wrong%s\n' "$TOKEN" >"$K/token"
kubeconfig "$URL" "$CA" "    tokenFile: token" >"$K/kubeconfig-tf"
"$ING" --class other --routes "$T/routes-other" --start-wait 0 --kubeconfig "$K/kubeconfig-tf" -- \
    ip netns exec "$NS" "$ROUTER" --name internal --rack r1 --routes "$T/routes-other" \
    --listen 10.244.0.1:8081 >"$T/ingress-other.log" 2>&1 &
other_pid=$!
track $other_pid
refused401() { grep -q "answered 401" "$T/ingress-other.log"; }
wait_for 10 refused401
ok $? "a controller with a wrong token in its token file is refused (401), and says so" "$(tail -3 "$T/ingress-other.log")"
printf '%s\n' "$TOKEN" >"$K/token.new" && mv "$K/token.new" "$K/token"
other_ok() { IN curl -s --max-time 3 -H "Host: other.shop.test" http://10.244.0.1:8081/ >"$T/other.out" 2>&1
    echo "$(date +%T.%N) $(cat "$T/other.out")" >>"$T/other.trace"; grep -qE '^(one|two)$' "$T/other.out"; }
wait_for 20 other_ok
ok $? "...and once the file holds the right one, it serves class other's Ingress without a restart" \
    "$(tail -12 "$T/ingress-other.log")" "$(cat "$T/routes-other")" \
    "$(head -3 "$T/other.trace"; tail -3 "$T/other.trace")"
kill -TERM "$other_pid"; wait "$other_pid" 2>/dev/null

# The API server dies (SIGKILL): the router serves on with the last table.
kill -KILL "$api_pid"; wait "$api_pid" 2>/dev/null
is "$(get web.shop.test | grep -cE '^(one|two)$')" 1 "with the API server stopped, web.shop.test is still served"
sleep 2
is "$(kill -0 "$ing_pid" 2>&1 && echo running)" running "...and cx-ingress runs on, watching for it to come back"
like "$(cat "$T/ingress.log")" "watch /api/v1/(endpoints|services)|watch /apis/networking" "...saying its watches broke"

# SIGTERM: the controller and its router go, by their pids.
kill -TERM "$ing_pid"
wait "$ing_pid"; rc=$?
is "$rc" 0 "cx-ingress stops on SIGTERM with status 0"
gone "$router_pid"; ok $? "...and its router is gone (pid $router_pid)"

# Refusals, each one line.
out=$("$ING" --class cx --routes "$T/r2" -- true 2>&1); rc=$?
is "$rc" 2 "cx-ingress with neither --kubeconfig nor --in-cluster is refused"
like "$out" "^usage: cx-ingress --class NAME" "...with its usage"
out=$(env -u KUBERNETES_SERVICE_HOST "$ING" --class cx --routes "$T/r2" --in-cluster -- true 2>&1); rc=$?
is "$rc:$out" "2:cx-ingress: KUBERNETES_SERVICE_HOST is not set: not in a pod (give --kubeconfig FILE outside a cluster)" \
    "--in-cluster outside a pod says what is missing"
done_testing
