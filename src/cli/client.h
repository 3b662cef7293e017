/*
 * client.h — HTTP/1.1 to a rack daemon over its unix socket, with Basic auth
 * (user "convox", the rack's password), as docs/api.md describes. libcurl
 * stays inside client.c. One client keeps one connection alive across
 * requests, so polling loops do not reconnect.
 */
#ifndef CX_CLIENT_H
#define CX_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/util.h"

struct client;

/* What went wrong below HTTP. */
enum client_result {
	CLIENT_OK = 0,
	CLIENT_ERR = -1,            /* err holds a reason */
	CLIENT_NOT_RUNNING = -2,    /* nothing listens on the socket (absent or refused) */
};

struct client_req {
	const char *method;         /* "GET", "POST", "PUT", "DELETE" */
	const char *path;           /* "/apps/app1", already escaped */
	const char *content_type;   /* of the body; NULL for none */
	const void *body;           /* in memory, or */
	size_t body_len;
	int body_fd;                /* streamed from this fd (from offset 0) when >= 0 */
	uint64_t body_fd_len;
	long timeout_ms;            /* whole request; 0 = 30 s */
	bool download;              /* a 2xx answer that is not JSON is written to */
	int download_fd;            /* download_fd, not kept in the response's body */
};

struct client_resp {
	long status;
	struct buf body;            /* NUL-terminated; caller frees with buf_free */
	bool has_offset;            /* X-Cx-Offset was present */
	int64_t offset;
	bool json;                  /* Content-Type: application/json */
};

/* A client for the socket at sock_path with this password (copied). Never
 * fails except on a path too long for a unix socket (NULL, err set). */
struct client *client_new(const char *sock_path, const char *password, char *err, size_t errlen);
/* A client for a remote rack's API at url ("https://HOST:PORT"): TLS 1.3,
 * its certificate must verify against ca_file (PEM; NULL: the system's
 * CAs) and name HOST. NULL with err on a malformed url. */
struct client *client_new_https(const char *url, const char *password, const char *ca_file,
    char *err, size_t errlen);
/* How errors name the CA file (a temporary copy is named for what it holds). */
void client_set_ca_name(struct client *c, const char *name);
bool client_is_https(const struct client *c);
void client_free(struct client *c);
/* The certificates the server at url ("https://HOST:PORT") presents, as PEM
 * texts (leaf first), from a handshake that verifies nothing and sends no
 * request: what trust on first use pins, after checking it. *pems (each
 * and the array) are the caller's to free. -1 with err. */
int client_fetch_chain(const char *url, char ***pems, size_t *n, char *err, size_t errlen);

/* Sends req; fills resp (any status). On CLIENT_ERR err is set. resp->body
 * must be initialized by the caller (buf_init) and is appended to. */
enum client_result client_do(struct client *c, const struct client_req *req,
    struct client_resp *resp, char *err, size_t errlen);

/*
 * For an answer that comes later, with descriptors handed over (`cx run`
 * gives the daemon its process's stdio): sends req on a connection of its
 * own with fds attached (SCM_RIGHTS; the caller keeps its copies) and returns
 * the connected socket, or CLIENT_ERR with err, or CLIENT_NOT_RUNNING. The
 * caller polls it and reads the answer with client_await, then closes it.
 */
int client_send_fds(struct client *c, const struct client_req *req, const int *fds, size_t nfds,
    char *err, size_t errlen);
/* Reads one whole answer from fd, blocking (resp->body initialized). */
enum client_result client_await(int fd, struct client_resp *resp, char *err, size_t errlen);

/*
 * `cx run` on a remote rack: sends req (a POST with a JSON body) asking
 * `Upgrade: cx-attach` on a connection of its own. On 101 returns the
 * stream, which then carries frames both ways (docs/api.md). Otherwise NULL:
 * with *rc CLIENT_OK and resp filled (the rack's refusal), or CLIENT_ERR and
 * err. resp->body must be initialized.
 */
struct client_stream;
struct client_stream *client_stream_open(struct client *c, const struct client_req *req,
    struct client_resp *resp, enum client_result *rc, char *err, size_t errlen);
/* The socket to poll. Bytes may wait in the stream without it being
 * readable: call client_stream_recv until CX_AGAIN before polling. */
int client_stream_fd(const struct client_stream *s);
/* Up to n bytes: their count, CX_AGAIN, or CX_ERR. */
ssize_t client_stream_send(struct client_stream *s, const void *p, size_t n);
/* Up to n bytes: their count, 0 when the rack closed, CX_AGAIN, or CX_ERR. */
ssize_t client_stream_recv(struct client_stream *s, void *p, size_t n);
void client_stream_close(struct client_stream *s);

#endif
