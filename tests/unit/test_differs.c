/*
 * test_differs.c — every paragraph of "where cx differs from Convox" belongs
 * to a command of the table, so `cx help COMMAND` shows each one.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "cli/cli.h"

static void
test_every_entry_names_a_command(void **state)
{
	(void)state;
	assert_null(cli_convox_differs_stale());
	assert_non_null(cli_convox_differs("scale"));
	assert_null(cli_convox_differs("ps"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_entry_names_a_command),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
