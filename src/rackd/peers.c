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
#include "rackd/kpeers.h"
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

/* The peer names a host rack's DNS answers, one per line: what dns_sync
 * set last, so that a name no longer wanted is unset even after a restart. */
#define DNS_RECORD_MAX (1 << 20)

static void
dns_record_path(struct rack *r, char *out, size_t outlen)
{
	snprintf(out, outlen, "%s/peers-dns", r->dir);
}

/* Whether name is one of the n lines of names (case aside). */
static bool
name_in(const char *name, char *const *names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcasecmp(names[i], name) == 0)
			return true;
	return false;
}

/* The non-empty lines of text (cut in place) into *lines (malloc'd). */
static size_t
split_lines(char *text, char ***lines)
{
	size_t n = 0, max = 1;
	char *save = NULL;

	for (const char *c = text; *c != '\0'; c++)
		max += *c == '\n';
	*lines = xcalloc(max, sizeof(**lines));
	for (char *line = strtok_r(text, "\n", &save); line != NULL && n < max;
	    line = strtok_r(NULL, "\n", &save))
		(*lines)[n++] = line;
	return n;
}

/*
 * The processes of a host rack, and of a loopback rack run as root (each in
 * a namespace of its own), resolve a peer's internal names (*.DOMAIN) to the
 * rack's egress listener on the bridge's .3 (their rack DNS; a loopback
 * rack's lab maps .3:80 to egress_port on 127.0.0.1). Elsewhere nothing
 * resolves them: the processes share the host's 127.0.0.1 and egress_port.
 * Makes the rack DNS answer exactly the store's peers' names: sets each,
 * unsets those recorded before that are no longer wanted (a peer gone, or
 * its domain changed), and records what it set. A name that cannot be
 * unset stays recorded, to be tried again.
 */
static void
dns_sync(struct rack *r)
{
	char path[4200], **want, **had = NULL, *text;
	struct st_peer *list;
	struct buf rec;
	size_t n, nwant = 0, nhad = 0;

	if (r->egress_addr[0] == '\0')
		return;     /* no rack DNS of its own (VPC racks peer by routing) */
	if (store_peer_list(r->store, &list, &n) == -1) {
		log_warnx("rack %s: cannot read peers for its DNS: %s", r->name,
		    store_error(r->store));
		return;
	}
	dns_record_path(r, path, sizeof(path));
	text = read_file(path, DNS_RECORD_MAX, NULL);
	if (text == NULL && errno != ENOENT)
		log_warn("rack %s: cannot read %s; names set before are not unset", r->name, path);
	want = xcalloc(n + 1, sizeof(*want));
	nhad = text != NULL ? split_lines(text, &had) : 0;
	buf_init(&rec, DNS_RECORD_MAX);
	for (size_t i = 0; i < n; i++) {
		char name[300];

		snprintf(name, sizeof(name), "*.%s", list[i].internal_domain);
		if (name_in(name, want, nwant))
			continue;
		want[nwant++] = xstrdup(name);
	}
	for (size_t i = 0; i < nhad; i++) {
		if (name_in(had[i], want, nwant) || name_in(had[i], had, i))
			continue;
		if (lab_rack_dns_unset(r->home, r->name, had[i]) == -1) {
			log_warn("rack %s: cannot unset the DNS name %s (former peer's)", r->name,
			    had[i]);
			buf_addf(&rec, "%s\n", had[i]);
		}
	}
	for (size_t i = 0; i < nwant; i++) {
		if (lab_rack_dns_set(r->home, r->name, want[i], r->egress_addr) == -1)
			log_warn("rack %s: cannot set the DNS name %s", r->name, want[i]);
		buf_addf(&rec, "%s\n", want[i]);
	}
	if (write_file_atomic(path, rec.data != NULL ? rec.data : "", rec.len, 0644) == -1)
		log_warn("rack %s: cannot write %s", r->name, path);
	for (size_t i = 0; i < nwant; i++)
		free(want[i]);
	free(want);
	free(had);
	free(text);
	buf_free(&rec);
	store_peer_list_free(list, n);
}

/* Writes p's CA to peers/NAME.pem.new, where no router reads it:
 * install_ca puts it in place once the store has the peer. */
static int
write_ca(struct rack *r, const struct st_peer *p, char *err, size_t errlen)
{
	char dir[4200], final[4200], path[4300];

	snprintf(dir, sizeof(dir), "%s/peers", r->dir);
	if (mkdir_p(dir, 0700) == -1) {
		snprintf(err, errlen, "cannot make %s: %s", dir, strerror(errno));
		return -1;
	}
	ca_path(r, p->name, final, sizeof(final));
	snprintf(path, sizeof(path), "%s.new", final);
	if (write_file_atomic(path, p->ca, strlen(p->ca), 0644) == -1) {
		snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
		unlink(path);
		return -1;
	}
	return 0;
}

/* Renames what write_ca wrote into place, or (install false) removes it. */
static int
install_ca(struct rack *r, const char *name, bool install, char *err, size_t errlen)
{
	char tmp[4300], path[4200];

	ca_path(r, name, path, sizeof(path));
	snprintf(tmp, sizeof(tmp), "%s.new", path);
	if (!install || rename(tmp, path) == -1) {
		if (install)
			snprintf(err, errlen, "cannot put %s in place: %s", path, strerror(errno));
		unlink(tmp);
		return install ? -1 : 0;
	}
	return 0;
}

/* Whether pem holds more than one PEM block (a CA file is one certificate:
 * the router would read the first and ignore the rest). */
static bool
several_pem_blocks(const char *pem)
{
	const char *first = strstr(pem, "-----BEGIN ");

	return first != NULL && strstr(first + 1, "-----BEGIN ") != NULL;
}

/* The CA must look like rack `name`'s own: one certificate, a self-signed
 * CA (CA:TRUE) whose subject CN is the one ca.c gives a rack's CA. That is
 * all a rack can check of it: nothing but the operator vouches that it is
 * that rack's (the CLI read it from that rack's API), and any CA can be
 * made with that CN. */
static int
check_ca(const char *name, const char *pem, char *err, size_t errlen)
{
	char why[256], cn[128], want[128];
	struct tls_id *ca;

	if (several_pem_blocks(pem)) {
		snprintf(err, errlen, "peer %s: its CA holds more than one PEM block; give the one "
		    "certificate that GET /system/peering answers", name);
		return -1;
	}
	if ((ca = tls_id_from_pem(pem, NULL, why, sizeof(why))) == NULL) {
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
	if (!tls_id_self_signed(ca)) {
		snprintf(err, errlen, "peer %s: its CA \"%s\" is not self-signed, as a rack's CA "
		    "is; give the certificate that GET /system/peering answers", name, cn);
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

/* The names this rack answers: its public and internal domains, and its
 * services' discovery names (SERVICE.APP.RACK.local, discovery.c). */
enum { OWN_DOMAINS = 3 };
static const char *const own_what[OWN_DOMAINS] = { "domain", "domain_internal",
    "service names" };

static void
own_domains(struct rack *r, char out[OWN_DOMAINS][256])
{
	rack_param(r, "domain", out[0], sizeof(out[0]));
	rack_param(r, "domain_internal", out[1], sizeof(out[1]));
	snprintf(out[2], sizeof(out[2]), "%s.local", r->name);
}

/* A peer's internal domain must take none of this rack's names, nor
 * another peer's: the egress listener and the rack's DNS go by domain. */
static int
check_domain(struct rack *r, const struct st_peer *p, char *err, size_t errlen)
{
	char own[OWN_DOMAINS][256];
	struct st_peer *list;
	size_t n;
	int rc = 0;

	own_domains(r, own);
	for (size_t i = 0; i < OWN_DOMAINS; i++) {
		if (domains_overlap(p->internal_domain, own[i])) {
			snprintf(err, errlen, "peer %s: internal domain %s overlaps this rack's %s %s; "
			    "give one of the racks another domain_internal", p->name, p->internal_domain,
			    own_what[i], own[i]);
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
peers_check_own_domain(struct rack *r, const char *key, const char *value, char *err,
    size_t errlen)
{
	struct st_peer *list;
	size_t n;
	int rc = 0;

	if (strcmp(key, "domain") != 0 && strcmp(key, "domain_internal") != 0)
		return 0;
	if (store_peer_list(r->store, &list, &n) == -1) {
		snprintf(err, errlen, "cannot read peers: %s", store_error(r->store));
		return -1;
	}
	for (size_t i = 0; i < n && rc == 0; i++) {
		if (domains_overlap(value, list[i].internal_domain)) {
			snprintf(err, errlen, "%s %s overlaps the internal domain %s of peer %s: its "
			    "names would go to the peer; choose a domain outside %s (or cx rack unpeer "
			    "%s %s first)", key, value, list[i].internal_domain, list[i].name,
			    list[i].internal_domain, r->name, list[i].name);
			rc = -1;
		}
	}
	store_peer_list_free(list, n);
	return rc;
}

/* The row the store has for name into *out (*out->ca malloc'd): 1, 0 if
 * none, -1 if the store cannot be read. */
static int
peer_get(struct rack *r, const char *name, struct st_peer *out)
{
	struct st_peer *list;
	size_t n;
	int found = 0;

	if (store_peer_list(r->store, &list, &n) == -1)
		return -1;
	for (size_t i = 0; i < n && !found; i++) {
		if (strcmp(list[i].name, name) == 0) {
			*out = list[i];
			out->ca = xstrdup(list[i].ca);
			found = 1;
		}
	}
	store_peer_list_free(list, n);
	return found;
}

/* Puts peer name's CA file back as old has it, or (old NULL) removes it. */
static void
restore_ca(struct rack *r, const char *name, const struct st_peer *old)
{
	char path[4200], why[512];

	if (old != NULL && (write_ca(r, old, why, sizeof(why)) == -1 ||
	    install_ca(r, name, true, why, sizeof(why)) == -1))
		log_warnx("rack %s: cannot put peer %s's CA file back: %s", r->name, name, why);
	if (old == NULL) {
		ca_path(r, name, path, sizeof(path));
		if (unlink(path) == -1 && errno != ENOENT)
			log_warn("rack %s: cannot remove %s", r->name, path);
	}
}

/* Gives a Kubernetes rack's cluster its peering as the store has it now
 * (kpeers.h). -1 with err naming peer `name`'s change. */
static int
kube_sync(struct rack *r, const char *name, char *err, size_t errlen)
{
	char why[1024];

	if (kpeers_apply(r, why, sizeof(why)) == -1) {
		snprintf(err, errlen, "peer %s: rack %s cannot give its cluster the peering: %s", name,
		    r->name, why);
		return -1;
	}
	log_info("rack %s: its cluster's ConfigMap %s-system/peers has its peers", r->name,
	    r->name);
	return 0;
}

int
peers_add(struct rack *r, struct st_peer *p, char *err, size_t errlen)
{
	struct sockaddr_in sin;
	struct st_peer old;
	char why[512];
	int had = 0, rc = -1;

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
	if ((had = peer_get(r, p->name, &old)) == -1) {
		snprintf(err, errlen, "cannot read peers: %s", store_error(r->store));
		return -1;
	}
	/* The CA file goes in place only once the store has the peer: a
	 * router never trusts a CA the store does not hold. */
	if (peers_identity_ensure(r, err, errlen) == -1 || write_ca(r, p, err, errlen) == -1)
		goto out;
	if (store_peer_put(r->store, p) == -1) {
		snprintf(err, errlen, "cannot record peer %s: %s", p->name, store_error(r->store));
		install_ca(r, p->name, false, NULL, 0);
		goto out;
	}
	/* A Kubernetes rack's peer listener is on its cluster: the cluster's
	 * ConfigMap peers is given the store's peers. */
	if (install_ca(r, p->name, true, err, errlen) == -1 ||
	    (r->kube && kube_sync(r, p->name, err, errlen) == -1)) {
		/* The store goes back to what it had, which its CA file still is. */
		if ((had ? store_peer_put(r->store, &old) : store_peer_delete(r->store, p->name)) == -1)
			log_warnx("rack %s: cannot undo peer %s in the store: %s", r->name, p->name,
			    store_error(r->store));
		/* The CA file too, if it went in place (a Kubernetes rack's cluster
		 * refused): the old peer's CA again, or none. */
		if (r->kube)
			restore_ca(r, p->name, had ? &old : NULL);
		goto out;
	}
	rc = 0;
	dns_sync(r);
	log_info("rack %s: peered with rack %s at %s (internal domain %s)", r->name, p->name,
	    p->endpoint, p->internal_domain);
	rack_routes_changed(r);
out:
	if (had == 1)
		free(old.ca);
	return rc;
}

int
peers_remove(struct rack *r, const char *name, char *err, size_t errlen)
{
	char path[4200];
	int rc;

	/* The store first: its names stop resolving after it no longer has the
	 * peer, so that a failure leaves no peer half-forgotten. */
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
	dns_sync(r);
	log_info("rack %s: unpeered from rack %s", r->name, name);
	rack_routes_changed(r);
	if (r->kube && kube_sync(r, name, err, errlen) == -1) {
		/* Forgotten here; cx rack apply gives the cluster the store's peers. */
		str_copy(err + strlen(err), errlen - strlen(err), "; this rack forgot it, but its "
		    "cluster trusts it until cx rack apply succeeds");
		return -1;
	}
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
		if (write_ca(r, &list[i], err, errlen) == -1 ||
		    install_ca(r, list[i].name, true, err, errlen) == -1) {
			store_peer_list_free(list, n);
			return -1;
		}
	}
	dns_sync(r);
	snprintf(dir, sizeof(dir), "%s/peers", r->dir);
	if ((d = opendir(dir)) != NULL) {
		while ((de = readdir(d)) != NULL) {
			size_t len = strlen(de->d_name);
			bool known = false;

			if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
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
		bool dup = false;

		/* The router refuses a table with a domain twice, and a refused
		 * table trusts no peer at all: the later peer is left out. */
		for (size_t j = 0; j < i && !dup; j++)
			dup = strcasecmp(list[j].internal_domain, p->internal_domain) == 0;
		if (dup) {
			log_warnx("rack %s: peer %s has internal domain %s as another peer has; it is "
			    "left out of the peer router until one is unpeered", r->name, p->name,
			    p->internal_domain);
			continue;
		}
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
