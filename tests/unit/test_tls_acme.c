/*
 * test_tls_acme.c — the certificate facts and ACME crypto of tls_acme.c:
 * base64url, wildcard cover, what an import accepts (its own key, valid
 * now, not a CA's), the account key kept 0600 and reloaded with the same
 * thumbprint, a JWS of three base64url parts, and a CSR.
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

#include "common/tls.h"
#include "common/tls_acme.h"
#include "common/util.h"

static void
test_b64url(void **state)
{
	char out[16];
	const unsigned char ff[] = { 0xfb, 0xff };

	(void)state;
	tls_b64url("f", 1, out);
	assert_string_equal(out, "Zg");
	tls_b64url("fo", 2, out);
	assert_string_equal(out, "Zm8");
	tls_b64url("foo", 3, out);
	assert_string_equal(out, "Zm9v");
	tls_b64url(ff, 2, out);
	assert_string_equal(out, "-_8");
}

static void
test_covers(void **state)
{
	(void)state;
	assert_true(tls_name_covers("a.example.com", "a.example.com"));
	assert_true(tls_name_covers("*.example.com", "a.example.com"));
	assert_false(tls_name_covers("*.example.com", "a.b.example.com"));
	assert_false(tls_name_covers("*.example.com", "example.com"));
	assert_false(tls_name_covers("b.example.com", "a.example.com"));
}

static void
test_pair(void **state)
{
	static const char *const names[] = { "shop.example.com", "*.example.org" };
	struct tls_id *ca, *leaf, *other;
	struct tls_cert_info info;
	char err[512], *cert, *capem, key[4096], path[64];
	size_t n;

	(void)state;
	ca = tls_ca_new("r1", err, sizeof(err));
	assert_non_null(ca);
	leaf = tls_issue(ca, "shop.example.com", names, 2, TLS_USAGE_SERVER, 30, err, sizeof(err));
	other = tls_issue(ca, "x", NULL, 0, TLS_USAGE_SERVER, 30, err, sizeof(err));
	assert_non_null(leaf);
	assert_non_null(other);
	snprintf(path, sizeof(path), "/tmp/cx-tls-acme.XXXXXX");
	assert_non_null(mkdtemp(path));
	{
		char c[128], k[128], k2[128];
		char *kp;

		snprintf(c, sizeof(c), "%s/c.pem", path);
		snprintf(k, sizeof(k), "%s/c.key", path);
		snprintf(k2, sizeof(k2), "%s/o.key", path);
		assert_int_equal(tls_id_save(leaf, c, k, err, sizeof(err)), 0);
		kp = read_file(k, sizeof(key), &n);
		memcpy(key, kp, n + 1);
		free(kp);
		cert = tls_id_cert_pem(leaf, NULL);
		assert_int_equal(tls_pem_pair_check(cert, key, now_unix(), &info, err, sizeof(err)), 0);
		assert_int_equal(info.nnames, 2);
		assert_string_equal(info.names[1], "*.example.org");
		assert_true(tls_cert_covers(&info, "a.example.org"));
		assert_true(info.not_after > now_unix() + 29 * 86400);
		/* Thirty-one days on, it has expired. */
		assert_int_equal(tls_pem_pair_check(cert, key, now_unix() + 31 * 86400, &info, err,
		    sizeof(err)), -1);
		assert_non_null(strstr(err, "the certificate has expired"));
		/* Another key. */
		assert_int_equal(tls_id_save(other, c, k2, err, sizeof(err)), 0);
		kp = read_file(k2, sizeof(key), &n);
		assert_int_equal(tls_pem_pair_check(cert, kp, now_unix(), &info, err, sizeof(err)), -1);
		assert_string_equal(err, "the key is not the certificate's (they do not match)");
		free(kp);
		/* A CA's. */
		capem = tls_id_cert_pem(ca, NULL);
		assert_int_equal(tls_cert_info(capem, &info, err, sizeof(err)), 0);
		assert_true(info.is_ca);
		free(capem);
		assert_int_equal(tls_cert_info("junk", &info, err, sizeof(err)), -1);
		assert_non_null(strstr(err, "not a PEM certificate"));
	}
	free(cert);
	tls_id_free(leaf);
	tls_id_free(other);
	tls_id_free(ca);
	remove_tree(path);
}

static void
test_account_jws_csr(void **state)
{
	char dir[64], path[128], err[512], t1[48], t2[48], *jwk, *jws, *csr, *kp;
	struct tls_acme_key *k;
	struct stat sb;
	bool made;
	int dots = 0;

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/cx-tls-acme.XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/account.key", dir);
	k = tls_acme_key_load(path, &made, err, sizeof(err));
	assert_non_null(k);
	assert_true(made);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	tls_acme_thumbprint(k, t1);
	assert_int_equal(strlen(t1), 43);
	jwk = tls_acme_jwk(k);
	assert_true(str_has_prefix(jwk, "{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\""));
	free(jwk);
	jws = tls_acme_jws(k, NULL, "nonce1", "https://acme.test/new-acct", "{}", err, sizeof(err));
	assert_non_null(jws);
	assert_true(str_has_prefix(jws, "{\"protected\":\""));
	assert_non_null(strstr(jws, "\"payload\":\"e30\""));   /* base64url of {} */
	{
		/* ES256: 64 bytes of r||s, 86 characters. */
		const char *sig = strstr(jws, "\"signature\":\"") + 13;

		assert_int_equal(strcspn(sig, "\""), 86);
	}
	free(jws);
	tls_acme_key_free(k);
	k = tls_acme_key_load(path, &made, err, sizeof(err));
	assert_non_null(k);
	assert_false(made);
	tls_acme_thumbprint(k, t2);
	assert_string_equal(t1, t2);
	tls_acme_key_free(k);
	{
		static const char *const names[] = { "web.example.test" };

		csr = tls_acme_csr(names, 1, &kp, err, sizeof(err));
		assert_non_null(csr);
		assert_non_null(kp);
		assert_true(str_has_prefix(kp, "-----BEGIN PRIVATE KEY-----"));
		for (const char *c = csr; *c != '\0'; c++)
			dots += *c == '=' || *c == '+' || *c == '/';
		assert_int_equal(dots, 0);
		free(csr);
		free(kp);
	}
	remove_tree(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_b64url),
		cmocka_unit_test(test_covers),
		cmocka_unit_test(test_pair),
		cmocka_unit_test(test_account_jws_csr),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
