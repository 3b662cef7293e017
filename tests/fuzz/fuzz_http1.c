/*
 * fuzz_http1.c — libFuzzer target for src/common/http1.c. Each input is fed
 * to the request parser, the response parser and the chunked decoder, and
 * the results are checked for consistency (slices inside the buffer, the
 * same verdict when the input arrives in pieces), not only for crashes.
 * Built and run by tests/fuzz/smoke.sh (`make fuzz`).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/http1.h"
#include "common/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_slice(struct http_slice s, const char *buf, size_t len)
{
	if (s.n > 0 && (s.p < buf || s.p + s.n > buf + len))
		abort();
}

static void
fuzz_request(const char *buf, size_t len)
{
	static struct http_request req, again;
	int r = http1_parse_request(buf, len, 4096, &req);

	if (r == CX_ERR) {
		if (req.status != 400 && req.status != 413 && req.status != 414 &&
		    req.status != 431 && req.status != 501 && req.status != 505)
			abort();
		return;
	}
	if (r != CX_OK)
		return;
	if (req.head_len == 0 || req.head_len > len || req.nheaders > HTTP_MAX_HEADERS)
		abort();
	check_slice(req.method, buf, req.head_len);
	check_slice(req.target, buf, req.head_len);
	check_slice(req.host, buf, req.head_len);
	for (size_t i = 0; i < req.nheaders; i++) {
		check_slice(req.headers[i].name, buf, req.head_len);
		check_slice(req.headers[i].value, buf, req.head_len);
	}
	if (req.chunked && req.content_length != -1)
		abort();
	/* The head alone parses the same; one byte less never completes. */
	if (http1_parse_request(buf, req.head_len, 4096, &again) != CX_OK ||
	    again.head_len != req.head_len)
		abort();
	if (http1_parse_request(buf, req.head_len - 1, 4096, &again) == CX_OK)
		abort();
}

static void
fuzz_response(const char *buf, size_t len)
{
	static struct http_response resp;

	if (http1_parse_response(buf, len, 4096, &resp) != CX_OK)
		return;
	if (resp.head_len > len || resp.status < 100 || resp.status > 999)
		abort();
	for (size_t i = 0; i < resp.nheaders; i++) {
		check_slice(resp.headers[i].name, buf, resp.head_len);
		check_slice(resp.headers[i].value, buf, resp.head_len);
	}
	(void)http1_response_body(&resp, false);
}

struct sum {
	uint64_t n, h;
};

static void
sum_cb(void *arg, const char *p, size_t n)
{
	struct sum *s = arg;

	for (size_t i = 0; i < n; i++)
		s->h = s->h * 31 + (unsigned char)p[i];
	s->n += n;
}

static void
fuzz_chunked(const char *buf, size_t len, unsigned step)
{
	struct http_chunked a, b;
	struct sum sa = { 0, 0 }, sb = { 0, 0 };
	size_t used_a, off = 0;
	int ra, rb = CX_AGAIN;

	http1_chunked_init(&a);
	ra = http1_chunked_parse(&a, buf, len, &used_a, sum_cb, &sa);
	if (used_a > len)
		abort();
	/* The same bytes in pieces of `step` give the same outcome. */
	http1_chunked_init(&b);
	while (off < len) {
		size_t n = len - off < step ? len - off : step, used;

		rb = http1_chunked_parse(&b, buf + off, n, &used, sum_cb, &sb);
		if (used > n)
			abort();
		off += used;
		if (rb != CX_AGAIN)
			break;
	}
	if (ra != rb || off != used_a || sa.n != sb.n || sa.h != sb.h)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size ? size : 1);	/* exact size, so ASan sees overreads */

	memcpy(buf, data, size);
	fuzz_request(buf, size);
	fuzz_response(buf, size);
	fuzz_chunked(buf, size, 1 + (size ? data[0] % 7 : 0));
	/* A request's body as a chunked body. */
	{
		struct http_request req;

		if (http1_parse_request(buf, size, 4096, &req) == CX_OK && req.chunked)
			fuzz_chunked(buf + req.head_len, size - req.head_len, 3);
	}
	free(buf);
	return 0;
}
