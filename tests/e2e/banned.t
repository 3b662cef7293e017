#!/usr/bin/env bash
# The banned-function check that `make` runs over src/: it names the file,
# line and function of a call, and passes names that only contain a banned
# one (snprintf, strtok_r, fgets).
. "$(dirname "$0")/lib.sh"

check="$ROOT/scripts/banned.sh"

mkdir -p "$TMP/bad" "$TMP/clean"
printf 'int\nf(char *b)\n{\n\treturn sprintf(b, "%%d", 1);\n}\n' > "$TMP/bad/one.c"
out=$(sh "$check" "$TMP/bad" 2>&1); rc=$?
is "$rc" 1 "a call of sprintf fails the check"
is "$out" "$TMP/bad/one.c:4: banned function sprintf; use snprintf instead" \
	"...naming the file, the line and what to use"

cat > "$TMP/bad/more.c" <<'C'
int n = atoi (s); char *t = strtok(s, ","); strcpy(a, b);strcat(a, b);
C
out=$(sh "$check" "$TMP/bad/more.c" 2>&1); rc=$?
is "$rc" 1 "atoi, strtok, strcpy, strcat fail it"
is "$(printf '%s\n' "$out" | sed 's/.*banned function \([a-z]*\);.*/\1/' | tr '\n' ' ')" \
	"atoi strtok strcpy strcat " "...each of them reported, a space before ( included"

cat > "$TMP/clean/ok.c" <<'C'
static int my_strcpy(char *a) { return a != 0; }
int g(char *b, size_t n, char *s, char **save, FILE *f)
{
	snprintf(b, n, "%d", 1);
	vsnprintf(b, n, "%d", ap);
	strtok_r(s, ",", save);
	fgets(b, (int)n, f);
	strncat(b, s, n);
	return my_strcpy(b) + atoi_like + sprintf_count;
}
C
out=$(sh "$check" "$TMP/clean" 2>&1); rc=$?
is "$rc" 0 "snprintf, vsnprintf, strtok_r, fgets, strncat and longer names pass"
is "$out" "" "...without a word"

out=$(sh "$check" "$ROOT/src" 2>&1); rc=$?
is "$rc" 0 "src/ itself is clean"
[ "$rc" -eq 0 ] || printf '# %s\n' "$out"

done_testing
