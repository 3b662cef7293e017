/*
 * test_snapshots.c — the tables the daemon hands on: the routers' route
 * snapshots and the lab DNS records, built from a rack held in memory (a
 * real store for its params, apps and processes made up here). A table that
 * would pass its limit must be refused whole, never cut short.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/util.h"
#include "rackd/discovery.h"
#include "rackd/manifest.h"
#include "rackd/rack.h"
#include "rackd/routers.h"
#include "rackd/store.h"
#include "router/routes.h"

static const char yml[] =
    "services:\n"
    "  web:\n"
    "    port: 3000\n"
    "    domain: www.example.test\n"
    "  db:\n"
    "    internal: true\n"
    "    port: 5432\n";

static char tmpdir[64];
static struct rack rack;        /* large: not on the stack */
static struct app app;

static int
setup(void **state)
{
	char path[128], err[256];

	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/cx-unit.XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	snprintf(path, sizeof(path), "%s/state.db", tmpdir);
	str_copy(rack.name, sizeof(rack.name), "big");
	rack.store = store_open(path, err, sizeof(err));
	if (rack.store == NULL)
		return -1;
	app.rack = &rack;
	str_copy(app.name, sizeof(app.name), "shop");
	str_copy(app.active, sizeof(app.active), "R1");
	app.active_gen = 1;
	app.manifest = manifest_parse(yml, strlen(yml), "convox.yml", NULL, NULL, err, sizeof(err));
	if (app.manifest == NULL)
		return -1;
	rack.apps = &app;
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	for (struct proc *p = app.procs, *next; p != NULL; p = next) {
		next = p->next;
		free(p);
	}
	manifest_free(app.manifest);
	store_close(rack.store);
	return remove_tree(tmpdir);
}

/* Adds n running processes of service to the app's active release. */
static void
add_procs(const char *service, size_t n, const char *addr)
{
	static unsigned seq;

	for (size_t i = 0; i < n; i++) {
		struct proc *p = calloc(1, sizeof(*p));

		assert_non_null(p);
		p->app = &app;
		p->gen = app.active_gen;
		p->state = PROC_RUNNING;
		p->pidfd = -1;
		snprintf(p->st.id, sizeof(p->st.id), "%s-%08x", service, seq++);
		str_copy(p->st.service, sizeof(p->st.service), service);
		str_copy(p->st.address, sizeof(p->st.address), addr);
		p->st.port = 40000;
		p->next = app.procs;
		app.procs = p;
	}
}

/* One line each of web's up records, in the public snapshot: its two hosts. */
#define UP_LINE "up web-00000000 127.0.0.1 40000\n"
#define UP_BYTES (2 * (sizeof(UP_LINE) - 1))
/* One address of db in its DNS records (it has two names), and one of web. */
#define DB_ADDR "10.200.200.200"
#define DB_BYTES (2 * sizeof(DB_ADDR))
#define WEB_DNS_BYTES (2 * sizeof("127.0.0.1"))

static void
test_limit_is_the_routers(void **state)
{
	(void)state;
	/* cx-router refuses a file larger than this: the daemon must not write one. */
	assert_int_equal(ROUTERS_SNAPSHOT_MAX, ROUTES_MAX_FILE);
}

static void
test_small_tables(void **state)
{
	char *out, err[256];

	(void)state;
	add_procs("web", 2, "127.0.0.1");
	add_procs("db", 2, DB_ADDR);
	assert_int_equal(routers_snapshot(&rack, false, &out, err, sizeof(err)), 0);
	assert_true(str_has_prefix(out, "cx-routes 1\n"));
	assert_non_null(strstr(out, "host web.shop.big.localhost shop web "));
	assert_non_null(strstr(out, "host www.example.test shop web "));
	assert_non_null(strstr(out, "up web-"));
	assert_null(strstr(out, "db"));                 /* internal: not routed */
	free(out);
	assert_int_equal(routers_snapshot(&rack, true, &out, err, sizeof(err)), 0);
	assert_string_equal(out, "cx-routes 1\nallow 127.0.0.1/32\n");
	free(out);
	assert_int_equal(discovery_records(&rack, &out, err, sizeof(err)), 0);
	/* Every service with a port, internal or not: both of its names. */
	assert_string_equal(out, "web.shop.big.local 127.0.0.1 127.0.0.1\n"
	    "web.big-shop.svc.cluster.local 127.0.0.1 127.0.0.1\n"
	    "db.shop.big.local " DB_ADDR " " DB_ADDR "\n"
	    "db.big-shop.svc.cluster.local " DB_ADDR " " DB_ADDR "\n");
	free(out);
}

/* A loopback rack run as root: its processes come in by the bridge (.2,
 * DNATed to the internal router), so the internal router admits the rack's
 * CIDR and the rack DNS answers the internal domain with .2. */
static void
test_loopback_netns(void **state)
{
	char *out, err[256];

	(void)state;
	rack.netns = true;
	str_copy(rack.cidr, sizeof(rack.cidr), "10.130.0.0/16");
	str_copy(rack.private_addr, sizeof(rack.private_addr), "10.130.0.2");
	assert_int_equal(routers_snapshot(&rack, true, &out, err, sizeof(err)), 0);
	assert_string_equal(out, "cx-routes 1\nallow 127.0.0.1/32\nallow 10.130.0.0/16\n");
	free(out);
	assert_int_equal(discovery_records(&rack, &out, err, sizeof(err)), 0);
	assert_true(str_has_prefix(out, "*.big-internal.localhost 10.130.0.2\n"
	    "web.shop.big.local "));
	assert_null(strstr(out, "*.big.localhost"));    /* no public router on the bridge */
	free(out);
	rack.netns = false;
	rack.cidr[0] = rack.private_addr[0] = '\0';
}

/* Whether argv has flag followed by value (value NULL: flag is absent). */
static bool
has_arg(char **argv, const char *flag, const char *value)
{
	for (size_t i = 0; argv[i] != NULL; i++) {
		if (strcmp(argv[i], flag) == 0)
			return value != NULL && argv[i + 1] != NULL && strcmp(argv[i + 1], value) == 0;
	}
	return value == NULL;
}

/* Param router_max_conns becomes each router's --max-conns. */
static void
test_router_max_conns(void **state)
{
	char *argv[64], *key = (char *)"router_max_conns", *val = (char *)"7";
	struct router_proc *rp = &rack.routers[ROUTER_PUBLIC];

	(void)state;
	rp->name = "public";
	routers_argv(&rack, rp, argv, 64);
	assert_true(has_arg(argv, "--max-conns", NULL));
	assert_int_equal(store_params_set(rack.store, &key, &val, 1), 0);
	routers_argv(&rack, rp, argv, 64);
	assert_true(has_arg(argv, "--max-conns", "7"));
	assert_true(has_arg(argv, "--name", "public"));
}

/* Just under the limit, the whole table; past it, none, and a reason. */
static void
test_tables_past_the_limit(void **state)
{
	size_t web_under = ROUTERS_SNAPSHOT_MAX / UP_BYTES - 100;
	size_t db_under = (DISCOVERY_RECORDS_MAX - web_under * WEB_DNS_BYTES) / DB_BYTES - 100;
	char *out = NULL, err[256];
	size_t nweb = 2, ndb = 2;       /* from test_small_tables */

	(void)state;
	add_procs("web", web_under - nweb, "127.0.0.1");
	add_procs("db", db_under - ndb, DB_ADDR);
	assert_int_equal(routers_snapshot(&rack, false, &out, err, sizeof(err)), 0);
	assert_true(strlen(out) <= ROUTERS_SNAPSHOT_MAX);
	assert_true(strlen(out) > ROUTERS_SNAPSHOT_MAX - 200 * UP_BYTES);
	free(out);
	assert_int_equal(discovery_records(&rack, &out, err, sizeof(err)), 0);
	assert_true(strlen(out) <= DISCOVERY_RECORDS_MAX);
	free(out);

	add_procs("web", 200, "127.0.0.1");
	add_procs("db", 200, DB_ADDR);
	out = (char *)"untouched";
	err[0] = '\0';
	assert_int_equal(routers_snapshot(&rack, false, &out, err, sizeof(err)), -1);
	assert_null(out);
	assert_non_null(strstr(err, "public router"));
	assert_non_null(strstr(err, "1048576 bytes"));
	assert_non_null(strstr(err, "service web of app shop"));
	out = (char *)"untouched";
	err[0] = '\0';
	assert_int_equal(discovery_records(&rack, &out, err, sizeof(err)), -1);
	assert_null(out);
	assert_non_null(strstr(err, "1048576 bytes"));
	assert_non_null(strstr(err, "service db of app shop"));
	/* The internal router routes none of these: its table still fits. */
	assert_int_equal(routers_snapshot(&rack, true, &out, err, sizeof(err)), 0);
	free(out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_limit_is_the_routers),
		cmocka_unit_test(test_small_tables),
		cmocka_unit_test(test_loopback_netns),
		cmocka_unit_test(test_router_max_conns),
		cmocka_unit_test(test_tables_past_the_limit),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
