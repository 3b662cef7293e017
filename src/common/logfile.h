/*
 * logfile.h — logs that rotate by size, written by several processes at once.
 *
 * A log is its live file PATH and at most LOGFILE_KEEP - 1 rotated files
 * PATH.START, START being where the file begins in the log as a whole (the
 * count of bytes written to the log before it). So a byte offset into the
 * log means the same line before and after a rotation, and a reader that
 * follows by offset (`cx logs`) reads on across it.
 *
 * Writers rotate: each write takes an flock on the live file, checks that
 * PATH still names the file it holds (else another writer rotated it: it
 * opens the new one), renames PATH to PATH.START when the write would take it
 * past the cap, removes the oldest rotated file beyond the keep, and writes
 * whole lines only. No line is lost, split, or written to a rotated file.
 */
#ifndef CX_LOGFILE_H
#define CX_LOGFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define LOGFILE_KEEP 3          /* files per log: the live one and two rotated */
#define LOGFILE_DEFAULT_MB 10   /* the cap of each, unless log_max_mb says */
#define LOGSET_MAX 8            /* rotated files a reader looks at, at most */

struct logfile {
	char path[4096];
	int fd;                 /* the live file, -1 until the first write */
	int64_t max;            /* bytes per file; 0: never rotate */
	mode_t mode;            /* of files it creates */
	unsigned opens;         /* files opened so far: it changes when a rotation moved lf on */
	pid_t owner;            /* who opened fd: a forked child opens its own (an flock is
	                         * shared by the descriptors of one open, so it would not
	                         * keep parent and child apart) */
};

/* Sets lf up to write path, rotating at max bytes (0: never). fd: a
 * descriptor already open on path (lf takes it), or -1. */
void logfile_init(struct logfile *lf, const char *path, int64_t max, mode_t mode, int fd);
/* Appends n bytes (whole lines) to the log, rotating first if they would
 * take the live file past the cap. 0, or -1 with errno. */
int logfile_write(struct logfile *lf, const void *data, size_t n);
/* The descriptor of the live file lf last wrote, or -1. After a rotation
 * it is another file (lf->opens tells), though maybe the same number. */
int logfile_fd(const struct logfile *lf);
void logfile_close(struct logfile *lf);
/* logfile_write once, for a writer that writes rarely (opens, writes, closes). */
int logfile_append(const char *path, int64_t max, const void *data, size_t n);

/* If name is base's rotated file ("app.log.1234" of "app.log"): true with
 * *start set. */
bool logfile_rotated_start(const char *base, const char *name, int64_t *start);

/* A log as a reader sees it at one instant: its files in order, each open,
 * with where it starts in the log and its size; the live file last. */
struct logpart {
	int fd;
	int64_t start, size;
};
struct logset {
	size_t n;
	struct logpart part[LOGSET_MAX];
};

/* Opens the files of the log at path (n is 0 when there is none). 0, or -1
 * with errno. logset_close closes them. */
int logset_open(const char *path, struct logset *s);
void logset_close(struct logset *s);
/* Where the log ends: the next byte a writer would add. */
int64_t logset_end(const struct logset *s);
/* Where part i ends in the log: its start plus its size, but no further
 * than the next part's start. */
int64_t logset_part_end(const struct logset *s, size_t i);

#endif
