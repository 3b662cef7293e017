/*
 * output.h — what the CLI prints, the way Convox prints it: progress steps
 * ("Creating app1... OK"), aligned tables with upper-case headers, key/value
 * blocks, relative times ("5 seconds ago"), one-line errors, and --json.
 */
#ifndef CX_OUTPUT_H
#define CX_OUTPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/jv.h"

/* Prints "ERROR: <msg>" on stderr. Returns 1, the exit status, so a command
 * can end with `return out_error(...)`. */
int out_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* While buf is not NULL, out_error writes its message (without "ERROR: ")
 * into buf instead of printing it, the last one kept: for a caller that
 * words one line out of several failures. out_capture(NULL, 0) ends it. */
void out_capture(char *buf, size_t len);

/* "Creating app1... " (flushed), then out_ok() -> "OK", or out_ok_with(id)
 * -> "OK, RNEW". */
void out_step(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void out_ok(void);
void out_ok_with(const char *what);

/* "5 seconds ago", "2 minutes ago", "3 days ago" (as go-humanize, which
 * Convox uses); "" for 0. */
void out_ago(int64_t unix_time, int64_t now, char *out, size_t outlen);
/* out_ago for the past, "3 months from now" for the future. */
void out_when(int64_t unix_time, int64_t now, char *out, size_t outlen);
/* 2026-11-24T23:59:59Z; "" for 0. */
void out_rfc3339(int64_t unix_time, char *out, size_t outlen);
/* A duration in ms as "350ms", "4.2s" or "2m5s". */
void out_elapsed(int64_t ms, char *out, size_t outlen);

/* An aligned table: columns separated by two spaces, the last one not padded. */
struct table;
struct table *table_new(size_t ncols, const char *const *headers);
/* Adds a row of ncols cells (copied; NULL prints as ""). */
void table_add(struct table *t, const char *const *cells);
void table_print(const struct table *t, FILE *f);
void table_free(struct table *t);

/* A key/value block: keys padded to the longest. */
struct kv {
	const char *key;
	const char *val;
};
void kv_print(const struct kv *kvs, size_t n, FILE *f);

enum out_fmt {
	OUT_TEXT,       /* the member as text */
	OUT_AGO,        /* unix seconds shown as "N minutes ago" */
	OUT_WHEN,       /* unix seconds, past or future: "N months from now" */
	OUT_MS,         /* a duration in ms: "350ms", "4.2s", "2m5s" */
};

struct out_col {
	const char *header;     /* "SERVICE" */
	const char *key;        /* member of the daemon's objects: "name" */
	enum out_fmt fmt;
};

/*
 * Prints the array of objects arr as a table of ncols columns; with json, as
 * one compact JSON array of objects whose keys are the lower-cased headers
 * (values as the daemon sent them, times in unix seconds), plus the members
 * named in extra (NULL-terminated, may be NULL) under their own names.
 */
void out_list(const struct out_col *cols, size_t ncols, const jv *arr, bool json,
    const char *const *extra);

#endif
