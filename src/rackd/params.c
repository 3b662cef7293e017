/*
 * params.c — the rack parameter table. Defaults that depend on the rack
 * (ports, domains) are filled in by the daemon at install; the rest live here.
 */
#include "rackd/params.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/net.h"
#include "common/util.h"
#include "rackd/access.h"

static const struct param_def params[] = {
	{ "acme_ca", PARAM_FILE, 0, 0, "CA certificates (PEM file) that verify the ACME directory's HTTPS (\"\": the system's)" },
	{ "acme_directory", PARAM_URL, 0, 0, "ACME directory URL: certificates by HTTP-01 for public domains (\"\": the rack's CA signs them)" },
	{ "api_group", PARAM_GROUP, 0, 0, "a host group whose members may use the rack's API too (\"\": its owner alone)" },
	{ "api_max_conns", PARAM_INT, 1, 1000000, "API connections at once; at it the oldest idle one is closed for a new one (unset: a quarter of the daemon's descriptor limit)" },
	{ "api_port", PARAM_PORT, 0, 0, "the API's HTTPS port: on public_address (host racks, default 5443), on 127.0.0.1 (other racks; unset: the unix socket alone)" },
	{ "build_host_ca", PARAM_BOOL, 0, 0, "RUN steps of builds see the host's extra CA certificates (/usr/local/share/ca-certificates, which update-ca-certificates adds to the image's store); default true" },
	{ "build_retention", PARAM_INT, 1, 1000, "builds kept per app: those its last N releases use (and its active one's); older ones are removed after each promotion and by cx builds prune (default 10)" },
	{ "build_max_mb", PARAM_INT, 1, 10240, "largest source upload accepted, in MiB" },
	{ "cloud", PARAM_CLOUD, 0, 0, "Kubernetes racks: aws, gcp, azure, do or generic, which cloud's internal load balancer annotation router-internal carries (default generic: none)" },
	{ "deploy_progress_deadline", PARAM_INT, 1, 86400, "Kubernetes racks: seconds a service's rollout may go without a new process becoming ready before the cluster declares it failed (its Deployments' progressDeadlineSeconds; the release then fails and the previous one is restored; unset: the cluster's 600)" },
	{ "deploy_timeout", PARAM_INT, 1, 86400, "Kubernetes racks: seconds a release's rollout may take in all before it fails and the previous release is restored (default 3000, 50 minutes)" },
	{ "domain", PARAM_DOMAIN, 0, 0, "public domain: services are SERVICE.APP.<domain>" },
	{ "domain_internal", PARAM_DOMAIN, 0, 0, "internal router domain" },
	{ "internal_router", PARAM_BOOL, 0, 0, "run the internal router on the rack's private address" },
	{ "internal_router_whitelist", PARAM_CIDR_LIST, 0, 0,
	    "extra CIDRs allowed to reach the internal router, comma separated" },
	{ "kubeconfig", PARAM_FILE, 0, 0, "Kubernetes racks: the rack's copy of the kubeconfig that reaches its cluster (set at install; \"\": not a Kubernetes rack)" },
	{ "log_max_mb", PARAM_INT, 1, 10240, "size at which each log (an app's, a router's, the "
	    "rack's) rotates, in MiB; 3 files of it at most per log (default 10)" },
	{ "process_pids_max", PARAM_INT, 16, 4194304, "tasks (processes and threads) each app "
	    "process may have at once, all it starts counted: its control group's pids.max "
	    "(default 512; see `cx rack` for whether the rack's cgroups enforce it)" },
	{ "egress_port", PARAM_PORT, 0, 0,
	    "loopback racks: the egress listener's port on 127.0.0.1, where the rack reaches its "
	    "TLS peers' internal services; processes in namespaces of their own (racks run as "
	    "root) reach it as port 80 of the bridge's .3, where peers' names resolve" },
	{ "peer_port", PARAM_PORT, 0, 0, "where TLS peers reach this rack's internal services" },
	{ "registry", PARAM_REGISTRY, 0, 0, "Kubernetes racks: where builds' images are pushed, HOST[:PORT][/PATH] (rendered as REGISTRY/RACK-APP:SERVICE.BUILD)" },
	{ "registry_insecure", PARAM_BOOL, 0, 0, "Kubernetes racks: push builds' images to registry over plain http, or https without checking its certificate (a registry on loopback; default false)" },
	{ "router_internal_port", PARAM_PORT, 0, 0, "internal router port on 127.0.0.1 (loopback racks; processes in namespaces of their own reach it as port 80 of the bridge's .2)" },
	{ "router_internal_tls_port", PARAM_PORT, 0, 0, "internal router TLS port on 127.0.0.1 (loopback racks; processes in namespaces of their own reach it as port 443 of the bridge's .2)" },
	{ "router_max_conns", PARAM_INT, 1, 1000000, "client connections of each router at once; at it the oldest idle one is closed for a new one (unset: half the router's descriptor limit less 64)" },
	{ "router_workers", PARAM_INT, 1, 64, "threads of each router, each with listening sockets of its own (SO_REUSEPORT); changing it restarts the routers (unset: one per online core)" },
	{ "router_port", PARAM_PORT, 0, 0, "public router port (loopback racks)" },
	{ "router_tls_port", PARAM_PORT, 0, 0, "public router TLS port (loopback racks)" },
	{ "public_address", PARAM_ADDR, 0, 0, "host racks: the public router's address (set at install)" },
	{ "private_address", PARAM_ADDR, 0, 0,
	    "host racks: the internal router's address on the host's private network (set at install)" },
};

const struct param_def *
params_table(size_t *n)
{
	*n = CX_ARRAY_LEN(params);
	return params;
}

const struct param_def *
params_find(const char *name)
{
	for (size_t i = 0; i < CX_ARRAY_LEN(params); i++) {
		if (strcmp(params[i].name, name) == 0)
			return &params[i];
	}
	return NULL;
}

int
params_install_only(const char *name)
{
	return strcmp(name, "public_address") == 0 || strcmp(name, "private_address") == 0 ||
	    strcmp(name, "kubeconfig") == 0;
}

const char *
params_suggest(const char *name)
{
	const char *best = NULL;
	size_t bestd = 0;

	for (size_t i = 0; i < CX_ARRAY_LEN(params); i++) {
		size_t d = str_edit_distance(name, params[i].name);

		if (best == NULL || d < bestd) {
			best = params[i].name;
			bestd = d;
		}
	}
	/* Suggest only when at most a third of the letters differ, or a prefix matches. */
	if (best != NULL && (bestd * 3 <= strlen(best) || str_has_prefix(best, name)))
		return best;
	return NULL;
}

static bool
valid_domain(const char *s)
{
	size_t n = strlen(s), label = 0;

	if (n == 0 || n > 200 || s[0] == '.' || s[n - 1] == '.')
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (c == '.') {
			if (label == 0)
				return false;
			label = 0;
			continue;
		}
		if (!islower((unsigned char)c) && !isdigit((unsigned char)c) && c != '-')
			return false;
		if (++label > 63)
			return false;
	}
	return true;
}

static int
check_cidr_list(const char *name, const char *value, char *err, size_t errlen)
{
	char *copy = xstrdup(value), *save = NULL;
	int rc = 0;

	for (char *tok = strtok_r(copy, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
		uint32_t net;
		int prefix;

		while (*tok == ' ')
			tok++;
		if (parse_cidr(tok, &net, &prefix) == -1) {
			snprintf(err, errlen, "%s: \"%s\" is not a CIDR; use a comma-separated list"
			    " like 10.5.0.0/16,192.168.1.0/24", name, tok);
			rc = -1;
			break;
		}
	}
	free(copy);
	return rc;
}

int
params_check(const char *name, const char *value, char *err, size_t errlen)
{
	const struct param_def *p = params_find(name);
	long l;

	if (p == NULL) {
		const char *s = params_suggest(name);

		if (s != NULL)
			snprintf(err, errlen, "unknown param \"%s\"; did you mean \"%s\"?", name, s);
		else
			snprintf(err, errlen, "unknown param \"%s\"; cx rack params lists them", name);
		return -1;
	}
	switch (p->type) {
	case PARAM_BOOL:
		if (strcmp(value, "true") != 0 && strcmp(value, "false") != 0) {
			snprintf(err, errlen, "%s must be true or false, not \"%s\"", name, value);
			return -1;
		}
		return 0;
	case PARAM_INT:
		if (parse_long(value, p->min, p->max, &l) == -1) {
			snprintf(err, errlen, "%s must be a whole number from %ld to %ld, not \"%s\"",
			    name, p->min, p->max, value);
			return -1;
		}
		return 0;
	case PARAM_PORT:
		if (parse_long(value, 1, 65535, &l) == -1) {
			snprintf(err, errlen, "%s must be a port from 1 to 65535, not \"%s\"", name, value);
			return -1;
		}
		return 0;
	case PARAM_CIDR_LIST:
		if (value[0] == '\0')
			return 0;
		return check_cidr_list(name, value, err, errlen);
	case PARAM_GROUP:
		return access_check_group(value, err, errlen);
	case PARAM_ADDR: {
		struct sockaddr_in sin;
		char probe[64];

		snprintf(probe, sizeof(probe), "%s:1", value);
		if (strlen(value) > 15 || net_parse_addr(probe, &sin) == -1) {
			snprintf(err, errlen, "%s must be an IPv4 address like 198.51.100.7, not \"%s\"",
			    name, value);
			return -1;
		}
		return 0;
	}
	case PARAM_URL:
		if (value[0] != '\0' && (strncmp(value, "https://", 8) != 0 || strlen(value) > 1000 ||
		    strpbrk(value, " \t\r\n\"") != NULL || value[8] == '\0')) {
			snprintf(err, errlen, "%s must be an https:// URL (or \"\"), not \"%s\"", name,
			    value);
			return -1;
		}
		return 0;
	case PARAM_FILE:
		if (value[0] != '\0' && (value[0] != '/' || strlen(value) > 1000 ||
		    access(value, R_OK) == -1)) {
			snprintf(err, errlen, "%s must be the absolute path of a readable file (or \"\"),"
			    " not \"%s\"", name, value);
			return -1;
		}
		return 0;
	case PARAM_CLOUD:
		if (value[0] != '\0' && strcmp(value, "aws") != 0 && strcmp(value, "gcp") != 0 &&
		    strcmp(value, "azure") != 0 && strcmp(value, "do") != 0 &&
		    strcmp(value, "generic") != 0) {
			snprintf(err, errlen, "%s must be aws, gcp, azure, do or generic, not \"%s\"",
			    name, value);
			return -1;
		}
		return 0;
	case PARAM_REGISTRY: {
		/* HOST[:PORT][/PATH]: a domain, a port, lower-case path parts. */
		char host[256];
		const char *slash = strchr(value, '/'), *colon;
		size_t hl = slash != NULL ? (size_t)(slash - value) : strlen(value);
		bool ok = hl > 0 && hl < sizeof(host);

		if (strstr(value, "://") != NULL) {
			snprintf(err, errlen, "%s is HOST[:PORT][/PATH], with no scheme (a registry over "
			    "plain http: set registry_insecure=true too), not \"%s\"", name, value);
			return -1;
		}
		if (ok) {
			memcpy(host, value, hl);
			host[hl] = '\0';
			if ((colon = strchr(host, ':')) != NULL) {
				ok = parse_long(colon + 1, 1, 65535, &l) == 0;
				host[colon - host] = '\0';
			}
			ok = ok && valid_domain(host);
		}
		for (const char *q = slash; ok && q != NULL && *q != '\0'; q++)
			ok = islower((unsigned char)*q) || isdigit((unsigned char)*q) ||
			    strchr("/._-", *q) != NULL;
		if (!ok || (slash != NULL && (slash[1] == '\0' || strstr(slash, "//") != NULL))) {
			snprintf(err, errlen, "%s must be a registry like registry.example.com:5000/team, "
			    "not \"%s\"", name, value);
			return -1;
		}
		return 0;
	}
	case PARAM_DOMAIN:
		if (!valid_domain(value)) {
			snprintf(err, errlen, "%s must be a lower-case domain name like apps.example.test,"
			    " not \"%s\"", name, value);
			return -1;
		}
		return 0;
	}
	return -1;
}
