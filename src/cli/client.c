/*
 * client.c — libcurl over a unix socket, or over HTTPS to a remote rack; see
 * client.h. A request that hands descriptors over (client_send_fds) goes on
 * a socket of its own, written and read here by hand: libcurl cannot send
 * SCM_RIGHTS (and HTTPS cannot carry descriptors at all).
 */
#include "cli/client.h"
#include "common/http1.h"

#include <curl/curl.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* Responses larger than this are refused (logs come in bounded chunks). */
#define CLIENT_MAX_BODY (64u << 20)

struct client {
	CURL *curl;
	char *sock_path;            /* unix socket, or NULL for HTTPS */
	char *url;                  /* "https://HOST:PORT" of a remote rack, or NULL */
	char *ca_file;              /* what its certificate must verify against; NULL: the system's CAs */
	char *ca_name;              /* how errors name it (client_set_ca_name), or NULL: ca_file */
	char *password;
};

struct upload {
	int fd;
	int err;
};

static struct client *
client_alloc(const char *password, char *err, size_t errlen)
{
	static bool inited;
	struct client *c;

	if (!inited) {
		/* Remote racks speak TLS: initialize the SSL library too. */
		curl_global_init(CURL_GLOBAL_DEFAULT);
		inited = true;
	}
	c = xcalloc(1, sizeof(*c));
	c->curl = curl_easy_init();
	if (c->curl == NULL) {
		snprintf(err, errlen, "cannot initialize libcurl");
		free(c);
		return NULL;
	}
	c->password = xstrdup(password);
	return c;
}

struct client *
client_new(const char *sock_path, const char *password, char *err, size_t errlen)
{
	struct sockaddr_un sun;
	struct client *c;

	if (strlen(sock_path) >= sizeof(sun.sun_path)) {
		snprintf(err, errlen, "socket path too long for a unix socket (%zu bytes, at most "
		    "%zu): %s; use a shorter CX_HOME", strlen(sock_path), sizeof(sun.sun_path) - 1,
		    sock_path);
		return NULL;
	}
	c = client_alloc(password, err, errlen);
	if (c != NULL)
		c->sock_path = xstrdup(sock_path);
	return c;
}

struct client *
client_new_https(const char *url, const char *password, const char *ca_file, char *err,
    size_t errlen)
{
	struct client *c;

	if (strncmp(url, "https://", 8) != 0 || strchr(url + 8, '/') != NULL) {
		snprintf(err, errlen, "not a rack's address: %s (https://HOST:PORT)", url);
		return NULL;
	}
	if ((c = client_alloc(password, err, errlen)) == NULL)
		return NULL;
	c->url = xstrdup(url);
	c->ca_file = ca_file != NULL ? xstrdup(ca_file) : NULL;
	return c;
}

void
client_set_ca_name(struct client *c, const char *name)
{
	free(c->ca_name);
	c->ca_name = xstrdup(name);
}

bool
client_is_https(const struct client *c)
{
	return c->url != NULL;
}

void
client_free(struct client *c)
{
	if (c == NULL)
		return;
	curl_easy_cleanup(c->curl);
	free(c->sock_path);
	free(c->url);
	free(c->ca_file);
	free(c->ca_name);
	if (c->password != NULL) {
		explicit_bzero(c->password, strlen(c->password));
		free(c->password);
	}
	free(c);
}

/* Where a body goes: resp->body, or for a download's 2xx answer that is
 * not JSON, the download's descriptor. */
struct sink {
	struct client_resp *resp;
	CURL *h;
	int fd;                 /* -1: no download */
	int err;                /* errno of a failed write to fd */
};

static size_t
on_body(char *data, size_t size, size_t n, void *arg)
{
	struct sink *sk = arg;
	struct client_resp *resp = sk->resp;
	long code = 0;

	if (sk->fd >= 0 && !resp->json &&
	    curl_easy_getinfo(sk->h, CURLINFO_RESPONSE_CODE, &code) == CURLE_OK &&
	    code >= 200 && code < 300) {
		for (size_t off = 0; off < size * n;) {
			ssize_t w = write(sk->fd, data + off, size * n - off);

			if (w == -1 && errno == EINTR)
				continue;
			if (w <= 0) {
				sk->err = w == 0 ? EIO : errno;
				return 0;
			}
			off += (size_t)w;
		}
		return size * n;
	}
	if (buf_add(&resp->body, data, size * n) == -1)
		return 0;       /* too large: curl aborts with CURLE_WRITE_ERROR */
	return size * n;
}

static size_t
on_header(char *data, size_t size, size_t n, void *arg)
{
	static const char name[] = "x-cx-offset:";
	static const char ctype[] = "content-type: application/json";
	struct client_resp *resp = arg;
	size_t len = size * n;

	if (len >= sizeof(ctype) - 1 && strncasecmp(data, ctype, sizeof(ctype) - 1) == 0)
		resp->json = true;
	if (len > sizeof(name) - 1 && strncasecmp(data, name, sizeof(name) - 1) == 0) {
		const char *p = data + sizeof(name) - 1;
		const char *end = data + len;
		long v;

		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		while (end > p && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
			end--;
		if (parse_long_n(p, (size_t)(end - p), 0, INT64_MAX, &v) == 0) {
			resp->has_offset = true;
			resp->offset = v;
		}
	}
	return len;
}

static size_t
on_read(char *out, size_t size, size_t n, void *arg)
{
	struct upload *up = arg;

	for (;;) {
		ssize_t r = read(up->fd, out, size * n);

		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1) {
			up->err = errno;
			return CURL_READFUNC_ABORT;
		}
		return (size_t)r;
	}
}

/* TLS 1.3, the server's certificate verified against the rack's CA (or the
 * system's CAs) and its name checked against the URL's host. */
static void
https_options(struct client *c, CURL *h)
{
	curl_easy_setopt(h, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_3);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
	if (c->ca_file != NULL) {
		/* The rack's CA alone: not also every CA the system trusts. */
		curl_easy_setopt(h, CURLOPT_CAINFO, c->ca_file);
		curl_easy_setopt(h, CURLOPT_CAPATH, NULL);
	}
}

/* One line for what went wrong below HTTP with a remote rack; false when the
 * generic handling (timeouts, sizes, the upload) says it better. */
static bool
https_error(const struct client *c, CURLcode cr, const char *errbuf, char *err, size_t errlen)
{
	const char *why = errbuf[0] ? errbuf : curl_easy_strerror(cr);

	switch (cr) {
	case CURLE_PEER_FAILED_VERIFICATION:
		snprintf(err, errlen, "the certificate of %s does not verify against %s: %s", c->url,
		    c->ca_name ? c->ca_name : c->ca_file ? c->ca_file : "the system's CAs", why);
		return true;
	case CURLE_SSL_CONNECT_ERROR:
		snprintf(err, errlen, "TLS handshake with %s failed: %s", c->url, why);
		return true;
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
		snprintf(err, errlen, "cannot reach %s: %s", c->url, why);
		return true;
	default:
		return false;
	}
}

enum client_result
client_do(struct client *c, const struct client_req *req, struct client_resp *resp, char *err,
    size_t errlen)
{
	char errbuf[CURL_ERROR_SIZE] = "";
	char *url = c->url != NULL ? xasprintf("%s%s", c->url, req->path) :
	    xasprintf("http://localhost%s", req->path);
	struct curl_slist *hdrs = NULL;
	struct upload up = { .fd = req->body_fd, .err = 0 };
	struct sink sink = { .resp = resp, .h = c->curl, .fd = req->download ? req->download_fd : -1 };
	enum client_result rc = CLIENT_OK;
	CURL *h = c->curl;
	CURLcode cr;
	char *ct = NULL;

	resp->status = 0;
	resp->has_offset = false;
	resp->offset = 0;
	resp->json = false;
	if (resp->body.max == 0)
		resp->body.max = CLIENT_MAX_BODY;

	curl_easy_reset(h);
	curl_easy_setopt(h, CURLOPT_URL, url);
	if (c->url != NULL)
		https_options(c, h);
	else
		curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, c->sock_path);
	curl_easy_setopt(h, CURLOPT_PROXY, "");
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
	curl_easy_setopt(h, CURLOPT_USERNAME, "convox");
	curl_easy_setopt(h, CURLOPT_PASSWORD, c->password);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, req->timeout_ms > 0 ? req->timeout_ms : 30000L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &sink);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, resp);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "cx");

	hdrs = curl_slist_append(hdrs, "Accept: application/json");
	/* The daemon does not do 100-continue: send bodies at once. */
	hdrs = curl_slist_append(hdrs, "Expect:");
	if (req->content_type != NULL) {
		ct = xasprintf("Content-Type: %s", req->content_type);
		hdrs = curl_slist_append(hdrs, ct);
	}

	if (strcmp(req->method, "GET") == 0) {
		curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
	} else if (strcmp(req->method, "DELETE") == 0 && req->body == NULL && req->body_fd < 0) {
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "DELETE");
	} else {
		/* POST, PUT, DELETE with a body: always with Content-Length. */
		curl_easy_setopt(h, CURLOPT_POST, 1L);
		if (strcmp(req->method, "POST") != 0)
			curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req->method);
		if (req->body_fd >= 0) {
			if (lseek(req->body_fd, 0, SEEK_SET) == -1) {
				snprintf(err, errlen, "cannot rewind the upload: %s", strerror(errno));
				rc = CLIENT_ERR;
				goto out;
			}
			curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
			curl_easy_setopt(h, CURLOPT_READDATA, &up);
			curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_fd_len);
		} else {
			curl_easy_setopt(h, CURLOPT_POSTFIELDS, req->body ? req->body : "");
			curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
		}
	}
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);

	cr = curl_easy_perform(h);
	if (c->url != NULL && cr != CURLE_OK && https_error(c, cr, errbuf, err, errlen)) {
		rc = CLIENT_ERR;
		goto out;
	}
	if (cr == CURLE_COULDNT_CONNECT) {
		long oserr = 0;

		curl_easy_getinfo(h, CURLINFO_OS_ERRNO, &oserr);
		if (oserr == 0 || oserr == ENOENT || oserr == ECONNREFUSED) {
			rc = CLIENT_NOT_RUNNING;
		} else {
			snprintf(err, errlen, "cannot connect to %s: %s", c->sock_path,
			    strerror((int)oserr));
			rc = CLIENT_ERR;
		}
		goto out;
	}
	if (cr != CURLE_OK) {
		if (cr == CURLE_WRITE_ERROR && sink.err != 0)
			snprintf(err, errlen, "cannot write what the rack sent: %s", strerror(sink.err));
		else if (cr == CURLE_WRITE_ERROR)
			snprintf(err, errlen, "response too large (over %u MB)", CLIENT_MAX_BODY >> 20);
		else if (cr == CURLE_ABORTED_BY_CALLBACK || up.err != 0)
			snprintf(err, errlen, "cannot read the upload: %s", strerror(up.err));
		else if (cr == CURLE_OPERATION_TIMEDOUT)
			snprintf(err, errlen, "the rack did not answer %s %s in time", req->method,
			    req->path);
		else
			snprintf(err, errlen, "%s %s: %s", req->method, req->path,
			    errbuf[0] ? errbuf : curl_easy_strerror(cr));
		rc = CLIENT_ERR;
		goto out;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
	buf_cstr(&resp->body);
out:
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
	curl_slist_free_all(hdrs);
	free(ct);
	free(url);
	return rc;
}

int
client_send_fds(struct client *c, const struct client_req *req, const int *fds, size_t nfds,
    char *err, size_t errlen)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	char cred[256], auth[360];
	union {
		struct cmsghdr h;
		char space[CMSG_SPACE(sizeof(int) * 8)];
	} ctl;
	struct iovec iov[2];
	struct msghdr msg = { 0 };
	struct buf head;
	int fd;

	if (c->url != NULL) {
		snprintf(err, errlen, "cannot hand descriptors to %s: HTTPS carries none", c->url);
		return CLIENT_ERR;
	}
	if (nfds > 8 || strlen(c->password) > 200) {
		snprintf(err, errlen, "cannot hand %zu descriptors over", nfds);
		return CLIENT_ERR;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return CLIENT_ERR;
	}
	str_copy(sun.sun_path, sizeof(sun.sun_path), c->sock_path);
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		int e = errno;

		close(fd);
		if (e == ENOENT || e == ECONNREFUSED)
			return CLIENT_NOT_RUNNING;
		snprintf(err, errlen, "cannot connect to %s: %s", c->sock_path, strerror(e));
		return CLIENT_ERR;
	}
	snprintf(cred, sizeof(cred), "convox:%s", c->password);
	base64_encode((const unsigned char *)cred, strlen(cred), auth);
	explicit_bzero(cred, sizeof(cred));
	buf_init(&head, 0);
	buf_addf(&head, "%s %s HTTP/1.1\r\nHost: rack\r\nAuthorization: Basic %s\r\n"
	    "Content-Type: %s\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
	    req->method, req->path, auth, req->content_type ? req->content_type :
	    "application/json", req->body_len);
	explicit_bzero(auth, sizeof(auth));
	iov[0] = (struct iovec){ head.data, head.len };
	iov[1] = (struct iovec){ (void *)req->body, req->body_len };
	msg.msg_iov = iov;
	msg.msg_iovlen = req->body_len > 0 ? 2 : 1;
	memset(&ctl, 0, sizeof(ctl));
	msg.msg_control = ctl.space;
	msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
	CMSG_FIRSTHDR(&msg)->cmsg_level = SOL_SOCKET;
	CMSG_FIRSTHDR(&msg)->cmsg_type = SCM_RIGHTS;
	CMSG_FIRSTHDR(&msg)->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
	memcpy(CMSG_DATA(CMSG_FIRSTHDR(&msg)), fds, sizeof(int) * nfds);
	/* The request is small: one sendmsg carries it whole, or we say so. */
	if (sendmsg(fd, &msg, MSG_NOSIGNAL) != (ssize_t)(head.len + req->body_len)) {
		snprintf(err, errlen, "cannot send %s %s: %s", req->method, req->path,
		    strerror(errno));
		explicit_bzero(head.data, head.len);
		buf_free(&head);
		close(fd);
		return CLIENT_ERR;
	}
	explicit_bzero(head.data, head.len);
	buf_free(&head);
	return fd;
}

enum client_result
client_await(int fd, struct client_resp *resp, char *err, size_t errlen)
{
	struct http_response hr;
	struct buf in;
	enum client_result rc = CLIENT_ERR;
	int prc = CX_AGAIN;

	buf_init(&in, 1 << 20);
	for (;;) {
		ssize_t n;

		if (buf_reserve(&in, 4096) == -1) {
			snprintf(err, errlen, "the rack's answer is larger than 1 MB");
			goto out;
		}
		n = read(fd, in.data + in.len, 4096);
		if (n == -1 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(err, errlen, "reading the rack's answer: %s", strerror(errno));
			goto out;
		}
		in.len += (size_t)n;
		if (prc == CX_AGAIN)
			prc = http1_parse_response(in.data, in.len, 65536, &hr);
		if (prc == CX_ERR) {
			snprintf(err, errlen, "the rack's answer is not HTTP: %s", hr.error);
			goto out;
		}
		if (prc == CX_OK && (hr.content_length < 0 ||
		    in.len - hr.head_len >= (size_t)hr.content_length))
			break;
		if (n == 0) {
			snprintf(err, errlen, "the rack's daemon closed the connection before it "
			    "answered");
			goto out;
		}
	}
	resp->status = hr.status;
	resp->json = true;
	buf_add(&resp->body, in.data + hr.head_len, in.len - hr.head_len);
	buf_cstr(&resp->body);
	rc = CLIENT_OK;
out:
	buf_free(&in);
	return rc;
}

int
client_fetch_chain(const char *url, char ***pems, size_t *n, char *err, size_t errlen)
{
	char errbuf[CURL_ERROR_SIZE] = "";
	struct curl_certinfo *ci = NULL;
	CURL *h;
	CURLcode cr;
	int rc = -1;

	*pems = NULL;
	*n = 0;
	if ((h = curl_easy_init()) == NULL) {
		snprintf(err, errlen, "cannot initialize libcurl");
		return -1;
	}
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_PROXY, "");
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 10000L);
	curl_easy_setopt(h, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_3);
	/* Nothing is trusted yet and nothing is sent: the handshake alone, to
	 * see which certificates the server presents. */
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
	curl_easy_setopt(h, CURLOPT_CERTINFO, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECT_ONLY, 1L);
	cr = curl_easy_perform(h);
	if (cr != CURLE_OK) {
		snprintf(err, errlen, "%s %s: %s", cr == CURLE_SSL_CONNECT_ERROR ?
		    "TLS handshake with" : "cannot reach", url,
		    errbuf[0] ? errbuf : curl_easy_strerror(cr));
		goto out;
	}
	if (curl_easy_getinfo(h, CURLINFO_CERTINFO, &ci) != CURLE_OK || ci == NULL ||
	    ci->num_of_certs <= 0) {
		snprintf(err, errlen, "%s sent no certificate", url);
		goto out;
	}
	*pems = xcalloc((size_t)ci->num_of_certs, sizeof(**pems));
	for (int i = 0; i < ci->num_of_certs; i++) {
		for (struct curl_slist *l = ci->certinfo[i]; l != NULL; l = l->next) {
			if (strncmp(l->data, "Cert:", 5) == 0) {
				(*pems)[(*n)++] = xstrdup(l->data + 5);
				break;
			}
		}
	}
	rc = 0;
out:
	curl_easy_cleanup(h);
	return rc;
}

/* A connection of its own that left HTTP for cx-attach frames (docs/api.md),
 * driven with curl_easy_send/recv over libcurl's TLS. */
struct client_stream {
	CURL *curl;
	int fd;
	struct buf early;           /* frame bytes that came with the 101 */
};

/* Waits (bounded) until the stream's socket is ready for events. */
static int
stream_wait(int fd, short events, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = events };
	int n;

	do {
		n = poll(&p, 1, timeout_ms);
	} while (n == -1 && errno == EINTR);
	return n == 1 ? 0 : -1;
}

ssize_t
client_stream_send(struct client_stream *s, const void *p, size_t n)
{
	size_t sent = 0;
	CURLcode cr = curl_easy_send(s->curl, p, n, &sent);

	if (cr == CURLE_AGAIN)
		return CX_AGAIN;
	if (cr != CURLE_OK)
		return CX_ERR;
	return (ssize_t)sent;
}

ssize_t
client_stream_recv(struct client_stream *s, void *p, size_t n)
{
	size_t got = 0;
	CURLcode cr;

	if (s->early.len > 0) {
		got = s->early.len < n ? s->early.len : n;
		memcpy(p, s->early.data, got);
		buf_consume(&s->early, got);
		return (ssize_t)got;
	}
	cr = curl_easy_recv(s->curl, p, n, &got);
	if (cr == CURLE_AGAIN)
		return CX_AGAIN;
	if (cr != CURLE_OK)
		return CX_ERR;
	return (ssize_t)got;
}

int
client_stream_fd(const struct client_stream *s)
{
	return s->fd;
}

void
client_stream_close(struct client_stream *s)
{
	if (s == NULL)
		return;
	curl_easy_cleanup(s->curl);
	buf_free(&s->early);
	free(s);
}

/* Sends all of p, waiting for the socket as needed (bounded). */
static int
stream_send_all(struct client_stream *s, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = client_stream_send(s, p, n);

		if (w == CX_AGAIN) {
			if (stream_wait(s->fd, POLLOUT, 30000) == -1)
				return -1;
			continue;
		}
		if (w < 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

struct client_stream *
client_stream_open(struct client *c, const struct client_req *req, struct client_resp *resp,
    enum client_result *rc, char *err, size_t errlen)
{
	char errbuf[CURL_ERROR_SIZE] = "", cred[300], auth[420];
	struct client_stream *s;
	struct http_response hr;
	struct buf head, in;
	curl_socket_t sock;
	const char *host;
	CURLcode cr;
	int prc = CX_AGAIN;

	*rc = CLIENT_ERR;
	if (c->url == NULL || strlen(c->password) > 200) {
		snprintf(err, errlen, "an attached stream goes to a remote rack only");
		return NULL;
	}
	s = xcalloc(1, sizeof(*s));
	buf_init(&s->early, 0);
	if ((s->curl = curl_easy_init()) == NULL) {
		snprintf(err, errlen, "cannot initialize libcurl");
		free(s);
		return NULL;
	}
	curl_easy_setopt(s->curl, CURLOPT_URL, c->url);
	curl_easy_setopt(s->curl, CURLOPT_PROXY, "");
	curl_easy_setopt(s->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(s->curl, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(s->curl, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
	curl_easy_setopt(s->curl, CURLOPT_CONNECT_ONLY, 1L);
	https_options(c, s->curl);
	cr = curl_easy_perform(s->curl);
	curl_easy_setopt(s->curl, CURLOPT_ERRORBUFFER, NULL);
	if (cr != CURLE_OK) {
		if (!https_error(c, cr, errbuf, err, errlen))
			snprintf(err, errlen, "%s: %s", c->url, errbuf[0] ? errbuf : curl_easy_strerror(cr));
		goto fail;
	}
	if (curl_easy_getinfo(s->curl, CURLINFO_ACTIVESOCKET, &sock) != CURLE_OK ||
	    sock == CURL_SOCKET_BAD) {
		snprintf(err, errlen, "%s: no socket to stream on", c->url);
		goto fail;
	}
	s->fd = (int)sock;
	host = c->url + strlen("https://");
	snprintf(cred, sizeof(cred), "convox:%s", c->password);
	base64_encode((const unsigned char *)cred, strlen(cred), auth);
	explicit_bzero(cred, sizeof(cred));
	buf_init(&head, 0);
	buf_addf(&head, "%s %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Basic %s\r\n"
	    "Content-Type: application/json\r\nContent-Length: %zu\r\nUpgrade: cx-attach\r\n"
	    "Connection: Upgrade\r\n\r\n", req->method, req->path, host, auth, req->body_len);
	explicit_bzero(auth, sizeof(auth));
	buf_add(&head, req->body, req->body_len);
	prc = stream_send_all(s, head.data, head.len);
	explicit_bzero(head.data, head.len);
	buf_free(&head);
	if (prc == -1) {
		snprintf(err, errlen, "cannot send %s %s to %s", req->method, req->path, c->url);
		goto fail;
	}
	/* The answer's head: 101 and frames, or the rack's refusal. */
	buf_init(&in, 1 << 20);
	prc = CX_AGAIN;
	for (;;) {
		ssize_t n;

		if (buf_reserve(&in, 16384) == -1) {
			snprintf(err, errlen, "the rack's answer is larger than 1 MB");
			goto fail_in;
		}
		n = client_stream_recv(s, in.data + in.len, 16384);
		if (n == CX_AGAIN) {
			if (stream_wait(s->fd, POLLIN, 30000) == -1) {
				snprintf(err, errlen, "the rack did not answer %s %s in time", req->method,
				    req->path);
				goto fail_in;
			}
			continue;
		}
		if (n <= 0) {
			snprintf(err, errlen, "the rack closed the connection before it answered");
			goto fail_in;
		}
		in.len += (size_t)n;
		prc = http1_parse_response(in.data, in.len, 65536, &hr);
		if (prc == CX_ERR) {
			snprintf(err, errlen, "the rack's answer is not HTTP: %s", hr.error);
			goto fail_in;
		}
		if (prc == CX_OK && (hr.status == 101 || hr.content_length < 0 ||
		    in.len - hr.head_len >= (size_t)hr.content_length))
			break;
	}
	resp->status = hr.status;
	resp->json = true;
	if (hr.status == 101) {
		buf_add(&s->early, in.data + hr.head_len, in.len - hr.head_len);
		buf_free(&in);
		*rc = CLIENT_OK;
		return s;
	}
	buf_add(&resp->body, in.data + hr.head_len, in.len - hr.head_len);
	buf_cstr(&resp->body);
	*rc = CLIENT_OK;
fail_in:
	buf_free(&in);
fail:
	client_stream_close(s);
	return NULL;
}
