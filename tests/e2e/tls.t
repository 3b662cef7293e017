#!/usr/bin/env bash
# tls.t — the public router of a loopback rack speaks TLS 1.3 on its TLS
# port beside plain HTTP: each service domain with a certificate for its
# name (SNI) issued by the rack's CA, re-issued as the set of domains
# changes; an unknown name fails the handshake; another rack's CA does not
# verify it; the app sees X-Forwarded-Proto: https.
. "$(dirname "$0")/lib.sh"

if ! command -v openssl >/dev/null; then
	echo "1..0 # SKIP the openssl command is not installed (scripts/deps.sh)"
	exit 0
fi
cx rack install local dev >/dev/null || { echo "Bail out! cannot install a rack"; exit 1; }
cx rack install local other >/dev/null || { echo "Bail out! cannot install a second rack"; exit 1; }
dir=$CX_HOME/racks/dev
cx rack ca -r dev > "$TMP/dev-ca.pem"
cx rack ca -r other > "$TMP/other-ca.pem"

port=$(cx rack params -r dev | sed -n 's/^router_tls_port  *\([0-9][0-9]*\)$/\1/p')
like "$port" "^[0-9]+$" "the rack has a router_tls_port param ($port)"
plain=$(cx rack params -r dev | sed -n 's/^router_port  *\([0-9][0-9]*\)$/\1/p')
isnt() { [ "$1" != "$2" ]; ok $? "$3" "both are $1"; }
isnt "$port" "$plain" "...other than router_port"

cx apps create hello -r dev >/dev/null
out=$(cx deploy "$EXAMPLES/hello" -a hello -r dev 2>&1); ok $? "deploy examples/hello" "$out"
host=web.hello.dev.localhost
C=(curl -s --max-time 10 --resolve "$host:$port:127.0.0.1")

https_url=$(cx services -a hello -r dev --json | sed -n 's/.*"https_url":"\([^"]*\)".*/\1/p')
is "$https_url" "https://$host:$port" "services --json has https_url"
url=$(cx services -a hello -r dev --json | sed -n 's/.*"url":"\([^"]*\)".*/\1/p')
like "$url" "^http://$host:[0-9]+$" "...and url stays plain http"

is "$(stat -c '%a' "$dir/certs")" 700 "the certificates' directory is 0700"
is "$(stat -c '%a %U' "$dir/certs/$host.key")" "600 $(id -un)" "the domain's key is 0600, the owner's alone"
san=$(openssl x509 -noout -ext subjectAltName -in "$dir/certs/$host.pem" 2>&1 | tr -d ' \n')
is "$san" "X509v3SubjectAlternativeName:DNS:$host" "the certificate names the domain" "$san"
openssl verify -CAfile "$TMP/dev-ca.pem" "$dir/certs/$host.pem" >/dev/null 2>&1
ok $? "...and is signed by the rack's CA"

wait_for 10 "${C[@]}" --cacert "$TMP/dev-ca.pem" -o /dev/null "https://$host:$port/"
out=$("${C[@]}" --cacert "$TMP/dev-ca.pem" -w '\n%{http_code} %{ssl_verify_result}' "https://$host:$port/")
like "$out" "^hello from hello/web" "curl --cacert <(cx rack ca) https://$host:$port/ answers the app's body"
like "$out" $'\n200 0$' "...200, the certificate verified (ssl_verify_result 0)" "$out"
out=$("${C[@]}" -v --cacert "$TMP/dev-ca.pem" -o /dev/null "https://$host:$port/" 2>&1)
like "$out" "SSL connection using TLSv1\.3" "...over TLS 1.3"
s=$(openssl s_client -connect "127.0.0.1:$port" -servername "$host" -CAfile "$TMP/dev-ca.pem" \
	-verify_return_error </dev/null 2>/dev/null)
like "$s" "New, TLSv1\.3, Cipher is " "openssl s_client: TLS 1.3"
like "$s" "Verify return code: 0 \(ok\)" "...verified against the rack's CA"
is "$(printf '%s\n' "$s" | openssl x509 -noout -ext subjectAltName 2>/dev/null | tr -d ' \n')" \
	"X509v3SubjectAlternativeName:DNS:$host" "...the certificate served has the domain as its SAN"

hdrs=$("${C[@]}" --cacert "$TMP/dev-ca.pem" "https://$host:$port/headers" | tr -d '\r')
like "$hdrs" "X-Forwarded-Proto: https" "the app sees X-Forwarded-Proto: https"
like "$hdrs" "X-Forwarded-Port: $port" "...and X-Forwarded-Port the TLS port"
hdrs=$(curl -s --max-time 10 "$url/headers" | tr -d '\r')
like "$hdrs" "X-Forwarded-Proto: http\b" "plain http still serves, with X-Forwarded-Proto: http"

out=$(curl -s --max-time 10 --resolve "nope.hello.dev.localhost:$port:127.0.0.1" \
	--cacert "$TMP/dev-ca.pem" "https://nope.hello.dev.localhost:$port/" 2>&1); rc=$?
is "$rc" 35 "an unknown name (SNI) fails the handshake: curl exit 35 (unrecognized_name)"
out=$(curl -sS --max-time 10 -k "https://127.0.0.1:$port/" 2>&1); rc=$?
is "$rc" 35 "...so does a client that sends no name" "$out"
out=$("${C[@]}" --cacert "$TMP/other-ca.pem" "https://$host:$port/" 2>&1); rc=$?
is "$rc" 60 "another rack's CA does not verify the certificate: curl exit 60"
out=$("${C[@]}" --tls-max 1.2 -k "https://$host:$port/" 2>&1); rc=$?
is "$rc" 35 "TLS 1.2 is refused"

# Keep-alive and a large body through TLS.
out=$("${C[@]}" --cacert "$TMP/dev-ca.pem" -o /dev/null -o /dev/null -w '%{num_connects}\n' \
	"https://$host:$port/" "https://$host:$port/headers")
is "$(echo $out)" "1 0" "keep-alive over TLS: the second request reuses the connection"

# A new domain gets its certificate; a domain gone loses it.
cx apps create two -r dev >/dev/null
out=$(cx deploy "$EXAMPLES/hello" -a two -r dev 2>&1); ok $? "deploy a second app" "$out"
wait_for 10 test -f "$dir/certs/web.two.dev.localhost.pem"; ok $? "its domain gets a certificate"
out=$(curl -s --max-time 10 --resolve "web.two.dev.localhost:$port:127.0.0.1" \
	--cacert "$TMP/dev-ca.pem" "https://web.two.dev.localhost:$port/")
like "$out" "^hello from two/web" "...and answers over https"
fp=$(openssl x509 -noout -fingerprint -sha256 -in "$dir/certs/$host.pem")
cx apps delete two -r dev >/dev/null
wait_for 10 sh -c "! test -e '$dir/certs/web.two.dev.localhost.pem'"
ok $? "the deleted app's certificate is removed"
is "$(openssl x509 -noout -fingerprint -sha256 -in "$dir/certs/$host.pem")" "$fp" \
	"...and the other domain keeps its own"
out=$(curl -s --max-time 10 --resolve "web.two.dev.localhost:$port:127.0.0.1" \
	--cacert "$TMP/dev-ca.pem" "https://web.two.dev.localhost:$port/" 2>&1); rc=$?
is "$rc" 35 "...and its name no longer has a handshake"

# A process that speaks HTTPS itself (port: https:3000, a self-signed
# certificate of its own): health checks and the router speak TLS to it, and
# check no certificate. Its deploy settles only if the health checks pass.
cx apps create tlsapp -r dev >/dev/null
out=$(cx deploy "$ROOT/tests/e2e/apps/https" -a tlsapp -r dev 2>&1)
ok $? "deploy an app whose process serves https (its health checks speak TLS)" "$out"
out=$(cx ps -a tlsapp -r dev)
like "$out" "secure-[0-9a-f]+ +secure +running" "...its process is running" "$out"
grep -q "^host secure\.tlsapp\.dev\.localhost tlsapp secure [0-9]* /health tls-upstream$" "$dir/routes.public"
ok $? "the router's table has tls-upstream for it (and no redirect on a loopback rack)" "$(cat "$dir/routes.public")"
grep -q "^host open\.tlsapp\.dev\.localhost tlsapp open [0-9]* /health$" "$dir/routes.public"
ok $? "...and neither flag for the plain service beside it"
sh="secure.tlsapp.dev.localhost"
out=$(curl -s --max-time 10 "http://$sh:$plain/")
like "$out" "^hello over TLSv1\.3 from tlsapp/secure, host $sh:$plain, proto http$" \
    "through the plain router port, the router spoke TLS 1.3 to the process" "$out"
out=$(curl -s --max-time 10 --resolve "$sh:$port:127.0.0.1" --cacert "$TMP/dev-ca.pem" "https://$sh:$port/")
like "$out" "^hello over TLSv1\.3 from tlsapp/secure, host $sh:$port, proto https$" \
    "...and through the TLS port, verified against cx rack ca at the router" "$out"
oh="old.tlsapp.dev.localhost"
out=$(curl -s --max-time 10 "http://$oh:$plain/")
like "$out" "^hello over TLSv1\.2 from tlsapp/old, host $oh:$plain, proto http$" \
    "a process whose server stops at TLS 1.2 passes its health checks and is reached over TLS 1.2" "$out"
pjs=$(cx ps -a tlsapp -r dev --json | tr '{' '\n' | grep '"service":"secure"')
paddr=$(printf '%s' "$pjs" | grep -o '"address":"[0-9.]*"' | cut -d'"' -f4):$(printf '%s' "$pjs" | grep -o '"port":[0-9]*' | cut -d: -f2)
like "$paddr" '^[0-9.]+:[0-9]+$' "the process's own address is known ($paddr)"
exits_with '52|56' "the process itself answers no plain http (so a plain health check could never pass)" \
    curl -s --max-time 5 "http://$paddr/health"

# A daemon restart adopts the router with its TLS listener.
dpid=$(cat "$dir/rackd.pid"); kill "$dpid"; wait_for 5 gone "$dpid"
cx-rackd --home "$CX_HOME" --rack dev --daemon; ok $? "the daemon starts again"
out=$("${C[@]}" --cacert "$TMP/dev-ca.pem" "https://$host:$port/")
like "$out" "^hello from hello/web" "https still answers after the restart"

done_testing
