#!/usr/bin/env bash
# Control-plane timings, medians of several runs, printed as one table:
#   - `cx deploy` to the first 200 of the new release through the router, for
#     examples/hello (no Dockerfile: a host process, today's way) and, on a
#     host with podman run as root, for a small Node app built from its
#     Dockerfile (examples/shop/web: apt-get of node and npm, `npm ci`):
#     with a cold builder cache (--no-cache), a warm one (nothing changed),
#     and one source file changed;
#   - process start: `cx run web -- true` and `cx scale` to N until N run,
#     for a process from an image against a host process;
#   - `cx services` latency.
# A throwaway loopback rack under a temp CX_HOME; uninstalled at the end.
# RUNS (default 5) and COLD_RUNS (default 3: each is a full apt-get) set
# the number of runs; SCALE_N (default 4) the scale target; IMAGES=0 leaves
# out the Node app.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
export PATH="$ROOT/bin:$PATH"
export CX_HOME=$(mktemp -d /tmp/cx-bench.XXXXXX)
TMP=$CX_HOME
RUNS=${RUNS:-5}
COLD_RUNS=${COLD_RUNS:-3}
# Its own name: the images of its apps are named after it in root's podman storage.
RACK=bench$$
SCALE_N=${SCALE_N:-4}
cleanup() {
	local p i
	# Deleting the app removes its images once its processes are gone (an
	# uninstall of the rack does not).
	if [ -n "${node:-}" ]; then
		cx apps delete node -r "$RACK" >/dev/null 2>&1
		for i in $(seq 1 300); do
			podman images --format '{{.Repository}}' 2>/dev/null |
			    grep -q "^localhost/cx-$RACK-node-" || break
			sleep 0.1
		done
	fi
	cx rack uninstall "$RACK" >/dev/null 2>&1
	p=$(cat "$CX_HOME/racks/$RACK/rackd.pid" 2>/dev/null) && kill "$p" 2>/dev/null
	rm -rf "$CX_HOME"
}
trap cleanup EXIT

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
now() { date +%s%N; }
ROWS=""
row() {	# row WHAT TIMES-MS GOAL
	local m n runs
	m=$(echo $2 | tr ' ' '\n' | median)
	n=$(echo $2 | wc -w)
	runs=$(echo $2 | tr ' ' ',')
	[ "$n" -gt 7 ] && runs="$n runs"
	ROWS="$ROWS$(printf '| %-48s | %7s | %-34s | %-8s |' "$1" "$m" "$runs" "$3")
"
	echo "# $1: median $m of$2" >&2
}

# first_200 APP REL: polls the app's web through the router until release
# REL answers 200 (up to 60 s).
first_200() {
	local url i
	url=$(cx services -a "$1" -r "$RACK" --json | grep -o '"url":"http://web[^"]*"' | cut -d'"' -f4)
	for i in $(seq 1 6000); do
		curl -sf --max-time 1 "$url/" 2>/dev/null | grep -q "release $2" && return 0
		sleep 0.01
	done
	echo "deploy bench: release $2 of $1 never answered at $url" >&2
	return 1
}
# deploy_ms DIR APP [FLAGS...]: deploys; prints the ms to the first 200.
deploy_ms() {
	local dir=$1 app=$2 t0 out rel
	shift 2
	t0=$(now)
	out=$(cx deploy "$dir" -a "$app" -r "$RACK" "$@" 2>&1) ||
	    { echo "deploy bench: deploy of $app failed: $(printf '%s' "$out" | tail -3)" >&2; return 1; }
	rel=$(printf '%s' "$out" | sed -n 's/.*Promoting \(R[A-Z0-9]*\)\.\.\..*/\1/p' | tail -1)
	first_200 "$app" "$rel" || return 1
	echo $(( ($(now) - t0) / 1000000 ))
}
# run_true_ms APP: ms of `cx run web -- true`.
run_true_ms() {
	local t0
	t0=$(now)
	cx run web -a "$1" -r "$RACK" -- true >/dev/null 2>&1 || { echo "deploy bench: cx run in $1 failed" >&2; return 1; }
	echo $(( ($(now) - t0) / 1000 ))
}
# running APP: how many of APP's processes cx ps shows running.
running() { cx ps -a "$1" -r "$RACK" 2>/dev/null | grep -c ' running '; }
# scale_ms APP: ms from `cx scale web --count N` to N running (from 1).
scale_ms() {
	local t0 i
	t0=$(now)
	cx scale web --count "$SCALE_N" -a "$1" -r "$RACK" >/dev/null || return 1
	for i in $(seq 1 3000); do
		[ "$(running "$1")" -ge "$SCALE_N" ] && break
		sleep 0.01
	done
	echo $(( ($(now) - t0) / 1000000 ))
	cx scale web --count 1 -a "$1" -r "$RACK" >/dev/null
	for i in $(seq 1 3000); do
		[ "$(running "$1")" -eq 1 ] && ! cx ps -a "$1" -r "$RACK" | grep -q ' stopping ' && break
		sleep 0.01
	done
}

cx rack install local "$RACK" >/dev/null || { echo "deploy bench: cannot install a rack"; exit 1; }
cx apps create hello -r "$RACK" >/dev/null

times=""
for i in $(seq 1 "$RUNS"); do
	t=$(deploy_ms "$ROOT/examples/hello" hello) || exit 1
	times="$times $t"
done
row "hello (host process): deploy to first 200" "$times" "< 2000"

# The Node app: only where the rack builds images (root, podman).
node=
if [ "${IMAGES:-1}" != 0 ] && [ "$(id -u)" -eq 0 ] && command -v podman >/dev/null; then
	. "$ROOT/tests/e2e/lib-image.sh"
	cx_base_image >&2
	node=$CX_HOME/node
	cp -r "$ROOT/examples/shop/web" "$node"
	cat >"$node/convox.yml" <<-EOF
	services:
	  web:
	    build: .
	    port: 3000
	    health: /health
	EOF
	cx apps create node -r "$RACK" >/dev/null
	times=""
	for i in $(seq 1 "$COLD_RUNS"); do
		t=$(deploy_ms "$node" node --no-cache) || exit 1
		times="$times $t"
	done
	row "node (image): deploy, cold cache (--no-cache)" "$times" "-"
	times=""
	for i in $(seq 1 "$RUNS"); do
		t=$(deploy_ms "$node" node) || exit 1
		times="$times $t"
	done
	row "node (image): deploy, warm cache" "$times" "< 5000"
	times=""
	for i in $(seq 1 "$RUNS"); do
		echo "// change $i" >>"$node/server.js"
		t=$(deploy_ms "$node" node) || exit 1
		times="$times $t"
	done
	row "node (image): deploy, one source file changed" "$times" "< 10000"
else
	echo "# node app left out: IMAGES=0, or building images needs root and podman" >&2
fi

# Process start, alternating host and image runs.
th="" ti="" sh_="" si=""
for i in $(seq 1 "$RUNS"); do
	t=$(run_true_ms hello) || exit 1; th="$th $t"
	[ -n "$node" ] && { t=$(run_true_ms node) || exit 1; ti="$ti $t"; }
	t=$(scale_ms hello) || exit 1; sh_="$sh_ $t"
	[ -n "$node" ] && { t=$(scale_ms node) || exit 1; si="$si $t"; }
done
row "cx run web -- true, host process (us)" "$th" "-"
[ -n "$node" ] && row "cx run web -- true, from the image (us)" "$ti" "-"
row "cx scale 1->$SCALE_N until running, host (perl)" "$sh_" "-"
[ -n "$node" ] && row "cx scale 1->$SCALE_N until running, image (node)" "$si" "-"

svc=""
for i in $(seq 1 21); do
	t0=$(now)
	cx services -a hello -r "$RACK" >/dev/null
	svc="$svc $(( ($(now) - t0) / 1000 ))"
done
row "cx services latency (us)" "$svc" "< 20000"

dashes() { printf -- '-%.0s' $(seq "$1"); }
printf '| %-48s | %7s | %-34s | %-8s |\n' "measure (ms unless said)" median runs goal
printf '|%s|%s|%s|%s|\n' "$(dashes 50)" "$(dashes 9)" "$(dashes 36)" "$(dashes 10)"
printf '%s' "$ROWS"
