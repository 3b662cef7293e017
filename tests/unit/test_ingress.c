/*
 * test_ingress.c — the route snapshot cx-ingress makes from Ingresses,
 * Services and Endpoints (k8s_ingress_snapshot), case by case, and the
 * watch's events applied to what it holds (k8s_watch_event). The objects
 * are JSON as the API server sends them. Also a Kubernetes rack's peering
 * as its cluster holds it: what k8s_render_peering renders (Secret peer,
 * ConfigMap peers) and what cx-ingress --peers reads back of the ConfigMap
 * (k8s_peering_parse), including what it must leave out: a line that would
 * write a snapshot line of its own, an endpoint that is not IPv4:PORT, a
 * peer without its CA, a name or domain twice.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/jv.h"
#include "common/util.h"
#include "k8s/ingress.h"
#include "k8s/peering.h"
#include "k8s/render.h"
#include "k8s/watch.h"

#define CA "-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n"

static jv *
parse(const char *text)
{
	char err[256];
	jv *v = jv_parse(text, strlen(text), err, sizeof(err));

	if (v == NULL)
		fail_msg("bad test JSON: %s: %s", err, text);
	return v;
}

/* An Ingress NS/NAME of class klass (NULL: none), created at ts, host's "/"
 * going to service svc port (a number, or "name:X"). */
static char *
ingress(const char *ns, const char *name, const char *klass, const char *ts, const char *host,
    const char *svc, const char *port)
{
	char portjs[128];

	if (strncmp(port, "name:", 5) == 0)
		snprintf(portjs, sizeof(portjs), "{\"name\":\"%s\"}", port + 5);
	else
		snprintf(portjs, sizeof(portjs), "{\"number\":%s}", port);
	return xasprintf("{\"metadata\":{\"name\":\"%s\",\"namespace\":\"%s\","
	    "\"creationTimestamp\":\"%s\"},\"spec\":{%s%s%s\"rules\":[{\"host\":\"%s\","
	    "\"http\":{\"paths\":[{\"path\":\"/\",\"pathType\":\"Prefix\",\"backend\":"
	    "{\"service\":{\"name\":\"%s\",\"port\":%s}}}]}}]}}", name, ns, ts,
	    klass != NULL ? "\"ingressClassName\":\"" : "", klass != NULL ? klass : "",
	    klass != NULL ? "\"," : "", host, svc, portjs);
}

static const char services[] =
    "{\"shop/web\":{\"metadata\":{\"name\":\"web\",\"namespace\":\"shop\"},\"spec\":{\"ports\":"
    "[{\"name\":\"http\",\"port\":80,\"targetPort\":3000},{\"name\":\"admin\",\"port\":81}]}},"
    "\"shop/one\":{\"metadata\":{\"name\":\"one\",\"namespace\":\"shop\"},\"spec\":{\"ports\":"
    "[{\"port\":8080}]}}}";
static const char endpoints[] =
    "{\"shop/web\":{\"subsets\":[{\"addresses\":[{\"ip\":\"10.0.0.5\",\"targetRef\":{\"name\":"
    "\"web-a\"}},{\"ip\":\"10.0.0.6\",\"targetRef\":{\"name\":\"bad name\"}},{\"ip\":\"fd00::7\"}],"
    "\"notReadyAddresses\":[{\"ip\":\"10.0.0.9\"}],"
    "\"ports\":[{\"name\":\"http\",\"port\":3000},{\"name\":\"admin\",\"port\":9000}]}]},"
    "\"shop/one\":{\"subsets\":[{\"addresses\":[{\"ip\":\"10.0.1.1\"}],\"ports\":[{\"port\":8080}]}]}}";

static struct k8s_ingress_cert *certs;
static size_t ncerts;
static struct k8s_ingress_scope scope = { .klass = "cx" };

/* The snapshot of class cx for ingresses and secrets (JSON object texts;
 * secrets may be NULL); the certificates in certs. */
static int
snapshot_tls(const char *ingresses, const char *secrets, struct buf *out, struct buf *warn,
    size_t max)
{
	jv *i = parse(ingresses), *s = parse(services), *e = parse(endpoints);
	jv *t = secrets != NULL ? parse(secrets) : NULL;
	int rc;

	buf_init(out, max);
	buf_init(warn, 0);
	k8s_ingress_certs_free(certs, ncerts);
	rc = k8s_ingress_snapshot(i, s, e, t, &scope, out, warn, &certs, &ncerts);
	buf_adds(out, "");
	buf_adds(warn, "");
	jv_free(i);
	jv_free(s);
	jv_free(e);
	jv_free(t);
	return rc;
}

static int
snapshot(const char *ingresses, struct buf *out, struct buf *warn, size_t max)
{
	return snapshot_tls(ingresses, NULL, out, warn, max);
}

static char *
one(const char *key, char *obj)
{
	char *s = xasprintf("{\"%s\":%s}", key, obj);

	free(obj);
	return s;
}

static void
serves_ready_ipv4_addresses(void **state)
{
	char *in = one("shop/web", ingress("shop", "web", "cx", "2026-01-01T00:00:00Z",
	    "Web.Shop.Test", "web", "80"));
	struct buf out, warn;

	(void)state;
	assert_int_equal(snapshot(in, &out, &warn, 0), 0);
	/* Lower-cased; the pod's name, or IP-PORT for one that is not a word;
	 * no IPv6, no address not ready. */
	assert_string_equal(out.data, "cx-routes 1\n"
	    "host web.shop.test shop web 60 /\n"
	    "up web-a 10.0.0.5 3000\n"
	    "up 10.0.0.6-3000 10.0.0.6 3000\n");
	assert_non_null(strstr(warn.data, "address fd00::7 left out: the router dials IPv4"));
	buf_free(&out);
	buf_free(&warn);
	free(in);
}

static void
ports_by_name_and_unnamed(void **state)
{
	char *a = ingress("shop", "a", "cx", "2026-01-01T00:00:00Z", "admin.test", "web",
	    "name:admin");
	char *b = ingress("shop", "b", "cx", "2026-01-01T00:00:00Z", "one.test", "one", "8080");
	char *c = ingress("shop", "c", "cx", "2026-01-01T00:00:00Z", "nope.test", "web", "99");
	char *d = ingress("shop", "d", "cx", "2026-01-01T00:00:00Z", "gone.test", "gone", "80");
	char *in = xasprintf("{\"shop/a\":%s,\"shop/b\":%s,\"shop/c\":%s,\"shop/d\":%s}", a, b, c,
	    d);
	struct buf out, warn;

	(void)state;
	assert_int_equal(snapshot(in, &out, &warn, 0), 0);
	assert_string_equal(out.data, "cx-routes 1\n"
	    "host admin.test shop web 60 /\nup web-a 10.0.0.5 9000\nup 10.0.0.6-9000 10.0.0.6 9000\n"
	    "host one.test shop one 60 /\nup 10.0.1.1-8080 10.0.1.1 8080\n");
	assert_non_null(strstr(warn.data, "ingress shop/c host nope.test: service shop/web has no "
	    "such port"));
	assert_non_null(strstr(warn.data, "ingress shop/d host gone.test: service shop/gone does "
	    "not exist"));
	buf_free(&out);
	buf_free(&warn);
	free(a); free(b); free(c); free(d); free(in);
}

static void
class_and_age(void **state)
{
	/* Another class and no class are not ours; the annotation is. The
	 * older of two Ingresses keeps a host, whatever the key order. */
	char *a = ingress("shop", "new", "cx", "2026-02-01T00:00:00Z", "x.test", "one", "8080");
	char *b = ingress("shop", "old", "cx", "2026-01-01T00:00:00Z", "x.test", "web", "80");
	char *c = ingress("shop", "other", "nginx", "2026-01-01T00:00:00Z", "o.test", "web", "80");
	char *d = ingress("shop", "none", NULL, "2026-01-01T00:00:00Z", "n.test", "web", "80");
	char *e = xasprintf("{\"metadata\":{\"name\":\"ann\",\"namespace\":\"shop\",\"annotations\":"
	    "{\"kubernetes.io/ingress.class\":\"cx\"}},\"spec\":{\"rules\":[{\"host\":\"a.test\","
	    "\"http\":{\"paths\":[{\"path\":\"/\",\"backend\":{\"service\":{\"name\":\"one\","
	    "\"port\":{\"number\":8080}}}}]}}]}}");
	char *in = xasprintf("{\"shop/new\":%s,\"shop/old\":%s,\"shop/other\":%s,\"shop/none\":%s,"
	    "\"shop/ann\":%s}", a, b, c, d, e);
	struct buf out, warn;

	(void)state;
	assert_int_equal(snapshot(in, &out, &warn, 0), 0);
	assert_string_equal(out.data, "cx-routes 1\n"
	    "host a.test shop one 60 /\nup 10.0.1.1-8080 10.0.1.1 8080\n"
	    "host x.test shop web 60 /\nup web-a 10.0.0.5 3000\nup 10.0.0.6-3000 10.0.0.6 3000\n");
	assert_non_null(strstr(warn.data, "ingress shop/new host x.test: left out, ingress shop/old "
	    "has it"));
	buf_free(&out);
	buf_free(&warn);
	free(a); free(b); free(c); free(d); free(e); free(in);
}

static void
nothing_unsafe_reaches_a_line(void **state)
{
	/* A value that would write a line of its own never reaches the
	 * snapshot: a host with a newline or a space, a label with a space;
	 * a bad timeout falls back to 60; a good one is kept. */
	char *a = ingress("shop", "a", "cx", "2026-01-01T00:00:00Z",
	    "h.test\\nallow 0.0.0.0/0", "web", "80");
	char *b = ingress("shop", "b", "cx", "2026-01-01T00:00:00Z", "two words", "web", "80");
	char *c = xasprintf("{\"metadata\":{\"name\":\"c\",\"namespace\":\"shop\",\"labels\":"
	    "{\"cx.app\":\"a b\"}},\"spec\":{\"ingressClassName\":\"cx\",\"rules\":[{\"host\":"
	    "\"c.test\",\"http\":{\"paths\":[{\"path\":\"/\",\"backend\":{\"service\":{\"name\":"
	    "\"one\",\"port\":{\"number\":8080}}}}]}}]}}");
	char *d = xasprintf("{\"metadata\":{\"name\":\"d\",\"namespace\":\"shop\",\"annotations\":"
	    "{\"cx.dev/timeout\":\"120\"}},\"spec\":{\"ingressClassName\":\"cx\",\"rules\":[{\"host\":"
	    "\"d.test\",\"http\":{\"paths\":[{\"path\":\"/\",\"backend\":{\"service\":{\"name\":"
	    "\"one\",\"port\":{\"number\":8080}}}},{\"path\":\"/api\",\"backend\":{}}]}},"
	    "{\"http\":{}}]}}");
	char *e = xasprintf("{\"metadata\":{\"name\":\"e\",\"namespace\":\"shop\",\"annotations\":"
	    "{\"cx.dev/timeout\":\"9x\"}},\"spec\":{\"ingressClassName\":\"cx\",\"rules\":[{\"host\":"
	    "\"e.test\",\"http\":{\"paths\":[{\"path\":\"/\",\"backend\":{\"service\":{\"name\":"
	    "\"one\",\"port\":{\"number\":8080}}}}]}}]}}");
	char *in = xasprintf("{\"shop/a\":%s,\"shop/b\":%s,\"shop/c\":%s,\"shop/d\":%s,"
	    "\"shop/e\":%s}", a, b, c, d, e);
	struct buf out, warn;

	(void)state;
	assert_int_equal(snapshot(in, &out, &warn, 0), 0);
	assert_string_equal(out.data, "cx-routes 1\n"
	    "host d.test shop one 120 /\nup 10.0.1.1-8080 10.0.1.1 8080\n"
	    "host e.test shop one 60 /\nup 10.0.1.1-8080 10.0.1.1 8080\n");
	/* Said on one line: what is not printable shows as '?'. */
	assert_non_null(strstr(warn.data, "ingress shop/a: host \"h.test?allow 0.0.0.0/0\" left "
	    "out"));
	assert_non_null(strstr(warn.data, "ingress shop/b: host \"two words\" left out"));
	assert_non_null(strstr(warn.data, "ingress shop/c host c.test: its cx.app or cx.service "
	    "label is not one word"));
	assert_non_null(strstr(warn.data, "ingress shop/d host d.test: path /api left out"));
	assert_non_null(strstr(warn.data, "ingress shop/d: a rule without a host left out"));
	assert_non_null(strstr(warn.data, "annotation cx.dev/timeout \"9x\" is not 1 to 3600"));
	buf_free(&out);
	buf_free(&warn);
	free(a); free(b); free(c); free(d); free(e); free(in);
}

/* An Ingress of class cx for host h (to service one), with spec.tls for
 * it naming secret sec, and annotations ann (JSON members, or ""). */
static char *
tls_ingress(const char *name, const char *h, const char *sec, const char *ann)
{
	return xasprintf("{\"metadata\":{\"name\":\"%s\",\"namespace\":\"shop\","
	    "\"annotations\":{%s}},\"spec\":{\"ingressClassName\":\"cx\",\"tls\":[{\"hosts\":"
	    "[\"%s\"],\"secretName\":\"%s\"}],\"rules\":[{\"host\":\"%s\",\"http\":{\"paths\":"
	    "[{\"path\":\"/\",\"backend\":{\"service\":{\"name\":\"one\",\"port\":{\"number\":"
	    "8080}}}}]}}]}}", name, ann, h, sec, h);
}

static void
tls_from_secrets(void **state)
{
	/* "-----BEGIN CERTIFICATE-----\nA\n" and "-----BEGIN KEY-----\nB\n". */
	static const char secrets[] = "{\"shop/good\":{\"type\":\"kubernetes.io/tls\",\"data\":"
	    "{\"tls.crt\":\"LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCkEK\","
	    "\"tls.key\":\"LS0tLS1CRUdJTiBLRVktLS0tLQpCCg==\"}},"
	    "\"shop/opaque\":{\"type\":\"Opaque\",\"data\":{}},"
	    "\"shop/empty\":{\"type\":\"kubernetes.io/tls\",\"data\":{\"tls.crt\":\"eA==\"}}}";
	char *a = tls_ingress("a", "a.test", "good", "");
	char *b = tls_ingress("b", "b.test", "good", "\"cx.dev/ssl-redirect\":\"false\"");
	char *c = tls_ingress("c", "c.test", "missing", "");
	char *d = tls_ingress("d", "d.test", "opaque", "");
	char *e = tls_ingress("e", "e.test", "empty", "");
	char *in = xasprintf("{\"shop/a\":%s,\"shop/b\":%s,\"shop/c\":%s,\"shop/d\":%s,"
	    "\"shop/e\":%s}", a, b, c, d, e);
	struct buf out, warn;
	const char *up = "up 10.0.1.1-8080 10.0.1.1 8080\n";
	char *want;

	(void)state;
	assert_int_equal(snapshot_tls(in, secrets, &out, &warn, 0), 0);
	want = xasprintf("cx-routes 1\nhost a.test shop one 60 / redirect\n%shost b.test shop one "
	    "60 /\n%shost c.test shop one 60 /\n%shost d.test shop one 60 /\n%shost e.test shop "
	    "one 60 /\n%s", up, up, up, up, up);
	assert_string_equal(out.data, want);
	assert_int_equal(ncerts, 2);
	assert_string_equal(certs[0].host, "a.test");
	assert_string_equal(certs[1].host, "b.test");
	assert_int_equal(certs[0].cert_len, 30);
	assert_memory_equal(certs[0].cert, "-----BEGIN CERTIFICATE-----\nA\n", 30);
	assert_memory_equal(certs[0].key, "-----BEGIN KEY-----\nB\n", 22);
	assert_non_null(strstr(warn.data, "ingress shop/c host c.test: TLS secret shop/missing does "
	    "not exist: served over plain HTTP only"));
	assert_non_null(strstr(warn.data, "ingress shop/d host d.test: TLS secret shop/opaque is "
	    "not of type kubernetes.io/tls"));
	assert_non_null(strstr(warn.data, "ingress shop/e host e.test: TLS secret shop/empty has no "
	    "PEM tls.crt and tls.key"));
	k8s_ingress_certs_free(certs, ncerts);
	certs = NULL;
	ncerts = 0;
	buf_free(&out);
	buf_free(&warn);
	free(a); free(b); free(c); free(d); free(e); free(in); free(want);
}

static void
unwritten_cert_is_not_tls(void **state)
{
	/* The controller could not write a.test's certificate: a.test is not
	 * flagged redirect (nor its certificate given), the others are as
	 * before; "xa.test" in the list is another name, not a.test. */
	static const char secrets[] = "{\"shop/good\":{\"type\":\"kubernetes.io/tls\",\"data\":"
	    "{\"tls.crt\":\"LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCkEK\","
	    "\"tls.key\":\"LS0tLS1CRUdJTiBLRVktLS0tLQpCCg==\"}}}";
	char *a = tls_ingress("a", "a.test", "good", "");
	char *b = tls_ingress("b", "b.test", "good", "");
	char *in = xasprintf("{\"shop/a\":%s,\"shop/b\":%s}", a, b);
	const char *up = "up 10.0.1.1-8080 10.0.1.1 8080\n";
	struct buf out, warn;
	char *want;

	(void)state;
	scope.unwritten = "\nxa.test\na.test\n";
	assert_int_equal(snapshot_tls(in, secrets, &out, &warn, 0), 0);
	want = xasprintf("cx-routes 1\nhost a.test shop one 60 /\n%shost b.test shop one 60 / "
	    "redirect\n%s", up, up);
	assert_string_equal(out.data, want);
	assert_int_equal(ncerts, 1);
	assert_string_equal(certs[0].host, "b.test");
	assert_non_null(strstr(warn.data, "ingress shop/a host a.test: its certificate could not be "
	    "written: served over plain HTTP only\n"));
	buf_free(&out);
	buf_free(&warn);
	free(want);
	scope.unwritten = "\nxa.test\n";
	assert_int_equal(snapshot_tls(in, secrets, &out, &warn, 0), 0);
	assert_non_null(strstr(out.data, "host a.test shop one 60 / redirect\n"));
	assert_int_equal(ncerts, 2);
	scope.unwritten = NULL;
	buf_free(&out);
	buf_free(&warn);
	free(a); free(b); free(in);
}

static void
only_the_racks_own(void **state)
{
	/* With a rack, only Ingresses labelled cx.rack=RACK: another rack's
	 * of the same class on the cluster is not served. */
	char *a = xasprintf("{\"metadata\":{\"name\":\"a\",\"namespace\":\"shop\",\"labels\":"
	    "{\"cx.rack\":\"r1\"}},\"spec\":{\"ingressClassName\":\"cx\",\"rules\":[{\"host\":"
	    "\"a.test\",\"http\":{\"paths\":[{\"path\":\"/\",\"backend\":{\"service\":{\"name\":"
	    "\"one\",\"port\":{\"number\":8080}}}}]}}]}}");
	char *b = ingress("shop", "b", "cx", "2026-01-01T00:00:00Z", "b.test", "one", "8080");
	char *in = xasprintf("{\"shop/a\":%s,\"shop/b\":%s}", a, b);
	struct buf out, warn;

	(void)state;
	scope.rack = "r1";
	assert_int_equal(snapshot(in, &out, &warn, 0), 0);
	scope.rack = NULL;
	assert_string_equal(out.data, "cx-routes 1\nhost a.test shop one 60 /\n"
	    "up 10.0.1.1-8080 10.0.1.1 8080\n");
	buf_free(&out);
	buf_free(&warn);
	free(a); free(b); free(in);
}

static void
too_large_is_refused(void **state)
{
	char *in = one("shop/web", ingress("shop", "web", "cx", "2026-01-01T00:00:00Z",
	    "web.shop.test", "web", "80"));
	struct buf out, warn;

	(void)state;
	assert_int_equal(snapshot(in, &out, &warn, 40), -1);
	buf_free(&out);
	buf_free(&warn);
	free(in);
}

static void
watch_events(void **state)
{
	jv *items = jv_object_new();
	char rv[64] = "1";
	static const char add[] = "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\","
	    "\"namespace\":\"n\",\"resourceVersion\":\"5\"},\"spec\":{\"v\":1}}}";
	static const char mod[] = "{\"type\":\"MODIFIED\",\"object\":{\"metadata\":{\"name\":\"a\","
	    "\"namespace\":\"n\",\"resourceVersion\":\"6\"},\"spec\":{\"v\":2}}}";
	static const char bm[] = "{\"type\":\"BOOKMARK\",\"object\":{\"metadata\":"
	    "{\"resourceVersion\":\"9\"}}}";
	static const char del[] = "{\"type\":\"DELETED\",\"object\":{\"metadata\":{\"name\":\"a\","
	    "\"namespace\":\"n\",\"resourceVersion\":\"10\"}}}";
	static const char gone[] = "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"code\":410,"
	    "\"message\":\"too old resource version\"}}";

	(void)state;
	assert_int_equal(k8s_watch_event(items, rv, sizeof(rv), add, strlen(add)), 1);
	assert_string_equal(rv, "5");
	assert_int_equal(jv_int(jv_get(jv_get(items, "n/a"), "spec"), "v"), 1);
	assert_int_equal(k8s_watch_event(items, rv, sizeof(rv), mod, strlen(mod)), 1);
	assert_int_equal(jv_int(jv_get(jv_get(items, "n/a"), "spec"), "v"), 2);
	assert_int_equal(k8s_watch_event(items, rv, sizeof(rv), bm, strlen(bm)), 0);
	assert_string_equal(rv, "9");
	assert_int_equal(k8s_watch_event(items, rv, sizeof(rv), del, strlen(del)), 1);
	assert_null(jv_get(items, "n/a"));
	assert_string_equal(rv, "10");
	/* Deleting what is not there changes nothing. */
	assert_int_equal(k8s_watch_event(items, rv, sizeof(rv), del, strlen(del)), 0);
	/* 410 Gone, and a line that is no event: list again. */
	assert_int_equal(k8s_watch_event(items, rv, sizeof(rv), gone, strlen(gone)), -1);
	assert_int_equal(k8s_watch_event(items, rv, sizeof(rv), "{\"type\":", 8), -1);
	{
		static const char noname[] = "{\"type\":\"ADDED\",\"object\":{\"metadata\":{}}}";

		assert_int_equal(k8s_watch_event(items, rv, sizeof(rv), noname, strlen(noname)), -1);
	}
	assert_string_equal(rv, "10");
	jv_free(items);
}

static void
render_then_read_back(void **state)
{
	struct k8s_render_opts o = { .rack = "kb" };
	const struct k8s_peer peers[] = {
		{ "a", "127.0.0.1:4100", "a-internal.localhost", CA },
		{ "c", "198.51.100.7:8443", "c.internal.example", CA },
	};
	jv *docs = k8s_render_peering(&o, "CERT", "KEY", peers, 2), *again;
	const jv *sec = jv_at(docs, 0), *cm = jv_at(docs, 1);
	struct k8s_peering_entry *e;
	struct buf warn;
	size_t n;
	char *d1, *d2;

	(void)state;
	assert_int_equal(jv_len(docs), 2);
	assert_string_equal(jv_str(sec, "kind"), "Secret");
	assert_string_equal(jv_str(sec, "type"), "kubernetes.io/tls");
	assert_string_equal(jv_str(jv_get(sec, "metadata"), "namespace"), "kb-system");
	assert_string_equal(jv_str(jv_get(sec, "data"), "tls.crt"), "Q0VSVA==");
	assert_string_equal(jv_str(jv_get(sec, "data"), "tls.key"), "S0VZ");
	assert_string_equal(jv_str(cm, "kind"), "ConfigMap");
	assert_string_equal(jv_str(jv_get(cm, "metadata"), "name"), "peers");
	assert_string_equal(jv_str(jv_get(cm, "data"), "peers"),
	    "a 127.0.0.1:4100 a-internal.localhost\nc 198.51.100.7:8443 c.internal.example\n");
	assert_string_equal(jv_str(jv_get(cm, "data"), "c.pem"), CA);
	/* The same peers render the same objects (a second apply changes nothing). */
	again = k8s_render_peering(&o, "CERT", "KEY", peers, 2);
	d1 = jv_dump(docs);
	d2 = jv_dump(again);
	assert_string_equal(d1, d2);
	free(d1);
	free(d2);
	jv_free(again);

	buf_init(&warn, 0);
	assert_int_equal(k8s_peering_parse(cm, &e, &n, &warn), 0);
	assert_int_equal(n, 2);
	assert_string_equal(e[0].name, "a");
	assert_string_equal(e[0].ip, "127.0.0.1");
	assert_string_equal(e[0].port, "4100");
	assert_string_equal(e[0].domain, "a-internal.localhost");
	assert_string_equal(e[1].ip, "198.51.100.7");
	assert_string_equal(e[1].ca, CA);
	assert_int_equal(warn.len, 0);
	k8s_peering_free(e, n);
	buf_free(&warn);
	jv_free(docs);
}

static void
no_peers(void **state)
{
	struct k8s_render_opts o = { .rack = "kb" };
	jv *docs = k8s_render_peering(&o, NULL, NULL, NULL, 0);
	struct k8s_peering_entry *e;
	struct buf warn;
	size_t n = 9;

	(void)state;
	/* No identity given: the ConfigMap alone, its peers "" (not left out:
	 * an apply then empties what the cluster had). */
	assert_int_equal(jv_len(docs), 1);
	assert_string_equal(jv_str(jv_get(jv_at(docs, 0), "data"), "peers"), "");
	buf_init(&warn, 0);
	assert_int_equal(k8s_peering_parse(jv_at(docs, 0), &e, &n, &warn), 0);
	assert_int_equal(n, 0);
	k8s_peering_free(e, n);
	/* No ConfigMap at all: no peers. */
	assert_int_equal(k8s_peering_parse(NULL, &e, &n, &warn), 0);
	assert_int_equal(n, 0);
	k8s_peering_free(e, n);
	assert_int_equal(warn.len, 0);
	buf_free(&warn);
	jv_free(docs);
}

static void
bad_lines_are_left_out(void **state)
{
	jv *cm = parse("{\"data\":{\"peers\":\""
	    "a 10.0.0.1:8443 a.test\\n"
	    "Bad 10.0.0.2:8443 b.test\\n"
	    "h lb.example.com:8443 h.test\\n"
	    "s 10.0.0.3:8443 s.test egress x.test s 1.2.3.4 9\\n"
	    "d 10.0.0.4:8443 UPPER.test\\n"
	    "n 10.0.0.5:8443 n.test\\n"
	    "a 10.0.0.6:8443 a2.test\\n"
	    "z 10.0.0.7:8443 a.test\\n"
	    "m 10.0.0.8:8443 m.test\\n\","
	    "\"a.pem\":\"" "-----BEGIN CERTIFICATE-----\\nX\\n-----END CERTIFICATE-----\\n" "\","
	    "\"z.pem\":\"" "-----BEGIN CERTIFICATE-----\\nX\\n-----END CERTIFICATE-----\\n" "\","
	    "\"m.pem\":\"" "-----BEGIN CERTIFICATE-----\\nX\\n-----END CERTIFICATE-----\\n"
	    "-----BEGIN PRIVATE KEY-----\\nY\\n-----END PRIVATE KEY-----\\n" "\","
	    "\"h.pem\":\"x\"}}");
	struct k8s_peering_entry *e;
	struct buf warn;
	size_t n;
	const char *w;

	(void)state;
	buf_init(&warn, 0);
	assert_int_equal(k8s_peering_parse(cm, &e, &n, &warn), 0);
	assert_int_equal(n, 1);
	assert_string_equal(e[0].name, "a");
	assert_string_equal(e[0].ip, "10.0.0.1");
	w = buf_cstr(&warn);
	assert_non_null(strstr(w, "line \"Bad 10.0.0.2:8443 b.test\" left out: the name is not a "
	    "rack name\n"));
	assert_non_null(strstr(w, "line \"h lb.example.com:8443 h.test\" left out: the endpoint is "
	    "not IPv4:PORT\n"));
	assert_non_null(strstr(w, "\"s 10.0.0.3:8443 s.test egress x.test s 1.2.3.4 9\" left out: "
	    "want NAME IP:PORT DOMAIN\n"));
	assert_non_null(strstr(w, "UPPER.test\" left out: the internal domain is not a domain "
	    "name\n"));
	assert_non_null(strstr(w, "\"n 10.0.0.5:8443 n.test\" left out: its CA (key NAME.pem) is "
	    "not one PEM certificate\n"));
	assert_non_null(strstr(w, "\"a 10.0.0.6:8443 a2.test\" left out: its name is an earlier "
	    "peer's\n"));
	assert_non_null(strstr(w, "\"z 10.0.0.7:8443 a.test\" left out: its internal domain is an "
	    "earlier peer's\n"));
	assert_non_null(strstr(w, "\"m 10.0.0.8:8443 m.test\" left out: its CA (key NAME.pem) is "
	    "not one PEM certificate\n"));
	k8s_peering_free(e, n);
	buf_free(&warn);
	jv_free(cm);
	/* data.peers that is not text: -1, nothing read. */
	cm = parse("{\"data\":{\"peers\":7}}");
	buf_init(&warn, 0);
	assert_int_equal(k8s_peering_parse(cm, &e, &n, &warn), -1);
	assert_int_equal(n, 0);
	buf_free(&warn);
	jv_free(cm);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(serves_ready_ipv4_addresses),
		cmocka_unit_test(ports_by_name_and_unnamed),
		cmocka_unit_test(class_and_age),
		cmocka_unit_test(nothing_unsafe_reaches_a_line),
		cmocka_unit_test(tls_from_secrets),
		cmocka_unit_test(unwritten_cert_is_not_tls),
		cmocka_unit_test(only_the_racks_own),
		cmocka_unit_test(too_large_is_refused),
		cmocka_unit_test(watch_events),
		cmocka_unit_test(render_then_read_back),
		cmocka_unit_test(no_peers),
		cmocka_unit_test(bad_lines_are_left_out),
	};

	int rc = cmocka_run_group_tests(tests, NULL, NULL);

	k8s_ingress_certs_free(certs, ncerts);
	return rc;
}
