/*
 * api_apps.c — apps and what belongs to them: builds, releases, services,
 * processes, environment, scale, logs (docs/api.md).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/log.h"
#include "rackd/kdeploy.h"
#include "rackd/api.h"
#include "rackd/applog.h"
#include "rackd/appexport.h"
#include "rackd/build.h"
#include "rackd/disk.h"
#include "rackd/dockerfile.h"
#include "rackd/manifest.h"
#include "rackd/prune.h"
#include "rackd/rack.h"
#include "rackd/supervisor.h"
#include "rackd/reconcile.h"
#include "rackd/sandbox.h"

/* The app named in the path, or NULL after a 404. */
struct app *
api_find_app(struct rack *r, struct api_req *q, struct api_resp *s)
{
	struct app *a = rack_app_find(r, q->args[0]);

	if (a == NULL)
		api_error(s, 404, "no such app: %s (cx apps lists them; cx apps create %s makes it)",
		    q->args[0], q->args[0]);
	return a;
}

static jv *
app_json(struct rack *r, struct app *a)
{
	struct st_release rel;
	const char *status = reconcile_app_status(r, a);
	jv *j;

	/* An app whose first release failed (so nothing serves) says "failed";
	 * a failed release while an older one serves leaves it "running". */
	if (strcmp(status, "idle") == 0) {
		struct st_release *list;
		size_t n;

		if (store_release_list(r->store, a->name, 1, &list, &n) == 0) {
			if (n == 1 && strcmp(list[0].status, "failed") == 0)
				status = "failed";
			store_release_list_free(list, n);
		}
	}
	(void)rel;
	j = jv_object_new();
	jv_set_str(j, "name", a->name);
	jv_set_str(j, "status", status);
	jv_set_str(j, "release", a->active);
	jv_set_str(j, "promoting", a->promoting);
	jv_set_str(j, "error", a->restart_error);
	return j;
}

void
api_apps_list(struct rack *r, struct api_req *q, struct api_resp *s)
{
	jv *arr = jv_array_new();
	struct st_app *apps;
	size_t n;

	(void)q;
	if (store_app_list(r->store, &apps, &n) == 0) {
		for (size_t i = 0; i < n; i++) {
			struct app *a = rack_app_find(r, apps[i].name);

			if (a != NULL)
				jv_push_take(arr, app_json(r, a));
		}
		free(apps);
	}
	s->json = arr;
}

static void
app_create(struct rack *r, const char *name, struct api_resp *s)
{
	char err[768];
	struct app *a = reconcile_app_create(r, name, err, sizeof(err));

	if (a == NULL) {
		api_error(s, 500, "%s", err);
		return;
	}
	s->status = 201;
	s->json = app_json(r, a);
}

/* 0 when name may be given to a new app; -1 after a 400 or 409. */
static int
check_new_app(struct rack *r, const char *name, struct api_resp *s)
{
	if (!valid_name(name)) {
		api_error(s, 400, "invalid app name \"%s\": use 1-30 of a-z, 0-9 and -, starting with a"
		    " letter", name);
		return -1;
	}
	if (rack_app_find(r, name) != NULL) {
		api_error(s, 409, "app %s already exists", name);
		return -1;
	}
	for (struct app *a = r->apps; a != NULL; a = a->next) {
		if (strcmp(a->name, name) == 0) {
			api_error(s, 409, "app %s is still being deleted; try again in a moment", name);
			return -1;
		}
	}
	if (appexport_importing(name)) {
		api_error(s, 409, "app %s is being imported", name);
		return -1;
	}
	return 0;
}

void
api_apps_create(struct rack *r, struct api_req *q, struct api_resp *s)
{
	jv *body = api_json_body(q, s);
	const char *name;

	if (body == NULL)
		return;
	name = jv_str_or(body, "name", "");
	if (check_new_app(r, name, s) == 0)
		app_create(r, name, s);
	jv_free(body);
}

/* GET /apps/APP/export: the app as one archive (appexport.h). */
void
api_app_export(struct rack *r, struct api_req *q, struct api_resp *s)
{
	struct app *a = api_find_app(r, q, s);

	if (a != NULL)
		appexport_export(r, a, q, s);
}

/* POST /apps/APP/import: an export made into app APP, which must not exist. */
void
api_app_import(struct rack *r, struct api_req *q, struct api_resp *s)
{
	if (check_new_app(r, q->args[0], s) == 0)
		appexport_import(r, q->args[0], q, s);
}

void
api_app_get(struct rack *r, struct api_req *q, struct api_resp *s)
{
	struct app *a = api_find_app(r, q, s);

	if (a != NULL)
		s->json = app_json(r, a);
}

/* POST /apps/APP/cancel: the deployment under way stops; the active
 * release serves on. */
void
api_app_cancel(struct rack *r, struct api_req *q, struct api_resp *s)
{
	struct app *a = api_find_app(r, q, s);
	char err[256], id[sizeof(a->promoting)];

	if (a == NULL)
		return;
	str_copy(id, sizeof(id), a->promoting);
	if (reconcile_cancel(r, a, err, sizeof(err)) == -1) {
		api_error(s, 409, "%s", err);
		return;
	}
	s->json = jv_object_new();
	jv_set_str(s->json, "cancelled", id);
}

/* Deletes app a from the rack: its images, its row, its builds, its
 * processes. 0, or -1 with err (the store refused). */
static int
app_delete_here(struct rack *r, struct app *a, char *err, size_t errlen)
{
	build_remove_images(r, a);     /* what its builds made, once its processes go */
	disk_vital(r, true);
	if (store_app_delete(r->store, a->name) == -1) {
		disk_store_error(r, "cannot delete the app", err, errlen);
		disk_vital(r, false);
		return -1;
	}
	log_info("deleting app %s", a->name);
	build_cancel(r, a->name);
	reconcile_app_delete(r, a);
	disk_vital(r, false);
	return 0;
}

/* A Kubernetes rack's app: its Namespace is gone from the cluster (or is
 * going), so the app goes here too; or the cluster said why not, and the
 * app stays, to be deleted again. */
static void
kube_app_deleted(struct rack *r, const char *app, struct api_pending *p, const char *error)
{
	struct app *a = rack_app_find(r, app);
	char err[4600];

	if (error != NULL) {
		snprintf(err, sizeof(err), "cannot delete app %s's Namespace %s-%s on the cluster: "
		    "%s; the app stays (cx apps delete %s again once the cluster answers)", app,
		    r->name, app, error, app);
		api_finish_error(p, 502, err);
	} else if (a != NULL && !a->deleting && app_delete_here(r, a, err, sizeof(err)) == -1) {
		api_finish_error(p, 500, err);
	} else {
		api_finish(p, 200, NULL);
	}
}

void
api_app_delete(struct rack *r, struct api_req *q, struct api_resp *s)
{
	struct app *a = api_find_app(r, q, s);
	char err[4600];

	if (a == NULL)
		return;
	if (r->kube) {
		struct api_pending *p;

		/* An apply under way would race the Namespace's deletion. */
		if (a->promoting[0] != '\0')
			reconcile_cancel(r, a, err, sizeof(err));
		p = api_defer(q, s);
		if (kdeploy_delete_app(r, a->name, p, kube_app_deleted, err, sizeof(err)) == -1)
			api_finish_error(p, 500, err);
		return;
	}
	if (app_delete_here(r, a, err, sizeof(err)) == -1)
		api_error(s, 500, "%s", err);
}

void
api_builds_create(struct rack *r, struct api_req *q, struct api_resp *s)
{
	struct app *a = api_find_app(r, q, s);

	if (a != NULL)
		build_start(r, a, q, s);
}

void
api_builds_prune(struct rack *r, struct api_req *q, struct api_resp *s)
{
	struct app *a = api_find_app(r, q, s);
	char err[4600];
	jv *done;
	int rc;

	if (a == NULL)
		return;
	done = jv_array_new();
	disk_vital(r, true);
	rc = prune_builds(r, a, done, err, sizeof(err));
	disk_vital(r, false);
	if (rc == -1) {
		jv_free(done);
		api_error(s, 500, "%s", err);
		return;
	}
	s->json = jv_object_new();
	jv_set_take(s->json, "removed", done);
	jv_set_int(s->json, "keep", prune_keep(r));
}

/* A row of GET /apps/APP/builds. */
static jv *
build_row(const char *id, const char *status, const char *release, int64_t created,
    int64_t started, int64_t elapsed_ms, const char *desc)
{
	jv *b = jv_object_new();

	jv_set_str(b, "id", id);
	jv_set_str(b, "status", status);
	jv_set_str(b, "release", release);
	jv_set_int(b, "created", created);
	jv_set_str(b, "description", desc);
	jv_set_int(b, "started", started);
	jv_set_int(b, "elapsed_ms", elapsed_ms);
	return b;
}

void
api_builds_list(struct rack *r, struct api_req *q, struct api_resp *s)
{
	struct app *a = api_find_app(r, q, s);
	struct st_build *failed = NULL;
	struct st_release *list;
	size_t n, nfailed = 0, f = 0;
	jv *arr;

	if (a == NULL)
		return;
	arr = jv_array_new();
	{
		struct build_running run[16];
		size_t nrun = build_list_running(r, a->name, run, CX_ARRAY_LEN(run));

		for (size_t i = 0; i < nrun; i++)
			jv_push_take(arr, build_row(run[i].id, "running", "", run[i].started,
			    run[i].started, (now_unix() - run[i].started) * 1000, run[i].description));
	}
	/* Failed builds made no release: they come in by when they started. */
	store_build_failed_list(r->store, a->name, &failed, &nfailed);
	if (store_release_list(r->store, a->name, 0, &list, &n) == 0) {
		/* Newest first, as the releases come; a build appears once, with the
		 * first release made from it (no older one has its build). */
		for (size_t i = 0; i < n; i++) {
			bool older = false;
			struct st_build bd;
			int64_t started = list[i].created, elapsed = 0;

			for (size_t k = i + 1; k < n && !older; k++)
				older = strcmp(list[k].build, list[i].build) == 0;
			if (list[i].build[0] == '\0' || older)
				continue;
			if (store_build_get(r->store, a->name, list[i].build, &bd) == 0) {
				started = bd.created;
				elapsed = bd.elapsed_ms;
				store_build_free(&bd);
			}
			for (; f < nfailed && failed[f].created >= started; f++)
				jv_push_take(arr, build_row(failed[f].id, "failed", "", failed[f].created,
				    failed[f].created, failed[f].elapsed_ms, ""));
			jv_push_take(arr, build_row(list[i].build, "complete", list[i].id,
			    list[i].created, started, elapsed, list[i].description));
		}
		store_release_list_free(list, n);
	}
	for (; f < nfailed; f++)
		jv_push_take(arr, build_row(failed[f].id, "failed", "", failed[f].created,
		    failed[f].created, failed[f].elapsed_ms, ""));
	for (size_t i = 0; i < nfailed; i++)
		store_build_free(&failed[i]);
	free(failed);
	s->json = arr;
}

static jv *
release_json(const struct st_release *rel)
{
	jv *j = jv_object_new();

	jv_set_str(j, "id", rel->id);
	jv_set_str(j, "build", rel->build);
	jv_set_str(j, "status", rel->status);
	jv_set_int(j, "created", rel->created);
	jv_set_str(j, "description", rel->description);
	jv_set_str(j, "error", rel->error);
	return j;
}

/* The answer to a promotion (or a restart, which is one). */
static jv *
promoting_json(const char *id)
{
	jv *j = jv_object_new();

	jv_set_str(j, "id", id);
	jv_set_str(j, "status", "promoting");
	return j;
}

void
api_releases_list(struct rack *r, struct api_req *q, struct api_resp *s)
{
	struct app *a = api_find_app(r, q, s);
	struct st_release *list;
	size_t n;
	jv *arr;

	if (a == NULL)
		return;
	arr = jv_array_new();
	if (store_release_list(r->store, a->name, 50, &list, &n) == 0) {
		for (size_t i = 0; i < n; i++)
			jv_push_take(arr, release_json(&list[i]));
		store_release_list_free(list, n);
	}
	s->json = arr;
}

void
api_release_get(struct rack *r, struct api_req *q, struct api_resp *s)
{
	struct app *a = api_find_app(r, q, s);
	struct st_release rel;

	if (a == NULL || api_find_release(r, a, q->args[1], s, &rel) == -1)
		return;
	s->json = release_json(&rel);
	store_release_free(&rel);
}

/* POST .../promote?discard=1: the release was made for this promotion
 * alone (cx deploy, cx releases rollback). Refused because another
 * promotion runs, it is removed, never promoted: no later env change can
 * fork it and ship its build. */
void
api_release_promote(struct rack *r, struct api_req *q, struct api_resp *s)
{
	struct app *a = api_find_app(r, q, s);
	char err[1024], discard[8] = "";

	if (a == NULL)
		return;
	if (a->promoting[0] != '\0' && strcmp(a->promoting, q->args[1]) != 0 &&
	    api_query(q, "discard", discard, sizeof(discard)) == 0 && strcmp(discard, "1") == 0) {
		int rc = store_release_discard(r->store, a->name, q->args[1]);

		if (rc == -1)
			log_warnx("app %s: cannot discard release %s: %s", a->name, q->args[1],
			    store_error(r->store));
		else if (rc == 0)
			applog_system(r, a->name, "Discarded release %s: release %s was being promoted",
			    q->args[1], a->promoting);
		api_error(s, 409, "release %s of %s is being promoted; wait for it to finish and try"
		    " again%s%s%s", a->promoting, a->name, rc == 0 ? " (release " : "",
		    rc == 0 ? q->args[1] : "", rc == 0 ? ", made for this promotion, is discarded)" : "");
		return;
	}
	if (reconcile_promote(r, a, q->args[1], err, sizeof(err)) == -1) {
		api_error(s, strncmp(err, "no such release", 15) == 0 ? 404 : 400, "%s", err);
		return;
	}
	s->status = 202;
	s->json = promoting_json(q->args[1]);
}

/* A new release from an old one's build with the given env; id written to out. */
static int
new_release(struct rack *r, struct app *a, const char *build, const char *env, const char *desc,
    char *out, size_t outlen)
{
	struct st_release rel = { 0 };

	store_new_id(rel.id, sizeof(rel.id), "R", true);
	str_copy(rel.app, sizeof(rel.app), a->name);
	str_copy(rel.build, sizeof(rel.build), build);
	rel.env = (char *)env;
	str_copy(rel.status, sizeof(rel.status), "created");
	rel.description = (char *)desc;
	rel.error = "";
	rel.created = now_unix();
	if (store_release_add(r->store, &rel) == -1)
		return -1;
	str_copy(out, outlen, rel.id);
	return 0;
}

void
api_release_rollback(struct rack *r, struct api_req *q, struct api_resp *s)
{
	struct app *a = api_find_app(r, q, s);
	struct st_release old;
	char id[16], desc[128];

	if (a == NULL)
		return;
	if (store_release_get(r->store, a->name, q->args[1], &old) == -1) {
		api_error(s, 404, "no such release: %s (cx releases -a %s lists them)", q->args[1],
		    a->name);
		return;
	}
	snprintf(desc, sizeof(desc), "rollback to %s", old.id);
	if (new_release(r, a, old.build, old.env, desc, id, sizeof(id)) == -1) {
		char err[4600];

		disk_store_error(r, "cannot record the release", err, sizeof(err));
		api_error(s, 500, "%s", err);
	} else {
		s->status = 201;
		s->json = jv_object_new();
		jv_set_str(s->json, "id", id);
	}
	store_release_free(&old);
}

void
api_services_list(struct rack *r, struct api_req *q, struct api_resp *s)
{
	struct app *a = api_find_app(r, q, s);
	const struct manifest *m;
	jv *arr;

	if (a == NULL)
		return;
	arr = jv_array_new();
	m = a->manifest;
	for (size_t i = 0; m != NULL && i < m->nservices; i++) {
		const struct mf_service *sv = &m->services[i];
		char host[512], ports[64] = "", url[600] = "", port[16], tls_port[16] = "";
		char https_url[600] = "";
		const char *router = "public";
		bool internal_router = sv->internal_router;
		jv *j;

		if (sv->port == 0) {
			router = "none";
			host[0] = '\0';
		} else if (sv->internal) {
			router = "none";
			/* On a cluster: its Service's name in the cluster's DNS. */
			if (r->kube)
				snprintf(host, sizeof(host), "%s.%s-%s.svc.cluster.local", sv->name,
				    r->name, a->name);
			else
				snprintf(host, sizeof(host), "%s.%s.%s.local", sv->name, a->name,
				    r->name);
			snprintf(ports, sizeof(ports), "%d", sv->port);
		} else {
			router = internal_router ? "internal" : "public";
			rack_service_host(r, a->name, sv->name, internal_router, host, sizeof(host));
			/* Host racks serve both routers' services on :443 (their :80
			 * redirects there, or serves plain http too with tls.redirect
			 * false), as Convox's 443:PORT says. */
			if (r->host)
				str_copy(port, sizeof(port), "443");
			else if (r->vpc || r->kube)     /* kube: the cluster's ingress, not ours */
				str_copy(port, sizeof(port), "80");
			else
				rack_param(r, internal_router ? "router_internal_port" : "router_port", port,
				    sizeof(port));
			snprintf(ports, sizeof(ports), "%s:%d", port, sv->port);
			if (strcmp(port, "443") == 0 && r->host)
				snprintf(url, sizeof(url), "https://%s", host);
			else if (strcmp(port, "80") == 0)
				snprintf(url, sizeof(url), "http://%s", host);
			else
				snprintf(url, sizeof(url), "http://%s:%s", host, port);
			if (!r->vpc && !r->host && !r->kube)
				rack_param(r, internal_router ? "router_internal_tls_port" :
				    "router_tls_port", tls_port, sizeof(tls_port));
			if (tls_port[0] != '\0')
				snprintf(https_url, sizeof(https_url), "https://%s:%s", host, tls_port);
		}
		j = jv_object_new();
		jv_set_str(j, "name", sv->name);
		jv_set_str(j, "domain", host);
		jv_set_str(j, "ports", ports);
		jv_set_str(j, "router", router);
		jv_set_str(j, "url", url);
		if (https_url[0] != '\0')
			jv_set_str(j, "https_url", https_url);
		jv_set_int(j, "count", reconcile_desired(r, a, sv->name, sv->scale_count));
		jv_set_int(j, "cpu", sv->scale_cpu);
		jv_set_int(j, "memory", sv->scale_memory);
		jv_push_take(arr, j);
	}
	s->json = arr;
}

static const char *
state_name(enum proc_state st)
{
	switch (st) {
	case PROC_STARTING: return "starting";
	case PROC_RUNNING: return "running";
	case PROC_UNHEALTHY: return "unhealthy";
	case PROC_STOPPING: return "stopping";
	case PROC_EXITED: return "crashed";
	}
	return "unknown";
}

void
api_processes_list(struct rack *r, struct api_req *q, struct api_resp *s)
{
	struct app *a = api_find_app(r, q, s);
	jv *arr;

	if (a == NULL)
		return;
	arr = jv_array_new();
	for (struct proc *p = a->procs; p != NULL; p = p->next) {
		jv *j = jv_object_new();

		jv_set_str(j, "id", p->st.id);
		jv_set_str(j, "service", p->st.service);
		/* A replaced release's process drains, then stops: say so already. */
		jv_set_str(j, "status", ((!proc_is_active(a, p) && !proc_is_promoting(a, p) &&
		    !p->oneoff) || proc_draining(p)) && p->state != PROC_EXITED ? "stopping" :
		    state_name(p->state));
		jv_set_str(j, "release", p->st.release);
		jv_set_int(j, "started", p->st.started);
		jv_set_str(j, "command", p->st.command);
		/* The app's own process, not the cx-init in front of it. */
		jv_set_int(j, "pid", sup_app_pid(p));
		jv_set_int(j, "port", p->st.port);
		jv_set_str(j, "address", p->st.address);
		jv_push_take(arr, j);
	}
	s->json = arr;
}

int
api_find_release(struct rack *r, struct app *a, const char *id, struct api_resp *s,
    struct st_release *out)
{
	if (store_release_get(r->store, a->name, id, out) == 0)
		return 0;
	api_error(s, 404, "no such release: %s (cx releases -a %s lists them)", id, a->name);
	return -1;
}

/* DELETE /apps/APP/processes/ID: as Convox's `ps stop`, the process stops
 * (with its service's grace); a service's process is then replaced, as any
 * process that ends is, since the service still wants its count. */
void
api_process_stop(struct rack *r, struct api_req *q, struct api_resp *s)
{
	struct app *a = api_find_app(r, q, s);
	struct proc *p;

	if (a == NULL)
		return;
	for (p = a->procs; p != NULL; p = p->next)
		if (strcmp(p->st.id, q->args[1]) == 0)
			break;
	if (p == NULL || p->state == PROC_EXITED) {
		api_error(s, 404, "no such process: %s (cx ps -a %s lists them)", q->args[1], a->name);
		return;
	}
	log_info("app %s: process %s stopped by request", a->name, p->st.id);
	reconcile_stop_proc(r, p);
	s->json = jv_object_new();
}

/* The app's newest environment as an object of strings, owned. */
static jv *
latest_env(struct rack *r, const char *app)
{
	char *env = rack_latest_env(r, app), *save = NULL;
	jv *obj = jv_object_new();

	for (char *l = strtok_r(env, "\n", &save); l != NULL; l = strtok_r(NULL, "\n", &save)) {
		char *eq = strchr(l, '=');

		if (eq == NULL)
			continue;
		*eq = '\0';
		jv_set_str(obj, l, eq + 1);
	}
	free(env);
	return obj;
}

void
api_env_get(struct rack *r, struct api_req *q, struct api_resp *s)
{
	struct app *a = api_find_app(r, q, s);

	if (a == NULL)
		return;
	s->json = jv_object_new();
	jv_set_take(s->json, "env", latest_env(r, a->name));
}

static int
cmp_str(const void *x, const void *y)
{
	return strcmp(*(char *const *)x, *(char *const *)y);
}

static bool
valid_env_key(const char *k)
{
	if (k[0] == '\0' || (k[0] >= '0' && k[0] <= '9'))
		return false;
	for (const char *p = k; *p != '\0'; p++) {
		if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		    (*p >= '0' && *p <= '9') || *p == '_'))
			return false;
	}
	return true;
}

void
api_env_set(struct rack *r, struct api_req *q, struct api_resp *s)
{
	struct app *a = api_find_app(r, q, s);
	jv *body, *set, *unset, *env, *replace;
	const char **keys = NULL;
	size_t nkeys, n = 0;
	char **lines, id[16] = "", build[16] = "", err[4600];
	bool promote, queued = false;
	struct buf out;
	struct st_release *list;
	size_t nl;

	if (a == NULL || (body = api_json_body(q, s)) == NULL)
		return;
	set = jv_get(body, "set");
	unset = jv_get(body, "unset");
	if ((set != NULL && !jv_is_object(set)) || (unset != NULL && !jv_is_array(unset))) {
		api_error(s, 400, "give {\"set\": {\"KEY\": \"value\"}, \"unset\": [\"KEY\"]}");
		jv_free(body);
		return;
	}
	for (size_t i = 0; i < jv_len(unset); i++) {
		if (!jv_is_string(jv_at(unset, i))) {
			api_error(s, 400, "unset takes variable names as strings");
			jv_free(body);
			return;
		}
	}
	replace = jv_get(body, "replace");
	if ((replace != NULL && !jv_is_bool(replace)) ||
	    (jv_get(body, "promote") != NULL && !jv_is_bool(jv_get(body, "promote")))) {
		api_error(s, 400, "%s takes true or false", replace != NULL && !jv_is_bool(replace) ?
		    "replace" : "promote");
		jv_free(body);
		return;
	}
	promote = jv_bool(body, "promote");
	/* replace: the variables given are the whole environment. */
	env = jv_bool(body, "replace") ? jv_object_new() : latest_env(r, a->name);
	keys = jv_keys(set, &nkeys);
	for (size_t i = 0; i < nkeys; i++) {
		const char *k = keys[i];
		const char *val = jv_str_or(set, k, NULL);

		if (!valid_env_key(k)) {
			api_error(s, 400, "invalid variable name %s: use letters, digits and _, not"
			    " starting with a digit", k);
			goto out;
		}
		if (val == NULL || strchr(val, '\n') != NULL) {
			api_error(s, 400, "value of %s must be a string of one line", k);
			goto out;
		}
		jv_set_str(env, k, val);
	}
	for (size_t i = 0; i < jv_len(unset); i++)
		jv_del(env, jv_string_value(jv_at(unset, i)));
	free(keys);
	keys = jv_keys(env, &nkeys);
	lines = xcalloc(nkeys + 1, sizeof(*lines));
	for (size_t i = 0; i < nkeys; i++)
		lines[n++] = xasprintf("%s=%s", keys[i], jv_str_or(env, keys[i], ""));
	qsort(lines, n, sizeof(*lines), cmp_str);
	buf_init(&out, 0);
	for (size_t i = 0; i < n; i++) {
		buf_addf(&out, "%s\n", lines[i]);
		free(lines[i]);
	}
	free(lines);
	if (store_release_list(r->store, a->name, 1, &list, &nl) == 0) {
		if (nl == 1)
			str_copy(build, sizeof(build), list[0].build);
		store_release_list_free(list, nl);
	}
	if (new_release(r, a, build, buf_cstr(&out), "env change", id, sizeof(id)) == -1) {
		disk_store_error(r, "cannot record the release", err, sizeof(err));
		api_error(s, 500, "%s", err);
	} else if (promote && build[0] != '\0' &&
	    reconcile_promote_next(r, a, id, &queued, err, sizeof(err)) == -1) {
		/* Made and promoted in one turn of the loop, so concurrent changes
		 * promote in the order they were made: the newest, which holds
		 * them all, is what serves at the end. */
		api_error(s, 400, "release %s is made but cannot be promoted: %s", id, err);
	} else {
		s->status = 201;
		s->json = jv_object_new();
		jv_set_str(s->json, "release", id);
		jv_set_bool(s->json, "build", build[0] != '\0');
		if (promote && build[0] != '\0')
			jv_set_str(s->json, "promotion", queued ? "queued" : "started");
	}
	buf_free(&out);
out:
	free(keys);
	jv_free(env);
	jv_free(body);
}

void
api_scale(struct rack *r, struct api_req *q, struct api_resp *s)
{
	struct app *a = api_find_app(r, q, s);
	jv *body;
	int64_t count;

	if (a == NULL)
		return;
	if ((a->manifest == NULL || manifest_service(a->manifest, q->args[1]) == NULL) &&
	    (a->p_manifest == NULL || manifest_service(a->p_manifest, q->args[1]) == NULL)) {
		api_error(s, 404, "no such service: %s (cx services -a %s lists them)", q->args[1],
		    a->name);
		return;
	}
	if ((body = api_json_body(q, s)) == NULL)
		return;
	count = jv_int(body, "count");
	if (!jv_is_int(jv_get(body, "count")) || count < 0 || count > 100) {
		api_error(s, 400, "count must be a whole number from 0 to 100");
	} else if (r->kube && a->promoting[0] != '\0') {
		/* Its apply rendered the counts it began with. */
		api_error(s, 409, "app %s is deploying release %s to the cluster; scale once it is "
		    "done (or cx apps cancel -a %s)", a->name, a->promoting, a->name);
	} else if (store_scale_set(r->store, a->name, q->args[1], (int)count) == -1) {
		char err[4600];

		disk_store_error(r, "cannot store the scale", err, sizeof(err));
		api_error(s, 500, "%s", err);
	} else {
		char err[1024];

		applog_system(r, a->name, "Scaling %s to %d", q->args[1], (int)count);
		/* On a cluster: the active release applied again, with the count. */
		if (r->kube && a->active[0] != '\0' &&
		    reconcile_promote(r, a, a->active, err, sizeof(err)) == -1)
			api_error(s, 500, "the count is kept, but not applied to the cluster: %s", err);
		reconcile_app(r, a);   /* what it changes reaches the routers this loop turn */
	}
	jv_free(body);
}

void
api_restart(struct rack *r, struct api_req *q, struct api_resp *s)
{
	struct app *a = api_find_app(r, q, s);
	char err[1024];

	if (a == NULL)
		return;
	if (a->active[0] == '\0') {
		api_error(s, 400, "app %s has no release to restart; deploy first", a->name);
		return;
	}
	/* A restart is a promotion of the active release: new processes first. */
	if (reconcile_promote(r, a, a->active, err, sizeof(err)) == -1) {
		api_error(s, 400, "%s", err);
		return;
	}
	s->status = 202;
	s->json = promoting_json(a->active);
}

/* POST /apps/APP/services/SVC/restart: that service's processes are
 * replaced, rolling; the answer names the ones that go. */
void
api_service_restart(struct rack *r, struct api_req *q, struct api_resp *s)
{
	struct app *a = api_find_app(r, q, s);
	char err[512];
	int status = 400;
	jv *ids;

	if (a == NULL)
		return;
	ids = jv_array_new();
	if (reconcile_restart_service(r, a, q->args[1], ids, &status, err, sizeof(err)) == -1) {
		jv_free(ids);
		api_error(s, status, "%s", err);
		return;
	}
	s->status = 202;
	s->json = jv_object_new();
	jv_set_str(s->json, "service", q->args[1]);
	jv_set_take(s->json, "replacing", ids);
}

void
api_logs(struct rack *r, struct api_req *q, struct api_resp *s)
{
	struct app *a = api_find_app(r, q, s);
	char since[32];
	long off = -1;
	int64_t next = 0;

	if (a == NULL)
		return;
	if (api_query(q, "since", since, sizeof(since)) == 0 &&
	    parse_long(since, 0, INT64_MAX, &off) == -1) {
		api_error(s, 400, "since must be a byte offset");
		return;
	}
	if (api_query(q, "since_time", since, sizeof(since)) == 0) {
		char path[4096];

		if (parse_long(since, 0, INT64_MAX, &off) == -1) {
			api_error(s, 400, "since_time must be a unix time in seconds");
			return;
		}
		applog_path(r, a->name, path, sizeof(path));
		off = (long)log_offset_at(path, off);
	}
	if (applog_read(r, a->name, off, 1 << 20, &s->text, &next) == -1) {
		api_error(s, 500, "cannot read the log: %s", strerror(errno));
		return;
	}
	s->is_text = true;
	snprintf(s->extra, sizeof(s->extra), "X-Cx-Offset: %lld\r\n", (long long)next);
}

/* The CLI went away: its process goes too, with its grace. */
static void
run_client_gone(void *arg)
{
	struct proc *p = arg;
	struct api_pending *pending = p->on_exit_arg;

	p->on_exit = NULL;
	p->on_exit_arg = NULL;
	api_finish(pending, 0, NULL);   /* nobody to answer: frees it */
	reconcile_stop_proc(p->app->rack, p);
}

/* The process ended: its exit status is the answer the CLI waits for. */
static void
run_exited(struct proc *p)
{
	jv *j = jv_object_new();
	int st = p->exit_status;

	jv_set_str(j, "id", p->st.id);
	if (st != -1 && WIFEXITED(st))
		jv_set_int(j, "exit", WEXITSTATUS(st));
	else if (st != -1 && WIFSIGNALED(st))
		jv_set_int(j, "signal", WTERMSIG(st));
	api_finish(p->on_exit_arg, 200, j);
}

/*
 * Whether fd is an anonymous pipe open for `want` (O_RDONLY or O_WRONLY).
 * The sandbox gives the process's stdio to the app's ids: a named FIFO or a
 * file would give away a node of the host. Neither check touches the file
 * system behind fd (a client's FUSE mount could stall the loop).
 */
static bool
anonymous_pipe(int fd, int want)
{
	char link[64], target[64];
	ssize_t n;
	int fl = fcntl(fd, F_GETFL);

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, target, sizeof(target) - 1);
	if (n <= 0 || fl == -1 || (fl & O_ACCMODE) != want)
		return false;
	target[n] = '\0';
	return str_has_prefix(target, "pipe:[");
}

/*
 * The same run with its stdio relayed on the connection (Upgrade: cx-attach,
 * api_attach): pipes of our own, the process's ends given to it.
 */
static void
run_attached(struct rack *r, struct app *a, const struct mf_service *sv, struct api_req *q,
    struct api_resp *s)
{
	int in[2] = { -1, -1 }, out[2] = { -1, -1 }, err[2] = { -1, -1 }, theirs[3], ours[3];
	struct api_pending *pending;
	const char *command;
	char why[1024];
	struct proc *p;
	jv *body;

	if ((body = api_json_body(q, s)) == NULL)
		return;
	command = jv_str_or(body, "command", "");
	if (pipe2(in, O_CLOEXEC) == -1 || pipe2(out, O_CLOEXEC) == -1 ||
	    pipe2(err, O_CLOEXEC) == -1) {
		api_error(s, 500, "cannot make the run's pipes: %s", strerror(errno));
		goto fail;
	}
	theirs[0] = in[0];
	theirs[1] = out[1];
	theirs[2] = err[1];
	if (reconcile_spawn_oneoff(r, a, sv, "run", command[0] != '\0' ? command : NULL, theirs,
	    &p, why, sizeof(why)) == -1) {
		api_error(s, 400, "%s", why);
		goto fail;
	}
	jv_free(body);
	close(in[0]);
	close(out[1]);
	close(err[1]);
	ours[0] = in[1];
	ours[1] = out[0];
	ours[2] = err[0];
	pending = api_attach(q, s, ours);
	p->on_exit = run_exited;
	p->on_exit_arg = pending;
	api_pending_on_gone(pending, run_client_gone, p);
	return;
fail:
	jv_free(body);
	for (int i = 0; i < 2; i++) {
		if (in[i] != -1)
			close(in[i]);
		if (out[i] != -1)
			close(out[i]);
		if (err[i] != -1)
			close(err[i]);
	}
}

/*
 * POST /apps/APP/services/SVC/run {"command": "..."} with three descriptors
 * (the process's stdin, stdout, stderr) sent along on the unix socket: a
 * one-off process behind the app's walls, answered when it exits.
 */
void
api_run(struct rack *r, struct api_req *q, struct api_resp *s)
{
	struct app *a = api_find_app(r, q, s);
	const struct mf_service *sv;
	struct api_pending *pending;
	const char *command;
	struct proc *p;
	char err[1024];
	jv *body;

	if (a == NULL)
		return;
	if (a->manifest == NULL || (sv = manifest_service(a->manifest, q->args[1])) == NULL) {
		api_error(s, 404, "no such service: %s (cx services -a %s lists them)", q->args[1],
		    a->name);
		return;
	}
	if (q->attach && q->nfds == 0) {
		run_attached(r, a, sv, q, s);
		return;
	}
	if (q->nfds != 3) {
		api_error(s, 400, "a run needs the process's stdin, stdout and stderr sent with the "
		    "request (SCM_RIGHTS on the rack's unix socket); %zu descriptors came", q->nfds);
		return;
	}
	for (int i = 0; i < 3; i++) {
		if (!anonymous_pipe(q->fds[i], i == 0 ? O_RDONLY : O_WRONLY)) {
			api_error(s, 400, "descriptor %d (%s) must be an anonymous pipe open for %s", i,
			    i == 0 ? "stdin" : i == 1 ? "stdout" : "stderr",
			    i == 0 ? "reading" : "writing");
			return;
		}
	}
	if ((body = api_json_body(q, s)) == NULL)
		return;
	command = jv_str_or(body, "command", "");
	if (reconcile_spawn_oneoff(r, a, sv, "run", command[0] != '\0' ? command : NULL, q->fds,
	    &p, err, sizeof(err)) == -1) {
		api_error(s, 400, "%s", err);
		jv_free(body);
		return;
	}
	jv_free(body);
	/* The process has its copies: ours would keep its output open. */
	for (size_t i = 0; i < q->nfds; i++) {
		close(q->fds[i]);
		q->fds[i] = -1;
	}
	pending = api_defer(q, s);
	p->on_exit = run_exited;
	p->on_exit_arg = pending;
	api_pending_on_gone(pending, run_client_gone, p);
}
