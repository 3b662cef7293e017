/*
 * kubeconfig.c — see kubeconfig.h. libyaml's event parser builds a jv tree
 * (every scalar a string: a kubeconfig's values are names, URLs, base64 and
 * the odd "true"); the fields are then looked up in it.
 */
#include "k8s/kubeconfig.h"

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "common/util.h"
#include "k8s/yaml.h"

#define KC_MAX_FILE (1u << 20)
#define KC_MAX_DEPTH 64

/* A container being filled, and the key its next value goes under. */
struct kc_frame {
	jv *v;
	char *key;      /* mappings: the pending key, or NULL */
};

/* Puts v into the innermost container (as the value of its pending key, or
 * as the key itself when a mapping has none yet: keys arrive as scalars).
 * -1 for a key that is not a scalar. */
static int
kc_attach(struct kc_frame *top, jv *v, const char *scalar)
{
	if (jv_is_array(top->v)) {
		jv_push_take(top->v, v);
		return 0;
	}
	if (top->key == NULL) {
		if (scalar == NULL) {
			jv_free(v);
			return -1;
		}
		top->key = xstrdup(scalar);
		jv_free(v);
		return 0;
	}
	jv_set_take(top->v, top->key, v);
	free(top->key);
	top->key = NULL;
	return 0;
}

jv *
kubeconfig_yaml_read(const char *text, size_t len, char *err, size_t errlen)
{
	struct kc_frame st[KC_MAX_DEPTH + 1];
	size_t depth = 0;
	yaml_parser_t p;
	yaml_event_t ev;
	jv *root = NULL;
	bool done = false;

	if (!yaml_parser_initialize(&p)) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
	while (!done) {
		jv *v = NULL;
		const char *scalar = NULL;

		if (!yaml_parser_parse(&p, &ev)) {
			snprintf(err, errlen, "line %zu column %zu: %s", p.problem_mark.line + 1,
			    p.problem_mark.column + 1, p.problem != NULL ? p.problem : "not YAML");
			goto fail;
		}
		switch (ev.type) {
		case YAML_STREAM_END_EVENT:
			done = true;
			break;
		case YAML_DOCUMENT_END_EVENT:
			done = root != NULL;    /* the first document alone */
			break;
		case YAML_ALIAS_EVENT:
			snprintf(err, errlen, "line %zu: an alias (*%s): write the value out",
			    ev.start_mark.line + 1, (const char *)ev.data.alias.anchor);
			yaml_event_delete(&ev);
			goto fail;
		case YAML_SCALAR_EVENT:
			scalar = (const char *)ev.data.scalar.value;
			v = jv_string_new(scalar);
			break;
		case YAML_SEQUENCE_START_EVENT:
		case YAML_MAPPING_START_EVENT:
			if (depth == KC_MAX_DEPTH) {
				snprintf(err, errlen, "line %zu: nested deeper than %d",
				    ev.start_mark.line + 1, KC_MAX_DEPTH);
				yaml_event_delete(&ev);
				goto fail;
			}
			st[depth].v = ev.type == YAML_MAPPING_START_EVENT ? jv_object_new() :
			    jv_array_new();
			st[depth++].key = NULL;
			break;
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT:
			v = st[--depth].v;
			free(st[depth].key);
			break;
		default:
			break;
		}
		if (v != NULL) {
			if (depth == 0) {
				jv_free(root);
				root = v;
			} else if (kc_attach(&st[depth - 1], v, scalar) == -1) {
				snprintf(err, errlen, "line %zu: a key that is not a plain value",
				    ev.start_mark.line + 1);
				yaml_event_delete(&ev);
				goto fail;
			}
		}
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&p);
	if (root == NULL)
		snprintf(err, errlen, "empty");
	return root;
fail:
	while (depth > 0) {
		jv_free(st[--depth].v);
		free(st[depth].key);
	}
	jv_free(root);
	yaml_parser_delete(&p);
	return NULL;
}

/* The element of list (clusters, users, contexts) named name: its inner
 * object under key inner, or NULL. */
static const jv *
kc_named(const jv *cfg, const char *list, const char *name, const char *inner)
{
	const jv *arr = jv_get(cfg, list);

	for (size_t i = 0; i < jv_len(arr); i++)
		if (strcmp(jv_str(jv_at(arr, i), "name"), name) == 0)
			return jv_get(jv_at(arr, i), inner);
	return NULL;
}

/* One PEM (or token) from obj's KEY-data (base64) or KEY (a file, relative
 * to dir). 0 with *out NULL when neither is there; -1 with err. */
static int
kc_material(const jv *obj, const char *key, const char *dir, char **out, size_t *len,
    char *err, size_t errlen)
{
	char data_key[64], path[PATH_MAX];
	const char *data, *file;

	*out = NULL;
	*len = 0;
	snprintf(data_key, sizeof(data_key), "%s-data", key);
	data = jv_str(obj, data_key);
	file = jv_str(obj, key);
	if (data[0] != '\0') {
		if ((*out = (char *)base64_decode(data, strlen(data), len)) == NULL) {
			snprintf(err, errlen, "%s is not base64", data_key);
			return -1;
		}
		return 0;
	}
	if (file[0] == '\0')
		return 0;
	if (file[0] == '/')
		str_copy(path, sizeof(path), file);
	else
		snprintf(path, sizeof(path), "%s/%s", dir, file);
	if ((*out = read_file(path, KC_MAX_FILE, len)) == NULL) {
		snprintf(err, errlen, "%s %s: %s", key, path, strerror(errno));
		return -1;
	}
	return 0;
}

/* The one line of token in file path, owned, or NULL with err. */
static char *
token_read(const char *path, char *err, size_t errlen)
{
	size_t n;
	char *t = read_file(path, KC_MAX_FILE, &n);

	if (t == NULL) {
		snprintf(err, errlen, "token file %s: %s", path, strerror(errno));
		return NULL;
	}
	while (n > 0 && (t[n - 1] == '\n' || t[n - 1] == '\r'))
		t[--n] = '\0';
	if (n == 0 || strpbrk(t, "\r\n") != NULL) {
		explicit_bzero(t, n);
		free(t);
		snprintf(err, errlen, "token file %s: not one line of token", path);
		return NULL;
	}
	return t;
}

char *
kubeconfig_token(const struct kubeconfig *kc, char *err, size_t errlen)
{
	if (kc->token_path[0] != '\0')
		return token_read(kc->token_path, err, errlen);
	if (kc->token == NULL) {
		snprintf(err, errlen, "the kubeconfig has no token");
		return NULL;
	}
	return xstrdup(kc->token);
}

int
kubeconfig_load(const char *path, const char *context, struct kubeconfig *kc, char *err,
    size_t errlen)
{
	char dir[PATH_MAX], why[400], *text;
	const jv *ctx, *cluster, *user;
	size_t len;
	jv *cfg = NULL;
	int rc = -1;

	memset(kc, 0, sizeof(*kc));
	if ((text = read_file(path, KC_MAX_FILE, &len)) == NULL) {
		snprintf(err, errlen, "kubeconfig %s: %s", path, errno == EFBIG ?
		    "over 1 MiB" : strerror(errno));
		return -1;
	}
	str_copy(dir, sizeof(dir), path);
	str_copy(dir, sizeof(dir), dirname(dir));
	if ((cfg = kubeconfig_yaml_read(text, len, why, sizeof(why))) == NULL ||
	    !jv_is_object(cfg)) {
		snprintf(err, errlen, "kubeconfig %s is not a kubeconfig: %s", path,
		    cfg == NULL ? why : "not a mapping");
		goto out;
	}
	if (context == NULL || context[0] == '\0')
		context = jv_str(cfg, "current-context");
	if (context[0] == '\0') {
		snprintf(err, errlen, "kubeconfig %s has no current-context: set one (kubectl config "
		    "use-context NAME)", path);
		goto out;
	}
	str_copy(kc->context, sizeof(kc->context), context);
	if ((ctx = kc_named(cfg, "contexts", context, "context")) == NULL) {
		snprintf(err, errlen, "kubeconfig %s has no context \"%s\"", path, context);
		goto out;
	}
	cluster = kc_named(cfg, "clusters", jv_str(ctx, "cluster"), "cluster");
	user = kc_named(cfg, "users", jv_str(ctx, "user"), "user");
	if (cluster == NULL) {
		snprintf(err, errlen, "kubeconfig %s: context %s names cluster \"%s\", which it does "
		    "not have", path, context, jv_str(ctx, "cluster"));
		goto out;
	}
	if (user == NULL && jv_str(ctx, "user")[0] != '\0') {
		snprintf(err, errlen, "kubeconfig %s: context %s names user \"%s\", which it does "
		    "not have", path, context, jv_str(ctx, "user"));
		goto out;
	}
	if (strncmp(jv_str(cluster, "server"), "https://", 8) != 0 ||
	    strchr("/:@", jv_str(cluster, "server")[8]) != NULL ||
	    strchr(jv_str(cluster, "server"), '@') != NULL ||
	    strlen(jv_str(cluster, "server")) >= sizeof(kc->server) ||
	    strpbrk(jv_str(cluster, "server"), " \"\r\n?#") != NULL) {
		snprintf(err, errlen, "kubeconfig %s: cluster %s's server must be an https:// URL, "
		    "not \"%.200s\"", path, jv_str(ctx, "cluster"), jv_str(cluster, "server"));
		goto out;
	}
	str_copy(kc->server, sizeof(kc->server), jv_str(cluster, "server"));
	while (kc->server[strlen(kc->server) - 1] == '/')
		kc->server[strlen(kc->server) - 1] = '\0';
	kc->insecure = strcmp(jv_str(cluster, "insecure-skip-tls-verify"), "true") == 0;
	if (jv_get(user, "exec") != NULL || jv_get(user, "auth-provider") != NULL) {
		snprintf(err, errlen, "kubeconfig %s: user %s gets its credential from a %s plugin, "
		    "which cx does not run: give a token or a client certificate", path,
		    jv_str(ctx, "user"), jv_get(user, "exec") != NULL ? "exec" : "auth-provider");
		goto out;
	}
	if (kc_material(cluster, "certificate-authority", dir, &kc->ca, &kc->ca_len, why,
	    sizeof(why)) == -1 ||
	    kc_material(user, "client-certificate", dir, &kc->cert, &kc->cert_len, why,
	    sizeof(why)) == -1 ||
	    kc_material(user, "client-key", dir, &kc->key, &kc->key_len, why, sizeof(why)) == -1) {
		snprintf(err, errlen, "kubeconfig %s: %s", path, why);
		goto out;
	}
	if (kc->insecure && kc->ca != NULL) {
		snprintf(err, errlen, "kubeconfig %s: cluster %s has both a certificate authority "
		    "and insecure-skip-tls-verify: drop one", path, jv_str(ctx, "cluster"));
		goto out;
	}
	if ((kc->cert == NULL) != (kc->key == NULL)) {
		snprintf(err, errlen, "kubeconfig %s: user %s has a client %s without its %s", path,
		    jv_str(ctx, "user"), kc->cert != NULL ? "certificate" : "key",
		    kc->cert != NULL ? "key" : "certificate");
		goto out;
	}
	if (jv_str(user, "token")[0] != '\0') {
		kc->token = xstrdup(jv_str(user, "token"));
	} else if (jv_str(user, "tokenFile")[0] != '\0') {
		const char *tf = jv_str(user, "tokenFile");

		if ((size_t)snprintf(kc->token_path, sizeof(kc->token_path), "%s%s%s",
		    tf[0] == '/' ? "" : dir, tf[0] == '/' ? "" : "/", tf) >= sizeof(kc->token_path) ||
		    (kc->token = token_read(kc->token_path, why, sizeof(why))) == NULL) {
			snprintf(err, errlen, "kubeconfig %s: user %s: %s", path, jv_str(ctx, "user"),
			    kc->token_path[0] != '\0' ? why : "tokenFile is too long");
			goto out;
		}
	}
	if (kc->token != NULL && strpbrk(kc->token, "\r\n") != NULL) {
		snprintf(err, errlen, "kubeconfig %s: user %s's token holds a line break", path,
		    jv_str(ctx, "user"));
		goto out;
	}
	if (kc->token == NULL && kc->cert == NULL) {
		snprintf(err, errlen, "kubeconfig %s: user %s has no credential: give a token or a "
		    "client certificate and key", path, jv_str(ctx, "user"));
		goto out;
	}
	kc->tls = (struct httpc_tls){ .ca_pem = kc->ca, .ca_len = kc->ca_len,
		.cert_pem = kc->cert, .cert_len = kc->cert_len, .key_pem = kc->key,
		.key_len = kc->key_len, .insecure = kc->insecure };
	rc = 0;
out:
	jv_free(cfg);
	explicit_bzero(text, len);
	free(text);
	return rc;
}

int
kubeconfig_in_cluster(const char *dir, struct kubeconfig *kc, char *err, size_t errlen)
{
	const char *host = getenv("KUBERNETES_SERVICE_HOST"), *port = getenv("KUBERNETES_SERVICE_PORT");
	char path[PATH_MAX];

	memset(kc, 0, sizeof(*kc));
	str_copy(kc->context, sizeof(kc->context), "in-cluster");
	if (host == NULL || host[0] == '\0' || strpbrk(host, "/@?# ") != NULL) {
		snprintf(err, errlen, "KUBERNETES_SERVICE_HOST is not set: not in a pod (give "
		    "--kubeconfig FILE outside a cluster)");
		return -1;
	}
	snprintf(kc->server, sizeof(kc->server), strchr(host, ':') != NULL ? "https://[%s]:%s" :
	    "https://%s:%s", host, port != NULL && port[0] != '\0' ? port : "443");
	snprintf(kc->token_path, sizeof(kc->token_path), "%s/token", dir);
	if ((kc->token = token_read(kc->token_path, err, errlen)) == NULL) {
		str_copy(path, sizeof(path), err);
		snprintf(err, errlen, "%s (the pod's service account token)", path);
		return -1;
	}
	snprintf(path, sizeof(path), "%s/ca.crt", dir);
	if ((kc->ca = read_file(path, KC_MAX_FILE, &kc->ca_len)) == NULL) {
		snprintf(err, errlen, "%s: %s (the cluster's CA)", path, strerror(errno));
		return -1;
	}
	kc->tls = (struct httpc_tls){ .ca_pem = kc->ca, .ca_len = kc->ca_len };
	return 0;
}

void
kubeconfig_free(struct kubeconfig *kc)
{
	if (kc->token != NULL)
		explicit_bzero(kc->token, strlen(kc->token));
	if (kc->key != NULL)
		explicit_bzero(kc->key, kc->key_len);
	free(kc->token);
	free(kc->ca);
	free(kc->cert);
	free(kc->key);
	memset(kc, 0, sizeof(*kc));
}

/* obj's key becomes n bytes of p as base64 (nothing when p is NULL). */
static void
kc_set_data(jv *obj, const char *key, const char *p, size_t n)
{
	char *b64;

	if (p == NULL)
		return;
	b64 = xmalloc(4 * ((n + 2) / 3) + 1);
	base64_encode((const unsigned char *)p, n, b64);
	jv_set_str(obj, key, b64);
	explicit_bzero(b64, strlen(b64));
	free(b64);
}

/* cfg's list key becomes [{name: name, inner_key: inner}] (inner taken). */
static void
kc_set_one(jv *cfg, const char *key, const char *name, const char *inner_key, jv *inner)
{
	jv *list = jv_array_new(), *item = jv_object_new();

	jv_set_str(item, "name", name);
	jv_set_take(item, inner_key, inner);
	jv_push_take(list, item);
	jv_set_take(cfg, key, list);
}

int
kubeconfig_write(const struct kubeconfig *kc, const char *path, char *err, size_t errlen)
{
	jv *docs = jv_array_new(), *cfg = jv_object_new(), *cluster = jv_object_new();
	jv *ctx = jv_object_new(), *user = jv_object_new();
	char *text;
	int rc = 0;

	jv_set_str(cfg, "apiVersion", "v1");
	jv_set_str(cfg, "kind", "Config");
	jv_set_str(cfg, "current-context", kc->context);
	jv_set_str(cluster, "server", kc->server);
	kc_set_data(cluster, "certificate-authority-data", kc->ca, kc->ca_len);
	if (kc->insecure)
		jv_set_str(cluster, "insecure-skip-tls-verify", "true");
	kc_set_one(cfg, "clusters", kc->context, "cluster", cluster);
	jv_set_str(ctx, "cluster", kc->context);
	jv_set_str(ctx, "user", kc->context);
	kc_set_one(cfg, "contexts", kc->context, "context", ctx);
	if (kc->token != NULL)
		jv_set_str(user, "token", kc->token);
	kc_set_data(user, "client-certificate-data", kc->cert, kc->cert_len);
	kc_set_data(user, "client-key-data", kc->key, kc->key_len);
	kc_set_one(cfg, "users", kc->context, "user", user);
	jv_push_take(docs, cfg);
	text = k8s_yaml_stream(docs);
	if (write_file_atomic(path, text, strlen(text), 0600) == -1) {
		snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
		rc = -1;
	}
	explicit_bzero(text, strlen(text));
	free(text);
	jv_free(docs);
	return rc;
}
