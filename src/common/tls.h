/*
 * tls.h — the rack's PKI and TLS 1.3, with OpenSSL kept behind this one
 * module (no OpenSSL type or header leaks out of tls.c).
 *
 * An identity (struct tls_id) is a certificate and, when it is ours, its
 * private key: a rack's CA (tls_ca_new), or a leaf it issues (tls_issue) for
 * a router, the API or the rack's peer identity. Keys are EC P-256,
 * signatures ECDSA-SHA256. A context (struct tls_ctx) is one side's settings
 * (TLS 1.3 only, its identity, the CAs it trusts); a connection (struct
 * tls_conn) runs over a caller's non-blocking (or blocking) socket.
 *
 * Every function that can fail takes an error buffer and writes one line:
 * what failed, the file when there is one, and OpenSSL's reason.
 */
#ifndef CX_TLS_H
#define CX_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct tls_id;
struct tls_ctx;
struct tls_conn;

/* What a leaf certificate may be used for (its extendedKeyUsage). */
enum tls_usage {
	TLS_USAGE_SERVER = 1 << 0,  /* serverAuth */
	TLS_USAGE_CLIENT = 1 << 1,  /* clientAuth */
};

#define TLS_CA_DAYS 3650
#define TLS_LEAF_DAYS 365
/* A peer's name (a rack name) is shorter than this. */
#define TLS_PEER_NAME_MAX 64
/* "AB:CD:..." of a SHA-256 digest: 32 bytes, 3 characters each, NUL last. */
#define TLS_FINGERPRINT_SIZE 96

/* A new CA for rack `rack`: a fresh P-256 key and a self-signed certificate,
 * subject CN "cx rack RACK CA", CA:TRUE (critical), keyUsage keyCertSign and
 * cRLSign (critical), valid TLS_CA_DAYS from five minutes ago (clock skew).
 * Caller frees with tls_id_free. NULL with err on failure. */
struct tls_id *tls_ca_new(const char *rack, char *err, size_t errlen);

/* A leaf certificate signed by ca (which must hold its key), with a fresh
 * key: subject CN cn, subjectAltName one entry per names[i] (an IPv4/IPv6
 * address becomes an IP entry, anything else a DNS name: letters, digits,
 * '-' and '.', a leading "*." allowed), extendedKeyUsage from usage (at
 * least one bit), CA:FALSE, valid `days` days. nnames may be 0 (a client
 * identity named by its subject alone). Caller frees. NULL with err on a bad
 * name, a CA without its key, or an OpenSSL failure. */
struct tls_id *tls_issue(const struct tls_id *ca, const char *cn, const char *const *names,
    size_t nnames, unsigned usage, int days, char *err, size_t errlen);

/* Writes the key to key_path (mode 0600) first, then the certificate to
 * cert_path (0644), each atomically (write_file_atomic), so that a
 * certificate on disk always has its key beside it. key_path may be NULL
 * (the certificate alone). -1 with err naming the file. */
int tls_id_save(const struct tls_id *id, const char *cert_path, const char *key_path,
    char *err, size_t errlen);

/* Reads a PEM certificate and, when key_path is not NULL, its PEM private
 * key, and checks that they belong together. Caller frees. NULL with err
 * naming the file that is missing, unreadable, not PEM, or the wrong key. */
struct tls_id *tls_id_load(const char *cert_path, const char *key_path, char *err,
    size_t errlen);

/* Same from PEM text in memory (a certificate, and a key or NULL). */
struct tls_id *tls_id_from_pem(const char *cert_pem, const char *key_pem, char *err,
    size_t errlen);

/* Another identity sharing id's certificate and key (counted references,
 * not copies), for another owner; caller frees. */
struct tls_id *tls_id_share(const struct tls_id *id);

void tls_id_free(struct tls_id *id);

/* Whether the certificate is a CA's (basicConstraints CA:TRUE). */
bool tls_id_is_ca(const struct tls_id *id);
/* Whether the certificate is a root: issued by its own subject and signed
 * by its own key. */
bool tls_id_self_signed(const struct tls_id *id);

/* The certificate's subject CN into out ("" if none). */
void tls_id_cn(const struct tls_id *id, char *out, size_t outlen);

/* The certificate as PEM text, NUL-terminated, malloc'd (caller frees);
 * its length in *len when len is not NULL. Aborts on out-of-memory, as
 * xmalloc does (it only encodes in memory). */
char *tls_id_cert_pem(const struct tls_id *id, size_t *len);

/* The SHA-256 fingerprint of the certificate (its DER), upper-case hex with
 * colons, as `openssl x509 -noout -fingerprint -sha256` prints it. */
void tls_id_fingerprint(const struct tls_id *id, char out[TLS_FINGERPRINT_SIZE]);
/* HMAC-SHA256 of msg keyed with key, in lower-case hex, cut to outlen - 1
 * characters (64 at most): a secret derived from another, the same every
 * time (a Kubernetes rack's resource passwords). */
void tls_hmac_hex(const char *key, const char *msg, char *out, size_t outlen);

/* A server context: TLS 1.3 at least, presenting id (which must hold its
 * key). With client_ca_pem (one or more PEM certificates) it requires a
 * client certificate issued by one of them; with NULL it asks for none.
 * Caller frees with tls_ctx_free. NULL with err. */
struct tls_ctx *tls_ctx_server_new(const struct tls_id *id, const char *client_ca_pem,
    char *err, size_t errlen);

/* A client context: TLS 1.3 at least, verifying the server's certificate
 * against ca_pem (one or more PEM certificates, required), presenting id as
 * its client certificate when id is not NULL. Caller frees. NULL with err. */
struct tls_ctx *tls_ctx_client_new(const char *ca_pem, const struct tls_id *id, char *err,
    size_t errlen);

/* A client context that verifies nothing (TLS 1.3 at least, no client
 * certificate): for processes behind a router that speak TLS with
 * certificates of their own making (TLS 1.2 or 1.3: such servers may be
 * older). tls_conn_new's peer may be NULL; a DNS name given is sent as SNI,
 * not checked. Caller frees. NULL with err. */
struct tls_ctx *tls_ctx_client_insecure_new(char *err, size_t errlen);

/*
 * A server context for peered racks: TLS 1.3 at least, presenting id (with
 * its key), demanding a client certificate that chains to one of cas[i]
 * and whose subject CN is names[i] (both of the same i); anything else
 * fails the handshake (no certificate, another CA, another name). n may be
 * 0: every client fails. No session tickets or resumption: each connection
 * is a full handshake. The context keeps its own references to the CAs and
 * copies of the names. It must outlive the handshakes of its connections
 * (the names are read during them). Caller frees. NULL with err.
 */
struct tls_ctx *tls_ctx_peers_new(const struct tls_id *id, const struct tls_id *const *cas,
    const char *const *names, size_t n, char *err, size_t errlen);

/* Picks the identity of one handshake by the name the client asked for
 * (SNI, lower case; NULL when it sent none); arg is what tls_conn_set_arg
 * gave the connection. Returns the identity (with its key) whose
 * certificate the handshake presents, or NULL to refuse the handshake with
 * an unrecognized_name alert. Called inside tls_conn_handshake, on the
 * caller's thread. The connection keeps its own references to the
 * certificate and key, so the caller may free the identity before the
 * connection; one identity may serve connections on several threads. */
typedef const struct tls_id *(*tls_sni_fn)(void *arg, const char *sni);

/* A server context without a certificate of its own: each handshake
 * presents the identity pick returns (TLS 1.3 at least, no client
 * certificate asked). An identity costs no context of its own, so a
 * router's table of many names loads fast. Caller frees. NULL with err. */
struct tls_ctx *tls_ctx_sni_new(tls_sni_fn pick, char *err, size_t errlen);

void tls_ctx_free(struct tls_ctx *ctx);
/* A server context offers protos[0..n) by ALPN (RFC 7301), in that order
 * of preference: a client offering one of them gets the first it shares;
 * one offering none (or no ALPN) gets no ALPN answer and goes on. -1 with
 * err when a name is empty, longer than 255 bytes, or all exceed 64. */
int tls_ctx_set_alpn(struct tls_ctx *ctx, const char *const *protos, size_t n, char *err,
    size_t errlen);

/* A connection over fd (not owned: tls_conn_free leaves it open). For a
 * client context, peer is the name the server's certificate must carry (a
 * DNS name, also sent as SNI, or an IP address); NULL for a server. Caller
 * frees with tls_conn_free. NULL with err. */
struct tls_conn *tls_conn_new(struct tls_ctx *ctx, int fd, const char *peer, char *err,
    size_t errlen);

/* The argument the context's tls_sni_fn gets for this connection. */
void tls_conn_set_arg(struct tls_conn *c, void *arg);

/* On a tls_ctx_peers_new connection whose handshake is done: the peer name
 * the client's certificate proved (names[i]); NULL otherwise. Owned by c. */
const char *tls_conn_peer_name(const struct tls_conn *c);

/* The name the client asked for (SNI, as sent), or NULL. Owned by c. */
const char *tls_conn_sni(const struct tls_conn *c);
/* After the handshake: the protocol ALPN agreed on, copied into out
 * (NUL-terminated), or NULL when none was (or it does not fit). */
const char *tls_conn_alpn(const struct tls_conn *c, char *out, size_t outlen);

/* Sends our close_notify once, without blocking (if the socket cannot take
 * it now it is not sent: the peer then sees the TCP close alone). Reading
 * stays possible afterwards. */
void tls_conn_close_notify(struct tls_conn *c);

/* Drives the handshake: CX_OK once done, CX_AGAIN when the socket must
 * become ready first (tls_conn_events says for what), CX_ERR when it
 * failed (tls_conn_error says why, e.g. "certificate verify failed: unable
 * to get local issuer certificate"). */
int tls_conn_handshake(struct tls_conn *c);

/* Reads up to n bytes: their count, 0 when the peer closed the TLS session,
 * CX_AGAIN, or CX_ERR (tls_conn_error). */
ssize_t tls_conn_read(struct tls_conn *c, void *buf, size_t n);

/* Writes up to n bytes (n > 0): their count, CX_AGAIN, or CX_ERR. After
 * CX_AGAIN, the next call must start with the same bytes (they may have
 * moved: the buffer's address may change) and may pass more of them. */
ssize_t tls_conn_write(struct tls_conn *c, const void *buf, size_t n);

/* POLLIN or POLLOUT: what the last CX_AGAIN waits for. */
short tls_conn_events(const struct tls_conn *c);

/* The negotiated protocol version, as the wire numbers it (0x0304 for TLS
 * 1.3); 0 before the handshake. */
int tls_conn_version(const struct tls_conn *c);

/* After the handshake: the subject CN and the issuer's CN of the
 * certificate the other side presented, each "" when absent (no
 * certificate, or before the handshake). */
void tls_conn_peer_cert(const struct tls_conn *c, char *cn, size_t cnlen, char *issuer,
    size_t issuerlen);

/* Why the last call on c failed ("" if none). Owned by c. */
const char *tls_conn_error(const struct tls_conn *c);

void tls_conn_free(struct tls_conn *c);

/* Appends cert (a certificate alone is enough: its key is not used) to the
 * chain a server context sends after its own certificate, so that a client
 * that is told only the leaf's issuer by name can pin it (the rack's API
 * sends its CA). -1 with err for a client context or an OpenSSL failure. */
int tls_ctx_add_chain(struct tls_ctx *ctx, const struct tls_id *cert, char *err,
    size_t errlen);

#endif
