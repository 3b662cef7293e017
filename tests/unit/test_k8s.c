/*
 * test_k8s.c — the Kubernetes renderer and its YAML: which scalars stay
 * plain, the objects one convox.yml gives (kinds, names, classes, versions),
 * resource URLs in the services' Secrets, stable output, and refusals.
 * That the API server accepts the objects is tests/e2e/kube.t's part.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "k8s/render.h"
#include "k8s/yaml.h"
#include "rackd/manifest.h"

static const char manifest_text[] =
    "resources:\n"
    "  database:\n"
    "    type: postgres\n"
    "  sessions:\n"
    "    type: memcached\n"
    "services:\n"
    "  web:\n"
    "    build: .\n"
    "    port: 3000\n"
    "    health: /health\n"
    "    domain: shop.example.test\n"
    "    environment:\n"
    "      - GREETING=hi\n"
    "      - SECRET\n"
    "    resources:\n"
    "      - database\n"
    "      - sessions\n"
    "    scale:\n"
    "      count: 3\n"
    "      cpu: 512\n"
    "      memory: 256\n"
    "  api:\n"
    "    image: example/api:1.2\n"
    "    port: 8080\n"
    "    internalRouter: true\n"
    "  worker:\n"
    "    command: sleep 1000\n"
    "    deployment:\n"
    "      minimum: 100\n"
    "      maximum: 100\n"
    "  hidden:\n"
    "    port: grpc:9000\n"
    "    grpcHealthEnabled: true\n"
    "    internal: true\n"
    "  agent:\n"
    "    agent: true\n"
    "    command: run-agent\n"
    "    deployment:\n"
    "      minimum: 100\n"
    "timers:\n"
    "  cleanup:\n"
    "    schedule: \"0 3 * * *\"\n"
    "    command: bin/cleanup\n"
    "    service: worker\n"
    "    concurrency: forbid\n";

static struct manifest *
parse(const char *text)
{
	char err[512];
	struct manifest *m = manifest_parse(text, strlen(text), "convox.yml", NULL, NULL, err,
	    sizeof(err));

	if (m == NULL)
		fail_msg("manifest: %s", err);
	return m;
}

static char *env_secret[] = { "SECRET=s3", NULL };

static struct k8s_render_opts
opts(int minor)
{
	return (struct k8s_render_opts){ .rack = "prod", .app = "shop",
		.registry = "registry.example.test:5000/team", .build = "BABC123",
		.release = "RXYZ", .domain = "prod.example.test",
		.domain_internal = "prod-internal.example.test", .kube_minor = minor,
		.seed = "0123456789abcdef", .env = env_secret, .nenv = 1 };
}

/* The object of kind and name in docs, or NULL. */
static const jv *
find(const jv *docs, const char *kind, const char *name)
{
	for (size_t i = 0; i < jv_len(docs); i++) {
		const jv *o = jv_at(docs, i);

		if (strcmp(jv_str(o, "kind"), kind) == 0 &&
		    strcmp(jv_str(jv_get(o, "metadata"), "name"), name) == 0)
			return o;
	}
	return NULL;
}

/* Member key of a Secret's data, decoded from base64 (a ring of buffers). */
static const char *
secret_value(const jv *secret, const char *key)
{
	static char ring[4][1024];
	static int next;
	static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const char *in = jv_str(jv_get(secret, "data"), key);
	char *out = ring[next++ % 4];
	size_t n = 0;
	unsigned acc = 0;
	int bits = 0;

	for (; *in != '\0' && *in != '=' && n + 1 < sizeof(ring[0]); in++) {
		const char *p = strchr(abc, *in);

		assert_non_null(p);
		acc = (acc << 6) | (unsigned)(p - abc);
		if ((bits += 6) >= 8) {
			bits -= 8;
			out[n++] = (char)((acc >> bits) & 0xff);
		}
	}
	out[n] = '\0';
	return out;
}

static const jv *
container0(const jv *pod_spec)
{
	return jv_at(jv_get(pod_spec, "containers"), 0);
}

static void
test_plain_scalars(void **state)
{
	(void)state;
	assert_true(k8s_yaml_plain_ok("web"));
	assert_true(k8s_yaml_plain_ok("apps/v1"));
	assert_true(k8s_yaml_plain_ok("/health"));
	assert_true(k8s_yaml_plain_ok("cx.rack"));
	/* what a reader takes for something else, or cannot read plain */
	const char *quoted[] = { "", "true", "no", "on", "n", "Y", "null", "~", "8080", "1.20", "1e3",
		"0x1f", "0b1010", "0o17", "1_000", "10Gi", "2026-12-03", "-c", "a: b", "a b", "#x", "*x", "&x", "50%", "x:y", "\"q\"" };
	for (size_t i = 0; i < sizeof(quoted) / sizeof(quoted[0]); i++)
		if (k8s_yaml_plain_ok(quoted[i]))
			fail_msg("\"%s\" was left plain", quoted[i]);
}

static void
test_yaml_stream(void **state)
{
	char err[128];
	const char *text = "[{\"a\":\"b\",\"num\":3,\"t\":true,\"e\":{},\"l\":[],\"m\":{\"x\":[\"1\","
	    "{\"k\":\"v\",\"w\":\"z z\"}]}}]";
	jv *docs = jv_parse(text, strlen(text), err, sizeof(err));
	char *y;

	(void)state;
	assert_non_null(docs);
	y = k8s_yaml_stream(docs);
	assert_string_equal(y, "---\na: b\nnum: 3\nt: true\ne: {}\nl: []\nm:\n  x:\n  - \"1\"\n"
	    "  - k: v\n    w: \"z z\"\n");
	free(y);
	jv_free(docs);
}

static void
test_objects(void **state)
{
	struct manifest *m = parse(manifest_text);
	struct k8s_render_opts o = opts(0);
	char err[512];
	jv *docs = k8s_render(m, &o, err, sizeof(err));
	const jv *web, *sec, *ing, *api_ing, *cj, *ss, *wk, *ds, *pod;

	(void)state;
	if (docs == NULL)
		fail_msg("render: %s", err);
	assert_string_equal(jv_str(jv_at(docs, 0), "kind"), "Namespace");
	assert_string_equal(jv_str(jv_get(jv_at(docs, 0), "metadata"), "name"), "prod-shop");

	web = find(docs, "Deployment", "web");
	assert_non_null(web);
	assert_string_equal(jv_str(jv_get(web, "metadata"), "namespace"), "prod-shop");
	assert_int_equal(jv_int(jv_get(web, "spec"), "replicas"), 3);
	pod = jv_get(jv_get(jv_get(web, "spec"), "template"), "spec");
	assert_string_equal(jv_str(container0(pod), "image"),
	    "registry.example.test:5000/team/prod-shop:web.babc123");
	assert_string_equal(jv_str(jv_get(jv_get(container0(pod), "resources"), "requests"), "cpu"),
	    "512m");
	assert_string_equal(jv_str(jv_get(jv_get(container0(pod), "resources"), "limits"),
	    "memory"), "256Mi");
	assert_string_equal(jv_str(jv_get(jv_get(container0(pod), "readinessProbe"), "httpGet"),
	    "path"), "/health");
	assert_string_equal(jv_str(jv_get(jv_get(jv_get(web, "spec"), "strategy"),
	    "rollingUpdate"), "maxUnavailable"), "50%");

	/* the env: defaults, the app's values, resource URLs */
	sec = find(docs, "Secret", "web-env");
	assert_null(jv_get(sec, "stringData"));
	assert_string_equal(jv_str(jv_get(sec, "data"), "GREETING"), "aGk=");
	assert_string_equal(secret_value(sec, "GREETING"), "hi");
	assert_string_equal(secret_value(sec, "SECRET"), "s3");
	assert_true(strncmp(secret_value(sec, "DATABASE_URL"), "postgres://app:", 15) == 0);
	assert_non_null(strstr(secret_value(sec, "DATABASE_URL"),
	    "@database.prod-shop.svc.cluster.local:5432/app"));
	assert_string_equal(secret_value(sec, "SESSIONS_URL"),
	    "memcached://sessions.prod-shop.svc.cluster.local:11211");
	/* ...and the same password as the resource's own Secret */
	assert_int_equal(strlen(secret_value(find(docs, "Secret", "database-credentials"),
	    "password")), 32);
	assert_non_null(strstr(secret_value(sec, "DATABASE_URL"),
	    secret_value(find(docs, "Secret", "database-credentials"), "password")));

	ing = find(docs, "Ingress", "web");
	assert_string_equal(jv_str(jv_get(ing, "spec"), "ingressClassName"), "cx");
	assert_int_equal(jv_len(jv_get(jv_get(ing, "spec"), "rules")), 2);
	assert_string_equal(jv_str(jv_at(jv_get(jv_get(ing, "spec"), "rules"), 0), "host"),
	    "web.shop.prod.example.test");
	assert_string_equal(jv_str(jv_at(jv_get(jv_get(ing, "spec"), "rules"), 1), "host"),
	    "shop.example.test");
	api_ing = find(docs, "Ingress", "api");
	assert_string_equal(jv_str(jv_get(api_ing, "spec"), "ingressClassName"), "cx-internal");
	assert_string_equal(jv_str(jv_at(jv_get(jv_get(api_ing, "spec"), "rules"), 0), "host"),
	    "api.shop.prod-internal.example.test");
	pod = jv_get(jv_get(jv_get(find(docs, "Deployment", "api"), "spec"), "template"), "spec");
	assert_string_equal(jv_str(container0(pod), "image"), "example/api:1.2");

	/* internal: a Service, no Ingress; a worker: neither */
	assert_non_null(find(docs, "Service", "hidden"));
	assert_null(find(docs, "Ingress", "hidden"));
	/* a gRPC port: appProtocol grpc, and a TCP readiness probe (no HTTP GET) */
	assert_string_equal(jv_str(jv_at(jv_get(jv_get(find(docs, "Service", "hidden"), "spec"),
	    "ports"), 0), "appProtocol"), "grpc");
	pod = jv_get(jv_get(jv_get(find(docs, "Deployment", "hidden"), "spec"), "template"), "spec");
	assert_non_null(jv_get(jv_get(container0(pod), "readinessProbe"), "tcpSocket"));
	assert_null(jv_get(jv_get(container0(pod), "readinessProbe"), "httpGet"));
	assert_non_null(find(docs, "Service", "web"));
	assert_null(jv_get(jv_at(jv_get(jv_get(find(docs, "Service", "web"), "spec"), "ports"), 0),
	    "appProtocol"));
	assert_null(find(docs, "Service", "worker"));
	wk = find(docs, "Deployment", "worker");
	assert_string_equal(jv_str(jv_get(jv_get(jv_get(wk, "spec"), "strategy"), "rollingUpdate"),
	    "maxUnavailable"), "0%");
	assert_int_equal(jv_int(jv_get(jv_get(jv_get(wk, "spec"), "strategy"), "rollingUpdate"),
	    "maxSurge"), 1);
	ds = find(docs, "DaemonSet", "agent");
	assert_non_null(ds);
	assert_null(find(docs, "Deployment", "agent"));
	assert_null(jv_get(jv_get(ds, "spec"), "replicas"));
	/* minimum 100: a DaemonSet still lets one pod go at a time */
	assert_int_equal(jv_int(jv_get(jv_get(jv_get(ds, "spec"), "updateStrategy"),
	    "rollingUpdate"), "maxUnavailable"), 1);

	cj = find(docs, "CronJob", "cleanup");
	assert_string_equal(jv_str(cj, "apiVersion"), "batch/v1");
	assert_string_equal(jv_str(jv_get(cj, "spec"), "schedule"), "0 3 * * *");
	assert_string_equal(jv_str(jv_get(cj, "spec"), "concurrencyPolicy"), "Forbid");

	ss = find(docs, "StatefulSet", "database");
	assert_non_null(jv_get(jv_get(ss, "spec"), "volumeClaimTemplates"));
	assert_null(jv_get(jv_get(find(docs, "StatefulSet", "sessions"), "spec"),
	    "volumeClaimTemplates"));
	jv_free(docs);
	manifest_free(m);
}

/* The same input renders the same text (a second apply changes nothing);
 * an older server gets batch/v1beta1 CronJobs; another seed, another
 * password. */
static void
test_stable_and_versions(void **state)
{
	struct manifest *m = parse(manifest_text);
	struct k8s_render_opts o = opts(0), old = opts(20), other = opts(0);
	char err[512], *a, *b, *c;
	jv *d1 = k8s_render(m, &o, err, sizeof(err)), *d2 = k8s_render(m, &o, err, sizeof(err));
	jv *d3 = k8s_render(m, &old, err, sizeof(err)), *d4;

	(void)state;
	other.seed = "another seed";
	d4 = k8s_render(m, &other, err, sizeof(err));
	a = k8s_yaml_stream(d1);
	b = k8s_yaml_stream(d2);
	assert_string_equal(a, b);
	assert_string_equal(jv_str(find(d3, "CronJob", "cleanup"), "apiVersion"), "batch/v1beta1");
	c = k8s_yaml_stream(d4);
	assert_string_not_equal(a, c);
	assert_string_not_equal(secret_value(find(d1, "Secret", "database-credentials"),
	    "password"), secret_value(find(d4, "Secret", "database-credentials"), "password"));
	free(a);
	free(b);
	free(c);
	jv_free(d1);
	jv_free(d2);
	jv_free(d3);
	jv_free(d4);
	manifest_free(m);
}

static void
test_refusals(void **state)
{
	struct manifest *m = parse(manifest_text);
	struct k8s_render_opts o = opts(0);
	char err[512];

	(void)state;
	/* a required variable the app does not set */
	o.nenv = 0;
	assert_null(k8s_render(m, &o, err, sizeof(err)));
	assert_string_equal(err, "service web: required env: SECRET (cx env set KEY=VALUE -a shop)");
	manifest_free(m);
}

/* A count range is an autoscaler's, whose apiVersion follows the server;
 * the Deployment then leaves replicas to it. */
/* Metric i of autoscaler h: its resource {name, target}. */
static const jv *
metric(const jv *h, size_t i)
{
	return jv_get(jv_at(jv_get(jv_get(h, "spec"), "metrics"), i), "resource");
}

/* progressDeadlineSeconds: the service's deployment.progressDeadline wins,
 * then the rack's param (o.progress_deadline), else none (the cluster's). */
static void
test_progress_deadline(void **state)
{
	struct manifest *m = parse("services:\n  web:\n    port: 3000\n"
	    "    deployment:\n      progressDeadline: 120\n  worker:\n    command: w\n");
	struct k8s_render_opts o = opts(0);
	char err[256];
	jv *d;

	(void)state;
	d = k8s_render(m, &o, err, sizeof(err));
	assert_int_equal(jv_int(jv_get(find(d, "Deployment", "web"), "spec"),
	    "progressDeadlineSeconds"), 120);
	assert_null(jv_get(jv_get(find(d, "Deployment", "worker"), "spec"),
	    "progressDeadlineSeconds"));
	jv_free(d);
	o.progress_deadline = 90;
	d = k8s_render(m, &o, err, sizeof(err));
	assert_int_equal(jv_int(jv_get(find(d, "Deployment", "web"), "spec"),
	    "progressDeadlineSeconds"), 120);
	assert_int_equal(jv_int(jv_get(find(d, "Deployment", "worker"), "spec"),
	    "progressDeadlineSeconds"), 90);
	jv_free(d);
	manifest_free(m);
}

static void
test_autoscaler(void **state)
{
	struct manifest *m = parse("services:\n  web:\n    port: 3000\n    scale:\n      count: 2-6\n");
	struct k8s_render_opts o = opts(0), old = opts(20);
	char err[256];
	jv *d = k8s_render(m, &o, err, sizeof(err)), *d20 = k8s_render(m, &old, err, sizeof(err));
	const jv *h = find(d, "HorizontalPodAutoscaler", "web");

	(void)state;
	assert_non_null(h);
	assert_string_equal(jv_str(h, "apiVersion"), "autoscaling/v2");
	assert_int_equal(jv_int(jv_get(h, "spec"), "minReplicas"), 2);
	assert_int_equal(jv_int(jv_get(h, "spec"), "maxReplicas"), 6);
	assert_string_equal(jv_str(jv_get(jv_get(h, "spec"), "scaleTargetRef"), "name"), "web");
	assert_null(jv_get(jv_get(find(d, "Deployment", "web"), "spec"), "replicas"));
	assert_string_equal(jv_str(find(d20, "HorizontalPodAutoscaler", "web"), "apiVersion"),
	    "autoscaling/v2beta2");
	jv_free(d);
	jv_free(d20);
	manifest_free(m);

	/* scale.targets: each named metric, memory first (see autoscaler()). */
	m = parse("services:\n  web:\n    port: 3000\n    scale:\n      count: 1-3\n"
	    "      targets:\n        memory: 85\n");
	d = k8s_render(m, &o, err, sizeof(err));
	h = find(d, "HorizontalPodAutoscaler", "web");
	assert_int_equal(jv_len(jv_get(jv_get(h, "spec"), "metrics")), 1);
	assert_string_equal(jv_str(metric(h, 0), "name"), "memory");
	assert_int_equal(jv_int(jv_get(metric(h, 0), "target"), "averageUtilization"), 85);
	jv_free(d);
	manifest_free(m);
	m = parse("services:\n  web:\n    port: 3000\n    scale:\n      count: 1-3\n"
	    "      targets: {cpu: 50, memory: 90}\n");
	d = k8s_render(m, &o, err, sizeof(err));
	h = find(d, "HorizontalPodAutoscaler", "web");
	assert_int_equal(jv_len(jv_get(jv_get(h, "spec"), "metrics")), 2);
	assert_string_equal(jv_str(metric(h, 0), "name"), "memory");
	assert_int_equal(jv_int(jv_get(metric(h, 1), "target"), "averageUtilization"), 50);
	jv_free(d);
	manifest_free(m);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_scalars),
		cmocka_unit_test(test_yaml_stream),
		cmocka_unit_test(test_objects),
		cmocka_unit_test(test_stable_and_versions),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_autoscaler),
		cmocka_unit_test(test_progress_deadline),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
