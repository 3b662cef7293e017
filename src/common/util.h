/*
 * util.h — small helpers every cx program uses: return codes, a bounded
 * growable buffer, range-checked number parsing, time, files.
 */
#ifndef CX_UTIL_H
#define CX_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

/* Return codes of non-blocking code (parsers, handlers), as in nginx. */
enum {
	CX_OK = 0,
	CX_ERR = -1,
	CX_AGAIN = -2,
	CX_DECLINED = -3,
};

#define CX_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Allocation that aborts the program on out-of-memory: callers need no check. */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A growable byte buffer with a hard maximum set at init (0 = no maximum). */
struct buf {
	char *data;
	size_t len;
	size_t cap;
	size_t max;
};
void buf_init(struct buf *b, size_t max);
/* Appends n bytes; -1 (and nothing appended) if that would pass b->max. */
int buf_add(struct buf *b, const void *p, size_t n);
int buf_addf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int buf_adds(struct buf *b, const char *s);
/* Drops the first n bytes. */
void buf_consume(struct buf *b, size_t n);
/* Makes sure at least n bytes are writable after len; -1 past max. */
int buf_reserve(struct buf *b, size_t n);
/* Reads the non-blocking fd into b until it would block (returns 1: more
 * may come) or ends (0: end of file or an error other than EINTR). A read
 * that would pass b->max is dropped whole, so the writer never stalls. */
int buf_fill_fd(struct buf *b, int fd);
/* NUL-terminates (not counted in len) and returns data. */
char *buf_cstr(struct buf *b);
void buf_reset(struct buf *b);
void buf_free(struct buf *b);

/* Range-checked integer parsing of a whole string: -1 on junk or out of range. */
int parse_long(const char *s, long min, long max, long *out);
int parse_int(const char *s, int min, int max, int *out);
/* Same for a length-delimited slice. */
int parse_long_n(const char *s, size_t n, long min, long max, long *out);
/* "true"/"false" (also yes/no/1/0) */
int parse_bool(const char *s, bool *out);
/* "10.1.0.0/16": network address (host order) and prefix length; host bits must be zero. */
int parse_cidr(const char *s, uint32_t *net, int *prefix);
bool cidr_contains(uint32_t net, int prefix, uint32_t addr);

/* Levenshtein distance between a and b (for "did you mean" suggestions). */
size_t str_edit_distance(const char *a, const char *b);

/* True if a symlink target stays inside a tree when the link sits `depth`
 * directories below its root: relative, its ".." components all first (a ".."
 * after a named component could climb out through another symlink), and not
 * climbing above the root. The rule the packer and the rack's unpacker share. */
bool link_target_inside(const char *target, int depth);

/* True if s is a DNS label usable as a rack or app name: [a-z][a-z0-9-]{0,29}. */
bool valid_name(const char *s);

/* Replaces every byte that is not part of valid UTF-8 with '?', in place, so
 * that text from processes and users can go into JSON. */
void utf8_sanitize(char *s);

/* Bounded copy that always NUL-terminates; returns -1 if truncated. */
int str_copy(char *dst, size_t dstlen, const char *src);
bool str_has_prefix(const char *s, const char *prefix);

/* Milliseconds on the monotonic clock / seconds of wall time. */
int64_t now_ms(void);
/* Milliseconds since t0 (CLOCK_MONOTONIC), with a fraction. */
double ms_since(const struct timespec *t0);
int64_t now_unix(void);

/* Files. read_file: whole file, max bytes, NUL-terminated, caller frees. */
char *read_file(const char *path, size_t max, size_t *len);
/* Writes to path.tmp, fsyncs, renames over path. */
int write_file_atomic(const char *path, const void *data, size_t len, mode_t mode);
int mkdir_p(const char *path, mode_t mode);
/* rm -rf; refuses "/" and empty paths. */
int remove_tree(const char *path);
/* The names of dir's entries that keep(name, arg) accepts, sorted, each and
 * the array malloc'd (caller frees); *n set. NULL (and 0) when dir cannot be
 * read or nothing is kept. */
char **dir_names(const char *dir, bool (*keep)(const char *name, void *arg), void *arg,
    size_t *n);
/* Frees each string of the NULL-terminated array v, then v (NULL: nothing). */
void str_list_free(char **v);

int set_nonblock(int fd);
int set_cloexec(int fd);

/* nbytes random bytes from the kernel as lower-case hex into out (2 * nbytes
 * + 1 bytes): passwords, seeds. 0, or -1 (nothing random to be had). */
int random_hex(char *out, size_t nbytes);
/* Standard base64 with padding; out must hold 4 * ((n + 2) / 3) + 1 bytes. */
void base64_encode(const unsigned char *in, size_t n, char *out);
/* Standard base64 (padded, whitespace skipped) decoded: malloc'd, NUL-terminated,
 * *outlen bytes; NULL for text that is not base64. */
unsigned char *base64_decode(const char *in, size_t n, size_t *outlen);

/* True while a process with this pid exists (kill(pid, 0)). */
bool pid_alive(pid_t pid);
/* True while the process pidfd refers to has not been reaped. */
bool pidfd_alive(int pidfd);
/* The process that holds an flock (or a whole-file POSIX lock) on the file
 * at path, as /proc/locks names it; 0 when none does, -1 when path or
 * /proc/locks cannot be read. */
pid_t lock_holder(const char *path);

#endif
