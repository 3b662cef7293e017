/*
 * httpc.h — one HTTPS request to a server of someone else's (a Kubernetes
 * API server): libcurl behind a small struct, with the TLS material given
 * as PEM in memory (a kubeconfig's *-data fields), so nothing secret is
 * written to a file to hand it over. Blocking; every request is bounded by
 * its timeout and its answer by max_resp. The rack's ACME client and the
 * CLI's Kubernetes apply use it; the CLI's own client to its rack
 * (cli/client.c: a unix socket, streamed uploads) keeps its own handle.
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

/* A response header to keep: its value (trimmed) into out, or left as it
 * was when absent or longer than outlen. */
struct httpc_header {
	const char *name;
	char *out;
	size_t outlen;
};

struct httpc_req {
	const char *method;     /* GET, HEAD (no body read), POST, PATCH, ... */
	const char *url;
	const char *const *headers; /* "Name: value" each */
	size_t nheaders;
	const char *body;       /* or NULL */
	size_t body_len;
	const struct httpc_tls *tls;
	const char *ca_file;    /* CA certificates (PEM file) instead of tls->ca_pem, or NULL */
	const char *user_agent; /* or NULL: none */
	bool env_proxy;         /* go through the environment's https_proxy (no_proxy heeded);
				 * false: straight to the server */
	long timeout_ms;        /* the whole exchange; 0: 20 s */
	long connect_timeout_ms; /* 0: 5 s */
	size_t max_resp;        /* the answer's largest body; 0: 8 MiB */
	const struct httpc_header *keep; /* response headers to keep */
	size_t nkeep;
	bool (*cancelled)(void *arg); /* polled while it runs: true ends it, or NULL */
	void *cancel_arg;
	/* A stream of lines (a Kubernetes watch): each line of the body, its
	 * '\n' cut off, as it comes; the body keeps only an unfinished line
	 * (max_resp bounds a line, not the stream). false ends the request
	 * (httpc_do then fails with "stopped"). NULL: the body is kept whole. */
	bool (*on_line)(const char *line, size_t len, void *arg);
	void *line_arg;
};

/* Readies libcurl once; call it before starting threads that use httpc
 * (its global set-up is not thread-safe everywhere). 0 or -1. */
int httpc_init(void);

/* One request: *code and body (initialised here, freed by the caller, also
 * on failure) hold the server's answer, whatever its status. -1 with err
 * when no answer came (cannot connect, a certificate that does not verify,
 * a timeout, an answer over max_resp, cancelled). */
int httpc_do(const struct httpc_req *q, long *code, struct buf *body, char *err, size_t errlen);

#endif
