/*
 * h2up.h — HTTP/2 to upstreams (h2c, prior knowledge), for the routes of
 * gRPC services (route flag grpc): the client side of libnghttp2, kept in
 * h2up.c as h2.c keeps the server side.
 *
 * Each struct upstream holds a pool of sessions (struct h2up: one TCP
 * connection each). A stream (struct h2up_stream) is opened on the first
 * session of the pool with room (fewer open streams than the server's
 * SETTINGS_MAX_CONCURRENT_STREAMS, at most H2UP_MAX_STREAMS, and no
 * GOAWAY), else on a new one. The stream's owner (an HTTP/2 client stream,
 * h2.c) gets what the upstream sends through the callbacks of struct
 * h2up_owner, and gives the upstream's window back as its client takes the
 * bytes (h2up_consumed): a slow client holds the upstream back through the
 * windows, never through our memory.
 *
 * Callbacks only record; they run from the session's socket events, after
 * which h2up kicks each owner (ops->kick) once the session is done with
 * its own work.
 */
#ifndef CX_ROUTER_H2UP_H
#define CX_ROUTER_H2UP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "router/h2.h"

struct worker;
struct upstream;
struct h2up;
struct h2up_stream;

#define H2UP_MAX_STREAMS	100		/* per upstream connection, whatever it allows */
#define H2UP_STREAM_WINDOW	(64 * 1024)	/* the response bytes in flight per stream */
#define H2UP_CONN_WINDOW	(H2UP_MAX_STREAMS * H2UP_STREAM_WINDOW)

/* How an upstream stream ended. */
enum h2up_end {
	H2UP_DONE,		/* END_STREAM came: the answer is whole */
	H2UP_CONNECT_FAILED,	/* the connection never came up: nothing was sent */
	H2UP_FAILED,		/* the connection died, or the server reset the stream */
};

struct h2up_owner {
	/* The response's header list (res->status and fields), or its trailers
	 * (trailers set). Fields point into h2up's memory: copy them. */
	void (*headers)(void *owner, int status, const struct h2_field *f, size_t n,
	    bool trailers);
	/* Body bytes: the owner keeps them until its client takes them, then
	 * calls h2up_consumed. */
	void (*data)(void *owner, const char *p, size_t n);
	/* The request body: copies up to max bytes into out; *eof once the
	 * last is given. 0 with !*eof: none now (h2up_resume when more). */
	size_t (*body)(void *owner, char *out, size_t max, bool *eof);
	/* The stream ended (why: for the log line and grpc-message). */
	void (*ended)(void *owner, enum h2up_end how, const char *why);
	/* Something above changed: run the owner's steps. */
	void (*kick)(void *owner);
};

/* The field (name, value) pairs of a request besides the pseudo-headers. */
struct h2up_request {
	const char *method, *scheme, *authority, *path;
	const struct h2_field *fields;
	size_t nfields;
	bool body;			/* a body follows (owner->body) */
};

/*
 * Opens a stream to u for req on a pooled session of w (or a new
 * connection). NULL with errno when no connection can be made at once or
 * the request cannot be submitted. The owner's callbacks are called until
 * ended, or until h2up_release.
 */
struct h2up_stream *h2up_open(struct worker *w, struct upstream *u, const struct h2up_request *req,
    const struct h2up_owner *ops, void *owner);
/* More request body (or its end) is ready: h2up asks owner->body again. */
void h2up_resume(struct h2up_stream *us);
/* Writes what us's connection has queued (opened streams, body, window
 * updates): called once a step for each stream, so that the streams of
 * one connection go out in one write. */
void h2up_flush(struct h2up_stream *us);
/* The owner's client took n body bytes: the upstream's window grows by n. */
void h2up_consumed(struct h2up_stream *us, size_t n);
/* The owner is done with the stream (its client stream closed): an open
 * upstream stream is reset (CANCEL). us is freed. */
void h2up_release(struct h2up_stream *us);
/* True when us's connection was reused (a session that existed before). */
bool h2up_reused(const struct h2up_stream *us);

/* Closes u's sessions that have no open stream and were idle for longer
 * than UPSTREAM_IDLE_MS (all of them when all is set: shutdown), and the
 * dead ones. */
void h2up_sweep(struct worker *w, struct upstream *u, int64_t now, bool all);

#endif
