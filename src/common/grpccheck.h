/*
 * grpccheck.h — one gRPC health check (grpc.health.v1.Health/Check, the
 * service "" standing for the whole server) over h2c with prior knowledge,
 * as bytes in and bytes out: the caller (rackd/health.c) owns the socket and
 * its timeout. The HTTP/2 framing is libnghttp2's client session, kept
 * behind this module in the daemon (the router's sessions are in
 * src/router/h2*.c); the gRPC parts are pure and tested alone
 * (tests/unit/test_grpccheck.c).
 *
 * The check passes only on grpc-status 0 with the answer's status SERVING
 * (HealthCheckResponse field 1 = 1: the bytes 08 01).
 */
#ifndef CX_COMMON_GRPCCHECK_H
#define CX_COMMON_GRPCCHECK_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The request: an empty HealthCheckRequest in its 5-byte gRPC frame
 * (no compression, length 0). */
#define GRPC_CHECK_REQUEST	"\0\0\0\0\0"
#define GRPC_CHECK_REQUEST_LEN	5

enum grpc_serving {
	GRPC_UNKNOWN = 0, GRPC_SERVING = 1, GRPC_NOT_SERVING = 2, GRPC_SERVICE_UNKNOWN = 3,
};

/* The status of a HealthCheckResponse in its gRPC frame msg[0..n) (one
 * whole frame, uncompressed; fields other than 1 skipped), or -1 with *why
 * when it is not one. */
int grpc_health_decode(const uint8_t *msg, size_t n, const char **why);

enum { GRPC_CHECK_PENDING, GRPC_CHECK_PASS, GRPC_CHECK_FAIL };

struct grpc_check;

/* A check of the server at authority (the :authority sent): its client
 * preface, SETTINGS and the request queued. NULL when out of memory. */
struct grpc_check *grpc_check_new(const char *authority);
void grpc_check_free(struct grpc_check *g);
/* The bytes to write next in *p (valid until the next call): their count,
 * 0 when there are none now. grpc_check_sent says how many went. */
size_t grpc_check_output(struct grpc_check *g, const uint8_t **p);
void grpc_check_sent(struct grpc_check *g, size_t n);
/* Bytes from the server. GRPC_CHECK_PENDING (more to come, or to write),
 * GRPC_CHECK_PASS, or GRPC_CHECK_FAIL (grpc_check_why says why). */
int grpc_check_input(struct grpc_check *g, const uint8_t *p, size_t n);
/* Why the check failed ("grpc-status 14", "NOT_SERVING", ...). */
const char *grpc_check_why(const struct grpc_check *g);

#endif
