/*
 * pack.c — source directory to gzipped tar, honouring .dockerignore; see pack.h.
 *
 * Patterns are kept as cleaned strings and matched directly (no regex): the
 * matcher follows the regular expressions docker's pattern matcher builds:
 * a double star (with the slash after it) matches any run of whole
 * components, even none, or anything at all at the end of a pattern; a
 * single star matches within one component and `?` one character but '/'.
 */
#include "common/pack.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/util.h"

struct pattern {
	char *text;
	bool negate;
};

struct pack_ignore {
	struct pattern *pats;
	size_t n;
	bool has_negations;
};

/* Lexical cleanup as Go's filepath.Clean: "//" -> "/", "." dropped, "x/.."
 * dropped, ".." above a rooted path dropped; "" becomes ".". */
static char *
clean_pattern(const char *in)
{
	size_t len = strlen(in), n = 0, ncomp = 0;
	const char **comp = xcalloc(len / 2 + 2, sizeof(*comp));
	size_t *clen = xcalloc(len / 2 + 2, sizeof(*clen));
	bool rooted = in[0] == '/';
	char *out = xmalloc(len + 2);
	const char *p = in;

	while (*p != '\0') {
		const char *e = strchr(p, '/');
		size_t l = e ? (size_t)(e - p) : strlen(p);
		bool dotdot = l == 2 && p[0] == '.' && p[1] == '.';

		if (l == 0 || (l == 1 && p[0] == '.')) {
			/* skip */
		} else if (dotdot && ncomp > 0 &&
		    !(clen[ncomp - 1] == 2 && comp[ncomp - 1][0] == '.' && comp[ncomp - 1][1] == '.')) {
			ncomp--;
		} else if (!(dotdot && rooted)) {
			comp[ncomp] = p;
			clen[ncomp++] = l;
		}
		p += l;
		if (*p == '/')
			p++;
	}
	if (rooted)
		out[n++] = '/';
	for (size_t i = 0; i < ncomp; i++) {
		if (i > 0)
			out[n++] = '/';
		memcpy(out + n, comp[i], clen[i]);
		n += clen[i];
	}
	if (n == 0)
		out[n++] = '.';
	out[n] = '\0';
	free(comp);
	free(clen);
	return out;
}

struct pack_ignore *
pack_ignore_parse(const char *text)
{
	struct pack_ignore *pi = xcalloc(1, sizeof(*pi));
	const char *p = text;

	while (p != NULL && *p != '\0') {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		char *line = xstrndup(p, len), *s = line, *end;
		bool negate = false;

		p = nl ? nl + 1 : NULL;
		if (s[0] == '#')
			goto next;
		while (*s == ' ' || *s == '\t' || *s == '\r')
			s++;
		end = s + strlen(s);
		while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
			*--end = '\0';
		if (*s == '\0')
			goto next;
		if (*s == '!') {
			negate = true;
			s++;
			while (*s == ' ' || *s == '\t')
				s++;
		}
		if (*s != '\0') {
			char *c = clean_pattern(s);

			if (strlen(c) > 1 && c[0] == '/')
				memmove(c, c + 1, strlen(c));
			pi->pats = xrealloc(pi->pats, (pi->n + 1) * sizeof(*pi->pats));
			pi->pats[pi->n].text = c;
			pi->pats[pi->n].negate = negate;
			pi->has_negations |= negate;
			pi->n++;
		}
next:
		free(line);
	}
	return pi;
}

struct pack_ignore *
pack_ignore_load(const char *dir, char *err, size_t errlen)
{
	char *path = xasprintf("%s/.dockerignore", dir);
	struct pack_ignore *pi;
	char *text;

	text = read_file(path, 1 << 20, NULL);
	if (text == NULL && errno != ENOENT) {
		snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
		free(path);
		return NULL;
	}
	free(path);
	pi = pack_ignore_parse(text ? text : "");
	free(text);
	return pi;
}

void
pack_ignore_free(struct pack_ignore *pi)
{
	if (pi == NULL)
		return;
	for (size_t i = 0; i < pi->n; i++)
		free(pi->pats[i].text);
	free(pi->pats);
	free(pi);
}

/* [class] at p (just after '['); sets *end past ']'. -1 if malformed. */
static int
match_class(const char *p, char c, const char **end)
{
	bool neg = false, hit = false;

	if (*p == '^' || *p == '!') {
		neg = true;
		p++;
	}
	for (bool first = true; first || *p != ']'; first = false) {
		char lo, hi;

		if (*p == '\0')
			return -1;
		if (*p == '\\' && p[1] != '\0')
			p++;
		lo = hi = *p++;
		if (*p == '-' && p[1] != ']' && p[1] != '\0') {
			p++;
			if (*p == '\\' && p[1] != '\0')
				p++;
			hi = *p++;
		}
		if (c >= lo && c <= hi)
			hit = true;
	}
	*end = p + 1;
	return hit != neg;
}

static bool
glob(const char *p, const char *s)
{
	for (;;) {
		switch (*p) {
		case '\0':
			return *s == '\0';
		case '*':
			if (p[1] == '*') {
				const char *q = p + 2;

				if (*q == '/')
					q++;
				if (*q == '\0')
					return true;
				if (glob(q, s))
					return true;
				for (const char *t = s; *t != '\0'; t++)
					if (*t == '/' && glob(q, t + 1))
						return true;
				return false;
			}
			for (const char *t = s;; t++) {
				if (glob(p + 1, t))
					return true;
				if (*t == '\0' || *t == '/')
					return false;
			}
		case '?':
			if (*s == '\0' || *s == '/')
				return false;
			p++, s++;
			break;
		case '[': {
			const char *end;
			int r;

			if (*s == '\0' || *s == '/')
				return false;
			r = match_class(p + 1, *s, &end);
			if (r == -1) {
				/* malformed: a literal '[' */
				if (*s != '[')
					return false;
				p++, s++;
				break;
			}
			if (r == 0)
				return false;
			p = end, s++;
			break;
		}
		case '\\':
			if (p[1] != '\0')
				p++;
			/* fall through */
		default:
			if (*p != *s)
				return false;
			p++, s++;
			break;
		}
	}
}

/* The pattern matches path or one of its parent directories. */
static bool
pattern_matches(const char *pat, const char *path)
{
	char buf[PATH_MAX];
	size_t n = strlen(path);

	if (glob(pat, path))
		return true;
	if (n >= sizeof(buf))
		return false;
	memcpy(buf, path, n + 1);
	for (size_t i = 0; i < n; i++) {
		if (buf[i] != '/')
			continue;
		buf[i] = '\0';
		if (glob(pat, buf))
			return true;
		buf[i] = '/';
	}
	return false;
}

bool
pack_ignore_match(const struct pack_ignore *pi, const char *relpath)
{
	bool excluded = false;

	for (size_t i = 0; pi != NULL && i < pi->n; i++) {
		if (pattern_matches(pi->pats[i].text, relpath))
			excluded = !pi->pats[i].negate;
	}
	return excluded;
}

/* An excluded directory must still be walked if a '!' pattern names
 * something inside it (docker's rule: the pattern starts with "dir/"). */
static bool
dir_has_exception(const struct pack_ignore *pi, const char *relpath)
{
	size_t n = strlen(relpath);

	if (!pi->has_negations)
		return false;
	for (size_t i = 0; i < pi->n; i++) {
		const char *t = pi->pats[i].text;

		if (pi->pats[i].negate && strncmp(t, relpath, n) == 0 && t[n] == '/')
			return true;
	}
	return false;
}

struct packer {
	struct archive *a;
	struct pack_ignore *ignore;
	struct pack_stats st;
	char *err;
	size_t errlen;
	const char *manifest;   /* packed as convox.yml in place of DIR's, or NULL */
	char path[PATH_MAX];    /* relative path of the entry at hand */
	char buf[65536];
};

static void
pseterr(struct packer *pk, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
pseterr(struct packer *pk, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(pk->err, pk->errlen, fmt, ap);
	va_end(ap);
}

static int
write_header(struct packer *pk, const struct stat *st, mode_t type, int64_t size,
    const char *link)
{
	struct archive_entry *e = archive_entry_new();
	int r;

	archive_entry_set_pathname(e, pk->path);
	archive_entry_set_filetype(e, type);
	archive_entry_set_perm(e, st->st_mode & 0777);
	archive_entry_set_size(e, size);
	archive_entry_set_mtime(e, st->st_mtim.tv_sec, st->st_mtim.tv_nsec);
	archive_entry_set_uid(e, 0);
	archive_entry_set_gid(e, 0);
	if (link != NULL)
		archive_entry_set_symlink(e, link);
	r = archive_write_header(pk->a, e);
	archive_entry_free(e);
	if (r < ARCHIVE_WARN) {
		pseterr(pk, "cannot pack %s: %s", pk->path, archive_error_string(pk->a));
		return -1;
	}
	return 0;
}

static int
pack_file(struct packer *pk, int dir_fd, const char *name)
{
	struct stat st;
	int64_t left;
	int fd;

	fd = openat(dir_fd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd == -1 || fstat(fd, &st) == -1) {
		pseterr(pk, "cannot read %s: %s", pk->path, strerror(errno));
		if (fd != -1)
			close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		pseterr(pk, "cannot pack %s: it changed while packing", pk->path);
		return -1;
	}
	if (write_header(pk, &st, AE_IFREG, st.st_size, NULL) == -1)
		goto fail;
	for (left = st.st_size; left > 0;) {
		ssize_t n = read(fd, pk->buf, left < (int64_t)sizeof(pk->buf) ?
		    (size_t)left : sizeof(pk->buf));

		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			pseterr(pk, "cannot read %s: %s", pk->path, strerror(errno));
			goto fail;
		}
		if (n == 0)
			break;  /* shrank while packing: libarchive pads with zeros */
		if (archive_write_data(pk->a, pk->buf, (size_t)n) < 0) {
			pseterr(pk, "cannot pack %s: %s", pk->path, archive_error_string(pk->a));
			goto fail;
		}
		left -= n;
	}
	close(fd);
	pk->st.files++;
	pk->st.bytes += (uint64_t)st.st_size;
	return 0;
fail:
	close(fd);
	return -1;
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Packs the directory open at dirfd whose relative path is pk->path (""
 * for the root). depth: number of components in pk->path. */
static int
pack_tree(struct packer *pk, int dir_fd, int depth)
{
	DIR *d;
	struct dirent *de;
	char **names = NULL;
	size_t n = 0, base = strlen(pk->path);
	int rc = -1;

	d = fdopendir(dir_fd);
	if (d == NULL) {
		pseterr(pk, "cannot read directory %s: %s", base ? pk->path : ".", strerror(errno));
		close(dir_fd);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		names = xrealloc(names, (n + 1) * sizeof(*names));
		names[n++] = xstrdup(de->d_name);
	}
	if (n > 1)
		qsort(names, n, sizeof(*names), name_cmp);   /* an empty directory has no names */

	for (size_t i = 0; i < n; i++) {
		struct stat st;
		bool excluded;

		if (base + 1 + strlen(names[i]) >= sizeof(pk->path)) {
			pseterr(pk, "cannot pack %s/%s: path too long", pk->path, names[i]);
			goto out;
		}
		snprintf(pk->path + base, sizeof(pk->path) - base, "%s%s", base ? "/" : "",
		    names[i]);
		excluded = pack_ignore_match(pk->ignore, pk->path);
		if (depth == 0 && strcmp(names[i], "convox.yml") == 0)
			excluded = pk->manifest != NULL;   /* the chosen manifest replaces it */
		if (fstatat(dirfd(d), names[i], &st, AT_SYMLINK_NOFOLLOW) == -1) {
			pseterr(pk, "cannot read %s: %s", pk->path, strerror(errno));
			goto out;
		}
		if (S_ISDIR(st.st_mode)) {
			int sub;

			if (excluded && !dir_has_exception(pk->ignore, pk->path)) {
				pk->st.skipped++;
				continue;
			}
			if (!excluded && write_header(pk, &st, AE_IFDIR, 0, NULL) == -1)
				goto out;
			sub = openat(dirfd(d), names[i],
			    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sub == -1) {
				pseterr(pk, "cannot read directory %s: %s", pk->path, strerror(errno));
				goto out;
			}
			if (pack_tree(pk, sub, depth + 1) == -1)
				goto out;
			continue;
		}
		if (excluded) {
			pk->st.skipped++;
			continue;
		}
		if (S_ISREG(st.st_mode)) {
			if (pack_file(pk, dirfd(d), names[i]) == -1)
				goto out;
		} else if (S_ISLNK(st.st_mode)) {
			char target[PATH_MAX];
			ssize_t len = readlinkat(dirfd(d), names[i], target, sizeof(target) - 1);

			if (len == -1) {
				pseterr(pk, "cannot read %s: %s", pk->path, strerror(errno));
				goto out;
			}
			target[len] = '\0';
			if (!link_target_inside(target, depth)) {
				pseterr(pk, "cannot pack %s: its symlink target %s leaves the source "
				    "tree (add it to .dockerignore)", pk->path, target);
				goto out;
			}
			if (write_header(pk, &st, AE_IFLNK, 0, target) == -1)
				goto out;
			pk->st.files++;
		} else {
			pseterr(pk, "cannot pack %s: sockets, devices and FIFOs cannot be deployed "
			    "(add it to .dockerignore)", pk->path);
			goto out;
		}
	}
	rc = 0;
out:
	pk->path[base] = '\0';
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	closedir(d);
	return rc;
}

/* Packs the chosen manifest file as the archive's convox.yml. */
static int
pack_manifest(struct packer *pk)
{
	char copy[PATH_MAX], *slash;
	int dfd, rc;

	str_copy(copy, sizeof(copy), pk->manifest);
	slash = strrchr(copy, '/');
	if (slash != NULL)
		*slash = '\0';
	dfd = open(slash != NULL ? (copy[0] ? copy : "/") : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd == -1) {
		pseterr(pk, "cannot read %s: %s", pk->manifest, strerror(errno));
		return -1;
	}
	str_copy(pk->path, sizeof(pk->path), "convox.yml");
	rc = pack_file(pk, dfd, slash != NULL ? slash + 1 : copy);
	close(dfd);
	return rc;
}

int
pack_dir(const char *dir, int out_fd, struct pack_stats *st, char *err, size_t errlen)
{
	return pack_dir_manifest(dir, NULL, out_fd, st, err, errlen);
}

int
pack_dir_manifest(const char *dir, const char *manifest, int out_fd, struct pack_stats *st,
    char *err, size_t errlen)
{
	struct packer *pk = xcalloc(1, sizeof(*pk));
	int rc = -1, root;

	pk->manifest = manifest;
	pk->err = err;
	pk->errlen = errlen;
	if ((pk->ignore = pack_ignore_load(dir, err, errlen)) == NULL)
		goto out;
	root = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (root == -1) {
		pseterr(pk, "cannot read directory %s: %s", dir, strerror(errno));
		goto out;
	}
	pk->a = archive_write_new();
	archive_write_set_format_pax_restricted(pk->a);
	archive_write_add_filter_gzip(pk->a);
	/* The upload is local: speed beats ratio. */
	archive_write_set_filter_option(pk->a, "gzip", "compression-level", "1");
	archive_write_set_bytes_in_last_block(pk->a, 1);
	if (archive_write_open_fd(pk->a, out_fd) != ARCHIVE_OK) {
		pseterr(pk, "cannot write the archive: %s", archive_error_string(pk->a));
		close(root);
		goto out;
	}
	if (pack_tree(pk, root, 0) == -1)
		goto out;
	if (pk->manifest != NULL && pack_manifest(pk) == -1)
		goto out;
	if (archive_write_close(pk->a) != ARCHIVE_OK) {
		pseterr(pk, "cannot write the archive: %s", archive_error_string(pk->a));
		goto out;
	}
	rc = 0;
	if (st != NULL)
		*st = pk->st;
out:
	if (pk->a != NULL)
		archive_write_free(pk->a);
	pack_ignore_free(pk->ignore);
	free(pk);
	return rc;
}

int
pack_tmpfile(void)
{
	const char *dir = getenv("TMPDIR");
	char tmpl[PATH_MAX];
	int fd;

	if (dir == NULL || dir[0] == '\0')
		dir = "/tmp";
	fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd != -1 || (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL))
		return fd;
	if (snprintf(tmpl, sizeof(tmpl), "%s/cx-pack.XXXXXX", dir) >= (int)sizeof(tmpl)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	fd = mkostemp(tmpl, O_CLOEXEC);
	if (fd != -1)
		unlink(tmpl);
	return fd;
}
