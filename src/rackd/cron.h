/*
 * cron.h — five-field cron schedules, as convox.yml timers write them
 * (minute hour day-of-month month day-of-week; `*`, lists, ranges, steps,
 * month and day names; day-of-week 0-7 with 0 and 7 Sunday). The manifest
 * module already turned AWS's `?` into `*` and dropped a sixth (year) field.
 */
#ifndef CX_CRON_H
#define CX_CRON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct cron {
	uint64_t minute;   /* bit n set: minute n matches */
	uint32_t hour;
	uint32_t dom;      /* bits 1-31 */
	uint16_t month;    /* bits 1-12 */
	uint8_t dow;       /* bits 0-6, Sunday 0 */
	bool dom_any, dow_any;
};

/* 0, or -1 with a one-line reason in err. */
int cron_parse(const char *expr, struct cron *c, char *err, size_t errlen);
/* True if the minute tm (UTC, broken down) is one the schedule fires in.
 * As in cron, when both day fields are restricted either one matching is enough. */
bool cron_match(const struct cron *c, const struct tm *tm);

#endif
