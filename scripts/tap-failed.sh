#!/bin/sh
# tap-failed.sh DIR — after a failed e2e run whose TAP prove spooled into DIR
# (PERL_TEST_HARNESS_DUMP_TAP), print the whole TAP of each file that has a
# "not ok" line or no plan, so a CI log says what ran before a failure and
# what the test noted, not only the failing check.
dir=${1:?usage: tap-failed.sh DIR}
find "$dir" -type f -name '*.t' | sort | while read -r f; do
	if grep -q '^not ok' "$f" || ! grep -q '^1\.\.[0-9]' "$f"; then
		echo "=== TAP of ${f#"$dir"/}"
		cat "$f"
	fi
done
