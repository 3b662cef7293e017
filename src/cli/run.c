/*
 * run.c — `cx run SERVICE [COMMAND...]`: a one-off process of a service,
 * started by the rack's daemon behind the app's walls (its ids, its view of
 * the filesystem, on a VPC rack its own network namespace), so that it shows
 * in `cx ps` and the CLI needs no privilege. The CLI hands the daemon three
 * pipes for the process's stdin, stdout and stderr (the daemon gives them to
 * the app's ids, so that the process can open /dev/stdout), copies between
 * them and its own stdio, and exits with the process's status, which the
 * daemon answers when the process ends.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/client.h"
#include "cli/output.h"

/* The command line to run: one argument is a shell command line, as in
 * `cx run web "ls | wc -l"`; several are a command and its arguments,
 * quoted each for the shell; none is the service's own (""). */
static char *
command_line(const struct cli *c)
{
	struct buf b;

	if (c->argc == 2)
		return xstrdup(c->argv[1]);
	buf_init(&b, 0);
	buf_adds(&b, "");
	for (int i = 1; i < c->argc; i++) {
		buf_adds(&b, i > 1 ? " '" : "'");
		for (const char *p = c->argv[i]; *p != '\0'; p++) {
			if (*p == '\'')
				buf_adds(&b, "'\\''");
			else
				buf_add(&b, p, 1);
		}
		buf_adds(&b, "'");
	}
	return buf_cstr(&b);
}

/* Copies what is readable on from to to; false at EOF or error (from is
 * then done). A write error (our stdout closed) drops the rest. */
static bool
copy_some(int from, int to)
{
	char data[16384];
	ssize_t n = read(from, data, sizeof(data));

	if (n == -1 && (errno == EINTR || errno == EAGAIN))
		return true;
	if (n <= 0)
		return false;
	for (ssize_t off = 0; off < n && to != -1;) {
		ssize_t w = write(to, data + off, (size_t)(n - off));

		if (w == -1 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		off += w;
	}
	return true;
}

static int
done_with(int fd, struct pollfd *pf)
{
	close(fd);
	pf->fd = -1;
	return -1;
}

/* After the answer came, output still in the pipes is copied for this long
 * at most: something the process left behind may hold them open. */
#define DRAIN_MS 1000

/*
 * Relays until the process's output ended: our stdin to its stdin (closed at
 * our EOF, so that it sees its own), its stdout and stderr to ours. Our
 * stdin is read only while its pipe has room, so that a process that reads
 * nothing never blocks the copying of its output. Once the daemon answered
 * on sock (the process ended), what is left is drained for DRAIN_MS.
 */
static void
relay(int sock, int in_w, int out_r, int err_r)
{
	char pending[4096];
	ssize_t npending = 0;
	int64_t drain_until = -1;
	struct pollfd pf[4] = {
		{ .fd = out_r, .events = POLLIN },
		{ .fd = err_r, .events = POLLIN },
		{ .fd = 0, .events = POLLIN },
		{ .fd = sock, .events = POLLIN },
	};

	while (pf[0].fd != -1 || pf[1].fd != -1) {
		int wait = -1;

		if (drain_until != -1) {
			wait = (int)(drain_until - now_ms());
			if (wait <= 0)
				break;
		}
		if (pf[2].fd != -1)
			pf[2] = npending > 0 ? (struct pollfd){ .fd = in_w, .events = POLLOUT } :
			    (struct pollfd){ .fd = 0, .events = POLLIN };
		if (poll(pf, 4, wait) == -1) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pf[3].revents) {
			pf[3].fd = -1;      /* the answer waits in the socket */
			drain_until = now_ms() + DRAIN_MS;
		}
		if (pf[0].revents && !copy_some(out_r, 1))
			pf[0].fd = -1;
		if (pf[1].revents && !copy_some(err_r, 2))
			pf[1].fd = -1;
		if (pf[2].fd == 0 && pf[2].revents) {
			npending = read(0, pending, sizeof(pending));
			if (npending <= 0 && !(npending == -1 && errno == EINTR))
				in_w = done_with(in_w, &pf[2]);   /* our EOF: it gets its own */
			if (npending < 0)
				npending = 0;
		} else if (pf[2].fd == in_w && pf[2].revents) {
			/* A pipe with room takes up to a page whole. */
			if (write(in_w, pending, (size_t)npending) != npending)
				in_w = done_with(in_w, &pf[2]);   /* it closed its stdin */
			npending = 0;
		}
	}
	if (in_w != -1)
		close(in_w);
}

/* cx-attach frames (docs/api.md): type, 4-byte big-endian length, bytes. */
enum { FRAME_STDIN = 0, FRAME_STDOUT = 1, FRAME_STDERR = 2, FRAME_EXIT = 3 };
#define FRAME_MAX (64 * 1024)

static void
write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w == -1 && errno == EINTR)
			continue;
		if (w <= 0)
			return;     /* our stdout closed: the rest goes nowhere */
		p += w;
		n -= (size_t)w;
	}
}

/* Handles the whole frames in in: output to ours, the exit into *exit
 * (the process's status, as cx run exits with). 1 once the exit came, 0 for
 * more, -1 after printing on a malformed frame. */
static int
take_frames(struct buf *in, int *exit)
{
	while (in->len >= 5) {
		const unsigned char *h = (const unsigned char *)in->data;
		size_t n = (size_t)h[1] << 24 | (size_t)h[2] << 16 | (size_t)h[3] << 8 | h[4];

		if (n > FRAME_MAX || h[0] < FRAME_STDOUT || h[0] > FRAME_EXIT)
			return out_error("the rack sent a malformed frame (type %u, %zu bytes)", h[0],
			    n), -1;
		if (in->len < 5 + n)
			return 0;
		if (h[0] == FRAME_EXIT) {
			char err[256];
			jv *ans = jv_parse(in->data + 5, n, err, sizeof(err));

			if (ans != NULL && jv_get(ans, "exit") != NULL)
				*exit = (int)jv_int(ans, "exit");
			else if (ans != NULL && jv_get(ans, "signal") != NULL)
				*exit = 128 + (int)jv_int(ans, "signal");
			else
				*exit = out_error("the process ended, but the rack does not say how");
			jv_free(ans);
			return 1;
		}
		write_all(h[0] == FRAME_STDOUT ? 1 : 2, in->data + 5, n);
		buf_consume(in, 5 + n);
	}
	return 0;
}

/*
 * cx run on a remote rack: no descriptors cross HTTPS, so the rack makes the
 * pipes and the connection carries their bytes as frames. Our stdin is read
 * only while the last frame of it is sent, so a process that reads nothing
 * never holds up its output.
 */
static int
run_remote(struct cli *c, const char *path_in)
{
	struct client_stream *st;
	struct buf in, out;
	char *path, *cmd;
	bool stdin_open = true;
	int rc = 1, exit = 1;
	jv *body;

	cmd = command_line(c);
	body = jv_object_new();
	jv_set_str(body, "command", cmd);
	free(cmd);
	path = xstrdup(path_in);
	st = api_stream(c, path, body);
	free(path);
	jv_free(body);
	if (st == NULL)
		return 1;
	signal(SIGPIPE, SIG_IGN);
	buf_init(&in, FRAME_MAX * 4);
	buf_init(&out, 0);
	for (;;) {
		struct pollfd pf[2] = {
			{ .fd = client_stream_fd(st), .events = POLLIN },
			{ .fd = stdin_open && out.len == 0 ? 0 : -1, .events = POLLIN },
		};
		ssize_t n;
		int done;

		/* Whatever the stream holds first: TLS may keep bytes the socket no longer signals. */
		for (;;) {
			if (buf_reserve(&in, 32768) == -1) {
				out_error("the rack sent a frame too large");
				goto out;
			}
			n = client_stream_recv(st, in.data + in.len, 32768);
			if (n <= 0)
				break;
			in.len += (size_t)n;
			if ((done = take_frames(&in, &exit)) != 0) {
				rc = done == 1 ? exit : 1;
				goto out;
			}
		}
		if (n == 0 || n == CX_ERR) {
			out_error("rack %s closed the connection before the process ended", c->rack);
			goto out;
		}
		while (out.len > 0) {
			ssize_t w = client_stream_send(st, out.data, out.len);

			if (w == CX_AGAIN)
				break;
			if (w < 0) {
				out_error("cannot send to rack %s: the connection failed", c->rack);
				goto out;
			}
			buf_consume(&out, (size_t)w);
		}
		if (out.len > 0)
			pf[0].events |= POLLOUT;
		pf[1].fd = stdin_open && out.len == 0 ? 0 : -1;
		if (poll(pf, 2, -1) == -1 && errno != EINTR) {
			out_error("poll: %s", strerror(errno));
			goto out;
		}
		if (pf[1].fd == 0 && pf[1].revents) {
			char data[16384];
			ssize_t r = read(0, data, sizeof(data));
			unsigned char h[5] = { FRAME_STDIN, 0, 0, 0, 0 };

			if (r == -1 && errno == EINTR)
				continue;
			if (r <= 0) {
				stdin_open = false;     /* our EOF: a frame of none, it gets its own */
				r = 0;
			}
			h[3] = (unsigned char)(r >> 8);
			h[4] = (unsigned char)r;
			buf_add(&out, h, sizeof(h));
			buf_add(&out, data, (size_t)r);
		}
	}
out:
	buf_free(&in);
	buf_free(&out);
	client_stream_close(st);
	return rc;
}

/* Runs command_line(c) through path (a run or an exec), attached. */
static int
run_attached(struct cli *c, const char *path)
{
	int in[2] = { -1, -1 }, out[2] = { -1, -1 }, err[2] = { -1, -1 };
	int theirs[3], sock = -1, rc = 1;
	char *cmd;
	jv *body, *ans = NULL;

	if (cli_rack_is_remote(c))
		return run_remote(c, path);
	if (pipe2(in, O_CLOEXEC) == -1 || pipe2(out, O_CLOEXEC) == -1 ||
	    pipe2(err, O_CLOEXEC) == -1) {
		out_error("pipe: %s", strerror(errno));
		goto out;
	}
	cmd = command_line(c);
	body = jv_object_new();
	jv_set_str(body, "command", cmd);
	free(cmd);
	theirs[0] = in[0];
	theirs[1] = out[1];
	theirs[2] = err[1];
	sock = api_attach(c, path, body, theirs, 3);
	jv_free(body);
	if (sock == -1)
		goto out;
	/* The process has its ends now; ours would hide its EOF. */
	close(in[0]);
	close(out[1]);
	close(err[1]);
	in[0] = out[1] = err[1] = -1;
	signal(SIGPIPE, SIG_IGN);
	relay(sock, in[1], out[0], err[0]);
	in[1] = -1;     /* relay closed it */
	if (api_attach_answer(c, sock, &ans) == -1)
		goto out;
	if (jv_get(ans, "exit") != NULL)
		rc = (int)jv_int(ans, "exit");
	else if (jv_get(ans, "signal") != NULL)
		rc = 128 + (int)jv_int(ans, "signal");
	else
		rc = out_error("process %s ended, but the rack does not know how", jv_str(ans, "id"));
out:
	for (int i = 0; i < 2; i++) {
		if (in[i] != -1)
			close(in[i]);
		if (out[i] != -1)
			close(out[i]);
		if (err[i] != -1)
			close(err[i]);
	}
	if (sock != -1)
		close(sock);
	jv_free(ans);
	return rc;
}

int
cmd_run(struct cli *c)
{
	char *path;
	int rc;

	if (cli_select_app(c) == -1 || cli_select_rack(c) == -1)
		return 1;
	path = api_path("/apps/%s/services/%s/run", c->app, c->argv[0]);
	rc = run_attached(c, path);
	free(path);
	return rc;
}

/* cx exec PID COMMAND: the command inside running process PID (cx ps's ID). */
int
cmd_exec(struct cli *c)
{
	char *path;
	int rc;

	if (cli_select_app(c) == -1 || cli_select_rack(c) == -1)
		return 1;
	path = api_path("/apps/%s/processes/%s/exec", c->app, c->argv[0]);
	rc = run_attached(c, path);
	free(path);
	return rc;
}
