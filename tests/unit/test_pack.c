/*
 * test_pack.c — `cx deploy`'s packing: .dockerignore matching as docker does
 * it (a table of patterns and paths), and pack_dir on a real tree, read
 * back with libarchive and round-tripped through the rack's unpacker.
 */
#include <archive.h>
#include <archive_entry.h>
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
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/pack.h"
#include "common/util.h"
#include "rackd/unpack.h"

struct match_case {
	const char *ignore;     /* .dockerignore text */
	const char *path;
	bool excluded;
};

static const struct match_case cases[] = {
	/* '*' stays within a component, and patterns are anchored at the root */
	{ "*.log", "a.log", true },
	{ "*.log", "dir/a.log", false },
	{ "*/*.log", "dir/a.log", true },
	{ "**/*.log", "a.log", true },
	{ "**/*.log", "x/y/z.log", true },
	{ "**/*.log", "x/y/z.txt", false },
	/* a matched directory takes its contents with it */
	{ "node_modules", "node_modules", true },
	{ "node_modules", "node_modules/a/b.js", true },
	{ "node_modules", "src/node_modules", false },
	{ "/build", "build/out.o", true },
	{ "/build", "src/build", false },
	{ "build/", "build/out.o", true },
	{ "./build", "build", true },
	{ "docs/**", "docs/a/b.md", true },
	{ "docs/**", "docs", false },
	{ "a/**/b", "a/b", true },
	{ "a/**/b", "a/x/y/b", true },
	{ "a/**/b", "a/xb", false },
	{ "**", "anything/at/all", true },
	/* ? is one character, not '/' */
	{ "temp?", "temp1", true },
	{ "temp?", "temp12", false },
	{ "a?b", "a/b", false },
	/* classes and escapes */
	{ "[a-c].txt", "b.txt", true },
	{ "[a-c].txt", "d.txt", false },
	{ "[^a-c].txt", "d.txt", true },
	{ "[!a-c].txt", "a.txt", false },
	{ "\\#notes", "#notes", true },
	{ "\\*", "*", true },
	{ "\\*", "x", false },
	/* comments, blank lines, spaces */
	{ "# secret.txt\n\n", "secret.txt", false },
	{ "  secret.txt  \n", "secret.txt", true },
	{ "secret.txt\r\n", "secret.txt", true },
	/* negation: the last matching pattern wins */
	{ "*.md\n!README.md\n", "README.md", false },
	{ "*.md\n!README.md\n", "CHANGES.md", true },
	{ "!README.md\n*.md\n", "README.md", true },
	{ "node_modules\n!node_modules/keep.js\n", "node_modules/keep.js", false },
	{ "node_modules\n!node_modules/keep.js\n", "node_modules/other.js", true },
	/* .git is sent unless the file says otherwise */
	{ "", ".git/config", false },
	{ ".git", ".git/config", true },
	/* a lone "!" or "/" is no pattern for a real path */
	{ "!\n/\n", "x", false },
};

static void
test_ignore_matching(void **state)
{
	(void)state;
	for (size_t i = 0; i < CX_ARRAY_LEN(cases); i++) {
		struct pack_ignore *pi = pack_ignore_parse(cases[i].ignore);
		bool got = pack_ignore_match(pi, cases[i].path);

		if (got != cases[i].excluded)
			fail_msg("pattern %s: path %s: got %s, want %s", cases[i].ignore,
			    cases[i].path, got ? "excluded" : "kept",
			    cases[i].excluded ? "excluded" : "kept");
		pack_ignore_free(pi);
	}
}

struct tree {
	char root[PATH_MAX];
	char src[PATH_MAX];
	char dest[PATH_MAX];
	char err[1024];
	int fd;
};

static int
setup(void **state)
{
	struct tree *t = calloc(1, sizeof(*t));

	snprintf(t->root, sizeof(t->root), "/tmp/cx-pack-XXXXXX");
	assert_non_null(mkdtemp(t->root));
	snprintf(t->src, sizeof(t->src), "%s/src", t->root);
	snprintf(t->dest, sizeof(t->dest), "%s/dest", t->root);
	assert_int_equal(mkdir(t->src, 0755), 0);
	t->fd = pack_tmpfile();
	assert_true(t->fd >= 0);
	*state = t;
	return 0;
}

static int
teardown(void **state)
{
	struct tree *t = *state;

	close(t->fd);
	remove_tree(t->root);
	free(t);
	return 0;
}

static void
put(struct tree *t, const char *rel, const char *content, mode_t mode)
{
	char path[PATH_MAX + 256], dir[PATH_MAX + 256];
	char *slash;

	snprintf(path, sizeof(path), "%s/%s", t->src, rel);
	str_copy(dir, sizeof(dir), path);
	slash = strrchr(dir, '/');
	*slash = '\0';
	assert_int_equal(mkdir_p(dir, 0755), 0);
	assert_int_equal(write_file_atomic(path, content, strlen(content), mode), 0);
	assert_int_equal(chmod(path, mode), 0);
}

static void
put_link(struct tree *t, const char *rel, const char *target)
{
	char path[PATH_MAX + 256];

	snprintf(path, sizeof(path), "%s/%s", t->src, rel);
	assert_int_equal(symlink(target, path), 0);
}

/* Reads the archive back: "path" per entry, with " -> target" for symlinks
 * and " x" for executables, joined by newlines in archive order. */
static char *
listing(struct tree *t)
{
	struct archive *a = archive_read_new();
	struct archive_entry *e;
	struct buf b;

	buf_init(&b, 0);
	assert_int_equal(lseek(t->fd, 0, SEEK_SET), 0);
	archive_read_support_filter_gzip(a);
	archive_read_support_format_tar(a);
	assert_int_equal(archive_read_open_fd(a, t->fd, 65536), ARCHIVE_OK);
	while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
		/* (the tar writer gives directories a trailing slash) */
		buf_addf(&b, "%s", archive_entry_pathname(e));
		if (archive_entry_filetype(e) == AE_IFLNK)
			buf_addf(&b, " -> %s", archive_entry_symlink(e));
		if (archive_entry_filetype(e) == AE_IFREG && (archive_entry_perm(e) & 0100))
			buf_adds(&b, " x");
		assert_int_equal(archive_entry_uid(e), 0);
		assert_int_equal(archive_entry_perm(e) & 07000, 0);
		buf_adds(&b, "\n");
	}
	archive_read_free(a);
	return buf_cstr(&b);
}

static void
test_pack_tree(void **state)
{
	struct tree *t = *state;
	struct pack_stats st;
	char path[PATH_MAX + 64];
	char *list, *s;

	put(t, "convox.yml", "services:\n  web:\n    port: 3000\n", 0644);
	put(t, ".dockerignore", "# build output\n*.log\nnode_modules\n!node_modules/keep.js\n"
	    "/secret\n**/*.tmp\n", 0644);
	put(t, "web/app.py", "print('hi')\n", 0644);
	put(t, "web/run.sh", "#!/bin/sh\n", 04755);
	put(t, "web/x.tmp", "tmp\n", 0644);
	put(t, "web/debug.log", "kept: *.log is root-only\n", 0644);
	put(t, "debug.log", "dropped\n", 0644);
	put(t, "node_modules/a/index.js", "dropped\n", 0644);
	put(t, "node_modules/keep.js", "kept\n", 0644);
	put(t, "secret/key", "dropped\n", 0600);
	put(t, ".git/HEAD", "ref: refs/heads/main\n", 0644);
	put_link(t, "web/current", "app.py");
	put_link(t, "web/top", "../convox.yml");

	assert_int_equal(pack_dir(t->src, t->fd, &st, t->err, sizeof(t->err)), 0);
	list = listing(t);
	assert_string_equal(list,
	    ".dockerignore\n"
	    ".git/\n"
	    ".git/HEAD\n"
	    "convox.yml\n"
	    "node_modules/keep.js\n"
	    "web/\n"
	    "web/app.py\n"
	    "web/current -> app.py\n"
	    "web/debug.log\n"
	    "web/run.sh x\n"
	    "web/top -> ../convox.yml\n");
	free(list);
	assert_int_equal(st.files, 9);   /* 7 files and 2 symlinks */

	/* the rack's unpacker takes it back whole */
	snprintf(path, sizeof(path), "%s/in.tgz", t->root);
	{
		int out = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		char buf[65536];
		ssize_t n;

		assert_true(out >= 0);
		assert_int_equal(lseek(t->fd, 0, SEEK_SET), 0);
		while ((n = read(t->fd, buf, sizeof(buf))) > 0)
			assert_int_equal(write(out, buf, (size_t)n), n);
		close(out);
	}
	assert_int_equal(unpack_tgz(path, t->dest, 1 << 20, t->err, sizeof(t->err)), 0);
	snprintf(path, sizeof(path), "%s/web/top", t->dest);
	s = read_file(path, 4096, NULL);
	assert_non_null(s);
	assert_string_equal(s, "services:\n  web:\n    port: 3000\n");
	free(s);
}

/* An empty directory (a git work tree has them: .git/refs/tags) is sent as
 * itself, and nothing under it is read. */
static void
test_empty_directory(void **state)
{
	struct tree *t = *state;
	char path[PATH_MAX + 64], *list;

	put(t, "convox.yml", "services: {}\n", 0644);
	snprintf(path, sizeof(path), "%s/.git/refs/tags", t->src);
	assert_int_equal(mkdir_p(path, 0755), 0);
	assert_int_equal(pack_dir(t->src, t->fd, NULL, t->err, sizeof(t->err)), 0);
	list = listing(t);
	assert_string_equal(list, ".git/\n.git/refs/\n.git/refs/tags/\nconvox.yml\n");
	free(list);
}

/* convox.yml is always sent: the rack cannot build without it. */
static void
test_convox_yml_kept(void **state)
{
	struct tree *t = *state;
	char *list;

	put(t, "convox.yml", "services: {}\n", 0644);
	put(t, "app.py", "x\n", 0644);
	put(t, ".dockerignore", "*\n", 0644);
	assert_int_equal(pack_dir(t->src, t->fd, NULL, t->err, sizeof(t->err)), 0);
	list = listing(t);
	assert_string_equal(list, "convox.yml\n");
	free(list);
}

static void
test_refuses_special_files(void **state)
{
	struct tree *t = *state;
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	char msg[PATH_MAX + 256];
	int s;

	put(t, "convox.yml", "services: {}\n", 0644);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/app.sock", t->src);
	s = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(s >= 0);
	assert_int_equal(bind(s, (struct sockaddr *)&sun, sizeof(sun)), 0);
	close(s);
	assert_int_equal(pack_dir(t->src, t->fd, NULL, t->err, sizeof(t->err)), -1);
	assert_string_equal(t->err, "cannot pack app.sock: sockets, devices and FIFOs cannot be "
	    "deployed (add it to .dockerignore)");

	/* ignored, it is no problem */
	put(t, ".dockerignore", "*.sock\n", 0644);
	assert_int_equal(ftruncate(t->fd, 0), 0);
	assert_int_equal(lseek(t->fd, 0, SEEK_SET), 0);
	assert_int_equal(pack_dir(t->src, t->fd, NULL, t->err, sizeof(t->err)), 0);

	snprintf(msg, sizeof(msg), "%s/fifo", t->src);
	assert_int_equal(mkfifo(msg, 0644), 0);
	assert_int_equal(pack_dir(t->src, t->fd, NULL, t->err, sizeof(t->err)), -1);
	assert_string_equal(t->err, "cannot pack fifo: sockets, devices and FIFOs cannot be "
	    "deployed (add it to .dockerignore)");
}

static void
test_refuses_escaping_symlinks(void **state)
{
	struct tree *t = *state;

	put(t, "convox.yml", "services: {}\n", 0644);
	put_link(t, "python", "/usr/bin/python3");
	assert_int_equal(pack_dir(t->src, t->fd, NULL, t->err, sizeof(t->err)), -1);
	assert_string_equal(t->err, "cannot pack python: its symlink target /usr/bin/python3 "
	    "leaves the source tree (add it to .dockerignore)");

	put(t, ".dockerignore", "python\n", 0644);
	put(t, "lib/x", "x\n", 0644);
	put_link(t, "lib/up", "../..");
	assert_int_equal(pack_dir(t->src, t->fd, NULL, t->err, sizeof(t->err)), -1);
	assert_string_equal(t->err, "cannot pack lib/up: its symlink target ../.. leaves the "
	    "source tree (add it to .dockerignore)");
}

static void
test_unreadable_dockerignore_is_an_error(void **state)
{
	struct tree *t = *state;
	char path[PATH_MAX + 32];

	put(t, "convox.yml", "services: {}\n", 0644);
	snprintf(path, sizeof(path), "%s/.dockerignore", t->src);
	assert_int_equal(mkdir(path, 0755), 0);     /* a directory: read fails */
	assert_int_equal(pack_dir(t->src, t->fd, NULL, t->err, sizeof(t->err)), -1);
	assert_true(strstr(t->err, ".dockerignore") != NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ignore_matching),
		cmocka_unit_test_setup_teardown(test_pack_tree, setup, teardown),
		cmocka_unit_test_setup_teardown(test_convox_yml_kept, setup, teardown),
		cmocka_unit_test_setup_teardown(test_empty_directory, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refuses_special_files, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refuses_escaping_symlinks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unreadable_dockerignore_is_an_error, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
