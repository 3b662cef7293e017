/*
 * upstream.h — a worker's upstreams (one per process address, kept across
 * route reloads) and their pools of idle keep-alive connections.
 *
 * An upconn belongs either to an exchange (owner set: the request it
 * carries) or to its upstream's idle pool (owner NULL). An idle connection that becomes readable
 * (the process closed it, or sent junk) is closed at once. Pools are LIFO so
 * that the warmest connections are reused; idle ones are closed after
 * UPSTREAM_IDLE_MS.
 */
#ifndef CX_ROUTER_UPSTREAM_H
#define CX_ROUTER_UPSTREAM_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "router/transport.h"

#define UPCONN_BUF		(16 * 1024)
#define UPSTREAM_MAX_IDLE	1024	/* per upstream per worker; no churn at -c256 */
#define UPSTREAM_IDLE_MS	60000
#define UPSTREAM_EJECT_MS	5000

struct worker;
struct exchange;
struct route_up;
struct tls_conn;
struct tls_ctx;
struct h2up;

struct upconn;
/* An owned connection's socket had events (owner: what upstream_acquire_for got). */
typedef void (*upconn_event_fn)(void *owner, struct upconn *uc, uint32_t events);

struct upconn {
	struct xport xp;		/* plain or TLS, to the process */
	bool tcp_done;			/* TCP connected; connected = and the TLS handshake done */
	struct worker *w;
	struct upstream *up;
	void *owner;			/* NULL while idle in the pool */
	upconn_event_fn on_event;	/* the owner's */
	struct upconn *prev, *next;	/* idle list */
	char *in;			/* UPCONN_BUF bytes from the upstream */
	size_t off, len;		/* unconsumed bytes are in[off..len) */
	bool connected, rd_ready, wr_ready, eof, err, reused, parse_pending;
	int64_t idle_since;
};

struct upstream {
	struct sockaddr_in addr;
	int tls;			/* enum route_tls: part of the key, with peer */
	char peer[64];			/* ROUTE_TLS_PEER: whose listener this is */
	char name[24];			/* "A.B.C.D:PORT" */
	struct upconn *idle_head, *idle_tail;
	size_t nidle;
	struct h2up *h2s;		/* HTTP/2 sessions to it (gRPC routes: h2up.c) */
	int64_t eject_until;		/* passive ejection after a failed connect */
	struct upstream *hnext, *next_all;
};

struct upstream_registry {
	struct upstream **buckets;
	size_t nbuckets, n;
	struct upstream *all;
};

void upstream_registry_free(struct worker *w);
/* The worker's upstream for a route entry (cached in ru->wup[w->id]). */
struct upstream *upstream_for(struct worker *w, struct route_up *ru);
/*
 * A connection to u for owner: an idle pooled one (*reused = true) unless
 * fresh is set, else a new non-blocking connect (counted in metrics). A TLS
 * upstream (u->tls) gets a TLS client of ctx on the new socket, sending and
 * (when ctx verifies) checking the name sni; the owner drives its handshake
 * once TCP is connected. NULL with errno when the connect fails at once
 * (e.g. ECONNREFUSED; EPROTO: no TLS connection could be made).
 */
struct upconn *upstream_acquire(struct worker *w, struct upstream *u, struct exchange *owner,
    bool fresh, bool *reused, struct tls_ctx *ctx, const char *sni);
/* The same for any owner, whose on_event gets the connection's events (an
 * HTTP/2 stream: h2.c). */
struct upconn *upstream_acquire_for(struct worker *w, struct upstream *u, void *owner,
    upconn_event_fn on_event, bool fresh, bool *reused, struct tls_ctx *ctx, const char *sni);
/* Gives a connection whose exchange ended cleanly back to its pool. */
void upstream_release(struct worker *w, struct upconn *uc);
/* Closes and frees a connection (owned or idle). */
void upstream_close(struct worker *w, struct upconn *uc);
/* Closes pooled connections idle for longer than UPSTREAM_IDLE_MS. */
void upstream_sweep(struct worker *w, int64_t now);
/* Closes every idle pooled connection (shutdown). */
void upstream_close_idle(struct worker *w);
/* Reads from the process into uc->in (compacting it when full); 1 read,
 * 0 nothing now (or no room), -1 EOF (uc->eof) or error (uc->err). */
int upconn_read(struct upconn *uc);

#endif
