/*
 * kdeploy.h — what a Kubernetes rack's daemon does on the cluster (issue
 * 14): at a promotion it renders the release's objects (k8s/render.h) and
 * applies them by server-side apply (k8s/apply.h) with the field manager
 * cx-RACK; at an app's deletion it deletes the app's Namespace. Each runs in
 * a child process of its own, which reports on a pipe, so the daemon's loop
 * never waits on the API server. The build pushes the images (build.c); the
 * reconciler starts no local process for such a rack's apps.
 *
 *   promote R --kdeploy_apply--> APPLYING (the child: GET /version, render
 *             for it, apply the Namespace, dry-run the rest, apply the rest,
 *             wait until every Deployment and DaemonSet has rolled out
 *             (k8s/rollout.h, at most param deploy_timeout), then delete the
 *             app's objects R no longer renders)
 *   APPLYING --the child says ok--> reconcile_applied(NULL): R active
 *   APPLYING --the child says why, or dies--> reconcile_applied(why): R
 *             failed, the previous release stays active
 *   APPLYING --applied, but a rollout failed or timed out--> R failed, and
 *             RESTORING the active release A (its objects applied again,
 *             what R added pruned; no wait): --ok or why--> a line in the
 *             app's log. A new promotion (or kdeploy_cancel) stops a restore.
 *   APPLYING --kdeploy_cancel (cx apps cancel, the deadline, the app
 *             deleted, the daemon stopping)--> the child killed, no word
 */
#ifndef CX_KDEPLOY_H
#define CX_KDEPLOY_H

#include <stdbool.h>
#include <stddef.h>

#include "k8s/render.h"

struct rack;
struct app;
struct api_pending;
struct manifest;

/* Whether r is a Kubernetes rack (param kubeconfig set at install). */
bool kdeploy_rack(const struct rack *r);

/* What an app's objects are rendered from besides its manifest: the rack's
 * params (registry, domain, domain_internal), its render seed
 * (RACK_DIR/k8s.seed, made on first use), an environment, and the counts
 * `cx scale` set for the app's services. */
/* How long a release's rollout may take by default (param deploy_timeout):
 * Convox's 50 minutes. */
#define KDEPLOY_TIMEOUT_S 3000

/* The rack's param deploy_timeout, in seconds. */
int kdeploy_timeout_s(struct rack *r);

struct kdeploy_input {
	char registry[256], domain[256], domain_internal[256], seed[80];
	char **env;                 /* "K=V" each, malloc'd */
	size_t nenv;
	struct k8s_count *counts;   /* malloc'd; the names are m's */
	size_t ncounts;
	int progress_deadline;      /* param deploy_progress_deadline (0: unset) */
	int timeout_s;              /* param deploy_timeout: the rollout's wait */
};
/* Fills in from the rack, app's scale (for the services of m) and
 * env_text ("K=V\n" lines). 0, or -1 with err (the seed cannot be made);
 * free with kdeploy_input_free either way. */
int kdeploy_input_load(struct rack *r, const char *app, const struct manifest *m,
    const char *env_text, struct kdeploy_input *in, char *err, size_t errlen);
void kdeploy_input_free(struct kdeploy_input *in);
/* The render options of app's release (build, NULL: none) from in. */
struct k8s_render_opts kdeploy_opts(const struct rack *r, const struct kdeploy_input *in,
    const char *app, const char *release, const char *build);

/* Starts applying release (of build) of app a, whose manifest m and env
 * ("K=V" list) the caller keeps: the child works on its own copy. When it
 * ends, reconcile_applied says how. 0, or -1 with err (nothing started). */
int kdeploy_apply(struct rack *r, struct app *a, const char *release, const char *build,
    const struct manifest *m, char *const *env, char *err, size_t errlen);

/* Deletes app's Namespace RACK-APP on the cluster, then calls done with
 * NULL, or with why it could not (the server's message). pending (may be
 * NULL) is handed to done. 0, or -1 with err (nothing started). */
typedef void (*kdeploy_done_fn)(struct rack *r, const char *app, struct api_pending *pending,
    const char *error);
int kdeploy_delete_app(struct rack *r, const char *app, struct api_pending *pending,
    kdeploy_done_fn done, char *err, size_t errlen);

/* Stops app's apply (every job when app is NULL: the daemon stops): the
 * children are killed and the reconciler is not told; a deletion's
 * pending answer gets 409. */
void kdeploy_cancel(struct rack *r, const char *app);

/* Whether app has an apply under way. */
bool kdeploy_applying(const struct rack *r, const char *app);

#endif
