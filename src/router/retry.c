/*
 * retry.c — see retry.h.
 */
#include "router/retry.h"

enum retry_kind
retry_decide(const struct retry_case *rc)
{
	if (rc->answered)
		return RETRY_NO;
	if (rc->connect_failed)
		return rc->tried_other ? RETRY_NO : RETRY_OTHER;
	if (rc->reused && !rc->retried_fresh && !rc->body_sent)
		return RETRY_FRESH_SAME;
	if (rc->safe_method && !rc->has_body && !rc->tried_other)
		return RETRY_OTHER;
	return RETRY_NO;
}
