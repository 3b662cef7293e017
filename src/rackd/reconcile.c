/*
 * reconcile.c — see reconcile.h.
 *
 * An app's promotion, rolling (each service's batches: rollout.c):
 *
 *   idle/active --promote R--> PROMOTING: R's processes start in batches,
 *            at most deployment.maximum % of each service's count running at
 *            once (old and new, draining and stopping ones included)
 *      PROMOTING --an R process passes its health check--> it is routed,
 *            beside the old release's; an old one per new serving one is
 *            RETIRED; when a batch waits for room, old ones are RETIRED while
 *            at least deployment.minimum % keep serving
 *      RETIRED: out of the routes at once, SIGTERM (and its termination
 *            grace) after a drain, so the routers have let it go first
 *      PROMOTING --every service has its count of R processes serving-->
 *            ACTIVE(R): the previous release's last processes drain, stop
 *      PROMOTING --an R process exits or misses its first-pass deadline-->
 *            FAILED: R's processes stop, retired old ones not yet stopped
 *            are routed again, the active release is brought back to its
 *            count; the release records why (with the process's last log
 *            lines)
 *      PROMOTING --cancel (cx apps cancel)--> FAILED the same way, "cancelled"
 *
 * On a Kubernetes rack (kdeploy.h) no process starts here: PROMOTING is
 * the apply of R's objects to the cluster, and its end (reconcile_applied)
 * makes R ACTIVE or FAILED (the server's message), the previous release
 * staying active on the cluster.
 *
 * Outside a promotion the reconciler keeps the active release at its scale:
 * it replaces processes that exit (with back-off) or stay unhealthy, starts
 * or retires processes after `cx scale`, and stops processes of any other
 * release. During one, the promotion alone starts and retires.
 */
#include "rackd/reconcile.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/jv.h"
#include "common/log.h"
#include "common/net.h"
#include "common/util.h"
#include "lab/lab.h"
#include "rackd/applog.h"
#include "rackd/cgroup.h"
#include "rackd/disk.h"
#include "rackd/dockerfile.h"
#include "rackd/health.h"
#include "rackd/image.h"
#include "rackd/kdeploy.h"
#include "rackd/manifest.h"
#include "rackd/prune.h"
#include "rackd/rack.h"
#include "rackd/resource.h"
#include "rackd/rollout.h"
#include "rackd/rootfs.h"
#include "rackd/sandbox.h"
#include "rackd/supervisor.h"

#define DRAIN_MS 500
#define SHIM_FLUSH_MS 150

static void
env_free(char **env)
{
	if (env == NULL)
		return;
	for (char **e = env; *e != NULL; e++)
		free(*e);
	free(env);
}

/* "K=V\n" lines -> NULL-terminated array. */
static char **
env_split(const char *text)
{
	char *copy = xstrdup(text), *save = NULL;
	char **env = xcalloc(1, sizeof(*env));
	size_t n = 0;

	for (char *l = strtok_r(copy, "\n", &save); l != NULL; l = strtok_r(NULL, "\n", &save)) {
		env = xrealloc(env, (n + 2) * sizeof(*env));
		env[n++] = xstrdup(l);
		env[n] = NULL;
	}
	free(copy);
	return env;
}

static const char *
env_lookup(const char *name, void *ctx)
{
	char **env = ctx;
	size_t n = strlen(name);

	for (char **e = env; e != NULL && *e != NULL; e++) {
		if (strncmp(*e, name, n) == 0 && (*e)[n] == '=')
			return *e + n + 1;
	}
	return NULL;
}

void
reconcile_mark(const struct rack *r, char *out, size_t outlen)
{
	uint64_t h = 14695981039346656037ULL;   /* FNV-1a */

	for (const unsigned char *c = (const unsigned char *)r->dir; *c != '\0'; c++) {
		h ^= *c;
		h *= 1099511628211ULL;
	}
	snprintf(out, outlen, "%016llx", (unsigned long long)h);
}

int
reconcile_load_release(struct rack *r, const char *app, const char *id, struct manifest **m,
    char *dir, size_t dirlen, char ***env, char *err, size_t errlen)
{
	struct st_release rel;
	struct st_build b;
	char perr[512];

	if (store_release_get(r->store, app, id, &rel) == -1) {
		snprintf(err, errlen, "no such release: %s (cx releases -a %s lists them)", id, app);
		return -1;
	}
	if (rel.build[0] == '\0') {
		snprintf(err, errlen, "release %s has no build; deploy first: cx deploy -a %s", id, app);
		store_release_free(&rel);
		return -1;
	}
	if (store_build_get(r->store, app, rel.build, &b) == -1) {
		snprintf(err, errlen, "build %s of release %s is missing", rel.build, id);
		store_release_free(&rel);
		return -1;
	}
	*env = env_split(rel.env);
	*m = manifest_parse(b.manifest, strlen(b.manifest), "convox.yml", env_lookup, *env, perr,
	    sizeof(perr));
	if (*m == NULL) {
		snprintf(err, errlen, "%s", perr);
		env_free(*env);
		*env = NULL;
	}
	str_copy(dir, dirlen, b.dir);
	store_build_free(&b);
	store_release_free(&rel);
	return *m == NULL ? -1 : 0;
}

/* What a one-off process is besides its service's: its id's prefix, its
 * own command, its own stdio. */
struct oneoff {
	const char *prefix;
	const char *command;    /* NULL: the service's */
	const int *stdio;       /* NULL: the app's log */
};

static int spawn_proc(struct rack *r, struct app *a, const char *release, unsigned gen,
    const struct manifest *m, const char *build_dir, char *const *app_env,
    const struct mf_service *s, const struct oneoff *one, struct proc **out, char *err,
    size_t errlen);

int
reconcile_spawn_oneoff(struct rack *r, struct app *a, const struct mf_service *s,
    const char *prefix, const char *command, const int *stdio, struct proc **out, char *err,
    size_t errlen)
{
	struct oneoff one = { prefix, command, stdio };

	if (r->kube) {
		snprintf(err, errlen, "app %s runs on rack %s's Kubernetes cluster, not here: use "
		    "kubectl -n %s-%s there", a->name, r->name, r->name, a->name);
		return -1;
	}
	if (a->manifest == NULL || a->deleting) {
		snprintf(err, errlen, "app %s has no active release", a->name);
		return -1;
	}
	return spawn_proc(r, a, a->active, 0, a->manifest, a->build_dir, a->release_env, s, &one,
	    out, err, errlen);
}

int
reconcile_desired(struct rack *r, struct app *a, const char *service, int manifest_count)
{
	int n = store_scale_get(r->store, a->name, service);

	return n >= 0 ? n : manifest_count;
}

static struct proc *
proc_new(struct app *a)
{
	struct proc *p = xcalloc(1, sizeof(*p));

	p->app = a;
	p->pidfd = -1;
	p->statfd = -1;
	p->app_status = -1;
	p->exit_status = -1;
	p->next = a->procs;
	a->procs = p;
	return p;
}

static void
proc_free(struct rack *r, struct app *a, struct proc *p)
{
	struct proc **pp;

	health_cancel(r, p);
	for (pp = &a->procs; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	}
	r->sup->forget(r, p);
	rack_routes_changed(r);
	if (store_proc_delete(r->store, p->st.id) == -1)
		log_warnx("process %s: cannot remove its record: %s", p->st.id, store_error(r->store));
	if (r->netns)
		lab_proc_destroy(r->home, r->name, p->st.id);
	if (a->uid_base != 0) {
		char dir[4096];

		/* A process from an image leaves its private layer: it goes with it. */
		rootfs_proc_dir(r->dir, a->name, p->st.id, dir, sizeof(dir));
		if (access(dir, F_OK) == 0 && remove_tree(dir) == -1)
			log_warn("process %s: cannot remove %s", p->st.id, dir);
	}
	free(p->st.command);
	free(p);
}

/* The command a service runs: convox.yml `command`, else the Dockerfile's;
 * workdir gets the directory it starts in, relative to the build. */
static char *
service_command(const char *build_dir, const struct mf_service *s, char *workdir,
    size_t workdirlen, char ***df_env, char *err, size_t errlen)
{
	struct dockerfile df;
	char path[4096];
	const char *bp, *wd;
	char *cmd = NULL;

	snprintf(path, sizeof(path), "%s/%s/%s", build_dir, s->build_path, s->dockerfile);
	if (dockerfile_read(path, &df, err, errlen) == -1)
		return NULL;
	bp = strcmp(s->build_path, ".") == 0 ? "" : s->build_path;
	wd = df.workdir != NULL ? df.workdir : "";
	snprintf(workdir, workdirlen, "%s%s%s", bp, bp[0] != '\0' && wd[0] != '\0' ? "/" : "", wd);
	cmd = s->command != NULL ? xstrdup(s->command) : df.command ? xstrdup(df.command) : NULL;
	if (cmd == NULL)
		snprintf(err, errlen, "service %s has no command: set command: in convox.yml or CMD"
		    " in its Dockerfile", s->name);
	*df_env = df.env;
	df.env = NULL;
	dockerfile_free(&df);
	return cmd;
}

/* The image service runs from, as its release's build recorded it: its ref
 * into ref and its config into *c (image_config_free). False when the
 * service runs the host's way (no image, or a record that cannot be read,
 * which is logged). */
static bool
release_image(struct rack *r, const char *app, const char *release, const char *service,
    char *ref, size_t reflen, struct image_config *c)
{
	struct st_release rel;
	struct st_build b;
	char perr[256];
	bool ok = false;
	jv *j = NULL, *one;

	if (store_release_get(r->store, app, release, &rel) == -1)
		return false;
	if (rel.build[0] != '\0' && store_build_get(r->store, app, rel.build, &b) == 0) {
		if (b.images != NULL && b.images[0] != '\0' &&
		    (j = jv_parse(b.images, strlen(b.images), perr, sizeof(perr))) == NULL)
			log_warnx("app %s: build %s: unreadable images record: %s", app, rel.build, perr);
		one = j != NULL ? jv_get(j, service) : NULL;
		if (one != NULL && jv_is_object(one) && jv_str(one, "ref") != NULL &&
		    jv_get(one, "config") != NULL) {
			char *text = jv_dump(jv_get(one, "config"));

			if (image_config_from_json(text, c, perr, sizeof(perr)) == 0)
				ok = str_copy(ref, reflen, jv_str(one, "ref")) == 0;
			else
				log_warnx("app %s: build %s: service %s: %s", app, rel.build, service, perr);
			free(text);
		}
		jv_free(j);
		store_build_free(&b);
	}
	store_release_free(&rel);
	return ok;
}

/* The environment the rack gives: convox.yml's, then its own names. A
 * process from an image gets these over its image's ENV (rootfs_env, with
 * its user's HOME); a host process gets a PATH, HOME and LANG first. */
static char **
process_env(struct rack *r, struct app *a, const char *release, const struct manifest *m,
    const struct mf_service *s, const char *p_id, char *const *app_env, char **df_env, int port,
    const char *home, char *err, size_t errlen)
{
	char **menv, **env, **renv, mark[32];
	size_t n = 0, cap;

	renv = resource_env(r, a->name, s, app_env);    /* + NAME_URL of its resources */
	menv = manifest_service_env(m, s, renv, err, errlen);
	resource_env_free(renv);
	if (menv == NULL)
		return NULL;
	cap = 16;
	for (char **e = menv; *e != NULL; e++)
		cap++;
	for (char **e = df_env; e != NULL && *e != NULL; e++)
		cap++;
	env = xcalloc(cap, sizeof(*env));
	if (home != NULL) {
		env[n++] = xstrdup("PATH=/usr/local/bin:/usr/bin:/bin");
		env[n++] = xasprintf("HOME=%s", home);
		env[n++] = xstrdup("LANG=C.UTF-8");
	}
	for (char **e = df_env; e != NULL && *e != NULL; e++)
		env[n++] = xstrdup(*e);
	for (char **e = menv; *e != NULL; e++) {
		if (!str_has_prefix(*e, "PORT="))
			env[n++] = xstrdup(*e);
	}
	env[n++] = xasprintf("APP=%s", a->name);
	env[n++] = xasprintf("SERVICE=%s", s->name);
	env[n++] = xasprintf("RACK=%s", r->name);
	env[n++] = xasprintf("RELEASE=%s", release);
	env[n++] = xasprintf("HOSTNAME=%s", p_id);
	reconcile_mark(r, mark, sizeof(mark));
	env[n++] = xasprintf(RECONCILE_MARK_VAR "=%s/%s", mark, p_id);
	if (port > 0)
		env[n++] = xasprintf("PORT=%d", port);
	env[n] = NULL;
	manifest_env_free(menv);
	return env;
}

/* The limits of a process of service s: scale.memory, scale.cpu (1000 a
 * core, as Convox counts; cgroup shares count 1024) and process_pids_max. */
static struct cgroup_limits
proc_limits(struct rack *r, const struct mf_service *s)
{
	char v[32];
	long pids;

	rack_param(r, "process_pids_max", v, sizeof(v));
	if (parse_long(v, 16, 4194304, &pids) == -1)
		pids = CGROUP_PIDS_DEFAULT;
	return (struct cgroup_limits){ .memory_mb = s->scale_memory,
		.cpu = (int)((long long)s->scale_cpu * 1024 / 1000), .cpu_cap = s->scale_cpu_set,
		.pids_max = (int)pids };
}

/* Starts one process of service s of release `release`. */
static int
spawn_proc(struct rack *r, struct app *a, const char *release, unsigned gen,
    const struct manifest *m, const char *build_dir, char *const *app_env,
    const struct mf_service *s, const struct oneoff *one, struct proc **out, char *err,
    size_t errlen)
{
	char workdir[4096], prefix[48], ref[512], pdir[4096], lcache[4096];
	char **df_env = NULL, **env = NULL, **argv = NULL;
	char *cmd;
	struct proc *p;
	struct sandbox sb;
	struct sandbox_image si;
	struct image_config ic = { 0 };
	struct cgroup_limits limits;
	bool from_image = a->uid_base != 0 && release_image(r, a->name, release, s->name, ref,
	    sizeof(ref), &ic);
	int rc = -1;

	if (from_image) {
		/* Convox's argv: ENTRYPOINT, then the command (shell-split) or CMD. */
		argv = rootfs_argv(ic.entrypoint, ic.cmd, one != NULL && one->command != NULL ?
		    one->command : s->command, err, errlen);
		if (argv == NULL) {
			image_config_free(&ic);
			return -1;
		}
		cmd = rootfs_join(argv);
		workdir[0] = '\0';
	} else {
		cmd = service_command(build_dir, s, workdir, sizeof(workdir), &df_env, err, errlen);
		if (cmd == NULL && (one == NULL || one->command == NULL)) {
			env_free(df_env);
			return -1;
		}
		if (one != NULL && one->command != NULL) {
			free(cmd);
			cmd = xstrdup(one->command);
		}
	}
	p = proc_new(a);
	p->gen = gen;
	p->oneoff = one != NULL;
	if (one != NULL)    /* one with stdio of its own is cx run's, else a timer's */
		str_copy(p->st.oneoff, sizeof(p->st.oneoff), one->stdio != NULL ? "run" : "timer");
	snprintf(prefix, sizeof(prefix), "%s-", one != NULL ? one->prefix : s->name);
	store_new_id(p->st.id, sizeof(p->st.id), prefix, false);
	str_copy(p->st.app, sizeof(p->st.app), a->name);
	str_copy(p->st.service, sizeof(p->st.service), s->name);
	str_copy(p->st.release, sizeof(p->st.release), release);
	p->st.command = cmd;
	p->st.started = now_unix();
	p->st.promoting = gen != a->active_gen;
	/* Recorded before anything of it exists (pid 0: starting), so that a
	 * daemon that dies from here on leaves a record that the next one
	 * cleans up after (adopt_procs), namespace and layer included. */
	if (store_proc_put(r->store, &p->st) == -1) {
		snprintf(err, errlen, "cannot record process %s: %s", p->st.id, store_error(r->store));
		goto out;
	}
	if (r->netns) {
		p->st.port = s->port;
		if (lab_app_proc_create(r->home, r->name, a->name, p->st.id, p->st.address,
		    sizeof(p->st.address), err, errlen) == -1)
			goto out;
	} else {
		str_copy(p->st.address, sizeof(p->st.address), "127.0.0.1");
		p->st.port = s->port > 0 ? net_free_port() : 0;
		if (s->port > 0 && p->st.port <= 0) {
			snprintf(err, errlen, "no free port for %s", p->st.id);
			goto out;
		}
	}
	limits = proc_limits(r, s);
	sb = (struct sandbox){ .uid_base = a->uid_base, .build_dir = build_dir, .workdir = workdir,
		.home = r->home, .rack = r->name, .proc_id = r->netns ? p->st.id : NULL,
		.name = p->st.id, .limits = &limits };
	if (from_image) {
		rootfs_proc_dir(r->dir, a->name, p->st.id, pdir, sizeof(pdir));
		si = (struct sandbox_image){ .ref = ref, .config = &ic, .argv = argv,
			.proc_dir = pdir, .address = p->st.address };
		/* apps/APP/layers/ID: the image's layers, listed once per image id. */
		if (str_has_prefix(ic.id, "sha256:") && strchr(ic.id, '/') == NULL) {
			snprintf(lcache, sizeof(lcache), "%s/apps/%s/layers", r->dir, a->name);
			if (mkdir_p(lcache, 0700) == 0) {
				snprintf(lcache + strlen(lcache), sizeof(lcache) - strlen(lcache), "/%s",
				    ic.id + 7);
				si.layers_cache = lcache;
			}
		}
		sb.image = &si;
	}
	env = process_env(r, a, release, m, s, p->st.id, app_env, df_env, p->st.port,
	    from_image ? NULL : sandbox_home(&sb), err, errlen);
	if (env == NULL)
		goto out;
	p->state = PROC_STARTING;
	/* The supervisor records its pid before it runs. */
	if (r->sup->spawn_app(r, p, &sb, cmd, env, one != NULL ? one->stdio : NULL, err,
	    errlen) == -1)
		goto out;
	if (from_image)
		applog_system(r, a->name, "Started process %s for release %s (pid %d, port %d) from"
		    " image %s, in the rack's own namespaces (no OCI runtime)", p->st.id, release,
		    (int)p->st.pid, p->st.port, ref);
	else
		applog_system(r, a->name, "Started process %s for release %s (pid %d, port %d)",
		    p->st.id, release, (int)p->st.pid, p->st.port);
	if (p->oneoff)
		p->state = PROC_RUNNING;    /* a one-off run has no health to check */
	else
		health_start(r, p, s, false);
	if (out != NULL)
		*out = p;
	rc = 0;
out:
	if (rc == -1)
		proc_free(r, a, p);
	env_free(df_env);
	env_free(env);
	rootfs_strv_free(argv);
	image_config_free(&ic);
	return rc;
}

static int
grace_of(struct app *a, struct proc *p)
{
	const struct manifest *m = proc_is_promoting(a, p) ? a->p_manifest : a->manifest;
	const struct mf_service *s = m ? manifest_service(m, p->st.service) : NULL;

	return s ? s->termination_grace : 30;
}

static void
stop_proc(struct rack *r, struct app *a, struct proc *p)
{
	if (p->state == PROC_STOPPING)
		return;
	health_cancel(r, p);
	if (p->pidfd == -1) {
		p->state = PROC_STOPPING;
		return;
	}
	applog_system(r, a->name, "Stopping process %s", p->st.id);
	p->state = PROC_STOPPING;
	rack_routes_changed(r);
	r->sup->stop(r, p, grace_of(a, p));
	p->st.stopping = true;
	if (store_proc_put(r->store, &p->st) == -1)
		log_warnx("process %s: cannot record that it is stopping: %s", p->st.id,
		    store_error(r->store));
}

void
reconcile_stop_proc(struct rack *r, struct proc *p)
{
	stop_proc(r, p->app, p);
}

static void
clear_promotion(struct app *a)
{
	a->promoting[0] = '\0';
	manifest_free(a->p_manifest);
	a->p_manifest = NULL;
	env_free(a->p_env);
	a->p_env = NULL;
}

static void
fail_promotion(struct rack *r, struct app *a, struct proc *culprit, const char *why)
{
	struct buf msg;
	char source[128];

	buf_init(&msg, 1 << 16);
	buf_adds(&msg, why);
	if (culprit != NULL) {
		snprintf(source, sizeof(source), "service/%s/%s ", culprit->st.service,
		    culprit->st.id);
		buf_adds(&msg, "\n");
		applog_tail(r, a->name, source, 10, &msg);
	}
	utf8_sanitize(buf_cstr(&msg));   /* a process's output may be any bytes */
	kdeploy_cancel(r, a->name);     /* an apply under way: nobody waits for it now */
	log_warnx("app %s: promotion of %s failed: %s", a->name, a->promoting, why);
	applog_system(r, a->name, "Promotion of %s failed: %s", a->promoting, why);
	if (strcmp(a->promoting, a->active) == 0) {
		/* A restart: the release stays active (its old processes serve on);
		 * the app says why the restart failed. */
		free(a->restart_error);
		a->restart_error = xstrdup(buf_cstr(&msg));
	} else {
		if (store_release_set_status(r->store, a->name, a->promoting, "failed",
		    buf_cstr(&msg)) == -1)
			log_warnx("app %s: cannot record release %s as failed: %s", a->name,
			    a->promoting, store_error(r->store));
	}
	buf_free(&msg);
	for (struct proc *p = a->procs; p != NULL; p = p->next) {
		if (proc_is_promoting(a, p))
			stop_proc(r, a, p);
		else if (proc_is_active(a, p) && p->retired && proc_draining(p) &&
		    p->state != PROC_STOPPING && p->state != PROC_EXITED) {
			/* Retired for the promotion, not stopped yet: it serves again
			 * (one drained for a scale-down or a restart stays drained). */
			p->replaced = false;
			p->replace_at = 0;
			p->retired = false;
		}
	}
	clear_promotion(a);
	rack_routes_changed(r);
}

int
reconcile_cancel(struct rack *r, struct app *a, char *err, size_t errlen)
{
	if (a->promoting[0] == '\0') {
		snprintf(err, errlen, "app %s has no deployment under way: nothing to cancel",
		    a->name);
		return -1;
	}
	fail_promotion(r, a, NULL, "cancelled (cx apps cancel)");
	rack_routes_changed(r);
	return 0;
}

static void
activate(struct rack *r, struct app *a)
{
	if (store_release_activate(r->store, a->name, a->promoting) == -1) {
		fail_promotion(r, a, NULL, "cannot record the release as active");
		return;
	}
	applog_system(r, a->name, "Promoted release %s", a->promoting);
	manifest_free(a->manifest);
	env_free(a->release_env);
	a->manifest = a->p_manifest;
	a->release_env = a->p_env;
	a->p_manifest = NULL;
	a->p_env = NULL;
	str_copy(a->build_dir, sizeof(a->build_dir), a->p_build_dir);
	str_copy(a->active, sizeof(a->active), a->promoting);
	a->active_gen = a->promoting_gen;
	for (struct proc *p = a->procs; p != NULL; p = p->next) {
		if (p->gen == a->active_gen && p->st.promoting) {
			p->st.promoting = false;
			if (store_proc_put(r->store, &p->st) == -1)
				log_warnx("process %s: cannot record that it serves release %s: %s",
				    p->st.id, a->promoting, store_error(r->store));
		}
	}
	a->promoting[0] = '\0';
	a->restarts = 0;
	a->drain_at = now_ms() + DRAIN_MS;
	rack_routes_changed(r);
	{
		char err[4600];

		if (prune_builds(r, a, NULL, err, sizeof(err)) == -1)
			log_warnx("app %s: after promoting: %s", a->name, err);
	}
}

static void
describe_exit(struct proc *p, char *out, size_t outlen)
{
	if (p->oom_mb > 0)
		snprintf(out, outlen, "process %s was killed by the kernel: out of memory (its "
		    "scale.memory, %d MB)", p->st.id, p->oom_mb);
	else if (p->oom_mb == -1)
		snprintf(out, outlen, "process %s was killed by the kernel: out of memory", p->st.id);
	else if (p->exit_status == -1)
		snprintf(out, outlen, "process %s exited", p->st.id);
	else if (WIFEXITED(p->exit_status))
		snprintf(out, outlen, "process %s exited with status %d", p->st.id,
		    WEXITSTATUS(p->exit_status));
	else if (WIFSIGNALED(p->exit_status))
		snprintf(out, outlen, "process %s was killed by signal %d", p->st.id,
		    WTERMSIG(p->exit_status));
	else
		snprintf(out, outlen, "process %s exited", p->st.id);
}

static int
count_procs(struct app *a, unsigned gen, const char *service, bool running_only)
{
	int n = 0;

	for (struct proc *p = a->procs; p != NULL; p = p->next) {
		if (p->gen != gen || strcmp(p->st.service, service) != 0 || p->replaced)
			continue;
		if (running_only ? p->state == PROC_RUNNING :
		    (p->state != PROC_STOPPING && p->state != PROC_EXITED))
			n++;
	}
	return n;
}

/* Takes p out of the routes; stop_drained stops it after DRAIN_MS, once
 * the routers have let it go. */
static void
drain_proc(struct rack *r, struct app *a, struct proc *p, int64_t now, const char *why)
{
	p->replaced = true;
	p->replace_at = now + DRAIN_MS;
	applog_system(r, a->name, "Draining process %s (%s)", p->st.id, why);
	rack_routes_changed(r);
}

/* Stops the processes whose drain is over. */
static void
stop_drained(struct rack *r, struct app *a, int64_t now)
{
	for (struct proc *p = a->procs; p != NULL; p = p->next) {
		if (proc_draining(p) && now >= p->replace_at && p->state != PROC_STOPPING &&
		    p->state != PROC_EXITED)
			stop_proc(r, a, p);
	}
}

/* Service s's processes, old and new, as rollout_plan counts them. Every
 * process not of the promotion is old (a previous release's still
 * stopping too: it still runs); only the active release's may be retired. */
static struct rollout_count
rollout_count_of(struct rack *r, struct app *a, const struct mf_service *s)
{
	struct rollout_count c = { .want = reconcile_desired(r, a, s->name, s->scale_count) };

	for (struct proc *p = a->procs; p != NULL; p = p->next) {
		bool gone = p->state == PROC_EXITED, stopping = p->state == PROC_STOPPING;

		if (p->oneoff || gone || strcmp(p->st.service, s->name) != 0)
			continue;
		if (proc_is_promoting(a, p)) {
			if (!stopping) {
				c.new_alive++;
				c.new_serving += p->state == PROC_RUNNING;
			}
			continue;
		}
		c.old_alive++;
		if (proc_is_active(a, p) && !stopping && !proc_draining(p)) {
			c.old_live++;
			c.old_serving += proc_serves(a, p);
		}
	}
	return c;
}

/* Retires n live processes of the active release's service, those that
 * do not serve first. */
static void
retire_old(struct rack *r, struct app *a, const char *service, int n, int64_t now)
{
	char why[128];

	snprintf(why, sizeof(why), "release %s takes its place", a->promoting);
	for (int pass = 0; pass < 2 && n > 0; pass++) {
		for (struct proc *p = a->procs; p != NULL && n > 0; p = p->next) {
			if (!proc_is_active(a, p) || p->oneoff || strcmp(p->st.service, service) != 0 ||
			    p->state == PROC_STOPPING || p->state == PROC_EXITED || proc_draining(p) ||
			    (pass == 0 && proc_serves(a, p)))
				continue;
			drain_proc(r, a, p, now, why);
			p->retired = true;
			n--;
		}
	}
}

static void
reconcile_promotion(struct rack *r, struct app *a)
{
	const struct manifest *m = a->p_manifest;
	int64_t now = now_ms();
	bool ready = true;
	char why[512], err[1024];

	if (now > a->p_deadline) {
		fail_promotion(r, a, NULL, "the promotion did not finish within 10 minutes");
		return;
	}
	for (struct proc *p = a->procs; p != NULL; p = p->next) {
		if (!proc_is_promoting(a, p))
			continue;
		if (p->state == PROC_EXITED) {
			/* Give its log shim a moment to copy the last lines it wrote. */
			if (now < p->exited_at + SHIM_FLUSH_MS)
				return;
			describe_exit(p, why, sizeof(why));
			strncat(why, " during promotion", sizeof(why) - strlen(why) - 1);
			fail_promotion(r, a, p, why);
			return;
		}
	}
	for (size_t i = 0; i < m->nservices; i++) {
		const struct mf_service *s = &m->services[i];
		struct rollout_count c = rollout_count_of(r, a, s);
		struct rollout_step step;

		rollout_plan(&c, s->deploy_min, s->deploy_max, &step);
		for (int k = 0; k < step.start; k++) {
			if (spawn_proc(r, a, a->promoting, a->promoting_gen, m, a->p_build_dir, a->p_env,
			    s, NULL, NULL, err, sizeof(err)) == -1) {
				fail_promotion(r, a, NULL, err);
				return;
			}
		}
		if (step.retire > 0)
			retire_old(r, a, s->name, step.retire, now);
		if (!rollout_ready(&c))
			ready = false;
	}
	if (ready)
		activate(r, a);
}

static void retire_replaced(struct rack *r, struct app *a, const char *service, int want,
    int64_t now);

static void
reconcile_active(struct rack *r, struct app *a)
{
	const struct manifest *m = a->manifest;
	int64_t now = now_ms();
	char err[1024];

	for (struct proc *p = a->procs, *next; p != NULL; p = next) {
		next = p->next;
		if (p->state == PROC_EXITED && proc_is_active(a, p)) {
			char why[256];

			describe_exit(p, why, sizeof(why));
			applog_system(r, a->name, "%s; replacing it", why);
			proc_free(r, a, p);
			a->restarts++;
			a->next_restart = now + (a->restarts > 5 ? 5000 : 200 * (1 << a->restarts));
			continue;
		}
		if (!proc_is_active(a, p) && !proc_is_promoting(a, p) && !p->oneoff &&
		    now >= a->drain_at)
			stop_proc(r, a, p);
		/* Running a while: crashes before this one no longer slow restarts. */
		if (proc_is_active(a, p) && p->state == PROC_RUNNING &&
		    now_unix() - p->st.started > 30)
			a->restarts = 0;
	}
	/* A promotion starts and retires on its own (reconcile_promotion). */
	if (m == NULL || now < a->next_restart || a->promoting[0] != '\0')
		return;
	for (size_t i = 0; i < m->nservices; i++) {
		const struct mf_service *s = &m->services[i];
		int want = reconcile_desired(r, a, s->name, s->scale_count);
		int have = count_procs(a, a->active_gen, s->name, false);

		for (; have < want; have++) {
			if (spawn_proc(r, a, a->active, a->active_gen, m, a->build_dir, a->release_env, s,
			    NULL, NULL, err, sizeof(err)) == -1) {
				log_warnx("app %s: %s", a->name, err);
				applog_system(r, a->name, "Cannot start a process of %s: %s", s->name, err);
				a->next_restart = now + 5000;
				break;
			}
		}
		for (struct proc *p = a->procs; p != NULL && have > want; p = p->next) {
			if (proc_is_active(a, p) && strcmp(p->st.service, s->name) == 0 &&
			    !p->replaced && p->state != PROC_STOPPING && p->state != PROC_EXITED) {
				drain_proc(r, a, p, now, "scaled down");
				have--;
			}
		}
		retire_replaced(r, a, s->name, want, now);
	}
}

/* The processes of service that cx services restart replaces stop once
 * `want` new ones serve: after a drain, so the routers take the new ones
 * first and no request finds a process gone. */
static void
retire_replaced(struct rack *r, struct app *a, const char *service, int want, int64_t now)
{
	if (count_procs(a, a->active_gen, service, true) < want)
		return;
	for (struct proc *p = a->procs; p != NULL; p = p->next) {
		if (!p->replaced || strcmp(p->st.service, service) != 0 ||
		    p->state == PROC_STOPPING || p->state == PROC_EXITED)
			continue;
		if (p->replace_at == 0) {
			p->replace_at = now + DRAIN_MS;
			rack_routes_changed(r);
		}
	}
}

int
reconcile_restart_service(struct rack *r, struct app *a, const char *service, jv *ids,
    int *status, char *err, size_t errlen)
{
	size_t n = 0;

	if (a->manifest == NULL || a->active[0] == '\0') {
		*status = 400;
		snprintf(err, errlen, "app %s has no release to restart; deploy first", a->name);
		return -1;
	}
	if (manifest_service(a->manifest, service) == NULL) {
		*status = 404;
		snprintf(err, errlen, "no such service: %s (cx services -a %s lists them)", service,
		    a->name);
		return -1;
	}
	if (a->promoting[0] != '\0') {
		*status = 409;
		snprintf(err, errlen, "app %s is promoting release %s; restart once it is done (or cx"
		    " apps cancel -a %s)", a->name, a->promoting, a->name);
		return -1;
	}
	for (struct proc *p = a->procs; p != NULL; p = p->next) {
		if (!proc_is_active(a, p) || p->oneoff || p->replaced ||
		    strcmp(p->st.service, service) != 0 ||
		    p->state == PROC_STOPPING || p->state == PROC_EXITED)
			continue;
		p->replaced = true;
		p->replace_at = 0;
		jv_push_str(ids, p->st.id);
		n++;
	}
	applog_system(r, a->name, "Restarting %s: %zu process(es) to replace", service, n);
	reconcile_app(r, a);
	return 0;
}

static void
app_unlink_free(struct rack *r, struct app *a)
{
	char dir[4096];

	for (struct app **pa = &r->apps; *pa != NULL; pa = &(*pa)->next) {
		if (*pa == a) {
			*pa = a->next;
			break;
		}
	}
	/* Its resources' servers stop (their data goes with its directory), then
	 * its ids go back while its directory still names their owner. */
	resource_app_delete(r, a->name);
	sandbox_release_ids(r, a->name, a->uid_base);
	snprintf(dir, sizeof(dir), "%s/apps/%s", r->dir, a->name);
	remove_tree(dir);
	rack_routes_changed(r);
	manifest_free(a->manifest);
	env_free(a->release_env);
	clear_promotion(a);
	free(a->restart_error);
	free(a);
}

void
reconcile_app(struct rack *r, struct app *a)
{
	/* Processes that exited while stopping are done. */
	for (struct proc *p = a->procs, *next; p != NULL; p = next) {
		next = p->next;
		if ((p->state == PROC_STOPPING && p->pidfd == -1) ||
		    (p->state == PROC_EXITED && (a->deleting ||
		    (!proc_is_active(a, p) && !proc_is_promoting(a, p)))))
			proc_free(r, a, p);
	}
	if (a->deleting) {
		for (struct proc *p = a->procs; p != NULL; p = p->next)
			stop_proc(r, a, p);
		if (a->procs == NULL)
			app_unlink_free(r, a);
		return;
	}
	if (r->kube) {
		/* Its processes run on the cluster: here only the apply's deadline. */
		if (a->promoting[0] != '\0' && now_ms() > a->p_deadline) {
			char why[160];

			snprintf(why, sizeof(why), "the apply to the cluster and its rollout did not "
			    "finish within %d s (deploy_timeout and two minutes)",
			    kdeploy_timeout_s(r) + 120);
			fail_promotion(r, a, NULL, why);
		}
		return;
	}
	if (a->promoting[0] != '\0')
		reconcile_promotion(r, a);
	reconcile_active(r, a);
	stop_drained(r, a, now_ms());
}

void
reconcile_proc_exited(struct rack *r, struct proc *p)
{
	struct app *a = p->app;

	health_cancel(r, p);
	if (p->on_exit != NULL) {
		p->on_exit(p);
		p->on_exit = NULL;
		p->on_exit_arg = NULL;
	}
	if (p->state != PROC_STOPPING) {
		char why[256];

		describe_exit(p, why, sizeof(why));
		log_info("app %s: %s", a->name, why);
		if (p->oneoff)
			applog_system(r, a->name, "%s", why);
		p->state = PROC_EXITED;
		p->exited_at = now_ms();
		rack_routes_changed(r);
	}
	reconcile_app(r, a);
}

void
reconcile_health_changed(struct rack *r, struct proc *p, enum health_event ev)
{
	struct app *a = p->app;
	char why[512];

	if (p->state == PROC_STOPPING || p->state == PROC_EXITED)
		return;     /* its checks were cancelled; a late word changes nothing */
	switch (ev) {
	case HEALTH_UP:
		p->state = PROC_RUNNING;
		break;
	case HEALTH_DOWN:
		p->state = PROC_UNHEALTHY;
		break;
	case HEALTH_MISSED:
		if (proc_is_promoting(a, p)) {
			snprintf(why, sizeof(why), "process %s did not pass its health check (GET %s)"
			    " within grace + timeout", p->st.id, p->health.path);
			fail_promotion(r, a, p, why);
		} else if (proc_is_active(a, p)) {
			applog_system(r, a->name, "Process %s did not pass its health check; replacing it",
			    p->st.id);
			stop_proc(r, a, p);
		}
		break;
	case HEALTH_REPLACE:
		applog_system(r, a->name, "Process %s failed %d health checks; replacing it",
		    p->st.id, p->health.fails);
		stop_proc(r, a, p);
		break;
	}
	rack_routes_changed(r);
	reconcile_app(r, a);
}

/* Whether releases a dead daemon left "promoting" are still to be marked
 * failed (the store could not be written when this daemon started). */
static bool interrupted_left;

/* A promotion does not survive the daemon: say so instead of "promoting"
 * forever. Tried at start and then each tick until the store takes it. */
static void
fail_interrupted(struct rack *r)
{
	static const char why[] = "the rack's daemon restarted during the promotion; promote the "
	    "release again";
	int rc = 0;

	disk_vital(r, true);
	/* Later, an app's own promotion under way is left alone. */
	if (!interrupted_left)
		rc = store_release_fail_promoting(r->store, NULL, why);
	for (struct app *a = r->apps; interrupted_left && a != NULL; a = a->next)
		if (a->promoting[0] == '\0' && store_release_fail_promoting(r->store, a->name, why) == -1)
			rc = -1;
	disk_vital(r, false);
	if (rc == 0) {
		if (interrupted_left)
			log_info("recorded the promotions the last daemon left as failed");
		interrupted_left = false;
		return;
	}
	if (!interrupted_left)
		log_warnx("cannot record the interrupted promotions as failed (tried again each "
		    "second): %s", store_error(r->store));
	interrupted_left = true;
}

int
reconcile_promote_next(struct rack *r, struct app *a, const char *id, bool *queued, char *err,
    size_t errlen)
{
	*queued = a->promoting[0] != '\0';
	if (!*queued)
		return reconcile_promote(r, a, id, err, errlen);
	if (a->queued[0] != '\0') {
		/* The newer release has its changes too: it goes in its place. */
		if (store_release_set_status(r->store, a->name, a->queued, "replaced", id) == -1)
			log_warnx("app %s: cannot record release %s as replaced: %s", a->name,
			    a->queued, store_error(r->store));
		applog_system(r, a->name, "Release %s replaces %s, which waited for the promotion "
		    "of %s", id, a->queued, a->promoting);
	}
	str_copy(a->queued, sizeof(a->queued), id);
	/* Recorded, so that a daemon started again promotes it still. */
	if (store_release_set_status(r->store, a->name, id, "queued", "") == -1)
		log_warnx("app %s: cannot record release %s as queued: %s", a->name, id,
		    store_error(r->store));
	return 0;
}

/* The release an env change queued behind a promotion the last daemon did
 * not finish: queued again (the newest such), promoted on the next tick. */
static void
requeue(struct rack *r, struct app *a)
{
	struct st_release *list;
	size_t n;

	if (store_release_list(r->store, a->name, 20, &list, &n) == -1)
		return;
	for (size_t i = 0; i < n; i++) {
		if (strcmp(list[i].status, "queued") != 0)
			continue;
		if (strcmp(list[i].id, a->active) == 0) {
			/* It is what serves: nothing waits. */
			if (store_release_set_status(r->store, a->name, list[i].id, "active", "") == -1)
				log_warnx("app %s: cannot record release %s as active: %s", a->name,
				    list[i].id, store_error(r->store));
		} else if (a->queued[0] == '\0') {
			str_copy(a->queued, sizeof(a->queued), list[i].id);
			log_info("app %s: release %s waits to be promoted again", a->name, list[i].id);
		} else if (store_release_set_status(r->store, a->name, list[i].id, "replaced",
		    a->queued) == -1) {
			log_warnx("app %s: cannot record release %s as replaced: %s", a->name,
			    list[i].id, store_error(r->store));
		}
	}
	store_release_list_free(list, n);
}

/* The release that waited for a promotion to end is promoted now. */
static void
promote_queued(struct rack *r, struct app *a)
{
	char id[sizeof(a->queued)], err[1024];

	if (a->queued[0] == '\0' || a->promoting[0] != '\0' || a->deleting)
		return;
	str_copy(id, sizeof(id), a->queued);
	a->queued[0] = '\0';
	/* The active release again (a rollback queued while a promotion failed
	 * back to it): it restarts, and its record says active, not queued. */
	if (strcmp(id, a->active) == 0 &&
	    store_release_set_status(r->store, a->name, id, "active", "") == -1)
		log_warnx("app %s: cannot record release %s as active: %s", a->name, id,
		    store_error(r->store));
	if (reconcile_promote(r, a, id, err, sizeof(err)) == -1) {
		log_warnx("app %s: release %s not promoted: %s", a->name, id, err);
		applog_system(r, a->name, "Promotion of %s failed: %s", id, err);
		if (strcmp(id, a->active) != 0 &&
		    store_release_set_status(r->store, a->name, id, "failed", err) == -1)
			log_warnx("app %s: cannot record release %s as failed: %s", a->name, id,
			    store_error(r->store));
	}
}

void
reconcile_tick(struct rack *r)
{
	if (interrupted_left)
		fail_interrupted(r);
	for (struct app *a = r->apps, *next; a != NULL; a = next) {
		next = a->next;
		promote_queued(r, a);
		reconcile_app(r, a);
	}
}

struct app *
reconcile_app_add(struct rack *r, const char *name, uint32_t uid_base)
{
	struct app *a = xcalloc(1, sizeof(*a));
	char dir[4096];

	a->rack = r;
	str_copy(a->name, sizeof(a->name), name);
	a->uid_base = uid_base;
	a->next = r->apps;
	r->apps = a;
	snprintf(dir, sizeof(dir), "%s/apps/%s", r->dir, name);
	if (mkdir_p(dir, 0700) == -1)
		log_warn("app %s: cannot create %s", name, dir);
	return a;
}

struct app *
reconcile_app_create(struct rack *r, const char *name, char *err, size_t errlen)
{
	char why[512];
	uint32_t base;

	/* Its ids first: the row then records them, or the range goes back. */
	if (sandbox_claim_ids(r, name, 0, &base, why, sizeof(why)) == -1) {
		snprintf(err, errlen, "cannot create app %s: %s", name, why);
		return NULL;
	}
	if (store_app_create(r->store, name, base) == -1) {
		snprintf(err, errlen, "cannot create app %s: %s", name, store_error(r->store));
		sandbox_release_ids(r, name, base);
		return NULL;
	}
	return reconcile_app_add(r, name, base);
}

/* An app keeps its ids across daemon restarts; one from before ids (or whose
 * range the host lost) gets one now. Without ids it starts no process. */
static uint32_t
app_ids(struct rack *r, const struct st_app *app)
{
	uint32_t base;
	char err[512];

	if (sandbox_claim_ids(r, app->name, app->uid_base, &base, err, sizeof(err)) == -1) {
		log_warnx("app %s: no ids of its own, so none of its processes can start: %s",
		    app->name, err);
		return 0;
	}
	if (base != app->uid_base && store_app_set_uid_base(r->store, app->name, base) == -1) {
		log_warnx("app %s: cannot record its ids %u: %s", app->name, base,
		    store_error(r->store));
		sandbox_release_ids(r, app->name, base);
		return 0;
	}
	if (base != app->uid_base)
		log_info("app %s: runs as uid/gid %u", app->name, base);
	return base;
}

/* A Kubernetes rack's promotion: release id's objects applied to the
 * cluster (kdeploy.h), from its build. -1 with err (nothing started). */
static int
kube_apply(struct rack *r, struct app *a, const char *id, const struct manifest *m,
    char *const *env, char *err, size_t errlen)
{
	struct st_release rel;
	char build[sizeof(rel.build)];

	if (store_release_get(r->store, a->name, id, &rel) == -1) {
		snprintf(err, errlen, "no such release: %s (cx releases -a %s lists them)", id, a->name);
		return -1;
	}
	str_copy(build, sizeof(build), rel.build);
	store_release_free(&rel);
	return kdeploy_apply(r, a, id, build, m, env, err, errlen);
}

int
reconcile_promote(struct rack *r, struct app *a, const char *id, char *err, size_t errlen)
{
	struct manifest *m;
	char dir[4096], **env;

	if (a->promoting[0] != '\0') {
		snprintf(err, errlen, "release %s of %s is being promoted; wait for it to finish",
		    a->promoting, a->name);
		return -1;
	}
	if (reconcile_load_release(r, a->name, id, &m, dir, sizeof(dir), &env, err, errlen) == -1)
		return -1;
	/* A Kubernetes rack's resources and routers are the cluster's objects. */
	if (!r->kube && resource_app_ensure(r, a->name, a->uid_base, m, err, errlen) == -1)
		goto fail;
	/* A Kubernetes rack's render checks its env (with the cluster's
	 * resource URLs) before the apply starts: kdeploy_apply. */
	for (size_t i = 0; !r->kube && i < m->nservices; i++) {
		const struct mf_service *s = &m->services[i];
		char **senv, **renv;

		if (s->internal_router && !rack_param_bool(r, "internal_router")) {
			snprintf(err, errlen, "service %s has internalRouter: true; please enable the"
			    " rack's internal router first: cx rack params set internal_router=true -r %s",
			    s->name, r->name);
			goto fail;
		}
		renv = resource_env(r, a->name, s, env);
		senv = manifest_service_env(m, s, renv, err, errlen);
		resource_env_free(renv);
		if (senv == NULL)
			goto fail;
		manifest_env_free(senv);
	}
	/* Recorded first: a promotion the store does not know of would leave
	 * the release "created" while it serves, or stuck after a restart. */
	if (strcmp(id, a->active) != 0 &&
	    store_release_set_status(r->store, a->name, id, "promoting", "") == -1) {
		disk_store_error(r, "cannot record the promotion", err, errlen);
		log_warnx("app %s: release %s not promoted: %s", a->name, id, err);
		goto fail;
	}
	if (r->kube && kube_apply(r, a, id, m, env, err, errlen) == -1) {
		if (strcmp(id, a->active) != 0 &&
		    store_release_set_status(r->store, a->name, id, "failed", err) == -1)
			log_warnx("app %s: cannot record release %s as failed: %s", a->name, id,
			    store_error(r->store));
		goto fail;
	}
	str_copy(a->promoting, sizeof(a->promoting), id);
	a->promoting_gen = ++a->gen_counter;
	/* A Kubernetes rack's promotion waits for the rollout (kdeploy.h): its
	 * bound, and two minutes for the apply itself. */
	a->p_deadline = now_ms() + (r->kube ? (int64_t)kdeploy_timeout_s(r) + 120 :
	    10 * 60) * 1000;
	a->p_manifest = m;
	a->p_env = env;
	str_copy(a->p_build_dir, sizeof(a->p_build_dir), dir);
	free(a->restart_error);
	a->restart_error = NULL;
	applog_system(r, a->name, "Promoting release %s", id);
	reconcile_app(r, a);
	return 0;
fail:
	manifest_free(m);
	env_free(env);
	return -1;
}

void
reconcile_applied(struct rack *r, const char *app, const char *release, const char *error)
{
	struct app *a = rack_app_find(r, app);

	if (a == NULL || a->deleting || strcmp(a->promoting, release) != 0)
		return;     /* cancelled, or replaced: nobody waits for this word */
	if (error != NULL) {
		char why[2200];

		snprintf(why, sizeof(why), "release %s was not applied to the cluster: %s", release,
		    error);
		fail_promotion(r, a, NULL, why);
	} else {
		activate(r, a);
	}
}

const char *
reconcile_app_status(struct rack *r, struct app *a)
{
	if (a->deleting)
		return "deleting";
	if (a->promoting[0] != '\0')
		return "updating";
	if (a->active[0] == '\0')
		return "idle";
	if (r->kube)
		return "running";   /* as far as the rack knows: the cluster runs it */
	for (size_t i = 0; a->manifest != NULL && i < a->manifest->nservices; i++) {
		const struct mf_service *s = &a->manifest->services[i];

		if (count_procs(a, a->active_gen, s->name, true) !=
		    reconcile_desired(r, a, s->name, s->scale_count))
			return "updating";
	}
	for (struct proc *p = a->procs; p != NULL; p = p->next) {
		if (!proc_is_active(a, p) && !p->oneoff)
			return "updating";
	}
	return "running";
}

void
reconcile_app_delete(struct rack *r, struct app *a)
{
	kdeploy_cancel(r, a->name);
	a->deleting = true;
	clear_promotion(a);
	rack_routes_changed(r);
	reconcile_app(r, a);
}

static bool
proc_known(struct rack *r, const char *id)
{
	for (struct app *a = r->apps; a != NULL; a = a->next) {
		for (struct proc *p = a->procs; p != NULL; p = p->next) {
			if (strcmp(p->st.id, id) == 0)
				return true;
		}
	}
	return false;
}

/* The process id that pid's environment names with the rack's mark (want:
 * "CX_RACK_PROCESS=MARK/") into id; false when it bears no such mark. */
static bool
proc_marked(pid_t pid, const char *want, char *id, size_t idlen)
{
	char path[64], *data;
	size_t len, wl = strlen(want);
	bool found = false;

	snprintf(path, sizeof(path), "/proc/%d/environ", (int)pid);
	if ((data = read_file(path, 1 << 20, &len)) == NULL)
		return false;
	for (size_t off = 0; off < len && !found; off += strlen(data + off) + 1) {
		if (strncmp(data + off, want, wl) == 0)
			found = str_copy(id, idlen, data + off + wl) == 0 && id[0] != '\0';
	}
	free(data);
	return found;
}

/* Stops every process on the host that bears the rack's mark (see
 * process_env) and that the rack does not hold (all: every one, recorded or
 * not): what a daemon started and lost the record of. Through a pidfd, so a
 * pid reused since its environment was read is not signalled. */
static void
sweep_marked(struct rack *r, bool all)
{
	char mark[32], want[64], id[64];
	struct dirent *e;
	DIR *d;
	int n = 0;

	reconcile_mark(r, mark, sizeof(mark));
	snprintf(want, sizeof(want), RECONCILE_MARK_VAR "=%s/", mark);
	if ((d = opendir("/proc")) == NULL) {
		log_warn("cannot look for the rack's unrecorded processes: /proc");
		return;
	}
	while ((e = readdir(d)) != NULL) {
		long pid;
		int fd;

		if (parse_long(e->d_name, 2, INT32_MAX, &pid) == -1 || (pid_t)pid == getpid())
			continue;
		if ((fd = (int)syscall(SYS_pidfd_open, (pid_t)pid, 0)) == -1)
			continue;
		if (proc_marked((pid_t)pid, want, id, sizeof(id)) && (all || !proc_known(r, id))) {
			/* It leads its session (and group) if it is the process the
			 * rack started: all it started goes with it. */
			if (getpgid((pid_t)pid) == (pid_t)pid &&
			    syscall(SYS_pidfd_send_signal, fd, 0, NULL, 0) == 0)
				kill(-(pid_t)pid, SIGKILL);
			if (syscall(SYS_pidfd_send_signal, fd, SIGKILL, NULL, 0) == 0) {
				log_warnx("process %s (pid %ld) of this rack had no record: stopped it",
				    id, pid);
				n++;
			}
		}
		close(fd);
	}
	closedir(d);
	if (n > 0)
		log_info("stopped %d process%s that the rack had no record of", n, n == 1 ? "" : "es");
}

void
reconcile_stop_all(struct rack *r, int grace_ms)
{
	int64_t until = now_ms() + grace_ms;
	bool alive = true;

	for (struct app *a = r->apps; a != NULL; a = a->next) {
		for (struct proc *p = a->procs; p != NULL; p = p->next) {
			health_cancel(r, p);
			/* Contained: cx-init passes it on to its whole namespace. */
			if (p->pidfd != -1 && (p->contained || kill(-p->st.pid, SIGTERM) == -1))
				kill(p->st.pid, SIGTERM);
		}
	}
	while (alive && now_ms() < until) {
		alive = false;
		for (struct app *a = r->apps; a != NULL; a = a->next) {
			for (struct proc *p = a->procs; p != NULL; p = p->next) {
				if (p->our_child)
					waitpid(p->st.pid, NULL, WNOHANG);
				if (pid_alive(p->st.pid))
					alive = true;
			}
		}
		if (alive)
			usleep(20000);
	}
	for (struct app *a = r->apps; a != NULL; a = a->next) {
		for (struct proc *p = a->procs; p != NULL; p = p->next) {
			if (p->pidfd == -1 && p->our_child)
				continue;               /* reaped already: its pid may be another's */
			kill(-p->st.pid, SIGKILL);   /* the leader and all it started */
			if (pid_alive(p->st.pid))
				kill(p->st.pid, SIGKILL);
			if (p->our_child)
				waitpid(p->st.pid, NULL, 0);
			if (r->netns)
				lab_proc_destroy(r->home, r->name, p->st.id);
		}
	}
	for (size_t i = 0; i < r->nkills; i++)
		kill(-r->kills[i].pgid, SIGKILL);
	r->nkills = 0;
	sweep_marked(r, true);      /* the rack goes: recorded or not, all it started goes */
}

static void
adopt_procs(struct rack *r)
{
	struct st_proc *ps;
	size_t n;

	if (store_proc_list(r->store, &ps, &n) == -1)
		return;
	for (size_t i = 0; i < n; i++) {
		struct app *a = rack_app_find(r, ps[i].app);
		const struct mf_service *s = NULL;
		struct proc *p;

		if (a == NULL) {
			/* Its app was deleted while the daemon was down: no grace is owed.
			 * (pid 0: a start recorded but never forked.) */
			if (ps[i].pid > 0 && sup_pid_starttime(ps[i].pid) == ps[i].pid_start)
				kill(-ps[i].pid, SIGKILL);
			if (r->netns)
				lab_proc_destroy(r->home, r->name, ps[i].id);
			if (store_proc_delete(r->store, ps[i].id) == -1)
				log_warnx("process %s: cannot remove its record: %s", ps[i].id,
				    store_error(r->store));
			continue;
		}
		p = proc_new(a);
		p->st = ps[i];
		p->st.command = xstrdup(ps[i].command);
		if (r->sup->adopt(r, p) == -1) {
			log_info("process %s (pid %d) is gone", p->st.id, (int)p->st.pid);
			proc_free(r, a, p);
			continue;
		}
		if (strcmp(ps[i].release, a->active) == 0 && a->manifest != NULL)
			s = manifest_service(a->manifest, ps[i].service);
		if (ps[i].oneoff[0] != '\0') {
			/* A timer's run: let it finish, unrouted and uncounted. A `cx
			 * run`'s lost its caller with the old daemon (no answer can reach
			 * it, and nothing would stop it when the caller goes): stop it. */
			p->gen = 0;
			p->oneoff = true;
			p->state = PROC_RUNNING;
			if (strcmp(ps[i].oneoff, "run") == 0) {
				log_info("process %s: its cx run lost its answer with the last daemon; "
				    "stopping it", p->st.id);
				stop_proc(r, a, p);
			}
			continue;
		}
		if (ps[i].stopping) {
			/* It was in its grace: let it finish, counted from now. */
			p->gen = 0;
			p->state = PROC_STOPPING;
			p->kill_at = now_ms() + (int64_t)(s != NULL ? s->termination_grace : 30) * 1000;
			continue;
		}
		if (s == NULL || ps[i].promoting) {
			/* Of another release, or of a promotion (a restart) the daemon's
			 * exit cut short: stop it. */
			p->gen = 0;
			p->state = PROC_RUNNING;
			stop_proc(r, a, p);
			continue;
		}
		p->gen = a->active_gen;
		/* It was serving when the last daemon left: keep it routed while it
		 * passes its checks (two failures take it out, as for any process). */
		p->state = PROC_RUNNING;
		log_info("adopted process %s (pid %d)", p->st.id, (int)p->st.pid);
		health_start(r, p, s, true);
	}
	store_proc_list_free(ps, n);
}

/* Removes what a daemon that stopped mid-way left on disk: uploads, builds
 * never recorded, the directories of apps deleted while it was down. */
/* The private layers of app's processes from images that are gone (the
 * daemon was down when they ended). After adopt_procs. */
static void
sweep_procs(struct rack *r, const char *app)
{
	struct app *a;
	char dir[4096], path[4096];
	struct dirent *e;
	DIR *d;

	for (a = r->apps; a != NULL && strcmp(a->name, app) != 0; a = a->next)
		;
	snprintf(dir, sizeof(dir), "%s/apps/%s/procs", r->dir, app);
	if (a == NULL || (d = opendir(dir)) == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		struct proc *p;

		if (e->d_name[0] == '.')
			continue;
		for (p = a->procs; p != NULL && strcmp(p->st.id, e->d_name) != 0; p = p->next)
			;
		if (p != NULL)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		log_info("removing %s: its process is gone", path);
		remove_tree(path);
	}
	closedir(d);
}

static void
sweep_disk(struct rack *r)
{
	char path[4096];
	DIR *d;
	struct dirent *de;

	snprintf(path, sizeof(path), "%s/tmp", r->dir);
	remove_tree(path);
	mkdir_p(path, 0700);
	snprintf(path, sizeof(path), "%s/apps", r->dir);
	if ((d = opendir(path)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		struct st_app app;
		char sub[4096];
		DIR *bd;
		struct dirent *be;

		if (de->d_name[0] == '.')
			continue;
		snprintf(sub, sizeof(sub), "%s/apps/%s", r->dir, de->d_name);
		if (store_app_get(r->store, de->d_name, &app) == -1) {
			log_info("removing %s: its app no longer exists", sub);
			remove_tree(sub);
			continue;
		}
		sweep_procs(r, de->d_name);
		snprintf(sub, sizeof(sub), "%s/apps/%s/builds", r->dir, de->d_name);
		if ((bd = opendir(sub)) == NULL)
			continue;
		while ((be = readdir(bd)) != NULL) {
			struct st_build b;
			char bdir[4096];

			if (be->d_name[0] == '.')
				continue;
			if (store_build_get(r->store, de->d_name, be->d_name, &b) == 0) {
				store_build_free(&b);
				continue;
			}
			snprintf(bdir, sizeof(bdir), "%s/%s", sub, be->d_name);
			log_info("removing %s: a build that was never recorded", bdir);
			remove_tree(bdir);
		}
		closedir(bd);
	}
	closedir(d);
}

void
reconcile_init(struct rack *r)
{
	struct st_app *apps;
	size_t n;

	if (store_app_list(r->store, &apps, &n) == 0) {
		for (size_t i = 0; i < n; i++) {
			struct app *a = reconcile_app_add(r, apps[i].name, app_ids(r, &apps[i]));
			char err[512];

			if (apps[i].release[0] == '\0')
				continue;
			if (reconcile_load_release(r, a->name, apps[i].release, &a->manifest,
			    a->build_dir, sizeof(a->build_dir), &a->release_env, err, sizeof(err)) == -1) {
				log_warnx("app %s: cannot load release %s: %s", a->name, apps[i].release, err);
				continue;
			}
			str_copy(a->active, sizeof(a->active), apps[i].release);
			a->active_gen = ++a->gen_counter;
		}
		free(apps);
	}
	fail_interrupted(r);
	for (struct app *a = r->apps; a != NULL; a = a->next)
		requeue(r, a);
	adopt_procs(r);
	/* The groups of processes that ended while no daemon watched. */
	cgroup_sweep(r, proc_known);
	sweep_marked(r, false);
	rack_routes_changed(r);
	sweep_disk(r);
}
