/*
 * applog.c — see applog.h.
 */
#include "rackd/applog.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "rackd/rack.h"

#define LOG_LINE_MAX 16384

void
applog_path(struct rack *r, const char *app, char *out, size_t outlen)
{
	snprintf(out, outlen, "%s/apps/%s/app.log", r->dir, app);
}

static size_t
stamp(char *out, size_t outlen)
{
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	return strftime(out, outlen, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int
open_log(struct rack *r, const char *app)
{
	char path[4096];

	applog_path(r, app, path, sizeof(path));
	return open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
}

void
applog_system(struct rack *r, const char *app, const char *fmt, ...)
{
	char line[LOG_LINE_MAX];
	size_t n;
	va_list ap;
	int fd;

	n = stamp(line, sizeof(line));
	n += (size_t)snprintf(line + n, sizeof(line) - n, " system/cx ");
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
	va_end(ap);
	n = strlen(line);
	line[n++] = '\n';
	fd = open_log(r, app);
	if (fd == -1) {
		log_warn("app %s: cannot open its log", app);
		return;
	}
	if (write(fd, line, n) == -1)
		log_warn("app %s: cannot write its log", app);
	close(fd);
}

static void
shim_line(int out, const char *source, const char *text, size_t n, char *line, size_t linelen)
{
	size_t k = stamp(line, linelen);

	k += (size_t)snprintf(line + k, linelen - k, " %s %.*s\n", source, (int)n, text);
	if (k >= linelen)
		k = linelen - 1;
	if (write(out, line, k) == -1)
		_exit(1);
}

/* The shim's whole life: copy lines until EOF. Runs in a forked child. */
static _Noreturn void
shim_run(int in, int out, const char *source)
{
	static char buf[LOG_LINE_MAX];
	static char line[LOG_LINE_MAX + 256];
	size_t have = 0;

	for (;;) {
		ssize_t n = read(in, buf + have, sizeof(buf) - have);
		size_t start = 0;

		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (have > 0)
				shim_line(out, source, buf, have, line, sizeof(line));
			_exit(0);
		}
		have += (size_t)n;
		for (size_t i = 0; i < have; i++) {
			if (buf[i] != '\n')
				continue;
			shim_line(out, source, buf + start, i - start, line, sizeof(line));
			start = i + 1;
		}
		if (start == 0 && have == sizeof(buf)) {
			/* A line longer than the buffer: emit it in pieces. */
			shim_line(out, source, buf, have, line, sizeof(line));
			start = have;
		}
		memmove(buf, buf + start, have - start);
		have -= start;
	}
}

pid_t
applog_shim(struct rack *r, const char *app, const char *source, int in)
{
	int out, pfd[2];
	pid_t child, shim = -1;

	out = open_log(r, app);
	if (out == -1)
		return -1;
	if (pipe2(pfd, O_CLOEXEC) == -1) {
		close(out);
		return -1;
	}
	child = fork();
	if (child == -1) {
		close(out);
		close(pfd[0]);
		close(pfd[1]);
		return -1;
	}
	if (child == 0) {
		/* Double fork: the shim is re-parented away from the daemon. */
		pid_t g;

		setsid();
		g = fork();
		if (g == 0) {
			int devnull = open("/dev/null", O_RDWR);

			prctl(PR_SET_NAME, "cx-logshim");
			signal(SIGPIPE, SIG_DFL);

			dup2(in, 0);
			dup2(out, 1);
			if (devnull != -1)
				dup2(devnull, 2);
			close_range(3, ~0U, 0);
			shim_run(0, 1, source);
		}
		if (write(pfd[1], &g, sizeof(g)) == -1)
			_exit(1);
		_exit(0);
	}
	close(pfd[1]);
	if (read(pfd[0], &shim, sizeof(shim)) != (ssize_t)sizeof(shim))
		shim = -1;
	close(pfd[0]);
	close(out);
	waitpid(child, NULL, 0);
	return shim;
}

void
applog_tail(struct rack *r, const char *app, const char *source, int n, struct buf *out)
{
	char path[4096], **lines;
	char *data, *save = NULL;
	struct stat sb;
	off_t from;
	ssize_t got;
	int count = 0, first, fd;

	/* The last MiB of the log is plenty for a few lines, and bounded. */
	applog_path(r, app, path, sizeof(path));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd == -1 || fstat(fd, &sb) == -1) {
		if (fd != -1)
			close(fd);
		return;
	}
	from = sb.st_size > (1 << 20) ? sb.st_size - (1 << 20) : 0;
	data = xmalloc((size_t)(sb.st_size - from) + 1);
	got = pread(fd, data, (size_t)(sb.st_size - from), from);
	close(fd);
	data[got > 0 ? got : 0] = '\0';
	lines = xcalloc((size_t)n, sizeof(*lines));
	for (char *l = strtok_r(data, "\n", &save); l != NULL; l = strtok_r(NULL, "\n", &save)) {
		if (strstr(l, source) == NULL)
			continue;
		lines[count % n] = l;
		count++;
	}
	first = count > n ? count - n : 0;
	for (int i = first; i < count; i++) {
		buf_adds(out, lines[i % n]);
		buf_adds(out, "\n");
	}
	free(lines);
	free(data);
}

int
applog_read(struct rack *r, const char *app, int64_t since, size_t max, struct buf *out,
    int64_t *next)
{
	char path[4096];

	applog_path(r, app, path, sizeof(path));
	return log_read(path, since, max, out, next);
}

int
log_read(const char *path, int64_t since, size_t max, struct buf *out, int64_t *next)
{
	struct stat sb;
	int fd;
	int64_t start;
	char *chunk;
	ssize_t got;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd == -1) {
		*next = 0;
		return errno == ENOENT ? 0 : -1;
	}
	if (fstat(fd, &sb) == -1) {
		close(fd);
		return -1;
	}
	start = since;
	if (since < 0 || since > sb.st_size) {
		/* Last 100 lines: scan back from the end at most 1 MiB. */
		int64_t from = sb.st_size > (1 << 20) ? sb.st_size - (1 << 20) : 0;
		size_t len = (size_t)(sb.st_size - from);
		int lines = 0;

		chunk = xmalloc(len + 1);
		got = pread(fd, chunk, len, from);
		start = from;
		if (got > 0) {
			for (ssize_t i = got - 1; i >= 0; i--) {
				if (chunk[i] == '\n' && i != got - 1 && ++lines == 100) {
					start = from + i + 1;
					break;
				}
			}
		}
		free(chunk);
	}
	if ((size_t)(sb.st_size - start) < max)
		max = (size_t)(sb.st_size - start);
	chunk = xmalloc(max + 1);
	got = pread(fd, chunk, max, start);
	close(fd);
	if (got < 0) {
		free(chunk);
		return -1;
	}
	/* Whole lines only. */
	while (got > 0 && chunk[got - 1] != '\n')
		got--;
	buf_add(out, chunk, (size_t)got);
	free(chunk);
	*next = start + got;
	return 0;
}


/* The offset of the first line that starts at or after off; size if none.
 * A line starts at 0 and after each '\n'. */
static int64_t
line_at_or_after(int fd, int64_t size, int64_t off)
{
	char b[4096];

	if (off <= 0)
		return 0;
	for (off--; off < size;) {
		ssize_t got = pread(fd, b, sizeof(b), off);
		char *nl;

		if (got <= 0)
			return size;
		if ((nl = memchr(b, '\n', (size_t)got)) != NULL)
			return off + (nl - b) + 1;
		off += got;
	}
	return size;
}

/* Does the line at off carry a stamp at or after stamp? Stamps sort as
 * text ("2026-11-24T23:59:59" before "2026-11-25T00:00:00"). */
static bool
line_not_older(int fd, int64_t off, const char *stamp)
{
	char b[19];

	return pread(fd, b, sizeof(b), off) == (ssize_t)sizeof(b) && memcmp(b, stamp, 19) >= 0;
}

int64_t
log_offset_at(const char *path, int64_t t)
{
	char stamp[32];
	struct stat sb;
	struct tm tm;
	time_t tt = (time_t)t;
	int64_t lo = 0, hi, l;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd == -1)
		return 0;
	if (fstat(fd, &sb) == -1 || gmtime_r(&tt, &tm) == NULL ||
	    strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm) != 19) {
		close(fd);
		return 0;
	}
	/* The lines are in time order (append-only): bisect on line starts.
	 * The answer is a line start in [lo, hi], hi being the file's end or a
	 * line not older than t. */
	hi = sb.st_size;
	while (hi - lo > 1) {
		l = line_at_or_after(fd, sb.st_size, lo + (hi - lo) / 2);
		if (l >= hi)
			break;      /* [mid, hi) is inside one line: scan [lo, hi) */
		if (line_not_older(fd, l, stamp))
			hi = l;
		else
			lo = l;
	}
	for (l = lo; l < hi; l = line_at_or_after(fd, sb.st_size, l + 1))
		if (line_not_older(fd, l, stamp))
			break;
	close(fd);
	return l < hi ? l : hi;
}
