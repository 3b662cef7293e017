/*
 * tunnel.c — a connection after 101 Switching Protocols (WebSocket and any
 * other Upgrade): our copy of the 101 head, then bytes both ways between
 * client and upstream as they come, each direction's EOF passed on as a
 * half close, until both ends closed (or an hour without a byte).
 *
 *   PROXY ── 101 to an Upgrade ──► TUNNEL ── both EOFs / error / 1 h idle ──► freed
 */
#include <errno.h>

#include "router/conn_int.h"
#include "router/upstream.h"

void
tunnel_begin(struct conn *c)
{
	conn_enter(c, CE_UPGRADED);
	c->ex.keep = false;
	c->ex.tun_ceof = c->ex.tun_ueof = false;
	c->deadline = conn_now(c) + TUNNEL_TIMEOUT_MS;
}

/* One direction: writes buf[*off..len) to x while *ready; the count
 * written (0 when nothing could go), or -1 on a write error. */
static ssize_t
tunnel_send(struct xport *x, const char *buf, size_t *off, size_t len, bool *ready)
{
	ssize_t n;

	if (*off == len || !*ready)
		return 0;
	n = xport_write(x, buf + *off, len - *off);
	if (n > 0) {
		*off += (size_t)n;
		if (*off < len)
			*ready = false;
		return n;
	}
	if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
		*ready = false;
	else if (n == -1 && errno != EINTR)
		return -1;
	return 0;
}

int
tunnel_step(struct conn *c)
{
	struct upconn *uc = c->ex.uc;
	bool progress = false;
	ssize_t n;

	/* upstream -> client: our copy of the 101 head, then raw bytes */
	if (c->out_off < c->out.len) {
		int r = conn_flush_out(c);

		if (r == -1)
			goto done;
		if (r == STEP_MORE) {
			buf_reset(&c->out);
			c->out_off = 0;
		}
	}
	if (c->out_off == c->out.len) {
		n = tunnel_send(&c->xp, uc->in, &uc->off, uc->len, &c->wr_ready);
		if (n == -1)
			goto done;
		c->ex.bytes_out += (uint64_t)n;
		progress |= n > 0;
		if (uc->len == uc->off && !c->ex.tun_ueof) {
			int r = upconn_read(uc);

			if (r == 1)
				progress = true;
			else if (r == -1) {
				c->ex.tun_ueof = true;
				xport_shutdown_wr(&c->xp);
				progress = true;
			}
		}
	}
	/* client -> upstream */
	n = tunnel_send(&uc->xp, c->in, &c->in_off, c->in_len, &uc->wr_ready);
	if (n == -1)
		goto done;
	progress |= n > 0;
	if (c->in_len == c->in_off && !c->ex.tun_ceof) {
		int r = conn_read(c);

		if (r == 1)
			progress = true;
		else if (r == -1) {
			c->ex.tun_ceof = true;
			xport_shutdown_wr(&uc->xp);
			progress = true;
		}
	}
	if (c->ex.tun_ceof && c->ex.tun_ueof && uc->len == uc->off)
		goto done;
	if (progress)
		c->deadline = conn_now(c) + TUNNEL_TIMEOUT_MS;
	return progress ? STEP_MORE : STEP_WAIT;
done:
	exchange_done(c);
	conn_free(c);
	return STEP_FREED;
}

