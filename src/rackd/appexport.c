/*
 * appexport.c — see appexport.h.
 *
 * A job (one export or import) lives from its request to its answer:
 *
 *   forked --child says "ok"--> export: the archive streams to the client
 *                               import: the app is recorded, 201
 *          --child says "error CODE\nLINE"--> that error; nothing is kept
 *          --it dies / the daemon stops--> 500 / 409; nothing is kept
 *
 * Its directory under RACK/tmp (the export's staging tree, the import's
 * unpacked archive and sources) goes with it. An import's child does all
 * that may be slow or hostile (unpacking, parsing, podman); the loop then
 * checks the ids are free, creates the app, moves the sources in place and
 * records builds, releases and scale in one transaction, or undoes the app.
 */
#include "rackd/appexport.h"

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

#include "common/jv.h"
#include "common/log.h"
#include "common/pack.h"
#include "common/util.h"
#include "rackd/api.h"
#include "rackd/applog.h"
#include "rackd/build.h"
#include "rackd/image.h"
#include "rackd/manifest.h"
#include "rackd/rack.h"
#include "rackd/reconcile.h"
#include "rackd/unpack.h"

#define MAX_RELEASES 10000
#define REPORT_MAX (16u << 20)
/* The sources an import carries unpack to at most this many times the
 * rack's build_max_mb, all builds together. */
#define IMPORT_SOURCES_FACTOR 4

/* ---- app.json ---- */

/* A release or build id as the rack makes them: prefix, then up to 15
 * upper-case letters and digits. */
static bool
valid_id(const char *s, char prefix)
{
	size_t n = strlen(s);

	if (n < 2 || n > 15 || s[0] != prefix)
		return false;
	for (size_t i = 1; i < n; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9')))
			return false;
	return true;
}

/* An image name podman is given as one argument: what names are made of. */
static bool
valid_image_ref(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 255 || s[0] == '-')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= '0' && s[i] <= '9') || strchr("._/:@-", s[i]) != NULL))
			return false;
	return true;
}

/* "K=V\n" lines as the store keeps a release's env: a name of printable
 * characters before each '='. 0, or -1 with the bad line in bad. */
static int
check_env_text(const char *t, char *bad, size_t badlen)
{
	for (const char *l = t; *l != '\0';) {
		size_t len = strcspn(l, "\n");
		const char *eq = memchr(l, '=', len);
		bool ok = eq != NULL && eq > l;

		for (const char *p = l; ok && p < eq; p++)
			ok = (unsigned char)*p > ' ' && *p != 0x7f;
		if (!ok) {
			snprintf(bad, badlen, "%.*s", (int)(len > 60 ? 60 : len), l);
			utf8_sanitize(bad);
			return -1;
		}
		l += len;
		if (*l == '\n')
			l++;
	}
	return 0;
}

char *
appexport_meta_dump(const struct appexport_meta *m, int64_t exported)
{
	jv *o = jv_object_new(), *rels = jv_array_new(), *builds = jv_array_new();
	jv *scale = jv_object_new();
	char *text;

	jv_set_str(o, "format", APPEXPORT_FORMAT);
	jv_set_str(o, "app", m->app);
	jv_set_str(o, "rack", m->rack);
	jv_set_int(o, "exported", exported);
	jv_set_str(o, "active", m->active);
	for (size_t i = 0; i < m->nreleases; i++) {
		const struct st_release *r = &m->releases[i];
		jv *j = jv_object_new();

		jv_set_str(j, "id", r->id);
		jv_set_str(j, "build", r->build);
		jv_set_str(j, "env", r->env);
		jv_set_str(j, "status", r->status);
		jv_set_str(j, "description", r->description);
		jv_set_str(j, "error", r->error);
		jv_set_int(j, "created", r->created);
		jv_push_take(rels, j);
	}
	for (size_t i = 0; i < m->nbuilds; i++) {
		const struct st_build *b = &m->builds[i];
		const char *images = b->images != NULL ? b->images : "";
		char perr[128];
		jv *j = jv_object_new(), *im = NULL;

		jv_set_str(j, "id", b->id);
		jv_set_str(j, "manifest", b->manifest);
		jv_set_str(j, "warnings", b->warnings);
		jv_set_int(j, "created", b->created);
		jv_set_int(j, "elapsed_ms", b->elapsed_ms);
		if (images[0] != '\0')
			im = jv_parse(images, strlen(images), perr, sizeof(perr));
		jv_set_take(j, "images", im != NULL ? im : jv_object_new());
		jv_push_take(builds, j);
	}
	for (size_t i = 0; i < m->nscale; i++)
		jv_set_int(scale, m->scale_services[i], m->scale_counts[i]);
	jv_set_take(o, "releases", rels);
	jv_set_take(o, "builds", builds);
	jv_set_take(o, "scale", scale);
	text = jv_dump(o);
	jv_free(o);
	return text;
}

void
appexport_meta_free(struct appexport_meta *m)
{
	if (m == NULL)
		return;
	store_release_list_free(m->releases, m->nreleases);
	for (size_t i = 0; i < m->nbuilds; i++)
		store_build_free(&m->builds[i]);
	free(m->builds);
	for (size_t i = 0; i < m->nscale; i++)
		free(m->scale_services[i]);
	free(m->scale_services);
	free(m->scale_counts);
	free(m);
}

/* A string member of at most max bytes into *out (owned); -1 with err. */
static int
meta_str(const jv *o, const char *key, const char *what, size_t max, char **out, char *err,
    size_t errlen)
{
	const jv *v = jv_get(o, key);

	if (!jv_is_string(v) || strlen(jv_string_value(v)) > max) {
		snprintf(err, errlen, "%s: \"%s\" must be a string of at most %zu bytes", what, key,
		    max);
		return -1;
	}
	*out = xstrdup(jv_string_value(v));
	return 0;
}

static int
parse_builds(struct appexport_meta *m, const jv *arr, char *err, size_t errlen)
{
	if (!jv_is_array(arr) || jv_len(arr) > APPEXPORT_MAX_ENTRIES - 2) {
		snprintf(err, errlen, "\"builds\" must be an array of at most %d builds",
		    APPEXPORT_MAX_ENTRIES - 2);
		return -1;
	}
	m->builds = xcalloc(jv_len(arr) + 1, sizeof(*m->builds));
	for (size_t i = 0; i < jv_len(arr); i++) {
		const jv *j = jv_at(arr, i), *im = jv_get(j, "images");
		struct st_build *b = &m->builds[m->nbuilds++];
		const char *id = jv_str_or(j, "id", "");
		size_t nk;
		const char **keys;

		b->dir = xstrdup("");
		b->error = xstrdup("");
		str_copy(b->status, sizeof(b->status), "complete");
		str_copy(b->app, sizeof(b->app), m->app);
		if (!valid_id(id, 'B')) {
			snprintf(err, errlen, "build %zu: id \"%.20s\" is not a build id (B and 8 letters"
			    " or digits)", i + 1, id);
			return -1;
		}
		str_copy(b->id, sizeof(b->id), id);
		for (size_t k = 0; k < i; k++) {
			if (strcmp(m->builds[k].id, id) == 0) {
				snprintf(err, errlen, "build %s is there twice", id);
				return -1;
			}
		}
		if (meta_str(j, "manifest", id, 1 << 20, &b->manifest, err, errlen) == -1 ||
		    meta_str(j, "warnings", id, 1 << 20, &b->warnings, err, errlen) == -1)
			return -1;
		if (b->manifest[0] == '\0') {
			snprintf(err, errlen, "build %s has no manifest (its convox.yml)", id);
			return -1;
		}
		b->created = jv_int(j, "created");
		b->elapsed_ms = jv_int(j, "elapsed_ms");
		if (im != NULL && !jv_is_object(im)) {
			snprintf(err, errlen, "build %s: \"images\" must be an object", id);
			return -1;
		}
		keys = jv_keys(im, &nk);
		for (size_t k = 0; k < nk; k++) {
			const char *ref = jv_str_or(jv_get(im, keys[k]), "ref", "");

			if (!valid_image_ref(ref)) {
				snprintf(err, errlen, "build %s: service %.32s's image \"%.64s\" is not an"
				    " image name", id, keys[k], ref);
				free(keys);
				return -1;
			}
		}
		free(keys);
		b->images = nk > 0 ? jv_dump(im) : xstrdup("");
	}
	return 0;
}

static int
parse_releases(struct appexport_meta *m, const jv *arr, char *err, size_t errlen)
{
	static const char *const statuses[] = { "created", "promoting", "active", "failed",
		"replaced" };

	if (!jv_is_array(arr) || jv_len(arr) > MAX_RELEASES) {
		snprintf(err, errlen, "\"releases\" must be an array of at most %d releases",
		    MAX_RELEASES);
		return -1;
	}
	m->releases = xcalloc(jv_len(arr) + 1, sizeof(*m->releases));
	for (size_t i = 0; i < jv_len(arr); i++) {
		const jv *j = jv_at(arr, i);
		struct st_release *r = &m->releases[m->nreleases++];
		const char *id = jv_str_or(j, "id", ""), *build = jv_str_or(j, "build", "");
		const char *status = jv_str_or(j, "status", "");
		char bad[64];
		bool known = false;

		str_copy(r->app, sizeof(r->app), m->app);
		if (!valid_id(id, 'R')) {
			snprintf(err, errlen, "release %zu: id \"%.20s\" is not a release id (R and 8"
			    " letters or digits)", i + 1, id);
			return -1;
		}
		str_copy(r->id, sizeof(r->id), id);
		for (size_t k = 0; k < i; k++) {
			if (strcmp(m->releases[k].id, id) == 0) {
				snprintf(err, errlen, "release %s is there twice", id);
				return -1;
			}
		}
		if (build[0] != '\0') {
			size_t k = 0;

			while (k < m->nbuilds && strcmp(m->builds[k].id, build) != 0)
				k++;
			if (k == m->nbuilds) {
				snprintf(err, errlen, "release %s runs build %.20s, which the archive lacks",
				    id, build);
				return -1;
			}
		}
		str_copy(r->build, sizeof(r->build), build);
		for (size_t k = 0; k < CX_ARRAY_LEN(statuses); k++)
			known = known || strcmp(status, statuses[k]) == 0;
		if (!known) {
			snprintf(err, errlen, "release %s: status \"%.20s\" is none of created, promoting,"
			    " active, failed, replaced", id, status);
			return -1;
		}
		str_copy(r->status, sizeof(r->status), status);
		if (meta_str(j, "env", id, 1 << 20, &r->env, err, errlen) == -1 ||
		    meta_str(j, "description", id, 4096, &r->description, err, errlen) == -1 ||
		    meta_str(j, "error", id, 1 << 20, &r->error, err, errlen) == -1)
			return -1;
		if (check_env_text(r->env, bad, sizeof(bad)) == -1) {
			snprintf(err, errlen, "release %s: env line \"%s\" is not KEY=VALUE", id, bad);
			return -1;
		}
		r->created = jv_int(j, "created");
	}
	return 0;
}

static int
parse_scale(struct appexport_meta *m, const jv *o, char *err, size_t errlen)
{
	size_t n;
	const char **keys;

	if (o != NULL && !jv_is_object(o)) {
		snprintf(err, errlen, "\"scale\" must be an object of SERVICE: COUNT");
		return -1;
	}
	keys = jv_keys(o, &n);
	m->scale_services = xcalloc(n + 1, sizeof(*m->scale_services));
	m->scale_counts = xcalloc(n + 1, sizeof(*m->scale_counts));
	for (size_t i = 0; i < n; i++) {
		const jv *v = jv_get(o, keys[i]);
		int64_t c = jv_int(o, keys[i]);

		if (!jv_is_int(v) || c < 0 || c > 100 || strlen(keys[i]) >= 32) {
			snprintf(err, errlen, "scale of %.32s: give a service (at most 31 characters) a"
			    " whole number from 0 to 100", keys[i]);
			free(keys);
			return -1;
		}
		m->scale_services[m->nscale] = xstrdup(keys[i]);
		m->scale_counts[m->nscale++] = (int)c;
	}
	free(keys);
	return 0;
}

struct appexport_meta *
appexport_meta_parse(const char *text, size_t len, char *err, size_t errlen)
{
	struct appexport_meta *m = xcalloc(1, sizeof(*m));
	char perr[256];
	const char *format, *app, *active;
	jv *o = jv_parse(text, len, perr, sizeof(perr));

	if (o == NULL || !jv_is_object(o)) {
		snprintf(err, errlen, "not JSON: %s", o == NULL ? perr : "not an object");
		goto fail;
	}
	format = jv_str_or(o, "format", "");
	if (strcmp(format, APPEXPORT_FORMAT) != 0) {
		snprintf(err, errlen, "format \"%.40s\" is not %s, the one this rack reads", format,
		    APPEXPORT_FORMAT);
		goto fail;
	}
	app = jv_str_or(o, "app", "");
	if (!valid_name(app)) {
		snprintf(err, errlen, "\"app\" \"%.40s\" is not an app name", app);
		goto fail;
	}
	str_copy(m->app, sizeof(m->app), app);
	if (!valid_name(jv_str_or(o, "rack", "")) && jv_str_or(o, "rack", "")[0] != '\0') {
		snprintf(err, errlen, "\"rack\" is not a rack name");
		goto fail;
	}
	str_copy(m->rack, sizeof(m->rack), jv_str_or(o, "rack", ""));
	if (parse_builds(m, jv_get(o, "builds"), err, errlen) == -1 ||
	    parse_releases(m, jv_get(o, "releases"), err, errlen) == -1 ||
	    parse_scale(m, jv_get(o, "scale"), err, errlen) == -1)
		goto fail;
	active = jv_str_or(o, "active", "");
	if (active[0] != '\0') {
		size_t k = 0;

		while (k < m->nreleases && strcmp(m->releases[k].id, active) != 0)
			k++;
		if (k == m->nreleases) {
			snprintf(err, errlen, "\"active\" names release %.20s, which is not among the"
			    " releases", active);
			goto fail;
		}
	}
	str_copy(m->active, sizeof(m->active), active);
	jv_free(o);
	return m;
fail:
	jv_free(o);
	appexport_meta_free(m);
	return NULL;
}

const struct st_release *
appexport_target(const struct appexport_meta *m)
{
	for (size_t i = 0; i < m->nreleases; i++)
		if (strcmp(m->releases[i].id, m->active) == 0 && m->releases[i].build[0] != '\0')
			return &m->releases[i];
	for (size_t i = m->nreleases; i > 0; i--)
		if (m->releases[i - 1].build[0] != '\0')
			return &m->releases[i - 1];
	return NULL;
}

/* ---- jobs ---- */

struct job {
	struct rack *rack;
	struct job *next;           /* in jobs */
	struct api_pending *pending;
	bool import;
	char app[32];
	char staging[4096];         /* its directory under RACK/tmp, "" once removed */
	char archive[4096];         /* export: the archive's file, "" once unlinked */
	int archive_fd;             /* export: the parent's descriptor of it */
	int upload_fd;              /* import: the upload */
	uint64_t max_bytes;         /* import: build_max_mb, for each archive */
	char **build_ids;           /* export: the builds to pack */
	char **build_dirs;
	size_t nbuilds;
	pid_t pid;
	int fd;                     /* the child's report */
	struct buf report;
};

static struct job *jobs;

static void
job_free(struct job *j)
{
	for (struct job **pj = &jobs; *pj != NULL; pj = &(*pj)->next) {
		if (*pj == j) {
			*pj = j->next;
			break;
		}
	}
	if (j->staging[0] != '\0')
		remove_tree(j->staging);
	if (j->archive[0] != '\0')
		unlink(j->archive);
	if (j->archive_fd != -1)
		close(j->archive_fd);
	if (j->upload_fd != -1)
		close(j->upload_fd);
	for (size_t i = 0; i < j->nbuilds; i++) {
		free(j->build_ids[i]);
		free(j->build_dirs[i]);
	}
	free(j->build_ids);
	free(j->build_dirs);
	buf_free(&j->report);
	free(j);
}

static struct job *
job_new(struct rack *r, const char *app, bool import)
{
	struct job *j = xcalloc(1, sizeof(*j));

	j->rack = r;
	j->import = import;
	j->archive_fd = -1;
	j->upload_fd = -1;
	j->fd = -1;
	j->pid = -1;
	str_copy(j->app, sizeof(j->app), app);
	buf_init(&j->report, REPORT_MAX);
	snprintf(j->staging, sizeof(j->staging), "%s/tmp/%s-XXXXXX", r->dir,
	    import ? "import" : "export");
	if (mkdtemp(j->staging) == NULL) {
		j->staging[0] = '\0';
		job_free(j);
		return NULL;
	}
	return j;
}

/* What a child says on fd 3: "ok\n" and what follows, or "error CODE\nLINE". */
static _Noreturn void
child_exit(const char *text)
{
	size_t n = strlen(text), off = 0;

	while (off < n) {
		ssize_t w = write(3, text + off, n - off);

		if (w <= 0)
			_exit(1);
		off += (size_t)w;
	}
	_exit(0);
}

static _Noreturn void
child_fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The names an import's child gave images so far (NULL-terminated), taken
 * away again when it fails. */
static char **child_tags;
static size_t nchild_tags;

static _Noreturn void
child_fail(int code, const char *fmt, ...)
{
	char line[2048];
	int n = snprintf(line, sizeof(line), "error %d\n", code);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	image_remove(child_tags);
	child_exit(line);
}

/* The export's child: each build's tree packed as builds/BID.tgz next to
 * app.json, then the whole staging directory packed into fd 4. */
static _Noreturn void
export_child(struct job *j)
{
	char path[4096], err[1024];
	int fd;

	snprintf(path, sizeof(path), "%s/builds", j->staging);
	if (mkdir(path, 0700) == -1)
		child_fail(500, "cannot create %s: %s", path, strerror(errno));
	for (size_t i = 0; i < j->nbuilds; i++) {
		snprintf(path, sizeof(path), "%s/builds/%s.tgz", j->staging, j->build_ids[i]);
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd == -1)
			child_fail(500, "cannot create %s: %s", path, strerror(errno));
		if (pack_dir(j->build_dirs[i], fd, NULL, err, sizeof(err)) == -1)
			child_fail(500, "build %s: %s", j->build_ids[i], err);
		close(fd);
	}
	if (pack_dir(j->staging, 4, NULL, err, sizeof(err)) == -1)
		child_fail(500, "%s", err);
	child_exit("ok\n");
}

/* The newest env of a release of m that runs build id ("" if none). */
static const char *
env_of_build(const struct appexport_meta *m, const char *id)
{
	for (size_t i = m->nreleases; i > 0; i--)
		if (strcmp(m->releases[i - 1].build, id) == 0)
			return m->releases[i - 1].env;
	return "";
}

/* Gives the image build id's service runs (one, from the archive's images)
 * this rack's name for it, after checking that the service is the build's
 * and that the name is new: a crafted archive must not rename an image that
 * something here runs. Sets one's "ref" to the new name. */
static void
import_tag(struct job *j, const char *id, const struct manifest *mf, const char *service,
    jv *one)
{
	char ref[512], err[1024];
	int rc;

	if (manifest_service(mf, service) == NULL)
		child_fail(400, "build %s: its images name service %.64s, which its convox.yml does"
		    " not have", id, service);
	image_build_ref(j->rack->name, j->app, service, id, ref, sizeof(ref));
	if ((rc = image_exists(ref, err, sizeof(err))) == -1)
		child_fail(500, "build %s: %s", id, err);
	if (rc == 1)
		child_fail(409, "build %s: image %s is here already (was the archive imported"
		    " here?): delete the app that runs it first", id, ref);
	if (image_tag(jv_str(one, "ref"), ref, err, sizeof(err)) == -1)
		child_fail(400, "build %s: service %s runs image %s, not on this host (an export"
		    " names images, it does not carry them): %s", id, service, jv_str(one, "ref"),
		    err);
	child_tags = xrealloc(child_tags, (nchild_tags + 2) * sizeof(*child_tags));
	child_tags[nchild_tags++] = xstrdup(ref);
	child_tags[nchild_tags] = NULL;
	jv_set_str(one, "ref", ref);
}

/* The import's child: the archive unpacked to STAGING/archive and checked,
 * each build's source unpacked to STAGING/src/BID, each image named anew
 * for this rack; says "ok\n" and {"BID": images} (the images' new text). */
static _Noreturn void
import_child(struct job *j)
{
	struct unpack_limits lim = { .max_bytes = j->max_bytes,
		.max_entries = APPEXPORT_MAX_ENTRIES };
	/* One budget for all the sources the archive carries, so that a small
	 * archive of many builds cannot unpack to many times the cap. */
	struct unpack_limits srclim = { .max_bytes = j->max_bytes * IMPORT_SOURCES_FACTOR };
	char dir[4096], src[4096], path[4096], err[1024];
	struct appexport_meta *m;
	struct stat st;
	size_t len;
	char *text;
	jv *images = jv_object_new();
	struct buf out;

	snprintf(dir, sizeof(dir), "%s/archive", j->staging);
	if (unpack_tgz_limits("/dev/fd/4", dir, &lim, err, sizeof(err)) == -1)
		child_fail(400, "%s", err);
	snprintf(path, sizeof(path), "%s/app.json", dir);
	if (lstat(path, &st) == -1 || !S_ISREG(st.st_mode))
		child_fail(400, "the archive has no app.json at its top: is it what cx apps export"
		    " writes?");
	if ((text = read_file(path, APPEXPORT_META_MAX, &len)) == NULL)
		child_fail(400, errno == EFBIG ? "app.json is over %u MiB" : "cannot read app.json"
		    " (%u MiB at most)", APPEXPORT_META_MAX >> 20);
	if ((m = appexport_meta_parse(text, len, err, sizeof(err))) == NULL)
		child_fail(400, "app.json: %s", err);
	free(text);
	for (size_t i = 0; i < m->nbuilds; i++) {
		const struct st_build *b = &m->builds[i];
		const char *env = env_of_build(m, b->id);
		struct manifest *mf = manifest_parse(b->manifest, strlen(b->manifest), "convox.yml",
		    build_env_lookup, (void *)env, err, sizeof(err));
		char perr[128];
		jv *im;
		size_t nk;
		const char **keys;

		if (mf == NULL)
			child_fail(400, "build %s: %s", b->id, err);
		snprintf(path, sizeof(path), "%s/builds/%s.tgz", dir, b->id);
		if (lstat(path, &st) == -1 || !S_ISREG(st.st_mode))
			child_fail(400, "the archive has no builds/%s.tgz, the source of build %s", b->id,
			    b->id);
		/* Its top is 0755 as a deploy's is: the app's processes see it. */
		snprintf(src, sizeof(src), "%s/src/%s", j->staging, b->id);
		if (mkdir_p(src, 0700) == -1 || chmod(src, 0755) == -1)
			child_fail(500, "cannot create %s: %s", src, strerror(errno));
		/* A cap passed names the shared one: 4 x build_max_mb. */
		if (unpack_tgz_limits(path, src, &srclim, err, sizeof(err)) == -1)
			child_fail(400, "build %s: %s", b->id, err);
		if (b->images[0] == '\0') {
			manifest_free(mf);
			continue;
		}
		im = jv_parse(b->images, strlen(b->images), perr, sizeof(perr));
		keys = jv_keys(im, &nk);
		for (size_t k = 0; k < nk; k++)
			import_tag(j, b->id, mf, keys[k], jv_get(im, keys[k]));
		free(keys);
		manifest_free(mf);
		jv_set_take(images, b->id, im);
	}
	appexport_meta_free(m);
	buf_init(&out, 0);
	text = jv_dump(images);
	buf_addf(&out, "ok\n%s\n", text);
	child_exit(buf_cstr(&out));
}

/* Forks j's child with its report on fd 3 and in (the import's upload) or
 * out (the export's archive) on fd 4. -1 with errno. */
static int
job_fork(struct job *j, int fd4)
{
	int pfd[2];

	if (pipe2(pfd, O_CLOEXEC) == -1)
		return -1;
	if ((j->pid = fork()) == -1) {
		close(pfd[0]);
		close(pfd[1]);
		return -1;
	}
	if (j->pid == 0) {
		sigset_t none;
		int hi3 = fcntl(pfd[1], F_DUPFD, 10), hi4 = fcntl(fd4, F_DUPFD, 10);

		/* Nothing of the daemon's: not its lock, sockets or blocked signals. */
		setpgid(0, 0);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGPIPE, SIG_DFL);
		if (hi3 == -1 || hi4 == -1 || dup2(hi3, 3) == -1 || dup2(hi4, 4) == -1)
			_exit(1);
		close_range(5, ~0U, 0);
		if (j->import)
			import_child(j);
		export_child(j);
	}
	setpgid(j->pid, j->pid);
	close(pfd[1]);
	j->fd = pfd[0];
	set_nonblock(j->fd);
	return 0;
}

static void job_read(struct ev_loop *loop, int fd, uint32_t events, void *arg);

/* Starts j (its child forked) and defers the answer; on failure answers
 * 500 and frees j. */
static void
job_run(struct job *j, int fd4, struct api_req *q, struct api_resp *s)
{
	if (job_fork(j, fd4) == -1) {
		api_error(s, 500, "cannot start the %s: %s", j->import ? "import" : "export",
		    strerror(errno));
		job_free(j);
		return;
	}
	if (ev_add(j->rack->loop, j->fd, EV_READ, job_read, j) == -1) {
		kill(-j->pid, SIGKILL);
		waitpid(j->pid, NULL, 0);
		close(j->fd);
		api_error(s, 500, "cannot watch the %s: %s", j->import ? "import" : "export",
		    strerror(errno));
		job_free(j);
		return;
	}
	j->next = jobs;
	jobs = j;
	j->pending = api_defer(q, s);
}

/* ---- export ---- */

static void
export_done(struct job *j)
{
	struct stat st;
	int fd = j->archive_fd;

	if (fstat(fd, &st) == -1 || lseek(fd, 0, SEEK_SET) == -1) {
		api_finish_error(j->pending, 500, "cannot read the archive the export packed");
		return;
	}
	j->archive_fd = -1;
	unlink(j->archive);
	j->archive[0] = '\0';
	applog_system(j->rack, j->app, "Exported (%lld bytes)", (long long)st.st_size);
	api_finish_file(j->pending, "application/gzip", fd, st.st_size);
}

/* Adds build id of app to j (once), with its directory. -1 with err. */
static int
export_add_build(struct job *j, const char *app, const char *id, struct appexport_meta *m,
    char *err, size_t errlen)
{
	struct st_build b;
	struct stat st;

	for (size_t i = 0; i < j->nbuilds; i++)
		if (strcmp(j->build_ids[i], id) == 0)
			return 0;
	if (store_build_get(j->rack->store, app, id, &b) == -1) {
		snprintf(err, errlen, "build %s of app %s is missing from the rack's store", id, app);
		return -1;
	}
	if (b.dir[0] == '\0' || stat(b.dir, &st) == -1 || !S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "the source of build %s is gone from %s", id, b.dir);
		store_build_free(&b);
		return -1;
	}
	j->build_ids = xrealloc(j->build_ids, (j->nbuilds + 1) * sizeof(*j->build_ids));
	j->build_dirs = xrealloc(j->build_dirs, (j->nbuilds + 1) * sizeof(*j->build_dirs));
	j->build_ids[j->nbuilds] = xstrdup(id);
	j->build_dirs[j->nbuilds] = xstrdup(b.dir);
	j->nbuilds++;
	m->builds = xrealloc(m->builds, (m->nbuilds + 1) * sizeof(*m->builds));
	m->builds[m->nbuilds++] = b;
	return 0;
}

void
appexport_export(struct rack *r, struct app *a, struct api_req *q, struct api_resp *s)
{
	struct appexport_meta *m = xcalloc(1, sizeof(*m));
	struct st_release *list = NULL;
	char err[1024], path[4096];
	size_t n = 0;
	char *text = NULL;
	struct job *j;

	if ((j = job_new(r, a->name, false)) == NULL) {
		api_error(s, 500, "cannot create a directory under %s/tmp: %s", r->dir,
		    strerror(errno));
		appexport_meta_free(m);
		return;
	}
	str_copy(m->app, sizeof(m->app), a->name);
	str_copy(m->rack, sizeof(m->rack), r->name);
	str_copy(m->active, sizeof(m->active), a->active);
	if (store_release_list(r->store, a->name, 0, &list, &n) == -1) {
		api_error(s, 500, "cannot read the releases: %s", store_error(r->store));
		goto fail;
	}
	/* Newest first from the store; oldest first in the archive. */
	m->releases = xcalloc(n + 1, sizeof(*m->releases));
	for (size_t i = n; i > 0; i--)
		m->releases[m->nreleases++] = list[i - 1];
	free(list);
	for (size_t i = 0; i < m->nreleases; i++) {
		if (m->releases[i].build[0] != '\0' &&
		    export_add_build(j, a->name, m->releases[i].build, m, err, sizeof(err)) == -1) {
			api_error(s, 500, "%s", err);
			goto fail;
		}
	}
	for (size_t i = 0; a->manifest != NULL && i < a->manifest->nservices; i++) {
		const char *svc = a->manifest->services[i].name;
		int c = store_scale_get(r->store, a->name, svc);

		if (c < 0)
			continue;
		m->scale_services = xrealloc(m->scale_services, (m->nscale + 1) *
		    sizeof(*m->scale_services));
		m->scale_counts = xrealloc(m->scale_counts, (m->nscale + 1) * sizeof(*m->scale_counts));
		m->scale_services[m->nscale] = xstrdup(svc);
		m->scale_counts[m->nscale++] = c;
	}
	text = appexport_meta_dump(m, now_unix());
	snprintf(path, sizeof(path), "%s/app.json", j->staging);
	snprintf(j->archive, sizeof(j->archive), "%s/tmp/export-XXXXXX", r->dir);
	if (write_file_atomic(path, text, strlen(text), 0600) == -1 ||
	    (j->archive_fd = mkostemp(j->archive, O_CLOEXEC)) == -1) {
		if (j->archive_fd == -1)
			j->archive[0] = '\0';
		api_error(s, 500, "cannot write under %s/tmp: %s", r->dir, strerror(errno));
		goto fail;
	}
	free(text);
	appexport_meta_free(m);
	job_run(j, j->archive_fd, q, s);
	return;
fail:
	free(text);
	appexport_meta_free(m);
	job_free(j);
}

/* ---- import ---- */

/* Says why an id of m is taken on this rack: 0 when none is. */
static int
import_ids_free(struct rack *r, const struct appexport_meta *m, char *err, size_t errlen)
{
	char owner[32];

	for (size_t i = 0; i < m->nbuilds + m->nreleases; i++) {
		const char *id = i < m->nbuilds ? m->builds[i].id : m->releases[i - m->nbuilds].id;

		if (store_id_owner(r->store, id, owner, sizeof(owner)) == 0) {
			snprintf(err, errlen, "%s %s is app %s's on this rack (was the archive exported"
			    " here?): import it onto another rack, or delete app %s first",
			    i < m->nbuilds ? "build" : "release", id, owner, owner);
			return -1;
		}
	}
	return 0;
}

/* Takes away the names the import's child gave images ({"BID": images}),
 * when the import is not recorded after all. */
static void
import_untag(const jv *images)
{
	char **refs = NULL;
	size_t nk, nrefs = 0;
	const char **keys = jv_keys(images, &nk);

	for (size_t k = 0; keys != NULL && k < nk; k++) {
		char *text = jv_dump(jv_get(images, keys[k]));

		image_refs_of(text, &refs, &nrefs);
		free(text);
	}
	free(keys);
	image_remove_later(refs, NULL, 0);
	for (size_t i = 0; i < nrefs; i++)
		free(refs[i]);
	free(refs);
}

/* Records what the child checked and unpacked: the app, its sources moved
 * into place, its builds, releases and scale. Undoes the app on failure. */
static void
import_done(struct job *j, const char *images_text)
{
	struct rack *r = j->rack;
	struct appexport_meta *m = NULL;
	const struct st_release *target;
	char path[4096], dir[4096], err[1024], perr[128];
	jv *images = jv_parse(images_text, strlen(images_text), perr, sizeof(perr)), *ok;
	struct app *a = NULL;
	size_t len;
	char *text;

	snprintf(path, sizeof(path), "%s/archive/app.json", j->staging);
	text = read_file(path, APPEXPORT_META_MAX, &len);
	if (text == NULL || images == NULL ||
	    (m = appexport_meta_parse(text, len, err, sizeof(err))) == NULL) {
		api_finish_error(j->pending, 500, "the import's checked files are gone or changed");
		goto out;
	}
	if (rack_app_find(r, j->app) != NULL) {
		snprintf(err, sizeof(err), "app %s was created during the import", j->app);
		api_finish_error(j->pending, 409, err);
		goto out;
	}
	if (import_ids_free(r, m, err, sizeof(err)) == -1) {
		api_finish_error(j->pending, 409, err);
		goto out;
	}
	if ((a = reconcile_app_create(r, j->app, err, sizeof(err))) == NULL) {
		api_finish_error(j->pending, 500, err);
		goto out;
	}
	snprintf(dir, sizeof(dir), "%s/apps/%s/builds", r->dir, j->app);
	if (mkdir_p(dir, 0700) == -1) {
		snprintf(err, sizeof(err), "cannot create %s: %s", dir, strerror(errno));
		goto undo;
	}
	for (size_t i = 0; i < m->nbuilds; i++) {
		struct st_build *b = &m->builds[i];
		const jv *im = jv_get(images, b->id);

		str_copy(b->app, sizeof(b->app), j->app);
		free(b->dir);
		b->dir = xasprintf("%s/apps/%s/builds/%s", r->dir, j->app, b->id);
		snprintf(path, sizeof(path), "%s/src/%s", j->staging, b->id);
		if (rename(path, b->dir) == -1) {
			snprintf(err, sizeof(err), "cannot move build %s's source to %s: %s", b->id,
			    b->dir, strerror(errno));
			goto undo;
		}
		if (im != NULL) {
			free(b->images);
			b->images = jv_dump(im);
		}
	}
	target = appexport_target(m);
	for (size_t i = 0; i < m->nreleases; i++) {
		struct st_release *rel = &m->releases[i];

		str_copy(rel->app, sizeof(rel->app), j->app);
		/* Nothing serves here yet: the one to promote is created, what served
		 * there is replaced, and a promotion cut short by the export failed. */
		if (rel == target)
			str_copy(rel->status, sizeof(rel->status), "created");
		else if (strcmp(rel->status, "active") == 0)
			str_copy(rel->status, sizeof(rel->status), "replaced");
		else if (strcmp(rel->status, "promoting") == 0)
			str_copy(rel->status, sizeof(rel->status), "failed");
	}
	if (store_app_import(r->store, j->app, m->builds, m->nbuilds, m->releases, m->nreleases,
	    m->scale_services, m->scale_counts, m->nscale) == -1) {
		snprintf(err, sizeof(err), "cannot record the import: %s", store_error(r->store));
		goto undo;
	}
	applog_system(r, j->app, "Imported from rack %s: %zu release(s), %zu build(s)",
	    m->rack[0] ? m->rack : "?", m->nreleases, m->nbuilds);
	log_info("app %s imported from rack %s", j->app, m->rack);
	ok = jv_object_new();
	jv_set_str(ok, "app", j->app);
	jv_set_str(ok, "release", target != NULL ? target->id : "");
	jv_set_int(ok, "releases", (int64_t)m->nreleases);
	jv_set_int(ok, "builds", (int64_t)m->nbuilds);
	api_finish(j->pending, 201, ok);
	goto done;
undo:
	log_warnx("import of app %s: %s", j->app, err);
	store_app_delete(r->store, a->name);
	reconcile_app_delete(r, a);
	api_finish_error(j->pending, 500, err);
out:
	if (images != NULL)
		import_untag(images);
done:
	j->pending = NULL;
	free(text);
	jv_free(images);
	appexport_meta_free(m);
}

bool
appexport_importing(const char *name)
{
	for (struct job *j = jobs; j != NULL; j = j->next)
		if (j->import && strcmp(j->app, name) == 0)
			return true;
	return false;
}

void
appexport_import(struct rack *r, const char *name, struct api_req *q, struct api_resp *s)
{
	char mb[32];
	long max_mb = 512;
	struct job *j;

	if (appexport_importing(name)) {
		api_error(s, 409, "app %s is being imported already", name);
		return;
	}
	if ((j = job_new(r, name, true)) == NULL) {
		api_error(s, 500, "cannot create a directory under %s/tmp: %s", r->dir,
		    strerror(errno));
		return;
	}
	rack_param(r, "build_max_mb", mb, sizeof(mb));
	parse_long(mb, 1, 1 << 20, &max_mb);
	j->max_bytes = (uint64_t)max_mb << 20;
	if ((j->upload_fd = open(q->body_path, O_RDONLY | O_CLOEXEC)) == -1) {
		api_error(s, 500, "cannot read the upload: %s", strerror(errno));
		job_free(j);
		return;
	}
	job_run(j, j->upload_fd, q, s);
}

/* ---- both ---- */

static void
job_read(struct ev_loop *loop, int fd, uint32_t events, void *arg)
{
	struct job *j = arg;
	char *report, *nl;
	int status = 0;

	(void)events;
	if (buf_fill_fd(&j->report, fd) == 1)
		return;
	ev_del(loop, fd);
	close(fd);
	j->fd = -1;
	waitpid(j->pid, &status, 0);
	report = buf_cstr(&j->report);
	nl = strchr(report, '\n');
	if (strncmp(report, "error ", 6) == 0 && nl != NULL) {
		long code = 500;

		parse_long_n(report + 6, (size_t)(nl - report - 6), 400, 599, &code);
		utf8_sanitize(nl + 1);     /* an entry's name may be any bytes */
		if (j->import)
			log_info("import of app %s refused: %s", j->app, nl + 1);
		api_finish_error(j->pending, (int)code, nl + 1);
	} else if (strncmp(report, "ok\n", 3) != 0) {
		log_warnx("%s of app %s: its process died (status %d)", j->import ? "import" :
		    "export", j->app, status);
		api_finish_error(j->pending, 500, j->import ? "the import's process died; nothing"
		    " was imported" : "the export's process died");
	} else if (j->import) {
		import_done(j, report + 3);
	} else {
		export_done(j);
	}
	j->pending = NULL;
	job_free(j);
}

void
appexport_cancel_all(struct rack *r)
{
	while (jobs != NULL) {
		struct job *j = jobs;

		kill(-j->pid, SIGKILL);    /* the child and the podman it runs */
		kill(j->pid, SIGKILL);
		waitpid(j->pid, NULL, 0);
		if (j->fd != -1) {
			ev_del(r->loop, j->fd);
			close(j->fd);
		}
		api_finish_error(j->pending, 409, "the rack is stopping; try again once it runs");
		j->pending = NULL;
		job_free(j);
	}
}
