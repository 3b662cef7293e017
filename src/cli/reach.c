/*
 * reach.c — `cx services reach SERVICE -a APP [-r RACK] --from WHERE`: walks
 * the hops a request takes from WHERE (`internet`, a VPC rack's name,
 * `local` for loopback racks, or a rack peered over TLS) to the service, prints each with its verdict
 * and time, names the first hop that fails and why, and exits 0 only when a
 * request really got an answer from one of the service's processes.
 *
 *   service  what the rack says: domain, router, port
 *   name     the domain resolved from WHERE (the lab DNS, or *.localhost)
 *   route    whether WHERE's network has a route to that address
 *   allow    whether the router's allow list admits WHERE's addresses
 *   router   a TCP connection to the router, bounded to 1 s
 *   process  an HTTP request through the router, answered by a process
 *
 * route and allow are read from the lab's state; name, router and process
 * are real traffic from inside WHERE's network (a temporary address in a
 * rack's VPC, or the lab's internet). If the state and the traffic disagree,
 * the output says so rather than trusting either.
 *
 * From a rack peered over TLS (any two racks but lab VPC racks of this
 * machine, local or remote), the walk runs in that rack's daemon (POST
 * /system/reach, rackd/reach.h): name, egress, tls, router, process.
 */
#include "cli/reach.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/output.h"
#include "common/net.h"
#include "lab/lab.h"

#define CONNECT_MS 1000
#define ANSWER_MS 5000

struct target {
	char service[64];
	char domain[256];
	char router[16];          /* "public" or "internal" */
	int port;                 /* the router's port */
	char rack[64];            /* the CLI's name for it (HOST:PORT under RACK_URL) */
	char name[32];            /* its own, as GET /system says */
	bool vpc;
	struct lab_rack_info info;
};

static int failed;            /* hops that failed so far */
static char first_failure[512];

/* Prints one hop: name, verdict, time, what was seen; keeps the first failure. */
static void
show(const char *name, bool ok, double ms, const char *what)
{
	printf("%-8s %-4s %8.2f ms  %s\n", name, ok ? "ok" : "FAIL", ms, what);
	if (!ok && failed++ == 0)
		snprintf(first_failure, sizeof(first_failure), "%s: %s", name, what);
	fflush(stdout);
}

static void hop(const char *name, bool ok, const struct timespec *t0, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* show() with the time since t0. */
static void
hop(const char *name, bool ok, const struct timespec *t0, const char *fmt, ...)
{
	char what[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	show(name, ok, ms_since(t0), what);
}

static bool
peered(struct cli *c, const char *a, const char *b)
{
	char (*pairs)[2][32] = NULL;
	size_t n = 0;
	bool yes = false;

	if (lab_peers(c->home, a, &pairs, &n) == -1)
		return false;
	for (size_t i = 0; i < n; i++) {
		if ((strcmp(pairs[i][0], a) == 0 && strcmp(pairs[i][1], b) == 0) ||
		    (strcmp(pairs[i][0], b) == 0 && strcmp(pairs[i][1], a) == 0))
			yes = true;
	}
	free(pairs);
	return yes;
}

/* True if the network cidr lies inside one of the comma-separated CIDRs. */
static bool
in_list(const char *cidr, const char *list)
{
	char copy[512], *save = NULL;
	uint32_t net, lnet;
	int prefix, lprefix;

	if (cidr[0] == '\0' || parse_cidr(cidr, &net, &prefix) == -1)
		return false;
	str_copy(copy, sizeof(copy), list);
	for (char *t = strtok_r(copy, ",", &save); t != NULL; t = strtok_r(NULL, ",", &save)) {
		while (*t == ' ')
			t++;
		if (parse_cidr(t, &lnet, &lprefix) == 0 && lprefix <= prefix &&
		    cidr_contains(lnet, lprefix, net))
			return true;
	}
	return false;
}

/* The route and allow hops, from the lab's state. */
static void
predict(struct cli *c, const struct target *t, const char *where, const char *addr)
{
	struct lab_rack_info src;
	struct timespec t0;
	bool same = strcmp(where, t->rack) == 0, internet = strcmp(where, "internet") == 0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (!t->vpc) {
		hop("route", true, &t0, "loopback: %s is this host", addr);
		hop("allow", true, &t0, "loopback racks admit 127.0.0.1 (and internal_router_whitelist)");
		return;
	}
	if (strcmp(t->router, "public") == 0) {
		hop("route", true, &t0, "%s is %s's public address, on the internet", addr, t->rack);
		hop("allow", true, &t0, "the public router admits everybody");
		return;
	}
	memset(&src, 0, sizeof(src));
	if (!internet)
		lab_rack_get(c->home, where, &src);
	if (same)
		hop("route", true, &t0, "%s is inside %s's own VPC (%s)", addr, t->rack, t->info.cidr);
	else if (internet)
		hop("route", false, &t0, "the internet has no route to %s, a private address of %s",
		    addr, t->rack);
	else if (peered(c, where, t->rack))
		hop("route", true, &t0, "%s's VPC (%s) is peered with %s's (%s)", where, src.cidr,
		    t->rack, t->info.cidr);
	else
		hop("route", false, &t0, "%s's VPC (%s) is not peered with %s's (%s): cx rack peer %s %s",
		    where, src.cidr, t->rack, t->info.cidr, where, t->rack);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (same)
		hop("allow", true, &t0, "%s is %s's own CIDR", src.cidr, t->rack);
	else if (!internet && peered(c, where, t->rack))
		hop("allow", true, &t0, "%s is a peer CIDR of %s", src.cidr, t->rack);
	else if (!internet && in_list(src.cidr, t->info.whitelist))
		hop("allow", true, &t0, "%s is in %s's internal_router_whitelist", src.cidr, t->rack);
	else
		hop("allow", false, &t0, "%s is not in %s's allow list (its own %s, its peers, "
		    "internal_router_whitelist)", internet ? "the internet" : src.cidr, t->rack,
		    t->info.cidr);
}

/* Non-blocking connect bounded by CONNECT_MS: the fd, or -1 with *why. */
static int
connect_bounded(const struct sockaddr_in *sin, const char **why)
{
	struct pollfd p;
	int fd, err = 0;
	socklen_t len = sizeof(err);

	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		*why = strerror(errno);
		return -1;
	}
	if (connect(fd, (const struct sockaddr *)sin, sizeof(*sin)) == -1 && errno != EINPROGRESS) {
		*why = strerror(errno);
		close(fd);
		return -1;
	}
	p.fd = fd;
	p.events = POLLOUT;
	if (poll(&p, 1, CONNECT_MS) != 1) {
		*why = "no answer within 1 s: dropped by a security group";
		close(fd);
		return -1;
	}
	getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
	if (err != 0) {
		*why = strerror(err);
		close(fd);
		return -1;
	}
	return fd;
}

/* The process hop: a GET through the router; 0 when a process answered. */
static int
request(const struct target *t, int fd)
{
	struct timespec t0;
	char req[512], resp[4096], line[160] = "";
	char *body;
	int status = 0;
	bool from_router;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	snprintf(req, sizeof(req), "GET / HTTP/1.1\r\nHost: %s\r\nUser-Agent: cx-reach\r\n"
	    "Connection: close\r\n\r\n", t->domain);
	if (write(fd, req, strlen(req)) != (ssize_t)strlen(req)) {
		hop("process", false, &t0, "cannot send the request: %s", strerror(errno));
		return 1;
	}
	net_read_within(fd, resp, sizeof(resp), ANSWER_MS);
	if (sscanf(resp, "HTTP/1.%*d %d", &status) != 1) {
		hop("process", false, &t0, "no HTTP answer through the router");
		return 1;
	}
	body = strstr(resp, "\r\n\r\n");
	if (body != NULL)
		sscanf(body + 4, "%159[^\n]", line);
	/* The router marks the answers it makes itself (no route, no healthy process...). */
	*(body != NULL ? body : resp + strlen(resp)) = '\0';
	from_router = strcasestr(resp, "\r\nX-Cx-Router:") != NULL;
	if (from_router) {
		hop("process", false, &t0, "the %s router answered %d itself: %s", t->router, status,
		    line);
		return 1;
	}
	hop("process", true, &t0, "HTTP %d from a process of %s: %s", status, t->service, line);
	return 0;
}

/* Runs inside WHERE's network: name, route, allow, router, process. */
static int
walk(struct cli *c, const struct target *t, const char *where)
{
	struct addrinfo hints = { .ai_family = AF_INET, .ai_socktype = SOCK_STREAM }, *res = NULL;
	struct sockaddr_in sin;
	struct timespec t0;
	char addr[INET_ADDRSTRLEN] = "";
	const char *why;
	int fd, rc;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (!t->vpc) {
		/* *.localhost is loopback by definition (RFC 6761); curl and browsers agree. */
		str_copy(addr, sizeof(addr), "127.0.0.1");
		hop("name", true, &t0, "%s -> %s (*.localhost is loopback)", t->domain, addr);
	} else if ((rc = getaddrinfo(t->domain, NULL, &hints, &res)) != 0) {
		hop("name", false, &t0, "%s does not resolve from %s: %s", t->domain, where,
		    gai_strerror(rc));
		return 1;
	} else {
		inet_ntop(AF_INET, &((struct sockaddr_in *)res->ai_addr)->sin_addr, addr, sizeof(addr));
		freeaddrinfo(res);
		hop("name", true, &t0, "%s -> %s (lab DNS)", t->domain, addr);
	}
	predict(c, t, where, addr);

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)t->port);
	inet_pton(AF_INET, addr, &sin.sin_addr);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	fd = connect_bounded(&sin, &why);
	if (fd == -1) {
		hop("router", false, &t0, "%s:%d (the %s router): %s", addr, t->port, t->router, why);
		return 1;
	}
	hop("router", true, &t0, "connected to the %s router at %s:%d", t->router, addr, t->port);
	rc = request(t, fd);
	close(fd);
	return rc;
}

/* Fills t from the rack: the service's domain and router, the router's port. */
static int
describe(struct cli *c, struct target *t)
{
	struct timespec t0;
	jv *svcs = NULL, *sys = NULL, *params = NULL;
	char *path;
	int rc = -1;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	path = api_path("/apps/%s/services", c->app);
	if (api_call(c, "GET", path, NULL, &svcs) == -1 ||
	    api_call(c, "GET", "/system/params", NULL, &params) == -1 ||
	    api_call(c, "GET", "/system", NULL, &sys) == -1)
		goto out;
	for (size_t i = 0; i < jv_len(svcs); i++) {
		jv *s = jv_at(svcs, i);

		if (strcmp(jv_str(s, "name"), t->service) == 0) {
			str_copy(t->domain, sizeof(t->domain), jv_str(s, "domain"));
			str_copy(t->router, sizeof(t->router), jv_str(s, "router"));
		}
	}
	str_copy(t->name, sizeof(t->name), jv_str(sys, "name"));
	rc = 1;
	if (t->router[0] == '\0') {
		hop("service", false, &t0, "no service %s in app %s (cx services -a %s lists them)",
		    t->service, c->app, c->app);
		goto out;
	}
	if (strcmp(t->router, "none") == 0) {
		hop("service", false, &t0, "%s has no router (a worker, or internal: true)", t->service);
		goto out;
	}
	if (strcmp(t->router, "internal") == 0 && jv_str(sys, "router_internal")[0] == '\0') {
		hop("service", false, &t0, "%s is served by the internal router, which is off: cx rack "
		    "params set internal_router=true -r %s", t->service, t->rack);
		goto out;
	}
	t->port = 80;
	if (!t->vpc) {
		long v;

		if (parse_long(jv_str(jv_get(params, "params"), strcmp(t->router, "internal") == 0 ?
		    "router_internal_port" : "router_port"), 1, 65535, &v) == 0)
			t->port = (int)v;
	}
	hop("service", true, &t0, "%s of app %s on rack %s: %s via the %s router", t->service,
	    c->app, t->rack, t->domain, t->router);
	rc = 0;
out:
	free(path);
	jv_free(svcs);
	jv_free(sys);
	jv_free(params);
	return rc;
}

/* A lab VPC rack of this machine (peered by routing, walked from here). */
static bool
lab_vpc(struct cli *c, const char *rack)
{
	struct lab_rack_info info;

	return lab_rack_get(c->home, rack, &info) == 0 && !info.host;
}

/*
 * Across a TLS peering: B's API says what the service is, A's daemon walks
 * from A (POST /system/reach): name, egress, tls, router, process.
 */
static int
reach_across(struct cli *c, struct target *t, const char *from)
{
	jv *body, *res = NULL, *hops;
	int rc;

	if (cli_check_name("rack", from) == -1)
		return 1;
	printf("%-8s %-4s %11s  %s\n", "HOP", "", "TIME", "DETAIL");
	rc = describe(c, t);
	if (rc == -1)
		return 1;
	if (rc == 0 && strcmp(t->router, "internal") != 0) {
		struct timespec t0;

		clock_gettime(CLOCK_MONOTONIC, &t0);
		hop("peering", false, &t0, "%s is served by the %s router: across a peering only "
		    "internalRouter services are reached (try --from internet)", t->service, t->router);
		rc = 1;
	}
	if (rc == 1) {
		printf("not reached from %s: %s\n", from, first_failure);
		return 1;
	}
	api_close(c);
	/* A is asked now: by its name, never through $RACK_URL (that is B). */
	str_copy(c->rack, sizeof(c->rack), from);
	c->rack_url = false;
	if (cli_require_feature(c, "reach-peer", "reachability across a TLS peering") == -1)
		return 1;
	body = jv_object_new();
	jv_set_str(body, "rack", t->name[0] != '\0' ? t->name : t->rack);
	jv_set_str(body, "domain", t->domain);
	jv_set_str(body, "service", t->service);
	rc = api_call(c, "POST", "/system/reach", body, &res);
	jv_free(body);
	if (rc == -1)
		return 1;
	hops = jv_get(res, "hops");
	for (size_t i = 0; i < jv_len(hops); i++) {
		jv *h = jv_at(hops, i);

		show(jv_str(h, "hop"), jv_bool(h, "ok"), (double)jv_int(h, "us") / 1000.0,
		    jv_str(h, "detail"));
	}
	if (jv_bool(res, "reached") && failed == 0) {
		printf("reached: a process of %s on %s answered from %s\n", t->service, t->rack, from);
		rc = 0;
	} else {
		printf("not reached from %s: %s\n", from, failed > 0 ? first_failure :
		    "no process answered");
		rc = 1;
	}
	jv_free(res);
	return rc;
}

int
cmd_services_reach(struct cli *c)
{
	const char *where = c->opt[OPT_FROM];
	struct target t;
	char proc_id[LAB_PROC_ID_MAX] = "", addr[64], err[1024];
	struct lab_rack_info other;
	bool local, internet;
	pid_t pid;
	int rc;

	memset(&t, 0, sizeof(t));
	if (cli_select_app(c) == -1 || cli_select_rack(c) == -1)
		return 1;
	str_copy(t.service, sizeof(t.service), c->argv[0]);
	str_copy(t.rack, sizeof(t.rack), c->rack);
	t.vpc = lab_rack_get(c->home, c->rack, &t.info) == 0;
	if (where == NULL)
		where = t.vpc ? "internet" : "local";
	local = strcmp(where, "local") == 0;
	internet = strcmp(where, "internet") == 0;
	/* Any two racks but lab VPC racks of this machine peer over TLS. */
	if (!local && !internet && strcmp(where, c->rack) != 0 && lab_vpc(c, where) &&
	    !lab_vpc(c, c->rack))
		return out_error("rack %s is a lab VPC rack: such racks are not peered over TLS, so it "
		    "cannot walk to %s; use --from internet, or --from a rack peered with %s over TLS",
		    where, c->rack, c->rack);
	if (!local && !internet && strcmp(where, c->rack) != 0 &&
	    (!lab_vpc(c, where) || !lab_vpc(c, c->rack)))
		return reach_across(c, &t, where) == 0 ? 0 : 1;
	if (t.vpc && local)
		return out_error("rack %s is a VPC rack: use --from internet or --from a rack's name",
		    c->rack);
	if (!t.vpc && !local && strcmp(where, c->rack) != 0)
		return out_error("rack %s runs on loopback, with no network of its own: use --from local",
		    c->rack);
	if (t.vpc && !internet && lab_rack_get(c->home, where, &other) == -1)
		return out_error("no such place: %s (use internet or a VPC rack's name; cx net lists"
		    " them)", where);

	if (cli_require_feature(c, "reach", "reachability proof") == -1)
		return 1;
	printf("%-8s %-4s %11s  %s\n", "HOP", "", "TIME", "DETAIL");
	rc = describe(c, &t);
	if (rc == -1)
		return 1;
	if (rc == 1) {
		printf("not reached: %s\n", first_failure);
		return 1;
	}
	if (t.vpc) {
		if (lab_check_privilege(err, sizeof(err)) == -1)
			return out_error("%s", err);
		if (!internet) {
			snprintf(proc_id, sizeof(proc_id), "reach-%d", (int)getpid());
			if (lab_proc_create(c->home, where, proc_id, addr, sizeof(addr), err,
			    sizeof(err)) == -1)
				return out_error("%s", err);
		}
	}
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		int r = 0;

		cli_child_defaults();
		signal(SIGPIPE, SIG_IGN);   /* a reset router is a verdict, not a crash */
		if (t.vpc)
			r = internet ? lab_enter_internet(c->home, err, sizeof(err)) :
			    lab_enter_proc(c->home, where, proc_id, err, sizeof(err));
		if (r == -1) {
			fprintf(stderr, "ERROR: %s\n", err);
			_exit(2);
		}
		r = walk(c, &t, where);
		if (r != 0)
			printf("not reached from %s: %s\n", where, first_failure);
		else if (failed > 0)
			printf("reached from %s, although the lab's state predicted %s\n", where,
			    first_failure);
		else
			printf("reached: a process of %s answered from %s\n", t.service, where);
		fflush(stdout);
		_exit(r == 0 ? 0 : 1);
	}
	if (pid == -1) {
		rc = out_error("fork: %s", strerror(errno));
	} else {
		/* ^C or a TERM ends the walk, not us: the temporary address is ours to remove. */
		struct sigaction ign = { .sa_handler = SIG_IGN }, old_term, old_hup;

		sigaction(SIGTERM, &ign, &old_term);
		sigaction(SIGHUP, &ign, &old_hup);
		rc = cli_relay_status(pid);
		sigaction(SIGTERM, &old_term, NULL);
		sigaction(SIGHUP, &old_hup, NULL);
	}
	if (proc_id[0] != '\0')
		lab_proc_destroy(c->home, where, proc_id);
	return rc == 0 ? 0 : 1;
}
