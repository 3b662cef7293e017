/*
 * reach.c — `cx services reach SERVICE --from WHERE`: proves, hop by hop,
 * whether SERVICE can be reached from WHERE, by trying it with real packets
 * from there (the lab's internet, or a temporary address in a rack's VPC):
 *
 *   name   api.svc.b-internal.cx.test -> 10.2.0.2  ok
 *   route  a -> 10.2.0.2  ok
 *   allow  10.2.0.2:80 accepts a  ok
 *   http   GET http://api.svc.b-internal.cx.test/ -> 200  ok
 *
 * The first hop that fails is marked FAIL with the reason, the rest are not
 * tried, and the exit status is 1. The lab drops nothing silently except
 * what the security groups drop: an unrouted address fails at once
 * ("network unreachable"), so a connection that times out was refused by an
 * allow rule.
 *
 * Loopback racks have no network to cross: the same hops run from this host.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/output.h"
#include "cli/reach.h"
#include "lab/lab.h"

#define REACH_CONNECT_MS 2000
#define REACH_HTTP_MS 3000

struct reach {
	const char *service, *from;
	char domain[256];       /* host the router serves the service on */
	char expect[64];        /* the router's address, "" if unknown */
	int port;               /* the router's port */
	char hint[256];         /* why a route or allow rule may be missing */
};

static void
hop(const char *name, const char *what, const char *result)
{
	printf("%-6s %s  %s\n", name, what, result);
	fflush(stdout);
}

/* Connects with a deadline: 0, or an errno (ETIMEDOUT when nothing answered). */
static int
connect_within(int fd, const struct sockaddr_in *sin, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLOUT };
	socklen_t len = sizeof(int);
	int err = 0;

	if (connect(fd, (const struct sockaddr *)sin, sizeof(*sin)) == 0)
		return 0;
	if (errno != EINPROGRESS)
		return errno;
	if (poll(&p, 1, ms) <= 0)
		return ETIMEDOUT;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		return errno;
	return err;
}

/* Sends a GET for host and reads the status code; -1 on no answer. */
static int
http_status(int fd, const char *host, int ms)
{
	char req[512], resp[256];
	size_t got = 0;
	int64_t deadline = now_ms() + ms;
	long code;

	snprintf(req, sizeof(req), "GET / HTTP/1.1\r\nHost: %s\r\nUser-Agent: cx-reach\r\n"
	    "Connection: close\r\n\r\n", host);
	if (write(fd, req, strlen(req)) != (ssize_t)strlen(req))
		return -1;
	while (got < 12) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int64_t left = deadline - now_ms();
		ssize_t n;

		if (left <= 0 || poll(&p, 1, (int)left) <= 0)
			return -1;
		n = read(fd, resp + got, sizeof(resp) - 1 - got);
		if (n <= 0)
			return -1;
		got += (size_t)n;
	}
	resp[got] = '\0';
	if (strncmp(resp, "HTTP/1.", 7) != 0 || parse_long_n(resp + 9, 3, 100, 599, &code) == -1)
		return -1;
	return (int)code;
}

/* Runs the hops from the current network namespace; returns the exit status. */
static int
reach_hops(const struct reach *r)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)r->port) };
	char what[512], addr[INET_ADDRSTRLEN], res[512];
	int fd, e, code;

	/* name */
	if (str_has_prefix(r->expect, "127.")) {
		/* *.localhost is loopback by definition (curl and browsers agree) */
		inet_pton(AF_INET, r->expect, &sin.sin_addr);
	} else {
		struct addrinfo hints = { .ai_family = AF_INET, .ai_socktype = SOCK_STREAM };
		struct addrinfo *ai = NULL;

		e = getaddrinfo(r->domain, NULL, &hints, &ai);
		if (e != 0) {
			snprintf(what, sizeof(what), "%s", r->domain);
			snprintf(res, sizeof(res), "FAIL: %s", gai_strerror(e));
			hop("name", what, res);
			return 1;
		}
		sin.sin_addr = ((struct sockaddr_in *)ai->ai_addr)->sin_addr;
		freeaddrinfo(ai);
	}
	inet_ntop(AF_INET, &sin.sin_addr, addr, sizeof(addr));
	snprintf(what, sizeof(what), "%s -> %s", r->domain, addr);
	if (r->expect[0] != '\0' && strcmp(addr, r->expect) != 0) {
		snprintf(res, sizeof(res), "FAIL: the router listens on %s", r->expect);
		hop("name", what, res);
		return 1;
	}
	hop("name", what, "ok");

	/* route and allow: one connection attempt tells both */
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		hop("route", addr, "FAIL: cannot make a socket");
		return 1;
	}
	e = connect_within(fd, &sin, REACH_CONNECT_MS);
	snprintf(what, sizeof(what), "%s -> %s", r->from, addr);
	if (e == ENETUNREACH || e == EHOSTUNREACH || e == EACCES || e == EPERM) {
		snprintf(res, sizeof(res), "FAIL: no route (%s)%s%s", strerror(e),
		    r->hint[0] ? "; " : "", r->hint);
		hop("route", what, res);
		close(fd);
		return 1;
	}
	hop("route", what, "ok");
	snprintf(what, sizeof(what), "%s:%d accepts %s", addr, r->port, r->from);
	if (e == ETIMEDOUT) {
		snprintf(res, sizeof(res), "FAIL: dropped without an answer (an allow rule)%s%s",
		    r->hint[0] ? "; " : "", r->hint);
		hop("allow", what, res);
		close(fd);
		return 1;
	}
	if (e != 0) {
		snprintf(res, sizeof(res), "FAIL: %s%s", strerror(e), e == ECONNREFUSED ?
		    " (no router listens there)" : "");
		hop("allow", what, res);
		close(fd);
		return 1;
	}
	hop("allow", what, "ok");

	/* http */
	code = http_status(fd, r->domain, REACH_HTTP_MS);
	close(fd);
	if (r->port == 80)
		snprintf(what, sizeof(what), "GET http://%s/", r->domain);
	else
		snprintf(what, sizeof(what), "GET http://%s:%d/", r->domain, r->port);
	if (code < 0) {
		hop("http", what, "FAIL: no HTTP answer (the connection was closed or timed out)");
		return 1;
	}
	if (code >= 500) {
		snprintf(res, sizeof(res), "FAIL: %d (%s)", code, code == 503 ?
		    "no healthy process" : "the router or the app failed");
		hop("http", what, res);
		return 1;
	}
	snprintf(what + strlen(what), sizeof(what) - strlen(what), " -> %d", code);
	hop("http", what, "ok");
	return 0;
}

static bool
peered(const char *home, const char *a, const char *b)
{
	char (*pairs)[2][32] = NULL;
	size_t n = 0;
	bool yes = false;

	if (lab_peers(home, a, &pairs, &n) == 0)
		for (size_t i = 0; i < n; i++)
			yes |= strcmp(pairs[i][0], b) == 0 || strcmp(pairs[i][1], b) == 0;
	free(pairs);
	return yes;
}

int
cmd_services_reach(struct cli *c)
{
	struct reach r = { .service = c->argv[0] };
	struct lab_rack_info target, src;
	char proc_id[LAB_PROC_ID_MAX] = "", addr[64], err[1024];
	const char *router, *ports;
	jv *svcs = NULL, *svc = NULL;
	bool vpc, internet;
	char *path;
	long port;
	pid_t pid;
	int rc;

	if (cli_select_app(c) == -1 || cli_select_rack(c) == -1)
		return 1;
	path = api_path("/apps/%s/services", c->app);
	rc = api_call(c, "GET", path, NULL, &svcs);
	free(path);
	if (rc == -1)
		return 1;
	api_close(c);
	for (size_t i = 0; i < jv_len(svcs); i++)
		if (strcmp(jv_str(jv_at(svcs, i), "name"), r.service) == 0)
			svc = jv_at(svcs, i);
	if (svc == NULL) {
		jv_free(svcs);
		return out_error("no such service: %s (cx services -a %s lists them)", r.service,
		    c->app);
	}
	router = jv_str(svc, "router");
	ports = jv_str(svc, "ports");
	str_copy(r.domain, sizeof(r.domain), jv_str(svc, "domain"));
	if (strcmp(router, "none") == 0 || r.domain[0] == '\0' || strchr(ports, ':') == NULL ||
	    parse_long_n(ports, strcspn(ports, ":"), 1, 65535, &port) == -1) {
		jv_free(svcs);
		return out_error("service %s has no route: no router serves it (a worker, or "
		    "internal: true)", r.service);
	}
	r.port = (int)port;
	internet = false;

	vpc = lab_rack_get(c->home, c->rack, &target) == 0;
	if (!vpc) {
		if (c->opt[OPT_FROM] != NULL)
			rc = out_error("rack %s has no VPC: its services are reached from this host "
			    "(leave out --from)", c->rack);
		else {
			r.from = "this host";
			str_copy(r.expect, sizeof(r.expect), "127.0.0.1");
			rc = reach_hops(&r);
		}
		jv_free(svcs);
		return rc;
	}

	/* VPC rack: from the internet (default) or from inside a rack's VPC */
	r.from = c->opt[OPT_FROM] ? c->opt[OPT_FROM] : "internet";
	internet = strcmp(r.from, "internet") == 0;
	str_copy(r.expect, sizeof(r.expect), strcmp(router, "internal") == 0 ?
	    target.private_addr : target.public_addr);
	if (!internet && (!valid_name(r.from) || lab_rack_get(c->home, r.from, &src) == -1)) {
		jv_free(svcs);
		return out_error("no such place: %s (use internet or a VPC rack's name; cx net lists "
		    "them)", r.from);
	}
	if (strcmp(router, "internal") == 0) {
		if (internet)
			snprintf(r.hint, sizeof(r.hint), "the internal router is private: only %s's "
			    "VPC and its peers reach it", c->rack);
		else if (strcmp(r.from, c->rack) != 0 && !peered(c->home, r.from, c->rack))
			snprintf(r.hint, sizeof(r.hint), "%s is not peered with %s (cx rack peer %s %s)",
			    r.from, c->rack, r.from, c->rack);
	}
	jv_free(svcs);
	if (lab_check_privilege(err, sizeof(err)) == -1)
		return out_error("%s", err);
	if (!internet) {
		snprintf(proc_id, sizeof(proc_id), "reach-%d", (int)getpid());
		if (lab_proc_create(c->home, r.from, proc_id, addr, sizeof(addr), err,
		    sizeof(err)) == -1)
			return out_error("%s", err);
	}
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid == -1) {
		rc = out_error("fork: %s", strerror(errno));
	} else if (pid == 0) {
		cli_child_defaults();
		if ((internet ? lab_enter_internet(c->home, err, sizeof(err)) :
		    lab_enter_proc(c->home, r.from, proc_id, err, sizeof(err))) == -1) {
			fprintf(stderr, "ERROR: %s\n", err);
			_exit(1);
		}
		_exit(reach_hops(&r));
	} else {
		rc = cli_relay_status(pid);
	}
	if (!internet)
		lab_proc_destroy(c->home, r.from, proc_id);
	return rc;
}
