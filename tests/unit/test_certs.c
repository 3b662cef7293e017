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
#include "common/tls_acme.h"
#include "rackd/certs.h"
#include "rackd/store.h"

static char dir[64];
static struct store *st;

static int
setup(void **state)
{
	char err[512], path[128];
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
	snprintf(path, sizeof(path), "%s/db", dir);
	if ((st = store_open(path, err, sizeof(err))) == NULL) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	store_close(st);
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
	static const struct certs_host two[] = { { "web.a.r1.localhost", "a", "web" },
	    { "shop.example.com", "shop", "web" } };
	static const struct certs_host one[] = { { "shop.example.com", "shop", "web" } };
	char fp1[TLS_FINGERPRINT_SIZE], fp2[TLS_FINGERPRINT_SIZE], err[512];
	char path[256];
	struct stat sb;
	bool changed;

	(void)state;
	assert_int_equal(certs_sync(st, dir, two, 2, &changed, err, sizeof(err)), 0);
	assert_true(changed);
	cert_of("web.a.r1.localhost", fp1);
	cert_of("shop.example.com", fp2);
	snprintf(path, sizeof(path), "%s/certs", dir);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0700);

	/* Nothing new: nothing written. */
	assert_int_equal(certs_sync(st, dir, two, 2, &changed, err, sizeof(err)), 0);
	assert_false(changed);

	/* A host gone: its files go, the other's stay as they were. */
	assert_int_equal(certs_sync(st, dir, one, 1, &changed, err, sizeof(err)), 0);
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
	assert_int_equal(certs_sync(st, dir, one, 1, &changed, err, sizeof(err)), 0);
	assert_true(changed);
	cert_of("shop.example.com", fp1);
	assert_string_not_equal(fp1, fp2);
}

static void
test_bad_names(void **state)
{
	static const struct certs_host escape[] = { { "../ca", "a", "web" } },
	    bad[] = { { "a b", "a", "web" } };
	char err[512];
	bool changed;

	(void)state;
	assert_int_equal(certs_sync(st, dir, escape, 1, &changed, err, sizeof(err)), -1);
	assert_string_equal(err, "no certificate for host \"../ca\": not a name for a file");
	assert_int_equal(certs_sync(st, dir, bad, 1, &changed, err, sizeof(err)), -1);
	assert_string_equal(err, "\"a b\" is neither a DNS name nor an IP address");
	assert_false(exists("a b", "pem"));
}

static bool
same_file(const char *a, const char *b)
{
	struct stat sa, sb;

	return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_ino == sb.st_ino;
}

/* A generated certificate bound to the service is served for the domains it
 * names; an ACME one for its domain when none is bound; deleting it brings
 * the domain's own back. Rack-CA rows follow their domains. */
static void
test_chosen(void **state)
{
	static const struct certs_host hs[] = { { "shop.example.com", "shop", "web" },
	    { "web.shop.r1.localhost", "shop", "web" }, { "api.example.com", "shop", "api" } };
	static const char *const names[] = { "shop.example.com", "*.example.org" };
	struct st_binding b = { .app = "shop", .service = "web", .port = 443 };
	char err[512], dom[256], *cpem, *kpem;
	struct st_cert gen, acme, *cs;
	size_t n, own = 0;
	bool changed;

	(void)state;
	assert_int_equal(certs_sync(st, dir, hs, 3, &changed, err, sizeof(err)), 0);
	assert_int_equal(store_cert_list(st, &cs, &n), 0);
	for (size_t i = 0; i < n; i++)
		own += strcmp(cs[i].source, "rack-ca") == 0;
	assert_int_equal(own, 3);
	store_cert_list_free(cs, n);

	if (certs_generate(st, dir, names, 2, &gen, err, sizeof(err)) == -1)
		fail_msg("%s", err);
	assert_string_equal(gen.domains, "shop.example.com,*.example.org");
	assert_string_equal(gen.source, "generated");
	assert_true(gen.expires > now_unix());
	assert_int_equal(store_app_create(st, "shop", 0), 0);
	str_copy(b.cert, sizeof(b.cert), gen.id);
	assert_int_equal(store_binding_set(st, &b), 0);
	assert_int_equal(certs_sync(st, dir, hs, 3, &changed, err, sizeof(err)), 0);
	assert_true(changed);
	snprintf(dom, sizeof(dom), "%s/certs/shop.example.com.pem", dir);
	assert_true(same_file(dom, gen.cert_path));
	snprintf(dom, sizeof(dom), "%s/certs/web.shop.r1.localhost.pem", dir);
	assert_false(same_file(dom, gen.cert_path));   /* not among its names */
	assert_int_equal(certs_delete(st, dir, gen.id, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "serves web:443 of app shop"));

	/* An ACME certificate of api.example.com (here issued by the rack CA). */
	cpem = read_file(gen.cert_path, 65536, NULL);
	kpem = read_file(gen.key_path, 65536, NULL);
	{
		struct st_cert g2;
		static const char *const api[] = { "api.example.com" };

		assert_int_equal(certs_generate(st, dir, api, 1, &g2, err, sizeof(err)), 0);
		free(cpem);
		free(kpem);
		cpem = read_file(g2.cert_path, 65536, NULL);
		kpem = read_file(g2.key_path, 65536, NULL);
		assert_int_equal(certs_delete(st, dir, g2.id, err, sizeof(err)), 0);
		store_cert_free(&g2);
	}
	assert_int_equal(certs_add(st, dir, "acme", cpem, kpem, &acme, err, sizeof(err)), 0);
	free(cpem);
	free(kpem);
	assert_int_equal(certs_sync(st, dir, hs, 3, &changed, err, sizeof(err)), 0);
	snprintf(dom, sizeof(dom), "%s/certs/api.example.com.pem", dir);
	assert_true(same_file(dom, acme.cert_path));
	snprintf(dom, sizeof(dom), "%s/certs/api.example.com.key", dir);
	{
		struct stat sb;

		assert_int_equal(stat(dom, &sb), 0);
		assert_int_equal(sb.st_mode & 0777, 0600);
	}
	assert_int_equal(certs_delete(st, dir, acme.id, err, sizeof(err)), 0);
	assert_false(exists("api.example.com", "pem"));
	assert_int_equal(certs_sync(st, dir, hs, 3, &changed, err, sizeof(err)), 0);
	assert_true(exists("api.example.com", "pem"));
	{
		char fp[TLS_FINGERPRINT_SIZE];

		cert_of("api.example.com", fp);
	}
	/* A domain gone takes its own row along. */
	assert_int_equal(certs_sync(st, dir, hs, 1, &changed, err, sizeof(err)), 0);
	assert_int_equal(store_cert_list(st, &cs, &n), 0);
	own = 0;
	for (size_t i = 0; i < n; i++)
		own += strcmp(cs[i].source, "rack-ca") == 0;
	assert_int_equal(own, 0);   /* shop.example.com is served with the bound one */
	store_cert_list_free(cs, n);
	store_cert_free(&gen);
	store_cert_free(&acme);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sync),
		cmocka_unit_test(test_bad_names),
		cmocka_unit_test(test_chosen),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
