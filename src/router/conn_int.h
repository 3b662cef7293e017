/*
 * conn_int.h — what conn.c (the client connection), exchange.c (one request
 * and its response), tunnel.c (bytes both ways after 101) and h2.c (HTTP/2)
 * share: the two structs, the states, and the few steps each calls in the
 * others. Nothing outside those four files includes it (but the unit test of the state
 * machine, test_conn_fsm.c); the rest of the router sees conn.h.
 *
 * struct conn is the client connection: its transport, readiness, buffers,
 * place in the worker's activity list (the idle LRU), the handshake and the
 * peer it proved. struct exchange is the request it serves now (HTTP/1.1
 * serves one at a time, so it is embedded: no allocation per request); an
 * HTTP/2 connection holds h2.c's small struct h2_stream per stream instead.
 */
#ifndef CX_ROUTER_CONN_INT_H
#define CX_ROUTER_CONN_INT_H

#include <arpa/inet.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "common/http1.h"
#include "common/tls.h"
#include "common/util.h"
#include "router/conn.h"
#include "router/routes.h"
#include "router/transport.h"

#define CONN_BUF		(16 * 1024)
#define MAX_HEAD		CONN_BUF
#define HEAD_TIMEOUT_MS		10000
#define BODY_TIMEOUT_MS		60000
#define LINGER_MS		2000
#define REVOKE_GRACE_MS		5000	/* a removed peer's request in flight may finish */
#define TUNNEL_TIMEOUT_MS	3600000
#define CONNECT_TIMEOUT_MS	5000
#define DECHUNK_MAX		(64 * 1024)
#define LOG_PATH_MAX		1024

/* What a step returns: progress, blocked on a socket, or the conn is gone
 * (touch nothing). */
enum { STEP_WAIT, STEP_MORE, STEP_FREED };
/* The connection's states (the diagram is atop conn.c). */
enum conn_state { CS_HEAD, CS_LOCAL, CS_PROXY, CS_TUNNEL, CS_LINGER, CS_TLS, CS_H2, CS_COUNT };
/* What moves a connection from one state to another: each state change
 * goes through conn_enter(), which takes the next state from the table of
 * conn_fsm_next() (tests/unit/test_conn_fsm.c checks it against the
 * diagram). Being freed is no state: the conn is gone. */
enum conn_event {
	CE_HANDSHAKE_DONE,	/* TLS -> HEAD */
	CE_ROUTED,		/* HEAD -> PROXY; PROXY -> PROXY: another upstream or a fresh one */
	CE_ANSWER_LOCAL,	/* HEAD, PROXY -> LOCAL: 404/503/..., a refusal, 502/504 */
	CE_UPGRADED,		/* PROXY -> TUNNEL: 101 to an Upgrade */
	CE_KEEP_ALIVE,		/* LOCAL, PROXY -> HEAD: the exchange ended, the next one */
	CE_LINGER,		/* LOCAL, PROXY, H2 -> LINGER: ended with a close, drain the rest */
	CE_H2,			/* TLS -> H2: ALPN chose h2; HEAD -> H2: the HTTP/2 preface (h2c) */
	CE_COUNT
};
/* The two halves of a proxied exchange (exchange.c). */
enum { RQ_HEAD, RQ_BODY, RQ_DONE };
enum { RS_HEAD, RS_BODY, RS_DONE };
enum { BK_NONE, BK_LENGTH, BK_CHUNKED, BK_CLOSE };

/* One request and its answer (valid from exchange_start to conn_finish). */
struct exchange {
	struct conn *conn;		/* the connection it runs on */
	bool active;			/* a request was read (it gets logged) */
	struct wtable *wt;
	const struct route_host *host;
	size_t up_idx;
	struct upstream *upstream;
	struct upconn *uc;
	int attempts;
	bool retried;
	char hostname[ROUTES_MAX_HOST + 1];
	char method[24];
	char *path;			/* for the access log, when on */
	char reqid[72];
	int minor;
	bool head_req, keep, upgrade, linger;
	bool origin_slash;		/* absolute-form target without a path: add "/" */
	struct timespec t0;
	double up_ms;
	struct timespec up_t0;

	int rq, rq_body;
	uint64_t rq_left;		/* BK_LENGTH: body bytes not yet sent */
	struct http_chunked rq_ck;
	size_t rq_ready;		/* body bytes at in[in_off] ready to send */
	bool rq_end;			/* chunked: the body's end is in the buffer */
	bool rq_sent_body;		/* some body left the buffer: no retry */
	struct buf uhead;		/* the head we send upstream */
	size_t uhead_off;

	int rs, rs_body;
	uint64_t rs_left;
	struct http_chunked rs_ck;
	size_t rs_ready;		/* body bytes at uc->in[uc->off] ready to send */
	bool rs_end, dechunk, up_reusable, resp_started;
	bool tun_ceof, tun_ueof;	/* tunnel: EOF from the client / the upstream */

	int status;
	uint64_t bytes_in, bytes_out;
};

struct conn {
	struct worker *w;
	struct conn *prev, *next;	/* w->conns, the most recently active first */
	struct xport xp;		/* plain or TLS, to the client */
	int kind;			/* enum listen_kind: the listener it came in on */
	/* LK_PEER: the table whose peer context runs the handshake (held
	 * until it ends), then the peer rack proved, its CA's fingerprint, and
	 * whether a reload removed it (close when the request ends). */
	struct wtable *hs_wt;
	char peer_rack[TLS_PEER_NAME_MAX];
	char peer_fp[TLS_FINGERPRINT_SIZE];
	bool revoked;
	uint32_t peer_addr;		/* host order */
	char peer_ip[INET_ADDRSTRLEN];
	enum conn_state state;
	bool rd_ready, wr_ready, rd_eof;
	bool parse_pending;		/* new line ends arrived since the last parse */
	int64_t deadline;		/* ms, 0 = none */

	/* Bytes from the client: unconsumed ones are in[in_off..in_len). */
	char *in;
	size_t in_off, in_len;
	/* Bytes to the client that we made: heads, local answers, dechunked data. */
	struct buf out;
	size_t out_off;

	struct exchange ex;
	struct h2 *h2;			/* CS_H2: the session and its streams (h2.c) */
};

/* ---- conn.c: the connection ---- */

/* The state ev leads to from state from, or -1 when the diagram has no such
 * arrow. Pure: the transition table. */
int conn_fsm_next(enum conn_state from, enum conn_event ev);
/* The state's name ("head", "tls", ...), "?" for none. */
const char *conn_state_name(int state);
/* c takes the transition ev from its state; one the diagram does not draw
 * is a bug in the router: it is logged and the process aborts. */
void conn_enter(struct conn *c, enum conn_event ev);

int64_t conn_now(const struct conn *c);
/* Closes the client, its upstream connection and tables; c is gone. */
void conn_free(struct conn *c);
/* The exchange ended: the next request on a kept-alive connection, a
 * lingering close, or the conn is freed (STEP_FREED). */
int conn_finish(struct conn *c);
/* Reads from the client into in[]; 1 read, 0 nothing now, -1 EOF/error. */
int conn_read(struct conn *c);
/* Runs c's steps now (an event of something it waits on: h2.c's upstreams). */
void conn_kick(struct conn *c);
/* Our last bytes are out: FIN, then drop what the client still sends for
 * LINGER_MS (so that they are not lost to a reset); STEP_MORE. */
int conn_linger(struct conn *c);
/* Writes out[out_off..] to the client. STEP_MORE when all is written,
 * STEP_WAIT, -1 on error. */
int conn_flush_out(struct conn *c);

/* ---- exchange.c: one request ---- */

/* CS_HEAD: parse what the client sent; a whole head starts the exchange. */
int exchange_step_head(struct conn *c);
/* CS_LOCAL: send the answer the router made. */
int exchange_step_local(struct conn *c);
/* CS_PROXY: connect, then the request half and the response half. */
int exchange_step_proxy(struct conn *c);
/* A head that cannot be served (malformed, 408): answer status with body
 * and close; nothing after it is trusted. */
int exchange_refuse_head(struct conn *c, int status, const char *body);
/* A deadline of CS_PROXY passed: the next upstream, 504, or cut. */
int exchange_timeout(struct conn *c);
/* Counts and logs the exchange (once), frees what it held for the log. */
void exchange_done(struct conn *c);
/* Gives back the upstream connection and the route table. */
void exchange_release(struct conn *c);

/* ---- tunnel.c: after 101 Switching Protocols ---- */

/* The upstream agreed to an Upgrade: c becomes a tunnel. */
void tunnel_begin(struct conn *c);
/* CS_TUNNEL: bytes both ways until both ends closed. */
int tunnel_step(struct conn *c);

#endif
