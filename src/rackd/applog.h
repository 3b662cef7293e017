/*
 * applog.h — an app's log: one append-only file per app
 * ($CX_HOME/racks/RACK/apps/APP/app.log) with lines
 * "2026-11-24T23:59:59Z service/web/web-1a2b3c4d text". Processes write to
 * it through a small shim process, never through the daemon, so their output
 * outlives a daemon crash. The daemon adds "system/cx" lines. Each writer
 * rotates the log by size (log_max_mb, logfile.h): app.log and at most two
 * rotated app.log.START; every reader here reads across them.
 */
#ifndef CX_APPLOG_H
#define CX_APPLOG_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/util.h"

struct rack;

void applog_path(struct rack *r, const char *app, char *out, size_t outlen);
/* Appends one "system/cx" line to the app's log. */
void applog_system(struct rack *r, const char *app, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Forks a detached shim that copies lines from fd `in` to the app log with
 * the prefix `source` (e.g. "service/web/web-1a2b3c4d") and exits at EOF.
 * Returns the shim's pid or -1. */
pid_t applog_shim(struct rack *r, const char *app, const char *source, int in);
/* Appends to out the last `n` lines of the app log that carry `source`. */
void applog_tail(struct rack *r, const char *app, const char *source, int n, struct buf *out);
/* Reads the log from byte `since` (-1: the last 100 lines), at most max bytes,
 * whole lines only; *next gets the offset to ask for next time. */
int applog_read(struct rack *r, const char *app, int64_t since, size_t max, struct buf *out,
    int64_t *next);
/* The same for any log file (the daemon's own, say). */
int log_read(const char *path, int64_t since, size_t max, struct buf *out, int64_t *next);
/* The offset of the first line of a log (lines "TIME ...", in time order)
 * stamped at or after unix time t: the file's size when none is, 0 when the
 * file is missing. A bisection: a few reads, whatever the log's size. */
int64_t log_offset_at(const char *path, int64_t t);

#endif
