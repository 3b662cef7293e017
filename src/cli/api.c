/*
 * api.c — the CLI's calls to a rack: selects the rack, opens the client with
 * its password, maps what went wrong to one line (not running, bad
 * password, the daemon's own {"error"}), and waits for promotions.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/client.h"
#include "cli/output.h"
#include "cli/remote.h"

/* How long a promotion may take before the CLI gives up waiting. */
/* A backstop: the rack bounds every promotion (10 minutes for a local
 * one; a Kubernetes rack's param deploy_timeout, at most a day). */
#define PROMOTE_TIMEOUT_MS ((24 * 60 + 30) * 60 * 1000LL)
#define PROMOTE_POLL_MS 50

char *
api_path(const char *fmt, ...)
{
	static const char hex[] = "0123456789ABCDEF";
	struct buf b;
	va_list ap;

	buf_init(&b, 0);
	va_start(ap, fmt);
	for (const char *p = fmt; *p != '\0'; p++) {
		if (p[0] == '%' && p[1] == 's') {
			const unsigned char *s = va_arg(ap, const unsigned char *);

			for (; *s != '\0'; s++) {
				if ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
				    (*s >= '0' && *s <= '9') || *s == '-' || *s == '.' || *s == '_' ||
				    *s == '~') {
					buf_add(&b, s, 1);
				} else {
					char e[3] = { '%', hex[*s >> 4], hex[*s & 15] };

					buf_add(&b, e, 3);
				}
			}
			p++;
		} else if (p[0] == '%' && p[1] == '%') {
			buf_add(&b, "%", 1);
			p++;
		} else {
			buf_add(&b, p, 1);
		}
	}
	va_end(ap);
	return buf_cstr(&b);
}

/* A client for the remote rack RACK_URL names (c->rack is its name when
 * it was logged in, else HOST:PORT): verified against the CA pinned at
 * login, else $RACK_CA, else the system's CAs; never unverified. */
static struct client *
rack_url_client(const char *home, char *err, size_t errlen)
{
	char url[REMOTE_URL_MAX], pw[256], name[64];
	const char *ca = getenv("RACK_CA");
	struct client *cl;
	struct remote r = { .password = "" };

	if (remote_parse_rack_url(getenv("RACK_URL"), url, sizeof(url), pw, sizeof(pw), err,
	    errlen) == -1)
		return NULL;
	if (ca != NULL && ca[0] == '\0')
		ca = NULL;
	if (remote_find_url(home, url, name, sizeof(name)) == 0 &&
	    remote_load(home, name, &r, err, errlen) == 0)
		ca = r.ca_path;
	cl = client_new_https(url, pw, ca, err, errlen);
	explicit_bzero(pw, sizeof(pw));
	explicit_bzero(r.password, sizeof(r.password));
	return cl;
}

/* A client for rack `name`: *why -2 when a local rack is not running (err
 * says so), -1 for anything else. */
static struct client *
rack_client(struct cli *c, const char *name, int *why, char *err, size_t errlen)
{
	char sock[PATH_MAX], pwpath[PATH_MAX];
	struct client *cl;
	struct remote r;
	struct stat st;
	char *pw;

	*why = -1;
	if (c->rack_url && strcmp(name, c->rack) == 0) {
		return rack_url_client(c->home, err, errlen);
	}
	if (!cli_rack_exists(c, name) && remote_exists(c->home, name)) {
		if (remote_load(c->home, name, &r, err, errlen) == -1)
			return NULL;
		cl = client_new_https(r.url, r.password, r.ca_path, err, errlen);
		explicit_bzero(r.password, sizeof(r.password));
		return cl;
	}
	cli_rack_path(c, name, "api.sock", sock, sizeof(sock));
	cli_rack_path(c, name, "password", pwpath, sizeof(pwpath));
	pw = read_file(pwpath, 4096, NULL);
	if (pw == NULL) {
		int saved = errno;

		if (stat(sock, &st) == -1 && errno == ENOENT) {
			*why = -2;
			snprintf(err, errlen, "rack %s is not running; start it with: cx rack start %s",
			    name, name);
		} else if (saved == EACCES) {
			snprintf(err, errlen, "cannot read the password of rack %s (%s): %s; the rack "
			    "is its owner's: run cx as them, or have them admit a group of yours with "
			    "cx rack params set api_group=GROUP", name, pwpath, strerror(saved));
		} else {
			snprintf(err, errlen, "cannot read the password of rack %s (%s): %s", name,
			    pwpath, strerror(saved));
		}
		return NULL;
	}
	pw[strcspn(pw, "\r\n")] = '\0';
	cl = client_new(sock, pw, err, errlen);
	explicit_bzero(pw, strlen(pw));
	free(pw);
	return cl;
}

struct client *
cli_rack_client(struct cli *c, const char *rack, char *err, size_t errlen)
{
	int why;

	if (cli_home(c) == -1) {
		snprintf(err, errlen, "cannot find $CX_HOME");
		return NULL;
	}
	if (!(c->rack_url && strcmp(rack, c->rack) == 0) && !cli_rack_exists(c, rack) &&
	    !remote_exists(c->home, rack)) {
		snprintf(err, errlen, "no such rack: %s (cx racks lists them)", rack);
		return NULL;
	}
	return rack_client(c, rack, &why, err, errlen);
}

bool
cli_rack_is_remote(struct cli *c)
{
	if (cli_select_rack_quiet(c) == -1)
		return false;
	return c->rack_url || (!cli_rack_exists(c, c->rack) && remote_exists(c->home, c->rack));
}

static int
not_running(const char *rack)
{
	out_error("rack %s is not running; start it with: cx rack start %s", rack, rack);
	return -1;
}

/* A client for rack `name`; NULL after printing (quiet: without printing). */
static struct client *
open_client(struct cli *c, const char *name, bool quiet, int *why)
{
	char err[1024];
	struct client *cl = rack_client(c, name, why, err, sizeof(err));

	if (cl == NULL && !quiet)
		out_error("%s", err);
	return cl;
}

/* The daemon's {"error"} or a line about the status. */
static void
print_http_error(struct cli *c, const struct client_resp *resp)
{
	char err[256];
	jv *v;

	if (resp->status == 401) {
		out_error("invalid password for rack %s", c->rack);
		return;
	}
	v = jv_parse(resp->body.data ? resp->body.data : "", resp->body.len, err, sizeof(err));
	if (v != NULL && jv_str(v, "error")[0] != '\0') {
		out_error("%s", jv_str(v, "error"));
	} else {
		const char *b = resp->body.data ? resp->body.data : "";

		out_error("rack %s answered HTTP %ld%s%.*s", c->rack, resp->status, b[0] ? ": " : "",
		    (int)strcspn(b, "\r\n"), b);
	}
	jv_free(v);
}

static int
ensure_client(struct cli *c)
{
	int why;

	if (c->client != NULL)
		return 0;
	if (cli_select_rack(c) == -1)
		return -1;
	c->client = open_client(c, c->rack, false, &why);
	return c->client ? 0 : -1;
}

/* Sends req; on 2xx (or `also` status) returns the status; else prints and -1. */
static long
send_req(struct cli *c, struct client_req *req, struct client_resp *resp, long also)
{
	char err[512];
	enum client_result r;

	if (ensure_client(c) == -1)
		return -1;
	r = client_do(c->client, req, resp, err, sizeof(err));
	if (r == CLIENT_NOT_RUNNING)
		return not_running(c->rack);
	if (r != CLIENT_OK)
		return out_error("%s", err), -1;
	if ((resp->status >= 200 && resp->status < 300) || resp->status == also)
		return resp->status;
	print_http_error(c, resp);
	return -1;
}

static int
parse_answer(struct cli *c, struct client_resp *resp, jv **out)
{
	char err[256];

	if (out == NULL)
		return 0;
	*out = NULL;
	if (resp->body.len == 0)
		return 0;
	*out = jv_parse(resp->body.data, resp->body.len, err, sizeof(err));
	if (*out == NULL) {
		out_error("rack %s sent an answer that is not JSON: %s", c->rack, err);
		return -1;
	}
	return 0;
}

int
api_call(struct cli *c, const char *method, const char *path, const jv *body, jv **out)
{
	struct client_req req = { .method = method, .path = path, .body_fd = -1 };
	struct client_resp resp;
	char *text = NULL;
	int rc = -1;

	if (out != NULL)
		*out = NULL;
	buf_init(&resp.body, 0);
	if (body != NULL) {
		text = jv_dump(body);
		req.body = text;
		req.body_len = strlen(text);
		req.content_type = "application/json";
	}
	if (send_req(c, &req, &resp, 0) != -1)
		rc = parse_answer(c, &resp, out);
	free(text);
	buf_free(&resp.body);
	return rc;
}

int
api_post_text(struct cli *c, const char *path, const jv *body, struct buf *out)
{
	struct client_req req = { .method = "POST", .path = path, .body_fd = -1,
		.content_type = "application/json" };
	struct client_resp resp;
	char *text = jv_dump(body);
	long st;

	req.body = text;
	req.body_len = strlen(text);
	resp.body = *out;
	st = send_req(c, &req, &resp, 0);
	*out = resp.body;
	free(text);
	return st == -1 ? -1 : 0;
}

int
api_attach(struct cli *c, const char *path, const jv *body, const int *fds, size_t nfds)
{
	struct client_req req = { .method = "POST", .path = path, .body_fd = -1,
		.content_type = "application/json" };
	char err[512], *text;
	int fd;

	if (ensure_client(c) == -1)
		return -1;
	text = jv_dump(body);
	req.body = text;
	req.body_len = strlen(text);
	fd = client_send_fds(c->client, &req, fds, nfds, err, sizeof(err));
	free(text);
	if (fd == CLIENT_NOT_RUNNING)
		return not_running(c->rack);
	if (fd < 0)
		return out_error("%s", err), -1;
	return fd;
}

struct client_stream *
api_stream(struct cli *c, const char *path, const jv *body)
{
	struct client_req req = { .method = "POST", .path = path, .body_fd = -1,
		.content_type = "application/json" };
	struct client_resp resp = { 0 };
	struct client_stream *st;
	enum client_result rc;
	char err[1024], *text;

	if (ensure_client(c) == -1)
		return NULL;
	text = jv_dump(body);
	req.body = text;
	req.body_len = strlen(text);
	buf_init(&resp.body, 1 << 20);
	st = client_stream_open(c->client, &req, &resp, &rc, err, sizeof(err));
	free(text);
	if (st == NULL && rc == CLIENT_OK)
		print_http_error(c, &resp);
	else if (st == NULL)
		out_error("%s", err);
	buf_free(&resp.body);
	return st;
}

int
api_attach_answer(struct cli *c, int fd, jv **out)
{
	struct client_resp resp = { 0 };
	char err[512];
	int rc = -1;

	*out = NULL;
	buf_init(&resp.body, 0);
	if (client_await(fd, &resp, err, sizeof(err)) != CLIENT_OK)
		out_error("%s", err);
	else if (resp.status < 200 || resp.status >= 300)
		print_http_error(c, &resp);
	else
		rc = parse_answer(c, &resp, out);
	buf_free(&resp.body);
	return rc;
}

int
api_upload(struct cli *c, const char *path, int fd, uint64_t len, jv **out)
{
	struct client_req req = {
		.method = "POST", .path = path, .content_type = "application/gzip",
		.body_fd = fd, .body_fd_len = len, .timeout_ms = 30 * 60 * 1000,
	};
	struct client_resp resp;
	int rc = -1;

	buf_init(&resp.body, 0);
	if (send_req(c, &req, &resp, 0) != -1)
		rc = parse_answer(c, &resp, out);
	buf_free(&resp.body);
	return rc;
}

int
api_download(struct cli *c, const char *path, int fd)
{
	struct client_req req = { .method = "GET", .path = path, .body_fd = -1,
		.timeout_ms = 30 * 60 * 1000, .download = true, .download_fd = fd };
	struct client_resp resp;
	int rc = -1;

	buf_init(&resp.body, 0);
	if (send_req(c, &req, &resp, 0) != -1) {
		rc = 0;
		if (resp.json)
			rc = out_error("rack %s sent JSON where an archive was due: %.200s", c->rack,
			    buf_cstr(&resp.body));
	}
	buf_free(&resp.body);
	return rc == 0 ? 0 : -1;
}

long
api_text(struct cli *c, const char *path, struct buf *body, int64_t *offset)
{
	struct client_req req = { .method = "GET", .path = path, .body_fd = -1 };
	struct client_resp resp;
	long st;

	resp.body = *body;
	st = send_req(c, &req, &resp, 404);
	/* Log text comes as text/plain; a JSON body on success carries no lines. */
	if (st >= 200 && st < 300 && resp.json)
		buf_reset(&resp.body);
	*body = resp.body;
	*offset = resp.has_offset ? resp.offset : -1;
	return st;
}

int
api_probe(struct cli *c, const char *name, long timeout_ms, jv **out)
{
	struct client_req req = { .method = "GET", .path = "/system", .body_fd = -1,
		.timeout_ms = timeout_ms };
	struct client_resp resp;
	struct client *cl;
	char err[512];
	int why, rc = -1;
	enum client_result r;

	if (out != NULL)
		*out = NULL;
	if (cli_home(c) == -1)
		return -1;
	if ((cl = open_client(c, name, true, &why)) == NULL)
		return why;
	buf_init(&resp.body, 0);
	r = client_do(cl, &req, &resp, err, sizeof(err));
	if (r == CLIENT_NOT_RUNNING) {
		rc = -2;
	} else if (r == CLIENT_OK && resp.status == 200) {
		rc = 0;
		if (out != NULL)
			*out = jv_parse(resp.body.data, resp.body.len, err, sizeof(err));
	}
	buf_free(&resp.body);
	client_free(cl);
	return rc;
}

void
api_close(struct cli *c)
{
	client_free(c->client);
	c->client = NULL;
}

void
cli_sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

int
cli_wait_release(struct cli *c, const char *id)
{
	char *path = api_path("/apps/%s/releases/%s", c->app, id), next[32];
	int64_t deadline = now_ms() + PROMOTE_TIMEOUT_MS;
	int rc = 1;

	for (;;) {
		jv *rel = NULL;
		const char *st;

		if (api_call(c, "GET", path, NULL, &rel) == -1)
			break;
		st = jv_str(rel, "status");
		if (strcmp(st, "active") == 0) {
			out_ok();
			rc = 0;
		} else if (strcmp(st, "failed") == 0) {
			const char *e = jv_str(rel, "error");

			out_error("%s", e[0] ? e : "the promotion failed; see cx logs");
		} else if (strcmp(st, "replaced") == 0 && jv_str(rel, "error")[0] == 'R' &&
		    strlen(jv_str(rel, "error")) < sizeof(next)) {
			/* An env change that waited, replaced by a newer one that has it
			 * too (the rack promotes changes in order): that one is awaited. */
			str_copy(next, sizeof(next), jv_str(rel, "error"));
			printf("(release %s waited for the promotion under way; %s, made after it with "
			    "its change, goes instead)\n", id, next);
			id = next;
			free(path);
			path = api_path("/apps/%s/releases/%s", c->app, id);
			jv_free(rel);
			continue;
		} else if (strcmp(st, "replaced") == 0) {
			out_error("release %s was replaced by a newer promotion before it became "
			    "active", id);
		} else if (now_ms() > deadline) {
			out_error("release %s is still %s after %d minutes; see cx logs -a %s", id,
			    st[0] ? st : "not active", (int)(PROMOTE_TIMEOUT_MS / 60000), c->app);
		} else {
			jv_free(rel);
			cli_sleep_ms(PROMOTE_POLL_MS);
			continue;
		}
		jv_free(rel);
		break;
	}
	free(path);
	return rc;
}

int
cli_promote(struct cli *c, const char *id, bool discard)
{
	char *path;
	int rc;

	if (cli_select_app(c) == -1)
		return 1;
	out_step("Promoting %s", id);
	path = api_path(discard ? "/apps/%s/releases/%s/promote?discard=1" :
	    "/apps/%s/releases/%s/promote", c->app, id);
	rc = api_call(c, "POST", path, NULL, NULL);
	free(path);
	if (rc == -1)
		return 1;
	return cli_wait_release(c, id);
}

int
cli_wait_app_running(struct cli *c, int64_t timeout_ms)
{
	char *path = api_path("/apps/%s", c->app);
	int64_t deadline = now_ms() + timeout_ms;
	int rc = 1;

	for (;;) {
		jv *app = NULL;
		const char *st;

		if (api_call(c, "GET", path, NULL, &app) == -1)
			break;
		st = jv_str(app, "status");
		if (strcmp(st, "running") == 0 || strcmp(st, "idle") == 0) {
			rc = 0;
		} else if (strcmp(st, "failed") == 0) {
			out_error("app %s failed; see cx logs -a %s and cx ps -a %s", c->app, c->app,
			    c->app);
		} else if (now_ms() > deadline) {
			out_error("app %s is still %s after %lld seconds; see cx ps -a %s", c->app, st,
			    (long long)(timeout_ms / 1000), c->app);
		} else {
			jv_free(app);
			cli_sleep_ms(100);
			continue;
		}
		jv_free(app);
		break;
	}
	free(path);
	return rc;
}

int
cli_require_feature(struct cli *c, const char *feature, const char *what)
{
	jv *sys = NULL, *features;
	bool found = false;

	if (api_call(c, "GET", "/system", NULL, &sys) == -1)
		return -1;
	features = jv_get(sys, "features");
	for (size_t i = 0; i < jv_len(features); i++) {
		const char *f = jv_string_value(jv_at(features, i));

		if (f != NULL && strcmp(f, feature) == 0)
			found = true;
	}
	if (!found)
		out_error("rack %s runs %s, which has no %s; upgrade it: install a newer cx, then "
		    "restart the rack's daemon (cx rack start %s)", c->rack, jv_str(sys, "version"),
		    what, c->rack);
	jv_free(sys);
	return found ? 0 : -1;
}

int
api_delete_step(struct cli *c, char *path, const char *step)
{
	int rc;

	out_step("%s", step);
	rc = api_call(c, "DELETE", path, NULL, NULL);
	free(path);
	if (rc == -1)
		return 1;
	out_ok();
	return 0;
}

/* Keeps the rows the listing's flags ask for: -s SERVICE, --release ID,
 * --limit N (the first N, which are the newest). -1 after printing. */
static int
filter_rows(struct cli *c, jv *rows)
{
	const char *service = c->opt[OPT_SERVICE], *release = c->opt[OPT_RELEASE];
	long limit = -1;

	if (c->opt[OPT_LIMIT] != NULL && parse_long(c->opt[OPT_LIMIT], 1, 100000, &limit) == -1) {
		out_error("invalid --limit \"%s\": give a whole number from 1 to 100000",
		    c->opt[OPT_LIMIT]);
		return -1;
	}
	for (size_t i = jv_len(rows); i-- > 0;) {
		jv *row = jv_at(rows, i);

		if ((service != NULL && strcmp(jv_str(row, "service"), service) != 0) ||
		    (release != NULL && strcmp(jv_str(row, "release"), release) != 0))
			jv_remove_at(rows, i);
	}
	while (limit >= 0 && jv_len(rows) > (size_t)limit)
		jv_remove_at(rows, jv_len(rows) - 1);
	return 0;
}

int
cli_list_app(struct cli *c, const char *what, const struct out_col *cols, size_t ncols,
    const char *const *extra)
{
	jv *rows = NULL;
	char *app, *path;
	int rc;

	if (cli_select_app(c) == -1)
		return 1;
	/* what is ours ("processes"...), kept as written; only the app is escaped. */
	app = api_path("/apps/%s/", c->app);
	path = xasprintf("%s%s", app, what);
	free(app);
	rc = api_call(c, "GET", path, NULL, &rows);
	free(path);
	if (rc == -1)
		return 1;
	if (filter_rows(c, rows) == -1) {
		jv_free(rows);
		return 1;
	}
	out_list(cols, ncols, rows, c->json, extra);
	jv_free(rows);
	return 0;
}
