/*
 * listener.c — see listener.h. The listener is level-triggered and accepts
 * in batches; the allow list is checked against the worker's current table
 * before the connection gets any state.
 *
 * Floods: when accept fails for want of descriptors or memory (EMFILE,
 * ENFILE, ENOBUFS, ENOMEM), or the worker is at its share of --max-conns and
 * no connection is idle, the worker stops watching its listeners (a ready
 * level-triggered listener would otherwise wake it forever) and watches them
 * again after ACCEPT_RETRY_MS or as soon as one of its connections closes;
 * the connections it has are served all along. At the cap with an idle
 * connection, the least recently active idle one is closed to admit the new
 * one. What happened is logged at most once a second for the whole router,
 * with counts.
 */
#include "router/listener.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/ev.h"
#include "common/log.h"
#include "common/net.h"
#include "router/conn.h"
#include "router/routes.h"
#include "router/worker.h"

#define ACCEPT_BATCH 64
#define ACCEPT_RETRY_MS 50
#define FLOOD_LOG_MS 1000

static void listener_event(struct ev_loop *loop, int fd, uint32_t events, void *arg);

/* The router's next flood line is due at this ev_now() (CLOCK_MONOTONIC ms,
 * the same in every worker); the worker that takes the slot logs its counts. */
static int64_t flood_log_next;

static void
flood_log(struct worker *w, int err)
{
	int64_t now = ev_now(w->loop), due = __atomic_load_n(&flood_log_next, __ATOMIC_RELAXED);

	if (now < due || !__atomic_compare_exchange_n(&flood_log_next, &due, now + FLOOD_LOG_MS,
	    false, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		return;
	log_warnx("worker %d: flood: %s; %zu connections open (cap %zu%s); since its last such "
	    "line: accepting paused %lu times for want of descriptors and %lu times at the cap, "
	    "%lu idle connections shed", w->id, err != 0 ? strerror(err) : "at the connection cap",
	    w->nconns, w->max_conns, w->max_conns == 0 ? ": none" : "", w->paused_fd,
	    w->paused_cap, w->shed);
	w->paused_fd = w->paused_cap = w->shed = 0;
}

static void
accept_retry(struct ev_loop *loop, void *arg)
{
	struct worker *w = arg;

	(void)loop;
	w->accept_retry = NULL;
	listener_resume(w);
}

/* Stops watching w's listeners for a while: err is accept's errno, 0 at the cap. */
static void
listener_pause(struct worker *w, int err)
{
	if (err != 0) {
		M_INC(w->m.accept_pauses_fd);
		w->paused_fd++;
	} else {
		M_INC(w->m.accept_pauses_cap);
		w->paused_cap++;
	}
	flood_log(w, err);
	if (w->accept_paused)
		return;
	for (int k = 0; k < LK_COUNT; k++) {
		if (w->listen_fd[k] != -1)
			ev_del(w->loop, w->listen_fd[k]);
	}
	w->accept_paused = true;
	w->accept_retry = ev_timer_add(w->loop, ACCEPT_RETRY_MS, accept_retry, w);
}

void
listener_resume(struct worker *w)
{
	if (!w->accept_paused)
		return;
	w->accept_paused = false;
	ev_timer_cancel(w->loop, w->accept_retry);
	w->accept_retry = NULL;
	for (int k = 0; k < LK_COUNT; k++) {
		if (w->listen_fd[k] != -1 &&
		    ev_add(w->loop, w->listen_fd[k], EV_READ, listener_event, w) == -1)
			log_warn("worker %d: watching listener %d again", w->id, k);
	}
}

/* Accepts a batch from the listener of kind. */
static void
accept_batch(struct worker *w, int fd, enum listen_kind kind)
{
	for (int i = 0; i < ACCEPT_BATCH && w->listen_fd[kind] != -1; i++) {
		struct sockaddr_in peer;
		socklen_t plen = sizeof(peer);
		struct conn *shed = NULL;
		int cfd, one = 1;

		if (w->max_conns != 0 && w->nconns >= w->max_conns &&
		    (shed = conn_oldest_idle(w)) == NULL) {
			listener_pause(w, 0);
			return;
		}
		cfd = accept4(fd, (struct sockaddr *)&peer, &plen, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (cfd == -1) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			    errno == ENOMEM) {
				listener_pause(w, errno);
				return;
			}
			log_warn("accept");
			return;
		}
		if (peer.sin_family != AF_INET ||
		    !routes_allowed(w->cur->rt, ntohl(peer.sin_addr.s_addr))) {
			/* Outside the allow list: no byte, no state. */
			M_INC(w->m.denied);
			close(cfd);
			continue;
		}
		if (shed != NULL)
			conn_shed(shed);
		setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		M_INC(w->m.accepted);
		conn_new(w, cfd, &peer, kind);
		if (shed != NULL)
			flood_log(w, 0);
	}
}

static void
listener_event(struct ev_loop *loop, int fd, uint32_t events, void *arg)
{
	struct worker *w = arg;

	(void)loop;
	(void)events;
	for (int k = 0; k < LK_COUNT; k++) {
		if (w->listen_fd[k] == fd) {
			accept_batch(w, fd, (enum listen_kind)k);
			return;
		}
	}
}

/* A listener on addr into *fd, watched with cb; -1 on failure. */
static int
open_one(struct worker *w, const char *addr, bool reuseport, int *fd, ev_fd_cb cb)
{
	*fd = net_listen_tcp(addr, reuseport, 4096);
	if (*fd == -1)
		return -1;
	if (ev_add(w->loop, *fd, EV_READ, cb, w) == -1) {
		close(*fd);
		*fd = -1;
		return -1;
	}
	return 0;
}

int
listener_open(struct worker *w, bool reuseport)
{
	for (int k = 0; k < LK_COUNT; k++) {
		if (w->cfg->listen[k] == NULL)
			continue;
		if (open_one(w, w->cfg->listen[k], reuseport, &w->listen_fd[k], listener_event) == -1) {
			listener_close(w);
			return -1;
		}
	}
	return 0;
}

static void
close_one(struct worker *w, int *fd)
{
	if (*fd == -1)
		return;
	ev_del(w->loop, *fd);
	close(*fd);
	*fd = -1;
}

void
listener_close(struct worker *w)
{
	ev_timer_cancel(w->loop, w->accept_retry);
	w->accept_retry = NULL;
	w->accept_paused = false;
	for (int k = 0; k < LK_COUNT; k++)
		close_one(w, &w->listen_fd[k]);
}
