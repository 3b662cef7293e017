/*
 * test_rackd.c — the rack daemon's small modules on their own: the store on a
 * real SQLite file (migrations, atomic activation, reopen), the param table,
 * Dockerfile reading, cron schedules, and util's parsers.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/net.h"
#include "common/util.h"
#include "rackd/cron.h"
#include "rackd/dockerfile.h"
#include "rackd/params.h"
#include "rackd/store.h"

static char tmpdir[64];

static int
setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/cx-unit.XXXXXX");
	return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	(void)state;
	return remove_tree(tmpdir);
}

static void
test_store_roundtrip(void **state)
{
	char path[128], err[256], v[64];
	struct store *st;
	struct st_app app;
	struct st_release rel = { .env = "A=1\n", .description = "first", .error = "" }, got;
	struct st_release *list;
	size_t n;
	char *keys[] = { "internal_router" }, *vals[] = { "true" };

	(void)state;
	snprintf(path, sizeof(path), "%s/state.db", tmpdir);
	st = store_open(path, err, sizeof(err));
	assert_non_null(st);
	assert_int_equal(store_app_create(st, "app1", 0), 0);
	assert_int_equal(store_app_create(st, "app1", 0), -1); /* primary key */
	str_copy(rel.app, sizeof(rel.app), "app1");
	str_copy(rel.status, sizeof(rel.status), "created");
	str_copy(rel.id, sizeof(rel.id), "R1");
	assert_int_equal(store_release_add(st, &rel), 0);
	str_copy(rel.id, sizeof(rel.id), "R2");
	assert_int_equal(store_release_add(st, &rel), 0);
	assert_int_equal(store_release_activate(st, "app1", "R1"), 0);
	assert_int_equal(store_release_activate(st, "app1", "R2"), 0);
	assert_int_equal(store_params_set(st, keys, vals, 1), 0);
	store_close(st);

	/* Everything survives a reopen; activation replaced R1. */
	st = store_open(path, err, sizeof(err));
	assert_non_null(st);
	assert_int_equal(store_app_get(st, "app1", &app), 0);
	assert_string_equal(app.release, "R2");
	assert_int_equal(store_release_get(st, "app1", "R1", &got), 0);
	assert_string_equal(got.status, "replaced");
	store_release_free(&got);
	assert_int_equal(store_release_list(st, "app1", 0, &list, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(list[0].id, "R2"); /* newest first */
	store_release_list_free(list, n);
	assert_int_equal(store_param_get(st, "internal_router", v, sizeof(v)), 0);
	assert_string_equal(v, "true");
	assert_int_equal(store_scale_get(st, "app1", "web"), -1);
	assert_int_equal(store_scale_set(st, "app1", "web", 3), 0);
	assert_int_equal(store_scale_get(st, "app1", "web"), 3);
	/* Only a release never promoted, and not the active one, is discarded. */
	str_copy(rel.id, sizeof(rel.id), "R3");
	assert_int_equal(store_release_add(st, &rel), 0);
	assert_int_equal(store_release_discard(st, "app1", "R2"), 1);     /* active */
	assert_int_equal(store_release_discard(st, "app1", "R1"), 1);     /* replaced */
	assert_int_equal(store_release_discard(st, "app1", "R9"), 1);     /* none */
	assert_int_equal(store_release_discard(st, "app1", "R3"), 0);
	assert_int_equal(store_release_get(st, "app1", "R3", &got), -1);
	assert_int_equal(store_release_get(st, "app1", "R2", &got), 0);
	store_release_free(&got);
	/* Deleting the app cascades its releases. */
	assert_int_equal(store_app_delete(st, "app1"), 0);
	assert_int_equal(store_release_get(st, "app1", "R2", &got), -1);
	store_close(st);
}

/* Runs sql on the database at path with the sqlite3 shell. */
static int
sqlite3_exec_for_test(const char *path, const char *sql)
{
	char cmd[1024];

	snprintf(cmd, sizeof(cmd), "sqlite3 %s '%s'", path, sql);
	return system(cmd);
}

static void
test_store_refuses_newer_schema(void **state)
{
	char path[128], err[256];
	struct store *st;
	char cmd[256];

	(void)state;
	snprintf(path, sizeof(path), "%s/new.db", tmpdir);
	snprintf(cmd, sizeof(cmd), "sqlite3 %s 'PRAGMA user_version=99'", path);
	assert_int_equal(system(cmd), 0);
	st = store_open(path, err, sizeof(err));
	assert_null(st);
	assert_non_null(strstr(err, "newer than this cx-rackd"));
}

/* 5: a version-4 database gains the certificates and their bindings: a
 * bound certificate cannot be deleted, an app's bindings go with it. */
/* 8: a version-7 database's builds gain images, status and error: an old
 * build reads back complete, with no images (today's way). */
static void
test_store_migrates_v7_images(void **state)
{
	struct st_build b = { .id = "B1", .app = "app1", .dir = "/d", .manifest = "m",
	    .warnings = "" }, got;
	char path[128], err[256];
	struct store *st;

	(void)state;
	snprintf(path, sizeof(path), "%s/v7.db", tmpdir);
	st = store_open(path, err, sizeof(err));
	assert_non_null(st);
	assert_int_equal(store_app_create(st, "app1", 0), 0);
	str_copy(b.id, sizeof(b.id), "B0");
	assert_int_equal(store_build_add(st, &b), 0);
	str_copy(b.id, sizeof(b.id), "B1");
	store_close(st);
	assert_int_equal(sqlite3_exec_for_test(path, "ALTER TABLE builds DROP COLUMN images;"
	    " ALTER TABLE builds DROP COLUMN status; ALTER TABLE builds DROP COLUMN error;"
	    " PRAGMA user_version=7;"), 0);
	st = store_open(path, err, sizeof(err));
	assert_non_null(st);
	assert_int_equal(store_build_get(st, "app1", "B0", &got), 0);
	assert_string_equal(got.status, "complete");
	assert_string_equal(got.images, "");
	assert_string_equal(got.error, "");
	store_build_free(&got);
	/* a new build keeps what it made, or why it failed */
	b.images = "{\"web\":{\"ref\":\"localhost/cx-r-app1-web:b1\"}}";
	assert_int_equal(store_build_add(st, &b), 0);
	assert_int_equal(store_build_get(st, "app1", "B1", &got), 0);
	assert_string_equal(got.images, b.images);
	assert_string_equal(got.status, "complete");
	store_build_free(&got);
	memset(&b, 0, sizeof(b));
	str_copy(b.id, sizeof(b.id), "B2");
	str_copy(b.app, sizeof(b.app), "app1");
	str_copy(b.status, sizeof(b.status), "failed");
	b.error = "STEP 2/2 (RUN false) failed with exit status 1: no";
	assert_int_equal(store_build_add(st, &b), 0);
	assert_int_equal(store_build_get(st, "app1", "B2", &got), 0);
	assert_string_equal(got.status, "failed");
	assert_string_equal(got.error, b.error);
	assert_string_equal(got.images, "");
	store_build_free(&got);
	{
		char **texts;
		size_t n;

		assert_int_equal(store_build_images_list(st, "app1", &texts, &n), 0);
		assert_int_equal(n, 1);
		assert_string_equal(texts[0], "{\"web\":{\"ref\":\"localhost/cx-r-app1-web:b1\"}}");
		free(texts[0]);
		free(texts);
	}
	store_close(st);
}

static void
test_store_migrates_v4_certs(void **state)
{
	char path[128], err[256];
	struct st_cert c = { .id = "cert-0123abcd", .expires = 2000000000, .source = "imported",
	    .created = 5 }, got, *cs;
	struct st_binding b = { .app = "app1", .service = "web", .port = 443,
	    .cert = "cert-0123abcd" }, *bs;
	struct store *st;
	size_t n;

	(void)state;
	snprintf(path, sizeof(path), "%s/v4.db", tmpdir);
	st = store_open(path, err, sizeof(err));
	assert_non_null(st);
	/* Back to version 4 as an older daemon left it: no peers, no certs tables. */
	assert_int_equal(sqlite3_exec_for_test(path, "DROP TABLE cert_bindings; DROP TABLE certs; DROP TABLE peers;"
	    " ALTER TABLE builds DROP COLUMN elapsed_ms; ALTER TABLE builds DROP COLUMN images;"
	    " ALTER TABLE builds DROP COLUMN status; ALTER TABLE builds DROP COLUMN error;"
	    " PRAGMA user_version=4;"), 0);
	store_close(st);
	st = store_open(path, err, sizeof(err));
	assert_non_null(st);
	assert_int_equal(store_cert_list(st, &cs, &n), 0);
	assert_int_equal(n, 0);
	free(cs);
	c.domains = "a.example.test,*.b.example.test";
	c.cert_path = "/x/cert-0123abcd.pem";
	c.key_path = "/x/cert-0123abcd.key";
	assert_int_equal(store_cert_put(st, &c), 0);
	assert_int_equal(store_cert_get(st, "cert-0123abcd", &got), 0);
	assert_string_equal(got.domains, "a.example.test,*.b.example.test");
	assert_string_equal(got.source, "imported");
	assert_int_equal(got.expires, 2000000000);
	store_cert_free(&got);
	assert_int_equal(store_app_create(st, "app1", 0), 0);
	assert_int_equal(store_binding_set(st, &b), 0);
	assert_int_equal(store_cert_delete(st, "cert-0123abcd"), -1);
	assert_int_equal(store_binding_list(st, &bs, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(bs[0].cert, "cert-0123abcd");
	assert_int_equal(bs[0].port, 443);
	free(bs);
	assert_int_equal(store_app_delete(st, "app1"), 0);
	assert_int_equal(store_binding_list(st, &bs, &n), 0);
	assert_int_equal(n, 0);
	free(bs);
	assert_int_equal(store_cert_delete(st, "cert-0123abcd"), 0);
	assert_int_equal(store_cert_get(st, "cert-0123abcd", &got), -1);
	store_close(st);
}

/* A version-1 database (as the first cx-rackd wrote it) migrates to the
 * current schema with its rows intact. */
static void
test_store_migrates_v1(void **state)
{
	char path[128], err[256], cmd[2048];
	struct store *st;
	struct st_proc *ps;
	struct st_app app;
	size_t n;

	(void)state;
	snprintf(path, sizeof(path), "%s/v1.db", tmpdir);
	snprintf(cmd, sizeof(cmd), "sqlite3 %s \""
	    "CREATE TABLE apps (name TEXT PRIMARY KEY, release TEXT NOT NULL DEFAULT '',"
	    " created INTEGER NOT NULL);"
	    "INSERT INTO apps VALUES ('app1', 'R1', 1);"
	    "CREATE TABLE builds (id TEXT PRIMARY KEY, app TEXT NOT NULL, dir TEXT NOT NULL,"
	    " manifest TEXT NOT NULL, warnings TEXT NOT NULL DEFAULT '', created INTEGER NOT NULL);"
	    "INSERT INTO builds VALUES ('B1', 'app1', '/x', 'services: {}', '', 1);"
	    "CREATE TABLE processes (id TEXT PRIMARY KEY, app TEXT NOT NULL, service TEXT NOT NULL,"
	    " release TEXT NOT NULL, pid INTEGER NOT NULL, pid_start INTEGER NOT NULL,"
	    " shim_pid INTEGER NOT NULL, port INTEGER NOT NULL, address TEXT NOT NULL,"
	    " command TEXT NOT NULL, started INTEGER NOT NULL);"
	    "INSERT INTO processes VALUES ('web-1', 'app1', 'web', 'R1', 42, 7, 43, 3000,"
	    " '127.0.0.1', 'perl server.pl', 1);"
	    "INSERT INTO processes VALUES ('timer-nightly-1', 'app1', 'web', 'R1', 44, 8, 45, 0,"
	    " '127.0.0.1', 'echo', 2);"
	    "INSERT INTO processes VALUES ('timer-2', 'app1', 'timer', 'R1', 46, 9, 47, 0,"
	    " '127.0.0.1', 'sleep 9', 3);"
	    "PRAGMA user_version=1;\"", path);
	assert_int_equal(system(cmd), 0);
	st = store_open(path, err, sizeof(err));
	assert_non_null(st);
	/* 3: an app from before ids has none yet (the daemon gives it one). */
	assert_int_equal(store_app_get(st, "app1", &app), 0);
	assert_string_equal(app.release, "R1");
	assert_int_equal(app.uid_base, 0);
	assert_int_equal(store_app_set_uid_base(st, "app1", 0x70010000u), 0);
	assert_int_equal(store_app_get(st, "app1", &app), 0);
	assert_int_equal(app.uid_base, 0x70010000u);
	/* 7: a build from before durations were kept took "0 ms". */
	{
		struct st_build b;

		assert_int_equal(store_build_get(st, "app1", "B1", &b), 0);
		assert_int_equal(b.elapsed_ms, 0);
		store_build_free(&b);
	}
	assert_int_equal(store_proc_list(st, &ps, &n), 0);
	assert_int_equal(n, 3);
	assert_string_equal(ps[0].id, "web-1");
	assert_int_equal(ps[0].pid, 42);
	assert_false(ps[0].promoting);
	assert_false(ps[0].stopping);
	/* 4: a timer's run is known as one; a service named "timer" is not. */
	assert_string_equal(ps[0].oneoff, "");
	assert_string_equal(ps[1].oneoff, "timer");
	assert_string_equal(ps[2].oneoff, "");
	ps[0].stopping = true;
	assert_int_equal(store_proc_put(st, &ps[0]), 0);
	store_proc_list_free(ps, n);
	assert_int_equal(store_proc_list(st, &ps, &n), 0);
	assert_true(ps[0].stopping);
	store_proc_list_free(ps, n);
	/* 5: an old rack has no TLS peers, and can keep some. */
	{
		struct st_peer p = { .name = "r2", .ca = "PEM", .endpoint = "198.51.100.12:8443",
			.internal_domain = "r2-internal.example.com", .created = 5 }, *pl;

		assert_int_equal(store_peer_list(st, &pl, &n), 0);
		assert_int_equal(n, 0);
		assert_int_equal(store_peer_put(st, &p), 0);
		str_copy(p.endpoint, sizeof(p.endpoint), "198.51.100.13:8443");
		assert_int_equal(store_peer_put(st, &p), 0);   /* replaces what r2 had */
		assert_int_equal(store_peer_list(st, &pl, &n), 0);
		assert_int_equal(n, 1);
		assert_string_equal(pl[0].name, "r2");
		assert_string_equal(pl[0].ca, "PEM");
		assert_string_equal(pl[0].endpoint, "198.51.100.13:8443");
		assert_string_equal(pl[0].internal_domain, "r2-internal.example.com");
		store_peer_list_free(pl, n);
		assert_int_equal(store_peer_delete(st, "r2"), 0);
		assert_int_equal(store_peer_delete(st, "r2"), 1);
		assert_int_equal(store_peer_list(st, &pl, &n), 0);
		assert_int_equal(n, 0);
	}
	store_close(st);
}

/* Adds build id of app a (status complete or failed) made at created, and
 * (when rel is not NULL) release rel from it made just after. */
static void
add_build(struct store *st, const char *id, const char *status, int64_t created, const char *rel)
{
	struct st_build b = { .dir = "/d", .manifest = "", .warnings = "", .images = "",
	    .error = "", .created = created };
	struct st_release r = { .env = "", .description = "", .error = "", .created = created };

	str_copy(b.id, sizeof(b.id), id);
	str_copy(b.app, sizeof(b.app), "a");
	str_copy(b.status, sizeof(b.status), status);
	assert_int_equal(store_build_add(st, &b), 0);
	if (rel == NULL)
		return;
	str_copy(r.id, sizeof(r.id), rel);
	str_copy(r.app, sizeof(r.app), "a");
	str_copy(r.build, sizeof(r.build), id);
	str_copy(r.status, sizeof(r.status), "replaced");
	assert_int_equal(store_release_add(st, &r), 0);
}

/* Joins a NULL-terminated list with spaces into out, then frees it. */
static const char *
joined(char **v, char *out, size_t outlen)
{
	out[0] = '\0';
	for (size_t i = 0; v != NULL && v[i] != NULL; i++)
		snprintf(out + strlen(out), outlen - strlen(out), "%s%s", i ? " " : "", v[i]);
	str_list_free(v);
	return out;
}

/* Which builds may go: not one the newest keep releases, the active release,
 * the one being promoted or one marked promoting uses; failed builds once
 * keep releases came after them. Pruning takes the releases made from a
 * build and refuses the active release's build. */
static void
test_store_build_prune(void **state)
{
	char path[128], err[256], text[256], **v;
	struct st_release rel = { .env = "A=1\n", .description = "env", .error = "" }, got;
	struct st_build bd;
	struct store *st;
	size_t n;

	(void)state;
	snprintf(path, sizeof(path), "%s/prune.db", tmpdir);
	st = store_open(path, err, sizeof(err));
	assert_non_null(st);
	assert_int_equal(store_app_create(st, "a", 0), 0);
	add_build(st, "F0", "failed", 5, NULL);
	add_build(st, "B1", "complete", 10, "R1");
	add_build(st, "B2", "complete", 20, "R2");
	add_build(st, "B3", "complete", 30, "R3");
	add_build(st, "B4", "complete", 40, "R4");
	add_build(st, "B5", "complete", 50, "R5");
	add_build(st, "F6", "failed", 55, NULL);
	/* An env change forks R5: a second release of B5, the newest. */
	str_copy(rel.id, sizeof(rel.id), "R6");
	str_copy(rel.app, sizeof(rel.app), "a");
	str_copy(rel.build, sizeof(rel.build), "B5");
	str_copy(rel.status, sizeof(rel.status), "created");
	rel.created = 60;
	assert_int_equal(store_release_add(st, &rel), 0);
	/* A rollback: R2 is active. */
	assert_int_equal(store_release_activate(st, "a", "R2"), 0);

	/* keep 2: R6 and R5 hold B5; R2 (active) holds B2. */
	assert_int_equal(store_build_prunable(st, "a", 2, "", &v, &n), 0);
	assert_int_equal(n, 4);
	assert_string_equal(joined(v, text, sizeof(text)), "F0 B1 B3 B4");
	/* The release being promoted, and one a dead daemon left promoting. */
	assert_int_equal(store_release_set_status(st, "a", "R4", "promoting", ""), 0);
	assert_int_equal(store_build_prunable(st, "a", 2, "R3", &v, &n), 0);
	assert_string_equal(joined(v, text, sizeof(text)), "F0 B1");
	/* keep 10 holds every complete build; F0 has fewer than 10 after it. */
	assert_int_equal(store_build_prunable(st, "a", 10, "", &v, &n), 0);
	assert_int_equal(n, 0);
	joined(v, text, sizeof(text));
	/* keep 1: R6 holds B5 by count (R2 and R4 hold theirs as before); F6
	 * has one release after it, which is enough now. */
	assert_int_equal(store_build_prunable(st, "a", 1, "", &v, &n), 0);
	assert_string_equal(joined(v, text, sizeof(text)), "F0 B1 B3 F6");

	/* Pruning B1 takes R1 with it. */
	assert_int_equal(store_build_prune(st, "a", "B1", &v, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(joined(v, text, sizeof(text)), "R1");
	assert_int_equal(store_build_get(st, "a", "B1", &bd), -1);
	assert_int_equal(store_release_get(st, "a", "R1", &got), -1);
	/* The active release's build is refused, and nothing goes. */
	assert_int_equal(store_build_prune(st, "a", "B2", &v, &n), -1);
	assert_null(v);
	assert_int_equal(store_build_get(st, "a", "B2", &bd), 0);
	store_build_free(&bd);
	assert_int_equal(store_release_get(st, "a", "R2", &got), 0);
	store_release_free(&got);
	/* No such build. */
	assert_int_equal(store_build_prune(st, "a", "B9", &v, &n), -1);
	store_close(st);
	/* What was pruned stays pruned across a reopen. */
	st = store_open(path, err, sizeof(err));
	assert_non_null(st);
	assert_int_equal(store_build_get(st, "a", "B1", &bd), -1);
	assert_int_equal(store_build_get(st, "a", "B3", &bd), 0);
	store_build_free(&bd);
	store_close(st);
}

/* lock_holder names the process holding a file's flock (what rack
 * uninstall finds the daemon by), not a waiter, and 0 once it let go. */
static void
test_lock_holder(void **state)
{
	char path[128];
	int fd, go[2], ready[2];
	pid_t child;
	char c;

	(void)state;
	snprintf(path, sizeof(path), "%s/rackd.lock", tmpdir);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(lock_holder(path), 0);
	assert_int_equal(pipe(go), 0);
	assert_int_equal(pipe(ready), 0);
	child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		int lfd = open(path, O_RDWR | O_CLOEXEC);

		if (lfd == -1 || flock(lfd, LOCK_EX) == -1)
			_exit(1);
		(void)!write(ready[1], "r", 1);
		(void)!read(go[0], &c, 1);
		_exit(0);
	}
	assert_int_equal(read(ready[0], &c, 1), 1);
	assert_int_equal(lock_holder(path), child);
	assert_int_equal(flock(fd, LOCK_EX | LOCK_NB), -1);   /* held indeed */
	assert_int_equal(write(go[1], "g", 1), 1);
	assert_int_equal(waitpid(child, NULL, 0), child);
	assert_int_equal(lock_holder(path), 0);
	snprintf(path, sizeof(path), "%s/no-such-file", tmpdir);
	assert_int_equal(lock_holder(path), -1);
	close(fd);
	for (int i = 0; i < 2; i++) {
		close(go[i]);
		close(ready[i]);
	}
}

static void
test_params(void **state)
{
	char err[256];

	(void)state;
	assert_int_equal(params_check("internal_router", "true", err, sizeof(err)), 0);
	assert_int_equal(params_check("internal_router", "yes", err, sizeof(err)), -1);
	assert_string_equal(err, "internal_router must be true or false, not \"yes\"");
	assert_int_equal(params_check("interal_router", "true", err, sizeof(err)), -1);
	assert_string_equal(err, "unknown param \"interal_router\"; did you mean \"internal_router\"?");
	assert_int_equal(params_check("zzzzzz", "1", err, sizeof(err)), -1);
	assert_string_equal(err, "unknown param \"zzzzzz\"; cx rack params lists them");
	assert_int_equal(params_check("router_port", "70000", err, sizeof(err)), -1);
	assert_int_equal(params_check("build_max_mb", "0", err, sizeof(err)), -1);
	assert_int_equal(params_check("build_retention", "3", err, sizeof(err)), 0);
	assert_int_equal(params_check("build_retention", "0", err, sizeof(err)), -1);
	assert_string_equal(err, "build_retention must be a whole number from 1 to 1000, not \"0\"");
	assert_int_equal(params_check("internal_router_whitelist", "10.5.0.0/16,192.168.1.0/24", err,
	    sizeof(err)), 0);
	assert_int_equal(params_check("internal_router_whitelist", "10.5.0.1/16", err, sizeof(err)),
	    -1);
	assert_int_equal(params_check("domain", "apps.example.test", err, sizeof(err)), 0);
	assert_int_equal(params_check("domain", "Apps..x", err, sizeof(err)), -1);
}

static void
test_dockerfile(void **state)
{
	char path[128], err[256];
	struct dockerfile df;
	FILE *f;

	(void)state;
	snprintf(path, sizeof(path), "%s/Dockerfile", tmpdir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("FROM debian\nRUN apt-get update && \\\n  apt-get install -y perl\n"
	    "ENV A=1 B=\"two words\"\nENV OLD style value\nWORKDIR src\nEXPOSE 8080/tcp\n"
	    "ENTRYPOINT [\"perl\"]\nCMD [\"server.pl\", \"it's\"]\n", f);
	fclose(f);
	assert_int_equal(dockerfile_read(path, &df, err, sizeof(err)), 0);
	assert_string_equal(df.command, "'perl' 'server.pl' 'it'\\''s'");
	assert_string_equal(df.env[0], "A=1");
	assert_string_equal(df.env[1], "B=two words");
	assert_string_equal(df.env[2], "OLD=style value");
	assert_null(df.env[3]);
	assert_string_equal(df.workdir, "src");
	assert_int_equal(df.expose, 8080);
	assert_int_equal(df.run_lines, 1);
	dockerfile_free(&df);
	snprintf(path, sizeof(path), "%s/missing", tmpdir);
	assert_int_equal(dockerfile_read(path, &df, err, sizeof(err)), 0);
	assert_null(df.command);
	dockerfile_free(&df);
}

static void
test_cron(void **state)
{
	struct cron c;
	struct tm tm = { 0 };
	char err[256];

	(void)state;
	/* Monday 2026-11-23 06:30 UTC */
	tm.tm_year = 126; tm.tm_mon = 10; tm.tm_mday = 23; tm.tm_hour = 6; tm.tm_min = 30;
	tm.tm_wday = 1;
	assert_int_equal(cron_parse("* * * * *", &c, err, sizeof(err)), 0);
	assert_true(cron_match(&c, &tm));
	assert_int_equal(cron_parse("30 6 * * MON-FRI", &c, err, sizeof(err)), 0);
	assert_true(cron_match(&c, &tm));
	tm.tm_wday = 0;                     /* a Sunday */
	assert_false(cron_match(&c, &tm));
	assert_int_equal(cron_parse("*/3 * * * *", &c, err, sizeof(err)), 0);
	assert_true(cron_match(&c, &tm));   /* 30 is a multiple of 3 */
	tm.tm_min = 31;
	assert_false(cron_match(&c, &tm));
	assert_int_equal(cron_parse("0 4 * * 7", &c, err, sizeof(err)), 0);   /* 7 is Sunday */
	tm.tm_min = 0; tm.tm_hour = 4;
	assert_true(cron_match(&c, &tm));
	assert_int_equal(cron_parse("0 4 1,15 * 1", &c, err, sizeof(err)), 0);
	tm.tm_mday = 15; tm.tm_wday = 3;    /* day 15 matches though Wednesday does not */
	assert_true(cron_match(&c, &tm));
	assert_int_equal(cron_parse("0 4 * JAN *", &c, err, sizeof(err)), 0);
	assert_false(cron_match(&c, &tm));  /* November */
	assert_int_equal(cron_parse("61 * * * *", &c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "bad minute \"61\""));
	assert_int_equal(cron_parse("* * * *", &c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "want five fields"));
	assert_int_equal(cron_parse("5-1 * * * *", &c, err, sizeof(err)), -1);
}

/* A port something listens on (SO_REUSEPORT or not) fails the check, and
 * its holder is named; once closed, it passes. */
static void
test_port_check(void **state)
{
	char addr[32], holder[128], want[64];
	int port = net_free_port(), fd;

	(void)state;
	assert_true(port > 0);
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
	assert_int_equal(net_port_check(addr), 0);
	for (int reuseport = 0; reuseport < 2; reuseport++) {
		fd = net_listen_tcp(addr, reuseport == 1, 8);
		assert_true(fd >= 0);
		errno = 0;
		assert_int_equal(net_port_check(addr), -1);
		assert_int_equal(errno, EADDRINUSE);
		net_port_holder(port, holder, sizeof(holder));
		snprintf(want, sizeof(want), "pid %d (", (int)getpid());
		assert_true(str_has_prefix(holder, want));
		close(fd);
	}
	assert_int_equal(net_port_check(addr), 0);
	net_port_holder(port, holder, sizeof(holder));
	assert_string_equal(holder, "");
}

/* buf_fill_fd drains a non-blocking pipe: 1 while the writer may send
 * more, 0 at its end; a read past the maximum is dropped, not kept. */
static void
test_buf_fill_fd(void **state)
{
	struct buf b;
	int p[2];

	(void)state;
	assert_int_equal(pipe2(p, O_NONBLOCK), 0);
	buf_init(&b, 8);
	assert_int_equal(buf_fill_fd(&b, p[0]), 1);
	assert_int_equal(b.len, 0);
	assert_int_equal(write(p[1], "hello", 5), 5);
	assert_int_equal(buf_fill_fd(&b, p[0]), 1);
	assert_string_equal(buf_cstr(&b), "hello");
	assert_int_equal(write(p[1], "world", 5), 5);
	assert_int_equal(buf_fill_fd(&b, p[0]), 1);
	assert_string_equal(buf_cstr(&b), "hello");
	close(p[1]);
	assert_int_equal(buf_fill_fd(&b, p[0]), 0);
	close(p[0]);
	buf_free(&b);
}

static void
test_util_parsers(void **state)
{
	long l;
	uint32_t net;
	int prefix;
	struct buf b;

	(void)state;
	assert_int_equal(parse_long("42", 0, 100, &l), 0);
	assert_int_equal(l, 42);
	assert_int_equal(parse_long("101", 0, 100, &l), -1);
	assert_int_equal(parse_long("4x", 0, 100, &l), -1);
	assert_int_equal(parse_long("", 0, 100, &l), -1);
	assert_int_equal(parse_long("99999999999999999999999", 0, INT64_MAX, &l), -1);
	assert_int_equal(parse_cidr("10.1.0.0/16", &net, &prefix), 0);
	assert_int_equal(prefix, 16);
	assert_true(cidr_contains(net, prefix, 0x0a01ff01));
	assert_false(cidr_contains(net, prefix, 0x0a020001));
	assert_int_equal(parse_cidr("10.1.0.1/16", &net, &prefix), -1);
	assert_int_equal(parse_cidr("10.1.0.0/33", &net, &prefix), -1);
	assert_true(valid_name("app-1"));
	assert_false(valid_name("App"));
	assert_false(valid_name("1app"));
	assert_false(valid_name("app-"));
	assert_false(valid_name("a23456789012345678901234567890x"));
	buf_init(&b, 8);
	assert_int_equal(buf_adds(&b, "12345678"), 0);
	assert_int_equal(buf_adds(&b, "9"), -1); /* the hard maximum holds */
	assert_int_equal(b.len, 8);
	buf_consume(&b, 3);
	assert_string_equal(buf_cstr(&b), "45678");
	buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_store_roundtrip),
		cmocka_unit_test(test_store_refuses_newer_schema),
		cmocka_unit_test(test_store_migrates_v1),
		cmocka_unit_test(test_store_migrates_v4_certs),
		cmocka_unit_test(test_store_migrates_v7_images),
		cmocka_unit_test(test_store_build_prune),
		cmocka_unit_test(test_lock_holder),
		cmocka_unit_test(test_params),
		cmocka_unit_test(test_dockerfile),
		cmocka_unit_test(test_cron),
		cmocka_unit_test(test_port_check),
		cmocka_unit_test(test_util_parsers),
		cmocka_unit_test(test_buf_fill_fd),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
