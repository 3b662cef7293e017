#!/usr/bin/env bash
# The internal router on a loopback rack (development, no root): it starts and
# stops with the param, serves only internalRouter services, and the public
# router does not serve them.
. "$(dirname "$0")/lib.sh"

cx rack install local dev >/dev/null || { echo "Bail out! cannot install a rack"; exit 1; }
out=$(cx rack -r dev); lacks "$out" "Name +dev" "RouterInternal" "no internal router by default"
cx apps create svc -r dev >/dev/null
out=$(cx deploy "$EXAMPLES/hello" -m "$EXAMPLES/hello/convox-internal.yml" -a svc -r dev 2>&1); rc=$?
is "$rc" 1 "deploying an internalRouter service without the internal router fails"
like "$out" "please enable the rack's internal router first: cx rack params set internal_router=true -r dev" "...and says how to enable it"

out=$(cx rack params set internal_router=true -r dev); is "$out" "Updating parameters... OK" "enable the internal router"
out=$(cx rack -r dev); like "$out" "RouterInternal +dev-internal\.localhost:[0-9]+" "cx rack shows RouterInternal"
iport=$(cx rack params -r dev --json | sed -n 's/.*"router_internal_port":"\([0-9]*\)".*/\1/p')
pport=$(cx rack params -r dev --json | sed -n 's/.*"router_port":"\([0-9]*\)".*/\1/p')
like "$iport:$pport" '^[0-9]+:[0-9]+$' "the ports of both routers are known"
ipid=$(cat "$CX_HOME/racks/dev/router-internal.pid")
kill -0 "$ipid"; ok $? "the internal router is its own process (pid $ipid)"

out=$(cx deploy "$EXAMPLES/hello" -m "$EXAMPLES/hello/convox-internal.yml" -a svc -r dev 2>&1); ok $? "deploy with the internal router on"
out=$(cx services -a svc -r dev)
like "$out" "SERVICE +DOMAIN +PORTS +ROUTER" "services shows which router serves each service"
like "$out" "api +api\.svc\.dev-internal\.localhost +$iport:3000 +internal" "api on the internal router"
like "$out" "web +web\.svc\.dev\.localhost +$pport:3000 +public" "web on the public router"

body=$(curl -s --max-time 5 "http://api.svc.dev-internal.localhost:$iport/")
like "$body" "^hello from svc/api" "api answers through the internal router"
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -H "Host: api.svc.dev-internal.localhost" "http://127.0.0.1:$pport/")
is "$code" 404 "the public router does not serve api's name"

# Its TLS port, as the public router's: certificates of the rack's CA.
itls=$(cx rack params -r dev --json | sed -n 's/.*"router_internal_tls_port":"\([0-9]*\)".*/\1/p')
ptls=$(cx rack params -r dev --json | sed -n 's/.*"router_tls_port":"\([0-9]*\)".*/\1/p')
like "$itls" '^[0-9]+$' "the rack has a router_internal_tls_port param ($itls)"
[ "$itls" != "$ptls" ] && [ "$itls" != "$iport" ]; ok $? "...other than the public TLS port and the plain one"
cx rack ca -r dev >"$TMP/ca.pem"
AH=api.svc.dev-internal.localhost
wait_for 10 openssl s_client -connect "127.0.0.1:$itls" -servername "$AH" -CAfile "$TMP/ca.pem" \
    -verify_return_error </dev/null >/dev/null 2>&1
s=$(openssl s_client -connect "127.0.0.1:$itls" -servername "$AH" -CAfile "$TMP/ca.pem" \
    -verify_return_error </dev/null 2>&1)
like "$s" "Verify return code: 0 \(ok\)" "a handshake to the internal router's TLS port for $AH verifies against cx rack ca" "$s"
like "$s" "New, TLSv1\.3, Cipher is " "...over TLS 1.3"
is "$(printf '%s\n' "$s" | openssl x509 -noout -ext subjectAltName 2>/dev/null | tr -d ' \n')" \
    "X509v3SubjectAlternativeName:DNS:$AH" "...with a certificate for the internal name"
body=$(curl -s --max-time 5 --cacert "$TMP/ca.pem" --resolve "$AH:$itls:127.0.0.1" "https://$AH:$itls/")
like "$body" "^hello from svc/api" "api answers over https through the internal router"
url=$(cx services -a svc -r dev --json | grep -o '"https_url":"https://api[^"]*"')
is "$url" "\"https_url\":\"https://$AH:$itls\"" "services --json gives api's https_url"
exits_with 35 "the internal router's TLS port has no certificate for a public name" \
    curl -s --max-time 5 --cacert "$TMP/ca.pem" --resolve "web.svc.dev.localhost:$itls:127.0.0.1" \
    "https://web.svc.dev.localhost:$itls/"
body=$(curl -s --max-time 5 --cacert "$TMP/ca.pem" --resolve "web.svc.dev.localhost:$ptls:127.0.0.1" \
    "https://web.svc.dev.localhost:$ptls/")
like "$body" "^hello from svc/web" "...while the public router's TLS port still serves web (both routers' certificates kept)"
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -H "Host: web.svc.dev.localhost" "http://127.0.0.1:$iport/")
is "$code" 404 "the internal router does not serve public services"

out=$(cx services reach api -a svc -r dev --from local 2>&1); ok $? "reach api from local"
like "$out" "process +ok .*HTTP 200" "reach: a process answered"

# The allow list: 127.0.0.1 is the loopback rack's own address; another
# loopback address is outside it until internal_router_whitelist names it.
# Outside the allow list the router closes the connection without a byte:
# curl sees an empty reply (52), or a reset (56) if the request was sent.
exits_with '52|56' "a caller outside the allow list gets no answer, the connection closed" \
    curl -s --max-time 2 --interface 127.0.0.2 "http://api.svc.dev-internal.localhost:$iport/"
cx rack params set internal_router_whitelist=127.0.0.2/32 -r dev >/dev/null
body=$(curl -s --max-time 5 --interface 127.0.0.2 "http://api.svc.dev-internal.localhost:$iport/")
like "$body" "^hello from svc/api" "internal_router_whitelist admits it"
cx rack params set internal_router_whitelist= -r dev >/dev/null
exits_with '52|56' "whitelist cleared: refused again" \
    curl -s --max-time 2 --interface 127.0.0.2 "http://api.svc.dev-internal.localhost:$iport/"
exits_with '35|56' "...outside the allow list its TLS port answers no handshake" \
    curl -s --max-time 2 --interface 127.0.0.2 --cacert "$TMP/ca.pem" \
    --resolve "$AH:$itls:127.0.0.1" "https://$AH:$itls/"

out=$(cx rack params set internal_router=false -r dev); is "$out" "Updating parameters... OK" "disable the internal router"
wait_for 5 gone "$ipid"; ok $? "the internal router process is gone"
out=$(cx rack -r dev); lacks "$out" "Name +dev" "RouterInternal" "cx rack no longer shows RouterInternal"
exits_with 7 "api is unreachable with the internal router off (connection refused)" \
    curl -s --max-time 2 "http://api.svc.dev-internal.localhost:$iport/"
body=$(curl -s --max-time 5 "http://web.svc.dev.localhost:$pport/")
like "$body" "^hello from svc/web" "the public service still answers"

cx rack uninstall dev >/dev/null
check_no_leftovers
done_testing
