/*
 * tls.c — see tls.h. The only file that includes OpenSSL.
 *
 * Certificates are built field by field (no config-string parsing), so a
 * name given by a caller can never add an extension of its own; names are
 * checked before they go in.
 */
#include "common/tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "common/util.h"

/* Bounds of what is read: a PEM certificate or key of ours is ~1 KB. */
#define PEM_MAX (256 * 1024)

struct tls_id {
	X509 *cert;
	EVP_PKEY *key;      /* NULL for a certificate alone */
};

struct tls_ctx {
	SSL_CTX *ssl;
	bool client;
	bool insecure;      /* a client that verifies nothing (tls_ctx_client_insecure_new) */
	tls_sni_fn pick;    /* tls_ctx_sni_new's */
	/* tls_ctx_peers_new's: the trusted CAs and the CN each one's clients must have */
	X509 **peer_cas;
	char **peer_names;
	size_t npeers;
	/* tls_ctx_set_alpn's: the protocols in wire form, ours first */
	unsigned char alpn[64];
	unsigned alpn_len;
};

struct tls_conn {
	SSL *ssl;
	short events;
	char peer[TLS_PEER_NAME_MAX];  /* tls_ctx_peers_new: the peer the client proved to be */
	bool notified;      /* close_notify tried */
	void *arg;          /* for the context's tls_sni_fn */
	char err[512];
};

/* err gets "WHAT: REASON" with OpenSSL's reason for the newest error on its
 * queue (or "unknown error"), and the queue is emptied. */
static void
ossl_error(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
ossl_error(char *err, size_t errlen, const char *fmt, ...)
{
	char what[512];
	const char *reason;
	unsigned long e;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	e = ERR_peek_last_error();
	reason = e != 0 ? ERR_reason_error_string(e) : NULL;
	snprintf(err, errlen, "%s: %s", what, reason != NULL ? reason : "unknown error");
	ERR_clear_error();
}

static EVP_PKEY *
new_key(char *err, size_t errlen)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");

	if (k == NULL)
		ossl_error(err, errlen, "cannot make a P-256 key");
	return k;
}

/* A random positive 127-bit serial, as RFC 5280 asks (at most 20 octets,
 * unpredictable). */
static int
set_serial(X509 *x)
{
	unsigned char rnd[16];
	BIGNUM *bn;
	int rc = -1;

	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		return -1;
	rnd[0] &= 0x7f;
	rnd[0] |= 0x40;     /* never a short (or zero) serial */
	bn = BN_bin2bn(rnd, sizeof(rnd), NULL);
	if (bn != NULL && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL)
		rc = 0;
	BN_free(bn);
	return rc;
}

/* Adds extension nid with value (OpenSSL's own syntax, fixed strings only). */
static int
add_ext(X509 *x, X509V3_CTX *v3, int nid, const char *value)
{
	X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, v3, nid, value);
	int rc;

	if (e == NULL)
		return -1;
	rc = X509_add_ext(x, e, -1) == 1 ? 0 : -1;
	X509_EXTENSION_free(e);
	return rc;
}

/* A certificate for key, named cn, issued by issuer/ikey (itself when
 * issuer is NULL), valid `days` days from five minutes ago, without its
 * extensions yet. */
static X509 *
new_cert(EVP_PKEY *key, const char *cn, X509 *issuer, int days)
{
	X509 *x = X509_new();
	X509_NAME *name;

	if (x == NULL)
		return NULL;
	name = X509_get_subject_name(x);
	if (X509_set_version(x, X509_VERSION_3) != 1 || set_serial(x) == -1 ||
	    X509_gmtime_adj(X509_getm_notBefore(x), -300) == NULL ||
	    X509_time_adj_ex(X509_getm_notAfter(x), days, 0, NULL) == NULL ||
	    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1,
	    -1, 0) != 1 ||
	    X509_set_issuer_name(x, issuer != NULL ? X509_get_subject_name(issuer) : name) != 1 ||
	    X509_set_pubkey(x, key) != 1) {
		X509_free(x);
		return NULL;
	}
	return x;
}

struct tls_id *
tls_ca_new(const char *rack, char *err, size_t errlen)
{
	struct tls_id *id = xcalloc(1, sizeof(*id));
	X509V3_CTX v3;
	char cn[128];

	snprintf(cn, sizeof(cn), "cx rack %s CA", rack);
	if ((id->key = new_key(err, errlen)) == NULL)
		goto fail;
	if ((id->cert = new_cert(id->key, cn, NULL, TLS_CA_DAYS)) == NULL)
		goto fail_ossl;
	X509V3_set_ctx(&v3, id->cert, id->cert, NULL, NULL, 0);
	if (add_ext(id->cert, &v3, NID_basic_constraints, "critical,CA:TRUE") == -1 ||
	    add_ext(id->cert, &v3, NID_key_usage, "critical,keyCertSign,cRLSign") == -1 ||
	    add_ext(id->cert, &v3, NID_subject_key_identifier, "hash") == -1 ||
	    X509_sign(id->cert, id->key, EVP_sha256()) == 0)
		goto fail_ossl;
	return id;
fail_ossl:
	ossl_error(err, errlen, "cannot make the CA certificate of rack %s", rack);
fail:
	tls_id_free(id);
	return NULL;
}

/* A DNS name for a certificate: labels of letters, digits and '-', dots
 * between, a leading "*." allowed, at most 253 bytes. */
static bool
valid_dns_name(const char *s)
{
	size_t label = 0, n = strlen(s);

	if (n == 0 || n > 253)
		return false;
	if (str_has_prefix(s, "*.")) {
		s += 2;
		if (*s == '\0')
			return false;
	}
	for (; *s != '\0'; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '.') {
			if (label == 0)
				return false;
			label = 0;
		} else if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || ch == '-') {
			if (++label > 63)
				return false;
		} else {
			return false;
		}
	}
	return label > 0;
}

static bool
is_ip(const char *s)
{
	unsigned char a[16];

	return inet_pton(AF_INET, s, a) == 1 || inet_pton(AF_INET6, s, a) == 1;
}

/* subjectAltName from names; -1 with err on a bad name. */
static int
add_sans(X509 *x, const char *const *names, size_t n, char *err, size_t errlen)
{
	GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();
	int rc = -1;

	if (gens == NULL)
		goto ossl;
	for (size_t i = 0; i < n; i++) {
		GENERAL_NAME *g = NULL;

		if (is_ip(names[i])) {
			if ((g = a2i_GENERAL_NAME(NULL, NULL, NULL, GEN_IPADD, names[i], 0)) == NULL)
				goto ossl;
		} else if (valid_dns_name(names[i])) {
			if ((g = a2i_GENERAL_NAME(NULL, NULL, NULL, GEN_DNS, names[i], 0)) == NULL)
				goto ossl;
		} else {
			snprintf(err, errlen, "\"%s\" is neither a DNS name nor an IP address", names[i]);
			goto out;
		}
		if (sk_GENERAL_NAME_push(gens, g) == 0) {
			GENERAL_NAME_free(g);
			goto ossl;
		}
	}
	if (X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0, X509V3_ADD_DEFAULT) != 1)
		goto ossl;
	rc = 0;
	goto out;
ossl:
	ossl_error(err, errlen, "cannot add the certificate's names");
out:
	GENERAL_NAMES_free(gens);
	return rc;
}

struct tls_id *
tls_issue(const struct tls_id *ca, const char *cn, const char *const *names, size_t nnames,
    unsigned usage, int days, char *err, size_t errlen)
{
	struct tls_id *id;
	X509V3_CTX v3;
	char eku[64] = "";

	if (ca == NULL || ca->key == NULL || !tls_id_is_ca(ca)) {
		snprintf(err, errlen, "cannot issue a certificate for %s: the issuer is not a CA with "
		    "its key", cn);
		return NULL;
	}
	if ((usage & (TLS_USAGE_SERVER | TLS_USAGE_CLIENT)) == 0 || days < 1) {
		snprintf(err, errlen, "cannot issue a certificate for %s: no usage or no validity", cn);
		return NULL;
	}
	if (usage & TLS_USAGE_SERVER)
		str_copy(eku, sizeof(eku), "serverAuth");
	if (usage & TLS_USAGE_CLIENT)
		str_copy(eku + strlen(eku), sizeof(eku) - strlen(eku),
		    eku[0] ? ",clientAuth" : "clientAuth");
	id = xcalloc(1, sizeof(*id));
	if ((id->key = new_key(err, errlen)) == NULL)
		goto fail;
	if ((id->cert = new_cert(id->key, cn, ca->cert, days)) == NULL)
		goto fail_ossl;
	X509V3_set_ctx(&v3, ca->cert, id->cert, NULL, NULL, 0);
	if (add_ext(id->cert, &v3, NID_basic_constraints, "critical,CA:FALSE") == -1 ||
	    add_ext(id->cert, &v3, NID_key_usage, "critical,digitalSignature") == -1 ||
	    add_ext(id->cert, &v3, NID_ext_key_usage, eku) == -1 ||
	    add_ext(id->cert, &v3, NID_subject_key_identifier, "hash") == -1 ||
	    add_ext(id->cert, &v3, NID_authority_key_identifier, "keyid:always") == -1)
		goto fail_ossl;
	if (nnames > 0 && add_sans(id->cert, names, nnames, err, errlen) == -1)
		goto fail;
	if (X509_sign(id->cert, ca->key, EVP_sha256()) == 0)
		goto fail_ossl;
	return id;
fail_ossl:
	ossl_error(err, errlen, "cannot issue a certificate for %s", cn);
fail:
	tls_id_free(id);
	return NULL;
}

/* The PEM text a memory BIO holds, malloc'd and NUL-terminated. */
static char *
bio_take(BIO *b, size_t *len)
{
	char *data;
	long n = BIO_get_mem_data(b, &data);
	char *out;

	if (n < 0)
		n = 0;
	out = xstrndup(data, (size_t)n);
	if (len != NULL)
		*len = (size_t)n;
	return out;
}

char *
tls_id_cert_pem(const struct tls_id *id, size_t *len)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *pem;

	if (b == NULL || PEM_write_bio_X509(b, id->cert) != 1)
		abort();    /* memory only: out of memory, as xmalloc */
	pem = bio_take(b, len);
	BIO_free(b);
	return pem;
}

int
tls_id_save(const struct tls_id *id, const char *cert_path, const char *key_path, char *err,
    size_t errlen)
{
	char *pem;
	size_t len;
	int rc;

	if (key_path != NULL) {
		BIO *b = BIO_new(BIO_s_mem());
		char *data;
		long n;

		if (id->key == NULL) {
			snprintf(err, errlen, "cannot write %s: the identity has no key", key_path);
			BIO_free(b);
			return -1;
		}
		if (b == NULL || PEM_write_bio_PrivateKey(b, id->key, NULL, NULL, 0, NULL, NULL) != 1) {
			ossl_error(err, errlen, "cannot write %s", key_path);
			BIO_free(b);
			return -1;
		}
		n = BIO_get_mem_data(b, &data);
		rc = write_file_atomic(key_path, data, n > 0 ? (size_t)n : 0, 0600);
		if (rc == -1)
			snprintf(err, errlen, "cannot write %s: %s", key_path, strerror(errno));
		if (n > 0)
			OPENSSL_cleanse(data, (size_t)n);
		BIO_free(b);
		if (rc == -1)
			return -1;
	}
	pem = tls_id_cert_pem(id, &len);
	rc = write_file_atomic(cert_path, pem, len, 0644);
	if (rc == -1)
		snprintf(err, errlen, "cannot write %s: %s", cert_path, strerror(errno));
	free(pem);
	return rc;
}

/* Parses what: a certificate (key false) or a private key from PEM text;
 * NULL with err "SOURCE: ..." on failure. */
static void *
parse_pem(const char *text, bool key, const char *source, char *err, size_t errlen)
{
	BIO *b = BIO_new_mem_buf(text, -1);
	void *obj = NULL;

	if (b != NULL)
		obj = key ? (void *)PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) :
		    (void *)PEM_read_bio_X509(b, NULL, NULL, NULL);
	BIO_free(b);
	if (obj == NULL)
		ossl_error(err, errlen, "%s: not a PEM %s", source,
		    key ? "private key" : "certificate");
	return obj;
}

/* The id from cert and key text; sources name them in errors. */
static struct tls_id *
id_parse(const char *cert_pem, const char *cert_src, const char *key_pem, const char *key_src,
    char *err, size_t errlen)
{
	struct tls_id *id = xcalloc(1, sizeof(*id));

	if ((id->cert = parse_pem(cert_pem, false, cert_src, err, errlen)) == NULL)
		goto fail;
	if (key_pem == NULL)
		return id;
	if ((id->key = parse_pem(key_pem, true, key_src, err, errlen)) == NULL)
		goto fail;
	if (X509_check_private_key(id->cert, id->key) != 1) {
		ossl_error(err, errlen, "%s is not the key of %s", key_src, cert_src);
		goto fail;
	}
	return id;
fail:
	tls_id_free(id);
	return NULL;
}

struct tls_id *
tls_id_from_pem(const char *cert_pem, const char *key_pem, char *err, size_t errlen)
{
	return id_parse(cert_pem, "certificate", key_pem, "key", err, errlen);
}

struct tls_id *
tls_id_load(const char *cert_path, const char *key_path, char *err, size_t errlen)
{
	struct tls_id *id = NULL;
	char *cert, *key = NULL;
	size_t klen = 0;

	if ((cert = read_file(cert_path, PEM_MAX, NULL)) == NULL) {
		snprintf(err, errlen, "cannot read %s: %s", cert_path, strerror(errno));
		return NULL;
	}
	if (key_path != NULL && (key = read_file(key_path, PEM_MAX, &klen)) == NULL) {
		snprintf(err, errlen, "cannot read %s: %s", key_path, strerror(errno));
		goto out;
	}
	id = id_parse(cert, cert_path, key, key_path, err, errlen);
out:
	if (key != NULL) {
		OPENSSL_cleanse(key, klen);
		free(key);
	}
	free(cert);
	return id;
}

struct tls_id *
tls_id_share(const struct tls_id *id)
{
	struct tls_id *s = xcalloc(1, sizeof(*s));

	if (X509_up_ref(id->cert) != 1 || (id->key != NULL && EVP_PKEY_up_ref(id->key) != 1))
		abort();    /* an atomic increment: cannot fail */
	s->cert = id->cert;
	s->key = id->key;
	return s;
}

void
tls_id_free(struct tls_id *id)
{
	if (id == NULL)
		return;
	X509_free(id->cert);
	EVP_PKEY_free(id->key);
	free(id);
}

bool
tls_id_is_ca(const struct tls_id *id)
{
	/* 1: CA:TRUE in basicConstraints; other values are v1 roots and such. */
	return X509_check_ca(id->cert) == 1;
}

bool
tls_id_self_signed(const struct tls_id *id)
{
	EVP_PKEY *pub = X509_get0_pubkey(id->cert);
	bool ok = X509_check_issued(id->cert, id->cert) == X509_V_OK && pub != NULL &&
	    X509_verify(id->cert, pub) == 1;

	ERR_clear_error();
	return ok;
}

void
tls_id_cn(const struct tls_id *id, char *out, size_t outlen)
{
	X509_NAME *name = X509_get_subject_name(id->cert);

	out[0] = '\0';
	if (outlen > 0 && X509_NAME_get_text_by_NID(name, NID_commonName, out, (int)outlen) < 0)
		out[0] = '\0';
}

void
tls_id_fingerprint(const struct tls_id *id, char out[TLS_FINGERPRINT_SIZE])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	out[0] = '\0';
	if (X509_digest(id->cert, EVP_sha256(), md, &n) != 1 || n != 32)
		return;
	for (unsigned int i = 0; i < n; i++)
		snprintf(out + 3 * i, 4, "%02X%s", md[i], i + 1 < n ? ":" : "");
}

void
tls_hmac_hex(const char *key, const char *msg, char *out, size_t outlen)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	size_t i;

	if (outlen == 0)
		return;
	out[0] = '\0';
	if (HMAC(EVP_sha256(), key, (int)strlen(key), (const unsigned char *)msg, strlen(msg), md,
	    &n) == NULL)
		return;
	for (i = 0; i < n && 2 * i + 2 < outlen; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	out[2 * i] = '\0';
}

/* A store of every certificate in pem (at least one); NULL with err. */
static X509_STORE *
trust_store(const char *pem, char *err, size_t errlen)
{
	X509_STORE *st = X509_STORE_new();
	BIO *b = BIO_new_mem_buf(pem, -1);
	X509 *x;
	int n = 0;

	if (st == NULL || b == NULL)
		goto fail;
	while ((x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
		int ok = X509_STORE_add_cert(st, x);

		X509_free(x);
		if (ok != 1)
			goto fail;
		n++;
	}
	if (n == 0)
		goto fail;
	ERR_clear_error();  /* the end of the text, not an error */
	BIO_free(b);
	return st;
fail:
	ossl_error(err, errlen, "cannot read the trusted CA certificates");
	BIO_free(b);
	X509_STORE_free(st);
	return NULL;
}

static struct tls_ctx *
ctx_new(bool client, const struct tls_id *id, const char *ca_pem, char *err, size_t errlen)
{
	struct tls_ctx *c = xcalloc(1, sizeof(*c));

	c->client = client;
	c->ssl = SSL_CTX_new(client ? TLS_client_method() : TLS_server_method());
	if (c->ssl == NULL || SSL_CTX_set_min_proto_version(c->ssl, TLS1_3_VERSION) != 1) {
		ossl_error(err, errlen, "cannot make a TLS context");
		goto fail;
	}
	/* Callers keep unsent bytes in buffers that move and grow (tls.h);
	 * reading ahead takes what the socket holds in one read(2), not a
	 * record header and then its body. A connection with nothing pending
	 * gives its record buffers back (about 34 KiB), so an idle one is small. */
	SSL_CTX_set_mode(c->ssl, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_read_ahead(c->ssl, 1);
	if (id != NULL) {
		if (id->key == NULL) {
			snprintf(err, errlen, "cannot make a TLS context: its certificate has no key");
			goto fail;
		}
		if (SSL_CTX_use_certificate(c->ssl, id->cert) != 1 ||
		    SSL_CTX_use_PrivateKey(c->ssl, id->key) != 1) {
			ossl_error(err, errlen, "cannot make a TLS context with its certificate");
			goto fail;
		}
	}
	if (ca_pem != NULL) {
		X509_STORE *st = trust_store(ca_pem, err, errlen);

		if (st == NULL)
			goto fail;
		SSL_CTX_set_cert_store(c->ssl, st);   /* the context owns it now */
		SSL_CTX_set_verify(c->ssl, client ? SSL_VERIFY_PEER :
		    SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	}
	return c;
fail:
	tls_ctx_free(c);
	return NULL;
}

struct tls_ctx *
tls_ctx_server_new(const struct tls_id *id, const char *client_ca_pem, char *err,
    size_t errlen)
{
	if (id == NULL) {
		snprintf(err, errlen, "cannot make a TLS server context without a certificate");
		return NULL;
	}
	return ctx_new(false, id, client_ca_pem, err, errlen);
}

struct tls_ctx *
tls_ctx_client_new(const char *ca_pem, const struct tls_id *id, char *err, size_t errlen)
{
	if (ca_pem == NULL) {
		snprintf(err, errlen, "cannot make a TLS client context that trusts no CA");
		return NULL;
	}
	return ctx_new(true, id, ca_pem, err, errlen);
}

/* The servername callback of an SNI context: lower-cases the name, asks the
 * picker, and gives the connection the certificate and key it picked. */
static int
sni_switch(SSL *ssl, int *alert, void *arg)
{
	struct tls_ctx *base = arg;
	const struct tls_id *pick;
	struct tls_conn *c = SSL_get_app_data(ssl);
	const char *sent = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
	char name[254];
	size_t n = 0;

	if (c == NULL)
		return SSL_TLSEXT_ERR_ALERT_FATAL;
	if (sent != NULL) {
		for (; sent[n] != '\0' && n < sizeof(name) - 1; n++)
			name[n] = (char)(sent[n] >= 'A' && sent[n] <= 'Z' ? sent[n] - 'A' + 'a' : sent[n]);
		if (sent[n] != '\0')
			goto refuse;    /* longer than a DNS name */
		name[n] = '\0';
	}
	pick = base->pick(c->arg, sent != NULL ? name : NULL);
	if (pick == NULL || pick->key == NULL ||
	    SSL_use_cert_and_key(ssl, pick->cert, pick->key, NULL, 1) != 1)
		goto refuse;
	return SSL_TLSEXT_ERR_OK;
refuse:
	snprintf(c->err, sizeof(c->err), "TLS handshake: no certificate for %s%s%s",
	    sent != NULL ? "\"" : "", sent != NULL ? sent : "a client that sent no name (SNI)",
	    sent != NULL ? "\"" : "");
	*alert = SSL_AD_UNRECOGNIZED_NAME;
	return SSL_TLSEXT_ERR_ALERT_FATAL;
}

/* ALPN (RFC 7301): the first of the server's protocols that the client
 * offers; none in common is no ALPN at all (the handshake goes on). */
static int
alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen, const unsigned char *in,
    unsigned int inlen, void *arg)
{
	struct tls_ctx *c = arg;
	unsigned char *sel = NULL;

	(void)ssl;
	if (SSL_select_next_proto(&sel, outlen, c->alpn, c->alpn_len, in, inlen) !=
	    OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_NOACK;
	*out = sel;
	return SSL_TLSEXT_ERR_OK;
}

int
tls_ctx_set_alpn(struct tls_ctx *ctx, const char *const *protos, size_t n, char *err,
    size_t errlen)
{
	unsigned len = 0;

	for (size_t i = 0; i < n; i++) {
		size_t l = strlen(protos[i]);

		if (l == 0 || l > 255 || len + 1 + l > sizeof(ctx->alpn)) {
			snprintf(err, errlen, "ALPN protocol \"%s\": want 1-255 bytes, %zu in all",
			    protos[i], sizeof(ctx->alpn));
			return -1;
		}
		ctx->alpn[len++] = (unsigned char)l;
		memcpy(ctx->alpn + len, protos[i], l);
		len += (unsigned)l;
	}
	ctx->alpn_len = len;
	SSL_CTX_set_alpn_select_cb(ctx->ssl, alpn_select, ctx);
	return 0;
}

struct tls_ctx *
tls_ctx_sni_new(tls_sni_fn pick, char *err, size_t errlen)
{
	struct tls_ctx *c = ctx_new(false, NULL, NULL, err, errlen);

	if (c == NULL)
		return NULL;
	c->pick = pick;
	if (SSL_CTX_set_tlsext_servername_callback(c->ssl, sni_switch) != 1 ||
	    SSL_CTX_set_tlsext_servername_arg(c->ssl, c) != 1) {
		ossl_error(err, errlen, "cannot make a TLS context that picks by name");
		tls_ctx_free(c);
		return NULL;
	}
	return c;
}

struct tls_ctx *
tls_ctx_client_insecure_new(char *err, size_t errlen)
{
	struct tls_ctx *c = ctx_new(true, NULL, NULL, err, errlen);

	if (c == NULL)
		return NULL;
	c->insecure = true;
	SSL_CTX_set_verify(c->ssl, SSL_VERIFY_NONE, NULL);
	/* A process's own server may be older than TLS 1.3; the hop stays on the
	 * rack's private side, and TLS 1.2 is as far down as it goes. */
	if (SSL_CTX_set_min_proto_version(c->ssl, TLS1_2_VERSION) != 1) {
		snprintf(err, errlen, "cannot allow TLS 1.2 to processes");
		tls_ctx_free(c);
		return NULL;
	}
	return c;
}

/*
 * The verify callback of a peers context. OpenSSL calls it for each
 * certificate of the chain it built, the trust anchor first and the
 * client's own (depth 0) last; at depth 0 the anchor tells which peer's CA
 * vouched, and the client's CN must be that peer's name.
 */
static int
peer_verify(int ok, X509_STORE_CTX *sc)
{
	SSL *ssl = X509_STORE_CTX_get_ex_data(sc, SSL_get_ex_data_X509_STORE_CTX_idx());
	struct tls_conn *c = ssl != NULL ? SSL_get_app_data(ssl) : NULL;
	const struct tls_ctx *t = ssl != NULL ? SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl)) : NULL;
	STACK_OF(X509) *chain;
	X509 *anchor, *leaf;
	char cn[TLS_PEER_NAME_MAX + 1];
	X509_NAME *subject;

	if (!ok || c == NULL || t == NULL)
		return ok && c != NULL && t != NULL;
	if (X509_STORE_CTX_get_error_depth(sc) != 0)
		return 1;
	chain = X509_STORE_CTX_get0_chain(sc);
	leaf = X509_STORE_CTX_get_current_cert(sc);
	if (chain == NULL || sk_X509_num(chain) < 2 || leaf == NULL)
		goto refuse;   /* a self-signed client is no peer's */
	anchor = sk_X509_value(chain, sk_X509_num(chain) - 1);
	subject = X509_get_subject_name(leaf);
	cn[0] = '\0';
	if (X509_NAME_get_text_by_NID(subject, NID_commonName, cn, (int)sizeof(cn)) < 0)
		cn[0] = '\0';
	for (size_t i = 0; i < t->npeers; i++) {
		if (X509_cmp(anchor, t->peer_cas[i]) == 0 && strcmp(cn, t->peer_names[i]) == 0) {
			str_copy(c->peer, sizeof(c->peer), t->peer_names[i]);
			return 1;
		}
	}
refuse:
	snprintf(c->err, sizeof(c->err), "TLS handshake: the client certificate (CN \"%s\") is "
	    "not a peer's: its CN names no peer whose CA issued it", leaf != NULL ? cn : "");
	X509_STORE_CTX_set_error(sc, X509_V_ERR_APPLICATION_VERIFICATION);
	return 0;
}

struct tls_ctx *
tls_ctx_peers_new(const struct tls_id *id, const struct tls_id *const *cas,
    const char *const *names, size_t n, char *err, size_t errlen)
{
	struct tls_ctx *c;
	X509_STORE *st;

	if (id == NULL || id->key == NULL) {
		snprintf(err, errlen, "cannot make a peers' TLS context without a certificate and key");
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		if (strlen(names[i]) >= TLS_PEER_NAME_MAX || names[i][0] == '\0') {
			snprintf(err, errlen, "peer name \"%s\" is empty or too long", names[i]);
			return NULL;
		}
	}
	if ((c = ctx_new(false, id, NULL, err, errlen)) == NULL)
		return NULL;
	if ((st = X509_STORE_new()) == NULL)
		goto fail_ossl;
	SSL_CTX_set_cert_store(c->ssl, st);   /* the context owns it now */
	c->peer_cas = xcalloc(n > 0 ? n : 1, sizeof(*c->peer_cas));
	c->peer_names = xcalloc(n > 0 ? n : 1, sizeof(*c->peer_names));
	for (size_t i = 0; i < n; i++) {
		if (X509_up_ref(cas[i]->cert) != 1)
			goto fail_ossl;
		c->peer_cas[i] = cas[i]->cert;
		c->peer_names[i] = xstrdup(names[i]);
		c->npeers++;
		/* The same CA twice (two names) is one store entry. */
		if (X509_STORE_add_cert(st, cas[i]->cert) != 1)
			ERR_clear_error();
	}
	SSL_CTX_set_app_data(c->ssl, c);
	SSL_CTX_set_verify(c->ssl, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, peer_verify);
	/* No resumption between peers: every connection proves itself, and
	 * tickets would be unasked bytes on a client's pooled connection. */
	SSL_CTX_set_num_tickets(c->ssl, 0);
	SSL_CTX_set_session_cache_mode(c->ssl, SSL_SESS_CACHE_OFF);
	return c;
fail_ossl:
	ossl_error(err, errlen, "cannot make the peers' TLS context");
	tls_ctx_free(c);
	return NULL;
}

void
tls_ctx_free(struct tls_ctx *ctx)
{
	if (ctx == NULL)
		return;
	SSL_CTX_free(ctx->ssl);
	for (size_t i = 0; i < ctx->npeers; i++) {
		X509_free(ctx->peer_cas[i]);
		free(ctx->peer_names[i]);
	}
	free(ctx->peer_cas);
	free(ctx->peer_names);
	free(ctx);
}

struct tls_conn *
tls_conn_new(struct tls_ctx *ctx, int fd, const char *peer, char *err, size_t errlen)
{
	struct tls_conn *c = xcalloc(1, sizeof(*c));

	if (ctx->client && peer == NULL && !ctx->insecure) {
		snprintf(err, errlen, "a TLS client needs the name the server must carry");
		goto fail;
	}
	if ((c->ssl = SSL_new(ctx->ssl)) == NULL || SSL_set_fd(c->ssl, fd) != 1) {
		ossl_error(err, errlen, "cannot make a TLS connection");
		goto fail;
	}
	SSL_set_app_data(c->ssl, c);
	if (ctx->client && ctx->insecure) {
		/* Nothing verified; a name is only sent (SNI), never an address. */
		if (peer != NULL && !is_ip(peer) && valid_dns_name(peer) &&
		    SSL_set_tlsext_host_name(c->ssl, peer) != 1) {
			ossl_error(err, errlen, "cannot send the name %s", peer);
			goto fail;
		}
		SSL_set_connect_state(c->ssl);
	} else if (ctx->client) {
		X509_VERIFY_PARAM *vp = SSL_get0_param(c->ssl);
		int ok;

		if (is_ip(peer)) {
			ok = X509_VERIFY_PARAM_set1_ip_asc(vp, peer);
		} else {
			ok = SSL_set_tlsext_host_name(c->ssl, peer) == 1 &&
			    SSL_set1_host(c->ssl, peer) == 1;
		}
		if (ok != 1) {
			ossl_error(err, errlen, "cannot verify the server as %s", peer);
			goto fail;
		}
		SSL_set_connect_state(c->ssl);
	} else {
		SSL_set_accept_state(c->ssl);
	}
	c->events = POLLIN | POLLOUT;
	return c;
fail:
	tls_conn_free(c);
	return NULL;
}

/* What rc of the last SSL call on c means: CX_AGAIN (events set), or
 * CX_ERR with c->err; `what` names the step. */
static int
conn_failed(struct tls_conn *c, int rc, const char *what)
{
	long vr;

	switch (SSL_get_error(c->ssl, rc)) {
	case SSL_ERROR_WANT_READ:
		c->events = POLLIN;
		return CX_AGAIN;
	case SSL_ERROR_WANT_WRITE:
		c->events = POLLOUT;
		return CX_AGAIN;
	case SSL_ERROR_SYSCALL:
		if (ERR_peek_last_error() == 0) {
			snprintf(c->err, sizeof(c->err), "TLS %s: %s", what,
			    rc == 0 || errno == 0 ? "connection closed" : strerror(errno));
			return CX_ERR;
		}
		break;
	default:
		break;
	}
	vr = SSL_get_verify_result(c->ssl);
	if (vr != X509_V_OK) {
		snprintf(c->err, sizeof(c->err), "TLS %s: certificate verify failed: %s", what,
		    X509_verify_cert_error_string(vr));
		ERR_clear_error();
	} else {
		ossl_error(c->err, sizeof(c->err), "TLS %s", what);
	}
	return CX_ERR;
}

void
tls_conn_set_arg(struct tls_conn *c, void *arg)
{
	c->arg = arg;
}

const char *
tls_conn_peer_name(const struct tls_conn *c)
{
	return c->peer[0] != '\0' ? c->peer : NULL;
}

const char *
tls_conn_sni(const struct tls_conn *c)
{
	return SSL_get_servername(c->ssl, TLSEXT_NAMETYPE_host_name);
}

const char *
tls_conn_alpn(const struct tls_conn *c, char *out, size_t outlen)
{
	const unsigned char *p = NULL;
	unsigned int n = 0;

	SSL_get0_alpn_selected(c->ssl, &p, &n);
	if (p == NULL || n == 0 || n >= outlen)
		return NULL;
	memcpy(out, p, n);
	out[n] = '\0';
	return out;
}

void
tls_conn_close_notify(struct tls_conn *c)
{
	if (c->notified || !SSL_is_init_finished(c->ssl))
		return;
	c->notified = true;
	ERR_clear_error();
	(void)SSL_shutdown(c->ssl);   /* 0: sent (or queued), waiting for the peer's: enough */
	ERR_clear_error();
}

int
tls_conn_handshake(struct tls_conn *c)
{
	int rc;

	ERR_clear_error();
	errno = 0;
	rc = SSL_do_handshake(c->ssl);
	if (rc == 1) {
		c->err[0] = '\0';
		return CX_OK;
	}
	if (c->err[0] != '\0' && SSL_get_error(c->ssl, rc) == SSL_ERROR_SSL) {
		ERR_clear_error();  /* the SNI refusal said why already */
		return CX_ERR;
	}
	return conn_failed(c, rc, "handshake");
}

ssize_t
tls_conn_read(struct tls_conn *c, void *buf, size_t n)
{
	size_t got = 0;

	ERR_clear_error();
	errno = 0;
	if (SSL_read_ex(c->ssl, buf, n, &got) == 1)
		return (ssize_t)got;
	if (SSL_get_error(c->ssl, 0) == SSL_ERROR_ZERO_RETURN)
		return 0;
	return conn_failed(c, 0, "read");
}

ssize_t
tls_conn_write(struct tls_conn *c, const void *buf, size_t n)
{
	size_t put = 0;

	ERR_clear_error();
	errno = 0;
	if (SSL_write_ex(c->ssl, buf, n, &put) == 1)
		return (ssize_t)put;
	return conn_failed(c, 0, "write");
}

short
tls_conn_events(const struct tls_conn *c)
{
	return c->events;
}

int
tls_conn_version(const struct tls_conn *c)
{
	return SSL_is_init_finished(c->ssl) ? SSL_version(c->ssl) : 0;
}

void
tls_conn_peer_cert(const struct tls_conn *c, char *cn, size_t cnlen, char *issuer,
    size_t issuerlen)
{
	X509 *x = SSL_get0_peer_certificate(c->ssl);

	if (cnlen > 0)
		cn[0] = '\0';
	if (issuerlen > 0)
		issuer[0] = '\0';
	if (x == NULL)
		return;
	if (cnlen > 0 && X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn,
	    (int)cnlen) < 0)
		cn[0] = '\0';
	if (issuerlen > 0 && X509_NAME_get_text_by_NID(X509_get_issuer_name(x), NID_commonName,
	    issuer, (int)issuerlen) < 0)
		issuer[0] = '\0';
}

const char *
tls_conn_error(const struct tls_conn *c)
{
	return c->err;
}

void
tls_conn_free(struct tls_conn *c)
{
	if (c == NULL)
		return;
	SSL_free(c->ssl);
	free(c);
}

int
tls_ctx_add_chain(struct tls_ctx *ctx, const struct tls_id *cert, char *err, size_t errlen)
{
	if (ctx->client || SSL_CTX_add1_chain_cert(ctx->ssl, cert->cert) != 1) {
		ossl_error(err, errlen, "cannot add a certificate to the chain the server sends");
		return -1;
	}
	return 0;
}

/*
 * Certificate chains (appended for the rack's imported and ACME
 * certificates, which an intermediate CA signs): the certificates after the
 * first in a PEM file ride on the leaf's X509 as ex_data, so that every
 * identity sharing the leaf (tls_id_share) carries them, and a server
 * context's certificate callback sends them after the leaf. Declared in
 * tls_acme.h.
 */
#include <pthread.h>

#include "common/tls_acme.h"

static int chain_index = -1;
static pthread_once_t chain_once = PTHREAD_ONCE_INIT;

static void
chain_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
	(void)parent; (void)ad; (void)idx; (void)argl; (void)argp;
	sk_X509_pop_free(ptr, X509_free);
}

static void
chain_init(void)
{
	chain_index = X509_get_ex_new_index(0, NULL, NULL, NULL, chain_free);
}

struct tls_id *
tls_id_load_chain(const char *cert_path, const char *key_path, char *err, size_t errlen)
{
	struct tls_id *id = tls_id_load(cert_path, key_path, err, errlen);
	STACK_OF(X509) *chain = NULL;
	char *pem;
	BIO *b;
	X509 *x;

	if (id == NULL)
		return NULL;
	if ((pem = read_file(cert_path, PEM_MAX, NULL)) == NULL || (b = BIO_new_mem_buf(pem, -1)) == NULL) {
		free(pem);
		return id;	/* read once already: the leaf alone, then */
	}
	pthread_once(&chain_once, chain_init);
	x = PEM_read_bio_X509(b, NULL, NULL, NULL);	/* the leaf */
	X509_free(x);
	while ((x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
		if (chain == NULL && (chain = sk_X509_new_null()) == NULL)
			abort();
		if (sk_X509_push(chain, x) == 0)
			abort();
	}
	ERR_clear_error();
	BIO_free(b);
	free(pem);
	if (chain != NULL && (chain_index < 0 || X509_set_ex_data(id->cert, chain_index, chain) != 1))
		sk_X509_pop_free(chain, X509_free);
	return id;
}

static int
chain_send(SSL *ssl, void *arg)
{
	X509 *leaf = SSL_get_certificate(ssl);
	STACK_OF(X509) *chain;

	(void)arg;
	if (leaf == NULL || chain_index < 0 || (chain = X509_get_ex_data(leaf, chain_index)) == NULL)
		return 1;
	return SSL_set1_chain(ssl, chain) == 1 ? 1 : 0;
}

void
tls_ctx_send_chains(struct tls_ctx *ctx)
{
	SSL_CTX_set_cert_cb(ctx->ssl, chain_send, NULL);
}
