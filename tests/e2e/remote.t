#!/usr/bin/env bash
# remote.t — a rack reached over HTTPS by a CLI that knows it only through
# cx login: two $CX_HOMEs on 127.0.0.1, one with the rack (api_port set),
# the other (the operator's) with a local rack of its own and a login to the
# first. Login pins the rack's CA on first use, or checks --ca or
# --fingerprint, and refuses a wrong password, a wrong fingerprint and a
# server whose certificate another CA issued in one ERROR line, storing
# nothing. Then the operator deploys, curls, reads logs (and follows them),
# sets env, scales; cx racks shows both kinds; RACK_URL picks the rack for
# one command, verified, never silently not.
. "$(dirname "$0")/lib.sh"

if ! command -v openssl >/dev/null || ! command -v python3 >/dev/null; then
	echo "1..0 # SKIP needs openssl and python3 (scripts/deps.sh)"
	exit 0
fi
free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
OP=$TMP/op
mkdir -p "$OP"
opcx() { CX_HOME=$OP cx "$@"; }
# The operator's own rack goes with the test, even after a failure.
CX_LAB_CLEANUP="stop_home $OP"

cx rack install local far >/dev/null || { echo "Bail out! cannot install a rack"; exit 1; }
dir=$CX_HOME/racks/far
PW=$(cat "$dir/password")
port=$(free_port)

out=$(cx rack -r far); lacks "$out" "Name +far" "^API" "without api_port the API is on its unix socket alone"
out=$(cx rack params set api_port=$port -r far 2>&1); is "$out" "Updating parameters... OK" \
	"cx rack params set api_port=$port"
out=$(cx rack -r far); like "$out" "API +https://127\.0\.0\.1:$port" "cx rack shows the API's address"
taken=$(free_port)
python3 -c 'import socket,sys,time; s=socket.socket(); s.bind(("127.0.0.1",int(sys.argv[1]))); s.listen(); time.sleep(30)' "$taken" &
track $!
wait_for 5 python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1",int(sys.argv[1])))' "$taken"
out=$(cx rack params set api_port=$taken -r far 2>&1); rc=$?
refused "$rc" "$out" "^Updating parameters\.\.\. ERROR: the API cannot listen on 127\.0\.0\.1:$taken: Address already in use$" \
	"a port already taken is refused in one line"
out=$(cx rack params -r far); like "$out" "api_port +$port" "...and api_port stays what it was"

# The certificate: issued by the rack's CA, for the address and the rack's name.
is "$(stat -c %a "$dir/api.key")" 600 "api.key is 0600"
is "$(openssl x509 -in "$dir/api.pem" -noout -issuer)" "issuer=CN = cx rack far CA" \
	"api.pem is issued by the rack's CA"
like "$(openssl x509 -in "$dir/api.pem" -noout -ext subjectAltName | tr -d '\n')" \
	"IP Address:127\.0\.0\.1, DNS:far|DNS:far, IP Address:127\.0\.0\.1" "...for 127.0.0.1 and the name far"
cx rack ca -r far > "$TMP/far-ca.pem"
s_out=$(openssl s_client -connect "127.0.0.1:$port" -CAfile "$TMP/far-ca.pem" -verify_ip 127.0.0.1 \
	-showcerts </dev/null 2>&1)
like "$s_out" "Verify return code: 0 \(ok\)" "openssl s_client verifies the API against cx rack ca"
like "$s_out" "TLSv1\.3" "...over TLS 1.3"
like "$(printf '%s\n' "$s_out" | grep -c 'BEGIN CERTIFICATE')" "^2$" "...and the chain sent holds the CA"
code=$(curl -s -o "$TMP/body" -w '%{http_code}' --cacert "$TMP/far-ca.pem" -u convox:nope \
	"https://127.0.0.1:$port/system")
is "$code $(cat "$TMP/body")" '401 {"error":"invalid password"}' "a wrong password gets 401"
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$TMP/far-ca.pem" -u "convox:$PW" \
	"https://127.0.0.1:$port/apps")
is "$code" 200 "curl with the password gets 200"
fp=$(cx rack ca fingerprint -r far)
like "$fp" "^SHA256:([0-9A-F]{2}:){31}[0-9A-F]{2}$" "cx rack ca fingerprint prints SHA256:..."
is "${fp#SHA256:}" "$(openssl x509 -in "$dir/ca.pem" -noout -fingerprint -sha256 | sed 's/.*=//')" \
	"...the fingerprint openssl gives ca.pem"

# Refusals: one ERROR line each, nothing stored.
nothing_stored() { [ ! -e "$OP/remotes/far" ]; }
out=$(opcx login "127.0.0.1:$port" --password nope 2>&1); rc=$?
refused "$rc" "$out" "^ERROR: invalid password for the rack at https://127\.0\.0\.1:$port$" "login: a wrong password"
nothing_stored; ok $? "...stores nothing"
zero=$(printf '%064d' 0)
out=$(opcx login "127.0.0.1:$port" --password "$PW" --fingerprint "$zero" 2>&1); rc=$?
refused "$rc" "$out" "^ERROR: the CA of the rack at https://127\.0\.0\.1:$port has fingerprint $fp, not the SHA256:00:00:.* given; nothing stored$" \
	"login: a fingerprint that does not match"
nothing_stored; ok $? "...stores nothing"
out=$(opcx login "127.0.0.1:$port" --password "$PW" --fingerprint 12:34 2>&1); rc=$?
refused "$rc" "$out" "^ERROR: --fingerprint 12:34 is not a SHA-256 fingerprint" "login: a malformed fingerprint"
out=$(opcx login "127.0.0.1:$(free_port)" --password "$PW" 2>&1); rc=$?
refused "$rc" "$out" "^ERROR: cannot reach https://127\.0\.0\.1:[0-9]+" "login: nothing listening"

# A forged server: the rack's name and address, a certificate from another CA.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj "/CN=cx rack far CA" \
	-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign \
	-keyout "$TMP/forged-ca.key" -out "$TMP/forged-ca.pem" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=far" \
	-keyout "$TMP/forged.key" -out "$TMP/forged.csr" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1,DNS:far\n' > "$TMP/forged.ext"
openssl x509 -req -in "$TMP/forged.csr" -CA "$TMP/forged-ca.pem" -CAkey "$TMP/forged-ca.key" \
	-CAcreateserial -days 1 -extfile "$TMP/forged.ext" -out "$TMP/forged.pem" 2>/dev/null
fport=$(free_port)
openssl s_server -quiet -accept "127.0.0.1:$fport" -cert "$TMP/forged.pem" -key "$TMP/forged.key" \
	-cert_chain "$TMP/forged-ca.pem" -tls1_3 -www </dev/null >/dev/null 2>&1 &
track $!
wait_for 10 python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1",int(sys.argv[1])))' "$fport"
out=$(opcx login "127.0.0.1:$fport" --password "$PW" --ca "$TMP/far-ca.pem" 2>&1); rc=$?
refused "$rc" "$out" "^ERROR: the certificate of https://127\.0\.0\.1:$fport does not verify against $TMP/far-ca.pem: .*certificate" \
	"login --ca to a forged server: ERROR about its certificate"
is "$(printf '%s\n' "$out" | wc -l)" 1 "...in one line"
out=$(opcx login "127.0.0.1:$fport" --password "$PW" --fingerprint "$fp" 2>&1); rc=$?
refused "$rc" "$out" "^ERROR: the CA of the rack at https://127\.0\.0\.1:$fport has fingerprint SHA256:.*, not the $fp given; nothing stored$" \
	"login --fingerprint to a forged server: the fingerprint does not match"
nothing_stored && [ -z "$(ls -A "$OP/remotes" 2>/dev/null)" ]; ok $? "...nothing stored by any refusal"

# Trust on first use.
out=$(opcx login "127.0.0.1:$port" --password "$PW" 2>&1); rc=$?
ok $rc "login with neither --ca nor --fingerprint" "$out"
like "$out" "^Pinned certificate $fp$" "...pins the rack's CA and prints its fingerprint"
like "$out" "Logged in to rack far at https://127\.0\.0\.1:$port$" "...under the rack's own name"
is "$(stat -c %a "$OP/remotes/far") $(stat -c %a "$OP/remotes/far/password") $(stat -c %a "$OP/remotes/far/ca.pem")" \
	"700 600 600" "remotes/far is 0700, its files 0600"
cmp -s "$OP/remotes/far/ca.pem" "$dir/ca.pem"; ok $? "...the pinned ca.pem is the rack's CA"
out=$(opcx login "127.0.0.1:$port" --password "$PW" --ca "$TMP/far-ca.pem" 2>&1); rc=$?
ok $rc "login --ca FILE" "$out"
lacks "$out" "Logged in to rack far" "Pinned" "...verifies against the file, pins nothing on trust"
out=$(opcx login "https://127.0.0.1:$port" --password "$PW" --fingerprint "${fp#SHA256:}" 2>&1); rc=$?
ok $rc "login --fingerprint (without SHA256:, with https://)" "$out"

# Later uses verify against the pin: the same name at the forged server fails.
cp "$OP/remotes/far/url" "$TMP/url.good"
echo "https://127.0.0.1:$fport" > "$OP/remotes/far/url"
out=$(opcx apps -r far 2>&1); rc=$?
refused "$rc" "$out" "^ERROR: the certificate of https://127\.0\.0\.1:$fport does not verify against $OP/remotes/far/ca.pem" \
	"a pinned remote whose server changed: ERROR about the certificate"
cp "$TMP/url.good" "$OP/remotes/far/url"

# Both kinds of racks, side by side.
opcx rack install local near >/dev/null; ok $? "the operator has a local rack too"
out=$(opcx racks)
like "$out" "^NAME +PROVIDER +STATUS +LOCATION" "cx racks has a LOCATION column"
like "$out" "far +local +running +https://127\.0\.0\.1:$port" "...the remote rack and where it is"
like "$out" "near +local +running +local" "...the local rack"
like "$(opcx racks --json)" "\"name\":\"far\",\"provider\":\"local\",\"status\":\"running\",\"location\":\"https://127\.0\.0\.1:$port\"" \
	"cx racks --json has location"
out=$(opcx apps 2>&1); refused $? "$out" "no rack selected among 2 racks" "two racks: one must be chosen"
out=$(opcx switch far); is "$out" "Switched to far" "cx switch takes a remote rack's name"
out=$(opcx rack); like "$out" "API +https://127\.0\.0\.1:$port" "...and commands then go to it"

# Every command over HTTPS.
out=$(opcx apps create app1 -r far); is "$out" "Creating app1... OK" "apps create on the remote rack"
out=$(opcx deploy "$EXAMPLES/hello" -a app1 -r far 2>&1); rc=$?
ok $rc "deploy to the remote rack (the source uploaded over HTTPS)" "$out"
like "$out" "Promoting R[A-Z0-9]+\.\.\. OK" "...promoted"
like "$(cx apps -r far)" "app1 +running" "the rack's own CLI sees the app"
url=$(opcx services -a app1 -r far --json | sed -n 's/.*"url":"\([^"]*\)".*/\1/p')
body=$(curl -s --max-time 5 "$url/")
like "$body" "^hello from app1/web" "curl reaches the app the remote deploy started"
out=$(opcx logs -a app1 -r far --no-follow); like "$out" "service/web/web-[0-9a-f]{8} listening on port" \
	"cx logs shows its output over HTTPS"
opcx logs -f -a app1 -r far > "$TMP/follow" 2>&1 &
fpid=$!
track $fpid
out=$(opcx env set -p GREETING=howdy -a app1 -r far 2>&1); rc=$?
ok $rc "env set on the remote rack" "$out"
body=$(curl -s --max-time 5 "$url/"); like "$body" "^howdy from" "...reaches the process"
like "$(opcx env -a app1 -r far)" "^GREETING=howdy$" "cx env lists it"
wait_for 10 [ "$(grep -c 'listening on port' "$TMP/follow")" -ge 2 ]
ok $? "cx logs -f streams the new process's line as it comes" "$(cat "$TMP/follow")"
kill "$fpid" 2>/dev/null
out=$(opcx scale web --count 2 -a app1 -r far 2>&1); ok $? "scale on the remote rack" "$out"
CX_HOME=$OP ps_running 2 -a app1 -r far; ok $? "cx ps shows two running"
like "$(opcx scale -a app1 -r far)" "web +2 +2" "cx scale lists them"
like "$(opcx releases -a app1 -r far)" "R[A-Z0-9]+ +active" "cx releases"
like "$(opcx services -a app1 -r far)" "web +web\.app1\.far\.localhost" "cx services"
like "$(opcx rack params -r far)" "api_port +$port" "cx rack params"
# cx run attaches over HTTPS: stdin, stdout, stderr and the exit status cross as frames.
out=$(opcx run -a app1 -r far web echo hi 2>&1); rc=$?
is "$rc $out" "0 hi" "cx run on the remote rack prints the process's output"
opcx run -a app1 -r far web -- sh -c 'exit 3' >/dev/null 2>&1
is "$?" 3 "...and exits with its status"
out=$(printf 'one\ntwo\n' | opcx run -a app1 -r far web cat 2>&1)
is "$out" "$(printf 'one\ntwo')" "...its stdin is ours (and ends with ours)"
out=$(opcx run -a app1 -r far web -- sh -c 'echo out; echo err >&2' 2>/dev/null)
is "$out" "out" "...stdout on our stdout"
out=$(opcx run -a app1 -r far web -- sh -c 'echo out; echo err >&2' 2>&1 >/dev/null)
is "$out" "err" "...stderr on our stderr"
out=$(head -c 3000000 /dev/zero | opcx run -a app1 -r far web -- sh -c 'wc -c' 2>&1)
is "$(echo $out)" "3000000" "...3 MB of stdin get through whole"
out=$(opcx run -a app1 -r far web -- sh -c 'head -c 3000000 /dev/zero' 2>&1 | wc -c)
is "$(echo $out)" "3000000" "...3 MB of output too"
CX_HOME=$OP cx run -a app1 -r far web sleep 300 </dev/null >/dev/null 2>&1 &
rpid=$!
track $rpid
wait_for 10 sh -c "CX_HOME=$OP cx ps -a app1 -r far | grep -q '^run-.* running .*sleep.*300'"
ok $? "a remote cx run shows in cx ps while it runs"
kill "$rpid"
wait_for 15 sh -c "! CX_HOME=$OP cx ps -a app1 -r far | grep -q '^run-'"
ok $? "...and when the CLI goes away, the process is stopped" "$(opcx ps -a app1 -r far)"
out=$(opcx run -a app1 -r far nope echo 2>&1); rc=$?
refused "$rc" "$out" "^ERROR: no such service: nope" "...an unknown service is one ERROR line"

# RACK_URL: one command, verified against the pin of its host.
opcx switch near >/dev/null
out=$(RACK_URL="https://convox:$PW@127.0.0.1:$port" CX_HOME=$OP cx apps 2>&1)
like "$out" "app1 +running" "RACK_URL selects the remote rack for one command"
like "$(opcx apps)" "^APP +STATUS +RELEASE$" "...and the next command is back on the current rack"
out=$(RACK_URL="https://convox:nope@127.0.0.1:$port" CX_HOME=$OP cx apps 2>&1); rc=$?
refused "$rc" "$out" "^ERROR: invalid password for rack far$" "RACK_URL with a wrong password: one line"
out=$(RACK_URL="http://convox:$PW@127.0.0.1:$port" CX_HOME=$OP cx apps 2>&1); rc=$?
refused "$rc" "$out" "^ERROR: RACK_URL must be https://" "RACK_URL over plain http is refused"
mkdir -p "$TMP/fresh"
out=$(RACK_URL="https://convox:$PW@127.0.0.1:$port" CX_HOME=$TMP/fresh cx apps 2>&1); rc=$?
refused "$rc" "$out" "^ERROR: the certificate of https://127\.0\.0\.1:$port does not verify against the system's CAs" \
	"RACK_URL to a host never logged in: verified against the system's CAs, so refused"
out=$(RACK_URL="https://convox:$PW@127.0.0.1:$port" RACK_CA=$TMP/far-ca.pem CX_HOME=$TMP/fresh cx apps 2>&1)
like "$out" "app1 +running" "...and accepted with RACK_CA=the rack's CA"

# A handshake that never comes holds nothing up, and the rack logs it.
exec 3<>"/dev/tcp/127.0.0.1/$port"
like "$(opcx apps -r far)" "app1" "a client stalled before its handshake does not block others"
printf 'GET / HTTP/1.1\r\n\r\n' >&3
exec 3>&-
wait_for 5 grep -q "TLS handshake from 127.0.0.1:[0-9]* failed" "$dir/rackd.log"
ok $? "a plain-text client's failed handshake is logged"

opcx rack uninstall near >/dev/null; ok $? "uninstall the operator's rack"
out=$(cx rack uninstall far 2>&1); ok $? "uninstall the remote rack on its host" "$out"
like "$(opcx racks)" "far +local +unreachable" "cx racks: a remote rack that is gone is unreachable"
check_no_leftovers
done_testing
