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

cx rack install local dev >/dev/null || { echo "Bail out! cannot install a rack"; exit 1; }
dir=$CX_HOME/racks/dev
out=$(cx rack params -r dev); like "$out" "log_max_mb +10" "log_max_mb is 10 (MiB) unless set"
cx rack params set log_max_mb=1 -r dev >/dev/null; ok $? "log_max_mb=1"
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

cx rack uninstall dev >/dev/null
check_no_leftovers
done_testing
