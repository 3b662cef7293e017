#!/usr/bin/env bash
# ca.t — each rack's own CA: made at install, its key its owner's alone,
# served as PEM by the API and `cx rack ca`, the same across daemon restarts,
# a corrupt one refused in one line, and gone with the rack.
. "$(dirname "$0")/lib.sh"

if ! command -v openssl >/dev/null; then
	echo "1..0 # SKIP the openssl command is not installed (scripts/deps.sh)"
	exit 0
fi
cx rack install local casa >/dev/null || { echo "Bail out! cannot install a rack"; exit 1; }
dir=$CX_HOME/racks/casa

pem=$(cx rack ca -r casa 2>&1); ok $? "cx rack ca prints the rack's CA"
like "$pem" "^-----BEGIN CERTIFICATE-----" "...as PEM"
is "$(printf '%s\n' "$pem" | openssl x509 -noout -subject 2>&1)" "subject=CN = cx rack casa CA" \
	"openssl reads it: its subject names the rack"
like "$(printf '%s\n' "$pem" | openssl x509 -noout -ext basicConstraints 2>&1 | tr -d '\n ')" \
	"critical,?CA:TRUE" "...and it is a CA"
is "$(stat -c '%a %U' "$dir/ca.key")" "600 $(id -un)" "ca.key is 0600, the owner's ($(id -un)) alone"
is "$(stat -c '%a' "$dir/ca.pem")" "644" "ca.pem is 0644"
is "$(printf '%s\n' "$pem" | openssl x509 -noout -fingerprint -sha256)" \
	"$(openssl x509 -noout -fingerprint -sha256 -in "$dir/ca.pem")" "what cx rack ca prints is ca.pem"
is "$(openssl pkey -in "$dir/ca.key" -pubout 2>&1)" "$(openssl x509 -in "$dir/ca.pem" -noout -pubkey)" \
	"ca.key is the key of ca.pem"

hdrs=$(curl -s -D - -o /dev/null -u "convox:$(cat "$dir/password")" --unix-socket "$dir/api.sock" \
	http://rack/system/ca | tr -d '\r')
like "$hdrs" "^HTTP/1.1 200" "GET /system/ca answers 200"
like "$hdrs" "Content-Type: text/plain" "...as text/plain"

fp=$(openssl x509 -noout -fingerprint -sha256 -in "$dir/ca.pem")
keysum=$(sha256sum < "$dir/ca.key")
dpid=$(cat "$dir/rackd.pid"); kill "$dpid"; wait_for 5 gone "$dpid"
cx-rackd --home "$CX_HOME" --rack casa --daemon; ok $? "the daemon starts again"
is "$(cx rack ca -r casa | openssl x509 -noout -fingerprint -sha256)" "$fp" \
	"the CA survives the restart (same fingerprint)"
is "$(sha256sum < "$dir/ca.key")" "$keysum" "...and so does its key"

# A corrupt CA: the daemon does not start, in one line naming the file,
# and leaves the file as it was for its owner to repair.
dpid=$(cat "$dir/rackd.pid"); kill "$dpid"; wait_for 5 gone "$dpid"
cp "$dir/ca.pem" "$TMP/ca.pem.good"
head -c 200 "$TMP/ca.pem.good" > "$dir/ca.pem"
out=$(cx-rackd --home "$CX_HOME" --rack casa --daemon 2>&1); rc=$?
refused "$rc" "$out" "^$dir/ca.pem: not a PEM certificate: [a-z ]+\$" \
	"a corrupt ca.pem stops the daemon in one line naming it"
is "$(printf '%s\n' "$out" | wc -l)" 1 "...one line"
is "$(head -c 200 "$TMP/ca.pem.good" | sha256sum)" "$(sha256sum < "$dir/ca.pem")" \
	"...and it is not written over"
cp "$TMP/ca.pem.good" "$dir/ca.pem"
cx-rackd --home "$CX_HOME" --rack casa --daemon; ok $? "repaired, the daemon starts"
is "$(cx rack ca -r casa | openssl x509 -noout -fingerprint -sha256)" "$fp" "...with the same CA"

# A second rack has a CA of its own.
cx rack install local casb >/dev/null
isnt_fp=$(cx rack ca -r casb | openssl x509 -noout -fingerprint -sha256)
[ -n "$isnt_fp" ] && [ "$isnt_fp" != "$fp" ]
ok $? "another rack has another CA"
is "$(cx rack ca -r casb | openssl x509 -noout -subject)" "subject=CN = cx rack casb CA" "...named for it"

cx rack uninstall casb >/dev/null
out=$(cx rack uninstall casa 2>&1); ok $? "uninstall"
[ ! -e "$dir/ca.key" ] && [ ! -e "$dir/ca.pem" ]; ok $? "uninstall removes the CA and its key"
check_no_leftovers
done_testing
