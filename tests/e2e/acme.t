#!/usr/bin/env bash
# acme.t — with rack param acme_directory set, the daemon obtains each
# public domain's certificate from an ACME server by HTTP-01: Debian's
# pebble, which validates the challenge against the rack's public router
# (its httpPort is the rack's router_port; pebble-challtestsrv resolves every
# name to 127.0.0.1). Then `cx certs` lists the acme certificate and curl
# verifies the router's certificate against pebble's root (from its
# management endpoint /roots/0). An unreachable directory is one log line and
# a `cx rack` warning, and the rack-CA certificate keeps being served.
. "$(dirname "$0")/lib.sh"

for c in pebble pebble-challtestsrv openssl python3; do
	if ! command -v $c >/dev/null; then
		echo "1..0 # SKIP $c is not installed (scripts/deps.sh)"
		exit 0
	fi
done
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

cx rack install local dev >/dev/null || { echo "Bail out! cannot install a rack"; exit 1; }
dir=$CX_HOME/racks/dev
cx rack ca -r dev > "$TMP/dev-ca.pem"
rport=$(cx rack params -r dev | sed -n 's/^router_port  *\([0-9][0-9]*\)$/\1/p')
tport=$(cx rack params -r dev | sed -n 's/^router_tls_port  *\([0-9][0-9]*\)$/\1/p')
cx apps create hello -r dev >/dev/null
out=$(cx deploy "$EXAMPLES/hello" -a hello -r dev 2>&1); ok $? "deploy examples/hello" "$out"
host=web.hello.dev.localhost
C=(curl -s --max-time 10 --resolve "$host:$tport:127.0.0.1")

# pebble's own HTTPS certificate, from a test CA: what acme_ca names.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
	-subj "/CN=pebble test CA" -keyout "$TMP/pca.key" -out "$TMP/pca.pem" >/dev/null 2>&1
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=127.0.0.1" \
	-keyout "$TMP/pebble.key" -out "$TMP/pebble.csr" >/dev/null 2>&1
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' > "$TMP/pext"
openssl x509 -req -in "$TMP/pebble.csr" -CA "$TMP/pca.pem" -CAkey "$TMP/pca.key" \
	-CAcreateserial -days 2 -extfile "$TMP/pext" -out "$TMP/pebble.pem" >/dev/null 2>&1

# An unreachable directory first: one line in the log, a warning, the
# rack-CA certificate served meanwhile.
dead=$(free_port)
out=$(cx rack params set "acme_directory=https://127.0.0.1:$dead/dir" "acme_ca=$TMP/pca.pem" -r dev 2>&1)
ok $? "cx rack params set acme_directory=... acme_ca=..." "$out"
out=$(cx rack params set acme_directory=http://x/ -r dev 2>&1); rc=$?
like "$rc $out" "^1 .*acme_directory must be an https:// URL" "a plain http directory is refused"
warned() { cx rack -r dev | grep -q "^Warnings .*ACME: .*cannot reach https://127.0.0.1:$dead/dir"; }
wait_for 20 warned; ok $? "cx rack Warnings names the unreachable ACME directory" "$(cx rack -r dev)"
like "$(grep -c "acme: .*cannot reach https://127.0.0.1:$dead/dir.*trying again in 30 s" "$dir/rackd.log")" \
	"^1$" "...logged once, with its back-off" "$(grep acme "$dir/rackd.log")"
out=$("${C[@]}" --cacert "$TMP/dev-ca.pem" "https://$host:$tport/")
like "$out" "^hello from hello/web" "...while the rack-CA certificate is served"

# pebble, validating HTTP-01 on the rack's public router.
papi=$(free_port); pman=$(free_port); dns=$(free_port); cman=$(free_port)
cat > "$TMP/pebble.json" <<EOF
{"pebble": {"listenAddress": "127.0.0.1:$papi", "managementListenAddress": "127.0.0.1:$pman",
 "certificate": "$TMP/pebble.pem", "privateKey": "$TMP/pebble.key",
 "httpPort": $rport, "tlsPort": $(free_port), "ocspResponderURL": "",
 "externalAccountBindingRequired": false}}
EOF
pebble-challtestsrv -defaultIPv4 127.0.0.1 -defaultIPv6 "" -dns01 "127.0.0.1:$dns" -http01 "" \
	-https01 "" -tlsalpn01 "" -management "127.0.0.1:$cman" >"$TMP/challtestsrv.log" 2>&1 &
track $!
PEBBLE_VA_NOSLEEP=1 PEBBLE_WFE_NONCEREJECT=0 pebble -config "$TMP/pebble.json" \
	-dnsserver "127.0.0.1:$dns" >"$TMP/pebble.log" 2>&1 &
track $!
wait_for 20 curl -s --cacert "$TMP/pca.pem" "https://127.0.0.1:$papi/dir"
ok $? "pebble answers on 127.0.0.1:$papi" "$(tail -5 "$TMP/pebble.log")"

out=$(cx rack params set "acme_directory=https://127.0.0.1:$papi/dir" -r dev 2>&1)
ok $? "cx rack params set acme_directory=<pebble>" "$out"
# The failure above is backed off per domain and server: another
# directory is tried at once.
has_acme() { cx certs -r dev --json | grep -q '"source":"acme"'; }
wait_for 60 has_acme; ok $? "the daemon obtained a certificate from pebble" \
	"$(grep acme "$dir/rackd.log" | tail -5)" "$(tail -5 "$TMP/pebble.log")"
grep -q "Attempting to validate w/ HTTP: http://$host:$rport/.well-known/acme-challenge/" "$TMP/pebble.log" &&
	grep -q "set VALID by completed challenge" "$TMP/pebble.log"
ok $? "...pebble validated HTTP-01 against the router's port $rport" "$(grep -i valid "$TMP/pebble.log" | head -3)"
out=$(cx certs -r dev)
like "$out" "cert-[0-9a-f]{8} +$host +" "cx certs lists the acme certificate" "$out"
id=$(cx certs -r dev --json | python3 -c 'import json,sys; print([c["id"] for c in json.load(sys.stdin) if c["source"]=="acme"][0])')
is "$(stat -c '%a' "$dir/certs/store/$id.key") $(stat -c '%a' "$dir/certs/acme/account.key")" "600 600" \
	"its key and the account key are 0600"

curl -s --cacert "$TMP/pca.pem" "https://127.0.0.1:$pman/roots/0" > "$TMP/pebble-root.pem"
like "$(head -1 "$TMP/pebble-root.pem")" "BEGIN CERTIFICATE" "pebble's issuing root from /roots/0"
served_acme() { "${C[@]}" --cacert "$TMP/pebble-root.pem" -o /dev/null "https://$host:$tport/"; }
wait_for 10 served_acme
out=$("${C[@]}" --cacert "$TMP/pebble-root.pem" -w '\n%{http_code} %{ssl_verify_result}' "https://$host:$tport/")
like "$out" "^hello from hello/web" "curl --cacert <pebble's root> https://$host/ answers" "$out"
like "$out" $'\n200 0$' "...the certificate (and the chain the router sends) verified"
out=$(cx ssl -a hello -r dev)
like "$out" "web:443 +$id +$host" "cx ssl shows the acme certificate on web:443" "$out"
lacks "$(cx rack -r dev)" "Name" "Warnings" "no warning once it worked"

# A new daemon keeps serving it and orders nothing (it is not due).
dpid=$(cat "$dir/rackd.pid"); kill "$dpid"; wait_for 10 gone "$dpid"
orders=$(grep -c "POST /order-plz" "$TMP/pebble.log")
cx-rackd --home "$CX_HOME" --rack dev --daemon; ok $? "the daemon starts again"
sleep 3
is "$(grep -c "POST /order-plz" "$TMP/pebble.log")" "$orders" "...and orders no new certificate"
out=$("${C[@]}" --cacert "$TMP/pebble-root.pem" "https://$host:$tport/")
like "$out" "^hello from hello/web" "...and still serves the acme one"

done_testing
