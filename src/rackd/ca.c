/*
 * ca.c — see ca.h. The key is written before the certificate (tls_id_save),
 * so a certificate on disk always has its key; a key without a certificate
 * (a crash between the two writes) is refused rather than replaced, since a
 * key is never thrown away by the daemon: the error says what to remove.
 */
#include "rackd/ca.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "common/log.h"
#include "common/tls.h"

static int
exists(const char *path, bool *yes, char *err, size_t errlen)
{
	struct stat sb;

	if (lstat(path, &sb) == 0) {
		*yes = true;
		return 0;
	}
	if (errno == ENOENT) {
		*yes = false;
		return 0;
	}
	snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
	return -1;
}

char *
ca_ensure(const char *dir, const char *rack, bool *made, char *err, size_t errlen)
{
	char cert[4200], key[4200], cn[128], want[128], fp[TLS_FINGERPRINT_SIZE];
	bool have_cert, have_key;
	struct tls_id *ca;
	char *pem;

	*made = false;
	snprintf(cert, sizeof(cert), "%s/ca.pem", dir);
	snprintf(key, sizeof(key), "%s/ca.key", dir);
	if (exists(cert, &have_cert, err, errlen) == -1 || exists(key, &have_key, err, errlen) == -1)
		return NULL;
	if (have_cert != have_key) {
		snprintf(err, errlen, "%s exists without %s: the rack's CA is incomplete; remove %s "
		    "to make a new CA", have_cert ? cert : key, have_cert ? key : cert,
		    have_cert ? cert : key);
		return NULL;
	}
	if (!have_cert) {
		if ((ca = tls_ca_new(rack, err, errlen)) == NULL)
			return NULL;
		if (tls_id_save(ca, cert, key, err, errlen) == -1) {
			tls_id_free(ca);
			return NULL;
		}
		*made = true;
	} else if ((ca = tls_id_load(cert, key, err, errlen)) == NULL) {
		return NULL;
	}
	snprintf(want, sizeof(want), "cx rack %s CA", rack);
	tls_id_cn(ca, cn, sizeof(cn));
	if (!tls_id_is_ca(ca) || strcmp(cn, want) != 0) {
		snprintf(err, errlen, "%s is not the CA of rack %s (its subject is \"%s\")", cert, rack,
		    cn);
		tls_id_free(ca);
		return NULL;
	}
	tls_id_fingerprint(ca, fp);
	log_info("%s the rack's CA %s (SHA-256 %s)", *made ? "made" : "loaded", cert, fp);
	pem = tls_id_cert_pem(ca, NULL);
	tls_id_free(ca);
	return pem;
}
