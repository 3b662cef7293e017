/*
 * certs.h — the public router's server certificates: one per service
 * domain it routes, signed by the rack's CA (ca.h), kept in the rack's
 * directory as certs/DOMAIN.pem (0644) and certs/DOMAIN.key (0600, the
 * owner's alone), where cx-router --certs reads them (docs/routes.md).
 */
#ifndef CX_RACK_CERTS_H
#define CX_RACK_CERTS_H

#include <stdbool.h>
#include <stddef.h>

/* Makes dir/certs hold the certificates of exactly hosts[0..n): issues each
 * one missing (subject CN and subjectAltName the host, serverAuth, valid
 * TLS_LEAF_DAYS, signed with dir/ca.pem and dir/ca.key) and removes those
 * of hosts no longer listed. *changed is set when a file was written or
 * removed. -1 with err, one line naming the host or file, at the first
 * failure (what was done before it stays done). */
int certs_sync(const char *dir, const char *const *hosts, size_t n, bool *changed, char *err,
    size_t errlen);

#endif
