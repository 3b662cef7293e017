/*
 * rewrite.c — the header rules of the router (rewrite.h): pure functions,
 * one per rule, and the three heads built from them (upstream request,
 * client response, local answer).
 */
#include "router/rewrite.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

void
rewrite_hostname(struct http_slice h, char *out, size_t outlen)
{
	size_t n = 0;

	if (outlen == 0)
		return;
	if (h.n > 0 && h.p[0] == '[') {
		const char *rb = memchr(h.p, ']', h.n);

		h.n = rb != NULL ? (size_t)(rb - h.p) + 1 : h.n;
	} else {
		const char *colon = memchr(h.p, ':', h.n);

		if (colon != NULL)
			h.n = (size_t)(colon - h.p);
	}
	if (h.n > outlen - 1)
		h.n = outlen - 1;
	for (; n < h.n; n++)
		out[n] = (char)tolower((unsigned char)h.p[n]);
	out[n] = '\0';
}

bool
rewrite_drop_request_header(struct http_slice name)
{
	switch (name.n) {
	case 2:
		return http_slice_eq(name, "te");
	case 7:
		return http_slice_eq(name, "upgrade");
	case 10:
		return http_slice_eq(name, "connection") || http_slice_eq(name, "keep-alive");
	case 12:
		return http_slice_eq(name, "x-request-id");
	case 14:
		return http_slice_eq(name, "x-cx-peer-rack");
	case 15:
		return http_slice_eq(name, "x-forwarded-for");
	case 16:
		return http_slice_eq(name, "proxy-connection") ||
		    http_slice_eq(name, "x-forwarded-port");
	case 17:
		return http_slice_eq(name, "x-forwarded-proto");
	default:
		return false;
	}
}

bool
rewrite_connection_names(struct http_slice tokens, struct http_slice name)
{
	char lit[64];

	if (tokens.n == 0 || name.n >= sizeof(lit))
		return false;
	memcpy(lit, name.p, name.n);
	lit[name.n] = '\0';
	return http_list_has(tokens, lit);
}

bool
rewrite_drop_response_header(struct http_slice name, bool dechunk, struct http_slice tokens)
{
	switch (name.n) {
	case 10:
		if (http_slice_eq(name, "connection") || http_slice_eq(name, "keep-alive"))
			return true;
		break;
	case 16:
		if (http_slice_eq(name, "proxy-connection"))
			return true;
		break;
	case 17:
		if (dechunk && http_slice_eq(name, "transfer-encoding"))
			return true;
		break;
	default:
		break;
	}
	return rewrite_connection_names(tokens, name);
}

bool
rewrite_drop_response_field(const struct http_response *resp, struct http_slice name,
    bool dechunk)
{
	if (rewrite_drop_response_header(name, dechunk, (struct http_slice){ "", 0 }))
		return true;
	for (size_t i = 0; i < resp->nheaders; i++) {
		if (resp->headers[i].name.n == 10 && http_slice_eq(resp->headers[i].name,
		    "connection") && rewrite_connection_names(resp->headers[i].value, name))
			return true;
	}
	return false;
}

bool
rewrite_valid_authority(struct http_slice a)
{
	for (size_t i = 0; i < a.n; i++) {
		unsigned char ch = (unsigned char)a.p[i];

		if (ch == 0 || (!isalnum(ch) && strchr("-._~%!$&'()*+,;=:[]", ch) == NULL))
			return false;
	}
	return true;
}

bool
rewrite_valid_request_id(struct http_slice v)
{
	if (v.n == 0 || v.n > 64)
		return false;
	for (size_t i = 0; i < v.n; i++) {
		unsigned char ch = (unsigned char)v.p[i];

		if (ch <= 0x20 || ch >= 0x7f || ch == '"' || ch == '\\')
			return false;
	}
	return true;
}

int
rewrite_absolute_target(struct http_slice *target, struct http_slice *authority,
    bool *origin_slash)
{
	struct http_slice t = *target, a;
	size_t skip, i;
	const char *at;

	if (!(t.n > 7 && (strncasecmp(t.p, "http://", 7) == 0 ||
	    (t.n > 8 && strncasecmp(t.p, "https://", 8) == 0))))
		return 0;
	skip = t.p[4] == ':' ? 7 : 8;
	for (i = skip; i < t.n && t.p[i] != '/' && t.p[i] != '?'; i++)
		;
	a.p = t.p + skip;
	a.n = i - skip;
	at = memchr(a.p, '@', a.n);
	if (at != NULL) {
		a.n -= (size_t)(at + 1 - a.p);
		a.p = at + 1;
	}
	t.p += i;
	t.n -= i;
	*target = t;
	*authority = a;
	*origin_slash = t.n == 0 || t.p[0] != '/';
	return a.n > 0 && !rewrite_valid_authority(a) ? -1 : 1;
}

void
rewrite_forwarded_tail(char *out, size_t outlen, bool tls, int port)
{
	snprintf(out, outlen, "\r\nX-Forwarded-Proto: %s\r\nX-Forwarded-Port: %d\r\nX-Request-Id: ",
	    tls ? "https" : "http", port);
}

/* Copies one header line (name through CRLF) from the parsed buffer. */
static void
copy_line(struct buf *b, const struct http_header *h)
{
	buf_add(b, h->name.p, h->name.n);
	buf_add(b, ": ", 2);
	buf_add(b, h->value.p, h->value.n);
	buf_add(b, "\r\n", 2);
}

void
rewrite_request_head(struct buf *b, const struct http_request *req,
    const struct rewrite_request *rw)
{
	struct http_slice tokens = { "", 0 }, upgrade = { "", 0 };

	buf_reset(b);
	buf_add(b, req->method.p, req->method.n);
	buf_add(b, " /", rw->origin_slash ? 2 : 1);
	buf_add(b, rw->target.p, rw->target.n);
	buf_adds(b, " HTTP/1.1\r\n");
	for (size_t i = 0; i < req->nheaders; i++) {
		const struct http_header *h = &req->headers[i];

		if (h->name.n == 10 && http_slice_eq(h->name, "connection"))
			tokens = h->value;	/* the last one, if repeated */
		if (h->name.n == 7 && http_slice_eq(h->name, "upgrade"))
			upgrade = h->value;
	}
	for (size_t i = 0; i < req->nheaders; i++) {
		const struct http_header *h = &req->headers[i];

		if (rewrite_drop_request_header(h->name) || rewrite_connection_names(tokens, h->name))
			continue;
		if (rw->authority.n > 0 && h->name.n == 4 && http_slice_eq(h->name, "host"))
			continue;
		copy_line(b, h);
	}
	if (rw->authority.n > 0) {
		buf_adds(b, "Host: ");
		buf_add(b, rw->authority.p, rw->authority.n);
		buf_adds(b, "\r\n");
	}
	buf_adds(b, "X-Forwarded-For: ");
	for (size_t i = 0; i < req->nheaders; i++) {
		const struct http_header *h = &req->headers[i];

		if (h->name.n == 15 && http_slice_eq(h->name, "x-forwarded-for") && h->value.n > 0) {
			buf_add(b, h->value.p, h->value.n);
			buf_adds(b, ", ");
		}
	}
	buf_adds(b, rw->client_ip);
	if (rw->peer_rack != NULL) {
		buf_adds(b, "\r\nX-Cx-Peer-Rack: ");
		buf_adds(b, rw->peer_rack);
	}
	/* Proto, Port, and the name of X-Request-Id */
	buf_adds(b, rw->xf_tail);
	buf_adds(b, rw->reqid);
	buf_add(b, "\r\n", 2);
	if (rw->upgrade) {
		buf_adds(b, "Connection: upgrade\r\nUpgrade: ");
		buf_add(b, upgrade.p, upgrade.n);
		buf_adds(b, "\r\n");
	}
	buf_adds(b, "\r\n");
}

/* Connection as the client connection will be: HTTP/1.1 keeps alive unless
 * told, HTTP/1.0 closes unless told. */
static void
connection_line(struct buf *b, bool keep, int minor)
{
	if (!keep)
		buf_adds(b, "Connection: close\r\n");
	else if (minor == 0)
		buf_adds(b, "Connection: keep-alive\r\n");
}

void
rewrite_interim_head(struct buf *b, const struct http_response *resp, const char *raw, int minor)
{
	if (minor != 1)
		return;
	buf_add(b, "HTTP/1.1 ", 9);
	buf_add(b, raw + 9, resp->head_len - 9);
}

void
rewrite_response_head(struct buf *b, const struct http_response *resp, const char *raw,
    bool dechunk, bool keep, int minor)
{
	/* Status line as the upstream wrote it, with our version. */
	buf_add(b, "HTTP/1.1 ", 9);
	buf_add(b, raw + 9, (size_t)(resp->reason.p + resp->reason.n - (raw + 9)));
	buf_add(b, "\r\n", 2);
	for (size_t i = 0; i < resp->nheaders; i++) {
		if (!rewrite_drop_response_field(resp, resp->headers[i].name, dechunk))
			copy_line(b, &resp->headers[i]);
	}
	connection_line(b, keep, minor);
	buf_adds(b, "\r\n");
}

void
rewrite_local_head(struct buf *b, const struct rewrite_local *l)
{
	/* X-Cx-Router marks an answer the router made itself (no route, no healthy
	 * process, a bad request...), so a client such as `cx services reach` can
	 * tell it from an app's own 404 or 503; X-Cx-Rack says whose router, so
	 * that across a peering it can tell the caller's egress from the peer's. */
	buf_addf(b, "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\n"
	    "Content-Length: %zu\r\nX-Cx-Router: %s\r\nX-Cx-Rack: %s\r\n", l->status,
	    http1_reason(l->status), l->body_len, l->router, l->rack);
	if (l->reqid != NULL && l->reqid[0] != '\0')
		buf_addf(b, "X-Request-Id: %s\r\n", l->reqid);
	if (l->headers != NULL)
		buf_adds(b, l->headers);
	connection_line(b, l->keep, l->minor);
	buf_adds(b, "\r\n");
}
