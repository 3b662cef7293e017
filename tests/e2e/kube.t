#!/usr/bin/env bash
# kube.t — what `cx rack render` makes, judged by a real Kubernetes API
# server: kube-apiserver 1.20.2 (built from Debian's source package and
# cached: scripts/kube-apiserver.sh) over Debian's etcd, both on 127.0.0.1,
# AlwaysAllow behind a bearer token. Every object of an app that uses each
# kind (tests/e2e/apps/kube: services public, internalRouter, internal, a
# worker, an agent, a timer; postgres, redis and memcached resources) passes
# a server-side dry run, is then applied, and a second apply of the same
# render changes nothing (every resourceVersion stays). An object the server
# must refuse is refused (so the verdicts are the server's). The rack's own
# objects (cx rack render system: routers, LoadBalancer Services with each
# cloud's internal annotation, the peering endpoint, the egress Service, the
# peering's Secret and ConfigMap) are applied too. No scheduler or kubelet runs: nothing here starts a pod (docs/kubernetes.md).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-kube.sh"
APPLY="/usr/bin/python3 $ROOT/tests/e2e/kube-apply.py"
kube_start
version=$(kube_get /version)
like "$version" '"gitVersion": "v1\.20\.' "it is Kubernetes 1.20"
code=$(curl -sk -o /dev/null -w '%{http_code}' --max-time 5 "$URL/api/v1/namespaces")
is "$code" 401 "...and it refuses a client without the token"

out=$(cx rack install local kube 2>&1); ok $? "install a rack to render with" "$out"
cx rack params set registry=registry.example.test:5000/team -r kube >/dev/null 2>&1
t0=$(date +%s%N)
yaml=$(cx rack render -a shop --manifest "$ROOT/tests/e2e/apps/kube/convox.yml" --kube-version 1.20 -r kube 2>"$K/render.err"); rc=$?
note "render took $(( ($(date +%s%N) - t0) / 1000000 )) ms"
ok $rc "cx rack render of an app not created yet" "$(cat "$K/render.err")"
printf '%s\n' "$yaml" >"$K/shop.yaml"
is "$(cat "$K/render.err")" "" "...prints nothing but the YAML (stderr is empty)"
kinds=$(grep '^kind: ' "$K/shop.yaml" | sort | uniq -c | awk '{ printf "%s %s, ", $3, $1 }')
is "$kinds" "CronJob 1, DaemonSet 1, Deployment 4, HorizontalPodAutoscaler 1, Ingress 2, Namespace 1, Secret 8, Service 6, StatefulSet 3, " \
    "the objects: per service a Secret and a workload, Services for ports, Ingresses for routed ones, an autoscaler for a count range, a CronJob, three resources"
note "rendered objects: $(grep -c '^kind: ' "$K/shop.yaml")"

# The Namespace first (a dry run of what lives in it needs it there).
head -n "$(awk 'NR > 1 && /^---$/ { print NR - 1; exit }' "$K/shop.yaml")" "$K/shop.yaml" >"$K/ns.yaml"
out=$($APPLY "$URL" "$TOKEN" apply <"$K/ns.yaml" 2>&1); ok $? "the Namespace is applied" "$out"
like "$out" "^Namespace kube-shop ok [0-9]+$" "...named RACK-APP"

out=$($APPLY "$URL" "$TOKEN" dry <"$K/shop.yaml" 2>&1); rc=$?
ok $rc "every object passes the server's dry run" "$out"
is "$(printf '%s\n' "$out" | grep -c ' ok')" "$(grep -c '^kind: ' "$K/shop.yaml")" "...one verdict ok per object"
t0=$(date +%s%N)
first=$($APPLY "$URL" "$TOKEN" apply <"$K/shop.yaml" 2>&1); rc=$?
note "apply of $(grep -c '^kind: ' "$K/shop.yaml") objects took $(( ($(date +%s%N) - t0) / 1000000 )) ms"
ok $rc "every object is applied (server-side apply, field manager cx)" "$first"
stored=$(kube_get "/apis/networking.k8s.io/v1/namespaces/kube-shop/ingresses/api")
like "$stored" '"ingressClassName": "cx-internal"' "the stored Ingress of the internalRouter service has class cx-internal"
[ -n "$stored" ] || { kill -0 "$api_pid" 2>/dev/null && echo "# the API server runs" || echo "# the API server is gone"; grep -B3 -A12 -m1 "^fatal" "$K/apiserver.log" | sed 's/^/# /'; }
stored=$(kube_get "/apis/autoscaling/v2beta2/namespaces/kube-shop/horizontalpodautoscalers/api")
like "$(printf '%s' "$stored" | tr -d ' \n')" '"minReplicas":2,"maxReplicas":5' "the api service's count 2-5 is its autoscaler's range"
like "$(printf '%s' "$stored" | tr -d ' \n')" '"name":"memory","target":\{"type":"Utilization","averageUtilization":80\}.*"name":"cpu","target":\{"type":"Utilization","averageUtilization":60\}' \
    "...on its scale.targets: CPU at 60% and memory at 80% of the request"
stored=$(kube_get "/api/v1/namespaces/kube-shop/services/hidden")
like "$stored" '"appProtocol": "grpc"' "the Service of a port grpc:9000 is stored with appProtocol grpc (Kubernetes 1.20)"
stored=$(kube_get "/apis/apps/v1/namespaces/kube-shop/deployments/web")
like "$stored" '"image": "registry\.example\.test:5000/team/kube-shop:web\.latest"' "...the web Deployment names its image in the rack's registry"
like "$stored" '"manager": "cx"' "...and cx is its field manager (the test's applier)"

yaml2=$(cx rack render -a shop --manifest "$ROOT/tests/e2e/apps/kube/convox.yml" --kube-version 1.20 -r kube 2>&1)
is "$yaml2" "$yaml" "a second render is the same text"
second=$(printf '%s\n' "$yaml2" | $APPLY "$URL" "$TOKEN" apply 2>&1); rc=$?
ok $rc "a second apply is accepted" "$second"
changed=$(diff <(printf '%s\n' "$first") <(printf '%s\n' "$second") | grep '^[<>]')
is "$changed" "" "...and changes nothing: every object keeps its resourceVersion"

# What the server must refuse, it refuses: the verdicts above are its own.
sed 's/pathType: Prefix/pathType: Sometimes/' "$K/shop.yaml" >"$K/bad.yaml"
out=$($APPLY "$URL" "$TOKEN" dry <"$K/bad.yaml" 2>&1); rc=$?
is "$rc" 1 "an Ingress with a pathType Kubernetes lacks is refused"
like "$out" "^Ingress web rejected: .*pathType" "...by the server, naming pathType" 

# The rack's own objects: routers, their LoadBalancer Services (the
# internal one with each cloud's annotation), the peering endpoint, the
# egress Service and the peering's Secret and ConfigMap.
sys=$(cx rack render system --cloud aws -r kube 2>"$K/sys.err"); rc=$?
ok $rc "cx rack render system --cloud aws" "$(cat "$K/sys.err")"
printf '%s\n' "$sys" >"$K/sys.yaml"
kinds=$(grep '^kind: ' "$K/sys.yaml" | sort | uniq -c | awk '{ printf "%s %s, ", $3, $1 }')
is "$kinds" "ClusterRole 1, ClusterRoleBinding 1, ConfigMap 1, Deployment 2, IngressClass 2, Namespace 1, Secret 1, Service 4, ServiceAccount 1, " \
    "...IngressClasses cx and cx-internal, the routers, their account and role, four Services, the peering's Secret and ConfigMap"
out=$($APPLY "$URL" "$TOKEN" apply <"$K/sys.yaml" 2>&1); ok $? "the API server takes every one of them" "$out"
again=$(cx rack render system --cloud aws -r kube 2>/dev/null | $APPLY "$URL" "$TOKEN" apply 2>&1)
is "$(diff <(printf '%s\n' "$out") <(printf '%s\n' "$again") | grep '^[<>]')" "" "...and a second apply changes none"
stored=$(kube_get "/api/v1/namespaces/kube-system/services/router-internal")
like "$stored" '"service\.beta\.kubernetes\.io/aws-load-balancer-scheme": "internal"' "router-internal is an internal load balancer on AWS"
like "$stored" '"type": "LoadBalancer"' "...of type LoadBalancer"
stored=$(kube_get "/api/v1/namespaces/kube-system/services/peer")
like "$stored" '"port": 8443' "the peering endpoint is a LoadBalancer Service on 8443"
stored=$(kube_get "/api/v1/namespaces/kube-system/services/egress" | tr -d ' \n')
like "$stored" '"port":80,"targetPort":8080.*"type":"ClusterIP"' "Service egress: port 80 to the internal routers' egress listener on 8080"
for pair in "gcp networking\.gke\.io/load-balancer-type: Internal" \
    "azure service\.beta\.kubernetes\.io/azure-load-balancer-internal: \"true\"" \
    "do service\.beta\.kubernetes\.io/do-loadbalancer-network: INTERNAL"; do
	like "$(cx rack render system --cloud "${pair%% *}" -r kube 2>&1)" "${pair#* }" "--cloud ${pair%% *}: the internal router's annotation"
done
out=$(cx rack render system -r kube 2>&1 >/dev/null)
like "$out" "cloud generic: router-internal has no internal load balancer annotation" "--cloud generic says, on stderr, that nothing makes it internal"
out=$(cx rack render system --cloud mars -r kube 2>&1); rc=$?
refused $rc "$out" "^ERROR: cloud mars is not one of aws, gcp, azure, do or generic$" "an unknown cloud is refused in one line"

out=$(cx rack render -a shop -r kube 2>&1); rc=$?
refused $rc "$out" "^ERROR: app shop has no active release with a convox\.yml: give one \(cx rack render --manifest FILE\)$" \
    "render of an app with nothing deployed and no --manifest is refused in one line"
out=$(cx rack render -a shop --kube-version 2 --manifest "$ROOT/tests/e2e/apps/kube/convox.yml" -r kube 2>&1); rc=$?
refused $rc "$out" "^ERROR: kube_version must be like 1\.29, not \"2\"$" "a kube version that is no version is refused"

out=$(cx rack uninstall kube 2>&1); ok $? "uninstall the rack" "$out"

# A Kubernetes rack: its daemon runs here; cx itself applies (libcurl,
# server-side apply, field manager cx-RACK), verifying the server against
# the kubeconfig's CA. kubeconfig (lib-kube.sh) writes one with the given
# user lines.
kubeconfig "$URL" "$CA" "    token: $TOKEN" >"$K/kubeconfig"
dead=$(free_port)
kubeconfig "https://127.0.0.1:$dead" "$CA" "    token: $TOKEN" >"$K/kubeconfig-dead"

out=$(cx rack install kubernetes kdry kubeconfig="$K/kubeconfig-dead" cloud=do --dry-run 2>"$K/dry.err"); rc=$?
ok $rc "cx rack install kubernetes --dry-run with a kubeconfig whose server is down" "$(cat "$K/dry.err")"
is "$(printf '%s\n' "$out" | grep '^kind: ' | sort | uniq -c | awk '{ printf "%s %s, ", $3, $1 }')" \
    "ClusterRole 1, ClusterRoleBinding 1, ConfigMap 1, Deployment 2, IngressClass 2, Namespace 1, Secret 1, Service 4, ServiceAccount 1, " \
    "...prints the rack's own objects on stdout"
like "$out" "do-loadbalancer-network: INTERNAL" "...for its cloud (do)"
like "$(cx rack -r kdry 2>&1)" "Provider +kubernetes" "...and records the rack: cx rack says Provider kubernetes"
out=$(cx rack apply -r kdry 2>&1); rc=$?
refused $rc "$out" "^ERROR: https://127\.0\.0\.1:$dead/version: .*(refused|connect)" \
    "...its server was never needed: cx rack apply, which asks it, cannot connect"
out=$(cx rack uninstall kdry 2>&1); ok $? "uninstall the dry-run rack" "$out"

# The rack's kubeconfig names its CA by a path relative to itself; the
# rack's copy carries it inline, so the file may go after install.
mkdir -p "$K/user"
cp "$K/certs/apiserver.crt" "$K/user/ca.crt"
kubeconfig "$URL" "$CA" "    token: $TOKEN" | sed 's/certificate-authority-data: .*/certificate-authority: ca.crt/' >"$K/user/config"
t0=$(date +%s%N)
out=$(cx rack install kubernetes k8s kubeconfig="$K/user/config" cloud=gcp registry=registry.example.test:5000/team 2>&1); rc=$?
note "install with apply took $(( ($(date +%s%N) - t0) / 1000000 )) ms"
ok $rc "cx rack install kubernetes k8s kubeconfig=FILE cloud=gcp" "$out"
is "$(printf '%s\n' "$out" | grep -c ' applied [0-9]')" 14 "...applies each of the rack's 14 objects, with its resourceVersion"
stored=$(kube_get "/api/v1/namespaces/k8s-system/services/router-internal")
like "$stored" '"networking\.gke\.io/load-balancer-type": "Internal"' "...router-internal on the cluster carries GKE's internal annotation"
like "$stored" '"manager": "cx-k8s"' "...applied with the rack's field manager cx-k8s"
rm -r "$K/user"
out=$(cx rack apply -r k8s 2>&1); ok $? "cx rack apply again, the user's kubeconfig and its CA file gone" "$out"
is "$(stat -c %a "$CX_HOME/racks/k8s/kubeconfig")" 600 "...the rack's own copy is 0600"
like "$(cat "$CX_HOME/racks/k8s/kubeconfig")" "certificate-authority-data: " "...and holds the CA inline"
is "$(diff <(printf '%s\n' "$out" | grep ' applied ') <(cx rack apply -r k8s 2>&1 | grep ' applied ') | grep '^[<>]')" "" \
    "...and once more: no object changes (same resourceVersions)"
out=$(cx rack params set kubeconfig="$K/kubeconfig" -r k8s 2>&1); rc=$?
refused $rc "$out" "ERROR: kubeconfig is set at install \(cx rack install kubernetes NAME kubeconfig=\.\.\.\); reinstall the rack to change it$" \
    "the kubeconfig param is set at install only"

out=$(cx rack apply -a shop --manifest "$ROOT/tests/e2e/apps/kube/convox.yml" --dry-run -r k8s 2>&1 >/dev/null); rc=$?
refused $rc "$out" "^ERROR: Secret database-credentials: the API server refused it \(404\): namespaces \"k8s-shop\" not found$" \
    "an app's dry run before its Namespace exists is refused by the server, naming the namespace"
t0=$(date +%s%N)
first=$(cx rack apply -a shop --manifest "$ROOT/tests/e2e/apps/kube/convox.yml" -r k8s 2>&1); rc=$?
note "cx rack apply of the app took $(( ($(date +%s%N) - t0) / 1000000 )) ms"
ok $rc "cx rack apply -a shop: every object applied" "$first"
is "$(printf '%s\n' "$first" | grep -c ' applied [0-9]')" 27 "...all 27 of them, each with its resourceVersion"
out=$(cx rack apply -a shop --manifest "$ROOT/tests/e2e/apps/kube/convox.yml" --dry-run -r k8s 2>&1); rc=$?
ok $rc "...a server-side dry run of the same passes" "$out"
is "$(printf '%s\n' "$out" | grep -c ' checked')" 27 "...one verdict per object"
second=$(cx rack apply -a shop --manifest "$ROOT/tests/e2e/apps/kube/convox.yml" -r k8s 2>&1)
is "$(diff <(printf '%s\n' "$first") <(printf '%s\n' "$second") | grep '^[<>]')" "" "a second apply changes nothing"
stored=$(kube_get "/apis/batch/v1beta1/namespaces/k8s-shop/cronjobs")
like "$stored" '"kind": "CronJobList"' "...rendered for the server's own version (1.20: batch/v1beta1 CronJobs)"
like "$stored" '"name": "[a-z]' "...which holds the timer's CronJob"

# What a bad credential or kubeconfig gets: one line naming it.
kubeconfig "$URL" "$CA" "    token: wrong$TOKEN" >"$CX_HOME/racks/k8s/kubeconfig"
out=$(cx rack apply -r k8s 2>&1); rc=$?
refused $rc "$out" "^ERROR: $URL/version answered 401.*not a Kubernetes API server that lets this kubeconfig in$" "a wrong token: the server's 401, in one line"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$K/other.key" -out "$K/other.crt" -days 1 -subj /CN=other 2>/dev/null
kubeconfig "$URL" "$(b64 "$K/other.crt")" "    token: $TOKEN" >"$CX_HOME/racks/k8s/kubeconfig"
out=$(cx rack apply -r k8s 2>&1); rc=$?
refused $rc "$out" "^ERROR: $URL/version: .*(certificate|SSL)" "a server its kubeconfig's CA did not sign is refused (TLS verification)"
kubeconfig "$URL" "$CA" "    exec: {command: aws, apiVersion: client.authentication.k8s.io/v1beta1}" >"$K/kc-exec"
out=$(cx rack install kubernetes kx kubeconfig="$K/kc-exec" 2>&1); rc=$?
refused $rc "$out" "^ERROR: kubeconfig .*kc-exec: user u gets its credential from a exec plugin, which cx does not run: give a token or a client certificate$" \
    "an exec plugin credential is refused at install, by name"
printf 'clusters: [\n' >"$K/kc-broken"
out=$(cx rack install kubernetes kx kubeconfig="$K/kc-broken" 2>&1); rc=$?
refused $rc "$out" "^ERROR: kubeconfig .*kc-broken is not a kubeconfig: line [0-9]+ column [0-9]+: " "a kubeconfig that is not YAML: line and column"
out=$(cx rack install kubernetes kx 2>&1); rc=$?
refused $rc "$out" "^ERROR: a Kubernetes rack needs its cluster: give kubeconfig=FILE" "no kubeconfig: says what to give"
like "$(cx racks 2>&1)" "k8s" "...and none of them made a rack"
is "$(cx racks 2>&1 | grep -c '^kx ')" 0 "...(no rack kx)"

cp "$K/kubeconfig" "$CX_HOME/racks/k8s/kubeconfig"
out=$(cx rack uninstall k8s 2>&1); ok $? "uninstall the Kubernetes rack" "$out"
is "$(printf '%s\n' "$out" | grep ' deleted$' | sort | tr '\n' ,)" \
    "ClusterRole cx-k8s-router deleted,ClusterRoleBinding cx-k8s-router deleted,IngressClass cx deleted,IngressClass cx-internal deleted,Namespace k8s-shop deleted,Namespace k8s-system deleted," \
    "...removes what it applied from the cluster: its Namespaces (with what is in them) and its cluster-wide objects"
stored=$(kube_get "/api/v1/namespaces/k8s-shop")
like "$(printf '%s' "$stored" | tr -d ' \n')" '"phase":"Terminating"' "...the app's Namespace is being deleted (no controller runs here to finish it)"
is "$(curl -sk -o /dev/null -w '%{http_code}' --max-time 5 -H "Authorization: Bearer $TOKEN" "$URL/apis/rbac.authorization.k8s.io/v1/clusterroles/cx-k8s-router")" 404 \
    "...its ClusterRole is gone"
is "$(curl -sk -o /dev/null -w '%{http_code}' --max-time 5 -H "Authorization: Bearer $TOKEN" "$URL/api/v1/namespaces/kube-shop")" 200 \
    "...and another rack's (kube, applied by the test) is left alone"
check_no_leftovers
done_testing
