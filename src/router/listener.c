/*
 * listener.c — see listener.h. The listener is level-triggered and accepts
 * in batches; the allow list is checked against the worker's current table
 * before the connection gets any state.
 */
#include "router/listener.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/ev.h"
#include "common/log.h"
#include "common/net.h"
#include "router/conn.h"
#include "router/routes.h"
#include "router/worker.h"

#define ACCEPT_BATCH 64

/* Accepts a batch from the listener of kind. */
static void
accept_batch(struct worker *w, int fd, enum listen_kind kind)
{
	for (int i = 0; i < ACCEPT_BATCH && w->listen_fd[kind] != -1; i++) {
		struct sockaddr_in peer;
		socklen_t plen = sizeof(peer);
		int cfd = accept4(fd, (struct sockaddr *)&peer, &plen, SOCK_NONBLOCK | SOCK_CLOEXEC);
		int one = 1;

		if (cfd == -1) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			/* EMFILE and friends: the next event retries. */
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
		setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		M_INC(w->m.accepted);
		conn_new(w, cfd, &peer, kind);
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
	for (int k = 0; k < LK_COUNT; k++)
		close_one(w, &w->listen_fd[k]);
}
