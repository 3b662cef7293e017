/*
 * worker.h — one event loop thread with its own listener (SO_REUSEPORT),
 * connections, upstream pools and counters: nothing of it is shared with the
 * other workers except the read-only route table and the access log fd.
 *
 * Workers learn of a new route table or of shutdown through a mailbox and an
 * eventfd. A worker keeps the tables its requests still use in `struct
 * wtable`s: a request holds (non-atomically) the worker's current wtable, and
 * the worker drops its shared reference to a retired table when the last of
 * its requests on it ends.
 */
#ifndef CX_ROUTER_WORKER_H
#define CX_ROUTER_WORKER_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/http1.h"
#include "router/accesslog.h"
#include "router/metrics.h"
#include "router/upstream.h"

/* The listeners a router may have; a connection remembers which it came in on. */
enum listen_kind {
	LK_PLAIN,		/* --listen: HTTP */
	LK_TLS,			/* --listen-tls: HTTPS, certificate by SNI */
	LK_PEER,		/* --listen-peer: HTTPS with a peer's client certificate */
	LK_EGRESS,		/* --listen-egress: HTTP to peers, by egress domain */
	LK_COUNT
};

struct router_config {
	const char *name;		/* public | internal | peer */
	const char *rack;
	const char *listen[LK_COUNT];	/* IP:PORT, or NULL: no such listener */
	int listen_port[LK_COUNT];
	const char *certs_dir;		/* HOST.pem and HOST.key (routes_load_certs) */
	struct tls_ctx *tls;		/* picks each handshake's certificate by SNI */
	const char *peer_cert, *peer_key;	/* --peer-cert, --peer-key */
	const char *routes_path;
	int nworkers;
	int access_fd;			/* -1 without --access-log */
	const char *access_path;	/* --access-log */
	int64_t log_max;		/* --log-max-mb in bytes; 0: logs do not rotate */
	int stop_grace_ms;		/* in-flight requests may finish this long */
	size_t max_conns;		/* client connections of the router, 0: no cap */
	/* --idle-timeout in ms: a client connection with no request (HTTP/1.1
	 * between requests, HTTP/2 with no stream) or not a byte either way
	 * (HTTP/2) for this long is closed; 60 s by default. */
	int idle_timeout_ms;
};

struct routes;
struct conn;
struct tls_ctx;

struct wtable {
	struct routes *rt;
	unsigned users;		/* requests of this worker using rt */
	struct wtable *next;	/* retired list */
};

#define WORKER_SPARE_BUFS	64

struct worker {
	int id;
	const struct router_config *cfg;
	struct ev_loop *loop;
	int listen_fd[LK_COUNT];	/* -1 without cfg->listen[kind] */
	int notify_fd;			/* eventfd: mailbox has something */
	struct routes *mail_routes;	/* atomic: a new table to adopt */
	int mail_stop;			/* atomic: begin shutdown */
	struct wtable *cur, *retired;
	/* Every client connection, the most recently active first (conn_run
	 * moves a connection to the front), so the idle one shed at the cap is
	 * the one nearest the tail. */
	struct conn *conns, *conns_tail;
	size_t nconns;
	size_t max_conns;		/* this worker's share of cfg->max_conns, 0: none */
	/* Accepting paused (descriptors ran out, or at max_conns with nothing
	 * idle to shed) until accept_retry fires or a connection closes. */
	bool accept_paused;
	struct ev_timer *accept_retry;
	unsigned long paused_fd, paused_cap, shed;	/* since the last flood log line */
	/* Input buffers given back by connections gone idle between requests,
	 * for the next one that reads (conn.c): an idle connection holds none. */
	char *spare_in[WORKER_SPARE_BUFS];
	size_t nspare_in;
	struct upstream_registry ups;
	struct metrics m;
	struct host_stats *unknown_stats;
	struct accesslog al;
	uint64_t rng[2];
	/* "\r\nX-Forwarded-Proto: http\r\n...X-Request-Id: " by listener: https
	 * for TLS ones, with each one's port */
	char xf_tail[LK_COUNT][96];
	bool stopping;
	int64_t stop_deadline;
	struct ev_timer *sweep;
	pthread_t thread;
	/* Scratch space for parsing one head at a time. */
	struct http_request req;
	struct http_response resp;
};

/* All workers, for metrics (set once before the workers start). */
extern struct worker **router_workers;

int worker_init(struct worker *w, int id, const struct router_config *cfg, struct routes *rt);
/* Runs w's loop on the calling thread until shutdown completes. */
int worker_run(struct worker *w);
void worker_free(struct worker *w);
/* From any thread: hands w its reference to rt / asks w to shut down. */
void worker_post_routes(struct worker *w, struct routes *rt);
void worker_post_stop(struct worker *w);

/* A request begins / ends on the current table. */
struct wtable *worker_table_hold(struct worker *w);
void worker_table_release(struct worker *w, struct wtable *wt);

/* 128 random bits as 32 hex chars + NUL into out[33]. */
void worker_request_id(struct worker *w, char *out);

#endif
