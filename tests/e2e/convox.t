#!/usr/bin/env bash
# convox.t — a Convox user's session, line by line: the commands and flags a
# Convox deploy script types, with Convox's defaults, and the format of each
# output line (not only the exit status). Convox's own CLI (pkg/cli in
# convox/convox) is the reference for what each prints.
. "$(dirname "$0")/lib.sh"

# Without any rack: the client's version, and "server: none".
out=$(cx version 2>&1); ok $? "version without a rack exits 0"
like "$out" "^client: cx-" "version: the client's line"
like "$out" "server: none$" "version without a rack: server: none, as Convox"

cx rack install local dev >/dev/null || { echo "Bail out! cannot install a rack"; exit 1; }
is "$(cx switch)" "dev" "switch alone prints the rack commands use"
cx apps create shop -r dev >/dev/null || { echo "Bail out! cannot create an app"; exit 1; }

# The app's source in a git work tree: deploy's description is Convox's
# "build SHA SUBJECT" of HEAD.
src=$TMP/shop
cp -r "$EXAMPLES/hello" "$src"
git -C "$src" init -q && git -C "$src" add -A &&
    git -C "$src" -c user.email=t@example.com -c user.name=t commit -qm "first cut of the shop"
sha=$(git -C "$src" log -n 1 --abbrev=10 --pretty=%h)
out=$(cx deploy "$src" -a shop -r dev --wait 2>&1); ok $? "deploy --wait" "$out"
like "$out" "^Packaging source\.\.\. OK" "deploy: Packaging source... OK"
like "$out" "Build: +B[A-Z0-9]+" "deploy: Build: BXXXX"
like "$out" "Promoting R[A-Z0-9]+\.\.\. OK" "deploy: Promoting RXXXX... OK"
out=$(cx releases -a shop -r dev)
like "$out" "R[A-Z0-9]+ +active +B[A-Z0-9]+ .*build $sha first cut of the shop" \
	"the release's description is build SHA SUBJECT of the source's git HEAD"
url=$(cx services -a shop -r dev --json | sed -n 's/.*"url":"\([^"]*\)".*/\1/p')
body=$(curl -s --max-time 5 "$url/"); like "$body" "^hello from" "the app serves"

# deploy --id: only the release's id on stdout, the progress on stderr.
id=$(cx deploy "$src" -a shop -r dev --id 2>"$TMP/err"); rc=$?
ok $rc "deploy --id" "$(cat "$TMP/err")"
like "$id" "^R[A-Z0-9]+$" "deploy --id prints only the release id on stdout"
like "$(cat "$TMP/err")" "Promoting $id\.\.\. OK" "...and its progress on stderr"
is "$(cx releases -a shop -r dev --json | tr '{' '\n' | sed -n 's/.*"id":"\([^"]*\)".*"status":"active".*/\1/p')" \
	"$id" "the release deploy --id printed is the active one"

# build: a release that is not promoted.
built=$(cx build "$src" -a shop -r dev --id -d "not yet" 2>/dev/null); ok $? "build --id"
like "$built" "^R[A-Z0-9]+$" "build --id prints the new release"
out=$(cx releases -a shop -r dev)
like "$out" "$built +created +B[A-Z0-9]+ .*not yet" "build leaves its release created, with its description"
like "$out" "$id +active" "...and the release before it active"

# env set: a release, promoted only with --promote, as Convox.
out=$(cx env set GREETING=howdy -a shop -r dev 2>&1); ok $? "env set" "$out"
like "$out" "^Setting GREETING\.\.\. OK" "env set: Setting GREETING... OK"
like "$out" "Release: R[A-Z0-9]+$" "env set: Release: RXXXX"
lacks "$out" "Release: R" "Promoting" "env set without --promote does not promote"
rel=$(printf '%s\n' "$out" | sed -n 's/^Release: //p')
body=$(curl -s --max-time 5 "$url/"); like "$body" "^hello from" "...and the serving release keeps its environment"
out=$(cx releases promote "$rel" -a shop -r dev 2>&1); ok $? "releases promote the env release" "$out"
body=$(curl -s --max-time 5 "$url/"); like "$body" "^howdy from" "promoted, the new environment serves"
out=$(printf 'GREETING=hey\n# a comment\n\nEXTRA=1\n' | cx env set -p -a shop -r dev 2>&1)
ok $? "env set -p reading KEY=VALUE lines from stdin" "$out"
like "$out" "^Setting EXTRA, GREETING\.\.\. OK" "...sets each line's variable"
like "$out" "Promoting R[A-Z0-9]+\.\.\. OK" "-p promotes"
is "$(cx env -a shop -r dev)" "$(printf 'EXTRA=1\nGREETING=hey')" "cx env lists both"
out=$(cx env set --replace -p ONLY=1 -a shop -r dev 2>&1); ok $? "env set --replace" "$out"
is "$(cx env -a shop -r dev)" "ONLY=1" "--replace makes the variables given the whole environment"
out=$(cx env unset ONLY --promote -a shop -r dev 2>&1); ok $? "env unset --promote" "$out"
like "$out" "^Unsetting ONLY\.\.\. OK" "env unset: Unsetting ONLY... OK"
out=$(cx env set -a shop -r dev 2>&1 </dev/null); rc=$?
refused "$rc" "$out" "^ERROR: no variables given: stdin had no KEY=VALUE line" "env set with nothing to set"
out=$(cx env set -p -a shop -r dev nope 2>&1); rc=$?
refused "$rc" "$out" '^ERROR: malformed variable "nope": use KEY=VALUE' "a malformed variable is named"
out=$(cx -p env set A=1 -a shop -r dev 2>&1); rc=$?
refused "$rc" "$out" "^ERROR: flag -p means something else for each command: put it after" \
	"-p before the command is ambiguous (--promote or --password)"

# ps -s / --release, releases --limit.
cx scale web --count 2 -a shop -r dev >/dev/null 2>&1
active=$(cx releases -a shop -r dev --json | tr '{' '\n' | sed -n 's/.*"id":"\([^"]*\)".*"status":"active".*/\1/p')
out=$(cx ps -s web -a shop -r dev)
is "$(printf '%s\n' "$out" | grep -c ' web ')" 2 "ps -s web lists web's two processes"
out=$(cx ps -s nosuch -a shop -r dev)
like "$out" "^ID +SERVICE +STATUS" "ps -s of another service: the header..."
is "$(printf '%s\n' "$out" | grep -c 'web-')" 0 "...and no process"
is "$(cx ps --release "$active" -a shop -r dev | grep -c " $active ")" 2 "ps --release lists that release's processes"
is "$(cx ps --release "$built" -a shop -r dev | grep -c 'web-')" 0 "...none of a release that never ran"
out=$(cx releases --limit 2 -a shop -r dev)
is "$(printf '%s\n' "$out" | grep -c '^R')" 2 "releases --limit 2 lists two"
like "$(printf '%s\n' "$out" | sed -n 2p)" "^$active " "...the newest first"
out=$(cx releases --limit 0 -a shop -r dev 2>&1); rc=$?
refused "$rc" "$out" '^ERROR: invalid --limit "0": give a whole number from 1 to 100000' "--limit 0"

# logs: follow by default (Convox's), from 2 minutes back; --no-follow, -s, --filter.
out=$(cx logs --no-follow -a shop -r dev)
like "$out" "^[0-9T:-]+Z service/web/web-[0-9a-f]{8} listening on port" "logs --no-follow prints and exits"
out=$(cx logs --no-follow -s web -a shop -r dev)
like "$out" "service/web/" "logs -s web keeps web's lines"
lacks "$out" "service/web/" "system/cx" "...and only web's"
out=$(cx logs --no-follow -s worker -a shop -r dev)
is "$out" "" "logs -s of a service with no line prints none"
out=$(cx logs --no-follow --filter "listening on port" -a shop -r dev)
like "$out" "listening on port" "logs --filter keeps the lines with TEXT"
lacks "$out" "listening on port" "promot" "...and only those"
sleep 2
out=$(cx logs --no-follow --since 1s -a shop -r dev)
is "$out" "" "logs --since 1s after a quiet second prints nothing"
cx logs -a shop -r dev >"$TMP/follow" 2>&1 &
fpid=$!
track $fpid
sleep 1
kill -0 $fpid 2>/dev/null; ok $? "logs without --no-follow is still following after 1 s"
base=$(grep -c 'listening on port' "$TMP/follow")
like "$base" '^[0-9]+$' "...having printed the last 2 minutes ($base processes started)"
cx restart -a shop -r dev >/dev/null 2>&1
more() { [ "$(grep -c 'listening on port' "$TMP/follow")" -ge $((base + 2)) ]; }
wait_for 10 more
ok $? "...and prints the restarted processes' lines as they come" "$(cat "$TMP/follow")"
kill $fpid 2>/dev/null
out=$(cx logs -f --no-follow -a shop -r dev 2>&1); rc=$?
refused "$rc" "$out" "^ERROR: --follow and --no-follow contradict each other" "-f with --no-follow"
out=$(cx rack logs --no-follow -r dev)
like "$out" "cx-rackd info: rack dev running" "rack logs --no-follow reads the rack's log (millisecond times)"

# One process at a time: ps info, ps stop (the service gets another).
pid1=$(cx ps -s web -a shop -r dev --json | tr '{' '\n' | sed -n 's/.*"id":"\(web-[0-9a-f]*\)".*/\1/p' | head -1)
out=$(cx ps info "$pid1" -a shop -r dev); ok $? "ps info $pid1"
like "$out" "^Id +$pid1" "ps info: Id"
like "$out" "Service +web" "ps info: Service"
like "$out" "Command +perl server.pl" "ps info: Command"
like "$out" "Status +running" "ps info: Status"
out=$(cx ps info web-00000000 -a shop -r dev 2>&1); rc=$?
refused "$rc" "$out" "^ERROR: no such process: web-00000000 \(cx ps -a shop lists them\)" "ps info of no process"
out=$(cx ps stop "$pid1" -a shop -r dev 2>&1); ok $? "ps stop" "$out"
like "$out" "^Stopping $pid1\.\.\. OK" "ps stop: Stopping ID... OK"
stopped() { ! cx ps -a shop -r dev | grep -q "^$pid1 " && ps_running 2 -s web -a shop -r dev; }
wait_for 15 stopped; ok $? "the stopped process goes and the service runs two again" "$(cx ps -a shop -r dev 2>&1)"
out=$(cx ps stop web-00000000 -a shop -r dev 2>&1); rc=$?
refused "$rc" "$out" "^Stopping web-00000000\.\.\. ERROR: no such process: web-00000000" "ps stop of no process"

# What releases and builds were made of.
out=$(cx releases manifest "$id" -a shop -r dev); ok $? "releases manifest"
is "$out" "$(cat "$src/convox.yml")" "releases manifest prints the convox.yml the release was deployed with"
out=$(cx releases manifest RNOSUCH -a shop -r dev 2>&1); rc=$?
refused "$rc" "$out" "^ERROR: no such release: RNOSUCH" "releases manifest of no release"
# A build without a Dockerfile (the shop runs its command:), which the rack
# says in one line; builds from Dockerfiles are tests/e2e/build.t's.
printf '    drain: 10\n' >> "$src/convox.yml"   # accepted, not acted on: named
built2=$(cx build "$src" -a shop -r dev --id 2>"$TMP/build.err")
like "$(cat "$TMP/build.err")" "^convox\.yml:[0-9]+:5: drain \(load balancer draining; termination\.grace applies\) is not acted on by local racks$" \
	"build names a manifest key it accepts and does not act on, with its line and column"
bid=$(cx builds -a shop -r dev | awk 'NR == 2 { print $1 }')
out=$(cx builds info "$bid" -a shop -r dev); ok $? "builds info $bid"
like "$out" "^Id +$bid" "builds info: Id"
like "$out" "Status +complete" "builds info: Status"
like "$out" "Release +$built2" "builds info: Release, the one made from it"
like "$out" "Elapsed +[0-9.]+m?s" "builds info: Elapsed, how long the build took"
out=$(cx builds -a shop -r dev)
like "$out" "^ID +STATUS +RELEASE +STARTED +ELAPSED +DESCRIPTION" "builds: Convox's columns"
like "$out" "$bid +complete +$built2 +(now|.* ago) +[0-9.]+m?s" "builds: a row with its release, start and duration"
out=$(cx builds logs "$bid" -a shop -r dev); ok $? "builds logs"
like "$out" "^service web: no Dockerfile in \\., runs its command: from the host's root filesystem$" "builds logs: what the build said, one line for the service without a Dockerfile"
like "$out" "drain \(load balancer draining; termination\.grace applies\) is not acted on" "...the keys it did not act on too"
like "$out" "Build $bid complete: release R[A-Z0-9]+" "builds logs: its result"
out=$(cx builds info BNOSUCH -a shop -r dev 2>&1); rc=$?
refused "$rc" "$out" "^ERROR: no such build: BNOSUCH" "builds info of no build"

# env edit in $EDITOR: what is saved is the whole environment.
cx env set -p KEEP=1 DROP=2 -a shop -r dev >/dev/null 2>&1
printf '#!/bin/sh\nsed -i -e "/^DROP=/d" -e "s/^KEEP=1/KEEP=edited/" "$1"\necho NEW=3 >> "$1"\n' > "$TMP/editor"
chmod +x "$TMP/editor"
out=$(EDITOR="sh $TMP/editor" cx env edit -p -a shop -r dev 2>&1); ok $? "env edit (EDITOR with words, read by the shell as git does)" "$out"
like "$out" "Promoting R[A-Z0-9]+\.\.\. OK" "env edit -p promotes"
is "$(cx env -a shop -r dev)" "$(printf 'KEEP=edited\nNEW=3')" "env edit: the saved file is the environment"
out=$(EDITOR=true cx env edit -a shop -r dev 2>&1); ok $? "env edit saved unchanged"
is "$out" "No change" "...makes no release"
out=$(EDITOR=false cx env edit -a shop -r dev 2>&1); rc=$?
refused "$rc" "$out" "^ERROR: the editor failed; nothing changed" "an editor that fails changes nothing"
ls /tmp/cx-env-* >/dev/null 2>&1; is $? 2 "no temporary file of the environment is left behind"

# apps info with Convox's fields; apps cancel stops a deployment under way.
settled() { cx apps info shop -r dev | grep -Eq "^Status +running"; }
wait_for 15 settled
out=$(cx apps info shop -r dev)
like "$out" "^Name +shop" "apps info: Name"
like "$out" "Status +running" "apps info: Status, once the last change settled"
like "$out" "Generation +3" "apps info: Generation"
like "$out" "Locked +false" "apps info: Locked"
serving=$(cx apps info shop -r dev --json | sed -n 's/.*"release":"\([^"]*\)".*/\1/p')
like "$serving" "^R[A-Z0-9]+$" "apps info --json: the release"
slow=$TMP/slow
cp -r "$EXAMPLES/hello" "$slow"
printf 'services:\n  web:\n    build: .\n    command: perl server.pl\n    port: 3000\n    health:\n      path: /never\n      grace: 60\n' >"$slow/convox.yml"
cx deploy "$slow" -a shop -r dev >"$TMP/slow.out" 2>&1 &
dpid=$!
track $dpid
promoting() { cx apps info shop -r dev --json | grep -q '"promoting":"R'; }
wait_for 15 promoting; ok $? "a deployment that cannot pass its health check is under way"
out=$(cx apps cancel shop -r dev 2>&1); ok $? "apps cancel" "$out"
is "$out" "Cancelling deployment of shop... OK" "apps cancel: Convox's line"
waited() { ! kill -0 $dpid 2>/dev/null; }
wait_for 10 waited; ok $? "the cancelled deploy returns at once" "$(cat "$TMP/slow.out")"
wait $dpid; rc=$?
is "$rc" 1 "...exiting 1"
like "$(cat "$TMP/slow.out")" "ERROR: .*cancelled \(cx apps cancel\)" "...saying it was cancelled"
is "$(cx apps info shop -r dev --json | sed -n 's/.*"release":"\([^"]*\)".*/\1/p')" "$serving" \
	"the release that served before serves on"
body=$(curl -s --max-time 5 "$url/"); like "$body" " from " "...and answers"
out=$(cx apps cancel shop -r dev 2>&1); rc=$?
refused "$rc" "$out" "ERROR: app shop has no deployment under way: nothing to cancel" "apps cancel with nothing under way"

# The rack's own processes.
out=$(cx rack ps -r dev); ok $? "rack ps"
like "$out" "^NAME +PID +STATUS +LISTEN" "rack ps: header"
like "$out" "rackd +$(cat "$CX_HOME/racks/dev/rackd.pid") +running" "rack ps: the daemon, with its pid"
like "$out" "router-public +[0-9]+ +running +127\.0\.0\.1:[0-9]+" "rack ps: the public router"

cx rack uninstall dev >/dev/null 2>&1
done_testing
