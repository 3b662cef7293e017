/*
 * ingress.c — see ingress.h. A rule's host is served by the Service its
 * "/" path names: the Service port (by number or name) gives the port's
 * name, and the Endpoints subset that has a port of that name gives the
 * addresses and the number to dial, as kube-proxy reads them.
 */
#include "k8s/ingress.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DEFAULT_TIMEOUT_S 60

/* One snapshot being made. */
struct snap {
	struct buf *out, *warnings;
	jv *seen;		/* host -> the Ingress that has it */
	const jv *secrets;
	const char *unwritten;	/* scope->unwritten */
	struct k8s_ingress_cert *certs;
	size_t ncerts;
	bool full;		/* out ran past its maximum */
};

static void put(struct snap *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A line of the snapshot. */
static void
put(struct snap *c, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(line) || buf_add(c->out, line, (size_t)n) == -1)
		c->full = true;
}

/* Safe as one field of a snapshot line: printable, no space, not empty. */
static bool
field_ok(const char *s, size_t max)
{
	size_t n = 0;

	if (s == NULL || *s == '\0')
		return false;
	for (; s[n] != '\0'; n++) {
		if (n >= max || !isgraph((unsigned char)s[n]))
			return false;
	}
	return true;
}

/* s as one line of a warning: what is not printable shown as '?'. */
static const char *
shown(const char *s, char *out, size_t outlen)
{
	size_t i = 0;

	for (; s[i] != '\0' && i + 1 < outlen; i++)
		out[i] = isprint((unsigned char)s[i]) ? s[i] : '?';
	out[i] = '\0';
	return out;
}

/* A host name as the router matches it: lower case letters, digits, '-'
 * and '.', at most 253. Written lower-cased into out. */
static bool
host_ok(const char *h, char *out, size_t outlen)
{
	size_t n = strlen(h);

	if (n == 0 || n > 253 || n >= outlen || h[0] == '.' || h[0] == '-')
		return false;
	for (size_t i = 0; i <= n; i++) {
		char c = (char)tolower((unsigned char)h[i]);

		if (c != '\0' && !isalnum((unsigned char)c) && c != '-' && c != '.')
			return false;
		out[i] = c;
	}
	return true;
}

static bool
in_scope(const jv *ing, const struct k8s_ingress_scope *scope)
{
	const char *c = jv_str_or(jv_get(ing, "spec"), "ingressClassName", NULL);
	const char *klass = scope->klass;

	if (scope->rack != NULL && strcmp(jv_str_or(jv_get(jv_get(ing, "metadata"), "labels"),
	    "cx.rack", ""), scope->rack) != 0)
		return false;
	if (c != NULL)
		return strcmp(c, klass) == 0;
	c = jv_str_or(jv_get(jv_get(ing, "metadata"), "annotations"),
	    "kubernetes.io/ingress.class", NULL);
	return c != NULL && strcmp(c, klass) == 0;
}

struct aged {
	const char *key, *created;
};

static int
by_age(const void *a, const void *b)
{
	const struct aged *x = a, *y = b;
	int c = strcmp(x->created, y->created);

	return c != 0 ? c : strcmp(x->key, y->key);
}

/* The Service port a backend names: its entry in spec.ports, or NULL. */
static const jv *
service_port(const jv *svc, const jv *want)
{
	const jv *ports = jv_get(jv_get(svc, "spec"), "ports");
	const char *name = jv_str_or(want, "name", NULL);
	int64_t number = jv_int(want, "number");

	for (size_t i = 0; i < jv_len(ports); i++) {
		const jv *p = jv_at(ports, i);

		if ((name != NULL && strcmp(jv_str_or(p, "name", ""), name) == 0) ||
		    (name == NULL && number > 0 && jv_int(p, "port") == number))
			return p;
	}
	return NULL;
}

/* The up lines of Endpoints ep for the Service port named pname ("" for a
 * Service's one unnamed port); the count written. */
static size_t
up_lines(struct snap *c, const jv *ep, const char *pname, const char *where)
{
	const jv *subsets = jv_get(ep, "subsets");
	size_t n = 0;

	for (size_t i = 0; i < jv_len(subsets); i++) {
		const jv *s = jv_at(subsets, i), *ports = jv_get(s, "ports");
		const jv *addrs = jv_get(s, "addresses");
		int64_t port = 0;

		for (size_t k = 0; k < jv_len(ports); k++) {
			if (strcmp(jv_str_or(jv_at(ports, k), "name", ""), pname) == 0)
				port = jv_int(jv_at(ports, k), "port");
		}
		if (port <= 0 || port > 65535)
			continue;
		for (size_t k = 0; k < jv_len(addrs); k++) {
			const jv *a = jv_at(addrs, k);
			const char *ip = jv_str_or(a, "ip", "");
			const char *pod = jv_str_or(jv_get(a, "targetRef"), "name", NULL);
			struct in_addr v4;
			char id[300];

			if (inet_pton(AF_INET, ip, &v4) != 1) {
				buf_addf(c->warnings, "%s: address %s left out: the router dials "
				    "IPv4\n", where, shown(ip, id, 65));
				continue;
			}
			if (field_ok(pod, 253))
				snprintf(id, sizeof(id), "%s", pod);
			else
				snprintf(id, sizeof(id), "%s-%d", ip, (int)port);
			put(c, "up %s %s %d\n", id, ip, (int)port);
			n++;
		}
	}
	return n;
}

/* The PEM of Secret member name (base64 in data), owned, or NULL. */
static char *
secret_pem(const jv *sec, const char *name, size_t *len)
{
	const char *b64 = jv_str_or(jv_get(sec, "data"), name, NULL);
	unsigned char *pem;

	if (b64 == NULL || (pem = base64_decode(b64, strlen(b64), len)) == NULL)
		return NULL;
	if (*len == 0 || strstr((char *)pem, "-----BEGIN ") == NULL) {
		free(pem);
		return NULL;
	}
	return (char *)pem;
}

/* Whether host is one of list's "\n"-framed names (NULL: none). */
static bool
in_list(const char *list, const char *host)
{
	size_t n = strlen(host);

	for (const char *p = list; p != NULL && (p = strstr(p, host)) != NULL; p++) {
		if (p > list && p[-1] == '\n' && p[n] == '\n')
			return true;
	}
	return false;
}

/* Whether ing lists host in its spec.tls; if so, its certificate goes in
 * c->certs (true), or a warning says why it cannot (false). */
static bool
tls_cert(struct snap *c, const jv *ing, const char *ns, const char *key, const char *host)
{
	const jv *tls = jv_get(jv_get(ing, "spec"), "tls");

	for (size_t i = 0; i < jv_len(tls); i++) {
		const jv *t = jv_at(tls, i), *hosts = jv_get(t, "hosts"), *sec;
		const char *sname = jv_str_or(t, "secretName", "");
		struct k8s_ingress_cert cert = { .cert = NULL };
		char skey[600];
		bool listed = false;

		for (size_t k = 0; k < jv_len(hosts); k++)
			listed |= strcasecmp(jv_string_value(jv_at(hosts, k)) != NULL ?
			    jv_string_value(jv_at(hosts, k)) : "", host) == 0;
		if (!listed)
			continue;
		snprintf(skey, sizeof(skey), "%s/%s", ns, sname);
		sec = jv_get(c->secrets, skey);
		if (sec == NULL || strcmp(jv_str_or(sec, "type", ""), "kubernetes.io/tls") != 0) {
			buf_addf(c->warnings, "ingress %s host %s: TLS secret %s %s: served over plain "
			    "HTTP only\n", key, host, skey, sec == NULL ? "does not exist" :
			    "is not of type kubernetes.io/tls");
			return false;
		}
		cert.cert = secret_pem(sec, "tls.crt", &cert.cert_len);
		cert.key = secret_pem(sec, "tls.key", &cert.key_len);
		if (cert.cert == NULL || cert.key == NULL) {
			buf_addf(c->warnings, "ingress %s host %s: TLS secret %s has no PEM tls.crt and "
			    "tls.key: served over plain HTTP only\n", key, host, skey);
			free(cert.cert);
			free(cert.key);
			return false;
		}
		if (in_list(c->unwritten, host)) {
			buf_addf(c->warnings, "ingress %s host %s: its certificate could not be "
			    "written: served over plain HTTP only\n", key, host);
			free(cert.cert);
			free(cert.key);
			return false;
		}
		str_copy(cert.host, sizeof(cert.host), host);
		c->certs = xrealloc(c->certs, (c->ncerts + 1) * sizeof(*c->certs));
		c->certs[c->ncerts++] = cert;
		return true;
	}
	return false;
}

/* The host line of one rule and its up lines. */
static void
rule_lines(struct snap *c, const jv *ing, const char *ns, const char *key, const jv *rule,
    const jv *services, const jv *endpoints)
{
	struct buf *warnings = c->warnings;
	const jv *paths = jv_get(jv_get(rule, "http"), "paths"), *md = jv_get(ing, "metadata");
	const jv *labels = jv_get(md, "labels"), *be = NULL, *svc, *sp;
	const char *h = jv_str_or(rule, "host", NULL), *sname, *app, *service, *t;
	char host[256], where[600], skey[600], tshown[17], pshown[65];
	long timeout = DEFAULT_TIMEOUT_S;
	bool redirect;

	if (h == NULL) {
		buf_addf(warnings, "ingress %s: a rule without a host left out (cx routes by host)\n",
		    key);
		return;
	}
	if (!host_ok(h, host, sizeof(host))) {
		buf_addf(warnings, "ingress %s: host \"%s\" left out: not a host name the router "
		    "serves (letters, digits, '-' and '.')\n", key, shown(h, host, 65));
		return;
	}
	snprintf(where, sizeof(where), "ingress %s host %s", key, host);
	if (jv_get(c->seen, host) != NULL) {
		buf_addf(warnings, "%s: left out, ingress %s has it\n", where,
		    jv_str(c->seen, host));
		return;
	}
	for (size_t i = 0; i < jv_len(paths); i++) {
		const jv *p = jv_at(paths, i);
		const char *path = jv_str_or(p, "path", "/");

		if (strcmp(path, "/") == 0 && be == NULL)
			be = jv_get(jv_get(p, "backend"), "service");
		else
			buf_addf(warnings, "%s: path %s left out (cx routes by host: \"/\" only)\n",
			    where, shown(path, pshown, sizeof(pshown)));
	}
	if (be == NULL) {
		buf_addf(warnings, "%s: no service backend on path \"/\"\n", where);
		return;
	}
	sname = jv_str_or(be, "name", "");
	snprintf(skey, sizeof(skey), "%s/%s", ns, sname);
	if ((svc = jv_get(services, skey)) == NULL || (sp = service_port(svc, jv_get(be, "port")))
	    == NULL) {
		buf_addf(warnings, "%s: service %.253s %s\n", where, skey, svc == NULL ?
		    "does not exist" : "has no such port");
		return;
	}
	app = jv_str_or(labels, "cx.app", ns);
	service = jv_str_or(labels, "cx.service", sname);
	if ((t = jv_str_or(jv_get(md, "annotations"), "cx.dev/timeout", NULL)) != NULL) {
		char *end;

		timeout = strtol(t, &end, 10);
		if (*end != '\0' || timeout < 1 || timeout > 3600) {
			buf_addf(warnings, "%s: annotation cx.dev/timeout \"%s\" is not 1 to 3600 "
			    "seconds: %d\n", where, shown(t, tshown, sizeof(tshown)), DEFAULT_TIMEOUT_S);
			timeout = DEFAULT_TIMEOUT_S;
		}
	}
	if (!field_ok(app, 253) || !field_ok(service, 253)) {
		buf_addf(warnings, "%s: its cx.app or cx.service label is not one word\n", where);
		return;
	}
	jv_set_str(c->seen, host, key);
	redirect = tls_cert(c, ing, ns, key, host) && strcmp(jv_str_or(jv_get(md, "annotations"),
	    "cx.dev/ssl-redirect", "true"), "false") != 0;
	put(c, "host %s %s %s %ld /%s\n", host, app, service, timeout, redirect ? " redirect" : "");
	if (up_lines(c, jv_get(endpoints, skey), jv_str_or(sp, "name", ""), where) == 0)
		buf_addf(warnings, "%s: service %s has no ready address (503 until it has)\n",
		    where, skey);
}

void
k8s_ingress_certs_free(struct k8s_ingress_cert *c, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (c[i].key != NULL)
			explicit_bzero(c[i].key, c[i].key_len);
		free(c[i].key);
		free(c[i].cert);
	}
	free(c);
}

int
k8s_ingress_snapshot(const jv *ingresses, const jv *services, const jv *endpoints,
    const jv *secrets, const struct k8s_ingress_scope *scope, struct buf *out,
    struct buf *warnings,
    struct k8s_ingress_cert **certs, size_t *ncerts)
{
	size_t n = 0, m = 0;
	const char **keys = jv_keys(ingresses, &n);
	struct aged *order = xcalloc(n + 1, sizeof(*order));
	struct snap c = { .out = out, .warnings = warnings, .seen = jv_object_new(),
		.secrets = secrets, .unwritten = scope->unwritten };

	for (size_t i = 0; i < n; i++) {
		const jv *ing = jv_get(ingresses, keys[i]);

		if (in_scope(ing, scope))
			order[m++] = (struct aged){ keys[i],
			    jv_str_or(jv_get(ing, "metadata"), "creationTimestamp", "") };
	}
	qsort(order, m, sizeof(*order), by_age);
	put(&c, "cx-routes 1\n");
	for (size_t i = 0; i < m; i++) {
		const jv *ing = jv_get(ingresses, order[i].key);
		const jv *rules = jv_get(jv_get(ing, "spec"), "rules");
		const char *ns = jv_str_or(jv_get(ing, "metadata"), "namespace", "");

		for (size_t r = 0; r < jv_len(rules); r++)
			rule_lines(&c, ing, ns, order[i].key, jv_at(rules, r), services, endpoints);
	}
	jv_free(c.seen);
	free(order);
	free(keys);
	*certs = c.certs;
	*ncerts = c.ncerts;
	return c.full ? -1 : 0;
}
