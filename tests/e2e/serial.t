#!/usr/bin/env bash
# Concurrent changes serialise (issue 11): env changes made at the same
# instant each fork the newest release, so none is lost, and each CLI call
# reports the release it made; with --promote each is promoted in turn (a
# queued one replaced by a newer change), and the active release ends with
# all of them. A deploy refused because another one runs makes no release.
. "$(dirname "$0")/lib.sh"

rack=sr
cx rack install local $rack >/dev/null || { echo "Bail out! cannot install a rack"; exit 1; }
cx apps create app1 -r $rack >/dev/null
# Its services see P1..P4 (Convox passes the variables convox.yml names).
cp -r "$EXAMPLES/hello" "$TMP/app"
cat > "$TMP/app/convox.yml" <<'EOF'
environment:
  - GREETING=hello
  - P1=unset
  - P2=unset
  - P3=unset
  - P4=unset
services:
  web:
    build: .
    command: perl server.pl
    port: 3000
    health: /health
EOF
cx deploy "$TMP/app" -a app1 -r $rack >/dev/null 2>&1; ok $? "deploy app1"
nrel() { cx releases -a app1 -r $rack --json | jq length; }
newest_env() { cx releases -a app1 -r $rack --json | jq -r '.[0].env // empty'; }
before=$(nrel)

# Six env set calls at once, each its own variable.
for i in 1 2 3 4 5 6; do
	cx env set "K$i=v$i" -a app1 -r $rack >"$TMP/set$i.out" 2>&1 &
	pids="${pids:-} $!"
done
rcs=
for p in $pids; do wait "$p"; rcs="$rcs$?"; done
is "$rcs" "000000" "six concurrent env set calls all exit 0"
made=$(cat "$TMP"/set?.out | sed -n 's/^Release: \(R[A-Z0-9]*\)$/\1/p' | sort -u | wc -l)
is "$made" 6 "...each reports a release of its own"
is "$(nrel)" "$((before + 6))" "...and made exactly one each"
env=$(cx env -a app1 -r $rack)
is "$(printf '%s\n' "$env" | grep -c '^K[1-6]=v[1-6]$')" 6 "the newest release has all six variables (none lost)" "$env"
# Serialised: the reported releases have 1, 2, ... 6 of the variables, each
# the one before it and its own change.
rel_env() { sqlite3 "$CX_HOME/racks/$rack/state.db" "SELECT env FROM releases WHERE id = '$1'"; }
counts=$(for f in "$TMP"/set?.out; do
	rel_env "$(sed -n 's/^Release: //p' "$f")" | grep -c '^K[1-6]='
done | sort -n | tr '\n' ' ')
is "$counts" "1 2 3 4 5 6 " "the releases reported have 1 to 6 of the variables: each forked the one before"

# Four at once with --promote: each waits for its turn (or for a newer
# change that replaced it) and the active release has all four.
pids=
for i in 1 2 3 4; do
	cx env set "P$i=$i" --promote -a app1 -r $rack >"$TMP/prom$i.out" 2>&1 &
	pids="$pids $!"
done
rcs=
for p in $pids; do wait "$p"; rcs="$rcs$?"; done
is "$rcs" "0000" "four concurrent env set --promote calls all exit 0" "$(cat "$TMP"/prom?.out)"
made=$(cat "$TMP"/prom?.out | sed -n 's/^Release: \(R[A-Z0-9]*\)$/\1/p' | sort -u | wc -l)
is "$made" 4 "...each reports a release of its own"
active=$(cx releases -a app1 -r $rack --json | jq -r '.[] | select(.status == "active") | .id')
env=$(rel_env "$active")
is "$(printf '%s\n' "$env" | grep -c '^P[1-4]=[1-4]$')" 4 "the active release ($active) has all four" "$env"
pid=$(cx ps -a app1 -r $rack --json | jq -r --arg r "$active" '[.[] | select(.release == $r)][0].pid')
is "$(tr '\0' '\n' < "/proc/$pid/environ" 2>/dev/null | grep -c '^P[1-4]=[1-4]$')" 4 \
    "...and its process runs with all four (pid $pid)"
is "$(cx releases -a app1 -r $rack --json | jq '[.[] | select(.status == "promoting")] | length')" 0 \
    "no release is left promoting"
url=$(cx services -a app1 -r $rack --json | jq -r '.[0].url')
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$url/")
is "$code" 200 "the app answers"

# A deploy refused because another runs makes no release.
mkdir -p "$TMP/slow"
cp "$EXAMPLES/hello/server.pl" "$TMP/slow/"
cat > "$TMP/slow/convox.yml" <<'EOF'
services:
  web:
    build: .
    command: sleep 4; exec perl server.pl
    port: 3000
    health:
      path: /health
      grace: 20
EOF
( cx deploy "$TMP/slow" -a app1 -r $rack > "$TMP/slow.out" 2>&1; echo $? > "$TMP/slow.rc" ) &
track $!
promoting() { cx releases -a app1 -r $rack | grep -q ' promoting '; }
wait_for 20 promoting; ok $? "a slow deploy is being promoted"
slow_rel=$(cx releases -a app1 -r $rack | awk '$2 == "promoting" { print $1 }')
n_before=$(nrel)
out=$(cx deploy "$EXAMPLES/hello" -a app1 -r $rack 2>&1); rc=$?
refused "$rc" "$out" "ERROR: release $slow_rel of app1 is being promoted" "a deploy meanwhile is refused"
refused_rel=$(printf '%s' "$out" | sed -n 's/.*(release \(R[A-Z0-9]*\), made for this promotion, is discarded).*/\1/p')
is "$(nrel)" "$n_before" "...and it made no release"
out=$(cx releases -a app1 -r $rack)
lacks "$out" "$slow_rel" "${refused_rel:-NONE}" "...cx releases does not list one for it (${refused_rel:-none named})"
wait_for 30 test -s "$TMP/slow.rc"; is "$(cat "$TMP/slow.rc" 2>/dev/null)" 0 "the slow deploy finishes"
out=$(cx env set AFTER=1 -a app1 -r $rack 2>&1); ok $? "env set after it" "$out"
rel=$(printf '%s' "$out" | sed -n 's/^Release: //p')
is "$(cx releases info "$rel" -a app1 -r $rack --json | jq -r '.build')" \
    "$(cx releases info "$slow_rel" -a app1 -r $rack --json | jq -r '.build')" \
    "...forks the slow deploy's release, the newest made"

cx rack uninstall $rack >/dev/null 2>&1; ok $? "rack uninstall"
done_testing
