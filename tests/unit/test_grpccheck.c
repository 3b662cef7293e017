/*
 * test_grpccheck.c — the gRPC health check's pure parts (common/grpccheck.c):
 * HealthCheckResponse frames decoded (SERVING is 08 01), malformed ones
 * refused with a reason; and the bytes a check writes first: the client
 * preface, SETTINGS, the request's HEADERS, then its DATA (the empty
 * request in its 5-byte gRPC frame) with END_STREAM.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "common/grpccheck.h"

static void
test_decode(void **state)
{
	static const struct {
		const char *bytes;
		size_t n;
		int want;
	} v[] = {
		{ "\0\0\0\0\2\x08\x01", 7, GRPC_SERVING },
		{ "\0\0\0\0\2\x08\x02", 7, GRPC_NOT_SERVING },
		{ "\0\0\0\0\2\x08\x03", 7, GRPC_SERVICE_UNKNOWN },
		{ "\0\0\0\0\0", 5, GRPC_UNKNOWN },		/* proto3: the default, UNKNOWN */
		{ "\0\0\0\0\2\x08\x09", 7, GRPC_UNKNOWN },	/* a value this client does not know */
		/* unknown fields around field 1 are skipped: a string (2), a varint,
		 * a fixed32 and a fixed64 */
		{ "\0\0\0\0\x17\x12\x02hi\x18\x96\x01\x08\x01\x25\1\2\3\4\x29\1\2\3\4\5\6\7\x08", 28,
		    GRPC_SERVING },
		{ "\0\0\0\0\3\x08\x81\x00", 8, GRPC_SERVING },	/* a long varint of 1 */
	};
	static const struct {
		const char *bytes;
		size_t n;
		const char *why;
	} bad[] = {
		{ "\0\0\0", 3, "a gRPC frame is at least 5 bytes" },
		{ "\1\0\0\0\2\x08\x01", 7, "the answer is compressed" },
		{ "\0\0\0\0\3\x08\x01", 7, "the frame's length is not its message's" },
		{ "\0\0\0\0\1\x08", 6, "a truncated field" },
		{ "\0\0\0\0\2\x08\x81", 7, "a truncated field" },
		{ "\0\0\0\0\2\x12\x05", 7, "a field longer than the message" },
		{ "\0\0\0\0\3\x25\1\2", 8, "a truncated field" },
		{ "\0\0\0\0\2\x0b\x01", 7, "an unknown wire type" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		const char *why = NULL;

		assert_int_equal(grpc_health_decode((const uint8_t *)v[i].bytes, v[i].n, &why),
		    v[i].want);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *why = NULL;

		assert_int_equal(grpc_health_decode((const uint8_t *)bad[i].bytes, bad[i].n, &why),
		    -1);
		assert_string_equal(why, bad[i].why);
	}
}

/* Frame type and flags of each frame after the preface in p[0..n). */
static size_t
frames(const uint8_t *p, size_t n, int types[], int flags[], size_t lens[], const uint8_t *pay[],
    size_t max)
{
	size_t k = 0;

	while (n >= 9 && k < max) {
		size_t len = (size_t)p[0] << 16 | (size_t)p[1] << 8 | p[2];

		assert_true(9 + len <= n);
		types[k] = p[3];
		flags[k] = p[4];
		lens[k] = len;
		pay[k++] = p + 9;
		p += 9 + len;
		n -= 9 + len;
	}
	assert_int_equal(n, 0);
	return k;
}

static void
test_request_bytes(void **state)
{
	struct grpc_check *g = grpc_check_new("127.0.0.1:5000");
	uint8_t all[4096];
	size_t have = 0, n, k;
	const uint8_t *p, *pay[8];
	int types[8], flags[8];
	size_t lens[8];

	(void)state;
	assert_non_null(g);
	while ((n = grpc_check_output(g, &p)) > 0) {
		assert_true(have + n <= sizeof(all));
		memcpy(all + have, p, n);
		have += n;
		grpc_check_sent(g, n);
	}
	assert_true(have > 24);
	assert_memory_equal(all, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 24);
	k = frames(all + 24, have - 24, types, flags, lens, pay, 8);
	assert_int_equal(k, 3);
	assert_int_equal(types[0], 4);		/* SETTINGS */
	assert_int_equal(types[1], 1);		/* HEADERS */
	assert_true(flags[1] & 4);		/* END_HEADERS */
	assert_false(flags[1] & 1);		/* the body follows */
	assert_int_equal(types[2], 0);		/* DATA */
	assert_int_equal(flags[2], 1);		/* END_STREAM */
	assert_int_equal(lens[2], GRPC_CHECK_REQUEST_LEN);
	assert_memory_equal(pay[2], "\0\0\0\0\0", 5);
	/* Nothing from the server yet: pending; an HTTP/1.1 answer fails it
	 * (once our GOAWAY is out), saying so. */
	assert_int_equal(grpc_check_input(g, (const uint8_t *)"", 0), GRPC_CHECK_PENDING);
	assert_int_not_equal(grpc_check_input(g, (const uint8_t *)"HTTP/1.1 400 Bad\r\n\r\n", 20),
	    GRPC_CHECK_PASS);
	while ((n = grpc_check_output(g, &p)) > 0)
		grpc_check_sent(g, n);
	assert_int_equal(grpc_check_input(g, (const uint8_t *)"", 0), GRPC_CHECK_FAIL);
	assert_non_null(strstr(grpc_check_why(g), "HTTP/2"));
	grpc_check_free(g);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decode),
		cmocka_unit_test(test_request_bytes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
