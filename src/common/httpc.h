/*
 * httpc.h — one HTTPS request to a server of someone else's (a Kubernetes
 * API server): libcurl behind a small struct, with the TLS material given
 * as PEM in memory (a kubeconfig's *-data fields), so nothing secret is
 * written to a file to hand it over. Blocking; every request is bounded by
 * its timeout and its answer by max_resp.
 */
#ifndef CX_COMMON_HTTPC_H
#define CX_COMMON_HTTPC_H

#include <stdbool.h>
#include <stddef.h>

#include "common/util.h"

struct httpc_tls {
	const char *ca_pem;     /* the CA that signs the server's certificate; NULL: the system's */
	size_t ca_len;
	const char *cert_pem;   /* a client certificate and its key, or NULL */
	size_t cert_len;
	const char *key_pem;
	size_t key_len;
	bool insecure;          /* no check of the server's certificate (the user asked) */
};

struct httpc_req {
	const char *method;     /* GET, PATCH, ... */
	const char *url;
	const char *const *headers; /* "Name: value" each */
	size_t nheaders;
	const char *body;       /* or NULL */
	size_t body_len;
	const struct httpc_tls *tls;
	long timeout_ms;        /* the whole exchange; 0: 20 s */
	size_t max_resp;        /* the answer's largest body; 0: 8 MiB */
};

/* One request: *code and body (initialised here, freed by the caller, also
 * on failure) hold the server's answer, whatever its status. -1 with err
 * when no answer came (cannot connect, a certificate that does not verify,
 * a timeout, an answer over max_resp). */
int httpc_do(const struct httpc_req *q, long *code, struct buf *body, char *err, size_t errlen);

#endif
