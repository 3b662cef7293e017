/*
 * certs.c — see certs.h. A domain's own certificate is issued when its
 * files are missing or it nears its end, never replaced otherwise; the CA
 * is read only when there is something to sign. A stored certificate is
 * served by hard-linking its files to the domain's names (key first, each
 * by rename), so the router sees a new inode and reloads it, and deleting
 * the stored one cannot leave a half-served pair behind.
 */
#include "rackd/certs.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/tls.h"
#include "common/tls_acme.h"
#include "common/util.h"

#define CN_MAX 64   /* X.520 ub-common-name */

/* A name that is safe as a file name: what tls_issue takes as a DNS name
 * (it checks the rest) and nothing that could leave the directory. */
static bool
safe_host(const char *h)
{
	return h[0] != '\0' && h[0] != '.' && strchr(h, '/') == NULL && strlen(h) <= 253;
}

static bool
listed(const char *name, size_t len, const struct certs_host *hosts, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strlen(hosts[i].name) == len && memcmp(hosts[i].name, name, len) == 0)
			return true;
	return false;
}

static int
load_ca(const char *dir, struct tls_id **ca, char *err, size_t errlen)
{
	char cap[4200], cak[4200];

	if (*ca != NULL)
		return 0;
	snprintf(cap, sizeof(cap), "%s/ca.pem", dir);
	snprintf(cak, sizeof(cak), "%s/ca.key", dir);
	*ca = tls_id_load(cap, cak, err, errlen);
	return *ca != NULL ? 0 : -1;
}

/* The expiry of the certificate in file path (0 when it cannot be read). */
static int64_t
file_expiry(const char *path)
{
	struct tls_cert_info info;
	char *pem = read_file(path, 256 * 1024, NULL), err[256];
	int64_t t = 0;

	if (pem != NULL && tls_cert_info(pem, &info, err, sizeof(err)) == 0)
		t = info.not_after;
	free(pem);
	return t;
}

/* Issues a certificate for names signed by the CA into cert/key; its
 * expiry in *expires. */
static int
issue(const char *dir, const char *const *names, size_t n, const char *cert, const char *key,
    struct tls_id **ca, int64_t *expires, char *err, size_t errlen)
{
	struct tls_id *leaf;
	int rc;

	if (load_ca(dir, ca, err, errlen) == -1)
		return -1;
	leaf = tls_issue(*ca, strlen(names[0]) <= CN_MAX ? names[0] : "cx router", names, n,
	    TLS_USAGE_SERVER, TLS_LEAF_DAYS, err, errlen);
	if (leaf == NULL)
		return -1;
	rc = tls_id_save(leaf, cert, key, err, errlen);
	tls_id_free(leaf);
	*expires = now_unix() + (int64_t)TLS_LEAF_DAYS * 86400;
	return rc;
}

/* Makes dst the same file as src (a hard link put in place by rename). */
static int
link_into(const char *src, const char *dst, char *err, size_t errlen)
{
	char tmp[4600];

	snprintf(tmp, sizeof(tmp), "%s.link-tmp", dst);
	unlink(tmp);
	if (link(src, tmp) == -1 || rename(tmp, dst) == -1) {
		snprintf(err, errlen, "cannot link %s to %s: %s", src, dst, strerror(errno));
		unlink(tmp);
		return -1;
	}
	return 0;
}

bool
certs_same_file(const char *a, const char *b)
{
	struct stat sa, sb;

	return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
	    sa.st_ino == sb.st_ino;
}

/* Whether c's names cover host and c is valid now. */
static bool
serves(const struct st_cert *c, const char *host, int64_t now)
{
	char *copy, *save = NULL;
	bool yes = false;

	if (c->expires <= now)
		return false;
	copy = xstrdup(c->domains);
	for (char *t = strtok_r(copy, ",", &save); t != NULL && !yes; t = strtok_r(NULL, ",", &save))
		yes = tls_name_covers(t, host);
	free(copy);
	return yes;
}

/* The stored certificate host h is to be served with, or NULL: its own. */
static const struct st_cert *
pick(const struct certs_host *h, const struct st_cert *cs, size_t nc,
    const struct st_binding *bs, size_t nb, int64_t now)
{
	const struct st_cert *best = NULL;

	for (size_t i = 0; i < nb; i++) {
		if (strcmp(bs[i].app, h->app) != 0 || strcmp(bs[i].service, h->service) != 0)
			continue;
		for (size_t j = 0; j < nc; j++)
			if (strcmp(cs[j].id, bs[i].cert) == 0 && serves(&cs[j], h->name, now))
				return &cs[j];
	}
	for (size_t j = 0; j < nc; j++) {
		if (strcmp(cs[j].source, "acme") == 0 && strcmp(cs[j].domains, h->name) == 0 &&
		    cs[j].expires > now && (best == NULL || cs[j].expires > best->expires))
			best = &cs[j];
	}
	return best;
}

/* The rack-CA row of the domain file cert, or NULL. */
static const struct st_cert *
own_row(const char *cert, const struct st_cert *cs, size_t nc)
{
	for (size_t j = 0; j < nc; j++)
		if (strcmp(cs[j].source, "rack-ca") == 0 && strcmp(cs[j].cert_path, cert) == 0)
			return &cs[j];
	return NULL;
}

/* Serves host with its own rack-CA certificate: keeps the one there (adopting
 * an older daemon's file), or issues one. */
static int
serve_own(struct store *st, const char *dir, const char *host, const char *cert,
    const char *key, const struct st_cert *cs, size_t nc, struct tls_id **ca, bool *changed,
    char *err, size_t errlen)
{
	const struct st_cert *row = own_row(cert, cs, nc);
	struct st_cert c = { .cert_path = (char *)cert, .key_path = (char *)key,
	    .domains = (char *)host, .source = "rack-ca" };
	const char *names[1] = { host };
	int64_t now = now_unix();
	struct stat sc, sk;

	if (stat(cert, &sc) == 0 && stat(key, &sk) == 0 && sc.st_nlink == 1 && sk.st_nlink == 1) {
		int64_t exp = row != NULL ? row->expires : file_expiry(cert);

		/* Good while more than a third of its year is left. */
		if (exp - now > (int64_t)TLS_LEAF_DAYS * 86400 / 3) {
			if (row != NULL)
				return 0;
			store_new_id(c.id, sizeof(c.id), "cert-", false);
			c.expires = exp;
			c.created = now;
			if (store_cert_put(st, &c) == -1) {
				snprintf(err, errlen, "cannot record the certificate of %s: %s", host,
				    store_error(st));
				return -1;
			}
			return 0;
		}
	}
	/* Unlinked first: a stored certificate linked here must not be overwritten. */
	unlink(key);
	unlink(cert);
	if (issue(dir, names, 1, cert, key, ca, &c.expires, err, errlen) == -1)
		return -1;
	log_info("issued the certificate of %s (%s)", host, cert);
	*changed = true;
	if (row != NULL)
		str_copy(c.id, sizeof(c.id), row->id);
	else
		store_new_id(c.id, sizeof(c.id), "cert-", false);
	c.created = now;
	if (store_cert_put(st, &c) == -1) {
		snprintf(err, errlen, "cannot record the certificate of %s: %s", host, store_error(st));
		return -1;
	}
	return 0;
}

/* Removes the domain files of dir/certs whose host is not listed. */
static int
prune(const char *cdir, const struct certs_host *hosts, size_t n, bool *changed, char *err,
    size_t errlen)
{
	DIR *d = opendir(cdir);
	struct dirent *de;
	int rc = 0;

	if (d == NULL) {
		snprintf(err, errlen, "cannot read %s: %s", cdir, strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);
		char path[4700];
		struct stat sb;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", cdir, de->d_name);
		if (lstat(path, &sb) == 0 && S_ISDIR(sb.st_mode))
			continue;   /* store/, acme/ */
		if (len > 4 && (strcmp(de->d_name + len - 4, ".pem") == 0 ||
		    strcmp(de->d_name + len - 4, ".key") == 0) &&
		    listed(de->d_name, len - 4, hosts, n))
			continue;
		if (unlink(path) == -1 && errno != ENOENT) {
			snprintf(err, errlen, "cannot remove %s: %s", path, strerror(errno));
			rc = -1;
			break;
		}
		*changed = true;
	}
	closedir(d);
	return rc;
}

/* Drops the rack-CA rows of domains no longer listed. */
static void
prune_rows(struct store *st, const struct st_cert *cs, size_t nc, const struct certs_host *hosts,
    size_t n)
{
	for (size_t j = 0; j < nc; j++)
		if (strcmp(cs[j].source, "rack-ca") == 0 &&
		    !listed(cs[j].domains, strlen(cs[j].domains), hosts, n))
			store_cert_delete(st, cs[j].id);
}

int
certs_sync(struct store *st, const char *dir, const struct certs_host *hosts, size_t n,
    bool *changed, char *err, size_t errlen)
{
	struct st_cert *cs = NULL;
	struct st_binding *bs = NULL;
	struct tls_id *ca = NULL;
	size_t nc = 0, nb = 0;
	int64_t now = now_unix();
	char cdir[4200];
	int rc = -1;

	*changed = false;
	snprintf(cdir, sizeof(cdir), "%s/certs", dir);
	if (mkdir_p(cdir, 0700) == -1) {
		snprintf(err, errlen, "cannot make %s: %s", cdir, strerror(errno));
		return -1;
	}
	if (store_cert_list(st, &cs, &nc) == -1 || store_binding_list(st, &bs, &nb) == -1) {
		snprintf(err, errlen, "cannot read the rack's certificates: %s", store_error(st));
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		const char *host = hosts[i].name;
		const struct st_cert *c;
		char cert[4500], key[4500];

		if (!safe_host(host)) {
			snprintf(err, errlen, "no certificate for host \"%s\": not a name for a file",
			    host);
			goto out;
		}
		snprintf(cert, sizeof(cert), "%s/%s.pem", cdir, host);
		snprintf(key, sizeof(key), "%s/%s.key", cdir, host);
		if ((c = pick(&hosts[i], cs, nc, bs, nb, now)) == NULL) {
			if (serve_own(st, dir, host, cert, key, cs, nc, &ca, changed, err, errlen) == -1)
				goto out;
			continue;
		}
		if (certs_same_file(c->cert_path, cert) && certs_same_file(c->key_path, key))
			continue;
		if (link_into(c->key_path, key, err, errlen) == -1 ||
		    link_into(c->cert_path, cert, err, errlen) == -1)
			goto out;
		log_info("%s is served with certificate %s (%s)", host, c->id, c->source);
		*changed = true;
		if ((c = own_row(cert, cs, nc)) != NULL)
			store_cert_delete(st, c->id);
	}
	if ((rc = prune(cdir, hosts, n, changed, err, errlen)) == 0)
		prune_rows(st, cs, nc, hosts, n);
out:
	store_cert_list_free(cs, nc);
	free(bs);
	tls_id_free(ca);
	return rc;
}

/* The paths of stored certificate id; makes dir/certs/store. */
static int
store_paths(const char *dir, const char *id, char *cert, char *key, size_t len, char *err,
    size_t errlen)
{
	char sdir[4200];

	snprintf(sdir, sizeof(sdir), "%s/certs/store", dir);
	if (mkdir_p(sdir, 0700) == -1) {
		snprintf(err, errlen, "cannot make %s: %s", sdir, strerror(errno));
		return -1;
	}
	snprintf(cert, len, "%s/%s.pem", sdir, id);
	snprintf(key, len, "%s/%s.key", sdir, id);
	return 0;
}

/* The domains of info, comma-separated, malloc'd. */
static char *
domains_of(const struct tls_cert_info *info)
{
	struct buf b;

	buf_init(&b, 0);
	for (size_t i = 0; i < info->nnames; i++)
		buf_addf(&b, "%s%s", i > 0 ? "," : "", info->names[i]);
	return buf_cstr(&b);
}

static int
record(struct store *st, struct st_cert *c, const char *source, const char *cert,
    const char *key, const struct tls_cert_info *info, char *err, size_t errlen)
{
	str_copy(c->source, sizeof(c->source), source);
	c->domains = domains_of(info);
	c->expires = info->not_after;
	c->cert_path = xstrdup(cert);
	c->key_path = xstrdup(key);
	c->created = now_unix();
	if (store_cert_put(st, c) == -1) {
		snprintf(err, errlen, "cannot record certificate %s: %s", c->id, store_error(st));
		unlink(cert);
		unlink(key);
		store_cert_free(c);
		return -1;
	}
	return 0;
}

int
certs_add(struct store *st, const char *dir, const char *source, const char *cert_pem,
    const char *key_pem, struct st_cert *out, char *err, size_t errlen)
{
	struct tls_cert_info info;
	char cert[4400], key[4400];

	memset(out, 0, sizeof(*out));
	if (tls_cert_info(cert_pem, &info, err, errlen) == -1)
		return -1;
	store_new_id(out->id, sizeof(out->id), "cert-", false);
	if (store_paths(dir, out->id, cert, key, sizeof(cert), err, errlen) == -1)
		return -1;
	if (write_file_atomic(key, key_pem, strlen(key_pem), 0600) == -1 ||
	    write_file_atomic(cert, cert_pem, strlen(cert_pem), 0644) == -1) {
		snprintf(err, errlen, "cannot write certificate %s: %s", cert, strerror(errno));
		unlink(key);
		return -1;
	}
	return record(st, out, source, cert, key, &info, err, errlen);
}

int
certs_generate(struct store *st, const char *dir, const char *const *names, size_t n,
    struct st_cert *out, char *err, size_t errlen)
{
	struct tls_cert_info info;
	struct tls_id *ca = NULL;
	char cert[4400], key[4400], *pem;
	int64_t expires;
	int rc;

	memset(out, 0, sizeof(*out));
	if (n == 0 || n > TLS_NAMES_MAX) {
		snprintf(err, errlen, "a certificate names 1 to %d domains", TLS_NAMES_MAX);
		return -1;
	}
	store_new_id(out->id, sizeof(out->id), "cert-", false);
	if (store_paths(dir, out->id, cert, key, sizeof(cert), err, errlen) == -1)
		return -1;
	rc = issue(dir, names, n, cert, key, &ca, &expires, err, errlen);
	tls_id_free(ca);
	if (rc == -1)
		return -1;
	pem = read_file(cert, 256 * 1024, NULL);
	rc = pem != NULL ? tls_cert_info(pem, &info, err, errlen) : -1;
	free(pem);
	if (rc == -1) {
		snprintf(err, errlen, "cannot read back %s", cert);
		return -1;
	}
	return record(st, out, "generated", cert, key, &info, err, errlen);
}

/* Unlinks the domain files of dir/certs that are the same file as path. */
static void
unlink_served(const char *dir, const char *path)
{
	char cdir[4200];
	struct stat want;
	struct dirent *de;
	DIR *d;

	snprintf(cdir, sizeof(cdir), "%s/certs", dir);
	if (stat(path, &want) == -1 || (d = opendir(cdir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		char p[4500];
		struct stat sb;

		snprintf(p, sizeof(p), "%s/%s", cdir, de->d_name);
		if (lstat(p, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_ino == want.st_ino &&
		    sb.st_dev == want.st_dev)
			unlink(p);
	}
	closedir(d);
}

int
certs_delete(struct store *st, const char *dir, const char *id, char *err, size_t errlen)
{
	struct st_binding *bs = NULL;
	struct st_cert c;
	size_t nb = 0;
	int rc = -1;

	if (store_cert_get(st, id, &c) == -1) {
		snprintf(err, errlen, "no certificate %s; cx certs lists them", id);
		return -1;
	}
	if (strcmp(c.source, "rack-ca") == 0) {
		snprintf(err, errlen, "%s is the rack's own certificate of %s: it goes with its domain",
		    id, c.domains);
		goto out;
	}
	store_binding_list(st, &bs, &nb);
	for (size_t i = 0; i < nb; i++) {
		if (strcmp(bs[i].cert, id) == 0) {
			snprintf(err, errlen, "%s serves %s:%d of app %s; bind another with cx ssl "
			    "update first", id, bs[i].service, bs[i].port, bs[i].app);
			goto out;
		}
	}
	if (store_cert_delete(st, id) == -1) {
		snprintf(err, errlen, "cannot delete %s: %s", id, store_error(st));
		goto out;
	}
	unlink_served(dir, c.key_path);
	unlink_served(dir, c.cert_path);
	unlink(c.key_path);
	unlink(c.cert_path);
	rc = 0;
out:
	free(bs);
	store_cert_free(&c);
	return rc;
}
