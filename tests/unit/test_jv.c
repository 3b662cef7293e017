/*
 * test_jv.c — the JSON module's contract (common/jv.h): members dump in the
 * order they were set (the API's answers rely on it), strict and forgiving
 * getters, refused input, text that is not UTF-8, and ownership of what a
 * *_take call is given (ASan reports a leak or a double free).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "common/jv.h"

static void
assert_dump(const jv *v, const char *want)
{
	char *got = jv_dump(v);

	assert_string_equal(got, want);
	free(got);
}

static void
test_build_order(void **state)
{
	jv *o = jv_object_new(), *arr = jv_array_new();

	(void)state;
	jv_set_str(o, "zeta", "z");
	jv_set_int(o, "alpha", -3);
	jv_set_bool(o, "mid", true);
	jv_push_str(arr, "one");
	jv_push_take(arr, jv_object_new());
	jv_set_take(o, "list", arr);
	jv_set_str(o, "none", NULL);
	jv_set_int(o, "alpha", 9000000000);     /* replaced in its place */
	assert_dump(o, "{\"zeta\":\"z\",\"alpha\":9000000000,\"mid\":true,\"list\":[\"one\",{}],"
	    "\"none\":\"\"}");
	jv_del(o, "mid");
	jv_del(o, "missing");
	assert_dump(o, "{\"zeta\":\"z\",\"alpha\":9000000000,\"list\":[\"one\",{}],\"none\":\"\"}");
	jv_free(o);
	assert_dump(NULL, "null");
}

static void
test_not_utf8(void **state)
{
	jv *o = jv_object_new();

	(void)state;
	jv_set_str(o, "name", "a\xff" "b\xc3");
	assert_dump(o, "{\"name\":\"a?b?\"}");
	jv_free(o);
}

static void
test_take_into_nothing(void **state)
{
	jv *s = jv_array_new();

	(void)state;
	/* Not containers of the right kind: what was handed over is freed. */
	jv_set_take(s, "k", jv_object_new());
	jv_push_take(NULL, jv_array_new());
	jv_set_str(NULL, "k", "v");
	jv_set_take(s, "k", NULL);
	assert_int_equal(jv_len(s), 0);
	jv_free(s);
	jv_free(NULL);
}

static void
test_parse(void **state)
{
	char err[256];
	jv *v;

	(void)state;
	assert_null(jv_parse("GARBAGE", 7, err, sizeof(err)));
	assert_string_equal(err, "line 1 column 7: '[' or '{' expected near 'GARBAGE'");
	assert_null(jv_parse("{\"a\":1,\"a\":2}", 13, err, sizeof(err)));
	assert_non_null(strstr(err, "duplicate"));
	assert_null(jv_parse("\"top\"", 5, err, sizeof(err)));
	v = jv_parse("{\"b\":1,\"a\":[1,2]} trailing", 17, err, sizeof(err));
	assert_true(jv_is_object(v));
	assert_dump(v, "{\"b\":1,\"a\":[1,2]}");
	jv_free(v);
}

static void
test_getters(void **state)
{
	const char *text = "{\"s\":\"x\",\"n\":42,\"r\":1.5,\"t\":true,\"z\":null,\"d\":\"17\","
	    "\"o\":{\"in\":\"deep\"},\"a\":[\"p\",3]}";
	const char **keys;
	char err[128];
	size_t n;
	jv *v = jv_parse(text, strlen(text), err, sizeof(err)), *copy;

	(void)state;
	assert_non_null(v);
	/* Forgiving text, for showing. */
	assert_string_equal(jv_str(v, "s"), "x");
	assert_string_equal(jv_str(v, "n"), "42");
	assert_string_equal(jv_str(v, "t"), "true");
	assert_string_equal(jv_str(v, "z"), "");
	assert_string_equal(jv_str(v, "missing"), "");
	/* Strict strings, for input. */
	assert_string_equal(jv_str_or(v, "s", "def"), "x");
	assert_string_equal(jv_str_or(v, "n", "def"), "def");
	assert_null(jv_str_or(v, "t", NULL));
	assert_string_equal(jv_str_or(jv_get(v, "o"), "in", ""), "deep");
	assert_string_equal(jv_str_or(jv_get(v, "nope"), "in", "chain"), "chain");
	/* Numbers and types. */
	assert_int_equal(jv_int(v, "n"), 42);
	assert_int_equal(jv_int(v, "r"), 1);
	assert_int_equal(jv_int(v, "d"), 17);
	assert_int_equal(jv_int(v, "s"), 0);
	assert_true(jv_is_int(jv_get(v, "n")));
	assert_false(jv_is_int(jv_get(v, "r")));
	assert_false(jv_is_int(jv_get(v, "d")));
	assert_true(jv_is_string(jv_get(v, "s")));
	assert_false(jv_is_string(jv_get(v, "n")));
	assert_true(jv_bool(v, "t"));
	assert_false(jv_bool(v, "n"));
	/* Arrays. */
	assert_true(jv_is_array(jv_get(v, "a")));
	assert_int_equal(jv_len(jv_get(v, "a")), 2);
	assert_string_equal(jv_string_value(jv_at(jv_get(v, "a"), 0)), "p");
	assert_string_equal(jv_string_value(jv_at(jv_get(v, "a"), 1)), "");
	assert_null(jv_at(jv_get(v, "a"), 2));
	assert_int_equal(jv_len(v), 0);
	/* Keys, in order and sorted. */
	keys = jv_keys(v, &n);
	assert_int_equal(n, 8);
	assert_string_equal(keys[0], "s");
	assert_string_equal(keys[7], "a");
	assert_null(keys[8]);
	free(keys);
	keys = jv_keys_sorted(v, &n);
	assert_string_equal(keys[0], "a");
	assert_string_equal(keys[7], "z");
	free(keys);
	keys = jv_keys(jv_get(v, "s"), &n);
	assert_int_equal(n, 0);
	assert_null(keys[0]);
	free(keys);
	/* A copied member outlives its source. */
	copy = jv_object_new();
	jv_copy_member(copy, "inner", v, "o");
	jv_copy_member(copy, "gone", v, "missing");
	jv_free(v);
	assert_dump(copy, "{\"inner\":{\"in\":\"deep\"}}");
	jv_free(copy);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_build_order),
		cmocka_unit_test(test_not_utf8),
		cmocka_unit_test(test_take_into_nothing),
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_getters),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
