/*
 * api_tls.c — where the rack's API listens over HTTPS, and with which
 * certificate. api.c runs the connections; this file decides the address
 * (api_tls_address), issues the API's certificate from the rack's CA and
 * makes the server context that sends it with the CA after it, so that a
 * client that trusts nothing yet can pin the CA on first use (cx login).
 *
 * The certificate (racks/NAME/api.pem, its key api.key 0600) is issued anew
 * each time the listener opens: for the address it listens on (IP SAN) and
 * the rack's name (DNS SAN). Clients pin the CA, never this leaf, so a new
 * one costs them nothing, and an address that changed is never left with a
 * certificate that names the old one.
 */
#include "rackd/api_tls.h"

#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "common/tls.h"
#include "rackd/rack.h"

void
api_tls_address(struct rack *r, char *out, size_t outlen)
{
	/* Host racks answer on their public address; loopback and lab racks
	 * on this host only. */
	snprintf(out, outlen, "%s", r->host ? r->public_addr : "127.0.0.1");
}

void
api_tls_port(struct rack *r, char *out, size_t outlen)
{
	rack_param(r, "api_port", out, outlen);
}

struct tls_ctx *
api_tls_context(struct rack *r, const char *ip, char *err, size_t errlen)
{
	char cert[4200], key[4200], fp[TLS_FINGERPRINT_SIZE];
	const char *names[2] = { ip, r->name };
	struct tls_id *ca, *leaf = NULL;
	struct tls_ctx *ctx = NULL;

	snprintf(cert, sizeof(cert), "%s/ca.pem", r->dir);
	snprintf(key, sizeof(key), "%s/ca.key", r->dir);
	if ((ca = tls_id_load(cert, key, err, errlen)) == NULL)
		return NULL;
	leaf = tls_issue(ca, r->name, names, 2, TLS_USAGE_SERVER, TLS_LEAF_DAYS, err, errlen);
	if (leaf == NULL)
		goto out;
	snprintf(cert, sizeof(cert), "%s/api.pem", r->dir);
	snprintf(key, sizeof(key), "%s/api.key", r->dir);
	if (tls_id_save(leaf, cert, key, err, errlen) == -1)
		goto out;
	if ((ctx = tls_ctx_server_new(leaf, NULL, err, errlen)) == NULL)
		goto out;
	if (tls_ctx_add_chain(ctx, ca, err, errlen) == -1) {
		tls_ctx_free(ctx);
		ctx = NULL;
		goto out;
	}
	tls_id_fingerprint(ca, fp);
	log_info("api: certificate %s for %s and %s, issued by the rack's CA (SHA-256 %s)", cert,
	    ip, r->name, fp);
out:
	tls_id_free(leaf);
	tls_id_free(ca);
	return ctx;
}
