/*
 * api_certs.c — the rack's certificates and the certificates of an app's
 * endpoints (docs/api.md): GET/POST/DELETE /certificates, POST
 * /certificates/generate, GET /apps/:app/ssl, PUT /apps/:app/ssl/:svc/:port.
 * Files and rows are certs.c's; this checks what a client sends and makes
 * the public router pick the change up (its certificates are synced again).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/tls_acme.h"
#include "rackd/api.h"
#include "rackd/certs.h"
#include "rackd/manifest.h"
#include "rackd/rack.h"
#include "rackd/routers.h"
#include "rackd/store.h"

static jv *
cert_json(const struct st_cert *c)
{
	jv *j = jv_object_new(), *ds = jv_array_new();
	char *copy = xstrdup(c->domains), *save = NULL;

	for (char *t = strtok_r(copy, ",", &save); t != NULL; t = strtok_r(NULL, ",", &save))
		jv_push_str(ds, t);
	free(copy);
	jv_set_str(j, "id", c->id);
	jv_set_str(j, "domain", jv_len(ds) > 0 ? jv_string_value(jv_at(ds, 0)) : "");
	jv_set_take(j, "domains", ds);
	jv_set_int(j, "expires", c->expires);
	jv_set_str(j, "source", c->source);
	return j;
}

void
api_certs_list(struct rack *r, struct api_req *q, struct api_resp *s)
{
	struct st_cert *cs;
	size_t n;
	jv *arr;

	(void)q;
	if (store_cert_list(r->store, &cs, &n) == -1) {
		api_error(s, 500, "cannot read the certificates: %s", store_error(r->store));
		return;
	}
	arr = jv_array_new();
	for (size_t i = 0; i < n; i++)
		jv_push_take(arr, cert_json(&cs[i]));
	store_cert_list_free(cs, n);
	s->json = arr;
}

void
api_certs_import(struct rack *r, struct api_req *q, struct api_resp *s)
{
	jv *body = api_json_body(q, s);
	struct tls_cert_info info;
	struct st_cert c;
	const char *pub, *key, *chain;
	char err[512], *full;

	if (body == NULL)
		return;
	pub = jv_str_or(body, "pub", NULL);
	key = jv_str_or(body, "key", NULL);
	chain = jv_str_or(body, "chain", "");
	if (pub == NULL || key == NULL || strlen(pub) + strlen(chain) > API_PEM_MAX ||
	    strlen(key) > API_PEM_MAX) {
		api_error(s, 400, "a certificate import is {\"pub\": PEM, \"key\": PEM[, \"chain\": PEM]}"
		    " of at most %d bytes each", API_PEM_MAX);
		goto out;
	}
	if (tls_pem_pair_check(pub, key, now_unix(), &info, err, sizeof(err)) == -1) {
		api_error(s, 400, "cannot import the certificate: %s", err);
		goto out;
	}
	full = xasprintf("%s%s%s", pub, pub[0] != '\0' && pub[strlen(pub) - 1] != '\n' ? "\n" : "",
	    chain);
	if (certs_add(r->store, r->dir, "imported", full, key, &c, err, sizeof(err)) == -1) {
		free(full);
		api_error(s, 500, "%s", err);
		goto out;
	}
	free(full);
	log_info("imported certificate %s for %s", c.id, c.domains);
	s->json = cert_json(&c);
	store_cert_free(&c);
out:
	jv_free(body);
}

void
api_certs_generate(struct rack *r, struct api_req *q, struct api_resp *s)
{
	jv *body = api_json_body(q, s), *ds;
	const char *names[TLS_NAMES_MAX];
	struct st_cert c;
	char err[512];
	size_t n;

	if (body == NULL)
		return;
	ds = jv_get(body, "domains");
	n = jv_is_array(ds) ? jv_len(ds) : 0;
	if (n == 0 || n > TLS_NAMES_MAX) {
		api_error(s, 400, "generate takes {\"domains\": [1 to %d names]}", TLS_NAMES_MAX);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		names[i] = jv_string_value(jv_at(ds, i));
		if (names[i] == NULL) {
			api_error(s, 400, "domains must be strings");
			goto out;
		}
	}
	if (certs_generate(r->store, r->dir, names, n, &c, err, sizeof(err)) == -1) {
		api_error(s, 400, "cannot generate the certificate: %s", err);
		goto out;
	}
	log_info("generated certificate %s for %s", c.id, c.domains);
	s->json = cert_json(&c);
	store_cert_free(&c);
out:
	jv_free(body);
}

void
api_certs_delete(struct rack *r, struct api_req *q, struct api_resp *s)
{
	char err[512];

	if (certs_delete(r->store, r->dir, q->args[0], err, sizeof(err)) == -1) {
		api_error(s, strstr(err, "no certificate") == err ? 404 : 409, "%s", err);
		return;
	}
	log_info("deleted certificate %s", q->args[0]);
	routers_certs_changed(r);
	s->json = jv_object_new();
}

/* Whether service sv has an endpoint on the public router. */
static bool
public_endpoint(const struct mf_service *sv)
{
	return sv->port != 0 && !sv->internal && !sv->internal_router;
}

/* The domain an endpoint is known by: its first custom domain, else the
 * rack's name for it. */
static void
endpoint_domain(struct rack *r, const struct app *a, const struct mf_service *sv, char *out,
    size_t outlen)
{
	if (sv->ndomains > 0)
		str_copy(out, outlen, sv->domains[0]);
	else
		rack_service_host(r, a->name, sv->name, false, out, outlen);
}

/* The certificate row whose file dir/certs/HOST.pem is, 0 found. */
static int
served(struct rack *r, const char *host, const struct st_cert *cs, size_t n, size_t *at)
{
	char path[4400];

	snprintf(path, sizeof(path), "%s/certs/%s.pem", r->dir, host);
	for (size_t i = 0; i < n; i++) {
		if (certs_same_file(path, cs[i].cert_path)) {
			*at = i;
			return 0;
		}
	}
	return -1;
}

void
api_ssl_list(struct rack *r, struct api_req *q, struct api_resp *s)
{
	struct app *a = rack_app_find(r, q->args[0]);
	struct st_cert *cs = NULL;
	size_t n = 0;
	jv *arr;

	if (a == NULL) {
		api_error(s, 404, "no such app: %s (cx apps lists them)", q->args[0]);
		return;
	}
	store_cert_list(r->store, &cs, &n);
	arr = jv_array_new();
	for (size_t i = 0; a->manifest != NULL && i < a->manifest->nservices; i++) {
		const struct mf_service *sv = &a->manifest->services[i];
		char domain[300], ep[64];
		size_t at;
		jv *j;

		if (!public_endpoint(sv))
			continue;
		endpoint_domain(r, a, sv, domain, sizeof(domain));
		snprintf(ep, sizeof(ep), "%s:%d", sv->name, CERTS_TLS_PORT);
		j = jv_object_new();
		jv_set_str(j, "endpoint", ep);
		jv_set_str(j, "domain", domain);
		if (served(r, domain, cs, n, &at) == 0) {
			jv_set_str(j, "certificate", cs[at].id);
			jv_set_int(j, "expires", cs[at].expires);
			jv_set_str(j, "source", cs[at].source);
		} else {
			jv_set_str(j, "certificate", "");
			jv_set_int(j, "expires", 0);
			jv_set_str(j, "source", "");
		}
		jv_push_take(arr, j);
	}
	store_cert_list_free(cs, n);
	s->json = arr;
}

/* Whether c covers every domain the endpoint must answer for (its custom
 * domains, else the rack's name for it); the first it does not in miss. */
static bool
covers_endpoint(struct rack *r, const struct app *a, const struct mf_service *sv,
    const struct st_cert *c, char *miss, size_t misslen)
{
	struct tls_cert_info info = { .nnames = 0 };
	char *copy = xstrdup(c->domains), *save = NULL, host[300];

	for (char *t = strtok_r(copy, ",", &save); t != NULL && info.nnames < TLS_NAMES_MAX;
	    t = strtok_r(NULL, ",", &save))
		str_copy(info.names[info.nnames++], sizeof(info.names[0]), t);
	free(copy);
	for (size_t d = 0; d < sv->ndomains; d++) {
		if (!tls_cert_covers(&info, sv->domains[d])) {
			str_copy(miss, misslen, sv->domains[d]);
			return false;
		}
	}
	if (sv->ndomains > 0)
		return true;
	rack_service_host(r, a->name, sv->name, false, host, sizeof(host));
	if (!tls_cert_covers(&info, host)) {
		str_copy(miss, misslen, host);
		return false;
	}
	return true;
}

void
api_ssl_update(struct rack *r, struct api_req *q, struct api_resp *s)
{
	struct app *a = rack_app_find(r, q->args[0]);
	const struct mf_service *sv = NULL;
	struct st_binding b;
	struct st_cert c;
	const char *id;
	char miss[300];
	jv *body;
	long port;

	if (a == NULL) {
		api_error(s, 404, "no such app: %s (cx apps lists them)", q->args[0]);
		return;
	}
	for (size_t i = 0; a->manifest != NULL && i < a->manifest->nservices; i++)
		if (strcmp(a->manifest->services[i].name, q->args[1]) == 0)
			sv = &a->manifest->services[i];
	if (sv == NULL || !public_endpoint(sv)) {
		api_error(s, 404, "app %s has no public endpoint %s (cx ssl -a %s lists them)", a->name,
		    q->args[1], a->name);
		return;
	}
	if (parse_long(q->args[2], 1, 65535, &port) == -1 || port != CERTS_TLS_PORT) {
		api_error(s, 400, "%s:%s is not an endpoint: the TLS endpoint is %s:%d", sv->name,
		    q->args[2], sv->name, CERTS_TLS_PORT);
		return;
	}
	if ((body = api_json_body(q, s)) == NULL)
		return;
	id = jv_str_or(body, "id", "");
	if (store_cert_get(r->store, id, &c) == -1) {
		api_error(s, 404, "no certificate %s; cx certs lists them", id);
		jv_free(body);
		return;
	}
	if (c.expires <= now_unix()) {
		api_error(s, 400, "%s has expired", c.id);
	} else if (!covers_endpoint(r, a, sv, &c, miss, sizeof(miss))) {
		api_error(s, 400, "%s does not name %s, the domain of %s:%d (it names %s)", c.id, miss,
		    sv->name, CERTS_TLS_PORT, c.domains);
	} else {
		memset(&b, 0, sizeof(b));
		str_copy(b.app, sizeof(b.app), a->name);
		str_copy(b.service, sizeof(b.service), sv->name);
		b.port = CERTS_TLS_PORT;
		str_copy(b.cert, sizeof(b.cert), c.id);
		if (store_binding_set(r->store, &b) == -1) {
			api_error(s, 500, "cannot bind %s: %s", c.id, store_error(r->store));
		} else {
			log_info("app %s: %s:%d is served with certificate %s", a->name, sv->name,
			    CERTS_TLS_PORT, c.id);
			routers_certs_changed(r);
			s->json = jv_object_new();
		}
	}
	store_cert_free(&c);
	jv_free(body);
}
