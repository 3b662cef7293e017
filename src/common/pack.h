/*
 * pack.h — packs an app's source directory into a gzipped tar for
 * `cx deploy`, leaving out what the directory's .dockerignore excludes; the
 * rack packs build directories with it for `cx apps export`. The one place
 * that writes archives (libarchive); rackd/unpack.c is the one that reads.
 *
 * .dockerignore is read the way docker reads it: one pattern per line,
 * blank lines and lines starting with '#' ignored, surrounding spaces
 * trimmed, a leading '/' dropped (patterns are relative to the root anyway),
 * `*` matches within one path component, `?` one character, `[a-z]` a class,
 * `**` any number of components (even none), `\` escapes, and a leading `!`
 * re-includes what an earlier pattern excluded. The last matching pattern
 * wins, and a pattern that matches a directory excludes everything in it
 * unless a later `!` pattern names a path inside it. Nothing is skipped by
 * default (not even .git), except that the root convox.yml is always sent:
 * the rack cannot build without it (docker keeps its Dockerfile the same way).
 */
#ifndef CX_PACK_H
#define CX_PACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pack_ignore;

/* Parses .dockerignore text. Never fails; free with pack_ignore_free. */
struct pack_ignore *pack_ignore_parse(const char *text);
/* Reads DIR/.dockerignore; a missing file gives an empty list. NULL with err
 * set if the file exists but cannot be read. */
struct pack_ignore *pack_ignore_load(const char *dir, char *err, size_t errlen);
void pack_ignore_free(struct pack_ignore *pi);
/* True if the relative path ("a/b/c", no leading slash) is excluded, by a
 * pattern matching it or one of its parent directories. */
bool pack_ignore_match(const struct pack_ignore *pi, const char *relpath);

struct pack_stats {
	uint64_t files;         /* regular files and symlinks packed */
	uint64_t bytes;         /* their uncompressed size */
	uint64_t skipped;       /* paths left out by .dockerignore */
};

/*
 * Writes DIR as a gzipped tar to out_fd (from its current offset). Entries
 * are relative ("web/app.py"), owned by 0:0, with the files' permission bits
 * minus setuid/setgid/sticky. Refuses, with a one-line message naming the
 * path: sockets, devices and FIFOs, symlinks whose target leaves DIR, and
 * unreadable files — unless .dockerignore excludes them.
 * Returns 0, or -1 with err set. st may be NULL.
 */
int pack_dir(const char *dir, int out_fd, struct pack_stats *st, char *err, size_t errlen);

/* Same, with the file `manifest` (a path, may lie outside DIR) packed as the
 * archive's convox.yml instead of DIR's own: `cx deploy --manifest FILE`. */
int pack_dir_manifest(const char *dir, const char *manifest, int out_fd, struct pack_stats *st,
    char *err, size_t errlen);

/* Opens an anonymous temp file (O_TMPFILE in $TMPDIR or /tmp). -1 with errno. */
int pack_tmpfile(void);

#endif
