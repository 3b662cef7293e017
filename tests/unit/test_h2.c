/*
 * test_h2.c — the pure part of the router's HTTP/2 (h2.c): the preface
 * check, an HTTP/2 header list into an HTTP/1.1 request head (pseudo-headers
 * into the request line, Host from :authority, cookies joined, the fields
 * RFC 9113 8.2.2 forbids refused), and an HTTP/1.1 response head into HTTP/2
 * fields (hop-by-hop and connection-specific ones dropped, names lower case).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "common/http1.h"
#include "common/util.h"
#include "router/h2.h"

static int
add(struct h2_req *r, const char *name, const char *value)
{
	return h2_req_add(r, name, strlen(name), value, strlen(value));
}

/* r gets :method GET, :scheme https, :path path and, when set, :authority. */
static void
get(struct h2_req *r, const char *path, const char *authority)
{
	h2_req_init(r);
	assert_int_equal(add(r, ":method", "GET"), 0);
	assert_int_equal(add(r, ":scheme", "https"), 0);
	assert_int_equal(add(r, ":path", path), 0);
	if (authority != NULL)
		assert_int_equal(add(r, ":authority", authority), 0);
}

/* The head r makes (body or not), compared with want; r is freed. */
static void
head_is(struct h2_req *r, bool body, const char *want)
{
	struct buf b;

	buf_init(&b, 0);
	assert_int_equal(h2_req_head(r, body, &b), 0);
	assert_string_equal(buf_cstr(&b), want);
	buf_free(&b);
	h2_req_free(r);
}

static void
test_preface(void **state)
{
	static const char pri[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

	(void)state;
	assert_int_equal(h2_preface(pri, sizeof(pri) - 1), 1);
	assert_int_equal(h2_preface("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\x12\x04", 28), 1);
	assert_int_equal(h2_preface("PRI * HTTP/2.0\r\n", 16), 0);
	assert_int_equal(h2_preface("P", 1), 0);
	assert_int_equal(h2_preface("GET / HTTP/1.1\r\n", 16), -1);
	assert_int_equal(h2_preface("PRI * HTTP/1.1\r\n", 16), -1);
}

static void
test_request_head(void **state)
{
	struct h2_req r;

	(void)state;
	/* The request line from :method and :path, Host from :authority. */
	get(&r, "/a?b=1", "web.example.test:8443");
	assert_int_equal(add(&r, "accept", "*/*"), 0);
	assert_int_equal(add(&r, "x-request-id", "abc"), 0);
	head_is(&r, false, "GET /a?b=1 HTTP/1.1\r\nHost: web.example.test:8443\r\n"
	    "accept: */*\r\nx-request-id: abc\r\n\r\n");

	/* No :authority: the host field carries it. */
	get(&r, "/", NULL);
	assert_int_equal(add(&r, "host", "other.test"), 0);
	head_is(&r, false, "GET / HTTP/1.1\r\nhost: other.test\r\n\r\n");

	/* Both: :authority wins, the host field is not sent twice. */
	get(&r, "/", "web.test");
	assert_int_equal(add(&r, "host", "other.test"), 0);
	head_is(&r, false, "GET / HTTP/1.1\r\nHost: web.test\r\n\r\n");

	/* Cookies, one field each in HTTP/2, become one header (RFC 9113 8.2.3). */
	get(&r, "/", "web.test");
	assert_int_equal(add(&r, "cookie", "a=1"), 0);
	assert_int_equal(add(&r, "accept", "*/*"), 0);
	assert_int_equal(add(&r, "cookie", "b=2"), 0);
	head_is(&r, false, "GET / HTTP/1.1\r\nHost: web.test\r\naccept: */*\r\n"
	    "Cookie: a=1; b=2\r\n\r\n");

	/* TE: trailers is the one TE HTTP/2 allows. */
	get(&r, "/", "web.test");
	assert_int_equal(add(&r, "te", "trailers"), 0);
	head_is(&r, false, "GET / HTTP/1.1\r\nHost: web.test\r\nte: trailers\r\n\r\n");

	/* CONNECT has no :scheme or :path: its target is the authority. */
	h2_req_init(&r);
	assert_int_equal(add(&r, ":method", "CONNECT"), 0);
	assert_int_equal(add(&r, ":authority", "db.test:5432"), 0);
	head_is(&r, false, "CONNECT db.test:5432 HTTP/1.1\r\nHost: db.test:5432\r\n\r\n");
}

static void
test_request_body(void **state)
{
	struct h2_req r;

	(void)state;
	/* A body without a declared length goes upstream chunked. */
	h2_req_init(&r);
	assert_int_equal(add(&r, ":method", "POST"), 0);
	assert_int_equal(add(&r, ":scheme", "http"), 0);
	assert_int_equal(add(&r, ":path", "/up"), 0);
	assert_int_equal(add(&r, ":authority", "web.test"), 0);
	head_is(&r, true, "POST /up HTTP/1.1\r\nHost: web.test\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n");
	/* One with Content-Length keeps it, and no chunks. */
	h2_req_init(&r);
	assert_int_equal(add(&r, ":method", "POST"), 0);
	assert_int_equal(add(&r, ":scheme", "http"), 0);
	assert_int_equal(add(&r, ":path", "/up"), 0);
	assert_int_equal(add(&r, ":authority", "web.test"), 0);
	assert_int_equal(add(&r, "content-length", "5"), 0);
	head_is(&r, true, "POST /up HTTP/1.1\r\nHost: web.test\r\ncontent-length: 5\r\n\r\n");
}

/* Adding name: value to a fresh GET is refused with error. */
static void
refused(const char *name, const char *value, const char *error)
{
	struct h2_req r;

	get(&r, "/", "web.test");
	assert_int_equal(add(&r, name, value), -1);
	assert_string_equal(r.error, error);
	h2_req_free(&r);
}

static void
test_refused_fields(void **state)
{
	struct h2_req r;
	char big[H2_MAX_HEADER_LIST];

	(void)state;
	/* RFC 9113 8.2.2: connection-specific fields. */
	refused("connection", "keep-alive", "connection-specific field");
	refused("keep-alive", "timeout=5", "connection-specific field");
	refused("proxy-connection", "keep-alive", "connection-specific field");
	refused("transfer-encoding", "chunked", "connection-specific field");
	refused("upgrade", "websocket", "connection-specific field");
	refused("te", "gzip", "TE other than trailers");
	/* Field names are lower case in HTTP/2; values carry no line breaks. */
	refused("Accept", "*/*", "upper-case field name");
	refused("x-a", "1\r\nx-injected: 2", "CR, LF or NUL in a field value");
	/* Pseudo-headers: known ones, once each, before every regular field. */
	refused(":path", "/again", "bad, empty or repeated :path");
	refused(":authority", "other.test", "bad or repeated :authority");
	refused(":protocol", "websocket", "unknown pseudo-header");
	get(&r, "/", "web.test");
	assert_int_equal(add(&r, "accept", "*/*"), 0);
	assert_int_equal(add(&r, ":authority", "late.test"), -1);
	assert_string_equal(r.error, "pseudo-header after a regular field");
	h2_req_free(&r);
	/* What goes into the request line or Host cannot break it. */
	h2_req_init(&r);
	assert_int_equal(add(&r, ":method", "GET / HTTP/1.1"), -1);
	assert_string_equal(r.error, "bad or repeated :method");
	assert_int_equal(add(&r, ":path", "/a b"), -1);
	assert_string_equal(r.error, "bad, empty or repeated :path");
	assert_int_equal(add(&r, ":path", "http://elsewhere.test/"), -1);
	assert_string_equal(r.error, "bad, empty or repeated :path");
	assert_int_equal(add(&r, ":path", "*"), 0);
	assert_int_equal(add(&r, ":authority", "a.test/x"), -1);
	assert_string_equal(r.error, "bad or repeated :authority");
	h2_req_free(&r);
	refused("host", "a b", "bad or repeated host");
	/* The list is capped as SETTINGS_MAX_HEADER_LIST_SIZE says. */
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	refused("x-big", big, "header list too large");
}

static void
test_incomplete_request(void **state)
{
	struct h2_req r;
	struct buf b;

	(void)state;
	buf_init(&b, 0);
	h2_req_init(&r);
	assert_int_equal(add(&r, ":method", "GET"), 0);
	assert_int_equal(add(&r, ":authority", "web.test"), 0);
	assert_int_equal(h2_req_head(&r, false, &b), -1);
	assert_string_equal(r.error, "no :scheme or :path");
	h2_req_free(&r);
	get(&r, "/", NULL);
	assert_int_equal(h2_req_head(&r, false, &b), -1);
	assert_string_equal(r.error, "neither :authority nor host");
	h2_req_free(&r);
	buf_free(&b);
}

static void
test_response_fields(void **state)
{
	static const char head[] = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
	    "Connection: keep-alive, X-Hop\r\nX-Hop: secret\r\nKeep-Alive: timeout=5\r\n"
	    "Transfer-Encoding: chunked\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n\r\n";
	static const char two[] = "HTTP/1.1 200 OK\r\nConnection: X-Hop\r\nX-Hop: secret\r\n"
	    "X-Two: also\r\nConnection: keep-alive, x-two\r\nContent-Type: text/plain\r\n\r\n";
	struct http_response resp;
	struct h2_field f[8];
	char names[256];
	size_t n;

	(void)state;
	assert_int_equal(http1_parse_response(head, sizeof(head) - 1, 0, &resp), CX_OK);
	n = h2_response_fields(&resp, f, 8, names, sizeof(names));
	assert_int_equal(n, 3);
	assert_int_equal(f[0].namelen, 12);
	assert_memory_equal(f[0].name, "content-type", 12);
	assert_memory_equal(f[0].value, "text/plain", f[0].valuelen);
	assert_memory_equal(f[1].name, "set-cookie", 10);
	assert_memory_equal(f[1].value, "a=1", 3);
	assert_memory_equal(f[2].name, "set-cookie", 10);
	assert_memory_equal(f[2].value, "b=2", 3);
	/* Room for the names is respected: a field that does not fit is left out. */
	n = h2_response_fields(&resp, f, 8, names, 12);
	assert_int_equal(n, 1);
	/* Each Connection field names hop-by-hop ones, not only the last. */
	assert_int_equal(http1_parse_response(two, sizeof(two) - 1, 0, &resp), CX_OK);
	n = h2_response_fields(&resp, f, 8, names, sizeof(names));
	assert_int_equal(n, 1);
	assert_memory_equal(f[0].name, "content-type", 12);
}

/* A gRPC request's head, rewritten for the upstream, as HTTP/2 fields. */
static void
test_request_fields(void **state)
{
	static const char head[] = "POST /cx.test.Echo/Echo HTTP/1.1\r\nHost: g.app.localhost\r\n"
	    "Content-Type: application/grpc\r\nTE: trailers\r\nTransfer-Encoding: chunked\r\n"
	    "X-Forwarded-For: 127.0.0.1\r\nGrpc-Timeout: 5S\r\nConnection: close\r\n\r\n";
	struct http_request req;
	struct h2_field f[8];
	char names[256];
	size_t n;

	(void)state;
	assert_int_equal(http1_parse_request(head, sizeof(head) - 1, 0, &req), CX_OK);
	n = h2_request_fields(&req, f, 8, names, sizeof(names));
	assert_int_equal(n, 4);
	assert_memory_equal(f[0].name, "content-type", 12);
	assert_memory_equal(f[0].value, "application/grpc", 16);
	assert_memory_equal(f[1].name, "x-forwarded-for", 15);
	assert_memory_equal(f[2].name, "grpc-timeout", 12);
	assert_memory_equal(f[2].value, "5S", 2);
	assert_int_equal(f[3].namelen, 2);
	assert_memory_equal(f[3].name, "te", 2);
	assert_memory_equal(f[3].value, "trailers", 8);
	/* "te: trailers" has its slot even when the others fill the rest. */
	n = h2_request_fields(&req, f, 2, names, sizeof(names));
	assert_int_equal(n, 2);
	assert_memory_equal(f[1].name, "te", 2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_preface),
		cmocka_unit_test(test_request_head),
		cmocka_unit_test(test_request_body),
		cmocka_unit_test(test_refused_fields),
		cmocka_unit_test(test_incomplete_request),
		cmocka_unit_test(test_response_fields),
		cmocka_unit_test(test_request_fields),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
