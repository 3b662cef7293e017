/*
 * disk.c — the reserve file and the check new deploys pass (disk.h). The
 * reserve is allocated for real (fallocate, or written zeros where that is
 * not supported), so a file system that fills up still has its blocks to
 * give back.
 */
#include "rackd/disk.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "rackd/rack.h"

static void
reserve_path(struct rack *r, char *out, size_t outlen)
{
	snprintf(out, outlen, "%s/reserve", r->dir);
}

int
disk_reserve_free(const char *dir)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/reserve", dir);
	if (unlink(path) == -1)
		return -1;
	log_warnx("the disk of %s is full: freed its %lld MiB reserve so that the rack can "
	    "still record changes; new deploys are refused until there is room", dir,
	    (long long)(DISK_RESERVE_BYTES >> 20));
	return 0;
}

/* Overwrites the file at path where it lies, with no new file: the block
 * it has holds a short text (a pid) even when the disk has none to give. */
static int
overwrite_in_place(const char *path, const char *text)
{
	size_t len = strlen(text);
	struct stat st;
	int fd, rc = -1;

	if ((fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW)) == -1)
		return -1;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0 &&
	    pwrite(fd, text, len, 0) == (ssize_t)len && ftruncate(fd, (off_t)len) == 0 &&
	    fsync(fd) == 0)
		rc = 0;
	close(fd);
	return rc;
}

int
disk_write_file(const char *dir, const char *path, const char *text)
{
	int rc = write_file_atomic(path, text, strlen(text), 0600);

	if (rc == -1 && errno == ENOSPC) {
		if (overwrite_in_place(path, text) == 0) {
			log_warnx("the disk is full: wrote %s over its old text", path);
			return 0;
		}
		errno = ENOSPC;
		if (disk_reserve_free(dir) == 0)
			rc = write_file_atomic(path, text, strlen(text), 0600);
	}
	return rc;
}

int64_t
disk_free_bytes(const char *dir)
{
	struct statvfs vfs;

	if (statvfs(dir, &vfs) == -1)
		return -1;
	return (int64_t)vfs.f_bavail * (int64_t)vfs.f_frsize;
}

static bool
reserve_present(struct rack *r)
{
	char path[4096];
	struct stat st;

	reserve_path(r, path, sizeof(path));
	return stat(path, &st) == 0 && (int64_t)st.st_blocks * 512 >= DISK_RESERVE_BYTES;
}

/* Writes zeros: for file systems without fallocate. */
static int
fill_zeros(int fd)
{
	static const char zeros[65536];

	for (int64_t off = 0; off < DISK_RESERVE_BYTES; ) {
		ssize_t w = write(fd, zeros, sizeof(zeros));

		if (w == -1 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		off += w;
	}
	return fsync(fd);
}

/* Makes the reserve when it is missing and fits with a MiB to spare (it
 * comes before anything else that wants room): 0 when it is there
 * afterwards. */
static int
reserve_make(struct rack *r)
{
	char path[4096];
	int64_t avail;
	int fd, rc;

	if (reserve_present(r))
		return 0;
	avail = disk_free_bytes(r->dir);
	if (avail >= 0 && avail < DISK_RESERVE_BYTES + ((int64_t)1 << 20))
		return -1;
	reserve_path(r, path, sizeof(path));
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) == -1) {
		log_warn("cannot make the disk reserve %s", path);
		return -1;
	}
	rc = posix_fallocate(fd, 0, DISK_RESERVE_BYTES);
	if (rc == EOPNOTSUPP || rc == EINVAL)
		rc = fill_zeros(fd) == -1 ? errno : 0;
	close(fd);
	if (rc != 0) {
		log_warnx("cannot make the disk reserve %s: %s", path, strerror(rc));
		unlink(path);
		return -1;
	}
	return 0;
}

/* The store's handler: the reserve goes, once, so that a vital write can
 * be done. */
static int
on_full(void *arg)
{
	struct rack *r = arg;

	return r->disk_vital ? disk_reserve_free(r->dir) : -1;
}

void
disk_vital(struct rack *r, bool on)
{
	r->disk_vital = on;
	if (!on)
		reserve_make(r);
}

void
disk_init(struct rack *r)
{
	if (reserve_make(r) == -1)
		log_warnx("the disk of %s is full: no room for its reserve; new deploys are refused "
		    "until there is", r->dir);
	store_set_full_handler(r->store, on_full, r);
}

void
disk_full_message(struct rack *r, char *err, size_t errlen)
{
	int64_t avail = disk_free_bytes(r->dir);

	snprintf(err, errlen, "the rack's disk is full (%s, %lld KiB free): free space, e.g. "
	    "cx builds prune -a APP or cx apps delete APP",
	    r->dir, (long long)(avail < 0 ? 0 : avail >> 10));
}

int
disk_check(struct rack *r, char *err, size_t errlen)
{
	int64_t avail;

	if (reserve_make(r) == 0 && ((avail = disk_free_bytes(r->dir)) < 0 ||
	    avail >= DISK_MIN_FREE_BYTES))
		return 0;
	disk_full_message(r, err, errlen);
	return -1;
}

void
disk_store_error(struct rack *r, const char *what, char *err, size_t errlen)
{
	char full[4400];

	if (!store_full(r->store)) {
		snprintf(err, errlen, "%s: %s", what, store_error(r->store));
		return;
	}
	disk_full_message(r, full, sizeof(full));
	snprintf(err, errlen, "%s: %s", what, full);
}
