/*
 * cron.c — see cron.h.
 */
#include "rackd/cron.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "common/util.h"

static const char *const months[] = { "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG",
	"SEP", "OCT", "NOV", "DEC" };
static const char *const days[] = { "SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT" };

/* A number or (for months and days) a name; -1 if neither. */
static long
value(const char *s, size_t n, int field)
{
	long v;

	if (parse_long_n(s, n, 0, 99, &v) == 0)
		return v;
	if (n == 3 && field == 3) {
		for (size_t i = 0; i < CX_ARRAY_LEN(months); i++)
			if (strncasecmp(s, months[i], 3) == 0)
				return (long)i + 1;
	}
	if (n == 3 && field == 4) {
		for (size_t i = 0; i < CX_ARRAY_LEN(days); i++)
			if (strncasecmp(s, days[i], 3) == 0)
				return (long)i;
	}
	return -1;
}

/* One field: comma-separated items of `*`, `a`, `a-b`, each with an optional `/step`. */
static int
field_parse(const char *s, size_t n, int field, long lo, long hi, uint64_t *bits)
{
	const char *end = s + n;

	*bits = 0;
	while (s < end) {
		const char *comma = memchr(s, ',', (size_t)(end - s));
		const char *item_end = comma ? comma : end;
		const char *slash = memchr(s, '/', (size_t)(item_end - s));
		const char *range_end = slash ? slash : item_end;
		const char *dash = memchr(s, '-', (size_t)(range_end - s));
		long a, b, step = 1;

		if (range_end - s == 1 && *s == '*') {
			a = lo;
			b = hi;
		} else {
			a = value(s, (size_t)((dash ? dash : range_end) - s), field);
			b = dash ? value(dash + 1, (size_t)(range_end - dash - 1), field) : a;
			if (a < 0 || b < 0)
				return -1;
			if (slash != NULL && dash == NULL)
				b = hi;         /* "5/15": from 5 on */
		}
		if (slash != NULL && parse_long_n(slash + 1, (size_t)(item_end - slash - 1), 1, 99,
		    &step) == -1)
			return -1;
		if (field == 4 && a == 7)
			a = 0;
		if (field == 4 && b == 7 && a > 0)
			b = 6, *bits |= 1;  /* "5-7": Friday to Sunday */
		if (a < lo || b > hi || a > b)
			return -1;
		for (long v = a; v <= b; v += step)
			*bits |= (uint64_t)1 << v;
		s = comma ? comma + 1 : end;
	}
	return 0;
}

int
cron_parse(const char *expr, struct cron *c, char *err, size_t errlen)
{
	static const char *const names[] = { "minute", "hour", "day of month", "month",
		"day of week" };
	static const long lo[] = { 0, 0, 1, 1, 0 }, hi[] = { 59, 23, 31, 12, 7 };
	const char *p = expr;
	uint64_t bits[5];
	int n = 0;

	memset(c, 0, sizeof(*c));
	while (*p != '\0' && n < 5) {
		size_t len;

		while (isspace((unsigned char)*p))
			p++;
		if (*p == '\0')
			break;
		len = strcspn(p, " \t");
		if (field_parse(p, len, n, lo[n], hi[n], &bits[n]) == -1) {
			snprintf(err, errlen, "schedule \"%s\": bad %s \"%.*s\" (want %ld-%ld, *, lists,"
			    " ranges or /steps)", expr, names[n], (int)len, p, lo[n], hi[n]);
			return -1;
		}
		if (n == 2)
			c->dom_any = len == 1 && *p == '*';
		if (n == 4)
			c->dow_any = len == 1 && *p == '*';
		n++;
		p += len;
	}
	while (isspace((unsigned char)*p))
		p++;
	if (n != 5 || *p != '\0') {
		snprintf(err, errlen, "schedule \"%s\": want five fields (minute hour day month weekday)",
		    expr);
		return -1;
	}
	c->minute = bits[0];
	c->hour = (uint32_t)bits[1];
	c->dom = (uint32_t)bits[2];
	c->month = (uint16_t)bits[3];
	c->dow = (uint8_t)((bits[4] | (bits[4] >> 7)) & 0x7f);  /* 7 is Sunday too */
	return 0;
}

bool
cron_match(const struct cron *c, const struct tm *tm)
{
	bool dom = (c->dom >> tm->tm_mday) & 1, dow = (c->dow >> tm->tm_wday) & 1;

	if (!((c->minute >> tm->tm_min) & 1) || !((c->hour >> tm->tm_hour) & 1) ||
	    !((c->month >> (tm->tm_mon + 1)) & 1))
		return false;
	if (c->dom_any || c->dow_any)
		return dom && dow;
	return dom || dow;
}
