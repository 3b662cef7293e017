/*
 * apply.c — see apply.h.
 */
#include "k8s/apply.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "k8s/render.h"
#include "k8s/request.h"
#include "k8s/yaml.h"

/* Each kind cx renders and its resource (the path's plural). */
static const struct { const char *kind, *plural; } kinds[] = {
	{ "Namespace", "namespaces" }, { "Secret", "secrets" }, { "Service", "services" },
	{ "Deployment", "deployments" }, { "DaemonSet", "daemonsets" },
	{ "StatefulSet", "statefulsets" }, { "Ingress", "ingresses" },
	{ "CronJob", "cronjobs" }, { "IngressClass", "ingressclasses" },
	{ "ServiceAccount", "serviceaccounts" }, { "ClusterRole", "clusterroles" },
	{ "ClusterRoleBinding", "clusterrolebindings" },
	{ "HorizontalPodAutoscaler", "horizontalpodautoscalers" },
	{ "ConfigMap", "configmaps" },
};

/* Whether s is a path part of 1-253 characters from allowed, no "..": a
 * Kubernetes name (DNS-1123) or API version, nothing that moves a URL. */
static bool
k8s_path_safe(const char *s, const char *allowed)
{
	size_t n = strlen(s);

	return n > 0 && n <= 253 && strspn(s, allowed) == n && strstr(s, "..") == NULL &&
	    s[0] != '.';
}

int
k8s_collection_path(const char *api, const char *kind, const char *ns, char *out,
    size_t outlen)
{
	const char *plural = NULL;
	int n;

	for (size_t i = 0; i < CX_ARRAY_LEN(kinds) && plural == NULL; i++)
		if (strcmp(kinds[i].kind, kind) == 0)
			plural = kinds[i].plural;
	if (plural == NULL || !k8s_path_safe(api, "abcdefghijklmnopqrstuvwxyz0123456789./") ||
	    (ns[0] != '\0' && !k8s_path_safe(ns, "abcdefghijklmnopqrstuvwxyz0123456789-")))
		return -1;
	n = snprintf(out, outlen, "%s%s%s%s/%s", strcmp(api, "v1") == 0 ? "/api/" : "/apis/",
	    api, ns[0] != '\0' ? "/namespaces/" : "", ns, plural);
	return n > 0 && (size_t)n < outlen ? 0 : -1;
}

int
k8s_object_path(const jv *obj, char *out, size_t outlen)
{
	const jv *md = jv_get(obj, "metadata");
	const char *name = jv_str(md, "name");
	size_t n;

	if (k8s_collection_path(jv_str(obj, "apiVersion"), jv_str(obj, "kind"),
	    jv_str(md, "namespace"), out, outlen) == -1 ||
	    !k8s_path_safe(name, "abcdefghijklmnopqrstuvwxyz0123456789.-"))
		return -1;
	n = strlen(out);
	return (size_t)snprintf(out + n, outlen - n, "/%s", name) < outlen - n ? 0 : -1;
}

/* One request to the server: *code and the answer's JSON (or NULL). */
static int
k8s_call(const struct kubeconfig *kc, const char *method, const char *path,
    const char *ctype, const char *body, long *code, jv **answer, char *err, size_t errlen)
{
	struct k8s_req r = { .method = method, .path = path, .ctype = ctype, .body = body };
	struct buf resp;
	int rc = k8s_request(kc, &r, code, &resp, err, errlen);

	*answer = rc == 0 ? jv_parse(resp.data != NULL ? resp.data : "", resp.len, NULL, 0) : NULL;
	buf_free(&resp);
	return rc;
}

int
k8s_get(const struct kubeconfig *kc, const char *path, long *code, jv **answer, char *err,
    size_t errlen)
{
	return k8s_call(kc, "GET", path, NULL, NULL, code, answer, err, errlen);
}

static int k8s_refused(long code, const jv *answer, const char *what, char *err,
    size_t errlen);

int
k8s_server_minor(const struct kubeconfig *kc, int *minor, char *err, size_t errlen)
{
	long code, m;
	jv *v;
	char digits[16];

	if (k8s_call(kc, "GET", "/version", NULL, NULL, &code, &v, err, errlen) == -1)
		return -1;
	str_copy(digits, sizeof(digits), jv_str(v, "minor"));
	digits[strspn(digits, "0123456789")] = '\0';
	if (code != 200 || strcmp(jv_str(v, "major"), "1") != 0 ||
	    parse_long(digits, 0, 999, &m) == -1) {
		snprintf(err, errlen, "%s/version answered %ld%s%s: not a Kubernetes API server that "
		    "lets this kubeconfig in", kc->server, code, jv_str(v, "message")[0] ? ": " : "",
		    jv_str(v, "message"));
		jv_free(v);
		return -1;
	}
	*minor = (int)m;
	jv_free(v);
	return 0;
}

int
k8s_apply(const struct kubeconfig *kc, const jv *obj, const char *manager, bool dry_run,
    char *rv, size_t rvlen, char *err, size_t errlen)
{
	char path[1200], query[1600], mgr[128];
	jv *one = jv_array_new(), *answer = NULL;
	char *yaml;
	long code;
	int rc = -1;

	rv[0] = '\0';
	if (k8s_object_path(obj, path, sizeof(path)) == -1) {
		snprintf(err, errlen, "%.60s %.80s: not a kind, version or name cx applies",
		    jv_str(obj, "kind"), jv_str(jv_get(obj, "metadata"), "name"));
		jv_free(one);
		return -1;
	}
	/* The manager is the rack's name with a prefix: a DNS label already. */
	str_copy(mgr, sizeof(mgr), manager);
	if (!k8s_path_safe(mgr, "abcdefghijklmnopqrstuvwxyz0123456789-")) {
		snprintf(err, errlen, "field manager \"%.60s\" is not a name", manager);
		jv_free(one);
		return -1;
	}
	snprintf(query, sizeof(query), "%s?fieldManager=%s&force=true%s", path, mgr,
	    dry_run ? "&dryRun=All" : "");
	jv_push_take(one, jv_copy(obj));
	yaml = k8s_yaml_stream(one);
	if (k8s_call(kc, "PATCH", query, "application/apply-patch+yaml", yaml, &code, &answer,
	    err, errlen) == 0) {
		if (code == 200 || code == 201) {
			str_copy(rv, rvlen, jv_str(jv_get(answer, "metadata"), "resourceVersion"));
			rc = 0;
		} else {
			k8s_refused(code, answer, NULL, err, errlen);
		}
	}
	jv_free(answer);
	jv_free(one);
	free(yaml);
	return rc;
}

/* An answer other than the codes wanted, as err (what: the request, or NULL). */
static int
k8s_refused(long code, const jv *answer, const char *what, char *err, size_t errlen)
{
	const char *msg = jv_str(answer, "message");

	snprintf(err, errlen, "%s%sthe API server refused it (%ld): %.900s", what != NULL ? what :
	    "", what != NULL ? ": " : "", code, msg[0] != '\0' ? msg : "no message");
	return -1;
}

int
k8s_delete_object(const struct kubeconfig *kc, const char *path, char *err, size_t errlen)
{
	jv *answer = NULL;
	long code;
	int rc = 0;

	if (k8s_call(kc, "DELETE", path, NULL, NULL, &code, &answer, err, errlen) == -1)
		rc = -1;
	else if (code != 200 && code != 202 && code != 404)
		rc = k8s_refused(code, answer, path, err, errlen);
	jv_free(answer);
	return rc;
}

int
k8s_apply_checked(const struct kubeconfig *kc, const jv *docs, const char *manager,
    struct buf *out, char *err, size_t errlen)
{
	char rv[64], why[1200];

	/* Pass 0 applies the Namespaces, pass 1 checks the rest (dry run),
	 * pass 2 applies them: what the server refuses changes nothing. */
	for (int pass = 0; pass < 3; pass++) {
		for (size_t i = 0; i < jv_len(docs); i++) {
			const jv *o = jv_at(docs, i);
			const char *kind = jv_str(o, "kind");
			bool ns = strcmp(kind, "Namespace") == 0;

			if ((pass == 0) != ns)
				continue;
			if (k8s_apply(kc, o, manager, pass == 1, rv, sizeof(rv), why, sizeof(why)) ==
			    -1) {
				snprintf(err, errlen, "%s %s: %s", kind,
				    jv_str(jv_get(o, "metadata"), "name"), why);
				return -1;
			}
			if (pass != 1)
				buf_addf(out, "%s %s %s\n", kind, jv_str(jv_get(o, "metadata"), "name"),
				    rv);
		}
	}
	return 0;
}

/* Whether docs hold an object of kind named name. */
static bool
k8s_rendered(const jv *docs, const char *kind, const char *name)
{
	for (size_t i = 0; i < jv_len(docs); i++) {
		const jv *o = jv_at(docs, i);

		if (strcmp(jv_str(o, "kind"), kind) == 0 &&
		    strcmp(jv_str(jv_get(o, "metadata"), "name"), name) == 0)
			return true;
	}
	return false;
}

int
k8s_prune(const struct kubeconfig *kc, const jv *docs, const char *ns, const char *selector,
    const struct k8s_kind *want, size_t nkinds, struct buf *out, char *err, size_t errlen)
{
	char path[1400], url[1800];

	for (size_t k = 0; k < nkinds; k++) {
		jv *list = NULL;
		long code;

		if (k8s_collection_path(want[k].api, want[k].kind, ns, path, sizeof(path)) == -1) {
			snprintf(err, errlen, "%s %s: not a kind cx prunes", want[k].api,
			    want[k].kind);
			return -1;
		}
		snprintf(url, sizeof(url), "%s?labelSelector=%s", path, selector);
		if (k8s_call(kc, "GET", url, NULL, NULL, &code, &list, err, errlen) == -1)
			return -1;
		if (code != 200) {
			k8s_refused(code, list, url, err, errlen);
			jv_free(list);
			return -1;
		}
		for (size_t i = 0; i < jv_len(jv_get(list, "items")); i++) {
			const char *name = jv_str(jv_get(jv_at(jv_get(list, "items"), i), "metadata"),
			    "name");

			if (k8s_rendered(docs, want[k].kind, name) ||
			    !k8s_path_safe(name, "abcdefghijklmnopqrstuvwxyz0123456789.-"))
				continue;
			snprintf(url, sizeof(url), "%s/%s", path, name);
			if (k8s_delete_object(kc, url, err, errlen) == -1) {
				jv_free(list);
				return -1;
			}
			buf_addf(out, "%s %s deleted\n", want[k].kind, name);
		}
		jv_free(list);
	}
	return 0;
}

int
k8s_delete_rack(const struct kubeconfig *kc, const char *rack, struct buf *out, char *err,
    size_t errlen)
{
	static const struct k8s_kind lists[] = {
		{ "v1", "Namespace" }, { "networking.k8s.io/v1", "IngressClass" },
		{ "rbac.authorization.k8s.io/v1", "ClusterRoleBinding" },
		{ "rbac.authorization.k8s.io/v1", "ClusterRole" },
	};
	char selector[128];
	jv *none = jv_array_new();
	int rc;

	/* A rack's name is a DNS label: nothing in it needs escaping. Every
	 * object so labelled goes: a prune against no objects. */
	snprintf(selector, sizeof(selector), "cx.rack%%3D%s", rack);
	rc = k8s_prune(kc, none, "", selector, lists, CX_ARRAY_LEN(lists), out, err, errlen);
	jv_free(none);
	return rc;
}
