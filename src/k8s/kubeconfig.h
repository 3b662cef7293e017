/*
 * kubeconfig.h — the part of a kubeconfig file (the one kubectl reads) that
 * reaches one API server: the current context's cluster (server, its CA,
 * insecure-skip-tls-verify) and user (a bearer token, inline or in
 * tokenFile, or a client certificate and key), each given inline (*-data,
 * base64) or as a file
 * (relative to the kubeconfig's directory). exec and auth-provider plugins
 * are refused by name: cx runs no program to get a credential.
 */
#ifndef CX_K8S_KUBECONFIG_H
#define CX_K8S_KUBECONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "common/httpc.h"
#include "common/jv.h"

struct kubeconfig {
	char context[256];      /* the context used */
	char server[1024];      /* https://HOST[:PORT], no trailing '/' */
	char *token;            /* or NULL */
	char token_path[4096];  /* where the token was read ("" inline): read again by
				 * kubeconfig_token, as the file rotates */
	char *ca, *cert, *key;  /* PEM, or NULL */
	size_t ca_len, cert_len, key_len;
	bool insecure;
	struct httpc_tls tls;   /* the above, for httpc_do */
};

/* Reads the kubeconfig at path (context: NULL for its current-context). 0,
 * or -1 with one line in err naming what is wrong and where; kc is left
 * for kubeconfig_free either way. */
int kubeconfig_load(const char *path, const char *context, struct kubeconfig *kc, char *err,
    size_t errlen);

/* Parses text as YAML (or JSON, which is YAML) into jv: mappings, sequences,
 * every scalar a string. NULL with err (line and column) for text that is
 * not YAML, an alias, or nesting past 64. Exposed for the tests. */
jv *kubeconfig_yaml_read(const char *text, size_t len, char *err, size_t errlen);

/* Writes kc as a kubeconfig of its own at path (0600): one context, its
 * CA, certificate and key inline (*-data), so the copy needs no file next
 * to the original. 0, or -1 with err. */
int kubeconfig_write(const struct kubeconfig *kc, const char *path, char *err, size_t errlen);

/* The API server of the pod this runs in: KUBERNETES_SERVICE_HOST and
 * _PORT, and the service account's token and ca.crt in dir (Kubernetes
 * mounts them at /var/run/secrets/kubernetes.io/serviceaccount). 0, or -1
 * with err; kc is left for kubeconfig_free either way. */
int kubeconfig_in_cluster(const char *dir, struct kubeconfig *kc, char *err, size_t errlen);

/* The token of kc as it is now (owned by the caller; zero it, free it):
 * token_path read again when kc has one (a rotated service account token,
 * a kubeconfig's tokenFile), else a copy of kc->token; NULL with err when
 * there is none or the file cannot be read. */
char *kubeconfig_token(const struct kubeconfig *kc, char *err, size_t errlen);

void kubeconfig_free(struct kubeconfig *kc);

#endif
