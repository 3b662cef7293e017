#!/usr/bin/env bash
# Resources: an app that declares a postgres and a redis gets them, run by the
# rack from Debian's servers. examples/resources-demo is deployed, migrated by
# `cx run`, a row written through its web service; the row survives a crash of
# the database server, a daemon kill -9 and restart, a redeploy and cx restart;
# another app's process cannot connect to either server nor read their
# passwords; export, then import on a second rack, serves the same row; cx apps
# delete stops the servers and removes their data and rules.
. "$(dirname "$0")/lib.sh"

if [ "$(id -u)" -ne 0 ]; then
	echo "1..0 # SKIP resources run as ids of the app's own only on a rack run as root"
	exit 0
fi
for b in /usr/lib/postgresql/*/bin/postgres /usr/bin/redis-server /usr/bin/psql /usr/bin/redis-cli; do
	[ -x "$b" ] || { echo "Bail out! $b is missing: make deps (postgresql, redis-server)"; exit 1; }
done

# Resource servers run in sessions of their own, outside what lib.sh's
# cleanup finds by the home's path: stop them by their pid files.
stop_resources() {
	local f
	for f in "$CX_HOME"/racks/*/apps/*/resources/*/pid; do
		[ -f "$f" ] && kill -9 "$(cut -d' ' -f1 "$f")" 2>/dev/null
	done
	for t in dev dev2; do nft delete table inet "cx-res-$t" 2>/dev/null; done
}
trap 'stop_resources; cleanup' EXIT

cx rack install local dev >/dev/null || { echo "Bail out! cannot install a rack"; exit 1; }
RACK=$CX_HOME/racks/dev
RES=$RACK/apps/shop/resources
cx apps create shop -r dev >/dev/null && cx apps create other -r dev >/dev/null
ok $? "create two apps"

t0=$(date +%s%N)
out=$(cx deploy "$EXAMPLES/resources-demo" -a shop -r dev 2>&1)
ok $? "deploy an app with a postgres and a redis resource" "$out"
echo "# first deploy, provisioning both: $(( ($(date +%s%N) - t0) / 1000000 )) ms"
out=$(cx resources -a shop -r dev)
like "$out" "cache +redis +redis://:[0-9a-f]{32}@[0-9.]+:6379/0 +running" \
    "cx resources lists the redis, running, with its URL (its own address)" "$out"
like "$out" "database +postgres +postgres://app:[0-9a-f]{32}@[0-9.]+:5432/app +running" \
    "and the postgres" "$out"
dburl=$(cx resources url database -a shop -r dev)
cacheurl=$(cx resources url cache -a shop -r dev)
dbport=${dburl##*:}; dbport=${dbport%%/*}
out=$(cx resources info database -a shop -r dev)
like "$out" "Services +web \(DATABASE_URL\)" "cx resources info names the service that gets its URL" "$out"

# The server runs as an id of the app's own range that its processes do not have.
base=$(sqlite3 "$RACK/state.db" "SELECT uid_base FROM apps WHERE name = 'shop'")
pgpid=$(cut -d' ' -f1 "$RES/database/pid")
is "$(stat -c %u "/proc/$pgpid")" "$((base + 1))" "postgres runs as the app's uid_base + 1"
is "$(stat -c '%a %u' "$RES/database/password")" "600 0" "its password file is the rack's, 0600"
is "$(stat -c '%a %u' "$RES/database/srv")" "700 $((base + 1))" "its data is the server's, 0700"
pw=${dburl#postgres://app:}; pw=${pw%%@*}
lacks "$(tr '\0' ' ' < "/proc/$pgpid/cmdline")" "^postgres -D" "$pw" "no password on its command line"

out=$(cx run -a shop -r dev web 'psql "$DATABASE_URL" -f migrate.sql' 2>&1)
ok $? "a migration through cx run" "$out"
url=$(cx services -a shop -r dev --json | sed -n 's/.*"url":"\([^"]*\)".*/\1/p')
port=${url##*:}
get() { curl -s --max-time 10 -H "Host: web.shop.dev.localhost" "http://127.0.0.1:$port/notes"; }
out=$(curl -s --max-time 10 -X POST -H "Host: web.shop.dev.localhost" \
    "http://127.0.0.1:$port/notes?text=kept-$$")
is "$out" "added; writes: 1" "a row written through the web service (and a count in redis)"
is "$(get)" "kept-$$
writes: 1" "and read back"

# Another app, sharing the host's network: refused by the rack's rules, even
# with the password; and it cannot read the passwords.
out=$(cx deploy "$ROOT/tests/e2e/apps/abspath" -a other -r dev 2>&1)
ok $? "deploy another app" "$out"
out=$(cx run -a other -r dev web "psql '$dburl' -c 'select 1'" 2>&1)
rc=$?
[ "$rc" -ne 0 ] && echo "$out" | grep -q "Connection refused"
ok $? "another app's process cannot connect to the postgres (refused)" "rc $rc" "$out"
cpw=${cacheurl#redis://:}; cpw=${cpw%%@*}; chost=${cacheurl#*@}; chost=${chost%%:*}
ping="REDISCLI_AUTH=$cpw redis-cli -h $chost -p 6379 PING"
out=$(cx run -a other -r dev web "$ping" 2>&1)
lacks "$out" "Connection refused|Could not connect" "PONG" "nor to the redis (refused)"
out=$(cx run -a shop -r dev web "$ping" 2>&1)
like "$out" "PONG" "the owning app's process can (the same command)" "$out"
out=$(cx run -a other -r dev web "cat '$RES/database/password'" 2>&1)
rc=$?; [ "$rc" -ne 0 ]; ok $? "another app cannot read the password file" "$out"
out=$(cx run -a shop -r dev web "cat '$RES/database/password'; ls '$RES/database/srv'" 2>&1)
rc=$?; [ "$rc" -ne 0 ]; ok $? "nor can the owning app read its server's files (only its URL)" "$out"
[ "$(readlink "/proc/$pgpid/ns/net")" != "$(readlink /proc/self/ns/net)" ]
ok $? "the postgres runs in a network namespace of its own"
rules=$(nsenter --net="/proc/$pgpid/ns/net" nft list table inet cx-res 2>&1)
like "$rules" "tcp dport 5432 ip saddr \{ [0-9., ]+ \} accept" "its namespace lets in a set of addresses" "$rules"
like "$rules" "tcp dport 5432 reject with tcp reset" "and resets the rest" "$rules"
webaddr=$(cx ps -a shop -r dev --json | sed -n 's/.*"address":"\([0-9.]*\)".*/\1/p' | head -1)
otheraddr=$(cx ps -a other -r dev --json | sed -n 's/.*"address":"\([0-9.]*\)".*/\1/p' | head -1)
like "$rules" "[{ ]$webaddr[,} ]" "the set holds the owning app's process ($webaddr)" "$rules"
lacks "$rules" "accept" "[{ ,]$otheraddr[,} ]" "and not the other app's ($otheraddr)"
nft list table inet cx-res >/dev/null 2>&1
[ $? -ne 0 ]; ok $? "the host's own namespace got no such table (rules go in the server's)"

# A crash: the rack starts the server again, with its data.
kill -9 "$pgpid"
wait_for 15 sh -c "cx resources -a shop -r dev | grep -q 'database .* running' && \
    [ \"\$(cut -d' ' -f1 '$RES/database/pid')\" != $pgpid ]"
ok $? "postgres killed: the rack starts it again"
wait_for 10 sh -c "curl -s --max-time 5 -H 'Host: web.shop.dev.localhost' http://127.0.0.1:$port/notes | grep -q kept-$$"
ok $? "the row is still there after the crash" "$(get)"
out=$(cx resources info database -a shop -r dev)
like "$out" "Restarts +1" "cx resources info counts the restart" "$out"

# The daemon killed with SIGKILL: a new one adopts the running servers.
pgpid=$(cut -d' ' -f1 "$RES/database/pid")
redispid=$(cut -d' ' -f1 "$RES/cache/pid")
oldpid=$(cat "$RACK/rackd.pid")
kill -9 "$oldpid"
# The keeper starts a new daemon by itself.
wait_for 15 sh -c "p=\$(cat '$RACK/rackd.pid' 2>/dev/null); [ -n \"\$p\" ] && [ \"\$p\" != $oldpid ] && cx apps -r dev >/dev/null 2>&1"
ok $? "daemon back after kill -9 (its keeper started pid $(cat "$RACK/rackd.pid"))"
is "$(cut -d' ' -f1 "$RES/database/pid") $(cut -d' ' -f1 "$RES/cache/pid")" "$pgpid $redispid" \
    "it adopted both servers (same pids)"
wait_for 10 sh -c "cx resources -a shop -r dev | grep -c running | grep -qx 2"
ok $? "both show running"
# A crash of an adopted server (no longer the daemon's child) is seen too.
kill -9 "$redispid"
wait_for 15 sh -c "[ \"\$(cut -d' ' -f1 '$RES/cache/pid')\" != $redispid ] && \
    cx resources -a shop -r dev | grep -q 'cache .* running'"
ok $? "an adopted redis that crashes is started again"

out=$(cx deploy "$EXAMPLES/resources-demo" -a shop -r dev 2>&1)
ok $? "redeploy" "$out"
out=$(cx restart -a shop -r dev 2>&1); ok $? "cx restart" "$out"
url=$(cx services -a shop -r dev --json | sed -n 's/.*"url":"\([^"]*\)".*/\1/p'); port=${url##*:}
wait_for 10 sh -c "curl -s --max-time 5 -H 'Host: web.shop.dev.localhost' http://127.0.0.1:$port/notes | grep -q 'writes: 1'"
is "$(get)" "kept-$$
writes: 1" "after a crash, a daemon kill -9, a redeploy and a restart: the same row and count"
is "$(cx resources url database -a shop -r dev)" "$dburl" "the URL did not change"

# Export, then import on a second rack.
out=$(cx resources export database -a shop -r dev -f "$TMP/db.sql" 2>&1)
ok $? "cx resources export" "$out"
grep -q "kept-$$" "$TMP/db.sql"; ok $? "the dump holds the row"
out=$(cx resources export cache -a shop -r dev -f "$TMP/cache.rdb" 2>&1)
ok $? "cx resources export of the redis" "$out"
is "$(head -c 5 "$TMP/cache.rdb")" "REDIS" "gives an RDB file"
cx rack install local dev2 >/dev/null && cx apps create shop -r dev2 >/dev/null
out=$(cx deploy "$EXAMPLES/resources-demo" -a shop -r dev2 2>&1)
ok $? "deploy the app on a second rack" "$out"
out=$(cx resources import database -a shop -r dev2 -f "$TMP/db.sql" 2>&1)
ok $? "cx resources import there" "$out"
url2=$(cx services -a shop -r dev2 --json | sed -n 's/.*"url":"\([^"]*\)".*/\1/p')
out=$(curl -s --max-time 10 -H "Host: web.shop.dev2.localhost" "http://127.0.0.1:${url2##*:}/notes")
is "$out" "kept-$$
writes: 0" "the second rack serves the same row"
out=$(cx resources import cache -a shop -r dev2 -f "$TMP/cache.rdb" 2>&1)
ok $? "cx resources import of the redis RDB there" "$out"
out=$(curl -s --max-time 10 -H "Host: web.shop.dev2.localhost" "http://127.0.0.1:${url2##*:}/notes")
is "$out" "kept-$$
writes: 1" "and its count too"
out=$(cx resources import cache -a shop -r dev2 -f "$TMP/db.sql" 2>&1)
refused $? "$out" "not an RDB file" "a file that is no RDB is refused"
r2pid=$(cut -d' ' -f1 "$CX_HOME/racks/dev2/apps/shop/resources/cache/pid")
kill -9 "$r2pid"
wait_for 15 sh -c "[ \"\$(cut -d' ' -f1 '$CX_HOME/racks/dev2/apps/shop/resources/cache/pid')\" != $r2pid ] && \
    curl -s --max-time 5 -H 'Host: web.shop.dev2.localhost' http://127.0.0.1:${url2##*:}/notes | grep -q 'writes: 1'"
ok $? "the imported data is in its append-only file: a crash keeps it"

# The other kinds: mysql (as DB_URL) and memcached, and what the manifest refuses.
KINDS=$ROOT/tests/e2e/apps/resources-kinds
cx apps create kinds -r dev >/dev/null
out=$(cx deploy "$KINDS" -a kinds -r dev 2>&1)
ok $? "deploy an app with a mysql and a memcached resource" "$out"
like "$out" "convox.yml:6:7: resources.db.options.version \(the rack runs the server Debian installed" \
    "options.version is named as not acted on" "$out"
like "$out" "convox.yml:7:7: resources.db.options.storage \(a size cap" "and so is storage" "$out"
out=$(cx resources -a kinds -r dev)
like "$out" "db +mysql +mysql://app:[0-9a-f]{32}@[0-9.]+:3306/app +running" "the mysql runs" "$out"
like "$out" "sessions +memcached +memcached://[0-9.]+:11211 +running" "the memcached runs" "$out"
out=$(echo "CREATE TABLE t (x text); INSERT INTO t VALUES ('m-$$'); SELECT x FROM t;" |
    cx resources console db -a kinds -r dev 2>&1)
like "$out" "m-$$" "cx resources console runs mariadb on it (through DB_URL)" "$out"
printf '%s' "$out" | grep -q "m-$$" || { tail -5 "$RACK/apps/kinds/resources/db/srv/log"; cx resources info db -a kinds -r dev; nft list table inet cx-res-dev; ss -ltnp | grep mariadb; } | sed 's/^/# /' 
out=$(cx run -a kinds -r dev worker "python3 mc.py" 2>&1)
is "$out" "STORED VALUE k 0 2 hi END" "the service reaches its memcached"
out=$(cx resources export db -a kinds -r dev -f "$TMP/my.sql" 2>&1)
ok $? "cx resources export of the mysql" "$out"
grep -q "m-$$" "$TMP/my.sql"; ok $? "mysqldump's file holds the row"
out=$(cx resources export sessions -a kinds -r dev -f "$TMP/mc" 2>&1)
refused $? "$out" "^ERROR: a memcached resource has no export \(a cache: nothing to keep\)" \
    "a memcached has nothing to export"
mkdir -p "$TMP/bad" && cp "$KINDS/convox.yml" "$TMP/bad/" && sed -i 's/type: memcached/type: memcache/' "$TMP/bad/convox.yml"
out=$(cx deploy "$TMP/bad" -a kinds -r dev 2>&1)
like "$out" "convox.yml:9:11: resources.sessions.type: unknown resource type memcache; a local rack runs postgres, mysql, mariadb, redis and memcached" \
    "an unknown type is refused at its line and column" "$out"
sed -i 's/type: memcache$/type: memcached/; s/storage: 10/storage: 10\n      replicas: 2/' "$TMP/bad/convox.yml"
out=$(cx deploy "$TMP/bad" -a kinds -r dev 2>&1)
like "$out" "convox.yml:8:7: resources.db.options.replicas: unknown option of a mysql resource" \
    "so is an unknown option" "$out"

# Delete: servers stopped after the app's processes, data and rules gone.
pgpid=$(cut -d' ' -f1 "$RES/database/pid")
redispid=$(cut -d' ' -f1 "$RES/cache/pid")
out=$(cx apps delete shop -r dev 2>&1); ok $? "cx apps delete" "$out"
wait_for 15 sh -c "! kill -0 $pgpid 2>/dev/null && ! kill -0 $redispid 2>/dev/null && [ ! -d '$RES' ]"
ok $? "its servers stopped and their data is gone"

# An app gone from the store while no daemon ran (as the daemon's own start
# handles its processes): the next daemon stops its servers, not adopts them.
kpids="$(cut -d' ' -f1 "$RACK/apps/kinds/resources/db/pid") $(cut -d' ' -f1 "$RACK/apps/kinds/resources/sessions/pid")"
rackpid=$(cat "$RACK/rackd.pid")
kill "$rackpid"; wait_for 5 gone "$rackpid"
sqlite3 "$RACK/state.db" "DELETE FROM apps WHERE name = 'kinds'"
cx-rackd --home "$CX_HOME" --rack dev --daemon; ok $? "daemon started with app kinds gone from its store"
wait_for 15 sh -c "for p in $kpids; do kill -0 \$p 2>/dev/null && exit 1; done; [ ! -d '$RACK/apps/kinds' ]"
ok $? "its mysql and memcached were stopped and their data removed"

cx rack uninstall dev2 >/dev/null; ok $? "uninstall the second rack"
cx rack uninstall dev >/dev/null; ok $? "uninstall the first"
nft list table inet cx-res >/dev/null 2>&1
[ $? -ne 0 ]; ok $? "nor did it after the restarts, imports and deletes"
check_no_leftovers
done_testing
