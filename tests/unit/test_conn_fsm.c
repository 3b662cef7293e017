/*
 * test_conn_fsm.c — the client connection's state machine (the diagram atop
 * src/router/conn.c) as a table: each drawn arrow is a row (from, event,
 * to) that conn_fsm_next must give, every other (state, event) pair must
 * have no arrow, and conn_enter must take the drawn ones and abort on the
 * others (a bug in the router, never a client's doing). Which event a step
 * takes is decided by its syscalls and is tested end to end (router.t,
 * tls.t, flood.t, reload.t).
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "router/conn_int.h"

struct arrow {
	enum conn_state from;
	enum conn_event ev;
	enum conn_state to;
};

/* The rows drawn atop conn.c, in its order. */
static const struct arrow arrows[] = {
	{ CS_TLS, CE_HANDSHAKE_DONE, CS_HEAD },
	{ CS_TLS, CE_H2, CS_H2 },
	{ CS_HEAD, CE_H2, CS_H2 },
	{ CS_H2, CE_LINGER, CS_LINGER },
	{ CS_HEAD, CE_ROUTED, CS_PROXY },
	{ CS_HEAD, CE_ANSWER_LOCAL, CS_LOCAL },
	{ CS_PROXY, CE_ROUTED, CS_PROXY },
	{ CS_PROXY, CE_ANSWER_LOCAL, CS_LOCAL },
	{ CS_PROXY, CE_UPGRADED, CS_TUNNEL },
	{ CS_PROXY, CE_KEEP_ALIVE, CS_HEAD },
	{ CS_PROXY, CE_LINGER, CS_LINGER },
	{ CS_LOCAL, CE_KEEP_ALIVE, CS_HEAD },
	{ CS_LOCAL, CE_LINGER, CS_LINGER },
};

static const struct arrow *
drawn(int from, int ev)
{
	for (size_t i = 0; i < CX_ARRAY_LEN(arrows); i++) {
		if ((int)arrows[i].from == from && (int)arrows[i].ev == ev)
			return &arrows[i];
	}
	return NULL;
}

static void
test_drawn_arrows(void **state)
{
	(void)state;
	for (size_t i = 0; i < CX_ARRAY_LEN(arrows); i++) {
		const struct arrow *a = &arrows[i];

		if (conn_fsm_next(a->from, a->ev) != (int)a->to)
			fail_msg("%s --%d--> gives %d (%s), drawn: %s", conn_state_name(a->from),
			    (int)a->ev, conn_fsm_next(a->from, a->ev),
			    conn_state_name(conn_fsm_next(a->from, a->ev)), conn_state_name(a->to));
	}
}

static void
test_no_other_arrow(void **state)
{
	int n = 0;

	(void)state;
	for (int s = 0; s < CS_COUNT; s++) {
		for (int e = 0; e < CE_COUNT; e++) {
			int to = conn_fsm_next((enum conn_state)s, (enum conn_event)e);

			if (drawn(s, e) == NULL && to != -1)
				fail_msg("%s --%d--> %s is not drawn", conn_state_name(s), e,
				    conn_state_name(to));
			n += to != -1;
		}
	}
	assert_int_equal(n, CX_ARRAY_LEN(arrows));
	/* The ends: a tunnel and a lingering close go nowhere but freed. */
	for (int e = 0; e < CE_COUNT; e++) {
		assert_int_equal(conn_fsm_next(CS_TUNNEL, (enum conn_event)e), -1);
		assert_int_equal(conn_fsm_next(CS_LINGER, (enum conn_event)e), -1);
	}
	assert_int_equal(conn_fsm_next(CS_COUNT, CE_ROUTED), -1);
	assert_int_equal(conn_fsm_next(CS_HEAD, CE_COUNT), -1);
	assert_int_equal(conn_fsm_next((enum conn_state)-1, CE_ROUTED), -1);
}

static void
test_every_state_reached(void **state)
{
	/* From accept (HEAD, or TLS on a TLS listener) every state is reached. */
	bool seen[CS_COUNT] = { [CS_HEAD] = true, [CS_TLS] = true };

	(void)state;
	for (int round = 0; round < CS_COUNT; round++) {
		for (size_t i = 0; i < CX_ARRAY_LEN(arrows); i++) {
			if (seen[arrows[i].from])
				seen[arrows[i].to] = true;
		}
	}
	for (int s = 0; s < CS_COUNT; s++) {
		if (!seen[s])
			fail_msg("state %s cannot be reached", conn_state_name(s));
	}
}

static void
test_names(void **state)
{
	static const char *const names[CS_COUNT] = {
		[CS_HEAD] = "head", [CS_LOCAL] = "local", [CS_PROXY] = "proxy",
		[CS_TUNNEL] = "tunnel", [CS_LINGER] = "linger", [CS_TLS] = "tls",
		[CS_H2] = "h2",
	};

	(void)state;
	for (int s = 0; s < CS_COUNT; s++)
		assert_string_equal(conn_state_name(s), names[s]);
	assert_string_equal(conn_state_name(CS_COUNT), "?");
	assert_string_equal(conn_state_name(-1), "?");
}

static void
test_enter(void **state)
{
	static const struct {
		enum conn_event ev;
		enum conn_state to;
	} steps[] = {
		{ CE_HANDSHAKE_DONE, CS_HEAD }, { CE_ROUTED, CS_PROXY }, { CE_ROUTED, CS_PROXY },
		{ CE_KEEP_ALIVE, CS_HEAD }, { CE_ANSWER_LOCAL, CS_LOCAL }, { CE_LINGER, CS_LINGER },
	};
	struct conn c;

	(void)state;
	memset(&c, 0, sizeof(c));
	str_copy(c.peer_ip, sizeof(c.peer_ip), "192.0.2.7");
	/* A keep-alive connection over TLS: handshake, a proxied request, a
	 * local answer, then a lingering close. */
	c.state = CS_TLS;
	for (size_t i = 0; i < CX_ARRAY_LEN(steps); i++) {
		conn_enter(&c, steps[i].ev);
		assert_int_equal(c.state, steps[i].to);
	}
}

/* An arrow not drawn aborts the process (in a child, so the test goes on). */
static void
test_enter_undrawn_aborts(void **state)
{
	static const struct {
		enum conn_state from;
		enum conn_event ev;
	} bad[] = {
		{ CS_HEAD, CE_UPGRADED },	/* a tunnel needs a 101 from an upstream */
		{ CS_TLS, CE_ROUTED },		/* no request before the handshake */
		{ CS_LINGER, CE_KEEP_ALIVE },	/* a closing connection is not reused */
		{ CS_TUNNEL, CE_ANSWER_LOCAL },	/* no HTTP answer inside a tunnel */
		{ CS_LOCAL, CE_ROUTED },	/* a local answer is the end of the exchange */
	};

	(void)state;
	for (size_t i = 0; i < CX_ARRAY_LEN(bad); i++) {
		int status;
		pid_t pid = fork();

		assert_true(pid != -1);
		if (pid == 0) {
			struct conn c;

			memset(&c, 0, sizeof(c));
			c.state = bad[i].from;
			/* stderr to /dev/null: the BUG line is expected here. */
			if (freopen("/dev/null", "w", stderr) == NULL)
				_exit(3);
			conn_enter(&c, bad[i].ev);
			_exit(0);
		}
		assert_int_equal(waitpid(pid, &status, 0), pid);
		if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGABRT)
			fail_msg("%s --%d--> did not abort (status %d)",
			    conn_state_name(bad[i].from), (int)bad[i].ev, status);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_drawn_arrows),
		cmocka_unit_test(test_no_other_arrow),
		cmocka_unit_test(test_every_state_reached),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_enter),
		cmocka_unit_test(test_enter_undrawn_aborts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
