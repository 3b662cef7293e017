/*
 * api_system.c — the rack itself: GET /system, params, uninstall, reconcile.
 */
#include <errno.h>
#include <stdint.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/net.h"
#include "common/version.h"
#include "lab/lab.h"
#include "rackd/acme.h"
#include "rackd/access.h"
#include "rackd/api.h"
#include "rackd/appexport.h"
#include "rackd/api_tls.h"
#include "rackd/sandbox.h"
#include "rackd/applog.h"
#include "rackd/build.h"
#include "rackd/discovery.h"
#include "rackd/params.h"
#include "rackd/peers.h"
#include "rackd/rack.h"
#include "rackd/cgroup.h"
#include "rackd/reconcile.h"
#include "rackd/resource.h"
#include "rackd/routers.h"

static void
router_display(struct rack *r, bool internal, char *out, size_t outlen)
{
	char domain[256], port[16];

	rack_param(r, internal ? "domain_internal" : "domain", domain, sizeof(domain));
	if (r->vpc) {
		snprintf(out, outlen, "%s", domain);
		return;
	}
	rack_param(r, internal ? "router_internal_port" : "router_port", port, sizeof(port));
	snprintf(out, outlen, "%s:%s", domain, port);
}

void
api_system_get(struct rack *r, struct api_req *q, struct api_resp *s)
{
	char router[300], internal[300] = "", warning[1024];
	jv *features = jv_array_new(), *warnings = jv_array_new(), *sys;

	(void)q;
	router_display(r, false, router, sizeof(router));
	if (rack_param_bool(r, "internal_router"))
		router_display(r, true, internal, sizeof(internal));
	for (const char *const *f = cx_features; *f != NULL; f++) {
		/* CX_RACKD_WITHOUT plays an older rack that lacks a feature (tests). */
		const char *without = getenv("CX_RACKD_WITHOUT");

		if (without == NULL || strcmp(without, *f) != 0)
			jv_push_str(features, *f);
	}
	/* What the rack cannot do right now, though it runs. */
	for (int i = 0; i < ROUTERS_N; i++) {
		if (r->routers[i].wanted && r->routers[i].snapshot_error[0] != '\0') {
			snprintf(warning, sizeof(warning), "router %s keeps its last table: %s",
			    r->routers[i].name, r->routers[i].snapshot_error);
			jv_push_str(warnings, warning);
		}
	}
	if (r->api_https_error[0] != '\0') {
		snprintf(warning, sizeof(warning), "no HTTPS API: %s", r->api_https_error);
		jv_push_str(warnings, warning);
	}
	if (acme_error(r)[0] != '\0')
		jv_push_str(warnings, acme_error(r));
	if (discovery_error()[0] != '\0') {
		snprintf(warning, sizeof(warning), "the lab DNS keeps its last records: %s",
		    discovery_error());
		jv_push_str(warnings, warning);
	}
	sys = jv_object_new();
	jv_set_str(sys, "name", r->name);
	{
		char kubeconfig[1024];

		rack_param(r, "kubeconfig", kubeconfig, sizeof(kubeconfig));
		jv_set_str(sys, "provider", kubeconfig[0] != '\0' ? "kubernetes" : "local");
	}
	jv_set_str(sys, "router", router);
	jv_set_str(sys, "router_internal", internal);
	jv_set_str(sys, "status", r->exiting ? "uninstalling" : "running");
	jv_set_str(sys, "version", CX_VERSION);
	jv_set_take(sys, "features", features);
	jv_set_str(sys, "vpc", r->vpc ? r->cidr : "");
	jv_set_str(sys, "kind", r->host ? "host" : r->vpc ? "vpc" : "loopback");
	/* What enforces scale.memory, scale.cpu and process_pids_max (cgroup.h). */
	jv_set_str(sys, "cgroups", cgroup_mode_name(&r->cg));
	if (r->cg.mode == CGROUP_NONE)
		jv_set_str(sys, "cgroups_why", r->cg.why);
	if (r->host) {
		char priv[16];

		rack_param(r, "private_address", priv, sizeof(priv));
		jv_set_str(sys, "public_address", r->public_addr);
		jv_set_str(sys, "private_address", priv);
		jv_set_str(sys, "gateway", r->gateway_addr);
	}
	jv_set_str(sys, "router_address", r->routers[0].listen);
	jv_set_str(sys, "router_tls_address", r->routers[0].listen_tls);
	jv_set_str(sys, "router_internal_address", internal[0] ? r->routers[1].listen : "");
	jv_set_str(sys, "api_address", r->api_https_listen);
	jv_set_take(sys, "warnings", warnings);
	s->json = sys;
}

void
api_params_get(struct rack *r, struct api_req *q, struct api_resp *s)
{
	jv *params = jv_object_new(), *set = jv_array_new();
	const struct param_def *defs;
	size_t n;

	(void)q;
	defs = params_table(&n);
	for (size_t i = 0; i < n; i++) {
		char v[1024];

		rack_param(r, defs[i].name, v, sizeof(v));
		jv_set_str(params, defs[i].name, v);
		/* "set": the ones the user set, apart from the defaults. */
		if (store_param_get(r->store, defs[i].name, v, sizeof(v)) == 0)
			jv_push_str(set, defs[i].name);
	}
	s->json = jv_object_new();
	jv_set_take(s->json, "params", params);
	jv_set_take(s->json, "set", set);
}

/* Waits (at most 3 s) until router rp, just started, listens: it writes
 * its pidfile once it does. True then, or when it is not wanted; false if
 * it did not start, exited first (its pidfd is readable) or never wrote it. */
static bool
router_came_up(struct router_proc *rp)
{
	if (!rp->wanted)
		return true;
	for (int i = 0; i < 150 && rp->pid > 0; i++) {
		char *pid = read_file(rp->pidfile, 32, NULL);
		struct pollfd pfd = { .fd = rp->pidfd, .events = POLLIN };
		long v;

		if (pid != NULL) {
			pid[strcspn(pid, "\n")] = '\0';
			if (parse_long(pid, 1, 1 << 22, &v) == 0 && v == rp->pid) {
				free(pid);
				return true;
			}
			free(pid);
		}
		if (rp->pidfd != -1 && poll(&pfd, 1, 0) == 1)
			return false;   /* exited: the loop reaps it (router_exited) */
		usleep(20000);
	}
	return false;
}

/* The routers' port params and the router that listens on each. */
static const struct {
	const char *key;
	int router;
} router_ports[] = {
	{ "router_port", ROUTER_PUBLIC }, { "router_tls_port", ROUTER_PUBLIC },
	{ "router_internal_port", ROUTER_INTERNAL }, { "router_internal_tls_port", ROUTER_INTERNAL },
	{ "peer_port", ROUTER_PEER }, { "egress_port", ROUTER_PEER },
};

/* Which router listens on param key, -1 for a param that is no router's port. */
static int
router_of_port(const char *key)
{
	for (size_t i = 0; i < CX_ARRAY_LEN(router_ports); i++) {
		if (strcmp(router_ports[i].key, key) == 0)
			return router_ports[i].router;
	}
	return -1;
}

/* A router port param's new value v is free: no other port param has it
 * (as set now or in params), and nothing listens on it. -1 with err naming
 * the port and what holds it. VPC racks' routers listen in the rack's own
 * namespace, where the daemon cannot look: not checked there. */
static int
check_router_port(struct rack *r, jv *params, const char *key, const char *v, char *err,
    size_t errlen)
{
	char cur[16], addr[64], holder[128];
	long port;

	rack_param(r, key, cur, sizeof(cur));
	if (strcmp(cur, v) == 0 || (r->vpc && !r->host) || parse_long(v, 1, 65535, &port) == -1)
		return 0;       /* unchanged: its own router holds it */
	for (size_t i = 0; i < CX_ARRAY_LEN(router_ports); i++) {
		const char *k = router_ports[i].key, *other = jv_str_or(params, k, NULL);
		char set[16];

		if (strcmp(k, key) == 0)
			continue;
		if (other == NULL) {
			rack_param(r, k, set, sizeof(set));
			other = set;
		}
		if (strcmp(other, v) == 0) {
			snprintf(err, errlen, "%s=%s: port %s is %s's already; choose another", key, v, v,
			    k);
			return -1;
		}
	}
	snprintf(addr, sizeof(addr), "%s:%s", strcmp(key, "peer_port") == 0 &&
	    r->public_addr[0] != '\0' ? r->public_addr : "127.0.0.1", v);
	if (net_port_check(addr) == 0)
		return 0;
	if (errno != EADDRINUSE) {
		snprintf(err, errlen, "%s=%s: cannot listen on %s: %s", key, v, addr, strerror(errno));
		return -1;
	}
	net_port_holder((int)port, holder, sizeof(holder));
	snprintf(err, errlen, "%s=%s: port %s is in use%s%s; choose a free one", key, v, v,
	    holder[0] != '\0' ? " by " : "", holder);
	return -1;
}

/* The last line of router rp's log, without its time stamp, into out. */
static void
router_last_words(struct rack *r, struct router_proc *rp, char *out, size_t outlen)
{
	char path[4096], *data, *line, *end;
	size_t len;

	snprintf(path, sizeof(path), "%s/router-%s.log", r->dir, rp->name);
	str_copy(out, outlen, "it exited");
	if ((data = read_file(path, 64 << 20, &len)) == NULL)
		return;
	while (len > 0 && data[len - 1] == '\n')
		data[--len] = '\0';
	line = strrchr(data, '\n');
	line = line != NULL ? line + 1 : data;
	if ((end = strchr(line, ' ')) != NULL && str_has_prefix(end + 1, "cx-router"))
		line = end + 1;
	if (line[0] != '\0')
		str_copy(out, outlen, line);
	free(data);
}

/* After params_put restarted the routers in restart[]: each must be up.
 * One whose port changed and that cannot listen there (taken since the
 * check) gets its previous ports back, stored and listened on again, so
 * traffic flows; one that did not come back for another reason is named.
 * Every router is looked at; the answer (409 for a port given back, 500
 * otherwise) names each failure and the params that did take effect. */
static void
routers_check_restarted(struct rack *r, struct api_resp *s, const bool *restart,
    const bool *port_changed, char **keys, char **vals, char (*olds)[16], size_t n)
{
	struct buf msg;
	bool *back_k = xcalloc(n + 1, sizeof(*back_k));
	int code = 0;

	buf_init(&msg, 8192);
	for (int i = 0; i < ROUTERS_N; i++) {
		struct router_proc *rp = &r->routers[i];
		char why[512], listen[160], back[512] = "";
		char *bk[CX_ARRAY_LEN(router_ports)], *bv[CX_ARRAY_LEN(router_ports)];
		size_t nb = 0;

		if (!restart[i] || router_came_up(rp))
			continue;
		router_last_words(r, rp, why, sizeof(why));
		snprintf(listen, sizeof(listen), "%s%s%s", rp->listen[0] ? rp->listen : rp->listen_peer,
		    rp->listen_tls[0] ? " and " : "", rp->listen_tls);
		buf_addf(&msg, "%s", msg.len > 0 ? "; " : "");
		if (!port_changed[i]) {
			log_warnx("router %s did not come back (%s)", rp->name, why);
			buf_addf(&msg, "router %s did not come back (%s)", rp->name, why);
			code = code != 0 ? code : 500;
			continue;
		}
		for (size_t k = 0; k < n; k++) {
			if (router_of_port(keys[k]) != i || strcmp(olds[k], vals[k]) == 0)
				continue;
			bk[nb] = keys[k];
			bv[nb] = olds[k];
			back_k[k] = true;
			snprintf(back + strlen(back), sizeof(back) - strlen(back), "%s%s=%s",
			    nb > 0 ? ", " : "", keys[k], olds[k]);
			nb++;
		}
		if (store_params_set(r->store, bk, bv, nb) == -1) {
			buf_addf(&msg, "router %s cannot listen on %s (%s), and its previous ports "
			    "cannot be stored again: %s", rp->name, listen, why, store_error(r->store));
			code = 500;
			continue;
		}
		log_warnx("router %s cannot listen on %s (%s); back to %s", rp->name, listen, why,
		    back);
		buf_addf(&msg, "router %s cannot listen on %s (%s); back to %s", rp->name, listen,
		    why, back);
		code = code != 0 ? code : 409;
		routers_restart(r, i);
		router_came_up(rp);
		if (i == ROUTER_INTERNAL || i == ROUTER_PEER)
			routers_gateway_sync(r, false);
	}
	if (code != 0) {
		const char *sep = "; set: ";

		for (size_t k = 0; k < n; k++) {
			if (back_k[k])
				continue;
			buf_addf(&msg, "%s%s=%s", sep, keys[k], vals[k]);
			sep = ", ";
		}
		api_error(s, code, "%s", buf_cstr(&msg));
	}
	buf_free(&msg);
	free(back_k);
}

void
api_params_put(struct rack *r, struct api_req *q, struct api_resp *s)
{
	jv *body = api_json_body(q, s), *params;
	const char **given = NULL;
	char **keys = NULL, **vals = NULL, err[512];
	size_t ngiven, n = 0;
	bool restart[ROUTERS_N] = { false }, port_changed[ROUTERS_N] = { false };
	bool whitelist_changed = false;
	char old_api_port[16] = "", (*olds)[16] = NULL;
	const char *api_port = NULL;

	if (body == NULL)
		return;
	params = jv_get(body, "params");
	given = jv_keys(params, &ngiven);
	if (!jv_is_object(params) || ngiven == 0) {
		api_error(s, 400, "give params as {\"params\": {\"key\": \"value\"}}");
		goto out;
	}
	keys = xcalloc(ngiven, sizeof(*keys));
	vals = xcalloc(ngiven, sizeof(*vals));
	olds = xcalloc(ngiven, sizeof(*olds));
	for (size_t i = 0; i < ngiven; i++) {
		const char *key = given[i];
		const char *v = jv_str_or(params, key, NULL);
		bool changed;

		if (v == NULL) {
			api_error(s, 400, "param %s: value must be a string", key);
			goto out;
		}
		if (params_check(key, v, err, sizeof(err)) == -1) {
			api_error(s, 400, "%s", err);
			goto out;
		}
		/* A peer's names go to that peer: this rack's may not be among them. */
		if (peers_check_own_domain(r, key, v, err, sizeof(err)) == -1) {
			api_error(s, 400, "%s", err);
			goto out;
		}
		if (params_install_only(key)) {
			api_error(s, 400, "%s is set at install (cx rack install %s NAME %s=...); "
			    "reinstall the rack to change it", key, strcmp(key, "kubeconfig") == 0 ?
			    "kubernetes" : "local", key);
			goto out;
		}
		if (r->host && (strcmp(key, "router_port") == 0 || strcmp(key, "router_tls_port") == 0 ||
		    strcmp(key, "router_internal_port") == 0 ||
		    strcmp(key, "router_internal_tls_port") == 0)) {
			api_error(s, 400, "%s is fixed on host racks: the routers listen on :80 and :443 of "
			    "their addresses", key);
			goto out;
		}
		if (r->vpc && (strcmp(key, "router_tls_port") == 0 ||
		    strcmp(key, "router_internal_tls_port") == 0)) {
			api_error(s, 400, "%s is for loopback racks: VPC racks' routers do not speak "
			    "TLS yet", key);
			goto out;
		}
		if (r->vpc && (strcmp(key, "router_port") == 0 ||
		    strcmp(key, "router_internal_port") == 0)) {
			api_error(s, 400, "%s is fixed at 80 on VPC racks: each router has its own address",
			    key);
			goto out;
		}
		rack_param(r, key, olds[n], sizeof(olds[n]));
		changed = strcmp(olds[n], v) != 0;
		/* A port is checked free before it is stored: a router that
		 * cannot listen on it would leave its traffic nowhere. */
		if (router_of_port(key) >= 0 && changed) {
			if (check_router_port(r, params, key, v, err, sizeof(err)) == -1) {
				api_error(s, 409, "%s", err);
				goto out;
			}
			port_changed[router_of_port(key)] = true;
			restart[router_of_port(key)] = true;
		}
		/* A new cap or worker count reaches a router only through its
		 * command line. */
		if ((strcmp(key, "router_max_conns") == 0 || strcmp(key, "router_workers") == 0) &&
		    changed)
			for (int j = 0; j < ROUTERS_N; j++)
				restart[j] = true;
		if (strcmp(key, "internal_router_whitelist") == 0)
			whitelist_changed = true;
		if (strcmp(key, "api_port") == 0)
			api_port = v;
		keys[n] = (char *)key;
		vals[n] = (char *)v;
		n++;
	}
	/* Who may reach the rack changes before it is recorded: a group the
	 * daemon cannot give the files to is refused, and nothing is stored. */
	if (jv_get(params, "api_group") != NULL &&
	    access_apply(r, jv_str_or(params, "api_group", ""), err, sizeof(err)) == -1) {
		api_error(s, 400, "%s", err);
		goto out;
	}
	/* The new port is listened on before it is recorded: one taken is
	 * refused, and nothing is stored. */
	api_tls_port(r, old_api_port, sizeof(old_api_port));
	if (api_port != NULL && api_https_listen(r, api_port, err, sizeof(err)) == -1) {
		api_error(s, 400, "%s", err);
		goto out;
	}
	if (store_params_set(r->store, keys, vals, n) == -1) {
		char group[256];

		if (api_port != NULL && api_https_listen(r, old_api_port, err, sizeof(err)) == -1)
			log_warnx("%s", err);

		api_error(s, 500, "cannot store params: %s", store_error(r->store));
		rack_param(r, "api_group", group, sizeof(group));
		if (jv_get(params, "api_group") != NULL && access_apply(r, group, err, sizeof(err)) == -1)
			log_warnx("%s", err);
		goto out;
	}
	if (r->vpc && whitelist_changed) {
		const char *wl = jv_str_or(params, "internal_router_whitelist", "");

		/* Stored first: a failure here is repaired by the next reconcile. */
		if (lab_rack_set_whitelist(r->home, r->name, wl, err, sizeof(err)) == -1) {
			api_error(s, 500, "%s", err);
			goto out;
		}
	}
	for (size_t i = 0; i < n; i++)
		log_info("param %s=%s", keys[i], vals[i]);
	for (int i = 0; i < ROUTERS_N; i++) {
		r->routers[i].next_start = 0;
		/* A router on a new port or cap: stop it; the restart takes the new one. */
		if (restart[i] && r->routers[i].pid > 0)
			routers_restart(r, i);
	}
	if (restart[ROUTER_INTERNAL] || restart[ROUTER_PEER])
		routers_gateway_sync(r, false);
	routers_sync(r);
	routers_check_restarted(r, s, restart, port_changed, keys, vals, olds, n);
out:
	free(given);
	free(keys);
	free(vals);
	free(olds);
	jv_free(body);
}

static void
uninstall_now(struct rack *r)
{
	log_info("uninstalling: stopping every process");
	r->exiting = true;
	build_cancel(r, NULL);
	api_exec_stop_all(r);
	appexport_cancel_all(r);
	reconcile_stop_all(r, 5000);
	cgroup_remove_all(r);
	resource_stop_all(r);
	/* Every app's ids go back to the host, with whatever still ran as them. */
	for (struct app *a = r->apps; a != NULL; a = a->next)
		sandbox_release_ids(r, a->name, a->uid_base);
	discovery_clear(r);
	routers_stop_all(r);
	routers_gateway_sync(r, true);
	ev_stop(r->loop);
}

void
api_uninstall(struct rack *r, struct api_req *q, struct api_resp *s)
{
	(void)q;
	(void)r;
	s->after = uninstall_now;
}

void
api_reconcile(struct rack *r, struct api_req *q, struct api_resp *s)
{
	char wl[1024], err[512];

	(void)q;
	if (r->vpc) {
		rack_param(r, "internal_router_whitelist", wl, sizeof(wl));
		if (lab_rack_set_whitelist(r->home, r->name, wl, err, sizeof(err)) == -1) {
			api_error(s, 500, "%s", err);
			return;
		}
	}
	routers_sync(r);
}

void
api_system_logs(struct rack *r, struct api_req *q, struct api_resp *s)
{
	char path[4096], since[32];
	long off = -1;
	int64_t next = 0;

	if (api_query(q, "since", since, sizeof(since)) == 0 &&
	    parse_long(since, 0, INT64_MAX, &off) == -1) {
		api_error(s, 400, "since must be a byte offset");
		return;
	}
	snprintf(path, sizeof(path), "%s/rackd.log", r->dir);
	if (api_query(q, "since_time", since, sizeof(since)) == 0) {
		if (parse_long(since, 0, INT64_MAX, &off) == -1) {
			api_error(s, 400, "since_time must be a unix time in seconds");
			return;
		}
		off = (long)log_offset_at(path, off);
	}
	if (log_read(path, off, 1 << 20, &s->text, &next) == -1) {
		api_error(s, 500, "cannot read %s: %s", path, strerror(errno));
		return;
	}
	s->is_text = true;
	snprintf(s->extra, sizeof(s->extra), "X-Cx-Offset: %lld\r\n", (long long)next);
}

/* Fetches one router's Prometheus text (GET /_cx/metrics, Host: _cx), bounded
 * to a second; appends it to out. -1 if the router did not answer. */
static int
router_metrics(struct rack *r, struct router_proc *rp, struct buf *out)
{
	struct sockaddr_in sin;
	struct pollfd p;
	struct buf resp;
	const char *req = "GET /_cx/metrics HTTP/1.1\r\nHost: _cx\r\nConnection: close\r\n\r\n";
	char *body;
	int fd, rc = -1;
	int64_t deadline = now_ms() + 1000;
	/* The peer router answers metrics on its egress listener. */
	const char *addr = rp->listen[0] != '\0' ? rp->listen : rp->listen_egress;

	if (rp->pid <= 0 || net_parse_addr(addr, &sin) == -1)
		return -1;
	/* From the router's own address: the router serves metrics to this host only. */
	fd = r->vpc ? rack_connect_in_vpc(r, &sin, &(struct sockaddr_in){ .sin_family = AF_INET,
	    .sin_addr = sin.sin_addr }) : net_connect_tcp(&sin);
	if (fd == -1)
		return -1;
	buf_init(&resp, 4 << 20);
	p.fd = fd;
	p.events = POLLOUT;
	if (poll(&p, 1, 1000) != 1 || write(fd, req, strlen(req)) != (ssize_t)strlen(req))
		goto out;
	for (;;) {
		char chunk[16384];
		ssize_t n;
		int64_t left = deadline - now_ms();

		p.events = POLLIN;
		if (left <= 0 || poll(&p, 1, (int)left) != 1)
			goto out;
		n = read(fd, chunk, sizeof(chunk));
		if (n == 0)
			break;
		if (n < 0 || buf_add(&resp, chunk, (size_t)n) == -1)
			goto out;
	}
	body = strstr(buf_cstr(&resp), "\r\n\r\n");
	if (body != NULL && strncmp(resp.data, "HTTP/1.1 200", 12) == 0) {
		buf_adds(out, body + 4);
		rc = 0;
	}
out:
	close(fd);
	buf_free(&resp);
	return rc;
}

void
api_system_metrics(struct rack *r, struct api_req *q, struct api_resp *s)
{
	(void)q;
	s->is_text = true;
	for (int i = 0; i < ROUTERS_N; i++) {
		struct router_proc *rp = &r->routers[i];

		if (rp->pid <= 0)
			continue;
		if (router_metrics(r, rp, &s->text) == -1)
			buf_addf(&s->text, "# router %s (pid %d) did not answer\n", rp->name,
			    (int)rp->pid);
	}
}

/* The rack's CA certificate, for whoever is to trust the rack (clients,
 * peers): public by nature, yet behind the API's password like the rest. */
void
api_system_ca(struct rack *r, struct api_req *q, struct api_resp *s)
{
	(void)q;
	s->is_text = true;
	if (buf_adds(&s->text, r->ca_pem) == -1)
		api_error(s, 500, "cannot answer the rack's CA certificate");
}

/* The keeper's pid if this daemon runs under one (its parent, named in
 * keeper.pid), else 0. */
static pid_t
keeper_pid(struct rack *r)
{
	char path[4096], *text;
	long pid = 0;

	snprintf(path, sizeof(path), "%s/keeper.pid", r->dir);
	if ((text = read_file(path, 64, NULL)) == NULL)
		return 0;
	text[strcspn(text, "\n")] = '\0';
	if (parse_long(text, 1, INT32_MAX, &pid) == -1 || (pid_t)pid != getppid())
		pid = 0;
	free(text);
	return (pid_t)pid;
}

static void
push_proc(jv *arr, const char *name, pid_t pid, const char *listen)
{
	jv *j = jv_object_new();

	jv_set_str(j, "name", name);
	jv_set_int(j, "pid", pid);
	jv_set_str(j, "status", pid > 0 ? "running" : "stopped");
	jv_set_str(j, "listen", listen);
	jv_push_take(arr, j);
}

/* GET /system/processes: the rack's own processes, as `cx rack ps` shows
 * them: the daemon, each router it wants, and the DNS its processes ask. */
void
api_system_processes(struct rack *r, struct api_req *q, struct api_resp *s)
{
	jv *arr = jv_array_new();
	char listen[256];

	(void)q;
	snprintf(listen, sizeof(listen), "%s/api.sock%s%s", r->dir,
	    r->api_https_listen[0] ? " https://" : "", r->api_https_listen);
	push_proc(arr, "rackd", getpid(), listen);
	push_proc(arr, "keeper", keeper_pid(r), "");
	for (int i = 0; i < ROUTERS_N; i++) {
		const struct router_proc *rp = &r->routers[i];
		char name[32];

		if (!rp->wanted)
			continue;
		snprintf(name, sizeof(name), "router-%s", rp->name);
		snprintf(listen, sizeof(listen), "%s%s%s%s%s%s%s", rp->listen,
		    rp->listen_tls[0] && rp->listen[0] ? " " : "", rp->listen_tls,
		    rp->listen_peer[0] && (rp->listen[0] || rp->listen_tls[0]) ? " " : "",
		    rp->listen_peer, rp->listen_egress[0] ? " " : "", rp->listen_egress);
		push_proc(arr, name, rp->pid, listen);
	}
	if (r->vpc) {
		int pid = lab_dns_pid(r->home, r->host ? r->name : NULL);

		snprintf(listen, sizeof(listen), "%s", r->host ? r->gateway_addr : "");
		if (r->host)
			str_copy(listen + strlen(listen), sizeof(listen) - strlen(listen), ":53");
		push_proc(arr, r->host ? "dns" : "dns (the lab's)", pid, listen);
	}
	s->json = arr;
}
