/*
 * test_http1.c — unit tests of the HTTP/1.1 parser (src/common/http1.c):
 * request and response heads, limits, the chunked state machine, and a
 * conformance table over llhttp's test vectors.
 *
 * The conformance table reads $CX_HTTP_VECTORS (default tests/data/llhttp,
 * relative to the repo root, where `make unit` runs; see tests/data/README.md)
 * and compares our verdict on every strict request case with llhttp's, except
 * for the cases listed with our own verdict and the reason in
 * tests/unit/http1-vectors.expected ($CX_HTTP1_EXPECTED). A missing vector
 * directory is a failure, never a skip. CX_HTTP1_VECTORS_PRINT=1 prints every
 * disagreement in the expected file's format.
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
#include "common/jv.h"
#include "common/util.h"

static int
parse(const char *s, struct http_request *req)
{
	return http1_parse_request(s, strlen(s), 16384, req);
}

static int
status_of(const char *s)
{
	struct http_request req;
	int r = parse(s, &req);

	if (r == CX_OK)
		return 0;
	if (r == CX_AGAIN)
		return -2;
	return req.status;
}

static void
test_simple_get(void **state)
{
	const char *s = "GET /a?b=c HTTP/1.1\r\nHost: Example.COM:8080\r\nX-A:  1 2  \r\n"
	    "Accept:\r\n\r\nextra";
	struct http_request req;

	(void)state;
	assert_int_equal(parse(s, &req), CX_OK);
	assert_true(http_slice_eq(req.method, "get"));
	assert_int_equal(req.target.n, 6);
	assert_memory_equal(req.target.p, "/a?b=c", 6);
	assert_int_equal(req.minor, 1);
	assert_int_equal(req.nheaders, 3);
	assert_true(http_slice_eq(req.host, "example.com:8080"));
	assert_int_equal(req.content_length, -1);
	assert_false(req.chunked);
	assert_true(req.keep_alive);
	assert_false(req.upgrade);
	assert_int_equal(req.head_len, strlen(s) - 5);
	assert_non_null(http1_header(&req, "x-a"));
	assert_int_equal(http1_header(&req, "X-A")->n, 3);
	assert_memory_equal(http1_header(&req, "X-A")->p, "1 2", 3);
	assert_int_equal(http1_header(&req, "accept")->n, 0);
	assert_null(http1_header(&req, "x-b"));
	/* The slices point into the caller's buffer. */
	assert_ptr_equal(req.method.p, s);
}

static void
test_incremental(void **state)
{
	const char *s = "\r\nPOST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello";
	size_t head = strlen(s) - 5;
	struct http_request req;

	(void)state;
	for (size_t n = 0; n < head; n++)
		assert_int_equal(http1_parse_request(s, n, 16384, &req), CX_AGAIN);
	assert_int_equal(http1_parse_request(s, head, 16384, &req), CX_OK);
	assert_int_equal(req.head_len, head);
	assert_int_equal(req.content_length, 5);
}

/* RFC 9112 section 2.2: empty lines before a request line, CRLF or bare LF,
 * at most HTTP_MAX_EMPTY_LINES; on a connection's first request and between
 * kept-alive ones alike. */
static void
test_empty_lines(void **state)
{
	const char *two = "GET /1 HTTP/1.1\r\nHost: a\r\n\r\n\r\n\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n";
	char many[64] = "";
	struct http_request req;
	size_t off;
	static const char *const ok[] = {
		"\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
		"\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
		"\r\n\n\r\n\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
	};

	(void)state;
	for (size_t i = 0; i < CX_ARRAY_LEN(ok); i++) {
		assert_int_equal(parse(ok[i], &req), CX_OK);
		assert_int_equal(req.head_len, strlen(ok[i]));
		assert_true(http_slice_eq(req.method, "GET"));
		assert_ptr_equal(req.method.p, strchr(ok[i], 'G'));
	}
	/* Waiting for more while within the bound. */
	assert_int_equal(status_of("\r"), -2);
	assert_int_equal(status_of("\r\n"), -2);
	assert_int_equal(status_of("\n\n\r\n\r"), -2);
	assert_int_equal(status_of("\r\n\r\n\r\n\r\n"), -2);
	/* One past the bound is refused at once, the request line unseen. */
	for (int i = 0; i <= HTTP_MAX_EMPTY_LINES; i++)
		strcat(many, i % 2 ? "\n" : "\r\n");
	assert_int_equal(parse(many, &req), CX_ERR);
	assert_int_equal(req.status, 400);
	assert_string_equal(req.error, "too many empty lines before the request line");
	strcat(many, "GET / HTTP/1.1\r\nHost: a\r\n\r\n");
	assert_int_equal(status_of(many), 400);
	/* A bare CR is not an empty line. */
	assert_int_equal(status_of("\rGET / HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
	assert_int_equal(status_of("\r\rGET / HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
	/* Between two requests of one connection. */
	assert_int_equal(parse(two, &req), CX_OK);
	assert_memory_equal(req.target.p, "/1", 2);
	off = req.head_len;
	assert_int_equal(http1_parse_request(two + off, strlen(two) - off, 16384, &req), CX_OK);
	assert_memory_equal(req.target.p, "/2", 2);
	assert_int_equal(off + req.head_len, strlen(two));
}

static void
test_keep_alive(void **state)
{
	struct http_request req;

	(void)state;
	assert_int_equal(parse("GET / HTTP/1.0\r\n\r\n", &req), CX_OK);
	assert_false(req.keep_alive);
	assert_int_equal(parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", &req), CX_OK);
	assert_true(req.keep_alive);
	assert_int_equal(parse("GET / HTTP/1.1\r\nHost: a\r\nConnection: foo, close\r\n\r\n", &req),
	    CX_OK);
	assert_false(req.keep_alive);
	assert_true(req.conn_close);
	assert_int_equal(parse("GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\n"
	    "Upgrade: websocket\r\n\r\n", &req), CX_OK);
	assert_true(req.upgrade);
	assert_int_equal(parse("GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\n", &req),
	    CX_OK);
	assert_false(req.upgrade);
	assert_int_equal(parse("PUT / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n"
	    "Expect: 100-continue\r\n\r\n", &req), CX_OK);
	assert_true(req.chunked);
	assert_true(req.expect_continue);
}

static void
test_refusals(void **state)
{
	(void)state;
	/* framing */
	assert_int_equal(status_of("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n"
	    "Content-Length: 1\r\n\r\n"), 400);
	assert_int_equal(status_of("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1, 1\r\n\r\n"), 400);
	assert_int_equal(status_of("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n"), 400);
	assert_int_equal(status_of("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +1\r\n\r\n"), 400);
	assert_int_equal(status_of("POST / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n"), 400);
	assert_int_equal(status_of("POST / HTTP/1.1\r\nHost: a\r\n"
	    "Content-Length: 99999999999999999999\r\n\r\n"), 413);
	assert_int_equal(status_of("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n"), 400);
	assert_int_equal(status_of("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n"),
	    501);
	assert_int_equal(status_of("POST / HTTP/1.1\r\nHost: a\r\n"
	    "Transfer-Encoding: gzip, chunked\r\n\r\n"), 501);
	assert_int_equal(status_of("POST / HTTP/1.1\r\nHost: a\r\n"
	    "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n"), 501);
	assert_int_equal(status_of("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, "
	    "chunked\r\n\r\n"), 501);
	/* line endings and folding */
	assert_int_equal(status_of("GET / HTTP/1.1\nHost: a\r\n\r\n"), 400);
	assert_int_equal(status_of("GET / HTTP/1.1\r\nHost: a\n\r\n"), 400);
	assert_int_equal(status_of("GET / HTTP/1.1\r\nHost: a\r\n\n"), 400);
	assert_int_equal(status_of("GET / HTTP/1.1\r\nHost: a\rX: b\r\n\r\n"), 400);
	assert_int_equal(status_of("GET / HTTP/1.1\r\nHost: a\r\nX: b\r\n c\r\n\r\n"), 400);
	assert_int_equal(status_of("GET / HTTP/1.1\r\n Host: a\r\n\r\n"), 400);
	/* request line */
	assert_int_equal(status_of("GET  / HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
	assert_int_equal(status_of("GET / HTTP/1.1 \r\nHost: a\r\n\r\n"), 400);
	assert_int_equal(status_of("G(T / HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
	assert_int_equal(status_of("GET /\x7f HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
	assert_int_equal(status_of("GET /\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
	assert_int_equal(status_of("GET /\r\n\r\n"), 400);
	assert_int_equal(status_of("GET / HTTP/2.0\r\nHost: a\r\n\r\n"), 505);
	assert_int_equal(status_of("GET / HTTP/1.2\r\nHost: a\r\n\r\n"), 505);
	assert_int_equal(status_of("GET / http/1.1\r\nHost: a\r\n\r\n"), 400);
	assert_int_equal(status_of("GET / HTTP/1.x\r\n"), 400);
	/* headers */
	assert_int_equal(status_of("GET / HTTP/1.1\r\nHost : a\r\n\r\n"), 400);
	assert_int_equal(status_of("GET / HTTP/1.1\r\nHost: a\r\n: b\r\n\r\n"), 400);
	assert_int_equal(status_of("GET / HTTP/1.1\r\nHost: a\r\nX: a\x01" "b\r\n\r\n"), 400);
	assert_int_equal(status_of("GET / HTTP/1.1\r\nHost: a\r\nX: a\x7f\r\n\r\n"), 400);
	assert_int_equal(status_of("GET / HTTP/1.1\r\nHost: a\r\nX@: a\r\n\r\n"), 400);
	/* Host */
	assert_int_equal(status_of("GET / HTTP/1.1\r\n\r\n"), 400);
	assert_int_equal(status_of("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"), 400);
	assert_int_equal(status_of("GET / HTTP/1.1\r\nHost: a/b\r\n\r\n"), 400);
	assert_int_equal(status_of("GET / HTTP/1.1\r\nHost: a:80x\r\n\r\n"), 400);
	assert_int_equal(status_of("GET / HTTP/1.1\r\nHost: a b\r\n\r\n"), 400);
	assert_int_equal(status_of("GET / HTTP/1.1\r\nHost: [::1]:80\r\n\r\n"), 0);
	assert_int_equal(status_of("GET / HTTP/1.1\r\nHost:\r\n\r\n"), 0);
	assert_int_equal(status_of("GET / HTTP/1.0\r\n\r\n"), 0);
	/* Obs-text is allowed in values. */
	assert_int_equal(status_of("GET / HTTP/1.1\r\nHost: a\r\nX: D\xc3\xbc\r\n\r\n"), 0);
}

static void
test_limits(void **state)
{
	struct http_request req;
	struct buf b;
	char *big = xmalloc(20000);

	(void)state;
	/* A request line past HTTP_MAX_REQUEST_LINE: 414, complete or not. */
	memset(big, 'a', 20000);
	memcpy(big, "GET /", 5);
	assert_int_equal(http1_parse_request(big, 9000, 16384, &req), CX_ERR);
	assert_int_equal(req.status, 414);
	/* A head past max_head: 431. */
	buf_init(&b, 0);
	buf_adds(&b, "GET / HTTP/1.1\r\nHost: a\r\n");
	while (b.len < 20000)
		buf_adds(&b, "X-Filler: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n");
	assert_int_equal(http1_parse_request(b.data, b.len, 4096, &req), CX_ERR);
	assert_int_equal(req.status, 431);
	assert_int_equal(http1_parse_request(b.data, 4095, 4096, &req), CX_AGAIN);
	/* Too many headers: 431. */
	buf_adds(&b, "\r\n");
	assert_int_equal(http1_parse_request(b.data, b.len, 65536, &req), CX_ERR);
	assert_int_equal(req.status, 431);
	/* One header line too long: 431. */
	buf_reset(&b);
	buf_adds(&b, "GET / HTTP/1.1\r\nHost: a\r\nX: ");
	while (b.len < 9000)
		buf_adds(&b, "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb");
	assert_int_equal(http1_parse_request(b.data, b.len, 65536, &req), CX_ERR);
	assert_int_equal(req.status, 431);
	buf_adds(&b, "\r\n\r\n");
	assert_int_equal(http1_parse_request(b.data, b.len, 65536, &req), CX_ERR);
	assert_int_equal(req.status, 431);
	buf_free(&b);
	free(big);
}

static void
test_response(void **state)
{
	const char *s = "HTTP/1.1 200 OK\r\nContent-Length: 13\r\nConnection: keep-alive\r\n\r\n"
	    "Hello, world!";
	struct http_response resp;

	(void)state;
	assert_int_equal(http1_parse_response(s, strlen(s), 16384, &resp), CX_OK);
	assert_int_equal(resp.status, 200);
	assert_int_equal(resp.minor, 1);
	assert_int_equal(resp.content_length, 13);
	assert_int_equal(resp.head_len, strlen(s) - 13);
	assert_true(resp.keep_alive);
	assert_true(http_slice_eq(resp.reason, "ok"));
	assert_int_equal(http1_response_body(&resp, false), HTTP_BODY_LENGTH);
	assert_int_equal(http1_response_body(&resp, true), HTTP_BODY_NONE);
	for (size_t n = 0; n < resp.head_len; n++)
		assert_int_equal(http1_parse_response(s, n, 16384, &resp), CX_AGAIN);

	s = "HTTP/1.0 204 No Content\r\n\r\n";
	assert_int_equal(http1_parse_response(s, strlen(s), 16384, &resp), CX_OK);
	assert_false(resp.keep_alive);
	assert_int_equal(http1_response_body(&resp, false), HTTP_BODY_NONE);
	s = "HTTP/1.1 200 \r\nTransfer-Encoding: chunked\r\n\r\n";
	assert_int_equal(http1_parse_response(s, strlen(s), 16384, &resp), CX_OK);
	assert_int_equal(http1_response_body(&resp, false), HTTP_BODY_CHUNKED);
	s = "HTTP/1.1 200\r\n\r\n";
	assert_int_equal(http1_parse_response(s, strlen(s), 16384, &resp), CX_OK);
	assert_int_equal(http1_response_body(&resp, false), HTTP_BODY_CLOSE);
	s = "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n";
	assert_int_equal(http1_parse_response(s, strlen(s), 16384, &resp), CX_OK);
	assert_true(resp.upgrade);

	s = "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n";
	assert_int_equal(http1_parse_response(s, strlen(s), 16384, &resp), CX_ERR);
	s = "HTTP/1.1 200 OK\nContent-Length: 1\r\n\r\n";
	assert_int_equal(http1_parse_response(s, strlen(s), 16384, &resp), CX_ERR);
	s = "HTTP/1.1 20 OK\r\n\r\n";
	assert_int_equal(http1_parse_response(s, strlen(s), 16384, &resp), CX_ERR);
	s = "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n";
	assert_int_equal(http1_parse_response(s, strlen(s), 16384, &resp), CX_ERR);
	s = "ICY 200 OK\r\n\r\n";
	assert_int_equal(http1_parse_response(s, strlen(s), 16384, &resp), CX_ERR);
	s = "HTTP/1.1 200 OK\r\nX: ";
	assert_int_equal(http1_parse_response(s, strlen(s), 16, &resp), CX_ERR);
}

struct collect {
	char out[256];
	size_t n;
};

static void
collect_cb(void *arg, const char *p, size_t n)
{
	struct collect *c = arg;

	assert_true(c->n + n < sizeof(c->out));
	memcpy(c->out + c->n, p, n);
	c->n += n;
}

static void
test_chunked(void **state)
{
	const char *s = "5;a=b;c=\"q\\\"x\"\r\nhello\r\n6\r\n world\r\n0\r\nX-T: 1\r\n\r\nNEXT";
	size_t body = strlen(s) - 4;
	struct http_chunked ck;
	struct collect col;
	size_t used, total;
	int r;

	(void)state;
	/* Whole. */
	memset(&col, 0, sizeof(col));
	http1_chunked_init(&ck);
	assert_int_equal(http1_chunked_parse(&ck, s, strlen(s), &used, collect_cb, &col), CX_OK);
	assert_int_equal(used, body);
	assert_int_equal(col.n, 11);
	assert_memory_equal(col.out, "hello world", 11);
	assert_true(http1_chunked_done(&ck));
	/* Byte by byte. */
	memset(&col, 0, sizeof(col));
	http1_chunked_init(&ck);
	total = 0;
	for (size_t i = 0; i < strlen(s); i++) {
		r = http1_chunked_parse(&ck, s + i, 1, &used, collect_cb, &col);
		total += used;
		if (r == CX_OK)
			break;
		assert_int_equal(r, CX_AGAIN);
	}
	assert_int_equal(total, body);
	assert_memory_equal(col.out, "hello world", 11);

	/* Refusals. */
	static const char *bad[] = {
		"5 \r\nhello\r\n0\r\n\r\n",	/* space after size */
		"5;\r\nhello\r\n0\r\n\r\n",	/* empty extension */
		"5\nhello\r\n0\r\n\r\n",	/* bare LF */
		"5\r\nhelloX\r\n0\r\n\r\n",	/* data longer than size */
		"g\r\n",			/* not hex */
		"\r\n",				/* no size */
		"11111111111111111\r\n",	/* 17 digits */
		"0\r\nX : y\r\n\r\n",		/* bad trailer */
		"0\r\n\r\r",			/* bad final CRLF */
		"1;a=\"b\r\n",			/* unterminated quote */
	};
	for (size_t i = 0; i < CX_ARRAY_LEN(bad); i++) {
		http1_chunked_init(&ck);
		r = http1_chunked_parse(&ck, bad[i], strlen(bad[i]), &used, NULL, NULL);
		if (r != CX_ERR)
			fail_msg("chunked case %zu accepted", i);
		assert_non_null(ck.error);
	}
	/* A huge but valid size: AGAIN while data is missing. */
	http1_chunked_init(&ck);
	assert_int_equal(http1_chunked_parse(&ck, "ffffffffffffffff\r\nabc", 21, &used, NULL, NULL),
	    CX_AGAIN);
	assert_int_equal(used, 21);
}

/* ---- conformance table over llhttp's vectors ---- */

/*
 * Our verdict on a whole test input: parse every message in it, bodies too.
 * With add_host, a request refused only for lacking Host gets
 * "Host: vectors.test" inserted after its request line and is parsed again,
 * so that the rest of the case is still compared with llhttp.
 */
static bool
accepts(const char *in, size_t inlen, bool add_host, const char **why)
{
	struct buf b;
	size_t off = 0;
	bool ok = true;

	*why = "";
	buf_init(&b, 0);
	buf_add(&b, in, inlen);
	while (off < b.len) {
		struct http_request req;
		int r = http1_parse_request(b.data + off, b.len - off, 16384, &req);

		if (r == CX_ERR && add_host && req.status == 400 &&
		    strcmp(req.error, "no Host in an HTTP/1.1 request") == 0) {
			const char *eol = memmem(b.data + off, b.len - off, "\r\n", 2);
			size_t at;

			while (eol == b.data + off)	/* leading empty lines */
				eol = memmem(eol + 2, b.len - (size_t)(eol + 2 - b.data), "\r\n", 2);
			at = (size_t)(eol + 2 - b.data);
			buf_add(&b, "", 0);
			if (buf_reserve(&b, 20) == -1)
				fail();
			memmove(b.data + at + 20, b.data + at, b.len - at);
			memcpy(b.data + at, "Host: vectors.test\r\n", 20);
			b.len += 20;
			r = http1_parse_request(b.data + off, b.len - off, 16384, &req);
		}
		if (r == CX_AGAIN)
			break;		/* incomplete is not refused */
		if (r == CX_ERR) {
			*why = req.error;
			ok = false;
			break;
		}
		off += req.head_len;
		/* After an upgrade or CONNECT the bytes are no longer HTTP. */
		if (req.upgrade || http_slice_eq(req.method, "CONNECT"))
			break;
		if (req.chunked) {
			struct http_chunked ck;
			size_t used;

			http1_chunked_init(&ck);
			r = http1_chunked_parse(&ck, b.data + off, b.len - off, &used, NULL, NULL);
			if (r == CX_ERR) {
				*why = ck.error;
				ok = false;
				break;
			}
			if (r == CX_AGAIN)
				break;
			off += used;
		} else if (req.content_length > 0) {
			if ((uint64_t)req.content_length >= b.len - off)
				break;
			off += (size_t)req.content_length;
		}
	}
	buf_free(&b);
	return ok;
}

struct expected {
	char name[128];
	bool accept;
	bool host_only;		/* refused only for lacking Host */
	bool used;
};

static size_t
load_expected(const char *path, struct expected *ex, size_t max)
{
	char *text = read_file(path, 1 << 20, NULL), *save = NULL;
	size_t n = 0;

	if (text == NULL)
		fail_msg("cannot read %s", path);
	for (char *line = strtok_r(text, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		char name[128], verdict[16];

		if (line[0] == '#' || line[0] == '\0')
			continue;
		if (sscanf(line, "%127s %15s", name, verdict) != 2 ||
		    (strcmp(verdict, "accept") != 0 && strcmp(verdict, "refuse") != 0 &&
		    strcmp(verdict, "refuse-host") != 0) ||
		    strlen(line) <= strlen(name) + strlen(verdict) + 2)
			fail_msg("%s: bad line (want: CASE accept|refuse|refuse-host REASON): %s",
			    path, line);
		if (n == max)
			fail_msg("%s: too many lines", path);
		str_copy(ex[n].name, sizeof(ex[n].name), name);
		ex[n].accept = strcmp(verdict, "accept") == 0;
		ex[n].host_only = strcmp(verdict, "refuse-host") == 0;
		ex[n].used = false;
		n++;
	}
	free(text);
	return n;
}

static void
test_llhttp_vectors(void **state)
{
	const char *dir = getenv("CX_HTTP_VECTORS");
	const char *expath = getenv("CX_HTTP1_EXPECTED");
	bool print = getenv("CX_HTTP1_VECTORS_PRINT") != NULL;
	static struct expected ex[512];
	size_t nex, ncases = 0, nagree = 0, failures = 0;
	char path[4096], jerr[256] = "", *text;
	size_t tlen;
	jv *index;

	(void)state;
	if (dir == NULL)
		dir = "tests/data/llhttp";
	if (expath == NULL)
		expath = "tests/unit/http1-vectors.expected";
	snprintf(path, sizeof(path), "%s/index.json", dir);
	text = read_file(path, 16 << 20, &tlen);
	index = text != NULL ? jv_parse(text, tlen, jerr, sizeof(jerr)) : NULL;
	free(text);
	if (!jv_is_array(index))
		fail_msg("cannot load %s (set CX_HTTP_VECTORS): %s", path,
		    jerr[0] ? jerr : "unreadable or not an array");
	nex = load_expected(expath, ex, CX_ARRAY_LEN(ex));

	for (size_t i = 0; i < jv_len(index); i++) {
		jv *e = jv_at(index, i);
		const char *type = jv_str_or(jv_get(e, "meta"), "type", NULL);
		const char *bin = jv_str_or(e, "bin", NULL);
		const char *expect = jv_str_or(e, "expect", NULL);
		const char *name = jv_str_or(e, "name", NULL);
		bool llhttp_ok, ours, ours_host, want;
		const char *why, *why_host;
		struct expected *x = NULL;
		char *data;
		size_t len;

		if (type == NULL || bin == NULL || expect == NULL)
			fail_msg("%s: case %zu lacks meta.type, bin or expect", path, i);
		if (strcmp(type, "request") != 0)
			continue;	/* lenient modes and responses */
		ncases++;
		snprintf(path, sizeof(path), "%s/%s", dir, bin);
		data = read_file(path, 1 << 20, &len);
		if (data == NULL)
			fail_msg("cannot read %s", path);
		llhttp_ok = strcmp(expect, "ok") == 0;
		ours = accepts(data, len, false, &why);
		ours_host = accepts(data, len, true, &why_host);
		free(data);
		for (size_t k = 0; k < nex; k++) {
			if (strcmp(ex[k].name, bin) == 0) {
				x = &ex[k];
				break;
			}
		}
		want = llhttp_ok;
		if (x != NULL) {
			x->used = true;
			if (x->accept == llhttp_ok) {
				print_error("%s: listed in %s but llhttp agrees with it; drop the line\n",
				    bin, expath);
				failures++;
			}
			want = x->accept;
		}
		if (x != NULL && x->host_only) {
			/* Refused for lacking Host, and with Host as llhttp says. */
			if (ours_host != llhttp_ok) {
				print_error("%s (%s): with a Host added we %s (%s), llhttp: %s\n",
				    bin, name ? name : "", ours_host ? "accept" : "refuse",
				    why_host, expect);
				failures++;
			}
		}
		if (print && ours != llhttp_ok)
			printf("%s %s %s [%s] (llhttp: %s)\n", bin,
			    ours ? "accept" : ours_host == llhttp_ok ? "refuse-host" : "refuse",
			    why, name ? name : "", expect);
		if (ours != want) {
			print_error("%s (%s): we %s, expected %s (llhttp: %s)\n", bin,
			    name ? name : "", ours ? "accept" : "refuse",
			    want ? "accept" : "refuse", expect);
			failures++;
		} else if (ours == llhttp_ok) {
			nagree++;
		}
	}
	for (size_t k = 0; k < nex; k++) {
		if (!ex[k].used) {
			print_error("%s lists %s, which is not a strict request case\n", expath,
			    ex[k].name);
			failures++;
		}
	}
	printf("# llhttp vectors: %zu strict request cases, %zu agree, %zu known disagreements\n",
	    ncases, nagree, nex);
	jv_free(index);
	if (ncases < 100)
		fail_msg("only %zu strict request cases in %s", ncases, dir);
	if (failures > 0)
		fail_msg("%zu conformance failures", failures);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_simple_get),
		cmocka_unit_test(test_incremental),
		cmocka_unit_test(test_keep_alive),
		cmocka_unit_test(test_empty_lines),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_response),
		cmocka_unit_test(test_chunked),
		cmocka_unit_test(test_llhttp_vectors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
