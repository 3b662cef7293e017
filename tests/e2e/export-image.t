#!/usr/bin/env bash
# export-image.t — an app whose service runs an image built from its
# Dockerfile moves between two racks of this host: the archive names the
# image, the import gives the same local image the new rack's name, and the
# app serves there from it, still after the first rack deletes its app (and
# its image names); an archive naming an image this host lacks, a service
# its build does not have, or builds another app has here is refused with
# its line, nothing made and no image renamed.
. "$(dirname "$0")/lib.sh"

if ! command -v podman >/dev/null || [ "$(id -u)" != 0 ]; then
	echo "Bail out! export-image.t needs podman (make deps) and root"
	exit 1
fi
. "$(dirname "$0")/lib-image.sh"
cx_base_image
remove_images() {
	podman images --format '{{.Repository}}:{{.Tag}}' 2>/dev/null |
	    grep -E '^localhost/cx-(xa|xb)/img/' | xargs -r podman rmi -f >/dev/null 2>&1
}
trap 'remove_images; cleanup' EXIT

src=$TMP/img
mkdir -p "$src"
cp "$EXAMPLES/hello/server.pl" "$src/server.pl"
cat > "$src/Dockerfile" <<'EOF'
FROM debian:bookworm
COPY server.pl /app/server.pl
WORKDIR /app
CMD ["perl", "server.pl"]
EOF
printf 'environment:\n  - GREETING=hello\nservices:\n  web:\n    build: .\n    port: 3000\n    health: /health\n' \
	>"$src/convox.yml"

for r in xa xb; do
	out=$(cx rack install local $r 2>&1); ok $? "rack install $r" "$out"
done
cx apps create img -r xa >/dev/null 2>&1
out=$(cx deploy "$src" -a img -r xa 2>&1); ok $? "deploy an app built from a Dockerfile on xa" "$out"
cx env set -p GREETING=imported -a img -r xa >/dev/null 2>&1
out=$(cx apps export img -f "$TMP/img.tgz" -r xa 2>&1); ok $? "export it" "$out"
build=$(tar tzf "$TMP/img.tgz" | sed -n 's|^builds/\(B[A-Z0-9]*\)\.tgz$|\1|p')
lower=$(printf '%s' "$build" | tr 'A-Z' 'a-z')
like "$(tar xzOf "$TMP/img.tgz" app.json)" "\"images\":\{\"web\":\{\"ref\":\"localhost/cx-xa/img/web:$lower\"" \
	"app.json names xa's image of the build"

out=$(cx apps import img -f "$TMP/img.tgz" -r xb 2>&1); ok $? "import it onto xb" "$out"
podman image exists "localhost/cx-xb/img/web:$lower"; ok $? "the image has xb's name now"
is "$(podman image inspect -f '{{.Id}}' "localhost/cx-xb/img/web:$lower")" \
	"$(podman image inspect -f '{{.Id}}' "localhost/cx-xa/img/web:$lower")" "...and it is the same image"
url=$(cx services -a img -r xb --json | sed -n 's/.*"url":"\([^"]*\)".*/\1/p')
like "$(curl -s --max-time 5 "$url/")" "^imported from img/web .*rack xb\)" "xb serves the app from the image, with its env"

# The same archive again, as another app of xb: its builds are img's here.
# The new names the import gave the image go again; img's stay and serve.
out=$(cx apps import img2 -f "$TMP/img.tgz" -r xb 2>&1); rc=$?
refused $rc "$out" "^Importing app img2\.\.\. ERROR: build $build is app img's on this rack" \
	"an archive whose builds are another app's here is refused"
gone_img2() { ! podman image exists "localhost/cx-xb/img2/web:$lower"; }
wait_for 30 gone_img2; ok $? "...the name it gave the image goes again"
podman image exists "localhost/cx-xb/img/web:$lower"; ok $? "...img's name stays"
like "$(curl -s --max-time 5 "$url/")" "^imported from img/web .*rack xb\)" "...and img still serves"

out=$(cx apps delete img -r xa 2>&1); ok $? "xa deletes its app" "$out"
gone_a() { ! podman image exists "localhost/cx-xa/img/web:$lower"; }
wait_for 30 gone_a; ok $? "...and its image name goes"
out=$(cx restart -a img -r xb 2>&1); ok $? "xb restarts the app: new processes from its own name" "$out"
like "$(curl -s --max-time 5 "$url/")" "^imported from img/web .*rack xb\)" "xb still serves it"

# edit_archive SRC DST OLD NEW: a copy of the archive with OLD replaced by
# NEW in its app.json.
edit_archive() {
	python3 - "$@" <<'EOF' || echo "Bail out! cannot edit the archive"
import io, sys, tarfile
src, dst, old, new = sys.argv[1:]
with tarfile.open(src) as t, tarfile.open(dst, "w:gz") as out:
    for m in t.getmembers():
        data = t.extractfile(m).read() if m.isfile() else None
        if m.name == "app.json":
            if old.encode() not in data:
                sys.exit("no " + old + " in app.json")
            data = data.replace(old.encode(), new.encode())
            m.size = len(data)
        out.addfile(m, io.BytesIO(data) if data is not None else None)
EOF
}

# An archive whose images name a service its convox.yml does not have.
edit_archive "$TMP/img.tgz" "$TMP/ghost.tgz" '"images":{"web":' '"images":{"ghost":'
out=$(cx apps import other -f "$TMP/ghost.tgz" -r xb 2>&1); rc=$?
refused $rc "$out" "^Importing app other\.\.\. ERROR: build $build: its images name service ghost, which its convox\.yml does not have" \
	"images of a service the build lacks are refused"
[ -z "$(cx apps -r xb | grep other)" ] && ! podman image exists "localhost/cx-xb/other/ghost:$lower"
ok $? "...and nothing is made, no image named"

# An archive naming an image this host does not have.
edit_archive "$TMP/img.tgz" "$TMP/missing.tgz" "localhost/cx-xa/img/web:$lower" localhost/cx-nowhere:gone
out=$(cx apps import other -f "$TMP/missing.tgz" -r xa 2>&1); rc=$?
refused $rc "$out" "^Importing app other\.\.\. ERROR: build $build: service web runs image localhost/cx-nowhere:gone, not on this host \(an export names images, it does not carry them\): " \
	"an image the host lacks is refused"
[ -z "$(cx apps -r xa | grep other)" ] && [ -z "$(ls -A "$CX_HOME/racks/xa/tmp")" ]
ok $? "...and nothing is made"

for r in xa xb; do
	out=$(cx rack uninstall $r 2>&1); ok $? "rack uninstall $r" "$out"
done
check_no_leftovers
done_testing
