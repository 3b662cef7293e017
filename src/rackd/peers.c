/*
 * peers.c — see peers.h.
 */
#include "rackd/peers.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/net.h"
#include "common/tls.h"
#include "common/util.h"
#include "lab/lab.h"
#include "rackd/params.h"
#include "rackd/rack.h"

int
peers_identity_ensure(struct rack *r, char *err, size_t errlen)
{
	char cert[4200], key[4200], cap[4200], cak[4200], cn[64];
	const char *names[1] = { r->name };
	struct tls_id *id, *ca;
	int rc;

	snprintf(cert, sizeof(cert), "%s/peer.pem", r->dir);
	snprintf(key, sizeof(key), "%s/peer.key", r->dir);
	if ((id = tls_id_load(cert, key, err, errlen)) != NULL) {
		tls_id_cn(id, cn, sizeof(cn));
		tls_id_free(id);
		if (strcmp(cn, r->name) == 0)
			return 0;
		log_warnx("rack %s: %s names %s, not this rack; issuing a new one", r->name, cert,
		    cn);
	}
	snprintf(cap, sizeof(cap), "%s/ca.pem", r->dir);
	snprintf(cak, sizeof(cak), "%s/ca.key", r->dir);
	if ((ca = tls_id_load(cap, cak, err, errlen)) == NULL)
		return -1;
	id = tls_issue(ca, r->name, names, 1, TLS_USAGE_SERVER | TLS_USAGE_CLIENT, TLS_LEAF_DAYS,
	    err, errlen);
	tls_id_free(ca);
	if (id == NULL)
		return -1;
	rc = tls_id_save(id, cert, key, err, errlen);
	tls_id_free(id);
	return rc;
}

void
peers_endpoint(struct rack *r, char *out, size_t outlen)
{
	char port[16];

	rack_param(r, "peer_port", port, sizeof(port));
	snprintf(out, outlen, "%s:%s", r->public_addr[0] != '\0' ? r->public_addr : "127.0.0.1",
	    port);
}

void
peers_internal_domain(struct rack *r, char *out, size_t outlen)
{
	rack_param(r, "domain_internal", out, outlen);
}

static void
ca_path(struct rack *r, const char *name, char *out, size_t outlen)
{
	snprintf(out, outlen, "%s/peers/%s.pem", r->dir, name);
}

/* A host rack's processes resolve a peer's internal names to the rack's
 * egress listener (their rack DNS); elsewhere nothing resolves them. */
static void
dns_set(struct rack *r, const char *domain, bool set)
{
	char name[300];

	if (!r->host)
		return;
	snprintf(name, sizeof(name), "*.%s", domain);
	if ((set ? lab_rack_dns_set(r->home, r->name, name, r->egress_addr) :
	    lab_rack_dns_unset(r->home, r->name, name)) == -1)
		log_warn("rack %s: cannot %s the DNS name %s", r->name, set ? "set" : "unset", name);
}

static int
write_ca(struct rack *r, const struct st_peer *p, char *err, size_t errlen)
{
	char dir[4200], path[4200];

	snprintf(dir, sizeof(dir), "%s/peers", r->dir);
	if (mkdir_p(dir, 0700) == -1) {
		snprintf(err, errlen, "cannot make %s: %s", dir, strerror(errno));
		return -1;
	}
	ca_path(r, p->name, path, sizeof(path));
	if (write_file_atomic(path, p->ca, strlen(p->ca), 0644) == -1) {
		snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

/* The CA must be rack `name`'s own: a CA certificate whose subject is the
 * one ca.c gives a rack's CA. */
static int
check_ca(const char *name, const char *pem, char *err, size_t errlen)
{
	char why[256], cn[128], want[128];
	struct tls_id *ca = tls_id_from_pem(pem, NULL, why, sizeof(why));

	if (ca == NULL) {
		snprintf(err, errlen, "peer %s: its CA certificate does not parse (%s); give the PEM "
		    "that GET /system/peering answers", name, why);
		return -1;
	}
	tls_id_cn(ca, cn, sizeof(cn));
	snprintf(want, sizeof(want), "cx rack %s CA", name);
	if (!tls_id_is_ca(ca) || strcmp(cn, want) != 0) {
		snprintf(err, errlen, "peer %s: its certificate is %s\"%s\", not the CA of rack %s "
		    "(\"%s\")", name, tls_id_is_ca(ca) ? "the CA " : "not a CA but ", cn, name, want);
		tls_id_free(ca);
		return -1;
	}
	tls_id_free(ca);
	return 0;
}

/* Whether one of domains a and b is the other or under it (so the names
 * of one would be taken by the other). */
static bool
domains_overlap(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	const char *longer = la >= lb ? a : b, *shorter = la >= lb ? b : a;
	size_t ll = la >= lb ? la : lb, ls = la >= lb ? lb : la;

	return strcasecmp(a, b) == 0 || (ll > ls && longer[ll - ls - 1] == '.' &&
	    strcasecmp(longer + ll - ls, shorter) == 0);
}

/* A peer's internal domain must take none of this rack's names, nor
 * another peer's: the egress listener and the rack's DNS go by domain. */
static int
check_domain(struct rack *r, const struct st_peer *p, char *err, size_t errlen)
{
	static const char *own[] = { "domain", "domain_internal" };
	struct st_peer *list;
	size_t n;
	int rc = 0;

	for (size_t i = 0; i < CX_ARRAY_LEN(own); i++) {
		char d[256];

		rack_param(r, own[i], d, sizeof(d));
		if (domains_overlap(p->internal_domain, d)) {
			snprintf(err, errlen, "peer %s: internal domain %s overlaps this rack's %s %s; "
			    "give one of the racks another domain_internal", p->name, p->internal_domain,
			    own[i], d);
			return -1;
		}
	}
	if (store_peer_list(r->store, &list, &n) == -1) {
		snprintf(err, errlen, "cannot read peers: %s", store_error(r->store));
		return -1;
	}
	for (size_t i = 0; i < n && rc == 0; i++) {
		if (strcmp(list[i].name, p->name) != 0 &&
		    domains_overlap(p->internal_domain, list[i].internal_domain)) {
			snprintf(err, errlen, "peer %s: internal domain %s overlaps peer %s's %s; give "
			    "one of the racks another domain_internal", p->name, p->internal_domain,
			    list[i].name, list[i].internal_domain);
			rc = -1;
		}
	}
	store_peer_list_free(list, n);
	return rc;
}

int
peers_add(struct rack *r, struct st_peer *p, char *err, size_t errlen)
{
	struct sockaddr_in sin;
	char why[512];

	if (!valid_name(p->name)) {
		snprintf(err, errlen, "peer name \"%s\" is not a rack name ([a-z][a-z0-9-]{0,29})",
		    p->name);
		return -1;
	}
	if (strcmp(p->name, r->name) == 0) {
		snprintf(err, errlen, "cannot peer rack %s with itself", r->name);
		return -1;
	}
	if (check_ca(p->name, p->ca, err, errlen) == -1)
		return -1;
	if (net_parse_addr(p->endpoint, &sin) == -1) {
		snprintf(err, errlen, "peer %s: endpoint \"%s\" is not IPv4:PORT", p->name,
		    p->endpoint);
		return -1;
	}
	if (params_check("domain_internal", p->internal_domain, why, sizeof(why)) == -1) {
		snprintf(err, errlen, "peer %s: internal domain \"%s\" is not a domain name", p->name,
		    p->internal_domain);
		return -1;
	}
	if (check_domain(r, p, err, errlen) == -1)
		return -1;
	p->created = now_unix();
	if (peers_identity_ensure(r, err, errlen) == -1 || write_ca(r, p, err, errlen) == -1)
		return -1;
	if (store_peer_put(r->store, p) == -1) {
		snprintf(err, errlen, "cannot record peer %s: %s", p->name, store_error(r->store));
		return -1;
	}
	dns_set(r, p->internal_domain, true);
	log_info("rack %s: peered with rack %s at %s (internal domain %s)", r->name, p->name,
	    p->endpoint, p->internal_domain);
	rack_routes_changed(r);
	return 0;
}

int
peers_remove(struct rack *r, const char *name, char *err, size_t errlen)
{
	char path[4200];
	struct st_peer *list;
	size_t n;
	int rc;

	/* Its names stop resolving: the domain is in the row about to go. */
	if (store_peer_list(r->store, &list, &n) == 0) {
		for (size_t i = 0; i < n; i++)
			if (strcmp(list[i].name, name) == 0)
				dns_set(r, list[i].internal_domain, false);
		store_peer_list_free(list, n);
	}
	rc = store_peer_delete(r->store, name);
	if (rc == -1) {
		snprintf(err, errlen, "cannot forget peer %s: %s", name, store_error(r->store));
		return -1;
	}
	if (rc == 1)
		return 1;
	ca_path(r, name, path, sizeof(path));
	if (unlink(path) == -1 && errno != ENOENT)
		log_warn("rack %s: cannot remove %s", r->name, path);
	log_info("rack %s: unpeered from rack %s", r->name, name);
	rack_routes_changed(r);
	return 0;
}

int
peers_files_sync(struct rack *r, char *err, size_t errlen)
{
	struct st_peer *list;
	char dir[4200];
	size_t n;
	DIR *d;
	struct dirent *de;

	if (store_peer_list(r->store, &list, &n) == -1) {
		snprintf(err, errlen, "cannot read peers: %s", store_error(r->store));
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		if (write_ca(r, &list[i], err, errlen) == -1) {
			store_peer_list_free(list, n);
			return -1;
		}
		dns_set(r, list[i].internal_domain, true);
	}
	snprintf(dir, sizeof(dir), "%s/peers", r->dir);
	if ((d = opendir(dir)) != NULL) {
		while ((de = readdir(d)) != NULL) {
			size_t len = strlen(de->d_name);
			bool known = false;

			if (de->d_name[0] == '.')
				continue;
			for (size_t i = 0; i < n && !known; i++)
				known = len == strlen(list[i].name) + 4 &&
				    strncmp(de->d_name, list[i].name, len - 4) == 0 &&
				    strcmp(de->d_name + len - 4, ".pem") == 0;
			if (!known)
				unlinkat(dirfd(d), de->d_name, 0);
		}
		closedir(d);
	}
	if (n > 0 && peers_identity_ensure(r, err, errlen) == -1) {
		store_peer_list_free(list, n);
		return -1;
	}
	store_peer_list_free(list, n);
	return 0;
}

bool
peers_any(struct rack *r)
{
	struct st_peer *list;
	size_t n = 0;

	if (store_peer_list(r->store, &list, &n) == -1)
		return false;
	store_peer_list_free(list, n);
	return n > 0;
}

int
peers_snapshot_lines(struct rack *r, struct buf *b)
{
	struct st_peer *list;
	size_t n;
	int rc = 0;

	if (store_peer_list(r->store, &list, &n) == -1)
		return 0;   /* a store that cannot be read keeps no peer in: nothing admitted */
	for (size_t i = 0; i < n && rc == 0; i++) {
		struct st_peer *p = &list[i];
		char path[4200], ip[64], *colon;

		ca_path(r, p->name, path, sizeof(path));
		str_copy(ip, sizeof(ip), p->endpoint);
		colon = strrchr(ip, ':');
		if (colon == NULL)
			continue;
		*colon = '\0';
		if (buf_addf(b, "peer %s %s\n", p->name, path) == -1 ||
		    buf_addf(b, "egress %s %s %s %s\n", p->internal_domain, p->name, ip,
		    colon + 1) == -1)
			rc = -1;
	}
	store_peer_list_free(list, n);
	return rc;
}
