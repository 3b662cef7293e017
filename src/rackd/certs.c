/*
 * certs.c — see certs.h. A host's certificate is issued when its files are
 * missing, never replaced while they are there; the CA is read only when
 * there is something to sign.
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
listed(const char *name, size_t len, const char *const *hosts, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strlen(hosts[i]) == len && memcmp(hosts[i], name, len) == 0)
			return true;
	return false;
}

/* Issues host's certificate into cert/key, loading the CA into *ca first. */
static int
issue(const char *dir, const char *host, const char *cert, const char *key,
    struct tls_id **ca, char *err, size_t errlen)
{
	const char *names[1] = { host };
	struct tls_id *leaf;
	int rc;

	if (*ca == NULL) {
		char cap[4200], cak[4200];

		snprintf(cap, sizeof(cap), "%s/ca.pem", dir);
		snprintf(cak, sizeof(cak), "%s/ca.key", dir);
		if ((*ca = tls_id_load(cap, cak, err, errlen)) == NULL)
			return -1;
	}
	leaf = tls_issue(*ca, strlen(host) <= CN_MAX ? host : "cx router", names, 1,
	    TLS_USAGE_SERVER, TLS_LEAF_DAYS, err, errlen);
	if (leaf == NULL)
		return -1;
	rc = tls_id_save(leaf, cert, key, err, errlen);
	tls_id_free(leaf);
	return rc;
}

/* Removes the files of dir/certs whose host is not listed. */
static int
prune(const char *cdir, const char *const *hosts, size_t n, bool *changed, char *err,
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

		if (de->d_name[0] == '.')
			continue;
		if (len > 4 && (strcmp(de->d_name + len - 4, ".pem") == 0 ||
		    strcmp(de->d_name + len - 4, ".key") == 0) &&
		    listed(de->d_name, len - 4, hosts, n))
			continue;
		snprintf(path, sizeof(path), "%s/%s", cdir, de->d_name);
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

int
certs_sync(const char *dir, const char *const *hosts, size_t n, bool *changed, char *err,
    size_t errlen)
{
	struct tls_id *ca = NULL;
	char cdir[4200];
	int rc = -1;

	*changed = false;
	snprintf(cdir, sizeof(cdir), "%s/certs", dir);
	if (mkdir_p(cdir, 0700) == -1) {
		snprintf(err, errlen, "cannot make %s: %s", cdir, strerror(errno));
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		char cert[4500], key[4500];
		struct stat sb;

		if (!safe_host(hosts[i])) {
			snprintf(err, errlen, "no certificate for host \"%s\": not a name for a file",
			    hosts[i]);
			goto out;
		}
		snprintf(cert, sizeof(cert), "%s/%s.pem", cdir, hosts[i]);
		snprintf(key, sizeof(key), "%s/%s.key", cdir, hosts[i]);
		if (stat(cert, &sb) == 0 && stat(key, &sb) == 0)
			continue;
		if (issue(dir, hosts[i], cert, key, &ca, err, errlen) == -1)
			goto out;
		log_info("issued the certificate of %s (%s)", hosts[i], cert);
		*changed = true;
	}
	rc = prune(cdir, hosts, n, changed, err, errlen);
out:
	tls_id_free(ca);
	return rc;
}
