/*
 * api_tls.h — the rack API over HTTPS: its address and its certificate
 * (api_tls.c). The connections are api.c's, as on the unix socket: same
 * routes, same Basic auth.
 */
#ifndef CX_API_TLS_H
#define CX_API_TLS_H

#include <stddef.h>

struct rack;
struct tls_ctx;

/* The IP address the API listens on over HTTPS: 127.0.0.1 on loopback and
 * lab racks (the one place that decides it). */
void api_tls_address(struct rack *r, char *out, size_t outlen);
/* The port (param api_port), "" when the API has none. */
void api_tls_port(struct rack *r, char *out, size_t outlen);
/* Issues the API's certificate for ip and the rack's name from the rack's
 * CA, writes it (api.pem, api.key 0600) and returns a TLS 1.3 server
 * context that sends it followed by the CA. Caller frees. NULL with err. */
struct tls_ctx *api_tls_context(struct rack *r, const char *ip, char *err, size_t errlen);

#endif
