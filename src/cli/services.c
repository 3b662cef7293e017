/*
 * services.c — `cx services` and `cx ps`: one request each.
 *
 * `cx services` prints Convox's SERVICE DOMAIN PORTS, and adds a ROUTER
 * column (public / internal / none) only when some service is served by the
 * internal router: scripts that read Convox's three columns keep working for
 * apps that do not use it, and the table says which router serves what as
 * soon as it matters. --json always carries "router" and "url", and
 * "https_url" for a routed service of a loopback rack (its router's TLS port).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
