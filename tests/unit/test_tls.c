/*
 * test_tls.c — the PKI and TLS module through real TLS 1.3 handshakes over
 * a socketpair (both ends driven in turn from this thread): who verifies
 * whom, against which CA, for which name; mutual authentication; files,
 * their modes, and interoperation with the openssl command (fingerprints,
 * `openssl verify`) when it is installed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

/* Only for TLS1_3_VERSION: the wire number the module must report. */
#include <openssl/tls1.h>

#include "common/tls.h"
#include "common/util.h"

static char dir[64];
static struct tls_id *ca_a, *ca_b;
static char *ca_a_pem, *ca_b_pem;

static const char *const server_names[] = { "web.example.test", "127.0.0.1", "::1" };

static int
setup(void **state)
{
	char err[512];

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/cx-tls.XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	ca_a = tls_ca_new("alpha", err, sizeof(err));
	ca_b = tls_ca_new("beta", err, sizeof(err));
	if (ca_a == NULL || ca_b == NULL) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	ca_a_pem = tls_id_cert_pem(ca_a, NULL);
	ca_b_pem = tls_id_cert_pem(ca_b, NULL);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	tls_id_free(ca_a);
	tls_id_free(ca_b);
	free(ca_a_pem);
	free(ca_b_pem);
	return remove_tree(dir);
}

static struct tls_id *
issue(const struct tls_id *ca, const char *cn, const char *const *names, size_t n,
    unsigned usage)
{
	char err[512];
	struct tls_id *id = tls_issue(ca, cn, names, n, usage, TLS_LEAF_DAYS, err, sizeof(err));

	if (id == NULL)
		fail_msg("tls_issue: %s", err);
	return id;
}

/* What one handshake (and one exchange of a line each way after it) did. */
struct session {
	int server_rc, client_rc;       /* of the handshakes */
	int version;                    /* the client's, once done */
	bool exchanged;                 /* ping and pong went through */
	char server_err[512], client_err[512];
};

/* Runs one connection between a server and a client context over a
 * socketpair, the client verifying the server as peer. */
static void
run_session(struct tls_ctx *sctx, struct tls_ctx *cctx, const char *peer, struct session *out)
{
	struct tls_conn *s, *c;
	char err[512], buf[16];
	int fds[2];
	ssize_t n;

	memset(out, 0, sizeof(*out));
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds), 0);
	s = tls_conn_new(sctx, fds[0], NULL, err, sizeof(err));
	assert_non_null(s);
	c = tls_conn_new(cctx, fds[1], peer, err, sizeof(err));
	assert_non_null(c);
	out->server_rc = out->client_rc = CX_AGAIN;
	/* Each turn moves whichever side can; a side that failed has sent its
	 * alert, so the other fails (or finishes) within a few turns. */
	for (int i = 0; i < 100 && (out->server_rc == CX_AGAIN || out->client_rc == CX_AGAIN); i++) {
		if (out->client_rc == CX_AGAIN)
			out->client_rc = tls_conn_handshake(c);
		if (out->server_rc == CX_AGAIN)
			out->server_rc = tls_conn_handshake(s);
	}
	str_copy(out->server_err, sizeof(out->server_err), tls_conn_error(s));
	str_copy(out->client_err, sizeof(out->client_err), tls_conn_error(c));
	out->version = tls_conn_version(c);
	if (out->client_rc == CX_OK) {
		/* TLS 1.3: the client is done before the server has judged its
		 * certificate; a refusal reaches it as an alert on its first read. */
		if (tls_conn_write(c, "ping", 4) == 4) {
			for (int i = 0; i < 100; i++) {
				n = tls_conn_read(s, buf, sizeof(buf));
				if (n != CX_AGAIN)
					break;
			}
			if (out->server_rc == CX_OK && n == 4 && memcmp(buf, "ping", 4) == 0)
				tls_conn_write(s, "pong", 4);
		}
		for (int i = 0; i < 100; i++) {
			n = tls_conn_read(c, buf, sizeof(buf));
			if (n != CX_AGAIN)
				break;
		}
		out->exchanged = n == 4 && memcmp(buf, "pong", 4) == 0;
		if (n < 0)
			str_copy(out->client_err, sizeof(out->client_err), tls_conn_error(c));
	}
	tls_conn_free(s);
	tls_conn_free(c);
	close(fds[0]);
	close(fds[1]);
}

static struct tls_ctx *
server_ctx(const struct tls_id *id, const char *client_ca)
{
	char err[512];
	struct tls_ctx *ctx = tls_ctx_server_new(id, client_ca, err, sizeof(err));

	if (ctx == NULL)
		fail_msg("server context: %s", err);
	return ctx;
}

static struct tls_ctx *
client_ctx(const char *ca, const struct tls_id *id)
{
	char err[512];
	struct tls_ctx *ctx = tls_ctx_client_new(ca, id, err, sizeof(err));

	if (ctx == NULL)
		fail_msg("client context: %s", err);
	return ctx;
}

#define assert_has(s, sub) \
	do { \
		if (strstr((s), (sub)) == NULL) \
			fail_msg("\"%s\" lacks \"%s\"", (s), (sub)); \
	} while (0)

/* How a refused certificate reads, before the reason. */
#define VERIFY_FAILED "TLS handshake: certificate verify failed: "

/* Both ends done, over TLS 1.3, and a line went each way. */
static void
accepted(const struct session *ss)
{
	if (ss->client_rc != CX_OK || ss->server_rc != CX_OK)
		fail_msg("refused: client \"%s\", server \"%s\"", ss->client_err, ss->server_err);
	assert_int_equal(ss->version, TLS1_3_VERSION);
	assert_true(ss->exchanged);
}

/* One side's handshake failed with exactly want, and no data went through. */
static void
refused_by(const struct session *ss, bool server, const char *want)
{
	assert_int_equal(server ? ss->server_rc : ss->client_rc, CX_ERR);
	assert_string_equal(server ? ss->server_err : ss->client_err, want);
	assert_false(ss->exchanged);
}

static void
test_server_verified_by_its_ca_only(void **state)
{
	struct tls_id *srv = issue(ca_a, "web", server_names, 3, TLS_USAGE_SERVER);
	struct tls_ctx *sctx = server_ctx(srv, NULL);
	struct tls_ctx *trusts_a = client_ctx(ca_a_pem, NULL), *trusts_b = client_ctx(ca_b_pem, NULL);
	struct session ss;

	(void)state;
	run_session(sctx, trusts_a, "web.example.test", &ss);
	accepted(&ss);

	run_session(sctx, trusts_b, "web.example.test", &ss);
	refused_by(&ss, false, VERIFY_FAILED "unable to get local issuer certificate");
	assert_int_equal(ss.server_rc, CX_ERR);   /* told by the client's alert */
	assert_has(ss.server_err, "TLS handshake: ");

	tls_ctx_free(sctx);
	tls_ctx_free(trusts_a);
	tls_ctx_free(trusts_b);
	tls_id_free(srv);
}

static void
test_names_in_the_certificate(void **state)
{
	struct tls_id *srv = issue(ca_a, "web", server_names, 3, TLS_USAGE_SERVER);
	struct tls_ctx *sctx = server_ctx(srv, NULL), *cctx = client_ctx(ca_a_pem, NULL);
	struct session ss;

	(void)state;
	run_session(sctx, cctx, "127.0.0.1", &ss);
	accepted(&ss);
	run_session(sctx, cctx, "::1", &ss);
	accepted(&ss);
	/* DNS names compare without case, as DNS does. */
	run_session(sctx, cctx, "WEB.example.test", &ss);
	accepted(&ss);

	run_session(sctx, cctx, "api.example.test", &ss);
	refused_by(&ss, false, VERIFY_FAILED "hostname mismatch");
	run_session(sctx, cctx, "127.0.0.2", &ss);
	refused_by(&ss, false, VERIFY_FAILED "IP address mismatch");
	/* An address is not matched against DNS names, nor a name against addresses. */
	run_session(sctx, cctx, "example.test", &ss);
	refused_by(&ss, false, VERIFY_FAILED "hostname mismatch");

	tls_ctx_free(sctx);
	tls_ctx_free(cctx);
	tls_id_free(srv);
}

static void
test_wildcard_name(void **state)
{
	static const char *const wild[] = { "*.apps.example.test" };
	struct tls_id *srv = issue(ca_a, "apps", wild, 1, TLS_USAGE_SERVER);
	struct tls_ctx *sctx = server_ctx(srv, NULL), *cctx = client_ctx(ca_a_pem, NULL);
	struct session ss;

	(void)state;
	run_session(sctx, cctx, "web.apps.example.test", &ss);
	accepted(&ss);
	run_session(sctx, cctx, "a.web.apps.example.test", &ss);
	refused_by(&ss, false, VERIFY_FAILED "hostname mismatch");
	tls_ctx_free(sctx);
	tls_ctx_free(cctx);
	tls_id_free(srv);
}

static void
test_mutual_auth(void **state)
{
	struct tls_id *srv = issue(ca_a, "peer.alpha", server_names, 1, TLS_USAGE_SERVER);
	struct tls_id *from_a = issue(ca_a, "rack gamma", NULL, 0, TLS_USAGE_CLIENT);
	struct tls_id *from_b = issue(ca_b, "rack delta", NULL, 0, TLS_USAGE_CLIENT);
	struct tls_id *server_only = issue(ca_a, "rack eps", NULL, 0, TLS_USAGE_SERVER);
	struct tls_ctx *sctx = server_ctx(srv, ca_a_pem);
	struct tls_ctx *ca = client_ctx(ca_a_pem, from_a), *cb = client_ctx(ca_a_pem, from_b);
	struct tls_ctx *none = client_ctx(ca_a_pem, NULL), *wrong = client_ctx(ca_a_pem, server_only);
	struct session ss;

	(void)state;
	run_session(sctx, ca, "web.example.test", &ss);
	accepted(&ss);

	run_session(sctx, cb, "web.example.test", &ss);
	refused_by(&ss, true, VERIFY_FAILED "unable to get local issuer certificate");
	assert_has(ss.client_err, "TLS read: ");    /* the server's alert */

	run_session(sctx, none, "web.example.test", &ss);
	refused_by(&ss, true, "TLS handshake: peer did not return a certificate");

	/* Issued by the right CA, but not for clients. */
	run_session(sctx, wrong, "web.example.test", &ss);
	refused_by(&ss, true, VERIFY_FAILED "unsuitable certificate purpose");

	tls_ctx_free(sctx);
	tls_ctx_free(ca);
	tls_ctx_free(cb);
	tls_ctx_free(none);
	tls_ctx_free(wrong);
	tls_id_free(srv);
	tls_id_free(from_a);
	tls_id_free(from_b);
	tls_id_free(server_only);
}

/* A client trusting both CAs (one PEM text holding both) reaches servers of each. */
static void
test_trust_several_cas(void **state)
{
	struct tls_id *sa = issue(ca_a, "a", server_names, 1, TLS_USAGE_SERVER);
	struct tls_id *sb = issue(ca_b, "b", server_names, 1, TLS_USAGE_SERVER);
	char *both = xasprintf("%s%s", ca_a_pem, ca_b_pem);
	struct tls_ctx *xa = server_ctx(sa, NULL), *xb = server_ctx(sb, NULL);
	struct tls_ctx *cctx = client_ctx(both, NULL);
	struct session ss;

	(void)state;
	run_session(xa, cctx, "web.example.test", &ss);
	accepted(&ss);
	run_session(xb, cctx, "web.example.test", &ss);
	accepted(&ss);
	tls_ctx_free(xa);
	tls_ctx_free(xb);
	tls_ctx_free(cctx);
	tls_id_free(sa);
	tls_id_free(sb);
	free(both);
}

static void
test_bad_inputs(void **state)
{
	static const char *const bad[] = { "web.example.test", "a b" };
	static const char *const comma[] = { "x,IP:1.2.3.4" };
	struct tls_id *leaf = issue(ca_a, "leaf", server_names, 1, TLS_USAGE_SERVER);
	char err[512];

	(void)state;
	assert_null(tls_issue(ca_a, "x", bad, 2, TLS_USAGE_SERVER, 30, err, sizeof(err)));
	assert_string_equal(err, "\"a b\" is neither a DNS name nor an IP address");
	assert_null(tls_issue(ca_a, "x", comma, 1, TLS_USAGE_SERVER, 30, err, sizeof(err)));
	assert_null(tls_issue(ca_a, "x", NULL, 0, 0, 30, err, sizeof(err)));
	/* A leaf cannot issue. */
	assert_null(tls_issue(leaf, "x", NULL, 0, TLS_USAGE_CLIENT, 30, err, sizeof(err)));
	assert_has(err, "the issuer is not a CA");
	assert_null(tls_ctx_client_new("junk", NULL, err, sizeof(err)));
	assert_has(err, "cannot read the trusted CA certificates: ");
	assert_true(tls_id_is_ca(ca_a));
	assert_false(tls_id_is_ca(leaf));
	tls_id_free(leaf);
}

static void
test_files(void **state)
{
	char cert[128], key[128], bad[128], err[512], fa[TLS_FINGERPRINT_SIZE],
	    fb[TLS_FINGERPRINT_SIZE], cn[64];
	struct tls_id *back;
	struct stat sb;
	mode_t old = umask(077);    /* the daemon's */

	(void)state;
	snprintf(cert, sizeof(cert), "%s/ca.pem", dir);
	snprintf(key, sizeof(key), "%s/ca.key", dir);
	assert_int_equal(tls_id_save(ca_a, cert, key, err, sizeof(err)), 0);
	umask(old);
	assert_int_equal(stat(key, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0600);
	assert_int_equal(stat(cert, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0644);

	back = tls_id_load(cert, key, err, sizeof(err));
	assert_non_null(back);
	tls_id_fingerprint(ca_a, fa);
	tls_id_fingerprint(back, fb);
	assert_string_equal(fa, fb);
	assert_int_equal(strlen(fa), TLS_FINGERPRINT_SIZE - 1);
	assert_true(tls_id_is_ca(back));
	tls_id_cn(back, cn, sizeof(cn));
	assert_string_equal(cn, "cx rack alpha CA");
	/* What was loaded issues, and what it issues verifies against the original. */
	{
		struct tls_id *srv = issue(back, "web", server_names, 1, TLS_USAGE_SERVER);
		struct tls_ctx *sctx = server_ctx(srv, NULL), *cctx = client_ctx(ca_a_pem, NULL);
		struct session ss;

		run_session(sctx, cctx, "web.example.test", &ss);
		accepted(&ss);
		tls_ctx_free(sctx);
		tls_ctx_free(cctx);
		tls_id_free(srv);
	}
	tls_id_free(back);

	/* From text in memory, as a peer's CA comes from its API. */
	back = tls_id_from_pem(ca_a_pem, NULL, err, sizeof(err));
	assert_non_null(back);
	tls_id_fingerprint(back, fb);
	assert_string_equal(fa, fb);
	tls_id_free(back);
	{
		char *k = read_file(key, 1 << 16, NULL);

		assert_null(tls_id_from_pem(ca_b_pem, k, err, sizeof(err)));
		assert_has(err, "key is not the key of certificate: ");
		free(k);
	}

	/* The wrong key, a corrupt file, a missing one: one line naming the file. */
	snprintf(bad, sizeof(bad), "%s/b.key", dir);
	assert_int_equal(tls_id_save(ca_b, cert, bad, err, sizeof(err)), 0);
	assert_null(tls_id_load(cert, key, err, sizeof(err)));
	assert_has(err, "/ca.key is not the key of ");
	assert_int_equal(write_file_atomic(bad, "-----BEGIN PRIVATE KEY-----\nxx\n", 31, 0600), 0);
	assert_null(tls_id_load(cert, bad, err, sizeof(err)));
	assert_has(err, "/b.key: not a PEM private key: ");
	assert_null(strchr(err, '\n'));
	assert_int_equal(write_file_atomic(bad, "hello\n", 6, 0600), 0);
	assert_null(tls_id_load(bad, NULL, err, sizeof(err)));
	assert_has(err, "/b.key: not a PEM certificate: no start line");
	unlink(bad);
	assert_null(tls_id_load(bad, NULL, err, sizeof(err)));
	assert_has(err, "cannot read ");
	assert_has(err, "/b.key: No such file or directory");
}

/* Runs cmd, returns its first line of output (static), or NULL. */
static const char *
first_line(const char *cmd)
{
	static char line[512];
	FILE *p = popen(cmd, "r");
	bool got;

	if (p == NULL)
		return NULL;
	got = fgets(line, sizeof(line), p) != NULL;
	if (pclose(p) != 0 || !got)
		return NULL;
	line[strcspn(line, "\n")] = '\0';
	return line;
}

static bool
have_openssl(void)
{
	return system("openssl version >/dev/null 2>&1") == 0;
}

/* The same fingerprint as `openssl x509 -fingerprint -sha256`, and
 * certificates the openssl command accepts as a chain. */
static void
test_openssl_agrees(void **state)
{
	char ca[128], leaf[128], cmd[512], fp[TLS_FINGERPRINT_SIZE], err[512];
	struct tls_id *srv;
	const char *out, *eq;

	(void)state;
	if (!have_openssl())
		skip();
	snprintf(ca, sizeof(ca), "%s/a.pem", dir);
	snprintf(leaf, sizeof(leaf), "%s/leaf.pem", dir);
	srv = issue(ca_a, "web", server_names, 3, TLS_USAGE_SERVER | TLS_USAGE_CLIENT);
	assert_int_equal(tls_id_save(ca_a, ca, NULL, err, sizeof(err)), 0);
	assert_int_equal(tls_id_save(srv, leaf, NULL, err, sizeof(err)), 0);

	snprintf(cmd, sizeof(cmd), "openssl x509 -noout -fingerprint -sha256 -in %s", ca);
	out = first_line(cmd);
	assert_non_null(out);
	eq = strchr(out, '=');
	assert_non_null(eq);
	tls_id_fingerprint(ca_a, fp);
	assert_string_equal(eq + 1, fp);

	snprintf(cmd, sizeof(cmd), "openssl x509 -noout -subject -in %s", ca);
	out = first_line(cmd);
	assert_non_null(out);
	assert_string_equal(out, "subject=CN = cx rack alpha CA");

	snprintf(cmd, sizeof(cmd), "openssl verify -purpose sslserver -CAfile %s %s 2>&1", ca, leaf);
	out = first_line(cmd);
	assert_non_null(out);
	assert_has(out, ": OK");
	snprintf(cmd, sizeof(cmd), "openssl verify -purpose sslclient -CAfile %s %s 2>&1", ca, leaf);
	assert_non_null(first_line(cmd));

	snprintf(cmd, sizeof(cmd), "openssl x509 -noout -ext basicConstraints,keyUsage -in %s "
	    "| tr -d ' \\n'", ca);
	out = first_line(cmd);
	assert_non_null(out);
	assert_string_equal(out, "X509v3BasicConstraints:criticalCA:TRUEX509v3KeyUsage:critical"
	    "CertificateSign,CRLSign");
	snprintf(cmd, sizeof(cmd), "openssl x509 -noout -ext subjectAltName,extendedKeyUsage -in %s "
	    "| tr -d ' \\n'", leaf);
	out = first_line(cmd);
	assert_non_null(out);
	assert_string_equal(out, "X509v3ExtendedKeyUsage:TLSWebServerAuthentication,TLSWebClient"
	    "AuthenticationX509v3SubjectAlternativeName:DNS:web.example.test,IPAddress:127.0.0.1,"
	    "IPAddress:0:0:0:0:0:0:0:1");
	tls_id_free(srv);
}

/* The SNI picker of test_sni: a.test and b.test have identities, and the
 * name it was last asked for is kept (NULL: none sent). */
static struct tls_id *sni_a, *sni_b;
static char sni_asked[300];

static const struct tls_id *
pick(void *arg, const char *sni)
{
	(void)arg;
	str_copy(sni_asked, sizeof(sni_asked), sni != NULL ? sni : "(none)");
	if (sni != NULL && strcmp(sni, "a.test") == 0)
		return sni_a;
	if (sni != NULL && strcmp(sni, "b.test") == 0)
		return sni_b;
	return NULL;
}

static void
test_sni(void **state)
{
	static const char *const a_names[] = { "a.test" }, *const b_names[] = { "b.test" };
	struct tls_ctx *cctx = client_ctx(ca_a_pem, NULL), *sctx;
	struct session ss;
	char err[512];

	(void)state;
	sni_a = issue(ca_a, "a.test", a_names, 1, TLS_USAGE_SERVER);
	sni_b = issue(ca_a, "b.test", b_names, 1, TLS_USAGE_SERVER);
	sctx = tls_ctx_sni_new(pick, err, sizeof(err));
	if (sctx == NULL)
		fail_msg("SNI context: %s", err);
	/* Each name gets its own certificate (the client verifies it as that name). */
	run_session(sctx, cctx, "a.test", &ss);
	accepted(&ss);
	assert_string_equal(sni_asked, "a.test");
	run_session(sctx, cctx, "b.test", &ss);
	accepted(&ss);
	assert_string_equal(sni_asked, "b.test");
	/* The picker sees the name in lower case; the certificate still matches. */
	run_session(sctx, cctx, "B.Test", &ss);
	accepted(&ss);
	assert_string_equal(sni_asked, "b.test");
	/* A name without a context, or none at all: the handshake is refused. */
	run_session(sctx, cctx, "c.test", &ss);
	refused_by(&ss, true, "TLS handshake: no certificate for \"c.test\"");
	assert_has(ss.client_err, "unrecognized name");
	run_session(sctx, cctx, "127.0.0.1", &ss);
	refused_by(&ss, true, "TLS handshake: no certificate for a client that sent no name (SNI)");
	assert_string_equal(sni_asked, "(none)");
	/* A connection keeps the certificate and key it was given. */
	{
		struct tls_conn *s, *c;
		int fds[2], rs = CX_AGAIN, rc = CX_AGAIN;

		assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds), 0);
		s = tls_conn_new(sctx, fds[0], NULL, err, sizeof(err));
		c = tls_conn_new(cctx, fds[1], "a.test", err, sizeof(err));
		assert_non_null(s);
		assert_non_null(c);
		for (int i = 0; i < 100 && (rs == CX_AGAIN || rc == CX_AGAIN); i++) {
			if (rc == CX_AGAIN)
				rc = tls_conn_handshake(c);
			if (rs == CX_AGAIN)
				rs = tls_conn_handshake(s);
		}
		assert_int_equal(rs, CX_OK);
		assert_int_equal(rc, CX_OK);
		assert_string_equal(tls_conn_sni(s), "a.test");
		tls_id_free(sni_a);
		sni_a = NULL;
		assert_int_equal(tls_conn_write(s, "x", 1), 1);
		tls_conn_close_notify(s);
		tls_conn_free(s);
		tls_conn_free(c);
		close(fds[0]);
		close(fds[1]);
	}
	tls_ctx_free(sctx);
	tls_id_free(sni_b);
	tls_ctx_free(cctx);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_server_verified_by_its_ca_only),
		cmocka_unit_test(test_names_in_the_certificate),
		cmocka_unit_test(test_wildcard_name),
		cmocka_unit_test(test_mutual_auth),
		cmocka_unit_test(test_trust_several_cas),
		cmocka_unit_test(test_bad_inputs),
		cmocka_unit_test(test_files),
		cmocka_unit_test(test_openssl_agrees),
		cmocka_unit_test(test_sni),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
