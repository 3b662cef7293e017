# lib-kube.sh — a real Kubernetes API server for a test: kube-apiserver
# 1.20.2 (built from Debian's source package and cached by
# scripts/kube-apiserver.sh) over Debian's etcd, both on 127.0.0.1 on ports
# of their own, AlwaysAllow behind a bearer token. No scheduler, controller
# manager or kubelet runs: nothing starts a pod, and a deleted Namespace
# stays Terminating. Source after lib.sh; root only.
#
# kube_start: starts both (stopped by PID at exit through track) and checks
#   they answer, as TAP; sets K (their directory), URL, TOKEN and CA (the
#   server's CA certificate, base64).
# kube_get PATH: the server's answer to GET PATH, with the token.
# kube_call METHOD PATH [CONTENT-TYPE BODY]: any request, with the token.
# kubeconfig SERVER CA USERLINES: a kubeconfig with one context.

b64() { base64 -w0 <"$1"; }
kubeconfig() {
	printf 'apiVersion: v1\nkind: Config\ncurrent-context: test\nclusters:\n- name: c\n  cluster:\n    server: %s\n    certificate-authority-data: %s\ncontexts:\n- name: test\n  context: {cluster: c, user: u}\nusers:\n- name: u\n  user:\n%s\n' "$1" "$2" "$3"
}
kube_get() { curl -sk --max-time 5 -H "Authorization: Bearer $TOKEN" "$URL$1"; }

kube_start() {
	local apiserver ec ep as t0
	if [ "$(id -u)" != 0 ]; then
		echo "Bail out! $(basename "$0") needs root (make deps builds the API server)"
		exit 1
	fi
	apiserver=$(sh "$ROOT/scripts/kube-apiserver.sh") || { echo "Bail out! no kube-apiserver (scripts/kube-apiserver.sh)"; exit 1; }
	command -v etcd >/dev/null || { echo "Bail out! no etcd (make deps: etcd-server)"; exit 1; }
	K=$TMP/kube
	mkdir -p "$K"
	ec=$(free_port); ep=$(free_port); as=$(free_port)
	etcd --name cx-test --data-dir "$K/etcd" --listen-client-urls "http://127.0.0.1:$ec" \
	    --advertise-client-urls "http://127.0.0.1:$ec" --listen-peer-urls "http://127.0.0.1:$ep" \
	    --initial-advertise-peer-urls "http://127.0.0.1:$ep" \
	    --initial-cluster "cx-test=http://127.0.0.1:$ep" >"$K/etcd.log" 2>&1 &
	track $!
	etcd_pid=$!
	TOKEN=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
	printf '%s,admin,admin,system:masters\n' "$TOKEN" >"$K/tokens.csv"
	openssl genrsa -out "$K/sa.key" 2048 2>/dev/null
	wait_for 20 curl -s "http://127.0.0.1:$ec/health"; ok $? "etcd answers on 127.0.0.1:$ec (pid $etcd_pid)" "$(tail -5 "$K/etcd.log")"
	t0=$(date +%s%N)
	"$apiserver" --etcd-servers "http://127.0.0.1:$ec" --bind-address 127.0.0.1 \
	    --advertise-address 127.0.0.1 --secure-port "$as" --cert-dir "$K/certs" \
	    --token-auth-file "$K/tokens.csv" --authorization-mode AlwaysAllow \
	    --service-account-issuer https://kubernetes.default.svc --service-account-key-file "$K/sa.key" \
	    --service-account-signing-key-file "$K/sa.key" --service-cluster-ip-range 10.96.0.0/16 \
	    >"$K/apiserver.log" 2>&1 &
	track $!
	api_pid=$!
	URL=https://127.0.0.1:$as
	wait_for 90 kube_ready; ok $? "kube-apiserver is ready on $URL (pid $api_pid)" "$(tail -5 "$K/apiserver.log")"
	note "API server ready in $(( ($(date +%s%N) - t0) / 1000000 )) ms"
	CA=$(b64 "$K/certs/apiserver.crt")
}
kube_ready() { [ "$(kube_get /readyz)" = ok ]; }
kube_call() {
	if [ $# -gt 2 ]; then
		curl -sk --max-time 10 -X "$1" -H "Authorization: Bearer $TOKEN" \
		    -H "Content-Type: $3" --data-binary "$4" "$URL$2"
	else
		curl -sk --max-time 10 -X "$1" -H "Authorization: Bearer $TOKEN" "$URL$2"
	fi
}
