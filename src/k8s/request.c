/*
 * request.c — see request.h.
 */
#include "k8s/request.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/httpc.h"

int
k8s_request(const struct kubeconfig *kc, const struct k8s_req *r, long *code,
    struct buf *body, char *err, size_t errlen)
{
	char url[4200], auth[8300], ct[128];
	const char *hdrs[3];
	char *token = NULL;
	size_t nh = 0, n;
	int rc = -1;

	buf_init(body, 0);
	n = (size_t)snprintf(url, sizeof(url), "%s%s%s%s", kc->server, r->path,
	    r->query == NULL ? "" : strchr(r->path, '?') != NULL ? "&" : "?",
	    r->query != NULL ? r->query : "");
	if (n >= sizeof(url)) {
		snprintf(err, errlen, "%s%.100s...: the URL is too long", kc->server, r->path);
		return -1;
	}
	hdrs[nh++] = "Accept: application/json";
	/* Read again at each request: a service account token rotates. */
	if (kc->token != NULL) {
		if ((token = kubeconfig_token(kc, err, errlen)) == NULL)
			return -1;
		n = (size_t)snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
		explicit_bzero(token, strlen(token));
		free(token);
		if (n >= sizeof(auth)) {
			snprintf(err, errlen, "the kubeconfig's token is over 8 KiB");
			goto out;
		}
		hdrs[nh++] = auth;
	}
	if (r->ctype != NULL) {
		snprintf(ct, sizeof(ct), "Content-Type: %s", r->ctype);
		hdrs[nh++] = ct;
	}
	struct httpc_req q = { .method = r->method, .url = url, .headers = hdrs, .nheaders = nh,
		.body = r->body, .body_len = r->body != NULL ? strlen(r->body) : 0,
		.tls = &kc->tls, .timeout_ms = r->timeout_ms, .max_resp = r->max_resp,
		.cancelled = r->cancelled, .cancel_arg = r->cancel_arg, .on_line = r->on_line,
		.line_arg = r->line_arg };

	buf_free(body);
	rc = httpc_do(&q, code, body, err, errlen);
out:
	explicit_bzero(auth, sizeof(auth));
	return rc;
}
