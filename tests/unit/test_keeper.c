/*
 * test_keeper.c — the keeper's back-off: at once after a daemon that ran,
 * then doubling from 250 ms, never above the cap however long the loop.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "rackd/keeper.h"

static void
test_backoff(void **state)
{
	int64_t want[] = { 0, 250, 500, 1000, 2000, 4000, 8000, 16000, 30000, 30000 };

	(void)state;
	for (int i = 0; i < (int)(sizeof(want) / sizeof(want[0])); i++)
		assert_int_equal(keeper_backoff_ms(i), want[i]);
	assert_int_equal(keeper_backoff_ms(-1), 0);
	assert_int_equal(keeper_backoff_ms(1000000), KEEPER_BACKOFF_MAX_MS);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_backoff),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
