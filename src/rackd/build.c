/*
 * build.c — see build.h.
 *
 * The child reports on a pipe: a first line "ok" followed by the build's
 * warnings, one per line, or "error STATUS" followed by a one-line message.
 * Anything else (a crash) is reported as such; the build directory is then
 * removed and nothing is recorded.
 */
#include "rackd/build.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/log.h"
#include "rackd/api.h"
#include "rackd/applog.h"
#include "rackd/dockerfile.h"
#include "rackd/manifest.h"
#include "rackd/rack.h"
#include "rackd/unpack.h"

struct build_job {
	struct rack *rack;
	struct build_job *next;    /* in rack->builds */
	struct api_pending *pending;
	char app[32];
	char id[16];
	char dir[4096];
	char desc[512];
	char *env;                 /* the app's env, for ${VAR} in convox.yml */
	int64_t started;           /* unix seconds: the build's STARTED */
	int64_t started_ms;        /* monotonic, for its ELAPSED */
	pid_t pid;
	int fd;
	struct buf report;
};

static const char *
lookup_env_text(const char *name, void *ctx)
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

/* Checks an unpacked build: convox.yml parses, every service has a command;
 * collects warnings. 0, or -1 with err. */
static int
check_build(const char *dir, const char *manifest_text, const char *env, struct buf *warnings,
    char *err, size_t errlen)
{
	struct manifest *m;
	int rc = 0;

	m = manifest_parse(manifest_text, strlen(manifest_text), "convox.yml", lookup_env_text,
	    (void *)env, err, errlen);
	if (m == NULL)
		return -1;
	for (size_t i = 0; i < m->nnotices; i++)
		buf_addf(warnings, "%s\n", m->notices[i]);
	for (size_t i = 0; i < m->nservices && rc == 0; i++) {
		const struct mf_service *sv = &m->services[i];
		struct dockerfile df;
		char path[4096];

		snprintf(path, sizeof(path), "%s/%s/%s", dir, sv->build_path, sv->dockerfile);
		if (dockerfile_read(path, &df, err, errlen) == -1) {
			rc = -1;
			break;
		}
		if (df.run_lines > 0)
			buf_addf(warnings, "service %s: the local provider does not run the %d RUN line(s)"
			    " of %s; it honours only CMD, ENTRYPOINT, ENV, WORKDIR and EXPOSE\n", sv->name,
			    df.run_lines, sv->dockerfile);
		if (sv->command == NULL && df.command == NULL) {
			snprintf(err, errlen, "service %s has no command: set command: in convox.yml or"
			    " CMD in %s/%s", sv->name, sv->build_path, sv->dockerfile);
			rc = -1;
		}
		dockerfile_free(&df);
	}
	manifest_free(m);
	return rc;
}

/* The child's whole life: unpack, check, report on fd, exit. */
static _Noreturn void
child_run(const char *upload, const char *dir, uint64_t max_bytes, const char *env, int fd)
{
	char err[1024], path[4096];
	struct buf out, warnings;
	char *manifest;
	int status = 400;

	buf_init(&out, 1 << 16);
	buf_init(&warnings, 1 << 16);
	if (unpack_tgz(upload, dir, max_bytes, err, sizeof(err)) == -1)
		goto fail;
	snprintf(path, sizeof(path), "%s/convox.yml", dir);
	manifest = read_file(path, 1 << 20, NULL);
	if (manifest == NULL) {
		snprintf(err, sizeof(err), errno == EFBIG ? "convox.yml is over 1 MiB" :
		    "no convox.yml at the top of the source; add one (see examples/)");
		goto fail;
	}
	if (check_build(dir, manifest, env, &warnings, err, sizeof(err)) == -1)
		goto fail;
	buf_adds(&out, "ok\n");
	buf_add(&out, warnings.data ? warnings.data : "", warnings.len);
	goto report;
fail:
	buf_addf(&out, "error %d\n%s", status, err);
report:
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

/* The child is done: record the build and answer. */
static void
job_finish(struct build_job *j)
{
	struct rack *r = j->rack;
	struct st_build b = { 0 };
	struct st_release rel = { 0 };
	char path[4096], *report, *nl, *manifest = NULL;
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
		remove_tree(j->dir);
		api_finish_error(j->pending, code, nl + 1);
		goto out;
	}
	if (strncmp(report, "ok\n", 3) != 0) {
		log_warnx("build %s: the unpacker died (status %d)", j->id, status);
		remove_tree(j->dir);
		api_finish_error(j->pending, 500, WIFSIGNALED(status) ?
		    "the build's unpacker crashed; nothing was recorded" :
		    "the build's unpacker failed; nothing was recorded");
		goto out;
	}
	utf8_sanitize(report);
	snprintf(path, sizeof(path), "%s/convox.yml", j->dir);
	manifest = read_file(path, 1 << 20, NULL);
	str_copy(b.id, sizeof(b.id), j->id);
	str_copy(b.app, sizeof(b.app), j->app);
	b.dir = j->dir;
	b.manifest = manifest != NULL ? manifest : "";
	b.warnings = report + 3;
	b.created = j->started;
	b.elapsed_ms = now_ms() - j->started_ms;
	store_new_id(rel.id, sizeof(rel.id), "R", true);
	str_copy(rel.app, sizeof(rel.app), j->app);
	str_copy(rel.build, sizeof(rel.build), j->id);
	rel.env = j->env;
	str_copy(rel.status, sizeof(rel.status), "created");
	rel.description = j->desc;
	rel.error = "";
	rel.created = now_unix();
	if (rack_app_find(r, j->app) == NULL) {
		remove_tree(j->dir);
		api_finish_error(j->pending, 409, "the app was deleted during the build");
		goto out;
	}
	if (manifest == NULL || store_build_release_add(r->store, &b, &rel) == -1) {
		char why[512];

		snprintf(why, sizeof(why), "cannot record build %s: %s", j->id, manifest == NULL ?
		    "its convox.yml cannot be read" : store_error(r->store));
		log_warnx("app %s: %s", j->app, why);
		remove_tree(j->dir);
		api_finish_error(j->pending, 500, why);
		goto out;
	}
	applog_system(r, j->app, "Build %s created release %s", j->id, rel.id);
	warr = jv_array_new();
	for (char *save = NULL, *t = strtok_r(report + 3, "\n", &save); t != NULL;
	    t = strtok_r(NULL, "\n", &save))
		jv_push_str(warr, t);
	done = jv_object_new();
	jv_set_str(done, "id", j->id);
	jv_set_str(done, "release", rel.id);
	jv_set_str(done, "status", "complete");
	jv_set_take(done, "warnings", warr);
	api_finish(j->pending, 201, done);
out:
	free(manifest);
	job_free(j);
}

static void
job_read(struct ev_loop *loop, int fd, uint32_t events, void *arg)
{
	struct build_job *j = arg;
	char chunk[4096];
	ssize_t n;

	(void)events;
	for (;;) {
		n = read(fd, chunk, sizeof(chunk));
		if (n > 0) {
			buf_add(&j->report, chunk, (size_t)n);   /* bounded; the rest is dropped */
			continue;
		}
		if (n == -1 && errno == EAGAIN)
			return;
		break;
	}
	ev_del(loop, fd);
	close(fd);
	job_finish(j);
}

void
build_start(struct rack *r, struct app *a, struct api_req *q, struct api_resp *s)
{
	struct build_job *j;
	char mb[32];
	long max_mb = 512;
	int pfd[2];

	j = xcalloc(1, sizeof(*j));
	j->rack = r;
	j->started = now_unix();
	j->started_ms = now_ms();
	buf_init(&j->report, 1 << 16);
	str_copy(j->app, sizeof(j->app), a->name);
	store_new_id(j->id, sizeof(j->id), "B", true);
	snprintf(j->dir, sizeof(j->dir), "%s/apps/%s/builds/%s", r->dir, a->name, j->id);
	api_query(q, "description", j->desc, sizeof(j->desc));
	utf8_sanitize(j->desc);
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
	if (pipe2(pfd, O_CLOEXEC) == -1) {
		api_error(s, 500, "cannot start the build: %s", strerror(errno));
		remove_tree(j->dir);
		job_free(j);
		return;
	}
	if ((j->pid = fork()) == -1) {
		api_error(s, 500, "cannot start the build: %s", strerror(errno));
		close(pfd[0]);
		close(pfd[1]);
		remove_tree(j->dir);
		job_free(j);
		return;
	}
	if (j->pid == 0) {
		sigset_t none;

		/* Nothing of the daemon's: not its lock, sockets or blocked signals. */
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGPIPE, SIG_DFL);
		if (dup2(pfd[1], 3) == -1)
			_exit(1);
		close_range(4, ~0U, 0);
		child_run(q->body_path, j->dir, (uint64_t)max_mb << 20, j->env, 3);
	}
	close(pfd[1]);
	j->fd = pfd[0];
	set_nonblock(j->fd);
	if (ev_add(r->loop, j->fd, EV_READ, job_read, j) == -1) {
		kill(j->pid, SIGKILL);
		waitpid(j->pid, NULL, 0);
		close(j->fd);
		api_error(s, 500, "cannot watch the build: %s", strerror(errno));
		remove_tree(j->dir);
		job_free(j);
		return;
	}
	j->pending = api_defer(q, s);
	j->next = r->builds;
	r->builds = j;
}

void
build_cancel(struct rack *r, const char *app)
{
	for (struct build_job *j = r->builds, *next; j != NULL; j = next) {
		next = j->next;
		if (app != NULL && strcmp(j->app, app) != 0)
			continue;
		kill(j->pid, SIGKILL);
		waitpid(j->pid, NULL, 0);
		ev_del(r->loop, j->fd);
		close(j->fd);
		remove_tree(j->dir);
		api_finish_error(j->pending, 409, app != NULL ?
		    "the app was deleted during the build" : "the rack is stopping; deploy again");
		job_free(j);
	}
}
