/*
 * reconcile.h — drives each app's processes toward what its releases and
 * scale say: promotions (start the new release's processes, wait for their
 * health, switch routes, stop the old ones), crash restarts, scaling, and
 * app deletion. It runs when the daemon's tick calls reconcile_tick, when
 * the supervisor and the health checks report (through the handlers main.c
 * registers), and on API calls; it starts and stops processes only through
 * r->sup, and says when routes may have changed (rack_routes_changed)
 * instead of pushing them.
 */
#ifndef CX_RECONCILE_H
#define CX_RECONCILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/jv.h"
#include "rackd/health.h"

struct rack;
struct app;
struct proc;
struct manifest;
struct mf_service;

/* Every process the rack starts bears its mark in its environment:
 * CX_RACK_PROCESS=MARK/ID, MARK a hash of the rack's directory (so no other
 * rack on the host shares it), ID the process's. Its children inherit it. */
#define RECONCILE_MARK_VAR "CX_RACK_PROCESS"
/* The rack's MARK (16 hex digits) into out. */
void reconcile_mark(const struct rack *r, char *out, size_t outlen);

/* Loads apps from the store and adopts processes a previous daemon left
 * running (r->sup and both handlers set first); records without a live
 * process are removed, and marked processes without a record stopped. */
void reconcile_init(struct rack *r);
/* One pass over one app. */
void reconcile_app(struct rack *r, struct app *a);
/* One pass over every app: back-offs, drains and the promotion deadline
 * that time alone moves on. The daemon's tick calls it. */
void reconcile_tick(struct rack *r);
/* The supervisor's exit handler (sup_set_exit_handler): p exited. */
void reconcile_proc_exited(struct rack *r, struct proc *p);
/* The health checks' handler (health_set_handler): p's health changed. A
 * missed first pass fails p's promotion, or replaces p if it serves. */
void reconcile_health_changed(struct rack *r, struct proc *p, enum health_event ev);
/* Begins promoting release `id` of app a. -1 with err when it cannot start
 * (unknown release, no build, required env missing, internal router off). */
int reconcile_promote(struct rack *r, struct app *a, const char *id, char *err, size_t errlen);
/* An env change's promotion: begins now when none runs, else release id
 * waits for the one under way to end (*queued true), taking the place of
 * an older one waiting (marked replaced: id, newer, has its changes too).
 * So concurrent changes are promoted in the order they were made. */
int reconcile_promote_next(struct rack *r, struct app *a, const char *id, bool *queued, char *err,
    size_t errlen);
/* Cancels the promotion under way (`cx apps cancel`): its new processes
 * stop, the release is marked failed ("cancelled"), the active one serves
 * on. -1 with err when nothing is being promoted. */
int reconcile_cancel(struct rack *r, struct app *a, char *err, size_t errlen);
/* Replaces every process of service `service` of a's active release,
 * rolling (`cx services restart`): new ones start, and once the service's
 * count of them pass their health check the old ones get a short drain,
 * then stop with their grace. The ids of the processes being replaced go
 * into ids (an array it appends strings to). -1 with err and a status
 * (404 unknown service, 400 no release, 409 a promotion under way). */
int reconcile_restart_service(struct rack *r, struct app *a, const char *service, jv *ids,
    int *status, char *err, size_t errlen);
/* Loads what a release runs: its manifest (parsed with the release's env),
 * build directory and env. -1 with err. */
int reconcile_load_release(struct rack *r, const char *app, const char *id, struct manifest **m,
    char *dir, size_t dirlen, char ***env, char *err, size_t errlen);
/* A Kubernetes rack's apply of app's release ended (kdeploy.h): error NULL
 * makes it active, else it fails with error (the server's message) and the
 * active release stays. A word on a promotion no longer under way is
 * dropped. */
void reconcile_applied(struct rack *r, const char *app, const char *release, const char *error);
/* "running", "updating", "failed" (last promotion failed, old one serving) or "idle". */
const char *reconcile_app_status(struct rack *r, struct app *a);
/* New in-memory app (after store_app_create), running as uid_base (sandbox.h). */
struct app *reconcile_app_add(struct rack *r, const char *name, uint32_t uid_base);
/* Creates app name: its ids (sandbox.h), its row in the store, its
 * in-memory app. NULL with err (the name is the caller's to check). */
struct app *reconcile_app_create(struct rack *r, const char *name, char *err, size_t errlen);
/* Stops every process of a; the app is freed once they are gone. */
void reconcile_app_delete(struct rack *r, struct app *a);
/* Stops every process of every app, waiting at most grace_ms, then
 * whatever else bears the rack's mark (uninstall). */
void reconcile_stop_all(struct rack *r, int grace_ms);
/* Starts a one-off process of service s of a's active release running
 * command (NULL: the service's own), with id PREFIX-XXXXXXXX: a timer's run,
 * or `cx run`'s with stdio (see struct sup_ops in supervisor.h; NULL for
 * the app's log). Not routed, not counted toward scale, not replaced when it
 * exits. *out (if not NULL) gets it. 0, or -1 with err. */
int reconcile_spawn_oneoff(struct rack *r, struct app *a, const struct mf_service *s,
    const char *prefix, const char *command, const int *stdio, struct proc **out, char *err,
    size_t errlen);
/* Stops p (SIGTERM, SIGKILL after its service's grace). */
void reconcile_stop_proc(struct rack *r, struct proc *p);
/* Desired process count of a service. */
int reconcile_desired(struct rack *r, struct app *a, const char *service, int manifest_count);

#endif
