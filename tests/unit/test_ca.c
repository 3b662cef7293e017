/*
 * test_ca.c — the rack's CA in a temporary rack directory: made once with
 * its modes, kept (the same certificate) on every later start, and a CA
 * half there, corrupt, or another rack's refused in one line naming the
 * file, with nothing written over it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "rackd/ca.h"

static char dir[64], cert[128], key[128];

static int
setup(void **state)
{
	(void)state;
	log_init("test_ca", false);
	snprintf(dir, sizeof(dir), "/tmp/cx-ca.XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(cert, sizeof(cert), "%s/ca.pem", dir);
	snprintf(key, sizeof(key), "%s/ca.key", dir);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	return remove_tree(dir);
}

static void
test_made_once_then_kept(void **state)
{
	char err[512], *first, *again, *onfile;
	struct stat sb;
	bool made;
	mode_t old = umask(077);

	(void)state;
	first = ca_ensure(dir, "dev", &made, err, sizeof(err));
	umask(old);
	assert_non_null(first);
	assert_true(made);
	assert_true(str_has_prefix(first, "-----BEGIN CERTIFICATE-----\n"));
	assert_int_equal(stat(key, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0600);
	assert_int_equal(sb.st_uid, geteuid());
	assert_int_equal(stat(cert, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0644);
	onfile = read_file(cert, 1 << 16, NULL);
	assert_string_equal(onfile, first);

	again = ca_ensure(dir, "dev", &made, err, sizeof(err));
	assert_non_null(again);
	assert_false(made);
	assert_string_equal(again, first);
	free(first);
	free(again);
	free(onfile);
}

/* ca_ensure(dir, rack) fails with an error holding want, and leaves ca.pem
 * and ca.key as they were. */
static void
refused(const char *rack, const char *want)
{
	char err[512], *pem_before = read_file(cert, 1 << 16, NULL),
	    *key_before = read_file(key, 1 << 16, NULL), *pem_after, *key_after;
	bool made = true;

	assert_null(ca_ensure(dir, rack, &made, err, sizeof(err)));
	assert_false(made);
	if (strstr(err, want) == NULL)
		fail_msg("\"%s\" lacks \"%s\"", err, want);
	assert_null(strchr(err, '\n'));
	pem_after = read_file(cert, 1 << 16, NULL);
	key_after = read_file(key, 1 << 16, NULL);
	assert_true((pem_before == NULL) == (pem_after == NULL));
	assert_true((key_before == NULL) == (key_after == NULL));
	if (pem_before != NULL)
		assert_string_equal(pem_before, pem_after);
	if (key_before != NULL)
		assert_string_equal(key_before, key_after);
	free(pem_before);
	free(key_before);
	free(pem_after);
	free(key_after);
}

static void
test_refusals(void **state)
{
	char err[512], moved[160], *pem;
	bool made;

	(void)state;
	pem = ca_ensure(dir, "dev", &made, err, sizeof(err));
	assert_non_null(pem);
	free(pem);

	refused("prod", "/ca.pem is not the CA of rack prod (its subject is \"cx rack dev CA\")");

	snprintf(moved, sizeof(moved), "%s/ca.key.saved", dir);
	assert_int_equal(rename(key, moved), 0);
	refused("dev", "/ca.pem exists without ");
	assert_int_equal(rename(moved, key), 0);

	snprintf(moved, sizeof(moved), "%s/ca.pem.saved", dir);
	assert_int_equal(rename(cert, moved), 0);
	refused("dev", "/ca.key exists without ");
	assert_int_equal(rename(moved, cert), 0);

	assert_int_equal(write_file_atomic(key, "garbage\n", 8, 0600), 0);
	refused("dev", "/ca.key: not a PEM private key: ");
	assert_int_equal(write_file_atomic(cert, "-----BEGIN CERTIFICATE-----\n", 28, 0644), 0);
	refused("dev", "/ca.pem: not a PEM certificate: ");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_made_once_then_kept),
		cmocka_unit_test(test_refusals),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
