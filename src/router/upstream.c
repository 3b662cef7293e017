/*
 * upstream.c — see upstream.h. The registry is a small chained hash on the
 * address; upstreams are never freed while the worker runs (one per address
 * the worker has ever been routed to).
 */
#include "router/upstream.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/ev.h"
#include "common/log.h"
#include "common/net.h"
#include "common/tls.h"
#include "common/util.h"
#include "router/conn.h"
#include "router/h2up.h"
#include "router/routes.h"
#include "router/worker.h"

static size_t
addr_hash(const struct sockaddr_in *a)
{
	uint64_t k = ((uint64_t)a->sin_addr.s_addr << 16) | a->sin_port;

	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdULL;
	k ^= k >> 33;
	return (size_t)k;
}

static bool
same_upstream(const struct upstream *u, const struct route_up *ru)
{
	return u->addr.sin_addr.s_addr == ru->addr.sin_addr.s_addr &&
	    u->addr.sin_port == ru->addr.sin_port && u->tls == (int)ru->tls &&
	    strcmp(u->peer, ru->tls_name != NULL ? ru->tls_name : "") == 0;
}

/* The upstream of ru's address and way of speaking (plain, TLS, TLS to which peer). */
static struct upstream *
registry_get(struct upstream_registry *r, const struct route_up *ru)
{
	const struct sockaddr_in *a = &ru->addr;
	struct upstream *u;
	size_t i;

	if (r->nbuckets == 0) {
		r->nbuckets = 64;
		r->buckets = xcalloc(r->nbuckets, sizeof(*r->buckets));
	}
	i = addr_hash(a) & (r->nbuckets - 1);
	for (u = r->buckets[i]; u != NULL; u = u->hnext) {
		if (same_upstream(u, ru))
			return u;
	}
	if (r->n >= r->nbuckets) {
		size_t nb = r->nbuckets * 2;
		struct upstream **b = xcalloc(nb, sizeof(*b));

		for (u = r->all; u != NULL; u = u->next_all) {
			size_t j = addr_hash(&u->addr) & (nb - 1);

			u->hnext = b[j];
			b[j] = u;
		}
		free(r->buckets);
		r->buckets = b;
		r->nbuckets = nb;
		i = addr_hash(a) & (nb - 1);
	}
	u = xcalloc(1, sizeof(*u));
	u->addr = *a;
	u->tls = (int)ru->tls;
	str_copy(u->peer, sizeof(u->peer), ru->tls_name != NULL ? ru->tls_name : "");
	net_format_addr(a, u->name, sizeof(u->name));
	u->hnext = r->buckets[i];
	r->buckets[i] = u;
	u->next_all = r->all;
	r->all = u;
	r->n++;
	return u;
}

struct upstream *
upstream_for(struct worker *w, struct route_up *ru)
{
	struct upstream *u = ru->wup[w->id];

	if (u == NULL) {
		u = registry_get(&w->ups, ru);
		ru->wup[w->id] = u;
	}
	return u;
}

static void
idle_unlink(struct worker *w, struct upconn *uc)
{
	struct upstream *u = uc->up;

	if (uc->prev != NULL)
		uc->prev->next = uc->next;
	else
		u->idle_head = uc->next;
	if (uc->next != NULL)
		uc->next->prev = uc->prev;
	else
		u->idle_tail = uc->prev;
	uc->prev = uc->next = NULL;
	u->nidle--;
	M_ADD(w->m.pool_idle, (uint64_t)-1);
}

void
upstream_close(struct worker *w, struct upconn *uc)
{
	if (uc == NULL)
		return;
	if (uc->owner == NULL)
		idle_unlink(w, uc);
	ev_del(w->loop, uc->xp.fd);
	xport_close(&uc->xp);
	free(uc->in);
	free(uc);
}

/* An idle TLS connection became readable: records that carry no data
 * (a server's session tickets after the handshake, a key update) are
 * taken, and it stays; data or the end of the session cannot carry a
 * request. False when it must be closed. */
static bool
tls_idle_ok(struct upconn *uc)
{
	char junk[512];
	ssize_t n = tls_conn_read(uc->xp.tls, junk, sizeof(junk));

	return n == CX_AGAIN && tls_conn_events(uc->xp.tls) == POLLIN;
}

static void
upconn_event(struct ev_loop *loop, int fd, uint32_t events, void *arg)
{
	struct upconn *uc = arg;

	(void)loop;
	(void)fd;
	if (uc->owner != NULL) {
		uc->on_event(uc->owner, uc, events);
		return;
	}
	/* Idle in the pool: readable means the process closed it or sent
	 * something unasked; either way it cannot carry a request. */
	if ((events & (EPOLLIN | EPOLLRDHUP | EV_ERROR)) &&
	    (uc->xp.tls == NULL || (events & (EPOLLRDHUP | EV_ERROR)) || !tls_idle_ok(uc)))
		upstream_close(uc->w, uc);
	else if (events & EPOLLOUT)
		uc->wr_ready = true;
}

static void
exchange_event(void *owner, struct upconn *uc, uint32_t events)
{
	conn_upstream_event(owner, uc, events);
}

struct upconn *
upstream_acquire(struct worker *w, struct upstream *u, struct exchange *owner, bool fresh,
    bool *reused, struct tls_ctx *ctx, const char *sni)
{
	return upstream_acquire_for(w, u, owner, exchange_event, fresh, reused, ctx, sni);
}

struct upconn *
upstream_acquire_for(struct worker *w, struct upstream *u, void *owner, upconn_event_fn on_event,
    bool fresh, bool *reused, struct tls_ctx *ctx, const char *sni)
{
	struct upconn *uc;
	char err[512];
	int fd;

	*reused = false;
	if (!fresh && u->idle_head != NULL) {
		uc = u->idle_head;
		idle_unlink(w, uc);
		uc->owner = owner;
		uc->on_event = on_event;
		uc->reused = true;
		uc->off = uc->len = 0;
		uc->parse_pending = false;
		*reused = true;
		M_INC(w->m.upstream_reuses);
		return uc;
	}
	fd = net_connect_tcp(&u->addr);
	M_INC(w->m.upstream_connects);
	if (fd == -1)
		return NULL;
	uc = xcalloc(1, sizeof(*uc));
	xport_plain(&uc->xp, fd, u->name);
	uc->w = w;
	uc->up = u;
	uc->owner = owner;
	uc->on_event = on_event;
	if (u->tls != 0) {
		struct tls_conn *t = ctx != NULL ? tls_conn_new(ctx, fd, sni, err, sizeof(err)) :
		    NULL;

		if (t == NULL) {
			log_warnx("upstream %s: %s", u->name, ctx != NULL ? err : "no TLS context");
			close(fd);
			free(uc);
			errno = EPROTO;
			return NULL;
		}
		xport_tls(&uc->xp, fd, t, u->name);
	}
	uc->in = xmalloc(UPCONN_BUF);
	if (ev_add(w->loop, fd, EV_READ | EV_WRITE | EPOLLRDHUP | EPOLLET, upconn_event, uc) == -1) {
		int saved = errno;

		log_warn("epoll add upstream %s", u->name);
		tls_conn_free(uc->xp.tls);
		close(fd);
		free(uc->in);
		free(uc);
		errno = saved;
		return NULL;
	}
	return uc;
}

void
upstream_release(struct worker *w, struct upconn *uc)
{
	struct upstream *u = uc->up;

	if (uc->rd_ready && !uc->eof && !uc->err) {
		/* The last read filled the buffer exactly: make sure nothing
		 * unasked follows, or the next request would read it. */
		char c;
		ssize_t n;

		if (uc->xp.tls != NULL) {
			if (tls_idle_ok(uc))
				uc->rd_ready = false;
		} else {
			n = recv(uc->xp.fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
			if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
				uc->rd_ready = false;
		}
	}
	if (uc->rd_ready || uc->eof || uc->err || u->nidle >= UPSTREAM_MAX_IDLE ||
	    w->stopping) {
		upstream_close(w, uc);	/* still owned, so not on the idle list */
		return;
	}
	uc->owner = NULL;
	uc->idle_since = ev_now(w->loop);
	uc->prev = NULL;
	uc->next = u->idle_head;
	if (u->idle_head != NULL)
		u->idle_head->prev = uc;
	else
		u->idle_tail = uc;
	u->idle_head = uc;
	u->nidle++;
	M_INC(w->m.pool_idle);
}

void
upstream_sweep(struct worker *w, int64_t now)
{
	for (struct upstream *u = w->ups.all; u != NULL; u = u->next_all) {
		while (u->idle_tail != NULL && now - u->idle_tail->idle_since > UPSTREAM_IDLE_MS)
			upstream_close(w, u->idle_tail);
		h2up_sweep(w, u, now, false);
	}
}

void
upstream_close_idle(struct worker *w)
{
	for (struct upstream *u = w->ups.all; u != NULL; u = u->next_all) {
		while (u->idle_tail != NULL)
			upstream_close(w, u->idle_tail);
		h2up_sweep(w, u, 0, true);
	}
}

void
upstream_registry_free(struct worker *w)
{
	struct upstream *u, *next;

	upstream_close_idle(w);
	for (u = w->ups.all; u != NULL; u = next) {
		next = u->next_all;
		free(u);
	}
	free(w->ups.buckets);
	memset(&w->ups, 0, sizeof(w->ups));
}

int
upconn_read(struct upconn *uc)
{
	ssize_t n = xport_fill(&uc->xp, uc->in, UPCONN_BUF, &uc->off, &uc->len, &uc->rd_ready);

	if (n > 0) {
		uc->parse_pending = true;
		return 1;
	}
	if (n == XPORT_EOF)
		uc->eof = true;
	else if (n == XPORT_FAILED)
		uc->err = true;
	return n == 0 ? 0 : -1;
}

