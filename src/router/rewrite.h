/*
 * rewrite.h — what the router changes in the heads it forwards and what it
 * says in the heads it makes: pure functions of a parsed head and a few
 * facts about the connection, writing into a buffer. No socket, no worker,
 * no clock: tests/unit/test_rewrite.c checks each rule as a table row.
 *
 * Upstream requests: HTTP/1.1, origin-form target, hop-by-hop headers
 * (RFC 9110 7.6.1: the fixed ones and those the Connection header names)
 * dropped, the client's X-Forwarded-For extended, X-Forwarded-Proto/-Port
 * and X-Request-Id (the client's when it is sane, else a fresh one) set,
 * X-Cx-Peer-Rack set from the proved peer alone, Host from an absolute-form
 * target. Client responses: HTTP/1.1 status line, hop-by-hop headers dropped,
 * Connection as the client connection will be.
 */
#ifndef CX_ROUTER_REWRITE_H
#define CX_ROUTER_REWRITE_H

#include <stdbool.h>
#include <stddef.h>

#include "common/util.h"
#include "common/http1.h"

/* The routing name of a Host value: lower case, without the port (an IPv6
 * literal keeps its brackets), cut to outlen - 1 bytes, into out. */
void rewrite_hostname(struct http_slice host, char *out, size_t outlen);
/* True for a request header the router never forwards: hop-by-hop ones and
 * those it sets itself (X-Forwarded-*, X-Request-Id, X-Cx-Peer-Rack). */
bool rewrite_drop_request_header(struct http_slice name);
/* True when the Connection header value tokens lists name. */
bool rewrite_connection_names(struct http_slice tokens, struct http_slice name);
/* True for a response header not passed to the client; dechunk: the body is
 * decoded for an HTTP/1.0 client, so Transfer-Encoding goes too. */
bool rewrite_drop_response_header(struct http_slice name, bool dechunk, struct http_slice tokens);
/* The same for field name of resp, with the tokens of each of its
 * Connection fields (a response may have more than one). */
bool rewrite_drop_response_field(const struct http_response *resp, struct http_slice name,
    bool dechunk);
/* An X-Request-Id worth keeping: 1-64 visible ASCII bytes, no quote or backslash. */
bool rewrite_valid_request_id(struct http_slice v);
/* uri-host [":" port] characters only. */
bool rewrite_valid_authority(struct http_slice a);

/*
 * An absolute-form target ("http://a.b/x", RFC 9112 3.2.2) becomes origin
 * form: 1 with *target the path and query, *authority the host (userinfo
 * dropped; empty when the target has none) and *origin_slash set when a "/"
 * must go before *target; 0 when *target is not absolute-form (nothing
 * changed); -1 when its authority holds characters a Host may not.
 */
int rewrite_absolute_target(struct http_slice *target, struct http_slice *authority,
    bool *origin_slash);

struct rewrite_request {
	struct http_slice target;	/* origin-form, after rewrite_absolute_target */
	struct http_slice authority;	/* n > 0: sent as Host in place of the client's */
	bool origin_slash;
	bool upgrade;			/* forward Connection: upgrade and the Upgrade value */
	const char *client_ip;		/* appended to X-Forwarded-For */
	const char *peer_rack;		/* the proved peer (peer listener), else NULL */
	/* "\r\nX-Forwarded-Proto: ...\r\nX-Forwarded-Port: ...\r\nX-Request-Id: "
	 * (rewrite_forwarded_tail) */
	const char *xf_tail;
	const char *reqid;
};

/* Writes into out (outlen >= 96) the fixed tail of X-Forwarded-For that
 * every request of a listener shares: proto https when tls, its port. */
void rewrite_forwarded_tail(char *out, size_t outlen, bool tls, int port);
/* Replaces b with the head to send upstream for req. */
void rewrite_request_head(struct buf *b, const struct http_request *req,
    const struct rewrite_request *rw);
/* Appends to b the head for the client of the upstream's final response resp,
 * whose bytes begin at raw; keep and minor are the client connection's. */
void rewrite_response_head(struct buf *b, const struct http_response *resp, const char *raw,
    bool dechunk, bool keep, int minor);
/* Appends to b an interim (1xx) response's head at raw for an HTTP/1.1
 * client; an HTTP/1.0 client (minor 0) gets nothing. */
void rewrite_interim_head(struct buf *b, const struct http_response *resp, const char *raw,
    int minor);

struct rewrite_local {
	int status;
	size_t body_len;
	const char *router, *rack;	/* X-Cx-Router, X-Cx-Rack */
	const char *reqid;		/* "" or NULL: no X-Request-Id */
	const char *headers;		/* whole lines, CRLF each, or NULL */
	bool keep;
	int minor;
};

/* Appends to b the head of an answer the router makes itself. */
void rewrite_local_head(struct buf *b, const struct rewrite_local *l);

#endif
