#!/usr/bin/env bash
# certs.t — certificates as Convox users know them: `cx certs` lists each
# public domain's own (rack-CA) certificate, `cx certs import` checks what it
# is given (one-line errors), `cx certs generate` issues one from the rack's
# CA, `cx ssl` shows what each endpoint serves and `cx ssl update` binds an
# imported certificate to an endpoint, which the router then serves (checked
# with openssl s_client and curl against the other CA), refusing one that does
# not name the service's domain; `cx certs delete` refuses a bound one.
. "$(dirname "$0")/lib.sh"

if ! command -v openssl >/dev/null; then
	echo "1..0 # SKIP the openssl command is not installed (scripts/deps.sh)"
	exit 0
fi
cx rack install local dev >/dev/null || { echo "Bail out! cannot install a rack"; exit 1; }
dir=$CX_HOME/racks/dev
cx rack ca -r dev > "$TMP/dev-ca.pem"
port=$(cx rack params -r dev | sed -n 's/^router_tls_port  *\([0-9][0-9]*\)$/\1/p')
cx apps create hello -r dev >/dev/null
out=$(cx deploy "$EXAMPLES/hello" -a hello -r dev 2>&1); ok $? "deploy examples/hello" "$out"
host=web.hello.dev.localhost
C=(curl -s --max-time 10 --resolve "$host:$port:127.0.0.1")
wait_for 10 "${C[@]}" --cacert "$TMP/dev-ca.pem" -o /dev/null "https://$host:$port/"

out=$(cx certs -r dev)
like "$out" "^ID +DOMAIN +EXPIRES" "cx certs prints ID DOMAIN EXPIRES" "$out"
like "$out" $'\n''cert-[0-9a-f]{8} +'"$host"' +(1 year|1[12] months) from now' \
	"...the domain's own certificate, expiring in about a year" "$out"
own=$(cx certs -r dev --json | sed -n 's/.*"id":"\(cert-[0-9a-f]*\)","domain":"'"$host"'".*/\1/p')
like "$(cx certs -r dev --json)" '"source":"rack-ca"' "--json says its source: rack-ca"

out=$(cx ssl -a hello -r dev)
like "$out" "^ENDPOINT +CERTIFICATE +DOMAIN +EXPIRES" "cx ssl prints ENDPOINT CERTIFICATE DOMAIN EXPIRES" "$out"
like "$out" $'\n''web:443 +'"$own"' +'"$host"' +' "...web:443 served with the domain's own" "$out"

out=$(cx certs delete "$own" -r dev 2>&1); rc=$?
like "$rc $out" "^1 .*is the rack's own certificate of $host" "a domain's own certificate cannot be deleted (it goes with its domain)" "$out"

# Another CA, as a company's or a public one would be.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
	-subj "/CN=Other Test CA" -keyout "$TMP/oca.key" -out "$TMP/oca.pem" >/dev/null 2>&1
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$host" \
	-keyout "$TMP/web.key" -out "$TMP/web.csr" >/dev/null 2>&1
printf 'subjectAltName=DNS:%s\nextendedKeyUsage=serverAuth\n' "$host" > "$TMP/ext"
openssl x509 -req -in "$TMP/web.csr" -CA "$TMP/oca.pem" -CAkey "$TMP/oca.key" -CAcreateserial \
	-days 20 -extfile "$TMP/ext" -out "$TMP/web.pem" >/dev/null 2>&1
ok $? "openssl made a certificate for $host signed by another CA"
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=x" \
	-keyout "$TMP/x.key" -out /dev/null >/dev/null 2>&1

out=$(cx certs import "$TMP/web.pem" "$TMP/x.key" -r dev 2>&1); rc=$?
is "$rc" 1 "import with a key that is not the certificate's fails"
like "$out" "ERROR: cannot import the certificate: the key is not the certificate's" "...saying so" "$out"
is "$(printf '%s\n' "$out" | grep -c ERROR)" 1 "...in one line"
out=$(cx certs import "$TMP/web.key" "$TMP/web.key" -r dev 2>&1); rc=$?
like "$rc $out" "^1 .*ERROR: cannot import the certificate: not a PEM certificate" "a key as the certificate: refused" "$out"
out=$(cx certs import "$TMP/oca.pem" "$TMP/oca.key" -r dev 2>&1); rc=$?
like "$rc $out" "^1 .*a CA's, not a server's" "a CA's certificate: refused" "$out"
out=$(cx certs import "$TMP/nope.pem" "$TMP/web.key" -r dev 2>&1); rc=$?
like "$rc $out" "^1 ERROR: cannot read the certificate .*nope.pem: No such file" "a missing file: one line" "$out"

out=$(cx certs import "$TMP/web.pem" "$TMP/web.key" -r dev 2>&1); ok $? "cx certs import CERT KEY" "$out"
like "$out" "^Importing certificate\.\.\. OK, cert-[0-9a-f]{8}$" "...prints its id as Convox does" "$out"
imp=${out##*, }
key=$(ls "$dir/certs/store/$imp.key" 2>&1)
is "$(stat -c '%a %U' "$key")" "600 $(id -un)" "its key is kept 0600, the owner's alone, under certs/store"

out=$(cx certs generate a.example.test b.example.test -r dev 2>&1); ok $? "cx certs generate DOMAIN DOMAIN" "$out"
gen=${out##*, }
like "$gen" "^cert-[0-9a-f]{8}$" "...prints its id"
san=$(openssl x509 -noout -ext subjectAltName -in "$dir/certs/store/$gen.pem" 2>&1 | tr -d ' \n')
is "$san" "X509v3SubjectAlternativeName:DNS:a.example.test,DNS:b.example.test" "...both names as SANs"
openssl verify -CAfile "$TMP/dev-ca.pem" "$dir/certs/store/$gen.pem" >/dev/null 2>&1
ok $? "...signed by the rack's CA"
out=$(cx certs -r dev)
like "$out" "$imp +$host +(2|3) weeks from now" "cx certs lists the imported one" "$out"
like "$out" "$gen +a\.example\.test +(1 year|1[12] months) from now" "...and the generated one" "$out"

out=$(cx ssl update web:443 "$gen" -a hello -r dev 2>&1); rc=$?
is "$rc" 1 "ssl update with a certificate that does not name the service's domain fails"
like "$out" "ERROR: $gen does not name $host, the domain of web:443 \(it names a.example.test,b.example.test\)" \
	"...saying which domain it lacks" "$out"
out=$(cx ssl update web:80 "$imp" -a hello -r dev 2>&1); rc=$?
like "$rc $out" "^1 .*the TLS endpoint is web:443" "...web:80 is not an endpoint" "$out"
out=$(cx ssl update web "$imp" -a hello -r dev 2>&1); rc=$?
like "$rc $out" "^1 ERROR: \"web\" is not an endpoint: use SERVICE:PORT" "...nor is web" "$out"
out=$(cx ssl update nope:443 "$imp" -a hello -r dev 2>&1); rc=$?
like "$rc $out" "^1 .*has no public endpoint nope" "...nor a service that does not exist" "$out"

out=$(cx ssl update web:443 "$imp" -a hello -r dev 2>&1); ok $? "cx ssl update web:443 $imp" "$out"
is "$out" "Updating certificate... OK" "...Convox's words"
issuer() {
	openssl s_client -connect "127.0.0.1:$port" -servername "$host" </dev/null 2>/dev/null |
		openssl x509 -noout -issuer 2>/dev/null
}
served_other() { issuer | grep -q "Other Test CA"; }
wait_for 10 served_other; ok $? "the router serves the imported certificate (openssl s_client: issuer Other Test CA)" "$(issuer)"
s=$(openssl s_client -connect "127.0.0.1:$port" -servername "$host" -CAfile "$TMP/oca.pem" \
	-verify_return_error </dev/null 2>/dev/null)
like "$s" "subject=CN ?= ?$host" "...whose subject is the domain"
like "$s" "Verify return code: 0 \(ok\)" "...and that verifies against the other CA"
out=$("${C[@]}" --cacert "$TMP/oca.pem" "https://$host:$port/")
like "$out" "^hello from hello/web" "curl --cacert <other CA> https://$host:$port/ answers"
out=$("${C[@]}" --cacert "$TMP/dev-ca.pem" "https://$host:$port/" 2>&1); rc=$?
is "$rc" 60 "...and the rack's CA no longer verifies it (curl exit 60)"
out=$(cx ssl -a hello -r dev)
like "$out" "web:443 +$imp +$host +(2|3) weeks from now" "cx ssl shows the bound certificate" "$out"

out=$(cx certs delete "$imp" -r dev 2>&1); rc=$?
like "$rc $out" "^1 .*ERROR: $imp serves web:443 of app hello; bind another with cx ssl update first" \
	"a bound certificate cannot be deleted" "$out"
out=$(cx certs delete "$gen" -r dev 2>&1); ok $? "cx certs delete a generated one" "$out"
test ! -e "$dir/certs/store/$gen.pem" && test ! -e "$dir/certs/store/$gen.key"
ok $? "...its files are gone"
lacks "$(cx certs -r dev)" "$imp" "$gen" "...and so is its row"
lacks "$(cx certs -r dev)" "$imp" "$own" "...and the domain's own went when the imported one took its place"

# The binding outlives a daemon restart.
dpid=$(cat "$dir/rackd.pid"); kill "$dpid"; wait_for 10 gone "$dpid"
cx-rackd --home "$CX_HOME" --rack dev --daemon; ok $? "the daemon starts again"
wait_for 10 served_other; ok $? "after a daemon restart the imported certificate is still served"

done_testing
