/*
 * kdeploy.c — see kdeploy.h.
 *
 * A job's child is forked from the loop with what it needs already in its
 * memory (the manifest, the render options, the rack's kubeconfig path); it
 * asks the API server through httpc (libcurl) and writes one report on a
 * pipe, then exits: a first line "ok MS" (how long it took), then a line
 * per object applied ("KIND NAME RESOURCEVERSION"), per object deleted
 * because the release no longer renders it ("KIND NAME deleted"), per
 * Deployment or DaemonSet rolled out ("rollout KIND NAME MS"), and a
 * "warning: ..." line when that deletion failed; or "error" ("error
 * applied" when the objects were applied but did not roll out), then one
 * line saying why. A promotion's apply waits for the rollout (param
 * deploy_timeout bounds it) before it prunes and reports ok; the restore of
 * the active release after a failed rollout does not wait. The loop reads the pipe without blocking and, at its
 * end, reaps the child and acts on the report. A child that dies without
 * a report counts as an error. The child touches neither the store nor
 * the loop: it only reads what was copied into it.
 */
#include "rackd/kdeploy.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "k8s/apply.h"
#include "k8s/kubeconfig.h"
#include "k8s/rollout.h"
#include "rackd/api.h"
#include "rackd/applog.h"
#include "rackd/rack.h"
#include "rackd/reconcile.h"
#include "rackd/store.h"

#define REPORT_MAX (1 << 20)

/* A promotion's apply; the restore of the active release after a promotion
 * whose objects were applied but did not roll out; an app's deletion. */
enum kjob_kind { KJOB_APPLY, KJOB_RESTORE, KJOB_DELETE };

/* A child's fn: applied, but the rollout failed (the report says "error
 * applied": the cluster runs part of the new release, so the active one is
 * restored). */
#define KJOB_NOT_ROLLED_OUT (-2)
/* How often a rollout's state is asked for. */
#define ROLLOUT_POLL_MS 500

struct kdeploy_job {
	struct rack *rack;
	struct kdeploy_job *next;   /* in rack->kjobs */
	enum kjob_kind kind;
	char app[32];
	char release[16];           /* KJOB_APPLY, KJOB_RESTORE: the release being applied */
	pid_t pid;
	int fd;
	struct buf report;
	struct api_pending *pending; /* KJOB_DELETE: handed to done */
	kdeploy_done_fn done;
};

bool
kdeploy_rack(const struct rack *r)
{
	return r->kube;
}

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

/* Integer param key of the rack (1 to 86400), or def when unset. */
static int
param_int(struct rack *r, const char *key, int def)
{
	char text[32];
	long v;

	rack_param(r, key, text, sizeof(text));
	return parse_long(text, 1, 86400, &v) == 0 ? (int)v : def;
}

int
kdeploy_timeout_s(struct rack *r)
{
	return param_int(r, "deploy_timeout", KDEPLOY_TIMEOUT_S);
}

int
kdeploy_input_load(struct rack *r, const char *app, const struct manifest *m,
    const char *env_text, struct kdeploy_input *in, char *err, size_t errlen)
{
	memset(in, 0, sizeof(*in));
	in->counts = xcalloc(m->nservices + 1, sizeof(*in->counts));
	for (size_t i = 0; i < m->nservices; i++) {
		int n = store_scale_get(r->store, app, m->services[i].name);

		if (n >= 0)
			in->counts[in->ncounts++] = (struct k8s_count){ m->services[i].name, n };
	}
	in->env = xcalloc(1, sizeof(*in->env));
	for (const char *l = env_text; l != NULL && *l != '\0';) {
		const char *end = strchr(l, '\n');
		size_t len = end != NULL ? (size_t)(end - l) : strlen(l);

		if (len > 0 && memchr(l, '=', len) != NULL) {
			in->env = xrealloc(in->env, (in->nenv + 2) * sizeof(*in->env));
			in->env[in->nenv++] = xstrndup(l, len);
			in->env[in->nenv] = NULL;
		}
		l = end != NULL ? end + 1 : NULL;
	}
	rack_param(r, "registry", in->registry, sizeof(in->registry));
	rack_param(r, "domain", in->domain, sizeof(in->domain));
	rack_param(r, "domain_internal", in->domain_internal, sizeof(in->domain_internal));
	in->progress_deadline = param_int(r, "deploy_progress_deadline", 0);
	in->timeout_s = kdeploy_timeout_s(r);
	return render_seed(r, in->seed, sizeof(in->seed), err, errlen);
}

void
kdeploy_input_free(struct kdeploy_input *in)
{
	for (size_t i = 0; in->env != NULL && i < in->nenv; i++)
		free(in->env[i]);
	free(in->env);
	in->env = NULL;
	in->nenv = 0;
	free(in->counts);
	in->counts = NULL;
	in->ncounts = 0;
}

struct k8s_render_opts
kdeploy_opts(const struct rack *r, const struct kdeploy_input *in, const char *app,
    const char *release, const char *build)
{
	return (struct k8s_render_opts){ .rack = r->name, .app = app, .registry = in->registry,
		.build = build, .release = release, .domain = in->domain,
		.domain_internal = in->domain_internal, .seed = in->seed, .env = in->env,
		.nenv = in->nenv, .counts = in->counts, .ncounts = in->ncounts,
		.progress_deadline = in->progress_deadline };
}

/* ---- the child ---- */

/* What a child does: 0 with the report's lines in out, or -1 with err. */
typedef int (*kjob_fn)(const struct kubeconfig *kc, void *arg, struct buf *out, char *err,
    size_t errlen);

struct apply_arg {
	const struct manifest *m;
	struct k8s_render_opts o;
	const char *manager;
	int64_t wait_ms;            /* the rollout's bound; 0: no wait (a restore) */
};

static int
apply_run(const struct kubeconfig *kc, void *arg, struct buf *out, char *err, size_t errlen)
{
	struct apply_arg *a = arg;
	jv *docs;
	int rc;

	if (k8s_server_minor(kc, &a->o.kube_minor, err, errlen) == -1)
		return -1;
	if ((docs = k8s_render(a->m, &a->o, err, errlen)) == NULL)
		return -1;
	rc = k8s_apply_checked(kc, docs, a->manager, out, err, errlen);
	if (rc == 0 && a->wait_ms > 0 &&
	    k8s_rollout_wait(kc, docs, a->wait_ms, ROLLOUT_POLL_MS, out, err, errlen) == -1)
		rc = KJOB_NOT_ROLLED_OUT;
	if (rc == 0) {
		struct k8s_kind kinds[16];
		size_t n = k8s_app_kinds(a->o.kube_minor, kinds, CX_ARRAY_LEN(kinds));
		char ns[80], selector[256], why[1200];

		/* Applied: what the release no longer has goes. A failure here
		 * leaves the release applied, and says what stays. */
		k8s_namespace(a->o.rack, a->o.app, ns, sizeof(ns));
		snprintf(selector, sizeof(selector), "app.kubernetes.io%%2Fmanaged-by%%3Dcx%%2C"
		    "cx.rack%%3D%s%%2Ccx.app%%3D%s", a->o.rack, a->o.app);
		if (k8s_prune(kc, docs, ns, selector, kinds, n, out, why, sizeof(why)) == -1) {
			for (char *p = why; *p != '\0'; p++)
				if (*p == '\n')
					*p = ' ';
			buf_addf(out, "warning: what the release no longer has is not all deleted: "
			    "%s\n", why);
		}
	}
	jv_free(docs);
	return rc;
}

static int
delete_run(const struct kubeconfig *kc, void *arg, struct buf *out, char *err, size_t errlen)
{
	char path[256];

	(void)out;
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s", (const char *)arg);
	return k8s_delete_object(kc, path, err, errlen);
}

static _Noreturn void
child_run(const char *kubeconfig, kjob_fn fn, void *arg, int fd)
{
	struct kubeconfig kc;
	struct buf lines, report;
	char err[2048];
	int64_t t0 = now_ms();
	int rc;

	buf_init(&lines, REPORT_MAX / 2);
	buf_init(&report, REPORT_MAX);
	rc = kubeconfig_load(kubeconfig, NULL, &kc, err, sizeof(err));
	if (rc == 0)
		rc = fn(&kc, arg, &lines, err, sizeof(err));
	kubeconfig_free(&kc);
	if (rc == 0) {
		buf_addf(&report, "ok %lld\n", (long long)(now_ms() - t0));
		buf_add(&report, lines.data != NULL ? lines.data : "", lines.len);
	} else {
		/* The server's message may span lines: the report has one. */
		for (char *p = err; *p != '\0'; p++)
			if (*p == '\n' || *p == '\r')
				*p = ' ';
		buf_addf(&report, "error%s\n%s\n", rc == KJOB_NOT_ROLLED_OUT ? " applied" : "", err);
	}
	if (report.len == 0 || write(fd, report.data, report.len) != (ssize_t)report.len)
		_exit(1);
	_exit(0);
}

/* ---- the loop's side ---- */

/* Takes j out of the rack's list (if it is there). */
static void
job_unlink(struct kdeploy_job *j)
{
	for (struct kdeploy_job **pj = &j->rack->kjobs; *pj != NULL; pj = &(*pj)->next) {
		if (*pj == j) {
			*pj = j->next;
			break;
		}
	}
}

static void
job_free(struct kdeploy_job *j)
{
	job_unlink(j);
	buf_free(&j->report);
	free(j);
}

static int start_apply(struct rack *r, const char *app, enum kjob_kind kind,
    const char *release, const char *build, const struct manifest *m, char *const *env,
    char *err, size_t errlen);

/* After a promotion whose objects were applied but did not roll out, the
 * cluster runs part of it: the active release's objects go back (what the
 * failed one added is pruned). An app with no active release keeps what
 * was applied, and its log says so. */
static void
restore_active(struct rack *r, const char *app, const char *failed)
{
	struct app *a = rack_app_find(r, app);
	struct st_release rel;
	char err[1024];
	int rc;

	if (a == NULL || a->deleting)
		return;
	if (a->active[0] == '\0' || a->manifest == NULL) {
		applog_system(r, app, "Release %s stays on the cluster as it is: the app has no "
		    "release before it to restore", failed);
		return;
	}
	if (store_release_get(r->store, app, a->active, &rel) == -1) {
		applog_system(r, app, "Warning: release %s cannot be restored on the cluster: no "
		    "such release in the store", a->active);
		return;
	}
	rc = start_apply(r, app, KJOB_RESTORE, a->active, rel.build, a->manifest,
	    a->release_env, err, sizeof(err));
	store_release_free(&rel);
	if (rc == -1)
		applog_system(r, app, "Warning: release %s cannot be restored on the cluster: %s",
		    a->active, err);
	else
		applog_system(r, app, "Restoring release %s on the cluster", a->active);
}

/* An apply's report, acted on: each object in the app's log, then the
 * reconciler told (a promotion's), or the restore said. applied: the
 * objects were applied but did not roll out. */
static void
apply_done(struct kdeploy_job *j, const char *ms, char *lines, const char *error, bool applied)
{
	struct rack *r = j->rack;
	size_t n = 0;

	if (error != NULL && j->kind == KJOB_RESTORE) {
		applog_system(r, j->app, "Warning: restoring release %s on the cluster failed: %s",
		    j->release, error);
		return;
	}
	if (error != NULL) {
		applog_system(r, j->app, "%s release %s to the cluster failed: %s", applied ?
		    "Rolling out" : "Applying", j->release, error);
		reconcile_applied(r, j->app, j->release, error);
		if (applied)
			restore_active(r, j->app, j->release);
		return;
	}
	for (char *save = NULL, *l = strtok_r(lines, "\n", &save); l != NULL;
	    l = strtok_r(NULL, "\n", &save)) {
		char kind[32], name[256];
		long long t;

		utf8_sanitize(l);
		if (str_has_prefix(l, "warning: "))
			applog_system(r, j->app, "Warning: %s", l + 9);
		else if (sscanf(l, "rollout %31s %255s %lld", kind, name, &t) == 3)
			applog_system(r, j->app, "Rolled out %s %s in %lld ms", kind, name, t);
		else if (strlen(l) > 8 && strcmp(l + strlen(l) - 8, " deleted") == 0)
			applog_system(r, j->app, "Deleted %.*s: release %s no longer has it",
			    (int)(strlen(l) - 8), l, j->release);
		else {
			applog_system(r, j->app, "Applied %s", l);
			n++;
		}
	}
	if (j->kind == KJOB_RESTORE) {
		applog_system(r, j->app, "Restored release %s on the cluster: %zu objects in %s ms",
		    j->release, n, ms);
		log_info("app %s: release %s restored on the cluster", j->app, j->release);
		return;
	}
	applog_system(r, j->app, "Applied release %s to the cluster: %zu objects in %s ms",
	    j->release, n, ms);
	log_info("app %s: release %s applied to the cluster (%zu objects, %s ms)", j->app,
	    j->release, n, ms);
	reconcile_applied(r, j->app, j->release, NULL);
}

static void
job_finish(struct kdeploy_job *j)
{
	char *report, *nl, *ms = "?";
	const char *error = NULL;
	bool applied = false;
	int status = 0;

	waitpid(j->pid, &status, 0);
	/* Reaped: off the list before anyone is told, so that what they do
	 * (a cancel) finds it gone. */
	job_unlink(j);
	report = buf_cstr(&j->report);
	nl = strchr(report, '\n');
	if (nl != NULL && strncmp(report, "ok ", 3) == 0) {
		*nl = '\0';
		ms = report + 3;
	} else if (nl != NULL && (strncmp(report, "error\n", 6) == 0 ||
	    strncmp(report, "error applied\n", 14) == 0)) {
		applied = report[5] == ' ';
		error = nl + 1;
		nl[1 + strcspn(nl + 1, "\n")] = '\0';
		utf8_sanitize(nl + 1);
	} else {
		log_warnx("app %s: the cluster job's process died (status %d)", j->app, status);
		error = "the process that talks to the cluster died; see the rack's log";
	}
	if (j->kind == KJOB_APPLY || j->kind == KJOB_RESTORE)
		apply_done(j, ms, error == NULL ? nl + 1 : NULL, error, applied);
	else if (j->done != NULL)
		j->done(j->rack, j->app, j->pending, error);
	j->pending = NULL;
	job_free(j);
}

static void
job_read(struct ev_loop *loop, int fd, uint32_t events, void *arg)
{
	struct kdeploy_job *j = arg;

	(void)events;
	if (buf_fill_fd(&j->report, fd) == 1)
		return;
	ev_del(loop, fd);
	close(fd);
	job_finish(j);
}

/* Forks the job's child (fn over arg, with the rack's kubeconfig) and
 * watches its pipe. The job is the rack's from here. -1 with err. */
static int
job_start(struct rack *r, struct kdeploy_job *j, kjob_fn fn, void *arg, char *err,
    size_t errlen)
{
	char kubeconfig[4200];
	int pfd[2];

	j->rack = r;
	buf_init(&j->report, REPORT_MAX);
	snprintf(kubeconfig, sizeof(kubeconfig), "%s/kubeconfig", r->dir);
	if (pipe2(pfd, O_CLOEXEC) == -1) {
		snprintf(err, errlen, "cannot start the process that talks to the cluster: %s",
		    strerror(errno));
		buf_free(&j->report);
		return -1;
	}
	if ((j->pid = fork()) == -1) {
		snprintf(err, errlen, "cannot start the process that talks to the cluster: %s",
		    strerror(errno));
		close(pfd[0]);
		close(pfd[1]);
		buf_free(&j->report);
		return -1;
	}
	if (j->pid == 0) {
		sigset_t none;

		/* Nothing of the daemon's: not its lock, sockets or blocked signals. */
		setpgid(0, 0);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGPIPE, SIG_DFL);
		if (dup2(pfd[1], 3) == -1)
			_exit(1);
		close_range(4, ~0U, 0);
		child_run(kubeconfig, fn, arg, 3);
	}
	setpgid(j->pid, j->pid);
	close(pfd[1]);
	j->fd = pfd[0];
	set_nonblock(j->fd);
	if (ev_add(r->loop, j->fd, EV_READ, job_read, j) == -1) {
		snprintf(err, errlen, "cannot watch the process that talks to the cluster: %s",
		    strerror(errno));
		kill(j->pid, SIGKILL);
		waitpid(j->pid, NULL, 0);
		close(j->fd);
		buf_free(&j->report);
		return -1;
	}
	j->next = r->kjobs;
	r->kjobs = j;
	return 0;
}

/* Stops job j's child (and what it started) and forgets the job. */
static void
job_kill(struct kdeploy_job *j)
{
	kill(-j->pid, SIGKILL);
	kill(j->pid, SIGKILL);
	waitpid(j->pid, NULL, 0);
	ev_del(j->rack->loop, j->fd);
	close(j->fd);
	job_free(j);
}

/* Starts a job of kind (KJOB_APPLY or KJOB_RESTORE) applying release (of
 * build) of app, from m and env (kept by the caller). -1 with err. */
static int
start_apply(struct rack *r, const char *app, enum kjob_kind kind, const char *release,
    const char *build, const struct manifest *m, char *const *env, char *err, size_t errlen)
{
	struct kdeploy_input in;
	struct kdeploy_job *j;
	struct buf text;
	char manager[64];
	int rc;

	/* The release's own env, as the render wants it: "K=V\n" lines. */
	buf_init(&text, 0);
	for (size_t i = 0; env != NULL && env[i] != NULL; i++)
		buf_addf(&text, "%s\n", env[i]);
	rc = kdeploy_input_load(r, app, m, buf_cstr(&text), &in, err, errlen);
	buf_free(&text);
	if (rc == -1) {
		kdeploy_input_free(&in);
		return -1;
	}
	snprintf(manager, sizeof(manager), "cx-%s", r->name);
	{
		struct apply_arg arg = { .m = m, .o = kdeploy_opts(r, &in, app, release, build),
			.manager = manager,
			.wait_ms = kind == KJOB_APPLY ? (int64_t)in.timeout_s * 1000 : 0 };
		/* Rendered here first (for the newest version: only apiVersions
		 * differ), so that what the release lacks (a required variable)
		 * refuses the promotion at once, nothing started. */
		jv *docs = k8s_render(m, &arg.o, err, errlen);

		j = NULL;
		rc = docs != NULL ? 0 : -1;
		jv_free(docs);
		if (rc == 0) {
			j = xcalloc(1, sizeof(*j));
			j->kind = kind;
			str_copy(j->app, sizeof(j->app), app);
			str_copy(j->release, sizeof(j->release), release);
			rc = job_start(r, j, apply_run, &arg, err, errlen);
		}
	}
	kdeploy_input_free(&in);
	if (rc == -1) {
		free(j);
		return -1;
	}
	return 0;
}

int
kdeploy_apply(struct rack *r, struct app *a, const char *release, const char *build,
    const struct manifest *m, char *const *env, char *err, size_t errlen)
{
	/* A restore still under way would undo this one: it goes. */
	for (struct kdeploy_job *j = r->kjobs, *next; j != NULL; j = next) {
		next = j->next;
		if (j->kind == KJOB_RESTORE && strcmp(j->app, a->name) == 0)
			job_kill(j);
	}
	if (start_apply(r, a->name, KJOB_APPLY, release, build, m, env, err, errlen) == -1)
		return -1;
	applog_system(r, a->name, "Applying release %s to the cluster (field manager cx-%s)",
	    release, r->name);
	return 0;
}

int
kdeploy_delete_app(struct rack *r, const char *app, struct api_pending *pending,
    kdeploy_done_fn done, char *err, size_t errlen)
{
	struct kdeploy_job *j = xcalloc(1, sizeof(*j));
	char ns[80];

	k8s_namespace(r->name, app, ns, sizeof(ns));
	j->kind = KJOB_DELETE;
	str_copy(j->app, sizeof(j->app), app);
	j->pending = pending;
	j->done = done;
	if (job_start(r, j, delete_run, ns, err, errlen) == -1) {
		free(j);
		return -1;
	}
	return 0;
}

void
kdeploy_cancel(struct rack *r, const char *app)
{
	for (struct kdeploy_job *j = r->kjobs, *next; j != NULL; j = next) {
		next = j->next;
		if (app != NULL && (j->kind == KJOB_DELETE || strcmp(j->app, app) != 0))
			continue;
		if (j->pending != NULL)
			api_finish_error(j->pending, 409, app != NULL ? "the app's cluster job was "
			    "cancelled" : "the rack is stopping; try again");
		j->pending = NULL;
		job_kill(j);
	}
}

bool
kdeploy_applying(const struct rack *r, const char *app)
{
	for (const struct kdeploy_job *j = r->kjobs; j != NULL; j = j->next)
		if (j->kind == KJOB_APPLY && strcmp(j->app, app) == 0)
			return true;
	return false;
}
