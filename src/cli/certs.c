/*
 * certs.c — `cx certs` (list, import, generate, delete) and `cx ssl` (an
 * app's endpoints and their certificates, update), as Convox prints them:
 * ID DOMAIN EXPIRES and ENDPOINT CERTIFICATE DOMAIN EXPIRES. Files named on
 * the command line are read here and sent as PEM text, so the commands work
 * the same against any rack the CLI reaches.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/output.h"

#define PEM_FILE_MAX (128 * 1024)

int
cmd_certs(struct cli *c)
{
	static const struct out_col cols[] = {
		{ "ID", "id", OUT_TEXT },
		{ "DOMAIN", "domain", OUT_TEXT },
		{ "EXPIRES", "expires", OUT_WHEN },
	};
	static const char *const extra[] = { "domains", "source", NULL };
	jv *arr = NULL;

	if (api_call(c, "GET", "/certificates", NULL, &arr) == -1)
		return 1;
	out_list(cols, CX_ARRAY_LEN(cols), arr, c->json, extra);
	jv_free(arr);
	return 0;
}

/* The PEM text of file path, malloc'd; NULL after printing why. */
static char *
read_pem(const char *what, const char *path)
{
	char *text = read_file(path, PEM_FILE_MAX, NULL);

	if (text == NULL)
		out_error("cannot read the %s %s: %s", what, path,
		    errno == EFBIG ? "larger than 128 KiB" : strerror(errno));
	return text;
}

int
cmd_certs_import(struct cli *c)
{
	char *pub, *key = NULL;
	jv *body, *resp = NULL;
	int rc = 1;

	if ((pub = read_pem("certificate", c->argv[0])) == NULL)
		return 1;
	if ((key = read_pem("key", c->argv[1])) == NULL)
		goto out;
	body = jv_object_new();
	jv_set_str(body, "pub", pub);
	jv_set_str(body, "key", key);
	out_step("Importing certificate");
	if (api_call(c, "POST", "/certificates", body, &resp) == 0) {
		out_ok_with(jv_str(resp, "id"));
		rc = 0;
	}
	jv_free(body);
	jv_free(resp);
out:
	free(pub);
	if (key != NULL) {
		explicit_bzero(key, strlen(key));
		free(key);
	}
	return rc;
}

int
cmd_certs_generate(struct cli *c)
{
	jv *body = jv_object_new(), *ds = jv_array_new(), *resp = NULL;
	int rc = 1;

	for (int i = 0; i < c->argc; i++)
		jv_push_str(ds, c->argv[i]);
	jv_set_take(body, "domains", ds);
	out_step("Generating certificate");
	if (api_call(c, "POST", "/certificates/generate", body, &resp) == 0) {
		out_ok_with(jv_str(resp, "id"));
		rc = 0;
	}
	jv_free(body);
	jv_free(resp);
	return rc;
}

int
cmd_certs_delete(struct cli *c)
{
	char step[128];

	snprintf(step, sizeof(step), "Deleting certificate %.80s", c->argv[0]);
	return api_delete_step(c, api_path("/certificates/%s", c->argv[0]), step);
}

int
cmd_ssl(struct cli *c)
{
	static const struct out_col cols[] = {
		{ "ENDPOINT", "endpoint", OUT_TEXT },
		{ "CERTIFICATE", "certificate", OUT_TEXT },
		{ "DOMAIN", "domain", OUT_TEXT },
		{ "EXPIRES", "expires", OUT_WHEN },
	};
	static const char *const extra[] = { "source", NULL };

	return cli_list_app(c, "ssl", cols, CX_ARRAY_LEN(cols), extra);
}

int
cmd_ssl_update(struct cli *c)
{
	const char *ep = c->argv[0], *colon = strrchr(ep, ':');
	char service[64], *path;
	jv *body;
	int rc;

	if (colon == NULL || colon == ep || colon[1] == '\0' || (size_t)(colon - ep) >= sizeof(service))
		return out_error("\"%s\" is not an endpoint: use SERVICE:PORT, e.g. web:443", ep);
	memcpy(service, ep, (size_t)(colon - ep));
	service[colon - ep] = '\0';
	if (cli_select_app(c) == -1)
		return 1;
	path = api_path("/apps/%s/ssl/%s/%s", c->app, service, colon + 1);
	body = jv_object_new();
	jv_set_str(body, "id", c->argv[1]);
	out_step("Updating certificate");
	rc = api_call(c, "PUT", path, body, NULL);
	free(path);
	jv_free(body);
	if (rc == -1)
		return 1;
	out_ok();
	return 0;
}
