/*
 * test_certs.c — the public router's certificates in a temporary rack
 * directory: one per host, signed by the rack's CA, with the domain as SAN
 * and a 0600 key; kept while the host stays, removed when it goes, and a
 * name that is not one refused.
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
#include "common/tls.h"
#include "common/util.h"
#include "rackd/ca.h"
#include "rackd/certs.h"

static char dir[64];

static int
setup(void **state)
{
	char err[512];
	bool made;
	char *pem;

	(void)state;
	log_init("test_certs", false);
	snprintf(dir, sizeof(dir), "/tmp/cx-certs.XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	pem = ca_ensure(dir, "r1", &made, err, sizeof(err));
	if (pem == NULL) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	free(pem);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	return remove_tree(dir);
}

/* The fingerprint of certs/HOST.pem, checked against its key and the CA. */
static void
cert_of(const char *host, char fp[TLS_FINGERPRINT_SIZE])
{
	char cert[256], key[256], err[512];
	struct tls_id *id;
	struct tls_ctx *ctx;
	struct stat sb;

	snprintf(cert, sizeof(cert), "%s/certs/%s.pem", dir, host);
	snprintf(key, sizeof(key), "%s/certs/%s.key", dir, host);
	assert_int_equal(stat(key, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	id = tls_id_load(cert, key, err, sizeof(err));
	if (id == NULL)
		fail_msg("%s", err);
	ctx = tls_ctx_server_new(id, NULL, err, sizeof(err));
	assert_non_null(ctx);
	tls_ctx_free(ctx);
	assert_false(tls_id_is_ca(id));
	tls_id_cn(id, err, sizeof(err));
	assert_string_equal(err, host);
	tls_id_fingerprint(id, fp);
	tls_id_free(id);
}

static bool
exists(const char *host, const char *ext)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/certs/%s.%s", dir, host, ext);
	return access(path, F_OK) == 0;
}

static void
test_sync(void **state)
{
	static const char *const two[] = { "web.a.r1.localhost", "shop.example.com" };
	static const char *const one[] = { "shop.example.com" };
	char fp1[TLS_FINGERPRINT_SIZE], fp2[TLS_FINGERPRINT_SIZE], err[512];
	char path[256];
	struct stat sb;
	bool changed;

	(void)state;
	assert_int_equal(certs_sync(dir, two, 2, &changed, err, sizeof(err)), 0);
	assert_true(changed);
	cert_of("web.a.r1.localhost", fp1);
	cert_of("shop.example.com", fp2);
	snprintf(path, sizeof(path), "%s/certs", dir);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0700);

	/* Nothing new: nothing written. */
	assert_int_equal(certs_sync(dir, two, 2, &changed, err, sizeof(err)), 0);
	assert_false(changed);

	/* A host gone: its files go, the other's stay as they were. */
	assert_int_equal(certs_sync(dir, one, 1, &changed, err, sizeof(err)), 0);
	assert_true(changed);
	assert_false(exists("web.a.r1.localhost", "pem"));
	assert_false(exists("web.a.r1.localhost", "key"));
	{
		char fp[TLS_FINGERPRINT_SIZE];

		cert_of("shop.example.com", fp);
		assert_string_equal(fp, fp2);
	}
	/* A certificate whose key is missing is issued anew. */
	snprintf(path, sizeof(path), "%s/certs/shop.example.com.key", dir);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(certs_sync(dir, one, 1, &changed, err, sizeof(err)), 0);
	assert_true(changed);
	cert_of("shop.example.com", fp1);
	assert_string_not_equal(fp1, fp2);
}

static void
test_bad_names(void **state)
{
	static const char *const escape[] = { "../ca" }, *const bad[] = { "a b" };
	char err[512];
	bool changed;

	(void)state;
	assert_int_equal(certs_sync(dir, escape, 1, &changed, err, sizeof(err)), -1);
	assert_string_equal(err, "no certificate for host \"../ca\": not a name for a file");
	assert_int_equal(certs_sync(dir, bad, 1, &changed, err, sizeof(err)), -1);
	assert_string_equal(err, "\"a b\" is neither a DNS name nor an IP address");
	assert_false(exists("a b", "pem"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sync),
		cmocka_unit_test(test_bad_names),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
