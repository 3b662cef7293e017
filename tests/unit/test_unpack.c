/*
 * test_unpack.c — the daemon's source-archive extraction against hostile
 * tarballs built here with libarchive: each must be refused with its
 * one-line message, and nothing may land outside the destination.
 *
 * Every test works in a fresh sandbox: SANDBOX/dest (the destination),
 * SANDBOX/outside (must stay empty) and SANDBOX/in.tgz.
 */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/util.h"
#include "rackd/unpack.h"

enum kind { F, D, L, H, CHR, FIFO, ZEROS };

struct ent {
	enum kind kind;
	const char *path;
	const char *data;       /* F: content; L/H: target */
	mode_t mode;            /* 0: 0644 / 0755 */
	uint64_t size;          /* ZEROS: bytes of zeros */
};

struct box {
	char root[PATH_MAX], dest[PATH_MAX], outside[PATH_MAX], tgz[PATH_MAX];
	char err[1024];
};

static int
setup(void **state)
{
	struct box *b = calloc(1, sizeof(*b));

	snprintf(b->root, sizeof(b->root), "/tmp/cx-unpack-XXXXXX");
	assert_non_null(mkdtemp(b->root));
	snprintf(b->dest, sizeof(b->dest), "%s/dest", b->root);
	snprintf(b->outside, sizeof(b->outside), "%s/outside", b->root);
	snprintf(b->tgz, sizeof(b->tgz), "%s/in.tgz", b->root);
	assert_int_equal(mkdir(b->outside, 0755), 0);
	*state = b;
	return 0;
}

static int
teardown(void **state)
{
	struct box *b = *state;

	remove_tree(b->root);
	free(b);
	return 0;
}

static void
write_tgz(const char *path, const struct ent *ents, size_t n)
{
	static char zeros[65536];
	struct archive *a = archive_write_new();

	assert_int_equal(archive_write_set_format_pax_restricted(a), ARCHIVE_OK);
	assert_int_equal(archive_write_add_filter_gzip(a), ARCHIVE_OK);
	assert_int_equal(archive_write_open_filename(a, path), ARCHIVE_OK);
	for (size_t i = 0; i < n; i++) {
		struct archive_entry *e = archive_entry_new();
		const struct ent *x = &ents[i];
		uint64_t size = x->kind == F ? strlen(x->data) : x->kind == ZEROS ? x->size : 0;

		archive_entry_set_pathname(e, x->path);
		archive_entry_set_mtime(e, 1700000000, 0);
		switch (x->kind) {
		case F:
		case ZEROS:
			archive_entry_set_filetype(e, AE_IFREG);
			archive_entry_set_perm(e, x->mode ? x->mode : 0644);
			archive_entry_set_size(e, (la_int64_t)size);
			break;
		case D:
			archive_entry_set_filetype(e, AE_IFDIR);
			archive_entry_set_perm(e, x->mode ? x->mode : 0755);
			break;
		case L:
			archive_entry_set_filetype(e, AE_IFLNK);
			archive_entry_set_perm(e, 0777);
			archive_entry_set_symlink(e, x->data);
			break;
		case H:
			archive_entry_set_filetype(e, AE_IFREG);
			archive_entry_set_perm(e, 0644);
			archive_entry_set_hardlink(e, x->data);
			archive_entry_set_size(e, 0);
			break;
		case CHR:
			archive_entry_set_filetype(e, AE_IFCHR);
			archive_entry_set_perm(e, 0666);
			archive_entry_set_rdev(e, makedev(1, 3));
			break;
		case FIFO:
			archive_entry_set_filetype(e, AE_IFIFO);
			archive_entry_set_perm(e, 0644);
			break;
		}
		assert_true(archive_write_header(a, e) >= ARCHIVE_WARN);
		if (x->kind == F)
			assert_int_equal(archive_write_data(a, x->data, size), (la_ssize_t)size);
		for (uint64_t left = x->kind == ZEROS ? size : 0; left > 0;) {
			size_t k = left < sizeof(zeros) ? (size_t)left : sizeof(zeros);

			assert_int_equal(archive_write_data(a, zeros, k), (la_ssize_t)k);
			left -= k;
		}
		archive_entry_free(e);
	}
	assert_int_equal(archive_write_close(a), ARCHIVE_OK);
	archive_write_free(a);
}

/* Each vector starts from an empty destination. */
static int
run(struct box *b, const struct ent *ents, size_t n, uint64_t max_bytes)
{
	remove_tree(b->dest);
	write_tgz(b->tgz, ents, n);
	return unpack_tgz(b->tgz, b->dest, max_bytes, b->err, sizeof(b->err));
}

/* Nothing next to dest but what setup made, and `outside` still empty. */
static void
assert_contained(struct box *b)
{
	struct dirent *de;
	DIR *d;
	int n = 0;

	d = opendir(b->outside);
	assert_non_null(d);
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			fail_msg("%s/%s was written outside dest", b->outside, de->d_name);
	closedir(d);
	d = opendir(b->root);
	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (strcmp(de->d_name, "dest") != 0 && strcmp(de->d_name, "outside") != 0 &&
		    strcmp(de->d_name, "in.tgz") != 0)
			fail_msg("unexpected %s/%s", b->root, de->d_name);
		n++;
	}
	closedir(d);
	assert_true(n <= 3);
}

static void
assert_refused(struct box *b, const struct ent *ents, size_t n, uint64_t max, const char *msg)
{
	assert_int_equal(run(b, ents, n, max), -1);
	assert_string_equal(b->err, msg);
	assert_contained(b);
}

static mode_t
mode_of(struct box *b, const char *rel)
{
	char path[PATH_MAX];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", b->dest, rel);
	assert_int_equal(lstat(path, &st), 0);
	return st.st_mode;
}

static char *
content_of(struct box *b, const char *rel)
{
	char path[PATH_MAX];
	char *s;

	snprintf(path, sizeof(path), "%s/%s", b->dest, rel);
	s = read_file(path, 1 << 20, NULL);
	assert_non_null(s);
	return s;
}

static uint64_t
tree_bytes(const char *dir)
{
	uint64_t total = 0;
	struct dirent *de;
	DIR *d = opendir(dir);

	if (d == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		char path[PATH_MAX];
		struct stat st;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (lstat(path, &st) == -1)
			continue;
		if (S_ISDIR(st.st_mode))
			total += tree_bytes(path);
		else if (S_ISREG(st.st_mode))
			total += (uint64_t)st.st_size;
	}
	closedir(d);
	return total;
}

static void
test_good_tree(void **state)
{
	struct box *b = *state;
	const struct ent ents[] = {
		{ D, "./", NULL, 0, 0 },
		{ F, "./convox.yml", "services: {}\n", 0, 0 },
		{ D, "web", NULL, 0700, 0 },
		{ F, "web/run.sh", "#!/bin/sh\n", 04755, 0 },
		{ F, "web//lib/./util.py", "x = 1\n", 0600, 0 },
		{ L, "web/current", "lib", 0, 0 },
		{ L, "web/lib/up", "../../convox.yml", 0, 0 },
		{ H, "web/run2.sh", "web/run.sh", 0, 0 },
		{ F, "setgid.txt", "g\n", 02644, 0 },
	};
	char path[PATH_MAX], link[64];
	char *s;
	ssize_t n;

	assert_int_equal(run(b, ents, CX_ARRAY_LEN(ents), 1 << 20), 0);
	assert_string_equal(b->err, "");
	s = content_of(b, "convox.yml");
	assert_string_equal(s, "services: {}\n");
	free(s);
	assert_int_equal(mode_of(b, "web") & 07777, 0755);
	assert_int_equal(mode_of(b, "web/run.sh") & 07777, 0755);   /* setuid gone, x kept */
	assert_int_equal(mode_of(b, "web/lib/util.py") & 07777, 0644);
	assert_int_equal(mode_of(b, "setgid.txt") & 07777, 0644);
	assert_true(S_ISLNK(mode_of(b, "web/current")));
	snprintf(path, sizeof(path), "%s/web/lib/up", b->dest);
	n = readlink(path, link, sizeof(link) - 1);
	assert_true(n > 0);
	link[n] = '\0';
	assert_string_equal(link, "../../convox.yml");
	s = content_of(b, "web/run2.sh");
	assert_string_equal(s, "#!/bin/sh\n");
	free(s);
	assert_contained(b);
}

static void
test_absolute_path(void **state)
{
	struct box *b = *state;
	char abs[PATH_MAX + 16], msg[PATH_MAX + 128];
	struct ent ents[] = { { F, NULL, "pwned\n", 0, 0 } };

	snprintf(abs, sizeof(abs), "%s/pwned", b->outside);
	ents[0].path = abs;
	snprintf(msg, sizeof(msg), "unsafe path in archive: %s (entries must stay inside the "
	    "source tree)", abs);
	assert_refused(b, ents, 1, 0, msg);
}

static void
test_dotdot(void **state)
{
	struct box *b = *state;
	const struct ent up[] = { { F, "../outside/pwned", "x\n", 0, 0 } };
	const struct ent mid[] = {
		{ D, "a", NULL, 0, 0 },
		{ F, "a/../../outside/pwned", "x\n", 0, 0 },
	};
	const struct ent harmless_looking[] = { { F, "a/../b", "x\n", 0, 0 } };

	assert_refused(b, up, 1, 0, "unsafe path in archive: ../outside/pwned (entries must stay "
	    "inside the source tree)");
	assert_refused(b, mid, 2, 0, "unsafe path in archive: a/../../outside/pwned (entries must "
	    "stay inside the source tree)");
	assert_refused(b, harmless_looking, 1, 0, "unsafe path in archive: a/../b (entries must "
	    "stay inside the source tree)");
}

static void
test_symlink_escape(void **state)
{
	struct box *b = *state;
	const struct ent rel[] = { { L, "evil", "../outside", 0, 0 } };
	const struct ent deep[] = { { L, "a/b/evil", "../../../outside", 0, 0 } };
	const struct ent abs[] = { { L, "evil", "/etc", 0, 0 } };
	const struct ent mid_dotdot[] = { { L, "evil", "a/../..", 0, 0 } };
	/* lexically inside, but x could be a symlink elsewhere and ".." leave from there */
	const struct ent after_name[] = { { L, "d/e/evil", "x/../..", 0, 0 } };

	assert_refused(b, rel, 1, 0, "unsafe symlink in archive: evil -> ../outside (links must "
	    "stay inside the source tree)");
	assert_refused(b, deep, 1, 0, "unsafe symlink in archive: a/b/evil -> ../../../outside "
	    "(links must stay inside the source tree)");
	assert_refused(b, abs, 1, 0, "unsafe symlink in archive: evil -> /etc (links must stay "
	    "inside the source tree)");
	assert_refused(b, mid_dotdot, 1, 0, "unsafe symlink in archive: evil -> a/../.. (links "
	    "must stay inside the source tree)");
	assert_refused(b, after_name, 1, 0, "unsafe symlink in archive: d/e/evil -> x/../.. "
	    "(links must stay inside the source tree)");
}

/* A symlink that is fine by itself must never be written through. */
static void
test_write_through_symlink(void **state)
{
	struct box *b = *state;
	const struct ent through[] = {
		{ D, "sub", NULL, 0, 0 },
		{ L, "link", "sub", 0, 0 },
		{ F, "link/pwned", "x\n", 0, 0 },
	};
	/* a/b points at the root (allowed); a/b/c -> .. would then point above
	 * it, so creating anything under a/b must be refused. */
	const struct ent chained[] = {
		{ D, "a", NULL, 0, 0 },
		{ L, "a/b", "..", 0, 0 },
		{ L, "a/b/c", "..", 0, 0 },
		{ F, "a/b/c/outside/pwned", "x\n", 0, 0 },
	};
	const struct ent dir_over_link[] = {
		{ L, "d", ".", 0, 0 },
		{ D, "d", NULL, 0, 0 },
	};
	char path[PATH_MAX + 16];

	assert_refused(b, through, 3, 0, "unsafe path in archive: link/pwned (it passes through "
	    "the symlink link)");
	snprintf(path, sizeof(path), "%s/sub/pwned", b->dest);
	assert_int_equal(access(path, F_OK), -1);
	assert_refused(b, chained, 4, 0, "unsafe path in archive: a/b/c (it passes through the "
	    "symlink a/b)");
	assert_refused(b, dir_over_link, 2, 0, "conflicting entries in archive: d/ (a file or "
	    "link of that name exists)");
}

static void
test_hardlink_escape(void **state)
{
	struct box *b = *state;
	const struct ent up[] = { { H, "h", "../outside/target", 0, 0 } };
	const struct ent abs[] = { { H, "h", "/etc/passwd", 0, 0 } };
	const struct ent to_link[] = {
		{ D, "a", NULL, 0, 0 },
		{ L, "a/l", "..", 0, 0 },
		{ H, "l2", "a/l", 0, 0 },
	};
	const struct ent missing[] = { { H, "h", "nothing", 0, 0 } };
	const struct ent via_link[] = {
		{ D, "sub", NULL, 0, 0 },
		{ F, "sub/f", "x\n", 0, 0 },
		{ L, "s", "sub", 0, 0 },
		{ H, "h", "s/f", 0, 0 },
	};

	assert_refused(b, up, 1, 0, "unsafe hard link in archive: h -> ../outside/target (links "
	    "must stay inside the source tree)");
	assert_refused(b, abs, 1, 0, "unsafe hard link in archive: h -> /etc/passwd (links must "
	    "stay inside the source tree)");
	/* a hard link to a symlink would move "..", relative to a/, to the root */
	assert_refused(b, to_link, 3, 0, "unsafe hard link in archive: l2 -> a/l (only links to "
	    "regular files earlier in the archive are allowed)");
	assert_refused(b, missing, 1, 0, "unsafe hard link in archive: h -> nothing (only links to "
	    "regular files earlier in the archive are allowed)");
	assert_refused(b, via_link, 4, 0, "unsafe path in archive: s/f (it passes through the "
	    "symlink s)");
}

static void
test_devices(void **state)
{
	struct box *b = *state;
	const struct ent chr[] = { { CHR, "dev/null", NULL, 0, 0 } };
	const struct ent fifo[] = { { FIFO, "pipe", NULL, 0, 0 } };

	assert_refused(b, chr, 1, 0, "refused entry in archive: dev/null (devices, FIFOs and "
	    "sockets are not allowed)");
	assert_refused(b, fifo, 1, 0, "refused entry in archive: pipe (devices, FIFOs and sockets "
	    "are not allowed)");
}

/* The header says too big: refused before a byte is written. */
static void
test_huge_file(void **state)
{
	struct box *b = *state;
	const struct ent ents[] = {
		{ F, "small.txt", "ok\n", 0, 0 },
		{ ZEROS, "big.bin", NULL, 0, 8u << 20 },
	};

	assert_refused(b, ents, 2, 1u << 20, "archive too large: big.bin takes it past 1 MB "
	    "uncompressed (rack param build_max_mb)");
	assert_int_equal(mode_of(b, "small.txt") & 0777, 0644);
	assert_int_equal(tree_bytes(b->dest), 3);
}

/* Many small files of zeros: the gzip stream is tiny, the data is not.
 * Counting while extracting stops at the cap. */
static void
test_gzip_bomb(void **state)
{
	struct box *b = *state;
	struct ent ents[64];
	char names[64][16];
	struct stat st;

	for (int i = 0; i < 64; i++) {
		snprintf(names[i], sizeof(names[i]), "z%02d", i);
		ents[i] = (struct ent){ ZEROS, names[i], NULL, 0, 1u << 20 };
	}
	write_tgz(b->tgz, ents, 64);
	assert_int_equal(stat(b->tgz, &st), 0);
	assert_true(st.st_size < 512 * 1024);      /* 64 MB in well under 1 MB */
	assert_int_equal(unpack_tgz(b->tgz, b->dest, 4u << 20, b->err, sizeof(b->err)), -1);
	assert_string_equal(b->err, "archive too large: z04 takes it past 4 MB uncompressed "
	    "(rack param build_max_mb)");
	assert_true(tree_bytes(b->dest) <= 4u << 20);
	assert_contained(b);
}

/* Files each under the cap that add up past it. */
static void
test_cap_total(void **state)
{
	struct box *b = *state;
	const struct ent ents[] = {
		{ ZEROS, "a.bin", NULL, 0, 600 * 1024 },
		{ ZEROS, "b.bin", NULL, 0, 600 * 1024 },
	};

	assert_refused(b, ents, 2, 1u << 20, "archive too large: b.bin takes it past 1 MB "
	    "uncompressed (rack param build_max_mb)");
	assert_true(tree_bytes(b->dest) <= 1u << 20);
}

/* A gzip stream of 64 MB of zeros with no tar in it: the zero blocks read as
 * the end of an archive, so nothing is written and little is read. */
static void
test_raw_gzip_of_zeros(void **state)
{
	static char zeros[65536];
	struct box *b = *state;
	struct archive *a = archive_write_new();
	struct archive_entry *e = archive_entry_new();
	int64_t t0;

	assert_int_equal(archive_write_set_format_raw(a), ARCHIVE_OK);
	assert_int_equal(archive_write_add_filter_gzip(a), ARCHIVE_OK);
	assert_int_equal(archive_write_open_filename(a, b->tgz), ARCHIVE_OK);
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_pathname(e, "zeros");
	assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
	for (int i = 0; i < 1024; i++)
		assert_int_equal(archive_write_data(a, zeros, sizeof(zeros)), sizeof(zeros));
	archive_write_close(a);
	archive_write_free(a);
	archive_entry_free(e);
	t0 = now_ms();
	unpack_tgz(b->tgz, b->dest, 1u << 20, b->err, sizeof(b->err));
	assert_true(now_ms() - t0 < 2000);
	assert_int_equal(tree_bytes(b->dest), 0);
	assert_contained(b);
}

static void
test_too_many_entries(void **state)
{
	struct box *b = *state;
	size_t n = UNPACK_MAX_ENTRIES + 1;
	struct ent *ents = calloc(n, sizeof(*ents));
	struct unpack_limits lim = { .max_bytes = 0, .max_entries = 10 };
	const struct ent few[11] = {
		{ F, "1", "", 0, 0 }, { F, "2", "", 0, 0 }, { F, "3", "", 0, 0 },
		{ F, "4", "", 0, 0 }, { F, "5", "", 0, 0 }, { F, "6", "", 0, 0 },
		{ F, "7", "", 0, 0 }, { F, "8", "", 0, 0 }, { F, "9", "", 0, 0 },
		{ F, "10", "", 0, 0 }, { F, "11", "", 0, 0 },
	};

	/* the default cap, with one directory entry repeated (cheap to extract) */
	for (size_t i = 0; i < n; i++)
		ents[i] = (struct ent){ D, "d", NULL, 0, 0 };
	assert_refused(b, ents, n, 0, "too many entries in archive: more than 100000");
	free(ents);

	char path[PATH_MAX + 16];

	remove_tree(b->dest);
	write_tgz(b->tgz, few, 11);
	assert_int_equal(unpack_tgz_limits(b->tgz, b->dest, &lim, b->err, sizeof(b->err)), -1);
	assert_string_equal(b->err, "too many entries in archive: more than 10");
	snprintf(path, sizeof(path), "%s/10", b->dest);
	assert_int_equal(access(path, F_OK), 0);
	snprintf(path, sizeof(path), "%s/11", b->dest);
	assert_int_equal(access(path, F_OK), -1);
}

/* Limits shared by several unpacks count what all of them wrote: the second
 * archive stops where the first left the budget, not at a fresh cap. */
static void
test_shared_budget(void **state)
{
	struct box *b = *state;
	struct unpack_limits lim = { .max_bytes = 1u << 20 };
	const struct ent one[] = { { ZEROS, "a", NULL, 0, 700u << 10 } };
	const struct ent two[] = { { ZEROS, "b", NULL, 0, 200u << 10 },
		{ ZEROS, "c", NULL, 0, 200u << 10 } };
	char path[PATH_MAX + 16];

	write_tgz(b->tgz, one, 1);
	assert_int_equal(unpack_tgz_limits(b->tgz, b->dest, &lim, b->err, sizeof(b->err)), 0);
	assert_int_equal(lim.used_bytes, 700u << 10);
	assert_int_equal(lim.used_entries, 1);
	write_tgz(b->tgz, two, 2);
	assert_int_equal(unpack_tgz_limits(b->tgz, b->dest, &lim, b->err, sizeof(b->err)), -1);
	assert_string_equal(b->err, "archive too large: c takes it past 1 MB uncompressed (rack"
	    " param build_max_mb)");
	snprintf(path, sizeof(path), "%s/b", b->dest);
	assert_int_equal(access(path, F_OK), 0);
	/* each alone fits the cap */
	remove_tree(b->dest);
	assert_int_equal(unpack_tgz(b->tgz, b->dest, 1u << 20, b->err, sizeof(b->err)), 0);
}

static void
test_replacements(void **state)
{
	struct box *b = *state;
	/* a regular file over a symlink replaces the link, it does not write
	 * through it; same over a hard link */
	const struct ent ents[] = {
		{ F, "f", "original\n", 0, 0 },
		{ L, "l", "f", 0, 0 },
		{ F, "l", "new\n", 0, 0 },
		{ H, "h", "f", 0, 0 },
		{ F, "h", "other\n", 0, 0 },
		{ F, "f2", "one\n", 0, 0 },
		{ F, "f2", "two\n", 0, 0 },
	};
	const struct ent dir_then_link[] = {
		{ D, "sub", NULL, 0, 0 },
		{ D, "a", NULL, 0, 0 },
		{ L, "a", "sub", 0, 0 },
	};
	char *s;

	assert_int_equal(run(b, ents, CX_ARRAY_LEN(ents), 0), 0);
	s = content_of(b, "f");
	assert_string_equal(s, "original\n");
	free(s);
	assert_true(S_ISREG(mode_of(b, "l")));
	s = content_of(b, "h");
	assert_string_equal(s, "other\n");
	free(s);
	s = content_of(b, "f2");
	assert_string_equal(s, "two\n");
	free(s);
	assert_refused(b, dir_then_link, 3, 0, "conflicting entries in archive: a (a directory "
	    "of that name exists)");
}

static void
test_not_an_archive(void **state)
{
	struct box *b = *state;
	int r;

	assert_int_equal(write_file_atomic(b->tgz, "hello, not gzip at all", 22, 0644), 0);
	r = unpack_tgz(b->tgz, b->dest, 0, b->err, sizeof(b->err));
	assert_int_equal(r, -1);
	assert_true(str_has_prefix(b->err, "invalid archive: "));
	assert_null(strchr(b->err, '\n'));
	assert_contained(b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_good_tree, setup, teardown),
		cmocka_unit_test_setup_teardown(test_absolute_path, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dotdot, setup, teardown),
		cmocka_unit_test_setup_teardown(test_symlink_escape, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_through_symlink, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hardlink_escape, setup, teardown),
		cmocka_unit_test_setup_teardown(test_devices, setup, teardown),
		cmocka_unit_test_setup_teardown(test_huge_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gzip_bomb, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cap_total, setup, teardown),
		cmocka_unit_test_setup_teardown(test_raw_gzip_of_zeros, setup, teardown),
		cmocka_unit_test_setup_teardown(test_too_many_entries, setup, teardown),
		cmocka_unit_test_setup_teardown(test_shared_budget, setup, teardown),
		cmocka_unit_test_setup_teardown(test_replacements, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_an_archive, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
