#!/usr/bin/env bash
# kube-peer.t — cx rack peer between a loopback rack (a) and a Kubernetes
# rack (kb), against a real kube-apiserver (lib-kube.sh). kb's daemon runs
# here and starts no router of its own; its peering is on the cluster:
# Secret kb-system/peer (its identity) and ConfigMap kb-system/peers (its
# peers), which the internal router pod's cx-ingress --peers follows. The
# test plays that pod as kube-ingress.t does: cx-ingress here, its router
# in a network namespace of the test's, reached over a veth pair; it plays
# the cloud's load-balancer controller by writing Service peer's status,
# and the endpoints controller by writing Endpoints. a's egress listener
# carries a request for kb's internal service to kb's peer listener; kb
# names the caller; another CA's certificate is refused; unpeering takes a's
# CA out of the ConfigMap and a's way in with it. Two Kubernetes racks (kb,
# kc) peer alike, kb's egress listener reaching kc's internal service; a
# ConfigMap the cluster refuses fails the peering, both racks left as they were.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-kube.sh"

if [ "$(id -u)" != 0 ]; then
	echo "Bail out! kube-peer.t needs root (a network namespace, the API server)"
	exit 1
fi
router_bins
ING=$BIN/cx-ingress
[ -x "$ING" ] || { echo "Bail out! no $ING (make all)"; exit 1; }
NS=cxkp$$
VH=cxkp$$h
N=$(( $$ % 250 + 1 ))
HOSTIP=10.245.$N.1 PODIP=10.245.$N.2
cleanup_ns() { ip link del "$VH" 2>/dev/null; ip netns del "$NS" 2>/dev/null; }
trap 'cleanup; cleanup_ns' EXIT
kube_start

# The router pod: a namespace with the load balancer's address on a veth
# pair to this host, and the app's pod (a server) on its loopback.
ip netns add "$NS" && ip -n "$NS" link set lo up && ip -n "$NS" addr add 10.244.0.10/32 dev lo &&
    ip link add "$VH" type veth peer name eth0 netns "$NS" && ip addr add "$HOSTIP/30" dev "$VH" &&
    ip link set "$VH" up && ip -n "$NS" addr add "$PODIP/30" dev eth0 && ip -n "$NS" link set eth0 up
ok $? "a network namespace $NS: the router pod at $PODIP (veth to $HOSTIP here), the app's pod at 10.244.0.10"
ip netns exec "$NS" "$TESTSRV" --listen 10.244.0.10:3000 --name kbapi >"$T/srv.log" 2>&1 &
srv=$!
track $srv

out=$(cx rack install local a 2>&1); ok $? "install loopback rack a" "$out"
kubeconfig "$URL" "$CA" "    token: $TOKEN" >"$K/kubeconfig"
out=$(cx rack install kubernetes kb kubeconfig="$K/kubeconfig" 2>&1); ok $? "install Kubernetes rack kb" "$out"
like "$out" "Secret peer applied [0-9]+" "...which applies its peer identity, Secret kb-system/peer"
like "$out" "ConfigMap peers applied [0-9]+" "...and its peers, ConfigMap kb-system/peers"
stored=$(kube_get /api/v1/namespaces/kb-system/secrets/peer)
like "$stored" '"type": "kubernetes.io/tls"' "the Secret is of type kubernetes.io/tls"
crt=$(printf '%s' "$stored" | sed -n 's/.*"tls.crt": "\([^"]*\)".*/\1/p' | base64 -d | openssl x509 -noout -subject -issuer 2>&1 | tr '\n' ' ')
like "$crt" "subject=CN *= *kb.*issuer=CN *= *cx rack kb CA" "...holding kb's peer certificate, issued by kb's CA"
dep=$(kube_get /apis/apps/v1/namespaces/kb-system/deployments/router-internal | tr -d ' \n')
like "$dep" '"--peers","/run/cx/peer".*"--listen-peer","0\.0\.0\.0:8443","--listen-egress","0\.0\.0\.0:8080","--peer-cert","/run/cx/peer/peer\.pem"' \
    "the stored internal router Deployment runs cx-ingress --peers and cx-router with the peer and egress listeners"
sleep 1
is "$(ls "$CX_HOME/racks/kb" | grep -c '^router-.*\.pid$')" 0 "kb's daemon starts no router here (its routers are the cluster's pods)"
is "$(pgrep -f -- "cx-router --name [a-z]* --rack kb " | wc -l)" 0 "...no cx-router of rack kb runs"

# Before the cloud gives Service peer an address, nothing can be peered.
out=$(cx rack peer a kb 2>&1); rc=$?
refused $rc "$out" "ERROR: rack kb's peer endpoint is not known yet: the cloud has given its LoadBalancer Service kb-system/peer no address \(status\.loadBalancer\.ingress is empty\)" \
    "cx rack peer before Service peer has an address fails, naming it"
is "$(printf '%s\n' "$out" | grep -c ERROR)" 1 "...in one ERROR line"
lacks "$(cx rack peers -r a --json 2>&1)" '^\[' 'kb' "...and rack a is left unpeered"

# The cloud's load balancer: a hostname alone (as AWS's) is refused, as
# peers dial IPv4; then Service peer's status names the pod's address.
MP=application/merge-patch+json J=application/json
out=$(kube_call PATCH /api/v1/namespaces/kb-system/services/peer/status $MP \
    '{"status":{"loadBalancer":{"ingress":[{"hostname":"lb-1.elb.example"}]}}}')
like "$out" '"hostname": "lb-1\.elb\.example"' "the load balancer controller (the test) gives Service peer a hostname"
out=$(cx rack peer a kb 2>&1); rc=$?
refused $rc "$out" "ERROR: rack kb's LoadBalancer Service kb-system/peer is known by the hostname lb-1\.elb\.example alone, and peers reach an IPv4 address" \
    "...which cx rack peer refuses, naming it"
out=$(kube_call PATCH /api/v1/namespaces/kb-system/services/peer/status $MP \
    "{\"status\":{\"loadBalancer\":{\"ingress\":[{\"ip\":\"$PODIP\"}]}}}")
like "$out" "\"ip\": \"$PODIP\"" "the load balancer controller (the test) gives Service peer $PODIP"

# kb's internalRouter service: its Ingress of class cx-internal, Service
# and Endpoints (as kb's render and the endpoints controller would make).
H=api.shop.kb-internal.localhost
kube_call POST /api/v1/namespaces $J '{"metadata":{"name":"kb-shop"}}' >/dev/null
out=$(kube_call POST /api/v1/namespaces/kb-shop/services $J \
    '{"metadata":{"name":"api"},"spec":{"ports":[{"name":"http","port":80,"targetPort":3000}]}}')
like "$out" '"clusterIP"' "Service kb-shop/api"
out=$(kube_call POST /api/v1/namespaces/kb-shop/endpoints $J \
    '{"metadata":{"name":"api"},"subsets":[{"addresses":[{"ip":"10.244.0.10"}],"ports":[{"name":"http","port":3000}]}]}')
like "$out" '"ip": "10.244.0.10"' "Endpoints kb-shop/api: the pod at 10.244.0.10:3000"
out=$(kube_call POST /apis/networking.k8s.io/v1/namespaces/kb-shop/ingresses $J \
    "{\"metadata\":{\"name\":\"api\",\"labels\":{\"cx.rack\":\"kb\",\"cx.app\":\"shop\",\"cx.service\":\"api\"}},\"spec\":{\"ingressClassName\":\"cx-internal\",\"rules\":[{\"host\":\"$H\",\"http\":{\"paths\":[{\"path\":\"/\",\"pathType\":\"Prefix\",\"backend\":{\"service\":{\"name\":\"api\",\"port\":{\"number\":80}}}}]}}]}}")
like "$out" '"ingressClassName": "cx-internal"' "Ingress kb-shop/api, class cx-internal, host $H"

# The internal router pod: its command as the Deployment has it, with the
# test's paths and the pod's address.
"$ING" --class cx-internal --rack kb --routes "$T/routes" --certs "$T/certs" --peers "$T/peer" \
    --kubeconfig "$K/kubeconfig" -- ip netns exec "$NS" "$ROUTER" --name internal --rack kb \
    --routes "$T/routes" --listen "$PODIP:80" --listen-peer "$PODIP:8443" \
    --listen-egress "$PODIP:8080" --peer-cert "$T/peer/peer.pem" --peer-key "$T/peer/peer.key" \
    >"$T/ingress.log" 2>&1 &
ing=$!
track $ing
wait_for 10 sh -c "ip netns exec $NS curl -sf --max-time 2 -H 'Host: $H' http://$PODIP/ >/dev/null"
ok $? "the pod's router (cx-ingress pid $ing) serves $H on its internal listener" "$(tail -5 "$T/ingress.log")"
is "$(stat -c %a "$T/peer/peer.key" 2>&1)" 600 "...with kb's peer key from the Secret, written 0600"
cmp -s "$T/peer/peer.pem" "$CX_HOME/racks/kb/peer.pem"; ok $? "...and kb's peer certificate"

t0=$(date +%s%N)
out=$(cx rack peer a kb 2>"$T/peer.err"); is "$out" "Peering a and kb over TLS... OK" "cx rack peer a kb"
like "$(cat "$T/peer.err")" "^WARNING: rack a's peer endpoint is 127\.0\.0\.1:[0-9]+ \(loopback\), which Kubernetes rack kb's pods cannot reach: a reaches kb's internal services, not the other way" \
    "...warning on stderr that kb's pods cannot reach a's loopback endpoint"
like "$(cx rack peers -r a)" "a +kb +tls +$PODIP:8443" "a has kb as a TLS peer at Service peer's address"
cm=$(kube_get /api/v1/namespaces/kb-system/configmaps/peers)
like "$cm" '"peers": "a 127\.0\.0\.1:[0-9]+ a-internal\.localhost\\n"' "kb's daemon gave ConfigMap kb-system/peers rack a's endpoint and domain"
like "$cm" '"a\.pem": "-----BEGIN CERTIFICATE-----' "...and rack a's CA"
egress=$(cx rack params -r a --json | sed -n 's/.*"egress_port":"\([0-9]*\)".*/\1/p')
through() { curl -s --max-time 3 -H "Host: $H" "http://127.0.0.1:$egress$1"; }
reached() { [ "$(through /)" = kbapi ]; }
wait_for 15 reached
ok $? "a's egress listener reaches kb's internal service through kb's peer listener" \
    "$(through / 2>&1)" "$(tail -5 "$T/ingress.log")" "$(cat "$T/routes")"
note "from cx rack peer to the first answer through the peering: $(( ($(date +%s%N) - t0) / 1000000 )) ms"
like "$(through /headers)" "X-Cx-Peer-Rack: a" "kb's router names the calling rack a from its certificate"
like "$(cat "$T/routes")" "peer a $T/peer/peers/a\.pem" "the router's table trusts a's CA from the ConfigMap"
like "$(cat "$T/routes")" "egress a-internal\.localhost a 127\.0\.0\.1 [0-9]+" "...and its egress listener carries a's names to a's endpoint"

# Straight to kb's peer listener: another CA's certificate is refused.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=a" -days 1 \
    -keyout "$T/forged.key" -out "$T/forged.pem" 2>/dev/null
exits_with '35|56' "a certificate named a from another CA: kb's handshake fails" \
    curl -s --max-time 5 --cacert "$CX_HOME/racks/kb/ca.pem" --cert "$T/forged.pem" --key "$T/forged.key" \
    --resolve "kb:8443:$PODIP" -H "Host: $H" "https://kb:8443/"
body=$(curl -s --max-time 5 --cacert "$CX_HOME/racks/kb/ca.pem" --cert "$CX_HOME/racks/a/peer.pem" \
    --key "$CX_HOME/racks/a/peer.key" --resolve "kb:8443:$PODIP" -H "Host: $H" "https://kb:8443/headers")
like "$body" "X-Cx-Peer-Rack: a" "...while a's own is admitted, verified against kb's CA"

# Unpeering: the ConfigMap loses a, and a's way in goes.
out=$(cx rack unpeer a kb 2>&1); ok $? "cx rack unpeer a kb" "$out"
cm=$(kube_get /api/v1/namespaces/kb-system/configmaps/peers)
lacks "$cm" '"peers": ' '"a\.pem"|127\.0\.0\.1:' "ConfigMap kb-system/peers no longer holds a's CA nor its endpoint"
like "$cm" '"peers": ""' "...its peers are none"
# a had no other peer: its peer router, egress listener and all, stops.
a_down() { curl -s --max-time 3 -H "Host: $H" "http://127.0.0.1:$egress/" >/dev/null 2>&1; [ $? = 7 ]; }
wait_for 10 a_down
ok $? "a's call to kb's service fails: connection refused (a's peer router stopped with its last peer)" \
    "$(curl -sS --max-time 3 -H "Host: $H" "http://127.0.0.1:$egress/" 2>&1)"
a_refused() { curl -s --max-time 3 --cacert "$CX_HOME/racks/kb/ca.pem" --cert "$CX_HOME/racks/a/peer.pem" \
    --key "$CX_HOME/racks/a/peer.key" --resolve "kb:8443:$PODIP" -H "Host: $H" "https://kb:8443/" >/dev/null 2>&1
    case $? in 35|56) return 0 ;; *) return 1 ;; esac; }
wait_for 10 a_refused
ok $? "...and kb's peer listener refuses a's certificate at the handshake" "$(tail -5 "$T/ingress.log")" "$(cat "$T/routes")"
[ ! -e "$T/peer/peers/a.pem" ]; ok $? "...its CA file is gone from the pod's peer directory"

# Two Kubernetes racks: kc's router pod shares the namespace, its load
# balancer at 10.244.0.20; kb's pods reach kc's internal service through
# kb's egress listener (Service egress's target), kc naming kb.
out=$(cx rack install kubernetes kc kubeconfig="$K/kubeconfig" 2>&1); ok $? "install a second Kubernetes rack kc" "$out"
ip -n "$NS" addr add 10.244.0.20/32 dev lo
kube_call PATCH /api/v1/namespaces/kc-system/services/peer/status $MP \
    '{"status":{"loadBalancer":{"ingress":[{"ip":"10.244.0.20"}]}}}' >/dev/null
HC=web.shop.kc-internal.localhost
kube_call POST /api/v1/namespaces $J '{"metadata":{"name":"kc-shop"}}' >/dev/null
kube_call POST /api/v1/namespaces/kc-shop/services $J \
    '{"metadata":{"name":"web"},"spec":{"ports":[{"name":"http","port":80,"targetPort":3000}]}}' >/dev/null
kube_call POST /api/v1/namespaces/kc-shop/endpoints $J \
    '{"metadata":{"name":"web"},"subsets":[{"addresses":[{"ip":"10.244.0.10"}],"ports":[{"name":"http","port":3000}]}]}' >/dev/null
out=$(kube_call POST /apis/networking.k8s.io/v1/namespaces/kc-shop/ingresses $J \
    "{\"metadata\":{\"name\":\"web\",\"labels\":{\"cx.rack\":\"kc\",\"cx.app\":\"shop\",\"cx.service\":\"web\"}},\"spec\":{\"ingressClassName\":\"cx-internal\",\"rules\":[{\"host\":\"$HC\",\"http\":{\"paths\":[{\"path\":\"/\",\"pathType\":\"Prefix\",\"backend\":{\"service\":{\"name\":\"web\",\"port\":{\"number\":80}}}}]}}]}}")
like "$out" '"ingressClassName": "cx-internal"' "kc's internal service: Ingress kc-shop/web, host $HC"
mkdir -p "$T/kc"
"$ING" --class cx-internal --rack kc --routes "$T/kc/routes" --certs "$T/kc/certs" --peers "$T/kc/peer" \
    --kubeconfig "$K/kubeconfig" -- ip netns exec "$NS" "$ROUTER" --name internal --rack kc \
    --routes "$T/kc/routes" --listen 10.244.0.20:80 --listen-peer 10.244.0.20:8443 \
    --listen-egress 10.244.0.20:8080 --peer-cert "$T/kc/peer/peer.pem" --peer-key "$T/kc/peer/peer.key" \
    >"$T/kc/ingress.log" 2>&1 &
ingc=$!
track $ingc
wait_for 10 sh -c "ip netns exec $NS curl -sf --max-time 2 -H 'Host: $HC' http://10.244.0.20/ >/dev/null"
ok $? "kc's router pod (cx-ingress pid $ingc) serves $HC on its internal listener" "$(tail -5 "$T/kc/ingress.log")"
t0=$(date +%s%N)
out=$(cx rack peer kb kc 2>&1); is "$out" "Peering kb and kc over TLS... OK" "cx rack peer kb kc: two Kubernetes racks (no warning)"
like "$(kube_get /api/v1/namespaces/kb-system/configmaps/peers)" '"peers": "kc 10\.244\.0\.20:8443 kc-internal\.localhost\\n"' \
    "kb's ConfigMap peers has kc at its load balancer's address"
like "$(kube_get /api/v1/namespaces/kc-system/configmaps/peers)" "\"peers\": \"kb $PODIP:8443 kb-internal\\.localhost\\\\n\"" \
    "...and kc's has kb at its"
from_kb() { ip netns exec "$NS" curl -s --max-time 3 -H "Host: $HC" "http://$PODIP:8080$1"; }
kb_reaches() { [ "$(from_kb /)" = kbapi ]; }
wait_for 15 kb_reaches
ok $? "a pod of kb reaches kc's internal service through kb's egress listener and kc's peer listener" \
    "$(from_kb / 2>&1)" "$(tail -5 "$T/ingress.log")" "$(tail -5 "$T/kc/ingress.log")" "$(cat "$T/routes")"
note "kb to kc, from cx rack peer to the first answer: $(( ($(date +%s%N) - t0) / 1000000 )) ms"
like "$(from_kb /headers)" "X-Cx-Peer-Rack: kb" "...and kc's router names kb"
out=$(cx rack unpeer kb kc 2>&1); ok $? "cx rack unpeer kb kc" "$out"
kb_404() { [ "$(ip netns exec "$NS" curl -s -o /dev/null -w '%{http_code}' --max-time 3 -H "Host: $HC" "http://$PODIP:8080/")" = 404 ]; }
wait_for 10 kb_404
ok $? "...after which kb's egress listener no longer carries kc's names (404)" "$(cat "$T/routes")"

# kb's cluster refuses the peering (its ConfigMap made immutable, as
# another manager could): cx rack peer fails with the server's reason, and
# both racks are left unpeered.
out=$(kube_call PATCH /api/v1/namespaces/kb-system/configmaps/peers $MP '{"immutable":true}')
like "$out" '"immutable": true' "ConfigMap kb-system/peers is made immutable"
out=$(cx rack peer a kb 2>&1); rc=$?
refused $rc "$out" "ERROR: peer a: rack kb cannot give its cluster the peering: ConfigMap kb-system/peers: .*immutable.*\(rack a was left as it was\)$" \
    "cx rack peer fails when kb's cluster refuses the ConfigMap, quoting the server"
lacks "$(cx rack peers -r kb --json 2>&1)" '^\[' '"name":"a"' "...kb's store is as it was (no peer a)"
lacks "$(cx rack peers -r a --json 2>&1)" '^\[' '"name":"kb"' "...and so is a's (it forgot kb again)"
[ ! -e "$CX_HOME/racks/kb/peers/a.pem" ]; ok $? "...and kb keeps no CA file of a's"

kill -TERM "$ing"; wait "$ing" 2>/dev/null
out=$(cx rack uninstall a 2>&1); ok $? "uninstall a" "$out"
check_no_leftovers
done_testing
