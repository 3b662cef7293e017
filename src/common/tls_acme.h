/*
 * tls_acme.h — the certificate and ACME crypto the rack needs beside tls.h:
 * what a PEM certificate says (names, validity), whether a key belongs to
 * it, a certificate signing request, and the JSON Web Signatures (ES256) and
 * JWK thumbprint of RFC 8555 / RFC 7515 / RFC 7638. OpenSSL stays inside
 * this module and tls.c.
 *
 * Every function that can fail takes an error buffer and writes one line.
 */
#ifndef CX_TLS_ACME_H
#define CX_TLS_ACME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TLS_NAMES_MAX 32

/* What a certificate says. */
struct tls_cert_info {
	char cn[256];               /* subject CN, "" if none */
	char names[TLS_NAMES_MAX][254]; /* subjectAltName DNS and IP entries, lower case */
	size_t nnames;              /* the CN alone when the certificate has no SAN */
	int64_t not_before;         /* unix seconds */
	int64_t not_after;
	bool is_ca;
};

/* Reads the first certificate of cert_pem. -1 with err (not PEM, more than
 * TLS_NAMES_MAX names). */
int tls_cert_info(const char *cert_pem, struct tls_cert_info *out, char *err, size_t errlen);

/* What `cx certs import` accepts: cert_pem's first certificate parses, it is
 * not a CA's, now lies inside its validity, and key_pem is its private key.
 * Fills *out. -1 with err saying which of these failed. */
int tls_pem_pair_check(const char *cert_pem, const char *key_pem, int64_t now,
    struct tls_cert_info *out, char *err, size_t errlen);

/* Whether certificate name `name` (maybe "*.example.com": one label) covers
 * host (lower case). */
bool tls_name_covers(const char *name, const char *host);
/* Whether one of info's names covers host. */
bool tls_cert_covers(const struct tls_cert_info *info, const char *host);

/* An ACME account key (EC P-256). */
struct tls_acme_key;

/* Loads the PEM key at path, or makes one and writes it there (0600) when
 * the file does not exist (*made set). NULL with err. */
struct tls_acme_key *tls_acme_key_load(const char *path, bool *made, char *err, size_t errlen);
void tls_acme_key_free(struct tls_acme_key *k);

/* The public key as a JWK ({"crv","kty","x","y"}, members in the order RFC
 * 7638 hashes them), malloc'd. */
char *tls_acme_jwk(const struct tls_acme_key *k);

/* base64url(SHA-256(JWK)), the thumbprint of RFC 7638, into out (44 bytes
 * suffice: 43 characters and NUL). */
void tls_acme_thumbprint(const struct tls_acme_key *k, char out[48]);

/* A flattened JWS (RFC 7515, ES256) as ACME wants it: protected header
 * {"alg":"ES256", "jwk" (kid NULL) or "kid", "nonce", "url"}, payload the
 * JSON text given ("" for POST-as-GET), malloc'd. NULL with err if signing
 * failed. */
char *tls_acme_jws(const struct tls_acme_key *k, const char *kid, const char *nonce,
    const char *url, const char *payload, char *err, size_t errlen);

/* A CSR for names (the first also the subject CN when it fits) with a fresh
 * P-256 key: the DER, base64url, malloc'd, and the key as PEM in *key_pem
 * (malloc'd, caller frees). NULL with err. */
char *tls_acme_csr(const char *const *names, size_t n, char **key_pem, char *err,
    size_t errlen);

/* base64url without padding of n bytes into out (4 * ceil(n / 3) + 1 bytes
 * suffice). */
void tls_b64url(const void *data, size_t n, char *out);

/*
 * Chains (these two live at the end of tls.c, beside struct tls_id).
 */
struct tls_id;
struct tls_ctx;

/* tls_id_load, and the certificates that follow the first in cert_path
 * (the issuer's chain) ride along with the identity and its shares. */
struct tls_id *tls_id_load_chain(const char *cert_path, const char *key_path, char *err,
    size_t errlen);

/* Makes a server context send, after an identity's certificate, the chain
 * tls_id_load_chain read with it. */
void tls_ctx_send_chains(struct tls_ctx *ctx);

#endif
