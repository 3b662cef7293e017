/*
 * test_kubeconfig.c — reading a kubeconfig (inline and file credentials,
 * the current context, every refusal), the YAML reader under it (and the
 * YAML writer read back by it), base64 decoding and the resource paths
 * apply sends to. That a real API server takes what cx applies is
 * tests/e2e/kube.t's part.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/util.h"
#include "k8s/apply.h"
#include "k8s/kubeconfig.h"
#include "k8s/yaml.h"

static char dir[] = "/tmp/cx-test-kubeconfig-XXXXXX";

static void
put(const char *name, const char *text)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_int_equal(write_file_atomic(path, text, strlen(text), 0600), 0);
}

/* Loads dir/name: 0 or -1, err filled. */
static int
load(const char *name, struct kubeconfig *kc, char *err, size_t errlen)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	err[0] = '\0';
	return kubeconfig_load(path, NULL, kc, err, errlen);
}

static void
test_base64(void **state)
{
	static const struct { const char *in, *out; } good[] = {
		{ "", "" }, { "Zg==", "f" }, { "Zm8=", "fo" }, { "Zm9v", "foo" },
		{ "Zm9v\nYmFy", "foobar" }, { "  Zm9vYg==\n", "foob" },
	};
	static const char *const bad[] = { "Zg=", "Zm9", "Z===", "Zg==Zg==", "Zm9v!", "Zm-v" };
	size_t n;

	(void)state;
	for (size_t i = 0; i < CX_ARRAY_LEN(good); i++) {
		unsigned char *o = base64_decode(good[i].in, strlen(good[i].in), &n);

		assert_non_null(o);
		assert_int_equal(n, strlen(good[i].out));
		assert_memory_equal(o, good[i].out, n);
		free(o);
	}
	for (size_t i = 0; i < CX_ARRAY_LEN(bad); i++)
		assert_null(base64_decode(bad[i], strlen(bad[i]), &n));
}

static void
test_yaml_read(void **state)
{
	static const char text[] =
	    "a: 1\nb: [x, \"y z\", {c: d}]\nnested:\n  deeper:\n  - k: v\n    q: 'true'\n";
	char err[256], deep[400] = "";
	jv *v;

	(void)state;
	assert_non_null(v = kubeconfig_yaml_read(text, strlen(text), err, sizeof(err)));
	assert_string_equal(jv_str(v, "a"), "1");
	assert_int_equal(jv_len(jv_get(v, "b")), 3);
	assert_string_equal(jv_string_value(jv_at(jv_get(v, "b"), 1)), "y z");
	assert_string_equal(jv_str(jv_at(jv_get(v, "b"), 2), "c"), "d");
	assert_string_equal(jv_str(jv_at(jv_get(jv_get(v, "nested"), "deeper"), 0), "q"), "true");
	jv_free(v);
	/* JSON is YAML too: kubeconfigs are written either way. */
	assert_non_null(v = kubeconfig_yaml_read("{\"k\": [\"v\"]}", 12, err, sizeof(err)));
	assert_string_equal(jv_string_value(jv_at(jv_get(v, "k"), 0)), "v");
	jv_free(v);
	/* Refusals, each with where. */
	assert_null(kubeconfig_yaml_read("a: &x 1\nb: *x\n", 14, err, sizeof(err)));
	assert_non_null(strstr(err, "line 2: an alias (*x)"));
	assert_null(kubeconfig_yaml_read("a: [\n", 5, err, sizeof(err)));
	assert_non_null(strstr(err, "line 2 column"));
	assert_null(kubeconfig_yaml_read("? [a]\n: b\n", 10, err, sizeof(err)));
	assert_non_null(strstr(err, "a key that is not a plain value"));
	for (int i = 0; i < 70; i++)
		strcat(deep, "[");
	assert_null(kubeconfig_yaml_read(deep, strlen(deep), err, sizeof(err)));
	assert_non_null(strstr(err, "nested deeper than 64"));
	assert_null(kubeconfig_yaml_read("", 0, err, sizeof(err)));
	assert_string_equal(err, "empty");
}

/* What the writer writes, the reader reads back as the same strings. */
static void
test_yaml_round_trip(void **state)
{
	static const char *const tricky[] = { "true", "0755", "8080", "a: b", "-x", "#c",
		"yes", "1e3", "", " lead", "trail ", "x\ny", "quote\"d", "back\\slash", "null",
		"0o17", "~", "@at", "%p", "*star", "&amp", "!bang", "[x]", "{y}", "a #b" };
	jv *docs = jv_array_new(), *o = jv_object_new(), *back;
	char err[256], key[16];
	char *text;

	(void)state;
	for (size_t i = 0; i < CX_ARRAY_LEN(tricky); i++) {
		snprintf(key, sizeof(key), "k%zu", i);
		jv_set_str(o, key, tricky[i]);
	}
	jv_push_take(docs, o);
	text = k8s_yaml_stream(docs);
	assert_non_null(back = kubeconfig_yaml_read(text, strlen(text), err, sizeof(err)));
	for (size_t i = 0; i < CX_ARRAY_LEN(tricky); i++) {
		snprintf(key, sizeof(key), "k%zu", i);
		assert_string_equal(jv_str(back, key), tricky[i]);
	}
	jv_free(back);
	jv_free(docs);
	free(text);
}

static const char config_head[] =
    "apiVersion: v1\nkind: Config\ncurrent-context: two\n"
    "clusters:\n"
    "- name: c1\n  cluster: {server: 'https://one.example:6443/'}\n"
    "- name: c2\n  cluster:\n    server: https://10.0.0.2\n"
    "    certificate-authority-data: Q0EtUEVN\n"   /* CA-PEM */
    "contexts:\n"
    "- name: one\n  context: {cluster: c1, user: tok}\n"
    "- name: two\n  context: {cluster: c2, user: certs}\n";

static void
test_load(void **state)
{
	struct kubeconfig kc;
	char err[600], text[2048];

	(void)state;
	put("client.crt", "CERT-PEM");
	snprintf(text, sizeof(text), "%s%s", config_head,
	    "users:\n- name: tok\n  user: {token: abc}\n"
	    "- name: certs\n  user:\n    client-certificate: client.crt\n"
	    "    client-key-data: S0VZLVBFTQ==\n");
	put("config", text);
	assert_int_equal(load("config", &kc, err, sizeof(err)), 0);
	assert_string_equal(kc.context, "two");
	assert_string_equal(kc.server, "https://10.0.0.2");
	assert_string_equal(kc.ca, "CA-PEM");
	assert_string_equal(kc.cert, "CERT-PEM");      /* a file next to the kubeconfig */
	assert_string_equal(kc.key, "KEY-PEM");
	assert_null(kc.token);
	assert_ptr_equal(kc.tls.ca_pem, kc.ca);
	assert_int_equal(kc.tls.key_len, 7);
	kubeconfig_free(&kc);

	snprintf(text, sizeof(text), "%s/config", dir);
	assert_int_equal(kubeconfig_load(text, "one", &kc, err, sizeof(err)), 0);
	assert_string_equal(kc.server, "https://one.example:6443");   /* no trailing '/' */
	assert_string_equal(kc.token, "abc");
	assert_null(kc.ca);
	kubeconfig_free(&kc);
}

static void
test_refusals(void **state)
{
	static const struct { const char *users, *want; } cases[] = {
		{ "users:\n- name: certs\n  user: {exec: {command: aws}}\n",
		  "user certs gets its credential from a exec plugin, which cx does not run" },
		{ "users:\n- name: certs\n  user: {auth-provider: {name: gcp}}\n",
		  "from a auth-provider plugin" },
		{ "users:\n- name: certs\n  user: {client-certificate-data: Q0VSVA==}\n",
		  "user certs has a client certificate without its key" },
		{ "users:\n- name: certs\n  user: {client-key-data: '!!'}\n",
		  "client-key-data is not base64" },
		{ "users:\n- name: certs\n  user: {client-key: missing.key, "
		  "client-certificate-data: Q0VSVA==}\n", "missing.key: No such file or directory" },
		{ "users:\n- name: certs\n  user: {username: admin}\n",
		  "user certs has no credential: give a token or a client certificate and key" },
		{ "users:\n- name: certs\n  user: {token: \"a\\nb\"}\n", "token holds a line break" },
		{ "users: []\n", "context two names user \"certs\", which it does not have" },
	};
	struct kubeconfig kc;
	char err[600], text[2048];

	(void)state;
	for (size_t i = 0; i < CX_ARRAY_LEN(cases); i++) {
		snprintf(text, sizeof(text), "%s%s", config_head, cases[i].users);
		put("bad", text);
		assert_int_equal(load("bad", &kc, err, sizeof(err)), -1);
		if (strstr(err, cases[i].want) == NULL)
			fail_msg("case %zu: got \"%s\", want \"%s\"", i, err, cases[i].want);
		kubeconfig_free(&kc);
	}
	put("bad", "current-context: x\ncontexts: []\n");
	assert_int_equal(load("bad", &kc, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "has no context \"x\""));
	kubeconfig_free(&kc);
	put("bad", "kind: Config\n");
	assert_int_equal(load("bad", &kc, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "has no current-context: set one (kubectl config use-context"));
	kubeconfig_free(&kc);
	put("bad", "current-context: a\ncontexts: [{name: a, context: {cluster: c, user: u}}]\n"
	    "clusters: [{name: c, cluster: {server: 'http://plain:8080'}}]\n"
	    "users: [{name: u, user: {token: t}}]\n");
	assert_int_equal(load("bad", &kc, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "cluster c's server must be an https:// URL, not "
	    "\"http://plain:8080\""));
	kubeconfig_free(&kc);
	put("bad", "- a list\n");
	assert_int_equal(load("bad", &kc, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "is not a kubeconfig: not a mapping"));
	kubeconfig_free(&kc);
	assert_int_equal(load("absent", &kc, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "absent: No such file or directory"));
	kubeconfig_free(&kc);
}

static void
test_paths(void **state)
{
	static const struct { const char *json, *path; } cases[] = {
		{ "{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"metadata\":{\"name\":\"s\","
		  "\"namespace\":\"r-a\"}}", "/api/v1/namespaces/r-a/secrets/s" },
		{ "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"r-a\"}}",
		  "/api/v1/namespaces/r-a" },
		{ "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"web\","
		  "\"namespace\":\"r-a\"}}", "/apis/apps/v1/namespaces/r-a/deployments/web" },
		{ "{\"apiVersion\":\"rbac.authorization.k8s.io/v1\",\"kind\":\"ClusterRole\","
		  "\"metadata\":{\"name\":\"cx\"}}",
		  "/apis/rbac.authorization.k8s.io/v1/clusterroles/cx" },
		{ "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"p\"}}", NULL },
		{ "{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"metadata\":{}}", NULL },
		/* Nothing that moves the URL: names, namespaces, versions checked. */
		{ "{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"metadata\":{\"name\":\"..\","
		  "\"namespace\":\"a\"}}", NULL },
		{ "{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"metadata\":{\"name\":\"a?b=c\"}}", NULL },
		{ "{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"metadata\":{\"name\":\"s\","
		  "\"namespace\":\"a/b\"}}", NULL },
		{ "{\"apiVersion\":\"apps/../v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"d\"}}",
		  NULL },
	};
	char out[256];

	(void)state;
	for (size_t i = 0; i < CX_ARRAY_LEN(cases); i++) {
		jv *o = jv_parse(cases[i].json, strlen(cases[i].json), NULL, 0);

		assert_non_null(o);
		if (cases[i].path == NULL) {
			assert_int_equal(k8s_object_path(o, out, sizeof(out)), -1);
		} else {
			assert_int_equal(k8s_object_path(o, out, sizeof(out)), 0);
			assert_string_equal(out, cases[i].path);
		}
		jv_free(o);
	}
}

/* The rack's copy: credentials inline, read back the same. */
/* tokenFile: read relative to the kubeconfig, and again at each
 * kubeconfig_token (it rotates); a missing one is refused by name. */
static void
test_token_file(void **state)
{
	struct kubeconfig kc;
	char err[600], text[2048], *t;

	(void)state;
	put("token", "first\n");
	snprintf(text, sizeof(text), "%s%s", config_head,
	    "users:\n- name: certs\n  user: {tokenFile: token}\n");
	put("tf", text);
	assert_int_equal(load("tf", &kc, err, sizeof(err)), 0);
	assert_string_equal(kc.token, "first");
	put("token", "second\n");
	t = kubeconfig_token(&kc, err, sizeof(err));
	assert_non_null(t);
	assert_string_equal(t, "second");
	free(t);
	put("token", "two\nlines\n");
	assert_null(kubeconfig_token(&kc, err, sizeof(err)));
	assert_non_null(strstr(err, "not one line of token"));
	kubeconfig_free(&kc);
	snprintf(text, sizeof(text), "%s%s", config_head,
	    "users:\n- name: certs\n  user: {tokenFile: /nonexistent/token}\n");
	put("tf", text);
	assert_int_equal(load("tf", &kc, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "user certs: token file /nonexistent/token: No such file"));
	kubeconfig_free(&kc);
}

static void
test_write(void **state)
{
	struct kubeconfig kc, back;
	char err[600], path[256], text[2048];

	(void)state;
	put("client.crt", "CERT-PEM");
	snprintf(text, sizeof(text), "%s%s", config_head,
	    "users:\n- name: tok\n  user: {token: abc}\n"
	    "- name: certs\n  user:\n    client-certificate: client.crt\n"
	    "    client-key-data: S0VZLVBFTQ==\n    token: t0k\n");
	put("orig", text);
	assert_int_equal(load("orig", &kc, err, sizeof(err)), 0);
	snprintf(path, sizeof(path), "%s/copy", dir);
	assert_int_equal(kubeconfig_write(&kc, path, err, sizeof(err)), 0);
	snprintf(text, sizeof(text), "%s/client.crt", dir);
	assert_int_equal(unlink(text), 0);       /* the copy needs no file beside it */
	assert_int_equal(load("copy", &back, err, sizeof(err)), 0);
	assert_string_equal(back.server, kc.server);
	assert_string_equal(back.context, "two");
	assert_string_equal(back.ca, "CA-PEM");
	assert_string_equal(back.cert, "CERT-PEM");
	assert_string_equal(back.key, "KEY-PEM");
	assert_string_equal(back.token, "t0k");
	assert_false(back.insecure);
	kubeconfig_free(&back);
	kubeconfig_free(&kc);
	/* insecure-skip-tls-verify with a CA: kubectl refuses it, so does cx. */
	put("bad", "current-context: a\ncontexts: [{name: a, context: {cluster: c, user: u}}]\n"
	    "clusters: [{name: c, cluster: {server: 'https://h', insecure-skip-tls-verify: true, "
	    "certificate-authority-data: Q0E=}}]\nusers: [{name: u, user: {token: t}}]\n");
	assert_int_equal(load("bad", &kc, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "both a certificate authority and insecure-skip-tls-verify"));
	kubeconfig_free(&kc);
	put("bad", "current-context: a\ncontexts: [{name: a, context: {cluster: c, user: u}}]\n"
	    "clusters: [{name: c, cluster: {server: 'https:///'}}]\nusers: [{name: u, user: "
	    "{token: t}}]\n");
	assert_int_equal(load("bad", &kc, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "server must be an https:// URL"));
	kubeconfig_free(&kc);
}

static int
setup(void **state)
{
	(void)state;
	return mkdtemp(dir) != NULL ? 0 : -1;
}

static int
teardown(void **state)
{
	(void)state;
	return remove_tree(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_base64),
		cmocka_unit_test(test_yaml_read),
		cmocka_unit_test(test_yaml_round_trip),
		cmocka_unit_test(test_load),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_paths),
		cmocka_unit_test(test_token_file),
		cmocka_unit_test(test_write),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
