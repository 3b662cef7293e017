/*
 * unpack.h — extracts an uploaded source archive (gzipped tar) into a build
 * directory, refusing anything that could reach outside it.
 *
 * The daemon unpacks what any holder of the rack password sends, so the
 * archive is hostile until proven otherwise: every entry's path, type, link
 * target and size is checked before a byte is written, and writing never
 * follows a symlink (each path component is opened with O_NOFOLLOW relative
 * to the destination's directory fd, so the process's cwd plays no part and
 * the function is safe to call from any thread).
 */
#ifndef CX_UNPACK_H
#define CX_UNPACK_H

#include <stddef.h>
#include <stdint.h>

/* Default cap on the number of entries of one archive. */
#define UNPACK_MAX_ENTRIES 100000

struct unpack_limits {
	uint64_t max_bytes;     /* total uncompressed file data; 0 = no cap */
	uint64_t max_entries;   /* 0 = UNPACK_MAX_ENTRIES */
	/* In and out: what earlier unpacks under the same limits used, so that
	 * several archives share one budget. Start at 0. */
	uint64_t used_bytes, used_entries;
};

/*
 * Extracts the gzipped tar at tgz_path into dest_dir (created if missing, mode
 * 0755). Accepts regular files, directories, symlinks and hard links whose
 * targets stay inside the tree. Refuses, with a one-line message in err that
 * names the entry:
 *   - absolute paths and paths with a ".." component;
 *   - symlinks with an absolute target, a target that climbs above the tree,
 *     or a ".." after a named component (which could climb out through
 *     another symlink);
 *   - hard links to anything but a regular file already extracted;
 *   - entries that pass through a symlink or replace a directory;
 *   - devices, FIFOs and sockets;
 *   - more than max_entries entries, or more than max_bytes of file data
 *     (counted while extracting, so a gzip bomb stops at the cap).
 * Files are created 0644, or 0755 when any execute bit was set; directories
 * 0755; setuid/setgid/sticky bits and ownership are dropped.
 * Returns 0, or -1 with err set. On failure dest_dir may hold a partial tree:
 * the caller removes it.
 */
int unpack_tgz(const char *tgz_path, const char *dest_dir, uint64_t max_bytes, char *err,
    size_t errlen);

/* Same with explicit limits, whose used_ counts it adds to (also on failure). */
int unpack_tgz_limits(const char *tgz_path, const char *dest_dir,
    struct unpack_limits *limits, char *err, size_t errlen);

#endif
