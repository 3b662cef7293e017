/*
 * releases.c — `cx releases`, `cx releases info|promote|rollback`, `cx builds`,
 * `cx builds prune`.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/output.h"

int
cmd_releases(struct cli *c)
{
	static const struct out_col cols[] = {
		{ "ID", "id", OUT_TEXT },
		{ "STATUS", "status", OUT_TEXT },
		{ "BUILD", "build", OUT_TEXT },
		{ "CREATED", "created", OUT_AGO },
		{ "DESCRIPTION", "description", OUT_TEXT },
	};

	return cli_list_app(c, "releases", cols, CX_ARRAY_LEN(cols), NULL);
}

int
cmd_builds(struct cli *c)
{
	/* Convox's columns */
	static const struct out_col cols[] = {
		{ "ID", "id", OUT_TEXT },
		{ "STATUS", "status", OUT_TEXT },
		{ "RELEASE", "release", OUT_TEXT },
		{ "STARTED", "started", OUT_AGO },
		{ "ELAPSED", "elapsed_ms", OUT_MS },
		{ "DESCRIPTION", "description", OUT_TEXT },
	};

	return cli_list_app(c, "builds", cols, CX_ARRAY_LEN(cols), NULL);
}

int
cmd_releases_info(struct cli *c)
{
	jv *rel = NULL;
	char *path, created[32];
	int rc;

	if (cli_select_app(c) == -1)
		return 1;
	path = api_path("/apps/%s/releases/%s", c->app, c->argv[0]);
	rc = api_call(c, "GET", path, NULL, &rel);
	free(path);
	if (rc == -1)
		return 1;
	if (c->json) {
		jv_print(rel, stdout);
	} else {
		struct kv kvs[6];
		size_t n = 0;

		out_rfc3339(jv_int(rel, "created"), created, sizeof(created));
		kvs[n++] = (struct kv){ "Id", jv_str(rel, "id") };
		kvs[n++] = (struct kv){ "Build", jv_str(rel, "build") };
		kvs[n++] = (struct kv){ "Status", jv_str(rel, "status") };
		kvs[n++] = (struct kv){ "Created", created };
		kvs[n++] = (struct kv){ "Description", jv_str(rel, "description") };
		if (jv_str(rel, "error")[0] != '\0')
			kvs[n++] = (struct kv){ "Error", jv_str(rel, "error") };
		kv_print(kvs, n, stdout);
	}
	jv_free(rel);
	return 0;
}

int
cmd_releases_promote(struct cli *c)
{
	char id[64];

	if (cli_select_app(c) == -1)
		return 1;
	if (c->argc > 0) {
		str_copy(id, sizeof(id), c->argv[0]);
	} else {
		char *path = api_path("/apps/%s/releases", c->app);
		jv *rels = NULL;
		int rc = api_call(c, "GET", path, NULL, &rels);

		free(path);
		if (rc == -1)
			return 1;
		if (jv_len(rels) == 0) {
			jv_free(rels);
			return out_error("app %s has no release to promote; deploy first", c->app);
		}
		str_copy(id, sizeof(id), jv_str(jv_at(rels, 0), "id"));
		jv_free(rels);
	}
	return cli_promote(c, id, false);
}

int
cmd_releases_rollback(struct cli *c)
{
	char *path, id[64];
	jv *resp = NULL;
	int rc;

	if (cli_select_app(c) == -1 || cli_select_rack(c) == -1)
		return 1;
	out_step("Rolling back to %s", c->argv[0]);
	path = api_path("/apps/%s/releases/%s/rollback", c->app, c->argv[0]);
	rc = api_call(c, "POST", path, NULL, &resp);
	free(path);
	if (rc == -1)
		return 1;
	str_copy(id, sizeof(id), jv_str(resp, "id"));
	jv_free(resp);
	if (id[0] == '\0')
		return out_error("the rack did not say which release it made");
	out_ok_with(id);
	return cli_promote(c, id, true);
}

/* The error of a 404 text answer: the rack's own words, else what. */
static int
text_not_found(const struct buf *body, const char *what)
{
	char err[128];
	jv *e = jv_parse(body->data ? body->data : "", body->len, err, sizeof(err));
	int rc = out_error("%s", e && jv_str(e, "error")[0] ? jv_str(e, "error") : what);

	jv_free(e);
	return rc;
}

int
cmd_releases_manifest(struct cli *c)
{
	struct buf body;
	char *path;
	int64_t off;
	long st;

	if (cli_select_app(c) == -1)
		return 1;
	path = api_path("/apps/%s/releases/%s/manifest", c->app, c->argv[0]);
	buf_init(&body, 0);
	st = api_text(c, path, &body, &off);
	free(path);
	if (st == 200)
		fwrite(body.data ? body.data : "", 1, body.len, stdout);
	else if (st == 404)
		text_not_found(&body, "no such release");
	buf_free(&body);
	return st == 200 ? 0 : 1;
}

static int
get_build(struct cli *c, jv **b)
{
	char *path;
	int rc;

	if (cli_select_app(c) == -1)
		return -1;
	path = api_path("/apps/%s/builds/%s", c->app, c->argv[0]);
	rc = api_call(c, "GET", path, NULL, b);
	free(path);
	return rc;
}

int
cmd_builds_info(struct cli *c)
{
	char created[32], elapsed[32];
	jv *b = NULL;

	if (get_build(c, &b) == -1)
		return 1;
	if (c->json) {
		jv_print(b, stdout);
	} else {
		struct kv kvs[] = {
			{ "Id", jv_str(b, "id") },
			{ "Status", jv_str(b, "status") },
			{ "Release", jv_str(b, "release") },
			{ "Description", jv_str(b, "description") },
			{ "Started", created },
			{ "Elapsed", elapsed },
		};

		out_rfc3339(jv_int(b, "started"), created, sizeof(created));
		out_elapsed(jv_int(b, "elapsed_ms"), elapsed, sizeof(elapsed));
		kv_print(kvs, CX_ARRAY_LEN(kvs), stdout);
	}
	jv_free(b);
	return 0;
}

int
cmd_builds_logs(struct cli *c)
{
	jv *b = NULL, *warnings;
	int rc = 0;

	if (cli_select_app(c) == -1)
		return 1;
	if (cli_follow_build(c, c->argv[0], true, &b) == -1)
		return 1;
	/* A build made before builds kept a log: what it said is its warnings. */
	warnings = jv_get(b, "warnings");
	if (jv_int(b, "log_bytes") == 0) {
		for (size_t i = 0; i < jv_len(warnings); i++)
			printf("%s\n", jv_string_value(jv_at(warnings, i)));
	}
	if (strcmp(jv_str(b, "status"), "complete") == 0)
		printf("Build %s complete: release %s\n", jv_str(b, "id"), jv_str(b, "release"));
	else
		rc = out_error("build %s %s: %s", jv_str(b, "id"), jv_str(b, "status"),
		    jv_str(b, "error"));
	jv_free(b);
	return rc;
}

int
cmd_builds_prune(struct cli *c)
{
	jv *resp = NULL, *removed;
	char *path;
	int rc;

	if (cli_select_app(c) == -1)
		return 1;
	path = api_path("/apps/%s/builds/prune", c->app);
	rc = api_call(c, "POST", path, NULL, &resp);
	free(path);
	if (rc == -1)
		return 1;
	if (c->json) {
		jv_print(resp, stdout);
		jv_free(resp);
		return 0;
	}
	removed = jv_get(resp, "removed");
	for (size_t i = 0; i < jv_len(removed); i++) {
		const jv *b = jv_at(removed, i), *rels = jv_get(b, "releases");

		printf("Removed build %s", jv_str(b, "build"));
		for (size_t k = 0; k < jv_len(rels); k++)
			printf("%s%s", k == 0 ? " and release " : ", ", jv_string_value(jv_at(rels, k)));
		printf("\n");
	}
	if (jv_len(removed) == 0)
		printf("Nothing to remove: app %s has no build beyond those its last %lld releases"
		    " use (build_retention)\n", c->app, (long long)jv_int(resp, "keep"));
	jv_free(resp);
	return 0;
}
