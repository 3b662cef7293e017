/*
 * services.c — `cx services` and `cx ps`: one request each.
 *
 * `cx services` prints Convox's SERVICE DOMAIN PORTS, and adds a ROUTER
 * column (public / internal / none) only when some service is served by the
 * internal router: scripts that read Convox's three columns keep working for
 * apps that do not use it, and the table says which router serves what as
 * soon as it matters. --json always carries "router" and "url", and
 * "https_url" for a routed service of a loopback rack (its router's TLS port).
 *
 * `cx services restart SERVICE` asks the rack to replace the service's
 * processes, rolling, and waits until the ones it named are gone or stopping:
 * the rack stops them only once their replacements serve.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdbool.h>

#include "cli/cli.h"
#include "cli/output.h"

int
cmd_services(struct cli *c)
{
	static const struct out_col cols[] = {
		{ "SERVICE", "name", OUT_TEXT },
		{ "DOMAIN", "domain", OUT_TEXT },
		{ "PORTS", "ports", OUT_TEXT },
		{ "ROUTER", "router", OUT_TEXT },
	};
	static const char *const extra[] = { "url", "https_url", NULL };
	size_t ncols = 3;
	jv *svcs = NULL;
	char *path;
	int rc;

	if (cli_select_app(c) == -1)
		return 1;
	path = api_path("/apps/%s/services", c->app);
	rc = api_call(c, "GET", path, NULL, &svcs);
	free(path);
	if (rc == -1)
		return 1;
	for (size_t i = 0; i < jv_len(svcs); i++)
		if (c->json || strcmp(jv_str(jv_at(svcs, i), "router"), "internal") == 0)
			ncols = 4;
	out_list(cols, ncols, svcs, c->json, extra);
	jv_free(svcs);
	return 0;
}

int
cmd_ps(struct cli *c)
{
	static const struct out_col cols[] = {
		{ "ID", "id", OUT_TEXT },
		{ "SERVICE", "service", OUT_TEXT },
		{ "STATUS", "status", OUT_TEXT },
		{ "RELEASE", "release", OUT_TEXT },
		{ "STARTED", "started", OUT_AGO },
		{ "COMMAND", "command", OUT_TEXT },
	};
	static const char *const extra[] = { "pid", "port", "address", NULL };

	return cli_list_app(c, "processes", cols, CX_ARRAY_LEN(cols), extra);
}

#define SERVICE_RESTART_WAIT_MS (10 * 60 * 1000)

/* How many of the processes named in ids still serve (in procs, not stopping). */
static size_t
still_serving(const jv *procs, const jv *ids)
{
	size_t n = 0;

	for (size_t i = 0; i < jv_len(procs); i++) {
		const jv *p = jv_at(procs, i);

		if (strcmp(jv_str(p, "status"), "stopping") == 0)
			continue;
		for (size_t k = 0; k < jv_len(ids); k++) {
			const char *id = jv_string_value(jv_at(ids, k));

			if (id != NULL && strcmp(id, jv_str(p, "id")) == 0)
				n++;
		}
	}
	return n;
}

int
cmd_services_restart(struct cli *c)
{
	const char *svc = c->argv[0];
	int64_t deadline;
	jv *resp = NULL, *ids;
	char *path;
	int rc = 1;

	if (cli_select_app(c) == -1 || cli_select_rack(c) == -1)
		return 1;
	out_step("Restarting %s", svc);
	path = api_path("/apps/%s/services/%s/restart", c->app, svc);
	rc = api_call(c, "POST", path, NULL, &resp);
	free(path);
	if (rc == -1)
		return 1;
	rc = 1;
	ids = jv_get(resp, "replacing");
	path = api_path("/apps/%s/processes", c->app);
	deadline = now_ms() + SERVICE_RESTART_WAIT_MS;
	for (;;) {
		jv *procs = NULL;
		size_t left;

		if (api_call(c, "GET", path, NULL, &procs) == -1)
			break;
		left = still_serving(procs, ids);
		jv_free(procs);
		if (left == 0) {
			out_ok();
			rc = 0;
			break;
		}
		if (now_ms() > deadline) {
			out_error("the new processes of %s are not healthy after %d minutes; the old ones"
			    " serve on (cx ps -a %s, cx logs -a %s)", svc, SERVICE_RESTART_WAIT_MS / 60000,
			    c->app, c->app);
			break;
		}
		cli_sleep_ms(100);
	}
	free(path);
	jv_free(resp);
	return rc;
}
