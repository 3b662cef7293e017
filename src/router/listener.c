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

static void
listener_event(struct ev_loop *loop, int fd, uint32_t events, void *arg)
{
	struct worker *w = arg;

	(void)loop;
	(void)events;
	for (int i = 0; i < ACCEPT_BATCH && w->listen_fd != -1; i++) {
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
		conn_new(w, cfd, &peer);
	}
}

int
listener_open(struct worker *w, bool reuseport)
{
	w->listen_fd = net_listen_tcp(w->cfg->listen, reuseport, 4096);
	if (w->listen_fd == -1)
		return -1;
	if (ev_add(w->loop, w->listen_fd, EV_READ, listener_event, w) == -1) {
		close(w->listen_fd);
		w->listen_fd = -1;
		return -1;
	}
	return 0;
}

void
listener_close(struct worker *w)
{
	if (w->listen_fd == -1)
		return;
	ev_del(w->loop, w->listen_fd);
	close(w->listen_fd);
	w->listen_fd = -1;
}
