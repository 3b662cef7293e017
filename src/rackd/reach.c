/*
 * reach.c — the walk of `cx services reach` across a TLS peering (reach.h).
 * Runs in a child of the daemon: blocking calls, each bounded by poll.
 */
#include "rackd/reach.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "common/net.h"
#include "common/tls.h"
#include "common/util.h"
#include "lab/lab.h"

#define CONNECT_MS 2000
#define HANDSHAKE_MS 3000
#define ADMIT_MS 2000
#define ANSWER_MS 5000

struct walk {
	const struct reach_plan *p;
	jv *hops;
	bool failed;
	struct timespec t0;         /* of the hop being walked */
};

static void
hop_start(struct walk *w)
{
	clock_gettime(CLOCK_MONOTONIC, &w->t0);
}

static jv *hop(struct walk *w, const char *name, bool ok, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Records one hop (its time since hop_start); returns it, for extras. */
static jv *
hop(struct walk *w, const char *name, bool ok, const char *fmt, ...)
{
	char detail[768];
	va_list ap;
	jv *o = jv_object_new();

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	jv_set_str(o, "hop", name);
	jv_set_bool(o, "ok", ok);
	/* Microseconds, so that the CLI prints ms with two decimals. */
	jv_set_int(o, "us", (int64_t)(ms_since(&w->t0) * 1000.0));
	jv_set_str(o, "detail", detail);
	jv_push_take(w->hops, o);
	if (!ok)
		w->failed = true;
	return o;
}

bool
reach_under(const char *domain, const char *zone)
{
	size_t ld = strlen(domain), lz = strlen(zone);

	return lz > 0 && ld > lz + 1 && domain[ld - lz - 1] == '.' &&
	    strcasecmp(domain + ld - lz, zone) == 0;
}

void
reach_parse_answer(const char *resp, struct reach_answer *a)
{
	const char *body = strstr(resp, "\r\n\r\n"), *h;
	size_t head = body != NULL ? (size_t)(body - resp) : strlen(resp);

	memset(a, 0, sizeof(*a));
	if (sscanf(resp, "HTTP/1.%*1[01] %3d", &a->status) != 1 || a->status < 100)
		a->status = 0;
	if (body != NULL)
		sscanf(body + 4, "%159[^\r\n]", a->line);
	/* Headers only: a body may say anything. */
	for (h = strchr(resp, '\n'); h != NULL && (size_t)(h - resp) < head;
	    h = strchr(h + 1, '\n')) {
		if (strncasecmp(h + 1, "X-Cx-Router:", 12) == 0)
			a->from_router = true;
		else if (strncasecmp(h + 1, "X-Cx-Rack:", 10) == 0)
			sscanf(h + 11, " %31[a-z0-9-]", a->router_rack);
	}
}

bool
reach_router_ok(const struct reach_answer *a, const char *rack, const char *peer, char *why,
    size_t whylen)
{
	if (!a->from_router || strcmp(a->router_rack, peer) == 0)
		return true;
	if (strcmp(a->router_rack, rack) == 0)
		snprintf(why, whylen, "%s's egress answered %d itself, %s's router did not: %s", rack,
		    a->status, peer, a->line);
	else
		snprintf(why, whylen, "an unknown router answered %d (%s%s), neither %s's egress nor "
		    "%s's peer router: %s", a->status, a->router_rack[0] != '\0' ? "X-Cx-Rack: " :
		    "no X-Cx-Rack", a->router_rack, rack, peer, a->line);
	return false;
}

/* A non-blocking connect bounded by ms: the fd, or -1 with why. */
static int
connect_within(const char *addr, int ms, char *why, size_t whylen)
{
	struct sockaddr_in sin;
	struct pollfd pf;
	int fd, err = 0;
	socklen_t len = sizeof(err);

	if (net_parse_addr(addr, &sin) == -1) {
		snprintf(why, whylen, "\"%s\" is not IPv4:PORT", addr);
		return -1;
	}
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		snprintf(why, whylen, "socket: %s", strerror(errno));
		return -1;
	}
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 && errno != EINPROGRESS) {
		snprintf(why, whylen, "%s", strerror(errno));
		close(fd);
		return -1;
	}
	pf.fd = fd;
	pf.events = POLLOUT;
	if (poll(&pf, 1, ms) != 1) {
		snprintf(why, whylen, "no answer within %d ms (dropped on the way?)", ms);
		close(fd);
		return -1;
	}
	getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
	if (err != 0) {
		snprintf(why, whylen, "%s", strerror(err));
		close(fd);
		return -1;
	}
	return fd;
}

/* The name hop; 0 when it passed. */
static int
walk_name(struct walk *w)
{
	const struct reach_plan *p = w->p;
	struct addrinfo hints = { .ai_family = AF_INET, .ai_socktype = SOCK_STREAM }, *res = NULL;
	char addr[INET_ADDRSTRLEN] = "", want[64], *colon;
	const char *how;
	int rc;

	hop_start(w);
	str_copy(want, sizeof(want), p->egress);
	if ((colon = strrchr(want, ':')) != NULL)
		*colon = '\0';
	/* Whether the name is one A's egress carries comes first: nothing else
	 * is asked of a resolver. */
	if (!p->peered) {
		hop(w, "name", false, "rack %s is not peered with %s over TLS: its egress carries "
		    "none of %s's names, %s among them (cx rack peer %s %s)", p->rack, p->peer,
		    p->peer, p->domain, p->rack, p->peer);
		return -1;
	}
	if (!reach_under(p->domain, p->internal_domain)) {
		hop(w, "name", false, "%s is not under %s's internal domain %s: %s's egress does not "
		    "carry it", p->domain, p->peer, p->internal_domain, p->rack);
		return -1;
	}
	if (!p->host && reach_under(p->domain, "localhost")) {
		/* What a loopback rack's processes see (RFC 6761; curl and browsers agree). */
		str_copy(addr, sizeof(addr), "127.0.0.1");
		how = "*.localhost is loopback";
	} else if ((rc = getaddrinfo(p->domain, NULL, &hints, &res)) != 0) {
		hop(w, "name", false, "%s does not resolve from %s's side (%s): %s", p->domain,
		    p->rack, p->host ? "its rack DNS" : "this host's resolver", gai_strerror(rc));
		return -1;
	} else {
		inet_ntop(AF_INET, &((struct sockaddr_in *)res->ai_addr)->sin_addr, addr,
		    sizeof(addr));
		freeaddrinfo(res);
		how = p->host ? "the rack DNS" : "this host's resolver";
	}
	if (strcmp(addr, want) != 0) {
		hop(w, "name", false, "%s -> %s (%s), not %s's egress listener %s", p->domain, addr,
		    how, p->rack, want);
		return -1;
	}
	hop(w, "name", true, "%s -> %s (%s): %s's egress listener, which carries *.%s to %s",
	    p->domain, addr, how, p->rack, p->internal_domain, p->peer);
	return 0;
}

/* Why a failed handshake failed, in words. */
static void
tls_why(const struct reach_plan *p, const char *err, char *out, size_t outlen)
{
	if (strstr(err, "certificate verify failed") != NULL)
		snprintf(out, outlen, "%s's certificate does not verify against %s (unknown CA?): %s",
		    p->peer, p->ca_file, err);
	else if (strcasestr(err, "alert") != NULL)
		snprintf(out, outlen, "%s refused %s's certificate (%s), with an alert: %s", p->peer,
		    p->rack, p->cert_file, err);
	else
		snprintf(out, outlen, "%s", err);
}

/* Drives c's handshake (want = 0) or one read until ms pass: CX_OK, CX_ERR,
 * or CX_AGAIN on timeout; a read's bytes go to buf. */
static int
tls_drive(struct tls_conn *c, int fd, int ms, char *buf, size_t size, ssize_t *got)
{
	int64_t end = now_ms() + ms;

	for (;;) {
		struct pollfd pf = { .fd = fd };
		int64_t left;
		ssize_t n;

		if (buf == NULL) {
			if ((n = tls_conn_handshake(c)) != CX_AGAIN)
				return (int)n;
		} else if ((n = tls_conn_read(c, buf, size)) != CX_AGAIN) {
			*got = n;
			return n < 0 ? CX_ERR : CX_OK;
		}
		left = end - now_ms();
		pf.events = tls_conn_events(c);
		if (left <= 0 || poll(&pf, 1, (int)left) != 1)
			return CX_AGAIN;
	}
}

/* The tls hop; 0 when it passed. */
static int
walk_tls(struct walk *w)
{
	const struct reach_plan *p = w->p;
	char err[768], why[768], cn[128] = "", issuer[128] = "", req[512], resp[256];
	struct tls_ctx *ctx = NULL;
	struct tls_conn *c = NULL;
	struct tls_id *id = NULL;
	struct timespec hs;
	double hs_ms;
	char *ca = NULL;
	ssize_t got = 0;
	int fd = -1, rc = -1, r;
	jv *o;

	hop_start(w);
	if ((ca = read_file(p->ca_file, 256 * 1024, NULL)) == NULL) {
		hop(w, "tls", false, "%s holds no CA of %s: %s: %s", p->rack, p->peer, p->ca_file,
		    strerror(errno));
		goto out;
	}
	if ((id = tls_id_load(p->cert_file, p->key_file, err, sizeof(err))) == NULL ||
	    (ctx = tls_ctx_client_new(ca, id, err, sizeof(err))) == NULL) {
		hop(w, "tls", false, "%s's peer identity: %s", p->rack, err);
		goto out;
	}
	if ((fd = connect_within(p->endpoint, CONNECT_MS, why, sizeof(why))) == -1) {
		hop(w, "tls", false, "%s's peer endpoint %s: %s", p->peer, p->endpoint, why);
		goto out;
	}
	if ((c = tls_conn_new(ctx, fd, p->peer, err, sizeof(err))) == NULL) {
		hop(w, "tls", false, "%s", err);
		goto out;
	}
	clock_gettime(CLOCK_MONOTONIC, &hs);
	r = tls_drive(c, fd, HANDSHAKE_MS, NULL, 0, NULL);
	hs_ms = ms_since(&hs);
	if (r == CX_AGAIN) {
		hop(w, "tls", false, "%s's peer endpoint %s: no handshake within %d ms", p->peer,
		    p->endpoint, HANDSHAKE_MS);
		goto out;
	}
	if (r != CX_OK) {
		tls_why(p, tls_conn_error(c), why, sizeof(why));
		hop(w, "tls", false, "handshake with %s at %s failed: %s", p->peer, p->endpoint, why);
		goto out;
	}
	tls_conn_peer_cert(c, cn, sizeof(cn), issuer, sizeof(issuer));
	/* In TLS 1.3 the server judges our certificate after our handshake is
	 * done: its answer to a request (or its alert) tells. */
	snprintf(req, sizeof(req), "HEAD / HTTP/1.1\r\nHost: %s\r\nUser-Agent: cx-reach\r\n"
	    "Connection: close\r\n\r\n", p->domain);
	r = tls_conn_write(c, req, strlen(req)) == (ssize_t)strlen(req) ? tls_drive(c, fd, ADMIT_MS,
	    resp, sizeof(resp) - 1, &got) : CX_ERR;
	if (r == CX_AGAIN) {
		hop(w, "tls", false, "handshake with %s done, then no answer within %d ms", p->peer,
		    ADMIT_MS);
		goto out;
	}
	if (r == CX_ERR || got == 0) {
		if (tls_conn_error(c)[0] != '\0')
			tls_why(p, tls_conn_error(c), why, sizeof(why));
		else
			snprintf(why, sizeof(why), "%s closed the connection without an answer", p->peer);
		hop(w, "tls", false, "handshake with %s done (certificate CN \"%s\"), then %s", p->peer,
		    cn, why);
		goto out;
	}
	o = hop(w, "tls", true, "%s at %s: certificate CN \"%s\" issued by \"%s\", verified "
	    "against %s; TLS %s, handshake %.2f ms; %s admitted %s's certificate", p->peer,
	    p->endpoint, cn, issuer, p->ca_file, tls_conn_version(c) == 0x0304 ? "1.3" : "< 1.3",
	    hs_ms, p->peer, p->rack);
	jv_set_str(o, "cn", cn);
	jv_set_str(o, "issuer", issuer);
	jv_set_str(o, "ca_file", p->ca_file);
	jv_set_str(o, "version", tls_conn_version(c) == 0x0304 ? "TLSv1.3" : "older");
	jv_set_int(o, "handshake_us", (int64_t)(hs_ms * 1000.0));
	rc = 0;
out:
	if (c != NULL)
		tls_conn_free(c);
	if (fd != -1)
		close(fd);
	tls_ctx_free(ctx);
	tls_id_free(id);
	free(ca);
	return rc;
}

/* The router and process hops, on the egress connection fd. */
static void
walk_request(struct walk *w, int fd)
{
	const struct reach_plan *p = w->p;
	struct reach_answer a;
	char req[512], resp[4096], why[512];

	hop_start(w);
	snprintf(req, sizeof(req), "GET / HTTP/1.1\r\nHost: %s\r\nUser-Agent: cx-reach\r\n"
	    "Connection: close\r\n\r\n", p->domain);
	if (write(fd, req, strlen(req)) != (ssize_t)strlen(req)) {
		hop(w, "router", false, "cannot send the request to %s's egress: %s", p->rack,
		    strerror(errno));
		return;
	}
	net_read_within(fd, resp, sizeof(resp), ANSWER_MS);
	reach_parse_answer(resp, &a);
	if (a.status == 0) {
		hop(w, "router", false, "no HTTP answer through %s's egress within %d ms", p->rack,
		    ANSWER_MS);
		return;
	}
	if (!reach_router_ok(&a, p->rack, p->peer, why, sizeof(why))) {
		hop(w, "router", false, "%s", why);
		return;
	}
	hop(w, "router", true, "%s's peer router answered through the peering", p->peer);
	if (a.from_router) {
		hop(w, "process", false, "%s's router answered %d itself, no process did: %s",
		    p->peer, a.status, a.line);
		return;
	}
	hop(w, "process", true, "HTTP %d from a process of %s on %s: %s", a.status, p->service,
	    p->peer, a.line);
}

jv *
reach_walk(const struct reach_plan *p)
{
	struct walk w = { .p = p, .hops = jv_array_new() };
	char err[512], why[512];
	int self = -1, fd = -1;
	jv *out = jv_object_new();

	/* The resolver answers at once or not at all: bound it (glibc reads this). */
	setenv("RES_OPTIONS", "timeout:2 attempts:1", 1);
	if (p->host) {
		self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
		hop_start(&w);
		if (self == -1 || lab_enter_proc(p->home, p->rack, p->proc_id, err, sizeof(err)) == -1) {
			hop(&w, "name", false, "cannot take a place among %s's processes: %s", p->rack,
			    self == -1 ? strerror(errno) : err);
			goto out;
		}
	}
	if (walk_name(&w) == -1)
		goto out;
	hop_start(&w);
	if ((fd = connect_within(p->egress, CONNECT_MS, why, sizeof(why))) == -1) {
		hop(&w, "egress", false, "%s's egress listener %s: %s", p->rack, p->egress, why);
		goto out;
	}
	hop(&w, "egress", true, "connected to %s's egress listener %s", p->rack, p->egress);
	/* The handshake is A's own, from the host as A's peer router makes it. */
	if (self != -1 && setns(self, CLONE_NEWNET) == -1) {
		hop_start(&w);
		hop(&w, "tls", false, "cannot return to %s's host namespace: %s", p->rack,
		    strerror(errno));
		goto out;
	}
	if (walk_tls(&w) == -1)
		goto out;
	walk_request(&w, fd);
out:
	if (fd != -1)
		close(fd);
	if (self != -1)
		close(self);
	/* Reached: every hop passed, the last being a process's answer. */
	jv_set_bool(out, "reached", !w.failed && jv_len(w.hops) > 0 &&
	    strcmp(jv_str(jv_at(w.hops, jv_len(w.hops) - 1), "hop"), "process") == 0);
	jv_set_take(out, "hops", w.hops);
	return out;
}
