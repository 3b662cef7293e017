/*
 * conn.c — a client connection and the request it is serving.
 *
 *                 accept (allow list passed)
 *                    │ on the TLS listener:
 *                    │   TLS ── handshake fails (unknown SNI, no TLS 1.3) / 10 s ──► freed
 *                    │    │ handshake done (tls_conn_handshake OK)
 *                    ▼    ▼
 *   ┌────────────► HEAD ── malformed / 408 ───────────────┐
 *   │    next        │ head parsed                         │
 *   │  request       ▼                                     ▼
 *   │          start_request ── 404/503/501/metrics ──► LOCAL ── close ──► LINGER ──► freed
 *   │                │ route found                         │   (close)        (drain, EOF or 2 s)
 *   │                ▼                                     │
 *   │            PROXY:  connect ─ refused/timeout ─► next upstream once, else 502/504 ─► LOCAL
 *   │                │   request half:  RQ_HEAD → RQ_BODY → RQ_DONE   (client ─► upstream)
 *   │                │   response half: RS_HEAD → RS_BODY → RS_DONE   (upstream ─► client)
 *   │                │   no answer in TIMEOUT_S ─► 504 ─► LOCAL
 *   │                │   101 to an Upgrade ─► TUNNEL (bytes both ways) ─► freed
 *   │                ▼
 *   └──── keep-alive ┴ both halves done (else closed)
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
 * A TLS client differs only in c->tls: the client_* helpers read and write
 * through it when it is set (one pointer check on the plain path). They keep
 * the plain path's meaning of a short read or write (the socket is drained
 * or full) by looping until OpenSSL says it must wait; when TLS must write
 * to go on reading (or read to go on writing), the other direction's event
 * makes the blocked one ready again (tls_rd_on_wr, tls_wr_on_rd).
 */
#include "router/conn.h"

#include <ctype.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "common/ev.h"
#include "common/http1.h"
#include "common/log.h"
#include "common/tls.h"
#include "common/util.h"
#include "router/balance.h"
#include "router/listener.h"
#include "router/metrics.h"
#include "router/routes.h"
#include "router/upstream.h"
#include "router/worker.h"

#define CONN_BUF		(16 * 1024)
#define MAX_HEAD		CONN_BUF
#define HEAD_TIMEOUT_MS		10000
#define IDLE_TIMEOUT_MS		60000
#define BODY_TIMEOUT_MS		60000
#define LINGER_MS		2000
#define REVOKE_GRACE_MS		5000	/* a removed peer's request in flight may finish */
#define TUNNEL_TIMEOUT_MS	3600000
#define CONNECT_TIMEOUT_MS	5000
#define DECHUNK_MAX		(64 * 1024)
#define LOG_PATH_MAX		1024
#define RUN_STEPS_MAX		10000	/* steps of one conn_run before it stops (step_limit) */
#define STEP_LOG_MS		10000	/* at most one step-limit line per worker this often */

enum { STEP_WAIT, STEP_MORE, STEP_FREED };
enum conn_state { CS_HEAD, CS_LOCAL, CS_PROXY, CS_TUNNEL, CS_LINGER, CS_TLS };
enum { RQ_HEAD, RQ_BODY, RQ_DONE };
enum { RS_HEAD, RS_BODY, RS_DONE };
enum { BK_NONE, BK_LENGTH, BK_CHUNKED, BK_CLOSE };

struct conn {
	struct worker *w;
	struct conn *prev, *next;
	int fd;
	int kind;			/* enum listen_kind: the listener it came in on */
	struct tls_conn *tls;		/* NULL: plain HTTP */
	bool tls_rd_on_wr, tls_wr_on_rd;	/* a TLS read waits to write, a write to read */
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

	/* The request being served (valid from start_request to finish_request). */
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
	bool tun_ceof, tun_ueof;

	int status;
	uint64_t bytes_in, bytes_out;
};

static int conn_step_head(struct conn *c);
static int conn_step_local(struct conn *c);
static int conn_step_proxy(struct conn *c);
static int conn_step_tunnel(struct conn *c);
static int conn_step_linger(struct conn *c);
static int conn_step_tls(struct conn *c);
static int peer_admit(struct conn *c);
static void client_shutdown_wr(struct conn *c);
static int proxy_connect(struct conn *c, struct upstream *u, bool fresh);

static int64_t
now(const struct conn *c)
{
	return ev_now(c->w->loop);
}

static int
host_timeout_ms(const struct conn *c)
{
	return c->host != NULL ? c->host->timeout_s * 1000 : 60000;
}

/* ---- lifecycle ---- */

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
	return (c->state == CS_HEAD && c->in_len == c->in_off) || c->state == CS_TLS;
}

void
conn_new(struct worker *w, int fd, const struct sockaddr_in *peer, int kind)
{
	struct conn *c = xcalloc(1, sizeof(*c));
	char err[512];

	c->w = w;
	c->fd = fd;
	c->kind = kind;
	c->peer_addr = ntohl(peer->sin_addr.s_addr);
	inet_ntop(AF_INET, &peer->sin_addr, c->peer_ip, sizeof(c->peer_ip));
	c->state = CS_HEAD;
	if (kind == LK_TLS || kind == LK_PEER) {
		struct tls_ctx *ctx = w->cfg->tls;

		if (kind == LK_PEER) {
			/* The table stays while its context runs the handshake. */
			c->hs_wt = worker_table_hold(w);
			ctx = c->hs_wt->rt->peer_server;
		}
		c->tls = ctx != NULL ? tls_conn_new(ctx, fd, NULL, err, sizeof(err)) : NULL;
		if (c->tls == NULL) {
			if (ctx != NULL)
				log_warnx("TLS client %s: %s", c->peer_ip, err);
			if (kind == LK_PEER)
				M_INC(w->m.peer_handshake_errors);
			worker_table_release(w, c->hs_wt);
			close(fd);
			free(c);
			return;
		}
		tls_conn_set_arg(c->tls, c);
		c->state = CS_TLS;
	}
	c->in = xmalloc(CONN_BUF);
	buf_init(&c->out, 0);
	buf_init(&c->uhead, 0);
	c->deadline = now(c) + HEAD_TIMEOUT_MS;
	if (ev_add(w->loop, fd, EV_READ | EV_WRITE | EPOLLRDHUP | EPOLLET, conn_event, c) == -1) {
		log_warn("epoll add client");
		tls_conn_free(c->tls);
		worker_table_release(w, c->hs_wt);
		close(fd);
		free(c->in);
		free(c);
		return;
	}
	conns_push_front(w, c);
	w->nconns++;
	M_INC(w->m.active);
}

static void
conn_free(struct conn *c)
{
	struct worker *w = c->w;

	if (c->uc != NULL) {
		upstream_close(w, c->uc);
		c->uc = NULL;
	}
	worker_table_release(w, c->wt);
	c->wt = NULL;
	worker_table_release(w, c->hs_wt);
	c->hs_wt = NULL;
	ev_del(w->loop, c->fd);
	if (c->tls != NULL) {
		tls_conn_close_notify(c->tls);
		tls_conn_free(c->tls);
		c->tls = NULL;
	}
	close(c->fd);
	conns_unlink(w, c);
	w->nconns--;
	M_ADD(w->m.active, (uint64_t)-1);
	buf_free(&c->out);
	buf_free(&c->uhead);
	free(c->path);
	free(c->in);
	free(c);
	if (w->stopping && w->nconns == 0)
		ev_stop(w->loop);
	else
		listener_resume(w);	/* a descriptor and a place under the cap are free */
}

/* ---- logging and metrics of one request ---- */

static void
request_done(struct conn *c)
{
	struct worker *w = c->w;
	const struct route_host *h = c->host;
	struct host_stats *hs;

	if (!c->active)
		return;
	c->active = false;
	M_INC(w->m.requests);
	if (h != NULL) {
		hs = h->wstats[w->id];
		if (hs == NULL) {
			hs = metrics_host(&w->m, h->name, h->app, h->service);
			((struct route_host *)h)->wstats[w->id] = hs;
		}
	} else {
		hs = w->unknown_stats;
	}
	metrics_count(hs, c->status, c->bytes_in, c->bytes_out);
	if (w->al.fd != -1) {
		struct access_entry e = {
			.rack = w->cfg->rack,
			.router = w->cfg->name,
			.app = h ? h->app : "",
			.service = h ? h->service : "",
			.process = h && c->upstream ? h->ups[c->up_idx].id : "",
			.host = c->hostname,
			.method = c->method,
			.path = c->path,
			.client = c->peer_ip,
			.upstream = c->upstream ? c->upstream->name : "",
			.request_id = c->reqid,
			.status = c->status,
			.bytes_in = c->bytes_in,
			.bytes_out = c->bytes_out,
			.duration_ms = ms_since(&c->t0),
			.upstream_ms = c->upstream ? c->up_ms : -1,
		};
		accesslog_add(&w->al, &e);
	}
	free(c->path);
	c->path = NULL;
}

/* Ends the request: next one on a kept-alive connection, else close. */
static int
finish_request(struct conn *c)
{
	struct worker *w = c->w;
	bool keep = c->keep && !w->stopping && c->status != 0 && !c->revoked;

	request_done(c);
	if (c->uc != NULL) {
		upstream_close(w, c->uc);
		c->uc = NULL;
	}
	worker_table_release(w, c->wt);
	c->wt = NULL;
	c->host = NULL;
	c->upstream = NULL;
	if (!keep) {
		if (c->linger) {
			client_shutdown_wr(c);
			c->state = CS_LINGER;
			c->deadline = now(c) + LINGER_MS;
			return STEP_MORE;
		}
		conn_free(c);
		return STEP_FREED;
	}
	buf_reset(&c->out);
	c->out_off = 0;
	c->status = 0;
	c->bytes_in = c->bytes_out = 0;
	c->state = CS_HEAD;
	if (c->in_off == c->in_len)
		c->in_off = c->in_len = 0;
	c->parse_pending = c->in_len > c->in_off;
	c->deadline = now(c) + (c->parse_pending ? HEAD_TIMEOUT_MS : IDLE_TIMEOUT_MS);
	return STEP_MORE;
}

/* ---- socket helpers ---- */

/* TLS behind client_read and upstream_read: reads until n bytes or until
 * OpenSSL must wait, so that a short count means drained, as for read(2).
 * *rd_on_wr is set when the read waits for the socket to take a write;
 * who names the other end in debug lines. */
static ssize_t
tls_read_some(struct tls_conn *t, bool *rd_on_wr, const char *who, char *p, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = tls_conn_read(t, p + got, n - got);

		if (r > 0) {
			got += (size_t)r;
			continue;
		}
		if (got > 0)
			return (ssize_t)got;	/* the EOF, error or wait comes next call */
		if (r == 0)
			return 0;
		if (r == CX_AGAIN && tls_conn_events(t) == POLLOUT)
			*rd_on_wr = true;
		errno = r == CX_AGAIN ? EAGAIN : ECONNRESET;
		if (r == CX_ERR)
			log_debug("TLS %s: %s", who, tls_conn_error(t));
		return -1;
	}
	return (ssize_t)got;
}

/* TLS behind the writes: writes until all of p or until OpenSSL must wait,
 * so that a short count means the socket is full, as for write(2). */
static ssize_t
tls_write_some(struct tls_conn *t, bool *wr_on_rd, const char *who, const char *p, size_t n)
{
	size_t put = 0;

	while (put < n) {
		ssize_t r = tls_conn_write(t, p + put, n - put);

		if (r > 0) {
			put += (size_t)r;
			continue;
		}
		if (put > 0)
			return (ssize_t)put;
		if (r == CX_AGAIN && tls_conn_events(t) == POLLIN)
			*wr_on_rd = true;
		errno = r == CX_AGAIN ? EAGAIN : EPIPE;
		if (r == CX_ERR)
			log_debug("TLS %s: %s", who, tls_conn_error(t));
		return -1;
	}
	return (ssize_t)put;
}

/* writev through TLS: small pieces go as one record (a head and its body),
 * large ones in turn. */
static ssize_t
tls_writev_some(struct tls_conn *t, bool *wr_on_rd, const char *who, const struct iovec *iov,
    int cnt)
{
	char one[CONN_BUF];
	size_t total = 0, put = 0;

	for (int i = 0; i < cnt; i++)
		total += iov[i].iov_len;
	if (cnt > 1 && total <= sizeof(one)) {
		for (int i = 0; i < cnt; i++) {
			memcpy(one + put, iov[i].iov_base, iov[i].iov_len);
			put += iov[i].iov_len;
		}
		return tls_write_some(t, wr_on_rd, who, one, total);
	}
	put = 0;
	for (int i = 0; i < cnt; i++) {
		ssize_t r = tls_write_some(t, wr_on_rd, who, iov[i].iov_base, iov[i].iov_len);

		if (r < 0)
			return put > 0 ? (ssize_t)put : r;
		put += (size_t)r;
		if ((size_t)r < iov[i].iov_len)
			break;
	}
	return (ssize_t)put;
}

/* read(2), write(2), writev(2) and shutdown(SHUT_WR) on the client,
 * through TLS when the client speaks it. */
static inline ssize_t
client_read(struct conn *c, char *p, size_t n)
{
	if (c->tls != NULL)
		return tls_read_some(c->tls, &c->tls_rd_on_wr, c->peer_ip, p, n);
	return read(c->fd, p, n);
}

static inline ssize_t
client_write(struct conn *c, const char *p, size_t n)
{
	if (c->tls != NULL)
		return tls_write_some(c->tls, &c->tls_wr_on_rd, c->peer_ip, p, n);
	return write(c->fd, p, n);
}

static inline ssize_t
client_writev(struct conn *c, const struct iovec *iov, int cnt)
{
	if (c->tls != NULL)
		return tls_writev_some(c->tls, &c->tls_wr_on_rd, c->peer_ip, iov, cnt);
	return writev(c->fd, iov, cnt);
}

/* The same on an upstream connection. */
static inline ssize_t
upstream_read(struct upconn *uc, char *p, size_t n)
{
	if (uc->tls != NULL)
		return tls_read_some(uc->tls, &uc->tls_rd_on_wr, uc->up->name, p, n);
	return read(uc->fd, p, n);
}

static inline ssize_t
upstream_write(struct upconn *uc, const char *p, size_t n)
{
	if (uc->tls != NULL)
		return tls_write_some(uc->tls, &uc->tls_wr_on_rd, uc->up->name, p, n);
	return write(uc->fd, p, n);
}

static inline ssize_t
upstream_writev(struct upconn *uc, const struct iovec *iov, int cnt)
{
	if (uc->tls != NULL)
		return tls_writev_some(uc->tls, &uc->tls_wr_on_rd, uc->up->name, iov, cnt);
	return writev(uc->fd, iov, cnt);
}

static void
upstream_shutdown_wr(struct upconn *uc)
{
	if (uc->tls != NULL)
		tls_conn_close_notify(uc->tls);
	shutdown(uc->fd, SHUT_WR);
}

static void
client_shutdown_wr(struct conn *c)
{
	if (c->tls != NULL)
		tls_conn_close_notify(c->tls);
	shutdown(c->fd, SHUT_WR);
}

/* Writes out[out_off..] to the client. STEP_MORE when all is written. */
static int
flush_out(struct conn *c)
{
	while (c->out_off < c->out.len) {
		size_t want = c->out.len - c->out_off;
		ssize_t n;

		if (!c->wr_ready)
			return STEP_WAIT;
		n = client_write(c, c->out.data + c->out_off, want);
		if (n > 0) {
			c->out_off += (size_t)n;
			c->bytes_out += (uint64_t)n;
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

/* Reads from the client into in[]; 1 read, 0 nothing now, -1 EOF/error. */
static int
read_client(struct conn *c)
{
	size_t space;
	ssize_t n;

	if (!c->rd_ready)
		return 0;
	if (c->in_off == c->in_len) {
		c->in_off = c->in_len = 0;
	} else if (c->in_len == CONN_BUF && c->in_off > 0) {
		memmove(c->in, c->in + c->in_off, c->in_len - c->in_off);
		c->in_len -= c->in_off;
		c->in_off = 0;
	}
	space = CONN_BUF - c->in_len;
	if (space == 0)
		return 0;
	n = client_read(c, c->in + c->in_len, space);
	if (n > 0) {
		if (memchr(c->in + c->in_len, '\n', (size_t)n) != NULL)
			c->parse_pending = true;
		c->in_len += (size_t)n;
		c->bytes_in += (uint64_t)n;
		if ((size_t)n < space)
			c->rd_ready = false;
		return 1;
	}
	if (n == 0) {
		c->rd_eof = true;
		return -1;
	}
	if (errno == EAGAIN || errno == EWOULDBLOCK) {
		c->rd_ready = false;
		return 0;
	}
	if (errno == EINTR)
		return 0;
	return -1;
}

/* Reads from the upstream into uc->in; 1 read, 0 nothing now, -1 EOF/error. */
static int
read_upstream(struct upconn *uc)
{
	size_t space;
	ssize_t n;

	if (!uc->rd_ready)
		return 0;
	if (uc->off == uc->len) {
		uc->off = uc->len = 0;
	} else if (uc->len == UPCONN_BUF && uc->off > 0) {
		memmove(uc->in, uc->in + uc->off, uc->len - uc->off);
		uc->len -= uc->off;
		uc->off = 0;
	}
	space = UPCONN_BUF - uc->len;
	if (space == 0)
		return 0;
	n = upstream_read(uc, uc->in + uc->len, space);
	if (n > 0) {
		uc->len += (size_t)n;
		uc->parse_pending = true;
		if ((size_t)n < space)
			uc->rd_ready = false;
		return 1;
	}
	if (n == 0) {
		uc->eof = true;
		return -1;
	}
	if (errno == EAGAIN || errno == EWOULDBLOCK) {
		uc->rd_ready = false;
		return 0;
	}
	if (errno == EINTR)
		return 0;
	uc->err = true;
	return -1;
}

/* ---- local answers ---- */

static int local_reply_with(struct conn *c, int status, const char *headers, const char *body,
    bool close);

static int
local_reply(struct conn *c, int status, const char *body, bool close)
{
	return local_reply_with(c, status, NULL, body, close);
}

/* A local answer; headers (whole lines, CRLF each) go into its head. */
static int
local_reply_with(struct conn *c, int status, const char *headers, const char *body, bool close)
{
	size_t blen = strlen(body);

	/* A request body we did not read would be taken for the next request. */
	if (c->rq != RQ_DONE && c->rq_body != BK_NONE)
		close = true;
	if (close) {
		c->keep = false;
		c->linger = true;
	}
	if (c->uc != NULL) {
		upstream_close(c->w, c->uc);
		c->uc = NULL;
	}
	buf_reset(&c->out);
	c->out_off = 0;
	/* X-Cx-Router marks an answer the router made itself (no route, no healthy
	 * process, a bad request...), so a client such as `cx services reach` can
	 * tell it from an app's own 404 or 503; X-Cx-Rack says whose router, so
	 * that across a peering it can tell the caller's egress from the peer's. */
	buf_addf(&c->out, "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\n"
	    "Content-Length: %zu\r\nX-Cx-Router: %s\r\nX-Cx-Rack: %s\r\n", status,
	    http1_reason(status), blen, c->w->cfg->name, c->w->cfg->rack);
	if (c->reqid[0] != '\0')
		buf_addf(&c->out, "X-Request-Id: %s\r\n", c->reqid);
	if (headers != NULL)
		buf_adds(&c->out, headers);
	if (!c->keep)
		buf_adds(&c->out, "Connection: close\r\n");
	else if (c->minor == 0)
		buf_adds(&c->out, "Connection: keep-alive\r\n");
	buf_adds(&c->out, "\r\n");
	if (!c->head_req)
		buf_add(&c->out, body, blen);
	c->status = status;
	c->state = CS_LOCAL;
	c->deadline = now(c) + BODY_TIMEOUT_MS;
	return STEP_MORE;
}

static int
conn_step_local(struct conn *c)
{
	int r = flush_out(c);

	if (r == -1) {
		request_done(c);
		conn_free(c);
		return STEP_FREED;
	}
	if (r == STEP_WAIT)
		return STEP_WAIT;
	return finish_request(c);
}

/* After a refusal: our FIN is out; read and drop what the client still
 * sends so that our answer is not lost to a reset, until EOF or timeout. */
static int
conn_step_linger(struct conn *c)
{
	char junk[4096];

	while (c->rd_ready) {
		ssize_t n = read(c->fd, junk, sizeof(junk));

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

/* ---- the TLS handshake ---- */

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
	short want = tls_conn_events(c->tls);
	int r;

	if (!((want & POLLIN) && c->rd_ready) && !((want & POLLOUT) && c->wr_ready))
		return STEP_WAIT;
	r = tls_conn_handshake(c->tls);
	if (r == CX_OK && c->kind == LK_PEER)
		return peer_admit(c);
	if (r == CX_OK) {
		M_INC(w->m.tls_handshakes);
		c->state = CS_HEAD;
		c->deadline = now(c) + HEAD_TIMEOUT_MS;
		return STEP_MORE;
	}
	if (r == CX_AGAIN) {
		if (tls_conn_events(c->tls) & POLLIN)
			c->rd_ready = false;
		else
			c->wr_ready = false;
		return STEP_WAIT;
	}
	if (c->kind == LK_PEER) {
		M_INC(w->m.peer_handshake_errors);
		log_debug("peer client %s: %s", c->peer_ip, tls_conn_error(c->tls));
	} else {
		M_INC(w->m.tls_handshake_errors);
		log_debug("TLS client %s: %s", c->peer_ip, tls_conn_error(c->tls));
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
	const char *name = tls_conn_peer_name(c->tls);
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
	c->state = CS_HEAD;
	c->deadline = now(c) + HEAD_TIMEOUT_MS;
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
			request_done(c);
			conn_free(c);
			continue;
		}
		/* A request is on its way: its answer may finish, for 5 s at most. */
		c->revoked = true;
		c->keep = false;
		if (c->deadline == 0 || c->deadline > now(c) + REVOKE_GRACE_MS)
			c->deadline = now(c) + REVOKE_GRACE_MS;
	}
}

/* ---- reading and starting a request ---- */

static bool
is_loopback(uint32_t a)
{
	return (a >> 24) == 127;
}

/* True when the client is this host: loopback, or a connection from the very
 * address the router listens on (the rack daemon asking from inside a VPC
 * rack's namespace, where the router has no loopback listener). */
static bool
from_this_host(const struct conn *c)
{
	struct sockaddr_in local;
	socklen_t len = sizeof(local);

	if (is_loopback(c->peer_addr))
		return true;
	return getsockname(c->fd, (struct sockaddr *)&local, &len) == 0 &&
	    local.sin_family == AF_INET && ntohl(local.sin_addr.s_addr) == c->peer_addr;
}

/* Host for routing: lower case, port stripped, into c->hostname. */
static void
set_hostname(struct conn *c, struct http_slice h)
{
	size_t n = 0;

	if (h.n > 0 && h.p[0] == '[') {
		const char *rb = memchr(h.p, ']', h.n);

		h.n = rb != NULL ? (size_t)(rb - h.p) + 1 : h.n;
	} else {
		const char *colon = memchr(h.p, ':', h.n);

		if (colon != NULL)
			h.n = (size_t)(colon - h.p);
	}
	if (h.n > ROUTES_MAX_HOST)
		h.n = ROUTES_MAX_HOST;
	for (; n < h.n; n++)
		c->hostname[n] = (char)tolower((unsigned char)h.p[n]);
	c->hostname[n] = '\0';
}

/* Headers we drop when forwarding: hop-by-hop ones, and those we set. */
static bool
drop_request_header(struct http_slice name)
{
	switch (name.n) {
	case 2:
		return http_slice_eq(name, "te");
	case 7:
		return http_slice_eq(name, "upgrade");
	case 10:
		return http_slice_eq(name, "connection") || http_slice_eq(name, "keep-alive");
	case 12:
		return http_slice_eq(name, "x-request-id");
	case 14:
		return http_slice_eq(name, "x-cx-peer-rack");
	case 15:
		return http_slice_eq(name, "x-forwarded-for");
	case 16:
		return http_slice_eq(name, "proxy-connection") ||
		    http_slice_eq(name, "x-forwarded-port");
	case 17:
		return http_slice_eq(name, "x-forwarded-proto");
	default:
		return false;
	}
}

/* Is name listed in the Connection header (so hop-by-hop, RFC 9110 7.6.1)? */
static bool
connection_names(struct http_slice tokens, struct http_slice name)
{
	char lit[64];

	if (tokens.n == 0 || name.n >= sizeof(lit))
		return false;
	memcpy(lit, name.p, name.n);
	lit[name.n] = '\0';
	return http_list_has(tokens, lit);
}

/* Copies one header line (name through CRLF) from the parsed buffer. */
static void
copy_line(struct buf *b, const struct http_header *h)
{
	buf_add(b, h->name.p, h->name.n);
	buf_add(b, ": ", 2);
	buf_add(b, h->value.p, h->value.n);
	buf_add(b, "\r\n", 2);
}

/* uri-host [":" port] characters, for an authority we will send as Host. */
static bool
valid_authority(struct http_slice a)
{
	for (size_t i = 0; i < a.n; i++) {
		unsigned char ch = (unsigned char)a.p[i];

		if (ch == 0 || (!isalnum(ch) && strchr("-._~%!$&'()*+,;=:[]", ch) == NULL))
			return false;
	}
	return true;
}

static bool
valid_request_id(struct http_slice v)
{
	if (v.n == 0 || v.n > 64)
		return false;
	for (size_t i = 0; i < v.n; i++) {
		unsigned char ch = (unsigned char)v.p[i];

		if (ch <= 0x20 || ch >= 0x7f || ch == '"' || ch == '\\')
			return false;
	}
	return true;
}

/* The head we send upstream: HTTP/1.1, hop-by-hop headers dropped, ours added. */
static void
build_upstream_head(struct conn *c, const struct http_request *req, struct http_slice target,
    struct http_slice authority)
{
	struct buf *b = &c->uhead;
	struct http_slice tokens = { "", 0 }, upgrade = { "", 0 };

	buf_reset(b);
	c->uhead_off = 0;
	buf_add(b, req->method.p, req->method.n);
	buf_add(b, " /", c->origin_slash ? 2 : 1);
	buf_add(b, target.p, target.n);
	buf_adds(b, " HTTP/1.1\r\n");
	for (size_t i = 0; i < req->nheaders; i++) {
		const struct http_header *h = &req->headers[i];

		if (h->name.n == 10 && http_slice_eq(h->name, "connection"))
			tokens = h->value;	/* the last one, if repeated */
		if (h->name.n == 7 && http_slice_eq(h->name, "upgrade"))
			upgrade = h->value;
	}
	for (size_t i = 0; i < req->nheaders; i++) {
		const struct http_header *h = &req->headers[i];

		if (drop_request_header(h->name) || connection_names(tokens, h->name))
			continue;
		if (authority.n > 0 && h->name.n == 4 && http_slice_eq(h->name, "host"))
			continue;
		copy_line(b, h);
	}
	if (authority.n > 0) {
		buf_adds(b, "Host: ");
		buf_add(b, authority.p, authority.n);
		buf_adds(b, "\r\n");
	}
	buf_adds(b, "X-Forwarded-For: ");
	for (size_t i = 0; i < req->nheaders; i++) {
		const struct http_header *h = &req->headers[i];

		if (h->name.n == 15 && http_slice_eq(h->name, "x-forwarded-for") && h->value.n > 0) {
			buf_add(b, h->value.p, h->value.n);
			buf_adds(b, ", ");
		}
	}
	buf_adds(b, c->peer_ip);
	if (c->kind == LK_PEER) {
		buf_adds(b, "\r\nX-Cx-Peer-Rack: ");
		buf_adds(b, c->peer_rack);
	}
	/* Proto, Port, and the name of X-Request-Id */
	buf_adds(b, c->w->xf_tail[c->kind]);
	buf_adds(b, c->reqid);
	buf_add(b, "\r\n", 2);
	if (c->upgrade) {
		buf_adds(b, "Connection: upgrade\r\nUpgrade: ");
		buf_add(b, upgrade.p, upgrade.n);
		buf_adds(b, "\r\n");
	}
	buf_adds(b, "\r\n");
}

#define ACME_PREFIX "/.well-known/acme-challenge/"

/* ACME HTTP-01 (RFC 8555 8.3) on the plain listener, any Host: the key
 * authorization of a token the snapshot has, else 404. */
static int
acme_answer(struct conn *c, const struct routes *rt, struct http_slice target)
{
	const char *token = target.p + sizeof(ACME_PREFIX) - 1;
	size_t n = target.n - (sizeof(ACME_PREFIX) - 1);
	const char *q = memchr(token, '?', n);
	const char *keyauth;

	if (q != NULL)
		n = (size_t)(q - token);
	keyauth = routes_challenge(rt, token, n);
	if (keyauth == NULL)
		return local_reply(c, 404, "no such ACME challenge token\n", false);
	return local_reply_with(c, 200, NULL, keyauth, false);
}

/* Host flag redirect: 308 to the same target over https, on the TLS port
 * (left out when it is 443 or there is no TLS listener). */
static int
redirect_https(struct conn *c, struct http_slice target)
{
	char loc[ROUTES_MAX_HOST + 2 * LOG_PATH_MAX + 64], port[16] = "";
	int tls_port = c->w->cfg->listen_port[LK_TLS];
	struct buf hdr;
	int r;

	if (c->w->cfg->listen[LK_TLS] != NULL && tls_port != 443)
		snprintf(port, sizeof(port), ":%d", tls_port);
	if (target.n > 2 * LOG_PATH_MAX)
		return local_reply(c, 414, "target too long to redirect\n", false);
	snprintf(loc, sizeof(loc), "https://%s%s%s%.*s", c->hostname, port,
	    c->origin_slash ? "/" : "", (int)target.n, target.p);
	buf_init(&hdr, 0);
	buf_addf(&hdr, "Location: %s\r\n", loc);
	r = local_reply_with(c, 308, buf_cstr(&hdr), "redirecting to https\n", false);
	buf_free(&hdr);
	return r;
}

static int
start_request(struct conn *c)
{
	struct worker *w = c->w;
	struct http_request *req = &w->req;
	struct http_slice target = req->target, authority = { "", 0 };
	const struct http_slice *rid;
	const struct route_host *h;
	const struct routes *rt;
	char body[512];

	rt = w->cur->rt;
	if (!routes_allowed(rt, c->peer_addr)) {
		/* The allow list changed under a kept-alive connection. */
		M_INC(w->m.denied);
		conn_free(c);
		return STEP_FREED;
	}
	c->wt = worker_table_hold(w);
	c->active = true;
	clock_gettime(CLOCK_MONOTONIC, &c->t0);
	c->host = NULL;
	c->upstream = NULL;
	c->attempts = 0;
	c->retried = false;
	c->origin_slash = false;
	c->up_ms = -1;
	c->minor = req->minor;
	c->keep = req->keep_alive && !w->stopping;
	c->linger = false;
	c->upgrade = req->upgrade;
	c->head_req = http_slice_eq(req->method, "HEAD");
	snprintf(c->method, sizeof(c->method), "%.*s", (int)req->method.n, req->method.p);
	if (w->al.fd != -1)
		c->path = xstrndup(req->target.p, req->target.n < LOG_PATH_MAX ? req->target.n :
		    LOG_PATH_MAX);
	rid = http1_header(req, "x-request-id");
	if (rid != NULL && valid_request_id(*rid))
		snprintf(c->reqid, sizeof(c->reqid), "%.*s", (int)rid->n, rid->p);
	else
		worker_request_id(w, c->reqid);

	/* Absolute-form targets carry the authority that routes (RFC 9112 3.2.2);
	 * upstream they become origin-form with that authority as Host. */
	if (target.n > 7 && (strncasecmp(target.p, "http://", 7) == 0 ||
	    (target.n > 8 && strncasecmp(target.p, "https://", 8) == 0))) {
		size_t skip = target.p[4] == ':' ? 7 : 8, i = skip;
		const char *at;

		while (i < target.n && target.p[i] != '/' && target.p[i] != '?')
			i++;
		authority.p = target.p + skip;
		authority.n = i - skip;
		at = memchr(authority.p, '@', authority.n);
		if (at != NULL) {
			authority.n -= (size_t)(at + 1 - authority.p);
			authority.p = at + 1;
		}
		target.p += i;
		target.n -= i;
		c->origin_slash = target.n == 0 || target.p[0] != '/';
		if (authority.n == 0)
			authority = req->host;
		else if (!valid_authority(authority)) {
			c->in_off += req->head_len;
			c->rq = RQ_DONE;
			c->rq_body = BK_NONE;
			set_hostname(c, req->host);
			return local_reply(c, 400, "invalid authority in the request target\n", true);
		}
	}
	set_hostname(c, authority.n > 0 ? authority : req->host);
	c->rq = RQ_HEAD;
	c->rq_body = req->chunked ? BK_CHUNKED : req->content_length > 0 ? BK_LENGTH : BK_NONE;
	c->rq_left = req->content_length > 0 ? (uint64_t)req->content_length : 0;
	c->rq_ready = 0;
	c->rq_end = false;
	c->rq_sent_body = false;
	http1_chunked_init(&c->rq_ck);
	c->in_off += req->head_len;	/* the head's bytes stay in place until compaction */

	if (http_slice_eq(req->method, "CONNECT"))
		return local_reply(c, 501, "CONNECT is not supported by this router\n", true);
	if (c->kind == LK_PLAIN && target.n >= sizeof(ACME_PREFIX) - 1 &&
	    memcmp(target.p, ACME_PREFIX, sizeof(ACME_PREFIX) - 1) == 0)
		return acme_answer(c, rt, target);
	if (strcmp(c->hostname, "_cx") == 0 && c->kind != LK_PEER && from_this_host(c)) {
		struct http_slice path = target;
		const char *q = memchr(path.p, '?', path.n);

		if (q != NULL)
			path.n = (size_t)(q - path.p);
		if (http_slice_eq(path, "/_cx/metrics") &&
		    (http_slice_eq(req->method, "GET") || c->head_req)) {
			struct buf m;
			int r;

			buf_init(&m, 0);
			metrics_render(&m, router_workers, w->cfg->nworkers, w->cfg, rt);
			r = local_reply(c, 200, buf_cstr(&m), false);
			buf_free(&m);
			/* Prometheus text, not plain text. */
			return r;
		}
	}
	if (c->kind == LK_EGRESS)
		h = routes_egress(rt, c->hostname, strlen(c->hostname));
	else
		h = routes_lookup(rt, c->hostname, strlen(c->hostname));
	if (h == NULL) {
		snprintf(body, sizeof(body), "no route for host \"%s\"\n", c->hostname);
		return local_reply(c, 404, body, false);
	}
	c->host = h;
	if (h->redirect && c->kind == LK_PLAIN)
		return redirect_https(c, target);
	if (h->up_tls != ROUTE_PLAIN && h->up_ctx == NULL) {
		snprintf(body, sizeof(body), "no TLS to the upstreams of host \"%s\"%s%s%s\n",
		    c->hostname, h->peer != NULL ? " (peer " : "", h->peer != NULL ? h->peer : "",
		    h->peer != NULL ? ": its CA did not load)" : "");
		return local_reply(c, 502, body, false);
	}
	if (h->nups == 0) {
		snprintf(body, sizeof(body), "no healthy process for host \"%s\" (%s/%s)\n",
		    c->hostname, h->app, h->service);
		return local_reply(c, 503, body, false);
	}
	build_upstream_head(c, req, target, authority);
	{
		size_t idx;
		struct upstream *u = balance_pick(w, h, NULL, now(c), &idx);

		c->up_idx = idx;
		return proxy_connect(c, u, false);
	}
}

static int
conn_step_head(struct conn *c)
{
	struct worker *w = c->w;
	int r;

	if (c->parse_pending && c->in_len > c->in_off) {
		c->parse_pending = false;
		r = http1_parse_request(c->in + c->in_off, c->in_len - c->in_off, MAX_HEAD, &w->req);
		if (r == CX_OK)
			return start_request(c);
		if (r == CX_ERR) {
			M_INC(w->m.bad_requests);
			c->active = true;
			clock_gettime(CLOCK_MONOTONIC, &c->t0);
			c->minor = 1;
			c->head_req = false;
			c->hostname[0] = '\0';
			snprintf(c->method, sizeof(c->method), "-");
			c->rq = RQ_DONE;
			c->rq_body = BK_NONE;
			c->in_off = c->in_len;	/* nothing after a bad head can be trusted */
			worker_request_id(w, c->reqid);
			return local_reply(c, w->req.status,
			    w->req.error ? w->req.error : "bad request", true);
		}
		if (c->in_len - c->in_off >= MAX_HEAD) {
			/* Cannot happen: the parser refuses a full buffer. */
			return local_reply(c, 431, "request head too large\n", true);
		}
	}
	if (w->stopping && c->in_len == c->in_off) {
		conn_free(c);
		return STEP_FREED;
	}
	{
		bool was_empty = c->in_len == c->in_off;

		r = read_client(c);
		if (r == 1) {
			if (was_empty)
				c->deadline = now(c) + HEAD_TIMEOUT_MS;
			if (c->in_len - c->in_off >= MAX_HEAD)
				c->parse_pending = true;
			return STEP_MORE;
		}
	}
	if (r == -1) {
		conn_free(c);
		return STEP_FREED;
	}
	return STEP_WAIT;
}

/* ---- proxying ---- */

static int
proxy_fail(struct conn *c, int status, const char *why)
{
	char body[256];

	if (c->resp_started || c->rs != RS_HEAD) {
		/* Part of the answer is out: all we can do is cut it. */
		request_done(c);
		conn_free(c);
		return STEP_FREED;
	}
	snprintf(body, sizeof(body), "%s%s%s\n", why, c->upstream ? " " : "",
	    c->upstream ? c->upstream->name : "");
	/* local_reply closes if part of a request body is still unread. */
	return local_reply(c, status, body, false);
}

/* The connect to c->upstream failed: eject it, try one other, else 502/504. */
static int
connect_failed(struct conn *c, bool timeout)
{
	struct worker *w = c->w;
	struct upstream *next;
	size_t idx;

	M_INC(w->m.upstream_connect_errors);
	balance_eject(c->upstream, now(c));
	if (c->uc != NULL) {
		upstream_close(w, c->uc);
		c->uc = NULL;
	}
	if (c->attempts < 2) {
		next = balance_pick(w, c->host, c->upstream, now(c), &idx);
		if (next != NULL) {
			c->up_idx = idx;
			return proxy_connect(c, next, false);
		}
	}
	c->rs = RS_HEAD;
	c->resp_started = false;
	return proxy_fail(c, timeout ? 504 : 502, timeout ? "upstream connect timed out:" :
	    "upstream refused the connection:");
}

static int
proxy_connect(struct conn *c, struct upstream *u, bool fresh)
{
	struct worker *w = c->w;
	bool reused;

	c->upstream = u;
	c->attempts++;
	c->state = CS_PROXY;
	c->rq = RQ_HEAD;
	c->uhead_off = 0;
	c->rs = RS_HEAD;
	c->rs_ready = 0;
	c->rs_end = false;
	c->resp_started = false;
	c->dechunk = false;
	clock_gettime(CLOCK_MONOTONIC, &c->up_t0);
	c->uc = upstream_acquire(w, u, c, fresh, &reused, c->host->up_ctx,
	    c->host->peer != NULL ? c->host->peer : c->host->name);
	if (c->uc == NULL)
		return connect_failed(c, false);
	if (!reused)
		c->deadline = now(c) + (host_timeout_ms(c) < CONNECT_TIMEOUT_MS ?
		    host_timeout_ms(c) : CONNECT_TIMEOUT_MS);
	else
		c->deadline = now(c) + host_timeout_ms(c);
	return STEP_MORE;
}

/* A pooled connection failed before any answer: retry once on a new one. */
static int
upstream_failed(struct conn *c, const char *why)
{
	struct worker *w = c->w;

	if (c->uc->reused && !c->retried && c->rs == RS_HEAD && c->uc->len == 0 &&
	    !c->rq_sent_body) {
		M_INC(w->m.upstream_retries);
		c->retried = true;
		upstream_close(w, c->uc);
		c->uc = NULL;
		c->attempts--;
		c->rq_ready = 0;
		c->rq_end = false;
		http1_chunked_init(&c->rq_ck);
		return proxy_connect(c, c->upstream, true);
	}
	M_INC(w->m.upstream_errors);
	return proxy_fail(c, 502, why);
}

/* How many bytes at in[in_off] are request body, ready to go upstream. */
static int
request_body_ready(struct conn *c)
{
	size_t avail = c->in_len - c->in_off;

	if (c->rq_body == BK_LENGTH) {
		c->rq_ready = avail < c->rq_left ? avail : (size_t)c->rq_left;
	} else if (c->rq_body == BK_CHUNKED && !c->rq_end && avail > c->rq_ready) {
		size_t used;
		int r = http1_chunked_parse(&c->rq_ck, c->in + c->in_off + c->rq_ready,
		    avail - c->rq_ready, &used, NULL, NULL);

		c->rq_ready += used;
		if (r == CX_ERR)
			return -1;
		if (r == CX_OK)
			c->rq_end = true;
	}
	return 0;
}

static bool
request_body_done(const struct conn *c)
{
	if (c->rq_body == BK_NONE)
		return true;
	if (c->rq_body == BK_LENGTH)
		return c->rq_left == 0;
	return c->rq_end && c->rq_ready == 0;
}

/* Client -> upstream: the head we built, then body bytes as they come. */
static int
pump_request(struct conn *c)
{
	struct upconn *uc = c->uc;
	bool progress = false;

	for (;;) {
		struct iovec iov[2];
		int cnt = 0;
		size_t head_left = c->uhead.len - c->uhead_off, total;
		ssize_t n;

		if (c->rq != RQ_HEAD && request_body_done(c)) {
			c->rq = RQ_DONE;
			return progress ? STEP_MORE : STEP_WAIT;
		}
		if (request_body_ready(c) == -1) {
			M_INC(c->w->m.bad_requests);
			return proxy_fail(c, 400, "malformed chunked request body");
		}
		if (head_left > 0) {
			iov[cnt].iov_base = c->uhead.data + c->uhead_off;
			iov[cnt++].iov_len = head_left;
		}
		if (c->rq_ready > 0) {
			iov[cnt].iov_base = c->in + c->in_off;
			iov[cnt++].iov_len = c->rq_ready;
		}
		if (cnt == 0) {
			int r;

			if (c->rq == RQ_HEAD) {
				c->rq = RQ_BODY;
				continue;
			}
			/* Need more body from the client. */
			r = read_client(c);
			if (r == 1) {
				progress = true;
				c->deadline = now(c) + host_timeout_ms(c);
				continue;
			}
			if (r == -1)
				return proxy_fail(c, 400, "client closed in the middle of the body");
			return progress ? STEP_MORE : STEP_WAIT;
		}
		if (!uc->wr_ready)
			return progress ? STEP_MORE : STEP_WAIT;
		total = head_left + c->rq_ready;
		n = upstream_writev(uc, iov, cnt);
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				uc->wr_ready = false;
				continue;
			}
			if (errno == EINTR)
				continue;
			uc->err = true;
			if (c->rs != RS_HEAD) {
				/* It answered and stopped reading (say, 413 to a
				 * large upload): deliver the answer, drop the rest. */
				c->rq = RQ_DONE;
				c->keep = false;
				c->linger = true;
				c->up_reusable = false;
				return STEP_MORE;
			}
			return upstream_failed(c, "upstream write failed:");
		}
		progress = true;
		if ((size_t)n < total)
			uc->wr_ready = false;
		if ((size_t)n <= head_left) {
			c->uhead_off += (size_t)n;
		} else {
			size_t body = (size_t)n - head_left;

			c->uhead_off = c->uhead.len;
			c->in_off += body;
			c->rq_ready -= body;
			if (c->rq_body == BK_LENGTH)
				c->rq_left -= body;
			c->rq_sent_body = true;
		}
		if (c->uhead_off == c->uhead.len && c->rq == RQ_HEAD)
			c->rq = RQ_BODY;
		c->deadline = now(c) + host_timeout_ms(c);
	}
}

/* Response header names we do not pass to the client. */
static bool
drop_response_header(const struct http_header *h, bool dechunk, struct http_slice tokens)
{
	switch (h->name.n) {
	case 10:
		if (http_slice_eq(h->name, "connection") || http_slice_eq(h->name, "keep-alive"))
			return true;
		break;
	case 16:
		if (http_slice_eq(h->name, "proxy-connection"))
			return true;
		break;
	case 17:
		if (dechunk && http_slice_eq(h->name, "transfer-encoding"))
			return true;
		break;
	default:
		break;
	}
	return connection_names(tokens, h->name);
}

static int
response_head(struct conn *c)
{
	struct worker *w = c->w;
	struct http_response *resp = &w->resp;
	struct upconn *uc = c->uc;
	struct http_slice tokens = { "", 0 };
	struct buf *b = &c->out;

	if (resp->status < 200 && resp->status != 101) {
		/* Interim (100 Continue, 103): pass to HTTP/1.1 clients as is. */
		if (c->minor == 1) {
			buf_add(b, "HTTP/1.1 ", 9);
			buf_add(b, uc->in + uc->off + 9, resp->head_len - 9);
		}
		uc->off += resp->head_len;
		uc->parse_pending = uc->len > uc->off;
		return STEP_MORE;
	}
	c->status = resp->status;
	c->up_ms = ms_since(&c->up_t0);
	for (size_t i = 0; i < resp->nheaders; i++) {
		if (resp->headers[i].name.n == 10 && http_slice_eq(resp->headers[i].name, "connection"))
			tokens = resp->headers[i].value;
	}
	if (resp->status == 101) {
		if (!c->upgrade || c->rq != RQ_DONE) {
			M_INC(w->m.upstream_errors);
			return proxy_fail(c, 502, "upstream switched protocols unasked:");
		}
		buf_add(b, "HTTP/1.1 ", 9);
		buf_add(b, uc->in + uc->off + 9, resp->head_len - 9);
		uc->off += resp->head_len;
		c->state = CS_TUNNEL;
		c->keep = false;
		c->tun_ceof = c->tun_ueof = false;
		c->deadline = now(c) + TUNNEL_TIMEOUT_MS;
		return STEP_MORE;
	}
	c->rs_body = (int)http1_response_body(resp, c->head_req);
	c->rs_left = resp->content_length > 0 ? (uint64_t)resp->content_length : 0;
	c->up_reusable = resp->keep_alive && c->rs_body != BK_CLOSE;
	if (c->rs_body == BK_CHUNKED && c->minor == 0) {
		c->dechunk = true;	/* HTTP/1.0 knows no chunks: decode, then close */
		c->keep = false;
	}
	if (c->rs_body == BK_CLOSE)
		c->keep = false;
	if (c->rq != RQ_DONE) {
		/* Answered before the whole body was sent: keep streaming it
		 * (echo-like servers answer while they read), but the two
		 * connections end with this exchange. */
		c->keep = false;
		c->linger = true;
		c->up_reusable = false;
	}
	http1_chunked_init(&c->rs_ck);
	c->rs_ready = 0;
	c->rs_end = false;
	/* Status line as the upstream wrote it, with our version. */
	buf_add(b, "HTTP/1.1 ", 9);
	buf_add(b, uc->in + uc->off + 9, (size_t)(resp->reason.p + resp->reason.n -
	    (uc->in + uc->off + 9)));
	buf_add(b, "\r\n", 2);
	for (size_t i = 0; i < resp->nheaders; i++) {
		if (!drop_response_header(&resp->headers[i], c->dechunk, tokens))
			copy_line(b, &resp->headers[i]);
	}
	if (!c->keep)
		buf_adds(b, "Connection: close\r\n");
	else if (c->minor == 0)
		buf_adds(b, "Connection: keep-alive\r\n");
	buf_adds(b, "\r\n");
	uc->off += resp->head_len;
	c->rs = RS_BODY;
	return STEP_MORE;
}

static void
dechunk_data(void *arg, const char *p, size_t n)
{
	struct conn *c = arg;

	buf_add(&c->out, p, n);
}

/* Upstream bytes at uc->in[uc->off] that are body and ready for the client. */
static int
response_body_ready(struct conn *c)
{
	struct upconn *uc = c->uc;
	size_t avail = uc->len - uc->off;

	switch (c->rs_body) {
	case BK_NONE:
		c->rs_ready = 0;
		c->rs_end = true;
		break;
	case BK_LENGTH:
		c->rs_ready = avail < c->rs_left ? avail : (size_t)c->rs_left;
		break;
	case BK_CLOSE:
		c->rs_ready = avail;
		break;
	case BK_CHUNKED:
		if (c->rs_end || avail <= c->rs_ready)
			break;
		if (c->dechunk) {
			size_t used;
			int r;

			if (c->out.len - c->out_off > DECHUNK_MAX)
				break;
			r = http1_chunked_parse(&c->rs_ck, uc->in + uc->off, avail, &used,
			    dechunk_data, c);
			uc->off += used;
			if (r == CX_ERR)
				return -1;
			if (r == CX_OK)
				c->rs_end = true;
		} else {
			size_t used;
			int r = http1_chunked_parse(&c->rs_ck, uc->in + uc->off + c->rs_ready,
			    avail - c->rs_ready, &used, NULL, NULL);

			c->rs_ready += used;
			if (r == CX_ERR)
				return -1;
			if (r == CX_OK)
				c->rs_end = true;
		}
		break;
	}
	return 0;
}

static bool
response_done(const struct conn *c)
{
	switch (c->rs_body) {
	case BK_NONE:
		return true;
	case BK_LENGTH:
		return c->rs_left == 0;
	case BK_CHUNKED:
		return c->rs_end && c->rs_ready == 0;
	default:
		return c->uc->eof && c->rs_ready == 0 && c->uc->off == c->uc->len;
	}
}

/* Upstream -> client: the response head, then its body as it comes. */
static int
pump_response(struct conn *c)
{
	struct worker *w = c->w;
	struct upconn *uc = c->uc;
	bool progress = false;

	while (c->rs == RS_HEAD) {
		int r;

		if (uc->parse_pending && uc->len > uc->off) {
			uc->parse_pending = false;
			r = http1_parse_response(uc->in + uc->off, uc->len - uc->off, UPCONN_BUF,
			    &w->resp);
			if (r == CX_OK) {
				r = response_head(c);
				if (r == STEP_FREED || c->state != CS_PROXY)
					return r;
				progress = true;
				continue;
			}
			if (r == CX_ERR) {
				M_INC(w->m.upstream_errors);
				uc->err = true;
				return proxy_fail(c, 502, "upstream sent a malformed response:");
			}
		}
		if (c->out_off < c->out.len) {
			/* An interim response is waiting for the client. */
			r = flush_out(c);
			if (r == -1) {
				request_done(c);
				conn_free(c);
				return STEP_FREED;
			}
		}
		r = read_upstream(uc);
		if (r == 1) {
			progress = true;
			c->deadline = now(c) + host_timeout_ms(c);
			continue;
		}
		if (r == -1)
			return upstream_failed(c, "upstream closed without answering:");
		return progress ? STEP_MORE : STEP_WAIT;
	}

	while (c->rs == RS_BODY) {
		struct iovec iov[2];
		int cnt = 0, r;
		size_t out_left, total;
		ssize_t n;

		if (response_body_ready(c) == -1) {
			M_INC(w->m.upstream_errors);
			request_done(c);
			conn_free(c);
			return STEP_FREED;
		}
		out_left = c->out.len - c->out_off;
		if (out_left == 0 && c->rs_ready == 0 && response_done(c)) {
			c->rs = RS_DONE;
			return STEP_MORE;
		}
		if (out_left > 0) {
			iov[cnt].iov_base = c->out.data + c->out_off;
			iov[cnt++].iov_len = out_left;
		}
		if (c->rs_ready > 0) {
			iov[cnt].iov_base = uc->in + uc->off;
			iov[cnt++].iov_len = c->rs_ready;
		}
		if (cnt > 0 && c->wr_ready) {
			total = out_left + c->rs_ready;
			n = client_writev(c, iov, cnt);
			if (n < 0) {
				if (errno == EAGAIN || errno == EWOULDBLOCK) {
					c->wr_ready = false;
				} else if (errno != EINTR) {
					request_done(c);
					conn_free(c);
					return STEP_FREED;
				}
			} else {
				size_t body;

				progress = true;
				c->resp_started = true;
				c->bytes_out += (uint64_t)n;
				if ((size_t)n < total)
					c->wr_ready = false;
				if ((size_t)n <= out_left) {
					c->out_off += (size_t)n;
				} else {
					body = (size_t)n - out_left;
					c->out_off = c->out.len;
					uc->off += body;
					c->rs_ready -= body;
					if (c->rs_body == BK_LENGTH)
						c->rs_left -= body;
				}
				if (c->out_off == c->out.len) {
					buf_reset(&c->out);
					c->out_off = 0;
				}
				c->deadline = now(c) + host_timeout_ms(c);
				continue;
			}
		}
		/* Nothing (more) can go to the client now: read from upstream
		 * if there is room and the body is not all here yet. */
		if (c->rs_ready > 0 && !c->wr_ready)
			return progress ? STEP_MORE : STEP_WAIT;
		if (c->rs_body == BK_NONE || (c->rs_body == BK_LENGTH && c->rs_ready >= c->rs_left) ||
		    (c->rs_body == BK_CHUNKED && c->rs_end))
			return progress ? STEP_MORE : STEP_WAIT;
		r = read_upstream(uc);
		if (r == 1) {
			progress = true;
			continue;
		}
		if (r == -1) {
			if (c->rs_body == BK_CLOSE && uc->eof)
				continue;	/* the end of a close-delimited body */
			M_INC(w->m.upstream_errors);
			request_done(c);
			conn_free(c);
			return STEP_FREED;
		}
		return progress ? STEP_MORE : STEP_WAIT;
	}
	return progress ? STEP_MORE : STEP_WAIT;
}

/* The TLS handshake of a new upstream connection, once TCP is up:
 * STEP_MORE when done, STEP_WAIT, or the answer to a failed one (as a
 * failed connect: the next upstream, else 502). The connect deadline
 * covers it. */
static int
upstream_handshake(struct conn *c, struct upconn *uc)
{
	struct worker *w = c->w;
	short want = tls_conn_events(uc->tls);
	int r;

	if (uc->err)
		return connect_failed(c, false);
	if (!((want & POLLIN) && uc->rd_ready) && !((want & POLLOUT) && uc->wr_ready))
		return STEP_WAIT;
	r = tls_conn_handshake(uc->tls);
	if (r == CX_OK) {
		M_INC(w->m.upstream_tls_handshakes);
		uc->rd_ready = true;	/* OpenSSL may hold bytes read with the handshake */
		return STEP_MORE;
	}
	if (r == CX_AGAIN) {
		if (tls_conn_events(uc->tls) & POLLIN)
			uc->rd_ready = false;
		else
			uc->wr_ready = false;
		return STEP_WAIT;
	}
	M_INC(w->m.upstream_tls_errors);
	log_warnx("upstream %s%s%s%s: %s", uc->up->name, uc->up->peer[0] ? " (peer " : "",
	    uc->up->peer, uc->up->peer[0] ? ")" : "", tls_conn_error(uc->tls));
	return connect_failed(c, false);
}

static int
conn_step_proxy(struct conn *c)
{
	struct upconn *uc = c->uc;
	int r, r2;

	if (!uc->connected) {
		int err = 0;
		socklen_t len = sizeof(err);

		if (!uc->tcp_done) {
			if (!uc->wr_ready && !uc->err && !uc->eof)
				return STEP_WAIT;
			if (getsockopt(uc->fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1 || err != 0 ||
			    uc->err) {
				return connect_failed(c, false);
			}
			uc->tcp_done = true;
			uc->rd_ready = true;	/* an edge may have come with the connect */
		}
		if (uc->tls != NULL) {
			r = upstream_handshake(c, uc);
			if (r != STEP_MORE)
				return r;
		}
		uc->connected = true;
		c->deadline = now(c) + host_timeout_ms(c);
	}
	r = STEP_WAIT;
	if (c->rq != RQ_DONE) {
		r = pump_request(c);
		if (r == STEP_FREED || c->state != CS_PROXY)
			return r == STEP_FREED ? STEP_FREED : STEP_MORE;
	}
	r2 = pump_response(c);
	if (r2 == STEP_FREED || c->state != CS_PROXY)
		return r2 == STEP_FREED ? STEP_FREED : STEP_MORE;
	if (c->rs == RS_DONE) {
		struct upconn *done = c->uc;

		if (c->rq != RQ_DONE) {
			/* Answered in full while the body still comes: the
			 * client's rest is drained by the lingering close. */
			c->keep = false;
			c->linger = true;
		}
		c->uc = NULL;
		if (c->up_reusable && c->rq == RQ_DONE && done->off == done->len)
			upstream_release(c->w, done);
		else
			upstream_close(c->w, done);
		return finish_request(c);
	}
	return r == STEP_MORE || r2 == STEP_MORE ? STEP_MORE : STEP_WAIT;
}

/* ---- tunnel (after 101 Switching Protocols) ---- */

static int
conn_step_tunnel(struct conn *c)
{
	struct upconn *uc = c->uc;
	bool progress = false;
	ssize_t n;

	/* upstream -> client: our copy of the 101 head, then raw bytes */
	if (c->out_off < c->out.len) {
		int r = flush_out(c);

		if (r == -1)
			goto done;
		if (r == STEP_MORE) {
			buf_reset(&c->out);
			c->out_off = 0;
		}
	}
	if (c->out_off == c->out.len) {
		if (uc->len > uc->off && c->wr_ready) {
			n = client_write(c, uc->in + uc->off, uc->len - uc->off);
			if (n > 0) {
				c->bytes_out += (uint64_t)n;
				uc->off += (size_t)n;
				progress = true;
				if (uc->off < uc->len)
					c->wr_ready = false;
			} else if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
				c->wr_ready = false;
			} else if (n == -1 && errno != EINTR) {
				goto done;
			}
		}
		if (uc->len == uc->off && !c->tun_ueof) {
			int r = read_upstream(uc);

			if (r == 1)
				progress = true;
			else if (r == -1) {
				c->tun_ueof = true;
				client_shutdown_wr(c);
				progress = true;
			}
		}
	}
	/* client -> upstream */
	if (c->in_len > c->in_off && uc->wr_ready) {
		n = upstream_write(uc, c->in + c->in_off, c->in_len - c->in_off);
		if (n > 0) {
			c->in_off += (size_t)n;
			progress = true;
			if (c->in_off < c->in_len)
				uc->wr_ready = false;
		} else if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			uc->wr_ready = false;
		} else if (n == -1 && errno != EINTR) {
			goto done;
		}
	}
	if (c->in_len == c->in_off && !c->tun_ceof) {
		int r = read_client(c);

		if (r == 1)
			progress = true;
		else if (r == -1) {
			c->tun_ceof = true;
			upstream_shutdown_wr(uc);
			progress = true;
		}
	}
	if (c->tun_ceof && c->tun_ueof && uc->len == uc->off)
		goto done;
	if (progress)
		c->deadline = now(c) + TUNNEL_TIMEOUT_MS;
	return progress ? STEP_MORE : STEP_WAIT;
done:
	request_done(c);
	conn_free(c);
	return STEP_FREED;
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
	static const char *const states[] = { "head", "local", "proxy", "tunnel", "linger",
	    "tls" };
	static _Thread_local int64_t next_log;
	static _Thread_local unsigned long quiet;
	struct worker *w = c->w;

	M_INC(w->m.step_limits);
	if (now(c) < next_log) {
		quiet++;
		return;
	}
	next_log = now(c) + STEP_LOG_MS;
	log_warnx("connection from %s stopped after %d steps without waiting: state %s, rq %d,"
	    " rs %d, host \"%s\", %zu bytes in, %zu out, rd %d wr %d eof %d (%lu more since"
	    " the last such line)", c->peer_ip, RUN_STEPS_MAX,
	    (size_t)c->state < CX_ARRAY_LEN(states) ? states[c->state] : "?", c->rq, c->rs,
	    c->hostname, c->in_len - c->in_off, c->out.len - c->out_off, c->rd_ready,
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
		case CS_LOCAL:
			r = conn_step_local(c);
			break;
		case CS_PROXY:
			r = conn_step_proxy(c);
			break;
		case CS_TUNNEL:
			r = conn_step_tunnel(c);
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
	if (events & (EPOLLIN | EPOLLRDHUP | EV_ERROR))
		c->rd_ready = true;
	if (events & (EPOLLOUT | EV_ERROR))
		c->wr_ready = true;
	if (c->tls != NULL) {
		if (c->tls_rd_on_wr && (events & (EPOLLOUT | EV_ERROR))) {
			c->tls_rd_on_wr = false;
			c->rd_ready = true;
		}
		if (c->tls_wr_on_rd && (events & (EPOLLIN | EPOLLRDHUP | EV_ERROR))) {
			c->tls_wr_on_rd = false;
			c->wr_ready = true;
		}
	}
	conn_run(c);
}

void
conn_upstream_event(struct conn *c, struct upconn *uc, uint32_t events)
{
	if (events & (EPOLLIN | EPOLLRDHUP | EV_ERROR))
		uc->rd_ready = true;
	if (events & (EPOLLOUT | EV_ERROR))
		uc->wr_ready = true;
	if (uc->tls != NULL) {
		if (uc->tls_rd_on_wr && (events & (EPOLLOUT | EV_ERROR))) {
			uc->tls_rd_on_wr = false;
			uc->rd_ready = true;
		}
		if (uc->tls_wr_on_rd && (events & (EPOLLIN | EPOLLRDHUP | EV_ERROR))) {
			uc->tls_wr_on_rd = false;
			uc->wr_ready = true;
		}
	}
	if (events & EV_ERROR)
		uc->err = !uc->connected || uc->err;
	conn_run(c);
}

static void
conn_timeout(struct conn *c)
{
	struct worker *w = c->w;

	if (c->revoked) {
		request_done(c);
		conn_free(c);
		return;
	}
	switch (c->state) {
	case CS_HEAD:
		if (c->in_len > c->in_off) {
			M_INC(w->m.client_timeouts);
			c->active = true;
			clock_gettime(CLOCK_MONOTONIC, &c->t0);
			snprintf(c->method, sizeof(c->method), "-");
			c->hostname[0] = '\0';
			worker_request_id(w, c->reqid);
			c->rq = RQ_DONE;
			c->rq_body = BK_NONE;
			c->minor = 1;
			c->head_req = false;
			local_reply(c, 408, "request head not received in time\n", true);
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
		if (!c->uc->connected) {
			if (connect_failed(c, true) != STEP_FREED)
				conn_run(c);
			return;
		}
		if (c->rs == RS_HEAD && !c->resp_started) {
			M_INC(w->m.upstream_timeouts);
			if (proxy_fail(c, 504, "upstream did not answer in time:") != STEP_FREED)
				conn_run(c);
			return;
		}
		request_done(c);
		conn_free(c);
		return;
	default:
		request_done(c);
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
		request_done(w->conns);
		conn_free(w->conns);
	}
}
