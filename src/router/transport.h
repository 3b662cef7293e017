/*
 * transport.h — the byte stream under a connection, client or upstream:
 * plain TCP or TLS today, behind one small table of operations so that a
 * third (HTTP/2 framing over TLS) can sit under the same callers.
 *
 * Every operation keeps the meaning of the plain system call: a short read
 * means the socket is drained, a short write that it is full, -1 with errno
 * EAGAIN that it must wait for an edge. A TLS read may have to wait for the
 * socket to take a write (and a write for a read): xport_events() turns the
 * other direction's edge into readiness of the blocked one.
 */
#ifndef CX_ROUTER_TRANSPORT_H
#define CX_ROUTER_TRANSPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

struct tls_conn;
struct xport;

struct xport_ops {
	const char *name;		/* "plain", "tls": for log lines */
	ssize_t (*read)(struct xport *x, char *p, size_t n);
	ssize_t (*write)(struct xport *x, const char *p, size_t n);
	ssize_t (*writev)(struct xport *x, const struct iovec *iov, int cnt);
	/* The handshake's next step: CX_OK done, CX_AGAIN (see wants), CX_ERR. */
	int (*handshake)(struct xport *x);
	/* POLLIN and/or POLLOUT: what the pending operation waits for. */
	short (*wants)(const struct xport *x);
	void (*shutdown_wr)(struct xport *x);
	/* Ends the session (close_notify for TLS), frees it and closes fd. */
	void (*close)(struct xport *x);
};

struct xport {
	const struct xport_ops *ops;
	int fd;
	struct tls_conn *tls;		/* the TLS transport's session, else NULL */
	bool rd_on_wr, wr_on_rd;	/* a read waits to write, a write to read */
	const char *who;		/* the other end, for debug lines (not owned) */
};

/* x speaks plain TCP on fd. */
void xport_plain(struct xport *x, int fd, const char *who);
/* x speaks TLS through t (owned by x from now on) on fd. */
void xport_tls(struct xport *x, int fd, struct tls_conn *t, const char *who);
/* An epoll edge of events on x's socket: sets *rd / *wr for the directions
 * that can move now (a TLS operation blocked on the other direction too). */
void xport_events(struct xport *x, uint32_t events, bool *rd, bool *wr);

enum { XPORT_EOF = -1, XPORT_FAILED = -2 };

/*
 * Reads from x into buf (cap bytes; unconsumed ones are buf[*off..*len)),
 * moving them to the front first when the buffer is full: the count of new
 * bytes (at buf + *len - count), 0 when nothing can come now (no room, not
 * *ready, or the socket is drained), XPORT_EOF, or XPORT_FAILED (errno).
 * Clears *ready when the socket is drained.
 */
ssize_t xport_fill(struct xport *x, char *buf, size_t cap, size_t *off, size_t *len, bool *ready);

static inline ssize_t
xport_read(struct xport *x, char *p, size_t n)
{
	return x->ops->read(x, p, n);
}

static inline ssize_t
xport_write(struct xport *x, const char *p, size_t n)
{
	return x->ops->write(x, p, n);
}

static inline ssize_t
xport_writev(struct xport *x, const struct iovec *iov, int cnt)
{
	return x->ops->writev(x, iov, cnt);
}

static inline int
xport_handshake(struct xport *x)
{
	return x->ops->handshake(x);
}

static inline short
xport_wants(const struct xport *x)
{
	return x->ops->wants(x);
}

static inline void
xport_shutdown_wr(struct xport *x)
{
	x->ops->shutdown_wr(x);
}

static inline void
xport_close(struct xport *x)
{
	x->ops->close(x);
}

#endif
