/*
 * accesslog.h — one JSON line per request, buffered per worker and written
 * with O_APPEND in whole lines (so workers never interleave inside a line),
 * flushed when the buffer fills and every 100 ms by the worker's sweep.
 */
#ifndef CX_ROUTER_ACCESSLOG_H
#define CX_ROUTER_ACCESSLOG_H

#include <stdbool.h>
#include <stdint.h>

#include "common/logfile.h"
#include "common/util.h"

struct accesslog {
	int fd;		/* -1: off */
	bool rotating;	/* writes go through lf, the worker's own descriptor */
	struct logfile lf;
	struct buf b;
	int64_t stamp_sec;	/* cached ISO time of stamp_sec */
	char stamp[32];
};

struct access_entry {
	const char *rack, *router, *app, *service, *process, *host;
	const char *method, *path, *client, *upstream, *request_id;
	const char *proto;		/* "HTTP/1.1", "HTTP/2"...; NULL: not logged */
	int status;
	uint64_t bytes_in, bytes_out;
	double duration_ms, upstream_ms;	/* upstream_ms < 0: no upstream */
};

/* fd: the log's descriptor (-1: no access log); with max > 0 the worker
 * writes path through its own descriptor instead and rotates it at max
 * bytes (logfile.h: each worker locks the file for its write). */
void accesslog_init(struct accesslog *al, int fd, const char *path, int64_t max);
void accesslog_add(struct accesslog *al, const struct access_entry *e);
void accesslog_flush(struct accesslog *al);
void accesslog_free(struct accesslog *al);

#endif
