/*
 * tls_acme.c — see tls_acme.h. Certificates are read with OpenSSL's X509
 * API; signatures are made with EVP and turned from DER (what OpenSSL
 * gives) into the fixed-length r||s that JWS ES256 wants.
 */
#include "common/tls_acme.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "common/util.h"

#define KEY_MAX (64 * 1024)

struct tls_acme_key {
	EVP_PKEY *key;
};

/* err gets "WHAT: REASON" with OpenSSL's newest reason; the queue is emptied. */
static void
ossl_err(char *err, size_t errlen, const char *what)
{
	unsigned long e = ERR_peek_last_error();
	char reason[256] = "unknown error";

	if (e != 0)
		ERR_error_string_n(e, reason, sizeof(reason));
	ERR_clear_error();
	snprintf(err, errlen, "%s: %s", what, reason);
}

void
tls_b64url(const void *data, size_t n, char *out)
{
	static const char tab[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	const unsigned char *p = data;
	size_t o = 0, i = 0;

	for (; i + 2 < n; i += 3) {
		out[o++] = tab[p[i] >> 2];
		out[o++] = tab[((p[i] & 3) << 4) | (p[i + 1] >> 4)];
		out[o++] = tab[((p[i + 1] & 15) << 2) | (p[i + 2] >> 6)];
		out[o++] = tab[p[i + 2] & 63];
	}
	if (n - i == 1) {
		out[o++] = tab[p[i] >> 2];
		out[o++] = tab[(p[i] & 3) << 4];
	} else if (n - i == 2) {
		out[o++] = tab[p[i] >> 2];
		out[o++] = tab[((p[i] & 3) << 4) | (p[i + 1] >> 4)];
		out[o++] = tab[(p[i + 1] & 15) << 2];
	}
	out[o] = '\0';
}

static char *
b64url_dup(const void *data, size_t n)
{
	char *out = xmalloc(4 * (n / 3 + 1) + 1);

	tls_b64url(data, n, out);
	return out;
}

static int64_t
asn1_unix(const ASN1_TIME *t)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	if (ASN1_TIME_to_tm(t, &tm) != 1)
		return 0;
	return (int64_t)timegm(&tm);
}

static void
lower(char *s)
{
	for (; *s != '\0'; s++)
		*s = (char)tolower((unsigned char)*s);
}

static int
add_name(struct tls_cert_info *out, const char *name, size_t len, char *err, size_t errlen)
{
	if (out->nnames == TLS_NAMES_MAX) {
		snprintf(err, errlen, "the certificate has more than %d names", TLS_NAMES_MAX);
		return -1;
	}
	if (len >= sizeof(out->names[0]) || memchr(name, '\0', len) != NULL) {
		snprintf(err, errlen, "the certificate has a name that is not a DNS name");
		return -1;
	}
	memcpy(out->names[out->nnames], name, len);
	out->names[out->nnames][len] = '\0';
	lower(out->names[out->nnames]);
	out->nnames++;
	return 0;
}

static int
x509_info(X509 *x, struct tls_cert_info *out, char *err, size_t errlen)
{
	GENERAL_NAMES *sans;
	X509_NAME *subj = X509_get_subject_name(x);
	int rc = 0;

	memset(out, 0, sizeof(*out));
	if (subj != NULL && X509_NAME_get_text_by_NID(subj, NID_commonName, out->cn,
	    sizeof(out->cn)) < 0)
		out->cn[0] = '\0';
	out->not_before = asn1_unix(X509_get0_notBefore(x));
	out->not_after = asn1_unix(X509_get0_notAfter(x));
	out->is_ca = X509_check_ca(x) != 0;
	sans = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	for (int i = 0; sans != NULL && rc == 0 && i < sk_GENERAL_NAME_num(sans); i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(sans, i);

		if (g->type == GEN_DNS) {
			rc = add_name(out, (const char *)ASN1_STRING_get0_data(g->d.dNSName),
			    (size_t)ASN1_STRING_length(g->d.dNSName), err, errlen);
		} else if (g->type == GEN_IPADD && ASN1_STRING_length(g->d.iPAddress) == 4) {
			char ip[INET_ADDRSTRLEN];

			inet_ntop(AF_INET, ASN1_STRING_get0_data(g->d.iPAddress), ip, sizeof(ip));
			rc = add_name(out, ip, strlen(ip), err, errlen);
		}
	}
	GENERAL_NAMES_free(sans);
	if (rc == 0 && out->nnames == 0 && out->cn[0] != '\0')
		rc = add_name(out, out->cn, strlen(out->cn), err, errlen);
	return rc;
}

static X509 *
read_cert(const char *pem, char *err, size_t errlen)
{
	BIO *b = BIO_new_mem_buf(pem, -1);
	X509 *x = b != NULL ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;

	BIO_free(b);
	if (x == NULL)
		ossl_err(err, errlen, "not a PEM certificate");
	return x;
}

static EVP_PKEY *
read_key(const char *pem, char *err, size_t errlen)
{
	BIO *b = BIO_new_mem_buf(pem, -1);
	EVP_PKEY *k = b != NULL ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;

	BIO_free(b);
	if (k == NULL)
		ossl_err(err, errlen, "not a PEM private key");
	return k;
}

int
tls_cert_info(const char *cert_pem, struct tls_cert_info *out, char *err, size_t errlen)
{
	X509 *x = read_cert(cert_pem, err, errlen);
	int rc;

	if (x == NULL)
		return -1;
	rc = x509_info(x, out, err, errlen);
	X509_free(x);
	return rc;
}

int
tls_pem_pair_check(const char *cert_pem, const char *key_pem, int64_t now,
    struct tls_cert_info *out, char *err, size_t errlen)
{
	X509 *x = NULL;
	EVP_PKEY *k = NULL;
	int rc = -1;

	if ((x = read_cert(cert_pem, err, errlen)) == NULL)
		goto out;
	if (x509_info(x, out, err, errlen) == -1)
		goto out;
	if ((k = read_key(key_pem, err, errlen)) == NULL)
		goto out;
	if (X509_check_private_key(x, k) != 1) {
		ERR_clear_error();
		snprintf(err, errlen, "the key is not the certificate's (they do not match)");
		goto out;
	}
	if (out->is_ca) {
		snprintf(err, errlen, "the certificate is a CA's, not a server's");
		goto out;
	}
	if (out->nnames == 0) {
		snprintf(err, errlen, "the certificate names no domain (no subjectAltName or CN)");
		goto out;
	}
	if (now >= out->not_after) {
		snprintf(err, errlen, "the certificate has expired (%lld seconds ago)",
		    (long long)(now - out->not_after));
		goto out;
	}
	if (now < out->not_before) {
		snprintf(err, errlen, "the certificate is not valid yet");
		goto out;
	}
	rc = 0;
out:
	X509_free(x);
	EVP_PKEY_free(k);
	return rc;
}

bool
tls_name_covers(const char *name, const char *host)
{
	const char *dot;

	if (strcasecmp(name, host) == 0)
		return true;
	if (strncmp(name, "*.", 2) != 0 || (dot = strchr(host, '.')) == NULL || dot == host)
		return false;
	return strcasecmp(name + 2, dot + 1) == 0;
}

bool
tls_cert_covers(const struct tls_cert_info *info, const char *host)
{
	for (size_t i = 0; i < info->nnames; i++)
		if (tls_name_covers(info->names[i], host))
			return true;
	return false;
}

static EVP_PKEY *
new_p256(char *err, size_t errlen)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");

	if (k == NULL)
		ossl_err(err, errlen, "cannot make a P-256 key");
	return k;
}

static char *
key_pem(EVP_PKEY *k, size_t *len)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *data, *out;
	long n;

	if (b == NULL || PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL) != 1)
		abort();    /* in memory: only out-of-memory fails */
	n = BIO_get_mem_data(b, &data);
	out = xstrndup(data, (size_t)n);
	if (len != NULL)
		*len = (size_t)n;
	BIO_free(b);
	return out;
}

struct tls_acme_key *
tls_acme_key_load(const char *path, bool *made, char *err, size_t errlen)
{
	struct tls_acme_key *k = xcalloc(1, sizeof(*k));
	size_t len = 0;
	char *pem;

	*made = false;
	if ((pem = read_file(path, KEY_MAX, &len)) != NULL) {
		char why[256];

		k->key = read_key(pem, why, sizeof(why));
		explicit_bzero(pem, len);
		free(pem);
		if (k->key == NULL) {
			snprintf(err, errlen, "%s: %s", path, why);
			goto fail;
		}
		if (EVP_PKEY_get_base_id(k->key) != EVP_PKEY_EC || EVP_PKEY_get_bits(k->key) != 256) {
			snprintf(err, errlen, "%s is not a P-256 key", path);
			goto fail;
		}
		return k;
	}
	if (errno != ENOENT) {
		snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
		goto fail;
	}
	if ((k->key = new_p256(err, errlen)) == NULL)
		goto fail;
	pem = key_pem(k->key, &len);
	if (write_file_atomic(path, pem, len, 0600) == -1) {
		snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
		explicit_bzero(pem, len);
		free(pem);
		goto fail;
	}
	explicit_bzero(pem, len);
	free(pem);
	*made = true;
	return k;
fail:
	tls_acme_key_free(k);
	return NULL;
}

void
tls_acme_key_free(struct tls_acme_key *k)
{
	if (k == NULL)
		return;
	EVP_PKEY_free(k->key);
	free(k);
}

/* The public point's coordinates, 32 bytes each. */
static void
point(const struct tls_acme_key *k, unsigned char x[32], unsigned char y[32])
{
	BIGNUM *bx = NULL, *by = NULL;

	if (EVP_PKEY_get_bn_param(k->key, OSSL_PKEY_PARAM_EC_PUB_X, &bx) != 1 ||
	    EVP_PKEY_get_bn_param(k->key, OSSL_PKEY_PARAM_EC_PUB_Y, &by) != 1 ||
	    BN_bn2binpad(bx, x, 32) != 32 || BN_bn2binpad(by, y, 32) != 32)
		abort();    /* a P-256 key always has them */
	BN_free(bx);
	BN_free(by);
}

char *
tls_acme_jwk(const struct tls_acme_key *k)
{
	unsigned char x[32], y[32];
	char bx[48], by[48];

	point(k, x, y);
	tls_b64url(x, 32, bx);
	tls_b64url(y, 32, by);
	return xasprintf("{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"%s\",\"y\":\"%s\"}", bx, by);
}

void
tls_acme_thumbprint(const struct tls_acme_key *k, char out[48])
{
	unsigned char md[32];
	char *jwk = tls_acme_jwk(k);
	unsigned int n = 0;

	if (EVP_Digest(jwk, strlen(jwk), md, &n, EVP_sha256(), NULL) != 1)
		abort();
	free(jwk);
	tls_b64url(md, 32, out);
}

/* A JSON string literal of s (ACME URLs and nonces are plain ASCII, but a
 * quote or backslash must not break the header). */
static void
json_str(struct buf *b, const char *s)
{
	buf_add(b, "\"", 1);
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			buf_add(b, "\\", 1);
		if ((unsigned char)*s >= 0x20)
			buf_add(b, s, 1);
	}
	buf_add(b, "\"", 1);
}

char *
tls_acme_jws(const struct tls_acme_key *k, const char *kid, const char *nonce,
    const char *url, const char *payload, char *err, size_t errlen)
{
	EVP_MD_CTX *md = NULL;
	ECDSA_SIG *sig = NULL;
	unsigned char der[128], rs[64];
	const unsigned char *p = der;
	size_t derlen = sizeof(der);
	char *prot64 = NULL, *pay64 = NULL, *signing = NULL, *out = NULL, sig64[100];
	struct buf h;

	buf_init(&h, 0);
	buf_adds(&h, "{\"alg\":\"ES256\",");
	if (kid != NULL) {
		buf_adds(&h, "\"kid\":");
		json_str(&h, kid);
	} else {
		char *jwk = tls_acme_jwk(k);

		buf_addf(&h, "\"jwk\":%s", jwk);
		free(jwk);
	}
	buf_adds(&h, ",\"nonce\":");
	json_str(&h, nonce);
	buf_adds(&h, ",\"url\":");
	json_str(&h, url);
	buf_adds(&h, "}");
	prot64 = b64url_dup(h.data, h.len);
	pay64 = b64url_dup(payload, strlen(payload));
	signing = xasprintf("%s.%s", prot64, pay64);
	if ((md = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, k->key) != 1 ||
	    EVP_DigestSign(md, der, &derlen, (const unsigned char *)signing, strlen(signing)) != 1) {
		ossl_err(err, errlen, "cannot sign the ACME request");
		goto out;
	}
	if ((sig = d2i_ECDSA_SIG(NULL, &p, (long)derlen)) == NULL ||
	    BN_bn2binpad(ECDSA_SIG_get0_r(sig), rs, 32) != 32 ||
	    BN_bn2binpad(ECDSA_SIG_get0_s(sig), rs + 32, 32) != 32) {
		ossl_err(err, errlen, "cannot read the ACME request's signature");
		goto out;
	}
	tls_b64url(rs, 64, sig64);
	out = xasprintf("{\"protected\":\"%s\",\"payload\":\"%s\",\"signature\":\"%s\"}", prot64,
	    pay64, sig64);
out:
	ECDSA_SIG_free(sig);
	EVP_MD_CTX_free(md);
	buf_free(&h);
	free(prot64);
	free(pay64);
	free(signing);
	return out;
}

char *
tls_acme_csr(const char *const *names, size_t n, char **key_out, char *err, size_t errlen)
{
	X509_REQ *req = NULL;
	EVP_PKEY *k = NULL;
	X509_NAME *subj;
	STACK_OF(X509_EXTENSION) *exts = NULL;
	X509_EXTENSION *ext;
	unsigned char *der = NULL;
	struct buf san;
	char *out = NULL;
	int derlen;

	*key_out = NULL;
	buf_init(&san, 0);
	if (n == 0) {
		snprintf(err, errlen, "a CSR needs a name");
		return NULL;
	}
	for (size_t i = 0; i < n; i++)
		buf_addf(&san, "%sDNS:%s", i > 0 ? "," : "", names[i]);
	if ((k = new_p256(err, errlen)) == NULL)
		goto out;
	if ((req = X509_REQ_new()) == NULL || (subj = X509_REQ_get_subject_name(req)) == NULL)
		goto fail;
	if (strlen(names[0]) <= 64 && X509_NAME_add_entry_by_NID(subj, NID_commonName,
	    MBSTRING_ASC, (const unsigned char *)names[0], -1, -1, 0) != 1)
		goto fail;
	buf_add(&san, "", 1);
	if ((exts = sk_X509_EXTENSION_new_null()) == NULL ||
	    (ext = X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name, san.data)) == NULL)
		goto fail;
	sk_X509_EXTENSION_push(exts, ext);
	if (X509_REQ_add_extensions(req, exts) != 1 || X509_REQ_set_pubkey(req, k) != 1 ||
	    X509_REQ_sign(req, k, EVP_sha256()) <= 0 || (derlen = i2d_X509_REQ(req, &der)) <= 0)
		goto fail;
	out = b64url_dup(der, (size_t)derlen);
	*key_out = key_pem(k, NULL);
	goto out;
fail:
	ossl_err(err, errlen, "cannot make the certificate signing request");
out:
	OPENSSL_free(der);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	X509_REQ_free(req);
	EVP_PKEY_free(k);
	buf_free(&san);
	return out;
}
