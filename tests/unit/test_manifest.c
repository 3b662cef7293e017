/*
 * test_manifest.c — convox.yml parsing (src/rackd/manifest.c).
 *
 * The corpus test walks the real-world convox.yml files in $CX_CORPUS (default
 * tests/data/convox-yml-corpus, relative to the repo root that make runs us
 * from; see tests/data/README.md) and compares each outcome with
 * tests/unit/manifest-corpus.expected ($CX_MANIFEST_EXPECTED): "FILE<TAB>ok"
 * or "FILE<TAB>error<TAB>message". A missing corpus fails; it never skips. CX_MANIFEST_PRINT=1 prints what the
 * parser does now, in the same format, to review by hand before updating the
 * expected file.
 *
 * The focused tests pin Convox's defaults, each accepted form of port, health
 * and scale, interpolation, the service environment, the refusals, and that
 * hostile input (empty, garbage, deep nesting, alias bombs, mutations of the
 * corpus) ends in an error line, never a crash.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <ctype.h>
#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rackd/manifest.h"

#define ERRLEN 512

/* ---------------------------------------------------------------- helpers */

struct kv {
	const char *k, *v;
};

static const char *
kv_lookup(const char *name, void *ctx)
{
	const struct kv *t;

	for (t = ctx; t && t->k; t++)
		if (strcmp(t->k, name) == 0)
			return t->v;
	return NULL;
}

static struct manifest *
parse_with(const char *text, const struct kv *env, char *err)
{
	return manifest_parse(text, strlen(text), "convox.yml", kv_lookup, (void *)env, err,
	    ERRLEN);
}

static struct manifest *
parse(const char *text, char *err)
{
	return parse_with(text, NULL, err);
}

/* Parses text, which must load; returns the manifest. */
static struct manifest *
must_load(const char *text)
{
	char err[ERRLEN];
	struct manifest *m = parse(text, err);

	if (m == NULL)
		fail_msg("expected to load, got: %s\n--- input:\n%s", err, text);
	return m;
}

/* Parses text, which must fail with exactly want. */
static void
must_fail(const char *text, const char *want)
{
	char err[ERRLEN];
	struct manifest *m = parse(text, err);

	if (m != NULL) {
		manifest_free(m);
		fail_msg("expected \"%s\", but it loaded\n--- input:\n%s", want, text);
	}
	assert_string_equal(err, want);
}

/* A manifest of one service web whose body is yaml (indented under it),
 * which must load. */
static struct manifest *
web_load(const char *yaml)
{
	char buf[512], err[ERRLEN];
	struct manifest *m;

	snprintf(buf, sizeof(buf), "services:\n  web:\n    %s\n", yaml);
	m = parse(buf, err);
	if (m == NULL)
		fail_msg("%s: %s", yaml, err);
	return m;
}

/* The same, which must fail with exactly want. */
static void
web_must_fail(const char *yaml, const char *want)
{
	char buf[512];

	snprintf(buf, sizeof(buf), "services:\n  web:\n    %s\n", yaml);
	must_fail(buf, want);
}

/* "convox.yml:LINE:COL: something" */
static bool
err_well_formed(const char *err)
{
	const char *p = err;

	if (strncmp(p, "convox.yml:", 11) != 0)
		return false;
	p += 11;
	if (!isdigit((unsigned char)*p) || *p == '0')
		return false;
	while (isdigit((unsigned char)*p))
		p++;
	if (*p++ != ':' || !isdigit((unsigned char)*p) || *p == '0')
		return false;
	while (isdigit((unsigned char)*p))
		p++;
	return p[0] == ':' && p[1] == ' ' && p[2] != '\0' && strchr(err, '\n') == NULL;
}

/* Parses len bytes that may be anything: a manifest or a well-formed error, nothing else. */
static void
must_survive(const char *buf, size_t len)
{
	char err[ERRLEN];
	struct manifest *m = manifest_parse(buf, len, "convox.yml", NULL, NULL, err, ERRLEN);

	if (m) {
		size_t i;

		for (i = 0; i < m->nservices; i++)
			manifest_env_free(manifest_service_env(m, &m->services[i], NULL, err, ERRLEN));
		manifest_free(m);
		return;
	}
	if (!err_well_formed(err))
		fail_msg("malformed error: \"%s\"", err);
}

static char *
read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	size_t n;

	if (f == NULL)
		return NULL;
	buf = malloc(4 * 1024 * 1024);
	assert_non_null(buf);
	n = fread(buf, 1, 4 * 1024 * 1024 - 1, f);
	fclose(f);
	buf[n] = '\0';
	*len = n;
	return buf;
}

/* ---------------------------------------------------------------- corpus */

static const char *
corpus_dir(void)
{
	const char *d = getenv("CX_CORPUS");

	return d && *d ? d : "tests/data/convox-yml-corpus";
}

static int
cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The .yml files of the corpus, sorted. Fails the test when the directory is missing. */
static char **
corpus_files(size_t *n)
{
	const char *dir = corpus_dir();
	DIR *d = opendir(dir);
	struct dirent *e;
	char **names = NULL;
	size_t cap = 0;

	*n = 0;
	if (d == NULL)
		fail_msg("corpus directory %s is missing (set CX_CORPUS)", dir);
	while ((e = readdir(d)) != NULL) {
		size_t l = strlen(e->d_name);

		if (l < 5 || strcmp(e->d_name + l - 4, ".yml") != 0)
			continue;
		if (*n == cap) {
			cap = cap ? cap * 2 : 64;
			names = realloc(names, cap * sizeof(*names));
			assert_non_null(names);
		}
		names[(*n)++] = strdup(e->d_name);
	}
	closedir(d);
	if (*n == 0)
		fail_msg("corpus directory %s holds no .yml files", dir);
	qsort(names, *n, sizeof(*names), cmp_name);
	return names;
}

static void
corpus_files_free(char **names, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

/* "ok" or "error\tMESSAGE" for one corpus file. */
static char *
corpus_outcome(const char *name)
{
	char path[4096], err[ERRLEN], *buf, *out;
	struct manifest *m;
	size_t len, i;

	snprintf(path, sizeof(path), "%s/%s", corpus_dir(), name);
	buf = read_file(path, &len);
	if (buf == NULL)
		fail_msg("cannot read %s", path);
	m = manifest_parse(buf, len, "convox.yml", NULL, NULL, err, ERRLEN);
	free(buf);
	if (m == NULL) {
		if (!err_well_formed(err))
			fail_msg("%s: malformed error \"%s\"", name, err);
		out = malloc(strlen(err) + 7);
		assert_non_null(out);
		sprintf(out, "error\t%s", err);
		return out;
	}
	for (i = 0; i < m->nservices; i++) /* must not crash; required env may fail */
		manifest_env_free(manifest_service_env(m, &m->services[i], NULL, err, ERRLEN));
	manifest_free(m);
	return strdup("ok");
}

static void
test_corpus(void **state)
{
	const char *xpath = getenv("CX_MANIFEST_EXPECTED");
	char **names, *text, *line, *save = NULL;
	bool *seen, print = getenv("CX_MANIFEST_PRINT") != NULL;
	size_t n, i, len, bad = 0, nexpected = 0;

	(void)state;
	if (xpath == NULL || *xpath == '\0')
		xpath = "tests/unit/manifest-corpus.expected";
	names = corpus_files(&n);
	if (print) {
		for (i = 0; i < n; i++) {
			char *o = corpus_outcome(names[i]);

			printf("%s\t%s\n", names[i], o);
			free(o);
		}
	}
	text = read_file(xpath, &len);
	if (text == NULL)
		fail_msg("cannot read %s", xpath);
	seen = calloc(n, sizeof(*seen));
	assert_non_null(seen);
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *tab = strchr(line, '\t'), *got, *key;

		if (*line == '#' || *line == '\0')
			continue;
		nexpected++;
		if (tab == NULL) {
			print_error("%s: line without a tab: %s\n", xpath, line);
			bad++;
			continue;
		}
		*tab = '\0';
		key = line;
		for (i = 0; i < n; i++)
			if (strcmp(names[i], key) == 0)
				break;
		if (i == n) {
			print_error("%s: %s is not in the corpus\n", xpath, key);
			bad++;
			continue;
		}
		if (seen[i]) {
			print_error("%s: %s listed twice\n", xpath, key);
			bad++;
			continue;
		}
		seen[i] = true;
		got = corpus_outcome(key);
		if (strcmp(got, tab + 1) != 0) {
			print_error("%s:\n  expected %s\n  got      %s\n", key, tab + 1, got);
			bad++;
		}
		free(got);
	}
	for (i = 0; i < n; i++) {
		if (!seen[i]) {
			print_error("%s has no line in %s\n", names[i], xpath);
			bad++;
		}
	}
	free(seen);
	free(text);
	corpus_files_free(names, n);
	if (bad)
		fail_msg("%zu corpus mismatches", bad);
	assert_true(nexpected > 0);
}

/* ---------------------------------------------------------------- defaults */

static void
test_defaults(void **state)
{
	struct manifest *m;
	const struct mf_service *s;

	(void)state;
	m = must_load("services:\n  web:\n    build: .\n  worker:\n");
	assert_int_equal(m->nservices, 2);
	s = manifest_service(m, "web");
	assert_non_null(s);
	assert_string_equal(s->build_path, ".");
	assert_string_equal(s->dockerfile, "Dockerfile");
	assert_null(s->command);
	assert_int_equal(s->port, 0);
	assert_string_equal(s->port_scheme, "http");
	assert_int_equal(s->nenv, 0);
	assert_string_equal(s->health_path, "/");
	assert_int_equal(s->health_interval, 5);
	assert_int_equal(s->health_grace, 5);
	assert_int_equal(s->health_timeout, 4);
	assert_false(s->health_disabled);
	assert_int_equal(s->scale_count, 1);
	assert_int_equal(s->scale_min, 1);
	assert_int_equal(s->scale_max, 1);
	assert_int_equal(s->scale_cpu, 250);      /* Convox's defaults, for cx scale */
	assert_int_equal(s->scale_memory, 512);
	assert_false(s->internal);
	assert_false(s->internal_router);
	assert_int_equal(s->ndomains, 0);
	assert_int_equal(s->timeout, 60);
	assert_int_equal(s->termination_grace, 30);
	assert_int_equal(s->deploy_min, 50);
	assert_int_equal(s->deploy_max, 200);

	/* an empty service (null body) gets every default too */
	s = manifest_service(m, "worker");
	assert_non_null(s);
	assert_string_equal(s->build_path, ".");
	assert_int_equal(s->scale_count, 1);
	assert_int_equal(s->health_timeout, 4);
	assert_ptr_equal(&m->services[1], s);
	assert_null(manifest_service(m, "nope"));
	manifest_free(m);

	m = must_load("services:\n"
		      "  web:\n"
		      "    build:\n"
		      "      path: api\n"
		      "      manifest: Dockerfile.web\n"
		      "    command: bin/web --port 3000\n"
		      "    timeout: 120\n"
		      "    termination:\n"
		      "      grace: 0\n"
		      "    deployment:\n"
		      "      minimum: 25\n"
		      "      maximum: 150\n"
		      "      progressDeadline: 300\n"
		      "  agent:\n"
		      "    agent: true\n"
		      "    scale: 4\n"
		      "  once:\n"
		      "    singleton: yes\n"
		      "    deployment:\n"
		      "      maximum: 200\n");
	s = &m->services[0];
	assert_string_equal(s->build_path, "api");
	assert_string_equal(s->dockerfile, "Dockerfile.web");
	assert_string_equal(s->command, "bin/web --port 3000");
	assert_int_equal(s->timeout, 120);
	assert_int_equal(s->termination_grace, 0);
	assert_int_equal(s->deploy_min, 25);
	assert_int_equal(s->deploy_max, 150);
	assert_int_equal(s->progress_deadline, 300);
	s = &m->services[1];
	assert_true(s->agent);
	assert_int_equal(s->scale_count, 1);
	assert_int_equal(s->deploy_min, 0);
	assert_int_equal(s->deploy_max, 100);
	s = &m->services[2];
	assert_true(s->singleton);
	assert_int_equal(s->deploy_min, 0);
	assert_int_equal(s->deploy_max, 200);
	manifest_free(m);

	/* scale.cpu and scale.memory: acted on (cgroup.h), so not noticed; cpu
	 * written is a cap too */
	m = must_load("services:\n  web:\n    scale:\n      count: 2\n      cpu: 500\n"
		      "      memory: 1024\n");
	assert_int_equal(m->services[0].scale_count, 2);
	assert_int_equal(m->services[0].scale_cpu, 500);
	assert_int_equal(m->services[0].scale_memory, 1024);
	assert_true(m->services[0].scale_cpu_set);
	assert_int_equal(m->nnotices, 0);
	manifest_free(m);
	m = must_load("services:\n  web:\n    scale:\n      memory: 256\n");
	assert_int_equal(m->services[0].scale_cpu, 250);
	assert_false(m->services[0].scale_cpu_set);
	manifest_free(m);
	must_fail("services:\n  web:\n    scale:\n      memory: lots\n",
	    "convox.yml:4:15: scale.memory: expected a whole number from 0 to 16777216, found \"lots\"");

	/* Generation 2 agents: {enabled, ports} */
	m = must_load("services:\n  dd:\n    agent:\n      ports:\n        - 8125/udp\n"
		      "        - 8126/tcp\n  off:\n    agent:\n      enabled: false\n");
	assert_true(m->services[0].agent);
	assert_false(m->services[1].agent);
	assert_int_equal(m->services[1].deploy_min, 50);
	manifest_free(m);
	must_fail("services:\n  dd:\n    agent:\n      ports:\n        - statsd\n",
	    "convox.yml:5:11: agent.ports: expected PORT, PORT/tcp or PORT/udp");
}

/* ---------------------------------------------------------------- tls */

static void
test_tls(void **state)
{
	static const struct {
		const char *yaml;
		bool redirect;
	} ok[] = {
		{ "port: 3000", true },
		{ "tls:", true },
		{ "tls:\n      redirect: true", true },
		{ "tls:\n      redirect: false", false },
		{ "tls:\n      redirect: no", false },
		{ "tls: {redirect: \"false\"}", false },
	};
	static const struct {
		const char *yaml, *err;
	} bad[] = {
		{ "tls:\n      redirect: sometimes",
		    "convox.yml:4:17: tls.redirect: expected true or false, found \"sometimes\"" },
		{ "tls:\n      redirect: [false]",
		    "convox.yml:4:17: tls.redirect: expected a single value, found a list" },
		{ "tls: false", "convox.yml:3:10: tls: expected a mapping, found a single value" },
		{ "tls:\n      redirect: false\n      hsts: true",
		    "convox.yml:5:7: tls.hsts: unknown key; tls takes redirect" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		struct manifest *m;

		m = web_load(ok[i].yaml);
		if (m->services[0].tls_redirect != ok[i].redirect)
			fail_msg("%s: tls_redirect %d, want %d", ok[i].yaml,
			    m->services[0].tls_redirect, ok[i].redirect);
		manifest_free(m);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		web_must_fail(bad[i].yaml, bad[i].err);
}

/* ---------------------------------------------------------------- port */

static void
test_ports(void **state)
{
	static const struct {
		const char *yaml;
		int port;
		const char *scheme;
	} ok[] = {
		{ "port: 3000", 3000, "http" },
		{ "port: \"3000\"", 3000, "http" },
		{ "port: http:8080", 8080, "http" },
		{ "port: https:3000", 3000, "https" },
		{ "port: HTTPS:443", 443, "https" },
		{ "port: grpc:50051", 50051, "grpc" },
		{ "port:\n      port: 5000\n      scheme: GRPC", 5000, "grpc" },
		{ "port: 1", 1, "http" },
		{ "port: 65535", 65535, "http" },
		{ "port:\n      port: 443\n      scheme: http", 443, "http" },
		{ "port:\n      scheme: https\n      port: 3000", 3000, "https" },
		{ "port:\n      port: https:3001", 3001, "https" },
		{ "port:", 0, "http" },
		{ "port: ~", 0, "http" },
	};
	static const struct {
		const char *yaml, *err;
	} bad[] = {
		{ "port: 0", "convox.yml:3:11: port: expected a port from 1 to 65535, http:PORT, "
			     "https:PORT or grpc:PORT, found \"0\"" },
		{ "port: 65536", "convox.yml:3:11: port: expected a port from 1 to 65535, "
				 "http:PORT, https:PORT or grpc:PORT, found \"65536\"" },
		{ "port: -80", "convox.yml:3:11: port: expected a port from 1 to 65535, http:PORT, "
			       "https:PORT or grpc:PORT, found \"-80\"" },
		{ "port: 3000.5", "convox.yml:3:11: port: expected a port from 1 to 65535, "
				  "http:PORT, https:PORT or grpc:PORT, found \"3000.5\"" },
		{ "port: web", "convox.yml:3:11: port: expected a port from 1 to 65535, http:PORT, "
			       "https:PORT or grpc:PORT, found \"web\"" },
		{ "port: tcp:5432", "convox.yml:3:11: port: scheme \"tcp\" is not http, https or grpc" },
		{ "port: [3000]", "convox.yml:3:11: port: expected a single value, found a list" },
		{ "port:\n      scheme: https", "convox.yml:4:7: port: needs port.port" },
		{ "port:\n      port: 3000\n      protocol: tcp",
		    "convox.yml:5:7: port.protocol: unknown key; port takes port and scheme" },
		{ "port:\n      port: 3000\n      scheme: udp",
		    "convox.yml:5:15: port.scheme: scheme \"udp\" is not http, https or grpc" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		struct manifest *m;

		m = web_load(ok[i].yaml);
		assert_int_equal(m->services[0].port, ok[i].port);
		assert_string_equal(m->services[0].port_scheme, ok[i].scheme);
		manifest_free(m);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		web_must_fail(bad[i].yaml, bad[i].err);
	/* extra ports are checked and otherwise ignored */
	manifest_free(must_load("services:\n  web:\n    port: 3000\n    ports:\n      - 3001\n"
				"      - 4000/udp\n      - \"5000/tcp\"\n"));
	must_fail("services:\n  web:\n    ports:\n      - 4000/sctp\n",
	    "convox.yml:4:9: ports: expected PORT, PORT/tcp or PORT/udp");
}

/* ---------------------------------------------------------------- health */

static void
test_health(void **state)
{
	struct manifest *m;
	const struct mf_service *s;

	(void)state;
	m = must_load("services:\n  web:\n    health: /check\n");
	s = &m->services[0];
	assert_string_equal(s->health_path, "/check");
	assert_int_equal(s->health_interval, 5);
	assert_int_equal(s->health_grace, 5);
	assert_int_equal(s->health_timeout, 4);
	manifest_free(m);

	/* only interval: grace and timeout derive from it */
	m = must_load("services:\n  web:\n    health:\n      interval: 10\n");
	s = &m->services[0];
	assert_string_equal(s->health_path, "/");
	assert_int_equal(s->health_interval, 10);
	assert_int_equal(s->health_grace, 10);
	assert_int_equal(s->health_timeout, 9);
	manifest_free(m);

	m = must_load("services:\n  web:\n    health:\n      path: /up\n      grace: 60\n"
		      "      interval: 30\n      timeout: \"5\"\n");
	s = &m->services[0];
	assert_string_equal(s->health_path, "/up");
	assert_int_equal(s->health_grace, 60);
	assert_int_equal(s->health_interval, 30);
	assert_int_equal(s->health_timeout, 5);
	assert_false(s->health_disabled);
	manifest_free(m);

	/* 0 means "the default", as in Convox; interval 1 keeps a timeout of 1 */
	m = must_load("services:\n  web:\n    health:\n      grace: 0\n      interval: 1\n");
	s = &m->services[0];
	assert_int_equal(s->health_grace, 1);
	assert_int_equal(s->health_timeout, 1);
	manifest_free(m);

	m = must_load("services:\n  worker:\n    health:\n      disable: true\n");
	assert_true(m->services[0].health_disabled);
	manifest_free(m);

	must_fail("services:\n  web:\n    health: check\n",
	    "convox.yml:3:13: health: a health check path starts with / (at most 1024 bytes)");
	must_fail("services:\n  web:\n    health:\n      path: \"/a b\"\n",
	    "convox.yml:4:13: health.path: a health check path is printable ASCII without spaces");
	must_fail("services:\n  web:\n    health:\n      internal: 11\n",
	    "convox.yml:4:7: health.internal: unknown key; health takes path, grace, interval, "
	    "timeout and disable");
	must_fail("services:\n  web:\n    health:\n      interval: five\n",
	    "convox.yml:4:17: health.interval: expected a whole number from 0 to 86400, found "
	    "\"five\"");
	must_fail("services:\n  web:\n    health:\n      port: 3001\n",
	    "convox.yml:4:7: health.port: health checks go to the process's PORT; the local "
	    "provider gives each process one");
	must_fail("services:\n  web:\n    health:\n      disable: maybe\n",
	    "convox.yml:4:16: health.disable: expected true or false, found \"maybe\"");
	must_fail("services:\n  web:\n    health: [/a]\n",
	    "convox.yml:3:13: health: expected a mapping, found a list");
}

/* ---------------------------------------------------------------- scale */

static void
test_scale(void **state)
{
	static const struct {
		const char *yaml;
		int count, min, max;
	} ok[] = {
		{ "scale: 3", 3, 3, 3 },
		{ "scale: 0", 0, 0, 0 },
		{ "scale: \"2\"", 2, 2, 2 },
		{ "scale: 2-5", 2, 2, 5 },
		{ "scale:\n      count: 4", 4, 4, 4 },
		{ "scale:\n      count: 1-3\n      cpu: 256\n      memory: 512", 1, 1, 3 },
		{ "scale:\n      count:\n        min: 2\n        max: 4", 2, 2, 4 },
		{ "scale:\n      count:\n        max: 4", 1, 1, 4 },
		{ "scale:\n      min: 1\n      max: 8\n      autoscale:\n        cpu:\n"
		  "          threshold: 70", 1, 1, 8 },
		{ "scale:\n      memory: 256\n      targets:\n        cpu: 70", 1, 1, 1 },
		{ "scale:\n      gpu:\n        count: 1\n        vendor: nvidia", 1, 1, 1 },
	};
	static const struct {
		const char *yaml, *err;
	} bad[] = {
		{ "scale: 5-2", "convox.yml:3:12: scale: the minimum 5 is above the maximum 2" },
		{ "scale: -1", "convox.yml:3:12: scale: expected a count from 0 to 1000 or a range "
			       "MIN-MAX, found \"-1\"" },
		{ "scale: 2+", "convox.yml:3:12: scale: expected a count from 0 to 1000 or a range "
			       "MIN-MAX, found \"2+\"" },
		{ "scale: 1001", "convox.yml:3:12: scale: expected a count from 0 to 1000 or a range "
				 "MIN-MAX, found \"1001\"" },
		{ "scale:\n      count: 2\n      min: 1",
		    "convox.yml:4:7: scale: give count or min and max, not both" },
		{ "scale:\n      replicas: 2",
		    "convox.yml:4:7: scale.replicas: unknown key; scale takes count (or min and max), "
		    "cpu, memory, gpu, limit, targets, autoscale, keda, vpa and cooldown" },
		{ "scale:\n      targets:\n        rps: 5",
		    "convox.yml:5:9: scale.targets.rps: unknown key; targets takes cpu and memory "
		    "(percent of the request), requests, custom and external" },
		{ "scale:\n      targets:\n        cpu: 0", "convox.yml:5:14: scale.targets.cpu: expected "
		    "a whole number from 1 to 1000, found \"0\"" },
		{ "scale:\n      targets: 70", "convox.yml:4:16: scale.targets must be a map like "
		    "{cpu: 70, memory: 80} (percent of the request)" },
		{ "scale:\n      count:\n        min: 3\n        max: 2",
		    "convox.yml:5:9: scale.count: the minimum 3 is above the maximum 2" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		struct manifest *m;

		m = web_load(ok[i].yaml);
		assert_int_equal(m->services[0].scale_count, ok[i].count);
		assert_int_equal(m->services[0].scale_min, ok[i].min);
		assert_int_equal(m->services[0].scale_max, ok[i].max);
		manifest_free(m);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		web_must_fail(bad[i].yaml, bad[i].err);
}

/* ---------------------------------------------------------------- notices */

/* Each key accepted and not acted on is named once, where it stands; keys
 * acted on are not. */
static void
test_notices(void **state)
{
	static const char *const want[] = {
		"convox.yml:1:1: version (a docker-compose leftover) is not acted on by local racks",
		"convox.yml:5:7: scale.targets (autoscaling) is not acted on by local racks",
		"convox.yml:8:5: drain (load balancer draining; termination.grace applies) is not "
		"acted on by local racks",
		"convox.yml:9:5: ports (extra ports the process opens: checked, not published) is "
		"not acted on by local racks",
		"convox.yml:11:5: labels (Kubernetes labels) is not acted on by local racks",
		"convox.yml:13:1: budget (cloud cost caps) is not acted on by local racks",
	};
	struct manifest *m;
	size_t i;

	(void)state;
	m = must_load("version: \"2\"\nservices:\n  web:\n    scale:\n      targets:\n"
	    "        cpu: 70\n      memory: 256\n    drain: 10\n    ports:\n      - 9000\n"
	    "    labels:\n      team: a\nbudget:\n  amount: 100\n");
	assert_int_equal(m->nnotices, sizeof(want) / sizeof(want[0]));
	for (i = 0; i < m->nnotices; i++)
		assert_string_equal(m->notices[i], want[i]);
	manifest_free(m);
	m = must_load("services:\n  web:\n    port: 3000\n    scale: 2\n    health: /h\n");
	assert_int_equal(m->nnotices, 0);
	manifest_free(m);
}

/* docs/manifest.md lists every key the parser knows, in its section, with
 * the decision the parser takes (a key it reads may still be "not acted
 * on", as extra ports are: checked, then named). */
static void
test_docs_list_every_key(void **state)
{
	struct mf_key keys[256];
	size_t n = manifest_keys(keys, 256), i;
	size_t len;
	char *doc = read_file("docs/manifest.md", &len), *services;

	(void)state;
	assert_true(n > 40 && n <= 256);
	assert_non_null(doc);
	services = strstr(doc, "\n## Services");
	assert_non_null(services);
	for (i = 0; i < n; i++) {
		bool top = keys[i].section[0] == '\0';
		char row[128], *at;
		const char *from = top ? doc : services;

		snprintf(row, sizeof(row), "\n| `%s` | ", keys[i].name);
		at = strstr(from, row);
		if (at == NULL || (top && at > services))
			fail_msg("docs/manifest.md does not list %s%s", keys[i].section, keys[i].name);
		at += strlen(row);
		if (strcmp(keys[i].decision, "acted on") != 0 &&
		    strncmp(at, keys[i].decision, strlen(keys[i].decision)) != 0)
			fail_msg("docs/manifest.md says %s%s is %.20s, the parser: %s",
			    keys[i].section, keys[i].name, at, keys[i].decision);
	}
	free(doc);
}

/* ---------------------------------------------------------------- interpolation */

static void
test_interpolation(void **state)
{
	static const struct kv env[] = {
		{ "HOST", "example.com" },
		{ "PORT", "4000" },
		{ "STAGE", "prod" },
		{ "BAD", "four" },
		{ "PATHV", "/healthz" },
		{ NULL, NULL },
	};
	struct manifest *m;
	const struct mf_service *s;
	char err[ERRLEN];

	(void)state;
	m = parse_with("environment:\n"
		       "  - NODE_ENV=${STAGE}\n"
		       "  - URL=https://${HOST}:${PORT}/${STAGE}\n"
		       "  - EMPTY=${UNSET}\n"
		       "  - OPEN=${HOST\n"
		       "  - DOLLAR=$HOST\n"
		       "services:\n"
		       "  web:\n"
		       "    domain: ${HOST}, api.${HOST}\n"
		       "    port: ${PORT}\n"
		       "    health: ${PATHV}\n"
		       "    command: echo '${STAGE}'\n"
		       "  worker:\n"
		       "    port: ${UNSET}\n"
		       "    domain: ${UNSET}\n"
		       "    health: ${UNSET}\n",
	    env, err);
	if (m == NULL)
		fail_msg("%s", err);
	assert_int_equal(m->nenv, 5);
	assert_string_equal(m->env[0].value, "prod");
	assert_string_equal(m->env[1].value, "https://example.com:4000/prod");
	assert_true(m->env[2].has_value);
	assert_string_equal(m->env[2].value, "");
	assert_string_equal(m->env[3].value, "${HOST");
	assert_string_equal(m->env[4].value, "$HOST");
	s = &m->services[0];
	assert_int_equal(s->ndomains, 2);
	assert_string_equal(s->domains[0], "example.com");
	assert_string_equal(s->domains[1], "api.example.com");
	assert_int_equal(s->port, 4000);
	assert_string_equal(s->health_path, "/healthz");
	assert_string_equal(s->command, "echo 'prod'");
	/* unset: empty, and an empty value is absent, so defaults apply */
	s = &m->services[1];
	assert_int_equal(s->port, 0);
	assert_int_equal(s->ndomains, 0);
	assert_string_equal(s->health_path, "/");
	manifest_free(m);

	/* errors point at the value as written, before interpolation */
	m = parse_with("services:\n  web:\n    build: .\n    port: ${BAD}\n", env, err);
	assert_null(m);
	assert_string_equal(err, "convox.yml:4:11: port: expected a port from 1 to 65535, "
				 "http:PORT, https:PORT or grpc:PORT, found \"four\"");

	/* keys are never interpolated */
	m = parse_with("services:\n  ${HOST}:\n    build: .\n", env, err);
	assert_null(m);
	assert_string_equal(err, "convox.yml:2:3: service name ${HOST}: use up to 30 lowercase "
				 "letters, digits and dashes, starting with a letter");

	/* a lookup of NULL is the same as nothing set */
	m = manifest_parse("services:\n  web:\n    port: ${PORT}\n", 35, NULL, NULL, NULL, err,
	    ERRLEN);
	assert_non_null(m);
	assert_int_equal(m->services[0].port, 0);
	manifest_free(m);
}

/* ---------------------------------------------------------------- environment */

static void
test_service_env(void **state)
{
	struct manifest *m;
	char err[ERRLEN], **env;
	char *app[] = { "B=from-app", "UNDECLARED=x", "DATABASE_URL=postgres://db", NULL };
	char *app_min[] = { "DATABASE_URL=postgres://db", NULL };

	(void)state;
	m = must_load("environment:\n"
		      "  - A=top\n"
		      "  - B\n"
		      "  - C=top\n"
		      "resources:\n"
		      "  database:\n"
		      "    type: postgres\n"
		      "services:\n"
		      "  web:\n"
		      "    environment:\n"
		      "      - C=svc\n"
		      "      - D=\n"
		      "    resources:\n"
		      "      - database\n"
		      "  all:\n"
		      "    environment:\n"
		      "      - \"*\"\n"
		      "      - E=e\n"
		      "  other:\n"
		      "    environment:\n"
		      "      - Z\n"
		      "      - B=svc-b\n");
	assert_int_equal(m->services[0].nresources, 1);
	assert_string_equal(m->services[0].resources[0].env, "DATABASE_URL");
	assert_string_equal(m->services[1].env[0].key, "*");
	assert_false(m->services[1].env[0].has_value);

	/* required: B (declared bare) and DATABASE_URL (resource) */
	env = manifest_service_env(m, &m->services[0], NULL, err, sizeof(err));
	assert_null(env);
	assert_string_equal(err, "required env: B, DATABASE_URL");
	env = manifest_service_env(m, &m->services[0], app_min, err, sizeof(err));
	assert_null(env);
	assert_string_equal(err, "required env: B");

	/* defaults: top, then service, then the app over all; undeclared stays out */
	env = manifest_service_env(m, &m->services[0], app, err, sizeof(err));
	if (env == NULL)
		fail_msg("%s", err);
	assert_string_equal(env[0], "A=top");
	assert_string_equal(env[1], "B=from-app");
	assert_string_equal(env[2], "C=svc");
	assert_string_equal(env[3], "D=");
	assert_string_equal(env[4], "DATABASE_URL=postgres://db");
	assert_null(env[5]);
	manifest_env_free(env);

	/* "*": every variable of the app */
	env = manifest_service_env(m, &m->services[1], app, err, sizeof(err));
	if (env == NULL)
		fail_msg("%s", err);
	assert_string_equal(env[0], "A=top");
	assert_string_equal(env[1], "B=from-app");
	assert_string_equal(env[2], "C=top");
	assert_string_equal(env[3], "E=e");
	assert_string_equal(env[4], "UNDECLARED=x");
	assert_string_equal(env[5], "DATABASE_URL=postgres://db");
	assert_null(env[6]);
	manifest_env_free(env);

	/* a service default fills a variable the top level declares bare */
	env = manifest_service_env(m, &m->services[2], NULL, err, sizeof(err));
	assert_null(env);
	assert_string_equal(err, "required env: Z");
	manifest_free(m);

	/* name:ENV picks the variable */
	m = must_load("resources:\n  cache:\n    type: redis\nservices:\n  web:\n"
		      "    resources:\n      - cache:REDIS_URL\n");
	assert_string_equal(m->services[0].resources[0].name, "cache");
	assert_string_equal(m->services[0].resources[0].env, "REDIS_URL");
	env = manifest_service_env(m, &m->services[0], NULL, err, sizeof(err));
	assert_null(env);
	assert_string_equal(err, "required env: REDIS_URL");
	manifest_free(m);

	must_fail("environment:\n  - \"FOO BAR=1\"\nservices:\n  web:\n",
	    "convox.yml:2:5: environment: \"FOO BAR\" is not a variable name (KEY=VALUE, KEY, or "
	    "\"*\" for all of the app's environment)");
	must_fail("environment:\n  - \"*=1\"\nservices:\n  web:\n",
	    "convox.yml:2:5: environment: \"*\" is not a variable name (KEY=VALUE, KEY, or \"*\" "
	    "for all of the app's environment)");
	must_fail("environment:\n  FOO: bar\nservices:\n  web:\n",
	    "convox.yml:2:3: environment: expected a list, found a mapping");
	must_fail("environment:\n  - FOO: bar\nservices:\n  web:\n",
	    "convox.yml:2:5: environment: expected KEY=VALUE or KEY, found a mapping");
	must_fail("environment:\n  - \"\"\nservices:\n  web:\n",
	    "convox.yml:2:5: environment: empty entry; expected KEY=VALUE or KEY");
}

/* ---------------------------------------------------------------- refusals */

static void
test_internal_router(void **state)
{
	(void)state;
	must_fail("services:\n  web:\n    internal: true\n    internalRouter: true\n",
	    "convox.yml:2:3: web: internal and internalRouter cannot both be true");
	manifest_free(must_load("services:\n  web:\n    internal: false\n"
				"    internalRouter: true\n"));
	must_fail("services:\n  web:\n    internal: sometimes\n",
	    "convox.yml:3:15: internal: expected true or false, found \"sometimes\"");
}

static void
test_image_and_build_args(void **state)
{
	struct manifest *m;

	(void)state;
	m = must_load("services:\n  web:\n    image: nginx:1.25\n    port: 80\n"
	    "  api:\n    build:\n      path: api\n      manifest: Dockerfile.prod\n"
	    "      args:\n        - A=1\n        - B\n");
	assert_string_equal(m->services[0].image, "nginx:1.25");
	assert_int_equal(m->services[0].nbuild_args, 0);
	assert_null(m->services[1].image);
	assert_string_equal(m->services[1].build_path, "api");
	assert_string_equal(m->services[1].dockerfile, "Dockerfile.prod");
	assert_int_equal(m->services[1].nbuild_args, 2);
	assert_string_equal(m->services[1].build_args[0].key, "A");
	assert_string_equal(m->services[1].build_args[0].value, "1");
	assert_string_equal(m->services[1].build_args[1].key, "B");
	assert_false(m->services[1].build_args[1].has_value);
	manifest_free(m);
	must_fail("services:\n  web:\n    image: \"-rm\"\n",
	    "convox.yml:3:12: image: -rm is not an image name; write one as REGISTRY/NAME:TAG");
}

static void
test_refusals(void **state)
{
	(void)state;
	must_fail("services:\n  web:\n    volumes:\n      - /data\n",
	    "convox.yml:3:5: volumes: the local provider runs processes without containers and "
	    "cannot mount volumes");
	manifest_free(must_load("services:\n  web:\n    volumes: []\n    privileged: false\n"
				"    grpcHealthEnabled: false\n"));
	{
		struct manifest *m = must_load("services:\n  web:\n    port: grpc:50051\n"
					       "    grpcHealthEnabled: true\n");

		assert_true(m->services[0].grpc_health);
		assert_string_equal(m->services[0].port_scheme, "grpc");
		manifest_free(m);
	}
	must_fail("services:\n  web:\n    privileged: true\n",
	    "convox.yml:3:5: privileged: the local provider never runs app processes with "
	    "privileges");
	must_fail("services:\n  web:\n    heatlh: /\n", "convox.yml:3:5: heatlh: unknown service key");
	must_fail("service:\n  web:\n", "convox.yml:1:1: service: unknown top-level key");
	must_fail("balancers:\n  main:\n    service: web\nservices:\n  web:\n",
	    "convox.yml:1:1: balancers: extra TCP load balancers on public ports are not provided; "
	    "the routers serve HTTP on each service's port");
	must_fail("services:\n  web:\n    labels:\n      - convox.health.path=/x\n",
	    "convox.yml:3:5: labels: a list of labels is Convox Generation 1 (docker-compose) "
	    "syntax; convox.yml labels are a mapping");
	manifest_free(must_load("services:\n  web:\n    labels:\n      team: a\n"));
	must_fail("services:\n  web:\n    whitelist: 10.0.0.0/8\n",
	    "convox.yml:3:5: whitelist: per-service source allow lists are not enforced by the "
	    "local routers; use internal: true or internalRouter: true");
	must_fail("services:\n  Web:\n", "convox.yml:2:3: service name Web: use up to 30 lowercase "
					 "letters, digits and dashes, starting with a letter");
	must_fail("services:\n  a234567890123456789012345678901:\n",
	    "convox.yml:2:3: service name a234567890123456789012345678901: use up to 30 "
	    "lowercase letters, digits and dashes, starting with a letter");
	must_fail("services:\n  \"web\\0x\":\n", "convox.yml:2:3: service name web?x: use up to 30 "
						"lowercase letters, digits and dashes, starting with a letter");
	must_fail("services:\n  web:\n    build: ../other\n",
	    "convox.yml:3:12: build: ../other is outside the app's source; use a relative path "
	    "without ..");
	must_fail("services:\n  web:\n    build:\n      path: /srv\n",
	    "convox.yml:4:13: build.path: /srv is outside the app's source; use a relative path "
	    "without ..");
	/* a value that holds a line break (a folded empty line) still gives one line */
	must_fail("services:\n  web:\n    build:\n      path: /p\n\n        q\n",
	    "convox.yml:4:13: build.path: /p?q is outside the app's source; use a relative path "
	    "without ..");
	must_fail("services:\n  web:\n    build:\n      args: 1\n",
	    "convox.yml:4:13: build.args: expected a list, found a single value");
	must_fail("services:\n  web:\n    deployment:\n      maximum: 65\n",
	    "convox.yml:4:16: deployment.maximum: expected a whole number from 100 to 200, found "
	    "\"65\"");
	must_fail("services:\n  web:\n    links:\n      - api\n",
	    "convox.yml:4:9: links: no service named api");
	must_fail("services:\n  web:\n    resources:\n      - database\n",
	    "convox.yml:4:9: resources: no resource named database under the top-level "
	    "resources:");
	must_fail("services:\n  web:\n    resources:\n      - vol\nresources:\n  vol:\n"
		  "    type: efs\n",
	    "convox.yml:4:9: resources: vol is a volume (type efs); the local provider runs "
	    "processes without containers and cannot mount volumes");
	must_fail("resources:\n  my_db:\n    type: postgres\nservices:\n  web:\n",
	    "convox.yml:2:3: resource name my_db: use lowercase letters, digits and dashes, "
	    "starting with a letter");
	must_fail("resources:\n  db:\n    options: {}\nservices:\n  web:\n",
	    "convox.yml:2:3: resources.db: needs a type");
	must_fail("services:\n  web:\n    domain: \"foo bar.com\"\n",
	    "convox.yml:3:13: domain: \"foo bar.com\" is not a host name");
	must_fail("services:\n  web:\n    port: 80\n    port: 81\n",
	    "convox.yml:4:5: web: duplicate key port");
	must_fail("services:\n", "convox.yml:1:1: no services; a convox.yml declares at least one "
				 "under services:");
	must_fail("environment:\n  - A=1\n", "convox.yml:1:1: no services; a convox.yml declares "
					     "at least one under services:");
	must_fail("- services\n", "convox.yml:1:1: expected a mapping of services:, environment:, "
				  "... at the top, found a list");
}

static void
test_timers(void **state)
{
	struct manifest *m;

	(void)state;
	m = must_load("services:\n  worker:\ntimers:\n  cleanup:\n    command: bin/cleanup\n"
		      "    schedule: \"*/3 * * * ? *\"\n    service: worker\n"
		      "    concurrency: forbid\n");
	assert_int_equal(m->ntimers, 1);
	assert_string_equal(m->timers[0].name, "cleanup");
	assert_string_equal(m->timers[0].schedule, "*/3 * * * *");
	assert_string_equal(m->timers[0].command, "bin/cleanup");
	assert_string_equal(m->timers[0].service, "worker");
	assert_string_equal(m->timers[0].concurrency, "forbid");
	manifest_free(m);
	must_fail("services:\n  worker:\ntimers:\n  t:\n    command: x\n    schedule: 0 4 * * ?\n"
		  "    service: web\n",
	    "convox.yml:7:14: service: no service named web");
	must_fail("services:\n  worker:\ntimers:\n  t:\n    command: x\n    schedule: 0 4\n"
		  "    service: worker\n",
	    "convox.yml:6:15: timers.t.schedule: expected five cron fields (minute hour day month "
	    "weekday)");
	must_fail("services:\n  worker:\ntimers:\n  t:\n    command: x\n",
	    "convox.yml:4:3: timers.t: needs command, schedule and service");
}

static void
test_domains_and_command(void **state)
{
	struct manifest *m;
	const struct mf_service *s;

	(void)state;
	m = must_load("services:\n"
		      "  a:\n"
		      "    domain: One.Example.org, two.example.org ,\n"
		      "  b:\n"
		      "    domain:\n"
		      "      - bar.example.org\n"
		      "      - \"*.example.org\"\n"
		      "    command: [bin/api, start]\n"
		      "  c:\n"
		      "    command:\n"
		      "      - echo\n"
		      "      - a b\n"
		      "      - it's\n");
	s = &m->services[0];
	assert_int_equal(s->ndomains, 2);
	assert_string_equal(s->domains[0], "one.example.org");
	assert_string_equal(s->domains[1], "two.example.org");
	s = &m->services[1];
	assert_int_equal(s->ndomains, 2);
	assert_string_equal(s->domains[1], "*.example.org");
	assert_string_equal(s->command, "bin/api start");
	assert_string_equal(m->services[2].command, "echo 'a b' 'it'\\''s'");
	manifest_free(m);
}

static void
test_merge_keys(void **state)
{
	struct manifest *m;
	const struct mf_service *s;

	(void)state;
	m = must_load("services:\n"
		      "  proxy: &proxy\n"
		      "    command: bash\n"
		      "    port: https:2000\n"
		      "    environment: &common\n"
		      "      - SECRET\n"
		      "  inherit:\n"
		      "    \"<<\": *proxy\n"
		      "    command: inherit\n"
		      "  both:\n"
		      "    <<: [{health: /a}, *proxy]\n"
		      "    environment:\n"
		      "      - *common\n"
		      "      - X=1\n");
	s = manifest_service(m, "inherit");
	assert_string_equal(s->command, "inherit");
	assert_int_equal(s->port, 2000);
	assert_string_equal(s->port_scheme, "https");
	assert_int_equal(s->nenv, 1);
	assert_string_equal(s->env[0].key, "SECRET");
	s = manifest_service(m, "both");
	assert_string_equal(s->health_path, "/a");
	assert_string_equal(s->command, "bash");
	assert_int_equal(s->nenv, 2);
	assert_string_equal(s->env[0].key, "SECRET");
	assert_string_equal(s->env[1].key, "X");
	manifest_free(m);

	/* an error inside merged content points where that content is written */
	must_fail("services:\n  a: &a\n    port: 99999\n  b:\n    <<: *a\n",
	    "convox.yml:3:11: port: expected a port from 1 to 65535, http:PORT, https:PORT or "
	    "grpc:PORT, found \"99999\"");
	must_fail("services:\n  a:\n    <<: [1, 2]\n", "convox.yml:3:10: a: <<: merges mappings only");
}

/* ---------------------------------------------------------------- syntax */

static void
test_syntax_errors(void **state)
{
	char err[ERRLEN];

	(void)state;
	must_fail("services:\n  web:\n    build: .\n   port: 3000\n",
	    "convox.yml:4:4: did not find expected key (while parsing a block mapping at line 2)");
	must_fail("services:\n  web:\n    command: \"unterminated\n",
	    "convox.yml:4:1: found unexpected end of stream (while scanning a quoted scalar at "
	    "line 3)");
	must_fail("services:\n\tweb:\n",
	    "convox.yml:2:1: found character that cannot start any token (while scanning for the "
	    "next token at line 2)");
	must_fail("services:\n  web: {port: 80\n",
	    "convox.yml:3:1: did not find expected ',' or '}' (while parsing a flow mapping at "
	    "line 2)");
	/* invalid UTF-8 and control characters come from libyaml's reader, placed by offset */
	must_fail("services:\n  web:\n    command: ab\xff\n",
	    "convox.yml:3:16: invalid leading UTF-8 octet (byte 0xff)");
	assert_null(manifest_parse("services:\n  w\0b:\n", 16, "convox.yml", NULL, NULL, err,
	    ERRLEN));
	assert_string_equal(err, "convox.yml:2:4: control characters are not allowed (byte 0x00)");
	must_fail("services:\n  web:\n    command: \"a\\0b\"\n",
	    "convox.yml:3:14: value holds a NUL byte");
	must_fail("services:\n  web:\n---\nservices:\n  api:\n",
	    "convox.yml:3:1: a second YAML document; convox.yml holds one");
	must_fail("services:\n  web:\n    command: *nothing\n",
	    "convox.yml:3:14: undefined alias *nothing");
	/* a custom file name goes into messages */
	assert_null(manifest_parse("x: [", 4, "app/convox.yml", NULL, NULL, err, ERRLEN));
	assert_true(strncmp(err, "app/convox.yml:", 15) == 0);
	/* a tiny error buffer truncates, never overflows */
	assert_null(manifest_parse("x: [", 4, NULL, NULL, NULL, err, 8));
	assert_string_equal(err, "convox.");
}

/* ---------------------------------------------------------------- hostile input */

static char *
repeat(const char *s, size_t n)
{
	size_t l = strlen(s), i;
	char *out = malloc(l * n + 1);

	assert_non_null(out);
	for (i = 0; i < n; i++)
		memcpy(out + i * l, s, l);
	out[l * n] = '\0';
	return out;
}

static void
test_hostile(void **state)
{
	char err[ERRLEN], *buf, *open, *close;
	size_t i, len;
	unsigned seed = 12345;

	(void)state;
	must_fail("", "convox.yml:1:1: empty manifest; a convox.yml declares services:");
	must_fail("# only a comment\n", "convox.yml:1:1: empty manifest; a convox.yml declares "
					    "services:");
	must_fail("---\n", "convox.yml:1:1: empty manifest; a convox.yml declares services:");
	must_fail("just text\n", "convox.yml:1:1: expected a mapping of services:, environment:, "
				 "... at the top, found a single value");
	assert_null(manifest_parse(NULL, 0, NULL, NULL, NULL, err, ERRLEN));
	assert_string_equal(err, "convox.yml:1:1: empty manifest; a convox.yml declares services:");

	/* 1000 levels of flow lists */
	open = repeat("[", 1000);
	close = repeat("]", 1000);
	buf = malloc(strlen(open) + strlen(close) + 32);
	assert_non_null(buf);
	sprintf(buf, "services: %s%s\n", open, close);
	must_fail(buf, "convox.yml:1:74: nested deeper than 64 levels");
	free(buf);
	free(open);
	free(close);

	/* 1000 levels of block mappings */
	buf = malloc(1000 * 1004 + 16);
	assert_non_null(buf);
	len = 0;
	for (i = 0; i < 1000; i++)
		len += (size_t)sprintf(buf + len, "%*sa:\n", (int)i, "");
	must_fail(buf, "convox.yml:65:65: nested deeper than 64 levels");
	free(buf);

	/* billion laughs: each level aliases the one below nine times */
	{
		static const char lol[] =
		    "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n"
		    "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
		    "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
		    "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
		    "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
		    "f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
		    "g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n"
		    "h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]\n"
		    "i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]\n";
		char text[2048];

		snprintf(text, sizeof(text), "%s", lol);
		must_fail(text, "convox.yml:1:1: a: unknown top-level key");
		/* where the schema ignores a value, the bomb is never walked */
		snprintf(text, sizeof(text),
		    "services:\n  web:\n    annotations: &a [\"lol\",\"lol\",\"lol\",\"lol\"]\n"
		    "    test: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
		    "    init: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
		    "    drain: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
		    "    liveness: [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n");
		manifest_free(must_load(text));
		/* where it reads one, lists in lists are refused at once */
		snprintf(text, sizeof(text),
		    "services:\n  web:\n    annotations: &a [\"X=1\",\"X=2\"]\n"
		    "    test: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
		    "    init: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
		    "    environment: [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n");
		must_fail(text, "convox.yml:4:11: environment: expected KEY=VALUE or KEY, found a "
				"list");
	}

	/* merge bomb: 8 levels of 100-way merges would be 10^16 steps */
	{
		size_t cap = 64 * 1024, o = 0;
		int lvl, j;

		buf = malloc(cap);
		assert_non_null(buf);
		o += (size_t)snprintf(buf + o, cap - o, "services:\n  l0: &l0\n    command: x\n");
		for (lvl = 1; lvl <= 8; lvl++) {
			o += (size_t)snprintf(buf + o, cap - o, "  l%d: &l%d\n    <<: [", lvl, lvl);
			for (j = 0; j < 100; j++)
				o += (size_t)snprintf(buf + o, cap - o, "%s*l%d", j ? "," : "", lvl - 1);
			o += (size_t)snprintf(buf + o, cap - o, "]\n");
		}
		assert_null(parse(buf, err));
		assert_true(err_well_formed(err));
		assert_non_null(strstr(err, "aliases and merges expand to more than 10000000 "
					    "steps"));
		free(buf);
	}

	/* an alias to the collection that holds it */
	must_fail("services: &s\n  web: *s\n",
	    "convox.yml:2:8: alias *s refers to a node that contains it");

	/* size limits */
	buf = malloc(MF_MAX_FILE + 2);
	assert_non_null(buf);
	memset(buf, ' ', MF_MAX_FILE + 1);
	assert_null(manifest_parse(buf, MF_MAX_FILE + 1, NULL, NULL, NULL, err, ERRLEN));
	assert_string_equal(err, "convox.yml:1:1: larger than 1048576 bytes");
	/* a huge scalar within the limit is just a value */
	len = (size_t)sprintf(buf, "services:\n  web:\n    command: ");
	memset(buf + len, 'x', 1000000);
	len += 1000000;
	buf[len++] = '\n';
	buf[len] = '\0';
	manifest_free(must_load(buf));
	free(buf);

	/* binary garbage */
	buf = malloc(4096);
	assert_non_null(buf);
	for (i = 0; i < 500; i++) {
		size_t j, n = 1 + rand_r(&seed) % 4096;

		for (j = 0; j < n; j++)
			buf[j] = (char)(rand_r(&seed) & 0xff);
		must_survive(buf, n);
	}
	free(buf);
}

/* Mutates corpus files (flips, cuts, YAML punctuation) and checks every outcome. */
static void
test_mutations(void **state)
{
	static const char punct[] = ":-[]{}&*!|>'\"%@`#,?<\n\t ";
	char **names, path[4096], *orig, *buf;
	size_t n, i, len, round;
	unsigned seed = 4242;

	(void)state;
	names = corpus_files(&n);
	buf = malloc(4 * 1024 * 1024);
	assert_non_null(buf);
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s", corpus_dir(), names[i]);
		orig = read_file(path, &len);
		assert_non_null(orig);
		for (round = 0; round < 60; round++) {
			size_t blen = len, k, edits = 1 + rand_r(&seed) % 4;

			memcpy(buf, orig, len);
			for (k = 0; k < edits && blen > 0; k++) {
				size_t at = rand_r(&seed) % blen;

				switch (rand_r(&seed) % 4) {
				case 0:
					buf[at] = punct[rand_r(&seed) % (sizeof(punct) - 1)];
					break;
				case 1:
					buf[at] = (char)(rand_r(&seed) & 0xff);
					break;
				case 2:
					blen = at;
					break;
				default: /* duplicate a slice: more keys, more nesting */
					if (blen + 64 < 4 * 1024 * 1024) {
						memmove(buf + at + 32, buf + at, blen - at);
						memmove(buf + at, buf + (at >= 32 ? at - 32 : at + 32), 32);
						blen += 32;
					}
					break;
				}
			}
			must_survive(buf, blen);
		}
		free(orig);
	}
	free(buf);
	corpus_files_free(names, n);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_corpus),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_ports),
		cmocka_unit_test(test_tls),
		cmocka_unit_test(test_health),
		cmocka_unit_test(test_scale),
		cmocka_unit_test(test_notices),
		cmocka_unit_test(test_docs_list_every_key),
		cmocka_unit_test(test_interpolation),
		cmocka_unit_test(test_service_env),
		cmocka_unit_test(test_internal_router),
		cmocka_unit_test(test_image_and_build_args),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_timers),
		cmocka_unit_test(test_domains_and_command),
		cmocka_unit_test(test_merge_keys),
		cmocka_unit_test(test_syntax_errors),
		cmocka_unit_test(test_hostile),
		cmocka_unit_test(test_mutations),
	};

	return cmocka_run_group_tests_name("manifest", tests, NULL, NULL);
}
