/*
 * login.c — `cx login HOST[:PORT] --password PASS [--ca FILE | --fingerprint
 * SHA256]` and `cx rack ca fingerprint`.
 *
 * Login settles which CA the rack's API certificate must be issued by:
 * the file --ca names; or the CA the server sends after its certificate,
 * when its fingerprint is the one --fingerprint gives; or, with neither,
 * that CA on first use (its fingerprint printed for the user to compare).
 * Then GET /system over a connection verified against that CA (leaf issued
 * by it, naming the address) with the password gives the rack's name, and
 * only then is anything stored (remote.h). Any failure is one ERROR line and
 * leaves the registry as it was.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/client.h"
#include "cli/output.h"
#include "cli/remote.h"
#include "common/tls.h"

#define CA_FILE_MAX (256 * 1024)

/* The CA among the certificates a server sent (the last one that is a CA),
 * as PEM, malloc'd; NULL with err. */
static char *
chain_ca(const char *url, char **pems, size_t n, char fp[TLS_FINGERPRINT_SIZE], char *err,
    size_t errlen)
{
	char *pem = NULL;

	for (size_t i = n; i-- > 1 && pem == NULL;) {
		struct tls_id *id = tls_id_from_pem(pems[i], NULL, err, errlen);

		if (id != NULL && tls_id_is_ca(id)) {
			tls_id_fingerprint(id, fp);
			pem = tls_id_cert_pem(id, NULL);
		}
		tls_id_free(id);
	}
	if (pem == NULL)
		snprintf(err, errlen, "%s sent no CA certificate after its own, so there is nothing "
		    "to pin (is it a cx rack?); log in with --ca FILE", url);
	return pem;
}

/* GET /system of url, verified against ca_file, with the password: the
 * rack's name into name. -1 with err. */
static int
ask_name(const char *url, const char *password, const char *ca_file, const char *ca_name,
    char *name, size_t namelen, char *err, size_t errlen)
{
	struct client_req req = { .method = "GET", .path = "/system", .body_fd = -1,
		.timeout_ms = 15000 };
	struct client_resp resp;
	struct client *cl;
	char perr[256];
	int rc = -1;
	jv *sys;

	if ((cl = client_new_https(url, password, ca_file, err, errlen)) == NULL)
		return -1;
	client_set_ca_name(cl, ca_name);
	buf_init(&resp.body, 1 << 20);
	if (client_do(cl, &req, &resp, err, errlen) != CLIENT_OK)
		goto out;
	if (resp.status == 401) {
		snprintf(err, errlen, "invalid password for the rack at %s", url);
		goto out;
	}
	if (resp.status != 200) {
		snprintf(err, errlen, "%s answered GET /system with HTTP %ld: is it a cx rack's API?",
		    url, resp.status);
		goto out;
	}
	sys = jv_parse(resp.body.data, resp.body.len, perr, sizeof(perr));
	if (sys == NULL || !valid_name(jv_str(sys, "name"))) {
		snprintf(err, errlen, "%s answered GET /system without a rack's name", url);
	} else {
		str_copy(name, namelen, jv_str(sys, "name"));
		rc = 0;
	}
	jv_free(sys);
out:
	buf_free(&resp.body);
	client_free(cl);
	return rc;
}

/* The CA to trust, as PEM text (malloc'd): --ca's file, or the server's
 * when --fingerprint matches it or on first use (*pinned set). NULL after
 * printing. */
static char *
settle_ca(struct cli *c, const char *url, char fp[TLS_FINGERPRINT_SIZE], bool *pinned)
{
	const char *ca_file = c->opt[OPT_CA], *want = c->opt[OPT_FINGERPRINT];
	char err[1024], wantfp[REMOTE_FP_SIZE];
	char **pems = NULL, *pem;
	struct tls_id *id;
	size_t n = 0;

	*pinned = false;
	if (ca_file != NULL) {
		if ((pem = read_file(ca_file, CA_FILE_MAX, NULL)) == NULL)
			return out_error("cannot read %s: %s", ca_file, strerror(errno)), NULL;
		if ((id = tls_id_from_pem(pem, NULL, err, sizeof(err))) == NULL) {
			free(pem);
			return out_error("%s: not a PEM certificate", ca_file), NULL;
		}
		tls_id_fingerprint(id, fp);
		tls_id_free(id);
		return pem;
	}
	if (want != NULL && remote_parse_fingerprint(want, wantfp) == -1)
		return out_error("--fingerprint %s is not a SHA-256 fingerprint (32 bytes in hex, "
		    "as cx rack ca fingerprint prints it on the rack's host)", want), NULL;
	if (client_fetch_chain(url, &pems, &n, err, sizeof(err)) == -1)
		return out_error("%s", err), NULL;
	pem = chain_ca(url, pems, n, fp, err, sizeof(err));
	for (size_t i = 0; i < n; i++)
		free(pems[i]);
	free(pems);
	if (pem == NULL)
		return out_error("%s", err), NULL;
	if (want != NULL && strcmp(fp, wantfp) != 0) {
		free(pem);
		return out_error("the CA of the rack at %s has fingerprint SHA256:%s, not the "
		    "SHA256:%s given; nothing stored", url, fp, wantfp), NULL;
	}
	*pinned = want == NULL;
	return pem;
}

int
cmd_login(struct cli *c)
{
	const char *password = c->opt[OPT_PASSWORD];
	char url[REMOTE_URL_MAX], err[1024], name[64], tmp[PATH_MAX], fp[TLS_FINGERPRINT_SIZE];
	char *ca_pem = NULL;
	bool pinned;
	int fd, rc = 1;

	if (password == NULL || password[0] == '\0')
		return out_error("cx login needs --password PASSWORD: the rack's API password (on "
		    "its host, $CX_HOME/racks/NAME/password)");
	if (c->opt[OPT_CA] != NULL && c->opt[OPT_FINGERPRINT] != NULL)
		return out_error("give --ca FILE or --fingerprint SHA256, not both");
	if (remote_parse_address(c->argv[0], url, sizeof(url), err, sizeof(err)) == -1)
		return out_error("%s", err);
	if (cli_home(c) == -1)
		return 1;
	if ((ca_pem = settle_ca(c, url, fp, &pinned)) == NULL)
		return 1;
	/* The CA goes to a file of its own for libcurl to verify against. */
	snprintf(tmp, sizeof(tmp), "%s/remotes", c->home);
	if (mkdir_p(tmp, 0700) == -1) {
		out_error("cannot create %s: %s", tmp, strerror(errno));
		goto out;
	}
	snprintf(tmp, sizeof(tmp), "%s/remotes/.login-XXXXXX", c->home);
	if ((fd = mkstemp(tmp)) == -1) {
		out_error("cannot create %s: %s", tmp, strerror(errno));
		goto out;
	}
	if (write(fd, ca_pem, strlen(ca_pem)) != (ssize_t)strlen(ca_pem)) {
		out_error("cannot write %s: %s", tmp, strerror(errno));
		close(fd);
		unlink(tmp);
		goto out;
	}
	close(fd);
	if (ask_name(url, password, tmp, c->opt[OPT_CA] ? c->opt[OPT_CA] : "the CA it sent", name,
	    sizeof(name), err, sizeof(err)) == -1) {
		unlink(tmp);
		out_error("%s", err);
		goto out;
	}
	unlink(tmp);
	if (cli_rack_exists(c, name)) {
		out_error("the rack at %s is named %s, like a rack installed here; nothing stored "
		    "(use a CX_HOME of its own to reach both)", url, name);
		goto out;
	}
	if (remote_save(c->home, name, url, password, ca_pem, err, sizeof(err)) == -1) {
		out_error("%s", err);
		goto out;
	}
	if (pinned)
		printf("Pinned certificate SHA256:%s\n", fp);
	printf("Logged in to rack %s at %s\n", name, url);
	rc = 0;
out:
	free(ca_pem);
	return rc;
}

int
cmd_rack_ca_fingerprint(struct cli *c)
{
	struct buf pem;
	struct tls_id *id;
	char err[512], fp[TLS_FINGERPRINT_SIZE];
	int64_t off;
	long st;

	buf_init(&pem, CA_FILE_MAX);
	st = api_text(c, "/system/ca", &pem, &off);
	if (st == -1) {
		buf_free(&pem);
		return 1;
	}
	if (st != 200 || (id = tls_id_from_pem(buf_cstr(&pem), NULL, err, sizeof(err))) == NULL) {
		buf_free(&pem);
		return out_error("rack %s has no CA certificate to show", c->rack);
	}
	tls_id_fingerprint(id, fp);
	printf("SHA256:%s\n", fp);
	tls_id_free(id);
	buf_free(&pem);
	return 0;
}
