#!/usr/bin/env bash
# export.t — moving an app between racks, and two Convox commands around it:
# deploy examples/hello on rack ea with env and scale, export it, import it
# onto rack eb, and reach it through eb's router with the same env; hostile
# archives (built here with python's tarfile) are each refused with their
# one line and leave nothing on eb; `cx services restart` replaces every
# process of a service while a bounded curl loop sees no failed request; and
# `cx scale` has Convox's columns.
. "$(dirname "$0")/lib.sh"

A=ea B=eb
for r in $A $B; do
	out=$(cx rack install local $r 2>&1); ok $? "rack install $r" "$out"
done
out=$(cx apps create hello -r $A 2>&1); ok $? "apps create on $A" "$out"
out=$(cx deploy "$EXAMPLES/hello" -a hello -r $A 2>&1); ok $? "deploy examples/hello on $A" "$out"
out=$(cx env set -p GREETING=howdy SECRET='s3 cr=t' -a hello -r $A 2>&1); ok $? "env set on $A" "$out"
out=$(cx scale web --count 2 -a hello -r $A 2>&1); ok $? "scale web to 2 on $A" "$out"
url_of() { cx services -a hello -r "$1" --json | sed -n 's/.*"url":"\([^"]*\)".*/\1/p'; }
urlA=$(url_of $A)
like "$(curl -s --max-time 5 "$urlA/")" "^howdy from hello/web .*rack $A\)" "the app answers on $A with its env"

# --- cx scale: Convox's columns ---
out=$(cx scale -a hello -r $A)
is "$(printf '%s\n' "$out" | head -1)" "SERVICE  DESIRED  RUNNING  CPU  MEMORY" "cx scale header is Convox's"
like "$(printf '%s\n' "$out" | sed -n 2p)" "^web +2 +2 +250 +512$" "cx scale row: counts, and Convox's default cpu and memory"
is "$(cx scale -a hello -r $A --json)" '[{"service":"web","desired":2,"running":2,"cpu":250,"memory":512}]' \
	"cx scale --json keeps every column"

# --- cx services restart: rolling, no failed request ---
ids() { cx ps -a hello -r $A --json | tr '{' '\n' | sed -n 's/.*"id":"\(web-[0-9a-f]*\)".*"status":"running".*/\1/p' | sort; }
before=$(ids)
is "$(printf '%s\n' "$before" | grep -c .)" 2 "two processes before the restart"
: >"$TMP/curl.fails"
(
	for _ in $(seq 1 600); do
		[ -e "$TMP/curl.stop" ] && break
		code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 3 "$urlA/")
		[ "$code" = 200 ] || echo "$code" >>"$TMP/curl.fails"
		echo . >>"$TMP/curl.count"
		sleep 0.02
	done
) &
loop=$!
track $loop
wait_for 5 test -s "$TMP/curl.count"
out=$(cx services restart web -a hello -r $A 2>&1); rc=$?
ok $rc "cx services restart web" "$out"
is "$out" "Restarting web... OK" "it prints Convox's line"
sleep 1                 # requests go on while the old processes stop
touch "$TMP/curl.stop"
wait $loop
sent=$(wc -l <"$TMP/curl.count")
[ "$sent" -ge 10 ]; ok $? "requests ran during the restart ($sent)"
[ ! -s "$TMP/curl.fails" ]; ok $? "no request failed during the restart" "$(sort "$TMP/curl.fails" | uniq -c)"
wait_for 15 ps_settled 2 -a hello -r $A
after=$(ids)
is "$(printf '%s\n' "$after" | grep -c .)" 2 "two processes after it"
is "$(comm -12 <(echo "$before") <(echo "$after") | wc -l)" 0 "every process id changed" \
	"before: $before" "after: $after"
out=$(cx services restart nope -a hello -r $A 2>&1); rc=$?
refused $rc "$out" "ERROR: no such service: nope \(cx services -a hello lists them\)$" "an unknown service is refused"

# --- export ---
out=$(cx apps export hello -r $A 2>&1); rc=$?
refused $rc "$out" "^ERROR: where to\? cx apps export hello -f FILE$" "export needs -f"
out=$(cx apps export nope -f "$TMP/nope.tgz" -r $A 2>&1); rc=$?
refused $rc "$out" "ERROR: no such app: nope" "export of an unknown app"
[ -z "$(ls "$TMP" | grep nope)" ]; ok $? "...leaves no file behind"
out=$(cx apps export hello -f "$TMP/hello.tgz" -r $A 2>&1); rc=$?
ok $rc "apps export" "$out"
is "$out" "Exporting app hello... OK" "export prints one step"
is "$(stat -c %a "$TMP/hello.tgz")" 600 "the archive is 0600: it holds the env"
list=$(tar tzf "$TMP/hello.tgz" | sort | tr '\n' ' ')
like "$list" "^app\.json builds/ builds/B[A-Z0-9]+\.tgz $" "app.json and one build's source"
meta=$(tar xzOf "$TMP/hello.tgz" app.json)
like "$meta" '"format":"cx-app-export/1","app":"hello","rack":"ea"' "app.json says what and whence"
like "$meta" '"env":"GREETING=howdy\\nSECRET=s3 cr=t\\n"' "app.json holds the env in plain text (as the docs say)"
like "$meta" '"scale":\{"web":2\}' "...and the scale"
build=$(tar tzf "$TMP/hello.tgz" | sed -n 's|^builds/\(B[A-Z0-9]*\)\.tgz$|\1|p')
like "$(tar xzOf "$TMP/hello.tgz" "builds/$build.tgz" | tar tzf - | sort | tr '\n' ' ')" \
	"convox\.yml .*server\.pl" "the build's archive is its source tree"

# --- import onto the other rack ---
active=$(cx apps info hello -r $A --json | sed -n 's/.*"release":"\([^"]*\)".*/\1/p')
out=$(cx apps import hello -f "$TMP/hello.tgz" -r $B 2>&1); rc=$?
ok $rc "apps import onto $B" "$out"
is "$out" "$(printf 'Importing app hello... OK\nPromoting %s... OK' "$active")" \
	"import then promotes the release that was active on $A"
urlB=$(url_of $B)
like "$urlB" "^http://web\.hello\.$B\.localhost:[0-9]+$" "the app has $B's URL"
like "$(curl -s --max-time 5 "$urlB/")" "^howdy from hello/web .*release $active, rack $B\)" \
	"$B's router serves the app, with its env"
is "$(cx env -a hello -r $B)" "$(cx env -a hello -r $A)" "the env is the same on both racks"
rel() { cx releases -a hello -r "$1" --json | tr '{' '\n' | sed -n 's/.*"id":"\(R[A-Z0-9]*\)".*/\1/p'; }
is "$(rel $B | tr '\n' ' ')" "$(rel $A | tr '\n' ' ')" "the releases are the same, with their ids"
like "$(cx releases -a hello -r $B | sed -n 2p)" "^$active +active " "the imported active release is active on $B"
like "$(cx scale -a hello -r $B | sed -n 2p)" "^web +2 +2 " "the scale came along"
out=$(cx apps import hello -f "$TMP/hello.tgz" -r $B 2>&1); rc=$?
refused $rc "$out" "ERROR: app hello already exists$" "an app of that name is not imported over"
out=$(cx apps import again -f "$TMP/hello.tgz" -r $A 2>&1); rc=$?
refused $rc "$out" "ERROR: build $build is app hello's on this rack .*import it onto another rack" \
	"the rack it came from refuses its ids twice"
[ -z "$(cx apps -r $A | grep again)" ]; ok $? "...and has no app again"

# --- hostile archives: each refused with its line; nothing made ---
cx rack params set build_max_mb=1 -r $B >/dev/null
mkdir "$TMP/h"
python3 - "$TMP/h" "$TMP/hello.tgz" <<'EOF' || echo "Bail out! cannot build the hostile archives"
import io, sys, tarfile
d, good = sys.argv[1], sys.argv[2]
def arc(name, entries):
    with tarfile.open(f"{d}/{name}.tgz", "w:gz") as t:
        for ti, data in entries:
            t.addfile(ti, io.BytesIO(data) if data is not None else None)
def f(path, data=b"x"):
    ti = tarfile.TarInfo(path); ti.size = len(data); return (ti, data)
def link(path, target):
    ti = tarfile.TarInfo(path); ti.type = tarfile.SYMTYPE; ti.linkname = target; return (ti, None)
def dev(path):
    ti = tarfile.TarInfo(path); ti.type = tarfile.CHRTYPE; ti.devmajor, ti.devminor = 1, 3
    return (ti, None)
def tgz(entries):
    b = io.BytesIO()
    with tarfile.open(fileobj=b, mode="w:gz") as t:
        for ti, data in entries:
            t.addfile(ti, io.BytesIO(data) if data is not None else None)
    return b.getvalue()
arc("dotdot", [f("../evil")])
arc("absolute", [f("/tmp/cx-export-t-evil")])
arc("symlink", [link("app.json", "/etc/passwd")])
arc("climb", [f("app.json", b"{}"), link("builds", "../../..")])
arc("huge", [f("big", b"\0" * (2 << 20))])
arc("many", [f("f%d" % i) for i in range(1100)])
arc("device", [dev("null")])
arc("noapp", [f("README", b"hi")])
arc("badjson", [f("app.json", b'{"format":')])
# the real export with its build's archive swapped for a hostile one
with tarfile.open(good) as t:
    meta = t.extractfile("app.json").read()
    bname = [m.name for m in t.getmembers() if m.name.endswith(".tgz")][0]
arc("inner", [f("app.json", meta), f(bname, tgz([f("convox.yml", b"services: {}\n"),
                                                  link("x", "../../../../etc")]))])
arc("nobuild", [f("app.json", meta)])
EOF
check() {	# check NAME ERROR-LINE: importing $TMP/h/NAME.tgz as evil onto $B is refused so
	out=$(cx apps import evil -f "$TMP/h/$1.tgz" -r $B 2>&1); rc=$?
	[ "$rc" = 1 ] && [ "$(printf '%s\n' "$out" | grep -c ERROR)" = 1 ] &&
	    printf '%s\n' "$out" | grep -qxF -- "Importing app evil... ERROR: $2"
	ok $? "a $1 archive is refused: $2" "exit: $rc" "got: $out"
	[ -z "$(cx apps -r $B | grep evil)" ] && [ ! -e "$CX_HOME/racks/$B/apps/evil" ] &&
	    [ -z "$(ls -A "$CX_HOME/racks/$B/tmp")" ] && [ ! -e /tmp/cx-export-t-evil ]
	ok $? "...and nothing is left of it" "$(cx apps -r $B)" "$(ls -A "$CX_HOME/racks/$B/tmp")"
}
check dotdot "unsafe path in archive: ../evil (entries must stay inside the source tree)"
check absolute "unsafe path in archive: /tmp/cx-export-t-evil (entries must stay inside the source tree)"
check symlink "unsafe symlink in archive: app.json -> /etc/passwd (links must stay inside the source tree)"
check climb "unsafe symlink in archive: builds -> ../../.. (links must stay inside the source tree)"
check huge "archive too large: big takes it past 1 MB uncompressed (rack param build_max_mb)"
check many "too many entries in archive: more than 1024"
check device "refused entry in archive: null (devices, FIFOs and sockets are not allowed)"
check noapp "the archive has no app.json at its top: is it what cx apps export writes?"
check badjson "app.json: not JSON: line 1 column 10: unexpected token near end of file"
check inner "build $build: unsafe symlink in archive: x -> ../../../../etc (links must stay inside the source tree)"
check nobuild "the archive has no builds/$build.tgz, the source of build $build"
like "$(curl -s --max-time 5 "$urlB/")" "^howdy from hello/web" "the imported app serves on through all that"

for r in $A $B; do
	out=$(cx rack uninstall $r 2>&1); ok $? "rack uninstall $r" "$out"
done
check_no_leftovers
done_testing
