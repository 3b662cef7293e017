/*
 * h2.c — see h2.h. The only file that includes nghttp2.
 *
 * One session per connection (struct h2), one struct h2_stream per request
 * stream. conn.c hands bytes over in CS_H2: h2_step feeds what the client
 * sent to nghttp2_session_mem_recv, runs the streams, and writes what
 * nghttp2_session_mem_send gives, reading no more from the client while
 * its last output is not written (a peer that does not read cannot make us
 * queue). A stream's life:
 *
 *   HEADERS ── header list done ──► READY ── routed (after the read that
 *   brought it: a stream reset in the same read never reaches an upstream)
 *     ├─ local answer (404, 503, 501, the metrics page...) ──► ANSWERED
 *     └─ upstream connect ──► PROXY: request head + body (DATA, window
 *        given back as it goes upstream), response head ──► ANSWERED:
 *        body from the upstream into the stream's buffer (H2_STREAM_BUF;
 *        the upstream is not read while it is full), out as DATA as the
 *        client's windows allow (a window of 0 that lasts --idle-timeout
 *        while bytes wait: reset)
 *   the stream closes (both ends done, or a reset) ──► counted, logged, freed
 *
 * The request goes upstream as HTTP/1.1: its HTTP/2 header list becomes an
 * HTTP/1.1 head (h2_req_head, in h2conv.c), parsed with the HTTP/1.1 parser, and from
 * there routes and is rewritten exactly as an HTTP/1.1 request is
 * (rewrite.c). Answers, an upstream's or our own, are HTTP/1.1 heads turned
 * into HTTP/2 fields (h2_response_fields).
 */
#include "router/h2.h"
#include "router/h2up.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <arpa/inet.h>

#include <nghttp2/nghttp2.h>

#include "common/ev.h"
#include "common/log.h"
#include "common/tls.h"
#include "router/accesslog.h"
#include "router/balance.h"
#include "router/conn_int.h"
#include "router/metrics.h"
#include "router/retry.h"
#include "router/rewrite.h"
#include "router/routes.h"
#include "router/upstream.h"
#include "router/worker.h"

#define H2_FIELDS_MAX	(HTTP_MAX_HEADERS + 1)

/* ---- sessions and streams ---- */

enum { SP_HEADERS, SP_READY, SP_PROXY, SP_ANSWERED };

struct h2;

struct h2_stream {
	struct h2 *h2;
	struct h2_stream *prev, *next;
	int32_t id;
	int phase;
	struct h2_req req;
	bool rq_end;			/* the client's END_STREAM came */
	bool has_body;			/* no END_STREAM with the header list */
	bool rq_chunked;		/* the body goes upstream chunked (no Content-Length) */
	bool rq_sent_body;
	bool bad;			/* its header list was refused: reset */
	size_t trailer_size;		/* of its trailers (counted, not passed on) */

	/* Upstream: the head we send, then body bytes as they come. */
	struct wtable *wt;
	const struct route_host *host;
	struct upstream *upstream;
	size_t up_idx;
	struct upconn *uc;
	int attempts;
	bool retried, head_req, safe;
	struct buf uhead, rq;
	size_t uhead_off, rq_off;
	size_t rq_unconsumed;		/* DATA bytes buffered, window not yet given back */

	int rs, rs_body;
	uint64_t rs_left;
	struct http_chunked rs_ck;
	bool up_reusable;
	struct buf rsb;			/* response body for the client */
	size_t rsb_off;
	bool rs_eof, deferred, submitted;
	int64_t stalled_since;		/* its DATA waits on a window of 0 since (0: not) */

	/* For the log and the metrics. */
	bool active;
	char hostname[ROUTES_MAX_HOST + 1];
	char reqid[72];
	char *path;
	int status;
	uint64_t bytes_in, bytes_out;
	struct timespec t0, up_t0;
	double up_ms;
	int64_t deadline;

	/* A gRPC route's stream goes upstream as HTTP/2 (h2up.c): what came
	 * back waits here for grpc_pump (h2up's callbacks only record). */
	bool grpc;
	struct h2up_stream *ups;
	struct buf g_head, g_trail;	/* name\0value\0 pairs of the head and the trailers */
	size_t g_nhead, g_ntrail;
	int g_status;			/* the head's :status, 0 until it came */
	int g_end;			/* enum h2up_end + 1, 0 while it runs */
	char g_why[160];
};

struct h2 {
	struct conn *c;
	nghttp2_session *s;
	struct h2_stream *streams;
	size_t nstreams;
	const uint8_t *pend;		/* mem_send's bytes not yet written */
	size_t pend_len;
	size_t block_bytes;		/* of the header block being received */
	bool calm;			/* a limit was broken: GOAWAY queued, nothing more read */
	bool draining;			/* shutting down: GOAWAY(NO_ERROR) queued */
	int64_t io_deadline;		/* --idle-timeout after the last byte either way */
	int64_t idle_since;		/* when the last stream closed (or the start) */
	/* Streams we reset (a client can make us: "MadeYouReset"): a bucket
	 * of H2_RESET_BURST, refilled by H2_RESET_RATE a second. */
	double our_resets;
	int64_t our_resets_at;
};

static int stream_connect(struct h2_stream *st, struct upstream *u, bool fresh);
static void grpc_begin(struct h2_stream *st);
static void grpc_trailers(struct h2_stream *st, uint32_t *flags);
static ssize_t body_read(nghttp2_session *s, int32_t id, uint8_t *out, size_t len,
    uint32_t *flags, nghttp2_data_source *src, void *arg);

static int64_t
h2_now(const struct h2 *h)
{
	return conn_now(h->c);
}

/* --idle-timeout */
static int
h2_idle_ms(const struct h2 *h)
{
	return h->c->w->cfg->idle_timeout_ms;
}

static int
stream_timeout_ms(const struct h2_stream *st)
{
	return st->host != NULL ? st->host->timeout_s * 1000 : 60000;
}

/* A limit was broken: GOAWAY (ENHANCE_YOUR_CALM) and no more reading. */
static void
h2_calm(struct h2 *h, const char *what)
{
	if (!h->calm) {
		log_debug("HTTP/2 client %s: %s: GOAWAY", h->c->peer_ip, what);
		nghttp2_session_terminate_session(h->s, NGHTTP2_ENHANCE_YOUR_CALM);
	}
	h->calm = true;
}

/* Counted in the metrics and the access log, once. */
static void
stream_account(struct h2_stream *st)
{
	struct worker *w = st->h2->c->w;
	const struct route_host *h = st->host;
	struct host_stats *hs;

	if (!st->active)
		return;
	st->active = false;
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
	metrics_count(hs, st->status, st->bytes_in, st->bytes_out);
	if (w->al.fd != -1) {
		struct access_entry e = {
			.rack = w->cfg->rack,
			.router = w->cfg->name,
			.app = h ? h->app : "",
			.service = h ? h->service : "",
			.process = h && st->upstream ? h->ups[st->up_idx].id : "",
			.host = st->hostname,
			.method = st->req.method,
			.path = st->path,
			.client = st->h2->c->peer_ip,
			.upstream = st->upstream ? st->upstream->name : "",
			.request_id = st->reqid,
			.proto = "HTTP/2",
			.status = st->status,
			.bytes_in = st->bytes_in,
			.bytes_out = st->bytes_out,
			.duration_ms = ms_since(&st->t0),
			.upstream_ms = st->upstream ? st->up_ms : -1,
		};
		accesslog_add(&w->al, &e);
	}
}

static void
stream_release_upstream(struct h2_stream *st)
{
	if (st->uc != NULL) {
		upstream_close(st->h2->c->w, st->uc);
		st->uc = NULL;
	}
	if (st->ups != NULL) {
		h2up_release(st->ups);
		st->ups = NULL;
	}
}

/* The request body buffered for the upstream will not go there: dropped,
 * and its window given back (to the connection alone once the stream is
 * closed), or the client's connection window would shrink for good. */
static void
stream_drop_body(struct h2_stream *st, bool closed)
{
	if (st->rq_unconsumed > 0) {
		if (closed)
			nghttp2_session_consume_connection(st->h2->s, st->rq_unconsumed);
		else
			nghttp2_session_consume(st->h2->s, st->id, st->rq_unconsumed);
		st->rq_unconsumed = 0;
	}
	buf_reset(&st->rq);
	st->rq_off = 0;
}

static void
stream_free(struct h2_stream *st)
{
	struct h2 *h = st->h2;

	stream_drop_body(st, true);
	stream_account(st);
	stream_release_upstream(st);
	worker_table_release(h->c->w, st->wt);
	if (st->prev != NULL)
		st->prev->next = st->next;
	else
		h->streams = st->next;
	if (st->next != NULL)
		st->next->prev = st->prev;
	if (--h->nstreams == 0)
		h->idle_since = h2_now(h);
	h2_req_free(&st->req);
	buf_free(&st->uhead);
	buf_free(&st->rq);
	buf_free(&st->rsb);
	buf_free(&st->g_head);
	buf_free(&st->g_trail);
	free(st->path);
	free(st);
}

/* ---- answers on a stream ---- */

/* nv[0..max) from the name\0value\0 pairs of b; the count. */
static size_t
pairs_nv(const struct buf *b, size_t n, nghttp2_nv *nv, size_t max)
{
	const char *p = b->data;
	size_t i;

	for (i = 0; i < n && i < max; i++) {
		size_t nl = strlen(p), vl = strlen(p + nl + 1);

		nv[i] = (nghttp2_nv){ (uint8_t *)p, (uint8_t *)p + nl + 1, nl, vl,
			NGHTTP2_NV_FLAG_NONE };
		p += nl + vl + 2;
	}
	return i;
}

static void
pairs_add(struct buf *b, size_t *n, const char *name, size_t nl, const char *value, size_t vl)
{
	buf_add(b, name, nl);
	buf_add(b, "", 1);
	buf_add(b, value, vl);
	buf_add(b, "", 1);
	(*n)++;
}

/* The body is out: the trailers end the stream instead of the last DATA
 * (called from nghttp2's data callback, as its API asks). */
static void
grpc_trailers(struct h2_stream *st, uint32_t *flags)
{
	nghttp2_nv nv[H2_FIELDS_MAX];
	size_t n = pairs_nv(&st->g_trail, st->g_ntrail, nv, H2_FIELDS_MAX);

	*flags |= NGHTTP2_DATA_FLAG_EOF;
	if (nghttp2_submit_trailer(st->h2->s, st->id, nv, n) == 0)
		*flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
}

static ssize_t
body_read(nghttp2_session *s, int32_t id, uint8_t *out, size_t len, uint32_t *flags,
    nghttp2_data_source *src, void *arg)
{
	struct h2_stream *st = src->ptr;
	size_t avail = st->rsb.len - st->rsb_off;

	(void)s;
	(void)id;
	(void)arg;
	if (avail == 0 && !st->rs_eof) {
		st->deferred = true;
		return NGHTTP2_ERR_DEFERRED;
	}
	if (len > avail)
		len = avail;
	memcpy(out, st->rsb.data + st->rsb_off, len);
	st->rsb_off += len;
	st->bytes_out += len;
	if (st->ups != NULL)
		h2up_consumed(st->ups, len);	/* the upstream may send as much again */
	if (st->rsb_off == st->rsb.len) {
		buf_reset(&st->rsb);
		st->rsb_off = 0;
		if (st->rs_eof && st->g_ntrail > 0)
			grpc_trailers(st, flags);
		else if (st->rs_eof)
			*flags |= NGHTTP2_DATA_FLAG_EOF;
	}
	return (ssize_t)len;
}

/* Sends the answer whose HTTP/1.1 head is resp: its fields as HTTP/2, the
 * body from rsb as it comes (none: END_STREAM with the head). */
static void
stream_submit(struct h2_stream *st, const struct http_response *resp, bool body)
{
	struct h2_field f[H2_FIELDS_MAX];
	nghttp2_nv nv[H2_FIELDS_MAX + 1];
	char names[MAX_HEAD], status[8];
	size_t n = h2_response_fields(resp, f, H2_FIELDS_MAX, names, sizeof(names));
	nghttp2_data_provider dp = { .source.ptr = st, .read_callback = body_read };

	snprintf(status, sizeof(status), "%d", resp->status);
	nv[0] = (nghttp2_nv){ (uint8_t *)":status", (uint8_t *)status, 7, strlen(status),
		NGHTTP2_NV_FLAG_NONE };
	for (size_t i = 0; i < n; i++) {
		nv[i + 1] = (nghttp2_nv){ (uint8_t *)f[i].name, (uint8_t *)f[i].value, f[i].namelen,
			f[i].valuelen, NGHTTP2_NV_FLAG_NONE };
	}
	st->status = resp->status;
	st->submitted = true;
	if (nghttp2_submit_response(st->h2->s, st->id, nv, n + 1, body ? &dp : NULL) != 0)
		nghttp2_submit_rst_stream(st->h2->s, NGHTTP2_FLAG_NONE, st->id,
		    NGHTTP2_INTERNAL_ERROR);
}

/* New body bytes (or its end) for a deferred DATA source. */
static void
stream_resume(struct h2_stream *st)
{
	if (st->deferred) {
		st->deferred = false;
		nghttp2_session_resume_data(st->h2->s, st->id);
	}
}

/* An answer the router makes (404, 502...), in the head rewrite.c writes
 * for HTTP/1.1 clients, turned into HTTP/2. */
static void
stream_local(struct h2_stream *st, int status, const char *headers, const char *body)
{
	struct worker *w = st->h2->c->w;
	struct http_response resp;
	struct buf head;
	size_t blen = strlen(body);

	stream_release_upstream(st);
	buf_init(&head, 0);
	rewrite_local_head(&head, &(struct rewrite_local){
		.status = status, .body_len = blen, .router = w->cfg->name, .rack = w->cfg->rack,
		.reqid = st->reqid, .headers = headers, .keep = true, .minor = 1,
	});
	if (http1_parse_response(head.data, head.len, 0, &resp) != CX_OK) {
		nghttp2_submit_rst_stream(st->h2->s, NGHTTP2_FLAG_NONE, st->id,
		    NGHTTP2_INTERNAL_ERROR);
		buf_free(&head);
		return;
	}
	buf_reset(&st->rsb);
	st->rsb_off = 0;
	if (!st->head_req)
		buf_add(&st->rsb, body, blen);
	st->rs_eof = true;
	st->phase = SP_ANSWERED;	/* a request body still coming is dropped */
	stream_drop_body(st, false);
	stream_submit(st, &resp, st->rsb.len > 0);
	buf_free(&head);
}

/* A gRPC stream the upstream failed: grpc-status 14 (UNAVAILABLE) with
 * why, as trailers after what was sent, or as the whole answer (a
 * "trailers-only" one) when nothing was. A client's gRPC library reports a
 * reset as INTERNAL or CANCELLED; UNAVAILABLE is the status its retry
 * policy knows to retry. Logged as 502. */
static void
grpc_unavailable(struct h2_stream *st, const char *why)
{
	char msg[200];
	size_t ml = 0;

	stream_release_upstream(st);
	/* grpc-message is percent-encoded: keep printable ASCII but '%'. */
	for (const char *p = why; *p != '\0' && ml + 1 < sizeof(msg); p++)
		msg[ml++] = *p >= 0x20 && *p < 0x7f && *p != '%' ? *p : '?';
	msg[ml] = '\0';
	buf_reset(&st->g_trail);
	st->g_ntrail = 0;
	pairs_add(&st->g_trail, &st->g_ntrail, "grpc-status", 11, "14", 2);
	pairs_add(&st->g_trail, &st->g_ntrail, "grpc-message", 12, msg, ml);
	st->rs_eof = true;
	st->phase = SP_ANSWERED;
	stream_drop_body(st, false);
	if (!st->submitted) {
		nghttp2_nv nv[4];
		size_t n = 2;

		nv[0] = (nghttp2_nv){ (uint8_t *)":status", (uint8_t *)"200", 7, 3,
			NGHTTP2_NV_FLAG_NONE };
		nv[1] = (nghttp2_nv){ (uint8_t *)"content-type", (uint8_t *)"application/grpc", 12,
			16, NGHTTP2_NV_FLAG_NONE };
		n += pairs_nv(&st->g_trail, st->g_ntrail, nv + 2, 2);
		st->submitted = true;
		st->g_ntrail = 0;
		if (nghttp2_submit_response(st->h2->s, st->id, nv, n, NULL) != 0)
			nghttp2_submit_rst_stream(st->h2->s, NGHTTP2_FLAG_NONE, st->id,
			    NGHTTP2_INTERNAL_ERROR);
	}
	st->status = 502;
	stream_resume(st);
}

/* ---- routing a stream ---- */

/* The client is this host (as exchange.c decides for the metrics page):
 * loopback, or the very address the router listens on. */
static bool
from_this_host(const struct conn *c)
{
	struct sockaddr_in local;
	socklen_t len = sizeof(local);

	if ((c->peer_addr >> 24) == 127)
		return true;
	return getsockname(c->xp.fd, (struct sockaddr *)&local, &len) == 0 &&
	    local.sin_family == AF_INET && ntohl(local.sin_addr.s_addr) == c->peer_addr;
}

/* The stream's header list is whole: route it as exchange.c routes an
 * HTTP/1.1 request, through the same parse of the same head. */
static void
stream_route(struct h2_stream *st)
{
	struct h2 *h = st->h2;
	struct conn *c = h->c;
	struct worker *w = c->w;
	struct http_request *req = &w->req;
	const struct routes *rt = w->cur->rt;
	const struct route_host *host;
	const struct http_slice *rid;
	struct buf head;
	char body[512];

	st->active = true;
	st->wt = worker_table_hold(w);
	clock_gettime(CLOCK_MONOTONIC, &st->t0);
	st->up_ms = -1;
	worker_request_id(w, st->reqid);
	buf_init(&head, 0);
	if (h2_req_head(&st->req, st->rq_chunked, &head) == -1 ||
	    http1_parse_request(head.data, head.len, 2 * MAX_HEAD, req) != CX_OK) {
		M_INC(w->m.bad_requests);
		snprintf(body, sizeof(body), "bad request: %s\n",
		    st->req.error != NULL ? st->req.error : req->error ? req->error : "malformed");
		if (st->req.has_authority)
			rewrite_hostname((struct http_slice){ st->req.authority.data,
			    st->req.authority.len }, st->hostname, sizeof(st->hostname));
		stream_local(st, 400, NULL, body);
		buf_free(&head);
		return;
	}
	st->head_req = http_slice_eq(req->method, "HEAD");
	st->safe = st->head_req || http_slice_eq(req->method, "GET");
	if (w->al.fd != -1)
		st->path = xstrndup(req->target.p, req->target.n < LOG_PATH_MAX ? req->target.n :
		    LOG_PATH_MAX);
	rid = http1_header(req, "x-request-id");
	if (rid != NULL && rewrite_valid_request_id(*rid))
		snprintf(st->reqid, sizeof(st->reqid), "%.*s", (int)rid->n, rid->p);
	rewrite_hostname(req->host, st->hostname, sizeof(st->hostname));

	if (http_slice_eq(req->method, "CONNECT")) {
		stream_local(st, 501, NULL, "CONNECT is not supported by this router\n");
		goto out;
	}
	if (strcmp(st->hostname, "_cx") == 0 && c->kind != LK_PEER && from_this_host(c) &&
	    metrics_endpoint(req->method, req->target)) {
		struct buf m;

		buf_init(&m, 0);
		metrics_render(&m, router_workers, w->cfg->nworkers, w->cfg, rt);
		stream_local(st, 200, NULL, buf_cstr(&m));
		buf_free(&m);
		goto out;
	}
	if (c->kind == LK_EGRESS)
		host = routes_egress(rt, st->hostname, strlen(st->hostname));
	else
		host = routes_lookup(rt, st->hostname, strlen(st->hostname));
	if (host == NULL) {
		snprintf(body, sizeof(body), "no route for host \"%s\"\n", st->hostname);
		stream_local(st, 404, NULL, body);
		goto out;
	}
	st->host = host;
	if (host->redirect && c->kind == LK_PLAIN) {
		/* h2c on the plain port of a host that wants https. */
		char loc[ROUTES_MAX_HOST + LOG_PATH_MAX + 96], port[16] = "";
		int tls_port = w->cfg->listen_port[LK_TLS];

		if (w->cfg->listen[LK_TLS] != NULL && tls_port != 443)
			snprintf(port, sizeof(port), ":%d", tls_port);
		snprintf(loc, sizeof(loc), "Location: https://%s%s%.*s\r\n", st->hostname, port,
		    (int)(req->target.n < LOG_PATH_MAX ? req->target.n : LOG_PATH_MAX),
		    req->target.p);
		stream_local(st, 308, loc, "redirecting to https\n");
		goto out;
	}
	if (host->up_tls != ROUTE_PLAIN && host->up_ctx == NULL) {
		snprintf(body, sizeof(body), "no TLS to the upstreams of host \"%s\"\n",
		    st->hostname);
		stream_local(st, 502, NULL, body);
		goto out;
	}
	if (host->nups == 0) {
		snprintf(body, sizeof(body), "no healthy process for host \"%s\" (%s/%s)\n",
		    st->hostname, host->app, host->service);
		stream_local(st, 503, NULL, body);
		goto out;
	}
	buf_init(&st->uhead, 0);
	rewrite_request_head(&st->uhead, req, &(struct rewrite_request){
		.target = req->target,
		.client_ip = c->peer_ip,
		.peer_rack = c->kind == LK_PEER ? c->peer_rack : NULL,
		.xf_tail = w->xf_tail[c->kind],
		.reqid = st->reqid,
	});
	if (host->grpc)
		grpc_begin(st);
	{
		size_t idx;
		struct upstream *u = balance_pick(w, host, NULL, conn_now(c), &idx);

		st->up_idx = idx;
		st->phase = SP_PROXY;
		stream_connect(st, u, false);
	}
out:
	buf_free(&head);
}

/* ---- a stream's upstream ---- */

static void stream_event(void *owner, struct upconn *uc, uint32_t events);

static int
stream_fail(struct h2_stream *st, int status, const char *why)
{
	char body[256];

	if (st->grpc) {
		snprintf(body, sizeof(body), "%s%s%s", why, st->upstream ? " " : "",
		    st->upstream ? st->upstream->name : "");
		grpc_unavailable(st, body);
		(void)status;
		return 0;
	}
	if (st->submitted) {
		nghttp2_submit_rst_stream(st->h2->s, NGHTTP2_FLAG_NONE, st->id,
		    NGHTTP2_INTERNAL_ERROR);
		stream_release_upstream(st);
		st->phase = SP_ANSWERED;
		stream_drop_body(st, false);
		return 0;
	}
	snprintf(body, sizeof(body), "%s%s%s\n", why, st->upstream ? " " : "",
	    st->upstream ? st->upstream->name : "");
	stream_local(st, status, NULL, body);
	return 0;
}

static int
stream_retry_other(struct h2_stream *st)
{
	size_t idx;
	struct upstream *next = balance_pick(st->h2->c->w, st->host, st->upstream,
	    h2_now(st->h2), &idx);

	if (next == NULL)
		return -1;
	st->up_idx = idx;
	return stream_connect(st, next, false);
}

static int
stream_connect_failed(struct h2_stream *st, bool timeout)
{
	struct worker *w = st->h2->c->w;
	struct retry_case rc = { .connect_failed = true, .tried_other = st->attempts >= 2,
		.retried_fresh = st->retried, .has_body = st->has_body, .safe_method = st->safe };

	M_INC(w->m.upstream_connect_errors);
	balance_eject(st->upstream, h2_now(st->h2));
	stream_release_upstream(st);
	if (retry_decide(&rc) == RETRY_OTHER && stream_retry_other(st) == 0)
		return 0;
	return stream_fail(st, timeout ? 504 : 502, timeout ? "upstream connect timed out:" :
	    "upstream refused the connection:");
}

/* ---- a gRPC stream's upstream (HTTP/2, h2up.c) ---- */

static void
grpc_on_headers(void *owner, int status, const struct h2_field *f, size_t n, bool trailers)
{
	struct h2_stream *st = owner;
	struct buf *b = trailers ? &st->g_trail : &st->g_head;
	size_t *cnt = trailers ? &st->g_ntrail : &st->g_nhead;

	buf_reset(b);
	*cnt = 0;
	for (size_t i = 0; i < n; i++)
		pairs_add(b, cnt, f[i].name, f[i].namelen, f[i].value, f[i].valuelen);
	if (!trailers)
		st->g_status = status;
	st->deadline = h2_now(st->h2) + stream_timeout_ms(st);
}

static void
grpc_on_data(void *owner, const char *p, size_t n)
{
	struct h2_stream *st = owner;

	buf_add(&st->rsb, p, n);	/* bounded by the window we gave the upstream */
	st->deadline = h2_now(st->h2) + stream_timeout_ms(st);
	if (st->submitted)
		stream_resume(st);
}

/* The request body for the upstream: what the client sent, its window given
 * back as it leaves. */
static size_t
grpc_on_body(void *owner, char *out, size_t max, bool *eof)
{
	struct h2_stream *st = owner;
	size_t n = st->rq.len - st->rq_off;

	if (n > max)
		n = max;
	memcpy(out, st->rq.data + st->rq_off, n);
	st->rq_off += n;
	if (st->rq_off == st->rq.len) {
		buf_reset(&st->rq);
		st->rq_off = 0;
	}
	if (n > 0) {
		st->rq_sent_body = true;
		if (n > st->rq_unconsumed)
			n = st->rq_unconsumed;	/* cannot be: DATA bytes are all counted */
		nghttp2_session_consume(st->h2->s, st->id, n);
		st->rq_unconsumed -= n;
	}
	*eof = st->rq_end && st->rq.len == 0;
	return n;
}

static void
grpc_on_ended(void *owner, enum h2up_end how, const char *why)
{
	struct h2_stream *st = owner;

	st->g_end = (int)how + 1;
	str_copy(st->g_why, sizeof(st->g_why), why != NULL ? why : "");
}

static void
grpc_on_kick(void *owner)
{
	struct h2_stream *st = owner;

	conn_kick(st->h2->c);
}

static const struct h2up_owner grpc_owner = {
	.headers = grpc_on_headers,
	.data = grpc_on_data,
	.body = grpc_on_body,
	.ended = grpc_on_ended,
	.kick = grpc_on_kick,
};

static void
rq_dechunk_add(void *arg, const char *p, size_t n)
{
	buf_add(arg, p, n);
}

/* The stream's route is gRPC: its body goes upstream as DATA, so the chunks
 * on_data framed it in before the route was known are undone. */
static void
grpc_begin(struct h2_stream *st)
{
	st->grpc = true;
	buf_init(&st->g_head, 0);
	buf_init(&st->g_trail, 0);
	if (st->rq_chunked) {
		struct http_chunked ck;
		struct buf raw;
		size_t used;

		buf_init(&raw, 0);
		http1_chunked_init(&ck);
		if (st->rq.len > st->rq_off)
			http1_chunked_parse(&ck, st->rq.data + st->rq_off, st->rq.len - st->rq_off,
			    &used, rq_dechunk_add, &raw);
		buf_free(&st->rq);
		st->rq = raw;
		st->rq_off = 0;
		st->rq_chunked = false;
	}
}

/* Opens the stream on an HTTP/2 connection to u (pooled), from the head
 * rewritten for the upstream (X-Forwarded-For, X-Request-Id...). */
static int
grpc_connect(struct h2_stream *st, struct upstream *u)
{
	struct worker *w = st->h2->c->w;
	struct http_request *rq = xmalloc(sizeof(*rq));
	struct h2_field f[H2_FIELDS_MAX];
	char names[MAX_HEAD], authority[ROUTES_MAX_HOST + 8], path[LOG_PATH_MAX * 8],
	    method[24];
	size_t n;
	int rc = 0;

	st->upstream = u;
	st->attempts++;
	clock_gettime(CLOCK_MONOTONIC, &st->up_t0);
	if (http1_parse_request(st->uhead.data, st->uhead.len, 2 * MAX_HEAD, rq) != CX_OK ||
	    rq->target.n >= sizeof(path)) {
		free(rq);
		return stream_fail(st, 502, "the request cannot go upstream as HTTP/2:");
	}
	n = h2_request_fields(rq, f, H2_FIELDS_MAX, names, sizeof(names));
	snprintf(authority, sizeof(authority), "%.*s", (int)rq->host.n, rq->host.p);
	snprintf(path, sizeof(path), "%.*s", (int)rq->target.n, rq->target.p);
	snprintf(method, sizeof(method), "%.*s", (int)rq->method.n, rq->method.p);
	st->ups = h2up_open(w, u, &(struct h2up_request){ .method = method, .scheme = "http",
		.authority = authority, .path = path, .fields = f, .nfields = n,
		.body = st->has_body }, &grpc_owner, st);
	free(rq);
	if (st->ups == NULL)
		return stream_connect_failed(st, false);
	st->deadline = h2_now(st->h2) + (h2up_reused(st->ups) ? stream_timeout_ms(st) :
	    CONNECT_TIMEOUT_MS);
	return rc;
}

/* What the upstream sent since the last step goes to the client. */
static bool
grpc_pump(struct h2_stream *st)
{
	bool progress = false;
	int end = st->g_end;

	if (st->g_status != 0 && !st->submitted) {
		nghttp2_nv nv[H2_FIELDS_MAX + 1];
		char status[8];
		/* A "trailers-only" answer: the head ends the stream. */
		bool body = !(end == H2UP_DONE + 1 && st->rsb.len == 0 && st->g_ntrail == 0);
		size_t n;

		snprintf(status, sizeof(status), "%d", st->g_status);
		nv[0] = (nghttp2_nv){ (uint8_t *)":status", (uint8_t *)status, 7, strlen(status),
			NGHTTP2_NV_FLAG_NONE };
		n = pairs_nv(&st->g_head, st->g_nhead, nv + 1, H2_FIELDS_MAX);
		st->up_ms = ms_since(&st->up_t0);
		st->status = st->g_status;
		st->submitted = true;
		nghttp2_data_provider dp = { .source.ptr = st, .read_callback = body_read };
		if (nghttp2_submit_response(st->h2->s, st->id, nv, n + 1, body ? &dp : NULL) != 0)
			nghttp2_submit_rst_stream(st->h2->s, NGHTTP2_FLAG_NONE, st->id,
			    NGHTTP2_INTERNAL_ERROR);
		progress = true;
	}
	if (end != 0) {
		st->g_end = 0;
		progress = true;
		if (end == H2UP_DONE + 1 && st->submitted) {
			st->rs_eof = true;
			st->rs = RS_DONE;
			stream_resume(st);
		} else if (end == H2UP_CONNECT_FAILED + 1) {
			stream_release_upstream(st);
			stream_connect_failed(st, false);
		} else {
			M_INC(st->h2->c->w->m.upstream_errors);
			grpc_unavailable(st, end == H2UP_DONE + 1 ?
			    "upstream ended the stream without an answer" : st->g_why);
		}
	}
	if (st->ups != NULL)
		h2up_resume(st->ups);	/* more body: h2_step flushes it */
	return progress;
}

static int
stream_connect(struct h2_stream *st, struct upstream *u, bool fresh)
{
	struct worker *w = st->h2->c->w;
	const struct route_host *host = st->host;
	bool reused;
	int tmo = stream_timeout_ms(st);

	if (st->grpc)
		return grpc_connect(st, u);
	st->upstream = u;
	st->attempts++;
	st->uhead_off = 0;
	st->rs = RS_HEAD;
	clock_gettime(CLOCK_MONOTONIC, &st->up_t0);
	st->uc = upstream_acquire_for(w, u, st, stream_event, fresh, &reused, host->up_ctx,
	    host->peer != NULL ? host->peer : host->name);
	if (st->uc == NULL)
		return stream_connect_failed(st, false);
	st->deadline = h2_now(st->h2) + (!reused && tmo > CONNECT_TIMEOUT_MS ? CONNECT_TIMEOUT_MS :
	    tmo);
	return 0;
}

/* The upstream failed before answering: again where retry.c allows. */
static int
stream_upstream_failed(struct h2_stream *st, const char *why)
{
	struct worker *w = st->h2->c->w;
	struct retry_case rc = {
		.reused = st->uc->reused,
		.answered = st->rs != RS_HEAD || st->uc->len > 0,
		.has_body = st->has_body,
		.body_sent = st->rq_sent_body,
		.head_sent = st->uhead_off == st->uhead.len,
		.safe_method = st->safe,
		.retried_fresh = st->retried,
		.tried_other = st->attempts >= 2,
	};
	enum retry_kind kind = retry_decide(&rc);

	if (kind != RETRY_NO)
		stream_release_upstream(st);
	if (kind == RETRY_FRESH_SAME) {
		M_INC(w->m.upstream_retries);
		st->retried = true;
		st->attempts--;
		return stream_connect(st, st->upstream, true);
	}
	if (kind == RETRY_OTHER && stream_retry_other(st) == 0) {
		M_INC(w->m.upstream_retries);
		return 0;
	}
	M_INC(w->m.upstream_errors);
	return stream_fail(st, 502, why);
}

/* TCP, then TLS to the upstream: 1 connected, 0 not yet, -1 failed (answered
 * or sent elsewhere). */
static int
stream_connected(struct h2_stream *st)
{
	struct upconn *uc = st->uc;
	struct worker *w = st->h2->c->w;

	if (!uc->tcp_done) {
		int err = 0;
		socklen_t len = sizeof(err);

		if (!uc->wr_ready && !uc->err && !uc->eof)
			return 0;
		if (getsockopt(uc->xp.fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1 || err != 0 ||
		    uc->err) {
			stream_connect_failed(st, false);
			return -1;
		}
		uc->tcp_done = true;
		uc->rd_ready = true;
	}
	if (uc->xp.tls != NULL) {
		short want = xport_wants(&uc->xp);
		int r;

		if (uc->err) {
			stream_connect_failed(st, false);
			return -1;
		}
		if (!((want & POLLIN) && uc->rd_ready) && !((want & POLLOUT) && uc->wr_ready))
			return 0;
		r = xport_handshake(&uc->xp);
		if (r == CX_AGAIN) {
			if (xport_wants(&uc->xp) & POLLIN)
				uc->rd_ready = false;
			else
				uc->wr_ready = false;
			return 0;
		}
		if (r != CX_OK) {
			M_INC(w->m.upstream_tls_errors);
			log_warnx("upstream %s: %s", uc->up->name, tls_conn_error(uc->xp.tls));
			stream_connect_failed(st, false);
			return -1;
		}
		M_INC(w->m.upstream_tls_handshakes);
		uc->rd_ready = true;
	}
	uc->connected = true;
	st->deadline = h2_now(st->h2) + stream_timeout_ms(st);
	return 1;
}

/* Head, then body to the upstream; the window given back for what left. */
static bool
stream_pump_request(struct h2_stream *st)
{
	struct upconn *uc = st->uc;
	bool progress = false;

	while (uc->wr_ready && (st->uhead_off < st->uhead.len || st->rq_off < st->rq.len)) {
		struct iovec iov[2];
		int cnt = 0;
		size_t head_left = st->uhead.len - st->uhead_off;
		ssize_t n;

		if (head_left > 0) {
			iov[cnt].iov_base = st->uhead.data + st->uhead_off;
			iov[cnt++].iov_len = head_left;
		}
		if (st->rq_off < st->rq.len) {
			iov[cnt].iov_base = st->rq.data + st->rq_off;
			iov[cnt++].iov_len = st->rq.len - st->rq_off;
		}
		n = xport_writev(&uc->xp, iov, cnt);
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				uc->wr_ready = false;
				break;
			}
			if (errno == EINTR)
				continue;
			uc->err = true;
			if (st->rs != RS_HEAD) {
				/* It answered and stopped reading: drop the rest. */
				st->up_reusable = false;
				stream_drop_body(st, false);
				return true;
			}
			stream_upstream_failed(st, "upstream write failed:");
			return true;
		}
		progress = true;
		if ((size_t)n <= head_left) {
			st->uhead_off += (size_t)n;
		} else {
			st->uhead_off = st->uhead.len;
			st->rq_off += (size_t)n - head_left;
			st->rq_sent_body = true;
		}
		st->deadline = h2_now(st->h2) + stream_timeout_ms(st);
	}
	if (st->rq_off == st->rq.len && st->rq.len > 0) {
		buf_reset(&st->rq);
		st->rq_off = 0;
	}
	if (st->rq.len == 0 && st->rq_unconsumed > 0) {
		nghttp2_session_consume(st->h2->s, st->id, st->rq_unconsumed);
		st->rq_unconsumed = 0;
		progress = true;
	}
	return progress;
}

static void
rsb_add(void *arg, const char *p, size_t n)
{
	struct h2_stream *st = arg;

	buf_add(&st->rsb, p, n);
}

/* The whole response is in rsb: the upstream goes back to its pool (or is
 * closed), and the client gets the end of the stream. */
static void
stream_response_end(struct h2_stream *st)
{
	struct upconn *uc = st->uc;
	bool rq_done = st->rq_end && st->rq.len == 0 && st->uhead_off == st->uhead.len;

	st->rs = RS_DONE;
	st->rs_eof = true;
	st->uc = NULL;
	if (st->up_reusable && rq_done && uc->off == uc->len)
		upstream_release(st->h2->c->w, uc);
	else
		upstream_close(st->h2->c->w, uc);
	if (!rq_done)
		stream_drop_body(st, false);	/* what still comes is dropped too */
	stream_resume(st);
}

/* The response head came: sent on the stream. */
static int
stream_response_head(struct h2_stream *st)
{
	struct worker *w = st->h2->c->w;
	struct http_response *resp = &w->resp;
	struct upconn *uc = st->uc;

	if (resp->status < 200 && resp->status != 101) {
		uc->off += resp->head_len;	/* interim: not passed on */
		uc->parse_pending = uc->len > uc->off;
		return 0;
	}
	st->up_ms = ms_since(&st->up_t0);
	if (resp->status == 101) {
		M_INC(w->m.upstream_errors);
		uc->err = true;
		return stream_fail(st, 502, "upstream switched protocols unasked:");
	}
	st->rs_body = (int)http1_response_body(resp, st->head_req);
	st->rs_left = resp->content_length > 0 ? (uint64_t)resp->content_length : 0;
	st->up_reusable = resp->keep_alive && st->rs_body != BK_CLOSE;
	http1_chunked_init(&st->rs_ck);
	buf_reset(&st->rsb);
	st->rsb_off = 0;
	st->rs_eof = false;
	stream_submit(st, resp, st->rs_body != BK_NONE);
	uc->off += resp->head_len;
	st->rs = RS_BODY;
	if (st->rs_body == BK_NONE)
		stream_response_end(st);
	return 0;
}

/* Upstream bytes at uc->in[off..len) into rsb, as much as it takes. */
static int
stream_take_body(struct h2_stream *st)
{
	struct upconn *uc = st->uc;
	size_t avail = uc->len - uc->off, room;

	if (st->rsb.len - st->rsb_off >= H2_STREAM_BUF)
		return 0;
	room = H2_STREAM_BUF - (st->rsb.len - st->rsb_off);
	if (st->rs_body == BK_LENGTH) {
		size_t n = avail < room ? avail : room;

		if (n > st->rs_left)
			n = (size_t)st->rs_left;
		buf_add(&st->rsb, uc->in + uc->off, n);
		uc->off += n;
		st->rs_left -= n;
		if (st->rs_left == 0) {
			stream_response_end(st);
			return 0;
		}
	} else if (st->rs_body == BK_CHUNKED) {
		size_t used;
		int r;

		if (avail == 0 || room < UPCONN_BUF)
			return 0;
		r = http1_chunked_parse(&st->rs_ck, uc->in + uc->off, avail, &used, rsb_add, st);
		uc->off += used;
		if (r == CX_ERR)
			return -1;
		if (r == CX_OK) {
			stream_response_end(st);
			return 0;
		}
	} else {
		size_t n = avail < room ? avail : room;

		buf_add(&st->rsb, uc->in + uc->off, n);
		uc->off += n;
		if (uc->eof && uc->off == uc->len) {
			stream_response_end(st);
			return 0;
		}
	}
	if (uc->off == uc->len)
		uc->off = uc->len = 0;
	if (st->rsb.len > st->rsb_off)
		stream_resume(st);
	return 0;
}

/* From the upstream: the head, then the body while rsb has room. */
static bool
stream_pump_response(struct h2_stream *st)
{
	struct worker *w = st->h2->c->w;
	bool progress = false;

	while (st->uc != NULL) {
		struct upconn *uc = st->uc;
		int r;

		if (st->rs == RS_HEAD && uc->parse_pending && uc->len > uc->off) {
			uc->parse_pending = false;
			r = http1_parse_response(uc->in + uc->off, uc->len - uc->off, UPCONN_BUF,
			    &w->resp);
			if (r == CX_OK) {
				stream_response_head(st);
				progress = true;
				continue;
			}
			if (r == CX_ERR) {
				M_INC(w->m.upstream_errors);
				uc->err = true;
				stream_fail(st, 502, "upstream sent a malformed response:");
				return true;
			}
		}
		if (st->rs == RS_BODY) {
			size_t before = st->rsb.len;

			if (stream_take_body(st) == -1) {
				M_INC(w->m.upstream_errors);
				stream_fail(st, 502, "upstream sent a malformed chunk:");
				return true;
			}
			if (st->rsb.len != before || st->uc != uc)
				progress = true;
			if (st->uc == NULL)
				break;
			if (st->rsb.len - st->rsb_off >= H2_STREAM_BUF)
				break;	/* full: the client must take some first */
		}
		r = upconn_read(uc);
		if (r == 1) {
			progress = true;
			st->deadline = h2_now(st->h2) + stream_timeout_ms(st);
			continue;
		}
		if (r == -1) {
			if (st->rs == RS_BODY && st->rs_body == BK_CHUNKED && uc->eof &&
			    uc->len > uc->off &&
			    st->rsb.len - st->rsb_off + UPCONN_BUF > H2_STREAM_BUF)
				break;	/* the upstream closed after its last bytes, which
					 * wait in uc->in for room in rsb (stream_take_body
					 * parses with UPCONN_BUF free): no truncation yet */
			if (st->rs == RS_BODY && st->rs_body == BK_CLOSE && uc->eof) {
				stream_take_body(st);
				if (st->uc != NULL && uc->off == uc->len)
					stream_response_end(st);
				return true;
			}
			if (st->rs == RS_HEAD) {
				stream_upstream_failed(st, "upstream closed without answering:");
				return true;
			}
			M_INC(w->m.upstream_errors);
			stream_fail(st, 502, "upstream closed in the middle of the body:");
			return true;
		}
		break;
	}
	return progress;
}

/* One stream's work now: route it, then drive its upstream. */
static bool
stream_pump(struct h2_stream *st)
{
	bool progress = false;

	if (st->phase == SP_READY && !st->bad) {
		stream_route(st);
		progress = true;
	}
	if (st->grpc && grpc_pump(st))
		progress = true;
	if (st->uc == NULL)
		return progress;
	if (!st->uc->connected) {
		int r = stream_connected(st);

		if (r == -1)
			return true;
		if (r == 0)
			return progress;
	}
	if (st->uc != NULL && stream_pump_request(st))
		progress = true;
	if (st->uc != NULL && stream_pump_response(st))
		progress = true;
	return progress;
}

static void
stream_event(void *owner, struct upconn *uc, uint32_t events)
{
	struct h2_stream *st = owner;

	xport_events(&uc->xp, events, &uc->rd_ready, &uc->wr_ready);
	if (events & EV_ERROR)
		uc->err = !uc->connected || uc->err;
	conn_kick(st->h2->c);
}

/* ---- nghttp2's callbacks ---- */

static struct h2_stream *
stream_of(nghttp2_session *s, int32_t id)
{
	return nghttp2_session_get_stream_user_data(s, id);
}

static int
on_begin_frame(nghttp2_session *s, const nghttp2_frame_hd *hd, void *arg)
{
	struct h2 *h = arg;

	(void)s;
	if (hd->type == NGHTTP2_HEADERS)
		h->block_bytes = hd->length;
	else if (hd->type == NGHTTP2_CONTINUATION)
		h->block_bytes += hd->length;
	if (h->block_bytes > H2_MAX_HEADER_BLOCK)
		h2_calm(h, "header block too large");
	return 0;
}

static int
on_begin_headers(nghttp2_session *s, const nghttp2_frame *frame, void *arg)
{
	struct h2 *h = arg;
	struct h2_stream *st;

	if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST ||
	    h->calm)
		return 0;
	M_INC(h->c->w->m.h2_streams);
	st = xcalloc(1, sizeof(*st));
	st->h2 = h;
	st->id = frame->hd.stream_id;
	h2_req_init(&st->req);
	buf_init(&st->uhead, 0);
	buf_init(&st->rq, 0);
	buf_init(&st->rsb, 0);
	st->next = h->streams;
	if (h->streams != NULL)
		h->streams->prev = st;
	h->streams = st;
	h->nstreams++;
	nghttp2_session_set_stream_user_data(s, st->id, st);
	return 0;
}

static int
on_header(nghttp2_session *s, const nghttp2_frame *frame, const uint8_t *name, size_t nlen,
    const uint8_t *value, size_t vlen, uint8_t flags, void *arg)
{
	struct h2 *h = arg;
	struct h2_stream *st = stream_of(s, frame->hd.stream_id);

	(void)flags;
	if (st == NULL || frame->hd.type != NGHTTP2_HEADERS || st->bad || h->calm)
		return 0;
	if (frame->headers.cat != NGHTTP2_HCAT_REQUEST) {
		/* Trailers are not passed on, but an HPACK bomb there costs as
		 * much to decode: the same cap. */
		st->trailer_size += nlen + vlen + 32;
		if (st->trailer_size > H2_MAX_HEADER_LIST)
			h2_calm(h, "trailers too large");
		return 0;
	}
	if (h2_req_add(&st->req, (const char *)name, nlen, (const char *)value, vlen) == -1) {
		st->bad = true;
		if (st->req.list_size > H2_MAX_HEADER_LIST) {
			h2_calm(h, "header list too large");
			return 0;
		}
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;	/* this stream is reset */
	}
	return 0;
}

/* DATA for a stream that sends nothing upstream (answered already). */
static void
data_drop(struct h2 *h, int32_t id, size_t len)
{
	nghttp2_session_consume(h->s, id, len);
}

static int
on_data(nghttp2_session *s, uint8_t flags, int32_t id, const uint8_t *data, size_t len, void *arg)
{
	struct h2 *h = arg;
	struct h2_stream *st = stream_of(s, id);

	(void)flags;
	if (st == NULL || st->phase == SP_ANSWERED || st->rs == RS_DONE || h->calm) {
		data_drop(h, id, len);
		return 0;
	}
	st->bytes_in += len;
	st->rq_unconsumed += len;
	if (st->rq_chunked) {
		buf_addf(&st->rq, "%zx\r\n", len);
		buf_add(&st->rq, data, len);
		buf_adds(&st->rq, "\r\n");
	} else {
		buf_add(&st->rq, data, len);
	}
	return 0;
}

static int
on_frame_recv(nghttp2_session *s, const nghttp2_frame *frame, void *arg)
{
	struct h2 *h = arg;
	struct h2_stream *st = stream_of(s, frame->hd.stream_id);
	bool end = (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;

	if (st == NULL || h->calm)
		return 0;
	if (frame->hd.type == NGHTTP2_HEADERS && st->phase == SP_HEADERS) {
		if (st->bad)
			return 0;
		st->rq_end = end;
		st->has_body = !end;
		st->rq_chunked = !end && !st->req.has_length;
		st->phase = SP_READY;
		return 0;
	}
	if ((frame->hd.type == NGHTTP2_DATA || frame->hd.type == NGHTTP2_HEADERS) && end &&
	    !st->rq_end) {
		st->rq_end = true;
		if (st->phase != SP_ANSWERED && st->rq_chunked)
			buf_adds(&st->rq, "0\r\n\r\n");
	}
	return 0;
}

/* A GOAWAY for an error, ours or nghttp2's (its reset rate limit):
 * counted. A RST_STREAM of ours takes a token: the frames a client sends to
 * make us reset its streams cost as much as resetting them itself. */
static int
on_frame_send(nghttp2_session *s, const nghttp2_frame *frame, void *arg)
{
	struct h2 *h = arg;
	int64_t now;

	(void)s;
	if (frame->hd.type == NGHTTP2_GOAWAY && frame->goaway.error_code != NGHTTP2_NO_ERROR)
		M_INC(h->c->w->m.h2_goaways);
	if (frame->hd.type != NGHTTP2_RST_STREAM || h->calm)
		return 0;
	now = h2_now(h);
	h->our_resets += (double)(now - h->our_resets_at) * H2_RESET_RATE / 1000.0;
	if (h->our_resets > H2_RESET_BURST)
		h->our_resets = H2_RESET_BURST;
	h->our_resets_at = now;
	if (h->our_resets < 1)
		h2_calm(h, "too many streams reset for errors");
	else
		h->our_resets -= 1;
	return 0;
}

/* nghttp2 found a stream error in a frame (it will reset the stream): a
 * stream not routed yet is not. */
static int
on_invalid_frame(nghttp2_session *s, const nghttp2_frame *frame, int error, void *arg)
{
	struct h2_stream *st = stream_of(s, frame->hd.stream_id);

	(void)error;
	(void)arg;
	if (st != NULL)
		st->bad = true;
	return 0;
}

static int
on_stream_close(nghttp2_session *s, int32_t id, uint32_t code, void *arg)
{
	struct h2_stream *st = stream_of(s, id);

	(void)arg;
	(void)code;
	if (st == NULL)
		return 0;
	nghttp2_session_set_stream_user_data(s, id, NULL);
	stream_free(st);
	return 0;
}

/* ---- the connection ---- */

int
h2_begin(struct conn *c)
{
	static nghttp2_session_callbacks *cbs;
	static nghttp2_option *opt;
	struct h2 *h;
	nghttp2_settings_entry iv[] = {
		{ NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, H2_MAX_STREAMS },
		{ NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, H2_STREAM_WINDOW },
		{ NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, H2_MAX_HEADER_LIST },
		{ NGHTTP2_SETTINGS_HEADER_TABLE_SIZE, H2_HEADER_TABLE },
		{ NGHTTP2_SETTINGS_ENABLE_PUSH, 0 },
	};

	/* The callbacks and options are the same for every session: made once,
	 * by the first worker to need them (under the lock: workers are threads). */
	if (__atomic_load_n(&opt, __ATOMIC_ACQUIRE) == NULL) {
		static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

		pthread_mutex_lock(&lock);
		if (opt == NULL) {
			nghttp2_option *o;

			if (nghttp2_session_callbacks_new(&cbs) != 0 || nghttp2_option_new(&o) != 0) {
				pthread_mutex_unlock(&lock);
				return -1;
			}
			nghttp2_session_callbacks_set_on_begin_frame_callback(cbs, on_begin_frame);
			nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, on_begin_headers);
			nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
			nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data);
			nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, on_frame_recv);
			nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_stream_close);
			nghttp2_session_callbacks_set_on_frame_send_callback(cbs, on_frame_send);
			nghttp2_session_callbacks_set_on_invalid_frame_recv_callback(cbs,
			    on_invalid_frame);
			nghttp2_option_set_no_auto_window_update(o, 1);
			nghttp2_option_set_max_outbound_ack(o, H2_MAX_OUTBOUND_ACK);
			nghttp2_option_set_max_settings(o, H2_MAX_SETTINGS);
			nghttp2_option_set_stream_reset_rate_limit(o, H2_RESET_BURST, H2_RESET_RATE);
			nghttp2_option_set_max_continuations(o, H2_MAX_CONTINUATIONS);
			nghttp2_option_set_max_deflate_dynamic_table_size(o, H2_HEADER_TABLE);
			nghttp2_option_set_max_send_header_block_length(o, MAX_HEAD * 4);
			__atomic_store_n(&opt, o, __ATOMIC_RELEASE);
		}
		pthread_mutex_unlock(&lock);
	}
	h = xcalloc(1, sizeof(*h));
	h->c = c;
	if (nghttp2_session_server_new2(&h->s, cbs, h, opt) != 0) {
		free(h);
		return -1;
	}
	if (nghttp2_submit_settings(h->s, NGHTTP2_FLAG_NONE, iv, sizeof(iv) / sizeof(iv[0])) != 0 ||
	    nghttp2_session_set_local_window_size(h->s, NGHTTP2_FLAG_NONE, 0, H2_CONN_WINDOW) != 0) {
		nghttp2_session_del(h->s);
		free(h);
		return -1;
	}
	c->h2 = h;
	M_INC(c->w->m.h2_conns);
	h->idle_since = conn_now(c);
	h->our_resets = H2_RESET_BURST;
	h->our_resets_at = h->idle_since;
	h->io_deadline = h->idle_since + h2_idle_ms(h);
	c->deadline = h->io_deadline;
	return 0;
}

void
h2_free(struct conn *c)
{
	struct h2 *h = c->h2;

	if (h == NULL)
		return;
	while (h->streams != NULL)
		stream_free(h->streams);
	nghttp2_session_del(h->s);
	free(h);
	c->h2 = NULL;
}

bool
h2_idle(const struct conn *c)
{
	return c->h2 != NULL && c->h2->nstreams == 0;
}

/* Feeds what the client sent; -1 when the session cannot go on. */
static int
h2_recv(struct h2 *h)
{
	struct conn *c = h->c;
	ssize_t n;

	if (c->in_len == c->in_off)
		return 0;
	n = nghttp2_session_mem_recv(h->s, (const uint8_t *)c->in + c->in_off,
	    c->in_len - c->in_off);
	c->in_off = c->in_len = 0;
	if (n < 0) {
		/* A flood or a broken limit nghttp2 found: what it queued (a
		 * bounded lot) goes out with our GOAWAY, then the close. */
		log_debug("HTTP/2 client %s: %s", c->peer_ip, nghttp2_strerror((int)n));
		if (h->calm)
			return -1;
		h->calm = true;
		if (nghttp2_session_terminate_session(h->s, NGHTTP2_ENHANCE_YOUR_CALM) != 0)
			return -1;
	}
	return 0;
}

/* Writes what the session has for the client: 1 wrote, 0 nothing now, -1 error. */
static int
h2_send(struct h2 *h)
{
	struct conn *c = h->c;
	int wrote = 0;

	for (;;) {
		ssize_t n;

		if (h->pend_len == 0) {
			const uint8_t *data;

			n = nghttp2_session_mem_send(h->s, &data);
			if (n < 0)
				return -1;
			if (n == 0)
				return wrote;
			h->pend = data;
			h->pend_len = (size_t)n;
		}
		if (!c->wr_ready)
			return wrote;
		n = xport_write(&c->xp, (const char *)h->pend, h->pend_len);
		if (n > 0) {
			wrote = 1;
			h->pend += n;
			h->pend_len -= (size_t)n;
			if (h->pend_len > 0)
				c->wr_ready = false;
		} else if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			c->wr_ready = false;
		} else if (!(n == -1 && errno == EINTR)) {
			return -1;
		}
	}
}

/* A stream with answer bytes to send while the client's window (the
 * stream's or the connection's) is 0 waits on the client alone, which a
 * client that never opens it and PINGs to look alive would make last
 * forever: it gets --idle-timeout from when that began (h2_timeout resets
 * it). Returns when it is given up, 0: not stalled. */
static int64_t
stream_stall_deadline(struct h2_stream *st, int64_t now)
{
	struct h2 *h = st->h2;
	bool stalled = st->submitted && st->rsb.len > st->rsb_off &&
	    (nghttp2_session_get_stream_remote_window_size(h->s, st->id) <= 0 ||
	    nghttp2_session_get_remote_window_size(h->s) <= 0);

	if (!stalled)
		st->stalled_since = 0;
	else if (st->stalled_since == 0)
		st->stalled_since = now;
	return stalled ? st->stalled_since + h2_idle_ms(h) : 0;
}

static void
h2_set_deadline(struct h2 *h)
{
	int64_t d = h->io_deadline, now = h2_now(h);

	/* With no stream open, only a new stream keeps the connection: PINGs
	 * and SETTINGS do not. */
	if (h->nstreams == 0 && h->idle_since + h2_idle_ms(h) < d)
		d = h->idle_since + h2_idle_ms(h);

	for (struct h2_stream *st = h->streams; st != NULL; st = st->next) {
		int64_t stall = stream_stall_deadline(st, now);

		if (st->deadline != 0 && st->deadline < d)
			d = st->deadline;
		if (stall != 0 && stall < d)
			d = stall;
	}
	h->c->deadline = d;
}

int
h2_step(struct conn *c)
{
	struct h2 *h = c->h2;
	bool progress = false;
	int r;

	if (c->w->stopping && !h->draining) {
		h->draining = true;
		nghttp2_submit_goaway(h->s, NGHTTP2_FLAG_NONE,
		    nghttp2_session_get_last_proc_stream_id(h->s), NGHTTP2_NO_ERROR, NULL, 0);
	}
	for (struct h2_stream *st = h->streams, *next; st != NULL; st = next) {
		next = st->next;
		if (st->phase == SP_READY && !routes_allowed(c->w->cur->rt, c->peer_addr)) {
			/* The allow list changed under this connection (as exchange.c). */
			M_INC(c->w->m.denied);
			conn_free(c);
			return STEP_FREED;
		}
		if (stream_pump(st))
			progress = true;
	}
	for (struct h2_stream *st = h->streams; st != NULL; st = st->next) {
		if (st->ups != NULL)
			h2up_flush(st->ups);	/* the gRPC streams' upstream bytes, batched */
	}
	/* Read only once what we had to say went out. */
	if (h->pend_len == 0 && nghttp2_session_want_read(h->s) && !h->calm) {
		if (c->in_len == c->in_off && c->rd_ready && !c->rd_eof) {
			r = conn_read(c);
			if (r == -1) {
				conn_free(c);
				return STEP_FREED;
			}
		}
		if (c->in_len > c->in_off) {
			progress = true;
			h->io_deadline = conn_now(c) + h2_idle_ms(h);
			if (h2_recv(h) == -1) {
				conn_free(c);
				return STEP_FREED;
			}
		}
	}
	r = h2_send(h);
	if (r == -1) {
		conn_free(c);
		return STEP_FREED;
	}
	if (r == 1) {
		progress = true;
		h->io_deadline = conn_now(c) + h2_idle_ms(h);
	}
	if ((!nghttp2_session_want_read(h->s) || c->rd_eof || h->calm ||
	    (h->draining && h->nstreams == 0)) &&
	    !nghttp2_session_want_write(h->s) && h->pend_len == 0) {
		if (h->calm && !c->rd_eof) {
			/* The GOAWAY must reach a client still sending. */
			h2_free(c);
			return conn_linger(c);
		}
		conn_free(c);
		return STEP_FREED;
	}
	h2_set_deadline(h);
	return progress ? STEP_MORE : STEP_WAIT;
}

int
h2_timeout(struct conn *c)
{
	struct h2 *h = c->h2;
	int64_t now = conn_now(c);
	struct worker *w = c->w;

	for (struct h2_stream *st = h->streams; st != NULL; st = st->next) {
		if (st->stalled_since != 0 && now >= st->stalled_since + h2_idle_ms(h)) {
			log_debug("stream %d of %s: the client's window stayed 0 for %d ms: reset",
			    st->id, c->peer_ip, h2_idle_ms(h));
			st->stalled_since = 0;
			st->deadline = 0;
			nghttp2_submit_rst_stream(h->s, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_CANCEL);
			stream_release_upstream(st);
			buf_reset(&st->rsb);
			st->rsb_off = 0;
			continue;
		}
		if (st->deadline == 0 || now < st->deadline)
			continue;
		st->deadline = 0;
		if (st->uc != NULL && !st->uc->connected) {
			stream_connect_failed(st, true);
		} else if ((st->uc != NULL || st->ups != NULL) && !st->submitted) {
			M_INC(w->m.upstream_timeouts);
			stream_fail(st, 504, "upstream did not answer in time:");
		} else if (!st->rs_eof || st->rsb.len > st->rsb_off) {
			nghttp2_submit_rst_stream(h->s, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_CANCEL);
			stream_release_upstream(st);
		}
	}
	if (h->nstreams == 0 && now >= h->idle_since + h2_idle_ms(h)) {
		conn_free(c);	/* no stream for that long */
		return STEP_FREED;
	}
	if (now >= h->io_deadline) {
		/* Not a byte either way for that long. Streams that wait on
		 * their upstreams have their own deadlines; streams that wait on
		 * the client alone (the rest of a header block or of a body, a
		 * window to send in) keep the connection no longer. */
		bool upstream_wait = false;

		for (struct h2_stream *st = h->streams; st != NULL; st = st->next)
			upstream_wait |= st->uc != NULL || st->ups != NULL;
		if (!upstream_wait || h->pend_len > 0) {
			conn_free(c);
			return STEP_FREED;
		}
		h->io_deadline = now + h2_idle_ms(h);
	}
	return STEP_MORE;
}
