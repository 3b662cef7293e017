/*
 * test_idrange.c — the host's ledger of app id ranges, on a ledger in a
 * temporary directory: claims are distinct, kept, freed, reclaimed when
 * their owner is gone; a full or malformed ledger is refused in one line.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/util.h"
#include "rackd/idrange.h"

static char dir[64], app_a[128], app_b[128];

static int
setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/cx-idrange.XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(app_a, sizeof(app_a), "%s/a", dir);
	snprintf(app_b, sizeof(app_b), "%s/b", dir);
	return mkdir(app_a, 0700) == 0 && mkdir(app_b, 0700) == 0 ? 0 : -1;
}

static int
teardown(void **state)
{
	(void)state;
	return remove_tree(dir);
}

static void
test_claims(void **state)
{
	char err[256], ledger[128];
	uint32_t a, b, again, c;
	char *text;

	(void)state;
	assert_int_equal(idrange_claim(dir, app_a, 0, &a, err, sizeof(err)), 0);
	assert_int_equal(idrange_claim(dir, app_b, 0, &b, err, sizeof(err)), 0);
	assert_int_equal(a, IDRANGE_FIRST);
	assert_int_equal(b, IDRANGE_FIRST + IDRANGE_SIZE);
	/* An owner that asks again for its range keeps it. */
	assert_int_equal(idrange_claim(dir, app_a, a, &again, err, sizeof(err)), 0);
	assert_int_equal(again, a);
	/* An owner holds one range: asking for another's keeps its own. */
	assert_int_equal(idrange_claim(dir, app_b, a, &again, err, sizeof(err)), 0);
	assert_int_equal(again, b);
	assert_int_equal(idrange_release(dir, app_b, again, err, sizeof(err)), 0);
	/* Released, then the owner's directory gone: both ranges are free again. */
	assert_int_equal(idrange_release(dir, app_a, a, err, sizeof(err)), 0);
	assert_int_equal(remove_tree(app_b), 0);
	assert_int_equal(idrange_claim(dir, app_a, 0, &c, err, sizeof(err)), 0);
	assert_int_equal(c, IDRANGE_FIRST);
	snprintf(ledger, sizeof(ledger), "%s/idranges", dir);
	text = read_file(ledger, 4096, NULL);
	assert_non_null(text);
	assert_non_null(strstr(text, app_a));
	/* b's entry goes, unless some process here still runs in its range:
	 * racks of other homes (other tests) run apps in the same ranges */
	if (idrange_in_use(b))
		assert_non_null(strstr(text, app_b));
	else
		assert_null(strstr(text, app_b));
	free(text);
	/* Releasing what one does not hold changes nothing. */
	assert_int_equal(idrange_release(dir, app_b, c, err, sizeof(err)), 0);
	assert_int_equal(idrange_claim(dir, app_a, c, &again, err, sizeof(err)), 0);
	assert_int_equal(again, c);
	assert_int_equal(mkdir(app_b, 0700), 0);
}

/* A range whose owner is gone but whose uid still runs a process stays
 * held: the next app must not get the right to signal that process. */
static void
test_live_range_kept(void **state)
{
	char err[256], ledger[128], line[256], gone[160];
	uint32_t live = IDRANGE_FIRST + 7 * IDRANGE_SIZE, base;
	int go[2];
	pid_t pid;

	(void)state;
	if (geteuid() != 0) {
		skip();
		return;
	}
	assert_int_equal(pipe(go), 0);
	pid = fork();
	if (pid == 0) {
		char c;

		close(go[1]);
		if (setresgid(live, live, live) == -1 || setresuid(live, live, live) == -1)
			_exit(1);
		if (read(go[0], &c, 1) < 0)     /* until the test is done */
			_exit(1);
		_exit(0);
	}
	close(go[0]);
	/* Wait for the child to take the uid. */
	for (int i = 0; i < 200; i++) {
		char path[64], *st;
		bool is = false;

		snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
		if ((st = read_file(path, 8192, NULL)) != NULL) {
			snprintf(line, sizeof(line), "\nUid:\t%u", live);
			is = strstr(st, line) != NULL;
			free(st);
		}
		if (is)
			break;
		usleep(5000);
	}
	snprintf(gone, sizeof(gone), "%s/removed-rack/apps/x", dir);
	snprintf(ledger, sizeof(ledger), "%s/idranges", dir);
	snprintf(line, sizeof(line), "%u %s\n", live, gone);
	assert_int_equal(write_file_atomic(ledger, line, strlen(line), 0600), 0);
	assert_int_equal(idrange_claim(dir, app_a, live, &base, err, sizeof(err)), 0);
	assert_int_not_equal(base, live);
	close(go[1]);
	assert_int_equal(waitpid(pid, NULL, 0), pid);
	/* Its last process gone, the range is free again. */
	assert_int_equal(idrange_release(dir, app_a, base, err, sizeof(err)), 0);
	assert_int_equal(idrange_claim(dir, app_b, live, &base, err, sizeof(err)), 0);
	assert_int_equal(base, live);
}

static void
test_refusals(void **state)
{
	char err[256], ledger[128];
	uint32_t base;
	struct buf b;

	(void)state;
	assert_int_equal(idrange_claim(dir, "relative/path", 0, &base, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "absolute path"));
	snprintf(ledger, sizeof(ledger), "%s/idranges", dir);
	assert_int_equal(write_file_atomic(ledger, "12 /x\n", 6, 0600), 0);
	assert_int_equal(idrange_claim(dir, app_a, 0, &base, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "malformed line \"12 /x\""));
	/* Every range held by an owner that exists: none left. */
	buf_init(&b, 0);
	for (uint32_t i = 0; i < IDRANGE_COUNT; i++)
		buf_addf(&b, "%u %s\n", IDRANGE_FIRST + i * IDRANGE_SIZE, dir);
	assert_int_equal(write_file_atomic(ledger, b.data, b.len, 0600), 0);
	buf_free(&b);
	assert_int_equal(idrange_claim(dir, app_a, 0, &base, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "all 4095 id ranges of this host are in use"));
	assert_int_equal(unlink(ledger), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_claims, setup, teardown),
		cmocka_unit_test_setup_teardown(test_live_range_kept, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
