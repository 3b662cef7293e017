/*
 * conn.h — client connections as the rest of the router sees them: made
 * from an accepted socket, woken by their own and their upstream's events,
 * swept for deadlines, shed and closed. The state machine is drawn atop
 * conn.c; each request it serves is an exchange (exchange.c), which owns
 * the upstream connection (upstream.h).
 */
#ifndef CX_ROUTER_CONN_H
#define CX_ROUTER_CONN_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

struct worker;
struct conn;
struct exchange;
struct upconn;
struct tls_id;

/* Takes over an accepted, non-blocking client socket from the listener of
 * kind (enum listen_kind); on LK_TLS the connection begins with a TLS
 * handshake of w->cfg->tls, on LK_PEER with one of the current table's peer
 * context, and speaks TLS. */
void conn_new(struct worker *w, int fd, const struct sockaddr_in *peer, int kind);
/* After w adopted a new table: connections from peers it no longer lists
 * (or lists with another CA) are closed, at once when between requests,
 * else when their request ends (and within 5 s). */
void conn_peers_recheck(struct worker *w);
/* The tls_sni_fn of the TLS listener's context: arg is the conn; the
 * identity of the host named sni in the worker's current table, else NULL
 * (the handshake is refused). */
const struct tls_id *conn_tls_pick(void *arg, const char *sni);
/* Called by the upstream module when the upstream socket of ex (its owner)
 * has events: the connection ex runs on takes its steps. */
void conn_upstream_event(struct exchange *ex, struct upconn *uc, uint32_t events);
/* Applies expired deadlines (timeouts) to every connection of w. */
void conn_sweep(struct worker *w, int64_t now);
/* Shutdown: closes connections that are idle between requests. */
void conn_close_idle(struct worker *w);
/* Shutdown deadline passed, or the worker ends: closes everything and frees
 * the spare input buffers. */
void conn_close_all(struct worker *w);
/* The connection of w idle (between requests, or in its TLS handshake)
 * whose last activity is the oldest, or NULL when none is idle. */
struct conn *conn_oldest_idle(struct worker *w);
/* Closes c, an idle connection, to make room at the cap (counted in the
 * metrics and in the next flood log line). */
void conn_shed(struct conn *c);

#endif
