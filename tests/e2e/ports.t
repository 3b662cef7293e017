#!/usr/bin/env bash
# A loopback rack run as root gives each process a network namespace of its
# own, as VPC racks do: every process listens on the port its manifest
# declares (two processes of one service on the same port), the routers stay
# on loopback ports and reach each process on its own address, the service
# names resolve, and uninstalling leaves nothing of it in the host's
# namespace. An unprivileged loopback rack keeps today's random PORT.
. "$(dirname "$0")/lib.sh"

if [ "$(id -u)" -ne 0 ]; then
	echo "1..0 # SKIP process namespaces need root"
	exit 0
fi
try() { "$@" 2>&1; }
# The field F of APP's running SERVICE processes, sorted, one a line.
ps_field() {
	cx ps -a "$1" -r dev --json | tr '{' '\n' | grep "\"service\":\"$2\"" |
	    grep '"status":"running"' | sed -n "s/.*\"$3\":\"\{0,1\}\([0-9.]*\).*/\1/p" | sort
}

out=$(try cx rack install local dev); ok $? "install a loopback rack as root" "$out"
cidr=$(awk '$1 == "rack" && $2 == "dev" { print $4 }' "$CX_HOME/lab/state")
like "$cidr" '^10\.[0-9]+\.0\.0/16$' "the lab holds a network for its processes ($cidr)"
net=${cidr%.0.0/16}
out=$(cx rack -r dev); lacks "$out" "Name +dev" "VPC" "...yet it is no VPC rack"
cx apps create shop -r dev >/dev/null
out=$(try cx deploy "$EXAMPLES/hello" -m "$ROOT/tests/e2e/apps/names/convox.yml" -a shop -r dev)
ok $? "deploy shop (api and web, port 3000)" "$out"
out=$(try cx scale web --count 2 -a shop -r dev); ok $? "scale web to 2" "$out"

is "$(ps_field shop web port | tr '\n' ' ')" "3000 3000 " "both web processes have the manifest's port"
addrs=$(ps_field shop web address | tr '\n' ' ')
like "$addrs" "^$net\.[0-9.]+ $net\.[0-9.]+ \$" "...each on an address of its own ($addrs)"
out=$(try cx run web -a shop -r dev -- sh -c 'echo "port=$PORT"; ip -4 -o addr show | grep -v " lo " | wc -l')
like "$out" "^port=3000" "a process's PORT is the manifest's" "$out"
like "$out" "1\$" "...in a namespace with one interface besides lo" "$out"

pport=$(cx rack params -r dev --json | sed -n 's/.*"router_port":"\([0-9]*\)".*/\1/p')
like "$pport" '^[0-9]+$' "the public router keeps a loopback port ($pport)"
seen=
for i in 1 2 3 4 5 6; do
	b=$(curl -s --max-time 5 "http://web.shop.dev.localhost:$pport/")
	case "$b" in "hello from shop/web"*) seen="$seen${b#*process }"$'\n' ;; esac
done
n=$(printf '%s' "$seen" | sed -n 's/^\([^,]*\),.*/\1/p' | sort -u | wc -l)
is "$n" 2 "the router reaches both web processes on their own addresses"

out=$(curl -s --max-time 5 "http://web.shop.dev.localhost:$pport/call?url=http://api:3000/")
like "$out" "hello from shop/api" "web calls api by its bare name" "$out"
out=$(try cx run web -a shop -r dev -- curl -s --max-time 3 http://api.shop.dev.local:3000/)
like "$out" "^hello from shop/api" "...and by api.shop.dev.local" "$out"
exits_with 7 "a process does not reach the routers on the host's loopback (its own is empty)" \
    cx run web -a shop -r dev -- curl -s --max-time 2 "http://127.0.0.1:$pport/"

# Without root, today's way: the host's namespace, a free port.
nobody_setup || { echo "Bail out! cannot set up the unprivileged user's directory"; exit 1; }
out=$(as_nobody cx rack install local u 2>&1); ok $? "an unprivileged user installs a loopback rack" "$out"
as_nobody cx apps create shop -r u >/dev/null 2>&1
usrc="$NOBODY/hello"; cp -r "$EXAMPLES/hello" "$usrc"; chmod -R a+rX "$usrc"   # the user cannot read a checkout under /root
out=$(as_nobody cx deploy "$usrc" -a shop -r u 2>&1); ok $? "...and deploys to it" "$out"
js=$(as_nobody cx ps -a shop -r u --json)
like "$js" '"address":"127\.0\.0\.1"' "its process is on the host's loopback" "$js"
p=$(printf '%s' "$js" | sed -n 's/.*"port":\([0-9]*\).*/\1/p')
[ -n "$p" ] && [ "$p" != 3000 ]; ok $? "...with a port picked for it ($p), not the manifest's"
as_nobody cx rack uninstall u >/dev/null 2>&1

prefix=$(awk '$1 == "lab" { print $2 }' "$CX_HOME/lab/state")
like "$prefix" '^cx[0-9a-f]+$' "the lab's names start with $prefix"
out=$(try cx rack uninstall dev); ok $? "uninstall dev" "$out"
left=$( { ip -o link show; ip netns list; nft list tables; } 2>/dev/null | grep -c "${prefix:-none}-" )
is "$left" 0 "nothing of the rack is left in the host's namespace (links, namespaces, tables)"
check_no_leftovers
done_testing
