/*
 * retry.h — whether a request whose upstream failed before any byte of its
 * answer is sent again, and where. Pure: exchange.c describes what happened
 * and acts on the answer.
 */
#ifndef CX_ROUTER_RETRY_H
#define CX_ROUTER_RETRY_H

#include <stdbool.h>

/* What happened to one attempt of a request. */
struct retry_case {
	bool connect_failed;	/* refused, timed out, TLS failed: it never got there */
	bool reused;		/* it went on a pooled keep-alive connection */
	bool answered;		/* some byte of an answer came back */
	bool has_body;		/* the request carries a body (length or chunked) */
	bool body_sent;		/* some of that body left the router */
	bool head_sent;		/* all of the request's head left the router */
	bool safe_method;	/* GET or HEAD */
	bool retried_fresh;	/* already sent again on a new connection */
	bool tried_other;	/* already sent to a second upstream */
};

enum retry_kind {
	RETRY_NO,		/* answer the client 502/504 */
	RETRY_FRESH_SAME,	/* a new connection to the same upstream */
	RETRY_OTHER,		/* another upstream of the same route */
};

/*
 * Never once an answer began. A request that never reached its upstream
 * goes to another one, once. A pooled connection that failed (the process
 * closed it as it was reused) is tried once more on a new connection to the
 * same upstream: a body-less GET or HEAD always, any other request only if
 * not all of its head left (else the process may have read it, acted, and
 * died: a worker of a server whose master lives on would get it twice). If
 * that new connection cannot even be made, only a body-less GET or HEAD
 * goes on to another upstream. A body-less GET or HEAD
 * that got no answer (the process died with it) goes to another upstream,
 * once; any other request is not sent to a second process.
 */
enum retry_kind retry_decide(const struct retry_case *rc);

#endif
