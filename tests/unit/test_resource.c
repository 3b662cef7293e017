/*
 * test_resource.c — the resource module's checks as the manifest parser
 * applies them (an unknown type or option is a convox.yml:LINE:COL error,
 * an option a host cannot honour a notice), its URLs and its server
 * commands; and resource_env's NAME_URL injection (nothing provisioned:
 * the servers themselves are proven by tests/e2e/resources.t).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rackd/manifest.h"
#include "rackd/resource.h"
#include "rackd/resource_kind.h"

static struct manifest *
parse(const char *text, char *err, size_t errlen)
{
	return manifest_parse(text, strlen(text), "convox.yml", NULL, NULL, err, errlen);
}

static void
must_fail(const char *text, const char *want)
{
	char err[512];
	struct manifest *m = parse(text, err, sizeof(err));

	if (m != NULL) {
		manifest_free(m);
		fail_msg("expected \"%s\", but it loaded:\n%s", want, text);
	}
	assert_string_equal(err, want);
}

static void
test_types(void **state)
{
	static const char *const ok[] = { "postgres", "mysql", "mariadb", "redis", "memcached" };
	char buf[256], err[512];

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		struct manifest *m;

		snprintf(buf, sizeof(buf), "resources:\n  db:\n    type: %s\nservices:\n  web: {}\n", ok[i]);
		m = parse(buf, err, sizeof(err));
		assert_non_null(m);
		assert_string_equal(m->resources[0].type, ok[i]);
		assert_int_equal(m->nnotices, 0);
		manifest_free(m);
	}
	must_fail("resources:\n  db:\n    type: postgis\n",
	    "convox.yml:3:11: resources.db.type: unknown resource type postgis; a local rack runs "
	    "postgres, mysql, mariadb, redis and memcached");
	must_fail("services:\n  web:\n    port: 3000\nresources:\n  q:\n    type: aws-sqs\n",
	    "convox.yml:6:11: resources.q.type: unknown resource type aws-sqs; a local rack runs "
	    "postgres, mysql, mariadb, redis and memcached");
}

static void
test_options(void **state)
{
	char err[512];
	struct manifest *m;

	(void)state;
	m = parse("resources:\n  db:\n    type: postgres\n    options:\n      version: 14\n"
		  "      storage: 20\n      durable: false\nservices:\n  web: {}\n", err, sizeof(err));
	assert_non_null(m);
	assert_int_equal(m->nnotices, 2);
	assert_string_equal(m->notices[0], "convox.yml:5:7: resources.db.options.version (the rack "
	    "runs the server Debian installed; cx resources info shows which) is not acted on by "
	    "local racks");
	assert_string_equal(m->notices[1], "convox.yml:6:7: resources.db.options.storage (a size "
	    "cap: the data grows on the rack's disk) is not acted on by local racks");
	manifest_free(m);
	must_fail("resources:\n  db:\n    type: redis\n    options:\n      versoin: 7\n",
	    "convox.yml:5:7: resources.db.options.versoin: unknown option of a redis resource; it "
	    "takes version, storage, durable, class, size, nodes, encrypted, iops, "
	    "deletionProtection, backupRetentionPeriod, preferredBackupWindow and "
	    "preferredMaintenanceWindow");
	must_fail("resources:\n  db:\n    type: mysql\n    options:\n      storage: big\n",
	    "convox.yml:5:7: resources.db.options.storage: expected a whole number from 1 to "
	    "1000000, found \"big\"");
	must_fail("resources:\n  db:\n    type: mysql\n    options:\n      durable: maybe\n",
	    "convox.yml:5:7: resources.db.options.durable: expected true or false, found \"maybe\"");
	must_fail("resources:\n  db:\n    type: mysql\n    options: [1]\n",
	    "convox.yml:4:14: resources.db.options: expected a mapping, found a list");
}

static void
test_urls(void **state)
{
	char url[256];

	(void)state;
	res_kind_url(res_kind_find("postgres"), "127.0.0.1", 5000, "pw", url, sizeof(url));
	assert_string_equal(url, "postgres://app:pw@127.0.0.1:5000/app");
	res_kind_url(res_kind_find("mariadb"), "10.1.0.12", 3306, "pw", url, sizeof(url));
	assert_string_equal(url, "mysql://app:pw@10.1.0.12:3306/app");
	res_kind_url(res_kind_find("redis"), "127.0.0.1", 6000, "pw", url, sizeof(url));
	assert_string_equal(url, "redis://:pw@127.0.0.1:6000/0");
	res_kind_url(res_kind_find("memcached"), "127.0.0.1", 7000, "", url, sizeof(url));
	assert_string_equal(url, "memcached://127.0.0.1:7000");
	assert_null(res_kind_find("postgis"));
}

/* No password on a command line: other users of the host see those. */
static void
test_no_password_in_commands(void **state)
{
	static const char *const types[] = { "postgres", "mysql", "redis", "memcached" };

	(void)state;
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		const struct res_kind *k = res_kind_find(types[i]);
		char *start = res_kind_start_cmd(k, "/srv/resource", "127.0.0.1", 5555);
		char *prov = res_kind_provision_cmd(k, "/srv/resource");
		struct res_file f[2];
		size_t n;

		assert_null(strstr(start, "s3cr3t"));
		assert_non_null(strstr(start, "exec "));
		if (prov != NULL)
			assert_null(strstr(prov, "s3cr3t"));
		res_kind_files(k, "/srv/resource", "127.0.0.1", 5555, "s3cr3t", f, &n);
		assert_int_equal(n, k->password ? 1 : 0);
		for (size_t j = 0; j < n; j++) {
			assert_non_null(strstr(f[j].content, "s3cr3t"));
			free(f[j].content);
		}
		free(start);
		free(prov);
	}
}

/* With no resource provisioned, resource_env passes app_env through: the
 * variable stays required, as before. */
static void
test_env_without_resources(void **state)
{
	char err[512], *app_env[] = { "A=1", "DATABASE_URL=postgres://elsewhere/x", NULL };
	struct manifest *m;
	char **env;

	(void)state;
	m = parse("resources:\n  database:\n    type: postgres\nservices:\n  web:\n"
		  "    resources:\n      - database\n", err, sizeof(err));
	assert_non_null(m);
	env = resource_env(NULL, "app1", &m->services[0], app_env);
	assert_string_equal(env[0], "A=1");
	assert_string_equal(env[1], "DATABASE_URL=postgres://elsewhere/x");
	assert_null(env[2]);
	resource_env_free(env);
	manifest_free(m);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_types),
		cmocka_unit_test(test_options),
		cmocka_unit_test(test_urls),
		cmocka_unit_test(test_no_password_in_commands),
		cmocka_unit_test(test_env_without_resources),
	};

	return cmocka_run_group_tests_name("resource", tests, NULL, NULL);
}
