/*
 * test_rollout.c — the rolling promotion's planner (rollout.c, its states
 * drawn atop it): the first step for each kind of deployment.minimum/maximum,
 * then whole promotions played step by step by a small model of the
 * reconciler (started ones pass their health check on the next pass, retired
 * ones exit on the next pass), checking on every step that no more than the
 * maximum run, no fewer than the minimum serve, and that the promotion ends.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "rackd/rollout.h"

/* A service of `want` old processes, all serving, none new yet. */
static struct rollout_count
fresh(int want)
{
	return (struct rollout_count){ .want = want, .old_alive = want, .old_live = want,
		.old_serving = want };
}

static void
test_bounds(void **state)
{
	(void)state;
	assert_int_equal(rollout_max_total(4, 50, 200), 8);
	assert_int_equal(rollout_min_keep(4, 50), 2);
	assert_int_equal(rollout_min_keep(3, 50), 2);   /* rounded up */
	assert_int_equal(rollout_min_keep(0, 50), 0);
	/* 100/100 could never move: one more than the count may run. */
	assert_int_equal(rollout_max_total(3, 100, 100), 4);
	assert_int_equal(rollout_max_total(1, 50, 100), 2);
	assert_int_equal(rollout_max_total(4, 50, 100), 4);
	assert_int_equal(rollout_max_total(0, 100, 100), 0);
}

/* 50/200: the whole new release starts at once, nothing retires until one
 * of it serves. */
static void
test_first_step_50_200(void **state)
{
	struct rollout_count c = fresh(2);
	struct rollout_step s;

	(void)state;
	rollout_plan(&c, 50, 200, &s);
	assert_int_equal(s.start, 2);
	assert_int_equal(s.retire, 0);
	/* One new serves: one old goes. */
	c.new_alive = 2;
	c.new_serving = 1;
	rollout_plan(&c, 50, 200, &s);
	assert_int_equal(s.start, 0);
	assert_int_equal(s.retire, 1);
	assert_false(rollout_ready(&c));
	c.new_serving = 2;
	assert_true(rollout_ready(&c));
}

/* 100/100: all must keep serving, so one new one starts over the count
 * (the old ones cannot leave first without breaking the minimum), and one
 * old one leaves per new one that serves. */
static void
test_first_step_100_100(void **state)
{
	struct rollout_count c = fresh(3);
	struct rollout_step s;

	(void)state;
	rollout_plan(&c, 100, 100, &s);
	assert_int_equal(s.start, 1);
	assert_int_equal(s.retire, 0);
	c.new_alive = 1;
	rollout_plan(&c, 100, 100, &s);
	assert_int_equal(s.start, 0);
	assert_int_equal(s.retire, 0);   /* the new one does not serve yet */
	c.new_serving = 1;
	rollout_plan(&c, 100, 100, &s);
	assert_int_equal(s.start, 0);    /* no room until the old one exits */
	assert_int_equal(s.retire, 1);
}

/* 0/100: no room to surge, nothing must keep serving: every old one leaves
 * first, the new ones start once they have exited. */
static void
test_first_step_0_100(void **state)
{
	struct rollout_count c = fresh(2);
	struct rollout_step s;

	(void)state;
	rollout_plan(&c, 0, 100, &s);
	assert_int_equal(s.start, 0);
	assert_int_equal(s.retire, 2);
	c.old_live = c.old_serving = 0;  /* draining, still alive */
	rollout_plan(&c, 0, 100, &s);
	assert_int_equal(s.start, 0);
	c.old_alive = 0;
	rollout_plan(&c, 0, 100, &s);
	assert_int_equal(s.start, 2);
}

/* 50/100 of 4: two old ones leave to make room, never a third while no
 * new one serves. */
static void
test_first_step_50_100(void **state)
{
	struct rollout_count c = fresh(4);
	struct rollout_step s;

	(void)state;
	rollout_plan(&c, 50, 100, &s);
	assert_int_equal(s.start, 0);
	assert_int_equal(s.retire, 2);
	c.old_live = c.old_serving = 2;
	rollout_plan(&c, 50, 100, &s);
	assert_int_equal(s.retire, 0);
}

/* Old ones that do not serve (crashed, unhealthy) leave before serving
 * ones, and do not count toward the minimum. */
static void
test_not_serving_first(void **state)
{
	struct rollout_count c = fresh(4);
	struct rollout_step s;

	(void)state;
	c.old_serving = 1;               /* three old ones do not serve */
	rollout_plan(&c, 50, 100, &s);
	assert_int_equal(s.retire, 3);   /* the three, not the serving one */
	c = fresh(2);
	c.old_serving = 0;
	rollout_plan(&c, 100, 100, &s);
	assert_int_equal(s.start, 1);
	assert_int_equal(s.retire, 1);   /* room for the one that waits */
}

/* A minimum above what serves: nothing serving leaves, however many wait. */
static void
test_minimum_above_serving(void **state)
{
	struct rollout_count c = fresh(3);
	struct rollout_step s;

	(void)state;
	c.old_serving = 2;               /* minimum 100% of 3 is above this */
	c.old_live = 2;
	c.old_alive = 3;                 /* one drains still */
	rollout_plan(&c, 100, 100, &s);
	assert_int_equal(s.start, 1);
	assert_int_equal(s.retire, 0);
}

/* A scale-down during a promotion: the surplus leaves, the minimum of the
 * new count keeps serving. */
static void
test_scale_down_during(void **state)
{
	struct rollout_count c = fresh(3);
	struct rollout_step s;

	(void)state;
	c.want = 1;
	rollout_plan(&c, 50, 200, &s);
	assert_int_equal(s.start, 0);    /* 3 alive, room for 2 */
	assert_int_equal(s.retire, 2);
}

/* One service played to its end. */
struct sim {
	int want, min_pct, max_pct;
	int old_draining, old_serving;   /* the old ones never stop serving themselves */
	int new_starting, new_serving;
	int steps;
};

static struct rollout_count
sim_count(const struct sim *m)
{
	return (struct rollout_count){
		.want = m->want,
		.old_alive = m->old_draining + m->old_serving,
		.old_live = m->old_serving,
		.old_serving = m->old_serving,
		.new_alive = m->new_starting + m->new_serving,
		.new_serving = m->new_serving,
	};
}

/* Plays the promotion of a service of `old` processes to `want`; returns
 * the passes it took. */
static int
simulate(int old, int want, int min_pct, int max_pct)
{
	struct sim m = { .want = want, .min_pct = min_pct, .max_pct = max_pct,
		.old_serving = old };
	int max_total = rollout_max_total(want, min_pct, max_pct);
	int min_keep = rollout_min_keep(want, min_pct);
	int keep = min_keep < old ? min_keep : old;

	for (m.steps = 0; m.steps < 64; m.steps++) {
		struct rollout_count c = sim_count(&m);
		struct rollout_step s;

		if (rollout_ready(&c))
			return m.steps;
		/* What started last pass is healthy now, what drained has exited. */
		m.new_serving += m.new_starting;
		m.new_starting = 0;
		m.old_draining = 0;
		c = sim_count(&m);
		if (rollout_ready(&c))
			return m.steps;
		rollout_plan(&c, min_pct, max_pct, &s);
		assert_true(s.start >= 0 && s.retire >= 0);
		assert_true(s.retire <= m.old_serving);
		m.new_starting += s.start;
		m.old_serving -= s.retire;
		m.old_draining += s.retire;
		/* Never more running than the maximum (a scale-down's surplus
		 * aside: it only drains), never fewer serving than the minimum. */
		if (old <= max_total)
			assert_true(m.old_draining + m.old_serving + m.new_starting + m.new_serving <=
			    max_total);
		assert_true(m.old_serving + m.new_serving >= keep);
	}
	fail_msg("%d -> %d at %d/%d never ended", old, want, min_pct, max_pct);
	return -1;
}

static void
test_whole_promotions(void **state)
{
	static const int pcts[][2] = { { 50, 200 }, { 100, 100 }, { 0, 100 }, { 50, 100 },
		{ 100, 200 }, { 0, 200 }, { 100, 150 }, { 34, 100 } };

	(void)state;
	for (size_t i = 0; i < sizeof(pcts) / sizeof(pcts[0]); i++) {
		for (int old = 0; old <= 6; old++) {
			for (int want = 0; want <= 6; want++)
				(void)simulate(old, want, pcts[i][0], pcts[i][1]);
		}
	}
	/* 50/200 of 2 takes one pass of starts; 100/100 of 3 goes one by one. */
	assert_int_equal(simulate(2, 2, 50, 200), 1);
	assert_true(simulate(3, 3, 100, 100) >= 3);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_first_step_50_200),
		cmocka_unit_test(test_first_step_100_100),
		cmocka_unit_test(test_first_step_0_100),
		cmocka_unit_test(test_first_step_50_100),
		cmocka_unit_test(test_not_serving_first),
		cmocka_unit_test(test_minimum_above_serving),
		cmocka_unit_test(test_scale_down_during),
		cmocka_unit_test(test_whole_promotions),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
