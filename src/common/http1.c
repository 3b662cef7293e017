/*
 * http1.c — see http1.h. Head parsers walk the buffer once from the start
 * with byte-class tables; the chunked decoder is a byte-driven state machine
 * that skips over chunk data in bulk.
 */
#include "common/http1.h"

#include <string.h>

#include "common/util.h"

/* Byte classes. */
enum {
	C_TCHAR = 1 << 0,	/* token: ALPHA DIGIT !#$%&'*+-.^_`|~ */
	C_TARGET = 1 << 1,	/* request-target: visible ASCII 0x21-0x7e */
	C_VALUE = 1 << 2,	/* field-value: VCHAR obs-text SP HTAB */
	C_HOST = 1 << 3,	/* uri-host reg-name: unreserved pct sub-delims */
	C_QDTEXT = 1 << 4,	/* quoted-string text: HTAB SP 0x21 0x23-5B 0x5D-7E obs-text */
	C_HEX = 1 << 5,
};

static unsigned char cls[256];
static bool cls_ready;

static void
cls_init(void)
{
	const char *tspecial = "!#$%&'*+-.^_`|~";
	const char *hostspecial = "-._~%!$&'()*+,;=";

	if (__atomic_load_n(&cls_ready, __ATOMIC_ACQUIRE))
		return;
	for (int c = 0; c < 256; c++) {
		unsigned char v = 0;
		bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9');

		if (alnum || (c != 0 && strchr(tspecial, c) != NULL))
			v |= C_TCHAR;
		if (c >= 0x21 && c <= 0x7e)
			v |= C_TARGET;
		if (c == '\t' || (c >= 0x20 && c <= 0x7e) || c >= 0x80)
			v |= C_VALUE;
		if (alnum || (c != 0 && strchr(hostspecial, c) != NULL))
			v |= C_HOST;
		if (c == '\t' || c == ' ' || c == 0x21 || (c >= 0x23 && c <= 0x5b) ||
		    (c >= 0x5d && c <= 0x7e) || c >= 0x80)
			v |= C_QDTEXT;
		if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))
			v |= C_HEX;
		cls[c] = v;
	}
	/* Idempotent, so two threads racing here write the same bytes. */
	__atomic_store_n(&cls_ready, true, __ATOMIC_RELEASE);
}

#define IS(c, k) ((cls[(unsigned char)(c)] & (k)) != 0)

static inline int
lower(int c)
{
	return (c >= 'A' && c <= 'Z') ? c + 32 : c;
}

bool
http_slice_eq(struct http_slice s, const char *lit)
{
	size_t i;

	for (i = 0; i < s.n; i++) {
		if (lit[i] == '\0' || lower((unsigned char)s.p[i]) != lower((unsigned char)lit[i]))
			return false;
	}
	return lit[i] == '\0';
}

bool
http_list_has(struct http_slice s, const char *lit)
{
	size_t i = 0;

	while (i < s.n) {
		struct http_slice tok;

		while (i < s.n && (s.p[i] == ' ' || s.p[i] == '\t' || s.p[i] == ','))
			i++;
		tok.p = s.p + i;
		while (i < s.n && s.p[i] != ',')
			i++;
		tok.n = (size_t)(s.p + i - tok.p);
		while (tok.n > 0 && (tok.p[tok.n - 1] == ' ' || tok.p[tok.n - 1] == '\t'))
			tok.n--;
		if (tok.n > 0 && http_slice_eq(tok, lit))
			return true;
	}
	return false;
}

const struct http_header *
http1_header_find(const struct http_header *h, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++) {
		if (http_slice_eq(h[i].name, name))
			return &h[i];
	}
	return NULL;
}

const struct http_slice *
http1_header(const struct http_request *req, const char *name)
{
	const struct http_header *h = http1_header_find(req->headers, req->nheaders, name);

	return h != NULL ? &h->value : NULL;
}

/* Shared by both head parsers: the outcome of reading header lines. */
struct hdr_scan {
	struct http_header *headers;
	size_t nheaders;
	const char *error;
	int status;
};

/*
 * Reads header lines from buf[*pos..len) up to and including the empty line.
 * CX_OK: *pos is just past the final CRLF. CX_AGAIN: incomplete and valid so
 * far (the caller applies the size limit). CX_ERR: hs->status/error set.
 */
static int
scan_headers(const char *buf, size_t len, size_t *pos, struct hdr_scan *hs)
{
	size_t p = *pos;

	hs->nheaders = 0;
	for (;;) {
		size_t line = p, name_end, vstart, vend;
		struct http_header *h;

		if (p == len)
			return CX_AGAIN;
		if (buf[p] == '\r') {
			if (p + 1 == len)
				return CX_AGAIN;
			if (buf[p + 1] != '\n') {
				hs->error = "bare CR after headers";
				return CX_ERR;
			}
			*pos = p + 2;
			return CX_OK;
		}
		if (buf[p] == ' ' || buf[p] == '\t') {
			hs->error = "obs-fold or whitespace before a header";
			return CX_ERR;
		}
		while (p < len && IS(buf[p], C_TCHAR))
			p++;
		if (p == len)
			goto again;
		if (buf[p] != ':' || p == line) {
			hs->error = buf[p] == '\n' ? "bare LF" : "invalid header name";
			return CX_ERR;
		}
		name_end = p++;
		while (p < len && (buf[p] == ' ' || buf[p] == '\t'))
			p++;
		vstart = p;
		while (p < len && IS(buf[p], C_VALUE))
			p++;
		if (p == len || (buf[p] == '\r' && p + 1 == len))
			goto again;
		if (buf[p] != '\r' || buf[p + 1] != '\n') {
			hs->error = buf[p] == '\n' ? "bare LF" :
			    buf[p] == '\r' ? "bare CR in header" : "invalid header value char";
			return CX_ERR;
		}
		if (p + 2 - line > HTTP_MAX_HEADER_LINE) {
			hs->error = "header line too long";
			hs->status = 431;
			return CX_ERR;
		}
		if (hs->nheaders == HTTP_MAX_HEADERS) {
			hs->error = "too many headers";
			hs->status = 431;
			return CX_ERR;
		}
		vend = p;
		while (vend > vstart && (buf[vend - 1] == ' ' || buf[vend - 1] == '\t'))
			vend--;
		h = &hs->headers[hs->nheaders++];
		h->name.p = buf + line;
		h->name.n = name_end - line;
		h->value.p = buf + vstart;
		h->value.n = vend - vstart;
		p += 2;
		continue;
again:
		if (len - line > HTTP_MAX_HEADER_LINE) {
			hs->error = "header line too long";
			hs->status = 431;
			return CX_ERR;
		}
		return CX_AGAIN;
	}
}

/* Parses "HTTP/d.d" at buf[p..]: CX_OK with *minor, CX_AGAIN, or CX_ERR (*status 400 or 505). */
static int
scan_version(const char *buf, size_t len, size_t p, int *minor, int *status)
{
	static const char pat[] = "HTTP/";

	for (size_t i = 0; i < 8; i++) {
		char c;

		if (p + i == len)
			return CX_AGAIN;
		c = buf[p + i];
		if (i < 5 ? c != pat[i] : i == 6 ? c != '.' : (c < '0' || c > '9')) {
			*status = 400;
			return CX_ERR;
		}
	}
	if (buf[p + 5] != '1' || buf[p + 7] > '1') {
		*status = 505;
		return CX_ERR;
	}
	*minor = buf[p + 7] - '0';
	return CX_OK;
}

/* Content-Length value: digits only. 0 ok, -1 syntax (400), -2 overflow (413). */
static int
parse_length(struct http_slice v, int64_t *out)
{
	int64_t n = 0;

	if (v.n == 0)
		return -1;
	for (size_t i = 0; i < v.n; i++) {
		int d = v.p[i] - '0';

		if (d < 0 || d > 9)
			return -1;
		if (n > (INT64_MAX - d) / 10) {
			/* Keep checking syntax so junk is 400, not 413. */
			for (; i < v.n; i++) {
				if (v.p[i] < '0' || v.p[i] > '9')
					return -1;
			}
			return -2;
		}
		n = n * 10 + d;
	}
	*out = n;
	return 0;
}

/* uri-host [ ":" port ] (RFC 9110 section 7.2); an empty value is allowed. */
static bool
valid_host(struct http_slice v)
{
	size_t i = 0;

	if (v.n > 0 && v.p[0] == '[') {
		for (i = 1; i < v.n && v.p[i] != ']'; i++) {
			char c = v.p[i];

			if (!IS(c, C_HEX) && c != ':' && c != '.' && c != 'v' && c != 'V')
				return false;
		}
		if (i == v.n)
			return false;
		i++;
	} else {
		while (i < v.n && IS(v.p[i], C_HOST))
			i++;
	}
	if (i == v.n)
		return true;
	if (v.p[i] != ':')
		return false;
	for (i++; i < v.n; i++) {
		if (v.p[i] < '0' || v.p[i] > '9')
			return false;
	}
	return true;
}

/* Message-framing fields shared by requests and responses. */
struct framing {
	int64_t content_length;
	bool chunked, conn_close, conn_keep_alive, conn_upgrade, has_upgrade;
	bool expect_continue;
	size_t nhost;
	struct http_slice host;
	const char *error;
	int status;
};

static int
scan_framing(const struct http_header *hs, size_t n, struct framing *f)
{
	size_t ncl = 0, nte = 0;

	memset(f, 0, sizeof(*f));
	f->content_length = -1;
	for (size_t i = 0; i < n; i++) {
		const struct http_header *h = &hs[i];

		switch (h->name.n) {
		case 4:
			if (http_slice_eq(h->name, "host")) {
				f->nhost++;
				f->host = h->value;
			}
			break;
		case 6:
			if (http_slice_eq(h->name, "expect") && http_slice_eq(h->value, "100-continue"))
				f->expect_continue = true;
			break;
		case 7:
			if (http_slice_eq(h->name, "upgrade"))
				f->has_upgrade = true;
			break;
		case 10:
			if (http_slice_eq(h->name, "connection")) {
				if (http_list_has(h->value, "close"))
					f->conn_close = true;
				if (http_list_has(h->value, "keep-alive"))
					f->conn_keep_alive = true;
				if (http_list_has(h->value, "upgrade"))
					f->conn_upgrade = true;
			}
			break;
		case 14:
			if (http_slice_eq(h->name, "content-length")) {
				int r;

				if (++ncl > 1) {
					f->error = "more than one Content-Length";
					f->status = 400;
					return CX_ERR;
				}
				r = parse_length(h->value, &f->content_length);
				if (r != 0) {
					f->error = r == -2 ? "Content-Length too large" :
					    "invalid Content-Length";
					f->status = r == -2 ? 413 : 400;
					return CX_ERR;
				}
			}
			break;
		case 17:
			if (http_slice_eq(h->name, "transfer-encoding")) {
				nte++;
				if (h->value.n == 0) {
					f->error = "empty Transfer-Encoding";
					f->status = 400;
					return CX_ERR;
				}
				if (nte > 1 || !http_slice_eq(h->value, "chunked")) {
					f->error = "Transfer-Encoding other than chunked";
					f->status = 501;
					return CX_ERR;
				}
				f->chunked = true;
			}
			break;
		default:
			break;
		}
	}
	if (ncl > 0 && nte > 0) {
		f->error = "Content-Length with Transfer-Encoding";
		f->status = 400;
		return CX_ERR;
	}
	return CX_OK;
}

static int
req_fail(struct http_request *req, int status, const char *error)
{
	req->status = status;
	req->error = error;
	return CX_ERR;
}

/* Incomplete head: AGAIN, unless it has already outgrown its limits. */
static int
req_again(struct http_request *req, size_t len, size_t max_head, bool in_line, size_t line_start)
{
	if (in_line && len - line_start > HTTP_MAX_REQUEST_LINE)
		return req_fail(req, 414, "request line too long");
	if (len >= max_head)
		return req_fail(req, in_line ? 414 : 431, "request head too large");
	return CX_AGAIN;
}

int
http1_parse_request(const char *buf, size_t len, size_t max_head, struct http_request *req)
{
	struct hdr_scan hs = { .headers = req->headers, .status = 400 };
	struct framing f;
	size_t p = 0, line, start;
	int r, st = 400;

	cls_init();
	if (max_head == 0)
		max_head = 65536;
	req->nheaders = 0;
	req->status = 0;
	req->error = NULL;
	req->head_len = 0;
	req->content_length = -1;
	req->chunked = req->keep_alive = req->upgrade = false;
	req->conn_close = req->expect_continue = false;
	req->host.p = NULL;
	req->host.n = 0;
	if (len > max_head)
		len = max_head;

	/* Empty lines before the request line (RFC 9112 section 2.2): CRLF or
	 * a bare LF, a few of them; more is not a client's slip but a flood. */
	for (int empty = 0;; empty++) {
		size_t eol;

		if (p < len && buf[p] == '\n')
			eol = p + 1;
		else if (p + 1 < len && buf[p] == '\r' && buf[p + 1] == '\n')
			eol = p + 2;
		else
			break;
		if (empty == HTTP_MAX_EMPTY_LINES)
			return req_fail(req, 400, "too many empty lines before the request line");
		p = eol;
	}
	line = p;
	if (p == len || (buf[p] == '\r' && p + 1 == len))
		return req_again(req, len, max_head, true, line);

	/* method SP */
	while (p < len && IS(buf[p], C_TCHAR))
		p++;
	if (p == len)
		return req_again(req, len, max_head, true, line);
	if (buf[p] != ' ' || p == line)
		return req_fail(req, 400, buf[p] == '\n' ? "bare LF" : "invalid method");
	req->method.p = buf + line;
	req->method.n = p - line;
	p++;

	/* request-target SP */
	start = p;
	while (p < len && IS(buf[p], C_TARGET))
		p++;
	if (p == len)
		return req_again(req, len, max_head, true, line);
	if (buf[p] != ' ' || p == start)
		return req_fail(req, 400, p == start ? "invalid request target" :
		    buf[p] == '\r' ? "no HTTP version" : "invalid char in request target");
	req->target.p = buf + start;
	req->target.n = p - start;
	p++;

	/* HTTP-version CRLF */
	r = scan_version(buf, len, p, &req->minor, &st);
	if (r == CX_AGAIN)
		return req_again(req, len, max_head, true, line);
	if (r == CX_ERR)
		return req_fail(req, st, st == 505 ? "HTTP version not supported" :
		    "invalid HTTP version");
	p += 8;
	if (p == len || (buf[p] == '\r' && p + 1 == len))
		return req_again(req, len, max_head, true, line);
	if (buf[p] != '\r' || buf[p + 1] != '\n')
		return req_fail(req, 400, buf[p] == '\n' ? "bare LF" : "junk after HTTP version");
	p += 2;
	if (p - line > HTTP_MAX_REQUEST_LINE)
		return req_fail(req, 414, "request line too long");

	r = scan_headers(buf, len, &p, &hs);
	req->nheaders = hs.nheaders;
	if (r == CX_ERR)
		return req_fail(req, hs.status, hs.error);
	/* Framing errors in the lines seen so far are final: refuse them early. */
	if (scan_framing(req->headers, req->nheaders, &f) == CX_ERR)
		return req_fail(req, f.status, f.error);
	if (r == CX_AGAIN)
		return req_again(req, len, max_head, false, 0);
	if (f.nhost > 1)
		return req_fail(req, 400, "more than one Host");
	if (f.nhost == 0 && req->minor == 1)
		return req_fail(req, 400, "no Host in an HTTP/1.1 request");
	if (f.nhost == 1 && !valid_host(f.host))
		return req_fail(req, 400, "invalid Host");
	req->host = f.host;
	if (req->host.p == NULL)
		req->host.p = buf + p;
	req->content_length = f.content_length;
	req->chunked = f.chunked;
	req->conn_close = f.conn_close;
	req->expect_continue = f.expect_continue;
	req->keep_alive = req->minor == 1 ? !f.conn_close : (f.conn_keep_alive && !f.conn_close);
	req->upgrade = f.conn_upgrade && f.has_upgrade;
	req->head_len = p;
	return CX_OK;
}

static int
resp_fail(struct http_response *resp, const char *error)
{
	resp->error = error;
	return CX_ERR;
}

int
http1_parse_response(const char *buf, size_t len, size_t max_head, struct http_response *resp)
{
	struct hdr_scan hs = { .headers = resp->headers, .status = 400 };
	struct framing f;
	size_t p = 0, start;
	int r, st = 0;

	cls_init();
	if (max_head == 0)
		max_head = 65536;
	resp->nheaders = 0;
	resp->error = NULL;
	resp->head_len = 0;
	resp->content_length = -1;
	resp->chunked = resp->keep_alive = resp->upgrade = false;
	if (len > max_head)
		len = max_head;

	r = scan_version(buf, len, 0, &resp->minor, &st);
	if (r == CX_ERR)
		return resp_fail(resp, "invalid HTTP version");
	if (r == CX_AGAIN)
		goto again;
	p = 8;
	/* SP 3DIGIT */
	for (size_t i = 0; i < 4; i++, p++) {
		if (p == len)
			goto again;
		if (i == 0 ? buf[p] != ' ' : (buf[p] < '0' || buf[p] > '9'))
			return resp_fail(resp, "invalid status code");
	}
	resp->status = (buf[9] - '0') * 100 + (buf[10] - '0') * 10 + (buf[11] - '0');
	if (resp->status < 100)
		return resp_fail(resp, "invalid status code");
	/* [ SP reason ] CRLF; a missing SP is tolerated from upstreams. */
	if (p == len)
		goto again;
	if (buf[p] == ' ')
		p++;
	start = p;
	while (p < len && IS(buf[p], C_VALUE))
		p++;
	if (p == len || (buf[p] == '\r' && p + 1 == len))
		goto again;
	if (buf[p] != '\r' || buf[p + 1] != '\n')
		return resp_fail(resp, "invalid status line");
	resp->reason.p = buf + start;
	resp->reason.n = p - start;
	p += 2;
	if (p > HTTP_MAX_REQUEST_LINE)
		return resp_fail(resp, "status line too long");

	r = scan_headers(buf, len, &p, &hs);
	resp->nheaders = hs.nheaders;
	if (r == CX_AGAIN)
		goto again;
	if (r == CX_ERR)
		return resp_fail(resp, hs.error);
	if (scan_framing(resp->headers, resp->nheaders, &f) == CX_ERR)
		return resp_fail(resp, f.error);
	resp->content_length = f.content_length;
	resp->chunked = f.chunked;
	resp->keep_alive = resp->minor == 1 ? !f.conn_close : (f.conn_keep_alive && !f.conn_close);
	resp->upgrade = f.conn_upgrade;
	resp->head_len = p;
	return CX_OK;
again:
	if (len >= max_head)
		return resp_fail(resp, "response head too large");
	return CX_AGAIN;
}

enum http_body
http1_response_body(const struct http_response *resp, bool head_request)
{
	if (head_request || resp->status < 200 || resp->status == 204 || resp->status == 304)
		return HTTP_BODY_NONE;
	if (resp->chunked)
		return HTTP_BODY_CHUNKED;
	if (resp->content_length >= 0)
		return resp->content_length == 0 ? HTTP_BODY_NONE : HTTP_BODY_LENGTH;
	return HTTP_BODY_CLOSE;
}

/* Chunked body states. */
enum {
	CK_SIZE,		/* first hex digit of a chunk size */
	CK_SIZE_MORE,		/* more hex digits, ';' or CR */
	CK_EXT_NAME_START,	/* after ';' */
	CK_EXT_NAME,
	CK_EXT_VAL_START,	/* after '=' */
	CK_EXT_TOKEN,
	CK_EXT_QUOTED,
	CK_EXT_QUOTED_ESC,
	CK_EXT_QUOTED_END,
	CK_SIZE_LF,
	CK_DATA,
	CK_DATA_CR,
	CK_DATA_LF,
	CK_TRAILER_START,	/* a trailer field line or the final CRLF */
	CK_TRAILER_NAME,
	CK_TRAILER_VALUE,
	CK_TRAILER_LF,
	CK_END_LF,
	CK_DONE,
};

void
http1_chunked_init(struct http_chunked *c)
{
	memset(c, 0, sizeof(*c));
	c->state = CK_SIZE;
}

bool
http1_chunked_done(const struct http_chunked *c)
{
	return c->state == CK_DONE;
}

static int
ck_fail(struct http_chunked *c, const char *error, size_t p, size_t *used)
{
	c->error = error;
	*used = p;
	return CX_ERR;
}

/* After a size line's CR: data, or the trailer section for the last chunk. */
static int
ck_ext_end(struct http_chunked *c, char ch)
{
	if (ch == '\r') {
		c->state = CK_SIZE_LF;
		return 0;
	}
	if (ch == ';') {
		c->state = CK_EXT_NAME_START;
		return 0;
	}
	return -1;
}

int
http1_chunked_parse(struct http_chunked *c, const char *buf, size_t len, size_t *used,
    http_data_cb on_data, void *arg)
{
	size_t p = 0;

	cls_init();
	while (p < len) {
		char ch = buf[p];

		if (c->state == CK_DATA) {
			size_t n = len - p;

			if ((uint64_t)n > c->left)
				n = (size_t)c->left;
			if (on_data != NULL)
				on_data(arg, buf + p, n);
			p += n;
			c->left -= n;
			if (c->left == 0)
				c->state = CK_DATA_CR;
			continue;
		}
		if (c->state <= CK_SIZE_LF && ++c->count > HTTP_MAX_CHUNK_EXT)
			return ck_fail(c, "chunk size line too long", p, used);
		if (c->state >= CK_TRAILER_START && c->state <= CK_END_LF &&
		    ++c->count > HTTP_MAX_TRAILERS)
			return ck_fail(c, "trailers too large", p, used);
		switch (c->state) {
		case CK_SIZE:
		case CK_SIZE_MORE:
			if (IS(ch, C_HEX)) {
				int d = ch <= '9' ? ch - '0' : lower(ch) - 'a' + 10;

				if (++c->digits > 16)
					return ck_fail(c, "chunk size too large", p, used);
				if (c->left > (UINT64_MAX >> 4))
					return ck_fail(c, "chunk size too large", p, used);
				c->left = (c->left << 4) | (uint64_t)d;
				c->state = CK_SIZE_MORE;
			} else if (c->state == CK_SIZE || ck_ext_end(c, ch) == -1) {
				return ck_fail(c, "invalid chunk size", p, used);
			}
			break;
		case CK_EXT_NAME_START:
			if (!IS(ch, C_TCHAR))
				return ck_fail(c, "invalid chunk extension", p, used);
			c->state = CK_EXT_NAME;
			break;
		case CK_EXT_NAME:
			if (ch == '=')
				c->state = CK_EXT_VAL_START;
			else if (!IS(ch, C_TCHAR) && ck_ext_end(c, ch) == -1)
				return ck_fail(c, "invalid chunk extension", p, used);
			break;
		case CK_EXT_VAL_START:
			if (ch == '"')
				c->state = CK_EXT_QUOTED;
			else if (IS(ch, C_TCHAR))
				c->state = CK_EXT_TOKEN;
			else
				return ck_fail(c, "invalid chunk extension value", p, used);
			break;
		case CK_EXT_TOKEN:
			if (!IS(ch, C_TCHAR) && ck_ext_end(c, ch) == -1)
				return ck_fail(c, "invalid chunk extension value", p, used);
			break;
		case CK_EXT_QUOTED:
			if (ch == '"')
				c->state = CK_EXT_QUOTED_END;
			else if (ch == '\\')
				c->state = CK_EXT_QUOTED_ESC;
			else if (!IS(ch, C_QDTEXT))
				return ck_fail(c, "invalid quoted chunk extension", p, used);
			break;
		case CK_EXT_QUOTED_ESC:
			if (!IS(ch, C_VALUE))
				return ck_fail(c, "invalid quoted chunk extension", p, used);
			c->state = CK_EXT_QUOTED;
			break;
		case CK_EXT_QUOTED_END:
			if (ck_ext_end(c, ch) == -1)
				return ck_fail(c, "invalid chunk extension", p, used);
			break;
		case CK_SIZE_LF:
			if (ch != '\n')
				return ck_fail(c, "bare CR in chunk size line", p, used);
			c->count = 0;
			c->digits = 0;
			c->state = c->left == 0 ? CK_TRAILER_START : CK_DATA;
			break;
		case CK_DATA_CR:
			if (ch != '\r')
				return ck_fail(c, "chunk data not followed by CRLF", p, used);
			c->state = CK_DATA_LF;
			break;
		case CK_DATA_LF:
			if (ch != '\n')
				return ck_fail(c, "chunk data not followed by CRLF", p, used);
			c->state = CK_SIZE;
			break;
		case CK_TRAILER_START:
			if (ch == '\r')
				c->state = CK_END_LF;
			else if (IS(ch, C_TCHAR))
				c->state = CK_TRAILER_NAME;
			else
				return ck_fail(c, "invalid trailer field", p, used);
			break;
		case CK_TRAILER_NAME:
			if (ch == ':')
				c->state = CK_TRAILER_VALUE;
			else if (!IS(ch, C_TCHAR))
				return ck_fail(c, "invalid trailer field name", p, used);
			break;
		case CK_TRAILER_VALUE:
			if (ch == '\r')
				c->state = CK_TRAILER_LF;
			else if (!IS(ch, C_VALUE))
				return ck_fail(c, "invalid trailer field value", p, used);
			break;
		case CK_TRAILER_LF:
			if (ch != '\n')
				return ck_fail(c, "bare CR in trailer", p, used);
			c->state = CK_TRAILER_START;
			break;
		case CK_END_LF:
			if (ch != '\n')
				return ck_fail(c, "bare CR after trailers", p, used);
			c->state = CK_DONE;
			*used = p + 1;
			return CX_OK;
		case CK_DONE:
			*used = p;
			return CX_OK;
		default:
			return ck_fail(c, "bad chunked state", p, used);
		}
		p++;
	}
	*used = p;
	return c->state == CK_DONE ? CX_OK : CX_AGAIN;
}

const char *
http1_reason(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 101: return "Switching Protocols";
	case 200: return "OK";
	case 201: return "Created";
	case 204: return "No Content";
	case 301: return "Moved Permanently";
	case 302: return "Found";
	case 304: return "Not Modified";
	case 308: return "Permanent Redirect";
	case 400: return "Bad Request";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 411: return "Length Required";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 417: return "Expectation Failed";
	case 422: return "Unprocessable Content";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	case 505: return "HTTP Version Not Supported";
	case 507: return "Insufficient Storage";
	default: return "Unknown";
	}
}
