/*
 * unpack.c — safe extraction of source archives; see unpack.h.
 *
 * libarchive reads the archive; writing is done here with *at() calls on a
 * directory fd of the destination rather than with archive_write_disk, which
 * resolves paths against the process's cwd (a chdir in a daemon with threads
 * is not something to rely on). Every intermediate component is opened with
 * O_DIRECTORY | O_NOFOLLOW, every file is created with O_EXCL | O_NOFOLLOW
 * after unlinking what was there, and a directory is never replaced, so the
 * shape of the tree only grows: a symlink can never appear where a
 * directory was, and nothing is ever written through one. That gives the
 * same guarantees as ARCHIVE_EXTRACT_SECURE_SYMLINKS | SECURE_NODOTDOT |
 * SECURE_NOABSOLUTEPATHS, checked by us with messages that name the entry.
 */
#include "rackd/unpack.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/util.h"

#define UNPACK_NAME_MAX 255

struct unpacker {
	struct archive *a;
	int root;                       /* dest_dir */
	uint64_t max_bytes, total;
	uint64_t max_entries, entries;
	char *err;
	size_t errlen;
	/* the last parent directory opened, reused by the next entry in it */
	char cache_path[PATH_MAX];
	int cache_fd;
};

static void
seterr(struct unpacker *u, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
seterr(struct unpacker *u, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(u->err, u->errlen, fmt, ap);
	va_end(ap);
}

/* An entry's name as shown in a message: one line, bounded. */
static const char *
shown(const char *s, char *out, size_t outlen)
{
	size_t i, n = 0;

	for (i = 0; s[i] != '\0' && n + 4 < outlen; i++)
		out[n++] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
	if (s[i] != '\0') {
		memcpy(out + n, "...", 3);
		n += 3;
	}
	out[n] = '\0';
	return out;
}

/*
 * Normalizes an archive path: drops empty and "." components and a trailing
 * slash. -1 for an absolute path or a ".." component, -2 if too long.
 * An empty result means the root itself.
 */
static int
clean_path(const char *in, char *out, size_t outlen)
{
	size_t n = 0;
	const char *p = in;

	if (in[0] == '/')
		return -1;
	while (*p != '\0') {
		const char *e = strchr(p, '/');
		size_t len = e ? (size_t)(e - p) : strlen(p);

		if (len == 2 && p[0] == '.' && p[1] == '.')
			return -1;
		if (len > UNPACK_NAME_MAX)
			return -2;
		if (len > 0 && !(len == 1 && p[0] == '.')) {
			if (n + (n > 0) + len + 1 > outlen)
				return -2;
			if (n > 0)
				out[n++] = '/';
			memcpy(out + n, p, len);
			n += len;
		}
		p += len;
		if (*p == '/')
			p++;
	}
	out[n] = '\0';
	return 0;
}

/* Number of directories above a cleaned path's last component. */
static int
path_depth(const char *path)
{
	int d = 0;

	for (; *path != '\0'; path++)
		d += *path == '/';
	return d;
}

/*
 * Opens the directory holding path's last component, creating missing
 * directories (0755) when create is set, never following a symlink. Returns
 * an fd the caller must not close (it is cached), or -1 with err set. *base
 * points into path at the last component.
 */
static int
open_parent(struct unpacker *u, const char *path, const char *display, bool create,
    const char **base)
{
	char dir[PATH_MAX], show[256];
	const char *slash = strrchr(path, '/');
	size_t dlen;
	int fd;

	*base = slash ? slash + 1 : path;
	if (slash == NULL)
		return u->root;
	dlen = (size_t)(slash - path);
	memcpy(dir, path, dlen);
	dir[dlen] = '\0';
	if (u->cache_fd != -1 && strcmp(dir, u->cache_path) == 0)
		return u->cache_fd;

	fd = u->root;
	for (char *p = dir; *p != '\0';) {
		char *e = strchr(p, '/');
		int next;

		if (e != NULL)
			*e = '\0';
		next = openat(fd, p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (next == -1 && errno == ENOENT && create) {
			if (mkdirat(fd, p, 0755) == -1 && errno != EEXIST) {
				seterr(u, "cannot create directory %s: %s", shown(dir, show, sizeof(show)),
				    strerror(errno));
				goto fail;
			}
			next = openat(fd, p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (next != -1)
				fchmod(next, 0755);
		}
		if (next == -1) {
			struct stat st;
			int saved = errno;

			if (fstatat(fd, p, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
				seterr(u, "unsafe path in archive: %s (it passes through the symlink %s)",
				    display, shown(dir, show, sizeof(show)));
			else if (saved == ENOTDIR || saved == ELOOP)
				seterr(u, "conflicting entries in archive: %s (%s is not a directory)",
				    display, shown(dir, show, sizeof(show)));
			else if (saved == ENOENT)
				seterr(u, "invalid entry in archive: %s (%s does not exist)", display,
				    shown(dir, show, sizeof(show)));
			else
				seterr(u, "cannot open %s: %s", shown(dir, show, sizeof(show)),
				    strerror(saved));
			goto fail;
		}
		if (fd != u->root)
			close(fd);
		fd = next;
		if (e == NULL)
			break;
		*e = '/';
		p = e + 1;
	}
	if (u->cache_fd != -1)
		close(u->cache_fd);
	u->cache_fd = fd;
	memcpy(u->cache_path, path, dlen);
	u->cache_path[dlen] = '\0';
	return fd;
fail:
	if (fd != u->root)
		close(fd);
	return -1;
}

/* Makes room for a new non-directory at dirfd/base: unlinks what is there
 * unless it is a directory. */
static int
clear_slot(struct unpacker *u, int dirfd, const char *base, const char *display)
{
	struct stat st;

	if (fstatat(dirfd, base, &st, AT_SYMLINK_NOFOLLOW) == -1)
		return 0;
	if (S_ISDIR(st.st_mode)) {
		seterr(u, "conflicting entries in archive: %s (a directory of that name exists)",
		    display);
		return -1;
	}
	if (unlinkat(dirfd, base, 0) == -1) {
		seterr(u, "cannot replace %s: %s", display, strerror(errno));
		return -1;
	}
	return 0;
}

static void
limit_text(uint64_t max, char *out, size_t outlen)
{
	if (max >= (1u << 20) && max % (1u << 20) == 0)
		snprintf(out, outlen, "%llu MB", (unsigned long long)(max >> 20));
	else
		snprintf(out, outlen, "%llu bytes", (unsigned long long)max);
}

/* Counts n more bytes of file data against the cap. */
static int
count_bytes(struct unpacker *u, uint64_t n, const char *display)
{
	char lim[64];

	if (u->max_bytes == 0 || (u->total <= u->max_bytes && n <= u->max_bytes - u->total)) {
		u->total += n;
		return 0;
	}
	limit_text(u->max_bytes, lim, sizeof(lim));
	seterr(u, "archive too large: %s takes it past %s uncompressed (rack param build_max_mb)",
	    display, lim);
	return -1;
}

static int
extract_file(struct unpacker *u, struct archive_entry *e, const char *path, const char *display)
{
	const char *base;
	const void *block;
	size_t size;
	la_int64_t offset;
	uint64_t extent = 0;
	mode_t mode = (archive_entry_perm(e) & 0111) ? 0755 : 0644;
	int dirfd, fd, r;

	if (archive_entry_size_is_set(e) && archive_entry_size(e) > 0 &&
	    u->max_bytes != 0 && (uint64_t)archive_entry_size(e) > u->max_bytes - u->total)
		return count_bytes(u, (uint64_t)archive_entry_size(e), display);
	if ((dirfd = open_parent(u, path, display, true, &base)) == -1)
		return -1;
	if (clear_slot(u, dirfd, base, display) == -1)
		return -1;
	fd = openat(dirfd, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd == -1) {
		seterr(u, "cannot create %s: %s", display, strerror(errno));
		return -1;
	}
	for (;;) {
		r = archive_read_data_block(u->a, &block, &size, &offset);
		if (r == ARCHIVE_EOF)
			break;
		if (r < ARCHIVE_WARN) {
			seterr(u, "invalid archive: %s: %s", display, archive_error_string(u->a));
			goto fail;
		}
		if (offset < 0) {
			seterr(u, "invalid archive: %s: negative offset", display);
			goto fail;
		}
		/* Holes of sparse entries count as data: they are bytes to whoever reads. */
		if ((uint64_t)offset + size > extent) {
			if (count_bytes(u, (uint64_t)offset + size - extent, display) == -1)
				goto fail;
			extent = (uint64_t)offset + size;
		}
		for (size_t done = 0; done < size;) {
			ssize_t n = pwrite(fd, (const char *)block + done, size - done,
			    offset + (off_t)done);

			if (n == -1 && errno == EINTR)
				continue;
			if (n <= 0) {
				seterr(u, "cannot write %s: %s", display, strerror(errno));
				goto fail;
			}
			done += (size_t)n;
		}
	}
	if (archive_entry_size_is_set(e) && (uint64_t)archive_entry_size(e) > extent) {
		if (count_bytes(u, (uint64_t)archive_entry_size(e) - extent, display) == -1)
			goto fail;
		if (ftruncate(fd, archive_entry_size(e)) == -1) {
			seterr(u, "cannot write %s: %s", display, strerror(errno));
			goto fail;
		}
	}
	if (fchmod(fd, mode) == -1) {
		seterr(u, "cannot chmod %s: %s", display, strerror(errno));
		goto fail;
	}
	if (archive_entry_mtime_is_set(e)) {
		struct timespec ts[2];

		ts[0].tv_sec = ts[1].tv_sec = archive_entry_mtime(e);
		ts[0].tv_nsec = ts[1].tv_nsec = archive_entry_mtime_nsec(e);
		futimens(fd, ts);
	}
	if (close(fd) == -1) {
		seterr(u, "cannot write %s: %s", display, strerror(errno));
		return -1;
	}
	return 0;
fail:
	close(fd);
	return -1;
}

static int
extract_dir(struct unpacker *u, const char *path, const char *display)
{
	const char *base;
	struct stat st;
	int dirfd, fd;

	if (path[0] == '\0')
		return 0;       /* the root: "." or "./" */
	if ((dirfd = open_parent(u, path, display, true, &base)) == -1)
		return -1;
	if (mkdirat(dirfd, base, 0755) == -1) {
		if (errno != EEXIST) {
			seterr(u, "cannot create directory %s: %s", display, strerror(errno));
			return -1;
		}
		if (fstatat(dirfd, base, &st, AT_SYMLINK_NOFOLLOW) == -1 || !S_ISDIR(st.st_mode)) {
			seterr(u, "conflicting entries in archive: %s (a file or link of that name "
			    "exists)", display);
			return -1;
		}
		return 0;
	}
	fd = openat(dirfd, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd != -1) {
		fchmod(fd, 0755);
		close(fd);
	}
	return 0;
}

static int
extract_symlink(struct unpacker *u, struct archive_entry *e, const char *path,
    const char *display)
{
	const char *target = archive_entry_symlink(e);
	const char *base;
	char show[256];
	int dirfd;

	if (target == NULL || !link_target_inside(target, path_depth(path))) {
		seterr(u, "unsafe symlink in archive: %s -> %s (links must stay inside the source "
		    "tree)", display, target ? shown(target, show, sizeof(show)) : "?");
		return -1;
	}
	if (path[0] == '\0') {
		seterr(u, "invalid entry in archive: a symlink in place of the root");
		return -1;
	}
	if ((dirfd = open_parent(u, path, display, true, &base)) == -1)
		return -1;
	if (clear_slot(u, dirfd, base, display) == -1)
		return -1;
	if (symlinkat(target, dirfd, base) == -1) {
		seterr(u, "cannot create symlink %s: %s", display, strerror(errno));
		return -1;
	}
	return 0;
}

static int
extract_hardlink(struct unpacker *u, const char *link, const char *path, const char *display)
{
	char target[PATH_MAX], show[256], tdisplay[256];
	const char *base, *tbase;
	struct stat st, cur;
	int tdirfd, dirfd, tfd;

	shown(link, show, sizeof(show));
	if (clean_path(link, target, sizeof(target)) != 0 || target[0] == '\0') {
		seterr(u, "unsafe hard link in archive: %s -> %s (links must stay inside the source "
		    "tree)", display, show);
		return -1;
	}
	if (path[0] == '\0') {
		seterr(u, "invalid entry in archive: a hard link in place of the root");
		return -1;
	}
	shown(target, tdisplay, sizeof(tdisplay));
	if ((tdirfd = open_parent(u, target, tdisplay, false, &tbase)) == -1)
		return -1;
	/* The cache may be replaced by the next open_parent: hold our own fd. */
	tfd = tdirfd == u->root ? u->root : fcntl(tdirfd, F_DUPFD_CLOEXEC, 0);
	if (tfd == -1) {
		seterr(u, "cannot open %s: %s", tdisplay, strerror(errno));
		return -1;
	}
	if (fstatat(tfd, tbase, &st, AT_SYMLINK_NOFOLLOW) == -1 || !S_ISREG(st.st_mode)) {
		seterr(u, "unsafe hard link in archive: %s -> %s (only links to regular files "
		    "earlier in the archive are allowed)", display, show);
		goto fail;
	}
	if ((dirfd = open_parent(u, path, display, true, &base)) == -1)
		goto fail;
	if (fstatat(dirfd, base, &cur, AT_SYMLINK_NOFOLLOW) == 0 && cur.st_ino == st.st_ino &&
	    cur.st_dev == st.st_dev)
		goto done;      /* already that file */
	if (clear_slot(u, dirfd, base, display) == -1)
		goto fail;
	if (linkat(tfd, tbase, dirfd, base, 0) == -1) {
		seterr(u, "cannot create hard link %s: %s", display, strerror(errno));
		goto fail;
	}
done:
	if (tfd != u->root)
		close(tfd);
	return 0;
fail:
	if (tfd != u->root)
		close(tfd);
	return -1;
}

static int
extract_entry(struct unpacker *u, struct archive_entry *e)
{
	const char *name = archive_entry_pathname(e);
	const char *link;
	char path[PATH_MAX], display[256];
	int r;

	if (name == NULL) {
		seterr(u, "invalid archive: an entry has no readable name");
		return -1;
	}
	shown(name, display, sizeof(display));
	r = clean_path(name, path, sizeof(path));
	if (r == -1) {
		seterr(u, "unsafe path in archive: %s (entries must stay inside the source tree)",
		    display);
		return -1;
	}
	if (r == -2) {
		seterr(u, "invalid entry in archive: %s (name too long)", display);
		return -1;
	}
	if ((link = archive_entry_hardlink(e)) != NULL)
		return extract_hardlink(u, link, path, display);
	switch (archive_entry_filetype(e)) {
	case AE_IFREG:
		if (path[0] == '\0')
			break;
		return extract_file(u, e, path, display);
	case AE_IFDIR:
		return extract_dir(u, path, display);
	case AE_IFLNK:
		return extract_symlink(u, e, path, display);
	case AE_IFCHR:
	case AE_IFBLK:
	case AE_IFIFO:
	case AE_IFSOCK:
		seterr(u, "refused entry in archive: %s (devices, FIFOs and sockets are not "
		    "allowed)", display);
		return -1;
	default:
		break;
	}
	seterr(u, "invalid entry in archive: %s (unsupported type)", display);
	return -1;
}

int
unpack_tgz_limits(const char *tgz_path, const char *dest_dir, struct unpack_limits *limits,
    char *err, size_t errlen)
{
	struct unpacker u = {
		.root = -1,
		.cache_fd = -1,
		.err = err,
		.errlen = errlen,
		.max_bytes = limits ? limits->max_bytes : 0,
		.max_entries = limits && limits->max_entries ? limits->max_entries : UNPACK_MAX_ENTRIES,
		.total = limits ? limits->used_bytes : 0,
		.entries = limits ? limits->used_entries : 0,
	};
	struct archive_entry *e;
	int fd = -1, rc = -1, r;

	if (errlen > 0)
		err[0] = '\0';
	if (mkdir_p(dest_dir, 0755) == -1) {
		seterr(&u, "cannot create %s: %s", dest_dir, strerror(errno));
		return -1;
	}
	u.root = open(dest_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (u.root == -1) {
		seterr(&u, "cannot open %s: %s", dest_dir, strerror(errno));
		return -1;
	}
	fd = open(tgz_path, O_RDONLY | O_CLOEXEC);
	if (fd == -1) {
		seterr(&u, "cannot open %s: %s", tgz_path, strerror(errno));
		goto out;
	}
	u.a = archive_read_new();
	archive_read_support_filter_gzip(u.a);
	archive_read_support_format_tar(u.a);
	if (archive_read_open_fd(u.a, fd, 65536) != ARCHIVE_OK) {
		seterr(&u, "invalid archive: %s", archive_error_string(u.a));
		goto out;
	}
	for (;;) {
		r = archive_read_next_header(u.a, &e);
		if (r == ARCHIVE_EOF)
			break;
		if (r < ARCHIVE_WARN) {
			seterr(&u, "invalid archive: %s", archive_error_string(u.a));
			goto out;
		}
		if (++u.entries > u.max_entries) {
			seterr(&u, "too many entries in archive: more than %llu",
			    (unsigned long long)u.max_entries);
			goto out;
		}
		if (extract_entry(&u, e) == -1)
			goto out;
	}
	rc = 0;
out:
	if (limits != NULL) {
		limits->used_bytes = u.total;
		limits->used_entries = u.entries;
	}
	if (u.a != NULL)
		archive_read_free(u.a);
	if (fd != -1)
		close(fd);
	if (u.cache_fd != -1)
		close(u.cache_fd);
	close(u.root);
	return rc;
}

int
unpack_tgz(const char *tgz_path, const char *dest_dir, uint64_t max_bytes, char *err,
    size_t errlen)
{
	struct unpack_limits l = { .max_bytes = max_bytes, .max_entries = UNPACK_MAX_ENTRIES };

	return unpack_tgz_limits(tgz_path, dest_dir, &l, err, errlen);
}
