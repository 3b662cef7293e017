/*
 * grpccheck.c — see grpccheck.h.
 *
 * A check's life: the session is made with our SETTINGS and the request
 * (HEADERS, then the 5-byte DATA with END_STREAM) queued; the caller
 * writes what grpc_check_output gives and feeds what comes back. The
 * answer's DATA is kept (at most GRPC_CHECK_MAX bytes) and its trailers
 * read; the stream's close decides: grpc-status 0 and SERVING pass.
 */
#include "common/grpccheck.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nghttp2/nghttp2.h>

#define GRPC_CHECK_MAX	256	/* a HealthCheckResponse is 2 bytes and its frame 5 */

/* A protobuf varint at msg[*i..n) into *v; -1 when it is cut short. */
static int
varint(const uint8_t *msg, size_t n, size_t *i, uint64_t *v)
{
	int shift = 0;

	*v = 0;
	do {
		if (*i == n || shift > 63)
			return -1;
		*v |= (uint64_t)(msg[*i] & 0x7f) << shift;
		shift += 7;
	} while (msg[(*i)++] & 0x80);
	return 0;
}

int
grpc_health_decode(const uint8_t *msg, size_t n, const char **why)
{
	uint32_t len;
	int status = GRPC_UNKNOWN;
	size_t i;

	if (n < 5) {
		*why = "a gRPC frame is at least 5 bytes";
		return -1;
	}
	if (msg[0] != 0) {
		*why = "the answer is compressed";
		return -1;
	}
	len = (uint32_t)msg[1] << 24 | (uint32_t)msg[2] << 16 | (uint32_t)msg[3] << 8 | msg[4];
	if (len != n - 5) {
		*why = "the frame's length is not its message's";
		return -1;
	}
	for (i = 5; i < n;) {
		uint64_t key, v;
		size_t fixed;

		/* a key, then by its wire type a varint, a length-delimited
		 * field, or a fixed 64- or 32-bit one */
		if (varint(msg, n, &i, &key) == -1) {
			*why = "a truncated field";
			return -1;
		}
		switch (key & 7) {
		case 0:
		case 2:
			if (varint(msg, n, &i, &v) == -1) {
				*why = "a truncated field";
				return -1;
			}
			if ((key & 7) == 0) {
				if (key >> 3 == 1)
					status = v > 3 ? GRPC_UNKNOWN : (int)v;
				break;
			}
			if (v > n - i) {
				*why = "a field longer than the message";
				return -1;
			}
			i += (size_t)v;
			break;
		case 1:
		case 5:
			fixed = (key & 7) == 1 ? 8 : 4;
			if (n - i < fixed) {
				*why = "a truncated field";
				return -1;
			}
			i += fixed;
			break;
		default:
			*why = "an unknown wire type";
			return -1;
		}
	}
	return status;
}

struct grpc_check {
	nghttp2_session *s;
	int32_t id;
	const uint8_t *pend;
	size_t pend_len;
	uint8_t msg[GRPC_CHECK_MAX];
	size_t msg_len;
	int http_status, grpc_status;	/* -1 until they came */
	int result;
	char why[160];
	size_t req_off;			/* of GRPC_CHECK_REQUEST sent */
};

static void
check_fail(struct grpc_check *g, const char *fmt, const char *arg)
{
	if (g->result != GRPC_CHECK_PENDING)
		return;
	g->result = GRPC_CHECK_FAIL;
	snprintf(g->why, sizeof(g->why), fmt, arg);
}

static int
on_header(nghttp2_session *s, const nghttp2_frame *frame, const uint8_t *name, size_t nlen,
    const uint8_t *value, size_t vlen, uint8_t flags, void *arg)
{
	struct grpc_check *g = arg;
	int v = 0;

	(void)s;
	(void)flags;
	if (frame->hd.stream_id != g->id)
		return 0;
	for (size_t i = 0; i < vlen && i < 9; i++)
		v = value[i] >= '0' && value[i] <= '9' ? v * 10 + (value[i] - '0') : -1000000;
	if (nlen == 7 && memcmp(name, ":status", 7) == 0)
		g->http_status = v < 0 ? 0 : v;
	else if (nlen == 11 && memcmp(name, "grpc-status", 11) == 0)
		g->grpc_status = v < 0 ? 2 : v;	/* not a number: UNKNOWN */
	return 0;
}

static int
on_data(nghttp2_session *s, uint8_t flags, int32_t id, const uint8_t *data, size_t len, void *arg)
{
	struct grpc_check *g = arg;

	(void)s;
	(void)flags;
	if (id != g->id)
		return 0;
	if (len > sizeof(g->msg) - g->msg_len) {
		check_fail(g, "%s", "the answer is too long for a HealthCheckResponse");
		return 0;
	}
	memcpy(g->msg + g->msg_len, data, len);
	g->msg_len += len;
	return 0;
}

static int
on_stream_close(nghttp2_session *s, int32_t id, uint32_t code, void *arg)
{
	struct grpc_check *g = arg;
	const char *why = NULL;
	char num[16];
	int st;

	(void)s;
	if (id != g->id || g->result != GRPC_CHECK_PENDING)
		return 0;
	if (code != NGHTTP2_NO_ERROR)
		return check_fail(g, "the stream was reset (%s)", nghttp2_http2_strerror(code)), 0;
	if (g->http_status != 200) {
		snprintf(num, sizeof(num), "%d", g->http_status);
		return check_fail(g, "HTTP status %s", num), 0;
	}
	if (g->grpc_status != 0) {
		snprintf(num, sizeof(num), "%d", g->grpc_status);
		return check_fail(g, g->grpc_status < 0 ? "no grpc-status" : "grpc-status %s", num), 0;
	}
	st = grpc_health_decode(g->msg, g->msg_len, &why);
	if (st < 0)
		return check_fail(g, "%s", why), 0;
	if (st != GRPC_SERVING)
		return check_fail(g, "%s", st == GRPC_NOT_SERVING ? "NOT_SERVING" :
		    st == GRPC_SERVICE_UNKNOWN ? "SERVICE_UNKNOWN" : "UNKNOWN"), 0;
	g->result = GRPC_CHECK_PASS;
	return 0;
}

static ssize_t
request_read(nghttp2_session *s, int32_t id, uint8_t *out, size_t len, uint32_t *flags,
    nghttp2_data_source *src, void *arg)
{
	struct grpc_check *g = arg;
	size_t n = GRPC_CHECK_REQUEST_LEN - g->req_off;

	(void)s;
	(void)id;
	(void)src;
	if (n > len)
		n = len;
	memcpy(out, GRPC_CHECK_REQUEST + g->req_off, n);
	g->req_off += n;
	if (g->req_off == GRPC_CHECK_REQUEST_LEN)
		*flags |= NGHTTP2_DATA_FLAG_EOF;
	return (ssize_t)n;
}

struct grpc_check *
grpc_check_new(const char *authority)
{
	nghttp2_session_callbacks *cbs;
	struct grpc_check *g = calloc(1, sizeof(*g));
	nghttp2_settings_entry iv[] = { { NGHTTP2_SETTINGS_ENABLE_PUSH, 0 } };
#define NV(n, v) { (uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, strlen(v), NGHTTP2_NV_FLAG_NONE }
	nghttp2_nv nv[] = {
		NV(":method", "POST"), NV(":scheme", "http"), NV(":authority", authority),
		NV(":path", "/grpc.health.v1.Health/Check"),
		NV("content-type", "application/grpc"), NV("te", "trailers"),
		NV("user-agent", "cx-health"),
	};
#undef NV
	nghttp2_data_provider dp = { .read_callback = request_read };

	if (g == NULL)
		return NULL;
	g->http_status = g->grpc_status = -1;
	if (nghttp2_session_callbacks_new(&cbs) != 0) {
		free(g);
		return NULL;
	}
	nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data);
	nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_stream_close);
	if (nghttp2_session_client_new(&g->s, cbs, g) != 0) {
		nghttp2_session_callbacks_del(cbs);
		free(g);
		return NULL;
	}
	nghttp2_session_callbacks_del(cbs);
	if (nghttp2_submit_settings(g->s, NGHTTP2_FLAG_NONE, iv, 1) != 0 ||
	    (g->id = nghttp2_submit_request(g->s, NULL, nv, sizeof(nv) / sizeof(nv[0]), &dp,
		NULL)) < 0) {
		grpc_check_free(g);
		return NULL;
	}
	return g;
}

void
grpc_check_free(struct grpc_check *g)
{
	if (g == NULL)
		return;
	nghttp2_session_del(g->s);
	free(g);
}

size_t
grpc_check_output(struct grpc_check *g, const uint8_t **p)
{
	if (g->pend_len == 0) {
		ssize_t n = nghttp2_session_mem_send(g->s, &g->pend);

		if (n < 0) {
			check_fail(g, "HTTP/2: %s", nghttp2_strerror((int)n));
			return 0;
		}
		g->pend_len = (size_t)n;
	}
	*p = g->pend;
	return g->pend_len;
}

void
grpc_check_sent(struct grpc_check *g, size_t n)
{
	g->pend += n;
	g->pend_len -= n;
}

int
grpc_check_input(struct grpc_check *g, const uint8_t *p, size_t n)
{
	ssize_t r = nghttp2_session_mem_recv(g->s, p, n);

	if (r < 0)
		check_fail(g, "HTTP/2: %s", nghttp2_strerror((int)r));
	else if (!nghttp2_session_want_read(g->s))
		check_fail(g, "%s", "HTTP/2: the server broke the protocol, or went away");
	return g->result;
}

const char *
grpc_check_why(const struct grpc_check *g)
{
	return g->why;
}
