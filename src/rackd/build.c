/*
 * build.c — see build.h.
 *
 * The child (its own process group, so a cancel stops podman too) unpacks,
 * checks, and builds each service's image; what the builder says goes to
 * the build's log as it comes. It reports on a pipe: a first line "ok", a
 * second with the images' JSON ("{}" when none), then the build's warnings,
 * one per line; or "error STATUS" followed by a one-line message. Anything
 * else (a crash) is reported as such; the build directory is then removed
 * and nothing is recorded. A build that fails once it has started is
 * recorded as failed (no release), so its log and error stay to be read.
 *
 *   running --child says ok--> complete (build + release recorded)
 *           --child says error--> failed (build recorded, status failed)
 *           --cancel / crash--> gone (nothing recorded)
 */
#include "rackd/build.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <ctype.h>

#include "common/jv.h"
#include "common/log.h"
#include "k8s/render.h"
#include "rackd/api.h"
#include "rackd/applog.h"
#include "rackd/disk.h"
#include "rackd/dockerfile.h"
#include "rackd/image.h"
#include "rackd/kdeploy.h"
#include "rackd/manifest.h"
#include "rackd/rack.h"
#include "rackd/unpack.h"

/* Where RUN steps find the host's extra CA certificates (build_host_ca). */
#define HOST_CA_DIR "/usr/local/share/ca-certificates"

struct build_job {
	struct rack *rack;
	struct build_job *next;    /* in rack->builds */
	struct api_pending *pending;
	char app[32];
	char id[16];
	char dir[4096];
	char desc[512];
	char release[16];          /* the id its release will have (RELEASE build arg) */
	bool async;                /* answered 202 at once: nobody waits on pending */
	char *env;                 /* the app's env, for ${VAR} in convox.yml */
	int64_t started;           /* unix seconds: the build's STARTED */
	int64_t started_ms;        /* monotonic, for its ELAPSED */
	pid_t pid;
	int fd;
	struct buf report;
};

const char *
build_env_lookup(const char *name, void *ctx)
{
	static char value[4096];
	const char *text = ctx;
	size_t n = strlen(name);

	for (const char *l = text; l != NULL && *l != '\0';) {
		const char *end = strchr(l, '\n');
		size_t len = end ? (size_t)(end - l) : strlen(l);

		if (len > n && strncmp(l, name, n) == 0 && l[n] == '=') {
			snprintf(value, sizeof(value), "%.*s", (int)(len - n - 1), l + n + 1);
			return value;
		}
		l = end ? end + 1 : NULL;
	}
	return NULL;
}

/* What the child knows of its build. */
struct build_ctx {
	const char *dir;           /* the unpacked source */
	const char *env;           /* the app's env, "K=V" lines */
	const char *rack, *app, *id, *release;
	bool builder;              /* image_builder_available */
	char why[256];             /* ...and if not, why */
	bool no_cache;
	const char *ca_dir;        /* HOST_CA_DIR, or NULL */
	bool kube;                 /* a Kubernetes rack's: images pushed to registry */
	char registry[256];        /* its param registry as set ("" unset) */
	bool registry_insecure;    /* ...and registry_insecure */
	int log_fd;
	struct buf *warnings;
	jv *images;                /* {"SERVICE": {"ref", "config"}} */
};

/* A line in the build's log. */
static void
say(const struct build_ctx *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void
say(const struct build_ctx *b, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vdprintf(b->log_fd, fmt, ap);
	va_end(ap);
	dprintf(b->log_fd, "\n");
}

/* A warning: in the build's log and in its record. */
static void
warn(const struct build_ctx *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void
warn(const struct build_ctx *b, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	buf_addf(b->warnings, "%s\n", line);
	say(b, "%s", line);
}

static void
image_ref(const struct build_ctx *b, const char *service, char *out, size_t outlen)
{
	image_build_ref(b->rack, b->app, service, b->id, out, outlen);
}

/* Sets name=value in the NULL-terminated "K=V" list *v (n entries), replacing one. */
static void
kv_set(char ***v, size_t *n, const char *name, size_t nlen, const char *value)
{
	for (size_t i = 0; i < *n; i++) {
		if (strncmp((*v)[i], name, nlen) == 0 && (*v)[i][nlen] == '=') {
			free((*v)[i]);
			(*v)[i] = xasprintf("%.*s=%s", (int)nlen, name, value);
			return;
		}
	}
	*v = xrealloc(*v, (*n + 2) * sizeof(**v));
	(*v)[(*n)++] = xasprintf("%.*s=%s", (int)nlen, name, value);
	(*v)[*n] = NULL;
}

/*
 * The build args of service sv's Dockerfile, as Convox gives them: of the
 * app's env, Convox's own (APP, BUILD, RACK, RELEASE, SERVICE and their
 * BUILD_ forms) and convox.yml's build.args (later ones win), the names the
 * Dockerfile declares with ARG. Owned, NULL-terminated.
 */
static char **
build_args(const struct build_ctx *b, const struct mf_service *sv, char *const *declared)
{
	const char *own[][2] = {
		{ "APP", b->app }, { "BUILD", b->id }, { "RACK", b->rack },
		{ "RELEASE", b->release }, { "SERVICE", sv->name },
		{ "BUILD_APP", b->app }, { "BUILD_ID", b->id }, { "BUILD_RACK", b->rack },
		{ "BUILD_RELEASE", b->release }, { "BUILD_SERVICE", sv->name },
		{ "BUILD_MANIFEST", sv->dockerfile }, { "BUILD_DEVELOPMENT", "false" },
		{ "BUILD_GENERATION", "2" },
	};
	char **pool = NULL, **out = NULL;
	size_t npool = 0, nout = 0;

	for (const char *l = b->env; l != NULL && *l != '\0';) {
		const char *end = strchr(l, '\n'), *eq;
		size_t len = end ? (size_t)(end - l) : strlen(l);
		char *line = xstrndup(l, len);

		if ((eq = strchr(line, '=')) != NULL)
			kv_set(&pool, &npool, line, (size_t)(eq - line), eq + 1);
		free(line);
		l = end ? end + 1 : NULL;
	}
	for (size_t i = 0; i < CX_ARRAY_LEN(own); i++)
		kv_set(&pool, &npool, own[i][0], strlen(own[i][0]), own[i][1]);
	for (size_t i = 0; i < sv->nbuild_args; i++) {
		const struct mf_env *e = &sv->build_args[i];
		const char *v = e->has_value ? e->value : build_env_lookup(e->key, (void *)b->env);

		if (v != NULL)
			kv_set(&pool, &npool, e->key, strlen(e->key), v);
	}
	for (size_t i = 0; declared != NULL && declared[i] != NULL; i++) {
		size_t n = strlen(declared[i]);

		for (size_t k = 0; k < npool; k++) {
			if (strncmp(pool[k], declared[i], n) == 0 && pool[k][n] == '=') {
				kv_set(&out, &nout, declared[i], n, pool[k] + n + 1);
				break;
			}
		}
	}
	str_list_free(pool);
	return out;
}

/* Records service name's image ref and its config in b->images; checks the
 * service has something to run. 0, or -1 with err. */
static int
record_image(struct build_ctx *b, const struct mf_service *sv, const char *ref, char *err,
    size_t errlen)
{
	struct image_config c;
	char *text, perr[128];
	jv *one;

	if (image_inspect(ref, &c, err, errlen) == -1)
		return -1;
	if (sv->command == NULL && c.entrypoint == NULL && c.cmd == NULL) {
		snprintf(err, errlen, "service %s has no command: set command: in convox.yml or CMD"
		    " in %s", sv->name, sv->image ? sv->image : sv->dockerfile);
		image_config_free(&c);
		return -1;
	}
	text = image_config_to_json(&c);
	image_config_free(&c);
	one = jv_object_new();
	jv_set_str(one, "ref", ref);
	jv_set_take(one, "config", jv_parse(text, strlen(text), perr, sizeof(perr)));
	free(text);
	jv_set_take(b->images, sv->name, one);
	return 0;
}

/* The service's Dockerfile, read; false when there is none. -1 on error. */
static int
service_dockerfile(const struct build_ctx *b, const struct mf_service *sv, struct dockerfile *df,
    char *path, size_t pathlen, char *err, size_t errlen)
{
	struct stat st;

	snprintf(path, pathlen, "%s/%s/%s", b->dir, sv->build_path, sv->dockerfile);
	if (dockerfile_read(path, df, err, errlen) == -1)
		return -1;
	return stat(path, &st) == 0 && S_ISREG(st.st_mode) ? 1 : 0;
}

/* The key two services share when they build once: path, Dockerfile, args. */
static char *
build_key(const struct mf_service *sv, char *const *args)
{
	struct buf k;

	buf_init(&k, 0);
	buf_addf(&k, "%s\n%s\n", sv->build_path, sv->dockerfile);
	for (size_t i = 0; args != NULL && args[i] != NULL; i++)
		buf_addf(&k, "%s\n", args[i]);
	return buf_cstr(&k);
}

/* Builds, pulls or checks every service of m. 0, or -1 with err. */
static int
build_services(struct build_ctx *b, const struct manifest *m, char *err, size_t errlen)
{
	char **keys = xcalloc(m->nservices + 1, sizeof(*keys));
	bool said_why = false;
	int rc = 0;

	for (size_t i = 0; i < m->nservices && rc == 0; i++) {
		const struct mf_service *sv = &m->services[i];
		char path[4096], ref[512], context[4096], **args;
		struct dockerfile df;
		int has_df;
		size_t same;

		image_ref(b, sv->name, ref, sizeof(ref));
		if (sv->image != NULL && b->kube) {
			/* The cluster's nodes pull it, not this host. */
			say(b, "Image: %s (the cluster pulls it)", sv->image);
			continue;
		}
		if (sv->image != NULL) {
			if (!b->builder) {
				snprintf(err, errlen, "service %s runs image %s, which needs the image "
				    "builder: %s", sv->name, sv->image, b->why);
				rc = -1;
				break;
			}
			say(b, "Pulling: %s", sv->image);
			if (image_pull(sv->image, b->log_fd, err, errlen) == -1 ||
			    image_tag(sv->image, ref, err, errlen) == -1 ||
			    record_image(b, sv, ref, err, errlen) == -1)
				rc = -1;
			continue;
		}
		if ((has_df = service_dockerfile(b, sv, &df, path, sizeof(path), err, errlen)) == -1) {
			rc = -1;
			break;
		}
		if (b->kube && (has_df == 0 || !b->builder)) {
			if (has_df == 0)
				snprintf(err, errlen, "service %s has no Dockerfile in %s: a Kubernetes rack "
				    "runs images, so give it one (or image:)", sv->name, sv->build_path);
			else
				snprintf(err, errlen, "service %s: a Kubernetes rack builds its Dockerfile "
				    "with the image builder: %s", sv->name, b->why);
			dockerfile_free(&df);
			rc = -1;
			break;
		}
		if (has_df == 0 || !b->builder) {
			/* Today's way: the host's root filesystem, the Dockerfile's CMD. */
			if (has_df == 0)
				warn(b, "service %s: no Dockerfile in %s, runs its command: from the host's"
				    " root filesystem", sv->name, sv->build_path);
			else if (!said_why) {
				warn(b, "%s; services run from the host's root filesystem", b->why);
				said_why = true;
			}
			if (has_df == 1 && df.run_lines > 0)
				warn(b, "service %s: the %d RUN line(s) of %s are not run without the image"
				    " builder", sv->name, df.run_lines, sv->dockerfile);
			if (sv->command == NULL && df.command == NULL) {
				snprintf(err, errlen, "service %s has no command: set command: in convox.yml"
				    " or CMD in %s/%s", sv->name, sv->build_path, sv->dockerfile);
				rc = -1;
			}
			dockerfile_free(&df);
			continue;
		}
		args = build_args(b, sv, df.args);
		dockerfile_free(&df);
		keys[i] = build_key(sv, args);
		for (same = 0; same < i; same++)
			if (keys[same] != NULL && strcmp(keys[same], keys[i]) == 0)
				break;
		if (same < i) {
			char first[512];

			/* Built already for an earlier service: one more name for it. */
			image_ref(b, m->services[same].name, first, sizeof(first));
			say(b, "Tagging: %s as %s", first, ref);
			if (image_tag(first, ref, err, errlen) == -1 ||
			    record_image(b, sv, ref, err, errlen) == -1)
				rc = -1;
			str_list_free(args);
			continue;
		}
		snprintf(context, sizeof(context), "%s/%s", b->dir, sv->build_path);
		say(b, "Building: %s", sv->build_path);
		{
			struct image_build_opts o = {
				.context = context, .dockerfile = path, .tag = ref, .args = args,
				.no_cache = b->no_cache, .log_fd = b->log_fd, .ca_dir = b->ca_dir,
			};

			if (image_build(&o, err, errlen) == -1 ||
			    record_image(b, sv, ref, err, errlen) == -1)
				rc = -1;
		}
		str_list_free(args);
	}
	for (size_t i = 0; i < m->nservices; i++)
		free(keys[i]);
	free(keys);
	return rc;
}

/* A Kubernetes rack's build: whether it has a registry for what it builds
 * (image: services need none). 0, or -1 with err naming the param. */
static int
check_registry(const struct build_ctx *b, const struct manifest *m, char *err, size_t errlen)
{
	for (size_t i = 0; i < m->nservices; i++) {
		if (m->services[i].image == NULL && b->registry[0] == '\0') {
			snprintf(err, errlen, "rack %s is a Kubernetes rack with no registry to push "
			    "service %s's image to: set one with cx rack params set "
			    "registry=HOST:PORT/PATH -r %s", b->rack, m->services[i].name, b->rack);
			return -1;
		}
	}
	return 0;
}

/* A Kubernetes rack's build: each built image pushed to the registry as
 * the cluster will pull it (k8s_image: REGISTRY/RACK-APP:SERVICE.BUILD).
 * 0, or -1 with err. */
static int
push_services(struct build_ctx *b, const struct manifest *m, char *err, size_t errlen)
{
	struct k8s_render_opts o = { .rack = b->rack, .app = b->app, .registry = b->registry,
		.build = b->id };

	for (size_t i = 0; i < m->nservices; i++) {
		const struct mf_service *sv = &m->services[i];
		char ref[512], dest[512];
		int64_t t0 = now_ms();

		if (sv->image != NULL)
			continue;
		image_ref(b, sv->name, ref, sizeof(ref));
		k8s_image(&o, sv, dest, sizeof(dest));
		say(b, "Pushing: %s%s", dest, b->registry_insecure ? " (registry_insecure: no TLS "
		    "verification)" : "");
		if (image_push(ref, dest, !b->registry_insecure, b->log_fd, err, errlen) == -1)
			return -1;
		say(b, "Pushed: %s in %lld ms", dest, (long long)(now_ms() - t0));
	}
	return 0;
}

/* The child's whole life: unpack, check, build, report on fd, exit. */
static _Noreturn void
child_run(struct build_ctx *b, const char *upload, uint64_t max_bytes, int fd)
{
	char err[1024], path[4096];
	struct buf out, warnings;
	struct manifest *m = NULL;
	char *manifest, *images;
	int status = 400;

	buf_init(&out, 1 << 20);
	buf_init(&warnings, 1 << 16);
	b->warnings = &warnings;
	b->images = jv_object_new();
	if (unpack_tgz(upload, b->dir, max_bytes, err, sizeof(err)) == -1)
		goto fail;
	snprintf(path, sizeof(path), "%s/convox.yml", b->dir);
	manifest = read_file(path, 1 << 20, NULL);
	if (manifest == NULL) {
		snprintf(err, sizeof(err), errno == EFBIG ? "convox.yml is over 1 MiB" :
		    "no convox.yml at the top of the source; add one (see examples/)");
		goto fail;
	}
	m = manifest_parse(manifest, strlen(manifest), "convox.yml", build_env_lookup,
	    (void *)b->env, err, sizeof(err));
	free(manifest);
	if (m == NULL)
		goto fail;
	for (size_t i = 0; i < m->nnotices; i++)
		warn(b, "%s", m->notices[i]);
	if ((b->kube && check_registry(b, m, err, sizeof(err)) == -1) ||
	    build_services(b, m, err, sizeof(err)) == -1 ||
	    (b->kube && push_services(b, m, err, sizeof(err)) == -1))
		goto fail;
	images = jv_dump(b->images);
	buf_adds(&out, "ok\n");
	buf_addf(&out, "%s\n", images);
	free(images);
	buf_add(&out, warnings.data ? warnings.data : "", warnings.len);
	goto report;
fail:
	buf_addf(&out, "error %d\n%s", status, err);
report:
	manifest_free(m);
	if (write(fd, out.data, out.len) != (ssize_t)out.len)
		_exit(1);
	_exit(0);
}

static void
job_free(struct build_job *j)
{
	for (struct build_job **pj = &j->rack->builds; *pj != NULL; pj = &(*pj)->next) {
		if (*pj == j) {
			*pj = j->next;
			break;
		}
	}
	free(j->env);
	buf_free(&j->report);
	free(j);
}

/* Answers the client that waits (a synchronous build): an error. */
static void
job_error(struct build_job *j, int code, const char *msg)
{
	if (j->pending != NULL)
		api_finish_error(j->pending, code, msg);
	j->pending = NULL;
}

/* Records a build that failed once started (its log stays), without a
 * release; the source goes. */
static void
job_failed(struct build_job *j, const char *msg)
{
	struct st_build b = { 0 };

	remove_tree(j->dir);
	if (rack_app_find(j->rack, j->app) == NULL)
		return;
	str_copy(b.id, sizeof(b.id), j->id);
	str_copy(b.app, sizeof(b.app), j->app);
	b.dir = "";
	b.manifest = "";
	b.warnings = "";
	b.created = j->started;
	b.elapsed_ms = now_ms() - j->started_ms;
	str_copy(b.status, sizeof(b.status), "failed");
	b.error = (char *)msg;
	if (store_build_add(j->rack->store, &b) == -1)
		log_warnx("app %s: cannot record failed build %s: %s", j->app, j->id,
		    store_error(j->rack->store));
	applog_system(j->rack, j->app, "Build %s failed: %s", j->id, msg);
}

/* The child is done: record the build and answer. */
static void
job_finish(struct build_job *j)
{
	struct rack *r = j->rack;
	struct st_build b = { 0 };
	struct st_release rel = { 0 };
	char path[4096], *report, *nl, *images, *warnings, *manifest = NULL, *latest = NULL;
	int status = 0, code;
	jv *done, *warr;

	waitpid(j->pid, &status, 0);
	report = buf_cstr(&j->report);
	nl = strchr(report, '\n');
	if (strncmp(report, "error ", 6) == 0 && nl != NULL) {
		long v = 500;

		parse_long_n(report + 6, (size_t)(nl - report - 6), 400, 599, &v);
		code = (int)v;
		utf8_sanitize(nl + 1);     /* an entry's name may be any bytes */
		job_failed(j, nl + 1);
		job_error(j, code, nl + 1);
		goto out;
	}
	images = nl != NULL ? nl + 1 : report;
	if (strncmp(report, "ok\n", 3) != 0 || (nl = strchr(images, '\n')) == NULL) {
		const char *why = WIFSIGNALED(status) ? "the build's process crashed; its log says"
		    " how far it got" : "the build's process failed; its log says how far it got";

		log_warnx("build %s: its process died (status %d)", j->id, status);
		job_failed(j, why);
		job_error(j, 500, why);
		goto out;
	}
	*nl = '\0';
	warnings = nl + 1;
	utf8_sanitize(images);
	utf8_sanitize(warnings);
	snprintf(path, sizeof(path), "%s/convox.yml", j->dir);
	manifest = read_file(path, 1 << 20, NULL);
	str_copy(b.id, sizeof(b.id), j->id);
	str_copy(b.app, sizeof(b.app), j->app);
	b.dir = j->dir;
	b.manifest = manifest != NULL ? manifest : "";
	b.warnings = warnings;
	b.images = strcmp(images, "{}") == 0 ? "" : images;
	b.created = j->started;
	b.elapsed_ms = now_ms() - j->started_ms;
	str_copy(b.status, sizeof(b.status), "complete");
	str_copy(rel.id, sizeof(rel.id), j->release);
	str_copy(rel.app, sizeof(rel.app), j->app);
	str_copy(rel.build, sizeof(rel.build), j->id);
	/* The environment as it is now, not as the build began: an env change
	 * made during the build is not lost by the release that follows it. */
	latest = rack_latest_env(r, j->app);
	rel.env = latest;
	str_copy(rel.status, sizeof(rel.status), "created");
	rel.description = j->desc;
	rel.error = "";
	rel.created = now_unix();
	if (rack_app_find(r, j->app) == NULL) {
		remove_tree(j->dir);
		job_error(j, 409, "the app was deleted during the build");
		goto out;
	}
	if (manifest == NULL || store_build_release_add(r->store, &b, &rel) == -1) {
		char why[512];

		if (manifest == NULL)
			snprintf(why, sizeof(why), "cannot record build %s: its convox.yml cannot be "
			    "read", j->id);
		else
			disk_store_error(r, "cannot record the build", why, sizeof(why));
		log_warnx("app %s: %s", j->app, why);
		job_failed(j, why);
		job_error(j, 500, why);
		goto out;
	}
	applog_system(r, j->app, "Build %s created release %s", j->id, rel.id);
	if (j->pending == NULL)
		goto out;
	warr = jv_array_new();
	for (char *save = NULL, *t = strtok_r(warnings, "\n", &save); t != NULL;
	    t = strtok_r(NULL, "\n", &save))
		jv_push_str(warr, t);
	done = jv_object_new();
	jv_set_str(done, "id", j->id);
	jv_set_str(done, "release", rel.id);
	jv_set_str(done, "status", "complete");
	jv_set_take(done, "warnings", warr);
	api_finish(j->pending, 201, done);
	j->pending = NULL;
out:
	free(manifest);
	free(latest);
	job_free(j);
}

static void
job_read(struct ev_loop *loop, int fd, uint32_t events, void *arg)
{
	struct build_job *j = arg;

	(void)events;
	if (buf_fill_fd(&j->report, fd) == 1)
		return;
	ev_del(loop, fd);
	close(fd);
	job_finish(j);
}

void
build_log_path(struct rack *r, const char *app, const char *id, char *out, size_t outlen)
{
	snprintf(out, outlen, "%s/apps/%s/build-logs/%s.log", r->dir, app, id);
}

bool
build_running(struct rack *r, const char *app, const char *id, int64_t *started)
{
	for (struct build_job *j = r->builds; j != NULL; j = j->next) {
		if (strcmp(j->app, app) == 0 && strcmp(j->id, id) == 0) {
			if (started != NULL)
				*started = j->started;
			return true;
		}
	}
	return false;
}

size_t
build_list_running(struct rack *r, const char *app, struct build_running *out, size_t max)
{
	size_t n = 0;

	/* r->builds is newest first: each starts at its head */
	for (struct build_job *j = r->builds; j != NULL && n < max; j = j->next) {
		if (strcmp(j->app, app) != 0)
			continue;
		str_copy(out[n].id, sizeof(out[n].id), j->id);
		str_copy(out[n].description, sizeof(out[n].description), j->desc);
		out[n].started = j->started;
		n++;
	}
	return n;
}

/* Opens the build's log (the rack's own: not in the build directory, which
 * the app's processes see). -1 with errno. */
static int
open_build_log(struct rack *r, const struct build_job *j)
{
	char path[4096];

	build_log_path(r, j->app, j->id, path, sizeof(path));
	*strrchr(path, '/') = '\0';
	if (mkdir_p(path, 0700) == -1)
		return -1;
	build_log_path(r, j->app, j->id, path, sizeof(path));
	return open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
}

void
build_start(struct rack *r, struct app *a, struct api_req *q, struct api_resp *s)
{
	struct build_ctx ctx = { 0 };
	struct build_job *j;
	char mb[32], flag[16];
	long max_mb = 512;
	int pfd[2], upload = -1, log_fd = -1;
	struct stat st;

	j = xcalloc(1, sizeof(*j));
	j->rack = r;
	j->started = now_unix();
	j->started_ms = now_ms();
	buf_init(&j->report, 1 << 20);
	str_copy(j->app, sizeof(j->app), a->name);
	store_new_id(j->id, sizeof(j->id), "B", true);
	store_new_id(j->release, sizeof(j->release), "R", true);
	snprintf(j->dir, sizeof(j->dir), "%s/apps/%s/builds/%s", r->dir, a->name, j->id);
	api_query(q, "description", j->desc, sizeof(j->desc));
	utf8_sanitize(j->desc);
	j->async = api_query(q, "async", flag, sizeof(flag)) == 0 && strcmp(flag, "1") == 0;
	ctx.no_cache = api_query(q, "no_cache", flag, sizeof(flag)) == 0 && strcmp(flag, "1") == 0;
	/* Its top is 0755 for the app's processes, which see it read-only at
	 * /srv/app (sandbox.h); the directories above stay the rack's alone. */
	if (mkdir_p(j->dir, 0700) == -1 || chmod(j->dir, 0755) == -1) {
		api_error(s, 500, "cannot create %s: %s", j->dir, strerror(errno));
		job_free(j);
		return;
	}
	rack_param(r, "build_max_mb", mb, sizeof(mb));
	parse_long(mb, 1, 1 << 20, &max_mb);
	j->env = rack_latest_env(r, a->name);
	ctx.dir = j->dir;
	ctx.env = j->env;
	ctx.rack = r->name;
	ctx.app = j->app;
	ctx.id = j->id;
	ctx.release = j->release;
	ctx.builder = image_builder_available(ctx.why, sizeof(ctx.why));
	ctx.kube = kdeploy_rack(r);
	/* The one the user set: registry's default (registry.RACK.cx.test) names
	 * images in a render, but no deploy pushes to a registry nobody made. */
	if (store_param_get(r->store, "registry", ctx.registry, sizeof(ctx.registry)) == -1)
		ctx.registry[0] = '\0';
	ctx.registry_insecure = rack_param_bool(r, "registry_insecure");
	rack_param(r, "build_host_ca", flag, sizeof(flag));
	if (strcmp(flag, "false") != 0 && stat(HOST_CA_DIR, &st) == 0 && S_ISDIR(st.st_mode))
		ctx.ca_dir = HOST_CA_DIR;
	/* The upload is held open: an async answer goes before the child reads
	 * it, and the answer removes its file. */
	if ((upload = open(q->body_path, O_RDONLY | O_CLOEXEC)) == -1 ||
	    (log_fd = open_build_log(r, j)) == -1 || pipe2(pfd, O_CLOEXEC) == -1) {
		api_error(s, 500, "cannot start the build: %s", strerror(errno));
		if (upload != -1)
			close(upload);
		if (log_fd != -1)
			close(log_fd);
		remove_tree(j->dir);
		job_free(j);
		return;
	}
	if ((j->pid = fork()) == -1) {
		api_error(s, 500, "cannot start the build: %s", strerror(errno));
		close(pfd[0]);
		close(pfd[1]);
		close(upload);
		close(log_fd);
		remove_tree(j->dir);
		job_free(j);
		return;
	}
	if (j->pid == 0) {
		sigset_t none;

		/* Nothing of the daemon's: not its lock, sockets or blocked signals. */
		setpgid(0, 0);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGPIPE, SIG_DFL);
		if (dup2(pfd[1], 3) == -1 || dup2(upload, 4) == -1 || dup2(log_fd, 5) == -1)
			_exit(1);
		close_range(6, ~0U, 0);
		ctx.log_fd = 5;
		child_run(&ctx, "/dev/fd/4", (uint64_t)max_mb << 20, 3);
	}
	setpgid(j->pid, j->pid);
	close(pfd[1]);
	close(upload);
	close(log_fd);
	j->fd = pfd[0];
	set_nonblock(j->fd);
	if (ev_add(r->loop, j->fd, EV_READ, job_read, j) == -1) {
		kill(-j->pid, SIGKILL);
		waitpid(j->pid, NULL, 0);
		close(j->fd);
		api_error(s, 500, "cannot watch the build: %s", strerror(errno));
		remove_tree(j->dir);
		job_free(j);
		return;
	}
	j->next = r->builds;
	r->builds = j;
	if (j->async) {
		s->status = 202;
		s->json = jv_object_new();
		jv_set_str(s->json, "id", j->id);
		jv_set_str(s->json, "status", "running");
		return;
	}
	j->pending = api_defer(q, s);
}

void
build_cancel(struct rack *r, const char *app)
{
	for (struct build_job *j = r->builds, *next; j != NULL; j = next) {
		next = j->next;
		if (app != NULL && strcmp(j->app, app) != 0)
			continue;
		kill(-j->pid, SIGKILL);    /* the child and the podman it runs */
		kill(j->pid, SIGKILL);
		waitpid(j->pid, NULL, 0);
		ev_del(r->loop, j->fd);
		close(j->fd);
		remove_tree(j->dir);
		job_error(j, 409, app != NULL ?
		    "the app was deleted during the build" : "the rack is stopping; deploy again");
		job_free(j);
	}
}

void
build_remove_images(struct rack *r, struct app *a)
{
	char **texts = NULL, **refs = NULL;
	size_t n = 0, nrefs = 0, npids = 0;
	pid_t pids[256];

	if (store_build_images_list(r->store, a->name, &texts, &n) == -1 || n == 0) {
		free(texts);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		image_refs_of(texts[i], &refs, &nrefs);
		free(texts[i]);
	}
	free(texts);
	for (struct proc *p = a->procs; p != NULL && npids < CX_ARRAY_LEN(pids); p = p->next)
		if (p->st.pid > 0)
			pids[npids++] = p->st.pid;
	image_remove_later(refs, pids, npids);
	str_list_free(refs);
}
