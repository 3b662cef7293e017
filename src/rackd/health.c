/*
 * health.c — see health.h.
 *
 * A process's checks (struct health_check), and what each reports:
 *
 *   FIRST --pass--> PASSING                              report HEALTH_UP
 *   FIRST --fail, deadline not passed--> FIRST           probe again in 200 ms
 *   FIRST --fail past the first-pass deadline--> DONE    report HEALTH_MISSED
 *   PASSING --HEALTH_UNHEALTHY_AFTER fails--> FAILING    report HEALTH_DOWN
 *   FAILING --pass--> PASSING                            report HEALTH_UP
 *   PASSING/FAILING --HEALTH_REPLACE_AFTER fails--> DONE report HEALTH_REPLACE
 *
 * Passing and failing processes are probed every health.interval; a process
 * adopted from the last daemon starts in PASSING. DONE probes no more.
 *
 * A probe's states:
 *
 *   CONNECTING --writable, plain--> SENDING --request written--> READING
 *   CONNECTING --writable, https--> HANDSHAKE --done--> SENDING
 *   CONNECTING --writable, grpcHealthEnabled--> GRPC
 *   READING --status line--> done
 *   GRPC --HTTP/2 both ways until the check's stream closes--> done
 *
 * A process whose port is https (port: https:3000) is probed over TLS
 * without checking its certificate, which is its own (as Convox does). A
 * service with grpcHealthEnabled is probed with grpc.health.v1.Health/Check
 * over h2c (common/grpccheck.c: libnghttp2 stays out of this file), which
 * passes only on grpc-status 0 and SERVING.
 * Any error, a close before the status line, or the probe's timeout fails it.
 * Every probe ends (its timeout bounds it), so a process that never passes
 * always reaches HEALTH_MISSED.
 */
#include "rackd/health.h"

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/grpccheck.h"
#include "common/log.h"
#include "common/net.h"
#include "common/tls.h"
#include "common/util.h"
#include "rackd/manifest.h"
#include "rackd/rack.h"

enum probe_state { PROBE_CONNECTING, PROBE_HANDSHAKE, PROBE_SENDING, PROBE_READING, PROBE_GRPC };

struct probe {
	struct rack *rack;
	struct proc *proc;
	int fd;
	enum probe_state state;
	struct tls_conn *tls;       /* https processes, from PROBE_HANDSHAKE on */
	struct grpc_check *grpc;    /* PROBE_GRPC */
	struct ev_timer *timeout;
	char req[512];
	size_t req_len, req_off;
	char buf[64];
	size_t have;
};

/* The client context of every https probe: it checks no certificate. Made
 * at the first https probe and kept for the daemon's life. */
static struct tls_ctx *insecure_ctx;

static void probe_finish(struct probe *pr, bool ok);

static void
probe_timeout(struct ev_loop *loop, void *arg)
{
	struct probe *pr = arg;

	(void)loop;
	pr->timeout = NULL;
	probe_finish(pr, false);
}

/* Waits for what the TLS connection asked for. */
static void
probe_wait_tls(struct ev_loop *loop, struct probe *pr)
{
	ev_mod(loop, pr->fd, tls_conn_events(pr->tls) == POLLOUT ? EV_WRITE : EV_READ);
}

/* CONNECTING: the connect finished (or failed); starts the handshake or the
 * request. -1 when it failed. */
static int
probe_connected(struct probe *pr, uint32_t events)
{
	struct proc *p = pr->proc;
	char err[256];
	int soerr = 0;
	socklen_t len = sizeof(soerr);

	if (getsockopt(pr->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) == -1 || soerr != 0 ||
	    (events & EV_ERROR))
		return -1;
	if (p->health.grpc) {
		char authority[64];

		snprintf(authority, sizeof(authority), "%s:%d", p->st.address, p->st.port);
		if ((pr->grpc = grpc_check_new(authority)) == NULL)
			return -1;
		pr->state = PROBE_GRPC;
		return 0;
	}
	pr->req_len = (size_t)snprintf(pr->req, sizeof(pr->req), "GET %s HTTP/1.1\r\n"
	    "Host: %s:%d\r\nUser-Agent: cx-health\r\nConnection: close\r\n\r\n",
	    p->health.path, p->st.address, p->st.port);
	if (pr->req_len >= sizeof(pr->req))
		return -1;
	pr->state = PROBE_SENDING;
	if (!p->health.tls)
		return 0;
	if (insecure_ctx == NULL &&
	    (insecure_ctx = tls_ctx_client_insecure_new(err, sizeof(err))) == NULL) {
		log_warnx("health checks over TLS: %s", err);
		return -1;
	}
	if ((pr->tls = tls_conn_new(insecure_ctx, pr->fd, NULL, err, sizeof(err))) == NULL)
		return -1;
	pr->state = PROBE_HANDSHAKE;
	return 0;
}

/* Reads what the process answered; probe_finish once the status line is in. */
static void
probe_read(struct probe *pr)
{
	for (;;) {
		ssize_t n = pr->tls != NULL ?
		    tls_conn_read(pr->tls, pr->buf + pr->have, sizeof(pr->buf) - 1 - pr->have) :
		    read(pr->fd, pr->buf + pr->have, sizeof(pr->buf) - 1 - pr->have);

		if ((pr->tls != NULL && n == CX_AGAIN) ||
		    (pr->tls == NULL && n == -1 && errno == EAGAIN)) {
			if (pr->tls != NULL)
				probe_wait_tls(pr->rack->loop, pr);
			return;
		}
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

/* GRPC: writes what the check has to say, reads what the process
 * answers, until the check has its result. */
static void
probe_grpc(struct ev_loop *loop, struct probe *pr)
{
	for (;;) {
		const uint8_t *out;
		size_t len = grpc_check_output(pr->grpc, &out);
		uint8_t in[4096];
		ssize_t n;
		int r;

		if (len > 0) {
			n = write(pr->fd, out, len);
			if (n == -1 && errno == EAGAIN) {
				ev_mod(loop, pr->fd, EV_WRITE);
				return;
			}
			if (n <= 0) {
				probe_finish(pr, false);
				return;
			}
			grpc_check_sent(pr->grpc, (size_t)n);
			continue;
		}
		n = read(pr->fd, in, sizeof(in));
		if (n == -1 && errno == EAGAIN) {
			ev_mod(loop, pr->fd, EV_READ);
			return;
		}
		if (n <= 0) {
			probe_finish(pr, false);
			return;
		}
		r = grpc_check_input(pr->grpc, in, (size_t)n);
		if (r != GRPC_CHECK_PENDING) {
			if (r == GRPC_CHECK_FAIL)
				log_debug("process %s: gRPC health check: %s", pr->proc->st.id,
				    grpc_check_why(pr->grpc));
			probe_finish(pr, r == GRPC_CHECK_PASS);
			return;
		}
	}
}

static void
probe_io(struct ev_loop *loop, int fd, uint32_t events, void *arg)
{
	struct probe *pr = arg;

	(void)fd;
	if (pr->state == PROBE_CONNECTING && probe_connected(pr, events) == -1) {
		probe_finish(pr, false);
		return;
	}
	if (pr->state == PROBE_GRPC) {
		probe_grpc(loop, pr);
		return;
	}
	if (pr->state == PROBE_HANDSHAKE) {
		int rc = tls_conn_handshake(pr->tls);

		if (rc == CX_AGAIN) {
			probe_wait_tls(loop, pr);
			return;
		}
		if (rc != CX_OK) {
			probe_finish(pr, false);
			return;
		}
		pr->state = PROBE_SENDING;
	}
	while (pr->state == PROBE_SENDING) {
		const char *at = pr->req + pr->req_off;
		size_t left = pr->req_len - pr->req_off;
		ssize_t n = pr->tls != NULL ? tls_conn_write(pr->tls, at, left) :
		    write(pr->fd, at, left);

		if (pr->tls != NULL && n == CX_AGAIN) {
			probe_wait_tls(loop, pr);
			return;
		}
		if (pr->tls == NULL && n == -1 && errno == EAGAIN) {
			ev_mod(loop, pr->fd, EV_WRITE);
			return;
		}
		if (n <= 0) {
			probe_finish(pr, false);
			return;
		}
		pr->req_off += (size_t)n;
		if (pr->req_off == pr->req_len) {
			pr->state = PROBE_READING;
			ev_mod(loop, pr->fd, EV_READ);
		}
	}
	probe_read(pr);
}

static void
probe_free(struct rack *r, struct probe *pr)
{
	tls_conn_free(pr->tls);
	grpc_check_free(pr->grpc);
	if (pr->fd != -1) {
		ev_del(r->loop, pr->fd);
		close(pr->fd);
	}
	ev_timer_cancel(r->loop, pr->timeout);
	pr->proc->health.probe = NULL;
	free(pr);
}

static void
probe_finish(struct probe *pr, bool ok)
{
	struct proc *p = pr->proc;
	struct rack *r = pr->rack;

	probe_free(r, pr);
	health_result(r, p, ok);
}

static void
probe_start(struct ev_loop *loop, void *arg)
{
	struct proc *p = arg;
	struct rack *r = p->app->rack;
	struct probe *pr;
	struct sockaddr_in sin = { .sin_family = AF_INET };

	p->health.timer = NULL;
	if (p->health.port == 0) {
		health_result(r, p, p->pidfd != -1);
		return;
	}
	pr = xcalloc(1, sizeof(*pr));
	pr->rack = r;
	pr->proc = p;
	p->health.probe = pr;
	sin.sin_port = htons((uint16_t)p->health.port);
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
	pr->timeout = ev_timer_add(loop, p->health.timeout_ms, probe_timeout, pr);
}

static void
schedule(struct rack *r, struct proc *p, int ms)
{
	health_cancel(r, p);
	p->health.timer = ev_timer_add(r->loop, ms, probe_start, p);
}

void
health_set_handler(struct rack *r, health_fn fn)
{
	r->health_changed = fn;
}

static void
report(struct rack *r, struct proc *p, enum health_event ev)
{
	if (r->health_changed == NULL) {
		log_warnx("process %s: its health changed (%d), but nobody registered to hear of it",
		    p->st.id, (int)ev);
		return;
	}
	r->health_changed(r, p, ev);
}

void
health_start(struct rack *r, struct proc *p, const struct mf_service *s, bool serving)
{
	struct health_check *hc = &p->health;

	health_cancel(r, p);
	hc->port = s->port > 0 && !s->health_disabled ? p->st.port : 0;
	hc->tls = s->port_scheme != NULL && strcmp(s->port_scheme, "https") == 0;
	hc->grpc = s->grpc_health;
	str_copy(hc->path, sizeof(hc->path), s->health_path);
	hc->interval_ms = s->health_interval * 1000;
	hc->timeout_ms = (s->health_timeout > 0 ? s->health_timeout : 1) * 1000;
	hc->first_deadline = now_ms() + (int64_t)(s->health_grace + s->health_timeout) * 1000;
	hc->state = serving ? HEALTH_PASSING : HEALTH_FIRST;
	hc->fails = 0;
	schedule(r, p, 0);
}

void
health_result(struct rack *r, struct proc *p, bool ok)
{
	struct health_check *hc = &p->health;

	switch (hc->state) {
	case HEALTH_FIRST:
		if (ok) {
			hc->state = HEALTH_PASSING;
			hc->fails = 0;
			schedule(r, p, hc->interval_ms);
			report(r, p, HEALTH_UP);
		} else if (now_ms() <= hc->first_deadline) {
			schedule(r, p, HEALTH_FIRST_PROBE_MS);
		} else {
			health_cancel(r, p);
			hc->state = HEALTH_DONE;
			report(r, p, HEALTH_MISSED);
		}
		break;
	case HEALTH_PASSING:
	case HEALTH_FAILING:
		if (ok) {
			hc->fails = 0;
			schedule(r, p, hc->interval_ms);
			if (hc->state == HEALTH_FAILING) {
				hc->state = HEALTH_PASSING;
				report(r, p, HEALTH_UP);
			}
			break;
		}
		if (++hc->fails >= HEALTH_REPLACE_AFTER) {
			health_cancel(r, p);
			hc->state = HEALTH_DONE;
			report(r, p, HEALTH_REPLACE);
			break;
		}
		schedule(r, p, hc->interval_ms);
		if (hc->state == HEALTH_PASSING && hc->fails >= HEALTH_UNHEALTHY_AFTER) {
			hc->state = HEALTH_FAILING;
			report(r, p, HEALTH_DOWN);
		}
		break;
	case HEALTH_DONE:
		break;
	}
}

void
health_cancel(struct rack *r, struct proc *p)
{
	ev_timer_cancel(r->loop, p->health.timer);
	p->health.timer = NULL;
	if (p->health.probe != NULL)
		probe_free(r, p->health.probe);
}
