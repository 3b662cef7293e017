#!/bin/sh
# smoke.sh — `make fuzz`: build the libFuzzer targets with ASan/UBSan into
# build/fuzz and run each for a short while: the HTTP parser seeded from the
# llhttp vectors ($CX_HTTP_VECTORS, default tests/data/llhttp), the manifest
# parser from the convox.yml corpus ($CX_CORPUS, default
# tests/data/convox-yml-corpus); see tests/data/README.md. Exits non-zero on
# missing seed data, a build failure or a crash. The HTTP/2 conversion
# (fuzz_h2) starts from the small corpus kept in tests/fuzz/h2-seeds. FUZZ_SECONDS sets the run
# time per target.
set -eu
cd "$(dirname "$0")/../.."
OUT=${FUZZ_OUT:-build/fuzz}
SECS=${FUZZ_SECONDS:-20}
VEC=${CX_HTTP_VECTORS:-tests/data/llhttp}
CC=${FUZZ_CC:-clang}
mkdir -p "$OUT"

# Seeds: the vectors (kept in the repository, so missing ones are an error)
# plus a few of our own.
SEEDS="$OUT/seeds"
rm -rf "$SEEDS"; mkdir -p "$SEEDS"
if ! cp "$VEC"/*.bin "$SEEDS"/; then
	echo "fuzz: no vectors at $VEC (set CX_HTTP_VECTORS)" >&2
	exit 1
fi
printf 'GET / HTTP/1.1\r\nHost: a\r\n\r\n' > "$SEEDS/s1"
printf 'POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5;a="b"\r\nhello\r\n0\r\nT: 1\r\n\r\n' > "$SEEDS/s2"
printf 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok' > "$SEEDS/s3"
printf 'PUT / HTTP/1.0\r\nContent-Length: 3\r\nConnection: keep-alive\r\n\r\nabc' > "$SEEDS/s4"

# The manifest target starts from the real convox.yml corpus.
MSEEDS="$OUT/seeds-manifest"
rm -rf "$MSEEDS"; mkdir -p "$MSEEDS"
CORPUS=${CX_CORPUS:-tests/data/convox-yml-corpus}
if ! cp "$CORPUS"/*.yml "$MSEEDS"/; then
	echo "fuzz: no convox.yml corpus at $CORPUS (set CX_CORPUS)" >&2
	exit 1
fi
cp examples/hello/*.yml "$MSEEDS"/

status=0
for src in tests/fuzz/fuzz_*.c; do
	name=$(basename "$src" .c)
	bin="$OUT/$name"
	corpus="$OUT/corpus-$name"
	mkdir -p "$corpus"
	case $name in
	fuzz_manifest) deps="src/rackd/manifest.c src/rackd/resource_kind.c src/common/util.c"; libs="-lyaml"; seeds=$MSEEDS; maxlen=16384 ;;
	fuzz_h2) deps="src/router/h2conv.c src/router/rewrite.c src/common/http1.c src/common/util.c"; libs=""; seeds=tests/fuzz/h2-seeds; maxlen=8192 ;;
	*) deps="src/common/http1.c src/common/util.c"; libs=""; seeds=$SEEDS; maxlen=4096 ;;
	esac
	$CC -g -O1 -std=c17 -D_GNU_SOURCE -Isrc -fsanitize=fuzzer,address,undefined \
	    -fno-sanitize-recover=undefined -o "$bin" "$src" $deps $libs
	echo "fuzz: $name for ${SECS}s"
	if ! "$bin" -max_total_time="$SECS" -max_len=$maxlen -timeout=10 \
	    -artifact_prefix="$OUT/$name-" "$corpus" "$seeds" >"$OUT/$name.log" 2>&1; then
		echo "fuzz: $name FAILED; see $OUT/$name.log and $OUT/$name-crash-*" >&2
		tail -40 "$OUT/$name.log" >&2
		status=1
	else
		tail -1 "$OUT/$name.log"
	fi
done
exit $status
