/*
 * reach.h — the walk of `cx services reach` across a TLS peering, from this
 * rack (A) to a service of a peer (B), as A's processes would take it:
 *
 *   name     SERVICE.APP.<B's internal domain> resolved from A's side
 *            (a host rack's processes ask the rack DNS; a loopback rack's
 *            see *.localhost as loopback): it must be A's egress listener
 *   egress   a TCP connection to A's egress listener
 *   tls      a TLS 1.3 handshake of A's own, straight to B's peer endpoint,
 *            presenting A's peer certificate and verifying B's against the
 *            CA file A keeps for B; B must then answer (it admitted us)
 *   router   an HTTP request for the domain through the egress (the real
 *            path: A's peer router, TLS, B's peer router): B's router answers
 *   process  ... and the answer is a process's, not a router's own
 *
 * api_reach.c runs reach_walk in a child process of its own (it blocks, and
 * may join a temporary process namespace); the plan is filled in the daemon
 * beforehand, so that the child touches neither the store nor the loop.
 */
#ifndef CX_REACH_H
#define CX_REACH_H

#include <stdbool.h>
#include <stddef.h>

#include "common/jv.h"

struct reach_plan {
	char rack[32];              /* A: this rack */
	char peer[32];              /* B */
	char domain[256];           /* the service's internal name on B */
	char service[64];
	bool peered;                /* A has B in its peers: the fields below are B's */
	char endpoint[64];          /* B's peer listener, IP:PORT */
	char internal_domain[256];  /* B's */
	char ca_file[4200];         /* A's copy of B's CA: peers/B.pem */
	char cert_file[4200];       /* A's peer identity: peer.pem, peer.key */
	char key_file[4200];
	char egress[64];            /* A's egress listener, IP:PORT */
	bool host;                  /* A is a host rack: the name and egress hops run in a
	                               temporary process namespace (proc_id) */
	char home[4096];
	char proc_id[48];
};

/* Walks the hops of plan, blocking (each hop bounded; the whole well under
 * REACH_WALK_MS) and returns {"hops": [...], "reached": bool}: each hop
 * {"hop", "ok", "us", "detail"} (us: microseconds) and, for tls, "cn", "issuer", "ca_file",
 * "version", "handshake_us". A hop after a failed one that cannot be
 * tried is left out. Caller frees. For a forked child only: on host racks
 * it changes the calling process's namespaces. */
#define REACH_WALK_MS 20000
jv *reach_walk(const struct reach_plan *plan);

/* What an HTTP answer (its head, and a little of its body, NUL-terminated)
 * says: its status (0 when it is not HTTP), whether a router made it
 * (X-Cx-Router) and which rack's (X-Cx-Rack, "" when not said), and its
 * body's first line. */
struct reach_answer {
	int status;
	bool from_router;
	char router_rack[32];
	char line[160];
};
void reach_parse_answer(const char *resp, struct reach_answer *a);

/* Whether a's answer came through the peering (a process's, or peer's
 * router's own): false with why when a router answered itself, naming
 * rack's egress only when X-Cx-Rack names rack, else an unknown router. */
bool reach_router_ok(const struct reach_answer *a, const char *rack, const char *peer, char *why,
    size_t whylen);

/* Whether domain is a name under zone (X.zone, any case). */
bool reach_under(const char *domain, const char *zone);

#endif
