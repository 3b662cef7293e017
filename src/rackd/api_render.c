/*
 * api_render.c — POST /render {"app": APP, "manifest": TEXT, "kube_version":
 * "1.MINOR"}: the Kubernetes objects of the app (src/k8s/render.h) as YAML,
 * made offline: no Kubernetes server is asked. The app need not exist;
 * when it does, its newest environment, its active release and build fill
 * in the Secrets and the image tags, and "manifest" may be left out to
 * render the active release's own convox.yml. The rack's params registry,
 * domain and domain_internal name images and hosts; resource passwords come
 * from a seed of the rack's (RACK_DIR/k8s.seed, made once), so the same
 * input renders the same objects (kdeploy.h: a deploy renders the same way).
 * POST /render {"system": true, "cloud": C}: the rack's own objects on a
 * cluster (routers, their LoadBalancer Services, the peering endpoint).
 * Either with "format": "json": the objects as a JSON array instead.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/util.h"
#include "common/version.h"
#include "k8s/render.h"
#include "k8s/yaml.h"
#include "rackd/api.h"
#include "rackd/build.h"
#include "rackd/kdeploy.h"
#include "rackd/kpeers.h"
#include "rackd/manifest.h"
#include "rackd/rack.h"
#include "rackd/store.h"

/* Answers docs as YAML text, or as a JSON array when the body asked for
 * "format": "json" (what cx rack apply sends on, object by object). */
static void
answer_docs(struct api_resp *s, const jv *body, jv *docs)
{
	char *yaml;

	if (strcmp(jv_str(body, "format"), "json") == 0) {
		s->json = jv_copy(docs);
		return;
	}
	yaml = k8s_yaml_stream(docs);

	s->is_text = true;
	if (buf_adds(&s->text, yaml) == -1)
		api_error(s, 500, "cannot answer the objects");
	free(yaml);
}

/* {"system": true, "cloud": C}: the rack's own objects (k8s_render_rack). */
static void
render_system(struct rack *r, const jv *body, struct api_resp *s)
{
	char registry[256], err[1024];
	struct k8s_render_opts o = { .rack = r->name, .registry = registry,
		.release = CX_VERSION_TAG };
	jv *docs;

	rack_param(r, "registry", registry, sizeof(registry));
	jv *peering;

	if ((docs = k8s_render_rack(&o, jv_str_or(body, "cloud", "generic"), err,
	    sizeof(err))) == NULL) {
		api_error(s, 400, "%s", err);
		return;
	}
	/* Its peering: its peer identity and the peers the store has. */
	if ((peering = kpeers_render(r, err, sizeof(err))) == NULL) {
		api_error(s, 500, "%s", err);
		jv_free(docs);
		return;
	}
	for (size_t i = 0; i < jv_len(peering); i++)
		jv_push_take(docs, jv_copy(jv_at(peering, i)));
	jv_free(peering);
	answer_docs(s, body, docs);
	jv_free(docs);
}

void
api_render(struct rack *r, struct api_req *q, struct api_resp *s)
{
	jv *body = api_json_body(q, s), *docs = NULL;
	const char *app, *given, *kv;
	struct app *a;
	struct st_build b = { 0 };
	bool have_build = false;
	char *text = NULL, *env_text = NULL;
	char err[1024];
	struct manifest *m = NULL;
	struct kdeploy_input in = { 0 };
	struct k8s_render_opts o;
	long minor = 0;

	if (body == NULL)
		return;
	if (jv_bool(body, "system")) {
		render_system(r, body, s);
		jv_free(body);
		return;
	}
	app = jv_str_or(body, "app", "");
	given = jv_str_or(body, "manifest", NULL);
	kv = jv_str_or(body, "kube_version", "");
	if (!valid_name(app)) {
		api_error(s, 400, "app \"%.40s\" is not an app name (lower-case letters, digits and "
		    "dashes, starting with a letter)", app);
		goto out;
	}
	if (kv[0] != '\0' && (strncmp(kv, "1.", 2) != 0 || parse_long(kv + 2, 0, 999, &minor) ==
	    -1)) {
		api_error(s, 400, "kube_version must be like 1.29, not \"%.20s\"", kv);
		goto out;
	}
	a = rack_app_find(r, app);
	if (a != NULL && a->active[0] != '\0') {
		struct st_release rel;

		if (store_release_get(r->store, app, a->active, &rel) == 0) {
			if (rel.build[0] != '\0' && store_build_get(r->store, app, rel.build, &b) == 0)
				have_build = true;
			store_release_free(&rel);
		}
	}
	if (given == NULL && !have_build) {
		api_error(s, 400, "app %s has no active release with a convox.yml: give one "
		    "(cx rack render --manifest FILE)", app);
		goto out;
	}
	text = xstrdup(given != NULL ? given : b.manifest);
	env_text = a != NULL ? rack_latest_env(r, app) : xstrdup("");
	m = manifest_parse(text, strlen(text), "convox.yml", build_env_lookup, env_text, err,
	    sizeof(err));
	if (m == NULL) {
		api_error(s, 400, "%s", err);
		goto out;
	}
	if (kdeploy_input_load(r, app, m, env_text, &in, err, sizeof(err)) == -1) {
		api_error(s, 500, "%s", err);
		goto out;
	}
	o = kdeploy_opts(r, &in, app, a != NULL && a->active[0] ? a->active : NULL,
	    have_build ? b.id : NULL);
	o.kube_minor = (int)minor;
	if ((docs = k8s_render(m, &o, err, sizeof(err))) == NULL) {
		api_error(s, 400, "%s", err);
		goto out;
	}
	answer_docs(s, body, docs);
out:
	kdeploy_input_free(&in);
	if (have_build)
		store_build_free(&b);
	manifest_free(m);
	jv_free(docs);
	free(text);
	free(env_text);
	jv_free(body);
}
