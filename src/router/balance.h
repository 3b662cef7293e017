/*
 * balance.h — choosing a process for a request: round-robin over a host's
 * `up` entries, skipping passively ejected ones (a failed connect ejects an
 * upstream from this worker's choices for UPSTREAM_EJECT_MS).
 */
#ifndef CX_ROUTER_BALANCE_H
#define CX_ROUTER_BALANCE_H

#include <stddef.h>
#include <stdint.h>

struct worker;
struct route_host;
struct upstream;

/*
 * Next healthy upstream of h other than exclude; its index in h->ups goes to
 * *idx. When exclude is NULL and every upstream is ejected, returns the next
 * one anyway (a request is better tried than refused). NULL if none.
 */
struct upstream *balance_pick(struct worker *w, const struct route_host *h,
    const struct upstream *exclude, int64_t now, size_t *idx);
void balance_eject(struct upstream *u, int64_t now);

#endif
