/*
 * test_cgroup.c — the path logic of cgroup v2's leaf (cgroup_v2_base): the
 * rack's groups sit beside the leaf the daemon moves itself into, whether it
 * is in its group still or in the leaf already (a daemon started again).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "rackd/cgroup.h"

static void
test_v2_base(void **state)
{
	static const char *const cases[][2] = {
		{ "/system.slice/cx.service", "/system.slice/cx.service" },
		{ "/system.slice/cx.service/" CGROUP_V2_LEAF, "/system.slice/cx.service" },
		{ "/" CGROUP_V2_LEAF, "/" },
		{ "/", "/" },
		{ "/a/not-" CGROUP_V2_LEAF, "/a/not-" CGROUP_V2_LEAF },
		{ "/a/" CGROUP_V2_LEAF "/b", "/a/" CGROUP_V2_LEAF "/b" },
	};
	char out[256], small[8], same[64];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(cgroup_v2_base(cases[i][0], out, sizeof(out)), 0);
		assert_string_equal(out, cases[i][1]);
	}
	/* Too long for out: refused, not cut. */
	assert_int_equal(cgroup_v2_base("/a/long/group", small, sizeof(small)), -1);
	/* In place. */
	snprintf(same, sizeof(same), "/u/%s", CGROUP_V2_LEAF);
	assert_int_equal(cgroup_v2_base(same, same, sizeof(same)), 0);
	assert_string_equal(same, "/u");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_v2_base),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
