/*
 * rollout.c — see rollout.h.
 *
 * One service of a promotion moves through (the reconciler calls
 * rollout_plan on every pass, and acts on its step):
 *
 *   SURGE   --start (room under maximum)--> new processes STARTING
 *   STARTING --health passes--> new SERVING (routed at once, beside the old)
 *   new SERVING --> RETIRE one old per new one that serves (surplus)
 *   no room, a batch waits --> RETIRE old ones down to minimum (room)
 *   RETIRE: the old one leaves the routes, drains, then gets SIGTERM and its
 *           termination grace; once it has exited its room frees --> SURGE
 *   want new ones SERVING --> READY (rollout_ready)
 *
 * A new process that exits or never passes fails the whole promotion
 * (reconcile.c), whatever step it is in.
 */
#include "rackd/rollout.h"

static int
max_int(int a, int b)
{
	return a > b ? a : b;
}

static int
min_int(int a, int b)
{
	return a < b ? a : b;
}

int
rollout_min_keep(int want, int min_pct)
{
	return want <= 0 ? 0 : (want * min_pct + 99) / 100;
}

int
rollout_max_total(int want, int min_pct, int max_pct)
{
	int total = max_int(want, want * max_pct / 100);

	/* 100/100 (or a minimum that rounds up to the maximum) could never move:
	 * one process more is the least that lets it. */
	if (want > 0 && total <= rollout_min_keep(want, min_pct) && total <= want)
		total = want + 1;
	return total;
}

void
rollout_plan(const struct rollout_count *c, int min_pct, int max_pct, struct rollout_step *out)
{
	int max_total = rollout_max_total(c->want, min_pct, max_pct);
	int min_keep = rollout_min_keep(c->want, min_pct);
	int still_needed, retire, not_serving, may_unroute;

	out->start = max_int(0, min_int(c->want - c->new_alive,
	    max_total - c->old_alive - c->new_alive));
	/* Old ones that the new serving ones replace. */
	still_needed = max_int(0, c->want - c->new_serving);
	retire = max_int(0, c->old_live - still_needed);
	/* A batch waits for room: free it, down to the minimum. */
	if (c->new_alive + out->start < c->want)
		retire += min_int(c->old_live - retire, c->want - c->new_alive - out->start);
	/* Never fewer than min_keep in the routes: serving old ones go last. */
	not_serving = c->old_live - c->old_serving;
	may_unroute = max_int(0, c->old_serving + c->new_serving - min_keep);
	out->retire = min_int(retire, not_serving + may_unroute);
}

bool
rollout_ready(const struct rollout_count *c)
{
	return c->new_serving >= c->want;
}
