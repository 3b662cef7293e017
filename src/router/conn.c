/*
 * conn.c — a client connection: its transport (transport.h), keep-alive,
 * place in the worker's idle LRU, handshake, lingering close, events and
 * deadlines. What it serves, one request at a time, is the exchange
 * (exchange.c); after a 101 it is a tunnel (tunnel.c).
 *
 *                 accept (allow list passed)
 *                    │ on the TLS listener:
 *                    │   TLS ── handshake fails (unknown SNI, no TLS 1.3) / 10 s ──► freed
 *                    │    │ └─ H2: ALPN chose h2 ──► H2 (h2.c: each stream an HTTP/1.1
 *                    │    │                          request upstream) ──► freed, or
 *                    │    │                          LINGER: GOAWAY for a broken limit
 *                    │    │ HANDSHAKE_DONE (xport_handshake OK; a peer: still listed)
 *                    ▼    ▼
 *   ┌────────────► HEAD ── ANSWER_LOCAL: malformed, 408, 404/503/501/metrics ──┐
 *   │                │ └─ H2: the plain port's client sent the HTTP/2           │
 *   │                │        preface (h2c, prior knowledge) ──► H2             │
 *   │                │ ROUTED: head parsed, route found (exchange_start)        ▼
 *   │                ▼                                                        LOCAL
 *   │            PROXY ── ANSWER_LOCAL: 502/504 (connect refused/timeout) ──►  │
 *   │              │ │ ROUTED: the next upstream once; a pooled one failed     │
 *   │              │ │         before any answer: a fresh one                  │
 *   │              │ │ request half:  RQ_HEAD → RQ_BODY → RQ_DONE  (client ─► upstream)
 *   │              │ │ response half: RS_HEAD → RS_BODY → RS_DONE  (upstream ─► client)
 *   │              │ └ UPGRADED: 101 to an Upgrade ──► TUNNEL (both ways) ──► freed
 *   │              ▼                                                           ▼
 *   └── KEEP_ALIVE ┴─────────── the exchange ended: conn_finish() ─────────────┘
 *                  │ LINGER: closing with the client's rest unread
 *                  ▼
 *               LINGER (drain until EOF or 2 s) ──► freed       else closed: freed
 *
 * The arrows, one row of the table each (conn_fsm_next):
 *   TLS   ─HANDSHAKE_DONE─► HEAD   TLS   ─H2─► H2         HEAD  ─H2─► H2
 *   H2    ─LINGER─► LINGER
 *   HEAD  ─ROUTED─► PROXY        HEAD  ─ANSWER_LOCAL─► LOCAL
 *   PROXY ─ROUTED─► PROXY        PROXY ─ANSWER_LOCAL─► LOCAL     PROXY ─UPGRADED─► TUNNEL
 *   PROXY ─KEEP_ALIVE─► HEAD     PROXY ─LINGER─► LINGER
 *   LOCAL ─KEEP_ALIVE─► HEAD     LOCAL ─LINGER─► LINGER
 *
 *   HEAD, LOCAL, PROXY: exchange.c     TUNNEL: tunnel.c     H2: h2.c
 *   TLS, LINGER, keep-alive, the preface check in HEAD: here
 *
 * The names in capitals are the events of enum conn_event: every state
 * change goes through conn_enter(), which takes the next state from that
 * table, so the code cannot take an arrow not drawn here (it aborts);
 * tests/unit/test_conn_fsm.c checks the table against these rows and that
 * there is no other. Which event happens is decided by
 * each step from what its syscalls said, and that is tested end to end
 * (tests/e2e/router.t, tls.t, flood.t, reload.t).
 *
 * Sockets are edge-triggered and registered once for reading and writing;
 * rd_ready/wr_ready remember what the last edge and the last syscall said,
 * and conn_run() steps the machine until nothing more can move. Bodies are
 * streamed through two fixed buffers (client input, upstream input): bytes
 * are written from the buffer they were read into, and reading stops while
 * the other side cannot take more (backpressure).
 *
 * Every step returns STEP_MORE (progress), STEP_WAIT (blocked on a socket)
 * or STEP_FREED (the conn is gone; touch nothing).
 *
 * w->conns is ordered by activity, the most recent first: conn_run moves a
 * connection to the front, so the idle one shed at the cap (conn_shed) is
 * the one nearest the tail.
 */
#include "router/conn.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "common/ev.h"
#include "common/log.h"
#include "common/tls.h"
#include "common/util.h"
#include "router/conn_int.h"
#include "router/h2.h"
#include "router/listener.h"
#include "router/metrics.h"
#include "router/routes.h"
#include "router/upstream.h"
#include "router/worker.h"

#define RUN_STEPS_MAX		10000	/* steps of one conn_run before it stops (step_limit) */
#define STEP_LOG_MS		10000	/* at most one step-limit line per worker this often */

static int conn_step_linger(struct conn *c);
static int conn_step_tls(struct conn *c);
static int peer_admit(struct conn *c);

int64_t
conn_now(const struct conn *c)
{
	return ev_now(c->w->loop);
}

/* ---- the state machine (the diagram above) ---- */

static const char *const state_names[CS_COUNT] = {
	[CS_HEAD] = "head", [CS_LOCAL] = "local", [CS_PROXY] = "proxy",
	[CS_TUNNEL] = "tunnel", [CS_LINGER] = "linger", [CS_TLS] = "tls", [CS_H2] = "h2",
};

/* next[from][event] - 1: 0 (the default) is no arrow. */
static const signed char next_state[CS_COUNT][CE_COUNT] = {
	[CS_TLS] = {
		[CE_HANDSHAKE_DONE] = CS_HEAD + 1,
		[CE_H2] = CS_H2 + 1,
	},
	[CS_HEAD] = {
		[CE_ROUTED] = CS_PROXY + 1,
		[CE_ANSWER_LOCAL] = CS_LOCAL + 1,
		[CE_H2] = CS_H2 + 1,
	},
	[CS_H2] = {
		[CE_LINGER] = CS_LINGER + 1,
	},
	[CS_PROXY] = {
		[CE_ROUTED] = CS_PROXY + 1,
		[CE_ANSWER_LOCAL] = CS_LOCAL + 1,
		[CE_UPGRADED] = CS_TUNNEL + 1,
		[CE_KEEP_ALIVE] = CS_HEAD + 1,
		[CE_LINGER] = CS_LINGER + 1,
	},
	[CS_LOCAL] = {
		[CE_KEEP_ALIVE] = CS_HEAD + 1,
		[CE_LINGER] = CS_LINGER + 1,
	},
	/* CS_TUNNEL and CS_LINGER end in conn_free() alone. */
};

int
conn_fsm_next(enum conn_state from, enum conn_event ev)
{
	if ((unsigned)from >= CS_COUNT || (unsigned)ev >= CE_COUNT)
		return -1;
	return next_state[from][ev] - 1;
}

const char *
conn_state_name(int state)
{
	return state >= 0 && state < CS_COUNT ? state_names[state] : "?";
}

void
conn_enter(struct conn *c, enum conn_event ev)
{
	int to = conn_fsm_next(c->state, ev);

	if (to == -1) {
		log_warnx("BUG: connection from %s: event %d in state %s has no transition",
		    c->peer_ip, (int)ev, conn_state_name(c->state));
		abort();
	}
	c->state = (enum conn_state)to;
}

/* ---- lifecycle ---- */

/* A connection's input buffer: allocated at its first read, given back to
 * the worker when it goes idle between requests with nothing unread, so
 * that 10000 idle keep-alive clients hold no 16 KiB each. */
static void
inbuf_put(struct conn *c)
{
	struct worker *w = c->w;

	if (c->in == NULL)
		return;
	if (w->nspare_in < WORKER_SPARE_BUFS)
		w->spare_in[w->nspare_in++] = c->in;
	else
		free(c->in);
	c->in = NULL;
	c->in_off = c->in_len = 0;
}

static void
inbuf_get(struct conn *c)
{
	struct worker *w = c->w;

	if (c->in == NULL)
		c->in = w->nspare_in > 0 ? w->spare_in[--w->nspare_in] : xmalloc(CONN_BUF);
}

static void conn_event(struct ev_loop *loop, int fd, uint32_t events, void *arg);
static void conn_run(struct conn *c);

/* w->conns is ordered by activity, the most recent first (worker.h). */
static void
conns_push_front(struct worker *w, struct conn *c)
{
	c->prev = NULL;
	c->next = w->conns;
	if (w->conns != NULL)
		w->conns->prev = c;
	else
		w->conns_tail = c;
	w->conns = c;
}

static void
conns_unlink(struct worker *w, struct conn *c)
{
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		w->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	else
		w->conns_tail = c->prev;
	c->prev = c->next = NULL;
}

/* Between requests with no byte of the next one, or still in its TLS
 * handshake: waiting on the client alone, nothing of it is lost by closing. */
static bool
conn_idle(const struct conn *c)
{
	return (c->state == CS_HEAD && c->in_len == c->in_off) || c->state == CS_TLS ||
	    (c->state == CS_H2 && h2_idle(c));
}

void
conn_new(struct worker *w, int fd, const struct sockaddr_in *peer, int kind)
{
	struct conn *c = xcalloc(1, sizeof(*c));
	char err[512];

	c->w = w;
	c->ex.conn = c;
	xport_plain(&c->xp, fd, c->peer_ip);
	c->kind = kind;
	c->peer_addr = ntohl(peer->sin_addr.s_addr);
	inet_ntop(AF_INET, &peer->sin_addr, c->peer_ip, sizeof(c->peer_ip));
	c->state = CS_HEAD;
	if (kind == LK_TLS || kind == LK_PEER) {
		struct tls_ctx *ctx = w->cfg->tls;
		struct tls_conn *t;

		if (kind == LK_PEER) {
			/* The table stays while its context runs the handshake. */
			c->hs_wt = worker_table_hold(w);
			ctx = c->hs_wt->rt->peer_server;
		}
		t = ctx != NULL ? tls_conn_new(ctx, fd, NULL, err, sizeof(err)) : NULL;
		if (t == NULL) {
			if (ctx != NULL)
				log_warnx("TLS client %s: %s", c->peer_ip, err);
			if (kind == LK_PEER)
				M_INC(w->m.peer_handshake_errors);
			worker_table_release(w, c->hs_wt);
			close(fd);
			free(c);
			return;
		}
		tls_conn_set_arg(t, c);
		xport_tls(&c->xp, fd, t, c->peer_ip);
		c->state = CS_TLS;
	}
	buf_init(&c->out, 0);
	buf_init(&c->ex.uhead, 0);
	c->deadline = conn_now(c) + HEAD_TIMEOUT_MS;
	if (ev_add(w->loop, fd, EV_READ | EV_WRITE | EPOLLRDHUP | EPOLLET, conn_event, c) == -1) {
		log_warn("epoll add client");
		tls_conn_free(c->xp.tls);
		worker_table_release(w, c->hs_wt);
		close(fd);
		free(c);
		return;
	}
	conns_push_front(w, c);
	w->nconns++;
	M_INC(w->m.active);
}

void
conn_free(struct conn *c)
{
	struct worker *w = c->w;

	h2_free(c);
	exchange_release(c);
	worker_table_release(w, c->hs_wt);
	c->hs_wt = NULL;
	ev_del(w->loop, c->xp.fd);
	xport_close(&c->xp);
	conns_unlink(w, c);
	w->nconns--;
	M_ADD(w->m.active, (uint64_t)-1);
	buf_free(&c->out);
	buf_free(&c->ex.uhead);
	free(c->ex.path);
	inbuf_put(c);
	free(c);
	if (w->stopping && w->nconns == 0)
		ev_stop(w->loop);
	else
		listener_resume(w);	/* a descriptor and a place under the cap are free */
}

/* ---- keep-alive ---- */

int
conn_finish(struct conn *c)
{
	struct worker *w = c->w;
	bool keep = c->ex.keep && !w->stopping && c->ex.status != 0 && !c->revoked;

	exchange_done(c);
	exchange_release(c);
	if (!keep) {
		if (c->ex.linger) {
			xport_shutdown_wr(&c->xp);
			conn_enter(c, CE_LINGER);
			c->deadline = conn_now(c) + LINGER_MS;
			return STEP_MORE;
		}
		conn_free(c);
		return STEP_FREED;
	}
	buf_reset(&c->out);
	c->out_off = 0;
	c->ex.status = 0;
	c->ex.bytes_in = c->ex.bytes_out = 0;
	conn_enter(c, CE_KEEP_ALIVE);
	if (c->in_off == c->in_len) {
		/* Idle until the next request: it keeps no buffer. */
		inbuf_put(c);
		buf_free(&c->out);
		buf_free(&c->ex.uhead);
	}
	c->parse_pending = c->in_len > c->in_off;
	c->deadline = conn_now(c) + (c->parse_pending ? HEAD_TIMEOUT_MS :
	    c->w->cfg->idle_timeout_ms);
	return STEP_MORE;
}

/* ---- client I/O ---- */

int
conn_flush_out(struct conn *c)
{
	while (c->out_off < c->out.len) {
		size_t want = c->out.len - c->out_off;
		ssize_t n;

		if (!c->wr_ready)
			return STEP_WAIT;
		n = xport_write(&c->xp, c->out.data + c->out_off, want);
		if (n > 0) {
			c->out_off += (size_t)n;
			c->ex.bytes_out += (uint64_t)n;
			if ((size_t)n < want)
				c->wr_ready = false;
		} else if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			c->wr_ready = false;
		} else if (n == -1 && errno == EINTR) {
			continue;
		} else {
			return -1;
		}
	}
	return STEP_MORE;
}

int
conn_read(struct conn *c)
{
	ssize_t n;

	if (!c->rd_ready)
		return 0;
	inbuf_get(c);
	n = xport_fill(&c->xp, c->in, CONN_BUF, &c->in_off, &c->in_len, &c->rd_ready);
	if (n > 0) {
		if (memchr(c->in + c->in_len - (size_t)n, '\n', (size_t)n) != NULL)
			c->parse_pending = true;
		c->ex.bytes_in += (uint64_t)n;
		return 1;
	}
	if (n == XPORT_EOF)
		c->rd_eof = true;
	return n == 0 ? 0 : -1;
}

/* After a refusal: our FIN is out; read and drop what the client still
 * sends so that our answer is not lost to a reset, until EOF or timeout. */
static int
conn_step_linger(struct conn *c)
{
	char junk[4096];

	while (c->rd_ready) {
		ssize_t n = read(c->xp.fd, junk, sizeof(junk));

		if (n > 0)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			c->rd_ready = false;
			break;
		}
		if (n == -1 && errno == EINTR)
			continue;
		conn_free(c);
		return STEP_FREED;
	}
	return STEP_WAIT;
}

/* ---- HTTP/2 (h2.c serves it) ---- */

/* ALPN said h2, or the client's first bytes are the HTTP/2 preface. */
static int
conn_begin_h2(struct conn *c)
{
	if (h2_begin(c) == -1) {
		log_warnx("HTTP/2 client %s: no session could be made", c->peer_ip);
		conn_free(c);
		return STEP_FREED;
	}
	conn_enter(c, CE_H2);
	c->rd_ready = true;	/* OpenSSL may hold bytes read with the handshake */
	return STEP_MORE;
}

/* CS_HEAD on the plain listener: a connection that opens with the preface
 * is h2c (prior knowledge); one that has sent part of it waits for the rest. */
static int
conn_step_head(struct conn *c)
{
	int pf;

	if (c->kind != LK_PLAIN || c->in_len == c->in_off)
		return exchange_step_head(c);
	pf = h2_preface(c->in + c->in_off, c->in_len - c->in_off);
	if (pf == 1)
		return conn_begin_h2(c);
	if (pf == -1)
		return exchange_step_head(c);
	pf = conn_read(c);
	if (pf == -1) {
		conn_free(c);
		return STEP_FREED;
	}
	return pf == 1 ? STEP_MORE : STEP_WAIT;
}

void
conn_kick(struct conn *c)
{
	conn_run(c);
}

int
conn_linger(struct conn *c)
{
	xport_shutdown_wr(&c->xp);
	conn_enter(c, CE_LINGER);
	c->deadline = conn_now(c) + LINGER_MS;
	return STEP_MORE;
}

/* ---- the handshake (TLS; a plain client has none) ---- */

const struct tls_id *
conn_tls_pick(void *arg, const char *sni)
{
	struct conn *c = arg;
	const struct route_host *h;

	if (sni == NULL)
		return NULL;
	h = routes_lookup(c->w->cur->rt, sni, strlen(sni));
	return h != NULL ? h->tls : NULL;
}

/* Refusals are the client's to see (an alert) and counted; a line each
 * would let any scanner fill the log, so they are said with --verbose. */
static int
conn_step_tls(struct conn *c)
{
	struct worker *w = c->w;
	short want = xport_wants(&c->xp);
	int r;

	if (!((want & POLLIN) && c->rd_ready) && !((want & POLLOUT) && c->wr_ready))
		return STEP_WAIT;
	r = xport_handshake(&c->xp);
	if (r == CX_OK && c->kind == LK_PEER)
		return peer_admit(c);
	if (r == CX_OK) {
		char proto[8];

		M_INC(w->m.tls_handshakes);
		if (tls_conn_alpn(c->xp.tls, proto, sizeof(proto)) != NULL &&
		    strcmp(proto, "h2") == 0)
			return conn_begin_h2(c);
		conn_enter(c, CE_HANDSHAKE_DONE);
		c->deadline = conn_now(c) + HEAD_TIMEOUT_MS;
		return STEP_MORE;
	}
	if (r == CX_AGAIN) {
		if (xport_wants(&c->xp) & POLLIN)
			c->rd_ready = false;
		else
			c->wr_ready = false;
		return STEP_WAIT;
	}
	if (c->kind == LK_PEER) {
		M_INC(w->m.peer_handshake_errors);
		log_debug("peer client %s: %s", c->peer_ip, tls_conn_error(c->xp.tls));
	} else {
		M_INC(w->m.tls_handshake_errors);
		log_debug("TLS client %s: %s", c->peer_ip, tls_conn_error(c->xp.tls));
	}
	conn_free(c);
	return STEP_FREED;
}

/* Whether the peer c proved is in w's current table, with the same CA. */
static bool
peer_current(const struct conn *c)
{
	const struct route_peer *p = routes_peer(c->w->cur->rt, c->peer_rack);

	return p != NULL && p->ca != NULL && strcmp(p->ca_fp, c->peer_fp) == 0;
}

/* A peer's handshake is done: it proved c->peer_rack by the table it
 * began on; a reload since may have removed that peer. */
static int
peer_admit(struct conn *c)
{
	struct worker *w = c->w;
	const char *name = tls_conn_peer_name(c->xp.tls);
	const struct route_peer *p = name != NULL ? routes_peer(c->hs_wt->rt, name) : NULL;

	if (p != NULL) {
		str_copy(c->peer_rack, sizeof(c->peer_rack), name);
		str_copy(c->peer_fp, sizeof(c->peer_fp), p->ca_fp);
	}
	worker_table_release(w, c->hs_wt);
	c->hs_wt = NULL;
	if (p == NULL || !peer_current(c)) {
		M_INC(w->m.peer_handshake_errors);
		log_debug("peer client %s: %s is no longer a peer", c->peer_ip,
		    name != NULL ? name : "(none)");
		conn_free(c);
		return STEP_FREED;
	}
	M_INC(w->m.peer_handshakes);
	conn_enter(c, CE_HANDSHAKE_DONE);
	c->deadline = conn_now(c) + HEAD_TIMEOUT_MS;
	return STEP_MORE;
}

void
conn_peers_recheck(struct worker *w)
{
	struct conn *c, *next;

	for (c = w->conns; c != NULL; c = next) {
		next = c->next;
		if (c->kind != LK_PEER || c->state == CS_TLS || c->revoked || peer_current(c))
			continue;
		M_INC(w->m.peer_revoked);
		log_info("peer %s (%s) is no longer a peer: closing its connection", c->peer_rack,
		    c->peer_ip);
		if ((c->state == CS_HEAD && c->in_len == c->in_off) || c->state == CS_TUNNEL ||
		    c->state == CS_LINGER) {
			exchange_done(c);
			conn_free(c);
			continue;
		}
		/* A request is on its way: its answer may finish, for 5 s at most. */
		c->revoked = true;
		c->ex.keep = false;
		if (c->deadline == 0 || c->deadline > conn_now(c) + REVOKE_GRACE_MS)
			c->deadline = conn_now(c) + REVOKE_GRACE_MS;
	}
}


/* ---- events, timeouts ---- */

/*
 * A conn still had work after RUN_STEPS_MAX steps on one event: a client
 * pipelining thousands of small requests reaches this, and so would a step
 * that loops. It stops stepping until its next event or its deadline.
 * Counted always, said at most once per STEP_LOG_MS per worker.
 */
static void
step_limit(struct conn *c)
{
	static _Thread_local int64_t next_log;
	static _Thread_local unsigned long quiet;
	struct worker *w = c->w;

	M_INC(w->m.step_limits);
	if (conn_now(c) < next_log) {
		quiet++;
		return;
	}
	next_log = conn_now(c) + STEP_LOG_MS;
	log_warnx("connection from %s stopped after %d steps without waiting: state %s, rq %d,"
	    " rs %d, host \"%s\", %zu bytes in, %zu out, rd %d wr %d eof %d (%lu more since"
	    " the last such line)", c->peer_ip, RUN_STEPS_MAX,
	    conn_state_name(c->state), c->ex.rq, c->ex.rs,
	    c->ex.hostname, c->in_len - c->in_off, c->out.len - c->out_off, c->rd_ready,
	    c->wr_ready, c->rd_eof, quiet);
	quiet = 0;
}

static void
conn_run(struct conn *c)
{
	if (c->w->conns != c) {
		conns_unlink(c->w, c);
		conns_push_front(c->w, c);
	}
	for (int guard = 0; guard < RUN_STEPS_MAX; guard++) {
		int r;

		switch (c->state) {
		case CS_HEAD:
			r = conn_step_head(c);
			break;
		case CS_H2:
			r = h2_step(c);
			break;
		case CS_LOCAL:
			r = exchange_step_local(c);
			break;
		case CS_PROXY:
			r = exchange_step_proxy(c);
			break;
		case CS_TUNNEL:
			r = tunnel_step(c);
			break;
		case CS_LINGER:
			r = conn_step_linger(c);
			break;
		case CS_TLS:
			r = conn_step_tls(c);
			break;
		default:
			r = STEP_WAIT;
			break;
		}
		if (r != STEP_MORE)
			return;
	}
	step_limit(c);
}

static void
conn_event(struct ev_loop *loop, int fd, uint32_t events, void *arg)
{
	struct conn *c = arg;

	(void)loop;
	(void)fd;
	xport_events(&c->xp, events, &c->rd_ready, &c->wr_ready);
	conn_run(c);
}

void
conn_upstream_event(struct exchange *ex, struct upconn *uc, uint32_t events)
{
	struct conn *c = ex->conn;

	xport_events(&uc->xp, events, &uc->rd_ready, &uc->wr_ready);
	if (events & EV_ERROR)
		uc->err = !uc->connected || uc->err;
	conn_run(c);
}

static void
conn_timeout(struct conn *c)
{
	struct worker *w = c->w;

	if (c->revoked) {
		exchange_done(c);
		conn_free(c);
		return;
	}
	switch (c->state) {
	case CS_HEAD:
		if (c->in_len > c->in_off) {
			M_INC(w->m.client_timeouts);
			exchange_refuse_head(c, 408, "request head not received in time\n");
			conn_run(c);
			return;
		}
		conn_free(c);
		return;
	case CS_TLS:
		M_INC(w->m.tls_handshake_errors);
		log_debug("TLS client %s: no handshake in %d ms", c->peer_ip, HEAD_TIMEOUT_MS);
		conn_free(c);
		return;
	case CS_PROXY:
		if (exchange_timeout(c) != STEP_FREED)
			conn_run(c);
		return;
	case CS_H2:
		if (h2_timeout(c) != STEP_FREED)
			conn_run(c);
		return;
	default:
		exchange_done(c);
		conn_free(c);
		return;
	}
}

void
conn_sweep(struct worker *w, int64_t t)
{
	struct conn *c, *next;

	for (c = w->conns; c != NULL; c = next) {
		next = c->next;
		if (c->deadline != 0 && t >= c->deadline)
			conn_timeout(c);
	}
}

void
conn_close_idle(struct worker *w)
{
	struct conn *c, *next;

	for (c = w->conns; c != NULL; c = next) {
		next = c->next;
		if (conn_idle(c))
			conn_free(c);
	}
}

struct conn *
conn_oldest_idle(struct worker *w)
{
	for (struct conn *c = w->conns_tail; c != NULL; c = c->prev) {
		if (conn_idle(c))
			return c;
	}
	return NULL;
}

void
conn_shed(struct conn *c)
{
	struct worker *w = c->w;

	M_INC(w->m.conns_shed);
	w->shed++;
	log_debug("shedding the idle connection from %s (%zu open, the cap)", c->peer_ip,
	    w->nconns);
	conn_free(c);
}

void
conn_close_all(struct worker *w)
{
	while (w->conns != NULL) {
		exchange_done(w->conns);
		conn_free(w->conns);
	}
	while (w->nspare_in > 0)
		free(w->spare_in[--w->nspare_in]);
}
