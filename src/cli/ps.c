/*
 * ps.c — one process at a time: `cx ps info ID` and `cx ps stop ID` (the ID
 * that `cx ps` lists), and the rack's own processes: `cx rack ps` (daemon,
 * routers, DNS). `cx ps` itself is in services.c, beside `cx services`.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/output.h"

/* The process ID of the selected app, owned, or NULL after printing. */
static jv *
find_process(struct cli *c, const char *id)
{
	jv *rows = NULL, *found = NULL;
	char *path;

	if (cli_select_app(c) == -1)
		return NULL;
	path = api_path("/apps/%s/processes", c->app);
	if (api_call(c, "GET", path, NULL, &rows) == -1) {
		free(path);
		return NULL;
	}
	free(path);
	for (size_t i = 0; i < jv_len(rows) && found == NULL; i++) {
		if (strcmp(jv_str(jv_at(rows, i), "id"), id) == 0)
			found = jv_copy(jv_at(rows, i));
	}
	jv_free(rows);
	if (found == NULL)
		out_error("no such process: %s (cx ps -a %s lists them)", id, c->app);
	return found;
}

int
cmd_ps_info(struct cli *c)
{
	char started[32], pid[24], port[24];
	jv *p = find_process(c, c->argv[0]);

	if (p == NULL)
		return 1;
	if (c->json) {
		jv_print(p, stdout);
	} else {
		struct kv kvs[] = {
			{ "Id", jv_str(p, "id") },
			{ "App", c->app },
			{ "Command", jv_str(p, "command") },
			{ "Release", jv_str(p, "release") },
			{ "Service", jv_str(p, "service") },
			{ "Started", started },
			{ "Status", jv_str(p, "status") },
			{ "Pid", pid },
			{ "Address", jv_str(p, "address") },
			{ "Port", port },
		};

		out_rfc3339(jv_int(p, "started"), started, sizeof(started));
		snprintf(pid, sizeof(pid), "%lld", (long long)jv_int(p, "pid"));
		snprintf(port, sizeof(port), "%lld", (long long)jv_int(p, "port"));
		kv_print(kvs, CX_ARRAY_LEN(kvs), stdout);
	}
	jv_free(p);
	return 0;
}

int
cmd_ps_stop(struct cli *c)
{
	char step[96];

	if (cli_select_app(c) == -1 || cli_select_rack(c) == -1)
		return 1;
	snprintf(step, sizeof(step), "Stopping %.60s", c->argv[0]);
	return api_delete_step(c, api_path("/apps/%s/processes/%s", c->app, c->argv[0]), step);
}

int
cmd_rack_ps(struct cli *c)
{
	static const struct out_col cols[] = {
		{ "NAME", "name", OUT_TEXT },
		{ "PID", "pid", OUT_TEXT },
		{ "STATUS", "status", OUT_TEXT },
		{ "LISTEN", "listen", OUT_TEXT },
	};
	jv *rows = NULL;

	if (cli_select_rack(c) == -1)
		return 1;
	if (api_call(c, "GET", "/system/processes", NULL, &rows) == -1)
		return 1;
	out_list(cols, CX_ARRAY_LEN(cols), rows, c->json, NULL);
	jv_free(rows);
	return 0;
}
