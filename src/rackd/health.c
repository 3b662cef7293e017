/*
 * health.c — see health.h.
 *
 * A probe's states: CONNECTING --writable--> SENT --status line--> done.
 * Any error, a close before the status line, or the probe's timeout fails it.
 */
#include "rackd/health.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/net.h"
#include "common/util.h"
#include "rackd/rack.h"
#include "rackd/reconcile.h"

struct probe {
	struct rack *rack;
	struct proc *proc;
	int fd;
	bool sent;
	struct ev_timer *timeout;
	char buf[64];
	size_t have;
};

static void probe_finish(struct probe *pr, bool ok);

static void
probe_timeout(struct ev_loop *loop, void *arg)
{
	struct probe *pr = arg;

	(void)loop;
	pr->timeout = NULL;
	probe_finish(pr, false);
}

static void
probe_io(struct ev_loop *loop, int fd, uint32_t events, void *arg)
{
	struct probe *pr = arg;
	struct proc *p = pr->proc;

	if (!pr->sent) {
		char req[512];
		int err = 0, n;
		socklen_t len = sizeof(err);

		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1 || err != 0 ||
		    (events & EV_ERROR)) {
			probe_finish(pr, false);
			return;
		}
		n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: %s:%d\r\n"
		    "User-Agent: cx-health\r\nConnection: close\r\n\r\n", p->health_path,
		    p->st.address, p->st.port);
		if (write(fd, req, (size_t)n) != n) {
			probe_finish(pr, false);
			return;
		}
		pr->sent = true;
		ev_mod(loop, fd, EV_READ);
		return;
	}
	for (;;) {
		ssize_t n = read(fd, pr->buf + pr->have, sizeof(pr->buf) - 1 - pr->have);

		if (n == -1 && errno == EAGAIN)
			break;
		if (n <= 0) {
			probe_finish(pr, false);
			return;
		}
		pr->have += (size_t)n;
		if (pr->have >= 12) {
			/* "HTTP/1.x NNN" */
			int ok = strncmp(pr->buf, "HTTP/1.", 7) == 0 &&
			    (pr->buf[9] == '2' || pr->buf[9] == '3');

			probe_finish(pr, ok);
			return;
		}
	}
}

static void
probe_finish(struct probe *pr, bool ok)
{
	struct proc *p = pr->proc;
	struct rack *r = pr->rack;

	if (pr->fd != -1) {
		ev_del(r->loop, pr->fd);
		close(pr->fd);
	}
	ev_timer_cancel(r->loop, pr->timeout);
	p->probe = NULL;
	free(pr);
	reconcile_health(r, p, ok);
}

static void
probe_start(struct ev_loop *loop, void *arg)
{
	struct proc *p = arg;
	struct rack *r = p->app->rack;
	struct probe *pr;
	struct sockaddr_in sin = { .sin_family = AF_INET };

	p->probe_timer = NULL;
	if (p->health_port == 0) {
		reconcile_health(r, p, p->pidfd != -1);
		return;
	}
	pr = xcalloc(1, sizeof(*pr));
	pr->rack = r;
	pr->proc = p;
	p->probe = pr;
	sin.sin_port = htons((uint16_t)p->health_port);
	inet_pton(AF_INET, p->st.address, &sin.sin_addr);
	pr->fd = -1;
	if (r->vpc)
		pr->fd = rack_connect_in_vpc(r, &sin, NULL);
	else
		pr->fd = net_connect_tcp(&sin);
	if (pr->fd == -1 || ev_add(loop, pr->fd, EV_WRITE, probe_io, pr) == -1) {
		if (pr->fd != -1)
			close(pr->fd);
		pr->fd = -1;
		probe_finish(pr, false);
		return;
	}
	pr->timeout = ev_timer_add(loop, p->health_timeout_ms, probe_timeout, pr);
}

void
health_schedule(struct rack *r, struct proc *p, int ms)
{
	health_cancel(r, p);
	p->probe_timer = ev_timer_add(r->loop, ms, probe_start, p);
}

void
health_cancel(struct rack *r, struct proc *p)
{
	ev_timer_cancel(r->loop, p->probe_timer);
	p->probe_timer = NULL;
	if (p->probe != NULL) {
		struct probe *pr = p->probe;

		if (pr->fd != -1) {
			ev_del(r->loop, pr->fd);
			close(pr->fd);
		}
		ev_timer_cancel(r->loop, pr->timeout);
		free(pr);
		p->probe = NULL;
	}
}
