/*
 * test_reach.c — what the reach walk reads of an HTTP answer (a process's,
 * or a router's own with X-Cx-Router and X-Cx-Rack) and which names lie
 * under a peer's internal domain.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "rackd/reach.h"

static void
test_process_answer(void **state)
{
	struct reach_answer a;

	(void)state;
	reach_parse_answer("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nhello from svc/api\n"
	    "second line\n", &a);
	assert_int_equal(a.status, 200);
	assert_false(a.from_router);
	assert_string_equal(a.router_rack, "");
	assert_string_equal(a.line, "hello from svc/api");
}

static void
test_router_answer(void **state)
{
	struct reach_answer a;

	(void)state;
	reach_parse_answer("HTTP/1.1 503 Service Unavailable\r\nContent-Length: 20\r\n"
	    "x-cx-router: peer\r\nX-Cx-Rack: p2\r\n\r\nno healthy process\r\n", &a);
	assert_int_equal(a.status, 503);
	assert_true(a.from_router);
	assert_string_equal(a.router_rack, "p2");
	assert_string_equal(a.line, "no healthy process");
}

/* A body that names the headers is not a router's answer. */
static void
test_body_is_not_head(void **state)
{
	struct reach_answer a;

	(void)state;
	reach_parse_answer("HTTP/1.0 404 Not Found\r\nServer: x\r\n\r\n\nX-Cx-Router: public\n"
	    "X-Cx-Rack: evil\n", &a);
	assert_int_equal(a.status, 404);
	assert_false(a.from_router);
	assert_string_equal(a.router_rack, "");
	assert_string_equal(a.line, "");
}

static void
test_not_http(void **state)
{
	struct reach_answer a;

	(void)state;
	reach_parse_answer("", &a);
	assert_int_equal(a.status, 0);
	reach_parse_answer("SSH-2.0-OpenSSH_9.6\r\n", &a);
	assert_int_equal(a.status, 0);
	reach_parse_answer("HTTP/1.1 42 Odd\r\n\r\n", &a);
	assert_int_equal(a.status, 0);
	reach_parse_answer("HTTP/2 200\r\n\r\n", &a);
	assert_int_equal(a.status, 0);
}

static void
test_under(void **state)
{
	(void)state;
	assert_true(reach_under("api.svc.p2-internal.localhost", "p2-internal.localhost"));
	assert_true(reach_under("API.svc.P2-internal.localhost", "p2-internal.LOCALHOST"));
	assert_false(reach_under("p2-internal.localhost", "p2-internal.localhost"));
	assert_false(reach_under("api.svc.xp2-internal.localhost", "p2-internal.localhost"));
	assert_false(reach_under("api.svc.p2.localhost", "p2-internal.localhost"));
	assert_false(reach_under("anything", ""));
}

/* Only an answer whose X-Cx-Rack names A blames A's egress. */
static void
test_router_blame(void **state)
{
	struct reach_answer a;
	char why[512] = "";

	(void)state;
	reach_parse_answer("HTTP/1.1 200 OK\r\n\r\nhello\n", &a);
	assert_true(reach_router_ok(&a, "p1", "p2", why, sizeof(why)));
	reach_parse_answer("HTTP/1.1 503 x\r\nX-Cx-Router: peer\r\nX-Cx-Rack: p2\r\n\r\nnone\n", &a);
	assert_true(reach_router_ok(&a, "p1", "p2", why, sizeof(why)));
	reach_parse_answer("HTTP/1.1 404 x\r\nX-Cx-Router: peer\r\nX-Cx-Rack: p1\r\n\r\nno peer\n", &a);
	assert_false(reach_router_ok(&a, "p1", "p2", why, sizeof(why)));
	assert_string_equal(why, "p1's egress answered 404 itself, p2's router did not: no peer");
	reach_parse_answer("HTTP/1.1 502 x\r\nX-Cx-Router: peer\r\n\r\nbad gateway\n", &a);
	assert_false(reach_router_ok(&a, "p1", "p2", why, sizeof(why)));
	assert_string_equal(why, "an unknown router answered 502 (no X-Cx-Rack), neither p1's egress "
	    "nor p2's peer router: bad gateway");
	reach_parse_answer("HTTP/1.1 502 x\r\nX-Cx-Router: peer\r\nX-Cx-Rack: p7\r\n\r\nbad\n", &a);
	assert_false(reach_router_ok(&a, "p1", "p2", why, sizeof(why)));
	assert_string_equal(why, "an unknown router answered 502 (X-Cx-Rack: p7), neither p1's egress "
	    "nor p2's peer router: bad");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_process_answer),
		cmocka_unit_test(test_router_answer),
		cmocka_unit_test(test_body_is_not_head),
		cmocka_unit_test(test_not_http),
		cmocka_unit_test(test_under),
		cmocka_unit_test(test_router_blame),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
