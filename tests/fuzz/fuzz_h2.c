/*
 * fuzz_h2.c — libFuzzer target for the router's HTTP/2 conversion
 * (src/router/h2conv.c). An input is a header list as an HTTP/2 client
 * could send it, one field a line ("name\tvalue"; the first byte's low bit:
 * a body follows): each field goes through h2_req_add, and a head that
 * h2_req_head makes must parse with the HTTP/1.1 parser as exactly the
 * request it meant — one head, no more (nothing smuggled after it), the
 * same method, target and Host, chunked only when it said so. The same
 * bytes are also taken as an upstream's response head: its HTTP/2 fields
 * must be lower case, inside the buffers, and none connection-specific.
 * Built and run by tests/fuzz/smoke.sh (`make fuzz`), seeded from
 * tests/fuzz/h2-seeds.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/http1.h"
#include "common/util.h"
#include "router/h2.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool
slice_is(struct http_slice s, const char *p, size_t n)
{
	return s.n == n && memcmp(s.p, p, n) == 0;
}

static void
fuzz_request(const char *in, size_t len)
{
	static struct http_request req;
	struct h2_req r;
	struct buf head;
	bool body = len > 0 && (in[0] & 1);
	size_t i = len > 0 ? 1 : 0;
	bool refused = false;

	h2_req_init(&r);
	while (i < len && !refused) {
		const char *line = in + i, *nl = memchr(line, '\n', len - i), *tab;
		size_t n = nl != NULL ? (size_t)(nl - line) : len - i;

		i += n + 1;
		tab = memchr(line, '\t', n);
		if (tab == NULL)
			continue;
		if (h2_req_add(&r, line, (size_t)(tab - line), tab + 1, n - (size_t)(tab - line) - 1) ==
		    -1)
			refused = true;
	}
	buf_init(&head, 0);
	if (!refused && h2_req_head(&r, body, &head) == 0 &&
	    http1_parse_request(head.data, head.len, 2 * 65536, &req) == CX_OK) {
		bool connect = strcmp(r.method, "CONNECT") == 0;

		if (req.head_len != head.len || !slice_is(req.method, r.method, strlen(r.method)))
			abort();
		if (!connect && !slice_is(req.target, r.path.data, r.path.len))
			abort();
		if (r.has_authority && !slice_is(req.host, r.authority.data, r.authority.len))
			abort();
		if (req.chunked != (body && !r.has_length))
			abort();
	}
	buf_free(&head);
	h2_req_free(&r);
}

static bool
forbidden(const char *name, size_t n)
{
	static const char *const names[] = { "connection", "keep-alive", "proxy-connection",
		"transfer-encoding", "upgrade", "te" };

	for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
		if (n == strlen(names[k]) && memcmp(name, names[k], n) == 0)
			return true;
	}
	return false;
}

static void
fuzz_response(const char *in, size_t len)
{
	static struct http_response resp;
	struct h2_field f[HTTP_MAX_HEADERS];
	char names[4096];
	size_t n;

	if (http1_parse_response(in, len, 4096, &resp) != CX_OK)
		return;
	n = h2_response_fields(&resp, f, HTTP_MAX_HEADERS, names, sizeof(names));
	for (size_t k = 0; k < n; k++) {
		if (f[k].name < names || f[k].name + f[k].namelen > names + sizeof(names) ||
		    f[k].value < in || f[k].value + f[k].valuelen > in + len)
			abort();
		for (size_t j = 0; j < f[k].namelen; j++) {
			if (f[k].name[j] >= 'A' && f[k].name[j] <= 'Z')
				abort();
		}
		if (forbidden(f[k].name, f[k].namelen))
			abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *copy = xmalloc(size + 1);

	memcpy(copy, data, size);
	copy[size] = '\0';
	fuzz_request(copy, size);
	fuzz_response(copy, size);
	h2_preface(copy, size);
	free(copy);
	return 0;
}
