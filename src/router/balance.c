/*
 * balance.c — round-robin with passive ejection. The round-robin position is
 * per worker (h->rr[w->id]) so workers never write to a shared line.
 */
#include "router/balance.h"

#include "router/routes.h"
#include "router/upstream.h"
#include "router/worker.h"

struct upstream *
balance_pick(struct worker *w, const struct route_host *h, const struct upstream *exclude,
    int64_t now, size_t *idx)
{
	unsigned start;

	if (h->nups == 0)
		return NULL;
	start = h->rr[w->id].next++;
	for (size_t k = 0; k < h->nups; k++) {
		size_t i = (start + k) % h->nups;
		struct upstream *u = upstream_for(w, &h->ups[i]);

		if (u == exclude || u->eject_until > now)
			continue;
		*idx = i;
		return u;
	}
	if (exclude != NULL)
		return NULL;
	*idx = start % h->nups;
	return upstream_for(w, &h->ups[*idx]);
}

void
balance_eject(struct upstream *u, int64_t now)
{
	u->eject_until = now + UPSTREAM_EJECT_MS;
}
