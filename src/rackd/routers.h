/*
 * routers.h — the rack's two routers as processes, and the route snapshots
 * the daemon pushes to them (docs/routes.md). The public router always runs;
 * the internal one while param internal_router is true. A Kubernetes rack
 * runs none here: its routers are pods on its cluster (kpeers.h, render.h).
 */
#ifndef CX_ROUTERS_H
#define CX_ROUTERS_H

#include <stdbool.h>
#include <stddef.h>

struct rack;
struct router_proc;

/* Fills in listen addresses and paths, adopts routers left running by a
 * previous daemon, and starts the ones wanted. */
void routers_init(struct rack *r);
/* Starts or stops the internal router to match the param, restarts dead
 * routers (with back-off), and rewrites both snapshots when they changed.
 * Sets r->routes_retry while a wanted router is down or its newest table
 * did not reach it, so that the daemon's tick tries again. */
void routers_sync(struct rack *r);
/* Watches a started router for its exit. */
int routers_watch(struct rack *r, struct router_proc *rp);
/* Stops router `which` (0 public, 1 internal) and starts it again, on its
 * listen address as the params say now. */
void routers_restart(struct rack *r, int which);
/* A certificate or an endpoint's binding changed: the public router's
 * certificates are synced again at the end of this loop turn. */
void routers_certs_changed(struct rack *r);
/* A loopback rack run as root: its processes (each in a network namespace
 * of its own on the rack's bridge) reach the internal router on the bridge's
 * .2 (:80, :443) and the egress listener on its .3 (:80), which the lab maps
 * to the ports they listen on at 127.0.0.1 (lab_loopback_gateway), as the
 * params say now; again after a port changed. remove: the mapping goes
 * (uninstall). Other racks: nothing. A failure is logged. */
void routers_gateway_sync(struct rack *r, bool remove);
/* Stops both routers (uninstall). */
void routers_stop_all(struct rack *r);

/* The command line of router rp (for the forked child: the strings live
 * in rp, r and static storage). argv holds max slots, NULL last. */
void routers_argv(struct rack *r, struct router_proc *rp, char **argv, size_t max);

/* The most a snapshot may hold: what cx-router reads (ROUTES_MAX_FILE). */
#define ROUTERS_SNAPSHOT_MAX (1 << 20)
/* The snapshot for the public or the internal router in *out (malloc'd,
 * caller frees), from the apps' active releases and running processes. -1
 * with *out NULL and err naming where, if it would pass ROUTERS_SNAPSHOT_MAX:
 * a table cut short would send some hosts nowhere, so there is none. */
int routers_snapshot(struct rack *r, bool internal, char **out, char *err, size_t errlen);
/* The peer router's: "peer" and "egress" lines for each TLS peer (peers.h),
 * and the internal services' hosts while internal_router is true. */
int routers_peer_snapshot(struct rack *r, char **out, char *err, size_t errlen);

#endif
