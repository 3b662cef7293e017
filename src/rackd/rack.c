/*
 * rack.c — small questions about the rack that several modules ask: params
 * with their defaults, app lookup, service host names, peers.
 */
#include "rackd/rack.h"

#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/net.h"
#include "common/logfile.h"
#include "common/util.h"
#include "lab/lab.h"
#include "rackd/kdeploy.h"
#include "rackd/params.h"
#include "rackd/prune.h"

void
rack_param(struct rack *r, const char *key, char *out, size_t outlen)
{
	if (store_param_get(r->store, key, out, outlen) == 0)
		return;
	if (strcmp(key, "registry") == 0)
		snprintf(out, outlen, "registry.%s.cx.test", r->name);
	else if (strcmp(key, "domain") == 0)
		snprintf(out, outlen, "%s.%s", r->name, r->vpc ? "cx.test" : "localhost");
	else if (strcmp(key, "domain_internal") == 0)
		snprintf(out, outlen, "%s-internal.%s", r->name, r->vpc ? "cx.test" : "localhost");
	else if (strcmp(key, "build_max_mb") == 0)
		str_copy(out, outlen, "512");
	else if (strcmp(key, "build_retention") == 0)
		snprintf(out, outlen, "%d", PRUNE_DEFAULT_KEEP);
	else if (strcmp(key, "deploy_timeout") == 0)
		snprintf(out, outlen, "%d", KDEPLOY_TIMEOUT_S);
	else if (strcmp(key, "log_max_mb") == 0)
		snprintf(out, outlen, "%d", LOGFILE_DEFAULT_MB);
	else if (strcmp(key, "process_pids_max") == 0)
		snprintf(out, outlen, "%d", CGROUP_PIDS_DEFAULT);
	else if (strcmp(key, "build_host_ca") == 0)
		str_copy(out, outlen, "true");
	else if (strcmp(key, "internal_router") == 0)
		str_copy(out, outlen, "false");
	else if (strcmp(key, "router_port") == 0 || strcmp(key, "router_internal_port") == 0)
		str_copy(out, outlen, r->vpc ? "80" : "");
	else if (strcmp(key, "router_tls_port") == 0 ||
	    strcmp(key, "router_internal_tls_port") == 0)
		str_copy(out, outlen, r->host ? "443" : "");
	else if (strcmp(key, "api_port") == 0)
		str_copy(out, outlen, r->host ? "5443" : "");
	else if (strcmp(key, "peer_port") == 0)
		str_copy(out, outlen, r->vpc ? "8443" : "");
	else
		str_copy(out, outlen, "");
}

void
rack_routes_changed(struct rack *r)
{
	r->routes_changed = true;
}

bool
rack_param_bool(struct rack *r, const char *key)
{
	char v[16];

	rack_param(r, key, v, sizeof(v));
	return strcmp(v, "true") == 0;
}

int64_t
rack_log_max(struct rack *r)
{
	char v[16];
	long mb;

	rack_param(r, "log_max_mb", v, sizeof(v));
	if (parse_long(v, 1, 10240, &mb) == -1)
		mb = LOGFILE_DEFAULT_MB;
	return (int64_t)mb << 20;
}

struct app *
rack_app_find(struct rack *r, const char *name)
{
	for (struct app *a = r->apps; a != NULL; a = a->next) {
		if (strcmp(a->name, name) == 0 && !a->deleting)
			return a;
	}
	return NULL;
}

char *
rack_latest_env(struct rack *r, const char *app)
{
	struct st_release *list;
	size_t n;
	char *env = NULL;

	if (store_release_list(r->store, app, 1, &list, &n) == 0) {
		if (n == 1)
			env = xstrdup(list[0].env);
		store_release_list_free(list, n);
	}
	return env != NULL ? env : xstrdup("");
}

bool
proc_is_active(const struct app *a, const struct proc *p)
{
	return a->active[0] != '\0' && p->gen == a->active_gen;
}

bool
proc_serves(const struct app *a, const struct proc *p)
{
	return (proc_is_active(a, p) || proc_is_promoting(a, p)) && p->state == PROC_RUNNING &&
	    !p->oneoff && !proc_draining(p);
}

bool
proc_draining(const struct proc *p)
{
	return p->replaced && p->replace_at != 0;
}

bool
proc_is_promoting(const struct app *a, const struct proc *p)
{
	return a->promoting[0] != '\0' && p->gen == a->promoting_gen;
}

void
rack_service_host(struct rack *r, const char *app, const char *service, bool internal_router,
    char *out, size_t outlen)
{
	char domain[256];

	rack_param(r, internal_router ? "domain_internal" : "domain", domain, sizeof(domain));
	snprintf(out, outlen, "%s.%s.%s", service, app, domain);
}

int
rack_peer_cidrs(struct rack *r, struct buf *b)
{
	char (*pairs)[2][32] = NULL;
	size_t n = 0;
	int rc = 0;

	if (!r->vpc || lab_peers(r->home, r->name, &pairs, &n) == -1)
		return 0;
	for (size_t i = 0; i < n && rc == 0; i++) {
		const char *other = strcmp(pairs[i][0], r->name) == 0 ? pairs[i][1] : pairs[i][0];
		struct lab_rack_info info;

		if (lab_rack_get(r->home, other, &info) == 0)
			rc = buf_addf(b, "allow %s\n", info.cidr);
	}
	free(pairs);
	return rc;
}

int
rack_connect_in_vpc(struct rack *r, const struct sockaddr_in *sin, const struct sockaddr_in *src)
{
	struct lab_rack_info info;
	char path[128];
	int self, ns, fd = -1;

	if (r->host)
		return net_connect_tcp_from(sin, src);   /* the rack's namespace is ours */
	if (lab_rack_get(r->home, r->name, &info) == -1)
		return -1;
	snprintf(path, sizeof(path), "/run/netns/%s", info.netns);
	self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	ns = open(path, O_RDONLY | O_CLOEXEC);
	if (self != -1 && ns != -1 && setns(ns, CLONE_NEWNET) == 0) {
		fd = net_connect_tcp_from(sin, src);
		if (setns(self, CLONE_NEWNET) == -1)
			abort();   /* the daemon must never stay in the rack's namespace */
	}
	if (self != -1)
		close(self);
	if (ns != -1)
		close(ns);
	return fd;
}
