/*
 * routers.c — see routers.h.
 *
 * A snapshot lists, for each routed service, its host names and the address
 * of every process of the app's active release that passed its health check.
 * It is written to a temp file and renamed into place, then the router gets
 * SIGHUP. Routers outlive a daemon restart: a new daemon adopts them by the
 * pid in their pidfile.
 */
#include "rackd/routers.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "lab/lab.h"
#include "rackd/acme.h"
#include "rackd/certs.h"
#include "rackd/manifest.h"
#include "rackd/peers.h"
#include "rackd/rack.h"
#include "rackd/supervisor.h"

static void
router_exited(struct ev_loop *loop, int fd, uint32_t events, void *arg)
{
	struct router_proc *rp = arg;

	(void)events;
	ev_del(loop, fd);
	close(fd);
	rp->pidfd = -1;
	waitpid(rp->pid, NULL, WNOHANG);
	if (rp->wanted)
		log_warnx("router %s (pid %d) exited; restarting it", rp->name, (int)rp->pid);
	rp->pid = 0;
	rp->next_start = now_ms() + 500;
	rp->rack->routes_retry = true;  /* the tick brings it back after the back-off */
}

int
routers_watch(struct rack *r, struct router_proc *rp)
{
	rp->pidfd = (int)syscall(SYS_pidfd_open, rp->pid, 0);
	if (rp->pidfd == -1)
		return -1;
	set_cloexec(rp->pidfd);
	if (ev_add(r->loop, rp->pidfd, EV_READ, router_exited, rp) == -1) {
		close(rp->pidfd);
		rp->pidfd = -1;
		return -1;
	}
	return 0;
}

/* Appends the allow list of the internal router: own CIDR, peers, whitelist.
 * -1 once b is full. */
static int
internal_allow(struct rack *r, struct buf *b)
{
	char wl[1024], *save = NULL;

	if (r->vpc) {
		if (buf_addf(b, "allow %s\n", r->cidr) == -1 || rack_peer_cidrs(r, b) == -1)
			return -1;
	} else if (buf_adds(b, "allow 127.0.0.1/32\n") == -1 ||
	    (r->netns && buf_addf(b, "allow %s\n", r->cidr) == -1)) {
		/* A loopback rack's "VPC" is this host's own address, and its
		 * processes' bridge when they have namespaces of their own (they
		 * come in by the bridge's .2, routers_gateway_sync). */
		return -1;
	}
	if (r->host) {
		char priv[16];
		unsigned o[4];

		/* The host's private network: private_address's own /24 (wider
		 * ones go in internal_router_whitelist). */
		rack_param(r, "private_address", priv, sizeof(priv));
		if (sscanf(priv, "%u.%u.%u.%u", &o[0], &o[1], &o[2], &o[3]) == 4 &&
		    buf_addf(b, "allow %u.%u.%u.0/24\n", o[0], o[1], o[2]) == -1)
			return -1;
	}
	rack_param(r, "internal_router_whitelist", wl, sizeof(wl));
	for (char *t = strtok_r(wl, ",", &save); t != NULL; t = strtok_r(NULL, ",", &save)) {
		while (*t == ' ')
			t++;
		if (*t != '\0' && buf_addf(b, "allow %s\n", t) == -1)
			return -1;
	}
	return 0;
}

/* One host line and the processes behind it; -1 once b is full. Flags:
 * redirect when the router's plain listener sends the service's clients to
 * https (host racks, unless tls.redirect is false), tls-upstream when the
 * process itself speaks TLS (port: https:N), grpc when it speaks gRPC
 * (port: grpc:N): HTTP/2 to it, end to end. */
static int
add_host(struct app *a, const struct mf_service *s, const char *host, bool redirect,
    struct buf *b)
{
	const char *flags[3];
	size_t n = 0;

	if (redirect && s->tls_redirect)
		flags[n++] = "redirect";
	if (strcmp(s->port_scheme, "https") == 0)
		flags[n++] = "tls-upstream";
	if (strcmp(s->port_scheme, "grpc") == 0)
		flags[n++] = "grpc";
	if (buf_addf(b, "host %s %s %s %d %s%s%s%s%s%s%s\n", host, a->name, s->name, s->timeout,
	    s->health_path, n > 0 ? " " : "", n > 0 ? flags[0] : "", n > 1 ? "," : "",
	    n > 1 ? flags[1] : "", n > 2 ? "," : "", n > 2 ? flags[2] : "") == -1)
		return -1;
	for (struct proc *p = a->procs; p != NULL; p = p->next) {
		if (!proc_serves(a, p) || strcmp(p->st.service, s->name) != 0)
			continue;
		if (buf_addf(b, "up %s %s %d\n", p->st.id, p->st.address, p->st.port) == -1)
			return -1;
	}
	return 0;
}

/* The host lines of the public or the internal router's services; redirect:
 * the router's plain listener redirects to https (see add_host). -1 once b
 * is full, with err naming where. */
static int
service_hosts(struct rack *r, bool internal, bool redirect, struct buf *b, char *err,
    size_t errlen)
{
	const char *which = internal ? "internal" : "public";

	/* A Kubernetes rack's services are routed by its cluster's Ingresses. */
	for (struct app *a = r->apps; a != NULL && !r->kube; a = a->next) {
		if (a->manifest == NULL || a->deleting)
			continue;
		for (size_t i = 0; i < a->manifest->nservices; i++) {
			const struct mf_service *s = &a->manifest->services[i];
			char host[512];
			int rc;

			if (s->port == 0 || s->internal || s->internal_router != internal)
				continue;
			rack_service_host(r, a->name, s->name, internal, host, sizeof(host));
			rc = add_host(a, s, host, redirect, b);
			for (size_t d = 0; !internal && rc == 0 && d < s->ndomains; d++)
				rc = add_host(a, s, s->domains[d], redirect, b);
			if (rc == -1) {
				snprintf(err, errlen, "the %s router's table passes %d bytes at service %s"
				    " of app %s", which, ROUTERS_SNAPSHOT_MAX, s->name, a->name);
				return -1;
			}
		}
	}
	return 0;
}

int
routers_snapshot(struct rack *r, bool internal, char **out, char *err, size_t errlen)
{
	const char *which = internal ? "internal" : "public";
	struct buf b;

	*out = NULL;
	buf_init(&b, ROUTERS_SNAPSHOT_MAX);
	if (buf_adds(&b, "cx-routes 1\n") == -1 || (internal && internal_allow(r, &b) == -1) ||
	    (!internal && acme_challenge_lines(r, &b) == -1)) {
		snprintf(err, errlen, "the %s router's table passes %d bytes in its allow list",
		    which, ROUTERS_SNAPSHOT_MAX);
		buf_free(&b);
		return -1;
	}
	/* Host racks serve https on :443 of both routers; their :80 sends
	 * clients there. Loopback and lab racks stay plain http. */
	if (service_hosts(r, internal, r->host, &b, err, errlen) == -1) {
		buf_free(&b);
		return -1;
	}
	*out = buf_cstr(&b);
	return 0;
}

int
routers_peer_snapshot(struct rack *r, char **out, char *err, size_t errlen)
{
	struct buf b;

	*out = NULL;
	buf_init(&b, ROUTERS_SNAPSHOT_MAX);
	/* No allow lines: peers are admitted by their certificates, from
	 * wherever they are, and the egress listener is on the rack's private
	 * side. Internal services are served to peers only while the rack
	 * serves them at all (internal_router). */
	if (buf_adds(&b, "cx-routes 1\n") == -1 || peers_snapshot_lines(r, &b) == -1 ||
	    (rack_param_bool(r, "internal_router") &&
	    service_hosts(r, true, false, &b, err, errlen) == -1)) {
		if (b.len >= ROUTERS_SNAPSHOT_MAX - 1)
			snprintf(err, errlen, "the peer router's table passes %d bytes",
			    ROUTERS_SNAPSHOT_MAX);
		buf_free(&b);
		return -1;
	}
	*out = buf_cstr(&b);
	return 0;
}

/* Says once (not every tick) why rp keeps its last table; why NULL: it is current. */
static void
snapshot_state(struct rack *r, struct router_proc *rp, const char *why)
{
	if (why == NULL) {
		if (rp->snapshot_error[0] != '\0')
			log_info("rack %s: router %s has its current table again", r->name, rp->name);
		rp->snapshot_error[0] = '\0';
		return;
	}
	if (strcmp(rp->snapshot_error, why) != 0)
		log_warnx("rack %s: %s; router %s keeps its last table", r->name, why, rp->name);
	str_copy(rp->snapshot_error, sizeof(rp->snapshot_error), why);
}

/* The hosts of a snapshot, "NAME APP SERVICE" one per line, malloc'd. */
static char *
snapshot_hosts(const char *snap)
{
	struct buf b;

	buf_init(&b, 0);
	for (const char *l = snap; *l != '\0'; ) {
		const char *end = strchr(l, '\n');
		size_t n = end != NULL ? (size_t)(end - l) : strlen(l);

		if (n > 5 && strncmp(l, "host ", 5) == 0) {
			const char *p = l + 5;
			int fields = 0;

			/* NAME APP SERVICE: up to the third space after "host ". */
			while (p < l + n && !(*p == ' ' && ++fields == 3))
				p++;
			buf_add(&b, l + 5, (size_t)(p - l - 5));
			buf_add(&b, "\n", 1);
		}
		l += n + (end != NULL);
	}
	return buf_cstr(&b);
}

/* Gives the hosts of snap their certificates (before the router reads the
 * snapshot that names them) when they are not those synced last (or
 * rp->cert_hosts was dropped: a certificate or binding changed). Both TLS
 * routers serve from one directory, which certs_sync prunes of every host
 * it is not given: it is given the other router's hosts too, and the other
 * router is told (SIGHUP) when files changed. True when files changed, so
 * that rp must reload even if its table did not. A failure is said once and
 * tried again at the next sync. */
static bool
sync_certs(struct rack *r, struct router_proc *rp, const char *snap)
{
	char *own = snapshot_hosts(snap), *hosts = xstrdup(own), *save = NULL, why[512];
	struct certs_host *hs = NULL;
	size_t n = 0;
	bool changed = false;
	int rc;

	for (int i = ROUTER_PUBLIC; i <= ROUTER_INTERNAL; i++) {
		const struct router_proc *o = &r->routers[i];

		if (o != rp && o->wanted && o->listen_tls[0] != '\0' && o->snapshot != NULL) {
			char *more = snapshot_hosts(o->snapshot), *both = xasprintf("%s%s", hosts, more);

			free(hosts);
			free(more);
			hosts = both;
		}
	}
	if (rp->cert_hosts != NULL && rp->cert_synced != NULL &&
	    strcmp(rp->cert_synced, hosts) == 0) {
		free(own);
		free(hosts);
		return false;
	}
	{
		char *copy = xstrdup(hosts);

		for (char *t = strtok_r(copy, "\n", &save); t != NULL; t = strtok_r(NULL, "\n", &save)) {
			char *app = strchr(t, ' '), *svc = app != NULL ? strchr(app + 1, ' ') : NULL;

			if (svc == NULL)
				continue;
			*app++ = '\0';
			*svc++ = '\0';
			hs = xrealloc(hs, (n + 1) * sizeof(*hs));
			hs[n++] = (struct certs_host){ .name = t, .app = app, .service = svc };
		}
		rc = certs_sync(r->store, r->dir, hs, n, &changed, why, sizeof(why));
		free(hs);
		free(copy);
	}
	for (int i = ROUTER_PUBLIC; changed && i <= ROUTER_INTERNAL; i++) {
		const struct router_proc *o = &r->routers[i];

		if (o != rp && o->listen_tls[0] != '\0' && o->pid > 0)
			kill(o->pid, SIGHUP);
	}
	if (rc == -1) {
		if (strcmp(rp->certs_error, why) != 0)
			log_warnx("rack %s: router %s: %s; TLS handshakes for it are refused until it "
			    "works", r->name, rp->name, why);
		str_copy(rp->certs_error, sizeof(rp->certs_error), why);
		free(own);
		free(hosts);
		return changed;
	}
	rp->certs_error[0] = '\0';
	free(rp->cert_hosts);
	rp->cert_hosts = own;
	free(rp->cert_synced);
	rp->cert_synced = hosts;
	return changed;
}

static void
push_snapshot(struct rack *r, struct router_proc *rp, int which)
{
	char *snap, why[512];
	bool certs_changed = false;
	int rc = which == ROUTER_PEER ? routers_peer_snapshot(r, &snap, why, sizeof(why)) :
	    routers_snapshot(r, which == ROUTER_INTERNAL, &snap, why, sizeof(why));

	if (rc == -1) {
		snapshot_state(r, rp, why);
		return;
	}
	if (rp->listen_tls[0] != '\0')
		certs_changed = sync_certs(r, rp, snap);
	if (rp->snapshot != NULL && strcmp(rp->snapshot, snap) == 0) {
		free(snap);
		snapshot_state(r, rp, NULL);
		if (certs_changed && rp->pid > 0)
			kill(rp->pid, SIGHUP);
		return;
	}
	if (write_file_atomic(rp->routes_path, snap, strlen(snap), 0600) == -1) {
		snprintf(why, sizeof(why), "cannot write %s: %s", rp->routes_path, strerror(errno));
		snapshot_state(r, rp, why);
		free(snap);
		return;
	}
	snapshot_state(r, rp, NULL);
	free(rp->snapshot);
	rp->snapshot = snap;
	if (rp->pid > 0)
		kill(rp->pid, SIGHUP);
}

/* The peer router: its mTLS listener where peers reach the rack, its
 * egress listener on the rack's private side. */
static void
peer_listen_addr(struct rack *r, struct router_proc *rp)
{
	char port[16];

	rp->listen[0] = rp->listen_tls[0] = rp->listen_egress[0] = '\0';
	peers_endpoint(r, rp->listen_peer, sizeof(rp->listen_peer));
	if (r->host) {
		snprintf(rp->listen_egress, sizeof(rp->listen_egress), "%s:80", r->egress_addr);
		return;
	}
	if (r->vpc)
		return;     /* lab racks peer by routing: no egress listener */
	rack_param(r, "egress_port", port, sizeof(port));
	if (port[0] != '\0')
		snprintf(rp->listen_egress, sizeof(rp->listen_egress), "127.0.0.1:%s", port);
}

static void
listen_addr(struct rack *r, struct router_proc *rp, int which)
{
	char port[16];
	bool internal = which == ROUTER_INTERNAL;

	if (which == ROUTER_PEER) {
		peer_listen_addr(r, rp);
		return;
	}
	rp->listen_tls[0] = '\0';
	if (r->host) {
		/* Both routers speak TLS on :443 of their address. */
		const char *addr = internal ? r->private_addr : r->public_addr;

		snprintf(rp->listen, sizeof(rp->listen), "%s:80", addr);
		snprintf(rp->listen_tls, sizeof(rp->listen_tls), "%s:443", addr);
		return;
	}
	if (r->vpc) {
		snprintf(rp->listen, sizeof(rp->listen), "%s:80",
		    internal ? r->private_addr : r->public_addr);
		return;
	}
	rack_param(r, internal ? "router_internal_port" : "router_port", port, sizeof(port));
	snprintf(rp->listen, sizeof(rp->listen), "127.0.0.1:%s", port);
	rack_param(r, internal ? "router_internal_tls_port" : "router_tls_port", port,
	    sizeof(port));
	if (port[0] != '\0')
		snprintf(rp->listen_tls, sizeof(rp->listen_tls), "127.0.0.1:%s", port);
}

static void stop_router(struct rack *r, struct router_proc *rp);

/* Int param name as given ("" unset: the router's default), one that is
 * not from min to max read as unset. */
static void
router_int_param(struct rack *r, const char *name, long min, long max, char *out,
    size_t outlen)
{
	long n;

	rack_param(r, name, out, outlen);
	if (out[0] != '\0' && parse_long(out, min, max, &n) == -1) {
		log_warnx("rack %s: %s \"%s\" is not a number from %ld to %ld; the routers keep "
		    "their default", r->name, name, out, min, max);
		out[0] = '\0';
	}
}

/* router_workers unset: one per online core (each has its own SO_REUSEPORT
 * listener), at most 64. */
static long
workers_default(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n < 1 ? 1 : n > 64 ? 64 : n;
}

/* The router command-line flags that params give: flag, param, range, and
 * the value when the param is unset (NULL: no flag, the router's default). */
static const struct {
	const char *flag, *param;
	long min, max;
	long (*unset)(void);
} param_flags[] = {
	{ "--max-conns", "router_max_conns", 1, 1000000, NULL },
	{ "--workers", "router_workers", 1, 64, workers_default },
};

/* The value of param_flags[i]'s flag for r's routers, "" for none. */
static void
router_flag(struct rack *r, size_t i, char *out, size_t outlen)
{
	router_int_param(r, param_flags[i].param, param_flags[i].min, param_flags[i].max, out,
	    outlen);
	if (out[0] == '\0' && param_flags[i].unset != NULL)
		snprintf(out, outlen, "%ld", param_flags[i].unset());
}

void
routers_argv(struct rack *r, struct router_proc *rp, char **argv, size_t max)
{
	static char cert[4200], key[4200], log_mb[16], flags[CX_ARRAY_LEN(param_flags)][16];
	size_t n = 0;

#define ARG(s) do { if (n + 1 < max) argv[n++] = (char *)(s); } while (0)
	ARG("cx-router");
	ARG("--name");
	ARG(rp->name);
	ARG("--rack");
	ARG(r->name);
	if (rp->listen[0] != '\0') {
		ARG("--listen");
		ARG(rp->listen);
	}
	if (rp->listen_tls[0] != '\0') {
		ARG("--listen-tls");
		ARG(rp->listen_tls);
		ARG("--certs");
		ARG(rp->certs_dir);
	}
	if (rp->listen_peer[0] != '\0') {
		snprintf(cert, sizeof(cert), "%s/peer.pem", r->dir);
		snprintf(key, sizeof(key), "%s/peer.key", r->dir);
		ARG("--listen-peer");
		ARG(rp->listen_peer);
		ARG("--peer-cert");
		ARG(cert);
		ARG("--peer-key");
		ARG(key);
	}
	if (rp->listen_egress[0] != '\0') {
		ARG("--listen-egress");
		ARG(rp->listen_egress);
	}
	ARG("--routes");
	ARG(rp->routes_path);
	ARG("--pidfile");
	ARG(rp->pidfile);
	rack_param(r, "log_max_mb", log_mb, sizeof(log_mb));
	ARG("--log-max-mb");
	ARG(log_mb);
	for (size_t i = 0; i < CX_ARRAY_LEN(param_flags); i++) {
		router_flag(r, i, flags[i], sizeof(flags[i]));
		if (flags[i][0] != '\0') {
			ARG(param_flags[i].flag);
			ARG(flags[i]);
		}
	}
#undef ARG
	argv[n] = NULL;
}

/* Whether the router pid was started with rp's listen addresses (one left
 * by an older daemon may lack the TLS listener) and the flags of params
 * router_max_conns and router_workers. */
static bool
listens_as_wanted(struct rack *r, const struct router_proc *rp, long pid)
{
	char path[64], want[192], val[16];
	size_t len = 0;
	char *cmd;
	bool ok;

	snprintf(path, sizeof(path), "/proc/%ld/cmdline", pid);
	if ((cmd = read_file(path, 16384, &len)) == NULL)
		return true;	/* cannot tell: keep it */
	if (rp->listen_peer[0] != '\0') {
		int n = snprintf(want, sizeof(want), "--listen-peer%c%s%c", 0, rp->listen_peer, 0);
		int m = snprintf(want + n, sizeof(want) - (size_t)n, "--listen-egress%c%s%c", 0,
		    rp->listen_egress, 0);

		ok = memmem(cmd, len, want, (size_t)n) != NULL &&
		    memmem(cmd, len, want + n, (size_t)m) != NULL;
	} else if (rp->listen_tls[0] != '\0') {
		int n = snprintf(want, sizeof(want), "--listen-tls%c%s%c", 0, rp->listen_tls, 0);

		ok = memmem(cmd, len, want, (size_t)n) != NULL;
	} else {
		ok = memmem(cmd, len, "--listen-tls", 13) == NULL;
	}
	for (size_t i = 0; i < CX_ARRAY_LEN(param_flags); i++) {
		router_flag(r, i, val, sizeof(val));
		if (val[0] != '\0') {
			int n = snprintf(want, sizeof(want), "%s%c%s%c", param_flags[i].flag, 0, val, 0);

			ok = ok && memmem(cmd, len, want, (size_t)n) != NULL;
		} else {
			ok = ok && memmem(cmd, len, param_flags[i].flag,
			    strlen(param_flags[i].flag) + 1) == NULL;
		}
	}
	free(cmd);
	return ok;
}

static void
adopt(struct rack *r, struct router_proc *rp)
{
	char *data = read_file(rp->pidfile, 64, NULL);
	long pid;

	if (data == NULL)
		return;
	data[strcspn(data, "\n")] = '\0';
	if (parse_long(data, 1, 1 << 22, &pid) == 0 && pid_alive((pid_t)pid)) {
		char comm[64], *c;

		snprintf(comm, sizeof(comm), "/proc/%ld/comm", pid);
		c = read_file(comm, 64, NULL);
		if (c != NULL && str_has_prefix(c, "cx-router")) {
			rp->pid = (pid_t)pid;
			if (routers_watch(r, rp) == -1)
				rp->pid = 0;
			else
				log_info("adopted router %s (pid %ld)", rp->name, pid);
			if (rp->pid > 0 && !listens_as_wanted(r, rp, pid)) {
				log_info("router %s does not listen on %s%s (or with the connection cap) "
				    "as wanted; restarting it", rp->name, rp->listen,
				    rp->listen_tls[0] ? " and TLS" : "");
				stop_router(r, rp);
			}
		}
		free(c);
	}
	free(data);
}

void
routers_gateway_sync(struct rack *r, bool remove)
{
	static const char *const keys[] = { "egress_port", "router_internal_port",
		"router_internal_tls_port" };
	struct lab_gateway_ports ports = { 0, 0, 0 };
	int *slot[] = { &ports.egress, &ports.internal, &ports.internal_tls };
	char err[512];

	if (!r->netns || r->vpc)
		return;     /* not a loopback rack run as root */
	for (size_t i = 0; i < CX_ARRAY_LEN(keys); i++) {
		char v[16];
		long port;

		rack_param(r, keys[i], v, sizeof(v));
		if (parse_long(v, 1, 65535, &port) == 0)
			*slot[i] = (int)port;
	}
	if (lab_loopback_gateway(r->home, r->name, remove ? NULL : &ports, err, sizeof(err)) == -1)
		log_warnx("rack %s: %s; its processes %s", r->name, err,
		    remove ? "keep their way to 127.0.0.1 ports" : "may not reach its routers");
}

void
routers_init(struct rack *r)
{
	static const char *names[ROUTERS_N] = { "public", "internal", "peer" };

	for (int i = 0; i < ROUTERS_N; i++) {
		struct router_proc *rp = &r->routers[i];

		rp->rack = r;
		rp->name = names[i];
		rp->pidfd = -1;
		snprintf(rp->routes_path, sizeof(rp->routes_path), "%s/routes.%s", r->dir, names[i]);
		snprintf(rp->pidfile, sizeof(rp->pidfile), "%s/router-%s.pid", r->dir, names[i]);
		snprintf(rp->certs_dir, sizeof(rp->certs_dir), "%s/certs", r->dir);
		listen_addr(r, rp, i);
		rp->snapshot = read_file(rp->routes_path, 1 << 20, NULL);
		adopt(r, rp);
	}
	routers_gateway_sync(r, false);
	routers_sync(r);
}

static void
stop_router(struct rack *r, struct router_proc *rp)
{
	int status;

	(void)r;
	if (rp->pid <= 0)
		return;
	if (rp->pidfd != -1) {
		ev_del(r->loop, rp->pidfd);
		close(rp->pidfd);
		rp->pidfd = -1;
	}
	kill(rp->pid, SIGTERM);
	for (int i = 0; i < 100 && pid_alive(rp->pid); i++) {
		if (waitpid(rp->pid, &status, WNOHANG) == rp->pid)
			break;
		usleep(20000);
	}
	if (pid_alive(rp->pid)) {
		kill(rp->pid, SIGKILL);
		waitpid(rp->pid, &status, 0);
	}
	rp->pid = 0;
	unlink(rp->pidfile);
}

/* Starts rp and watches it; -1 if it did not start or could not be watched. */
static int
start_router(struct rack *r, struct router_proc *rp)
{
	if (sup_spawn_router(r, rp) == -1)
		return -1;
	if (routers_watch(r, rp) == -1) {
		/* Unwatched, it could never be restarted or reaped: stop it now. */
		log_warn("router %s: cannot watch pid %d; stopping it", rp->name, (int)rp->pid);
		kill(rp->pid, SIGKILL);
		waitpid(rp->pid, NULL, 0);
		rp->pid = 0;
		return -1;
	}
	return 0;
}

void
routers_sync(struct rack *r)
{
	bool settled = true;
	int64_t retry_at = 0;

	for (int i = 0; i < ROUTERS_N; i++) {
		struct router_proc *rp = &r->routers[i];
		bool want = i == ROUTER_PUBLIC ||
		    (i == ROUTER_INTERNAL && rack_param_bool(r, "internal_router")) ||
		    (i == ROUTER_PEER && peers_any(r));

		/* A Kubernetes rack's routers are pods on its cluster. */
		if (r->exiting || r->kube)
			want = false;
		rp->wanted = want;
		if (!want) {
			if (rp->pid > 0) {
				stop_router(r, rp);
				log_info("stopped router %s", rp->name);
			}
			continue;
		}
		listen_addr(r, rp, i);
		if (i == ROUTER_PEER && rp->listen_egress[0] == '\0') {
			rp->wanted = false;
			continue;
		}
		push_snapshot(r, rp, i);
		if (rp->pid <= 0 && now_ms() >= rp->next_start) {
			if (start_router(r, rp) == -1) {
				log_warnx("router %s: cannot start; retrying", rp->name);
				rp->next_start = now_ms() + 1000;
			} else {
				log_info("started router %s on %s (pid %d)", rp->name,
				    rp->listen[0] != '\0' ? rp->listen : rp->listen_peer, (int)rp->pid);
			}
		}
		if (rp->pid <= 0 || rp->snapshot_error[0] != '\0' || rp->certs_error[0] != '\0')
			settled = false;
		/* A table or certificates that cannot be written (too large, disk
		 * full) are tried again every 2 s, not at every tick. */
		if (rp->snapshot_error[0] != '\0' || rp->certs_error[0] != '\0')
			retry_at = now_ms() + 2000;
	}
	r->routes_retry = !settled;
	r->routes_retry_at = retry_at;
}

void
routers_restart(struct rack *r, int which)
{
	stop_router(r, &r->routers[which]);
	r->routers[which].next_start = 0;
	routers_sync(r);
}

void
routers_certs_changed(struct rack *r)
{
	for (int i = ROUTER_PUBLIC; i <= ROUTER_INTERNAL; i++) {
		free(r->routers[i].cert_hosts);
		r->routers[i].cert_hosts = NULL;
	}
	rack_routes_changed(r);
}

void
routers_stop_all(struct rack *r)
{
	for (int i = 0; i < ROUTERS_N; i++) {
		stop_router(r, &r->routers[i]);
		free(r->routers[i].snapshot);
		r->routers[i].snapshot = NULL;
		free(r->routers[i].cert_hosts);
		r->routers[i].cert_hosts = NULL;
		free(r->routers[i].cert_synced);
		r->routers[i].cert_synced = NULL;
	}
}
