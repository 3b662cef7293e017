#!/bin/sh
# banned.sh — refuses C library calls that cannot be bounded or checked, as
# curl's checksrc does: `make` runs it over src/ and fails on a hit.
#
#   sh scripts/banned.sh [FILE|DIR...]     (default: src)
#
# Prints `file:line: banned function NAME; use X instead` for every call
# (a name standing alone, then optional blanks, then "("), and exits 1 if
# there was one; 0 on clean input. Names inside longer identifiers
# (snprintf, strtok_r, fgets, my_strcpy) are not calls of the banned ones.
# Only .c and .h files of a directory are read.

set -u
[ $# -gt 0 ] || set -- src

files=$(find "$@" -type f \( -name '*.c' -o -name '*.h' \) | LC_ALL=C sort)
[ -n "$files" ] || { echo "banned.sh: no C files in $*" >&2; exit 2; }

# shellcheck disable=SC2086  # file names in this tree have no blanks
LC_ALL=C awk '
BEGIN {
	use["atoi"] = "parse_int (common/util.h)"
	use["atol"] = "parse_long (common/util.h)"
	use["strcpy"] = "str_copy (common/util.h)"
	use["strcat"] = "a struct buf or snprintf"
	use["sprintf"] = "snprintf"
	use["vsprintf"] = "vsnprintf"
	use["gets"] = "fgets"
	use["strtok"] = "strtok_r"
	hits = 0
}
{
	line = $0
	while (match(line, /(^|[^A-Za-z0-9_])(atoi|atol|strcpy|strcat|sprintf|vsprintf|gets|strtok)[ \t]*\(/)) {
		call = substr(line, RSTART, RLENGTH)
		sub(/^[^A-Za-z]/, "", call)
		sub(/[ \t]*\($/, "", call)
		printf "%s:%d: banned function %s; use %s instead\n", FILENAME, FNR, call, use[call]
		hits++
		line = substr(line, RSTART + RLENGTH)
	}
}
END { exit hits > 0 ? 1 : 0 }
' $files
