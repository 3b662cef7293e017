/*
 * kube.c — the CLI's side of a Kubernetes rack (issue 14):
 *   cx rack install kubernetes NAME kubeconfig=FILE [cloud=C] [--dry-run]
 *     (rack.c installs the rack's own daemon here, as for a local rack, with
 *     no VPC: its apps run on the cluster); then this file applies the rack's
 *     own objects (routers, LoadBalancer Services, the peering endpoint) to
 *     the cluster, or with --dry-run prints them and asks no server;
 *   cx rack apply [-a APP [--manifest FILE]] [--dry-run]
 *     applies the rack's own objects, or an app's, to the rack's cluster.
 * Before the rack's own objects, install builds and pushes the routers'
 * image (routerimage.c), and apply does when the registry lacks it.
 * The daemon renders (POST /render, as JSON); the CLI, where the user's
 * kubeconfig is, applies each object by server-side apply with the rack's
 * field manager cx-RACK (k8s/apply.c: libcurl, no kubectl).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/output.h"
#include "k8s/apply.h"
#include "k8s/kubeconfig.h"
#include "k8s/yaml.h"
#include "rackd/manifest.h"

/* The rack's params (GET /system/params), or NULL after saying why. Its
 * registry is "" unless the user set one: the default (registry.RACK.cx.test)
 * names images in a render, but nobody made that registry to push to. */
static jv *
kube_params(struct cli *c)
{
	jv *resp = NULL, *params;
	const jv *set;
	bool registry_set = false;

	if (api_call(c, "GET", "/system/params", NULL, &resp) == -1)
		return NULL;
	params = jv_copy(jv_get(resp, "params"));
	set = jv_get(resp, "set");
	for (size_t i = 0; i < jv_len(set); i++)
		registry_set = registry_set || strcmp(jv_string_value(jv_at(set, i)), "registry") == 0;
	if (!registry_set && jv_is_array(set))
		jv_set_str(params, "registry", "");
	jv_free(resp);
	return params;
}

/* The rack's objects (app NULL) or the app's, rendered by its daemon for
 * Kubernetes 1.minor (0: the newest), as a jv array; NULL after saying why. */
static jv *
kube_render(struct cli *c, const jv *params, const char *app, const char *manifest, int minor)
{
	jv *body = jv_object_new(), *docs = NULL;
	char kv[16];

	jv_set_str(body, "format", "json");
	if (minor > 0) {
		snprintf(kv, sizeof(kv), "1.%d", minor);
		jv_set_str(body, "kube_version", kv);
	}
	if (app == NULL) {
		const char *cloud = jv_str(params, "cloud");

		jv_set_bool(body, "system", true);
		jv_set_str(body, "cloud", cloud[0] != '\0' ? cloud : "generic");
	} else {
		jv_set_str(body, "app", app);
		if (manifest != NULL)
			jv_set_str(body, "manifest", manifest);
	}
	if (api_call(c, "POST", "/render", body, &docs) == -1)
		docs = NULL;
	else if (!jv_is_array(docs)) {
		out_error("the rack answered /render without a list of objects: is its daemon older "
		    "than this cx?");
		jv_free(docs);
		docs = NULL;
	}
	jv_free(body);
	return docs;
}

/* Applies docs one by one, a line for each on stdout (KIND NAME applied
 * RESOURCEVERSION, or checked on a dry run). Stops at the first the server
 * refuses, naming it. 0 or 1. */
static int
kube_apply_all(struct cli *c, const struct kubeconfig *kc, const jv *docs, bool dry_run)
{
	char manager[128], rv[64], err[1200];

	snprintf(manager, sizeof(manager), "cx-%s", c->rack);
	for (size_t i = 0; i < jv_len(docs); i++) {
		const jv *o = jv_at(docs, i);
		const char *kind = jv_str(o, "kind"), *name = jv_str(jv_get(o, "metadata"), "name");

		if (k8s_apply(kc, o, manager, dry_run, rv, sizeof(rv), err, sizeof(err)) == -1)
			return out_error("%s %s: %s", kind, name, err);
		printf("%s %s %s%s%s\n", kind, name, dry_run ? "checked" : "applied",
		    rv[0] ? " " : "", rv);
	}
	return fflush(stdout) == 0 ? 0 : 1;
}

/* The rack's own copy of its kubeconfig (RACK_DIR/kubeconfig, which install
 * writes: never a path the daemon names), loaded; -1 after saying why. */
static int
kube_config(struct cli *c, const jv *params, struct kubeconfig *kc)
{
	char err[1600], path[PATH_MAX];

	memset(kc, 0, sizeof(*kc));
	if (jv_str(params, "kubeconfig")[0] == '\0') {
		out_error("rack %s is not a Kubernetes rack (cx rack install kubernetes NAME "
		    "kubeconfig=FILE makes one)", c->rack);
		return -1;
	}
	if (cli_rack_is_remote(c)) {
		out_error("rack %s is remote: cx applies to a Kubernetes rack's cluster from the "
		    "machine where it was installed", c->rack);
		return -1;
	}
	cli_rack_path(c, c->rack, "kubeconfig", path, sizeof(path));
	if (kubeconfig_load(path, NULL, kc, err, sizeof(err)) == -1) {
		kubeconfig_free(kc);
		out_error("%s", err);
		return -1;
	}
	return 0;
}

int
kube_check_config(const char *path)
{
	struct kubeconfig kc;
	char err[1600];
	int rc = kubeconfig_load(path, NULL, &kc, err, sizeof(err));

	kubeconfig_free(&kc);
	return rc == 0 ? 0 : out_error("%s", err);
}

int
kube_copy_config(const char *from, const char *to)
{
	struct kubeconfig kc;
	char err[1600];
	int rc = kubeconfig_load(from, NULL, &kc, err, sizeof(err));

	if (rc == 0)
		rc = kubeconfig_write(&kc, to, err, sizeof(err));
	kubeconfig_free(&kc);
	return rc == 0 ? 0 : out_error("%s", err);
}

int
kube_install_objects(struct cli *c, bool dry_run)
{
	struct kubeconfig kc;
	int minor = 0, rc;
	char err[1600];
	jv *docs, *params;

	if ((params = kube_params(c)) == NULL)
		return 1;
	if (kube_config(c, params, &kc) == -1) {
		jv_free(params);
		return 1;
	}
	if (!dry_run && k8s_server_minor(&kc, &minor, err, sizeof(err)) == -1) {
		kubeconfig_free(&kc);
		jv_free(params);
		return out_error("%s", err);
	}
	if (!dry_run)
		kube_router_image(c, params, true);    /* what stops it is a warning */
	docs = kube_render(c, params, NULL, NULL, minor);
	jv_free(params);
	if (docs == NULL) {
		kubeconfig_free(&kc);
		return 1;
	}
	if (dry_run) {
		char *yaml = k8s_yaml_stream(docs);

		fputs(yaml, stdout);
		free(yaml);
		rc = fflush(stdout) == 0 ? 0 : 1;
	} else {
		rc = kube_apply_all(c, &kc, docs, false);
	}
	jv_free(docs);
	kubeconfig_free(&kc);
	return rc;
}

int
cmd_rack_apply(struct cli *c)
{
	const char *file = c->opt[OPT_MANIFEST];
	bool dry_run = c->opt[OPT_DRY_RUN] != NULL;
	struct kubeconfig kc;
	char *text = NULL, err[1600];
	size_t len = 0;
	int minor = 0, rc = 1;
	jv *docs = NULL, *params;

	if (c->opt[OPT_APP] == NULL && file != NULL)
		return out_error("--manifest is for an app's objects: give -a APP too");
	if (c->opt[OPT_APP] != NULL && cli_select_app(c) == -1)
		return 1;
	if (cli_select_rack(c) == -1 || (params = kube_params(c)) == NULL)
		return 1;
	if (kube_config(c, params, &kc) == -1) {
		jv_free(params);
		return 1;
	}
	if (file != NULL && ((text = read_file(file, MF_MAX_FILE, &len)) == NULL ||
	    strlen(text) != len)) {
		out_error("cannot read %s: %s", file, text != NULL ? "it holds a NUL byte" :
		    errno == EFBIG ? "over 1 MiB, the most a convox.yml may be" : strerror(errno));
		goto out;
	}
	if (k8s_server_minor(&kc, &minor, err, sizeof(err)) == -1) {
		out_error("%s", err);
		goto out;
	}
	if (c->opt[OPT_APP] == NULL && !dry_run)
		kube_router_image(c, params, false);
	docs = kube_render(c, params, c->opt[OPT_APP] != NULL ? c->app : NULL, text, minor);
	if (docs != NULL)
		rc = kube_apply_all(c, &kc, docs, dry_run);
out:
	jv_free(params);
	jv_free(docs);
	free(text);
	kubeconfig_free(&kc);
	return rc;
}

int
kube_uninstall_objects(struct cli *c, struct buf *said)
{
	struct kubeconfig kc;
	char err[1600], path[PATH_MAX];
	jv *params = kube_params(c);

	if (params == NULL || jv_str(params, "kubeconfig")[0] == '\0') {
		jv_free(params);
		return params == NULL ? -1 : 0;
	}
	/* A cluster that is gone must not keep the rack: say what stays. */
	cli_rack_path(c, c->rack, "kubeconfig", path, sizeof(path));
	if (kubeconfig_load(path, NULL, &kc, err, sizeof(err)) == -1 ||
	    k8s_delete_rack(&kc, c->rack, said, err, sizeof(err)) == -1)
		buf_addf(said, "WARNING: %s; what rack %s applied stays on the cluster (its objects "
		    "are labelled cx.rack=%s)\n", err, c->rack, c->rack);
	kubeconfig_free(&kc);
	jv_free(params);
	return 0;
}
