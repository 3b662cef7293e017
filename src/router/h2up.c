/*
 * h2up.c — see h2up.h. The client side of libnghttp2 (h2.c has the server
 * side; nothing else includes it).
 *
 * A session's life:
 *
 *   CONNECTING ── TCP up ──► OPEN: preface, SETTINGS, then streams
 *     OPEN ── the server's GOAWAY, or its last stream closed after one ──► closed
 *     CONNECTING ── refused or reset ──► DEAD: each stream ends CONNECT_FAILED
 *     OPEN ── EOF, error, a protocol error ──► DEAD: each open stream ends FAILED
 *   DEAD (or idle past UPSTREAM_IDLE_MS, swept) ──► freed once its owners were told
 *
 * A stream ends DONE at the server's END_STREAM, FAILED at a reset or the
 * session's death; its struct lives until its owner releases it (the owner
 * still gives back window for bytes its client has not taken).
 */
#include "router/h2up.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <nghttp2/nghttp2.h>

#include "common/ev.h"
#include "common/log.h"
#include "common/util.h"
#include "router/metrics.h"
#include "router/upstream.h"
#include "router/worker.h"

#define H2UP_FIELDS_MAX	128
#define H2UP_OUT	(16 * 1024)

struct h2up {
	struct worker *w;
	struct upstream *up;
	struct h2up *next;		/* u->h2s, while it takes streams */
	struct upconn *uc;
	nghttp2_session *s;
	struct h2up_stream *streams;	/* every stream not released */
	size_t nopen;			/* of them, open on the wire */
	const uint8_t *pend;		/* mem_send's bytes not yet in out */
	size_t pend_len;
	uint8_t out[H2UP_OUT];		/* frames gathered for one write */
	size_t out_off, out_len;
	bool connected, dead, pooled, used;
	int64_t idle_since;
};

struct h2up_stream {
	struct h2up *h;			/* NULL once the session is freed */
	struct h2up_stream *prev, *next;
	int32_t id;
	const struct h2up_owner *ops;
	void *owner;
	bool open, ended, deferred, kick, reused;
	struct buf hdr;			/* the header block coming: name\0value\0... */
	size_t nhdr;
	int status;
};

static void stream_free(struct h2up_stream *us);

/* ---- sessions ---- */

/* The session is over: each stream not ended is told how, the connection is closed. */
static void
sess_die(struct h2up *h, enum h2up_end how, const char *why)
{
	if (h->dead)
		return;
	h->dead = true;
	if (h->pooled) {
		struct h2up **pp = &h->up->h2s;

		while (*pp != h)
			pp = &(*pp)->next;
		*pp = h->next;
		h->pooled = false;
	}
	if (!h->connected)
		M_INC(h->w->m.upstream_connect_errors);
	for (struct h2up_stream *us = h->streams; us != NULL; us = us->next) {
		if (us->open) {
			us->open = false;
			h->nopen--;
		}
		if (!us->ended && us->ops != NULL) {
			us->ended = true;
			us->kick = true;
			us->ops->ended(us->owner, how, why);
		}
	}
	if (h->uc != NULL) {
		upstream_close(h->w, h->uc);
		h->uc = NULL;
	}
}

/* Frees a dead session; its streams not yet released live on without it. */
static void
sess_free(struct h2up *h)
{
	for (struct h2up_stream *us = h->streams, *next; us != NULL; us = next) {
		next = us->next;
		us->h = NULL;
		if (us->ops == NULL)
			stream_free(us);	/* released, its reset never went out */
	}
	nghttp2_session_del(h->s);
	free(h);
}

/* Writes what the session has to say, its frames gathered into one write
 * of up to H2UP_OUT bytes (mem_send gives a frame at a time): -1 when the
 * connection failed. */
static int
sess_flush(struct h2up *h)
{
	struct upconn *uc = h->uc;

	if (uc == NULL || !h->connected)
		return 0;
	for (;;) {
		ssize_t n;

		while (h->out_len < H2UP_OUT) {
			const uint8_t *data;
			size_t take;

			if (h->pend_len == 0) {
				n = nghttp2_session_mem_send(h->s, &data);
				if (n < 0)
					return -1;
				if (n == 0)
					break;
				h->pend = data;
				h->pend_len = (size_t)n;
			}
			take = h->pend_len < H2UP_OUT - h->out_len ? h->pend_len :
			    H2UP_OUT - h->out_len;
			memcpy(h->out + h->out_len, h->pend, take);
			h->out_len += take;
			h->pend += take;
			h->pend_len -= take;
		}
		if (h->out_len == h->out_off || !uc->wr_ready)
			return 0;
		n = xport_write(&uc->xp, (const char *)h->out + h->out_off, h->out_len - h->out_off);
		if (n > 0) {
			h->out_off += (size_t)n;
			if (h->out_off == h->out_len)
				h->out_off = h->out_len = 0;
			else
				uc->wr_ready = false;
		} else if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			uc->wr_ready = false;
		} else if (!(n == -1 && errno == EINTR)) {
			uc->err = true;
			return -1;
		}
	}
}

/* Reads and writes until nothing moves; dies on what cannot go on. */
static void
sess_run(struct h2up *h)
{
	struct upconn *uc = h->uc;
	char why[128];

	if (h->dead || uc == NULL)
		return;
	if (!h->connected) {
		int err = 0;
		socklen_t len = sizeof(err);

		if (!uc->wr_ready && !uc->err && !uc->eof)
			return;
		if (getsockopt(uc->xp.fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1 || err != 0 ||
		    uc->err) {
			snprintf(why, sizeof(why), "upstream %s refused the connection",
			    h->up->name);
			sess_die(h, H2UP_CONNECT_FAILED, why);
			return;
		}
		h->connected = true;
		uc->tcp_done = uc->connected = true;
		uc->rd_ready = true;
	}
	for (;;) {
		int r = 0;

		if (uc->rd_ready) {
			r = upconn_read(uc);
			if (r == 1) {
				ssize_t n = nghttp2_session_mem_recv(h->s,
				    (const uint8_t *)uc->in + uc->off, uc->len - uc->off);

				uc->off = uc->len = 0;
				if (n < 0) {
					snprintf(why, sizeof(why), "upstream %s broke HTTP/2: %s",
					    h->up->name, nghttp2_strerror((int)n));
					sess_die(h, H2UP_FAILED, why);
					return;
				}
			} else if (r == -1) {
				snprintf(why, sizeof(why), "upstream %s %s", h->up->name,
				    uc->eof ? "closed the connection" : "connection failed");
				sess_die(h, H2UP_FAILED, why);
				return;
			}
		}
		if (sess_flush(h) == -1) {
			snprintf(why, sizeof(why), "upstream %s write failed", h->up->name);
			sess_die(h, H2UP_FAILED, why);
			return;
		}
		if (r != 1)
			break;
	}
	if (!nghttp2_session_want_read(h->s) && !nghttp2_session_want_write(h->s) &&
	    h->pend_len == 0 && h->out_len == 0) {
		snprintf(why, sizeof(why), "upstream %s ended the connection", h->up->name);
		sess_die(h, H2UP_FAILED, why);
	}
}

/* Each owner the session's work touched runs its steps (once the session
 * is done with its own: an owner may release streams or open new ones). */
static void
sess_kick(struct h2up *h)
{
	for (;;) {
		struct h2up_stream *us = h->streams;

		while (us != NULL && (!us->kick || us->ops == NULL))
			us = us->next;
		if (us == NULL)
			break;
		us->kick = false;
		us->ops->kick(us->owner);
	}
}

static void
sess_event(void *owner, struct upconn *uc, uint32_t events)
{
	struct h2up *h = owner;

	xport_events(&uc->xp, events, &uc->rd_ready, &uc->wr_ready);
	if (events & EV_ERROR)
		uc->err = true;
	sess_run(h);
	sess_kick(h);
	if (h->dead)
		sess_free(h);
}

/* ---- nghttp2's callbacks ---- */

static struct h2up_stream *
stream_of(nghttp2_session *s, int32_t id)
{
	return nghttp2_session_get_stream_user_data(s, id);
}

static int
on_begin_headers(nghttp2_session *s, const nghttp2_frame *frame, void *arg)
{
	struct h2up_stream *us = stream_of(s, frame->hd.stream_id);

	(void)arg;
	if (us != NULL) {
		buf_reset(&us->hdr);
		us->nhdr = 0;
	}
	return 0;
}

static int
on_header(nghttp2_session *s, const nghttp2_frame *frame, const uint8_t *name, size_t nlen,
    const uint8_t *value, size_t vlen, uint8_t flags, void *arg)
{
	struct h2up_stream *us = stream_of(s, frame->hd.stream_id);

	(void)flags;
	(void)arg;
	if (us == NULL || us->ops == NULL || frame->hd.type != NGHTTP2_HEADERS)
		return 0;
	if (nlen == 7 && memcmp(name, ":status", 7) == 0) {
		us->status = 0;
		for (size_t i = 0; i < vlen && i < 3; i++)
			us->status = us->status * 10 + (value[i] - '0');
		return 0;
	}
	if (nlen > 0 && name[0] == ':')
		return 0;
	if (us->nhdr == H2UP_FIELDS_MAX || us->hdr.len + nlen + vlen + 2 > H2_MAX_HEADER_LIST)
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;	/* reset: too many */
	buf_add(&us->hdr, name, nlen);
	buf_add(&us->hdr, "", 1);
	buf_add(&us->hdr, value, vlen);
	buf_add(&us->hdr, "", 1);
	us->nhdr++;
	return 0;
}

/* A header block is whole: the owner gets it (a 1xx one is dropped). */
static void
stream_headers(struct h2up_stream *us, bool trailers)
{
	struct h2_field f[H2UP_FIELDS_MAX];
	const char *p = us->hdr.data;

	if (!trailers && us->status < 200)
		return;
	for (size_t i = 0; i < us->nhdr; i++) {
		f[i].name = p;
		f[i].namelen = strlen(p);
		p += f[i].namelen + 1;
		f[i].value = p;
		f[i].valuelen = strlen(p);
		p += f[i].valuelen + 1;
	}
	us->ops->headers(us->owner, us->status, f, us->nhdr, trailers);
	us->kick = true;
}

static int
on_frame_recv(nghttp2_session *s, const nghttp2_frame *frame, void *arg)
{
	struct h2up_stream *us = stream_of(s, frame->hd.stream_id);

	(void)arg;
	if (us == NULL || us->ended || us->ops == NULL)
		return 0;
	if (frame->hd.type == NGHTTP2_HEADERS)
		stream_headers(us, frame->headers.cat == NGHTTP2_HCAT_HEADERS && us->status >= 200);
	if ((frame->hd.type == NGHTTP2_HEADERS || frame->hd.type == NGHTTP2_DATA) &&
	    (frame->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
		us->ended = true;
		us->kick = true;
		us->ops->ended(us->owner, H2UP_DONE, NULL);
	}
	return 0;
}

static int
on_data(nghttp2_session *s, uint8_t flags, int32_t id, const uint8_t *data, size_t len, void *arg)
{
	struct h2up_stream *us = stream_of(s, id);

	(void)flags;
	(void)arg;
	if (us == NULL || us->ended || us->ops == NULL) {
		nghttp2_session_consume(s, id, len);
		return 0;
	}
	us->ops->data(us->owner, (const char *)data, len);
	us->kick = true;
	return 0;
}

static int
on_stream_close(nghttp2_session *s, int32_t id, uint32_t code, void *arg)
{
	struct h2up_stream *us = stream_of(s, id);
	struct h2up *h = arg;
	char why[128];

	if (us == NULL)
		return 0;
	nghttp2_session_set_stream_user_data(s, id, NULL);
	if (us->open) {
		us->open = false;
		h->nopen--;
		if (h->nopen == 0)
			h->idle_since = ev_now(h->w->loop);
	}
	if (us->ops == NULL) {
		stream_free(us);	/* released by its owner, reset since */
		return 0;
	}
	if (!us->ended) {
		us->ended = true;
		us->kick = true;
		snprintf(why, sizeof(why), "upstream %s reset the stream (%s)", h->up->name,
		    nghttp2_http2_strerror(code));
		us->ops->ended(us->owner, H2UP_FAILED, why);
	}
	return 0;
}

static ssize_t
body_read(nghttp2_session *s, int32_t id, uint8_t *out, size_t len, uint32_t *flags,
    nghttp2_data_source *src, void *arg)
{
	struct h2up_stream *us = src->ptr;
	bool eof = false;
	size_t n;

	(void)s;
	(void)id;
	(void)arg;
	if (us->ops == NULL) {
		*flags |= NGHTTP2_DATA_FLAG_EOF;
		return 0;
	}
	n = us->ops->body(us->owner, (char *)out, len, &eof);
	us->kick = true;	/* the owner gives its client window back */
	if (eof)
		*flags |= NGHTTP2_DATA_FLAG_EOF;
	else if (n == 0) {
		us->deferred = true;
		return NGHTTP2_ERR_DEFERRED;
	}
	return (ssize_t)n;
}

static nghttp2_session_callbacks *callbacks;
static nghttp2_option *options;

/* The callbacks and options, made once for every worker (threads). */
static int
setup_once(void)
{
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	int rc = 0;

	if (__atomic_load_n(&options, __ATOMIC_ACQUIRE) != NULL)
		return 0;
	pthread_mutex_lock(&lock);
	if (options == NULL) {
		nghttp2_option *o;

		if (nghttp2_session_callbacks_new(&callbacks) != 0 || nghttp2_option_new(&o) != 0) {
			rc = -1;
		} else {
			nghttp2_session_callbacks_set_on_begin_headers_callback(callbacks,
			    on_begin_headers);
			nghttp2_session_callbacks_set_on_header_callback(callbacks, on_header);
			nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks,
			    on_frame_recv);
			nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks, on_data);
			nghttp2_session_callbacks_set_on_stream_close_callback(callbacks,
			    on_stream_close);
			nghttp2_option_set_no_auto_window_update(o, 1);
			nghttp2_option_set_max_outbound_ack(o, H2_MAX_OUTBOUND_ACK);
			nghttp2_option_set_max_settings(o, H2_MAX_SETTINGS);
			nghttp2_option_set_max_continuations(o, H2_MAX_CONTINUATIONS);
			nghttp2_option_set_max_deflate_dynamic_table_size(o, H2_HEADER_TABLE);
			__atomic_store_n(&options, o, __ATOMIC_RELEASE);
		}
	}
	pthread_mutex_unlock(&lock);
	return rc;
}

/* A new session to u on a new connection, pooled; NULL with errno. */
static struct h2up *
sess_new(struct worker *w, struct upstream *u)
{
	nghttp2_settings_entry iv[] = {
		{ NGHTTP2_SETTINGS_ENABLE_PUSH, 0 },
		{ NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, H2UP_STREAM_WINDOW },
		{ NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, H2_MAX_HEADER_LIST },
	};
	struct h2up *h;
	bool reused;

	if (setup_once() == -1) {
		errno = ENOMEM;
		return NULL;
	}
	h = xcalloc(1, sizeof(*h));
	h->w = w;
	h->up = u;
	if (nghttp2_session_client_new2(&h->s, callbacks, h, options) != 0) {
		free(h);
		errno = ENOMEM;
		return NULL;
	}
	if (nghttp2_submit_settings(h->s, NGHTTP2_FLAG_NONE, iv, sizeof(iv) / sizeof(iv[0])) != 0 ||
	    nghttp2_session_set_local_window_size(h->s, NGHTTP2_FLAG_NONE, 0,
		H2UP_CONN_WINDOW) != 0) {
		nghttp2_session_del(h->s);
		free(h);
		errno = ENOMEM;
		return NULL;
	}
	h->uc = upstream_acquire_for(w, u, h, sess_event, true, &reused, NULL, NULL);
	if (h->uc == NULL) {
		int saved = errno;

		M_INC(w->m.upstream_connect_errors);
		nghttp2_session_del(h->s);
		free(h);
		errno = saved;
		return NULL;
	}
	h->idle_since = ev_now(w->loop);
	h->next = u->h2s;
	u->h2s = h;
	h->pooled = true;
	return h;
}

/* A pooled session of u with room for one more stream, or NULL. */
static struct h2up *
sess_with_room(struct upstream *u)
{
	for (struct h2up *h = u->h2s; h != NULL; h = h->next) {
		uint32_t max = nghttp2_session_get_remote_settings(h->s,
		    NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS);

		if (max > H2UP_MAX_STREAMS)
			max = H2UP_MAX_STREAMS;
		if (!h->dead && h->nopen < max && nghttp2_session_check_request_allowed(h->s))
			return h;
	}
	return NULL;
}

/* ---- streams ---- */

struct h2up_stream *
h2up_open(struct worker *w, struct upstream *u, const struct h2up_request *req,
    const struct h2up_owner *ops, void *owner)
{
	nghttp2_nv nv[H2UP_FIELDS_MAX + 4];
	nghttp2_data_provider dp;
	struct h2up *h = sess_with_room(u);
	struct h2up_stream *us;
	size_t n = 0;
	bool reused = h != NULL;

	if (req->nfields > H2UP_FIELDS_MAX) {
		errno = E2BIG;
		return NULL;
	}
	if (h == NULL && (h = sess_new(w, u)) == NULL)
		return NULL;
	if (reused)
		M_INC(w->m.upstream_reuses);
#define NV(n_, v_, vl_) (nghttp2_nv){ (uint8_t *)(n_), (uint8_t *)(v_), strlen(n_), (vl_), \
	NGHTTP2_NV_FLAG_NONE }
	nv[n++] = NV(":method", req->method, strlen(req->method));
	nv[n++] = NV(":scheme", req->scheme, strlen(req->scheme));
	nv[n++] = NV(":authority", req->authority, strlen(req->authority));
	nv[n++] = NV(":path", req->path, strlen(req->path));
#undef NV
	for (size_t i = 0; i < req->nfields; i++) {
		nv[n++] = (nghttp2_nv){ (uint8_t *)req->fields[i].name,
			(uint8_t *)req->fields[i].value, req->fields[i].namelen,
			req->fields[i].valuelen, NGHTTP2_NV_FLAG_NONE };
	}
	us = xcalloc(1, sizeof(*us));
	us->h = h;
	us->ops = ops;
	us->owner = owner;
	us->reused = reused;
	buf_init(&us->hdr, 0);
	dp = (nghttp2_data_provider){ .source.ptr = us, .read_callback = body_read };
	us->id = nghttp2_submit_request(h->s, NULL, nv, n, req->body ? &dp : NULL, us);
	if (us->id < 0) {
		log_warnx("upstream %s: HTTP/2 request: %s", u->name, nghttp2_strerror(us->id));
		buf_free(&us->hdr);
		free(us);
		errno = EPROTO;
		return NULL;
	}
	us->open = true;
	h->nopen++;
	h->used = true;
	us->next = h->streams;
	if (h->streams != NULL)
		h->streams->prev = us;
	h->streams = us;
	return us;	/* written at the owner's h2up_flush, with the other streams' */
}

bool
h2up_reused(const struct h2up_stream *us)
{
	return us->reused;
}

void
h2up_resume(struct h2up_stream *us)
{
	struct h2up *h = us->h;

	if (h == NULL || h->dead)
		return;
	if (us->deferred && us->open) {
		us->deferred = false;
		nghttp2_session_resume_data(h->s, us->id);
	}
}

void
h2up_flush(struct h2up_stream *us)
{
	if (us->h != NULL && !us->h->dead)
		sess_flush(us->h);
}

void
h2up_consumed(struct h2up_stream *us, size_t n)
{
	struct h2up *h = us->h;

	if (h == NULL || h->dead || n == 0)
		return;
	if (us->open)
		nghttp2_session_consume(h->s, us->id, n);
	else
		nghttp2_session_consume_connection(h->s, n);
}

/* Takes us off its session's list and frees it. */
static void
stream_free(struct h2up_stream *us)
{
	struct h2up *h = us->h;

	if (h != NULL) {
		if (us->prev != NULL)
			us->prev->next = us->next;
		else
			h->streams = us->next;
		if (us->next != NULL)
			us->next->prev = us->prev;
	}
	buf_free(&us->hdr);
	free(us);
}

void
h2up_release(struct h2up_stream *us)
{
	struct h2up *h = us->h;

	us->ops = NULL;
	us->owner = NULL;
	if (h != NULL && us->open && !h->dead) {
		/* nghttp2 still knows it until the reset is out: freed then
		 * (on_stream_close), as its data source may still be asked. */
		nghttp2_submit_rst_stream(h->s, NGHTTP2_FLAG_NONE, us->id, NGHTTP2_CANCEL);
		sess_flush(h);
		return;
	}
	stream_free(us);
}

void
h2up_sweep(struct worker *w, struct upstream *u, int64_t now, bool all)
{
	struct h2up **pp = &u->h2s;

	(void)w;
	while (*pp != NULL) {
		struct h2up *h = *pp;

		if (h->streams == NULL && (all || now - h->idle_since > UPSTREAM_IDLE_MS)) {
			sess_die(h, H2UP_FAILED, "idle");	/* unlinks it */
			sess_free(h);
			continue;
		}
		pp = &h->next;
	}
}
