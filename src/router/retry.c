/*
 * retry.c — see retry.h.
 */
#include "router/retry.h"

enum retry_kind
retry_decide(const struct retry_case *rc)
{
	if (rc->answered)
		return RETRY_NO;
	/* A fresh connection after a pooled one failed: the first try may have
	 * been done (the process read it, then died); only a body-less GET or
	 * HEAD goes on to another upstream. */
	if (rc->connect_failed && rc->retried_fresh && !(rc->safe_method && !rc->has_body))
		return RETRY_NO;
	if (rc->connect_failed)
		return rc->tried_other ? RETRY_NO : RETRY_OTHER;
	if (rc->reused && !rc->retried_fresh && !rc->body_sent &&
	    ((rc->safe_method && !rc->has_body) || !rc->head_sent))
		return RETRY_FRESH_SAME;
	if (rc->safe_method && !rc->has_body && !rc->tried_other)
		return RETRY_OTHER;
	return RETRY_NO;
}
