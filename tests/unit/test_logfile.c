/*
 * test_logfile.c — logs that rotate by size (logfile.c) and reading them
 * across rotation (applog.c's log_read, log_offset_at), on real files: the
 * rotated names, the cap and the keep, two writers at once (each follows the
 * other's rotation: no line lost, none in a file after it rotated), offsets
 * that still mean the same line after a rotation, reading in order across
 * the files, and where a time starts when it is in a rotated file.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/logfile.h"
#include "common/util.h"
#include "rackd/applog.h"

static char dir[64], path[128];

static int
setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/cx-logfile.XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/app.log", dir);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	remove_tree(dir);
	return 0;
}

static void
test_rotated_names(void **state)
{
	int64_t v = -1;

	(void)state;
	assert_true(logfile_rotated_start("app.log", "app.log.0", &v) && v == 0);
	assert_true(logfile_rotated_start("app.log", "app.log.10485760", &v) && v == 10485760);
	assert_false(logfile_rotated_start("app.log", "app.log", &v));
	assert_false(logfile_rotated_start("app.log", "app.log.", &v));
	assert_false(logfile_rotated_start("app.log", "app.log.012", &v));
	assert_false(logfile_rotated_start("app.log", "app.log.12a", &v));
	assert_false(logfile_rotated_start("app.log", "app.log.-1", &v));
	assert_false(logfile_rotated_start("app.log", "app.logx.1", &v));
	assert_false(logfile_rotated_start("app.log", "router.log.1", &v));
}

/* "2027-01-15T08:00:SSZ line NNNNN\n": 32 bytes, a second per 10 lines. */
static void
line(char *out, size_t outlen, int i)
{
	snprintf(out, outlen, "2027-01-15T08:%02d:%02dZ line %05d\n", i / 600 % 60, i / 10 % 60, i);
}

static size_t
count_files(int64_t *total, int64_t max_each)
{
	struct dirent *de;
	size_t n = 0;
	DIR *d = opendir(dir);

	*total = 0;
	while ((de = readdir(d)) != NULL) {
		char p[256];
		struct stat sb;

		if (de->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
		assert_int_equal(stat(p, &sb), 0);
		assert_true(sb.st_size <= max_each);
		*total += sb.st_size;
		n++;
	}
	closedir(d);
	return n;
}

/* Reads the whole log from since, as `cx logs` does (until no more), and
 * checks the lines are consecutive; returns the first line's number. */
static int
read_all(int64_t since, int *count)
{
	struct buf b;
	int64_t next = since, at;
	int first = -1, prev = -1;
	char *save = NULL;

	buf_init(&b, 0);
	do {
		at = next;
		assert_int_equal(log_read(path, at, 1000, &b, &next), 0);
	} while (next != at);
	*count = 0;
	for (char *l = strtok_r((char *)buf_cstr(&b), "\n", &save); l != NULL;
	    l = strtok_r(NULL, "\n", &save)) {
		const char *num = strstr(l, "line ");
		long v;

		assert_non_null(num);
		assert_int_equal(parse_long(num + 5, 0, 99999, &v), 0);
		if (prev >= 0)
			assert_int_equal(v, prev + 1);
		if (first < 0)
			first = (int)v;
		prev = (int)v;
		(*count)++;
	}
	buf_free(&b);
	return first;
}

static void
test_two_writers(void **state)
{
	struct logfile a, b;
	char l[64];
	int64_t total;
	int count, first;

	(void)state;
	logfile_init(&a, path, 320, 0600, -1);
	logfile_init(&b, path, 320, 0600, -1);
	for (int i = 0; i < 100; i++) {
		line(l, sizeof(l), i);
		assert_int_equal(logfile_write(i % 3 == 0 ? &a : &b, l, strlen(l)), 0);
	}
	/* Ten lines a file: the live one and two rotated, none past the cap. */
	assert_int_equal(count_files(&total, 320), LOGFILE_KEEP);
	assert_int_equal(total, 30 * 32);
	first = read_all(0, &count);
	assert_int_equal(first, 70);
	assert_int_equal(count, 30);
	logfile_close(&a);
	logfile_close(&b);
}

static void
test_offsets_survive(void **state)
{
	struct logfile lf;
	struct buf b;
	char l[64];
	int64_t next;
	int count;

	(void)state;
	logfile_init(&lf, path, 320, 0600, -1);
	for (int i = 0; i < 25; i++) {
		line(l, sizeof(l), i);
		assert_int_equal(logfile_write(&lf, l, strlen(l)), 0);
	}
	/* Line 22 is at byte 22 * 32 of the log, in the live file; a time older
	 * than every line is the oldest line's place. */
	assert_int_equal(log_offset_at(path, 0), 0);
	buf_init(&b, 0);
	assert_int_equal(log_read(path, 22 * 32, 32, &b, &next), 0);
	assert_string_equal(buf_cstr(&b), "2027-01-15T08:00:02Z line 00022\n");
	/* Rotations later, the same offset is the same line. */
	for (int i = 25; i < 45; i++) {
		line(l, sizeof(l), i);
		assert_int_equal(logfile_write(&lf, l, strlen(l)), 0);
	}
	assert_int_equal(read_all(22 * 32, &count), 22);
	assert_int_equal(count, 45 - 22);
	/* An offset rotated away reads from the oldest line kept. */
	assert_int_equal(read_all(0, &count), 20);
	assert_int_equal(count, 25);
	buf_free(&b);
	logfile_close(&lf);
}

static void
test_time_across_files(void **state)
{
	struct logfile lf;
	struct buf b;
	char l[64];
	int64_t next;
	struct tm tm = { .tm_year = 127, .tm_mon = 0, .tm_mday = 15, .tm_hour = 8, .tm_sec = 2 };
	int64_t t = (int64_t)timegm(&tm);

	(void)state;
	logfile_init(&lf, path, 320, 0600, -1);
	for (int i = 0; i < 45; i++) {
		line(l, sizeof(l), i);
		assert_int_equal(logfile_write(&lf, l, strlen(l)), 0);
	}
	/* 08:00:02 is line 20, the first line of the oldest file kept. */
	assert_int_equal(log_offset_at(path, t), 20 * 32);
	/* 08:00:03 is line 30, in the middle rotated file. */
	assert_int_equal(log_offset_at(path, t + 1), 30 * 32);
	buf_init(&b, 0);
	assert_int_equal(log_read(path, log_offset_at(path, t + 2), 32, &b, &next), 0);
	assert_string_equal(buf_cstr(&b), "2027-01-15T08:00:04Z line 00040\n");
	assert_int_equal(log_offset_at(path, t + 60), 45 * 32);
	buf_free(&b);
	logfile_close(&lf);
}

/* log_to_file: a daemon's stderr log rotates, and stderr follows it. */
static void
test_log_to_file(void **state)
{
	int64_t total;
	pid_t pid;
	int status, count;

	(void)state;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct stat held, named;
		int fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0600);

		if (fd == -1 || dup2(fd, 2) == -1)
			_exit(2);
		close(fd);
		log_init("t", false);
		log_to_file(path, 400);
		for (int i = 0; i < 60; i++)
			log_info("line %05d", i);
		/* What else writes to stderr lands in the live file. */
		if (fstat(2, &held) == -1 || stat(path, &named) == -1 || held.st_ino != named.st_ino)
			_exit(3);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(count_files(&total, 400), LOGFILE_KEEP);
	/* Every line kept is there, in order, up to the last. */
	assert_true(read_all(0, &count) + count == 60);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rotated_names),
		cmocka_unit_test_setup_teardown(test_two_writers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_offsets_survive, setup, teardown),
		cmocka_unit_test_setup_teardown(test_time_across_files, setup, teardown),
		cmocka_unit_test_setup_teardown(test_log_to_file, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
