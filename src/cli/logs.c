/*
 * logs.c — `cx logs [--no-follow] [--since DURATION] [--filter TEXT]
 * [-s SERVICE]`, and `cx rack logs` (the rack daemon's own log) the same way;
 * `cx rack metrics`, the routers' counters, and `cx rack ca`, the rack's CA
 * certificate: texts the rack answers whole.
 *
 * As Convox's: logs follow until interrupted (or the app is deleted) unless
 * --no-follow, and start 2 minutes back unless --since says otherwise.
 * The rack serves a log by byte offset (GET .../logs?since=OFFSET, next
 * offset in X-Cx-Offset) and finds where a time starts in it
 * (?since_time=UNIX, a bisection over the file): the CLI asks for the
 * cutoff's place, keeps the lines recent enough, then polls every 250 ms. A line is
 * "TIME SOURCE TEXT" (SOURCE service/NAME/PROCESS or system/cx); a line
 * without a timestamp continues the one before it and goes with it.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "cli/output.h"

#define FOLLOW_POLL_MS 250

static volatile sig_atomic_t logs_stop;

static void
on_stop(int signo)
{
	(void)signo;
	logs_stop = 1;
}

/* "30s", "10m", "2h", "1d", "1h30m": seconds, or -1. */
static int64_t
parse_duration(const char *s)
{
	int64_t total = 0;

	if (*s == '\0')
		return -1;
	while (*s != '\0') {
		size_t n = strspn(s, "0123456789");
		long v;
		int64_t unit;

		if (n == 0 || parse_long_n(s, n, 0, 1000000000L, &v) == -1)
			return -1;
		switch (s[n]) {
		case 's': unit = 1; break;
		case 'm': unit = 60; break;
		case 'h': unit = 3600; break;
		case 'd': unit = 86400; break;
		default: return -1;
		}
		total += v * unit;
		s += n + 1;
	}
	return total;
}

/* Time of a line "2026-11-24T23:59:59Z ..." (the rack's own log has
 * milliseconds: "...:59.123Z"), or -1. */
static int64_t
line_time(const char *p, size_t len)
{
	struct tm tm;
	char ts[40];
	const char *end;
	size_t n = 0;

	while (n < len && n + 1 < sizeof(ts) && p[n] != ' ' && p[n] != '\n') {
		ts[n] = p[n];
		n++;
	}
	ts[n] = '\0';
	memset(&tm, 0, sizeof(tm));
	end = strptime(ts, "%Y-%m-%dT%H:%M:%S", &tm);
	if (end == NULL)
		return -1;
	if (*end == '.')
		end += 1 + strspn(end + 1, "0123456789");
	if (strcmp(end, "Z") != 0)
		return -1;
	return (int64_t)timegm(&tm);
}

/* Which lines to print. */
struct log_filter {
	int64_t cutoff;         /* not older than this (0: all) */
	const char *service;    /* only service/SERVICE/... lines, or NULL */
	const char *text;       /* only lines that contain it, or NULL */
	bool keep;              /* the last timestamped line was kept */
};

/* Is the line (with its timestamp t, -1 if none) one to print? */
static bool
line_wanted(const struct log_filter *f, const char *p, size_t n, int64_t t)
{
	if (f->cutoff != 0 && t < f->cutoff)
		return false;
	if (f->service != NULL) {
		const char *src = memchr(p, ' ', n);
		size_t sl = strlen(f->service), left;

		/* "TIME service/NAME/PROCESS TEXT" */
		if (src == NULL)
			return false;
		src++;
		left = n - (size_t)(src - p);
		if (left < 8 + sl + 1 || memcmp(src, "service/", 8) != 0 ||
		    memcmp(src + 8, f->service, sl) != 0 || src[8 + sl] != '/')
			return false;
	}
	if (f->text != NULL && memmem(p, n, f->text, strlen(f->text)) == NULL)
		return false;
	return true;
}

/* Writes the lines of text that f wants. */
static void
print_lines(const char *text, size_t len, struct log_filter *f)
{
	const char *p = text, *end = text + len;

	if (f->cutoff == 0 && f->service == NULL && f->text == NULL) {
		fwrite(text, 1, len, stdout);
		fflush(stdout);
		return;
	}
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) + 1 : (size_t)(end - p);
		int64_t t = line_time(p, n);

		if (t != -1)
			f->keep = line_wanted(f, p, n, t);
		if (f->keep)
			fwrite(p, 1, n, stdout);
		p += n;
	}
	fflush(stdout);
}

/* Prints (and with -f follows) the log served at base ("/apps/APP/logs" or
 * "/system/logs"); `what` names it in errors. */
static int
show_log(struct cli *c, const char *base, const char *what)
{
	bool follow = c->opt[OPT_NO_FOLLOW] == NULL, seen = false;
	const char *since = c->opt[OPT_SINCE] ? c->opt[OPT_SINCE] : "2m";
	struct log_filter f = { 0, c->opt[OPT_SERVICE], c->opt[OPT_FILTER], false };
	int64_t offset = -1, next, d;
	struct sigaction sa;
	struct buf body;
	int rc = 0;

	if (c->opt[OPT_FOLLOW] != NULL && !follow)
		return out_error("--follow and --no-follow contradict each other: give one");
	if ((d = parse_duration(since)) < 0)
		return out_error("invalid duration \"%s\": use a number and a unit, like 30s, "
		    "10m, 2h or 1d", since);
	f.cutoff = now_unix() - d;
	if (f.service != NULL && cli_check_name("service", f.service) == -1)
		return 1;
	if (f.text != NULL && f.text[0] == '\0')
		f.text = NULL;
	if (follow) {
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_stop;    /* no SA_RESTART: wake the sleep */
		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGTERM, &sa, NULL);
	}
	buf_init(&body, 0);
	while (!logs_stop) {
		char *path, off[48];
		long st;

		/* First from the rack's own look-up of the cutoff's offset, then on
		 * from where the last answer ended. */
		if (offset < 0)
			snprintf(off, sizeof(off), "since_time=%lld", (long long)f.cutoff);
		else
			snprintf(off, sizeof(off), "since=%lld", (long long)offset);
		path = xasprintf("%s?%s", base, off);
		buf_reset(&body);
		st = api_text(c, path, &body, &next);
		free(path);
		if (st == -1) {
			rc = logs_stop ? 0 : 1;
			break;
		}
		if (st == 404) {
			char err[128];
			jv *e;

			if (seen)
				break;  /* the app was deleted while we followed it */
			e = jv_parse(body.data ? body.data : "", body.len, err, sizeof(err));
			rc = out_error("%s", e && jv_str(e, "error")[0] ? jv_str(e, "error") : what);
			jv_free(e);
			break;
		}
		seen = true;
		print_lines(body.data ? body.data : "", body.len, &f);
		if (next >= 0 && next != offset) {
			offset = next;
			if (body.len > 0)
				continue;       /* catching up from the start */
		}
		if (!follow)
			break;
		cli_sleep_ms(FOLLOW_POLL_MS);
	}
	buf_free(&body);
	return rc;
}

int
cmd_logs(struct cli *c)
{
	char *base;
	int rc;

	if (cli_select_app(c) == -1)
		return 1;
	base = api_path("/apps/%s/logs", c->app);
	rc = show_log(c, base, "no such app");
	free(base);
	return rc;
}

int
cmd_rack_logs(struct cli *c)
{
	if (cli_select_rack(c) == -1)
		return 1;
	return show_log(c, "/system/logs", "the rack has no log");
}

/* Prints the text the selected rack answers at path; a rack too old to
 * have it is told apart (404), naming what it lacks. */
static int
print_text(struct cli *c, const char *path, const char *lacks)
{
	struct buf body;
	int64_t off;
	long st;

	if (cli_select_rack(c) == -1)
		return 1;
	buf_init(&body, 0);
	st = api_text(c, path, &body, &off);
	if (st == 200)
		fwrite(body.data ? body.data : "", 1, body.len, stdout);
	buf_free(&body);
	if (st == 404)
		return out_error("rack %s has no %s; upgrade it", c->rack, lacks);
	return st == 200 ? 0 : 1;
}

int
cmd_rack_metrics(struct cli *c)
{
	return print_text(c, "/system/metrics", "metrics endpoint");
}

int
cmd_rack_ca(struct cli *c)
{
	return print_text(c, "/system/ca", "CA");
}
