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
#include "common/logfile.h"
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

void
applog_system(struct rack *r, const char *app, const char *fmt, ...)
{
	char line[LOG_LINE_MAX], path[4096];
	size_t n;
	va_list ap;

	n = stamp(line, sizeof(line));
	n += (size_t)snprintf(line + n, sizeof(line) - n, " system/cx ");
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
	va_end(ap);
	n = strlen(line);
	line[n++] = '\n';
	applog_path(r, app, path, sizeof(path));
	if (logfile_append(path, rack_log_max(r), line, n) == -1)
		log_warn("app %s: cannot write its log", app);
}

/* Lines the shim has read, stamped, waiting for one write. */
struct shim_out {
	struct logfile lf;
	char data[4 * LOG_LINE_MAX];
	size_t len;
	size_t lost;            /* lines the log could not take since it last did */
	int lost_errno;         /* why */
};

/* Writes the lines read. A log that cannot take them (a full disk) loses
 * them, never the process its output: a shim that left would kill it with
 * SIGPIPE. What was lost is said in the log once it takes lines again. */
static void
shim_flush(struct shim_out *o)
{
	if (o->len == 0)
		return;
	if (o->lost > 0) {
		char note[256];
		size_t n = stamp(note, sizeof(note));

		n += (size_t)snprintf(note + n, sizeof(note) - n, " system/cx %zu lines of this "
		    "process were lost: its log could not be written (%s)\n", o->lost,
		    strerror(o->lost_errno));
		if (n < sizeof(note) && logfile_write(&o->lf, note, n) == 0)
			o->lost = 0;
	}
	if (o->lost > 0 || logfile_write(&o->lf, o->data, o->len) == -1) {
		if (o->lost == 0)
			o->lost_errno = errno;
		for (size_t i = 0; i < o->len; i++)
			o->lost += o->data[i] == '\n';
	}
	o->len = 0;
}

static void
shim_line(struct shim_out *o, const char *source, const char *text, size_t n)
{
	char *line;
	size_t k, room;

	if (sizeof(o->data) - o->len < LOG_LINE_MAX + 256)
		shim_flush(o);
	line = o->data + o->len;
	room = sizeof(o->data) - o->len;
	k = stamp(line, room);
	k += (size_t)snprintf(line + k, room - k, " %s %.*s\n", source,
	    (int)(n < LOG_LINE_MAX ? n : LOG_LINE_MAX), text);
	if (k >= room)
		k = room - 1;
	o->len += k;
}

/* The shim's whole life: copy lines until EOF, each read's lines in one
 * write (whole lines: a rotation never splits one). Runs in a forked child. */
static _Noreturn void
shim_run(int in, struct shim_out *o, const char *source)
{
	static char buf[LOG_LINE_MAX];
	size_t have = 0;

	for (;;) {
		ssize_t n = read(in, buf + have, sizeof(buf) - have);
		size_t start = 0;

		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (have > 0)
				shim_line(o, source, buf, have);
			shim_flush(o);
			_exit(0);
		}
		have += (size_t)n;
		for (size_t i = 0; i < have; i++) {
			if (buf[i] != '\n')
				continue;
			shim_line(o, source, buf + start, i - start);
			start = i + 1;
		}
		if (start == 0 && have == sizeof(buf)) {
			/* A line longer than the buffer: emit it in pieces. */
			shim_line(o, source, buf, have);
			start = have;
		}
		shim_flush(o);
		memmove(buf, buf + start, have - start);
		have -= start;
	}
}

pid_t
applog_shim(struct rack *r, const char *app, const char *source, int in)
{
	static struct shim_out o;
	char path[4096];
	int out, pfd[2];
	pid_t child, shim = -1;
	int64_t max = rack_log_max(r);

	applog_path(r, app, path, sizeof(path));
	out = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
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
			/* It rotates the log itself (logfile.c): it outlives the daemon. */
			logfile_init(&o.lf, path, max, 0600, 1);
			shim_run(0, &o, source);
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

/*
 * Reading a log across its rotated files (logfile.h): offsets are the log's
 * as a whole, so the files are read in order as one.
 */

/* Appends to out the bytes of s from *from, at most max, crossing from one
 * file to the next (whole lines only if whole_lines); moves *from on past
 * them. A place no file holds any more (rotated away) reads from the
 * oldest one still there. -1 if a read fails. */
static int
set_read(const struct logset *s, int64_t *from, size_t max, bool whole_lines, struct buf *out)
{
	size_t done = 0;

	for (size_t i = 0; i < s->n && done < max; i++) {
		const struct logpart *p = &s->part[i];
		int64_t pe = logset_part_end(s, i);
		size_t want;
		ssize_t got;
		char *chunk;

		if (pe <= *from)
			continue;
		if (*from < p->start)
			*from = p->start;
		want = (size_t)(pe - *from) < max - done ? (size_t)(pe - *from) : max - done;
		chunk = xmalloc(want + 1);
		got = pread(p->fd, chunk, want, *from - p->start);
		if (got < 0) {
			free(chunk);
			return -1;
		}
		if (whole_lines)
			while (got > 0 && chunk[got - 1] != '\n')
				got--;
		buf_add(out, chunk, (size_t)got);
		free(chunk);
		*from += got;
		done += (size_t)got;
		if ((size_t)got < want)
			break;      /* a line not yet whole, or the read came short */
	}
	return 0;
}

/* Where the last `lines` lines of s start, looking back 1 MiB at most. */
static int64_t
tail_start(const struct logset *s, int lines)
{
	int64_t end = logset_end(s), from = end > (1 << 20) ? end - (1 << 20) : 0, at;
	struct buf b;
	int seen = 0;

	buf_init(&b, 0);
	at = from;
	if (set_read(s, &at, 1 << 20, false, &b) == -1 || b.len == 0) {
		buf_free(&b);
		return end;
	}
	from = at - (int64_t)b.len;
	for (size_t i = b.len - 1; i > 0; i--) {
		if (b.data[i - 1] == '\n' && ++seen == lines) {
			buf_free(&b);
			return from + (int64_t)i;
		}
	}
	buf_free(&b);
	return from;
}

void
applog_tail(struct rack *r, const char *app, const char *source, int n, struct buf *out)
{
	char path[4096], **lines;
	char *save = NULL;
	struct logset s;
	struct buf data;
	int64_t from;
	int count = 0, first;

	/* The last MiB of the log is plenty for a few lines, and bounded. */
	applog_path(r, app, path, sizeof(path));
	if (logset_open(path, &s) == -1)
		return;
	from = logset_end(&s) > (1 << 20) ? logset_end(&s) - (1 << 20) : 0;
	buf_init(&data, 0);
	set_read(&s, &from, 1 << 20, false, &data);
	logset_close(&s);
	lines = xcalloc((size_t)n, sizeof(*lines));
	for (char *l = strtok_r((char *)buf_cstr(&data), "\n", &save); l != NULL;
	    l = strtok_r(NULL, "\n", &save)) {
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
	buf_free(&data);
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
	struct logset s;
	int64_t start = since;
	int rc;

	if (logset_open(path, &s) == -1)
		return -1;
	if (s.n == 0) {
		*next = 0;
		return 0;
	}
	if (since < 0 || since > logset_end(&s))
		start = tail_start(&s, 100);
	rc = set_read(&s, &start, max, true, out);
	logset_close(&s);
	*next = start;
	return rc;
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

/* log_offset_at within one file of size bytes. */
static int64_t
file_offset_at(int fd, int64_t size, const char *stamp)
{
	int64_t lo = 0, hi = size, l;

	/* The lines are in time order (append-only): bisect on line starts.
	 * The answer is a line start in [lo, hi], hi being the file's end or a
	 * line not older than t. */
	while (hi - lo > 1) {
		l = line_at_or_after(fd, size, lo + (hi - lo) / 2);
		if (l >= hi)
			break;      /* [mid, hi) is inside one line: scan [lo, hi) */
		if (line_not_older(fd, l, stamp))
			hi = l;
		else
			lo = l;
	}
	for (l = lo; l < hi; l = line_at_or_after(fd, size, l + 1))
		if (line_not_older(fd, l, stamp))
			break;
	return l < hi ? l : hi;
}

int64_t
log_offset_at(const char *path, int64_t t)
{
	char stamp[32];
	struct logset s;
	struct tm tm;
	time_t tt = (time_t)t;
	int64_t at;

	if (gmtime_r(&tt, &tm) == NULL ||
	    strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm) != 19)
		return 0;
	if (logset_open(path, &s) == -1 || s.n == 0)
		return 0;
	/* The files are in time order too: the first that has a line not
	 * older than t holds the answer. */
	at = logset_end(&s);
	for (size_t i = 0; i < s.n; i++) {
		int64_t size = logset_part_end(&s, i) - s.part[i].start;
		int64_t off = file_offset_at(s.part[i].fd, size, stamp);

		if (off < size) {
			at = s.part[i].start + off;
			break;
		}
	}
	logset_close(&s);
	return at;
}
