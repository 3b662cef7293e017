#!/usr/bin/env bash
# flood.t — cx-router under more connections than it can hold, on 127.0.0.1
# against a cx-testsrv upstream (docs/router.md, "Floods"):
#  - with 256 descriptors and no cap, 600 idle connections: it pauses
#    accepting instead of spinning, logs at most a line a second, keeps
#    answering a keep-alive connection opened before, and serves new
#    connections once the flood ends;
#  - with --max-conns 20: a new connection sheds the least recently active
#    idle one (its socket sees EOF); with none idle (20 requests in flight)
#    the new one waits until a request ends, and is then served;
#  - the default cap comes from the descriptor limit;
#  - a rack's routers take their cap from param router_max_conns: set, the
#    public router restarts with it and sheds its oldest idle connection at it;
#  - the rack API (unix socket) sheds its oldest idle connection at
#    api_max_conns, and out of descriptors pauses and logs as the router.
# TAP (lib.sh); every process it starts is tracked and stopped by PID.
. "$(dirname "$0")/lib.sh"
router_bins
FLOOD=(timeout 30 python3 "$ROOT/tests/tools/cx-flood.py")
HOST=web.flood.dev.localhost

P1=$(free_port); PR=$(free_port); PC=$(free_port); PD=$(free_port)
"$TESTSRV" --listen 127.0.0.1:$P1 --name one >"$T/one.log" 2>&1 & track $!
wait_port $P1 || echo "# upstream did not start"
cat >"$T/routes" <<EOF
cx-routes 1
host $HOST flood web 60 /
up web-1111 127.0.0.1 $P1
EOF

# All routers start now: the flood's client sockets take ephemeral ports,
# which a router started later might want.
"$ROUTER" --name public --rack dev --listen 127.0.0.1:$PC --routes "$T/routes" \
	--max-conns 20 >"$T/cap.log" 2>&1 &
CPID=$!
track $CPID
wait_port $PC || echo "# capped router did not start: $(cat "$T/cap.log")"
prlimit --nofile=256:256 -- "$ROUTER" --name public --rack dev --listen 127.0.0.1:$PD \
	--routes "$T/routes" >"$T/default.log" 2>&1 &
track $!
wait_port $PD

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }

# 1-7: 256 descriptors, no cap, 600 idle connections for 3 s
prlimit --nofile=256:256 -- "$ROUTER" --name public --rack dev --listen 127.0.0.1:$PR \
	--routes "$T/routes" --max-conns 0 >"$T/router.log" 2>&1 &
RPID=$!
track $RPID
wait_port $PR || echo "# router did not start: $(cat "$T/router.log")"

"${FLOOD[@]}" keep 127.0.0.1:$PR $HOST 6 "$T/ready" >"$T/keep.out" 2>&1 &
KPID=$!
track $KPID
wait_for 5 test -e "$T/ready" || echo "# the keep-alive client made no request"
lines0=$(wc -l <"$T/router.log")
cpu0=$(cpu_ticks $RPID)
hold=$("${FLOOD[@]}" hold 127.0.0.1:$PR 600 3 2>&1)
cpu1=$(cpu_ticks $RPID)
lines1=$(wc -l <"$T/router.log")
wait $KPID
keep=$(cat "$T/keep.out")

is "$hold" "connected 600 refused 0
eof -" "600 connections opened against a router of 256 descriptors"
ok $(grep -q 'flood: Too many open files' "$T/router.log"; echo $?) "the router ran out of descriptors and says so" "$(tail -3 "$T/router.log")"
ok $([ $((lines1 - lines0)) -le 5 ]; echo $?) "at most a log line a second during the flood (3 s)" "$((lines1 - lines0)) lines:" "$(tail -5 "$T/router.log")"
hz=$(getconf CLK_TCK)
ok $([ $((cpu1 - cpu0)) -lt $((hz * 3 / 2)) ]; echo $?) "the router does not spin while it cannot accept (under half a CPU)" "$((cpu1 - cpu0)) ticks of $hz/s in 3 s"
like "$keep" '^ok ([5-9][0-9]|[1-9][0-9]{2,}) fail 0$' "a keep-alive connection opened before the flood is answered all through it"
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -H "Host: $HOST" http://127.0.0.1:$PR/)
is "$code" 200 "after the flood a new connection is served"
ok $(kill -0 $RPID 2>/dev/null; echo $?) "the router is still running"

# 8-13: --max-conns 20 sheds the least recently active idle connection
# wait_port's probe connection is closed but may not be freed yet
sleep 0.2
shed=$("${FLOOD[@]}" shed 127.0.0.1:$PC $HOST 20 5 2>&1)
is "$shed" "served 5 eof 1,2,3,4,5
first alive" "at the cap each new connection is served and the oldest idle one closed (not the first, active since)"
m=$(curl -s --max-time 5 -H 'Host: _cx' http://127.0.0.1:$PC/_cx/metrics)
like "$m" 'cx_router_connections_shed_total\{[^}]*\} 5' "metrics count the shed connections"

# 20 requests in flight: nothing idle, so the 21st waits for one to end
for i in $(seq 1 20); do
	curl -s -o /dev/null -w '%{http_code}\n' --max-time 10 -H "Host: $HOST" \
		"http://127.0.0.1:$PC/slow?ms=3000" >>"$T/slow.out" &
	track $!
done
sleep 1
t0=$(date +%s%N)
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 -H "Host: $HOST" http://127.0.0.1:$PC/)
ms=$((($(date +%s%N) - t0) / 1000000))
ok $([ "$code" = 200 ] && [ $ms -ge 1000 ] && [ $ms -lt 6000 ]; echo $?) "at the cap with none idle a new connection waits for a request to end, then is served" "got $code after $ms ms"
wait_for 8 test "$(wc -l <"$T/slow.out")" -eq 20
is "$(sort -u "$T/slow.out" | tr '\n' ' ')" "200 " "the 20 requests in flight all finish (none is shed)"
m=$(curl -s --max-time 5 -H 'Host: _cx' http://127.0.0.1:$PC/_cx/metrics)
like "$m" 'cx_router_accept_pauses_cap_total\{[^}]*\} [1-9]' "metrics count the pauses at the cap"

# 14-15: the default cap is half the descriptors left after 64, and bad values are refused
like "$(cat "$T/default.log")" 'connection cap 96\)' "without --max-conns the cap is (256 - 64) / 2"
out=$("$ROUTER" --name public --rack dev --listen 127.0.0.1:$PD --routes "$T/routes" --max-conns -1 2>&1)
is "$out" "cx-router: --max-conns must be 0 (no cap) to 1000000, not -1" "a bad --max-conns is refused, saying what is right"

# 16-22: the rack API
cx rack install local flood >/dev/null || { echo "Bail out! cannot install a rack"; exit 1; }
dir=$CX_HOME/racks/flood
dpid=$(cat "$dir/rackd.pid")

# The rack's public router, capped by router_max_conns: 8 idle connections
# against a cap of 5 shed the 3 oldest.
rport=$(cx rack params --json | sed -n 's/.*"router_port":"\([0-9]*\)".*/\1/p')
# One worker (unset, it is one per core): the cap and the shed order are then one LRU's.
out=$(cx rack params set router_workers=1 2>&1); ok $? "router_workers=1" "$out"
rpid0=$(cat "$dir/router-public.pid")
lacks "$(tr '\0' ' ' <"/proc/$rpid0/cmdline")" "cx-router --name public" "--max-conns" "without router_max_conns the rack's router runs with its default cap"
out=$(cx rack params set router_max_conns=5 2>&1); ok $? "set router_max_conns=5" "$out"
rpid=$(cat "$dir/router-public.pid")
ok $([ "$rpid" != "$rpid0" ]; echo $?) "the public router was restarted for the new cap ($rpid0 -> $rpid)"
like "$(tr '\0' ' ' <"/proc/$rpid/cmdline")" "cx-router --name public .*--max-conns 5( |$)" "...with --max-conns 5"
like "$rport" '^[0-9]+$' "the rack's router port is known ($rport)"
wait_port "$rport"; sleep 0.2     # (the probe's connection freed first)
hold=$("${FLOOD[@]}" hold "127.0.0.1:$rport" 8 1 2>&1)
is "$hold" "connected 8 refused 0
eof 0,1,2" "at router_max_conns the rack's router sheds its oldest idle connection for each new one"
out=$(cx rack params set router_max_conns=0 2>&1)
refused $? "$out" "router_max_conns must be a whole number from 1 to 1000000, not \"0\"" "router_max_conns=0 is refused, saying what is right"

cx rack params set api_max_conns=10 >/dev/null
"${FLOOD[@]}" hold "$dir/api.sock" 10 3 >"$T/api-hold.out" 2>&1 &
HPID=$!
track $HPID
wait_for 5 grep -q connected "$T/api-hold.out"
n=0
for i in 1 2 3; do cx apps >/dev/null 2>&1 && n=$((n + 1)); done
wait $HPID
is "$(cat "$T/api-hold.out")" "connected 10 refused 0
eof 0" "at api_max_conns the API sheds its oldest idle connection for a new one"
is $n 3 "...and serves the new ones"

cx rack params set api_max_conns=1000000 >/dev/null
soft=$(prlimit --pid "$dpid" --nofile --output SOFT --noheadings | tr -d ' ')
prlimit --pid "$dpid" --nofile=128:
lines0=$(wc -l <"$dir/rackd.log")
cpu0=$(cpu_ticks "$dpid")
hold=$("${FLOOD[@]}" hold "$dir/api.sock" 300 3 2>&1)
cpu1=$(cpu_ticks "$dpid")
lines1=$(wc -l <"$dir/rackd.log")
# (the unix socket's backlog is short: the kernel refuses what is past it)
conn=$(echo "$hold" | awk '/^connected/ {print $2}')
ok $([ "${conn:-0}" -ge 200 ]; echo $?) "more connections than the API's 128 descriptors opened" "$hold"
ok $(grep -q 'api: flood: Too many open files' "$dir/rackd.log"; echo $?) "the API ran out of descriptors and says so" "$(tail -3 "$dir/rackd.log")"
ok $([ $((lines1 - lines0)) -le 5 ]; echo $?) "at most a log line a second during the flood (3 s)" "$((lines1 - lines0)) lines:" "$(tail -5 "$dir/rackd.log")"
ok $([ $((cpu1 - cpu0)) -lt $((hz * 3 / 2)) ]; echo $?) "the daemon does not spin while it cannot accept" "$((cpu1 - cpu0)) ticks of $hz/s in 3 s"
prlimit --pid "$dpid" --nofile="$soft":
ok $(wait_for 5 cx apps; echo $?) "after the flood the API serves again"
cx rack uninstall flood >/dev/null 2>&1

done_testing
