/*
 * output.c — tables, key/value blocks, steps and errors; see output.h.
 */
#include "cli/output.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/util.h"

static char *capture;
static size_t capture_len;

void
out_capture(char *buf, size_t len)
{
	capture = len > 0 ? buf : NULL;
	capture_len = len;
	if (capture != NULL)
		capture[0] = '\0';
}

void
out_elapsed(int64_t ms, char *out, size_t outlen)
{
	if (ms < 1000)
		snprintf(out, outlen, "%lldms", (long long)(ms < 0 ? 0 : ms));
	else if (ms < 60000)
		snprintf(out, outlen, "%lld.%llds", (long long)(ms / 1000), (long long)(ms % 1000 / 100));
	else
		snprintf(out, outlen, "%lldm%llds", (long long)(ms / 60000), (long long)(ms % 60000 / 1000));
}

int
out_error(const char *fmt, ...)
{
	va_list ap;

	if (capture != NULL) {
		va_start(ap, fmt);
		vsnprintf(capture, capture_len, fmt, ap);
		va_end(ap);
		return 1;
	}
	fflush(stdout);
	fputs("ERROR: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 1;
}

void
out_step(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fputs("... ", stdout);
	fflush(stdout);
}

void
out_ok(void)
{
	puts("OK");
	fflush(stdout);
}

void
out_ok_with(const char *what)
{
	printf("OK, %s\n", what);
	fflush(stdout);
}

void
out_ago(int64_t t, int64_t now, char *out, size_t outlen)
{
	static const struct {
		int64_t below;          /* seconds */
		int64_t unit;
		const char *one, *many;
	} mags[] = {
		{ 2, 1, "1 second ago", "seconds" },
		{ 60, 1, NULL, "seconds" },
		{ 120, 60, "1 minute ago", "minutes" },
		{ 3600, 60, NULL, "minutes" },
		{ 7200, 3600, "1 hour ago", "hours" },
		{ 86400, 3600, NULL, "hours" },
		{ 2 * 86400, 86400, "1 day ago", "days" },
		{ 7 * 86400, 86400, NULL, "days" },
		{ 14 * 86400, 7 * 86400, "1 week ago", "weeks" },
		{ 30 * 86400, 7 * 86400, NULL, "weeks" },
		{ 60 * 86400, 30 * 86400, "1 month ago", "months" },
		{ 365 * 86400, 30 * 86400, NULL, "months" },
		{ 548 * 86400, 365 * 86400, "1 year ago", "years" },
	};
	int64_t d = now - t;

	if (t <= 0) {
		out[0] = '\0';
		return;
	}
	if (d < 1) {
		str_copy(out, outlen, "now");
		return;
	}
	for (size_t i = 0; i < CX_ARRAY_LEN(mags); i++) {
		if (d >= mags[i].below)
			continue;
		if (mags[i].one != NULL)
			str_copy(out, outlen, mags[i].one);
		else
			snprintf(out, outlen, "%lld %s ago", (long long)(d / mags[i].unit), mags[i].many);
		return;
	}
	snprintf(out, outlen, "%lld years ago", (long long)(d < 2 * 365 * 86400 ? 2 :
	    d / (365 * 86400)));
}

void
out_when(int64_t t, int64_t now, char *out, size_t outlen)
{
	size_t n;

	if (t <= 0 || t <= now) {
		out_ago(t, now, out, outlen);
		return;
	}
	/* The same magnitudes, mirrored: "3 months from now". */
	out_ago(now - (t - now), now, out, outlen);
	n = strlen(out);
	if (n > 4 && strcmp(out + n - 4, " ago") == 0) {
		out[n - 4] = '\0';
		str_copy(out + n - 4, outlen - (n - 4), " from now");
	}
}

void
out_rfc3339(int64_t t, char *out, size_t outlen)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (t <= 0 || gmtime_r(&tt, &tm) == NULL) {
		out[0] = '\0';
		return;
	}
	strftime(out, outlen, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

struct table {
	size_t ncols, nrows;
	char **cells;           /* (nrows + 1) * ncols, row 0 the headers */
};

struct table *
table_new(size_t ncols, const char *const *headers)
{
	struct table *t = xcalloc(1, sizeof(*t));

	t->ncols = ncols;
	table_add(t, headers);
	t->nrows = 0;
	return t;
}

void
table_add(struct table *t, const char *const *cells)
{
	size_t row = t->cells == NULL ? 0 : t->nrows + 1;

	t->cells = xrealloc(t->cells, (row + 1) * t->ncols * sizeof(*t->cells));
	for (size_t i = 0; i < t->ncols; i++)
		t->cells[row * t->ncols + i] = xstrdup(cells[i] ? cells[i] : "");
	if (row > 0)
		t->nrows++;
}

/* Display width: UTF-8 code points, not bytes. */
static size_t
width(const char *s)
{
	size_t w = 0;

	for (; *s != '\0'; s++)
		w += ((unsigned char)*s & 0xc0) != 0x80;
	return w;
}

void
table_print(const struct table *t, FILE *f)
{
	size_t *w = xcalloc(t->ncols, sizeof(*w));

	for (size_t r = 0; r <= t->nrows; r++)
		for (size_t c = 0; c < t->ncols; c++) {
			size_t cw = width(t->cells[r * t->ncols + c]);

			if (cw > w[c])
				w[c] = cw;
		}
	for (size_t r = 0; r <= t->nrows; r++) {
		struct buf line;

		buf_init(&line, 0);
		for (size_t c = 0; c < t->ncols; c++) {
			const char *cell = t->cells[r * t->ncols + c];

			buf_adds(&line, cell);
			if (c + 1 < t->ncols)
				for (size_t pad = width(cell); pad < w[c] + 2; pad++)
					buf_add(&line, " ", 1);
		}
		while (line.len > 0 && line.data[line.len - 1] == ' ')
			line.len--;
		fprintf(f, "%.*s\n", (int)line.len, line.len ? line.data : "");
		buf_free(&line);
	}
	free(w);
}

void
table_free(struct table *t)
{
	if (t == NULL)
		return;
	for (size_t i = 0; i < (t->nrows + 1) * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	free(t);
}

void
kv_print(const struct kv *kvs, size_t n, FILE *f)
{
	size_t w = 0;

	for (size_t i = 0; i < n; i++)
		if (width(kvs[i].key) > w)
			w = width(kvs[i].key);
	for (size_t i = 0; i < n; i++) {
		const char *v = kvs[i].val ? kvs[i].val : "";

		if (v[0] == '\0')
			fprintf(f, "%s\n", kvs[i].key);
		else
			fprintf(f, "%-*s  %s\n", (int)w, kvs[i].key, v);
	}
}

static void
lower(const char *in, char *out, size_t outlen)
{
	size_t i;

	for (i = 0; in[i] != '\0' && i + 1 < outlen; i++)
		out[i] = in[i] == ' ' ? '_' : (char)tolower((unsigned char)in[i]);
	out[i] = '\0';
}

void
out_list(const struct out_col *cols, size_t ncols, const jv *arr, bool json,
    const char *const *extra)
{
	int64_t now = now_unix();

	if (json) {
		jv *out = jv_array_new();

		for (size_t r = 0; r < jv_len(arr); r++) {
			const jv *row = jv_at(arr, r);
			jv *o = jv_object_new();
			char key[64];

			for (size_t c = 0; c < ncols; c++) {
				lower(cols[c].header, key, sizeof(key));
				if (jv_get(row, cols[c].key) != NULL)
					jv_copy_member(o, key, row, cols[c].key);
				else
					jv_set_str(o, key, "");
			}
			for (size_t e = 0; extra != NULL && extra[e] != NULL; e++)
				jv_copy_member(o, extra[e], row, extra[e]);
			jv_push_take(out, o);
		}
		jv_print(out, stdout);
		jv_free(out);
		return;
	}

	const char **cells = xcalloc(ncols, sizeof(*cells));
	char (*bufs)[64] = xcalloc(ncols, sizeof(*bufs));
	struct table *t;

	for (size_t c = 0; c < ncols; c++)
		cells[c] = cols[c].header;
	t = table_new(ncols, cells);
	for (size_t r = 0; r < jv_len(arr); r++) {
		const jv *row = jv_at(arr, r);

		for (size_t c = 0; c < ncols; c++) {
			if (cols[c].fmt == OUT_AGO || cols[c].fmt == OUT_WHEN) {
				(cols[c].fmt == OUT_AGO ? out_ago : out_when)(jv_int(row, cols[c].key), now,
				    bufs[c], sizeof(bufs[c]));
				cells[c] = bufs[c];
			} else if (cols[c].fmt == OUT_MS) {
				out_elapsed(jv_int(row, cols[c].key), bufs[c], sizeof(bufs[c]));
				cells[c] = bufs[c];
			} else {
				cells[c] = jv_str(row, cols[c].key);
			}
		}
		table_add(t, cells);
	}
	table_print(t, stdout);
	table_free(t);
	free(bufs);
	free(cells);
}
