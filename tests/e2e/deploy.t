#!/usr/bin/env bash
# The core of cx as a new user meets it: install a loopback rack, deploy an
# app from its convox.yml, reach it through the public router, change env and
# scale, survive a bad deploy and a daemon restart, and clean up.
. "$(dirname "$0")/lib.sh"

out=$(cx rack install local dev 2>&1); rc=$?
ok $rc "rack install exits 0"
like "$out" "Installing rack dev\.\.\. OK" "rack install prints Convox's line"
daemon_pid=$(cat "$CX_HOME/racks/dev/rackd.pid" 2>/dev/null)
kill -0 "$daemon_pid" 2>/dev/null; ok $? "daemon outlives the CLI (pid $daemon_pid)"
is "$(stat -c %a "$CX_HOME/racks/dev/password")" "600" "password file is mode 0600"
[ -f "$CX_HOME/racks/dev/state.db" ]; ok $? "state lives in SQLite under CX_HOME"

out=$(cx rack start dev 2>&1); rc=$?
is "$rc" 1 "cx rack start on a running rack exits 1"
like "$out" "^ERROR: rack dev is already running" "...saying it runs"
out=$(cx racks); like "$out" "dev +local +running" "cx racks lists the rack"
out=$(cx rack -r dev)
like "$out" "Name +dev" "cx rack: Name"
like "$out" "Provider +local" "cx rack: Provider"
like "$out" "Router +dev\.localhost:[0-9]+" "cx rack: Router"
like "$out" "Status +running" "cx rack: Status"
like "$out" "Version +cx-" "cx rack: Version"
like "$out" "Features +.*internal_router.*reach" "cx rack: the features this rack's version has"
out=$(cx rack --json -r dev); like "$out" '"name":"dev"' "cx rack --json"

out=$(cx rack params -r dev); like "$out" "router_port +[0-9]+" "params list router_port"
out=$(cx rack params set interal_router=true -r dev 2>&1); rc=$?
is "$rc" 1 "unknown param exits 1"
like "$out" 'ERROR: unknown param "interal_router"; did you mean "internal_router"\?' "unknown param suggests the closest"
out=$(cx rack params set build_max_mb=lots -r dev 2>&1); rc=$?
refused "$rc" "$out" "ERROR: build_max_mb must be a whole number" "param values are type-checked"
out=$(cx rack params set build_max_mb=100 domain=Bad_Domain -r dev 2>&1); rc=$?
refused "$rc" "$out" "ERROR: domain must be" "one bad pair refuses the whole set"
out=$(cx rack params -r dev); like "$out" "build_max_mb +512" "...and nothing changed"
out=$(cx rack params set build_max_mb=100 -r dev); is "$out" "Updating parameters... OK" "params set"

out=$(cx apps create app1 -r dev); is "$out" "Creating app1... OK" "apps create"
out=$(cx apps create app1 -r dev 2>&1); refused $? "$out" "ERROR: app app1 already exists" "duplicate app refused"
out=$(cx apps -r dev); like "$out" "app1 +idle" "apps lists the new app"

t0=$(date +%s%N)
out=$(cx deploy "$EXAMPLES/hello" -a app1 -r dev 2>&1); rc=$?
t1=$(date +%s%N)
ok $rc "deploy exits 0"
like "$out" "Packaging source\.\.\. OK" "deploy: packaging"
like "$out" "Uploading source\.\.\. OK" "deploy: uploading"
like "$out" "Starting build\.\.\. OK" "deploy: build"
like "$out" "Promoting R[A-Z0-9]+\.\.\. OK" "deploy: promote"
echo "# deploy took $(( (t1 - t0) / 1000000 )) ms"

out=$(cx services -a app1 -r dev)
like "$out" "SERVICE +DOMAIN +PORTS" "services header"
like "$out" "web +web\.app1\.dev\.localhost +[0-9]+:3000" "services row"
url=$(cx services -a app1 -r dev --json | sed -n 's/.*"url":"\([^"]*\)".*/\1/p')
like "$url" "^http://web\.app1\.dev\.localhost:[0-9]+$" "services --json has url"
body=$(curl -s --max-time 5 "$url/")
like "$body" "^hello from app1/web" "the URL cx services shows answers with curl as it is"
hdrs=$(curl -s --max-time 5 "$url/headers")
like "$hdrs" "X-Forwarded-For: 127\.0\.0\.1" "router adds X-Forwarded-For"
like "$hdrs" "X-Request-Id: " "router adds X-Request-Id"

port=$(cx rack params -r dev --json | sed -n 's/.*"router_port":"\([0-9]*\)".*/\1/p')
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -H 'Host: nope.app1.dev.localhost' "http://127.0.0.1:$port/")
is "$code" 404 "unknown host gets 404"

out=$(cx ps -a app1 -r dev)
like "$out" "ID +SERVICE +STATUS +RELEASE +STARTED +COMMAND" "ps header"
like "$out" "web-[0-9a-f]{8} +web +running +R[A-Z0-9]+ .*perl server.pl" "ps row"
js=$(cx ps -a app1 -r dev --json)
pid=$(printf '%s' "$js" | sed -n 's/.*"pid":\([0-9]*\).*/\1/p' | head -1)
kill -0 "$pid" 2>/dev/null; ok $? "ps --json pid is the real process ($pid)"
like "$js" '"port":[0-9]+' "ps --json has port"
uid=$(sqlite3 "$CX_HOME/racks/dev/state.db" "SELECT uid_base FROM apps WHERE name = 'app1'")
like "$uid" '^[0-9]+$' "the store records app1's ids ($uid)"
[ "${uid:-0}" -ge 65536 ]; ok $? "app1's ids are its own, above every ordinary and nobody's"
is "$(ps -o uid=,gid= -p "$pid" | tr -s ' ' | sed 's/^ //')" "$uid $uid" "app processes run as their app's uid and gid, not root"
out=$(cx releases -a app1 -r dev); like "$out" "R[A-Z0-9]+ +active +B[A-Z0-9]+" "releases lists the active release"

out=$(cx env set -p GREETING=howdy -a app1 -r dev 2>&1); rc=$?
ok $rc "env set exits 0"
like "$out" "Promoting R[A-Z0-9]+\.\.\. OK" "env set promotes a release"
body=$(curl -s --max-time 5 "$url/"); like "$body" "^howdy from" "new env reaches the process"
out=$(cx env -a app1 -r dev); like "$out" "^GREETING=howdy$" "cx env lists it"
out=$(cx env unset GREETING -a app1 -r dev --promote 2>&1); ok $? "env unset --promote"
body=$(curl -s --max-time 5 "$url/"); like "$body" "^hello from" "manifest default is back after unset"

out=$(cx scale web --count 2 -a app1 -r dev 2>&1); ok $? "scale web to 2"
n=$(cx ps -a app1 -r dev | grep -c ' running ')
is "$n" 2 "two processes run"
seen=$(for i in 1 2 3 4 5 6; do curl -s --max-time 5 "$url/"; done | sed -n 's/.*process \(web-[0-9a-f]*\).*/\1/p' | sort -u | wc -l)
is "$seen" 2 "the router spreads requests over both processes"
out=$(cx scale nope --count 2 -a app1 -r dev 2>&1); refused $? "$out" "ERROR: no such service: nope" "unknown service"

# cx restart replaces every process, new ones first.
old=$(cx ps -a app1 -r dev --json | sed -n 's/.*"pid":\([0-9]*\).*/\1/p' | sort)
out=$(cx restart -a app1 -r dev 2>&1); ok $? "cx restart"
wait_for 10 ps_settled 2 -a app1 -r dev
new=$(cx ps -a app1 -r dev --json | sed -n 's/.*"pid":\([0-9]*\).*/\1/p' | sort)
common=$(comm -12 <(echo "$old") <(echo "$new") | wc -l)
is "$common" 0 "restart left none of the old processes"
body=$(curl -s --max-time 5 "$url/"); like "$body" "^hello from" "the app answers after the restart"

# A process that dies is replaced, and the app keeps serving.
victim=$(cx ps -a app1 -r dev --json | sed -n 's/.*"pid":\([0-9]*\).*/\1/p' | head -1)
kill -9 "$victim"
replaced() { ps_running 2 -a app1 -r dev && gone "$victim"; }
wait_for 10 replaced; ok $? "a killed process is replaced" "victim: $victim" "$(cx ps -a app1 -r dev 2>&1)"
body=$(curl -s --max-time 5 "$url/"); like "$body" "^hello from" "...and the app still answers"

out=$(cx rack logs -r dev --no-follow)
like "$out" "cx-rackd info: rack dev running" "cx rack logs prints the daemon's log"
out=$(cx rack metrics -r dev)
like "$out" 'cx_router_requests_total\{rack="dev",router="public",host="web\.app1\.dev\.localhost",app="app1",service="web",code="200"\} [1-9]' "cx rack metrics counts the requests by host and status"
# router_workers unset: one worker per online core (at most 64).
ncpu=$(nproc); [ "$ncpu" -gt 64 ] && ncpu=64
like "$out" "cx_router_workers\\{rack=\"dev\",router=\"public\"\\} $ncpu\$" "...from a router of one worker per core ($ncpu) by default"
rdir=$CX_HOME/racks/dev
like "$(tr '\0' ' ' <"/proc/$(cat "$rdir/router-public.pid")/cmdline")" "cx-router --name public .*--workers $ncpu( |$)" "...which the rack asks with --workers $ncpu"

# router_workers: the routers restart with that many threads, and serve.
nw=$((ncpu % 64 + 1))	# not the default
rpid0=$(cat "$rdir/router-public.pid")
out=$(cx rack params set router_workers=$nw -r dev 2>&1); ok $? "set router_workers=$nw" "$out"
rpid=$(cat "$rdir/router-public.pid")
ok $([ "$rpid" != "$rpid0" ]; echo $?) "...the public router restarted" "$rpid0 -> $rpid"
like "$(tr '\0' ' ' <"/proc/$rpid/cmdline")" "cx-router --name public .*--workers $nw( |$)" "...with --workers $nw"
like "$(cx rack metrics -r dev)" "cx_router_workers\\{rack=\"dev\",router=\"public\"\\} $nw\$" "...and says it runs $nw workers"
n=0
for i in 1 2 3 4 5 6; do [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$url/")" = 200 ] && n=$((n + 1)); done
is "$n" 6 "...and serves the app (6 of 6)"
out=$(cx rack params set router_workers=65 -r dev 2>&1)
refused $? "$out" "router_workers must be a whole number from 1 to 64, not \"65\"" "router_workers=65 is refused, saying what is right"
out=$(cx rack params set router_workers=1 -r dev 2>&1); ok $? "router_workers=1" "$out"
like "$(tr '\0' ' ' <"/proc/$(cat "$rdir/router-public.pid")/cmdline")" "cx-router --name public .*--workers 1( |$)" "...the router restarts with one worker again"

logs=$(cx logs -a app1 -r dev --no-follow)
like "$logs" "^[0-9T:-]+Z service/web/web-[0-9a-f]{8} listening on port" "logs carry time and service/NAME/PROCESS"

# A deploy whose process exits fails with its last lines; the old release serves.
out=$(cx deploy "$ROOT/tests/e2e/apps/crash" -a app1 -r dev 2>&1); rc=$?
is "$rc" 1 "a crashing deploy exits 1"
like "$out" "ERROR: .*exited with status 3" "the error says how the process ended"
like "$out" "fatal: missing DATABASE_URL" "the error carries the process's last log lines"
body=$(curl -s --max-time 5 "$url/"); like "$body" "^hello from" "the previous release keeps serving"
out=$(timeout 30 cx deploy "$ROOT/tests/e2e/apps/badutf8" -a app1 -r dev 2>&1); rc=$?
is "$rc" 1 "a process that prints bytes that are not UTF-8 fails the deploy (no hang)"
like "$out" "exited with status 4" "...with its exit status"
like "$out" "caf\? au lait" "...and its output, made printable"
out=$(cx deploy "$ROOT/tests/e2e/apps/noyml" -a app1 -r dev 2>&1); rc=$?
refused "$rc" "$out" "^ERROR: no convox.yml in " "missing convox.yml is refused"

out=$(cx builds -a app1 -r dev)
like "$out" "ID +STATUS +RELEASE +STARTED +ELAPSED +DESCRIPTION" "builds header: Convox's columns"
is "$(printf '%s\n' "$out" | grep -c '^B')" 3 "three builds (hello, crash, badutf8): env changes made releases, not builds"
# Rollback makes a new release from an old one and promotes it.
first=$(cx releases -a app1 -r dev --json | tr '{' '\n' | sed -n 's/.*"id":"\(R[A-Z0-9]*\)".*/\1/p' | tail -1)
out=$(cx releases rollback "$first" -a app1 -r dev 2>&1); rc=$?
ok $rc "releases rollback $first"
like "$out" "Promoting R[A-Z0-9]+\.\.\. OK" "rollback promotes the new release"
body=$(curl -s --max-time 5 "$url/"); like "$body" "^hello from" "the app answers after the rollback"

# A hostile upload straight to the API (not through cx deploy) is refused whole.
mkdir -p "$TMP/hostile" && cp "$EXAMPLES/hello/convox.yml" "$TMP/hostile/" && echo pwned > "$TMP/hostile/evil"
tar -czf "$TMP/hostile.tgz" -P -C "$TMP/hostile" --transform 's,^evil,../../../../evil,' convox.yml evil 2>/dev/null
pw=$(cat "$CX_HOME/racks/dev/password")
# api_say BODY-ARGS...: the API's answer as "STATUS BODY", from one curl to the rack's socket.
api_say() {
	local out
	out=$(curl -s --max-time 10 --unix-socket "$CX_HOME/racks/dev/api.sock" -u "convox:$pw" \
	    -w '\n%{http_code}' "$@")
	printf '%s %s' "${out##*$'\n'}" "${out%$'\n'*}"
}
out=$(api_say -H 'Content-Type: application/gzip' --data-binary @"$TMP/hostile.tgz" http://rack/apps/app1/builds)
like "$out" '^400 \{"error":"unsafe path in archive: \.\./' "a tarball with ../ is refused (HTTP 400), naming the entry"
[ ! -e "$CX_HOME/racks/dev/evil" ] && [ ! -e "$CX_HOME/racks/evil" ] && [ ! -e "$CX_HOME/evil" ]; ok $? "...and nothing landed outside the build"
out=$(printf 'GARBAGE\r\n\r\n' | api_say -X POST -H 'Content-Type: application/json' --data-binary @- http://rack/apps)
like "$out" '^400 \{"error":"invalid JSON body' "malformed JSON to the API gets 400 and a one-line error"

# Upload cap.
cx rack params set build_max_mb=1 -r dev >/dev/null
big="$TMP/big"; mkdir -p "$big"; cp "$EXAMPLES/hello/"* "$big/"
head -c 3000000 /dev/urandom > "$big/blob"
out=$(cx deploy "$big" -a app1 -r dev 2>&1); rc=$?
refused "$rc" "$out" "ERROR: .*build_max_mb" "an upload over build_max_mb is refused"
cx rack params set build_max_mb=512 -r dev >/dev/null

# Errors are one line naming what is wrong.
out=$(cx ps -a nope -r dev 2>&1); rc=$?
is "$rc" 1 "unknown app exits 1"
like "$out" "^ERROR: no such app: nope" "unknown app"
cp "$CX_HOME/racks/dev/password" "$TMP/pw"; echo wrong > "$CX_HOME/racks/dev/password"
out=$(cx apps -r dev 2>&1); refused $? "$out" "^ERROR: invalid password for rack dev" "wrong password"
cp "$TMP/pw" "$CX_HOME/racks/dev/password"

# The daemon can die; apps and routers keep serving, and a new daemon adopts them.
wait_for 10 sh -c "cx apps -r dev | grep -Eq 'app1 +running'"   # old processes drained
pid=$(cx ps -a app1 -r dev --json | sed -n 's/.*"pid":\([0-9]*\).*/\1/p' | head -1)
kill "$daemon_pid"; wait_for 5 gone "$daemon_pid"
ok $? "daemon stopped"
out=$(cx apps -r dev 2>&1); rc=$?
refused "$rc" "$out" "^ERROR: rack dev is not running; start it with: cx rack start dev" "rack not running"
body=$(curl -s --max-time 5 "$url/"); like "$body" "^hello from" "app still serves while the daemon is down"
( for i in $(seq 1 60); do curl -s -o /dev/null -w '%{http_code}\n' --max-time 2 "$url/"; sleep 0.02; done > "$TMP/codes" ) &
loop=$!
sleep 0.3
cx-rackd --home "$CX_HOME" --rack dev --daemon; ok $? "daemon restarted"
wait "$loop"
is "$(sort -u "$TMP/codes" | tr '\n' ' ')" "200 " "every request answered 200 while the daemon restarted"
wait_for 5 ps_running 2 -a app1 -r dev; ok $? "new daemon adopted both processes"
kill -0 "$pid" 2>/dev/null; ok $? "the same process still runs (pid $pid)"

# A deploy refused because another one is being promoted makes no release:
# the next env change forks the newest release that was made, never the
# refused deploy's build.
mkdir -p "$TMP/slow" && cp "$EXAMPLES/hello/server.pl" "$TMP/slow/"
cat > "$TMP/slow/convox.yml" <<'EOF'
services:
  web:
    build: .
    command: sleep 3; exec perl server.pl
    port: 3000
    health:
      path: /health
      grace: 20
EOF
cx apps create busy -r dev >/dev/null
cx deploy "$EXAMPLES/hello" -a busy -r dev >/dev/null 2>&1; ok $? "deploy a second app"
( cx deploy "$TMP/slow" -a busy -r dev > "$TMP/slow.out" 2>&1; echo $? > "$TMP/slow.rc" ) &
track $!
wait_for 20 sh -c "cx releases -a busy -r dev | grep -q ' promoting '"; ok $? "...then a slow deploy of it is being promoted"
slow_rel=$(cx releases -a busy -r dev | awk '$2 == "promoting" { print $1 }')
out=$(cx deploy "$EXAMPLES/hello" -a busy -r dev 2>&1); rc=$?
refused "$rc" "$out" "ERROR: release $slow_rel of busy is being promoted; wait for it to finish and try again \(release R[A-Z0-9]+, made for this promotion, is discarded\)$" \
    "a deploy meanwhile is refused, saying its release is discarded"
refused_rel=$(printf '%s\n' "$out" | sed -n 's/^Release: *//p')
refused_build=$(printf '%s\n' "$out" | sed -n 's/^Build: *//p')
lacks "$(cx releases -a busy -r dev)" "^$slow_rel " "^$refused_rel " "...and cx releases does not list it ($refused_rel)"
wait_for 20 test -s "$TMP/slow.rc"; is "$(cat "$TMP/slow.rc" 2>/dev/null)" 0 "the deploy under way finishes"
out=$(cx env set FOO=1 -a busy -r dev 2>&1); ok $? "env set after it"
new_rel=$(printf '%s\n' "$out" | sed -n 's/^Release: *//p')
build_of() { cx releases -a busy -r dev --json | jq -r --arg id "$1" '.[] | select(.id == $id) | .build'; }
slow_build=$(build_of "$slow_rel")
lacks "$(build_of "$new_rel")" "^$slow_build\$" "^$refused_build\$" \
    "...forks the newest release made (build $slow_build), not the refused deploy's ($refused_build)"
cx apps delete busy -r dev >/dev/null 2>&1

# A router port another program listens on is refused before it is stored,
# in one line naming what holds it; the router serves on where it was.
params_of() { cx rack params -r dev | awk -v k="$1" '$1 == k { print $2 }'; }
old_port=$(params_of router_port)
listen_on() {
	python3 -c 'import socket,sys,time; s=socket.socket(); s.bind(("127.0.0.1",int(sys.argv[1]))); s.listen(); time.sleep(60)' "$1" &
	holder=$!
	track $holder
	wait_for 5 python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1",int(sys.argv[1])))' "$1"
}
taken=$(free_port)
listen_on "$taken"
out=$(cx rack params set router_port=$taken -r dev 2>&1); rc=$?
refused "$rc" "$out" "^Updating parameters\.\.\. ERROR: router_port=$taken: port $taken is in use by pid $holder \(python3\); choose a free one$" \
    "a router port in use is refused in one line, naming what holds it"
is "$(params_of router_port)" "$old_port" "...and router_port stays $old_port"
body=$(curl -s --max-time 5 "$url/"); like "$body" "^hello from" "...where the router serves on"
tls_port=$(params_of router_tls_port)
out=$(cx rack params set router_port=$tls_port -r dev 2>&1); rc=$?
refused "$rc" "$out" "ERROR: router_port=$tls_port: port $tls_port is router_tls_port's already; choose another$" \
    "the port of another of the rack's routers is refused too"
kill "$holder"; wait "$holder" 2>/dev/null

# A port taken between the check and the router's start (here while the old
# router, stopped with SIGSTOP, holds up its replacement for 2 s): the
# router cannot listen, and its port goes back to the one it last listened
# on, with the router's own words, instead of the router crash-looping.
dir=$CX_HOME/racks/dev
rpid=$(cat "$dir/router-public.pid")
next=$(free_port)
kill -STOP "$rpid"
( cx rack params set router_port=$next build_max_mb=700 -r dev > "$TMP/params.out" 2>&1; echo $? > "$TMP/params.rc" ) &
track $!
wait_for 5 grep -q "param router_port=$next" "$dir/rackd.log"
listen_on "$next"
wait_for 15 test -s "$TMP/params.rc"
refused "$(cat "$TMP/params.rc" 2>/dev/null)" "$(cat "$TMP/params.out" 2>/dev/null)" \
    "ERROR: router public cannot listen on 127\.0\.0\.1:$next .*Address already in use.*; back to router_port=$old_port; set: build_max_mb=700$" \
    "a router that cannot listen on its new port is refused with its reason and what did take"
is "$(params_of router_port)" "$old_port" "...router_port is back to $old_port"
is "$(params_of build_max_mb)" 700 "...and the other param given is set, as the answer says"
wait_for 5 gone "$rpid"; ok $? "...the old router went (pid $rpid)"
rpid=$(cat "$dir/router-public.pid")
body=$(curl -s --max-time 5 "$url/"); like "$body" "^hello from" "...and a new one serves on $old_port (pid $rpid)"
sleep 1.5
is "$(cat "$dir/router-public.pid")" "$rpid" "...without restarting (no crash loop)"
kill "$holder"; wait "$holder" 2>/dev/null
# A param set to the value it has changes nothing: no router restarts.
out=$(cx rack params set router_port=$old_port -r dev 2>&1)
ok $? "router_port set to the value it has" "$out"
sleep 0.5
is "$(cat "$dir/router-public.pid")" "$rpid" "...and the router keeps running (pid $rpid)"

# A rack that lacks a feature (an older version) is named, with what to do.
dpid=$(cat "$CX_HOME/racks/dev/rackd.pid"); kill "$dpid"; wait_for 5 gone "$dpid"
CX_RACKD_WITHOUT=internal_router cx-rackd --home "$CX_HOME" --rack dev --daemon
out=$(cx rack params set internal_router=true -r dev 2>&1); rc=$?
is "$rc" 1 "an older rack without the internal router: exit 1"
like "$out" "ERROR: rack dev runs cx-[0-9.]+, which has no internal router; upgrade it" "...names the rack's version and what it lacks"
dpid=$(cat "$CX_HOME/racks/dev/rackd.pid"); kill "$dpid"; wait_for 5 gone "$dpid"
cx-rackd --home "$CX_HOME" --rack dev --daemon

# No healthy process -> 503; an upstream that refuses -> 502.
cx scale web --count 0 -a app1 -r dev >/dev/null 2>&1
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$url/"); is "$code" 503 "no process: 503"
out=$(cx services reach web -a app1 -r dev 2>&1); rc=$?
is "$rc" 1 "reach with no process exits 1"
like "$out" "process +FAIL .*router answered 503 itself" "reach names the router's own 503 as the failing hop"

out=$(cx apps delete app1 -r dev); is "$out" "Deleting app1... OK" "apps delete"
wait_for 10 gone "$pid"; ok $? "delete stopped the app's processes"
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$url/"); is "$code" 404 "delete dropped the routes"

# Uninstall stops everything the rack started.
cx apps create app2 -r dev >/dev/null && cx deploy "$EXAMPLES/hello" -a app2 -r dev >/dev/null 2>&1
pid2=$(cx ps -a app2 -r dev --json | sed -n 's/.*"pid":\([0-9]*\).*/\1/p' | head -1)
rpid=$(cat "$CX_HOME/racks/dev/router-public.pid")
out=$(cx rack uninstall dev 2>&1); like "$out" "Uninstalling rack dev\.\.\. OK" "rack uninstall"
sleep 0.2
gone "$pid2"; ok $? "uninstall stopped app processes (pid $pid2)"
gone "$rpid"; ok $? "uninstall stopped the router (pid $rpid)"
[ ! -d "$CX_HOME/racks/dev" ]; ok $? "uninstall removed the rack's state"
check_no_leftovers

done_testing
