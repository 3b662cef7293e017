#!/usr/bin/env bash
# Logs rotate by size: an app that writes more than log_max_mb keeps at most
# three files of it; cx logs (with --since, and following) reads across the
# rotations in order, losing no line of those kept.
. "$(dirname "$0")/lib.sh"

# consecutive NAME FILE: the "NAME line N" lines of FILE are N = a, a+1, ...
# with none missing or repeated; prints "FIRST LAST COUNT".
consecutive() {
	awk -v b="$1" '$0 ~ " " b " line " { for (i = 1; i <= NF; i++) if ($i == "line") n = $(i + 1) + 0;
	    if (c > 0 && n != last + 1) bad = 1; if (c == 0) first = n; last = n; c++ }
	    END { if (bad) print "gap"; else printf "%d %d %d\n", first, last, c }' "$2"
}

cx rack install local dev log_max_mb=1 >/dev/null || { echo "Bail out! cannot install a rack"; exit 1; }
dir=$CX_HOME/racks/dev
out=$(cx rack params -r dev); like "$out" "log_max_mb +1" "a rack installed with log_max_mb=1"
cx apps create chatty -r dev >/dev/null
cx deploy "$ROOT/tests/e2e/apps/chatty" -a chatty -r dev >/dev/null 2>&1; ok $? "deploy an app that logs on demand"
url=$(cx services -a chatty -r dev --json | sed -n 's/.*"url":"\([^"]*\)".*/\1/p')
log=$dir/apps/chatty/app.log

# 15000 lines of about 106 bytes: 1.5 MiB, past the cap once.
is "$(curl -s --max-time 60 "$url/say?burst=one&n=15000")" "said 15000" "the app wrote 15000 lines"
wait_for 10 sh -c "grep -q 'one line 015000' '$log'"
ls "$log".* >/dev/null 2>&1; ok $? "the log rotated ($(cd "$dir/apps/chatty" && ls | tr '\n' ' '))"
grep -q 'one line 000001' "$log".*; ok $? "...its first lines are in the rotated file"
grep -q 'one line 015000' "$log"; ok $? "...its last in the live one"
cx logs -a chatty -r dev --no-follow --since 1h >"$TMP/all1" 2>&1
is "$(consecutive one "$TMP/all1")" "1 15000 15000" "logs --no-follow --since 1h: every line, in order, across the rotation"

# Following while the app writes 18000 more (1.8 MiB): rotations go by under it.
cx logs -a chatty -r dev --since 1s >"$TMP/follow" 2>&1 &
fpid=$!
track $fpid
sleep 1
before=$(cd "$dir/apps/chatty" && ls app.log.* | tr '\n' ' ')
is "$(curl -s --max-time 120 "$url/say?burst=two&n=18000")" "said 18000" "the app wrote 18000 more"
wait_for 30 sh -c "grep -q 'two line 018000' '$TMP/follow'"
after=$(cd "$dir/apps/chatty" && ls app.log.* | tr '\n' ' ')
kill "$fpid"; wait "$fpid" 2>/dev/null
[ "$before" != "$after" ]; ok $? "the log rotated while it was followed ($before-> $after)"
is "$(consecutive two "$TMP/follow")" "1 18000 18000" "logs (following) read on across the rotations: every line, in order"

# The disk: the live file and two rotated, none past the cap.
is "$(ls "$log"* | wc -l)" 3 "three files at most"
big=$(for f in "$log"*; do s=$(stat -c %s "$f"); [ "$s" -gt 1048576 ] && echo "$f $s"; done)
is "$big" "" "...none past 1 MiB"
total=$(cat "$log"* | wc -c)
[ "$total" -le $((3 * 1048576)) ]; ok $? "...$total bytes in all, under 3 MiB (the app wrote $(( (33000 * 103) / 1024 )) KiB)"
cx logs -a chatty -r dev --no-follow --since 1h >"$TMP/all2" 2>&1
is "$(consecutive two "$TMP/all2")" "1 18000 18000" "logs --since 1h: all of the second burst, in order"
r=$(consecutive one "$TMP/all2")
like "$r" "^[0-9]+ 15000 [0-9]+$" "...after what is left of the first, the oldest gone first ($r)"

# The rack's routers are started with the same cap.
like "$(tr '\0' ' ' < "/proc/$(cat "$dir/router-public.pid")/cmdline")" "--log-max-mb 1( |$)" \
	"the rack starts its routers with --log-max-mb from log_max_mb"
# cx rack logs reads the daemon's log across a rotation: the daemon stopped,
# its log renamed as the writer renames it (rackd.log.0: the first file),
# the next daemon writes a new rackd.log after it.
dpid=$(cat "$dir/rackd.pid"); kill "$dpid"; wait_for 5 gone "$dpid"
mv "$dir/rackd.log" "$dir/rackd.log.0"
cx-rackd --home "$CX_HOME" --rack dev --daemon; ok $? "the daemon starts again, on a new rackd.log"
wait_for 5 grep -q 'first reconcile pass done' "$dir/rackd.log"
had=$(cat "$dir/rackd.log.0" "$dir/rackd.log" | wc -l)
cx rack logs -r dev --no-follow --since 1h >"$TMP/rack" 2>&1
got=$(wc -l < "$TMP/rack")
is "$(grep -c 'rack dev running' "$TMP/rack")" 2 "rack logs --since 1h: both starts, from the rotated file and the live one"
# The daemon may add a line meanwhile: what it printed is the files' start.
cat "$dir/rackd.log.0" "$dir/rackd.log" | head -n "$got" >"$TMP/rack.want"
cmp -s "$TMP/rack" "$TMP/rack.want"; ok $? "...every line of both, in order ($got lines)"
[ "$got" -ge "$had" ]; ok $? "...none left out ($had were there before)"
cx rack uninstall dev >/dev/null
check_no_leftovers

# A router's access log, written by two workers at once, rotates too: whole
# lines only, three files at most, none past the cap.
router_bins
P1=$(free_port); PR=$(free_port)
"$TESTSRV" --listen 127.0.0.1:$P1 --name one >"$T/one.log" 2>&1 & track $!
printf 'cx-routes 1\nhost web.app1.dev.localhost app1 web 60 /\nup web-1111 127.0.0.1 %s\n' "$P1" >"$T/routes"
wait_port "$P1"
"$ROUTER" --name public --rack dev --listen 127.0.0.1:$PR --routes "$T/routes" --workers 2 \
	--access-log "$T/access.log" --log-max-mb 1 --pidfile "$T/router.pid" >"$T/router.log" 2>&1 &
RPID=$!
track $RPID
wait_port "$PR"
cx-hammer 127.0.0.1:$PR web.app1.dev.localhost 7000 >"$T/h1" 2>&1 &
h1=$!
cx-hammer 127.0.0.1:$PR web.app1.dev.localhost 7000 >"$T/h2" 2>&1
wait "$h1"
like "$(cat "$T/h1" "$T/h2" | tr '\n' ' ')" "requests 7000 .*errors 0 .*requests 7000 .*errors 0" "14000 requests through a router with two workers"
sleep 0.3   # the workers flush every 100 ms
n=$(ls "$T"/access.log* | wc -l)
is "$n" 3 "the access log rotated: the live file and two rotated ($(cd "$T" && ls access.log* | tr '\n' ' '))"
big=$(for f in "$T"/access.log*; do s=$(stat -c %s "$f"); [ "$s" -gt 1048576 ] && echo "$f $s"; done)
is "$big" "" "...none past 1 MiB"
is "$(cat "$T"/access.log* | grep -cv '^{"time":".*}$')" 0 "...every line whole ($(cat "$T"/access.log* | wc -l) kept)"
last=$(ls "$T"/access.log.* | sed 's/.*\.//' | sort -n | tail -1)
written=$((last + $(stat -c %s "$T/access.log.$last") + $(stat -c %s "$T/access.log")))
avg=$(( $(cat "$T"/access.log* | wc -c) / $(cat "$T"/access.log* | wc -l) ))
echo "# $written bytes written in all, about $((written / avg)) lines of $avg bytes for 14000 requests"
[ $((written / avg)) -ge 13900 ] && [ $((written / avg)) -le 14100 ]; ok $? "...the names account for every request's line"
like "$(cat "$T/router.log")" "listening on 127.0.0.1:$PR" "the router's own log (stderr) goes through the rotating writer"
kill "$RPID"; wait "$RPID" 2>/dev/null
done_testing
