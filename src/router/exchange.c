/*
 * exchange.c — one request and its response on a client connection: the
 * head is parsed (CS_HEAD), routed by Host (local answers: 404, 503, the
 * metrics page, ACME challenges, redirects: CS_LOCAL), sent to an upstream
 * of the route with its body streamed behind it, and the answer relayed
 * back (CS_PROXY), then counted and logged. The connection it runs on and
 * what happens between exchanges is conn.c; the header rules are rewrite.c.
 *
 *   PROXY:  connect ─ refused/timeout ─► next upstream once, else 502/504 ─► LOCAL
 *           request half:  RQ_HEAD → RQ_BODY → RQ_DONE   (client ─► upstream)
 *           response half: RS_HEAD → RS_BODY → RS_DONE   (upstream ─► client)
 *           an upstream that fails before any answer: sent again where retry.c
 *           allows (a new connection for a stale pooled one, another upstream
 *           for a body-less GET/HEAD), else 502
 *           101 to an Upgrade ─► tunnel_begin (tunnel.c)
 *           both halves done ─► conn_finish (keep-alive or close)
 *
 * Bodies are streamed, not stored: request bytes go upstream from the
 * client's input buffer, response bytes to the client from the upstream's,
 * and each side stops reading while the other cannot take more.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <arpa/inet.h>

#include "common/ev.h"
#include "common/http1.h"
#include "common/log.h"
#include "common/tls.h"
#include "common/util.h"
#include "router/accesslog.h"
#include "router/balance.h"
#include "router/conn_int.h"
#include "router/metrics.h"
#include "router/retry.h"
#include "router/rewrite.h"
#include "router/routes.h"
#include "router/upstream.h"
#include "router/worker.h"

static int proxy_connect(struct conn *c, struct upstream *u, bool fresh);

static int
host_timeout_ms(const struct conn *c)
{
	return c->ex.host != NULL ? c->ex.host->timeout_s * 1000 : 60000;
}

/* ---- accounting: metrics and the access log of one exchange ---- */

void
exchange_done(struct conn *c)
{
	struct worker *w = c->w;
	const struct route_host *h = c->ex.host;
	struct host_stats *hs;

	if (!c->ex.active)
		return;
	c->ex.active = false;
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
	metrics_count(hs, c->ex.status, c->ex.bytes_in, c->ex.bytes_out);
	if (w->al.fd != -1) {
		struct access_entry e = {
			.rack = w->cfg->rack,
			.router = w->cfg->name,
			.app = h ? h->app : "",
			.service = h ? h->service : "",
			.process = h && c->ex.upstream ? h->ups[c->ex.up_idx].id : "",
			.host = c->ex.hostname,
			.method = c->ex.method,
			.path = c->ex.path,
			.client = c->peer_ip,
			.upstream = c->ex.upstream ? c->ex.upstream->name : "",
			.request_id = c->ex.reqid,
			.proto = c->ex.minor == 0 ? "HTTP/1.0" : "HTTP/1.1",
			.status = c->ex.status,
			.bytes_in = c->ex.bytes_in,
			.bytes_out = c->ex.bytes_out,
			.duration_ms = ms_since(&c->ex.t0),
			.upstream_ms = c->ex.upstream ? c->ex.up_ms : -1,
		};
		accesslog_add(&w->al, &e);
	}
	free(c->ex.path);
	c->ex.path = NULL;
}

void
exchange_release(struct conn *c)
{
	struct worker *w = c->w;

	if (c->ex.uc != NULL) {
		upstream_close(w, c->ex.uc);
		c->ex.uc = NULL;
	}
	worker_table_release(w, c->ex.wt);
	c->ex.wt = NULL;
	c->ex.host = NULL;
	c->ex.upstream = NULL;
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
	if (c->ex.rq != RQ_DONE && c->ex.rq_body != BK_NONE)
		close = true;
	if (close) {
		c->ex.keep = false;
		c->ex.linger = true;
	}
	if (c->ex.uc != NULL) {
		upstream_close(c->w, c->ex.uc);
		c->ex.uc = NULL;
	}
	buf_reset(&c->out);
	c->out_off = 0;
	rewrite_local_head(&c->out, &(struct rewrite_local){
		.status = status,
		.body_len = blen,
		.router = c->w->cfg->name,
		.rack = c->w->cfg->rack,
		.reqid = c->ex.reqid,
		.headers = headers,
		.keep = c->ex.keep,
		.minor = c->ex.minor,
	});
	if (!c->ex.head_req)
		buf_add(&c->out, body, blen);
	c->ex.status = status;
	conn_enter(c, CE_ANSWER_LOCAL);
	c->deadline = conn_now(c) + BODY_TIMEOUT_MS;
	return STEP_MORE;
}

int
exchange_step_local(struct conn *c)
{
	int r = conn_flush_out(c);

	if (r == -1) {
		exchange_done(c);
		conn_free(c);
		return STEP_FREED;
	}
	if (r == STEP_WAIT)
		return STEP_WAIT;
	return conn_finish(c);
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
	return getsockname(c->xp.fd, (struct sockaddr *)&local, &len) == 0 &&
	    local.sin_family == AF_INET && ntohl(local.sin_addr.s_addr) == c->peer_addr;
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
	snprintf(loc, sizeof(loc), "https://%s%s%s%.*s", c->ex.hostname, port,
	    c->ex.origin_slash ? "/" : "", (int)target.n, target.p);
	buf_init(&hdr, 0);
	buf_addf(&hdr, "Location: %s\r\n", loc);
	r = local_reply_with(c, 308, buf_cstr(&hdr), "redirecting to https\n", false);
	buf_free(&hdr);
	return r;
}

/* A head was parsed into w->req: route it and answer or connect. */
static int
exchange_start(struct conn *c)
{
	struct worker *w = c->w;
	struct http_request *req = &w->req;
	struct http_slice target = req->target, authority = { "", 0 };
	const struct http_slice *rid;
	const struct route_host *h;
	const struct routes *rt;
	char body[512];
	int absolute;

	rt = w->cur->rt;
	if (!routes_allowed(rt, c->peer_addr)) {
		/* The allow list changed under a kept-alive connection. */
		M_INC(w->m.denied);
		conn_free(c);
		return STEP_FREED;
	}
	c->ex.wt = worker_table_hold(w);
	c->ex.active = true;
	clock_gettime(CLOCK_MONOTONIC, &c->ex.t0);
	c->ex.host = NULL;
	c->ex.upstream = NULL;
	c->ex.attempts = 0;
	c->ex.retried = false;
	c->ex.origin_slash = false;
	c->ex.up_ms = -1;
	c->ex.minor = req->minor;
	c->ex.keep = req->keep_alive && !w->stopping;
	c->ex.linger = false;
	c->ex.upgrade = req->upgrade;
	c->ex.head_req = http_slice_eq(req->method, "HEAD");
	snprintf(c->ex.method, sizeof(c->ex.method), "%.*s", (int)req->method.n, req->method.p);
	if (w->al.fd != -1)
		c->ex.path = xstrndup(req->target.p, req->target.n < LOG_PATH_MAX ? req->target.n :
		    LOG_PATH_MAX);
	rid = http1_header(req, "x-request-id");
	if (rid != NULL && rewrite_valid_request_id(*rid))
		snprintf(c->ex.reqid, sizeof(c->ex.reqid), "%.*s", (int)rid->n, rid->p);
	else
		worker_request_id(w, c->ex.reqid);

	/* Absolute-form targets carry the authority that routes (RFC 9112 3.2.2);
	 * upstream they become origin-form with that authority as Host. */
	absolute = rewrite_absolute_target(&target, &authority, &c->ex.origin_slash);
	if (absolute == -1) {
		c->in_off += req->head_len;
		c->ex.rq = RQ_DONE;
		c->ex.rq_body = BK_NONE;
		rewrite_hostname(req->host, c->ex.hostname, sizeof(c->ex.hostname));
		return local_reply(c, 400, "invalid authority in the request target\n", true);
	}
	if (absolute == 1 && authority.n == 0)
		authority = req->host;
	rewrite_hostname(authority.n > 0 ? authority : req->host, c->ex.hostname,
	    sizeof(c->ex.hostname));
	c->ex.rq = RQ_HEAD;
	c->ex.rq_body = req->chunked ? BK_CHUNKED : req->content_length > 0 ? BK_LENGTH : BK_NONE;
	c->ex.rq_left = req->content_length > 0 ? (uint64_t)req->content_length : 0;
	c->ex.rq_ready = 0;
	c->ex.rq_end = false;
	c->ex.rq_sent_body = false;
	http1_chunked_init(&c->ex.rq_ck);
	c->in_off += req->head_len;	/* the head's bytes stay in place until compaction */

	if (http_slice_eq(req->method, "CONNECT"))
		return local_reply(c, 501, "CONNECT is not supported by this router\n", true);
	if (c->kind == LK_PLAIN && target.n >= sizeof(ACME_PREFIX) - 1 &&
	    memcmp(target.p, ACME_PREFIX, sizeof(ACME_PREFIX) - 1) == 0)
		return acme_answer(c, rt, target);
	if (strcmp(c->ex.hostname, "_cx") == 0 && c->kind != LK_PEER && from_this_host(c) &&
	    metrics_endpoint(req->method, target)) {
		struct buf m;
		int r;

		buf_init(&m, 0);
		metrics_render(&m, router_workers, w->cfg->nworkers, w->cfg, rt);
		r = local_reply(c, 200, buf_cstr(&m), false);
		buf_free(&m);
		return r;
	}
	if (c->kind == LK_EGRESS)
		h = routes_egress(rt, c->ex.hostname, strlen(c->ex.hostname));
	else
		h = routes_lookup(rt, c->ex.hostname, strlen(c->ex.hostname));
	if (h == NULL) {
		snprintf(body, sizeof(body), "no route for host \"%s\"\n", c->ex.hostname);
		return local_reply(c, 404, body, false);
	}
	c->ex.host = h;
	if (h->grpc) {
		/* gRPC is HTTP/2 framing, trailers included: an HTTP/1.1 request
		 * cannot carry it (h2.c forwards HTTP/2 streams to it). */
		snprintf(body, sizeof(body), "host \"%s\" serves gRPC, which needs HTTP/2: use h2c "
		    "(prior knowledge) on this port or TLS with ALPN h2\n", c->ex.hostname);
		return local_reply(c, 505, body, false);
	}
	if (h->redirect && c->kind == LK_PLAIN)
		return redirect_https(c, target);
	if (h->up_tls != ROUTE_PLAIN && h->up_ctx == NULL) {
		snprintf(body, sizeof(body), "no TLS to the upstreams of host \"%s\"%s%s%s\n",
		    c->ex.hostname, h->peer != NULL ? " (peer " : "", h->peer != NULL ? h->peer : "",
		    h->peer != NULL ? ": its CA did not load)" : "");
		return local_reply(c, 502, body, false);
	}
	if (h->nups == 0) {
		snprintf(body, sizeof(body), "no healthy process for host \"%s\" (%s/%s)\n",
		    c->ex.hostname, h->app, h->service);
		return local_reply(c, 503, body, false);
	}
	rewrite_request_head(&c->ex.uhead, req, &(struct rewrite_request){
		.target = target,
		.authority = authority,
		.origin_slash = c->ex.origin_slash,
		.upgrade = c->ex.upgrade,
		.client_ip = c->peer_ip,
		.peer_rack = c->kind == LK_PEER ? c->peer_rack : NULL,
		.xf_tail = w->xf_tail[c->kind],
		.reqid = c->ex.reqid,
	});
	c->ex.uhead_off = 0;
	{
		size_t idx;
		struct upstream *u = balance_pick(w, h, NULL, conn_now(c), &idx);

		c->ex.up_idx = idx;
		return proxy_connect(c, u, false);
	}
}

int
exchange_refuse_head(struct conn *c, int status, const char *body)
{
	c->ex.active = true;
	clock_gettime(CLOCK_MONOTONIC, &c->ex.t0);
	c->ex.minor = 1;
	c->ex.head_req = false;
	c->ex.hostname[0] = '\0';
	snprintf(c->ex.method, sizeof(c->ex.method), "-");
	c->ex.rq = RQ_DONE;
	c->ex.rq_body = BK_NONE;
	c->in_off = c->in_len;	/* nothing after a bad head can be trusted */
	worker_request_id(c->w, c->ex.reqid);
	return local_reply(c, status, body, true);
}

int
exchange_step_head(struct conn *c)
{
	struct worker *w = c->w;
	int r;

	if (c->parse_pending && c->in_len > c->in_off) {
		c->parse_pending = false;
		r = http1_parse_request(c->in + c->in_off, c->in_len - c->in_off, MAX_HEAD, &w->req);
		if (r == CX_OK)
			return exchange_start(c);
		if (r == CX_ERR) {
			M_INC(w->m.bad_requests);
			return exchange_refuse_head(c, w->req.status,
			    w->req.error ? w->req.error : "bad request");
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

		r = conn_read(c);
		if (r == 1) {
			if (was_empty)
				c->deadline = conn_now(c) + HEAD_TIMEOUT_MS;
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

	if (c->ex.resp_started || c->ex.rs != RS_HEAD) {
		/* Part of the answer is out: all we can do is cut it. */
		exchange_done(c);
		conn_free(c);
		return STEP_FREED;
	}
	snprintf(body, sizeof(body), "%s%s%s\n", why, c->ex.upstream ? " " : "",
	    c->ex.upstream ? c->ex.upstream->name : "");
	/* local_reply closes if part of a request body is still unread. */
	return local_reply(c, status, body, false);
}

/* Sends the request again to another upstream of its host than the one
 * that failed; -1 if there is none. */
static int
retry_other(struct conn *c, int *step)
{
	struct upstream *next;
	size_t idx;

	next = balance_pick(c->w, c->ex.host, c->ex.upstream, conn_now(c), &idx);
	if (next == NULL)
		return -1;
	c->ex.up_idx = idx;
	*step = proxy_connect(c, next, false);
	return 0;
}

/* The connect to c->ex.upstream failed: eject it, try one other, else 502/504. */
static int
connect_failed(struct conn *c, bool timeout)
{
	struct worker *w = c->w;
	struct retry_case rc = { .connect_failed = true, .tried_other = c->ex.attempts >= 2,
		.retried_fresh = c->ex.retried, .has_body = c->ex.rq_body != BK_NONE,
		.safe_method = c->ex.head_req || strcmp(c->ex.method, "GET") == 0 };
	int step;

	M_INC(w->m.upstream_connect_errors);
	balance_eject(c->ex.upstream, conn_now(c));
	if (c->ex.uc != NULL) {
		upstream_close(w, c->ex.uc);
		c->ex.uc = NULL;
	}
	if (retry_decide(&rc) == RETRY_OTHER && retry_other(c, &step) == 0)
		return step;
	c->ex.rs = RS_HEAD;
	c->ex.resp_started = false;
	return proxy_fail(c, timeout ? 504 : 502, timeout ? "upstream connect timed out:" :
	    "upstream refused the connection:");
}

static int
proxy_connect(struct conn *c, struct upstream *u, bool fresh)
{
	struct worker *w = c->w;
	bool reused;

	c->ex.upstream = u;
	c->ex.attempts++;
	conn_enter(c, CE_ROUTED);
	c->ex.rq = RQ_HEAD;
	c->ex.uhead_off = 0;
	c->ex.rs = RS_HEAD;
	c->ex.rs_ready = 0;
	c->ex.rs_end = false;
	c->ex.resp_started = false;
	c->ex.dechunk = false;
	clock_gettime(CLOCK_MONOTONIC, &c->ex.up_t0);
	c->ex.uc = upstream_acquire(w, u, &c->ex, fresh, &reused, c->ex.host->up_ctx,
	    c->ex.host->peer != NULL ? c->ex.host->peer : c->ex.host->name);
	if (c->ex.uc == NULL)
		return connect_failed(c, false);
	if (!reused)
		c->deadline = conn_now(c) + (host_timeout_ms(c) < CONNECT_TIMEOUT_MS ?
		    host_timeout_ms(c) : CONNECT_TIMEOUT_MS);
	else
		c->deadline = conn_now(c) + host_timeout_ms(c);
	return STEP_MORE;
}

/* The upstream failed c's request (closed, reset, refused the write):
 * sent again where retry_decide allows, else 502. */
static int
upstream_failed(struct conn *c, const char *why)
{
	struct worker *w = c->w;
	struct retry_case rc = {
		.reused = c->ex.uc->reused,
		.answered = c->ex.rs != RS_HEAD || c->ex.resp_started || c->ex.uc->len > 0,
		.has_body = c->ex.rq_body != BK_NONE,
		.body_sent = c->ex.rq_sent_body,
		.head_sent = c->ex.rq != RQ_HEAD,
		.safe_method = c->ex.head_req || strcmp(c->ex.method, "GET") == 0,
		.retried_fresh = c->ex.retried,
		.tried_other = c->ex.attempts >= 2,
	};
	enum retry_kind kind = retry_decide(&rc);
	int step;

	if (kind != RETRY_NO) {
		upstream_close(w, c->ex.uc);
		c->ex.uc = NULL;
		c->ex.rq_ready = 0;
		c->ex.rq_end = false;
		http1_chunked_init(&c->ex.rq_ck);
	}
	if (kind == RETRY_FRESH_SAME) {
		M_INC(w->m.upstream_retries);
		c->ex.retried = true;
		c->ex.attempts--;
		return proxy_connect(c, c->ex.upstream, true);
	}
	if (kind == RETRY_OTHER && retry_other(c, &step) == 0) {
		M_INC(w->m.upstream_retries);
		return step;
	}
	M_INC(w->m.upstream_errors);
	return proxy_fail(c, 502, why);
}

/* How many bytes at in[in_off] are request body, ready to go upstream. */
static int
request_body_ready(struct conn *c)
{
	size_t avail = c->in_len - c->in_off;

	if (c->ex.rq_body == BK_LENGTH) {
		c->ex.rq_ready = avail < c->ex.rq_left ? avail : (size_t)c->ex.rq_left;
	} else if (c->ex.rq_body == BK_CHUNKED && !c->ex.rq_end && avail > c->ex.rq_ready) {
		size_t used;
		int r = http1_chunked_parse(&c->ex.rq_ck, c->in + c->in_off + c->ex.rq_ready,
		    avail - c->ex.rq_ready, &used, NULL, NULL);

		c->ex.rq_ready += used;
		if (r == CX_ERR)
			return -1;
		if (r == CX_OK)
			c->ex.rq_end = true;
	}
	return 0;
}

static bool
request_body_done(const struct conn *c)
{
	if (c->ex.rq_body == BK_NONE)
		return true;
	if (c->ex.rq_body == BK_LENGTH)
		return c->ex.rq_left == 0;
	return c->ex.rq_end && c->ex.rq_ready == 0;
}

/* Client -> upstream: the head we built, then body bytes as they come. */
static int
pump_request(struct conn *c)
{
	struct upconn *uc = c->ex.uc;
	bool progress = false;

	for (;;) {
		struct iovec iov[2];
		int cnt = 0;
		size_t head_left = c->ex.uhead.len - c->ex.uhead_off, total;
		ssize_t n;

		if (c->ex.rq != RQ_HEAD && request_body_done(c)) {
			c->ex.rq = RQ_DONE;
			return progress ? STEP_MORE : STEP_WAIT;
		}
		if (request_body_ready(c) == -1) {
			M_INC(c->w->m.bad_requests);
			return proxy_fail(c, 400, "malformed chunked request body");
		}
		if (head_left > 0) {
			iov[cnt].iov_base = c->ex.uhead.data + c->ex.uhead_off;
			iov[cnt++].iov_len = head_left;
		}
		if (c->ex.rq_ready > 0) {
			iov[cnt].iov_base = c->in + c->in_off;
			iov[cnt++].iov_len = c->ex.rq_ready;
		}
		if (cnt == 0) {
			int r;

			if (c->ex.rq == RQ_HEAD) {
				c->ex.rq = RQ_BODY;
				continue;
			}
			/* Need more body from the client. */
			r = conn_read(c);
			if (r == 1) {
				progress = true;
				c->deadline = conn_now(c) + host_timeout_ms(c);
				continue;
			}
			if (r == -1)
				return proxy_fail(c, 400, "client closed in the middle of the body");
			return progress ? STEP_MORE : STEP_WAIT;
		}
		if (!uc->wr_ready)
			return progress ? STEP_MORE : STEP_WAIT;
		total = head_left + c->ex.rq_ready;
		n = xport_writev(&uc->xp, iov, cnt);
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				uc->wr_ready = false;
				continue;
			}
			if (errno == EINTR)
				continue;
			uc->err = true;
			if (c->ex.rs != RS_HEAD) {
				/* It answered and stopped reading (say, 413 to a
				 * large upload): deliver the answer, drop the rest. */
				c->ex.rq = RQ_DONE;
				c->ex.keep = false;
				c->ex.linger = true;
				c->ex.up_reusable = false;
				return STEP_MORE;
			}
			return upstream_failed(c, "upstream write failed:");
		}
		progress = true;
		if ((size_t)n < total)
			uc->wr_ready = false;
		if ((size_t)n <= head_left) {
			c->ex.uhead_off += (size_t)n;
		} else {
			size_t body = (size_t)n - head_left;

			c->ex.uhead_off = c->ex.uhead.len;
			c->in_off += body;
			c->ex.rq_ready -= body;
			if (c->ex.rq_body == BK_LENGTH)
				c->ex.rq_left -= body;
			c->ex.rq_sent_body = true;
		}
		if (c->ex.uhead_off == c->ex.uhead.len && c->ex.rq == RQ_HEAD)
			c->ex.rq = RQ_BODY;
		c->deadline = conn_now(c) + host_timeout_ms(c);
	}
}

/* Response header names we do not pass to the client. */

static int
response_head(struct conn *c)
{
	struct worker *w = c->w;
	struct http_response *resp = &w->resp;
	struct upconn *uc = c->ex.uc;
	struct buf *b = &c->out;

	if (resp->status < 200 && resp->status != 101) {
		/* Interim (100 Continue, 103): pass to HTTP/1.1 clients as is. */
		rewrite_interim_head(b, resp, uc->in + uc->off, c->ex.minor);
		uc->off += resp->head_len;
		uc->parse_pending = uc->len > uc->off;
		return STEP_MORE;
	}
	c->ex.status = resp->status;
	c->ex.up_ms = ms_since(&c->ex.up_t0);
	if (resp->status == 101) {
		if (!c->ex.upgrade || c->ex.rq != RQ_DONE) {
			M_INC(w->m.upstream_errors);
			return proxy_fail(c, 502, "upstream switched protocols unasked:");
		}
		rewrite_interim_head(b, resp, uc->in + uc->off, 1);	/* as is, to either version */
		uc->off += resp->head_len;
		tunnel_begin(c);
		return STEP_MORE;
	}
	c->ex.rs_body = (int)http1_response_body(resp, c->ex.head_req);
	c->ex.rs_left = resp->content_length > 0 ? (uint64_t)resp->content_length : 0;
	c->ex.up_reusable = resp->keep_alive && c->ex.rs_body != BK_CLOSE;
	if (c->ex.rs_body == BK_CHUNKED && c->ex.minor == 0) {
		c->ex.dechunk = true;	/* HTTP/1.0 knows no chunks: decode, then close */
		c->ex.keep = false;
	}
	if (c->ex.rs_body == BK_CLOSE)
		c->ex.keep = false;
	if (c->ex.rq != RQ_DONE) {
		/* Answered before the whole body was sent: keep streaming it
		 * (echo-like servers answer while they read), but the two
		 * connections end with this exchange. */
		c->ex.keep = false;
		c->ex.linger = true;
		c->ex.up_reusable = false;
	}
	http1_chunked_init(&c->ex.rs_ck);
	c->ex.rs_ready = 0;
	c->ex.rs_end = false;
	rewrite_response_head(b, resp, uc->in + uc->off, c->ex.dechunk, c->ex.keep, c->ex.minor);
	uc->off += resp->head_len;
	c->ex.rs = RS_BODY;
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
	struct upconn *uc = c->ex.uc;
	size_t avail = uc->len - uc->off;

	switch (c->ex.rs_body) {
	case BK_NONE:
		c->ex.rs_ready = 0;
		c->ex.rs_end = true;
		break;
	case BK_LENGTH:
		c->ex.rs_ready = avail < c->ex.rs_left ? avail : (size_t)c->ex.rs_left;
		break;
	case BK_CLOSE:
		c->ex.rs_ready = avail;
		break;
	case BK_CHUNKED:
		if (c->ex.rs_end || avail <= c->ex.rs_ready)
			break;
		if (c->ex.dechunk) {
			size_t used;
			int r;

			if (c->out.len - c->out_off > DECHUNK_MAX)
				break;
			r = http1_chunked_parse(&c->ex.rs_ck, uc->in + uc->off, avail, &used,
			    dechunk_data, c);
			uc->off += used;
			if (r == CX_ERR)
				return -1;
			if (r == CX_OK)
				c->ex.rs_end = true;
		} else {
			size_t used;
			int r = http1_chunked_parse(&c->ex.rs_ck, uc->in + uc->off + c->ex.rs_ready,
			    avail - c->ex.rs_ready, &used, NULL, NULL);

			c->ex.rs_ready += used;
			if (r == CX_ERR)
				return -1;
			if (r == CX_OK)
				c->ex.rs_end = true;
		}
		break;
	}
	return 0;
}

static bool
response_done(const struct conn *c)
{
	switch (c->ex.rs_body) {
	case BK_NONE:
		return true;
	case BK_LENGTH:
		return c->ex.rs_left == 0;
	case BK_CHUNKED:
		return c->ex.rs_end && c->ex.rs_ready == 0;
	default:
		return c->ex.uc->eof && c->ex.rs_ready == 0 && c->ex.uc->off == c->ex.uc->len;
	}
}

/* Upstream -> client: the response head, then its body as it comes. */
static int
pump_response(struct conn *c)
{
	struct worker *w = c->w;
	struct upconn *uc = c->ex.uc;
	bool progress = false;

	while (c->ex.rs == RS_HEAD) {
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
			r = conn_flush_out(c);
			if (r == -1) {
				exchange_done(c);
				conn_free(c);
				return STEP_FREED;
			}
		}
		r = upconn_read(uc);
		if (r == 1) {
			progress = true;
			c->deadline = conn_now(c) + host_timeout_ms(c);
			continue;
		}
		if (r == -1)
			return upstream_failed(c, "upstream closed without answering:");
		return progress ? STEP_MORE : STEP_WAIT;
	}

	while (c->ex.rs == RS_BODY) {
		struct iovec iov[2];
		int cnt = 0, r;
		size_t out_left, total;
		ssize_t n;

		if (response_body_ready(c) == -1) {
			M_INC(w->m.upstream_errors);
			exchange_done(c);
			conn_free(c);
			return STEP_FREED;
		}
		out_left = c->out.len - c->out_off;
		if (out_left == 0 && c->ex.rs_ready == 0 && response_done(c)) {
			c->ex.rs = RS_DONE;
			return STEP_MORE;
		}
		if (out_left > 0) {
			iov[cnt].iov_base = c->out.data + c->out_off;
			iov[cnt++].iov_len = out_left;
		}
		if (c->ex.rs_ready > 0) {
			iov[cnt].iov_base = uc->in + uc->off;
			iov[cnt++].iov_len = c->ex.rs_ready;
		}
		if (cnt > 0 && c->wr_ready) {
			total = out_left + c->ex.rs_ready;
			n = xport_writev(&c->xp, iov, cnt);
			if (n < 0) {
				if (errno == EAGAIN || errno == EWOULDBLOCK) {
					c->wr_ready = false;
				} else if (errno != EINTR) {
					exchange_done(c);
					conn_free(c);
					return STEP_FREED;
				}
			} else {
				size_t body;

				progress = true;
				c->ex.resp_started = true;
				c->ex.bytes_out += (uint64_t)n;
				if ((size_t)n < total)
					c->wr_ready = false;
				if ((size_t)n <= out_left) {
					c->out_off += (size_t)n;
				} else {
					body = (size_t)n - out_left;
					c->out_off = c->out.len;
					uc->off += body;
					c->ex.rs_ready -= body;
					if (c->ex.rs_body == BK_LENGTH)
						c->ex.rs_left -= body;
				}
				if (c->out_off == c->out.len) {
					buf_reset(&c->out);
					c->out_off = 0;
				}
				c->deadline = conn_now(c) + host_timeout_ms(c);
				continue;
			}
		}
		/* Nothing (more) can go to the client now: read from upstream
		 * if there is room and the body is not all here yet. */
		if (c->ex.rs_ready > 0 && !c->wr_ready)
			return progress ? STEP_MORE : STEP_WAIT;
		if (c->ex.rs_body == BK_NONE || (c->ex.rs_body == BK_LENGTH && c->ex.rs_ready >= c->ex.rs_left) ||
		    (c->ex.rs_body == BK_CHUNKED && c->ex.rs_end))
			return progress ? STEP_MORE : STEP_WAIT;
		r = upconn_read(uc);
		if (r == 1) {
			progress = true;
			continue;
		}
		if (r == -1) {
			if (c->ex.rs_body == BK_CLOSE && uc->eof)
				continue;	/* the end of a close-delimited body */
			M_INC(w->m.upstream_errors);
			exchange_done(c);
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
	short want = xport_wants(&uc->xp);
	int r;

	if (uc->err)
		return connect_failed(c, false);
	if (!((want & POLLIN) && uc->rd_ready) && !((want & POLLOUT) && uc->wr_ready))
		return STEP_WAIT;
	r = xport_handshake(&uc->xp);
	if (r == CX_OK) {
		M_INC(w->m.upstream_tls_handshakes);
		uc->rd_ready = true;	/* OpenSSL may hold bytes read with the handshake */
		return STEP_MORE;
	}
	if (r == CX_AGAIN) {
		if (xport_wants(&uc->xp) & POLLIN)
			uc->rd_ready = false;
		else
			uc->wr_ready = false;
		return STEP_WAIT;
	}
	M_INC(w->m.upstream_tls_errors);
	log_warnx("upstream %s%s%s%s: %s", uc->up->name, uc->up->peer[0] ? " (peer " : "",
	    uc->up->peer, uc->up->peer[0] ? ")" : "", tls_conn_error(uc->xp.tls));
	return connect_failed(c, false);
}

int
exchange_step_proxy(struct conn *c)
{
	struct upconn *uc = c->ex.uc;
	int r, r2;

	if (!uc->connected) {
		int err = 0;
		socklen_t len = sizeof(err);

		if (!uc->tcp_done) {
			if (!uc->wr_ready && !uc->err && !uc->eof)
				return STEP_WAIT;
			if (getsockopt(uc->xp.fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1 || err != 0 ||
			    uc->err) {
				return connect_failed(c, false);
			}
			uc->tcp_done = true;
			uc->rd_ready = true;	/* an edge may have come with the connect */
		}
		if (uc->xp.tls != NULL) {	/* a plain one has no handshake */
			r = upstream_handshake(c, uc);
			if (r != STEP_MORE)
				return r;
		}
		uc->connected = true;
		c->deadline = conn_now(c) + host_timeout_ms(c);
	}
	r = STEP_WAIT;
	if (c->ex.rq != RQ_DONE) {
		r = pump_request(c);
		if (r == STEP_FREED || c->state != CS_PROXY)
			return r == STEP_FREED ? STEP_FREED : STEP_MORE;
	}
	r2 = pump_response(c);
	if (r2 == STEP_FREED || c->state != CS_PROXY)
		return r2 == STEP_FREED ? STEP_FREED : STEP_MORE;
	if (c->ex.rs == RS_DONE) {
		struct upconn *done = c->ex.uc;

		if (c->ex.rq != RQ_DONE) {
			/* Answered in full while the body still comes: the
			 * client's rest is drained by the lingering close. */
			c->ex.keep = false;
			c->ex.linger = true;
		}
		c->ex.uc = NULL;
		if (c->ex.up_reusable && c->ex.rq == RQ_DONE && done->off == done->len)
			upstream_release(c->w, done);
		else
			upstream_close(c->w, done);
		return conn_finish(c);
	}
	return r == STEP_MORE || r2 == STEP_MORE ? STEP_MORE : STEP_WAIT;
}


int
exchange_timeout(struct conn *c)
{
	struct worker *w = c->w;

	if (!c->ex.uc->connected)
		return connect_failed(c, true);
	if (c->ex.rs == RS_HEAD && !c->ex.resp_started) {
		M_INC(w->m.upstream_timeouts);
		return proxy_fail(c, 504, "upstream did not answer in time:");
	}
	exchange_done(c);
	conn_free(c);
	return STEP_FREED;
}
