/*
 * render.c — `cx rack render -a APP [--manifest FILE] [--kube-version 1.N]`:
 * prints the Kubernetes objects of an app (the rack renders them, asking no
 * Kubernetes server; src/k8s/render.h says which). Only YAML goes to
 * stdout, so `cx rack render ... | kubectl apply -f -` works; errors go to
 * stderr.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/output.h"
#include "rackd/manifest.h"

int
cmd_rack_render(struct cli *c)
{
	const char *file = c->opt[OPT_MANIFEST], *kv = c->opt[OPT_KUBE_VERSION];
	jv *body = jv_object_new();
	struct buf out;
	char *text = NULL;
	size_t len = 0;
	int rc = 1;

	buf_init(&out, 0);
	if (cli_select_app(c) == -1)
		goto done;
	jv_set_str(body, "app", c->app);
	if (file != NULL) {
		if ((text = read_file(file, MF_MAX_FILE, &len)) == NULL) {
			out_error("cannot read %s: %s", file, errno == EFBIG ?
			    "over 1 MiB, the most a convox.yml may be" : strerror(errno));
			goto done;
		}
		if (strlen(text) != len) {
			out_error("%s holds a NUL byte: it is not a convox.yml", file);
			goto done;
		}
		jv_set_str(body, "manifest", text);
	}
	if (kv != NULL)
		jv_set_str(body, "kube_version", kv);
	if (api_post_text(c, "/render", body, &out) == -1)
		goto done;
	fwrite(out.data != NULL ? out.data : "", 1, out.len, stdout);
	rc = fflush(stdout) == 0 ? 0 : 1;
done:
	buf_free(&out);
	free(text);
	jv_free(body);
	return rc;
}

int
cmd_rack_render_system(struct cli *c)
{
	const char *cloud = c->opt[OPT_CLOUD] != NULL ? c->opt[OPT_CLOUD] : "generic";
	jv *body = jv_object_new();
	struct buf out;
	int rc = 1;

	buf_init(&out, 0);
	jv_set_bool(body, "system", true);
	jv_set_str(body, "cloud", cloud);
	if (api_post_text(c, "/render", body, &out) == 0) {
		fwrite(out.data != NULL ? out.data : "", 1, out.len, stdout);
		rc = fflush(stdout) == 0 ? 0 : 1;
		if (rc == 0 && strcmp(cloud, "generic") == 0)
			fprintf(stderr, "cx: cloud generic: router-internal has no internal load "
			    "balancer annotation; give --cloud aws|gcp|azure|do for one\n");
	}
	buf_free(&out);
	jv_free(body);
	return rc;
}
