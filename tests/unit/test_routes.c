/*
 * test_routes.c — the host flags of a route snapshot (docs/routes.md):
 * redirect, tls-upstream and grpc, alone or together; an unknown flag
 * refuses the snapshot, naming the line and the flags known.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "router/routes.h"

/* The table loaded from text (NULL with err on a refusal). */
static struct routes *
load(const char *text, char *err, size_t errlen)
{
	char path[] = "/tmp/cx-test-routes.XXXXXX";
	int fd = mkstemp(path);
	struct routes *rt;
	bool missing;

	assert_true(fd != -1);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	rt = routes_load(path, 1, &missing, err, errlen);
	unlink(path);
	return rt;
}

static void
test_flags(void **state)
{
	char err[256] = "";
	struct routes *rt = load("cx-routes 1\n"
	    "host a.x.localhost x a 60 / grpc\nup a-1 127.0.0.1 5000\n"
	    "host b.x.localhost x b 60 / redirect,grpc\n"
	    "host c.x.localhost x c 60 / tls-upstream\n"
	    "host d.x.localhost x d 60 /\n", err, sizeof(err));
	const struct route_host *h;

	(void)state;
	assert_non_null(rt);
	h = routes_lookup(rt, "a.x.localhost", 13);
	assert_true(h->grpc && !h->redirect && h->up_tls == ROUTE_PLAIN && h->nups == 1);
	h = routes_lookup(rt, "b.x.localhost", 13);
	assert_true(h->grpc && h->redirect);
	h = routes_lookup(rt, "c.x.localhost", 13);
	assert_true(!h->grpc && h->up_tls == ROUTE_TLS_ANY);
	h = routes_lookup(rt, "d.x.localhost", 13);
	assert_true(!h->grpc && !h->redirect && h->up_tls == ROUTE_PLAIN);
	routes_unref(rt);

	rt = load("cx-routes 1\nhost a.x.localhost x a 60 / grpcs\n", err, sizeof(err));
	assert_null(rt);
	assert_non_null(strstr(err, ":2: unknown host flag in `grpcs` (known: redirect, "
				    "tls-upstream, grpc)"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_flags),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
