/*
 * scale.c — `cx scale [SERVICE] [--count N]` and `cx restart`.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "cli/output.h"

#define SCALE_WAIT_MS (10 * 60 * 1000)

static int
scale_list(struct cli *c)
{
	const char *headers[] = { "SERVICE", "DESIRED", "RUNNING", "CPU", "MEMORY" };
	const char *filter = c->argc > 0 ? c->argv[0] : NULL;
	jv *svcs = NULL, *procs = NULL, *out;
	char *path;
	bool found = false;
	int rc = 1;

	path = api_path("/apps/%s/services", c->app);
	if (api_call(c, "GET", path, NULL, &svcs) == -1)
		goto done;
	free(path);
	path = api_path("/apps/%s/processes", c->app);
	if (api_call(c, "GET", path, NULL, &procs) == -1)
		goto done;
	out = jv_array_new();
	for (size_t i = 0; i < jv_len(svcs); i++) {
		const jv *s = jv_at(svcs, i);
		const char *name = jv_str(s, "name");
		int64_t running = 0;
		jv *o;

		if (filter != NULL && strcmp(filter, name) != 0)
			continue;
		found = true;
		for (size_t j = 0; j < jv_len(procs); j++) {
			const jv *p = jv_at(procs, j);

			if (strcmp(jv_str(p, "service"), name) == 0 &&
			    strcmp(jv_str(p, "status"), "running") == 0)
				running++;
		}
		o = jv_object_new();
		jv_set_str(o, "service", name);
		jv_set_int(o, "desired", jv_int(s, "count"));
		jv_set_int(o, "running", running);
		jv_set_int(o, "cpu", jv_int(s, "cpu"));
		jv_set_int(o, "memory", jv_int(s, "memory"));
		jv_push_take(out, o);
	}
	if (filter != NULL && !found) {
		rc = out_error("no such service: %s (cx services -a %s lists them)", filter, c->app);
		jv_free(out);
		goto done;
	}
	if (c->json) {
		jv_print(out, stdout);
	} else {
		struct table *t = table_new(CX_ARRAY_LEN(headers), headers);

		for (size_t i = 0; i < jv_len(out); i++) {
			static const char *const nums[] = { "desired", "running", "cpu", "memory" };
			const jv *o = jv_at(out, i);
			char cell[CX_ARRAY_LEN(nums)][24];
			const char *row[CX_ARRAY_LEN(headers)];

			row[0] = jv_str(o, "service");
			for (size_t k = 0; k < CX_ARRAY_LEN(nums); k++) {
				snprintf(cell[k], sizeof(cell[k]), "%lld", (long long)jv_int(o, nums[k]));
				row[k + 1] = cell[k];
			}
			table_add(t, row);
		}
		table_print(t, stdout);
		table_free(t);
	}
	jv_free(out);
	rc = 0;
done:
	free(path);
	jv_free(svcs);
	jv_free(procs);
	return rc;
}

int
cmd_scale(struct cli *c)
{
	const char *count = c->opt[OPT_COUNT];
	jv *body;
	char *path;
	int n, rc;

	if (cli_select_app(c) == -1)
		return 1;
	if (count == NULL)
		return scale_list(c);
	if (c->argc == 0)
		return out_error("which service? usage: cx scale SERVICE --count N");
	if (parse_int(count, 0, 100, &n) == -1)
		return out_error("invalid count \"%s\": give a whole number from 0 to 100", count);
	if (cli_select_rack(c) == -1)
		return 1;
	body = jv_object_new();
	jv_set_int(body, "count", n);
	out_step("Scaling %s", c->argv[0]);
	path = api_path("/apps/%s/services/%s/scale", c->app, c->argv[0]);
	rc = api_call(c, "POST", path, body, NULL);
	free(path);
	jv_free(body);
	if (rc == -1)
		return 1;
	if (cli_wait_app_running(c, SCALE_WAIT_MS) != 0)
		return 1;
	out_ok();
	return 0;
}

static int
wait_restart(struct cli *c)
{
	char *path = api_path("/apps/%s", c->app);
	int64_t deadline = now_ms() + 10 * 60 * 1000;
	int rc = 1;

	for (;;) {
		jv *app = NULL;

		if (api_call(c, "GET", path, NULL, &app) == -1)
			break;
		if (strcmp(jv_str(app, "status"), "updating") != 0) {
			if (jv_str(app, "error")[0] != '\0') {
				out_error("%s", jv_str(app, "error"));
			} else {
				out_ok();
				rc = 0;
			}
			jv_free(app);
			break;
		}
		jv_free(app);
		if (now_ms() > deadline) {
			out_error("app %s is still updating after 10 minutes; see cx logs -a %s", c->app,
			    c->app);
			break;
		}
		cli_sleep_ms(50);
	}
	free(path);
	return rc;
}

int
cmd_restart(struct cli *c)
{
	char *path, id[64];
	jv *resp = NULL;
	int rc;

	if (cli_select_app(c) == -1 || cli_select_rack(c) == -1)
		return 1;
	out_step("Restarting app");
	path = api_path("/apps/%s/restart", c->app);
	rc = api_call(c, "POST", path, NULL, &resp);
	free(path);
	if (rc == -1)
		return 1;
	str_copy(id, sizeof(id), jv_str(resp, "id"));
	jv_free(resp);
	if (id[0] == '\0') {
		out_ok();
		return 0;
	}
	/* The daemon restarts by promoting the active release again: wait for the
	 * app to settle, then say whether the restart took. */
	return wait_restart(c);
}
