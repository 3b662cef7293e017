/*
 * http1.h — a strict, zero-copy HTTP/1.1 parser: request heads (the routers
 * and the rack daemon's API server), response heads (the routers' upstream
 * side) and an incremental chunked-body state machine for streaming bodies.
 *
 * Nothing here allocates or copies: every slice points into the caller's
 * buffer, which must stay unchanged while the parsed head is in use. Parsing
 * is restartable by calling again with the same buffer grown by new bytes
 * (the head parsers rescan from the start; heads are small).
 *
 * Strict means (RFC 9112 with the choices a proxy should make):
 *   - lines end in CRLF; a bare LF (but for the empty lines below) or a
 *     bare CR is refused (400);
 *   - obs-fold (a header line starting with SP/HTAB) is refused (400);
 *   - at most one Content-Length (a duplicate is refused even when equal),
 *     digits only (400; a value past 2^63 is 413);
 *   - Content-Length together with Transfer-Encoding is refused (400);
 *   - Transfer-Encoding must be exactly `chunked` (one coding, one header):
 *     any other coding, list or a repeated header is refused with 501;
 *   - method is a token, target is visible ASCII (0x21-0x7e), version is
 *     HTTP/1.0 or HTTP/1.1 (another HTTP/x.y is 505, anything else 400);
 *   - header names are tokens with no space before the colon; header values
 *     are VCHAR / obs-text / SP / HTAB; CTLs (NUL, DEL, ...) are refused;
 *   - HTTP/1.1 requires exactly one Host, a valid uri-host[:port] (400);
 *   - sizes: the head must complete within max_head bytes (431), the request
 *     line within HTTP_MAX_REQUEST_LINE (414), each header line within
 *     HTTP_MAX_HEADER_LINE (431), at most HTTP_MAX_HEADERS headers (431).
 * Up to HTTP_MAX_EMPTY_LINES empty lines (CRLF, or a bare LF: the only
 * place a bare LF is taken) before a request line are skipped, as RFC 9112
 * section 2.2 asks of a server, and counted in head_len; one more is 400.
 */
#ifndef CX_HTTP1_H
#define CX_HTTP1_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct http_slice {
	const char *p;
	size_t n;
};

struct http_header {
	struct http_slice name, value;	/* value without surrounding SP/HTAB */
};

#define HTTP_MAX_HEADERS	100
#define HTTP_MAX_REQUEST_LINE	8192
#define HTTP_MAX_HEADER_LINE	8192
#define HTTP_MAX_EMPTY_LINES	4	/* skipped before a request line */

struct http_request {
	struct http_slice method, target;
	int minor;			/* HTTP/1.x */
	struct http_header headers[HTTP_MAX_HEADERS];
	size_t nheaders;
	struct http_slice host;		/* Host header value, empty if none */
	int64_t content_length;		/* -1 when absent */
	bool chunked, keep_alive, upgrade;
	size_t head_len;		/* bytes of the head, including the final CRLFCRLF */
	int status;			/* on CX_ERR: the status to answer (400, 413, 414, 431, 501, 505) */
	/* Extras beyond the core API. */
	bool conn_close;		/* Connection: close was sent */
	bool expect_continue;		/* Expect: 100-continue */
	const char *error;		/* on CX_ERR: a short static reason, for logs */
};

/*
 * Parses the request head at the start of buf[0..len).
 * Returns CX_OK when the head is complete (req filled, req->head_len set),
 * CX_AGAIN when more bytes are needed and nothing seen so far is wrong, or
 * CX_ERR with req->status and req->error set. max_head bounds the head
 * (0 = 65536); a head not complete within max_head bytes is 431 (414 while
 * still in the request line). keep_alive follows the version and the
 * Connection tokens; upgrade is set when Connection has `upgrade` and an
 * Upgrade header is present.
 */
int http1_parse_request(const char *buf, size_t len, size_t max_head, struct http_request *req);

/* First header named name (case-insensitive) or NULL. */
const struct http_header *http1_header_find(const struct http_header *h, size_t n,
    const char *name);
/* Value of the first header named name (case-insensitive), or NULL. */
const struct http_slice *http1_header(const struct http_request *req, const char *name);
/* Case-insensitive equality of a slice and a NUL-terminated literal. */
bool http_slice_eq(struct http_slice s, const char *lit);
/* Case-insensitive: true if the comma-separated list s has token lit. */
bool http_list_has(struct http_slice s, const char *lit);

struct http_response {
	int minor;			/* HTTP/1.x */
	int status;			/* 100..999 */
	struct http_slice reason;
	struct http_header headers[HTTP_MAX_HEADERS];
	size_t nheaders;
	int64_t content_length;		/* -1 when absent */
	bool chunked, keep_alive, upgrade;
	size_t head_len;
	const char *error;		/* on CX_ERR */
};

/*
 * Parses a response head (an upstream's answer) with the same strictness as
 * requests: CRLF only, no obs-fold, one Content-Length, not both CL and TE,
 * TE only `chunked`. Returns CX_OK / CX_AGAIN / CX_ERR (resp->error set).
 * keep_alive: HTTP/1.1 without Connection: close, or 1.0 with keep-alive.
 * upgrade: Connection has `upgrade` (meaningful with status 101).
 */
int http1_parse_response(const char *buf, size_t len, size_t max_head, struct http_response *resp);

/* How a response body is delimited (RFC 9112 section 6.3). */
enum http_body {
	HTTP_BODY_NONE,		/* HEAD, 1xx, 204, 304 */
	HTTP_BODY_LENGTH,	/* content_length bytes */
	HTTP_BODY_CHUNKED,
	HTTP_BODY_CLOSE,	/* until the upstream closes */
};
enum http_body http1_response_body(const struct http_response *resp, bool head_request);

/*
 * Incremental chunked-body state machine (RFC 9112 section 7.1): chunk
 * sizes in hex (at most 16 digits), extensions `;name[=token|"quoted"]`
 * without whitespace, data, CRLF, the last chunk, trailer fields (validated
 * like headers, at most HTTP_MAX_TRAILERS bytes) and the final CRLF.
 *
 * Feed bytes in any split. For passthrough, forward exactly *used bytes
 * verbatim; to decode, pass on_data, which gets each data span (pointing
 * into buf) in order.
 */
#define HTTP_MAX_TRAILERS	8192
#define HTTP_MAX_CHUNK_EXT	4096

struct http_chunked {
	int state;
	uint64_t left;		/* data bytes left in the current chunk */
	size_t count;		/* bytes seen in the current size line / trailer block */
	int digits;
	const char *error;	/* on CX_ERR */
};

typedef void (*http_data_cb)(void *arg, const char *p, size_t n);

void http1_chunked_init(struct http_chunked *c);
/*
 * Consumes bytes of buf[0..len). Returns CX_OK when the body ended (*used is
 * the number of bytes up to and including its final CRLF; bytes after it
 * belong to the next message), CX_AGAIN when all len bytes were consumed and
 * the body continues (*used == len), or CX_ERR (c->error set; *used is where
 * the error was found).
 */
int http1_chunked_parse(struct http_chunked *c, const char *buf, size_t len, size_t *used,
    http_data_cb on_data, void *arg);
/* True once the body has ended. */
bool http1_chunked_done(const struct http_chunked *c);

/* Reason phrase for a status code ("Not Found"); "Unknown" if we have none. */
const char *http1_reason(int status);

#endif
