/*
 * acme.c — see acme.h. Its HTTPS goes through common/httpc.c (libcurl).
 *
 * The worker's run, one order per domain (RFC 8555 section 7):
 *
 *   directory -> newNonce -> newAccount (the key's account, made or found)
 *     for each domain:
 *       newOrder --> authorization (POST-as-GET) --valid--> finalize
 *                         | pending
 *                         v
 *       challenge published (snapshot line; the router answers it, checked
 *       by fetching it from the router) -> POST challenge {} -> poll the
 *       authorization until valid (or invalid: its error is the result)
 *       finalize (CSR, fresh key) -> poll the order until valid ->
 *       download the chain -> result (PEM chain and key) to the loop
 *
 * Every POST is a JWS signed with the account key; a badNonce answer is
 * retried with the nonce it carries. Every wait is bounded, and every
 * transfer and poll ends early when the daemon stops.
 *
 * Between the threads (mu): the challenges being answered, the results, and
 * whether the worker is done; the worker wakes the loop through an eventfd.
 * Everything else of struct acme is the loop's, or the job's (written by
 * the loop before the thread starts, read-only while it runs).
 */
#include "rackd/acme.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "common/httpc.h"
#include "common/jv.h"
#include "common/log.h"
#include "common/tls_acme.h"
#include "rackd/certs.h"
#include "rackd/rack.h"
#include "rackd/routers.h"
#include "rackd/store.h"

#define HTTP_BODY_MAX (1 << 20)
#define POLL_MS 500
#define POLL_MAX_MS (90 * 1000)
#define BACKOFF_MIN_MS (30 * 1000)
#define BACKOFF_MAX_MS (60 * 60 * 1000)
#define SCAN_MS 2000

struct acme_chal {
	char token[257];
	char keyauth[513];
};

struct acme_result {
	char domain[254];
	char *cert_pem;             /* NULL on failure */
	char *key_pem;
	char err[768];
	struct acme_result *next;
};

/* What the loop knows of one domain between attempts. */
struct acme_domain {
	char name[254];
	int64_t next_try;           /* ms */
	int64_t backoff;            /* ms */
};

struct acme {
	struct rack *rack;
	int efd;
	bool running;               /* a worker to join */
	pthread_t thread;
	atomic_bool stop;
	pthread_mutex_t mu;
	/* under mu */
	struct acme_chal *chals;
	size_t nchals;
	bool chals_changed;
	struct acme_result *results;
	bool done;
	/* the job */
	char directory[1024];
	char ca_file[1024];
	char key_path[4200];
	char check[80];             /* the public router's plain listener, IP:PORT */
	char **domains;
	size_t ndomains;
	/* the loop's */
	struct acme_domain *ds;
	size_t nds;
	char error[768];
	int64_t next_scan;
};

/* The worker's connection and account. */
struct worker {
	struct acme *a;
	struct tls_acme_key *key;
	char thumb[48];
	char kid[1024];
	char nonce[256];
	char new_nonce[1024], new_account[1024], new_order[1024];
};

struct http_resp {
	long status;
	struct buf body;
	char location[2048];
	char nonce[256];
};

/* ---- HTTP (worker) ---- */

static bool
stopping(void *arg)
{
	return atomic_load(&((struct acme *)arg)->stop);
}

/* One request: method "GET", "HEAD" or "POST" (body: a JWS). -1 with err
 * when no answer came. rs->body must be freed by the caller. */
static int
http_do(struct worker *w, const char *method, const char *url, const char *body,
    const char *host, struct http_resp *rs, char *err, size_t errlen)
{
	char hosthdr[300], why[1200];
	const char *hdrs[2];
	size_t nh = 0;
	struct httpc_header keep[] = {
		{ "Location", rs->location, sizeof(rs->location) },
		{ "Replay-Nonce", rs->nonce, sizeof(rs->nonce) },
	};
	struct httpc_req q = { .method = method, .url = url, .headers = hdrs, .body = body,
		.body_len = body != NULL ? strlen(body) : 0,
		.ca_file = w->a->ca_file[0] != '\0' ? w->a->ca_file : NULL,
		.user_agent = "cx-rackd acme", .env_proxy = true, .timeout_ms = 30000, .connect_timeout_ms = 10000,
		.max_resp = HTTP_BODY_MAX, .keep = keep, .nkeep = CX_ARRAY_LEN(keep),
		.cancelled = stopping, .cancel_arg = w->a };

	rs->location[0] = rs->nonce[0] = '\0';
	rs->status = 0;
	if (body != NULL)
		hdrs[nh++] = "Content-Type: application/jose+json";
	if (host != NULL) {
		snprintf(hosthdr, sizeof(hosthdr), "Host: %s", host);
		hdrs[nh++] = hosthdr;
	}
	q.nheaders = nh;
	if (httpc_do(&q, &rs->status, &rs->body, why, sizeof(why)) == -1) {
		snprintf(err, errlen, "cannot reach %s", atomic_load(&w->a->stop) ?
		    "the ACME server: the daemon is stopping" : why);
		buf_free(&rs->body);
		return -1;
	}
	if (rs->nonce[0] != '\0')
		str_copy(w->nonce, sizeof(w->nonce), rs->nonce);
	return 0;
}

/* The body as JSON (NULL if it is not). */
static jv *
resp_json(const struct http_resp *rs)
{
	char e[128];

	return rs->body.len > 0 ? jv_parse(rs->body.data, rs->body.len, e, sizeof(e)) : NULL;
}

/* err gets what failed and the server's problem document, one line. */
static void
problem(const struct http_resp *rs, const char *what, char *err, size_t errlen)
{
	jv *p = resp_json(rs);
	const char *type = jv_str(p, "type"), *detail = jv_str(p, "detail");
	char line[512];

	str_copy(line, sizeof(line), detail);
	for (char *c = line; *c != '\0'; c++)
		if (*c == '\n' || *c == '\r')
			*c = ' ';
	if (type[0] != '\0')
		snprintf(err, errlen, "%s: the ACME server answered %ld %s: %s", what, rs->status,
		    type, line);
	else
		snprintf(err, errlen, "%s: the ACME server answered %ld", what, rs->status);
	jv_free(p);
}

static bool
bad_nonce(const struct http_resp *rs)
{
	jv *p;
	bool yes;

	if (rs->status != 400)
		return false;
	p = resp_json(rs);
	yes = strcmp(jv_str(p, "type"), "urn:ietf:params:acme:error:badNonce") == 0;
	jv_free(p);
	return yes;
}

static int
fresh_nonce(struct worker *w, char *err, size_t errlen)
{
	struct http_resp rs;

	if (http_do(w, "HEAD", w->new_nonce, NULL, NULL, &rs, err, errlen) == -1)
		return -1;
	buf_free(&rs.body);
	if (w->nonce[0] == '\0') {
		snprintf(err, errlen, "%s gave no Replay-Nonce", w->new_nonce);
		return -1;
	}
	return 0;
}

/* A signed POST of payload ("" for POST-as-GET) to url, by key id once the
 * account is known. Retries a badNonce twice. The answer in rs (caller
 * frees rs->body). */
static int
post(struct worker *w, const char *url, const char *payload, struct http_resp *rs, char *err,
    size_t errlen)
{
	for (int attempt = 0; attempt < 3; attempt++) {
		char *jws;
		int rc;

		if (w->nonce[0] == '\0' && fresh_nonce(w, err, errlen) == -1)
			return -1;
		jws = tls_acme_jws(w->key, w->kid[0] != '\0' ? w->kid : NULL, w->nonce, url, payload,
		    err, errlen);
		w->nonce[0] = '\0';     /* a nonce is good once */
		if (jws == NULL)
			return -1;
		rc = http_do(w, "POST", url, jws, NULL, rs, err, errlen);
		free(jws);
		if (rc == -1)
			return -1;
		if (!bad_nonce(rs) || attempt == 2)
			return 0;
		buf_free(&rs->body);
	}
	return 0;
}

/* POST-as-GET of url as JSON into *out (caller frees); -1 with err. */
static int
fetch(struct worker *w, const char *url, const char *what, jv **out, char *err, size_t errlen)
{
	struct http_resp rs;

	*out = NULL;
	if (post(w, url, "", &rs, err, errlen) == -1)
		return -1;
	if (rs.status != 200 || (*out = resp_json(&rs)) == NULL) {
		problem(&rs, what, err, errlen);
		buf_free(&rs.body);
		return -1;
	}
	buf_free(&rs.body);
	return 0;
}

/* Sleeps ms, in slices, unless the daemon stops (-1 then). */
static int
nap(struct acme *a, int ms)
{
	for (int i = 0; i < ms; i += 50) {
		if (atomic_load(&a->stop))
			return -1;
		usleep(50000);
	}
	return atomic_load(&a->stop) ? -1 : 0;
}

/* ---- the protocol (worker) ---- */

static int
directory(struct worker *w, char *err, size_t errlen)
{
	struct http_resp rs;
	jv *d;

	if (http_do(w, "GET", w->a->directory, NULL, NULL, &rs, err, errlen) == -1)
		return -1;
	d = resp_json(&rs);
	if (rs.status != 200 || d == NULL || jv_str(d, "newNonce")[0] == '\0' ||
	    jv_str(d, "newAccount")[0] == '\0' || jv_str(d, "newOrder")[0] == '\0') {
		snprintf(err, errlen, "%s is not an ACME directory (HTTP %ld)", w->a->directory,
		    rs.status);
		jv_free(d);
		buf_free(&rs.body);
		return -1;
	}
	str_copy(w->new_nonce, sizeof(w->new_nonce), jv_str(d, "newNonce"));
	str_copy(w->new_account, sizeof(w->new_account), jv_str(d, "newAccount"));
	str_copy(w->new_order, sizeof(w->new_order), jv_str(d, "newOrder"));
	jv_free(d);
	buf_free(&rs.body);
	return 0;
}

static int
account(struct worker *w, char *err, size_t errlen)
{
	struct http_resp rs;
	bool made;

	w->key = tls_acme_key_load(w->a->key_path, &made, err, errlen);
	if (w->key == NULL)
		return -1;
	if (made)
		log_info("acme: made the account key %s", w->a->key_path);
	tls_acme_thumbprint(w->key, w->thumb);
	if (post(w, w->new_account, "{\"termsOfServiceAgreed\":true}", &rs, err, errlen) == -1)
		return -1;
	if ((rs.status != 200 && rs.status != 201) || rs.location[0] == '\0') {
		problem(&rs, "registering the ACME account", err, errlen);
		buf_free(&rs.body);
		return -1;
	}
	str_copy(w->kid, sizeof(w->kid), rs.location);
	if (rs.status == 201)
		log_info("acme: registered account %s", w->kid);
	buf_free(&rs.body);
	return 0;
}

/* Publishes (keyauth not NULL) or withdraws a challenge, and wakes the loop. */
static void
publish(struct acme *a, const char *token, const char *keyauth)
{
	uint64_t one = 1;

	pthread_mutex_lock(&a->mu);
	if (keyauth != NULL) {
		a->chals = xrealloc(a->chals, (a->nchals + 1) * sizeof(*a->chals));
		str_copy(a->chals[a->nchals].token, sizeof(a->chals[0].token), token);
		str_copy(a->chals[a->nchals].keyauth, sizeof(a->chals[0].keyauth), keyauth);
		a->nchals++;
	} else {
		for (size_t i = 0; i < a->nchals; i++) {
			if (strcmp(a->chals[i].token, token) == 0) {
				a->chals[i] = a->chals[--a->nchals];
				break;
			}
		}
	}
	a->chals_changed = true;
	pthread_mutex_unlock(&a->mu);
	if (write(a->efd, &one, sizeof(one)) == -1 && errno != EAGAIN)
		log_warn("acme: cannot wake the loop");
}

/* Waits (bounded) until the public router answers the challenge itself, so
 * the server is not asked to validate before the snapshot reached it. */
static int
router_answers(struct worker *w, const char *domain, const char *token, const char *keyauth,
    char *err, size_t errlen)
{
	char url[512];

	snprintf(url, sizeof(url), "http://%s/.well-known/acme-challenge/%s", w->a->check, token);
	for (int waited = 0; waited < 15000; waited += 100) {
		struct http_resp rs;
		char why[256];

		if (http_do(w, "GET", url, NULL, domain, &rs, why, sizeof(why)) == 0) {
			bool yes = rs.status == 200 && rs.body.len == strlen(keyauth) &&
			    memcmp(rs.body.data, keyauth, rs.body.len) == 0;

			buf_free(&rs.body);
			if (yes)
				return 0;
		}
		if (nap(w->a, 100) == -1)
			break;
	}
	snprintf(err, errlen, "%s: the public router (%s) does not answer the HTTP-01 challenge",
	    domain, w->a->check);
	return -1;
}

/* Polls url (an authorization or an order) until its status is not one of
 * the waiting ones; *out is the last object (caller frees). */
static int
poll_status(struct worker *w, const char *url, const char *what, const char *wait1,
    const char *wait2, jv **out, char *err, size_t errlen)
{
	for (int waited = 0; ; waited += POLL_MS) {
		const char *st;

		if (fetch(w, url, what, out, err, errlen) == -1)
			return -1;
		st = jv_str(*out, "status");
		if (strcmp(st, wait1) != 0 && strcmp(st, wait2) != 0)
			return 0;
		jv_free(*out);
		*out = NULL;
		if (waited >= POLL_MAX_MS) {
			snprintf(err, errlen, "%s: still %s after %d s", what, st, POLL_MAX_MS / 1000);
			return -1;
		}
		if (nap(w->a, POLL_MS) == -1) {
			snprintf(err, errlen, "%s: the daemon is stopping", what);
			return -1;
		}
	}
}

/* The error of an invalid authorization's http-01 challenge, one line. */
static void
authz_failed(const jv *authz, const char *domain, char *err, size_t errlen)
{
	const jv *chs = jv_get(authz, "challenges");

	for (size_t i = 0; i < jv_len(chs); i++) {
		const jv *ch = jv_at(chs, i), *e = jv_get(ch, "error");

		if (e != NULL) {
			snprintf(err, errlen, "%s: validation failed: %s: %s", domain, jv_str(e, "type"),
			    jv_str(e, "detail"));
			return;
		}
	}
	snprintf(err, errlen, "%s: the authorization is %s", domain, jv_str(authz, "status"));
}

static int
authorize(struct worker *w, const char *url, const char *domain, char *err, size_t errlen)
{
	char what[400], keyauth[600], token[257] = "", chal_url[1024] = "";
	const jv *chs;
	struct http_resp rs;
	jv *authz;
	int rc = -1;

	snprintf(what, sizeof(what), "the authorization of %s", domain);
	if (fetch(w, url, what, &authz, err, errlen) == -1)
		return -1;
	if (strcmp(jv_str(authz, "status"), "valid") == 0) {
		jv_free(authz);
		return 0;
	}
	chs = jv_get(authz, "challenges");
	for (size_t i = 0; i < jv_len(chs); i++) {
		const jv *ch = jv_at(chs, i);

		if (strcmp(jv_str(ch, "type"), "http-01") == 0) {
			str_copy(token, sizeof(token), jv_str(ch, "token"));
			str_copy(chal_url, sizeof(chal_url), jv_str(ch, "url"));
		}
	}
	jv_free(authz);
	if (token[0] == '\0' || chal_url[0] == '\0') {
		snprintf(err, errlen, "%s: the ACME server offers no http-01 challenge", domain);
		return -1;
	}
	snprintf(keyauth, sizeof(keyauth), "%s.%s", token, w->thumb);
	publish(w->a, token, keyauth);
	if (router_answers(w, domain, token, keyauth, err, errlen) == -1)
		goto out;
	if (post(w, chal_url, "{}", &rs, err, errlen) == -1)
		goto out;
	if (rs.status != 200) {
		problem(&rs, what, err, errlen);
		buf_free(&rs.body);
		goto out;
	}
	buf_free(&rs.body);
	if (poll_status(w, url, what, "pending", "processing", &authz, err, errlen) == -1)
		goto out;
	if (strcmp(jv_str(authz, "status"), "valid") == 0)
		rc = 0;
	else
		authz_failed(authz, domain, err, errlen);
	jv_free(authz);
out:
	publish(w->a, token, NULL);
	return rc;
}

/* One domain's certificate: the chain and its key, malloc'd. */
static int
obtain(struct worker *w, const char *domain, char **cert, char **key, char *err, size_t errlen)
{
	char what[400], order_url[2048], finalize[1024], *payload, *csr;
	struct http_resp rs;
	const jv *authzs;
	jv *order, *done = NULL;
	int rc = -1;

	*cert = *key = NULL;
	snprintf(what, sizeof(what), "the order of %s", domain);
	payload = xasprintf("{\"identifiers\":[{\"type\":\"dns\",\"value\":\"%s\"}]}", domain);
	rc = post(w, w->new_order, payload, &rs, err, errlen);
	free(payload);
	if (rc == -1)
		return -1;
	rc = -1;
	order = resp_json(&rs);
	if (rs.status != 201 || order == NULL || rs.location[0] == '\0') {
		problem(&rs, what, err, errlen);
		buf_free(&rs.body);
		jv_free(order);
		return -1;
	}
	str_copy(order_url, sizeof(order_url), rs.location);
	buf_free(&rs.body);
	str_copy(finalize, sizeof(finalize), jv_str(order, "finalize"));
	authzs = jv_get(order, "authorizations");
	for (size_t i = 0; i < jv_len(authzs); i++)
		if (authorize(w, jv_string_value(jv_at(authzs, i)), domain, err, errlen) == -1)
			goto out;
	{
		const char *names[1] = { domain };

		if ((csr = tls_acme_csr(names, 1, key, err, errlen)) == NULL)
			goto out;
	}
	payload = xasprintf("{\"csr\":\"%s\"}", csr);
	free(csr);
	rc = post(w, finalize, payload, &rs, err, errlen);
	free(payload);
	if (rc == -1)
		goto out;
	rc = -1;
	if (rs.status != 200) {
		problem(&rs, what, err, errlen);
		buf_free(&rs.body);
		goto out;
	}
	buf_free(&rs.body);
	if (poll_status(w, order_url, what, "processing", "pending", &done, err, errlen) == -1)
		goto out;
	if (strcmp(jv_str(done, "status"), "valid") != 0 || jv_str(done, "certificate")[0] == '\0') {
		snprintf(err, errlen, "%s is %s, not valid", what, jv_str(done, "status"));
		goto out;
	}
	if (post(w, jv_str(done, "certificate"), "", &rs, err, errlen) == -1)
		goto out;
	if (rs.status != 200 || rs.body.len == 0) {
		problem(&rs, "downloading the certificate", err, errlen);
		buf_free(&rs.body);
		goto out;
	}
	*cert = buf_cstr(&rs.body);
	rc = 0;
out:
	jv_free(done);
	jv_free(order);
	if (rc == -1 && *key != NULL) {
		explicit_bzero(*key, strlen(*key));
		free(*key);
		*key = NULL;
	}
	return rc;
}

static void
add_result(struct acme *a, struct acme_result *res)
{
	uint64_t one = 1;

	pthread_mutex_lock(&a->mu);
	res->next = a->results;
	a->results = res;
	pthread_mutex_unlock(&a->mu);
	if (write(a->efd, &one, sizeof(one)) == -1 && errno != EAGAIN)
		log_warn("acme: cannot wake the loop");
}

static void *
worker_main(void *arg)
{
	struct acme *a = arg;
	struct worker w = { .a = a };
	char err[768] = "";
	uint64_t one = 1;
	int setup;

	setup = directory(&w, err, sizeof(err)) == -1 ? -1 : account(&w, err, sizeof(err));
	for (size_t i = 0; i < a->ndomains && !atomic_load(&a->stop); i++) {
		struct acme_result *res = xcalloc(1, sizeof(*res));

		str_copy(res->domain, sizeof(res->domain), a->domains[i]);
		if (setup == -1)
			str_copy(res->err, sizeof(res->err), err);
		else if (obtain(&w, a->domains[i], &res->cert_pem, &res->key_pem, res->err,
		    sizeof(res->err)) == -1 && res->err[0] == '\0')
			snprintf(res->err, sizeof(res->err), "%s: failed", a->domains[i]);
		add_result(a, res);
	}
	tls_acme_key_free(w.key);
	pthread_mutex_lock(&a->mu);
	a->done = true;
	pthread_mutex_unlock(&a->mu);
	if (write(a->efd, &one, sizeof(one)) == -1 && errno != EAGAIN)
		log_warn("acme: cannot wake the loop");
	return NULL;
}

/* ---- the loop's side ---- */

static struct acme_domain *
domain_state(struct acme *a, const char *name)
{
	for (size_t i = 0; i < a->nds; i++)
		if (strcmp(a->ds[i].name, name) == 0)
			return &a->ds[i];
	a->ds = xrealloc(a->ds, (a->nds + 1) * sizeof(*a->ds));
	memset(&a->ds[a->nds], 0, sizeof(a->ds[0]));
	str_copy(a->ds[a->nds].name, sizeof(a->ds[0].name), name);
	return &a->ds[a->nds++];
}

static void
free_job(struct acme *a)
{
	for (size_t i = 0; i < a->ndomains; i++)
		free(a->domains[i]);
	free(a->domains);
	a->domains = NULL;
	a->ndomains = 0;
}

/* Deletes the ACME certificates of domain older than keep. */
static void
drop_older(struct rack *r, const char *domain, const char *keep)
{
	struct st_cert *cs;
	size_t n;
	char err[512];

	if (store_cert_list(r->store, &cs, &n) == -1)
		return;
	for (size_t i = 0; i < n; i++)
		if (strcmp(cs[i].source, "acme") == 0 && strcmp(cs[i].domains, domain) == 0 &&
		    strcmp(cs[i].id, keep) != 0 && certs_delete(r->store, r->dir, cs[i].id, err,
		    sizeof(err)) == 0)
			log_info("acme: deleted %s, the certificate of %s it replaces", cs[i].id, domain);
	store_cert_list_free(cs, n);
}

static void
take_result(struct rack *r, struct acme *a, struct acme_result *res)
{
	struct acme_domain *d = domain_state(a, res->domain);
	struct tls_cert_info info;
	struct st_cert c;
	char err[512];

	if (res->cert_pem != NULL && tls_pem_pair_check(res->cert_pem, res->key_pem, now_unix(),
	    &info, err, sizeof(err)) == -1)
		snprintf(res->err, sizeof(res->err), "%s: the certificate obtained is unusable: %s",
		    res->domain, err);
	else if (res->cert_pem != NULL && !tls_cert_covers(&info, res->domain))
		snprintf(res->err, sizeof(res->err), "%s: the certificate obtained does not name it",
		    res->domain);
	else if (res->cert_pem != NULL && certs_add(r->store, r->dir, "acme", res->cert_pem,
	    res->key_pem, &c, err, sizeof(err)) == -1)
		snprintf(res->err, sizeof(res->err), "%s: %s", res->domain, err);
	else if (res->cert_pem != NULL) {
		log_info("acme: obtained %s for %s, valid until %lld", c.id, res->domain,
		    (long long)c.expires);
		drop_older(r, res->domain, c.id);
		store_cert_free(&c);
		d->backoff = 0;
		d->next_try = 0;
		a->error[0] = '\0';
		routers_certs_changed(r);
		return;
	}
	d->backoff = d->backoff == 0 ? BACKOFF_MIN_MS : d->backoff * 2;
	if (d->backoff > BACKOFF_MAX_MS)
		d->backoff = BACKOFF_MAX_MS;
	d->next_try = now_ms() + d->backoff;
	log_warnx("acme: %s; trying again in %lld s", res->err, (long long)(d->backoff / 1000));
	snprintf(a->error, sizeof(a->error), "ACME: %s", res->err);
}

static void
harvest(struct rack *r, struct acme *a)
{
	struct acme_result *res, *next;
	bool chals, done;

	pthread_mutex_lock(&a->mu);
	res = a->results;
	a->results = NULL;
	chals = a->chals_changed;
	a->chals_changed = false;
	done = a->done;
	pthread_mutex_unlock(&a->mu);
	if (chals)
		rack_routes_changed(r);
	for (; res != NULL; res = next) {
		next = res->next;
		take_result(r, a, res);
		free(res->cert_pem);
		if (res->key_pem != NULL) {
			explicit_bzero(res->key_pem, strlen(res->key_pem));
			free(res->key_pem);
		}
		free(res);
	}
	if (done && a->running) {
		pthread_join(a->thread, NULL);
		a->running = false;
		a->done = false;
		free_job(a);
	}
}

static void
on_wake(struct ev_loop *loop, int fd, uint32_t events, void *arg)
{
	struct acme *a = arg;
	uint64_t n;

	(void)loop;
	(void)events;
	if (read(fd, &n, sizeof(n)) == -1 && errno != EAGAIN)
		log_warn("acme: eventfd");
	harvest(a->rack, a);
}

static struct acme *
acme_get(struct rack *r)
{
	struct acme *a;

	if (r->acme != NULL)
		return r->acme;
	if (httpc_init() == -1)      /* before the worker thread starts */
		return NULL;
	a = xcalloc(1, sizeof(*a));
	a->rack = r;
	a->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (a->efd == -1 || ev_add(r->loop, a->efd, EV_READ, on_wake, a) == -1) {
		log_warn("acme: cannot make its eventfd");
		if (a->efd != -1)
			close(a->efd);
		free(a);
		return NULL;
	}
	pthread_mutex_init(&a->mu, NULL);
	atomic_init(&a->stop, false);
	r->acme = a;
	return a;
}

/* Whether domain has an ACME certificate not yet due for renewal (two
 * thirds of its life). */
static bool
has_fresh(const struct st_cert *cs, size_t n, const char *domain, int64_t now)
{
	for (size_t i = 0; i < n; i++) {
		int64_t renew;

		if (strcmp(cs[i].source, "acme") != 0 || strcmp(cs[i].domains, domain) != 0)
			continue;
		renew = cs[i].created + (cs[i].expires - cs[i].created) * 2 / 3;
		if (now < renew)
			return true;
	}
	return false;
}

/* The public router's plain listener as the worker can reach it. */
static void
check_addr(struct rack *r, char *out, size_t outlen)
{
	str_copy(out, outlen, r->routers[0].listen);
}

void
acme_tick(struct rack *r)
{
	char dir[1024], *hosts, *save = NULL;
	struct st_cert *cs = NULL;
	struct acme *a;
	size_t n = 0;
	int64_t now = now_ms();

	rack_param(r, "acme_directory", dir, sizeof(dir));
	if (dir[0] == '\0' && r->acme == NULL)
		return;
	if ((a = acme_get(r)) == NULL)
		return;
	if (dir[0] == '\0') {
		a->error[0] = '\0';
		return;
	}
	if (a->running || now < a->next_scan || r->routers[0].cert_hosts == NULL)
		return;
	if (strcmp(a->directory, dir) != 0) {
		/* Another server: its domains' back-off starts afresh. */
		free(a->ds);
		a->ds = NULL;
		a->nds = 0;
		a->error[0] = '\0';
		str_copy(a->directory, sizeof(a->directory), dir);
	}
	a->next_scan = now + SCAN_MS;
	if (store_cert_list(r->store, &cs, &n) == -1)
		return;
	hosts = xstrdup(r->routers[0].cert_hosts);
	for (char *t = strtok_r(hosts, "\n", &save); t != NULL; t = strtok_r(NULL, "\n", &save)) {
		struct acme_domain *d;

		t[strcspn(t, " ")] = '\0';
		if (has_fresh(cs, n, t, now_unix()))
			continue;
		d = domain_state(a, t);
		if (now < d->next_try)
			continue;
		a->domains = xrealloc(a->domains, (a->ndomains + 1) * sizeof(*a->domains));
		a->domains[a->ndomains++] = xstrdup(t);
	}
	free(hosts);
	store_cert_list_free(cs, n);
	if (a->ndomains == 0)
		return;
	rack_param(r, "acme_ca", a->ca_file, sizeof(a->ca_file));
	snprintf(a->key_path, sizeof(a->key_path), "%s/certs/acme", r->dir);
	if (mkdir_p(a->key_path, 0700) == -1) {
		log_warn("acme: cannot make %s", a->key_path);
		free_job(a);
		return;
	}
	snprintf(a->key_path, sizeof(a->key_path), "%s/certs/acme/account.key", r->dir);
	check_addr(r, a->check, sizeof(a->check));
	a->done = false;
	if (pthread_create(&a->thread, NULL, worker_main, a) != 0) {
		log_warn("acme: cannot start its worker");
		free_job(a);
		return;
	}
	a->running = true;
	log_info("acme: ordering certificates from %s for %zu domain(s), %s first", a->directory,
	    a->ndomains, a->domains[0]);
}

int
acme_challenge_lines(struct rack *r, struct buf *b)
{
	struct acme *a = r->acme;
	int rc = 0;

	if (a == NULL)
		return 0;
	pthread_mutex_lock(&a->mu);
	for (size_t i = 0; i < a->nchals && rc == 0; i++)
		rc = buf_addf(b, "challenge %s %s\n", a->chals[i].token, a->chals[i].keyauth);
	pthread_mutex_unlock(&a->mu);
	return rc;
}

const char *
acme_error(struct rack *r)
{
	return r->acme != NULL ? r->acme->error : "";
}

void
acme_stop(struct rack *r)
{
	struct acme *a = r->acme;

	if (a == NULL)
		return;
	atomic_store(&a->stop, true);
	if (a->running) {
		pthread_join(a->thread, NULL);
		a->running = false;
	}
	a->done = true;
	harvest(r, a);      /* frees what the worker left */
	ev_del(r->loop, a->efd);
	close(a->efd);
	pthread_mutex_destroy(&a->mu);
	free(a->chals);
	free(a->ds);
	free_job(a);
	free(a);
	r->acme = NULL;
}
