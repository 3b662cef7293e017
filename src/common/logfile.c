/*
 * logfile.c — see logfile.h.
 */
#include "common/logfile.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/util.h"

bool
logfile_rotated_start(const char *base, const char *name, int64_t *start)
{
	size_t bl = strlen(base), digits;
	long v;

	if (strncmp(name, base, bl) != 0 || name[bl] != '.')
		return false;
	name += bl + 1;
	digits = strspn(name, "0123456789");
	/* Digits alone, no sign, no leading zero but for "0" itself. */
	if (digits == 0 || name[digits] != '\0' || (name[0] == '0' && digits > 1) ||
	    parse_long_n(name, digits, 0, INT64_MAX, &v) == -1)
		return false;
	*start = v;
	return true;
}

static int
cmp_start(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/* The starts of path's rotated files, ascending, in a malloc'd array (NULL
 * when there are none). */
static int64_t *
list_rotated(const char *path, size_t *n)
{
	char dir[4096], tmp[4096], base[4096];
	struct dirent *de;
	int64_t *v = NULL, start;
	size_t cap = 0;
	DIR *d;

	*n = 0;
	str_copy(dir, sizeof(dir), path);
	str_copy(tmp, sizeof(tmp), path);
	str_copy(base, sizeof(base), basename(tmp));
	if ((d = opendir(dirname(dir))) == NULL)
		return NULL;
	while ((de = readdir(d)) != NULL) {
		if (!logfile_rotated_start(base, de->d_name, &start))
			continue;
		if (*n == cap) {
			cap = cap ? cap * 2 : 8;
			v = xrealloc(v, cap * sizeof(*v));
		}
		v[(*n)++] = start;
	}
	closedir(d);
	if (*n > 1)
		qsort(v, *n, sizeof(*v), cmp_start);
	return v;
}

static void
rotated_path(const char *path, int64_t start, char *out, size_t outlen)
{
	snprintf(out, outlen, "%s.%lld", path, (long long)start);
}

/* Renames the live file (locked by us) to its rotated name and removes the
 * rotated files beyond the keep, oldest first. */
static int
rotate(const char *path)
{
	char rp[4200];
	struct stat sb;
	int64_t *starts, base = 0;
	size_t n;

	starts = list_rotated(path, &n);
	if (n > 0) {
		rotated_path(path, starts[n - 1], rp, sizeof(rp));
		base = starts[n - 1] + (stat(rp, &sb) == 0 ? (int64_t)sb.st_size : 0);
	}
	rotated_path(path, base, rp, sizeof(rp));
	if (rename(path, rp) == -1) {
		free(starts);
		return -1;
	}
	/* The new rotated file is one of the LOGFILE_KEEP - 1 kept. */
	for (size_t i = 0; n + 1 > LOGFILE_KEEP - 1 && i < n + 1 - (LOGFILE_KEEP - 1); i++) {
		rotated_path(path, starts[i], rp, sizeof(rp));
		unlink(rp);
	}
	free(starts);
	return 0;
}

/* Removes the oldest rotated file: -1 when there is none. */
static int
drop_oldest(const char *path)
{
	char rp[4200];
	int64_t *starts;
	size_t n;
	int rc = -1;

	starts = list_rotated(path, &n);
	if (n > 0) {
		rotated_path(path, starts[0], rp, sizeof(rp));
		rc = unlink(rp);
	}
	free(starts);
	return rc;
}

void
logfile_init(struct logfile *lf, const char *path, int64_t max, mode_t mode, int fd)
{
	str_copy(lf->path, sizeof(lf->path), path);
	lf->fd = fd;
	lf->max = max > 0 ? max : 0;
	lf->mode = mode;
	lf->opens = 0;
	lf->owner = getpid();
}

int
logfile_fd(const struct logfile *lf)
{
	return lf->fd;
}

void
logfile_close(struct logfile *lf)
{
	if (lf->fd != -1)
		close(lf->fd);
	lf->fd = -1;
}

static int
write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w == -1 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int
logfile_write(struct logfile *lf, const void *data, size_t n)
{
	struct stat held, named;
	bool made_room = false;
	int rc, saved;

	/* Each turn either writes or follows a rotation; a few are plenty. */
	for (int turn = 0; turn < 16; turn++) {
		if (lf->fd != -1 && lf->max > 0 && lf->owner != getpid())
			logfile_close(lf);
		if (lf->fd == -1) {
			if ((lf->fd = open(lf->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
			    lf->mode)) == -1)
				return -1;
			lf->opens++;
			lf->owner = getpid();
		}
		if (lf->max == 0)
			return write_all(lf->fd, data, n);
		while ((rc = flock(lf->fd, LOCK_EX)) == -1 && errno == EINTR)
			;
		if (rc == -1)
			return -1;
		if (fstat(lf->fd, &held) == -1 || stat(lf->path, &named) == -1 ||
		    held.st_ino != named.st_ino || held.st_dev != named.st_dev) {
			/* Rotated (or removed) since we opened it: on to the new file. */
			logfile_close(lf);
			continue;
		}
		if (held.st_size > 0 && (int64_t)held.st_size + (int64_t)n > lf->max) {
			rc = rotate(lf->path);
			saved = errno;
			logfile_close(lf);  /* and the lock with it */
			if (rc == -1) {
				errno = saved;
				return -1;
			}
			continue;
		}
		rc = write_all(lf->fd, data, n);
		saved = errno;
		if (rc == -1 && saved == ENOSPC && !made_room) {
			/* A full disk: take back what part of the lines went in, then
			 * remove the oldest rotated file (room, with the live file as
			 * it was), or with none, rotate early (once a write). Rotating
			 * alone frees nothing while fewer than the kept files exist. */
			made_room = true;
			if (ftruncate(lf->fd, held.st_size) == 0 &&
			    (drop_oldest(lf->path) == 0 || (held.st_size > 0 &&
			    rotate(lf->path) == 0))) {
				logfile_close(lf);
				continue;
			}
		}
		flock(lf->fd, LOCK_UN);
		errno = saved;
		return rc;
	}
	errno = EAGAIN;
	return -1;
}

int
logfile_append(const char *path, int64_t max, const void *data, size_t n)
{
	struct logfile lf;
	int rc, saved;

	logfile_init(&lf, path, max, 0600, -1);
	rc = logfile_write(&lf, data, n);
	saved = errno;
	logfile_close(&lf);
	errno = saved;
	return rc;
}

void
logset_close(struct logset *s)
{
	for (size_t i = 0; i < s->n; i++)
		close(s->part[i].fd);
	s->n = 0;
}

/* One attempt at a consistent view: 1 when the live file was rotated while
 * we looked (try again). */
static int
logset_try(const char *path, struct logset *s)
{
	char rp[4200];
	struct stat live, again, sb;
	int64_t *starts;
	size_t n, from;
	int lfd;

	s->n = 0;
	lfd = open(path, O_RDONLY | O_CLOEXEC);
	if (lfd == -1 && errno != ENOENT)
		return -1;
	if (lfd != -1 && fstat(lfd, &live) == -1) {
		close(lfd);
		return -1;
	}
	starts = list_rotated(path, &n);
	from = n > LOGSET_MAX - 1 ? n - (LOGSET_MAX - 1) : 0;
	for (size_t i = from; i < n; i++) {
		int fd;

		rotated_path(path, starts[i], rp, sizeof(rp));
		if ((fd = open(rp, O_RDONLY | O_CLOEXEC)) == -1)
			continue;       /* removed by a rotation meanwhile */
		if (fstat(fd, &sb) == -1) {
			close(fd);
			continue;
		}
		s->part[s->n++] = (struct logpart){ fd, starts[i], (int64_t)sb.st_size };
	}
	free(starts);
	if (lfd == -1 ? stat(path, &again) == 0 :
	    stat(path, &again) == -1 || again.st_ino != live.st_ino || again.st_dev != live.st_dev) {
		if (lfd != -1)
			close(lfd);
		logset_close(s);
		return 1;
	}
	if (lfd != -1) {
		int64_t start = s->n > 0 ? s->part[s->n - 1].start + s->part[s->n - 1].size : 0;

		s->part[s->n++] = (struct logpart){ lfd, start, (int64_t)live.st_size };
	}
	return 0;
}

int
logset_open(const char *path, struct logset *s)
{
	int rc = 1;

	for (int i = 0; i < 8 && rc == 1; i++)
		rc = logset_try(path, s);
	if (rc == 1) {
		errno = EAGAIN;
		return -1;
	}
	return rc;
}

int64_t
logset_part_end(const struct logset *s, size_t i)
{
	int64_t end = s->part[i].start + s->part[i].size;

	if (i + 1 < s->n && end > s->part[i + 1].start)
		end = s->part[i + 1].start;
	return end;
}

int64_t
logset_end(const struct logset *s)
{
	return s->n > 0 ? logset_part_end(s, s->n - 1) : 0;
}
