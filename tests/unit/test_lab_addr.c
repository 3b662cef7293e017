/*
 * test_lab_addr.c — the lab's address helpers that need no root and no
 * namespaces: the whitelist parser at the edges of its buffers. A host
 * address gets "/32" appended in a fixed buffer, so the inputs here are the
 * longest ones on either side of what fits.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "lab/lab_int.h"

/* A bare address of n characters: digits, so only its length can refuse it. */
static void
digits(char *out, size_t n)
{
	memset(out, '1', n);
	out[n] = '\0';
}

static void
test_bare_address_too_long(void **state)
{
	char in[64], out[256], err[256];

	(void)state;
	/* 31 characters: the most the length check let through before, with no
	 * room for "/32" after them. */
	digits(in, 31);
	err[0] = '\0';
	assert_int_equal(lab_whitelist_check(in, out, sizeof(out), err, sizeof(err)), -1);
	assert_non_null(strstr(err, "bad CIDR"));
	/* 29: the shortest bare input whose "/32" does not fit. */
	digits(in, 29);
	err[0] = '\0';
	assert_int_equal(lab_whitelist_check(in, out, sizeof(out), err, sizeof(err)), -1);
	assert_non_null(strstr(err, "bad CIDR"));
	/* Far longer: refused, and the message stays short. */
	digits(in, 63);
	err[0] = '\0';
	assert_int_equal(lab_whitelist_check(in, out, sizeof(out), err, sizeof(err)), -1);
	assert_non_null(strstr(err, "bad CIDR"));
	assert_true(strlen(err) < 80);
}

static void
test_bare_address_just_fits(void **state)
{
	char in[64], out[256], err[256];

	(void)state;
	/* 28 + "/32" fills the buffer: it reaches the parser, which refuses it. */
	digits(in, 28);
	err[0] = '\0';
	assert_int_equal(lab_whitelist_check(in, out, sizeof(out), err, sizeof(err)), -1);
	assert_non_null(strstr(err, "want networks like"));
}

static void
test_longest_valid(void **state)
{
	char out[256], err[256];

	(void)state;
	assert_int_equal(lab_whitelist_check(" 255.255.255.255 ", out, sizeof(out), err,
	    sizeof(err)), 0);
	assert_string_equal(out, "255.255.255.255/32");
	assert_int_equal(lab_whitelist_check("255.255.255.255/32,10.9.0.0/16", out, sizeof(out),
	    err, sizeof(err)), 0);
	assert_string_equal(out, "255.255.255.255/32,10.9.0.0/16");
	assert_int_equal(lab_whitelist_check("", out, sizeof(out), err, sizeof(err)), 0);
	assert_string_equal(out, "");
}

static void
test_with_prefix_too_long(void **state)
{
	/* 32 characters with a slash: no suffix is added, still one too many. */
	const char *in = "0000000010.000000009.0.0/0000016";
	char out[256], err[256];

	(void)state;
	assert_int_equal(strlen(in), 32);
	assert_int_equal(lab_whitelist_check(in, out, sizeof(out), err, sizeof(err)), -1);
	assert_non_null(strstr(err, "bad CIDR"));
}

static void
test_output_too_small(void **state)
{
	char out[20], err[256];

	(void)state;
	/* 18 bytes fit in 20; two of them do not. */
	assert_int_equal(lab_whitelist_check("255.255.255.255", out, sizeof(out), err,
	    sizeof(err)), 0);
	assert_int_equal(lab_whitelist_check("255.255.255.255,10.0.0.0/8", out, sizeof(out), err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "too long"));
	assert_int_equal(lab_whitelist_check("", out, 1, err, sizeof(err)), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bare_address_too_long),
		cmocka_unit_test(test_bare_address_just_fits),
		cmocka_unit_test(test_longest_valid),
		cmocka_unit_test(test_with_prefix_too_long),
		cmocka_unit_test(test_output_too_small),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
