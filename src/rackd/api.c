/*
 * api.c — connections of the rack API (see api.h) and its route table.
 *
 * A connection's states:
 *   HEAD --head parsed, authorized--> BODY --Content-Length bytes--> dispatch
 *   dispatch --> WRITE --all written--> HEAD (keep-alive) or closed
 * Upload bodies (builds) are spooled to a file as they arrive, never held
 * in memory; their size is checked against build_max_mb before any is read.
 *
 * Over HTTPS (api_port, api_tls.h) a connection starts in HANDSHAKE, bounded
 * by API_HANDSHAKE_MS; a handshake that fails or stalls closes that
 * connection alone. Its bytes then go through tls_conn_read/write, which may
 * want the other direction (conn_watch), and may hold decrypted bytes the
 * socket no longer signals: after each answer the connection reads on at
 * once rather than waiting for the socket.
 *
 * Floods: the API holds at most api_max_conns connections (param; default a
 * quarter of the descriptor limit), API_MAX_TLS_CONNS of them HTTPS. At a
 * cap the least recently active idle connection (between requests, or in
 * its handshake) is closed to admit a new one; with none idle, or when
 * accept runs out of descriptors, the listeners are not watched for
 * ACCEPT_RETRY_MS or until a connection closes. One line a second at most
 * says so, with counts.
 */
#include "rackd/api.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/http1.h"
#include "common/log.h"
#include "common/net.h"
#include "common/tls.h"
#include "rackd/api_tls.h"
#include "rackd/disk.h"
#include "rackd/rack.h"

#define API_MAX_HEAD (64 * 1024)
#define API_MAX_JSON (1024 * 1024)
#define API_IDLE_MS 120000
#define API_HANDSHAKE_MS 10000
/* HTTPS connections at once: past it the oldest idle one is shed, or
 * with none idle the new one is closed at accept. */
#define API_MAX_TLS_CONNS 256
#define ACCEPT_RETRY_MS 100
#define FLOOD_LOG_MS 1000

struct route {
	const char *method;
	const char *pattern;      /* segments; ":x" captures */
	api_handler handler;
	bool upload;              /* body spooled to a file */
};

static const struct route routes[] = {
	{ "GET", "/system", api_system_get, false },
	{ "GET", "/system/params", api_params_get, false },
	{ "PUT", "/system/params", api_params_put, false },
	{ "POST", "/system/uninstall", api_uninstall, false },
	{ "POST", "/system/reconcile", api_reconcile, false },
	{ "GET", "/system/logs", api_system_logs, false },
	{ "GET", "/system/metrics", api_system_metrics, false },
	{ "GET", "/system/ca", api_system_ca, false },
	{ "GET", "/system/processes", api_system_processes, false },
	{ "GET", "/system/peering", api_peering_get, false },
	{ "GET", "/system/peers", api_peers_list, false },
	{ "POST", "/system/peers", api_peers_add, false },
	{ "DELETE", "/system/peers/:name", api_peers_delete, false },
	{ "POST", "/system/reach", api_system_reach, false },
	{ "POST", "/render", api_render, false },
	{ "GET", "/certificates", api_certs_list, false },
	{ "POST", "/certificates", api_certs_import, false },
	{ "POST", "/certificates/generate", api_certs_generate, false },
	{ "DELETE", "/certificates/:id", api_certs_delete, false },
	{ "GET", "/apps/:app/ssl", api_ssl_list, false },
	{ "PUT", "/apps/:app/ssl/:svc/:port", api_ssl_update, false },
	{ "GET", "/apps", api_apps_list, false },
	{ "POST", "/apps", api_apps_create, false },
	{ "GET", "/apps/:app", api_app_get, false },
	{ "DELETE", "/apps/:app", api_app_delete, false },
	{ "POST", "/apps/:app/cancel", api_app_cancel, false },
	{ "GET", "/apps/:app/export", api_app_export, false },
	{ "POST", "/apps/:app/import", api_app_import, true },
	{ "POST", "/apps/:app/builds", api_builds_create, true },
	{ "GET", "/apps/:app/builds", api_builds_list, false },
	{ "POST", "/apps/:app/builds/prune", api_builds_prune, false },
	{ "GET", "/apps/:app/builds/:id", api_build_get, false },
	{ "GET", "/apps/:app/builds/:id/logs", api_build_logs, false },
	{ "GET", "/apps/:app/releases", api_releases_list, false },
	{ "GET", "/apps/:app/releases/:id", api_release_get, false },
	{ "GET", "/apps/:app/releases/:id/manifest", api_release_manifest, false },
	{ "POST", "/apps/:app/releases/:id/promote", api_release_promote, false },
	{ "POST", "/apps/:app/releases/:id/rollback", api_release_rollback, false },
	{ "GET", "/apps/:app/services", api_services_list, false },
	{ "GET", "/apps/:app/processes", api_processes_list, false },
	{ "GET", "/apps/:app/resources", api_resources_list, false },
	{ "GET", "/apps/:app/resources/:name", api_resource_get, false },
	{ "POST", "/apps/:app/resources/:name/import", api_resource_import, true },
	{ "DELETE", "/apps/:app/processes/:id", api_process_stop, false },
	{ "POST", "/apps/:app/processes/:id/exec", api_exec, false },
	{ "GET", "/apps/:app/environment", api_env_get, false },
	{ "POST", "/apps/:app/environment", api_env_set, false },
	{ "POST", "/apps/:app/services/:svc/scale", api_scale, false },
	{ "POST", "/apps/:app/services/:svc/run", api_run, false },
	{ "POST", "/apps/:app/restart", api_restart, false },
	{ "POST", "/apps/:app/services/:svc/restart", api_service_restart, false },
	{ "GET", "/apps/:app/logs", api_logs, false },
};

struct conn {
	struct rack *rack;
	struct conn *prev, *next;     /* conns: the most recently active first */
	int fd;
	struct buf in;
	struct buf out;
	size_t out_off;
	struct http_request req;
	const struct route *route;
	const char *args[4];
	char method[16];
	char path[1024];
	char query[1024];
	bool in_body;
	int64_t body_left;
	int spool_fd;
	char spool_path[4096];
	struct buf body;
	bool close_after;
	struct ev_timer *idle;
	void (*after)(struct rack *r);
	struct api_pending *pending;  /* a deferred answer not yet given */
	bool want_attach;             /* the request asked Upgrade: cx-attach */
	struct attach *attach;        /* streaming a process's stdio (api_attach) */
	int fds[API_MAX_FDS];         /* descriptors the client handed over (SCM_RIGHTS) */
	size_t nfds;
	struct tls_conn *tls;         /* HTTPS connections; NULL on the unix socket */
	bool handshaking;
	short tls_want;               /* POLLIN/POLLOUT a TLS call waits for, 0 none */
	char peer[64];                /* "IP:PORT" of an HTTPS client, for the log */
	int file_fd;                  /* a body streamed from a file (api_finish_file), -1 */
	int64_t file_left;            /* its bytes not yet in out */
};

struct api_pending {
	struct conn *conn;            /* NULL once the client went away */
	void (*gone)(void *arg);      /* called if the client goes before the answer */
	void *gone_arg;
};

static char expected_auth[256];
static size_t tls_conns;
static struct conn *conns, *conns_tail;
static size_t nconns;
static bool accept_paused;
static struct ev_timer *accept_timer;
/* Since the last flood line: pauses, connections shed, HTTPS ones refused. */
static unsigned long flood_paused, flood_shed, flood_refused;
static int64_t flood_log_next;

static void conn_free(struct conn *c);
static void accept_resume(struct rack *r);
static void attach_exit(struct conn *c, jv *json);
static void attach_free(struct conn *c);
static void conn_io(struct ev_loop *loop, int fd, uint32_t events, void *arg);

/* {"error": msg}, owned: every refusal the API sends. */
static jv *
error_json(const char *msg)
{
	jv *e = jv_object_new();

	jv_set_str(e, "error", msg);
	return e;
}

void
api_error(struct api_resp *s, int status, const char *fmt, ...)
{
	char msg[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	s->status = status;
	jv_free(s->json);
	s->json = error_json(msg);
}

int
api_query(const struct api_req *q, const char *key, char *out, size_t outlen)
{
	size_t klen = strlen(key);
	const char *p = q->query;

	while (p != NULL && *p != '\0') {
		const char *end = strchr(p, '&');
		size_t n = end ? (size_t)(end - p) : strlen(p);

		if (n > klen && strncmp(p, key, klen) == 0 && p[klen] == '=') {
			size_t o = 0;

			for (size_t i = klen + 1; i < n && o + 1 < outlen; i++) {
				if (p[i] == '%' && i + 2 < n) {
					char hex[3] = { p[i + 1], p[i + 2], 0 };

					out[o++] = (char)strtol(hex, NULL, 16);
					i += 2;
				} else {
					out[o++] = p[i] == '+' ? ' ' : p[i];
				}
			}
			out[o] = '\0';
			return 0;
		}
		p = end ? end + 1 : NULL;
	}
	return -1;
}

jv *
api_json_body(const struct api_req *q, struct api_resp *s)
{
	char err[256];
	jv *v;

	if (q->body == NULL || q->body->len == 0) {
		api_error(s, 400, "a JSON body is required");
		return NULL;
	}
	v = jv_parse(q->body->data, q->body->len, err, sizeof(err));
	if (v == NULL || !jv_is_object(v)) {
		api_error(s, 400, "invalid JSON body: %s", v == NULL ? err : "not an object");
		jv_free(v);
		return NULL;
	}
	return v;
}

static void
respond(struct conn *c, struct api_resp *s)
{
	char *body = NULL;
	const char *ctype = "application/json";
	size_t blen;

	if (s->json != NULL) {
		body = jv_dump(s->json);
		blen = strlen(body);
	} else {
		ctype = "text/plain; charset=utf-8";
		blen = s->text.len;
	}
	buf_addf(&c->out, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%s%s\r\n",
	    s->status, http1_reason(s->status), ctype, blen, s->extra,
	    c->close_after ? "Connection: close\r\n" : "");
	if (body != NULL)
		buf_add(&c->out, body, blen);
	else if (blen > 0)
		buf_add(&c->out, s->text.data, blen);
	free(body);
	jv_free(s->json);
	buf_free(&s->text);
	c->after = s->after;
	c->tls_want = 0;
	ev_mod(c->rack->loop, c->fd, EV_WRITE);
}

static void
respond_error(struct conn *c, int status, const char *msg)
{
	struct api_resp s = { 0 };

	buf_init(&s.text, 0);
	c->close_after = true;
	api_error(&s, status, "%s", msg);
	respond(c, &s);
}

/* Splits path into segments and matches the route table. */
static int
match(struct conn *c, const char *method)
{
	bool path_matched = false;

	for (size_t i = 0; i < CX_ARRAY_LEN(routes); i++) {
		const char *pat = routes[i].pattern, *p = c->path;
		size_t nargs = 0;
		bool ok = true;

		while (*pat != '\0' && ok) {
			if (*pat == ':') {
				size_t n = strcspn(p, "/");

				while (*pat != '\0' && *pat != '/')
					pat++;
				if (n == 0 || nargs == CX_ARRAY_LEN(c->args)) {
					ok = false;
					break;
				}
				c->args[nargs++] = p;
				p += n;
				continue;
			}
			if (*pat != *p)
				ok = false;
			pat++;
			p++;
		}
		if (!ok || *p != '\0')
			continue;
		path_matched = true;
		if (strcmp(routes[i].method, method) != 0)
			continue;
		c->route = &routes[i];
		return 0;
	}
	return path_matched ? 405 : 404;
}

static void
dispatch(struct conn *c)
{
	struct api_req q = { 0 };
	struct api_resp s = { .status = 200 };

	buf_init(&s.text, 0);
	/* Captures point into c->path: cut it at each '/' now that matching is done. */
	for (char *p = c->path; *p != '\0'; p++) {
		if (*p == '/' && p != c->path)
			*p = '\0';
	}
	q.method = c->method;
	q.path = c->path;
	q.query = c->query;
	memcpy(q.args, c->args, sizeof(q.args));
	q.body = &c->body;
	q.body_path = c->route->upload ? c->spool_path : NULL;
	q.body_len = c->req.content_length < 0 ? 0 : c->req.content_length;
	q.conn = c;
	q.fds = c->fds;
	q.nfds = c->nfds;
	q.attach = c->want_attach;
	c->route->handler(c->rack, &q, &s);
	if (c->attach != NULL) {
		/* The 101 and the relay start at the connection's next event. */
		buf_free(&s.text);
		ev_mod(c->rack->loop, c->fd, EV_READ | EV_WRITE);
		return;
	}
	if (s.deferred) {
		buf_free(&s.text);
		ev_mod(c->rack->loop, c->fd, 0);   /* hang-ups are still reported */
		return;
	}
	if (s.json == NULL && !s.is_text && s.text.len == 0 && s.status < 300)
		s.json = jv_object_new();
	respond(c, &s);
}

static bool
authorized(const struct http_request *req)
{
	const struct http_slice *a = http1_header(req, "Authorization");
	size_t n = strlen(expected_auth);
	unsigned char diff = 0;

	if (a == NULL || a->n != n)
		return false;
	for (size_t i = 0; i < n; i++)
		diff |= (unsigned char)(a->p[i] ^ expected_auth[i]);
	return diff == 0;
}

static void
start_request(struct conn *c)
{
	const char *t = c->req.target.p;
	size_t n = c->req.target.n, qpos;
	char *method = c->method;
	int rc;

	c->close_after = !c->req.keep_alive;
	{
		const struct http_slice *u = http1_header(&c->req, "Upgrade");

		c->want_attach = c->req.upgrade && u != NULL && u->n == 9 &&
		    strncasecmp(u->p, "cx-attach", 9) == 0;
	}
	if (!authorized(&c->req)) {
		respond_error(c, 401, "invalid password");
		return;
	}
	qpos = 0;
	while (qpos < n && t[qpos] != '?')
		qpos++;
	if (qpos >= sizeof(c->path) || n - qpos >= sizeof(c->query)) {
		respond_error(c, 414, "request target too long");
		return;
	}
	memcpy(c->path, t, qpos);
	c->path[qpos] = '\0';
	if (qpos < n) {
		memcpy(c->query, t + qpos + 1, n - qpos - 1);
		c->query[n - qpos - 1] = '\0';
	} else {
		c->query[0] = '\0';
	}
	/* Copied: the head's bytes are consumed before the handler runs. */
	snprintf(c->method, sizeof(c->method), "%.*s", (int)c->req.method.n, c->req.method.p);
	rc = match(c, method);
	if (rc != 0) {
		char msg[1200];

		snprintf(msg, sizeof(msg), rc == 405 ? "method %s not allowed on %s" :
		    "no such endpoint: %s %s", method, c->path);
		respond_error(c, rc, msg);
		return;
	}
	if (c->req.chunked || (c->req.content_length < 0 &&
	    (strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0))) {
		respond_error(c, 411, "send the body with a Content-Length header");
		return;
	}
	c->body_left = c->req.content_length < 0 ? 0 : c->req.content_length;
	if (c->route->upload) {
		char mb[32];
		long max_mb = 512;

		rack_param(c->rack, "build_max_mb", mb, sizeof(mb));
		parse_long(mb, 1, 1 << 20, &max_mb);
		if (c->body_left > (int64_t)max_mb << 20) {
			char msg[256];

			snprintf(msg, sizeof(msg), "source is %lld MiB; the limit is build_max_mb=%ld"
			    " (raise it with: cx rack params set build_max_mb=N)",
			    (long long)(c->body_left >> 20), max_mb);
			respond_error(c, 413, msg);
			return;
		}
		{
			char msg[4400];

			/* A deploy on a full disk would fail half-way: it is refused whole. */
			if (disk_check(c->rack, msg, sizeof(msg)) == -1) {
				respond_error(c, 507, msg);
				return;
			}
		}
		snprintf(c->spool_path, sizeof(c->spool_path), "%s/tmp/upload-XXXXXX", c->rack->dir);
		c->spool_fd = mkstemp(c->spool_path);
		if (c->spool_fd == -1) {
			log_warn("upload spool %s", c->spool_path);
			respond_error(c, 500, "cannot store the upload");
			return;
		}
	} else if (c->body_left > API_MAX_JSON) {
		respond_error(c, 413, "request body over 1 MiB");
		return;
	}
	buf_consume(&c->in, c->req.head_len);
	c->in_body = true;
}

/* Moves body bytes from c->in to the body buffer or the spool file. */
static int
take_body(struct conn *c)
{
	size_t n = c->in.len < (size_t)c->body_left ? c->in.len : (size_t)c->body_left;

	if (n == 0)
		return 0;
	if (c->spool_fd != -1) {
		size_t off = 0;

		while (off < n) {
			ssize_t w = write(c->spool_fd, c->in.data + off, n - off);

			if (w == -1 && errno == EINTR)
				continue;
			if (w <= 0)
				return -1;
			off += (size_t)w;
		}
	} else {
		buf_add(&c->body, c->in.data, n);
	}
	buf_consume(&c->in, n);
	c->body_left -= (int64_t)n;
	return 0;
}

static void
process_input(struct conn *c)
{
	if (c->pending != NULL)
		return;     /* one request at a time: the next waits for the deferred answer */
	if (!c->in_body) {
		int rc = http1_parse_request(c->in.data ? c->in.data : "", c->in.len, API_MAX_HEAD,
		    &c->req);

		if (rc == CX_AGAIN)
			return;
		if (rc == CX_ERR) {
			char msg[128];

			snprintf(msg, sizeof(msg), "malformed HTTP request: %s",
			    c->req.error ? c->req.error : "bad request");
			respond_error(c, c->req.status ? c->req.status : 400, msg);
			return;
		}
		start_request(c);
		if (!c->in_body)
			return;
	}
	if (take_body(c) == -1) {
		char msg[4400] = "cannot store the upload";

		if (errno == ENOSPC)
			disk_full_message(c->rack, msg, sizeof(msg));
		respond_error(c, errno == ENOSPC ? 507 : 500, msg);
		return;
	}
	if (c->body_left == 0) {
		c->in_body = false;
		if (c->spool_fd != -1) {
			close(c->spool_fd);
			c->spool_fd = -1;
		}
		dispatch(c);
	}
}

/* Descriptors a handler did not take (set to -1) go with the request. */
static void
close_fds(struct conn *c)
{
	for (size_t i = 0; i < c->nfds; i++) {
		if (c->fds[i] != -1)
			close(c->fds[i]);
	}
	c->nfds = 0;
}

/* read(), also taking the descriptors a client may send with its bytes
 * (`cx run` hands over its process's stdio). Extra ones are closed. */
static ssize_t
recv_fds(struct conn *c, char *p, size_t n)
{
	union {
		struct cmsghdr h;
		char space[CMSG_SPACE(sizeof(int) * API_MAX_FDS)];
	} ctl;
	struct iovec iov = { p, n };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.space,
		.msg_controllen = sizeof(ctl.space) };
	ssize_t got = recvmsg(c->fd, &msg, MSG_CMSG_CLOEXEC);

	if (got < 0)
		return got;
	for (struct cmsghdr *h = CMSG_FIRSTHDR(&msg); h != NULL; h = CMSG_NXTHDR(&msg, h)) {
		size_t k;

		if (h->cmsg_level != SOL_SOCKET || h->cmsg_type != SCM_RIGHTS)
			continue;
		k = (h->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < k; i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(h) + i * sizeof(int), sizeof(int));
			if (c->nfds < API_MAX_FDS)
				c->fds[c->nfds++] = fd;
			else
				close(fd);
		}
	}
	if (msg.msg_flags & MSG_CTRUNC)
		log_warnx("api: a client sent more than %d descriptors; the rest were dropped",
		    API_MAX_FDS);
	return got;
}

static void
reset_request(struct conn *c)
{
	if (c->spool_fd != -1) {
		close(c->spool_fd);
		c->spool_fd = -1;
	}
	if (c->spool_path[0] != '\0') {
		unlink(c->spool_path);
		c->spool_path[0] = '\0';
	}
	buf_reset(&c->body);
	c->route = NULL;
	c->in_body = false;
	close_fds(c);
	if (c->file_fd != -1) {
		close(c->file_fd);
		c->file_fd = -1;
	}
	c->file_left = 0;
}

/* Refills out from the body file: 1 when bytes were added, 0 when it is
 * done (or there is none), -1 when it cannot be read (the answer is cut:
 * the client sees fewer bytes than Content-Length said). */
static int
file_refill(struct conn *c)
{
	ssize_t n;
	size_t want;

	if (c->file_fd == -1 || c->file_left == 0)
		return 0;
	want = c->file_left < 262144 ? (size_t)c->file_left : 262144;
	if (buf_reserve(&c->out, want) == -1)
		return -1;
	do
		n = read(c->file_fd, c->out.data + c->out.len, want);
	while (n == -1 && errno == EINTR);
	if (n <= 0) {
		log_warnx("api: the body file of an answer ended %lld bytes early",
		    (long long)c->file_left);
		return -1;
	}
	c->out.len += (size_t)n;
	c->file_left -= n;
	return 1;
}

/* TLS results as read(2)/write(2) give them: CX_AGAIN becomes -1 with
 * EAGAIN (c->tls_want says for what), CX_ERR -1 with EPROTO. */
static ssize_t
tls_result(struct conn *c, ssize_t n)
{
	if (n == CX_AGAIN) {
		c->tls_want = tls_conn_events(c->tls);
		errno = EAGAIN;
		return -1;
	}
	if (n == CX_ERR) {
		log_debug("api: %s: %s", c->peer, tls_conn_error(c->tls));
		errno = EPROTO;
		return -1;
	}
	c->tls_want = 0;
	return n;
}

static ssize_t
conn_recv(struct conn *c, char *p, size_t n)
{
	if (c->tls == NULL)
		return recv_fds(c, p, n);
	return tls_result(c, tls_conn_read(c->tls, p, n));
}

static ssize_t
conn_send(struct conn *c, const char *p, size_t n)
{
	if (c->tls == NULL)
		return write(c->fd, p, n);
	return tls_result(c, tls_conn_write(c->tls, p, n));
}

/* Watches for what the connection waits on: writing its answer, or reading,
 * unless TLS asked for the other direction. */
static void
conn_watch(struct conn *c, bool writing)
{
	uint32_t ev = writing ? EV_WRITE : EV_READ;

	if (c->tls_want != 0)
		ev = c->tls_want == POLLOUT ? EV_WRITE : EV_READ;
	ev_mod(c->rack->loop, c->fd, ev);
}

/*
 * Attached connections (api_attach). After the 101, frames both ways: a
 * type byte, a 4-byte big-endian length, that many bytes. The client sends
 * ATTACH_STDIN (length 0: its stdin ended); the rack sends ATTACH_STDOUT,
 * ATTACH_STDERR, and last ATTACH_EXIT ({"id","exit"} or {"id","signal"}),
 * then closes. Output waits while ATTACH_OUT_MAX bytes are unsent; the
 * client's frames wait while the process's stdin is full.
 */
enum { ATTACH_STDIN = 0, ATTACH_STDOUT = 1, ATTACH_STDERR = 2, ATTACH_EXIT = 3 };
#define ATTACH_FRAME_MAX (64 * 1024)
#define ATTACH_OUT_MAX (1 << 20)
#define ATTACH_DRAIN_MS 1000

struct attach {
	int in_w, out_r, err_r;       /* -1 once closed */
	struct buf stdin_left;        /* a frame's bytes the process's stdin did not take yet */
	jv *exit;                     /* the process ended: sent once its output is drained */
	struct ev_timer *drain;       /* bounds that drain */
	bool done;                    /* the exit frame is queued: close once written */
};

static void attach_flush(struct conn *c);

static void
attach_frame(struct conn *c, int type, const void *p, size_t n)
{
	unsigned char h[5] = { (unsigned char)type, (unsigned char)(n >> 24),
		(unsigned char)(n >> 16), (unsigned char)(n >> 8), (unsigned char)n };

	buf_add(&c->out, h, sizeof(h));
	if (n > 0)
		buf_add(&c->out, p, n);
}

static void
attach_close_fd(struct conn *c, int *fd)
{
	if (*fd == -1)
		return;
	ev_del(c->rack->loop, *fd);
	close(*fd);
	*fd = -1;
}

/* The exit frame, once the process ended and its output is drained. */
static void
attach_try_exit(struct conn *c)
{
	struct attach *a = c->attach;
	char *text;

	if (a->exit == NULL || a->done || a->out_r != -1 || a->err_r != -1)
		return;
	text = jv_dump(a->exit);
	attach_frame(c, ATTACH_EXIT, text, strlen(text));
	free(text);
	a->done = true;
	attach_close_fd(c, &a->in_w);
}

static void
attach_drain_over(struct ev_loop *loop, void *arg)
{
	struct conn *c = arg;

	(void)loop;
	c->attach->drain = NULL;
	/* Something the process left behind holds its output open: stop there. */
	attach_close_fd(c, &c->attach->out_r);
	attach_close_fd(c, &c->attach->err_r);
	attach_try_exit(c);
	attach_flush(c);
}

static void
attach_exit(struct conn *c, jv *json)
{
	struct attach *a = c->attach;

	c->pending = NULL;      /* answered: the client leaving now stops nothing */
	jv_free(a->exit);
	a->exit = json != NULL ? json : jv_object_new();
	if (a->out_r != -1 || a->err_r != -1)
		a->drain = ev_timer_add(c->rack->loop, ATTACH_DRAIN_MS, attach_drain_over, c);
	attach_try_exit(c);
	attach_flush(c);
}

static void
attach_pipe_io(struct ev_loop *loop, int fd, uint32_t events, void *arg)
{
	struct conn *c = arg;
	struct attach *a = c->attach;
	char data[16384];
	ssize_t n;

	(void)loop;
	(void)events;
	n = read(fd, data, sizeof(data));
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n > 0) {
		attach_frame(c, fd == a->out_r ? ATTACH_STDOUT : ATTACH_STDERR, data, (size_t)n);
	} else {
		attach_close_fd(c, fd == a->out_r ? &a->out_r : &a->err_r);
		attach_try_exit(c);
	}
	attach_flush(c);
}

/* Writes what the client sent for the process's stdin; false while its pipe is full. */
static bool
attach_stdin_write(struct conn *c)
{
	struct attach *a = c->attach;

	while (a->stdin_left.len > 0) {
		ssize_t w;

		if (a->in_w == -1) {
			buf_reset(&a->stdin_left);  /* it closed its stdin: the rest goes nowhere */
			break;
		}
		w = write(a->in_w, a->stdin_left.data, a->stdin_left.len);
		if (w == -1 && errno == EINTR)
			continue;
		if (w == -1 && errno == EAGAIN)
			return false;
		if (w <= 0) {
			attach_close_fd(c, &a->in_w);
			continue;
		}
		buf_consume(&a->stdin_left, (size_t)w);
	}
	return true;
}

static void
attach_stdin_io(struct ev_loop *loop, int fd, uint32_t events, void *arg)
{
	(void)loop;
	(void)fd;
	(void)events;
	attach_flush(arg);
}

/* The client's frames in c->in, while the process's stdin takes them. -1
 * on a malformed frame. */
static int
attach_take_frames(struct conn *c)
{
	struct attach *a = c->attach;

	while (attach_stdin_write(c) && c->in.len >= 5) {
		const unsigned char *h = (const unsigned char *)c->in.data;
		size_t n = (size_t)h[1] << 24 | (size_t)h[2] << 16 | (size_t)h[3] << 8 | h[4];

		if (h[0] != ATTACH_STDIN || n > ATTACH_FRAME_MAX)
			return -1;
		if (c->in.len < 5 + n)
			break;
		if (n == 0)
			attach_close_fd(c, &a->in_w);   /* its stdin ended */
		else if (a->in_w != -1)
			buf_add(&a->stdin_left, c->in.data + 5, n);
		buf_consume(&c->in, 5 + n);
	}
	return 0;
}

/* Moves bytes every way they can go, then watches for what is left. */
static void
attach_flush(struct conn *c)
{
	struct attach *a = c->attach;
	bool in_full;
	uint32_t ev = 0;

	while (c->out_off < c->out.len) {
		ssize_t n = conn_send(c, c->out.data + c->out_off, c->out.len - c->out_off);

		if (n == -1 && errno == EAGAIN)
			break;
		if (n <= 0) {
			conn_free(c);
			return;
		}
		c->out_off += (size_t)n;
	}
	if (c->out_off == c->out.len) {
		buf_reset(&c->out);
		c->out_off = 0;
		if (a->done) {
			conn_free(c);
			return;
		}
	}
	for (;;) {
		ssize_t n;

		if (attach_take_frames(c) == -1) {
			log_warnx("api: %s sent a malformed attach frame", c->peer[0] ? c->peer : "a client");
			conn_free(c);
			return;
		}
		if (a->stdin_left.len > 0 || c->in.len >= API_MAX_JSON)
			break;
		if (buf_reserve(&c->in, 65536) == -1)
			break;
		n = conn_recv(c, c->in.data + c->in.len, 65536);
		if (n == -1 && errno == EAGAIN)
			break;
		if (n <= 0) {
			conn_free(c);   /* the client went away: run_client_gone stops the process */
			return;
		}
		c->in.len += (size_t)n;
	}
	in_full = a->stdin_left.len > 0;
	if (a->in_w != -1)
		ev_mod(c->rack->loop, a->in_w, in_full ? EV_WRITE : 0);
	/* Output waits while too much is unsent. */
	for (int i = 0; i < 2; i++) {
		int fd = i == 0 ? a->out_r : a->err_r;

		if (fd != -1)
			ev_mod(c->rack->loop, fd, c->out.len < ATTACH_OUT_MAX ? EV_READ : 0);
	}
	if (!in_full)
		ev |= EV_READ;
	if (c->out.len > 0)
		ev |= EV_WRITE;
	if (c->tls_want != 0)
		ev |= c->tls_want == POLLOUT ? EV_WRITE : EV_READ;
	ev_mod(c->rack->loop, c->fd, ev);
}

static void
attach_free(struct conn *c)
{
	struct attach *a = c->attach;

	if (a == NULL)
		return;
	attach_close_fd(c, &a->in_w);
	attach_close_fd(c, &a->out_r);
	attach_close_fd(c, &a->err_r);
	ev_timer_cancel(c->rack->loop, a->drain);
	buf_free(&a->stdin_left);
	jv_free(a->exit);
	free(a);
	c->attach = NULL;
}

struct api_pending *
api_attach(struct api_req *q, struct api_resp *s, const int fds[3])
{
	struct conn *c = q->conn;
	struct attach *a = xcalloc(1, sizeof(*a));
	struct api_pending *p = api_defer(q, s);
	int *mine[3] = { &a->in_w, &a->out_r, &a->err_r };

	buf_init(&a->stdin_left, ATTACH_FRAME_MAX * 2);
	c->attach = a;
	for (int i = 0; i < 3; i++) {
		*mine[i] = fds[i];
		set_nonblock(fds[i]);
		if (ev_add(c->rack->loop, fds[i], i == 0 ? 0 : EV_READ, i == 0 ? attach_stdin_io :
		    attach_pipe_io, c) == -1)
			log_warn("api: cannot watch a run's pipe");
	}
	/* The request's body is consumed; what follows it in c->in is frames. */
	buf_adds(&c->out, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: cx-attach\r\n"
	    "Connection: Upgrade\r\n\r\n");
	return p;
}

static void
conns_unlink(struct conn *c)
{
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	else
		conns_tail = c->prev;
	c->prev = c->next = NULL;
}

static void
conns_push_front(struct conn *c)
{
	c->next = conns;
	if (conns != NULL)
		conns->prev = c;
	else
		conns_tail = c;
	conns = c;
}

/* c was active: it goes to the front of conns. */
static void
conns_touch(struct conn *c)
{
	if (conns != c) {
		conns_unlink(c);
		conns_push_front(c);
	}
}

/* Waiting on the client alone: between requests with nothing read or left
 * to write, or in its TLS handshake. */
static bool
conn_idle(const struct conn *c)
{
	return c->handshaking || (c->pending == NULL && c->attach == NULL && c->in.len == 0 &&
	    c->out.len == 0 && !c->in_body);
}

/* The idle connection (an HTTPS one when tls) least recently active, or NULL. */
static struct conn *
oldest_idle(bool tls)
{
	for (struct conn *c = conns_tail; c != NULL; c = c->prev) {
		if (conn_idle(c) && (!tls || c->tls != NULL))
			return c;
	}
	return NULL;
}

static void
idle_timeout(struct ev_loop *loop, void *arg)
{
	struct conn *c = arg;

	(void)loop;
	c->idle = NULL;
	conn_free(c);
}

static void
conn_io(struct ev_loop *loop, int fd, uint32_t events, void *arg)
{
	struct conn *c = arg;

	conns_touch(c);
	if (c->attach != NULL) {
		attach_flush(c);
		return;
	}
	if (c->handshaking) {
		int rc = tls_conn_handshake(c->tls);

		if (rc == CX_AGAIN) {
			/* The handshake's deadline (c->idle) keeps running. */
			ev_mod(loop, fd, tls_conn_events(c->tls) == POLLOUT ? EV_WRITE : EV_READ);
			return;
		}
		if (rc == CX_ERR) {
			log_info("api: TLS handshake from %s failed: %s", c->peer,
			    tls_conn_error(c->tls));
			conn_free(c);
			return;
		}
		c->handshaking = false;
		ev_mod(loop, fd, EV_READ);
	}
	ev_timer_cancel(loop, c->idle);
	c->idle = NULL;
	if (c->out.len > 0) {
		for (;;) {
			int more;

			while (c->out_off < c->out.len) {
				ssize_t n = conn_send(c, c->out.data + c->out_off,
				    c->out.len - c->out_off);

				if (n == -1 && errno == EAGAIN) {
					conn_watch(c, true);
					goto wait;
				}
				if (n <= 0) {
					conn_free(c);
					return;
				}
				c->out_off += (size_t)n;
			}
			buf_reset(&c->out);
			c->out_off = 0;
			if ((more = file_refill(c)) == 0)
				break;
			if (more == -1) {
				conn_free(c);
				return;
			}
		}
		reset_request(c);
		if (c->after != NULL) {
			void (*after)(struct rack *) = c->after;

			c->after = NULL;
			after(c->rack);
			/* the rack may be exiting; the loop stops soon */
		}
		if (c->close_after) {
			conn_free(c);
			return;
		}
		ev_mod(loop, fd, EV_READ);
		if (c->in.len > 0)
			process_input(c);
		if (c->out.len > 0 || c->pending != NULL)
			goto wait;
		/* Read on now: TLS may hold bytes the socket will not signal again. */
	} else if (c->pending != NULL) {
		/* Waiting for a deferred answer: read nothing more (one request at a
		 * time), but notice the client leaving. No idle timeout meanwhile. */
		if (events & EV_ERROR) {
			conn_free(c);
			return;
		}
		ev_mod(loop, fd, 0);
		return;
	}
	for (;;) {
		ssize_t n;

		if (buf_reserve(&c->in, 65536) == -1) {
			respond_error(c, 431, "request too large");
			goto wait;
		}
		n = conn_recv(c, c->in.data + c->in.len, 65536);
		if (n == -1 && errno == EAGAIN) {
			conn_watch(c, false);
			break;
		}
		if (n <= 0) {
			conn_free(c);
			return;
		}
		c->in.len += (size_t)n;
		process_input(c);
		if (c->out.len > 0 || c->pending != NULL)
			break;
	}
wait:
	if (c->pending == NULL)
		c->idle = ev_timer_add(loop, API_IDLE_MS, idle_timeout, c);
}

struct api_pending *
api_defer(struct api_req *q, struct api_resp *s)
{
	struct conn *c = q->conn;
	struct api_pending *p = xcalloc(1, sizeof(*p));

	p->conn = c;
	c->pending = p;
	s->deferred = true;
	return p;
}

void
api_pending_on_gone(struct api_pending *p, void (*gone)(void *arg), void *arg)
{
	p->gone = gone;
	p->gone_arg = arg;
}

void
api_finish(struct api_pending *p, int status, jv *json)
{
	struct api_resp s = { .status = status, .json = json };

	buf_init(&s.text, 0);
	if (p->conn != NULL && p->conn->attach != NULL) {
		attach_exit(p->conn, json);
		free(p);
		return;
	}
	if (p->conn != NULL) {
		p->conn->pending = NULL;
		if (s.json == NULL)
			s.json = jv_object_new();
		respond(p->conn, &s);
	} else {
		jv_free(json);
	}
	free(p);
}

void
api_finish_file(struct api_pending *p, const char *ctype, int fd, int64_t len)
{
	struct conn *c = p->conn;

	if (c == NULL || c->attach != NULL) {
		close(fd);
		free(p);
		return;
	}
	c->pending = NULL;
	buf_addf(&c->out, "HTTP/1.1 200 OK\r\nContent-Type: %s\r\nContent-Length: %lld\r\n%s\r\n",
	    ctype, (long long)len, c->close_after ? "Connection: close\r\n" : "");
	c->file_fd = fd;
	c->file_left = len;
	c->after = NULL;
	c->tls_want = 0;
	ev_mod(c->rack->loop, c->fd, EV_WRITE);
	free(p);
}

void
api_finish_error(struct api_pending *p, int status, const char *msg)
{
	api_finish(p, status, error_json(msg));
}

static void
conn_free(struct conn *c)
{
	if (c->pending != NULL) {
		c->pending->conn = NULL;
		if (c->pending->gone != NULL)
			c->pending->gone(c->pending->gone_arg);
	}
	reset_request(c);
	attach_free(c);
	ev_timer_cancel(c->rack->loop, c->idle);
	ev_del(c->rack->loop, c->fd);
	if (c->tls != NULL) {
		tls_conn_close_notify(c->tls);
		tls_conn_free(c->tls);
		tls_conns--;
	}
	close(c->fd);
	conns_unlink(c);
	nconns--;
	accept_resume(c->rack);	/* a descriptor and a place under the cap are free */
	buf_free(&c->in);
	buf_free(&c->out);
	buf_free(&c->body);
	free(c);
}

static void api_accept(struct ev_loop *loop, int lfd, uint32_t events, void *arg);

static void
accept_resume(struct rack *r)
{
	if (!accept_paused)
		return;
	accept_paused = false;
	ev_timer_cancel(r->loop, accept_timer);
	accept_timer = NULL;
	ev_add(r->loop, r->api_fd, EV_READ, api_accept, r);
	if (r->api_https_fd != -1)
		ev_add(r->loop, r->api_https_fd, EV_READ, api_accept, r);
}

static void
accept_retry(struct ev_loop *loop, void *arg)
{
	(void)loop;
	accept_timer = NULL;
	accept_resume(arg);
}

/* One line a second at most on what a flood made the API do; why says
 * what happened just now. */
static void
flood_log(struct rack *r, const char *why)
{
	if (ev_now(r->loop) < flood_log_next)
		return;
	flood_log_next = ev_now(r->loop) + FLOOD_LOG_MS;
	log_warnx("api: flood: %s; %zu connections open (%zu HTTPS); since the last such line: "
	    "accepting paused %lu times, %lu idle connections shed, %lu HTTPS connections "
	    "refused", why, nconns, tls_conns, flood_paused, flood_shed, flood_refused);
	flood_paused = flood_shed = flood_refused = 0;
}

/* Stops watching the listeners for a while: err is accept's errno, 0 at the cap. */
static void
accept_pause(struct rack *r, int err)
{
	flood_paused++;
	flood_log(r, err != 0 ? strerror(err) : "at api_max_conns with no connection idle");
	if (accept_paused)
		return;
	accept_paused = true;
	ev_del(r->loop, r->api_fd);
	ev_del(r->loop, r->api_https_fd);
	accept_timer = ev_timer_add(r->loop, ACCEPT_RETRY_MS, accept_retry, r);
}

static void
conn_shed(struct conn *c, const char *why)
{
	struct rack *r = c->rack;

	flood_shed++;
	conn_free(c);
	flood_log(r, why);
}

/* api_max_conns, else a quarter of the descriptor limit: the daemon's
 * other descriptors (processes' pipes, the store, builds) need the rest. */
static size_t
max_conns(struct rack *r)
{
	struct rlimit rl;
	char v[32];
	long n;

	rack_param(r, "api_max_conns", v, sizeof(v));
	if (v[0] != '\0' && parse_long(v, 1, 1000000, &n) == 0)
		return (size_t)n;
	if (getrlimit(RLIMIT_NOFILE, &rl) == -1 || rl.rlim_cur == RLIM_INFINITY ||
	    rl.rlim_cur > 4000000)
		return 1000000;
	return rl.rlim_cur < 64 ? 16 : (size_t)rl.rlim_cur / 4;
}

/* An HTTPS connection starts with its handshake, under a deadline of its
 * own; NULL (the socket closed) when there are too many or TLS fails. */
static struct tls_conn *
accept_tls(struct rack *r, int fd, char *peer, size_t peerlen)
{
	struct sockaddr_in sin;
	socklen_t slen = sizeof(sin);
	struct tls_conn *t;
	char err[512];

	peer[0] = '\0';
	if (getpeername(fd, (struct sockaddr *)&sin, &slen) == 0 && sin.sin_family == AF_INET)
		net_format_addr(&sin, peer, peerlen);
	if (tls_conns >= API_MAX_TLS_CONNS) {
		struct conn *old = oldest_idle(true);

		if (old == NULL) {
			flood_refused++;
			flood_log(r, "HTTPS connections at their cap, none idle");
			return NULL;
		}
		conn_shed(old, "HTTPS connections at their cap");
	}
	if ((t = tls_conn_new(r->api_tls, fd, NULL, err, sizeof(err))) == NULL) {
		log_warnx("api: %s: %s", peer, err);
		return NULL;
	}
	tls_conns++;
	return t;
}

static void
api_accept(struct ev_loop *loop, int lfd, uint32_t events, void *arg)
{
	struct rack *r = arg;
	bool https = lfd == r->api_https_fd;
	size_t max = max_conns(r);

	(void)events;
	while (!accept_paused) {
		struct conn *shed = NULL, *c;
		struct tls_conn *t = NULL;
		char peer[64] = "";
		int fd;

		if (nconns >= max && (shed = oldest_idle(false)) == NULL) {
			accept_pause(r, 0);
			return;
		}
		fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1) {
			/* Out of descriptors: pause rather than spin on a ready listener. */
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
				accept_pause(r, errno);
			else if (errno == EINTR || errno == ECONNABORTED)
				continue;
			else if (errno != EAGAIN && errno != EWOULDBLOCK)
				log_warn("api: accept");
			return;
		}
		if (shed != NULL)
			conn_shed(shed, "at api_max_conns");
		if (https && (t = accept_tls(r, fd, peer, sizeof(peer))) == NULL) {
			close(fd);
			continue;
		}
		c = xcalloc(1, sizeof(*c));
		c->rack = r;
		c->fd = fd;
		c->spool_fd = -1;
		c->file_fd = -1;
		c->tls = t;
		c->handshaking = t != NULL;
		str_copy(c->peer, sizeof(c->peer), peer);
		buf_init(&c->in, API_MAX_HEAD + 65536 * 2);
		buf_init(&c->out, 0);
		buf_init(&c->body, API_MAX_JSON + 1);
		if (ev_add(loop, fd, EV_READ, conn_io, c) == -1) {
			if (t != NULL) {
				tls_conn_free(t);
				tls_conns--;
			}
			close(fd);
			free(c);
			continue;
		}
		conns_push_front(c);
		nconns++;
		c->idle = ev_timer_add(loop, t != NULL ? API_HANDSHAKE_MS : API_IDLE_MS, idle_timeout,
		    c);
	}
}

int
api_https_listen(struct rack *r, const char *port, char *err, size_t errlen)
{
	char ip[64], addr[96];
	struct tls_ctx *ctx;
	long p;
	int fd;

	api_tls_address(r, ip, sizeof(ip));
	if (port[0] == '\0') {
		addr[0] = '\0';
	} else {
		if (parse_long(port, 1, 65535, &p) == -1) {
			snprintf(err, errlen, "api_port must be a port from 1 to 65535, not \"%s\"", port);
			return -1;
		}
		snprintf(addr, sizeof(addr), "%s:%ld", ip, p);
	}
	if (strcmp(addr, r->api_https_listen) == 0 && (addr[0] == '\0' || r->api_https_fd != -1))
		return 0;
	if (addr[0] == '\0') {
		ctx = NULL;
		fd = -1;
	} else {
		if ((fd = net_listen_tcp(addr, false, 128)) == -1) {
			snprintf(err, errlen, "the API cannot listen on %s: %s", addr, strerror(errno));
			return -1;
		}
		if ((ctx = api_tls_context(r, ip, err, errlen)) == NULL) {
			close(fd);
			return -1;
		}
		if (!accept_paused && ev_add(r->loop, fd, EV_READ, api_accept, r) == -1) {
			snprintf(err, errlen, "the API cannot watch %s: %s", addr, strerror(errno));
			tls_ctx_free(ctx);
			close(fd);
			return -1;
		}
	}
	/* Connections already open keep their TLS session (OpenSSL counts its
	 * references to the context): only new ones see the new listener. */
	if (r->api_https_fd != -1) {
		ev_del(r->loop, r->api_https_fd);
		close(r->api_https_fd);
	}
	tls_ctx_free(r->api_tls);
	r->api_https_fd = fd;
	r->api_tls = ctx;
	str_copy(r->api_https_listen, sizeof(r->api_https_listen), addr);
	r->api_https_error[0] = '\0';
	if (addr[0] != '\0')
		log_info("api: listening on https://%s", addr);
	return 0;
}

void
api_https_close(struct rack *r)
{
	if (r->api_https_fd != -1) {
		ev_del(r->loop, r->api_https_fd);
		close(r->api_https_fd);
		r->api_https_fd = -1;
	}
	tls_ctx_free(r->api_tls);
	r->api_tls = NULL;
	r->api_https_listen[0] = '\0';
}

int
api_listen(struct rack *r)
{
	char path[4096], pwpath[4096], cred[160], enc[256], port[16], err[512];
	char *pw;

	r->api_https_fd = -1;
	snprintf(pwpath, sizeof(pwpath), "%s/password", r->dir);
	pw = read_file(pwpath, 128, NULL);
	if (pw == NULL)
		return -1;
	pw[strcspn(pw, "\r\n")] = '\0';
	snprintf(cred, sizeof(cred), "convox:%s", pw);
	free(pw);
	base64_encode((const unsigned char *)cred, strlen(cred), enc);
	snprintf(expected_auth, sizeof(expected_auth), "Basic %s", enc);
	snprintf(path, sizeof(path), "%s/api.sock", r->dir);
	r->api_fd = net_listen_unix(path, 0600);
	if (r->api_fd == -1)
		return -1;
	if (ev_add(r->loop, r->api_fd, EV_READ, api_accept, r) == -1)
		return -1;
	/* Not listening where api_port says does not stop the rack: the unix
	 * socket still serves, and GET /system warns. */
	api_tls_port(r, port, sizeof(port));
	if (api_https_listen(r, port, err, sizeof(err)) == -1) {
		log_warnx("%s", err);
		str_copy(r->api_https_error, sizeof(r->api_https_error), err);
	}
	return 0;
}
