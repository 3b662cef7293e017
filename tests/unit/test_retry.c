/*
 * test_retry.c — the router's retry rule (retry.c): which failed requests
 * are sent again, and where, and that none is sent more than its once.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdint.h>
#include <cmocka.h>

#include "router/retry.h"

static void
test_connect_failed(void **state)
{
	(void)state;
	/* Never got there: whatever the method, another upstream, once. */
	assert_int_equal(retry_decide(&(struct retry_case){ .connect_failed = true,
	    .has_body = true }), RETRY_OTHER);
	assert_int_equal(retry_decide(&(struct retry_case){ .connect_failed = true,
	    .tried_other = true }), RETRY_NO);
}

static void
test_answered_never(void **state)
{
	(void)state;
	assert_int_equal(retry_decide(&(struct retry_case){ .answered = true,
	    .safe_method = true }), RETRY_NO);
	assert_int_equal(retry_decide(&(struct retry_case){ .answered = true,
	    .reused = true }), RETRY_NO);
}

static void
test_stale_pooled(void **state)
{
	(void)state;
	/* A pooled connection the process had closed: a new one to it, once;
	 * a POST too, as long as not all of its head left (a write refused). */
	assert_int_equal(retry_decide(&(struct retry_case){ .reused = true, .has_body = true }),
	    RETRY_FRESH_SAME);
	assert_int_equal(retry_decide(&(struct retry_case){ .reused = true, .safe_method = true,
	    .head_sent = true }), RETRY_FRESH_SAME);
	/* ...but a POST whose whole head went may have been read and done. */
	assert_int_equal(retry_decide(&(struct retry_case){ .reused = true, .head_sent = true }),
	    RETRY_NO);
	assert_int_equal(retry_decide(&(struct retry_case){ .reused = true, .has_body = true,
	    .head_sent = true }), RETRY_NO);
	assert_int_equal(retry_decide(&(struct retry_case){ .reused = true, .has_body = true,
	    .body_sent = true }), RETRY_NO);
	assert_int_equal(retry_decide(&(struct retry_case){ .reused = true, .retried_fresh = true,
	    .has_body = true }), RETRY_NO);
	/* ...but if that new connection is refused, the process may have died
	 * with the POST read: it is not sent to another one (a GET is). */
	assert_int_equal(retry_decide(&(struct retry_case){ .connect_failed = true,
	    .retried_fresh = true, .has_body = true }), RETRY_NO);
	assert_int_equal(retry_decide(&(struct retry_case){ .connect_failed = true,
	    .retried_fresh = true }), RETRY_NO);
	assert_int_equal(retry_decide(&(struct retry_case){ .connect_failed = true,
	    .retried_fresh = true, .safe_method = true }), RETRY_OTHER);
	/* A GET whose new connection failed too goes to another upstream. */
	assert_int_equal(retry_decide(&(struct retry_case){ .reused = false,
	    .retried_fresh = true, .safe_method = true }), RETRY_OTHER);
}

static void
test_died_with_it(void **state)
{
	(void)state;
	/* A new connection closed without an answer (kill -9 of the process):
	 * a body-less GET or HEAD goes to another upstream, once. */
	assert_int_equal(retry_decide(&(struct retry_case){ .safe_method = true }), RETRY_OTHER);
	assert_int_equal(retry_decide(&(struct retry_case){ .safe_method = true,
	    .tried_other = true }), RETRY_NO);
	/* A GET with a body, a POST, a DELETE: it may have been done. */
	assert_int_equal(retry_decide(&(struct retry_case){ .safe_method = true,
	    .has_body = true }), RETRY_NO);
	assert_int_equal(retry_decide(&(struct retry_case){ 0 }), RETRY_NO);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_connect_failed),
		cmocka_unit_test(test_answered_never),
		cmocka_unit_test(test_stale_pooled),
		cmocka_unit_test(test_died_with_it),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
