/*
 * worker.c — see worker.h: the loop of one worker thread, its mailbox, the
 * sweep timer (timeouts, idle pools, access-log flush) and graceful stop.
 */
#include "router/worker.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <unistd.h>

#include "common/ev.h"
#include "common/log.h"
#include "router/conn.h"
#include "router/listener.h"
#include "router/rewrite.h"
#include "router/routes.h"

#define SWEEP_MS 100

struct worker **router_workers;

static void
table_drop(struct worker *w, struct wtable *wt)
{
	struct wtable **pp;

	for (pp = &w->retired; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == wt) {
			*pp = wt->next;
			break;
		}
	}
	routes_unref(wt->rt);
	free(wt);
}

struct wtable *
worker_table_hold(struct worker *w)
{
	w->cur->users++;
	return w->cur;
}

void
worker_table_release(struct worker *w, struct wtable *wt)
{
	if (wt == NULL)
		return;
	if (--wt->users == 0 && wt != w->cur)
		table_drop(w, wt);
}

static void
adopt_routes(struct worker *w, struct routes *rt)
{
	struct wtable *old = w->cur, *wt = xcalloc(1, sizeof(*wt));

	wt->rt = rt;
	w->cur = wt;
	if (old->users == 0) {
		routes_unref(old->rt);
		free(old);
	} else {
		old->next = w->retired;
		w->retired = old;
	}
	if (w->cfg->listen[LK_PEER] != NULL)
		conn_peers_recheck(w);
}

static void
begin_stop(struct worker *w)
{
	if (w->stopping)
		return;
	w->stopping = true;
	w->stop_deadline = ev_now(w->loop) + w->cfg->stop_grace_ms;
	listener_close(w);
	conn_close_idle(w);
	upstream_close_idle(w);
	if (w->nconns == 0)
		ev_stop(w->loop);
}

static void
mailbox_event(struct ev_loop *loop, int fd, uint32_t events, void *arg)
{
	struct worker *w = arg;
	struct routes *rt;
	uint64_t v;

	(void)loop;
	(void)events;
	while (read(fd, &v, sizeof(v)) == (ssize_t)sizeof(v))
		;
	rt = __atomic_exchange_n(&w->mail_routes, NULL, __ATOMIC_ACQ_REL);
	if (rt != NULL)
		adopt_routes(w, rt);
	if (__atomic_load_n(&w->mail_stop, __ATOMIC_ACQUIRE))
		begin_stop(w);
}

static void
notify(struct worker *w)
{
	uint64_t one = 1;

	if (write(w->notify_fd, &one, sizeof(one)) == -1 && errno != EAGAIN)
		log_warn("worker %d notify", w->id);
}

void
worker_post_routes(struct worker *w, struct routes *rt)
{
	struct routes *prev = __atomic_exchange_n(&w->mail_routes, rt, __ATOMIC_ACQ_REL);

	/* A table posted earlier and never adopted is superseded. */
	routes_unref(prev);
	notify(w);
}

void
worker_post_stop(struct worker *w)
{
	__atomic_store_n(&w->mail_stop, 1, __ATOMIC_RELEASE);
	notify(w);
}

static void
sweep(struct ev_loop *loop, void *arg)
{
	struct worker *w = arg;
	int64_t now = now_ms();

	w->sweep = NULL;
	conn_sweep(w, now);
	upstream_sweep(w, now);
	accesslog_flush(&w->al);
	if (w->stopping) {
		if (now >= w->stop_deadline && w->nconns > 0) {
			log_info("worker %d: %zu connections still busy at the deadline; closing",
			    w->id, w->nconns);
			conn_close_all(w);
		}
		if (w->nconns == 0) {
			ev_stop(loop);
			return;
		}
	}
	w->sweep = ev_timer_add(loop, SWEEP_MS, sweep, w);
}

static uint64_t
splitmix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t
xorshift128p(uint64_t *s)
{
	uint64_t a = s[0], b = s[1];

	s[0] = b;
	a ^= a << 23;
	s[1] = a ^ b ^ (a >> 17) ^ (b >> 26);
	return s[1] + b;
}

void
worker_request_id(struct worker *w, char *out)
{
	static const char hex[] = "0123456789abcdef";
	uint64_t v[2] = { xorshift128p(w->rng), xorshift128p(w->rng) };

	for (int i = 0; i < 32; i++)
		out[i] = hex[(v[i / 16] >> ((i % 16) * 4)) & 15];
	out[32] = '\0';
}

int
worker_init(struct worker *w, int id, const struct router_config *cfg, struct routes *rt)
{
	uint64_t seed;

	memset(w, 0, sizeof(*w));
	w->id = id;
	w->cfg = cfg;
	for (int k = 0; k < LK_COUNT; k++)
		w->listen_fd[k] = -1;
	w->notify_fd = -1;
	/* Each worker takes its share (rounded up) of the router's cap. */
	w->max_conns = (cfg->max_conns + (size_t)cfg->nworkers - 1) / (size_t)cfg->nworkers;
	metrics_init(&w->m);
	accesslog_init(&w->al, cfg->access_fd, cfg->access_path, cfg->log_max);
	w->cur = xcalloc(1, sizeof(*w->cur));
	w->cur->rt = rt;
	if (getrandom(&seed, sizeof(seed), 0) != (ssize_t)sizeof(seed))
		seed = (uint64_t)now_ms() ^ ((uint64_t)getpid() << 32);
	seed ^= (uint64_t)id * 0x9e3779b97f4a7c15ULL;
	w->rng[0] = splitmix(&seed);
	w->rng[1] = splitmix(&seed);
	w->unknown_stats = metrics_host(&w->m, "", "", "");
	for (int k = 0; k < LK_COUNT; k++)
		rewrite_forwarded_tail(w->xf_tail[k], sizeof(w->xf_tail[k]),
		    k == LK_TLS || k == LK_PEER, cfg->listen_port[k]);
	w->loop = ev_new();
	if (w->loop == NULL)
		return -1;
	w->notify_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (w->notify_fd == -1 ||
	    ev_add(w->loop, w->notify_fd, EV_READ, mailbox_event, w) == -1)
		return -1;
	if (listener_open(w, cfg->nworkers > 1) == -1)
		return -1;
	return 0;
}

int
worker_run(struct worker *w)
{
	int r;

	w->sweep = ev_timer_add(w->loop, SWEEP_MS, sweep, w);
	r = ev_run(w->loop);
	if (r == -1)
		log_warn("worker %d: event loop", w->id);
	return r;
}

void
worker_free(struct worker *w)
{
	struct routes *rt;

	conn_close_all(w);
	listener_close(w);
	upstream_registry_free(w);
	accesslog_free(&w->al);
	if (w->sweep != NULL)
		ev_timer_cancel(w->loop, w->sweep);
	w->sweep = NULL;
	while (w->retired != NULL)
		table_drop(w, w->retired);
	if (w->cur != NULL) {
		routes_unref(w->cur->rt);
		free(w->cur);
		w->cur = NULL;
	}
	rt = __atomic_exchange_n(&w->mail_routes, NULL, __ATOMIC_ACQ_REL);
	routes_unref(rt);
	if (w->notify_fd != -1) {
		ev_del(w->loop, w->notify_fd);
		close(w->notify_fd);
	}
	ev_free(w->loop);
	metrics_free(&w->m);
}
