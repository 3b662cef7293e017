/*
 * api_render.c — POST /render {"app": APP, "manifest": TEXT, "kube_version":
 * "1.MINOR"}: the Kubernetes objects of the app (src/k8s/render.h) as YAML,
 * made offline: no Kubernetes server is asked. The app need not exist;
 * when it does, its newest environment, its active release and build fill
 * in the Secrets and the image tags, and "manifest" may be left out to
 * render the active release's own convox.yml. The rack's params registry,
 * domain and domain_internal name images and hosts; resource passwords come
 * from a seed of the rack's (RACK_DIR/k8s.seed, made once), so the same
 * input renders the same objects.
 * POST /render {"system": true, "cloud": C}: the rack's own objects on a
 * cluster (routers, their LoadBalancer Services, the peering endpoint).
 * Either with "format": "json": the objects as a JSON array instead.
 */
/* The router image's tag: this build's version, "cx-0.2.0" as "0.2.0". */
#define CX_VERSION_TAG (CX_VERSION + 3)
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
#include "rackd/manifest.h"
#include "rackd/rack.h"
#include "rackd/store.h"

/* The rack's render seed, made on first use: 64 hex characters. -1 with err. */
static int
render_seed(struct rack *r, char *out, size_t outlen, char *err, size_t errlen)
{
	char path[4200], *text;

	snprintf(path, sizeof(path), "%s/k8s.seed", r->dir);
	if ((text = read_file(path, 256, NULL)) != NULL) {
		text[strcspn(text, "\n")] = '\0';
		str_copy(out, outlen, text);
		free(text);
		if (strlen(out) == 64)
			return 0;
	}
	if (outlen < 65 || random_hex(out, 32) == -1) {
		snprintf(err, errlen, "cannot make the rack's render seed: no random bytes");
		return -1;
	}
	if (write_file_atomic(path, out, strlen(out), 0600) == -1) {
		snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

/* "K=V\n" lines as a NULL-terminated array of malloc'd "K=V" (*n of them). */
static char **
env_lines(const char *text, size_t *n)
{
	char **v = xcalloc(1, sizeof(*v));

	*n = 0;
	for (const char *l = text; l != NULL && *l != '\0';) {
		const char *end = strchr(l, '\n');
		size_t len = end != NULL ? (size_t)(end - l) : strlen(l);

		if (len > 0 && memchr(l, '=', len) != NULL) {
			v = xrealloc(v, (*n + 2) * sizeof(*v));
			v[(*n)++] = xstrndup(l, len);
			v[*n] = NULL;
		}
		l = end != NULL ? end + 1 : NULL;
	}
	return v;
}

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
	char registry[256], err[256];
	struct k8s_render_opts o = { .rack = r->name, .registry = registry,
		.release = CX_VERSION_TAG };
	jv *docs;

	rack_param(r, "registry", registry, sizeof(registry));
	if ((docs = k8s_render_rack(&o, jv_str_or(body, "cloud", "generic"), err,
	    sizeof(err))) == NULL) {
		api_error(s, 400, "%s", err);
		return;
	}
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
	char *text = NULL, *env_text = NULL, **env = NULL;
	char err[1024], seed[80], registry[256], domain[256], domain_internal[256];
	struct manifest *m = NULL;
	struct k8s_render_opts o = { 0 };
	size_t nenv = 0;
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
	if (render_seed(r, seed, sizeof(seed), err, sizeof(err)) == -1) {
		api_error(s, 500, "%s", err);
		goto out;
	}
	env = env_lines(env_text, &nenv);
	rack_param(r, "registry", registry, sizeof(registry));
	rack_param(r, "domain", domain, sizeof(domain));
	rack_param(r, "domain_internal", domain_internal, sizeof(domain_internal));
	o = (struct k8s_render_opts){ .rack = r->name, .app = app, .registry = registry,
		.build = have_build ? b.id : NULL, .release = a != NULL && a->active[0] ?
		a->active : NULL, .domain = domain, .domain_internal = domain_internal,
		.kube_minor = (int)minor, .seed = seed, .env = env, .nenv = nenv };
	if ((docs = k8s_render(m, &o, err, sizeof(err))) == NULL) {
		api_error(s, 400, "%s", err);
		goto out;
	}
	answer_docs(s, body, docs);
out:
	for (size_t i = 0; env != NULL && i < nenv; i++)
		free(env[i]);
	free(env);
	if (have_build)
		store_build_free(&b);
	manifest_free(m);
	jv_free(docs);
	free(text);
	free(env_text);
	jv_free(body);
}
