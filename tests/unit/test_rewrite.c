/*
 * test_rewrite.c — the router's header rules (src/router/rewrite.c) as
 * tables: each row a request or response head as a client or upstream
 * sends it, the facts of the connection, and the exact head the router
 * must produce. The heads are parsed by the real parser (common/http1.c),
 * as the router does, so a row also fails if the parser changes under it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/http1.h"
#include "common/util.h"
#include "router/rewrite.h"

static struct http_slice
sl(const char *s)
{
	return (struct http_slice){ s, strlen(s) };
}

/* ---- the upstream request head ---- */

struct req_row {
	const char *why;
	const char *in;			/* the client's head */
	bool tls;			/* the listener's X-Forwarded-Proto */
	const char *peer_rack;		/* the peer listener's proved rack, else NULL */
	const char *want;		/* the head sent upstream */
};

#define TAIL80 "X-Forwarded-Proto: http\r\nX-Forwarded-Port: 80\r\nX-Request-Id: rid\r\n"
#define TAIL443 "X-Forwarded-Proto: https\r\nX-Forwarded-Port: 443\r\nX-Request-Id: rid\r\n"

static const struct req_row req_rows[] = {
	{ "plain GET: Host kept, ours added",
	  "GET /a?b HTTP/1.1\r\nHost: web.app\r\nAccept: */*\r\n\r\n", false, NULL,
	  "GET /a?b HTTP/1.1\r\nHost: web.app\r\nAccept: */*\r\nX-Forwarded-For: 10.0.0.9\r\n"
	  TAIL80 "\r\n" },
	{ "HTTP/1.0 goes upstream as HTTP/1.1",
	  "GET / HTTP/1.0\r\nHost: web.app\r\n\r\n", false, NULL,
	  "GET / HTTP/1.1\r\nHost: web.app\r\nX-Forwarded-For: 10.0.0.9\r\n" TAIL80 "\r\n" },
	{ "hop-by-hop headers dropped",
	  "GET / HTTP/1.1\r\nHost: h\r\nConnection: keep-alive\r\nKeep-Alive: 5\r\nTE: trailers\r\n"
	  "Proxy-Connection: keep-alive\r\nUpgrade: h2c\r\nX-Keep: 1\r\n\r\n", false, NULL,
	  "GET / HTTP/1.1\r\nHost: h\r\nX-Keep: 1\r\nX-Forwarded-For: 10.0.0.9\r\n" TAIL80 "\r\n" },
	{ "headers the Connection header names are hop-by-hop too",
	  "GET / HTTP/1.1\r\nHost: h\r\nX-Secret: s\r\nConnection: close, X-Secret\r\n"
	  "X-Other: o\r\n\r\n", false, NULL,
	  "GET / HTTP/1.1\r\nHost: h\r\nX-Other: o\r\nX-Forwarded-For: 10.0.0.9\r\n" TAIL80 "\r\n" },
	{ "the last Connection header is the one that names",
	  "GET / HTTP/1.1\r\nHost: h\r\nConnection: X-A\r\nConnection: X-B\r\nX-A: a\r\nX-B: b\r\n\r\n",
	  false, NULL,
	  "GET / HTTP/1.1\r\nHost: h\r\nX-A: a\r\nX-Forwarded-For: 10.0.0.9\r\n" TAIL80 "\r\n" },
	{ "X-Forwarded-For: the client's (every one, in order) then the client address",
	  "GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 1.2.3.4\r\nX-Forwarded-For: 5.6.7.8\r\n\r\n",
	  false, NULL,
	  "GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 1.2.3.4, 5.6.7.8, 10.0.0.9\r\n" TAIL80
	  "\r\n" },
	{ "an empty X-Forwarded-For adds nothing",
	  "GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-For:\r\n\r\n", false, NULL,
	  "GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 10.0.0.9\r\n" TAIL80 "\r\n" },
	{ "the client cannot set X-Forwarded-Proto/-Port, X-Request-Id or X-Cx-Peer-Rack",
	  "GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Port: 1\r\n"
	  "X-Request-Id: theirs\r\nX-Cx-Peer-Rack: evil\r\n\r\n", false, NULL,
	  "GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 10.0.0.9\r\n" TAIL80 "\r\n" },
	{ "TLS listener: X-Forwarded-Proto https and its port",
	  "GET / HTTP/1.1\r\nHost: h\r\n\r\n", true, NULL,
	  "GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 10.0.0.9\r\n" TAIL443 "\r\n" },
	{ "peer listener: X-Cx-Peer-Rack is the rack the certificate proved",
	  "GET / HTTP/1.1\r\nHost: h\r\nX-Cx-Peer-Rack: evil\r\n\r\n", true, "east",
	  "GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 10.0.0.9\r\nX-Cx-Peer-Rack: east\r\n"
	  TAIL443 "\r\n" },
	{ "absolute form: origin form upstream, its authority replaces Host",
	  "GET http://Other.App:81/p?q HTTP/1.1\r\nHost: h\r\nX-A: a\r\n\r\n", false, NULL,
	  "GET /p?q HTTP/1.1\r\nX-A: a\r\nHost: Other.App:81\r\nX-Forwarded-For: 10.0.0.9\r\n"
	  TAIL80 "\r\n" },
	{ "absolute form without a path gets \"/\"",
	  "GET http://o.app?x=1 HTTP/1.1\r\nHost: h\r\n\r\n", false, NULL,
	  "GET /?x=1 HTTP/1.1\r\nHost: o.app\r\nX-Forwarded-For: 10.0.0.9\r\n" TAIL80 "\r\n" },
	{ "absolute form: userinfo is not part of the Host",
	  "GET https://user:pw@o.app/ HTTP/1.1\r\nHost: h\r\n\r\n", false, NULL,
	  "GET / HTTP/1.1\r\nHost: o.app\r\nX-Forwarded-For: 10.0.0.9\r\n" TAIL80 "\r\n" },
	{ "Upgrade asked for: Connection: upgrade and the Upgrade value pass",
	  "GET /ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
	  "Sec-WebSocket-Key: k\r\n\r\n", false, NULL,
	  "GET /ws HTTP/1.1\r\nHost: h\r\nSec-WebSocket-Key: k\r\nX-Forwarded-For: 10.0.0.9\r\n"
	  TAIL80 "Connection: upgrade\r\nUpgrade: websocket\r\n\r\n" },
	{ "a body's framing headers pass",
	  "POST /u HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\n", false, NULL,
	  "POST /u HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nX-Forwarded-For: 10.0.0.9\r\n"
	  TAIL80 "\r\n" },
};

static void
test_request_heads(void **state)
{
	(void)state;
	for (size_t i = 0; i < CX_ARRAY_LEN(req_rows); i++) {
		const struct req_row *row = &req_rows[i];
		struct http_request req;
		struct http_slice target, authority = { "", 0 };
		bool origin_slash = false;
		char tail[96];
		struct buf b;
		int abs;

		assert_int_equal(http1_parse_request(row->in, strlen(row->in), 16384, &req), CX_OK);
		target = req.target;
		abs = rewrite_absolute_target(&target, &authority, &origin_slash);
		assert_int_not_equal(abs, -1);
		rewrite_forwarded_tail(tail, sizeof(tail), row->tls, row->tls ? 443 : 80);
		buf_init(&b, 0);
		rewrite_request_head(&b, &req, &(struct rewrite_request){
			.target = target,
			.authority = authority,
			.origin_slash = origin_slash,
			.upgrade = req.upgrade,
			.client_ip = "10.0.0.9",
			.peer_rack = row->peer_rack,
			.xf_tail = tail,
			.reqid = "rid",
		});
		if (strcmp(buf_cstr(&b), row->want) != 0)
			fail_msg("row %zu (%s):\n got: %s\nwant: %s", i, row->why, buf_cstr(&b),
			    row->want);
		buf_free(&b);
	}
}

/* ---- the response head to the client ---- */

struct resp_row {
	const char *why;
	const char *in;			/* the upstream's head */
	bool dechunk, keep;
	int minor;			/* the client's HTTP/1.x */
	const char *want;
};

static const struct resp_row resp_rows[] = {
	{ "status line and headers as sent, kept alive for HTTP/1.1: no Connection",
	  "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-App: a\r\n\r\n", false, true, 1,
	  "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-App: a\r\n\r\n" },
	{ "an HTTP/1.0 upstream's status line gets our version, its reason stays",
	  "HTTP/1.0 404 Nowhere To Be Found\r\nContent-Length: 0\r\n\r\n", false, true, 1,
	  "HTTP/1.1 404 Nowhere To Be Found\r\nContent-Length: 0\r\n\r\n" },
	{ "hop-by-hop headers dropped; closing says Connection: close",
	  "HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\n"
	  "Proxy-Connection: close\r\nContent-Length: 0\r\n\r\n", false, false, 1,
	  "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n" },
	{ "headers the upstream's Connection names are dropped",
	  "HTTP/1.1 200 OK\r\nConnection: X-Hop\r\nX-Hop: 1\r\nX-End: 2\r\nContent-Length: 0\r\n\r\n",
	  false, true, 1,
	  "HTTP/1.1 200 OK\r\nX-End: 2\r\nContent-Length: 0\r\n\r\n" },
	{ "HTTP/1.0 client kept alive: Connection: keep-alive",
	  "HTTP/1.1 204 No Content\r\n\r\n", false, true, 0,
	  "HTTP/1.1 204 No Content\r\nConnection: keep-alive\r\n\r\n" },
	{ "chunked to an HTTP/1.0 client: decoded, Transfer-Encoding goes, and close",
	  "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-A: a\r\n\r\n", true, false, 0,
	  "HTTP/1.1 200 OK\r\nX-A: a\r\nConnection: close\r\n\r\n" },
	{ "chunked to an HTTP/1.1 client passes as is",
	  "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", false, true, 1,
	  "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" },
};

static void
test_response_heads(void **state)
{
	(void)state;
	for (size_t i = 0; i < CX_ARRAY_LEN(resp_rows); i++) {
		const struct resp_row *row = &resp_rows[i];
		struct http_response resp;
		struct buf b;

		assert_int_equal(http1_parse_response(row->in, strlen(row->in), 16384, &resp), CX_OK);
		buf_init(&b, 0);
		rewrite_response_head(&b, &resp, row->in, row->dechunk, row->keep, row->minor);
		if (strcmp(buf_cstr(&b), row->want) != 0)
			fail_msg("row %zu (%s):\n got: %s\nwant: %s", i, row->why, buf_cstr(&b),
			    row->want);
		buf_free(&b);
	}
}

static void
test_interim_heads(void **state)
{
	static const char *cont = "HTTP/1.1 100 Continue\r\n\r\n";
	static const char *up101 = "HTTP/1.0 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n";
	struct http_response resp;
	struct buf b;

	(void)state;
	buf_init(&b, 0);
	assert_int_equal(http1_parse_response(cont, strlen(cont), 16384, &resp), CX_OK);
	rewrite_interim_head(&b, &resp, cont, 1);
	assert_string_equal(buf_cstr(&b), cont);
	buf_reset(&b);
	rewrite_interim_head(&b, &resp, cont, 0);
	assert_string_equal(buf_cstr(&b), "");	/* HTTP/1.0 knows no 1xx */
	assert_int_equal(http1_parse_response(up101, strlen(up101), 16384, &resp), CX_OK);
	rewrite_interim_head(&b, &resp, up101, 1);
	assert_string_equal(buf_cstr(&b),
	    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n");
	buf_free(&b);
}

/* ---- the router's own answers ---- */

struct local_row {
	const char *why;
	struct rewrite_local l;
	const char *want;
};

#define LOCAL_TOP(code) "HTTP/1.1 " code "\r\nContent-Type: text/plain; charset=utf-8\r\n"
#define MARKS "X-Cx-Router: public\r\nX-Cx-Rack: dev\r\n"

static const struct local_row local_rows[] = {
	{ "404 kept alive: X-Cx-Router, X-Cx-Rack, X-Request-Id, no Connection",
	  { 404, 12, "public", "dev", "r1", NULL, true, 1 },
	  LOCAL_TOP("404 Not Found") "Content-Length: 12\r\n" MARKS "X-Request-Id: r1\r\n\r\n" },
	{ "no request id yet (a refusal before one was given): no X-Request-Id",
	  { 400, 3, "public", "dev", "", NULL, false, 1 },
	  LOCAL_TOP("400 Bad Request") "Content-Length: 3\r\n" MARKS "Connection: close\r\n\r\n" },
	{ "extra header lines go in (a redirect's Location)",
	  { 308, 0, "public", "dev", "r2", "Location: https://h/\r\n", true, 1 },
	  LOCAL_TOP("308 Permanent Redirect") "Content-Length: 0\r\n" MARKS "X-Request-Id: r2\r\n"
	  "Location: https://h/\r\n\r\n" },
	{ "HTTP/1.0 client kept alive",
	  { 503, 1, "internal", "prod", "r3", NULL, true, 0 },
	  LOCAL_TOP("503 Service Unavailable") "Content-Length: 1\r\nX-Cx-Router: internal\r\n"
	  "X-Cx-Rack: prod\r\nX-Request-Id: r3\r\nConnection: keep-alive\r\n\r\n" },
};

static void
test_local_heads(void **state)
{
	(void)state;
	for (size_t i = 0; i < CX_ARRAY_LEN(local_rows); i++) {
		struct buf b;

		buf_init(&b, 0);
		rewrite_local_head(&b, &local_rows[i].l);
		if (strcmp(buf_cstr(&b), local_rows[i].want) != 0)
			fail_msg("row %zu (%s):\n got: %s\nwant: %s", i, local_rows[i].why,
			    buf_cstr(&b), local_rows[i].want);
		buf_free(&b);
	}
}

/* ---- the small rules ---- */

static void
test_hostname(void **state)
{
	static const struct { const char *in, *want; } rows[] = {
		{ "Web.App.Dev.Localhost", "web.app.dev.localhost" },
		{ "web.app:8080", "web.app" },		/* the port does not route */
		{ "[::1]:8080", "[::1]" },		/* an IPv6 literal keeps its brackets */
		{ "[::1", "[::1" },
		{ "", "" },
		{ "a.b.", "a.b." },
	};
	char out[64], small[8];

	(void)state;
	for (size_t i = 0; i < CX_ARRAY_LEN(rows); i++) {
		rewrite_hostname(sl(rows[i].in), out, sizeof(out));
		assert_string_equal(out, rows[i].want);
	}
	rewrite_hostname(sl("ABCDEFGHIJKLMNOPQRSTUVWXYZ"), small, sizeof(small));
	assert_string_equal(small, "abcdefg");	/* cut to the buffer */
}

static void
test_request_ids(void **state)
{
	static const struct { const char *in; bool ok; } rows[] = {
		{ "abc-123", true },
		{ "0123456789012345678901234567890123456789012345678901234567890123", true },
		{ "01234567890123456789012345678901234567890123456789012345678901234", false },
		{ "", false },
		{ "has space", false },
		{ "quote\"", false },
		{ "back\\slash", false },
		{ "del\x7f", false },
		{ "t\xc3\xa9", false },		/* not ASCII */
	};

	(void)state;
	for (size_t i = 0; i < CX_ARRAY_LEN(rows); i++) {
		if (rewrite_valid_request_id(sl(rows[i].in)) != rows[i].ok)
			fail_msg("request id row %zu \"%s\": want %d", i, rows[i].in, rows[i].ok);
	}
}

static void
test_absolute_targets(void **state)
{
	static const struct {
		const char *in;
		int r;
		const char *target, *authority;
		bool slash;
	} rows[] = {
		{ "/plain", 0, "/plain", "", false },
		{ "http://a.b/x?y", 1, "/x?y", "a.b", false },
		{ "HTTPS://A.B:8443/", 1, "/", "A.B:8443", false },
		{ "http://a.b", 1, "", "a.b", true },
		{ "http://a.b?q", 1, "?q", "a.b", true },
		{ "http://u@a.b/", 1, "/", "a.b", false },
		{ "http:///x", 1, "/x", "", false },	/* no authority: the Host routes */
		{ "http://a\"b/", -1, "/", "a\"b", false },
		{ "http://a<b>/", -1, "/", "a<b>", false },
		{ "http://[::1]:80/", 1, "/", "[::1]:80", false },
		{ "ftp://a.b/", 0, "ftp://a.b/", "", false },
	};

	(void)state;
	for (size_t i = 0; i < CX_ARRAY_LEN(rows); i++) {
		struct http_slice t = sl(rows[i].in), a = { "", 0 };
		bool slash = false;
		int r = rewrite_absolute_target(&t, &a, &slash);

		if (r != rows[i].r || !http_slice_eq(t, rows[i].target) ||
		    !http_slice_eq(a, rows[i].authority) || (r == 1 && slash != rows[i].slash))
			fail_msg("target row %zu \"%s\": got %d \"%.*s\" \"%.*s\" %d", i, rows[i].in,
			    r, (int)t.n, t.p, (int)a.n, a.p, slash);
	}
}

static void
test_connection_names(void **state)
{
	(void)state;
	assert_true(rewrite_connection_names(sl("close, X-Secret"), sl("x-secret")));
	assert_true(rewrite_connection_names(sl("X-A,X-B"), sl("X-B")));
	assert_false(rewrite_connection_names(sl("X-Secret2"), sl("X-Secret")));
	assert_false(rewrite_connection_names(sl(""), sl("host")));
	/* A name longer than any token we compare is never named. */
	assert_false(rewrite_connection_names(sl("x"),
	    sl("x-a-very-long-header-name-that-goes-on-and-on-past-sixty-four-bytes")));
	assert_true(rewrite_drop_request_header(sl("TE")));
	assert_false(rewrite_drop_request_header(sl("Host")));
	assert_false(rewrite_drop_response_header(sl("Transfer-Encoding"), false, sl("")));
	assert_true(rewrite_drop_response_header(sl("Transfer-Encoding"), true, sl("")));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_request_heads),
		cmocka_unit_test(test_response_heads),
		cmocka_unit_test(test_interim_heads),
		cmocka_unit_test(test_local_heads),
		cmocka_unit_test(test_hostname),
		cmocka_unit_test(test_request_ids),
		cmocka_unit_test(test_absolute_targets),
		cmocka_unit_test(test_connection_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
