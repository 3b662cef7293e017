/*
 * cx-testsrv — a small HTTP/1.1 upstream for the router's end-to-end tests
 * and benches: one blocking thread per connection, keep-alive.
 *
 *   cx-testsrv --listen 127.0.0.1:PORT --name NAME [--pidfile FILE]
 *
 *   GET  /               "NAME\n"
 *   GET  /headers        the request line and headers as received, one per line
 *   GET  /slow?ms=N      answers after N ms
 *   GET  /big?bytes=N    N bytes (a repeating pattern), chunked, in 16 KiB chunks;
 *                        with &close=1 the connection closes after the last chunk
 *   POST /echo           the request body back (CL in, CL out; chunked in, chunked out),
 *                        streamed as it arrives
 *   GET  /status?code=N  an empty answer with status N
 *   GET  /close          answers, then closes (Connection: close)
 *   GET  /eof?bytes=N    N bytes delimited by closing the connection (no length)
 *   GET  /ws             with Upgrade: 101, then echoes every byte back
 *   POST /reject         413 at once, without reading the body; then drains and closes
 *   ANY  /drop?on=NAME   the server named NAME (on= may repeat) reads the request and
 *                        resets the connection without answering, as a process killed
 *                        with it would; any other answers "NAME\n"
 * Every answer carries X-Server: NAME and X-Conn: the connection's serial
 * number (1, 2, ...), so a test can tell whether a connection was reused.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/http1.h"
#include "common/log.h"
#include "common/net.h"
#include "common/util.h"

#define BUFSZ (64 * 1024)

static const char *name = "testsrv";
static unsigned long conn_serial;

struct client {
	int fd;
	unsigned long serial;
	char buf[BUFSZ];
	size_t len;
};

static int
write_all(int fd, const void *p, size_t n)
{
	const char *s = p;

	while (n > 0) {
		ssize_t w = write(fd, s, n);

		if (w == -1 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		s += w;
		n -= (size_t)w;
	}
	return 0;
}

static int
fill(struct client *c)
{
	ssize_t n;

	if (c->len == BUFSZ)
		return -1;
	do {
		n = read(c->fd, c->buf + c->len, BUFSZ - c->len);
	} while (n == -1 && errno == EINTR);
	if (n <= 0)
		return -1;
	c->len += (size_t)n;
	return 0;
}

static void
consume(struct client *c, size_t n)
{
	memmove(c->buf, c->buf + n, c->len - n);
	c->len -= n;
}

static long
query_num(struct http_slice target, const char *key)
{
	char t[1024], *q, *p;
	size_t klen = strlen(key);

	snprintf(t, sizeof(t), "%.*s", (int)target.n, target.p);
	q = strchr(t, '?');
	for (p = q; p != NULL; p = strchr(p + 1, '&')) {
		if (strncmp(p + 1, key, klen) == 0 && p[1 + klen] == '=')
			return strtol(p + 2 + klen, NULL, 10);
	}
	return -1;
}

static bool
path_is(struct http_slice target, const char *path)
{
	size_t n = strlen(path);

	return target.n >= n && memcmp(target.p, path, n) == 0 &&
	    (target.n == n || target.p[n] == '?');
}

/* Whether target's query names this server with on=NAME. */
static bool
dropped_here(struct http_slice target)
{
	char want[128];
	int n = snprintf(want, sizeof(want), "on=%s", name);

	for (size_t i = 0; n > 0 && i + (size_t)n <= target.n; i++) {
		if (memcmp(target.p + i, want, (size_t)n) == 0 &&
		    (i + (size_t)n == target.n || target.p[i + (size_t)n] == '&'))
			return true;
	}
	return false;
}

/* Writes a response head, and body (if not NULL) in the same write. */
static int
head_body(struct client *c, int status, const char *extra, long length, bool close,
    const char *body)
{
	struct buf b;
	int r;

	buf_init(&b, 0);
	buf_addf(&b, "HTTP/1.1 %d %s\r\nX-Server: %s\r\nX-Conn: %lu\r\n%s", status,
	    http1_reason(status), name, c->serial, extra);
	if (length >= 0)
		buf_addf(&b, "Content-Length: %ld\r\n", length);
	buf_addf(&b, "%s\r\n", close ? "Connection: close\r\n" : "");
	if (body != NULL)
		buf_adds(&b, body);
	r = write_all(c->fd, b.data, b.len);
	buf_free(&b);
	return r;
}

static int
head(struct client *c, int status, const char *extra, long length, bool close)
{
	return head_body(c, status, extra, length, close, NULL);
}

static int
answer(struct client *c, int status, const char *body, bool close)
{
	return head_body(c, status, "Content-Type: text/plain\r\n", (long)strlen(body), close,
	    body);
}

struct echo {
	struct client *c;
	int err;
};

static void
echo_chunk(void *arg, const char *p, size_t n)
{
	struct echo *e = arg;
	char sz[32];
	int k = snprintf(sz, sizeof(sz), "%zx\r\n", n);

	if (n == 0 || e->err)
		return;
	if (write_all(e->c->fd, sz, (size_t)k) == -1 || write_all(e->c->fd, p, n) == -1 ||
	    write_all(e->c->fd, "\r\n", 2) == -1)
		e->err = 1;
}

/* Reads (and with echo, sends back) the request body. -1 on a broken connection. */
static int
body(struct client *c, const struct http_request *req, bool echo)
{
	if (req->chunked) {
		struct http_chunked ck;
		struct echo e = { c, 0 };

		http1_chunked_init(&ck);
		if (echo && head(c, 200, "Transfer-Encoding: chunked\r\n", -1, false) == -1)
			return -1;
		for (;;) {
			size_t used;
			int r = http1_chunked_parse(&ck, c->buf, c->len, &used,
			    echo ? echo_chunk : NULL, &e);

			consume(c, used);
			if (r == CX_ERR || e.err)
				return -1;
			if (r == CX_OK)
				break;
			if (fill(c) == -1)
				return -1;
		}
		return echo ? write_all(c->fd, "0\r\n\r\n", 5) : 0;
	}
	{
		uint64_t left = req->content_length > 0 ? (uint64_t)req->content_length : 0;

		if (echo && head(c, 200, "", (long)left, false) == -1)
			return -1;
		while (left > 0) {
			size_t n;

			if (c->len == 0 && fill(c) == -1)
				return -1;
			n = c->len < left ? c->len : (size_t)left;
			if (echo && write_all(c->fd, c->buf, n) == -1)
				return -1;
			consume(c, n);
			left -= n;
		}
	}
	return 0;
}

static void
tunnel(struct client *c)
{
	if (c->len > 0 && write_all(c->fd, c->buf, c->len) == -1)
		return;
	for (;;) {
		ssize_t n = read(c->fd, c->buf, BUFSZ);

		if (n <= 0 || write_all(c->fd, c->buf, (size_t)n) == -1)
			return;
	}
}

/* Serves one request; 1 to keep the connection, 0 to close it. */
static int
serve(struct client *c, struct http_request *req)
{
	struct http_slice t = req->target;
	bool keep = req->keep_alive;
	char *text;
	int r = 0;

	if (path_is(t, "/echo"))
		return body(c, req, true) == -1 ? 0 : keep;
	if (path_is(t, "/reject")) {
		char junk[65536];

		answer(c, 413, "too large\n", true);
		shutdown(c->fd, SHUT_WR);
		while (read(c->fd, junk, sizeof(junk)) > 0)
			;
		return 0;
	}
	if (body(c, req, false) == -1)
		return 0;
	if (path_is(t, "/headers")) {
		struct buf b;

		buf_init(&b, 0);
		buf_addf(&b, "%.*s %.*s HTTP/1.%d\n", (int)req->method.n, req->method.p,
		    (int)t.n, t.p, req->minor);
		for (size_t i = 0; i < req->nheaders; i++)
			buf_addf(&b, "%.*s: %.*s\n", (int)req->headers[i].name.n,
			    req->headers[i].name.p, (int)req->headers[i].value.n,
			    req->headers[i].value.p);
		r = answer(c, 200, buf_cstr(&b), !keep);
		buf_free(&b);
	} else if (path_is(t, "/slow")) {
		long ms = query_num(t, "ms");
		struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

		if (ms > 0)
			nanosleep(&ts, NULL);
		text = xasprintf("%s\n", name);
		r = answer(c, 200, text, !keep);
		free(text);
	} else if (path_is(t, "/big")) {
		long left = query_num(t, "bytes");
		static const char pat[] = "0123456789abcdefghijklmnopqrstuvwxyz\n";
		char chunk[16384 + 32];

		if (query_num(t, "close") == 1)
			keep = false;
		if (head(c, 200, "Transfer-Encoding: chunked\r\nContent-Type: text/plain\r\n",
		    -1, !keep) == -1)
			return 0;
		for (long off = 0; left > 0 && r == 0;) {
			size_t n = left < 16384 ? (size_t)left : 16384;
			int k = snprintf(chunk, sizeof(chunk), "%zx\r\n", n);

			for (size_t i = 0; i < n; i++, off++)
				chunk[k + (int)i] = pat[off % (long)(sizeof(pat) - 1)];
			memcpy(chunk + k + n, "\r\n", 2);
			r = write_all(c->fd, chunk, (size_t)k + n + 2);
			left -= (long)n;
		}
		if (r == 0)
			r = write_all(c->fd, "0\r\n\r\n", 5);
	} else if (path_is(t, "/status")) {
		long code = query_num(t, "code");

		r = head(c, code >= 200 && code <= 999 ? (int)code : 200, "", 0, !keep);
	} else if (path_is(t, "/drop") && dropped_here(t)) {
		struct linger l = { .l_onoff = 1, .l_linger = 0 };

		(void)setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
		return 0;
	} else if (path_is(t, "/close")) {
		text = xasprintf("%s\n", name);
		answer(c, 200, text, true);
		free(text);
		return 0;
	} else if (path_is(t, "/eof")) {
		long n = query_num(t, "bytes");

		head(c, 200, "Content-Type: text/plain\r\n", -1, true);
		for (; n > 0; n--)
			if (write_all(c->fd, "e", 1) == -1)
				break;
		return 0;
	} else if (path_is(t, "/ws") && req->upgrade) {
		char h[256];
		int n = snprintf(h, sizeof(h), "HTTP/1.1 101 Switching Protocols\r\n"
		    "Connection: Upgrade\r\nUpgrade: websocket\r\nX-Server: %s\r\n\r\n", name);

		if (write_all(c->fd, h, (size_t)n) == 0)
			tunnel(c);
		return 0;
	} else {
		text = xasprintf("%s\n", name);
		r = answer(c, 200, text, !keep);
		free(text);
	}
	return r == 0 && keep;
}

static void *
client_thread(void *arg)
{
	struct client *c = arg;
	static __thread struct http_request req;

	for (;;) {
		int r = http1_parse_request(c->buf, c->len, BUFSZ, &req);

		if (r == CX_AGAIN) {
			if (fill(c) == -1)
				break;
			continue;
		}
		if (r == CX_ERR) {
			answer(c, req.status, "bad request\n", true);
			break;
		}
		/* Copy the head out of the way: serve() reuses the buffer. */
		{
			char *headcopy = xmalloc(req.head_len);
			ptrdiff_t delta = headcopy - c->buf;
			int keep;

			memcpy(headcopy, c->buf, req.head_len);
			req.method.p += delta;
			req.target.p += delta;
			req.host.p += delta;
			for (size_t i = 0; i < req.nheaders; i++) {
				req.headers[i].name.p += delta;
				req.headers[i].value.p += delta;
			}
			consume(c, req.head_len);
			keep = serve(c, &req);
			free(headcopy);
			if (!keep)
				break;
		}
	}
	close(c->fd);
	free(c);
	return NULL;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "name", required_argument, NULL, 'n' },
		{ "pidfile", required_argument, NULL, 'p' },
		{ NULL, 0, NULL, 0 },
	};
	const char *listen_addr = NULL, *pidfile = NULL;
	pthread_attr_t attr;
	int ch, lfd, one = 1;

	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'l': listen_addr = optarg; break;
		case 'n': name = optarg; break;
		case 'p': pidfile = optarg; break;
		default:
			fprintf(stderr, "usage: cx-testsrv --listen IP:PORT [--name NAME] [--pidfile F]\n");
			return 2;
		}
	}
	if (listen_addr == NULL) {
		fprintf(stderr, "usage: cx-testsrv --listen IP:PORT [--name NAME] [--pidfile F]\n");
		return 2;
	}
	log_init("cx-testsrv", false);
	signal(SIGPIPE, SIG_IGN);
	lfd = net_listen_tcp(listen_addr, false, 1024);
	if (lfd == -1)
		fatal("listen %s", listen_addr);
	/* Blocking accepts and connections. */
	if (fcntl(lfd, F_SETFL, fcntl(lfd, F_GETFL) & ~O_NONBLOCK) == -1)
		fatal("fcntl");
	if (pidfile != NULL) {
		char pid[32];
		int n = snprintf(pid, sizeof(pid), "%d\n", (int)getpid());

		write_file_atomic(pidfile, pid, (size_t)n, 0644);
	}
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		struct client *c;
		pthread_t t;

		if (fd == -1) {
			if (errno == EINTR || errno == ECONNABORTED || errno == EMFILE)
				continue;
			fatal("accept");
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		c = xcalloc(1, sizeof(*c));
		c->fd = fd;
		c->serial = __atomic_add_fetch(&conn_serial, 1, __ATOMIC_RELAXED);
		if (pthread_create(&t, &attr, client_thread, c) != 0) {
			close(fd);
			free(c);
		}
	}
}
