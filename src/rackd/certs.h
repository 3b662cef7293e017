/*
 * certs.h — the rack's certificates (cx certs) and the public router's
 * server certificates made of them.
 *
 * Every certificate is a row of the store (struct st_cert) and two files
 * under the rack's directory:
 *   certs/store/ID.pem + ID.key   imported, generated and ACME certificates
 *   certs/DOMAIN.pem + DOMAIN.key what cx-router --certs serves for DOMAIN
 *                                 (docs/routes.md): either the domain's own
 *                                 certificate (source rack-ca, issued by the
 *                                 rack's CA, its row pointing here), or a
 *                                 hard link to a stored one.
 * Keys are 0600 (the owner's alone), certificates 0644, the directories 0700.
 *
 * Which certificate a domain is served with: the one bound to its service's
 * endpoint (cx ssl update) when that names the domain and has not expired;
 * else the newest valid ACME one for the domain; else its own rack-CA one.
 */
#ifndef CX_RACK_CERTS_H
#define CX_RACK_CERTS_H

#include <stdbool.h>
#include <stddef.h>

#include "rackd/store.h"

/* A routed host and the service it belongs to. */
struct certs_host {
	const char *name;
	const char *app;
	const char *service;
};

/* The endpoint port bindings name (the router's TLS listener). */
#define CERTS_TLS_PORT 443

/* Makes dir/certs serve exactly hosts[0..n): links each host's chosen
 * certificate in, issues a rack-CA one where there is none (subject CN and
 * subjectAltName the host, serverAuth, TLS_LEAF_DAYS, signed with dir/ca.pem
 * and dir/ca.key; again when a third of its life is left), and removes the
 * files and rack-CA rows of hosts no longer listed. A domain file left by an
 * older daemon (no row) is adopted. *changed is set when a file was written
 * or removed. -1 with err, one line naming the host or file, at the first
 * failure (what was done before it stays done). */
int certs_sync(struct store *st, const char *dir, const struct certs_host *hosts, size_t n,
    bool *changed, char *err, size_t errlen);

/* Stores a certificate (with its chain) and its key as a new row of source
 * `source` ("imported", "acme"); the caller has checked the pair
 * (tls_pem_pair_check). Fills *out (free with store_cert_free). -1 with err. */
int certs_add(struct store *st, const char *dir, const char *source, const char *cert_pem,
    const char *key_pem, struct st_cert *out, char *err, size_t errlen);

/* Issues a certificate for names[0..n) (DNS names or IP addresses, the
 * first its CN) signed by the rack's CA and stores it as "generated". */
int certs_generate(struct store *st, const char *dir, const char *const *names, size_t n,
    struct st_cert *out, char *err, size_t errlen);

/* Deletes a stored certificate and its files, and the domain files linked
 * to it (the next certs_sync serves those domains otherwise). Refused, with
 * err, for a rack-CA one (it goes with its domain) and one still bound. */
int certs_delete(struct store *st, const char *dir, const char *id, char *err, size_t errlen);

/* Whether paths a and b are one file (a domain served with a stored one). */
bool certs_same_file(const char *a, const char *b);

#endif
