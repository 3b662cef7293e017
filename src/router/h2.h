/*
 * h2.h — HTTP/2 to clients (RFC 9113), with libnghttp2 kept behind this
 * one module (h2.c is the only file that includes it).
 *
 * A client connection becomes HTTP/2 when its TLS handshake agreed on "h2"
 * by ALPN, or when a plain connection opens with the client preface (h2c
 * with prior knowledge). conn.c then hands the connection to h2_step in
 * its state CS_H2: h2.c reads the client's bytes into the session, asks it
 * for bytes to write, and runs each stream as one request: routed like an
 * HTTP/1.1 one, sent upstream as HTTP/1.1 over the keep-alive pool, its
 * answer sent back on the stream under HTTP/2 flow control.
 *
 * The pure part (h2_preface, h2_req_*, h2_response_fields: h2conv.c) turns
 * an HTTP/2 header list into an HTTP/1.1 request head and an HTTP/1.1
 * response head into an HTTP/2 field list; tests/unit/test_h2.c checks it.
 */
#ifndef CX_ROUTER_H2_H
#define CX_ROUTER_H2_H

#include <stdbool.h>
#include <stddef.h>

#include "common/http1.h"
#include "common/util.h"

struct conn;

/* The limits each session sets (docs/router.md, "HTTP/2"). */
#define H2_MAX_STREAMS		100		/* SETTINGS_MAX_CONCURRENT_STREAMS */
#define H2_MAX_HEADER_LIST	16384		/* SETTINGS_MAX_HEADER_LIST_SIZE, enforced */
#define H2_HEADER_TABLE		4096		/* SETTINGS_HEADER_TABLE_SIZE, both ways */
#define H2_MAX_HEADER_BLOCK	(64 * 1024)	/* HEADERS + CONTINUATION bytes of one block */
#define H2_MAX_CONTINUATIONS	8		/* CONTINUATION frames after one HEADERS */
#define H2_MAX_OUTBOUND_ACK	100		/* SETTINGS/PING acks queued, unsent */
#define H2_MAX_SETTINGS		32		/* entries in one SETTINGS frame */
#define H2_RESET_BURST		200		/* RST_STREAMs from the client, and ours: buckets */
#define H2_RESET_RATE		50		/* ... refilled per second */
#define H2_STREAM_WINDOW	65535		/* SETTINGS_INITIAL_WINDOW_SIZE: body in */
#define H2_CONN_WINDOW		(1 << 20)	/* the connection's receive window */
#define H2_STREAM_BUF		(64 * 1024)	/* response bytes buffered per stream */

/* 1 when p[0..n) begins with the whole client preface ("PRI * HTTP/2.0
 * \r\n\r\nSM\r\n\r\n"), 0 when it is a strict prefix of it (wait for more),
 * -1 when it is not (HTTP/1.1). */
int h2_preface(const char *p, size_t n);

/* c (whose handshake is done, or whose buffered input begins with the
 * preface) becomes an HTTP/2 connection: a session with our SETTINGS
 * queued. -1 (nothing changed) when the session cannot be made. */
int h2_begin(struct conn *c);
/* CS_H2: reads, writes and runs the streams until nothing can move
 * (STEP_MORE, STEP_WAIT, or STEP_FREED: the connection ended). */
int h2_step(struct conn *c);
/* c's deadline passed: streams past theirs get 504 or are reset; an idle
 * connection is closed (STEP_FREED). */
int h2_timeout(struct conn *c);
/* No stream is open: closing c loses nothing. */
bool h2_idle(const struct conn *c);
/* Frees the session and every stream (each counted and logged once). */
void h2_free(struct conn *c);

/* ---- the pure part ---- */

/* A request's header list as it comes, field by field. */
struct h2_req {
	char method[24], scheme[8];
	struct buf authority, path;
	struct buf fields;		/* "Name: value\r\n" lines of the regular ones */
	struct buf cookie;		/* the cookie fields, joined with "; " */
	size_t list_size;		/* RFC 9113 6.5.2: name + value + 32 each */
	bool has_method, has_scheme, has_authority, has_path, regular_seen;
	bool has_host, has_length;
	const char *error;		/* what was wrong, once -1 was returned */
};

void h2_req_init(struct h2_req *r);
void h2_req_free(struct h2_req *r);
/* Adds one field (name lower case, as HTTP/2 sends it). -1 with r->error
 * for a connection-specific field (RFC 9113 8.2.2: Connection, Keep-Alive,
 * Proxy-Connection, Transfer-Encoding, Upgrade; TE other than "trailers"),
 * an unknown, repeated or late pseudo-header, an upper-case or empty name,
 * a CR, LF or NUL in a value, or a list past H2_MAX_HEADER_LIST. */
int h2_req_add(struct h2_req *r, const char *name, size_t nlen, const char *value, size_t vlen);
/* Writes into out (reset first) the HTTP/1.1 head of the request: the
 * request line from :method and :path, Host from :authority (else the Host
 * field), the regular fields, the cookies joined, and Transfer-Encoding:
 * chunked when a body follows (body) of no declared Content-Length. -1
 * with r->error when :method, :scheme or :path is missing (CONNECT: only
 * :method and :authority) or there is neither :authority nor Host. */
int h2_req_head(struct h2_req *r, bool body, struct buf *out);

/* One field of a response. */
struct h2_field {
	const char *name, *value;
	size_t namelen, valuelen;
};

/*
 * The fields of resp (parsed from an HTTP/1.1 head) for an HTTP/2 answer,
 * in order, without the hop-by-hop ones (rewrite_drop_response_field) nor
 * any HTTP/2 forbids (Transfer-Encoding, Upgrade, TE...): names lower-cased
 * into names (cap bytes), values pointing into resp's head. At most max;
 * the count.
 */
size_t h2_response_fields(const struct http_response *resp, struct h2_field *out, size_t max,
    char *names, size_t cap);
/*
 * The fields of req (an HTTP/1.1 head, as rewritten for the upstream) for
 * an HTTP/2 request to a gRPC upstream: lower-cased into names (cap bytes),
 * values pointing into req's head, without Host (it is :authority) nor the
 * fields HTTP/2 forbids, and "te: trailers" last (gRPC servers require it).
 * At most max; the count.
 */
size_t h2_request_fields(const struct http_request *req, struct h2_field *out, size_t max,
    char *names, size_t cap);

#endif
