/*
 * request.h — one request to a Kubernetes API server, the only place that
 * makes one (apply.c's objects, watch.c's lists and watches): the URL from
 * the kubeconfig's server, JSON asked for, and the bearer token as it is
 * now (kubeconfig_token: a rotated token file is read again), through
 * httpc (libcurl).
 */
#ifndef CX_K8S_REQUEST_H
#define CX_K8S_REQUEST_H

#include <stdbool.h>
#include <stddef.h>

#include "common/util.h"
#include "k8s/kubeconfig.h"

struct k8s_req {
	const char *method;     /* GET, PATCH, DELETE... */
	const char *path;       /* /api/v1/..., perhaps with a query of its own */
	const char *query;      /* appended after '?' (or '&'), or NULL */
	const char *ctype;      /* the body's Content-Type, or NULL */
	const char *body;       /* NUL-ended, or NULL */
	/* As httpc_req's (0: httpc's defaults; on_line NULL: the body whole). */
	long timeout_ms;
	size_t max_resp;
	bool (*cancelled)(void *arg);
	void *cancel_arg;
	bool (*on_line)(const char *line, size_t len, void *arg);
	void *line_arg;
};

/* Sends r to kc's server: *code and body (initialised here, freed by the
 * caller, also on failure) hold the answer, whatever its status. -1 with
 * err when no answer came (as httpc_do), the URL passes 4 KiB, or the
 * token cannot be read or passes 8 KiB. */
int k8s_request(const struct kubeconfig *kc, const struct k8s_req *r, long *code,
    struct buf *body, char *err, size_t errlen);

#endif
