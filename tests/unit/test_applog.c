/*
 * test_applog.c — finding where a time starts in a log (log_offset_at), on
 * real files: the first line stamped at or after the time, the start or the
 * end when every line is newer or older, lines of every length (one longer
 * than the bisection's reads), equal stamps, and a missing file.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/util.h"
#include "rackd/applog.h"

#define T0 1800000000   /* 2027-01-15T08:00:00Z */

static char path[64];
static int64_t starts[400];   /* offset of line i */
static int64_t times[400];    /* its stamp */
static size_t nlines;
static int64_t size;

/* A log of n lines, stamps T0 + i / 3 (three lines a second), text of
 * varied length: every 50th line is 9000 bytes long. */
static void
write_log(size_t n)
{
	FILE *f = fopen(path, "w");
	char stamp[32], *long_text = malloc(9001);

	assert_non_null(f);
	memset(long_text, 'x', 9000);
	long_text[9000] = '\0';
	nlines = n;
	for (size_t i = 0; i < n; i++) {
		time_t t = (time_t)(T0 + (int64_t)i / 3);
		struct tm tm;

		gmtime_r(&t, &tm);
		strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
		starts[i] = ftell(f);
		times[i] = t;
		fprintf(f, "%s service/web/web-1 line %zu %s\n", stamp, i,
		    i % 50 == 7 ? long_text : "short");
	}
	size = ftell(f);
	fclose(f);
	free(long_text);
}

static int
setup(void **state)
{
	int fd;

	(void)state;
	snprintf(path, sizeof(path), "/tmp/cx-applog.XXXXXX");
	fd = mkstemp(path);
	if (fd == -1)
		return -1;
	close(fd);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	unlink(path);
	return 0;
}

/* The offset of the first line with a stamp >= t, by reading the table. */
static int64_t
expected(int64_t t)
{
	for (size_t i = 0; i < nlines; i++)
		if (times[i] >= t)
			return starts[i];
	return size;
}

static void
test_every_second(void **state)
{
	(void)state;
	write_log(400);
	for (int64_t t = T0 - 2; t <= T0 + 400 / 3 + 2; t++)
		assert_int_equal(log_offset_at(path, t), expected(t));
	/* Three lines share each stamp: the first of them is the answer. */
	assert_int_equal(log_offset_at(path, T0 + 10), starts[30]);
}

static void
test_small_and_empty(void **state)
{
	(void)state;
	write_log(1);
	assert_int_equal(log_offset_at(path, T0), 0);
	assert_int_equal(log_offset_at(path, T0 + 1), size);
	write_log(0);
	assert_int_equal(log_offset_at(path, T0), 0);
	assert_int_equal(log_offset_at("/nonexistent/cx.log", T0), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_every_second, setup, teardown),
		cmocka_unit_test_setup_teardown(test_small_and_empty, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
