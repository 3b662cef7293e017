/*
 * accesslog.c — see accesslog.h.
 */
#include "router/accesslog.h"

#include <errno.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"

#define ACCESSLOG_FLUSH (32 * 1024)

void
accesslog_init(struct accesslog *al, int fd, const char *path, int64_t max)
{
	al->fd = fd;
	al->rotating = fd != -1 && path != NULL && max > 0;
	if (al->rotating)
		logfile_init(&al->lf, path, max, 0644, -1);
	buf_init(&al->b, 0);
	al->stamp_sec = -1;
}

void
accesslog_free(struct accesslog *al)
{
	accesslog_flush(al);
	buf_free(&al->b);
	if (al->rotating)
		logfile_close(&al->lf);
}

/* A JSON string; our inputs are header-checked, but escape anything odd. */
static void
add_str(struct buf *b, const char *key, const char *s)
{
	buf_addf(b, ",\"%s\":\"", key);
	for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p != '\0'; p++) {
		if (*p == '"' || *p == '\\')
			buf_addf(b, "\\%c", *p);
		else if (*p < 0x20 || *p >= 0x7f)
			buf_addf(b, "\\u%04x", *p);
		else
			buf_add(b, p, 1);
	}
	buf_add(b, "\"", 1);
}

void
accesslog_add(struct accesslog *al, const struct access_entry *e)
{
	struct timespec ts;

	if (al->fd == -1)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	if (ts.tv_sec != al->stamp_sec) {
		struct tm tm;

		gmtime_r(&ts.tv_sec, &tm);
		strftime(al->stamp, sizeof(al->stamp), "%Y-%m-%dT%H:%M:%S", &tm);
		al->stamp_sec = ts.tv_sec;
	}
	buf_addf(&al->b, "{\"time\":\"%s.%03ldZ\"", al->stamp, ts.tv_nsec / 1000000);
	add_str(&al->b, "rack", e->rack);
	add_str(&al->b, "router", e->router);
	add_str(&al->b, "app", e->app);
	add_str(&al->b, "service", e->service);
	add_str(&al->b, "process", e->process);
	add_str(&al->b, "host", e->host);
	add_str(&al->b, "method", e->method);
	add_str(&al->b, "path", e->path);
	if (e->proto != NULL)
		add_str(&al->b, "proto", e->proto);
	buf_addf(&al->b, ",\"status\":%d,\"bytes_in\":%llu,\"bytes_out\":%llu,"
	    "\"duration_ms\":%.3f", e->status, (unsigned long long)e->bytes_in,
	    (unsigned long long)e->bytes_out, e->duration_ms);
	if (e->upstream_ms >= 0)
		buf_addf(&al->b, ",\"upstream_ms\":%.3f", e->upstream_ms);
	else
		buf_adds(&al->b, ",\"upstream_ms\":null");
	add_str(&al->b, "upstream", e->upstream);
	add_str(&al->b, "client", e->client);
	add_str(&al->b, "request_id", e->request_id);
	buf_adds(&al->b, "}\n");
	if (al->b.len >= ACCESSLOG_FLUSH)
		accesslog_flush(al);
}

void
accesslog_flush(struct accesslog *al)
{
	size_t off = 0;

	if (al->fd == -1 || al->b.len == 0)
		return;
	if (al->rotating) {
		if (logfile_write(&al->lf, al->b.data, al->b.len) == -1)
			log_warn("access log write");
		buf_reset(&al->b);
		return;
	}
	/* One write per buffer, of whole lines: O_APPEND keeps it together. */
	while (off < al->b.len) {
		ssize_t n = write(al->fd, al->b.data + off, al->b.len - off);

		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			log_warn("access log write");
			break;
		}
		off += (size_t)n;
	}
	buf_reset(&al->b);
}
