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
		if (uc->len > uc->off && c->wr_ready) {
			n = xport_write(&c->xp, uc->in + uc->off, uc->len - uc->off);
			if (n > 0) {
				c->ex.bytes_out += (uint64_t)n;
				uc->off += (size_t)n;
				progress = true;
				if (uc->off < uc->len)
					c->wr_ready = false;
			} else if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
				c->wr_ready = false;
			} else if (n == -1 && errno != EINTR) {
				goto done;
			}
		}
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
	if (c->in_len > c->in_off && uc->wr_ready) {
		n = xport_write(&uc->xp, c->in + c->in_off, c->in_len - c->in_off);
		if (n > 0) {
			c->in_off += (size_t)n;
			progress = true;
			if (c->in_off < c->in_len)
				uc->wr_ready = false;
		} else if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			uc->wr_ready = false;
		} else if (n == -1 && errno != EINTR) {
			goto done;
		}
	}
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

