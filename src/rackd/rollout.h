/*
 * rollout.h — the arithmetic of a rolling promotion, one service at a time:
 * given how many processes of the old and the new release run, serve and
 * drain, how many new ones to start now and how many old ones to take out of
 * the routes (and then stop), so that at most deployment.maximum percent of
 * the service's count run at once and at least deployment.minimum percent
 * keep serving. Pure: the reconciler (reconcile.c) counts and acts.
 */
#ifndef CX_ROLLOUT_H
#define CX_ROLLOUT_H

#include <stdbool.h>

/* One service's processes during a promotion, as the reconciler counts them. */
struct rollout_count {
	int want;           /* the service's count (scale) */
	int old_alive;      /* old release's processes not yet exited, draining ones included */
	int old_live;       /* of those, not draining nor stopping: still to retire */
	int old_serving;    /* of the live ones, in the routes */
	int new_alive;      /* new release's processes started and not stopping */
	int new_serving;    /* of those, passed their health check (in the routes) */
};

/* What to do now. */
struct rollout_step {
	int start;          /* new processes to start */
	int retire;         /* live old ones to take out of the routes, then stop;
			     * not-serving ones first */
};

/* The most processes of the service that may run at once (maximum percent
 * of want, at least want, and one over min_keep when both would leave no
 * room to move), and the fewest that must keep serving (minimum percent,
 * rounded up). */
int rollout_max_total(int want, int min_pct, int max_pct);
int rollout_min_keep(int want, int min_pct);
/* The next step for c with deployment.minimum min_pct (0-100) and maximum
 * max_pct (100-200) into *out. Starts as many as the maximum allows; retires
 * old ones that new serving ones replace, and, when a batch waits for room,
 * as many more as the minimum allows. */
void rollout_plan(const struct rollout_count *c, int min_pct, int max_pct,
    struct rollout_step *out);
/* Whether the service's side of the promotion is done: want new ones serve. */
bool rollout_ready(const struct rollout_count *c);

#endif
