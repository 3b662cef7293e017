/*
 * transport.c — plain TCP and TLS behind struct xport_ops (transport.h).
 *
 * The TLS operations loop until OpenSSL must wait, so that a short count
 * means what it means for read(2) and write(2): the socket is drained or
 * full. When OpenSSL must write to go on reading (or read to go on writing)
 * the blocked direction is remembered in rd_on_wr / wr_on_rd and
 * xport_events() makes it ready on the other direction's edge.
 */
#include "router/transport.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/ev.h"
#include "common/log.h"
#include "common/tls.h"
#include "common/util.h"

#define XPORT_TLS_GATHER	(16 * 1024)	/* small iovecs go as one record */

/* ---- plain ---- */

static ssize_t
plain_read(struct xport *x, char *p, size_t n)
{
	return read(x->fd, p, n);
}

static ssize_t
plain_write(struct xport *x, const char *p, size_t n)
{
	return write(x->fd, p, n);
}

static ssize_t
plain_writev(struct xport *x, const struct iovec *iov, int cnt)
{
	return writev(x->fd, iov, cnt);
}

static int
plain_handshake(struct xport *x)
{
	(void)x;
	return CX_OK;
}

static short
plain_wants(const struct xport *x)
{
	(void)x;
	return POLLIN | POLLOUT;
}

static void
plain_shutdown_wr(struct xport *x)
{
	shutdown(x->fd, SHUT_WR);
}

static void
plain_close(struct xport *x)
{
	close(x->fd);
	x->fd = -1;
}

static const struct xport_ops xport_plain_ops = {
	.name = "plain",
	.read = plain_read,
	.write = plain_write,
	.writev = plain_writev,
	.handshake = plain_handshake,
	.wants = plain_wants,
	.shutdown_wr = plain_shutdown_wr,
	.close = plain_close,
};

/* ---- TLS ---- */

static ssize_t
tls_read_some(struct xport *x, char *p, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = tls_conn_read(x->tls, p + got, n - got);

		if (r > 0) {
			got += (size_t)r;
			continue;
		}
		if (got > 0)
			return (ssize_t)got;	/* the EOF, error or wait comes next call */
		if (r == 0)
			return 0;
		if (r == CX_AGAIN && tls_conn_events(x->tls) == POLLOUT)
			x->rd_on_wr = true;
		errno = r == CX_AGAIN ? EAGAIN : ECONNRESET;
		if (r == CX_ERR)
			log_debug("TLS %s: %s", x->who, tls_conn_error(x->tls));
		return -1;
	}
	return (ssize_t)got;
}

static ssize_t
tls_write_some(struct xport *x, const char *p, size_t n)
{
	size_t put = 0;

	while (put < n) {
		ssize_t r = tls_conn_write(x->tls, p + put, n - put);

		if (r > 0) {
			put += (size_t)r;
			continue;
		}
		if (put > 0)
			return (ssize_t)put;
		if (r == CX_AGAIN && tls_conn_events(x->tls) == POLLIN)
			x->wr_on_rd = true;
		errno = r == CX_AGAIN ? EAGAIN : EPIPE;
		if (r == CX_ERR)
			log_debug("TLS %s: %s", x->who, tls_conn_error(x->tls));
		return -1;
	}
	return (ssize_t)put;
}

/* Small pieces go as one record (a head and its body), large ones in turn. */
static ssize_t
tls_writev_some(struct xport *x, const struct iovec *iov, int cnt)
{
	char one[XPORT_TLS_GATHER];
	size_t total = 0, put = 0;

	for (int i = 0; i < cnt; i++)
		total += iov[i].iov_len;
	if (cnt > 1 && total <= sizeof(one)) {
		for (int i = 0; i < cnt; i++) {
			memcpy(one + put, iov[i].iov_base, iov[i].iov_len);
			put += iov[i].iov_len;
		}
		return tls_write_some(x, one, total);
	}
	put = 0;
	for (int i = 0; i < cnt; i++) {
		ssize_t r = tls_write_some(x, iov[i].iov_base, iov[i].iov_len);

		if (r < 0)
			return put > 0 ? (ssize_t)put : r;
		put += (size_t)r;
		if ((size_t)r < iov[i].iov_len)
			break;
	}
	return (ssize_t)put;
}

static int
tls_handshake_step(struct xport *x)
{
	return tls_conn_handshake(x->tls);
}

static short
tls_wants(const struct xport *x)
{
	return tls_conn_events(x->tls);
}

static void
tls_shutdown_wr(struct xport *x)
{
	tls_conn_close_notify(x->tls);
	shutdown(x->fd, SHUT_WR);
}

static void
tls_close(struct xport *x)
{
	tls_conn_close_notify(x->tls);
	tls_conn_free(x->tls);
	x->tls = NULL;
	close(x->fd);
	x->fd = -1;
}

static const struct xport_ops xport_tls_ops = {
	.name = "tls",
	.read = tls_read_some,
	.write = tls_write_some,
	.writev = tls_writev_some,
	.handshake = tls_handshake_step,
	.wants = tls_wants,
	.shutdown_wr = tls_shutdown_wr,
	.close = tls_close,
};

/* ---- setup and events ---- */

void
xport_plain(struct xport *x, int fd, const char *who)
{
	*x = (struct xport){ .ops = &xport_plain_ops, .fd = fd, .who = who };
}

void
xport_tls(struct xport *x, int fd, struct tls_conn *t, const char *who)
{
	*x = (struct xport){ .ops = &xport_tls_ops, .fd = fd, .tls = t, .who = who };
}

ssize_t
xport_fill(struct xport *x, char *buf, size_t cap, size_t *off, size_t *len, bool *ready)
{
	size_t space;
	ssize_t n;

	if (!*ready)
		return 0;
	if (*off == *len) {
		*off = *len = 0;
	} else if (*len == cap && *off > 0) {
		memmove(buf, buf + *off, *len - *off);
		*len -= *off;
		*off = 0;
	}
	space = cap - *len;
	if (space == 0)
		return 0;
	n = xport_read(x, buf + *len, space);
	if (n > 0) {
		*len += (size_t)n;
		if ((size_t)n < space)
			*ready = false;
		return n;
	}
	if (n == 0)
		return XPORT_EOF;
	if (errno == EAGAIN || errno == EWOULDBLOCK) {
		*ready = false;
		return 0;
	}
	if (errno == EINTR)
		return 0;
	return XPORT_FAILED;
}

void
xport_events(struct xport *x, uint32_t events, bool *rd, bool *wr)
{
	bool in = (events & (EPOLLIN | EPOLLRDHUP | EV_ERROR)) != 0;
	bool out = (events & (EPOLLOUT | EV_ERROR)) != 0;

	if (in)
		*rd = true;
	if (out)
		*wr = true;
	if (x->rd_on_wr && out) {
		x->rd_on_wr = false;
		*rd = true;
	}
	if (x->wr_on_rd && in) {
		x->wr_on_rd = false;
		*wr = true;
	}
}
