/*
 * logs.c — `cx logs [-f] [--since DURATION]`, and `cx rack logs` (the rack
 * daemon's own log) the same way; `cx rack metrics`, the routers' counters,
 * and `cx rack ca`, the rack's CA certificate: texts the rack answers whole.
 *
 * The rack serves an app's log by byte offset (GET .../logs?since=OFFSET,
 * next offset in X-Cx-Offset); without an offset it sends the last 100
 * lines. --since is a duration, as in Convox: the CLI reads from the start
 * and keeps lines whose timestamp is recent enough. -f polls every 250 ms
 * until SIGINT/SIGTERM or the app is deleted.
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

/* Time of a line "2026-11-24T23:59:59Z ...", or -1. */
static int64_t
line_time(const char *p, size_t len)
{
	struct tm tm;
	char ts[21];
	const char *end;

	if (len < 20)
		return -1;
	memcpy(ts, p, 20);
	ts[20] = '\0';
	memset(&tm, 0, sizeof(tm));
	end = strptime(ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (end == NULL || *end != '\0')
		return -1;
	return (int64_t)timegm(&tm);
}

/* Writes the lines of text not older than cutoff (0: all). */
static void
print_lines(const char *text, size_t len, int64_t cutoff, bool *keep)
{
	const char *p = text, *end = text + len;

	if (cutoff == 0) {
		fwrite(text, 1, len, stdout);
		fflush(stdout);
		return;
	}
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) + 1 : (size_t)(end - p);
		int64_t t = line_time(p, n);

		if (t != -1)
			*keep = t >= cutoff;
		if (*keep)
			fwrite(p, 1, n, stdout);
		p += n;
	}
	fflush(stdout);
}

static void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* Prints (and with -f follows) the log served at base ("/apps/APP/logs" or
 * "/system/logs"); `what` names it in errors. */
static int
show_log(struct cli *c, const char *base, const char *what)
{
	bool follow = c->opt[OPT_FOLLOW] != NULL, keep = false, seen = false;
	int64_t offset = -1, cutoff = 0, next;
	struct sigaction sa;
	struct buf body;
	int rc = 0;

	if (c->opt[OPT_SINCE] != NULL) {
		int64_t d = parse_duration(c->opt[OPT_SINCE]);

		if (d < 0)
			return out_error("invalid duration \"%s\": use a number and a unit, like 30s, "
			    "10m, 2h or 1d", c->opt[OPT_SINCE]);
		cutoff = now_unix() - d;
		offset = 0;
	}
	if (follow) {
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_stop;    /* no SA_RESTART: wake the sleep */
		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGTERM, &sa, NULL);
	}
	buf_init(&body, 0);
	while (!logs_stop) {
		char *path, off[24];
		long st;

		snprintf(off, sizeof(off), "%lld", (long long)offset);
		path = offset < 0 ? xstrdup(base) : xasprintf("%s?since=%s", base, off);
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
		print_lines(body.data ? body.data : "", body.len, cutoff, &keep);
		if (next >= 0 && next != offset) {
			offset = next;
			if (body.len > 0 && cutoff != 0)
				continue;       /* catching up from the start */
		}
		if (!follow)
			break;
		sleep_ms(FOLLOW_POLL_MS);
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
