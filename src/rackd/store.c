/*
 * store.c — SQLite persistence for the rack daemon. See store.h.
 *
 * Schema version 8. A migration is a list of statements applied in one
 * transaction that also bumps PRAGMA user_version.
 */
#include "rackd/store.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/util.h"

struct store {
	sqlite3 *db;
	int (*on_full)(void *);  /* frees room when a write finds the disk full */
	void *on_full_arg;
	bool full;               /* the last write failed for want of room */
	bool freed;              /* ...and the handler freed some since tx_run began */
};

static const char *const migrations[] = {
	/* 1 */
	"CREATE TABLE params (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
	"CREATE TABLE apps (name TEXT PRIMARY KEY, release TEXT NOT NULL DEFAULT '',"
	"  created INTEGER NOT NULL);"
	"CREATE TABLE builds (id TEXT PRIMARY KEY, app TEXT NOT NULL REFERENCES apps(name)"
	"  ON DELETE CASCADE, dir TEXT NOT NULL, manifest TEXT NOT NULL,"
	"  warnings TEXT NOT NULL DEFAULT '', created INTEGER NOT NULL);"
	"CREATE TABLE releases (id TEXT PRIMARY KEY, app TEXT NOT NULL REFERENCES apps(name)"
	"  ON DELETE CASCADE, build TEXT NOT NULL DEFAULT '', env TEXT NOT NULL DEFAULT '',"
	"  status TEXT NOT NULL, description TEXT NOT NULL DEFAULT '',"
	"  error TEXT NOT NULL DEFAULT '', created INTEGER NOT NULL, seq INTEGER NOT NULL);"
	"CREATE INDEX releases_app ON releases(app, seq);"
	"CREATE TABLE scale (app TEXT NOT NULL REFERENCES apps(name) ON DELETE CASCADE,"
	"  service TEXT NOT NULL, count INTEGER NOT NULL, PRIMARY KEY (app, service));"
	"CREATE TABLE processes (id TEXT PRIMARY KEY, app TEXT NOT NULL, service TEXT NOT NULL,"
	"  release TEXT NOT NULL, pid INTEGER NOT NULL, pid_start INTEGER NOT NULL,"
	"  shim_pid INTEGER NOT NULL, port INTEGER NOT NULL, address TEXT NOT NULL,"
	"  command TEXT NOT NULL, started INTEGER NOT NULL);",
	/* 2: what a process was doing, so a new daemon carries on from there */
	"ALTER TABLE processes ADD COLUMN promoting INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE processes ADD COLUMN stopping INTEGER NOT NULL DEFAULT 0;",
	/* 3: each app's range of user and group ids (0: none, an unprivileged rack) */
	"ALTER TABLE apps ADD COLUMN uid_base INTEGER NOT NULL DEFAULT 0;",
	/* 4: what kind of one-off a process is (its id's prefix cannot tell: a
	 * service may be named "run" or "timer") */
	"ALTER TABLE processes ADD COLUMN oneoff TEXT NOT NULL DEFAULT '';"
	"UPDATE processes SET oneoff = 'timer' WHERE id LIKE 'timer-%' AND service <> 'timer';",
	/* 5: racks peered over TLS (peers.h): what each gave of itself */
	"CREATE TABLE peers (name TEXT PRIMARY KEY, ca TEXT NOT NULL, endpoint TEXT NOT NULL,"
	"  internal_domain TEXT NOT NULL, created INTEGER NOT NULL);",
	/* 6: certificates (the rack CA's own, imported, generated, ACME) and the
	 * service endpoints bound to one (cx ssl update) */
	"CREATE TABLE certs (id TEXT PRIMARY KEY, domains TEXT NOT NULL, expires INTEGER NOT NULL,"
	"  source TEXT NOT NULL, cert_path TEXT NOT NULL, key_path TEXT NOT NULL,"
	"  created INTEGER NOT NULL);"
	"CREATE TABLE cert_bindings (app TEXT NOT NULL REFERENCES apps(name) ON DELETE CASCADE,"
	"  service TEXT NOT NULL, port INTEGER NOT NULL, cert TEXT NOT NULL REFERENCES certs(id),"
	"  PRIMARY KEY (app, service, port));",
	/* 7: how long a build took (ms), for cx builds' ELAPSED */
	"ALTER TABLE builds ADD COLUMN elapsed_ms INTEGER NOT NULL DEFAULT 0;",
	/* 8: the images a build made (JSON, image.h), and builds that failed */
	"ALTER TABLE builds ADD COLUMN images TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE builds ADD COLUMN status TEXT NOT NULL DEFAULT 'complete';"
	"ALTER TABLE builds ADD COLUMN error TEXT NOT NULL DEFAULT '';",
};

const char *
store_error(struct store *st)
{
	return sqlite3_errmsg(st->db);
}

/* Whether rc says the disk is full; then the handler may free room, once
 * per failure: true when it did and the write may be tried again. */
static bool
full_retry(struct store *st, int rc)
{
	st->full = (rc & 0xff) == SQLITE_FULL;
	if (st->full && st->on_full != NULL && st->on_full(st->on_full_arg) == 0)
		st->freed = true;
	else
		return false;
	return true;
}

/* A write that fails for want of room is tried again once the handler has
 * freed some: a statement on its own (autocommit) and a COMMIT, which
 * leaves its transaction open when it fails so, can both be. */
static int
exec_sql(struct store *st, const char *sql)
{
	int rc = sqlite3_exec(st->db, sql, NULL, NULL, NULL);

	if (rc != SQLITE_OK && full_retry(st, rc) &&
	    (strcmp(sql, "COMMIT") != 0 || !sqlite3_get_autocommit(st->db)))
		rc = sqlite3_exec(st->db, sql, NULL, NULL, NULL);
	if (rc == SQLITE_OK)
		st->full = false;
	else
		st->full = (rc & 0xff) == SQLITE_FULL;
	return rc == SQLITE_OK ? 0 : -1;
}

void
store_set_full_handler(struct store *st, int (*fn)(void *), void *arg)
{
	st->on_full = fn;
	st->on_full_arg = arg;
}

bool
store_full(struct store *st)
{
	return st->full;
}

struct store *
store_open(const char *path, char *err, size_t errlen)
{
	struct store *st = xcalloc(1, sizeof(*st));
	sqlite3_stmt *q = NULL;
	int version = 0;

	if (sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
	    SQLITE_OPEN_FULLMUTEX, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "cannot open %s: %s", path, sqlite3_errmsg(st->db));
		goto fail;
	}
	sqlite3_busy_timeout(st->db, 5000);
	if (exec_sql(st, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
	    "PRAGMA foreign_keys=ON;") == -1) {
		snprintf(err, errlen, "cannot set up %s: %s", path, sqlite3_errmsg(st->db));
		goto fail;
	}
	if (sqlite3_prepare_v2(st->db, "PRAGMA user_version", -1, &q, NULL) == SQLITE_OK &&
	    sqlite3_step(q) == SQLITE_ROW)
		version = sqlite3_column_int(q, 0);
	sqlite3_finalize(q);
	if (version > (int)CX_ARRAY_LEN(migrations)) {
		snprintf(err, errlen, "%s has schema version %d, newer than this cx-rackd (%zu)",
		    path, version, CX_ARRAY_LEN(migrations));
		goto fail;
	}
	for (int v = version; v < (int)CX_ARRAY_LEN(migrations); v++) {
		char bump[64];

		snprintf(bump, sizeof(bump), "PRAGMA user_version=%d;", v + 1);
		if (exec_sql(st, "BEGIN IMMEDIATE") == -1 || exec_sql(st, migrations[v]) == -1 ||
		    exec_sql(st, bump) == -1 || exec_sql(st, "COMMIT") == -1) {
			snprintf(err, errlen, "migrating %s to version %d: %s", path, v + 1,
			    sqlite3_errmsg(st->db));
			exec_sql(st, "ROLLBACK");
			goto fail;
		}
	}
	return st;
fail:
	sqlite3_close(st->db);
	free(st);
	return NULL;
}

void
store_close(struct store *st)
{
	if (st == NULL)
		return;
	sqlite3_close(st->db);
	free(st);
}

/* Prepares sql; NULL on error (store_error says why). */
static sqlite3_stmt *
prep(struct store *st, const char *sql)
{
	sqlite3_stmt *q;

	if (sqlite3_prepare_v2(st->db, sql, -1, &q, NULL) != SQLITE_OK)
		return NULL;
	return q;
}

static void
bind_text(sqlite3_stmt *q, int i, const char *s)
{
	sqlite3_bind_text(q, i, s ? s : "", -1, SQLITE_TRANSIENT);
}

/* Runs a prepared write statement to completion and finalizes it. */
static int
step_done(struct store *st, sqlite3_stmt *q)
{
	int rc;

	if (q == NULL)
		return -1;
	rc = sqlite3_step(q);
	/* Inside a transaction the room is freed too, for the caller's next try. */
	if (rc != SQLITE_DONE && full_retry(st, rc) && sqlite3_get_autocommit(st->db)) {
		sqlite3_reset(q);
		rc = sqlite3_step(q);
	}
	st->full = (rc & 0xff) == SQLITE_FULL;
	sqlite3_finalize(q);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* Runs body (the statements of one write transaction) between BEGIN
 * IMMEDIATE and COMMIT, rolled back on failure; run once more when it failed
 * for want of room that the handler then freed. */
static int
tx_run(struct store *st, int (*body)(struct store *, const void *), const void *arg)
{
	for (int turn = 0; turn < 2; turn++) {
		bool full;

		st->freed = false;
		if (exec_sql(st, "BEGIN IMMEDIATE") == 0 && body(st, arg) == 0 &&
		    exec_sql(st, "COMMIT") == 0)
			return 0;
		full = st->full;
		if (!sqlite3_get_autocommit(st->db))
			exec_sql(st, "ROLLBACK");
		st->full = full;
		if (!st->freed)
			break;
	}
	return -1;
}

static char *
col_dup(sqlite3_stmt *q, int i)
{
	const unsigned char *s = sqlite3_column_text(q, i);

	return xstrdup(s ? (const char *)s : "");
}

static void
col_copy(sqlite3_stmt *q, int i, char *out, size_t outlen)
{
	const unsigned char *s = sqlite3_column_text(q, i);

	str_copy(out, outlen, s ? (const char *)s : "");
}

int
store_param_get(struct store *st, const char *key, char *out, size_t outlen)
{
	sqlite3_stmt *q = prep(st, "SELECT value FROM params WHERE key = ?");
	int rc = -1;

	if (q == NULL)
		return -1;
	bind_text(q, 1, key);
	if (sqlite3_step(q) == SQLITE_ROW) {
		col_copy(q, 0, out, outlen);
		rc = 0;
	}
	sqlite3_finalize(q);
	return rc;
}

int
store_params_set(struct store *st, char *const *keys, char *const *values, size_t n)
{
	if (exec_sql(st, "BEGIN IMMEDIATE") == -1)
		return -1;
	for (size_t i = 0; i < n; i++) {
		sqlite3_stmt *q = prep(st, "INSERT INTO params (key, value) VALUES (?, ?)"
		    " ON CONFLICT(key) DO UPDATE SET value = excluded.value");

		if (q == NULL)
			goto fail;
		bind_text(q, 1, keys[i]);
		bind_text(q, 2, values[i]);
		if (step_done(st, q) == -1)
			goto fail;
	}
	return exec_sql(st, "COMMIT");
fail:
	exec_sql(st, "ROLLBACK");
	return -1;
}

int
store_app_create(struct store *st, const char *name, uint32_t uid_base)
{
	sqlite3_stmt *q = prep(st, "INSERT INTO apps (name, created, uid_base) VALUES (?, ?, ?)");

	if (q == NULL)
		return -1;
	bind_text(q, 1, name);
	sqlite3_bind_int64(q, 2, now_unix());
	sqlite3_bind_int64(q, 3, uid_base);
	return step_done(st, q);
}

int
store_app_set_uid_base(struct store *st, const char *name, uint32_t uid_base)
{
	sqlite3_stmt *q = prep(st, "UPDATE apps SET uid_base = ? WHERE name = ?");

	if (q == NULL)
		return -1;
	sqlite3_bind_int64(q, 1, uid_base);
	bind_text(q, 2, name);
	return step_done(st, q);
}

static int
app_delete_body(struct store *st, const void *name)
{
	sqlite3_stmt *q = prep(st, "DELETE FROM apps WHERE name = ?");

	if (q == NULL)
		return -1;
	bind_text(q, 1, name);
	return step_done(st, q);
}

int
store_app_delete(struct store *st, const char *name)
{
	/* Process rows stay until each process is gone, so that a daemon that
	 * dies meanwhile still finds (and stops) them. */
	return tx_run(st, app_delete_body, name);
}

static void
read_app(sqlite3_stmt *q, struct st_app *a)
{
	col_copy(q, 0, a->name, sizeof(a->name));
	col_copy(q, 1, a->release, sizeof(a->release));
	a->created = sqlite3_column_int64(q, 2);
	a->uid_base = (uint32_t)sqlite3_column_int64(q, 3);
}

int
store_app_get(struct store *st, const char *name, struct st_app *out)
{
	sqlite3_stmt *q = prep(st, "SELECT name, release, created, uid_base FROM apps WHERE name = ?");
	int rc = -1;

	if (q == NULL)
		return -1;
	bind_text(q, 1, name);
	if (sqlite3_step(q) == SQLITE_ROW) {
		read_app(q, out);
		rc = 0;
	}
	sqlite3_finalize(q);
	return rc;
}

int
store_app_list(struct store *st, struct st_app **out, size_t *n)
{
	sqlite3_stmt *q = prep(st, "SELECT name, release, created, uid_base FROM apps ORDER BY name");
	size_t cap = 0;

	*out = NULL;
	*n = 0;
	if (q == NULL)
		return -1;
	while (sqlite3_step(q) == SQLITE_ROW) {
		if (*n == cap) {
			cap = cap ? cap * 2 : 8;
			*out = xrealloc(*out, cap * sizeof(**out));
		}
		read_app(q, &(*out)[(*n)++]);
	}
	sqlite3_finalize(q);
	return 0;
}

int
store_app_set_release(struct store *st, const char *app, const char *release)
{
	sqlite3_stmt *q = prep(st, "UPDATE apps SET release = ? WHERE name = ?");

	if (q == NULL)
		return -1;
	bind_text(q, 1, release);
	bind_text(q, 2, app);
	return step_done(st, q);
}

int
store_build_add(struct store *st, const struct st_build *b)
{
	sqlite3_stmt *q = prep(st, "INSERT INTO builds (id, app, dir, manifest, warnings, created,"
	    " elapsed_ms, images, status, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");

	if (q == NULL)
		return -1;
	bind_text(q, 1, b->id);
	bind_text(q, 2, b->app);
	bind_text(q, 3, b->dir);
	bind_text(q, 4, b->manifest);
	bind_text(q, 5, b->warnings);
	sqlite3_bind_int64(q, 6, b->created);
	sqlite3_bind_int64(q, 7, b->elapsed_ms);
	bind_text(q, 8, b->images ? b->images : "");
	bind_text(q, 9, b->status[0] ? b->status : "complete");
	bind_text(q, 10, b->error ? b->error : "");
	return step_done(st, q);
}

int
store_build_get(struct store *st, const char *app, const char *id, struct st_build *out)
{
	sqlite3_stmt *q = prep(st, "SELECT id, app, dir, manifest, warnings, created, elapsed_ms,"
	    " images, status, error FROM builds WHERE app = ? AND id = ?");
	int rc = -1;

	if (q == NULL)
		return -1;
	bind_text(q, 1, app);
	bind_text(q, 2, id);
	if (sqlite3_step(q) == SQLITE_ROW) {
		col_copy(q, 0, out->id, sizeof(out->id));
		col_copy(q, 1, out->app, sizeof(out->app));
		out->dir = col_dup(q, 2);
		out->manifest = col_dup(q, 3);
		out->warnings = col_dup(q, 4);
		out->created = sqlite3_column_int64(q, 5);
		out->elapsed_ms = sqlite3_column_int64(q, 6);
		out->images = col_dup(q, 7);
		col_copy(q, 8, out->status, sizeof(out->status));
		out->error = col_dup(q, 9);
		rc = 0;
	}
	sqlite3_finalize(q);
	return rc;
}

void
store_build_free(struct st_build *b)
{
	free(b->dir);
	free(b->manifest);
	free(b->warnings);
	free(b->images);
	free(b->error);
	b->dir = b->manifest = b->warnings = b->images = b->error = NULL;
}

int
store_build_failed_list(struct store *st, const char *app, struct st_build **out, size_t *n)
{
	sqlite3_stmt *q = prep(st, "SELECT id, created, elapsed_ms, error FROM builds"
	    " WHERE app = ? AND status = 'failed' ORDER BY created DESC, rowid DESC");
	size_t cap = 8;

	*out = NULL;
	*n = 0;
	if (q == NULL)
		return -1;
	bind_text(q, 1, app);
	*out = xcalloc(cap, sizeof(**out));
	while (sqlite3_step(q) == SQLITE_ROW) {
		struct st_build *b;

		if (*n == cap)
			*out = xrealloc(*out, (cap *= 2) * sizeof(**out));
		b = &(*out)[(*n)++];
		memset(b, 0, sizeof(*b));
		col_copy(q, 0, b->id, sizeof(b->id));
		str_copy(b->app, sizeof(b->app), app);
		b->created = sqlite3_column_int64(q, 1);
		b->elapsed_ms = sqlite3_column_int64(q, 2);
		b->error = col_dup(q, 3);
		str_copy(b->status, sizeof(b->status), "failed");
	}
	sqlite3_finalize(q);
	return 0;
}

/* The first column of q's rows as a NULL-terminated array (finalizes q). */
static int
rows_strv(sqlite3_stmt *q, char ***out, size_t *n)
{
	size_t cap = 8;

	*out = xcalloc(cap, sizeof(**out));
	while (sqlite3_step(q) == SQLITE_ROW) {
		if (*n + 1 >= cap)
			*out = xrealloc(*out, (cap *= 2) * sizeof(**out));
		(*out)[(*n)++] = col_dup(q, 0);
	}
	(*out)[*n] = NULL;
	sqlite3_finalize(q);
	return 0;
}

int
store_build_images_list(struct store *st, const char *app, char ***out, size_t *n)
{
	sqlite3_stmt *q = prep(st, "SELECT images FROM builds WHERE app = ? AND images <> ''");

	*out = NULL;
	*n = 0;
	if (q == NULL)
		return -1;
	bind_text(q, 1, app);
	return rows_strv(q, out, n);
}

int
store_build_prunable(struct store *st, const char *app, int keep, const char *promoting,
    char ***out, size_t *n)
{
	sqlite3_stmt *q = prep(st, "SELECT id FROM builds b WHERE app = ?1"
	    " AND ((status = 'complete' AND id NOT IN"
	    "     (SELECT build FROM releases WHERE app = ?1 ORDER BY seq DESC LIMIT ?2))"
	    "   OR (status = 'failed' AND"
	    "     (SELECT COUNT(*) FROM releases WHERE app = ?1 AND created > b.created) >= ?2))"
	    " AND id NOT IN (SELECT build FROM releases WHERE app = ?1 AND (id = ?3"
	    "   OR id IN (SELECT release FROM apps WHERE name = ?1) OR status = 'promoting'))"
	    " ORDER BY created, id");

	*out = NULL;
	*n = 0;
	if (q == NULL)
		return -1;
	bind_text(q, 1, app);
	sqlite3_bind_int(q, 2, keep);
	bind_text(q, 3, promoting);
	return rows_strv(q, out, n);
}

/* The app and build of store_build_prune's transaction. */
struct build_key {
	const char *app, *id;
};

static int
build_prune_body(struct store *st, const void *arg)
{
	static const char *const sql[] = {
		"DELETE FROM releases WHERE app = ?1 AND build = ?2"
		"  AND id NOT IN (SELECT release FROM apps WHERE name = ?1)",
		"DELETE FROM builds WHERE app = ?1 AND id = ?2"
		"  AND NOT EXISTS (SELECT 1 FROM releases WHERE app = ?1 AND build = ?2)",
	};
	const struct build_key *k = arg;

	for (size_t i = 0; i < CX_ARRAY_LEN(sql); i++) {
		sqlite3_stmt *q = prep(st, sql[i]);

		if (q == NULL)
			return -1;
		bind_text(q, 1, k->app);
		bind_text(q, 2, k->id);
		if (step_done(st, q) == -1)
			return -1;
	}
	return sqlite3_changes(st->db) == 1 ? 0 : -1;
}

int
store_build_prune(struct store *st, const char *app, const char *id, char ***releases, size_t *n)
{
	struct build_key k = { app, id };
	sqlite3_stmt *q = prep(st, "SELECT id FROM releases WHERE app = ? AND build = ? ORDER BY seq");

	*releases = NULL;
	*n = 0;
	if (q == NULL)
		return -1;
	bind_text(q, 1, app);
	bind_text(q, 2, id);
	rows_strv(q, releases, n);
	if (tx_run(st, build_prune_body, &k) == 0)
		return 0;
	str_list_free(*releases);
	*releases = NULL;
	*n = 0;
	return -1;
}

int
store_release_add(struct store *st, const struct st_release *r)
{
	sqlite3_stmt *q = prep(st, "INSERT INTO releases (id, app, build, env, status, description,"
	    " error, created, seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?,"
	    " (SELECT COALESCE(MAX(seq), 0) + 1 FROM releases))");

	if (q == NULL)
		return -1;
	bind_text(q, 1, r->id);
	bind_text(q, 2, r->app);
	bind_text(q, 3, r->build);
	bind_text(q, 4, r->env);
	bind_text(q, 5, r->status);
	bind_text(q, 6, r->description);
	bind_text(q, 7, r->error);
	sqlite3_bind_int64(q, 8, r->created);
	return step_done(st, q);
}

#define RELEASE_COLS "id, app, build, env, status, description, error, created"

static void
read_release(sqlite3_stmt *q, struct st_release *r)
{
	col_copy(q, 0, r->id, sizeof(r->id));
	col_copy(q, 1, r->app, sizeof(r->app));
	col_copy(q, 2, r->build, sizeof(r->build));
	r->env = col_dup(q, 3);
	col_copy(q, 4, r->status, sizeof(r->status));
	r->description = col_dup(q, 5);
	r->error = col_dup(q, 6);
	r->created = sqlite3_column_int64(q, 7);
}

int
store_release_get(struct store *st, const char *app, const char *id, struct st_release *out)
{
	sqlite3_stmt *q = prep(st, "SELECT " RELEASE_COLS " FROM releases WHERE app = ? AND id = ?");
	int rc = -1;

	if (q == NULL)
		return -1;
	bind_text(q, 1, app);
	bind_text(q, 2, id);
	if (sqlite3_step(q) == SQLITE_ROW) {
		read_release(q, out);
		rc = 0;
	}
	sqlite3_finalize(q);
	return rc;
}

int
store_release_list(struct store *st, const char *app, size_t limit, struct st_release **out,
    size_t *n)
{
	sqlite3_stmt *q = prep(st, "SELECT " RELEASE_COLS " FROM releases WHERE app = ?"
	    " ORDER BY seq DESC LIMIT ?");
	size_t cap = 0;

	*out = NULL;
	*n = 0;
	if (q == NULL)
		return -1;
	bind_text(q, 1, app);
	sqlite3_bind_int64(q, 2, limit == 0 ? -1 : (int64_t)limit);
	while (sqlite3_step(q) == SQLITE_ROW) {
		if (*n == cap) {
			cap = cap ? cap * 2 : 8;
			*out = xrealloc(*out, cap * sizeof(**out));
		}
		read_release(q, &(*out)[(*n)++]);
	}
	sqlite3_finalize(q);
	return 0;
}

int
store_release_set_status(struct store *st, const char *app, const char *id, const char *status,
    const char *error)
{
	sqlite3_stmt *q = prep(st, "UPDATE releases SET status = ?, error = ? WHERE app = ? AND id = ?");

	if (q == NULL)
		return -1;
	bind_text(q, 1, status);
	bind_text(q, 2, error);
	bind_text(q, 3, app);
	bind_text(q, 4, id);
	return step_done(st, q);
}

int
store_release_discard(struct store *st, const char *app, const char *id)
{
	sqlite3_stmt *q = prep(st, "DELETE FROM releases WHERE app = ? AND id = ? AND"
	    " status = 'created' AND id NOT IN (SELECT release FROM apps WHERE name = ?)");

	if (q == NULL)
		return -1;
	bind_text(q, 1, app);
	bind_text(q, 2, id);
	bind_text(q, 3, app);
	if (step_done(st, q) == -1)
		return -1;
	return sqlite3_changes(st->db) > 0 ? 0 : 1;
}

int
store_release_fail_promoting(struct store *st, const char *app, const char *error)
{
	sqlite3_stmt *q = prep(st, "UPDATE releases SET status = 'failed', error = ?"
	    " WHERE status = 'promoting' AND id NOT IN (SELECT release FROM apps)"
	    " AND (?2 IS NULL OR app = ?2)");

	if (q == NULL)
		return -1;
	bind_text(q, 1, error);
	if (app != NULL)
		bind_text(q, 2, app);
	return step_done(st, q);
}

int
store_build_release_add(struct store *st, const struct st_build *b, const struct st_release *r)
{
	if (exec_sql(st, "BEGIN IMMEDIATE") == -1)
		return -1;
	if (store_build_add(st, b) == -1 || store_release_add(st, r) == -1) {
		exec_sql(st, "ROLLBACK");
		return -1;
	}
	return exec_sql(st, "COMMIT");
}

int
store_id_owner(struct store *st, const char *id, char *app, size_t applen)
{
	sqlite3_stmt *q = prep(st, "SELECT app FROM builds WHERE id = ?1"
	    " UNION ALL SELECT app FROM releases WHERE id = ?1 LIMIT 1");
	int rc = -1;

	if (q == NULL)
		return -1;
	bind_text(q, 1, id);
	if (sqlite3_step(q) == SQLITE_ROW) {
		col_copy(q, 0, app, applen);
		rc = 0;
	}
	sqlite3_finalize(q);
	return rc;
}

int
store_app_import(struct store *st, const char *app, const struct st_build *b, size_t nb,
    const struct st_release *r, size_t nr, char *const *scale_services, const int *scale_counts,
    size_t nscale)
{
	if (exec_sql(st, "BEGIN IMMEDIATE") == -1)
		return -1;
	for (size_t i = 0; i < nb; i++)
		if (store_build_add(st, &b[i]) == -1)
			goto fail;
	for (size_t i = 0; i < nr; i++)
		if (store_release_add(st, &r[i]) == -1)
			goto fail;
	for (size_t i = 0; i < nscale; i++)
		if (store_scale_set(st, app, scale_services[i], scale_counts[i]) == -1)
			goto fail;
	return exec_sql(st, "COMMIT");
fail:
	exec_sql(st, "ROLLBACK");
	return -1;
}

int
store_release_activate(struct store *st, const char *app, const char *id)
{
	sqlite3_stmt *q;

	if (exec_sql(st, "BEGIN IMMEDIATE") == -1)
		return -1;
	q = prep(st, "UPDATE releases SET status = 'replaced' WHERE app = ? AND status = 'active'");
	if (q == NULL)
		goto fail;
	bind_text(q, 1, app);
	if (step_done(st, q) == -1)
		goto fail;
	q = prep(st, "UPDATE releases SET status = 'active', error = '' WHERE app = ? AND id = ?");
	if (q == NULL)
		goto fail;
	bind_text(q, 1, app);
	bind_text(q, 2, id);
	if (step_done(st, q) == -1)
		goto fail;
	if (store_app_set_release(st, app, id) == -1)
		goto fail;
	return exec_sql(st, "COMMIT");
fail:
	exec_sql(st, "ROLLBACK");
	return -1;
}

void
store_release_free(struct st_release *r)
{
	free(r->env);
	free(r->description);
	free(r->error);
	r->env = r->description = r->error = NULL;
}

void
store_release_list_free(struct st_release *r, size_t n)
{
	for (size_t i = 0; i < n; i++)
		store_release_free(&r[i]);
	free(r);
}

int
store_scale_get(struct store *st, const char *app, const char *service)
{
	sqlite3_stmt *q = prep(st, "SELECT count FROM scale WHERE app = ? AND service = ?");
	int count = -1;

	if (q == NULL)
		return -1;
	bind_text(q, 1, app);
	bind_text(q, 2, service);
	if (sqlite3_step(q) == SQLITE_ROW)
		count = sqlite3_column_int(q, 0);
	sqlite3_finalize(q);
	return count;
}

int
store_scale_set(struct store *st, const char *app, const char *service, int count)
{
	sqlite3_stmt *q = prep(st, "INSERT INTO scale (app, service, count) VALUES (?, ?, ?)"
	    " ON CONFLICT(app, service) DO UPDATE SET count = excluded.count");

	if (q == NULL)
		return -1;
	bind_text(q, 1, app);
	bind_text(q, 2, service);
	sqlite3_bind_int(q, 3, count);
	return step_done(st, q);
}

int
store_proc_put(struct store *st, const struct st_proc *p)
{
	sqlite3_stmt *q = prep(st, "INSERT OR REPLACE INTO processes (id, app, service, release, pid,"
	    " pid_start, shim_pid, port, address, command, started, promoting, stopping, oneoff)"
	    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");

	if (q == NULL)
		return -1;
	bind_text(q, 1, p->id);
	bind_text(q, 2, p->app);
	bind_text(q, 3, p->service);
	bind_text(q, 4, p->release);
	sqlite3_bind_int64(q, 5, p->pid);
	sqlite3_bind_int64(q, 6, p->pid_start);
	sqlite3_bind_int64(q, 7, p->shim_pid);
	sqlite3_bind_int(q, 8, p->port);
	bind_text(q, 9, p->address);
	bind_text(q, 10, p->command);
	sqlite3_bind_int64(q, 11, p->started);
	sqlite3_bind_int(q, 12, p->promoting);
	sqlite3_bind_int(q, 13, p->stopping);
	bind_text(q, 14, p->oneoff);
	return step_done(st, q);
}

int
store_proc_delete(struct store *st, const char *id)
{
	sqlite3_stmt *q = prep(st, "DELETE FROM processes WHERE id = ?");

	if (q == NULL)
		return -1;
	bind_text(q, 1, id);
	return step_done(st, q);
}

int
store_proc_list(struct store *st, struct st_proc **out, size_t *n)
{
	sqlite3_stmt *q = prep(st, "SELECT id, app, service, release, pid, pid_start, shim_pid, port,"
	    " address, command, started, promoting, stopping, oneoff FROM processes"
	    " ORDER BY started, id");
	size_t cap = 0;

	*out = NULL;
	*n = 0;
	if (q == NULL)
		return -1;
	while (sqlite3_step(q) == SQLITE_ROW) {
		struct st_proc *p;

		if (*n == cap) {
			cap = cap ? cap * 2 : 8;
			*out = xrealloc(*out, cap * sizeof(**out));
		}
		p = &(*out)[(*n)++];
		col_copy(q, 0, p->id, sizeof(p->id));
		col_copy(q, 1, p->app, sizeof(p->app));
		col_copy(q, 2, p->service, sizeof(p->service));
		col_copy(q, 3, p->release, sizeof(p->release));
		p->pid = (pid_t)sqlite3_column_int64(q, 4);
		p->pid_start = sqlite3_column_int64(q, 5);
		p->shim_pid = (pid_t)sqlite3_column_int64(q, 6);
		p->port = sqlite3_column_int(q, 7);
		col_copy(q, 8, p->address, sizeof(p->address));
		p->command = col_dup(q, 9);
		p->started = sqlite3_column_int64(q, 10);
		p->promoting = sqlite3_column_int(q, 11) != 0;
		p->stopping = sqlite3_column_int(q, 12) != 0;
		col_copy(q, 13, p->oneoff, sizeof(p->oneoff));
	}
	sqlite3_finalize(q);
	return 0;
}

void
store_proc_list_free(struct st_proc *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(p[i].command);
	free(p);
}

int
store_peer_put(struct store *st, const struct st_peer *p)
{
	sqlite3_stmt *q = prep(st, "INSERT OR REPLACE INTO peers (name, ca, endpoint, internal_domain,"
	    " created) VALUES (?, ?, ?, ?, ?)");

	if (q == NULL)
		return -1;
	bind_text(q, 1, p->name);
	bind_text(q, 2, p->ca);
	bind_text(q, 3, p->endpoint);
	bind_text(q, 4, p->internal_domain);
	sqlite3_bind_int64(q, 5, p->created);
	return step_done(st, q);
}

int
store_peer_delete(struct store *st, const char *name)
{
	sqlite3_stmt *q = prep(st, "DELETE FROM peers WHERE name = ?");

	if (q == NULL)
		return -1;
	bind_text(q, 1, name);
	if (step_done(st, q) == -1)
		return -1;
	return sqlite3_changes(st->db) > 0 ? 0 : 1;
}

int
store_peer_list(struct store *st, struct st_peer **out, size_t *n)
{
	sqlite3_stmt *q = prep(st, "SELECT name, ca, endpoint, internal_domain, created FROM peers"
	    " ORDER BY created, name");
	size_t cap = 0;

	*out = NULL;
	*n = 0;
	if (q == NULL)
		return -1;
	while (sqlite3_step(q) == SQLITE_ROW) {
		struct st_peer *p;

		if (*n == cap) {
			cap = cap ? cap * 2 : 4;
			*out = xrealloc(*out, cap * sizeof(**out));
		}
		p = &(*out)[(*n)++];
		col_copy(q, 0, p->name, sizeof(p->name));
		p->ca = col_dup(q, 1);
		col_copy(q, 2, p->endpoint, sizeof(p->endpoint));
		col_copy(q, 3, p->internal_domain, sizeof(p->internal_domain));
		p->created = sqlite3_column_int64(q, 4);
	}
	sqlite3_finalize(q);
	return 0;
}

void
store_peer_list_free(struct st_peer *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(p[i].ca);
	free(p);
}

void
store_new_id(char *out, size_t outlen, const char *prefix, bool upper)
{
	static const char up[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
	static const char low[] = "0123456789abcdef";
	unsigned char rnd[8];
	size_t plen = strlen(prefix);
	int fd;

	fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	if (fd == -1 || read(fd, rnd, sizeof(rnd)) != (ssize_t)sizeof(rnd)) {
		uint64_t x = (uint64_t)now_ms() * 6364136223846793005ULL ^ (uint64_t)getpid();

		memcpy(rnd, &x, sizeof(rnd));
	}
	if (fd != -1)
		close(fd);
	if (outlen < plen + 9) {
		out[0] = '\0';
		return;
	}
	memcpy(out, prefix, plen);
	for (size_t i = 0; i < 8; i++)
		out[plen + i] = upper ? up[rnd[i] % (sizeof(up) - 1)] : low[rnd[i] % 16];
	out[plen + 8] = '\0';
}

static void
cert_row(sqlite3_stmt *q, struct st_cert *c)
{
	col_copy(q, 0, c->id, sizeof(c->id));
	c->domains = col_dup(q, 1);
	c->expires = sqlite3_column_int64(q, 2);
	col_copy(q, 3, c->source, sizeof(c->source));
	c->cert_path = col_dup(q, 4);
	c->key_path = col_dup(q, 5);
	c->created = sqlite3_column_int64(q, 6);
}

#define CERT_COLS "id, domains, expires, source, cert_path, key_path, created"

int
store_cert_put(struct store *st, const struct st_cert *c)
{
	sqlite3_stmt *q = prep(st, "INSERT OR REPLACE INTO certs (" CERT_COLS ")"
	    " VALUES (?, ?, ?, ?, ?, ?, ?)");

	if (q == NULL)
		return -1;
	bind_text(q, 1, c->id);
	bind_text(q, 2, c->domains);
	sqlite3_bind_int64(q, 3, c->expires);
	bind_text(q, 4, c->source);
	bind_text(q, 5, c->cert_path);
	bind_text(q, 6, c->key_path);
	sqlite3_bind_int64(q, 7, c->created);
	return step_done(st, q);
}

int
store_cert_get(struct store *st, const char *id, struct st_cert *out)
{
	sqlite3_stmt *q = prep(st, "SELECT " CERT_COLS " FROM certs WHERE id = ?");
	int rc = -1;

	if (q == NULL)
		return -1;
	bind_text(q, 1, id);
	if (sqlite3_step(q) == SQLITE_ROW) {
		cert_row(q, out);
		rc = 0;
	}
	sqlite3_finalize(q);
	return rc;
}

int
store_cert_list(struct store *st, struct st_cert **out, size_t *n)
{
	sqlite3_stmt *q = prep(st, "SELECT " CERT_COLS " FROM certs ORDER BY created, id");
	size_t cap = 0;

	*out = NULL;
	*n = 0;
	if (q == NULL)
		return -1;
	while (sqlite3_step(q) == SQLITE_ROW) {
		if (*n == cap) {
			cap = cap ? cap * 2 : 8;
			*out = xrealloc(*out, cap * sizeof(**out));
		}
		cert_row(q, &(*out)[(*n)++]);
	}
	sqlite3_finalize(q);
	return 0;
}

int
store_cert_delete(struct store *st, const char *id)
{
	sqlite3_stmt *q = prep(st, "DELETE FROM certs WHERE id = ?");

	if (q == NULL)
		return -1;
	bind_text(q, 1, id);
	return step_done(st, q);
}

void
store_cert_free(struct st_cert *c)
{
	free(c->domains);
	free(c->cert_path);
	free(c->key_path);
	c->domains = c->cert_path = c->key_path = NULL;
}

void
store_cert_list_free(struct st_cert *c, size_t n)
{
	for (size_t i = 0; i < n; i++)
		store_cert_free(&c[i]);
	free(c);
}

int
store_binding_set(struct store *st, const struct st_binding *b)
{
	sqlite3_stmt *q = prep(st, "INSERT OR REPLACE INTO cert_bindings (app, service, port, cert)"
	    " VALUES (?, ?, ?, ?)");

	if (q == NULL)
		return -1;
	bind_text(q, 1, b->app);
	bind_text(q, 2, b->service);
	sqlite3_bind_int(q, 3, b->port);
	bind_text(q, 4, b->cert);
	return step_done(st, q);
}

int
store_binding_list(struct store *st, struct st_binding **out, size_t *n)
{
	sqlite3_stmt *q = prep(st, "SELECT app, service, port, cert FROM cert_bindings"
	    " ORDER BY app, service, port");
	size_t cap = 0;

	*out = NULL;
	*n = 0;
	if (q == NULL)
		return -1;
	while (sqlite3_step(q) == SQLITE_ROW) {
		struct st_binding *b;

		if (*n == cap) {
			cap = cap ? cap * 2 : 8;
			*out = xrealloc(*out, cap * sizeof(**out));
		}
		b = &(*out)[(*n)++];
		col_copy(q, 0, b->app, sizeof(b->app));
		col_copy(q, 1, b->service, sizeof(b->service));
		b->port = sqlite3_column_int(q, 2);
		col_copy(q, 3, b->cert, sizeof(b->cert));
	}
	sqlite3_finalize(q);
	return 0;
}
