/*
 * h2conv.c — the pure part of h2.h: the client preface, an HTTP/2 header
 * list into an HTTP/1.1 request head, an HTTP/1.1 response head into HTTP/2
 * fields. No nghttp2, no socket: tests/unit/test_h2.c checks it, and
 * tests/fuzz/fuzz_h2.c that every head it makes parses as it meant.
 */
#include "router/h2.h"

#include <stdio.h>
#include <string.h>

#include "router/rewrite.h"

static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

int
h2_preface(const char *p, size_t n)
{
	size_t want = sizeof(preface) - 1;

	if (memcmp(p, preface, n < want ? n : want) != 0)
		return -1;
	return n >= want ? 1 : 0;
}

void
h2_req_init(struct h2_req *r)
{
	memset(r, 0, sizeof(*r));
	buf_init(&r->authority, 0);
	buf_init(&r->path, 0);
	buf_init(&r->fields, 0);
	buf_init(&r->cookie, 0);
}

void
h2_req_free(struct h2_req *r)
{
	buf_free(&r->authority);
	buf_free(&r->path);
	buf_free(&r->fields);
	buf_free(&r->cookie);
}

static bool
name_is(const char *name, size_t nlen, const char *lit)
{
	return nlen == strlen(lit) && memcmp(name, lit, nlen) == 0;
}

static int
req_fail(struct h2_req *r, const char *why)
{
	r->error = why;
	return -1;
}

/* A token (RFC 9110 5.6.2): what a method is made of. */
static bool
is_token(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)p[i];

		if (ch <= ' ' || ch >= 0x7f || strchr("\"(),/:;<=>?@[\\]{}", ch) != NULL)
			return false;
	}
	return n > 0;
}

/* Visible ASCII, no space: what a request target may hold. */
static bool
is_visible(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if ((unsigned char)p[i] <= ' ' || (unsigned char)p[i] >= 0x7f)
			return false;
	}
	return true;
}

/* A pseudo-header into its place: fixed ones into small arrays. Each value
 * goes into the request line or Host, so each is checked for what may
 * stand there (nothing may end the line or add a field). */
static int
req_pseudo(struct h2_req *r, const char *name, size_t nlen, const char *value, size_t vlen)
{
	if (r->regular_seen)
		return req_fail(r, "pseudo-header after a regular field");
	if (name_is(name, nlen, ":method")) {
		if (r->has_method || vlen >= sizeof(r->method) || !is_token(value, vlen))
			return req_fail(r, "bad or repeated :method");
		memcpy(r->method, value, vlen);
		r->method[vlen] = '\0';
		r->has_method = true;
	} else if (name_is(name, nlen, ":scheme")) {
		if (r->has_scheme || vlen == 0 || vlen >= sizeof(r->scheme) ||
		    !is_token(value, vlen))
			return req_fail(r, "bad or repeated :scheme");
		memcpy(r->scheme, value, vlen);
		r->scheme[vlen] = '\0';
		r->has_scheme = true;
	} else if (name_is(name, nlen, ":authority")) {
		if (r->has_authority || !rewrite_valid_authority((struct http_slice){ value, vlen }))
			return req_fail(r, "bad or repeated :authority");
		buf_add(&r->authority, value, vlen);
		r->has_authority = true;
	} else if (name_is(name, nlen, ":path")) {
		/* Origin form or "*" (RFC 9113 8.3.1): never an absolute form,
		 * whose authority could route elsewhere than :authority. */
		if (r->has_path || vlen == 0 || !is_visible(value, vlen) ||
		    (value[0] != '/' && !(vlen == 1 && value[0] == '*')))
			return req_fail(r, "bad, empty or repeated :path");
		buf_add(&r->path, value, vlen);
		r->has_path = true;
	} else {
		return req_fail(r, "unknown pseudo-header");
	}
	return 0;
}

int
h2_req_add(struct h2_req *r, const char *name, size_t nlen, const char *value, size_t vlen)
{
	r->list_size += nlen + vlen + 32;
	if (r->list_size > H2_MAX_HEADER_LIST)
		return req_fail(r, "header list too large");
	if (nlen == 0)
		return req_fail(r, "empty field name");
	for (size_t i = 0; i < vlen; i++) {
		if (value[i] == '\r' || value[i] == '\n' || value[i] == '\0')
			return req_fail(r, "CR, LF or NUL in a field value");
	}
	if (name[0] == ':')
		return req_pseudo(r, name, nlen, value, vlen);
	r->regular_seen = true;
	for (size_t i = 0; i < nlen; i++) {
		unsigned char ch = (unsigned char)name[i];

		if (ch >= 'A' && ch <= 'Z')
			return req_fail(r, "upper-case field name");
		if (ch <= ' ' || ch == ':' || ch >= 0x7f)
			return req_fail(r, "bad character in a field name");
	}
	if (name_is(name, nlen, "connection") || name_is(name, nlen, "keep-alive") ||
	    name_is(name, nlen, "proxy-connection") || name_is(name, nlen, "transfer-encoding") ||
	    name_is(name, nlen, "upgrade"))
		return req_fail(r, "connection-specific field");
	if (name_is(name, nlen, "te") && !(vlen == 8 && memcmp(value, "trailers", 8) == 0))
		return req_fail(r, "TE other than trailers");
	if (name_is(name, nlen, "cookie")) {
		if (r->cookie.len > 0)
			buf_add(&r->cookie, "; ", 2);
		buf_add(&r->cookie, value, vlen);
		return 0;
	}
	if (name_is(name, nlen, "host")) {
		if (r->has_host || !rewrite_valid_authority((struct http_slice){ value, vlen }))
			return req_fail(r, "bad or repeated host");
		r->has_host = true;
		if (r->has_authority)
			return 0;	/* :authority wins (RFC 9113 8.3.1) */
	}
	if (name_is(name, nlen, "content-length"))
		r->has_length = true;
	buf_add(&r->fields, name, nlen);
	buf_add(&r->fields, ": ", 2);
	buf_add(&r->fields, value, vlen);
	buf_add(&r->fields, "\r\n", 2);
	return 0;
}

int
h2_req_head(struct h2_req *r, bool body, struct buf *out)
{
	bool connect = strcmp(r->method, "CONNECT") == 0;

	buf_reset(out);
	if (!r->has_method)
		return req_fail(r, "no :method");
	if (!connect && (!r->has_scheme || !r->has_path))
		return req_fail(r, "no :scheme or :path");
	if (!r->has_authority && !r->has_host)
		return req_fail(r, "neither :authority nor host");
	if (r->has_authority && r->authority.len == 0)
		return req_fail(r, "empty :authority");
	buf_addf(out, "%s ", r->method);
	if (connect)
		buf_add(out, r->authority.data, r->authority.len);
	else
		buf_add(out, r->path.data, r->path.len);
	buf_adds(out, " HTTP/1.1\r\n");
	if (r->has_authority) {
		buf_adds(out, "Host: ");
		buf_add(out, r->authority.data, r->authority.len);
		buf_adds(out, "\r\n");
	}
	buf_add(out, r->fields.data, r->fields.len);
	if (r->cookie.len > 0) {
		buf_adds(out, "Cookie: ");
		buf_add(out, r->cookie.data, r->cookie.len);
		buf_adds(out, "\r\n");
	}
	if (body && !r->has_length)
		buf_adds(out, "Transfer-Encoding: chunked\r\n");
	buf_adds(out, "\r\n");
	return 0;
}

/* Response fields HTTP/2 has no place for (RFC 9113 8.2.2), beyond the
 * hop-by-hop ones rewrite.c drops for HTTP/1.1 clients too. */
static bool
h2_forbidden_response_field(struct http_slice name)
{
	return http_slice_eq(name, "transfer-encoding") || http_slice_eq(name, "upgrade") ||
	    http_slice_eq(name, "te") || http_slice_eq(name, "connection") ||
	    http_slice_eq(name, "keep-alive") || http_slice_eq(name, "proxy-connection");
}

/* One field for out: its name lower-cased into names[*used..cap). False
 * when names is full. */
static bool
h2_field_lower(const struct http_header *h, struct h2_field *out, char *names, size_t *used,
    size_t cap)
{
	char *lname = names + *used;

	if (*used + h->name.n > cap)
		return false;
	for (size_t k = 0; k < h->name.n; k++) {
		char ch = h->name.p[k];

		lname[k] = ch >= 'A' && ch <= 'Z' ? (char)(ch - 'A' + 'a') : ch;
	}
	*used += h->name.n;
	*out = (struct h2_field){ .name = lname, .namelen = h->name.n, .value = h->value.p,
		.valuelen = h->value.n };
	return true;
}

size_t
h2_response_fields(const struct http_response *resp, struct h2_field *out, size_t max,
    char *names, size_t cap)
{
	size_t n = 0, used = 0;

	for (size_t i = 0; i < resp->nheaders && n < max; i++) {
		const struct http_header *h = &resp->headers[i];

		if (rewrite_drop_response_field(resp, h->name, true) ||
		    h2_forbidden_response_field(h->name))
			continue;
		if (h2_field_lower(h, &out[n], names, &used, cap))
			n++;
	}
	return n;
}

size_t
h2_request_fields(const struct http_request *req, struct h2_field *out, size_t max, char *names,
    size_t cap)
{
	size_t n = 0, used = 0;

	for (size_t i = 0; i < req->nheaders && n + 1 < max; i++) {
		const struct http_header *h = &req->headers[i];

		if (http_slice_eq(h->name, "host") || h2_forbidden_response_field(h->name))
			continue;
		if (h2_field_lower(h, &out[n], names, &used, cap))
			n++;
	}
	if (n < max)
		out[n++] = (struct h2_field){ .name = "te", .namelen = 2, .value = "trailers",
			.valuelen = 8 };
	return n;
}
