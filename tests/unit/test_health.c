/*
 * test_health.c — the health checks' state machine (drawn atop health.c):
 * which probe results are reported, and as what. The probes themselves never
 * run (the loop is not run); the test hands in their results.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "common/ev.h"
#include "common/util.h"
#include "rackd/health.h"
#include "rackd/manifest.h"
#include "rackd/rack.h"

static struct rack rack;
static struct app app;
static struct proc proc;
static enum health_event events[16];
static int nevents;

static void
record(struct rack *r, struct proc *p, enum health_event ev)
{
	assert_ptr_equal(r, &rack);
	assert_ptr_equal(p, &proc);
	assert_true(nevents < (int)CX_ARRAY_LEN(events));
	events[nevents++] = ev;
}

static int
setup(void **state)
{
	(void)state;
	memset(&rack, 0, sizeof(rack));
	memset(&app, 0, sizeof(app));
	memset(&proc, 0, sizeof(proc));
	nevents = 0;
	if ((rack.loop = ev_new()) == NULL)
		return -1;
	app.rack = &rack;
	proc.app = &app;
	proc.pidfd = -1;
	proc.st.port = 3000;
	str_copy(proc.st.address, sizeof(proc.st.address), "127.0.0.1");
	health_set_handler(&rack, record);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	health_cancel(&rack, &proc);
	ev_free(rack.loop);
	return 0;
}

static void
start(bool serving)
{
	struct mf_service s = { .name = "web", .port = 3000, .health_path = "/up",
		.health_grace = 2, .health_interval = 1, .health_timeout = 1 };

	health_start(&rack, &proc, &s, serving);
	assert_non_null(proc.health.timer);     /* probed at once */
	assert_int_equal(proc.health.port, 3000);
	assert_string_equal(proc.health.path, "/up");
}

static void
test_first_pass(void **state)
{
	(void)state;
	start(false);
	assert_int_equal(proc.health.state, HEALTH_FIRST);
	health_result(&rack, &proc, false);     /* before the deadline: silence, probe again */
	assert_int_equal(nevents, 0);
	assert_non_null(proc.health.timer);
	health_result(&rack, &proc, true);
	assert_int_equal(nevents, 1);
	assert_int_equal(events[0], HEALTH_UP);
	assert_int_equal(proc.health.state, HEALTH_PASSING);
	health_result(&rack, &proc, true);      /* no change, no word */
	assert_int_equal(nevents, 1);
}

static void
test_missed_deadline(void **state)
{
	(void)state;
	start(false);
	proc.health.first_deadline = now_ms() - 1;
	health_result(&rack, &proc, false);
	assert_int_equal(nevents, 1);
	assert_int_equal(events[0], HEALTH_MISSED);
	assert_int_equal(proc.health.state, HEALTH_DONE);
	assert_null(proc.health.timer);         /* no more probes */
	health_result(&rack, &proc, true);      /* a late result changes nothing */
	assert_int_equal(nevents, 1);
}

static void
test_down_up_replace(void **state)
{
	(void)state;
	start(true);                            /* adopted: passing already, no HEALTH_UP */
	assert_int_equal(proc.health.state, HEALTH_PASSING);
	for (int i = 1; i < HEALTH_UNHEALTHY_AFTER; i++)
		health_result(&rack, &proc, false);
	assert_int_equal(nevents, 0);
	health_result(&rack, &proc, false);
	assert_int_equal(nevents, 1);
	assert_int_equal(events[0], HEALTH_DOWN);
	assert_int_equal(proc.health.state, HEALTH_FAILING);
	health_result(&rack, &proc, true);      /* back --> HEALTH_UP, count reset */
	assert_int_equal(nevents, 2);
	assert_int_equal(events[1], HEALTH_UP);
	assert_int_equal(proc.health.fails, 0);
	for (int i = 1; i < HEALTH_REPLACE_AFTER; i++)
		health_result(&rack, &proc, false);
	assert_int_equal(nevents, 3);           /* HEALTH_DOWN on the way */
	assert_int_equal(events[2], HEALTH_DOWN);
	health_result(&rack, &proc, false);
	assert_int_equal(nevents, 4);
	assert_int_equal(events[3], HEALTH_REPLACE);
	assert_int_equal(proc.health.state, HEALTH_DONE);
	assert_null(proc.health.timer);
}

static void
test_worker_checks_without_port(void **state)
{
	struct mf_service s = { .name = "worker", .port = 0, .health_path = "/",
		.health_grace = 1, .health_interval = 1, .health_timeout = 1 };

	(void)state;
	health_start(&rack, &proc, &s, false);
	assert_int_equal(proc.health.port, 0);  /* passes while its process runs */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_first_pass, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missed_deadline, setup, teardown),
		cmocka_unit_test_setup_teardown(test_down_up_replace, setup, teardown),
		cmocka_unit_test_setup_teardown(test_worker_checks_without_port, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
